#include "core/walrus/image_delivery.h"

#include <mutex>
#include <tuple>

#include "bundles/bundle.h"
#include "bundles/manifest.h"
#include "core/model/account.h"

namespace euca::walrus {
namespace {

// One part object read from its start.
class ObjectPartReader final : public bundles::PartReader {
 public:
  explicit ObjectPartReader(std::unique_ptr<objects::ObjectReader> r) : r_(std::move(r)) {}
  Result<size_t> Read(uint8_t* buf, size_t n) override {
    EUCA_ASSIGN_OR_RETURN(size_t got, r_->ReadAt(offset_, reinterpret_cast<char*>(buf), n));
    offset_ += got;
    return got;
  }

 private:
  std::unique_ptr<objects::ObjectReader> r_;
  uint64_t offset_ = 0;
};

// The parts of a manifest: objects beside it in its bucket ("images/x.manifest.xml" has its
// parts at "images/x.part.00", ...), streamed out of the object store.
class ObjectPartSource final : public bundles::PartSource {
 public:
  ObjectPartSource(objects::ObjectBackend& backend, std::string bucket, std::string prefix)
      : backend_(backend), bucket_(std::move(bucket)), prefix_(std::move(prefix)) {}
  std::string Where() const override {
    return "bucket '" + bucket_ + "'" + (prefix_.empty() ? "" : " under '" + objects::PrintableKey(prefix_) + "'");
  }
  Result<uint64_t> Size(const bundles::ManifestPart& part) override {
    EUCA_ASSIGN_OR_RETURN(objects::ObjectRecord r, backend_.GetObject(bucket_, prefix_ + part.filename));
    return r.size;
  }
  Result<std::unique_ptr<bundles::PartReader>> Open(const bundles::ManifestPart& part) override {
    EUCA_ASSIGN_OR_RETURN(auto reader, backend_.OpenObject(bucket_, prefix_ + part.filename));
    return std::unique_ptr<bundles::PartReader>(new ObjectPartReader(std::move(reader)));
  }

 private:
  objects::ObjectBackend& backend_;
  std::string bucket_, prefix_;
};

Result<std::string> ReadWhole(objects::ObjectReader& r, size_t limit, const std::string& what) {
  if (r.record().size > limit)
    return InvalidArgument(what + " is " + std::to_string(r.record().size) + " bytes; a manifest is at most " +
                           std::to_string(limit));
  std::string out(static_cast<size_t>(r.record().size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    EUCA_ASSIGN_OR_RETURN(size_t n, r.ReadAt(done, out.data() + done, out.size() - done));
    if (n == 0) return Internal(what + " ended early while being read");
    done += n;
  }
  return out;
}

}  // namespace

SignerCertificates SignerCertificatesFromStore(state::StateStore& store) {
  auto mu = std::make_shared<std::mutex>();
  return [&store, mu](const std::string& account_id) -> Result<std::vector<std::string>> {
    std::lock_guard<std::mutex> lock(*mu);
    std::vector<std::string> pems;
    Status s = store.Read([&](state::Txn& t) -> Status {
      EUCA_ASSIGN_OR_RETURN(auto objects, t.List("certificates"));
      for (const auto& o : objects) {
        model::Certificate c;
        try {
          c = model::CertificateFromJson(o.body);
        } catch (const nlohmann::json::exception& e) {
          return Internal("corrupt certificates object '" + o.id + "': " + e.what());
        }
        if (c.active && c.account_id == account_id && !c.pem.empty()) pems.push_back(c.pem);
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return pems;
  };
}

Result<std::pair<std::string, std::string>> ParseManifestLocation(const std::string& location) {
  size_t slash = location.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == location.size())
    return InvalidArgument("manifest location '" + objects::PrintableKey(location) +
                           "' must be BUCKET/KEY, e.g. 'images/debian.img.manifest.xml'");
  return std::make_pair(location.substr(0, slash), location.substr(slash + 1));
}

ImageDelivery::ImageDelivery(objects::ObjectBackend& backend, ImageCache& cache, SignerCertificates signers,
                             ImageDeliveryOptions options)
    : backend_(backend), cache_(cache), signers_(std::move(signers)), options_(std::move(options)) {}

struct ImageDelivery::ManifestVersion {
  std::string bucket, key;
  std::string name;  // "bucket/key" for messages
  std::string xml;
  bundles::Manifest manifest;
  ImageKey image_key;
};

Result<ImageDelivery::ManifestVersion> ImageDelivery::ReadManifest(const std::string& location) {
  EUCA_ASSIGN_OR_RETURN(auto where, ParseManifestLocation(location));
  ManifestVersion v;
  std::tie(v.bucket, v.key) = std::move(where);
  v.name = v.bucket + "/" + objects::PrintableKey(v.key);
  // One version of the manifest: its bytes and its ETag name the cache entry together.
  EUCA_ASSIGN_OR_RETURN(auto reader, backend_.OpenObject(v.bucket, v.key));
  EUCA_ASSIGN_OR_RETURN(v.xml, ReadWhole(*reader, options_.max_manifest_bytes, "manifest '" + v.name + "'"));
  v.image_key = {v.bucket, v.key, reader->record().etag, reader->record().modified_ms};
  reader.reset();
  auto parsed = bundles::ParseManifest(v.xml);
  if (!parsed.ok()) return parsed.status().WithContext("manifest '" + v.name + "'");
  v.manifest = std::move(parsed).value();
  return v;
}

Result<std::string> ImageDelivery::Signer(const ManifestVersion& v) {
  const bundles::Manifest& m = v.manifest;
  EUCA_ASSIGN_OR_RETURN(std::vector<std::string> certs, signers_(m.user));
  Status last = Status(Code::kUnauthenticated,
                       "manifest '" + v.name + "' names account '" + m.user +
                           "', which has no certificate to check its signature against",
                       "InvalidManifest");
  for (const auto& cert : certs) {
    Status s = bundles::VerifyManifestSignature(v.xml, cert);
    if (s.ok()) return cert;
    last = s;
  }
  if (certs.size() > 1)
    return Status(Code::kUnauthenticated,
                  "manifest '" + v.name + "' is not signed by any of the " + std::to_string(certs.size()) +
                      " certificates of account '" + m.user + "'",
                  "InvalidManifest");
  return last.WithContext("manifest '" + v.name + "'");
}

Result<ImageInfo> ImageDelivery::Describe(const std::string& location) {
  EUCA_ASSIGN_OR_RETURN(ManifestVersion v, ReadManifest(location));
  ImageInfo info;
  info.id = ImageCache::EntryId(v.image_key);
  if (auto cached = cache_.Peek(v.image_key)) {
    info.size = cached->size;
    info.sha256 = cached->sha256;
    return info;
  }
  EUCA_RETURN_IF_ERROR(Signer(v).status());
  info.size = v.manifest.size;  // what the image will be: Unbundle holds the tar member to it
  return info;
}

Result<std::shared_ptr<const ImageLease>> ImageDelivery::Open(const std::string& location) {
  EUCA_ASSIGN_OR_RETURN(ManifestVersion v, ReadManifest(location));
  const std::string& name = v.name;
  const std::string& bucket = v.bucket;
  const std::string& key = v.key;
  const bundles::Manifest& m = v.manifest;

  return cache_.Get(v.image_key, [&](const std::string& path) -> Result<FilledImage> {
    // The signer: a certificate of the manifest's account that verifies the signature.
    EUCA_ASSIGN_OR_RETURN(std::string signer, Signer(v));

    // Room for the signed size (nobody but a signer of the account can make it flush the
    // cache), reserved before the parts are read: their digests are checked as they stream
    // through Unbundle, after their bytes were written, so evicting only once they are all
    // verified would let every fill in progress take its image's size beyond the bound (or
    // need every part read twice). It would not stop a user flushing the cache either: with the
    // tar member held to this size, a valid bundle of it is as cheap to make (zeros compress
    // about a thousandfold).
    cache_.MakeRoom(path, m.size);
    size_t slash = key.rfind('/');
    ObjectPartSource parts(backend_, bucket, slash == std::string::npos ? "" : key.substr(0, slash + 1));
    bundles::UnbundleOptions o;
    o.manifest_path = name;
    o.manifest_xml = v.xml;
    o.parts = &parts;
    o.destination_path = path;
    o.private_key_pem = options_.cloud_key_pem;
    o.cert_pem = signer;
    o.sync = true;
    o.image_sha256 = true;
    // Once per image per fill, so the cloud affords the check that also refuses a bundle its
    // own signer made inconsistent (docs/bundle-format.md).
    o.always_check_tar_digest = true;
    ++decryptions_;
    EUCA_ASSIGN_OR_RETURN(bundles::UnbundleResult r, bundles::Unbundle(o));
    return FilledImage{r.size, r.image_sha256};
  });
}

}  // namespace euca::walrus
