#pragma once
// The internal endpoints of the Walrus listener (docs/internal-api.md): image delivery at
//   GET /_euca/image?manifest=BUCKET/KEY
// signed with component credentials (api::VerifyComponentRequest), answering the raw image
// streamed from the image cache, or a JSON error. Bucket names never begin with '_', so the
// /_euca/ prefix never meets S3 routing; RouteWalrus sends it here and the rest to S3.
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

/// Sends paths under kInternalPathPrefix to `internal` and everything else to `s3`.
http::Handler RouteWalrus(http::Handler internal, http::Handler s3);

/// An internal API error reply: JSON body, status from the error map.
http::Response InternalErrorResponse(const Status& status);

}  // namespace euca::walrus
