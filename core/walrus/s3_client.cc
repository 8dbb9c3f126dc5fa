#include "core/walrus/s3_client.h"

#include <optional>
#include <pugixml.hpp>
#include <sstream>

#include "core/api/encoding.h"
#include "core/api/sigv4.h"
#include "core/base/clock.h"
#include "core/base/error_map.h"
#include "core/base/strings.h"
#include "core/walrus/s3_rest.h"

namespace euca::walrus {
namespace {

// The most of an error reply's body kept for its XML.
constexpr size_t kMaxErrorBody = 64 << 10;
// The most of a listing page held at once.
constexpr size_t kMaxListingBody = 16 << 20;

bool IsSuccess(int status) { return status >= 200 && status < 300; }

std::string Where(const std::string& bucket, const std::string& key) {
  return key.empty() ? "bucket '" + bucket + "'" : "'" + bucket + "/" + key + "'";
}

/// A decimal size; nullopt when `text` is not one.
std::optional<uint64_t> ParseSize(const std::string& text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(text);
}

}  // namespace

Result<S3Endpoint> ParseS3Endpoint(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("S3 endpoint '" + url + "' " + why + "; use http://HOST[:PORT][/PATH]");
  };
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return bad("has no scheme");
  std::string scheme = AsciiLower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return bad("is not http or https");
  std::string rest = url.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string::npos) return bad("has a query or fragment");
  size_t slash = rest.find('/');
  S3Endpoint e;
  e.host = rest.substr(0, slash);
  if (e.host.empty() || e.host.find('@') != std::string::npos) return bad("names no host");
  e.origin = scheme + "://" + e.host;
  if (slash != std::string::npos) e.path = rest.substr(slash);
  while (!e.path.empty() && e.path.back() == '/') e.path.pop_back();
  return e;
}

S3Client::S3Client(S3ClientOptions options, S3Endpoint endpoint)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock()) {}

Result<std::unique_ptr<S3Client>> S3Client::Create(S3ClientOptions options) {
  EUCA_ASSIGN_OR_RETURN(S3Endpoint endpoint, ParseS3Endpoint(options.endpoint));
  return std::unique_ptr<S3Client>(new S3Client(std::move(options), std::move(endpoint)));
}

std::unique_ptr<http::Client> S3Client::Borrow() {
  std::lock_guard lock(mu_);
  if (idle_.empty()) return std::make_unique<http::Client>(options_.http);
  auto c = std::move(idle_.back());
  idle_.pop_back();
  return c;
}

void S3Client::Return(std::unique_ptr<http::Client> client) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(client));
}

Status S3Client::ErrorOf(const Request& request, int http_status, const std::string& body) const {
  std::string code, message;
  pugi::xml_document doc;
  if (!body.empty() && doc.load_buffer(body.data(), body.size())) {
    pugi::xml_node error = doc.child("Error");
    code = error.child("Code").text().get();
    message = error.child("Message").text().get();
  }
  if (code.empty()) {
    // A HEAD reply, or a server that sent no S3 error document: what the status tells.
    if (http_status == 404) {
      code = request.key.empty() ? "NoSuchBucket" : "NoSuchKey";
    } else if (http_status == 403) {
      code = "AccessDenied";
    }
  }
  if (message.empty()) {
    if (code == "NoSuchBucket") {
      message = "bucket '" + request.bucket + "' does not exist";
    } else if (code == "NoSuchKey") {
      message = "no object '" + request.key + "' in bucket '" + request.bucket + "'";
    } else if (code == "AccessDenied") {
      message = "access denied to " + Where(request.bucket, request.key);
    } else {
      message = request.method + " " + Where(request.bucket, request.key) + ": HTTP status " +
                std::to_string(http_status) + (code.empty() ? "" : " (" + code + ")");
    }
  }
  const Code mapped = CodeOfS3Error(code, http_status);
  return Status(mapped, std::move(message), std::move(code));
}

Result<http::ClientResponse> S3Client::Send(const Request& request) {
  std::string path = endpoint_.path;
  if (!request.bucket.empty()) path += "/" + api::UriEncode(request.bucket, false);
  if (!request.key.empty()) path += "/" + api::UriEncode(request.key, true);
  if (path.empty()) path = "/";

  api::SignableRequest signable{.method = request.method,
                                .path = path,
                                .query = api::SplitQuery(request.query),
                                .headers = request.headers,
                                .body = request.source ? std::string() : request.body};
  signable.headers.Set("Host", endpoint_.host);
  if (!options_.credentials.access_key_id.empty()) {
    api::SigV4SignOptions sign{.dialect = api::Dialect::kS3,
                               .region = options_.region,
                               .service = "s3",
                               .now_ms = clock_.NowMillis(),
                               .payload_hash = request.source ? std::string(api::kUnsignedPayload) : std::string()};
    EUCA_RETURN_IF_ERROR(api::SignSigV4(signable, options_.credentials, sign).status());
  }

  // The reply's status is known before its body: a 2xx body goes to the request's sink, an
  // error document is collected (bounded) for its message.
  int status = 0;
  std::string error_body;
  http::ClientRequest c{.method = request.method,
                        .url = endpoint_.origin + path + (request.query.empty() ? "" : "?" + request.query),
                        .headers = signable.headers,
                        .body = request.body,
                        .source = request.source,
                        .content_length = request.content_length};
  if (request.sink) {
    c.on_head = [&status](int s, const Headers&) {
      status = s;
      return Status::Ok();
    };
    c.sink = [&](std::string_view piece) -> Status {
      if (IsSuccess(status)) return request.sink(piece);
      if (error_body.size() < kMaxErrorBody) error_body.append(piece.substr(0, kMaxErrorBody - error_body.size()));
      return Status::Ok();
    };
  }
  auto client = Borrow();
  auto reply = client->Do(c);
  Return(std::move(client));
  if (!reply.ok()) {
    if (reply.status().code() == Code::kUnavailable)
      return reply.status().WithContext("S3 endpoint '" + options_.endpoint + "'");
    return reply.status();
  }
  if (IsSuccess(reply->status)) return reply;
  if (request.method == "HEAD") {
    // A HEAD reply carries no error document: ask again with a GET that reads next to
    // nothing, for the server's code and message (an unknown key and a wrong secret are both
    // a bare 403 otherwise).
    Request get = request;
    get.method = "GET";
    if (request.key.empty()) {
      get.query = "list-type=2&max-keys=0";
    } else {
      get.headers.Set("Range", "bytes=0-0");
    }
    get.sink = [](std::string_view) { return Status::Ok(); };
    Status again = Send(get).status();
    if (!again.ok()) return again;
  }
  return ErrorOf(request, reply->status, request.sink ? error_body : reply->body);
}

Status S3Client::CreateBucket(const std::string& bucket, const std::string& location, const std::string& canned_acl) {
  Request r{.method = "PUT", .bucket = bucket};
  if (!canned_acl.empty()) r.headers.Set("x-amz-acl", canned_acl);
  if (!location.empty()) {
    pugi::xml_document doc;
    auto root = doc.append_child("CreateBucketConfiguration");
    root.append_attribute("xmlns") = kS3XmlNamespace;
    root.append_child("LocationConstraint").text().set(location.c_str());
    std::ostringstream out;
    doc.save(out, "", pugi::format_raw);
    r.body = out.str();
    r.headers.Set("Content-Type", "application/xml");
  }
  return Send(r).status();
}

namespace {

// A Last-Modified header (RFC 1123) or listing field (ISO 8601) in milliseconds; 0 when
// absent or unreadable (the time is informational for every caller).
int64_t HeaderTime(const std::string& text) {
  if (text.empty()) return 0;
  auto t = api::ParseHttpDate(text);
  return t.ok() ? *t : 0;
}
int64_t ListingTime(const std::string& text) {
  if (text.empty()) return 0;
  auto t = ParseIso8601(text);
  return t.ok() ? *t : 0;
}

}  // namespace

Status S3Client::GetListing(Request r, const char* root_name, const std::string& what, pugi::xml_document& doc,
                            pugi::xml_node& root) {
  std::string page;
  r.sink = [&page](std::string_view piece) {
    if (page.size() + piece.size() > kMaxListingBody) return ResourceExhausted("listing page is too large");
    page.append(piece);
    return Status::Ok();
  };
  EUCA_RETURN_IF_ERROR(Send(r).status());
  if (doc.load_buffer(page.data(), page.size())) root = doc.child(root_name);
  if (!root) return Internal("the S3 reply to listing " + what + " is not a " + root_name);
  return Status::Ok();
}

Result<std::vector<std::string>> S3Client::ListBuckets() {
  pugi::xml_document doc;
  pugi::xml_node root;
  EUCA_RETURN_IF_ERROR(GetListing({.method = "GET"}, "ListAllMyBucketsResult", "buckets", doc, root));
  std::vector<std::string> out;
  for (pugi::xml_node b : root.child("Buckets").children("Bucket")) out.push_back(b.child("Name").text().get());
  return out;
}

Status S3Client::HeadBucket(const std::string& bucket) { return Send({.method = "HEAD", .bucket = bucket}).status(); }

Status S3Client::DeleteBucket(const std::string& bucket) {
  return Send({.method = "DELETE", .bucket = bucket}).status();
}

Result<StoredObject> S3Client::HeadObject(const std::string& bucket, const std::string& key) {
  EUCA_ASSIGN_OR_RETURN(auto reply, Send({.method = "HEAD", .bucket = bucket, .key = key}));
  StoredObject out{key, 0, UnquoteEtag(reply.headers.Get("ETag")), HeaderTime(reply.headers.Get("Last-Modified"))};
  std::optional<uint64_t> size = ParseSize(reply.headers.Get("Content-Length"));
  if (!size) return Internal("the S3 reply to HEAD " + Where(bucket, key) + " has no valid Content-Length");
  out.size = *size;
  return out;
}

Result<StoredObject> S3Client::PutObject(const PutObjectRequest& request, ByteSource& body) {
  Request r{.method = "PUT", .bucket = request.bucket, .key = request.key};
  if (request.content_md5) r.headers.Set("Content-MD5", *request.content_md5);
  if (!request.canned_acl.empty()) r.headers.Set("x-amz-acl", request.canned_acl);
  const ContentHeaders& h = request.content;
  for (const auto& [name, value] : {std::pair<const char*, const std::string*>{"Content-Type", &h.content_type},
                                    {"Cache-Control", &h.cache_control},
                                    {"Content-Disposition", &h.content_disposition},
                                    {"Content-Encoding", &h.content_encoding},
                                    {"Content-Language", &h.content_language},
                                    {"Expires", &h.expires}})
    if (!value->empty()) r.headers.Set(name, *value);
  for (const auto& [name, value] : request.metadata) r.headers.Add("x-amz-meta-" + name, value);
  r.source = [&body](char* buf, size_t n) { return body.Read(buf, n); };
  r.content_length = request.content_length;
  EUCA_ASSIGN_OR_RETURN(auto reply, Send(r));
  return StoredObject{request.key, request.content_length.value_or(0), UnquoteEtag(reply.headers.Get("ETag"))};
}

Result<StoredObject> S3Client::GetObject(const std::string& bucket, const std::string& key, const ObjectSink& sink) {
  uint64_t size = 0;
  Request r{.method = "GET", .bucket = bucket, .key = key};
  r.sink = [&](std::string_view piece) {
    size += piece.size();
    return sink(piece);
  };
  EUCA_ASSIGN_OR_RETURN(auto reply, Send(r));
  return StoredObject{key, size, UnquoteEtag(reply.headers.Get("ETag")), HeaderTime(reply.headers.Get("Last-Modified"))};
}

Result<std::vector<StoredObject>> S3Client::ListObjects(const std::string& bucket, const std::string& prefix) {
  std::vector<StoredObject> out;
  std::string token;
  while (true) {
    std::string query = "list-type=2&prefix=" + api::UriEncode(prefix, false);
    if (!token.empty()) query += "&continuation-token=" + api::UriEncode(token, false);
    pugi::xml_document doc;
    pugi::xml_node root;
    EUCA_RETURN_IF_ERROR(GetListing({.method = "GET", .bucket = bucket, .query = query}, "ListBucketResult",
                                    Where(bucket, ""), doc, root));
    for (pugi::xml_node c : root.children("Contents")) {
      std::optional<uint64_t> size = ParseSize(c.child("Size").text().get());
      if (!size) return Internal("the S3 listing of " + Where(bucket, "") + " has an object without a valid size");
      out.push_back({c.child("Key").text().get(), *size, UnquoteEtag(c.child("ETag").text().get()),
                     ListingTime(c.child("LastModified").text().get())});
    }
    if (std::string(root.child("IsTruncated").text().get()) != "true") break;
    token = root.child("NextContinuationToken").text().get();
    if (token.empty()) return Internal("the S3 listing of " + Where(bucket, "") + " is truncated without a token");
  }
  return out;
}

Status S3Client::DeleteObject(const std::string& bucket, const std::string& key) {
  return Send({.method = "DELETE", .bucket = bucket, .key = key}).status();
}

}  // namespace euca::walrus
