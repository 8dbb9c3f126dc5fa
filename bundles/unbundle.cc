// Unbundle: the reverse pipeline (docs/bundle-format.md, "Unbundle").
//
// Threads: a reader reads the parts in order (from a PartSource), checks each part's SHA-1
// and decrypts; then either
//   - parallel (the manifest has a deflate index): the reader cuts the gzip stream into its
//     independently compressed blocks, one worker per core inflates them (each checked to
//     be a whole, history-free run of deflate blocks), and they come back in order; or
//   - serial (any other gzip): one inflater thread gunzips the stream;
// and the calling thread feeds the tar stream to libarchive (and the tar SHA-1, when it is
// checked) and writes the image, leaving holes for zero runs. Fixed pools of buffers bound
// memory.
//
// Error precedence: corruption upstream shows up downstream as a gzip or tar error, so
// the most upstream error wins, and when a later stage fails the reader still reads the
// current part to its end to tell a corrupt part from a bad stream.

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "bundles/bundle.h"
#include "bundles/crypto.h"
#include "bundles/file_io.h"
#include "bundles/queue.h"
#include "core/base/pki.h"

namespace euca::bundles {
namespace {

constexpr size_t kChunk = 1 << 20;
// The window of a part file mapped at once (a multiple of the page size).
constexpr size_t kViewWindow = 4 << 20;
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

// The tar stream as libarchive pulls it: chunks from the inflater(s), hashed as they pass.
struct TarSource {
  // The next chunk of the tar stream, releasing the previous one; false at the end.
  std::function<bool(const uint8_t** p, size_t* n)> next_chunk;
  const uint8_t* chunk = nullptr;  // what libarchive is reading; valid until the next callback
  size_t chunk_len = 0;
  Sha1 sha;
  bool hash = true;  // whether the tar SHA-1 is computed
  uint64_t bytes = 0;
  Progress* progress = nullptr;
  const std::atomic<uint64_t>* parts_read = nullptr;
  uint64_t parts_total = 0;

  bool Next() {
    if (!next_chunk(&chunk, &chunk_len)) return false;
    if (hash) sha.Update(chunk, chunk_len);
    bytes += chunk_len;
    if (progress != nullptr) progress->Update(parts_read->load(), parts_total);
    return true;
  }

  static la_ssize_t Read(struct archive*, void* self, const void** buf) {
    auto* s = static_cast<TarSource*>(self);
    if (!s->Next()) {
      *buf = nullptr;
      return 0;
    }
    *buf = s->chunk;
    return static_cast<la_ssize_t>(s->chunk_len);
  }
};

// --- The parallel path (a deflate index) ---------------------------------------------------

// Blocks larger than this go the serial way (the job pool would not fit the memory bound).
constexpr uint64_t kMaxParallelBlock = 4 << 20;
// Memory for the parallel path's jobs (each holds a compressed and an inflated block).
constexpr uint64_t kJobMemory = 24 << 20;
constexpr size_t kGzipHeaderSize = 10;
constexpr size_t kGzipTailSize = 10;  // empty final block (03 00), CRC-32, ISIZE
// Ciphertext decrypted at once outside a block (the gzip header, the trailer).
constexpr size_t kStagedCipher = 4096;

// One block of the tar stream on its way: compressed bytes in, tar bytes out.
struct Job {
  uint64_t seq = 0;
  Buffer in;                      // the block's compressed bytes
  Buffer out;                     // room for its tar bytes
  const uint8_t* data = nullptr;  // its tar bytes: `out`, or the shared block of zeros
  size_t len = 0;
  uint32_t crc = 0;
};
using JobPtr = std::unique_ptr<Job>;


Status GunzipError(const std::string& what) { return InvalidArgument("cannot gunzip the bundle: " + what); }

// Cuts the decrypted gzip stream into the blocks of a deflate index and queues each as a
// job (the reader thread's). The header must be the plain 10 bytes the index counts from,
// and after the last block come exactly the empty final block and the trailer.
class IndexSplitter final {
 public:
  IndexSplitter(const DeflateIndex& index, BoundedQueue<JobPtr>* free, BoundedQueue<JobPtr>* work)
      : index_(index), free_(free), work_(work) {}

  // Takes the next bytes of the gzip stream; false once the pipeline was cancelled.
  Result<bool> Feed(const uint8_t* p, size_t n) {
    while (n > 0) {
      size_t take = 0;
      if (pos_ < kGzipHeaderSize) {
        take = std::min(n, kGzipHeaderSize - static_cast<size_t>(pos_));
        std::memcpy(header_ + pos_, p, take);
        if (pos_ + take == kGzipHeaderSize &&
            (header_[0] != 0x1f || header_[1] != 0x8b || header_[2] != 8 || header_[3] != 0))
          return GunzipError("its gzip header is not the plain 10-byte header its deflate index counts from");
      } else if (block_ < index_.sizes.size()) {
        if (!job_) {
          auto item = free_->Pop();
          if (!item) return false;
          job_ = std::move(*item);
          job_->seq = block_;
          job_->in.len = 0;
        }
        const size_t want = index_.sizes[block_];
        take = std::min(n, want - job_->in.len);
        std::memcpy(job_->in.data.get() + job_->in.len, p, take);
        job_->in.len += take;
        if (job_->in.len == want) {
          if (!work_->Push(std::move(job_))) return false;
          ++block_;
        }
      } else {
        take = std::min(n, kGzipTailSize - tail_len_);
        if (take == 0) return GunzipError("the gzip data goes on past the end its deflate index gives it");
        std::memcpy(tail_ + tail_len_, p, take);
        tail_len_ += take;
      }
      pos_ += take;
      p += take;
      n -= take;
    }
    return true;
  }

  // Where up to `n` bytes of plaintext can be decrypted straight into the block being
  // filled (no copy): its job's free tail, and how many ciphertext bytes to decrypt there
  // (the cipher may hand out up to 16 bytes more than it takes; the buffer has room).
  // {nullptr, 0} outside a block (use Feed); nullopt once the pipeline was cancelled.
  std::optional<std::pair<uint8_t*, size_t>> Target(size_t n) {
    if (pos_ < kGzipHeaderSize || block_ >= index_.sizes.size()) return std::make_pair(nullptr, size_t{0});
    if (!job_) {
      auto item = free_->Pop();
      if (!item) return std::nullopt;
      job_ = std::move(*item);
      job_->seq = block_;
      job_->in.len = 0;
    }
    const size_t want = index_.sizes[block_];
    return std::make_pair(job_->in.data.get() + job_->in.len, std::min(n, want - job_->in.len));
  }

  // Takes the `n` bytes decrypted at Target; false once the pipeline was cancelled.
  Result<bool> Commit(size_t n) {
    const size_t want = index_.sizes[block_];
    const size_t fits = std::min(n, want - job_->in.len);
    job_->in.len += fits;
    pos_ += fits;
    if (job_->in.len < want) return true;
    // Bytes past the block's end belong to the next block (or the trailer).
    uint8_t carry[64];
    const size_t extra = n - fits;
    std::memcpy(carry, job_->in.data.get() + want, extra);
    if (!work_->Push(std::move(job_))) return false;
    ++block_;
    return Feed(carry, extra);
  }

  // At the end of the gzip stream.
  Status Finish() {
    if (block_ < index_.sizes.size() || tail_len_ < kGzipTailSize)
      return GunzipError("the gzip data ends before the end its deflate index gives it");
    if (tail_[0] != 0x03 || tail_[1] != 0x00)
      return GunzipError("the gzip data does not end with the empty final block its deflate index implies");
    return Status::Ok();
  }
  uint32_t trailer_crc() const { return LittleEndian32(tail_ + 2); }
  uint32_t trailer_isize() const { return LittleEndian32(tail_ + 6); }

 private:
  static uint32_t LittleEndian32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
  }
  const DeflateIndex& index_;
  BoundedQueue<JobPtr>* free_;
  BoundedQueue<JobPtr>* work_;
  uint64_t pos_ = 0;    // bytes of the gzip stream seen
  size_t block_ = 0;    // the block being filled
  JobPtr job_;          // its job
  uint8_t header_[kGzipHeaderSize] = {};
  uint8_t tail_[kGzipTailSize] = {};
  size_t tail_len_ = 0;
};

// Inflates jobs (one per worker thread). A block that inflated to all zeros is remembered by
// its compressed bytes: the same bytes again (free space, holes) give the same zeros and
// CRC without inflating (inflate is a function of its input; blocks share no history).
class BlockWorker final {
 public:
  BlockWorker(const DeflateIndex& index, const uint8_t* zeros) : index_(index), zeros_(zeros) {}

  Status Run(Job& j) {
    const uint64_t count = index_.sizes.size();
    const bool last = j.seq + 1 == count;
    if (!last && !zero_in_.empty() && j.in.len == zero_in_.size() &&
        std::memcmp(j.in.data.get(), zero_in_.data(), j.in.len) == 0) {
      j.data = zeros_;
      j.len = static_cast<size_t>(index_.block_size);
      j.crc = zero_crc_;
      return Status::Ok();
    }
    uint32_t crc = 0;
    auto n = inflater_.Inflate(j.in.data.get(), j.in.len, j.out.data.get(), j.out.cap, &crc);
    if (!n.ok())
      return GunzipError("deflate block " + std::to_string(j.seq) + " of " + std::to_string(count) +
                         " in its deflate index is not valid (" + n.status().message() + ")");
    if (last ? (*n == 0 || *n > index_.block_size) : *n != index_.block_size)
      return GunzipError("deflate block " + std::to_string(j.seq) + " of " + std::to_string(count) +
                         " inflates to " + std::to_string(*n) + " bytes, not the " +
                         std::to_string(index_.block_size) + " of its deflate index");
    j.data = j.out.data.get();
    j.len = *n;
    j.crc = crc;
    if (!last && zero_in_.empty() && j.in.len <= kMaxZeroKey && IsAllZero(j.data, j.len)) {
      zero_in_.assign(reinterpret_cast<const char*>(j.in.data.get()), j.in.len);
      zero_crc_ = crc;
    }
    return Status::Ok();
  }

 private:
  static constexpr size_t kMaxZeroKey = 64 * 1024;
  const DeflateIndex& index_;
  const uint8_t* zeros_;
  DeflateBlockInflater inflater_;
  std::string zero_in_;  // compressed bytes of a block of zeros, once seen
  uint32_t zero_crc_ = 0;
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

  // The parallel path needs a deflate index whose blocks fit the memory bound; the sizes
  // are checked against what a block can compress to before anything is read.
  const DeflateIndex& index = m.deflate_index;
  const bool parallel = !index.empty() && index.block_size <= kMaxParallelBlock;
  if (parallel) {
    const size_t bound = DeflateBlockCompressor::Bound(static_cast<size_t>(index.block_size));
    for (size_t i = 0; i < index.sizes.size(); ++i)
      if (index.sizes[i] > bound)
        return InvalidArgument("manifest '" + options.manifest_path + "': its deflate index gives block " +
                               std::to_string(i) + " " + std::to_string(index.sizes[i]) +
                               " compressed bytes, more than a block of " + std::to_string(index.block_size) +
                               " bytes can take");
  }

  std::atomic<uint64_t> parts_read{0};
  Status reader_status, inflater_status, tar_status;
  EUCA_ASSIGN_OR_RETURN(auto aes, AesCbc::Create(AesCbc::Direction::kDecrypt, key.key));

  // Reads the parts in order, checks each one's SHA-1 and hands the ciphertext to `deliver`
  // until it answers false (the pipeline failed downstream: then the current part is still
  // read to its end, so that a corrupt part is named rather than the damage it did). True
  // when everything was delivered.
  auto read_parts = [&](const std::function<Result<bool>(const uint8_t*, size_t)>& deliver) -> Result<bool> {
    Buffer raw(kChunk);
    bool downstream_failed = false;
    for (size_t i = 0; i < m.parts.size(); ++i) {
      EUCA_ASSIGN_OR_RETURN(std::unique_ptr<PartReader> f, source->Open(m.parts[i]));
      Sha1 sha;
      const bool view = f->CanView();
      while (true) {
        const uint8_t* p = raw.data.get();
        size_t n = 0;
        if (view) {
          EUCA_ASSIGN_OR_RETURN(std::span<const uint8_t> v, f->View(kViewWindow));
          p = v.data();
          n = v.size();
        } else {
          EUCA_ASSIGN_OR_RETURN(n, f->Read(raw.data.get(), raw.cap));
        }
        if (n == 0) break;
        // In pieces of at most kChunk: what the stages after the reader take at once.
        for (size_t at = 0; at < n; at += kChunk) {
          const size_t piece = std::min(kChunk, n - at);
          sha.Update(p + at, piece);
          parts_read += piece;
          if (downstream_failed) continue;  // finish the digest only
          EUCA_ASSIGN_OR_RETURN(bool more, deliver(p + at, piece));
          if (!more) downstream_failed = true;
        }
      }
      std::string got = sha.FinishHex();
      if (got != m.parts[i].sha1)
        return InvalidArgument("part '" + m.parts[i].filename + "' is corrupt: SHA-1 expected " + m.parts[i].sha1 +
                               " got " + got);
      if (downstream_failed) return false;
    }
    return true;
  };
  auto decrypt_error = [&](const Status& s) { return s.WithContext("decrypt bundle '" + options.manifest_path + "'"); };

  // Serial path: one inflater thread (any gzip).
  BoundedQueue<BufferPtr> free_cipher(kPoolSize), gz(kPoolSize);  // decrypted gzip bytes
  BoundedQueue<BufferPtr> free_tar(kPoolSize), tar(kPoolSize);    // gunzipped tar bytes
  // Parallel path: workers inflate the blocks of the deflate index.
  const unsigned nworkers = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  const size_t njobs =
      parallel ? std::clamp<size_t>(kJobMemory / (2 * index.block_size), 3, 2 * nworkers + 4) : 0;
  BoundedQueue<JobPtr> free_jobs(std::max<size_t>(njobs, 1)), work(std::max<size_t>(njobs, 1));
  ReorderQueue<JobPtr> done;
  std::unique_ptr<uint8_t[]> zeros;  // one block of zeros, shared by the jobs that are all zero
  FirstError inflate_error;
  auto cancel = [&] {
    free_cipher.Cancel();
    gz.Cancel();
    free_tar.Cancel();
    tar.Cancel();
    free_jobs.Cancel();
    work.Cancel();
    done.Cancel();
  };

  std::thread reader;
  std::vector<std::thread> workers;
  std::unique_ptr<IndexSplitter> splitter;
  TarSource src;
  BufferPtr current_tar;  // serial: the tar buffer libarchive is reading
  JobPtr current_job;     // parallel: the job libarchive is reading
  uint64_t next_seq = 0;  // parallel: the next block for libarchive
  uint32_t tar_crc = 0;   // parallel: CRC-32 and length of the blocks libarchive took
  uint64_t tar_len = 0;

  if (!parallel) {
    for (size_t i = 0; i < kPoolSize; ++i) {
      (void)free_cipher.Push(std::make_unique<Buffer>(kChunk + 64));
      (void)free_tar.Push(std::make_unique<Buffer>(kChunk));
    }
    reader = std::thread([&] {
      auto run = [&]() -> Status {
        EUCA_ASSIGN_OR_RETURN(bool all, read_parts([&](const uint8_t* p, size_t n) -> Result<bool> {
          auto item = free_cipher.Pop();
          if (!item) return false;
          BufferPtr b = std::move(*item);
          EUCA_ASSIGN_OR_RETURN(b->len, aes->Update(p, n, b->data.get()));
          return gz.Push(std::move(b));
        }));
        if (!all) return Status::Ok();
        auto item = free_cipher.Pop();
        if (!item) return Status::Ok();
        BufferPtr b = std::move(*item);
        auto n = aes->Finish(b->data.get());
        if (!n.ok()) return decrypt_error(n.status());
        b->len = *n;
        (void)gz.Push(std::move(b));
        gz.Close();
        return Status::Ok();
      };
      reader_status = run();
      if (!reader_status.ok()) cancel();
    });
    workers.emplace_back([&] {
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
      inflate_error.Set(run(), cancel);
    });
    src.next_chunk = [&](const uint8_t** p, size_t* n) {
      if (current_tar) (void)free_tar.Push(std::move(current_tar));
      auto item = tar.Pop();
      if (!item) return false;
      current_tar = std::move(*item);
      *p = current_tar->data.get();
      *n = current_tar->len;
      return true;
    };
  } else {
    const size_t block = static_cast<size_t>(index.block_size);
    zeros.reset(new uint8_t[block]());
    for (size_t i = 0; i < njobs; ++i) {
      auto j = std::make_unique<Job>();
      // Room for the cipher's up to 16 (+ 16 held back) bytes past the block's end, and the
      // inflater's slack.
      j->in = Buffer(DeflateBlockCompressor::Bound(block) + 64);
      j->out = Buffer(block + 64);  // room to see a block that inflates to more than it should
      (void)free_jobs.Push(std::move(j));
    }
    splitter = std::make_unique<IndexSplitter>(index, &free_jobs, &work);
    reader = std::thread([&] {
      Buffer plain(kChunk + 64);
      auto run = [&]() -> Status {
        EUCA_ASSIGN_OR_RETURN(bool all, read_parts([&](const uint8_t* p, size_t n) -> Result<bool> {
          while (n > 0) {
            // Inside a block: decrypt straight into its job; else through `plain`.
            auto target = splitter->Target(n);
            if (!target) return false;
            auto [dst, take] = *target;
            Result<bool> more = true;
            if (dst != nullptr) {
              EUCA_ASSIGN_OR_RETURN(size_t c, aes->Update(p, take, dst));
              more = splitter->Commit(c);
            } else {
              take = std::min(n, kStagedCipher);
              EUCA_ASSIGN_OR_RETURN(size_t c, aes->Update(p, take, plain.data.get()));
              more = splitter->Feed(plain.data.get(), c);
            }
            if (!more.ok()) {
              inflate_error.Set(more.status(), cancel);
              return false;
            }
            if (!*more) return false;
            p += take;
            n -= take;
          }
          return true;
        }));
        if (!all) return Status::Ok();
        auto n = aes->Finish(plain.data.get());
        if (!n.ok()) return decrypt_error(n.status());
        auto more = splitter->Feed(plain.data.get(), *n);
        Status end = more.ok() ? splitter->Finish() : more.status();
        if (!end.ok()) inflate_error.Set(end, cancel);
        work.Close();
        return Status::Ok();
      };
      reader_status = run();
      if (!reader_status.ok()) cancel();
    });
    for (unsigned w = 0; w < nworkers; ++w) {
      workers.emplace_back([&] {
        BlockWorker worker(index, zeros.get());
        while (auto item = work.Pop()) {
          JobPtr j = std::move(*item);
          Status s = worker.Run(*j);
          if (!s.ok()) return inflate_error.Set(s, cancel);
          const uint64_t seq = j->seq;
          done.Put(seq, std::move(j));
        }
      });
    }
    src.next_chunk = [&](const uint8_t** p, size_t* n) {
      if (current_job) (void)free_jobs.Push(std::move(current_job));
      if (next_seq == index.sizes.size()) return false;
      auto item = done.Take(next_seq);
      if (!item) return false;
      current_job = std::move(*item);
      ++next_seq;
      tar_crc = Crc32Combine(tar_crc, current_job->crc, current_job->len);
      tar_len += current_job->len;
      *p = current_job->data;
      *n = current_job->len;
      return true;
    };
  }
  // Whether libarchive hands us (part of) the shared block of zeros: nothing to write.
  auto in_zeros = [&](const void* buf, size_t size) {
    if (!zeros) return false;
    auto b = reinterpret_cast<uintptr_t>(buf), z = reinterpret_cast<uintptr_t>(zeros.get());
    return b >= z && b + size <= z + index.block_size;
  };

  // The calling thread: untar.
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
      if (!in_zeros(buf, size))
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
  for (auto& t : workers) t.join();
  inflater_status = inflate_error.Get();
  if (parallel && reader_status.ok() && inflater_status.ok() && tar_status.ok() &&
      (next_seq != index.sizes.size() || tar_crc != splitter->trailer_crc() ||
       static_cast<uint32_t>(tar_len) != splitter->trailer_isize()))
    inflater_status = GunzipError("gzip CRC-32 or length mismatch");

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
  result.parallel_inflate = parallel;
  result.image_path = exact_path ? options.destination_path : options.destination_dir + "/" + member;
  EUCA_RETURN_IF_ERROR(RenamePath(cleanup.path, result.image_path));
  cleanup.path.clear();
  if (progress != nullptr) progress->Update(parts_total, parts_total);
  result.size = member_size;
  result.manifest = std::move(m);
  return result;
}

}  // namespace euca::bundles
