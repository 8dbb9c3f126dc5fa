#include "core/api/sigv2.h"

#include <algorithm>
#include <iterator>
#include <map>

#include "core/api/digest.h"
#include "core/base/strings.h"

namespace euca::api {
namespace {

// The union of AWS's RESTAuthentication list and botocore's.
constexpr std::string_view kSubResources[] = {
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "partNumber",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "select",
    "select-type",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "attributes",
};

std::string Trimmed(std::string_view s) { return std::string(TrimSpace(s)); }

// The path part of a canonicalized resource: "/" + `bucket` (virtual-host style) + the path.
std::string ResourcePath(std::string_view bucket, std::string_view raw_path) {
  std::string out;
  if (!bucket.empty()) out = "/" + std::string(bucket);
  out += raw_path.empty() ? "/" : std::string(raw_path);
  return out;
}

// "/b" <-> "/b/" for a path naming a bucket alone; "" for any other path.
std::string OtherBucketForm(std::string_view path) {
  if (path.size() < 2 || path[0] != '/' || path[1] == '/') return "";
  size_t slash = path.find('/', 1);
  if (slash == std::string_view::npos) return std::string(path) + "/";
  if (slash + 1 == path.size()) return std::string(path.substr(0, slash));
  return "";
}

bool IsForm(const SignableRequest& req) {
  std::string type = AsciiLower(req.headers.Get("content-type"));
  return req.method == "POST" && type.rfind("application/x-www-form-urlencoded", 0) == 0;
}

}  // namespace

bool IsS3SubResource(std::string_view name) {
  return std::find(std::begin(kSubResources), std::end(kSubResources), name) != std::end(kSubResources);
}

std::string QueryV2StringToSign(std::string_view method, std::string_view host, std::string_view raw_path,
                                const QueryParams& params) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& [name, value] : params) {
    std::string n = PercentDecode(name, true);
    if (n == "Signature") continue;
    pairs.emplace_back(std::move(n), PercentDecode(value, true));
  }
  std::stable_sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out(method);
  out.append("\n").append(AsciiLower(host)).append("\n").append(raw_path.empty() ? "/" : raw_path).append("\n");
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i) out.push_back('&');
    out += UriEncode(pairs[i].first, false);
    out.push_back('=');
    out += UriEncode(pairs[i].second, false);
  }
  return out;
}

std::string S3V2CanonicalAmzHeaders(const Headers& headers, const QueryParams* query) {
  std::map<std::string, std::string> amz;
  auto add = [&](std::string name, std::string_view value) {
    auto [it, fresh] = amz.emplace(std::move(name), Trimmed(value));
    if (!fresh) it->second += "," + Trimmed(value);
  };
  for (const auto& f : headers) {
    std::string n = AsciiLower(f.name);
    if (n.rfind("x-amz-", 0) == 0) add(std::move(n), f.value);
  }
  if (query) {
    for (const auto& [name, value] : *query) {
      std::string n = AsciiLower(PercentDecode(name, true));
      if (n.rfind("x-amz-", 0) == 0) add(std::move(n), PercentDecode(value, true));
    }
  }
  std::string out;
  for (const auto& [n, v] : amz) out.append(n).append(":").append(v).append("\n");
  return out;
}

std::string S3V2CanonicalResource(std::string_view bucket, std::string_view raw_path, const QueryParams& query) {
  std::string out = ResourcePath(bucket, raw_path);
  std::vector<std::pair<std::string, std::string>> subs;
  for (const auto& [name, value] : query) {
    std::string n = PercentDecode(name, true);
    if (!IsS3SubResource(n)) continue;
    subs.emplace_back(n, value.empty() ? std::string() : "=" + PercentDecode(value, true));
  }
  std::stable_sort(subs.begin(), subs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < subs.size(); ++i) {
    out.push_back(i == 0 ? '?' : '&');
    out += subs[i].first + subs[i].second;
  }
  return out;
}

std::vector<std::string> S3V2CanonicalResources(std::string_view bucket, std::string_view raw_path,
                                                const QueryParams& query, std::string_view service_prefix) {
  std::vector<std::string> paths = {ResourcePath(bucket, raw_path)};
  if (!service_prefix.empty() && raw_path.substr(0, service_prefix.size()) == service_prefix &&
      (raw_path.size() == service_prefix.size() || raw_path[service_prefix.size()] == '/'))
    paths.push_back(ResourcePath(bucket, raw_path.substr(service_prefix.size())));
  for (size_t i = 0, n = paths.size(); i < n; ++i) {
    std::string other = OtherBucketForm(paths[i]);
    if (!other.empty()) paths.push_back(std::move(other));
  }
  std::vector<std::string> out;
  for (const auto& path : paths) {
    std::string resource = S3V2CanonicalResource("", path, query);
    if (std::find(out.begin(), out.end(), resource) == out.end()) out.push_back(std::move(resource));
  }
  return out;
}

std::string S3V2StringToSign(std::string_view method, const Headers& headers, std::string_view date,
                             std::string_view canonical_amz_headers, std::string_view canonical_resource) {
  std::string out(method);
  out.append("\n").append(Trimmed(headers.Get("content-md5")));
  out.append("\n").append(Trimmed(headers.Get("content-type")));
  out.append("\n").append(date).append("\n");
  out.append(canonical_amz_headers).append(canonical_resource);
  return out;
}

Status SignQueryV2(SignableRequest& req, const Credentials& credentials, int64_t now_ms) {
  const std::string* host = req.headers.Find("host");
  if (!host) return InvalidArgument("cannot sign a request without a Host header");
  bool form = IsForm(req);
  QueryParams params = form ? SplitQuery(req.body) : req.query;
  std::erase_if(params, [](const auto& p) {
    std::string n = PercentDecode(p.first, true);
    return n == "Signature" || n == "AWSAccessKeyId" || n == "SignatureMethod" || n == "SignatureVersion" ||
           n == "Timestamp";
  });
  std::string ts = FormatAmzDate(now_ms);  // 20130524T000000Z -> 2013-05-24T00:00:00Z
  ts = ts.substr(0, 4) + "-" + ts.substr(4, 2) + "-" + ts.substr(6, 2) + "T" + ts.substr(9, 2) + ":" +
       ts.substr(11, 2) + ":" + ts.substr(13, 2) + "Z";
  params.emplace_back("AWSAccessKeyId", UriEncode(credentials.access_key_id, false));
  params.emplace_back("SignatureMethod", "HmacSHA256");
  params.emplace_back("SignatureVersion", "2");
  params.emplace_back("Timestamp", UriEncode(ts, false));
  std::string sts = QueryV2StringToSign(req.method, *host, req.path, params);
  params.emplace_back("Signature", UriEncode(Base64Encode(HmacSha256(credentials.secret_key, sts)), false));
  if (form)
    req.body = JoinQuery(params);
  else
    req.query = std::move(params);
  return Status::Ok();
}

Status SignS3V2(SignableRequest& req, const Credentials& credentials, int64_t now_ms, std::string_view bucket) {
  if (!req.headers.Has("host")) return InvalidArgument("cannot sign a request without a Host header");
  req.headers.Remove("authorization");
  std::string date;
  if (!req.headers.Has("x-amz-date")) {
    date = FormatHttpDate(now_ms);
    req.headers.Set("Date", date);
  }
  std::string sts = S3V2StringToSign(req.method, req.headers, date, S3V2CanonicalAmzHeaders(req.headers),
                                     S3V2CanonicalResource(bucket, req.path, req.query));
  req.headers.Add("Authorization",
                  "AWS " + credentials.access_key_id + ":" + Base64Encode(HmacSha1(credentials.secret_key, sts)));
  return Status::Ok();
}

Status PresignS3V2(SignableRequest& req, const Credentials& credentials, int64_t now_ms, int64_t expires_seconds,
                   std::string_view bucket) {
  if (expires_seconds < 1) return InvalidArgument("invalid expiry '" + std::to_string(expires_seconds) + "'");
  std::string expires = std::to_string(now_ms / 1000 + expires_seconds);
  std::string sts = S3V2StringToSign(req.method, req.headers, expires, S3V2CanonicalAmzHeaders(req.headers, &req.query),
                                     S3V2CanonicalResource(bucket, req.path, req.query));
  req.query.emplace_back("AWSAccessKeyId", UriEncode(credentials.access_key_id, false));
  req.query.emplace_back("Expires", expires);
  req.query.emplace_back("Signature", UriEncode(Base64Encode(HmacSha1(credentials.secret_key, sts)), false));
  return Status::Ok();
}

}  // namespace euca::api
