#include "core/api/sigv4.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

#include "core/api/digest.h"
#include "core/base/strings.h"

namespace euca::api {
namespace {

// Trims a header value and collapses inner runs of whitespace (line folds included) to one space.
std::string TrimAll(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
    } else {
      if (space) out.push_back(' ');
      space = false;
      out.push_back(c);
    }
  }
  return out;
}

bool IsLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out.push_back(';');
    out += n;
  }
  return out;
}

// The header names our signer signs: all present, lower case, sorted, unique.
std::vector<std::string> NamesToSign(const Headers& headers) {
  std::vector<std::string> names;
  for (const auto& f : headers) {
    std::string n = AsciiLower(f.name);
    if (n == "authorization" || n == "user-agent" || n == "expect" || n == "x-amzn-trace-id") continue;
    names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string PayloadHashFor(const SignableRequest& req, const SigV4SignOptions& options, bool presign) {
  if (!options.payload_hash.empty()) return options.payload_hash;
  if (presign && options.dialect == Dialect::kS3) return std::string(kUnsignedPayload);
  if (!req.payload_sha256.empty()) return req.payload_sha256;
  return Sha256Hex(req.body);
}

}  // namespace

std::string SigV4Scope::ToString() const { return date + "/" + region + "/" + service + "/aws4_request"; }

Result<SigV4Authorization> ParseSigV4Credential(std::string_view credential) {
  // AKID/DATE/REGION/SERVICE/aws4_request, split from the right: only the key id is free-form.
  std::vector<std::string_view> parts;
  std::string_view rest = credential;
  for (int i = 0; i < 4; ++i) {
    size_t slash = rest.rfind('/');
    if (slash == std::string_view::npos) break;
    parts.push_back(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  if (parts.size() != 4 || rest.empty() || parts[0] != "aws4_request" || parts[3].size() != 8 || parts[2].empty() ||
      parts[1].empty() || !std::all_of(parts[3].begin(), parts[3].end(), [](char c) { return c >= '0' && c <= '9'; }))
    return InvalidArgument("malformed credential '" + std::string(credential) +
                           "': expected ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request");
  SigV4Authorization out;
  out.access_key_id = std::string(rest);
  out.scope = {std::string(parts[3]), std::string(parts[2]), std::string(parts[1])};
  return out;
}

Result<SigV4Authorization> ParseSigV4Authorization(std::string_view header_value) {
  std::string_view v = TrimSpace(header_value);
  if (v.substr(0, kSigV4Algorithm.size()) != kSigV4Algorithm || v.size() == kSigV4Algorithm.size() ||
      v[kSigV4Algorithm.size()] != ' ')
    return InvalidArgument("authorization header does not start with 'AWS4-HMAC-SHA256 '");
  v.remove_prefix(kSigV4Algorithm.size() + 1);
  std::map<std::string, std::string, std::less<>> parts;
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string_view piece = TrimSpace(v.substr(0, comma));
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    if (eq == std::string_view::npos)
      return InvalidArgument("malformed authorization component '" + std::string(piece) + "': expected NAME=VALUE");
    std::string name(TrimSpace(piece.substr(0, eq)));
    if (name != "Credential" && name != "SignedHeaders" && name != "Signature")
      return InvalidArgument("unknown authorization component '" + name + "'");
    if (!parts.emplace(name, std::string(TrimSpace(piece.substr(eq + 1)))).second)
      return InvalidArgument("authorization component '" + name + "' given twice");
  }
  for (const char* need : {"Credential", "SignedHeaders", "Signature"})
    if (!parts.count(need)) return InvalidArgument(std::string("authorization header lacks '") + need + "'");
  EUCA_ASSIGN_OR_RETURN(SigV4Authorization out, ParseSigV4Credential(parts["Credential"]));
  std::string_view names = parts["SignedHeaders"];
  while (!names.empty()) {
    size_t semi = names.find(';');
    std::string_view n = names.substr(0, semi);
    if (n.empty() || AsciiLower(n) != n)
      return InvalidArgument("malformed SignedHeaders '" + parts["SignedHeaders"] +
                             "': expected lower-case names separated by ';'");
    out.signed_headers.emplace_back(n);
    names = semi == std::string_view::npos ? std::string_view() : names.substr(semi + 1);
  }
  if (out.signed_headers.empty()) return InvalidArgument("SignedHeaders is empty");
  out.signature = parts["Signature"];
  if (!IsLowerHex(out.signature, 64))
    return InvalidArgument("malformed signature '" + out.signature + "': expected 64 lower-case hex digits");
  return out;
}

std::string CanonicalUri(std::string_view raw_path, Dialect dialect) {
  if (raw_path.empty()) return "/";
  if (dialect == Dialect::kS3) return UriEncode(PercentDecode(raw_path, false), true);
  return UriEncode(NormalizePath(raw_path), true);
}

std::string CanonicalQueryString(const QueryParams& query, std::string_view exclude) {
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(query.size());
  for (const auto& [name, value] : query) {
    std::string n = PercentDecode(name, true);
    if (!exclude.empty() && n == exclude) continue;
    pairs.emplace_back(UriEncode(n, false), UriEncode(PercentDecode(value, true), false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [n, v] : pairs) {
    if (!out.empty()) out.push_back('&');
    out += n;
    out.push_back('=');
    out += v;
  }
  return out;
}

Result<std::string> CanonicalHeaders(const Headers& headers, const std::vector<std::string>& signed_headers) {
  std::vector<std::string> names = signed_headers;
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& name : names) {
    std::vector<std::string> values = headers.GetAll(name);
    if (values.empty()) return InvalidArgument("signed header '" + name + "' is not in the request");
    out += name;
    out.push_back(':');
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) out.push_back(',');
      out += TrimAll(values[i]);
    }
    out.push_back('\n');
  }
  return out;
}

std::string CanonicalRequest(std::string_view method, std::string_view canonical_uri, std::string_view canonical_query,
                             std::string_view canonical_headers, std::string_view signed_headers,
                             std::string_view payload_hash) {
  std::string out;
  out.reserve(method.size() + canonical_uri.size() + canonical_query.size() + canonical_headers.size() +
              signed_headers.size() + payload_hash.size() + 8);
  out.append(method).append("\n");
  out.append(canonical_uri).append("\n");
  out.append(canonical_query).append("\n");
  out.append(canonical_headers).append("\n");
  out.append(signed_headers).append("\n");
  out.append(payload_hash);
  return out;
}

std::string SigV4StringToSign(std::string_view amz_date, const SigV4Scope& scope, std::string_view canonical_request) {
  std::string out(kSigV4Algorithm);
  out.append("\n").append(amz_date).append("\n").append(scope.ToString()).append("\n");
  out += Sha256Hex(canonical_request);
  return out;
}

std::string SigV4SigningKey(std::string_view secret_key, const SigV4Scope& scope) {
  // A server verifies every request with the key of the caller's secret and the day: four
  // HMACs (each an OpenSSL context set up and torn down) that give the same 32 bytes all
  // day. Keys are kept by everything they derive from, so a new secret or scope derives its
  // own; the table is bounded by clearing it when full.
  struct Cache {
    std::mutex mu;
    std::unordered_map<std::string, std::string> keys;
  };
  static Cache* cache = new Cache;  // never destroyed: used from any thread until exit
  constexpr size_t kMaxKeys = 1024;
  std::string id;
  id.reserve(secret_key.size() + scope.date.size() + scope.region.size() + scope.service.size() + 4);
  // '\n' cannot occur in a scope (it is one line of the string to sign); lengths make the
  // secret's part unambiguous anyway.
  id.append(std::to_string(secret_key.size())).append(":").append(secret_key).append("\n");
  id.append(scope.date).append("\n").append(scope.region).append("\n").append(scope.service);
  {
    std::lock_guard<std::mutex> lock(cache->mu);
    if (auto it = cache->keys.find(id); it != cache->keys.end()) return it->second;
  }
  std::string k = HmacSha256("AWS4" + std::string(secret_key), scope.date);
  k = HmacSha256(k, scope.region);
  k = HmacSha256(k, scope.service);
  k = HmacSha256(k, "aws4_request");
  std::lock_guard<std::mutex> lock(cache->mu);
  if (cache->keys.size() >= kMaxKeys) cache->keys.clear();
  cache->keys.emplace(std::move(id), k);
  return k;
}

std::string SigV4Signature(std::string_view signing_key, std::string_view string_to_sign) {
  return Hex(HmacSha256(signing_key, string_to_sign));
}

std::string SigV4ChunkSignature(std::string_view signing_key, std::string_view amz_date, const SigV4Scope& scope,
                                std::string_view previous_signature, std::string_view chunk_sha256_hex) {
  std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n";
  sts.append(amz_date).append("\n").append(scope.ToString()).append("\n").append(previous_signature).append("\n");
  sts.append(kEmptySha256).append("\n").append(chunk_sha256_hex);
  return SigV4Signature(signing_key, sts);
}

std::string SigV4TrailerSignature(std::string_view signing_key, std::string_view amz_date, const SigV4Scope& scope,
                                  std::string_view previous_signature, std::string_view canonical_trailers) {
  std::string sts = "AWS4-HMAC-SHA256-TRAILER\n";
  sts.append(amz_date).append("\n").append(scope.ToString()).append("\n").append(previous_signature).append("\n");
  sts += Sha256Hex(canonical_trailers);
  return SigV4Signature(signing_key, sts);
}

Result<std::string> SignSigV4(SignableRequest& req, const Credentials& credentials, const SigV4SignOptions& options) {
  if (!req.headers.Has("host")) return InvalidArgument("cannot sign a request without a Host header");
  std::string amz_date = FormatAmzDate(options.now_ms);
  SigV4Scope scope{amz_date.substr(0, 8), options.region, options.service};
  std::string payload = PayloadHashFor(req, options, false);
  req.headers.Remove("authorization");
  req.headers.Set("X-Amz-Date", amz_date);
  if (options.dialect == Dialect::kS3 || !options.payload_hash.empty())
    req.headers.Set("X-Amz-Content-Sha256", payload);
  std::vector<std::string> names = NamesToSign(req.headers);
  EUCA_ASSIGN_OR_RETURN(std::string headers, CanonicalHeaders(req.headers, names));
  std::string signed_names = JoinNames(names);
  std::string creq = CanonicalRequest(req.method, CanonicalUri(req.path, options.dialect),
                                      CanonicalQueryString(req.query), headers, signed_names, payload);
  std::string signature =
      SigV4Signature(SigV4SigningKey(credentials.secret_key, scope), SigV4StringToSign(amz_date, scope, creq));
  req.headers.Add("Authorization", std::string(kSigV4Algorithm) + " Credential=" + credentials.access_key_id + "/" +
                                       scope.ToString() + ", SignedHeaders=" + signed_names +
                                       ", Signature=" + signature);
  return signature;
}

Status PresignSigV4(SignableRequest& req, const Credentials& credentials, const SigV4SignOptions& options,
                    int64_t expires_seconds) {
  if (!req.headers.Has("host")) return InvalidArgument("cannot presign a request without a Host header");
  if (expires_seconds < 1 || expires_seconds > kMaxPresignSeconds)
    return InvalidArgument("invalid expiry '" + std::to_string(expires_seconds) + "': expected 1 to " +
                           std::to_string(kMaxPresignSeconds) + " seconds");
  std::string amz_date = FormatAmzDate(options.now_ms);
  SigV4Scope scope{amz_date.substr(0, 8), options.region, options.service};
  std::string payload = PayloadHashFor(req, options, true);
  auto add = [&](std::string name, const std::string& value) {
    req.query.emplace_back(std::move(name), UriEncode(value, false));
  };
  add("X-Amz-Algorithm", std::string(kSigV4Algorithm));
  add("X-Amz-Credential", credentials.access_key_id + "/" + scope.ToString());
  add("X-Amz-Date", amz_date);
  add("X-Amz-Expires", std::to_string(expires_seconds));
  add("X-Amz-SignedHeaders", "host");
  EUCA_ASSIGN_OR_RETURN(std::string headers, CanonicalHeaders(req.headers, {"host"}));
  std::string creq = CanonicalRequest(req.method, CanonicalUri(req.path, options.dialect),
                                      CanonicalQueryString(req.query), headers, "host", payload);
  add("X-Amz-Signature",
      SigV4Signature(SigV4SigningKey(credentials.secret_key, scope), SigV4StringToSign(amz_date, scope, creq)));
  return Status::Ok();
}

}  // namespace euca::api
