#pragma once
// How a node controller gets a raw image from Walrus (docs/internal-api.md): the ImageSource
// seam, its HTTP implementation (GET /_euca/image signed with the component's credentials,
// streamed to disk) and a fake for unit tests.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "core/api/component_auth.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/http/client.h"

namespace euca::walrus {

/// What a fetch wrote.
struct FetchedImage {
  uint64_t size = 0;
  std::string sha256;  ///< lower-case hex of the image bytes
  std::string etag;    ///< Walrus' cache entry id, unquoted
};

/// A source of raw images by manifest location. Implementations are thread-safe.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  /// Writes the raw image of the bundle whose manifest is at `manifest_location`
  /// ("BUCKET/KEY") to `destination_path`: into a temporary file in its folder (which must
  /// exist), renamed into place once every byte arrived and matched its digest. On failure
  /// nothing is left and the source's error is returned (Walrus' own errors keep their code:
  /// NotFound, Unauthenticated, InvalidArgument for a corrupt bundle, ...).
  virtual Result<FetchedImage> Fetch(const std::string& manifest_location, const std::string& destination_path) = 0;
  /// The ETag the image of `manifest_location` would be served with now: it changes when the
  /// manifest is overwritten. Walrus answers from the manifest (its signature verified) without
  /// unbundling: the errors of the manifest are Fetch's, those of the parts come with Fetch.
  virtual Result<std::string> Etag(const std::string& manifest_location) = 0;
};

struct HttpImageSourceOptions {
  std::string walrus_url = {};                 ///< "http://host:8773"; a path after the host is ignored
  api::ComponentCredentials credentials = {};  ///< the caller's (keys/nc-cert.pem, keys/nc-pk.pem)
  Clock* clock = nullptr;                      ///< for X-Euca-Date; nullptr = RealClock()
  http::ClientOptions client = {};
};

/// Fetches over HTTP, one connection per fetch. Checks the length and X-Euca-Image-Sha256;
/// zero runs of 64 KiB stay holes in the file written.
class HttpImageSource final : public ImageSource {
 public:
  explicit HttpImageSource(HttpImageSourceOptions options);
  Result<FetchedImage> Fetch(const std::string& manifest_location, const std::string& destination_path) override;
  /// A signed HEAD request.
  Result<std::string> Etag(const std::string& manifest_location) override;

 private:
  /// A request to the image endpoint for `manifest_location`, signed.
  Result<http::ClientRequest> SignedRequest(const std::string& method, const std::string& manifest_location);

  HttpImageSourceOptions options_;
  Clock& clock_;
};

class ImageDelivery;

/// Image delivery in the same process (the embedded cloud: no Walrus daemon, no HTTP): the
/// image is read from `delivery`'s cache, with the same checks as over HTTP. The ETag is the
/// cache entry id, as Walrus sends it. `delivery` must outlive it.
class DeliveryImageSource final : public ImageSource {
 public:
  explicit DeliveryImageSource(ImageDelivery& delivery) : delivery_(delivery) {}
  Result<FetchedImage> Fetch(const std::string& manifest_location, const std::string& destination_path) override;
  Result<std::string> Etag(const std::string& manifest_location) override;

 private:
  ImageDelivery& delivery_;
};

/// Images held in memory, for unit tests of node controllers.
class FakeImageSource final : public ImageSource {
 public:
  /// Serves `bytes` for `manifest_location`; unknown locations are NotFound (NoSuchKey).
  void Add(const std::string& manifest_location, std::string bytes);
  /// Every fetch of `manifest_location` fails with `status` from now on.
  void Fail(const std::string& manifest_location, Status status);
  Result<FetchedImage> Fetch(const std::string& manifest_location, const std::string& destination_path) override;
  /// The SHA-256 of the bytes served, or the failure set for the location.
  Result<std::string> Etag(const std::string& manifest_location) override;
  /// Fetches of `manifest_location` so far (failed ones included).
  int fetches(const std::string& manifest_location) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> images_;
  std::map<std::string, Status> failures_;
  std::map<std::string, int> fetches_;
};

}  // namespace euca::walrus
