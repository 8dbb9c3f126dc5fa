// Unbundle (docs/bundle-format.md, "Unbundle"): the checks made before anything is written,
// then the untar side on the caller's thread, fed by one of the two inflate pipelines of
// unbundle_pipeline.h (serial: any gzip; parallel: the blocks of a deflate index), then the
// checks of the whole and the rename into place.
//
//   PlanUnbundle  options, manifest (and signature), key, parts: refused before writing;
//   ImageUntar    tar stream -> libarchive -> one plain regular file -> ImageWriter (holes
//                 for zero blocks, O_DIRECT, a thread of its own) (and the tar SHA-1, the
//                 image SHA-256 on request);
//   Unbundle      runs them and ranks the errors: the pipeline's (reading, then
//                 gunzipping) before the tar side's, then digest and size.

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "bundles/bundle.h"
#include "bundles/crypto.h"
#include "bundles/file_io.h"
#include "bundles/unbundle_pipeline.h"
#include "core/base/pki.h"

namespace euca::bundles {
namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A part file, read a window at a time into a buffer of its own. (Mapping it saved about
// 0.04 CPU-s per GiB, but a part that shrank while mapped would kill the process with SIGBUS
// instead of failing with a message, so it is read.)
class FileReader final : public PartReader {
 public:
  explicit FileReader(File f) : f_(std::move(f)) {
    auto size = f_.Size();
    if (size.ok()) size_ = *size;
    can_view_ = size.ok();
  }
  Result<size_t> Read(uint8_t* buf, size_t n) override { return f_.Read(buf, n); }
  bool CanView() const override { return can_view_; }
  Result<std::span<const uint8_t>> View(size_t n) override {
    if (pos_ >= size_) return std::span<const uint8_t>();
    const size_t len = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos_));
    if (!copy_ || copy_->cap < len) copy_ = std::make_unique<Buffer>(n);
    EUCA_ASSIGN_OR_RETURN(size_t got, f_.ReadAt(pos_, copy_->data.get(), len));
    pos_ += got;
    return std::span<const uint8_t>(copy_->data.get(), got);
  }

 private:
  File f_;
  uint64_t size_ = 0;
  bool can_view_ = false;
  uint64_t pos_ = 0;
  std::unique_ptr<Buffer> copy_;
};

class FileSource final : public PartSource {
 public:
  explicit FileSource(std::string dir) : dir_(std::move(dir)) {}
  std::string Where() const override { return "'" + dir_ + "'"; }
  Result<uint64_t> Size(const ManifestPart& part) override { return FileSize(Path(part)); }
  Result<std::unique_ptr<PartReader>> Open(const ManifestPart& part) override {
    EUCA_ASSIGN_OR_RETURN(File f, File::OpenRead(Path(part)));
    return std::unique_ptr<PartReader>(new FileReader(std::move(f)));
  }

 private:
  std::string Path(const ManifestPart& part) const { return dir_ + "/" + part.filename; }
  std::string dir_;
};

// Whether a tar member path would leave the folder it is unpacked in: absolute, or with a
// ".." component.
bool EscapesFolder(const std::string& path) {
  if (!path.empty() && path[0] == '/') return true;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0 && end - start == 2) return true;
    start = end + 1;
  }
  return false;
}

// Feeds `n` zero bytes to `sha` (the holes of a sparse member).
void HashZeros(Sha256& sha, uint64_t n) {
  static const uint8_t kZeros[64 * 1024] = {};
  while (n > 0) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, sizeof kZeros));
    sha.Update(kZeros, take);
    n -= take;
  }
}

struct Key {
  BundleKey key;
  std::string which;  // "user" or "cloud"
};

Result<Key> UnwrapKey(const Manifest& m, const std::string& private_key_pem, const std::string& manifest_path) {
  auto pub = PublicKeyPem(private_key_pem);
  if (!pub.ok()) return pub.status().WithContext("private key");
  for (const char* which : {"user", "cloud"}) {
    bool user = std::strcmp(which, "user") == 0;
    const std::string& k = user ? m.user_encrypted_key : m.ec2_encrypted_key;
    const std::string& iv = user ? m.user_encrypted_iv : m.ec2_encrypted_iv;
    if (k.empty() || iv.empty()) continue;
    auto key_hex = UnwrapWithPrivateKey(private_key_pem, k);
    if (!key_hex.ok()) continue;
    auto iv_hex = UnwrapWithPrivateKey(private_key_pem, iv);
    if (!iv_hex.ok()) continue;
    return Key{{*key_hex, *iv_hex}, which};
  }
  return InvalidArgument(
      "cannot decrypt the bundle key with this private key: it is neither the key of the "
      "user certificate nor the cloud's that bundle '" +
      manifest_path + "' was made for");
}
std::string ArchiveError(struct archive* a) {
  const char* e = archive_error_string(a);
  return e != nullptr ? e : "unknown error";
}

// --- Before anything is written ---------------------------------------------------------------

// What PlanUnbundle found out.
struct Plan {
  std::string out_dir;  // where the temporary file goes
  std::unique_ptr<PartSource> default_source;
  PartSource* source = nullptr;  // options.parts or default_source
  bool signature_verified = false;
  Manifest manifest;
  Key key;
  uint64_t parts_total = 0;  // bytes of all parts
  bool parallel = false;     // the deflate index is usable
};

// Checks the options, reads the manifest (and verifies its signature when a certificate is
// given), unwraps the key, and asks for every part's size: everything that can be refused
// is refused here, before anything is written. Also whether the parallel path applies (a
// deflate index with blocks of at most kMaxParallelBlock whose sizes fit their bound).
Result<Plan> PlanUnbundle(const UnbundleOptions& options) {
  Plan plan;
  if (options.manifest_path.empty()) return InvalidArgument("no manifest given");
  const bool exact_path = !options.destination_path.empty();
  plan.out_dir = exact_path ? DirName(options.destination_path) : options.destination_dir;
  if (plan.out_dir.empty()) return InvalidArgument("no destination folder given");
  if (!IsDirectory(plan.out_dir)) return NotFound("destination folder '" + plan.out_dir + "' does not exist");
  if (options.private_key_pem.empty()) return InvalidArgument("a private key is required to unbundle");
  const std::string source_dir = options.source_dir.empty() ? DirName(options.manifest_path) : options.source_dir;
  plan.source = options.parts;
  if (plan.source == nullptr) {
    plan.default_source = FilePartSource(source_dir);
    plan.source = plan.default_source.get();
  }

  std::string xml = options.manifest_xml;
  if (xml.empty()) {
    EUCA_ASSIGN_OR_RETURN(xml, ReadSmallFile(options.manifest_path, 64 << 20));
  }
  plan.signature_verified = !options.cert_pem.empty();
  if (plan.signature_verified) {
    Status s = VerifyManifestSignature(xml, options.cert_pem);
    if (!s.ok()) return s.WithContext("'" + options.manifest_path + "'");
  }
  auto parsed = ParseManifest(xml);
  if (!parsed.ok()) return parsed.status().WithContext("'" + options.manifest_path + "'");
  plan.manifest = std::move(parsed).value();
  const Manifest& m = plan.manifest;
  EUCA_ASSIGN_OR_RETURN(plan.key, UnwrapKey(m, options.private_key_pem, options.manifest_path));

  // Every part must be there before anything is written.
  for (const auto& part : m.parts) {
    auto size = plan.source->Size(part);
    if (!size.ok()) {
      if (size.status().code() == Code::kNotFound)
        return NotFound("part '" + part.filename + "' listed in manifest '" + options.manifest_path +
                        "' is missing from " + plan.source->Where());
      return size.status();
    }
    plan.parts_total += *size;
  }

  // The parallel path needs a deflate index whose blocks fit the memory bound; the sizes
  // are checked against what a block can compress to before anything is read.
  const DeflateIndex& index = m.deflate_index;
  plan.parallel = !index.empty() && index.block_size <= kMaxParallelBlock;
  if (plan.parallel) {
    const size_t bound = DeflateBlockCompressor::Bound(static_cast<size_t>(index.block_size));
    for (size_t i = 0; i < index.sizes.size(); ++i)
      if (index.sizes[i] > bound)
        return InvalidArgument("manifest '" + options.manifest_path + "': its deflate index gives block " +
                               std::to_string(i) + " " + std::to_string(index.sizes[i]) +
                               " compressed bytes, more than a block of " + std::to_string(index.block_size) +
                               " bytes can take");
  }
  return plan;
}

// --- The untar side -----------------------------------------------------------------------------

// Runs on the caller's thread: pulls the tar stream from a pipeline through libarchive
// (hashing it with SHA-1 as it passes, when asked), checks that it holds exactly one
// regular file with a plain name, and hands that file's bytes at their offsets to `out`
// (which leaves holes for zero blocks), skipping the pipeline's shared zeros; on request also the
// SHA-256 of the image (holes as zeros). Reports progress per chunk. Use: Run(), then
// DrainRest() (whether or not Run failed, after cancelling the pipeline if it did).
class ImageUntar final {
 public:
  struct Options {
    bool hash_tar = true;       // compute the tar stream's SHA-1
    bool image_sha256 = false;  // compute the image's SHA-256
    Progress* progress = nullptr;
    uint64_t parts_total = 0;  // for progress
    std::string default_name;  // the member's name when its path has no base name
    uint64_t image_size = 0;   // the manifest's (signed) image size: the member must be exactly it
  };

  // REQUIRES: `pipe` and `out` outlive the untar.
  ImageUntar(InflatePipeline& pipe, ImageWriter& out, Options o) : pipe_(pipe), out_(out), o_(std::move(o)) {}

  // Unpacks the one member; the tar side's error (a bad stream, a bad member, a write).
  Status Run() {
    std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
    if (!a) return Internal("allocate a tar reader");
    archive_read_support_format_tar(a.get());
    if (archive_read_open(a.get(), this, nullptr, &ImageUntar::ReadCallback, nullptr) != ARCHIVE_OK)
      return InvalidArgument("the bundle's tar stream cannot be read: " + ArchiveError(a.get()));
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) return InvalidArgument("the bundle's tar stream holds no file");
    if (r < ARCHIVE_WARN) return InvalidArgument("the bundle's tar stream is invalid: " + ArchiveError(a.get()));
    const std::string path = archive_entry_pathname(entry) != nullptr ? archive_entry_pathname(entry) : "";
    if (EscapesFolder(path))
      return InvalidArgument("the bundle's tar member '" + path +
                             "' is not a plain file name (absolute paths and '..' are refused)");
    member_ = BaseName(path);
    if (archive_entry_filetype(entry) != AE_IFREG)
      return InvalidArgument("the bundle's tar member '" + member_ + "' is not a regular file");
    if (member_.empty() || member_ == "." || member_ == "..") member_ = o_.default_name;
    // The header's size (for a sparse member, libarchive's: the full logical size) must be the
    // manifest's before any byte is written or hashed: a small bundle must not make us write
    // or hash more than the image it declares.
    if (!archive_entry_size_is_set(entry))
      return InvalidArgument("the bundle's tar member '" + member_ + "' has no size");
    const la_int64_t header_size = archive_entry_size(entry);
    if (header_size < 0 || static_cast<uint64_t>(header_size) != o_.image_size)
      return InvalidArgument("the bundle's tar member '" + member_ + "' is " + std::to_string(header_size) +
                             " bytes but the manifest says the image is " + std::to_string(o_.image_size));
    member_size_ = static_cast<uint64_t>(header_size);
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while ((r = archive_read_data_block(a.get(), &buf, &size, &offset)) == ARCHIVE_OK || r == ARCHIVE_WARN)
      EUCA_RETURN_IF_ERROR(TakeData(static_cast<uint64_t>(offset), static_cast<const uint8_t*>(buf), size));
    if (r != ARCHIVE_EOF)
      return InvalidArgument("the bundle's tar stream is truncated or invalid: " + ArchiveError(a.get()));
    r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
      return InvalidArgument("the bundle's tar stream holds more than one file (the second is '" +
                             std::string(archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "") + "')");
    if (r != ARCHIVE_EOF)
      return InvalidArgument("the bundle's tar stream is invalid at its end: " + ArchiveError(a.get()));
    return Status::Ok();
  }

  // Takes the rest of the tar stream (record padding), which still counts for the digest.
  void DrainRest() {
    while (Next()) {
    }
  }

  const std::string& member() const { return member_; }
  uint64_t member_size() const { return member_size_; }
  // The tar stream's SHA-1 (hash_tar only; once).
  std::string TarSha1Hex() { return tar_sha_.FinishHex(); }
  // The image's SHA-256 with the `size` bytes it has (image_sha256 only; once).
  Result<std::string> ImageSha256Hex(uint64_t size) {
    if (hashed_to_ > size) return InvalidArgument("the image's data runs past its size");
    HashZeros(image_sha_, size - hashed_to_);
    return image_sha_.FinishHex();
  }

 private:
  // Libarchive's read callback: the next chunk of the tar stream.
  static la_ssize_t ReadCallback(struct archive*, void* self, const void** buf) {
    auto* u = static_cast<ImageUntar*>(self);
    if (!u->Next()) {
      *buf = nullptr;
      return 0;
    }
    *buf = u->chunk_;
    return static_cast<la_ssize_t>(u->chunk_len_);
  }

  // The next chunk from the pipeline, hashed as it passes; false at the end.
  bool Next() {
    if (!pipe_.Next(&chunk_, &chunk_len_)) return false;
    if (o_.hash_tar) tar_sha_.Update(chunk_, chunk_len_);
    if (o_.progress != nullptr) o_.progress->Update(pipe_.parts_read(), o_.parts_total);
    return true;
  }

  // A data block of the member at image `offset`.
  // Offsets only grow (the image is written front to back); a sparse member whose map goes
  // back is refused.
  Status TakeData(uint64_t offset, const uint8_t* p, size_t n) {
    if (offset < data_end_) return InvalidArgument("the bundle's tar member '" + member_ + "' has overlapping data blocks");
    if (offset > member_size_ || n > member_size_ - offset)
      return InvalidArgument("the bundle's tar member '" + member_ + "' has data at bytes " + std::to_string(offset) +
                             " to " + std::to_string(offset + n) + ", past its size " + std::to_string(member_size_));
    data_end_ = offset + n;
    if (!pipe_.InSharedZeros(p, n)) EUCA_RETURN_IF_ERROR(out_.Write(offset, p, n));
    if (o_.image_sha256) {
      HashZeros(image_sha_, offset - hashed_to_);
      image_sha_.Update(p, n);
      hashed_to_ = offset + n;
    }
    return Status::Ok();
  }

  InflatePipeline& pipe_;
  ImageWriter& out_;
  const Options o_;
  const uint8_t* chunk_ = nullptr;  // what libarchive is reading; valid until the next Next()
  size_t chunk_len_ = 0;
  Sha1 tar_sha_;
  Sha256 image_sha_;
  uint64_t hashed_to_ = 0;  // image bytes fed to image_sha_
  uint64_t data_end_ = 0;   // end of the member's data so far
  std::string member_;
  uint64_t member_size_ = 0;
};

}  // namespace

std::unique_ptr<PartSource> FilePartSource(std::string dir) { return std::make_unique<FileSource>(std::move(dir)); }

Result<UnbundleResult> Unbundle(const UnbundleOptions& options, Progress* progress) {
  EUCA_ASSIGN_OR_RETURN(Plan plan, PlanUnbundle(options));
  const Manifest& m = plan.manifest;

  EUCA_ASSIGN_OR_RETURN(File out, File::CreateTemp(plan.out_dir, ".unbundle-", 0644));
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      if (!path.empty()) RemoveQuietly(path);
    }
  } cleanup{out.path()};

  EUCA_ASSIGN_OR_RETURN(std::unique_ptr<InflatePipeline> pipe,
                        plan.parallel ? NewParallelPipeline(m, plan.source, plan.key.key, options.manifest_path)
                                      : NewSerialPipeline(m, plan.source, plan.key.key, options.manifest_path));
  ImageWriter writer(out, options.image_writer);
  ImageUntar untar(*pipe, writer,
                   {.hash_tar = !plan.signature_verified || options.always_check_tar_digest,
                    .image_sha256 = options.image_sha256,
                    .progress = progress,
                    .parts_total = plan.parts_total,
                    .default_name = m.name,
                    .image_size = m.size});
  pipe->Start();
  Status tar_status = untar.Run();
  if (!tar_status.ok()) pipe->Cancel();
  untar.DrainRest();
  Status upstream = pipe->Join();
  if (upstream.ok() && tar_status.ok()) upstream = pipe->CheckComplete();
  for (const Status* s : {&upstream, &tar_status})
    if (!s->ok()) return s->WithContext("unbundle '" + options.manifest_path + "'");

  const bool tar_checked = !plan.signature_verified || options.always_check_tar_digest;
  std::string digest = tar_checked ? untar.TarSha1Hex() : m.digest;
  if (digest != m.digest)
    return InvalidArgument("unbundle '" + options.manifest_path + "': the image's tar stream has SHA-1 " + digest +
                           " but the manifest says " + m.digest);
  const uint64_t size = untar.member_size();  // the manifest's: checked at the member's header
  if (Status s = writer.Finish(size); !s.ok()) return s.WithContext("unbundle '" + options.manifest_path + "'");
  if (options.sync) EUCA_RETURN_IF_ERROR(out.Sync());
  EUCA_RETURN_IF_ERROR(out.Close());
  UnbundleResult result;
  if (options.image_sha256) {
    auto sha = untar.ImageSha256Hex(size);
    if (!sha.ok()) return sha.status().WithContext("unbundle '" + options.manifest_path + "'");
    result.image_sha256 = *sha;
  }
  result.tar_digest_checked = tar_checked;
  result.parallel_inflate = plan.parallel;
  result.image_path = !options.destination_path.empty() ? options.destination_path
                                                         : options.destination_dir + "/" + untar.member();
  EUCA_RETURN_IF_ERROR(RenamePath(cleanup.path, result.image_path));
  cleanup.path.clear();
  if (progress != nullptr) progress->Update(plan.parts_total, plan.parts_total);
  result.size = size;
  result.manifest = std::move(plan.manifest);
  return result;
}

}  // namespace euca::bundles
