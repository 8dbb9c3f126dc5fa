#pragma once
// The internal endpoints of the Walrus listener (docs/internal-api.md): image delivery at
//   GET /_euca/image?manifest=BUCKET/KEY
// signed with component credentials (api::VerifyComponentRequest), answering the raw image
// streamed from the image cache, or a JSON error. Bucket names never begin with '_', so a
// path-style /_euca/ path is never an S3 path; RouteWalrus sends it here and the rest to S3.
// A virtual-host-style request (Host BUCKET.DOMAIN) names its bucket in the Host, so there
// /_euca/... is an object key and goes to S3.
// Thread-safe: the handlers keep no mutable state.

#include <string>

#include "core/api/component_auth.h"
#include "core/http/message.h"
#include "core/walrus/image_delivery.h"

namespace euca::walrus {

/// The prefix of every internal path.
inline constexpr char kInternalPathPrefix[] = "/_euca/";
/// The image delivery path.
inline constexpr char kImagePath[] = "/_euca/image";
/// Response header: lower-case hex SHA-256 of the image bytes.
inline constexpr char kImageSha256Header[] = "X-Euca-Image-Sha256";

/// The components that may fetch images: node controllers and cluster controllers.
inline const std::vector<api::Component> kImageReaders = {api::Component::kNc, api::Component::kCc};

/// The internal handler: image delivery (GET and HEAD) and JSON errors for everything else.
/// `auth.allowed` is replaced by kImageReaders. REQUIRES: `delivery` and `auth.clock` outlive it.
http::Handler MakeInternalHandler(ImageDelivery& delivery, api::ComponentVerifyOptions auth);

/// Whether a request is for the internal handler: its path is under kInternalPathPrefix and
/// its Host does not name a bucket under one of `domains` (S3RestOptions::domains).
bool IsInternalRequest(const http::RequestHead& head, const std::vector<std::string>& domains);

/// Sends internal requests (IsInternalRequest) to `internal` and everything else to `s3`.
http::Handler RouteWalrus(http::Handler internal, http::Handler s3, std::vector<std::string> domains);

/// An internal API error reply: JSON body, status from the error map.
http::Response InternalErrorResponse(const Status& status);

}  // namespace euca::walrus
