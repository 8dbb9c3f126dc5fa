#pragma once
// Image delivery (DESIGN.md §7, issue 4): the raw image of a bundle uploaded to Walrus, for
// the node controllers. Given a manifest location "BUCKET/KEY", it reads that manifest
// version, verifies its signature against the certificates of the account that made it
// (the state store's "certificates"), and on a cache miss streams the parts out of the object
// store through bundles::Unbundle (every part's SHA-1 checked, the key unwrapped with the
// cloud's private key, gunzipped, untarred refusing anything but one plain regular file, the
// tar stream's SHA-1 checked) into the ImageCache. HTTP is not here: image_rest.h serves it. Thread-safe.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/status.h"
#include "core/walrus/image_cache.h"
#include "drivers/objects/backend.h"
#include "state/store.h"

namespace euca::walrus {

/// The certificates (PEM) that may have signed a manifest of account `account_id` (12
/// digits): its users' active certificates. Thread-safe.
using SignerCertificates = std::function<Result<std::vector<std::string>>(const std::string& account_id)>;

/// SignerCertificates read from the state store's "certificates" (core/clc/admin.h).
/// REQUIRES: `store` outlives the function; calls are serialized inside.
SignerCertificates SignerCertificatesFromStore(state::StateStore& store);

/// Splits "BUCKET/KEY" (KEY may hold '/'). InvalidArgument when either part is empty.
Result<std::pair<std::string, std::string>> ParseManifestLocation(const std::string& location);

/// What a HEAD answers: the image as Open would serve it, told without unbundling it.
struct ImageInfo {
  std::string id = {};      ///< the cache entry id (Walrus' ETag)
  uint64_t size = 0;        ///< the image's bytes
  std::string sha256 = {};  ///< lower-case hex; empty unless the image is cached
};

struct ImageDeliveryOptions {
  std::string cloud_key_pem = {};        ///< required: unwraps ec2_encrypted_key/iv
  size_t max_manifest_bytes = 16 << 20;  ///< a larger manifest object is refused
};

class ImageDelivery final {
 public:
  /// REQUIRES: `backend` and `cache` outlive this object.
  ImageDelivery(objects::ObjectBackend& backend, ImageCache& cache, SignerCertificates signers,
                ImageDeliveryOptions options);

  /// The raw image of the manifest at `location`, pinned in the cache. Errors: InvalidArgument
  /// for a bad location or bundle; NotFound (NoSuchBucket, NoSuchKey) for a missing manifest,
  /// NotFound naming a missing part; Unauthenticated when no certificate of the manifest's
  /// account verifies its signature (or it is unsigned); InvalidArgument "part 'x' is corrupt:
  /// SHA-1 expected E got G"; traversal and other tar errors as Unbundle reports them.
  Result<std::shared_ptr<const ImageLease>> Open(const std::string& location);

  /// What Open(`location`) would serve, without unbundling: from the cache entry when the image
  /// is cached, else from the manifest version, whose signature is verified. Errors: Open's
  /// for a bad location, a missing or bad manifest and a bad signature; what only unbundling
  /// finds (a missing or corrupt part, a bad tar) is left to Open.
  Result<ImageInfo> Describe(const std::string& location);

  /// Bundles unpacked so far (cache fills that ran Unbundle), for tests.
  uint64_t decryptions() const { return decryptions_.load(); }

 private:
  struct ManifestVersion;
  // Reads and parses one version of the manifest at `location`.
  Result<ManifestVersion> ReadManifest(const std::string& location);
  // The certificate of the manifest's account that verifies its signature.
  Result<std::string> Signer(const ManifestVersion& v);

  objects::ObjectBackend& backend_;
  ImageCache& cache_;
  SignerCertificates signers_;
  ImageDeliveryOptions options_;
  std::atomic<uint64_t> decryptions_{0};
};

}  // namespace euca::walrus
