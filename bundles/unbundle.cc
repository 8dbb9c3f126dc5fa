// Unbundle: the reverse pipeline (docs/bundle-format.md, "Unbundle").
//
// Threads: a reader reads the parts in order (from a PartSource), checks each part's SHA-1
// and decrypts; an inflater gunzips; the calling thread feeds the tar stream to libarchive
// (and the tar SHA-1, when it is checked) and writes the image, leaving holes for zero runs.
// Two fixed pools of buffers bound memory.
//
// Error precedence: corruption upstream shows up downstream as a gzip or tar error, so
// the most upstream error wins, and when a later stage fails the reader still reads the
// current part to its end to tell a corrupt part from a bad stream.

#include <archive.h>
#include <archive_entry.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "bundles/bundle.h"
#include "bundles/crypto.h"
#include "bundles/file_io.h"
#include "bundles/queue.h"
#include "core/base/pki.h"

namespace euca::bundles {
namespace {

constexpr size_t kChunk = 1 << 20;
constexpr size_t kPoolSize = 6;
// Zero runs at least this long (and aligned) become holes in the unpacked image.
constexpr uint64_t kHoleGranule = 64 * 1024;

using BufferPtr = std::unique_ptr<Buffer>;

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

class FileReader final : public PartReader {
 public:
  explicit FileReader(File f) : f_(std::move(f)) {}
  Result<size_t> Read(uint8_t* buf, size_t n) override { return f_.Read(buf, n); }

 private:
  File f_;
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

// Writes [p, p + n) at `offset`, skipping aligned zero runs (the file starts empty, so a
// skipped run reads back as zeros).
Status WriteSparse(const File& f, uint64_t offset, const uint8_t* p, size_t n) {
  uint64_t run_start = offset;
  size_t run_len = 0;
  while (n > 0) {
    size_t piece = static_cast<size_t>(std::min<uint64_t>(n, kHoleGranule - offset % kHoleGranule));
    if (piece == kHoleGranule && IsAllZero(p, piece)) {
      if (run_len > 0) EUCA_RETURN_IF_ERROR(f.WriteAt(run_start, p - run_len, run_len));
      run_len = 0;
      run_start = offset + piece;
    } else {
      run_len += piece;
    }
    offset += piece;
    p += piece;
    n -= piece;
  }
  if (run_len > 0) EUCA_RETURN_IF_ERROR(f.WriteAt(run_start, p - run_len, run_len));
  return Status::Ok();
}

// The tar stream as libarchive pulls it: buffers from the inflater, hashed as they pass.
struct TarSource {
  BoundedQueue<BufferPtr>* in;
  BoundedQueue<BufferPtr>* free;
  BufferPtr current;  // the buffer libarchive is reading; valid until the next callback
  Sha1 sha;
  bool hash = true;  // whether the tar SHA-1 is computed
  uint64_t bytes = 0;
  Progress* progress = nullptr;
  const std::atomic<uint64_t>* parts_read = nullptr;
  uint64_t parts_total = 0;

  // Takes the next buffer (returning the previous one to the pool); false at the end.
  bool Next() {
    if (current) (void)free->Push(std::move(current));
    auto item = in->Pop();
    if (!item) return false;
    current = std::move(*item);
    if (hash) sha.Update(current->data.get(), current->len);
    bytes += current->len;
    if (progress != nullptr) progress->Update(parts_read->load(), parts_total);
    return true;
  }

  static la_ssize_t Read(struct archive*, void* self, const void** buf) {
    auto* s = static_cast<TarSource*>(self);
    if (!s->Next()) {
      *buf = nullptr;
      return 0;
    }
    *buf = s->current->data.get();
    return static_cast<la_ssize_t>(s->current->len);
  }
};

std::string ArchiveError(struct archive* a) {
  const char* e = archive_error_string(a);
  return e != nullptr ? e : "unknown error";
}

}  // namespace

std::unique_ptr<PartSource> FilePartSource(std::string dir) { return std::make_unique<FileSource>(std::move(dir)); }

Result<UnbundleResult> Unbundle(const UnbundleOptions& options, Progress* progress) {
  if (options.manifest_path.empty()) return InvalidArgument("no manifest given");
  const bool exact_path = !options.destination_path.empty();
  const std::string out_dir = exact_path ? DirName(options.destination_path) : options.destination_dir;
  if (out_dir.empty()) return InvalidArgument("no destination folder given");
  if (!IsDirectory(out_dir)) return NotFound("destination folder '" + out_dir + "' does not exist");
  if (options.private_key_pem.empty()) return InvalidArgument("a private key is required to unbundle");
  const std::string source_dir = options.source_dir.empty() ? DirName(options.manifest_path) : options.source_dir;
  std::unique_ptr<PartSource> default_source;
  PartSource* source = options.parts;
  if (source == nullptr) {
    default_source = FilePartSource(source_dir);
    source = default_source.get();
  }

  std::string xml = options.manifest_xml;
  if (xml.empty()) {
    EUCA_ASSIGN_OR_RETURN(xml, ReadSmallFile(options.manifest_path, 64 << 20));
  }
  const bool signature_verified = !options.cert_pem.empty();
  if (signature_verified) {
    Status s = VerifyManifestSignature(xml, options.cert_pem);
    if (!s.ok()) return s.WithContext("'" + options.manifest_path + "'");
  }
  auto parsed = ParseManifest(xml);
  if (!parsed.ok()) return parsed.status().WithContext("'" + options.manifest_path + "'");
  Manifest m = std::move(parsed).value();
  EUCA_ASSIGN_OR_RETURN(Key key, UnwrapKey(m, options.private_key_pem, options.manifest_path));

  // Every part must be there before anything is written.
  uint64_t parts_total = 0;
  for (const auto& part : m.parts) {
    auto size = source->Size(part);
    if (!size.ok()) {
      if (size.status().code() == Code::kNotFound)
        return NotFound("part '" + part.filename + "' listed in manifest '" + options.manifest_path +
                        "' is missing from " + source->Where());
      return size.status();
    }
    parts_total += *size;
  }

  EUCA_ASSIGN_OR_RETURN(File out, File::CreateTemp(out_dir, ".unbundle-", 0644));
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      if (!path.empty()) RemoveQuietly(path);
    }
  } cleanup{out.path()};

  BoundedQueue<BufferPtr> free_cipher(kPoolSize), gz(kPoolSize);  // decrypted gzip bytes
  BoundedQueue<BufferPtr> free_tar(kPoolSize), tar(kPoolSize);    // gunzipped tar bytes
  for (size_t i = 0; i < kPoolSize; ++i) {
    (void)free_cipher.Push(std::make_unique<Buffer>(kChunk + 64));
    (void)free_tar.Push(std::make_unique<Buffer>(kChunk));
  }
  auto cancel = [&] {
    free_cipher.Cancel();
    gz.Cancel();
    free_tar.Cancel();
    tar.Cancel();
  };
  std::atomic<uint64_t> parts_read{0};
  Status reader_status, inflater_status, tar_status;

  EUCA_ASSIGN_OR_RETURN(auto aes, AesCbc::Create(AesCbc::Direction::kDecrypt, key.key));
  std::thread reader([&] {
    auto run = [&]() -> Status {
      Buffer raw(kChunk);
      bool downstream_failed = false;
      for (size_t i = 0; i < m.parts.size(); ++i) {
        EUCA_ASSIGN_OR_RETURN(std::unique_ptr<PartReader> f, source->Open(m.parts[i]));
        Sha1 sha;
        while (true) {
          EUCA_ASSIGN_OR_RETURN(size_t n, f->Read(raw.data.get(), raw.cap));
          if (n == 0) break;
          sha.Update(raw.data.get(), n);
          parts_read += n;
          if (downstream_failed) continue;  // finish the digest only
          auto item = free_cipher.Pop();
          if (!item) {
            downstream_failed = true;
            continue;
          }
          BufferPtr b = std::move(*item);
          EUCA_ASSIGN_OR_RETURN(b->len, aes->Update(raw.data.get(), n, b->data.get()));
          if (!gz.Push(std::move(b))) downstream_failed = true;
        }
        std::string got = sha.FinishHex();
        if (got != m.parts[i].sha1)
          return InvalidArgument("part '" + m.parts[i].filename + "' is corrupt: SHA-1 expected " + m.parts[i].sha1 +
                                 " got " + got);
        if (downstream_failed) return Status::Ok();
      }
      auto item = free_cipher.Pop();
      if (!item) return Status::Ok();
      BufferPtr b = std::move(*item);
      auto n = aes->Finish(b->data.get());
      if (!n.ok()) return n.status().WithContext("decrypt bundle '" + options.manifest_path + "'");
      b->len = *n;
      (void)gz.Push(std::move(b));
      gz.Close();
      return Status::Ok();
    };
    reader_status = run();
    if (!reader_status.ok()) cancel();
  });

  std::thread inflater([&] {
    // Fills tar buffers to the brim before handing them on; false once cancelled.
    GzipInflater inf;
    BufferPtr out;
    auto drain = [&]() -> Result<bool> {
      while (true) {
        if (!out) {
          auto item = free_tar.Pop();
          if (!item) return false;
          out = std::move(*item);
          out->len = 0;
        }
        EUCA_ASSIGN_OR_RETURN(size_t n, inf.Inflate(out->data.get() + out->len, out->cap - out->len));
        out->len += n;
        if (out->len == out->cap) {
          if (!tar.Push(std::move(out))) return false;
          continue;
        }
        if (n == 0 || inf.NeedsInput()) return true;
      }
    };
    auto run = [&]() -> Status {
      while (auto item = gz.Pop()) {
        BufferPtr in = std::move(*item);
        inf.SetInput(in->data.get(), in->len);
        EUCA_ASSIGN_OR_RETURN(bool more, drain());
        if (!more) return Status::Ok();
        (void)free_cipher.Push(std::move(in));
      }
      if (gz.cancelled()) return Status::Ok();
      inf.SetInput(nullptr, 0);
      EUCA_ASSIGN_OR_RETURN(bool more, drain());
      if (!more) return Status::Ok();
      EUCA_RETURN_IF_ERROR(inf.Finish());
      if (out && out->len > 0) (void)tar.Push(std::move(out));
      tar.Close();
      return Status::Ok();
    };
    inflater_status = run();
    if (!inflater_status.ok()) cancel();
  });

  // The calling thread: untar.
  TarSource src;
  src.in = &tar;
  src.free = &free_tar;
  src.progress = progress;
  src.parts_read = &parts_read;
  src.parts_total = parts_total;
  src.hash = !signature_verified || options.always_check_tar_digest;
  Sha256 image_sha;
  uint64_t hashed_to = 0;  // image bytes fed to image_sha
  std::string member;
  uint64_t member_size = 0;
  auto untar = [&]() -> Status {
    std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
    if (!a) return Internal("allocate a tar reader");
    archive_read_support_format_tar(a.get());
    if (archive_read_open(a.get(), &src, nullptr, &TarSource::Read, nullptr) != ARCHIVE_OK)
      return InvalidArgument("the bundle's tar stream cannot be read: " + ArchiveError(a.get()));
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) return InvalidArgument("the bundle's tar stream holds no file");
    if (r < ARCHIVE_WARN) return InvalidArgument("the bundle's tar stream is invalid: " + ArchiveError(a.get()));
    const std::string path = archive_entry_pathname(entry) != nullptr ? archive_entry_pathname(entry) : "";
    if (EscapesFolder(path))
      return InvalidArgument("the bundle's tar member '" + path +
                             "' is not a plain file name (absolute paths and '..' are refused)");
    member = BaseName(path);
    if (archive_entry_filetype(entry) != AE_IFREG)
      return InvalidArgument("the bundle's tar member '" + member + "' is not a regular file");
    if (member.empty() || member == "." || member == "..") member = m.name;
    member_size = static_cast<uint64_t>(archive_entry_size(entry));
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while ((r = archive_read_data_block(a.get(), &buf, &size, &offset)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
      EUCA_RETURN_IF_ERROR(WriteSparse(out, static_cast<uint64_t>(offset), static_cast<const uint8_t*>(buf), size));
      if (options.image_sha256) {
        if (static_cast<uint64_t>(offset) < hashed_to)
          return InvalidArgument("the bundle's tar member '" + member + "' has overlapping data blocks");
        HashZeros(image_sha, static_cast<uint64_t>(offset) - hashed_to);
        image_sha.Update(buf, size);
        hashed_to = static_cast<uint64_t>(offset) + size;
      }
    }
    if (r != ARCHIVE_EOF)
      return InvalidArgument("the bundle's tar stream is truncated or invalid: " + ArchiveError(a.get()));
    r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
      return InvalidArgument("the bundle's tar stream holds more than one file (the second is '" +
                             std::string(archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "") + "')");
    if (r != ARCHIVE_EOF)
      return InvalidArgument("the bundle's tar stream is invalid at its end: " + ArchiveError(a.get()));
    return Status::Ok();
  };
  tar_status = untar();
  if (!tar_status.ok()) cancel();
  while (src.Next()) {
  }  // the rest of the tar stream (record padding) still counts for the digest
  reader.join();
  inflater.join();

  for (const Status* s : {&reader_status, &inflater_status, &tar_status})
    if (!s->ok()) return s->WithContext("unbundle '" + options.manifest_path + "'");
  std::string digest = src.hash ? src.sha.FinishHex() : m.digest;
  if (digest != m.digest)
    return InvalidArgument("unbundle '" + options.manifest_path + "': the image's tar stream has SHA-1 " + digest +
                           " but the manifest says " + m.digest);
  if (member_size != m.size)
    return InvalidArgument("unbundle '" + options.manifest_path + "': the image is " + std::to_string(member_size) +
                           " bytes but the manifest says " + std::to_string(m.size));
  EUCA_RETURN_IF_ERROR(out.Truncate(member_size));
  if (options.sync) EUCA_RETURN_IF_ERROR(out.Sync());
  EUCA_RETURN_IF_ERROR(out.Close());
  UnbundleResult result;
  if (options.image_sha256) {
    if (hashed_to > member_size)
      return InvalidArgument("unbundle '" + options.manifest_path + "': the image's data runs past its size");
    HashZeros(image_sha, member_size - hashed_to);
    result.image_sha256 = image_sha.FinishHex();
  }
  result.tar_digest_checked = src.hash;
  result.image_path = exact_path ? options.destination_path : options.destination_dir + "/" + member;
  EUCA_RETURN_IF_ERROR(RenamePath(cleanup.path, result.image_path));
  cleanup.path.clear();
  if (progress != nullptr) progress->Update(parts_total, parts_total);
  result.size = member_size;
  result.manifest = std::move(m);
  return result;
}

}  // namespace euca::bundles
