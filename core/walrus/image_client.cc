#include "core/walrus/image_client.h"

#include <algorithm>
#include <cstring>

#include "bundles/crypto.h"
#include "bundles/file_io.h"
#include "core/api/digest.h"
#include "core/api/encoding.h"
#include "core/api/internal_errors.h"
#include "core/walrus/image_delivery.h"
#include "core/walrus/image_rest.h"
#include "drivers/objects/backend.h"

namespace euca::walrus {
namespace {

constexpr size_t kGranule = 64 * 1024;
constexpr size_t kBuffer = 16 * kGranule;
constexpr size_t kErrorBodyLimit = 64 * 1024;

// "http://host:8773/services/objectstorage" -> "http://host:8773".
std::string Origin(const std::string& url) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? url : url.substr(0, slash);
}

// Writes a stream to a temporary file, leaving aligned zero runs as holes, and hashes it.
class SparseSink {
 public:
  explicit SparseSink(bundles::File file) : file_(std::move(file)), buf_(kBuffer) {}

  Status Write(std::string_view piece) {
    sha_.Update(piece.data(), piece.size());
    while (!piece.empty()) {
      size_t take = std::min(piece.size(), buf_.cap - buf_.len);
      std::memcpy(buf_.data.get() + buf_.len, piece.data(), take);
      buf_.len += take;
      piece.remove_prefix(take);
      if (buf_.len == buf_.cap) EUCA_RETURN_IF_ERROR(Flush());
    }
    return Status::Ok();
  }

  // Flushes, sets the size, syncs and closes; returns the SHA-256.
  Result<std::string> Finish() {
    EUCA_RETURN_IF_ERROR(Flush());
    EUCA_RETURN_IF_ERROR(file_.Truncate(offset_));
    EUCA_RETURN_IF_ERROR(file_.Sync());
    EUCA_RETURN_IF_ERROR(file_.Close());
    return sha_.FinishHex();
  }

  uint64_t size() const { return offset_ + buf_.len; }
  const std::string& path() const { return file_.path(); }

 private:
  Status Flush() {
    for (size_t at = 0; at < buf_.len; at += kGranule) {
      size_t n = std::min(kGranule, buf_.len - at);
      const uint8_t* p = buf_.data.get() + at;
      if (n == kGranule && bundles::IsAllZero(p, n)) continue;  // a hole (the file starts empty)
      EUCA_RETURN_IF_ERROR(file_.WriteAt(offset_ + at, p, n));
    }
    offset_ += buf_.len;
    buf_.len = 0;
    return Status::Ok();
  }

  bundles::File file_;
  bundles::Buffer buf_;
  bundles::Sha256 sha_;
  uint64_t offset_ = 0;
};

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

HttpImageSource::HttpImageSource(HttpImageSourceOptions options)
    : options_(std::move(options)), clock_(options_.clock != nullptr ? *options_.clock : RealClock()) {}

Result<http::ClientRequest> HttpImageSource::SignedRequest(const std::string& method,
                                                           const std::string& manifest_location) {
  const std::string query = "manifest=" + api::UriEncode(manifest_location, /*keep_slash=*/false);
  http::ClientRequest req;
  req.method = method;
  req.url = Origin(options_.walrus_url) + kImagePath + "?" + query;
  EUCA_RETURN_IF_ERROR(api::SignComponentRequest(options_.credentials, req.method, kImagePath, api::SplitQuery(query),
                                                 api::Sha256Hex(""), clock_.NowMillis(), req.headers));
  return req;
}

Result<std::string> HttpImageSource::Etag(const std::string& manifest_location) {
  EUCA_ASSIGN_OR_RETURN(http::ClientRequest req, SignedRequest("HEAD", manifest_location));
  http::Client client(options_.client);
  EUCA_ASSIGN_OR_RETURN(http::ClientResponse resp, client.Do(req));
  if (resp.status != 200) {
    return api::StatusFromInternalError(resp.status, resp.body,
                                        "image '" + objects::PrintableKey(manifest_location) + "' at '" + req.url + "'");
  }
  std::string etag = resp.headers.Get("ETag");
  etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
  if (etag.empty()) return Unavailable("'" + req.url + "' answered without an ETag");
  return etag;
}

Result<FetchedImage> HttpImageSource::Fetch(const std::string& manifest_location, const std::string& destination_path) {
  EUCA_ASSIGN_OR_RETURN(http::ClientRequest req, SignedRequest("GET", manifest_location));
  const std::string what = "fetch image '" + objects::PrintableKey(manifest_location) + "' from '" + req.url + "'";

  EUCA_ASSIGN_OR_RETURN(bundles::File file, bundles::File::CreateTemp(DirName(destination_path), ".fetch-", 0644));
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      if (!path.empty()) bundles::RemoveQuietly(path);
    }
  } cleanup{file.path()};
  SparseSink sink(std::move(file));
  std::string head;  // the first bytes, kept in case they are an error document
  req.sink = [&](std::string_view piece) -> Status {
    if (head.size() < kErrorBodyLimit) head.append(piece.substr(0, kErrorBodyLimit - head.size()));
    return sink.Write(piece);
  };
  http::Client client(options_.client);
  EUCA_ASSIGN_OR_RETURN(http::ClientResponse resp, client.Do(req));
  if (resp.status != 200) return api::StatusFromInternalError(resp.status, head, what);

  FetchedImage out;
  out.size = sink.size();
  out.etag = resp.headers.Get("ETag");
  out.etag.erase(std::remove(out.etag.begin(), out.etag.end(), '"'), out.etag.end());
  const std::string length = resp.headers.Get("Content-Length");
  if (length.empty() || length != std::to_string(out.size))
    return Unavailable(what + ": got " + std::to_string(out.size) + " bytes of '" + length + "'");
  EUCA_ASSIGN_OR_RETURN(out.sha256, sink.Finish());
  const std::string want = resp.headers.Get(kImageSha256Header);
  if (want != out.sha256)
    return Unavailable(what + ": the image arrived corrupt: SHA-256 expected '" + want + "' got " + out.sha256);
  EUCA_RETURN_IF_ERROR(bundles::RenamePath(sink.path(), destination_path));
  cleanup.path.clear();
  return out;
}

Result<FetchedImage> DeliveryImageSource::Fetch(const std::string& manifest_location,
                                                const std::string& destination_path) {
  EUCA_ASSIGN_OR_RETURN(std::shared_ptr<const ImageLease> lease, delivery_.Open(manifest_location));
  EUCA_ASSIGN_OR_RETURN(bundles::File file, bundles::File::CreateTemp(DirName(destination_path), ".fetch-", 0644));
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      if (!path.empty()) bundles::RemoveQuietly(path);
    }
  } cleanup{file.path()};
  SparseSink sink(std::move(file));
  std::vector<char> buf(kBuffer);
  for (uint64_t offset = 0; offset < lease->size();) {
    EUCA_ASSIGN_OR_RETURN(size_t n, lease->ReadAt(offset, buf.data(), buf.size()));
    if (n == 0) break;
    EUCA_RETURN_IF_ERROR(sink.Write(std::string_view(buf.data(), n)));
    offset += n;
  }
  FetchedImage out;
  out.size = sink.size();
  out.etag = lease->id();
  if (out.size != lease->size()) {
    return Internal("image '" + objects::PrintableKey(manifest_location) + "': read " + std::to_string(out.size) +
                    " of " + std::to_string(lease->size()) + " bytes");
  }
  EUCA_ASSIGN_OR_RETURN(out.sha256, sink.Finish());
  if (out.sha256 != lease->sha256()) {
    return Internal("image '" + objects::PrintableKey(manifest_location) + "' is corrupt in the cache: SHA-256 expected '" +
                    lease->sha256() + "' got " + out.sha256);
  }
  EUCA_RETURN_IF_ERROR(bundles::RenamePath(sink.path(), destination_path));
  cleanup.path.clear();
  return out;
}

Result<std::string> DeliveryImageSource::Etag(const std::string& manifest_location) {
  EUCA_ASSIGN_OR_RETURN(ImageInfo info, delivery_.Describe(manifest_location));
  return info.id;
}

void FakeImageSource::Add(const std::string& manifest_location, std::string bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  images_[manifest_location] = std::move(bytes);
}

void FakeImageSource::Fail(const std::string& manifest_location, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_[manifest_location] = std::move(status);
}

int FakeImageSource::fetches(const std::string& manifest_location) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = fetches_.find(manifest_location);
  return it == fetches_.end() ? 0 : it->second;
}

Result<FetchedImage> FakeImageSource::Fetch(const std::string& manifest_location, const std::string& destination_path) {
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++fetches_[manifest_location];
    if (auto f = failures_.find(manifest_location); f != failures_.end()) return f->second;
    auto it = images_.find(manifest_location);
    if (it == images_.end())
      return Status(Code::kNotFound, "no image for manifest '" + manifest_location + "'", "NoSuchKey");
    bytes = it->second;
  }
  EUCA_ASSIGN_OR_RETURN(bundles::File file, bundles::File::CreateTemp(DirName(destination_path), ".fetch-", 0644));
  std::string tmp = file.path();
  Status s = file.Write(bytes.data(), bytes.size());
  if (s.ok()) s = file.Close();
  if (s.ok()) s = bundles::RenamePath(tmp, destination_path);
  if (!s.ok()) {
    bundles::RemoveQuietly(tmp);
    return s;
  }
  bundles::Sha256 sha;
  sha.Update(bytes.data(), bytes.size());
  return FetchedImage{bytes.size(), sha.FinishHex(), "fake"};
}

Result<std::string> FakeImageSource::Etag(const std::string& manifest_location) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto f = failures_.find(manifest_location); f != failures_.end()) return f->second;
  auto it = images_.find(manifest_location);
  if (it == images_.end()) return Status(Code::kNotFound, "no image for manifest '" + manifest_location + "'", "NoSuchKey");
  bundles::Sha256 sha;
  sha.Update(it->second.data(), it->second.size());
  return sha.FinishHex();
}

}  // namespace euca::walrus
