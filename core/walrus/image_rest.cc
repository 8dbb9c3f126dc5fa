#include "core/walrus/image_rest.h"

#include <memory>

#include "core/api/encoding.h"
#include "core/api/internal_errors.h"
#include "core/base/error_map.h"
#include "core/walrus/s3_rest.h"

namespace euca::walrus {

http::Response InternalErrorResponse(const Status& status) {
  http::Response r = http::Response::Text(HttpStatus(status), api::InternalErrorJson(status), "application/json");
  if (status.code() == Code::kUnauthenticated) r.headers.Add("WWW-Authenticate", api::kComponentAuthScheme);
  return r;
}

http::Handler MakeInternalHandler(ImageDelivery& delivery, api::ComponentVerifyOptions auth) {
  auth.allowed = kImageReaders;
  return [&delivery, auth](const http::RequestHead& head, http::BodyReader&) -> http::Response {
    if (head.path != kImagePath)
      return InternalErrorResponse(NotFound("no internal endpoint '" + head.path + "'; images are at '" +
                                            std::string(kImagePath) + "?manifest=BUCKET/KEY'"));
    if (head.method != "GET" && head.method != "HEAD") {
      http::Response r = InternalErrorResponse(
          Status(Code::kUnsupported, "method '" + head.method + "' is not allowed on '" + head.path + "'",
                 "MethodNotAllowed"));
      r.headers.Add("Allow", "GET, HEAD");
      return r;
    }
    if (head.chunked || head.content_length.value_or(0) > 0)
      return InternalErrorResponse(InvalidArgument("'" + head.path + "' takes no request body"));
    api::SignableRequest req;
    req.method = head.method;
    req.path = head.path;
    req.query = api::SplitQuery(head.query);
    req.headers = head.headers;
    auto who = api::VerifyComponentRequest(req, auth);
    if (!who.ok()) return InternalErrorResponse(who.status());

    std::string location;
    if (!api::FindQueryParam(req.query, "manifest", &location) || location.empty())
      return InternalErrorResponse(InvalidArgument("'" + head.path + "' needs ?manifest=BUCKET/KEY"));
    http::Response r;
    r.status = 200;
    r.headers.Add("Content-Type", "application/octet-stream");
    if (head.method == "HEAD") {
      // Told from the verified manifest (or the cache): a HEAD never unbundles.
      auto info = delivery.Describe(location);
      if (!info.ok()) return InternalErrorResponse(info.status());
      r.headers.Add("ETag", "\"" + info->id + "\"");
      if (!info->sha256.empty()) r.headers.Add(kImageSha256Header, info->sha256);
      r.content_length = info->size;
      return r;
    }
    auto lease = delivery.Open(location);
    if (!lease.ok()) return InternalErrorResponse(lease.status());
    r.headers.Add("ETag", "\"" + (*lease)->id() + "\"");
    r.headers.Add(kImageSha256Header, (*lease)->sha256());
    r.content_length = (*lease)->size();
    // The lease keeps the entry pinned (and its file open) until the body is sent.
    auto state = std::make_shared<std::pair<std::shared_ptr<const ImageLease>, uint64_t>>(*lease, 0);
    r.source = [state](char* buf, size_t n) -> Result<size_t> {
      EUCA_ASSIGN_OR_RETURN(size_t got, state->first->ReadAt(state->second, buf, n));
      state->second += got;
      return got;
    };
    return r;
  };
}

bool IsInternalRequest(const http::RequestHead& head, const std::vector<std::string>& domains) {
  if (head.path.rfind(kInternalPathPrefix, 0) != 0) return false;
  return domains.empty() || !ResolveS3Target(head.path, head.headers.Get("Host"), domains).virtual_host;
}

http::Handler RouteWalrus(http::Handler internal, http::Handler s3, std::vector<std::string> domains) {
  return [internal = std::move(internal), s3 = std::move(s3), domains = std::move(domains)](
             const http::RequestHead& head, http::BodyReader& body) -> http::Response {
    if (IsInternalRequest(head, domains)) return internal(head, body);
    return s3(head, body);
  };
}

}  // namespace euca::walrus
