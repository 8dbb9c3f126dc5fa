#include "core/api/auth.h"

#include <algorithm>
#include <cstdlib>

#include "core/api/digest.h"
#include "core/api/sigv2.h"
#include "core/api/sigv4.h"
#include "core/base/strings.h"

namespace euca::api {
namespace {

enum class Failure {
  kMismatch,
  kUnknownKey,
  kSkew,
  kExpired,
  kNotYetValid,
  kMalformedHeader,
  kMalformedQuery,
  kMissing
};

Status Error(Dialect dialect, Failure f, std::string message) {
  if (dialect == Dialect::kS3) {
    switch (f) {
      case Failure::kMismatch:
        return {Code::kUnauthenticated, std::move(message), "SignatureDoesNotMatch"};
      case Failure::kUnknownKey:
        return {Code::kUnauthenticated, std::move(message), "InvalidAccessKeyId"};
      case Failure::kSkew:
        return {Code::kUnauthenticated, std::move(message), "RequestTimeTooSkewed"};
      case Failure::kExpired:
      case Failure::kNotYetValid:
      case Failure::kMissing:
        return {Code::kPermissionDenied, std::move(message), "AccessDenied"};
      case Failure::kMalformedHeader:
        return {Code::kInvalidArgument, std::move(message), "AuthorizationHeaderMalformed"};
      case Failure::kMalformedQuery:
        return {Code::kInvalidArgument, std::move(message), "AuthorizationQueryParametersError"};
    }
  }
  switch (f) {
    case Failure::kMismatch:
    case Failure::kUnknownKey:
      return {Code::kUnauthenticated, std::move(message), "AuthFailure"};
    case Failure::kSkew:
    case Failure::kExpired:
    case Failure::kNotYetValid:
      return {Code::kUnauthenticated, std::move(message), "RequestExpired"};
    case Failure::kMalformedHeader:
    case Failure::kMalformedQuery:
      return {Code::kInvalidArgument, std::move(message), "IncompleteSignature"};
    case Failure::kMissing:
      return {Code::kUnauthenticated, std::move(message), "MissingAuthenticationToken"};
  }
  return Internal(std::move(message));
}

constexpr const char* kMismatchMessage =
    "the request signature does not match the one computed with the secret key of '";

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool IsLowerHex64(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

class Checker {
 public:
  Checker(const SignableRequest& req, const SecretLookup& lookup, const VerifyOptions& options)
      : req_(req), lookup_(lookup), opt_(options), d_(options.dialect) {
    Clock& clock = options.clock ? *options.clock : RealClock();
    now_ = clock.NowMillis();
  }

  Result<Verified> Run();

 private:
  Result<Verified> SigV4Header(const std::string& authorization);
  Result<Verified> SigV4Query();
  Result<Verified> S3V2Header(const std::string& authorization);
  Result<Verified> S3V2Query();
  Result<Verified> QueryV2(const QueryParams& params);

  Result<std::string> Secret(const std::string& access_key_id) const {
    Result<std::string> secret = lookup_(access_key_id);
    if (secret.ok()) return secret;
    if (secret.status().code() == Code::kNotFound)
      return Error(d_, Failure::kUnknownKey, "access key '" + access_key_id + "' does not exist");
    return secret.status();
  }

  Status CheckSkew(int64_t request_ms) const {
    if (std::llabs(request_ms - now_) <= opt_.max_skew_ms) return Status::Ok();
    return Error(d_, Failure::kSkew,
                 "request time '" + FormatIso8601(request_ms) + "' is more than " +
                     std::to_string(opt_.max_skew_ms / 60000) + " minutes from server time '" + FormatIso8601(now_) +
                     "'; check the client's clock");
  }

  Status CheckScope(const SigV4Scope& scope, std::string_view amz_date, Failure malformed) const {
    if (scope.date != amz_date.substr(0, 8))
      return Error(
          d_, malformed,
          "credential date '" + scope.date + "' is not the date of the request time '" + std::string(amz_date) + "'");
    if (!opt_.service.empty() && scope.service != opt_.service)
      return Error(d_, malformed,
                   "credential scope names service '" + scope.service + "'; expected '" + opt_.service + "'");
    if (!opt_.region.empty() && scope.region != opt_.region)
      return Error(d_, malformed,
                   "credential scope names region '" + scope.region + "'; expected '" + opt_.region + "'");
    return Status::Ok();
  }

  // Canonical URIs a client may have signed for this path (S3: re-encoded and as sent).
  std::vector<std::string> UriCandidates() const {
    std::vector<std::string> out = {CanonicalUri(req_.path, d_)};
    if (d_ == Dialect::kS3 && !req_.path.empty() && req_.path != out[0]) out.push_back(req_.path);
    return out;
  }

  // S3 SigV2 canonicalized resources a client may have signed for this request.
  std::vector<std::string> S3V2Resources() const {
    return S3V2CanonicalResources(opt_.virtual_host_bucket, req_.path, req_.query, opt_.s3_service_prefix);
  }

  // Canonical query strings: '+' read as a space, and, when a '+' occurs, as a plus sign.
  std::vector<std::string> QueryCandidates(std::string_view exclude) const {
    std::vector<std::string> out = {CanonicalQueryString(req_.query, exclude)};
    bool plus = std::any_of(req_.query.begin(), req_.query.end(), [](const auto& p) {
      return p.first.find('+') != std::string::npos || p.second.find('+') != std::string::npos;
    });
    if (plus) {
      QueryParams literal = req_.query;
      for (auto& [n, v] : literal) {
        for (std::string* s : {&n, &v}) {
          std::string t;
          for (char c : *s) t += c == '+' ? std::string("%2B") : std::string(1, c);
          *s = std::move(t);
        }
      }
      out.push_back(CanonicalQueryString(literal, exclude));
    }
    return out;
  }

  // Matches `signature` against every canonical form of the request.
  bool MatchesV4(const std::string& signing_key, const std::string& amz_date, const SigV4Scope& scope,
                 const std::string& canonical_headers, const std::string& signed_names, const std::string& payload,
                 std::string_view exclude, const std::string& signature) const {
    for (const auto& uri : UriCandidates()) {
      for (const auto& query : QueryCandidates(exclude)) {
        std::string creq = CanonicalRequest(req_.method, uri, query, canonical_headers, signed_names, payload);
        if (ConstantTimeEquals(SigV4Signature(signing_key, SigV4StringToSign(amz_date, scope, creq)), signature))
          return true;
      }
    }
    return false;
  }

  // The payload hash a SigV4 request signed and what remains to check of its body.
  Result<std::string> PayloadV4(const std::string* declared, Verified* v) const;

  const SignableRequest& req_;
  const SecretLookup& lookup_;
  const VerifyOptions& opt_;
  Dialect d_;
  int64_t now_ = 0;
};

Result<std::string> Checker::PayloadV4(const std::string* declared, Verified* v) const {
  if (!declared) {
    if (d_ == Dialect::kS3)
      return Status(Code::kInvalidArgument, "missing required header 'x-amz-content-sha256'", "InvalidRequest");
    v->payload = PayloadCheck::kNone;
    return req_.payload_sha256.empty() ? Sha256Hex(req_.body) : req_.payload_sha256;
  }
  const std::string& p = *declared;
  if (p == kUnsignedPayload) {
    v->payload = PayloadCheck::kUnsigned;
  } else if (p == kStreamingPayload || p == kStreamingPayloadTrailer || p == kStreamingUnsignedPayloadTrailer) {
    v->payload = PayloadCheck::kAwsChunked;
  } else if (IsLowerHex64(p)) {
    // The body is known when held in `body`, hashed by the caller, or absent altogether.
    std::string length = std::string(TrimSpace(req_.headers.Get("content-length")));
    bool no_body = (length.empty() || length == "0") && !req_.headers.Has("transfer-encoding");
    std::string known = !req_.payload_sha256.empty()                               ? req_.payload_sha256
                        : (!req_.body.empty() || no_body || d_ == Dialect::kQuery) ? Sha256Hex(req_.body)
                                                                                   : std::string();
    if (known.empty()) {
      v->payload = PayloadCheck::kSha256;
      v->payload_sha256 = p;
    } else if (known != p) {
      return Status(Code::kInvalidArgument,
                    "the body's SHA-256 '" + known + "' is not the declared x-amz-content-sha256 '" + p + "'",
                    "XAmzContentSHA256Mismatch");
    }
  } else {
    return Status(Code::kInvalidArgument,
                  "invalid x-amz-content-sha256 '" + p + "': expected a SHA-256 in hex, UNSIGNED-PAYLOAD or " +
                      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                  "InvalidArgument");
  }
  return p;
}

Result<Verified> Checker::Run() {
  if (const std::string* auth = req_.headers.Find("authorization")) {
    std::string_view a = TrimSpace(*auth);
    if (StartsWith(a, "AWS4-HMAC-SHA256")) return SigV4Header(*auth);
    if (StartsWith(a, "AWS ") && d_ == Dialect::kS3) return S3V2Header(*auth);
    return Error(d_, Failure::kMalformedHeader,
                 "unsupported authorization type '" + std::string(a.substr(0, a.find(' '))) +
                     "': sign with AWS4-HMAC-SHA256" + (d_ == Dialect::kS3 ? " or AWS (SigV2)" : ""));
  }
  if (FindQueryParam(req_.query, "X-Amz-Algorithm")) return SigV4Query();
  if (d_ == Dialect::kS3) {
    if (FindQueryParam(req_.query, "AWSAccessKeyId") || FindQueryParam(req_.query, "Signature")) return S3V2Query();
  } else {
    QueryParams params = req_.query;
    std::string type = AsciiLower(req_.headers.Get("content-type"));
    if (req_.method == "POST" && type.rfind("application/x-www-form-urlencoded", 0) == 0) {
      QueryParams form = SplitQuery(req_.body);
      params.insert(params.end(), form.begin(), form.end());
    }
    if (FindQueryParam(params, "Signature") || FindQueryParam(params, "AWSAccessKeyId")) return QueryV2(params);
  }
  if (opt_.allow_anonymous) {
    Verified v;
    v.scheme = AuthScheme::kAnonymous;
    v.request_time_ms = now_;
    return v;
  }
  return Error(d_, Failure::kMissing, "the request is not signed; sign it with an access key");
}

Result<Verified> Checker::SigV4Header(const std::string& authorization) {
  Result<SigV4Authorization> parsed = ParseSigV4Authorization(authorization);
  if (!parsed.ok()) return Error(d_, Failure::kMalformedHeader, parsed.status().message());
  const SigV4Authorization& auth = *parsed;
  std::string amz_date;
  if (const std::string* x = req_.headers.Find("x-amz-date")) {
    amz_date = std::string(TrimSpace(*x));
  } else if (const std::string* date = req_.headers.Find("date")) {
    Result<int64_t> t = ParseHttpDate(TrimSpace(*date));
    if (!t.ok()) return Error(d_, Failure::kMalformedHeader, t.status().message());
    amz_date = FormatAmzDate(*t);
  } else {
    return Error(d_, Failure::kMalformedHeader, "the request has neither an x-amz-date nor a Date header");
  }
  Result<int64_t> t = ParseAmzDate(amz_date);
  if (!t.ok()) return Error(d_, Failure::kMalformedHeader, t.status().message());
  EUCA_RETURN_IF_ERROR(CheckScope(auth.scope, amz_date, Failure::kMalformedHeader));
  if (std::find(auth.signed_headers.begin(), auth.signed_headers.end(), "host") == auth.signed_headers.end())
    return Error(d_, Failure::kMalformedHeader, "SignedHeaders must include 'host'");
  if (d_ == Dialect::kS3) {
    for (const auto& f : req_.headers) {
      std::string n = AsciiLower(f.name);
      if (StartsWith(n, "x-amz-") &&
          std::find(auth.signed_headers.begin(), auth.signed_headers.end(), n) == auth.signed_headers.end())
        return Status(Code::kPermissionDenied, "header '" + n + "' is in the request but not signed", "AccessDenied");
    }
  }
  EUCA_RETURN_IF_ERROR(CheckSkew(*t));
  EUCA_ASSIGN_OR_RETURN(std::string secret, Secret(auth.access_key_id));
  Verified v;
  v.access_key_id = auth.access_key_id;
  v.scheme = AuthScheme::kSigV4Header;
  v.request_time_ms = *t;
  EUCA_ASSIGN_OR_RETURN(std::string payload, PayloadV4(req_.headers.Find("x-amz-content-sha256"), &v));
  Result<std::string> headers = CanonicalHeaders(req_.headers, auth.signed_headers);
  if (!headers.ok()) return Error(d_, Failure::kMismatch, headers.status().message());
  std::string signed_names;
  for (const auto& n : auth.signed_headers) signed_names += (signed_names.empty() ? "" : ";") + n;
  std::string key = SigV4SigningKey(secret, auth.scope);
  if (!MatchesV4(key, amz_date, auth.scope, *headers, signed_names, payload, {}, auth.signature))
    return Error(d_, Failure::kMismatch,
                 kMismatchMessage + auth.access_key_id + "'; check the key and the signing method");
  if (v.payload == PayloadCheck::kAwsChunked) {
    StreamingContext s;
    s.mode = payload == kStreamingPayload          ? ChunkedMode::kSigned
             : payload == kStreamingPayloadTrailer ? ChunkedMode::kSignedTrailer
                                                   : ChunkedMode::kUnsignedTrailer;
    s.signing_key = std::move(key);
    s.amz_date = amz_date;
    s.scope = auth.scope;
    s.seed_signature = auth.signature;
    if (const std::string* len = req_.headers.Find("x-amz-decoded-content-length")) {
      if (!ParseInt(TrimSpace(*len), &s.decoded_length))
        return Status(Code::kInvalidArgument, "invalid x-amz-decoded-content-length '" + *len + "'", "InvalidArgument");
    }
    std::string trailer_list = req_.headers.Get("x-amz-trailer");
    std::string_view declared = trailer_list;
    while (!declared.empty()) {
      size_t comma = declared.find(',');
      std::string_view name = TrimSpace(declared.substr(0, comma));
      if (!name.empty()) s.declared_trailers.push_back(AsciiLower(name));
      declared = comma == std::string_view::npos ? std::string_view() : declared.substr(comma + 1);
    }
    v.streaming = std::move(s);
  }
  return v;
}

Result<Verified> Checker::SigV4Query() {
  std::string algorithm, credential, amz_date, signed_list, signature, expires_text;
  FindQueryParam(req_.query, "X-Amz-Algorithm", &algorithm);
  if (algorithm != kSigV4Algorithm)
    return Error(d_, Failure::kMalformedQuery,
                 "unsupported X-Amz-Algorithm '" + algorithm + "': expected 'AWS4-HMAC-SHA256'");
  for (auto [name, out] : {std::pair{"X-Amz-Credential", &credential}, std::pair{"X-Amz-Date", &amz_date},
                           std::pair{"X-Amz-SignedHeaders", &signed_list}, std::pair{"X-Amz-Signature", &signature}}) {
    if (!FindQueryParam(req_.query, name, out) || out->empty())
      return Error(d_, Failure::kMalformedQuery, std::string("presigned request lacks query parameter '") + name + "'");
  }
  bool has_expires = FindQueryParam(req_.query, "X-Amz-Expires", &expires_text);
  if (!has_expires && d_ == Dialect::kS3)
    return Error(d_, Failure::kMalformedQuery, "presigned request lacks query parameter 'X-Amz-Expires'");
  Result<SigV4Authorization> parsed = ParseSigV4Credential(credential);
  if (!parsed.ok()) return Error(d_, Failure::kMalformedQuery, parsed.status().message());
  SigV4Authorization auth = std::move(parsed).value();
  Result<int64_t> t = ParseAmzDate(amz_date);
  if (!t.ok()) return Error(d_, Failure::kMalformedQuery, t.status().message());
  EUCA_RETURN_IF_ERROR(CheckScope(auth.scope, amz_date, Failure::kMalformedQuery));
  std::string_view names = signed_list;
  while (!names.empty()) {
    size_t semi = names.find(';');
    auth.signed_headers.push_back(AsciiLower(names.substr(0, semi)));
    names = semi == std::string_view::npos ? std::string_view() : names.substr(semi + 1);
  }
  if (std::find(auth.signed_headers.begin(), auth.signed_headers.end(), "host") == auth.signed_headers.end())
    return Error(d_, Failure::kMalformedQuery, "X-Amz-SignedHeaders must include 'host'");
  if (has_expires) {
    int64_t expires = 0;
    if (!ParseInt(expires_text, &expires) || expires < 1 || expires > kMaxPresignSeconds)
      return Error(d_, Failure::kMalformedQuery,
                   "invalid X-Amz-Expires '" + expires_text + "': expected 1 to " + std::to_string(kMaxPresignSeconds) +
                       " seconds");
    if (*t > now_ + opt_.max_skew_ms)
      return Error(d_, Failure::kNotYetValid, "the presigned request is not valid before '" + FormatIso8601(*t) + "'");
    if (now_ > *t + expires * 1000)
      return Error(d_, Failure::kExpired,
                   "the presigned request expired at '" + FormatIso8601(*t + expires * 1000) + "'");
  } else {
    EUCA_RETURN_IF_ERROR(CheckSkew(*t));
  }
  EUCA_ASSIGN_OR_RETURN(std::string secret, Secret(auth.access_key_id));
  Verified v;
  v.access_key_id = auth.access_key_id;
  v.scheme = AuthScheme::kSigV4Query;
  v.request_time_ms = *t;
  std::string payload;
  if (d_ == Dialect::kS3) {
    std::string declared;
    if (FindQueryParam(req_.query, "X-Amz-Content-Sha256", &declared)) {
      EUCA_ASSIGN_OR_RETURN(payload, PayloadV4(&declared, &v));
    } else if (const std::string* header = req_.headers.Find("x-amz-content-sha256");
               header && std::find(auth.signed_headers.begin(), auth.signed_headers.end(), "x-amz-content-sha256") !=
                             auth.signed_headers.end()) {
      EUCA_ASSIGN_OR_RETURN(payload, PayloadV4(header, &v));
    } else {
      payload = std::string(kUnsignedPayload);
      v.payload = PayloadCheck::kUnsigned;
    }
    if (v.payload == PayloadCheck::kAwsChunked)
      return Error(d_, Failure::kMalformedQuery, "a presigned request cannot carry an aws-chunked payload");
  } else {
    EUCA_ASSIGN_OR_RETURN(payload, PayloadV4(req_.headers.Find("x-amz-content-sha256"), &v));
  }
  Result<std::string> headers = CanonicalHeaders(req_.headers, auth.signed_headers);
  if (!headers.ok()) return Error(d_, Failure::kMismatch, headers.status().message());
  std::string key = SigV4SigningKey(secret, auth.scope);
  if (!MatchesV4(key, amz_date, auth.scope, *headers, signed_list, payload, "X-Amz-Signature", signature))
    return Error(d_, Failure::kMismatch,
                 kMismatchMessage + auth.access_key_id + "'; check the key and the signing method");
  return v;
}

Result<Verified> Checker::S3V2Header(const std::string& authorization) {
  std::string_view a = TrimSpace(authorization);
  a.remove_prefix(4);  // "AWS "
  a = TrimSpace(a);
  size_t colon = a.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == a.size())
    return Error(
        d_, Failure::kMalformedHeader,
        "malformed authorization '" + std::string(TrimSpace(authorization)) + "': expected 'AWS ACCESS_KEY:SIGNATURE'");
  std::string access_key_id(a.substr(0, colon));
  std::string signature(a.substr(colon + 1));
  const std::string* amz_date = req_.headers.Find("x-amz-date");
  const std::string* date = req_.headers.Find("date");
  const std::string* when = amz_date ? amz_date : date;
  if (!when)
    return Status(Code::kPermissionDenied, "AWS authentication requires a valid Date or x-amz-date header",
                  "AccessDenied");
  Result<int64_t> t = ParseHttpDate(TrimSpace(*when));
  if (!t.ok() && amz_date) t = ParseAmzDate(TrimSpace(*when));
  if (!t.ok())
    return Status(Code::kPermissionDenied,
                  "AWS authentication requires a valid Date or x-amz-date header; '" + *when + "' is not a date",
                  "AccessDenied");
  EUCA_RETURN_IF_ERROR(CheckSkew(*t));
  EUCA_ASSIGN_OR_RETURN(std::string secret, Secret(access_key_id));
  std::string amz = S3V2CanonicalAmzHeaders(req_.headers);
  std::vector<std::string> date_lines = {amz_date ? std::string() : std::string(TrimSpace(*date))};
  if (amz_date && date) date_lines.push_back(std::string(TrimSpace(*date)));
  for (const auto& resource : S3V2Resources()) {
    for (const auto& line : date_lines) {
      std::string sts = S3V2StringToSign(req_.method, req_.headers, line, amz, resource);
      if (ConstantTimeEquals(Base64Encode(HmacSha1(secret, sts)), signature)) {
        Verified v;
        v.access_key_id = access_key_id;
        v.scheme = AuthScheme::kSigV2Header;
        v.request_time_ms = *t;
        v.payload = PayloadCheck::kUnsigned;
        return v;
      }
    }
  }
  return Error(d_, Failure::kMismatch, kMismatchMessage + access_key_id + "'; check the key and the signing method");
}

Result<Verified> Checker::S3V2Query() {
  std::string access_key_id, signature, expires_text;
  for (auto [name, out] : {std::pair{"AWSAccessKeyId", &access_key_id}, std::pair{"Signature", &signature},
                           std::pair{"Expires", &expires_text}}) {
    if (!FindQueryParam(req_.query, name, out) || out->empty())
      return Error(d_, Failure::kMalformedQuery, std::string("presigned request lacks query parameter '") + name + "'");
  }
  int64_t expires = 0;
  if (!ParseInt(expires_text, &expires))
    return Error(d_, Failure::kMalformedQuery,
                 "invalid Expires '" + expires_text + "': expected seconds since the epoch");
  if (now_ > expires * 1000)
    return Error(d_, Failure::kExpired, "the presigned request expired at '" + FormatIso8601(expires * 1000) + "'");
  EUCA_ASSIGN_OR_RETURN(std::string secret, Secret(access_key_id));
  std::string amz = S3V2CanonicalAmzHeaders(req_.headers, &req_.query);
  std::vector<std::string> resources = S3V2Resources();
  if (std::none_of(resources.begin(), resources.end(), [&](const std::string& resource) {
        std::string sts = S3V2StringToSign(req_.method, req_.headers, expires_text, amz, resource);
        return ConstantTimeEquals(Base64Encode(HmacSha1(secret, sts)), signature);
      }))
    return Error(d_, Failure::kMismatch, kMismatchMessage + access_key_id + "'; check the key and the signing method");
  Verified v;
  v.access_key_id = access_key_id;
  v.scheme = AuthScheme::kSigV2Query;
  v.request_time_ms = expires * 1000;
  v.payload = PayloadCheck::kUnsigned;
  return v;
}

Result<Verified> Checker::QueryV2(const QueryParams& params) {
  std::string version, method, access_key_id, signature, timestamp, expires;
  FindQueryParam(params, "SignatureVersion", &version);
  if (version != "2")
    return Error(d_, Failure::kMalformedQuery,
                 "unsupported SignatureVersion '" + version + "': sign with version 2 or with AWS4-HMAC-SHA256");
  FindQueryParam(params, "SignatureMethod", &method);
  if (method != "HmacSHA256" && method != "HmacSHA1")
    return Error(d_, Failure::kMalformedQuery,
                 "unsupported SignatureMethod '" + method + "': expected 'HmacSHA256' or 'HmacSHA1'");
  for (auto [name, out] : {std::pair{"AWSAccessKeyId", &access_key_id}, std::pair{"Signature", &signature}}) {
    if (!FindQueryParam(params, name, out) || out->empty())
      return Error(d_, Failure::kMalformedQuery, std::string("request lacks parameter '") + name + "'");
  }
  int64_t request_ms = 0;
  if (FindQueryParam(params, "Timestamp", &timestamp)) {
    Result<int64_t> t = ParseIso8601(timestamp);
    if (!t.ok()) return Error(d_, Failure::kMalformedQuery, t.status().message());
    EUCA_RETURN_IF_ERROR(CheckSkew(*t));
    request_ms = *t;
  } else if (FindQueryParam(params, "Expires", &expires)) {
    Result<int64_t> t = ParseIso8601(expires);
    if (!t.ok()) return Error(d_, Failure::kMalformedQuery, t.status().message());
    if (now_ > *t) return Error(d_, Failure::kExpired, "the request expired at '" + FormatIso8601(*t) + "'");
    request_ms = *t;
  } else {
    return Error(d_, Failure::kMalformedQuery, "request lacks parameter 'Timestamp' (or 'Expires')");
  }
  EUCA_ASSIGN_OR_RETURN(std::string secret, Secret(access_key_id));
  std::string host = req_.headers.Get("host");
  std::vector<std::string> hosts = {host};
  for (std::string_view port : {":80", ":443"})
    if (host.size() > port.size() && host.compare(host.size() - port.size(), port.size(), port) == 0)
      hosts.push_back(host.substr(0, host.size() - port.size()));
  for (const auto& h : hosts) {
    std::string sts = QueryV2StringToSign(req_.method, h, req_.path, params);
    std::string mac = method == "HmacSHA256" ? HmacSha256(secret, sts) : HmacSha1(secret, sts);
    if (ConstantTimeEquals(Base64Encode(mac), signature)) {
      Verified v;
      v.access_key_id = access_key_id;
      v.scheme = AuthScheme::kSigV2Params;
      v.request_time_ms = request_ms;
      return v;
    }
  }
  return Error(d_, Failure::kMismatch, kMismatchMessage + access_key_id + "'; check the key and the signing method");
}

}  // namespace

Result<Verified> VerifyRequest(const SignableRequest& req, const SecretLookup& lookup, const VerifyOptions& options) {
  return Checker(req, lookup, options).Run();
}

}  // namespace euca::api
