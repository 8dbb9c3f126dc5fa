// The two inflate pipelines of Unbundle and the part reading they share
// (unbundle_pipeline.h; docs/bundle-format.md, "Unbundle" and "Deflate index").
//
// Threads: a reader reads the parts in order (PartFeed), checks each part's SHA-1 and
// decrypts; then either
//   - parallel (the manifest has a deflate index): the reader cuts the gzip stream into its
//     independently compressed blocks, one worker per core inflates them (each checked to
//     be a whole, history-free run of deflate blocks), and they come back in order; or
//   - serial (any other gzip): one inflater thread gunzips the stream;
// and the caller's thread takes the tar stream with Next().
//
// Error precedence: corruption upstream shows up downstream as a gzip or tar error, so
// the most upstream error wins (Join: the reader's, then the inflaters'), and when a later
// stage fails the reader still reads the current part to its end to tell a corrupt part
// from a bad stream.

#include "bundles/unbundle_pipeline.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "bundles/file_io.h"
#include "bundles/gzip.h"
#include "bundles/queue.h"

namespace euca::bundles {
namespace {

// The window of a part read at once (PartReader::View).
constexpr size_t kViewWindow = 4 << 20;
// Buffers per pool on the serial path.
constexpr size_t kPoolSize = 6;

using BufferPtr = std::unique_ptr<Buffer>;

Status GunzipError(const std::string& what) { return InvalidArgument("cannot gunzip the bundle: " + what); }

// --- The parallel path's pieces -------------------------------------------------------------

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

// --- What both pipelines share ----------------------------------------------------------------

// The threads of a pipeline and their errors: the reader's (PartFeed and decryption) and
// the first of the inflaters'. Join() ranks them; subclasses start the threads.
class PipelineThreads : public InflatePipeline {
 public:
  Status Join() override {
    if (reader_.joinable()) reader_.join();
    for (auto& t : workers_) t.join();
    workers_.clear();
    if (!reader_status_.ok()) return reader_status_;
    return inflate_error_.Get();
  }
  uint64_t parts_read() const override { return feed_.bytes_read(); }

 protected:
  PipelineThreads(const Manifest& m, PartSource* source, std::unique_ptr<AesCbc> aes, const std::string& manifest_path)
      : feed_(m, source), aes_(std::move(aes)), manifest_path_(manifest_path) {}
  // Subclasses stop and join the threads in their destructors (Cancel is theirs).
  ~PipelineThreads() override = default;
  // Runs `body` as the reader thread; an error it returns cancels the pipeline.
  void StartReader(std::function<Status()> body) {
    reader_ = std::thread([this, body = std::move(body)] {
      reader_status_ = body();
      if (!reader_status_.ok()) Cancel();
    });
  }
  // For destructors: a pipeline left without Join() (the caller bailed out) is stopped.
  void StopAndJoin() {
    if (reader_.joinable() || !workers_.empty()) {
      Cancel();
      (void)Join();
    }
  }
  Status DecryptError(const Status& s) const { return s.WithContext("decrypt bundle '" + manifest_path_ + "'"); }
  // An inflater's error (or the splitter's): the first one cancels the pipeline.
  void SetInflateError(Status s) {
    inflate_error_.Set(std::move(s), [this] { Cancel(); });
  }

  PartFeed feed_;
  std::unique_ptr<AesCbc> aes_;
  const std::string& manifest_path_;
  std::thread reader_;
  std::vector<std::thread> workers_;

 private:
  Status reader_status_;
  FirstError inflate_error_;
};

// --- The serial pipeline ------------------------------------------------------------------

// reader: parts -> SHA-1 -> AES -> `gz` buffers; inflater: `gz` -> GzipInflater -> `tar`
// buffers, filled to the brim; Next() hands out the `tar` buffers in order. Two pools of
// kPoolSize buffers of kUnbundleChunk bytes.
class SerialPipeline final : public PipelineThreads {
 public:
  SerialPipeline(const Manifest& m, PartSource* source, std::unique_ptr<AesCbc> aes, const std::string& manifest_path)
      : PipelineThreads(m, source, std::move(aes), manifest_path) {
    for (size_t i = 0; i < kPoolSize; ++i) {
      (void)free_cipher_.Push(std::make_unique<Buffer>(kUnbundleChunk + 64));
      (void)free_tar_.Push(std::make_unique<Buffer>(kUnbundleChunk));
    }
  }
  ~SerialPipeline() override { StopAndJoin(); }

  void Start() override {
    StartReader([this] { return ReadAndDecrypt(); });
    workers_.emplace_back([this] { SetInflateError(Inflate()); });
  }

  bool Next(const uint8_t** p, size_t* n) override {
    if (current_) (void)free_tar_.Push(std::move(current_));
    auto item = tar_.Pop();
    if (!item) return false;
    current_ = std::move(*item);
    *p = current_->data.get();
    *n = current_->len;
    return true;
  }

  void Cancel() override {
    free_cipher_.Cancel();
    gz_.Cancel();
    free_tar_.Cancel();
    tar_.Cancel();
  }

 private:
  // The reader thread: decrypts every part into `gz` buffers, then the padding's end.
  Status ReadAndDecrypt() {
    EUCA_ASSIGN_OR_RETURN(bool all, feed_.Run([&](const uint8_t* p, size_t n) -> Result<bool> {
      auto item = free_cipher_.Pop();
      if (!item) return false;
      BufferPtr b = std::move(*item);
      EUCA_ASSIGN_OR_RETURN(b->len, aes_->Update(p, n, b->data.get()));
      return gz_.Push(std::move(b));
    }));
    if (!all) return Status::Ok();
    auto item = free_cipher_.Pop();
    if (!item) return Status::Ok();
    BufferPtr b = std::move(*item);
    auto n = aes_->Finish(b->data.get());
    if (!n.ok()) return DecryptError(n.status());
    b->len = *n;
    (void)gz_.Push(std::move(b));
    gz_.Close();
    return Status::Ok();
  }

  // Fills tar buffers to the brim from the inflater's input; false once cancelled.
  Result<bool> Drain() {
    while (true) {
      if (!out_) {
        auto item = free_tar_.Pop();
        if (!item) return false;
        out_ = std::move(*item);
        out_->len = 0;
      }
      EUCA_ASSIGN_OR_RETURN(size_t n, inflater_.Inflate(out_->data.get() + out_->len, out_->cap - out_->len));
      out_->len += n;
      if (out_->len == out_->cap) {
        if (!tar_.Push(std::move(out_))) return false;
        continue;
      }
      if (n == 0 || inflater_.NeedsInput()) return true;
    }
  }

  // The inflater thread: gunzips `gz` into `tar`, then checks the gzip stream's end.
  Status Inflate() {
    while (auto item = gz_.Pop()) {
      BufferPtr in = std::move(*item);
      inflater_.SetInput(in->data.get(), in->len);
      EUCA_ASSIGN_OR_RETURN(bool more, Drain());
      if (!more) return Status::Ok();
      (void)free_cipher_.Push(std::move(in));
    }
    if (gz_.cancelled()) return Status::Ok();
    inflater_.SetInput(nullptr, 0);
    EUCA_ASSIGN_OR_RETURN(bool more, Drain());
    if (!more) return Status::Ok();
    EUCA_RETURN_IF_ERROR(inflater_.Finish());
    if (out_ && out_->len > 0) (void)tar_.Push(std::move(out_));
    tar_.Close();
    return Status::Ok();
  }

  BoundedQueue<BufferPtr> free_cipher_{kPoolSize}, gz_{kPoolSize};  // decrypted gzip bytes
  BoundedQueue<BufferPtr> free_tar_{kPoolSize}, tar_{kPoolSize};     // gunzipped tar bytes
  GzipInflater inflater_;  // the inflater thread's
  BufferPtr out_;          // the inflater thread's tar buffer being filled
  BufferPtr current_;      // the tar buffer the caller is reading
};

// --- The parallel pipeline ----------------------------------------------------------------

// reader: parts -> SHA-1 -> AES straight into jobs, cut at the deflate index (IndexSplitter)
// -> `work`; workers (one per core): BlockWorker -> `done` (reordered); Next() hands out
// the jobs in block order and folds their CRC-32s. A pool of jobs bounds memory.
class ParallelPipeline final : public PipelineThreads {
 public:
  ParallelPipeline(const Manifest& m, PartSource* source, std::unique_ptr<AesCbc> aes, const std::string& manifest_path)
      : PipelineThreads(m, source, std::move(aes), manifest_path),
        index_(m.deflate_index),
        block_(static_cast<size_t>(index_.block_size)),
        nworkers_(std::clamp(std::thread::hardware_concurrency(), 1u, 8u)),
        njobs_(std::clamp<size_t>(kJobMemory / (2 * index_.block_size), 3, 2 * nworkers_ + 4)),
        free_jobs_(njobs_),
        work_(njobs_),
        zeros_(new uint8_t[block_]()),
        splitter_(index_, &free_jobs_, &work_) {
    for (size_t i = 0; i < njobs_; ++i) {
      auto j = std::make_unique<Job>();
      // Room for the cipher's up to 16 (+ 16 held back) bytes past the block's end, and the
      // inflater's slack.
      j->in = Buffer(DeflateBlockCompressor::Bound(block_) + 64);
      j->out = Buffer(block_ + 64);  // room to see a block that inflates to more than it should
      (void)free_jobs_.Push(std::move(j));
    }
  }
  ~ParallelPipeline() override { StopAndJoin(); }

  void Start() override {
    StartReader([this] { return ReadDecryptAndSplit(); });
    for (unsigned w = 0; w < nworkers_; ++w) workers_.emplace_back([this] { InflateBlocks(); });
  }

  bool Next(const uint8_t** p, size_t* n) override {
    if (current_) (void)free_jobs_.Push(std::move(current_));
    if (next_seq_ == index_.sizes.size()) return false;
    auto item = done_.Take(next_seq_);
    if (!item) return false;
    current_ = std::move(*item);
    ++next_seq_;
    tar_crc_ = Crc32Combine(tar_crc_, current_->crc, current_->len);
    tar_len_ += current_->len;
    *p = current_->data;
    *n = current_->len;
    return true;
  }

  bool InSharedZeros(const void* p, size_t n) const override {
    auto b = reinterpret_cast<uintptr_t>(p), z = reinterpret_cast<uintptr_t>(zeros_.get());
    return b >= z && b + n <= z + block_;
  }

  void Cancel() override {
    free_jobs_.Cancel();
    work_.Cancel();
    done_.Cancel();
  }

  Status CheckComplete() override {
    if (next_seq_ != index_.sizes.size() || tar_crc_ != splitter_.trailer_crc() ||
        static_cast<uint32_t>(tar_len_) != splitter_.trailer_isize())
      return GunzipError("gzip CRC-32 or length mismatch");
    return Status::Ok();
  }

 private:
  // The reader thread: decrypts straight into the jobs inside a block, through `plain`
  // outside one (the gzip header and trailer); errors of the cut rank as inflate errors.
  Status ReadDecryptAndSplit() {
    Buffer plain(kUnbundleChunk + 64);
    EUCA_ASSIGN_OR_RETURN(bool all, feed_.Run([&](const uint8_t* p, size_t n) -> Result<bool> {
      while (n > 0) {
        auto target = splitter_.Target(n);
        if (!target) return false;
        auto [dst, take] = *target;
        Result<bool> more = true;
        if (dst != nullptr) {
          EUCA_ASSIGN_OR_RETURN(size_t c, aes_->Update(p, take, dst));
          more = splitter_.Commit(c);
        } else {
          take = std::min(n, kStagedCipher);
          EUCA_ASSIGN_OR_RETURN(size_t c, aes_->Update(p, take, plain.data.get()));
          more = splitter_.Feed(plain.data.get(), c);
        }
        if (!more.ok()) {
          SetInflateError(more.status());
          return false;
        }
        if (!*more) return false;
        p += take;
        n -= take;
      }
      return true;
    }));
    if (!all) return Status::Ok();
    auto n = aes_->Finish(plain.data.get());
    if (!n.ok()) return DecryptError(n.status());
    auto more = splitter_.Feed(plain.data.get(), *n);
    Status end = more.ok() ? splitter_.Finish() : more.status();
    if (!end.ok()) SetInflateError(end);
    work_.Close();
    return Status::Ok();
  }

  // A worker thread: inflates jobs until the work runs out or a block is bad.
  void InflateBlocks() {
    BlockWorker worker(index_, zeros_.get());
    while (auto item = work_.Pop()) {
      JobPtr j = std::move(*item);
      Status s = worker.Run(*j);
      if (!s.ok()) return SetInflateError(s);
      const uint64_t seq = j->seq;
      done_.Put(seq, std::move(j));
    }
  }

  const DeflateIndex& index_;
  const size_t block_;
  const unsigned nworkers_;
  const size_t njobs_;
  BoundedQueue<JobPtr> free_jobs_, work_;
  ReorderQueue<JobPtr> done_;
  std::unique_ptr<uint8_t[]> zeros_;  // one block of zeros, shared by the jobs that are all zero
  IndexSplitter splitter_;            // the reader thread's
  JobPtr current_;                    // the job the caller is reading
  uint64_t next_seq_ = 0;             // the next block for the caller
  uint32_t tar_crc_ = 0;              // CRC-32 and length of the blocks handed out
  uint64_t tar_len_ = 0;
};

}  // namespace

Result<bool> PartFeed::Run(const Deliver& deliver) {
  Buffer raw(kUnbundleChunk);
  bool downstream_failed = false;
  for (const ManifestPart& part : manifest_.parts) {
    EUCA_ASSIGN_OR_RETURN(std::unique_ptr<PartReader> f, source_->Open(part));
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
      for (size_t at = 0; at < n; at += kUnbundleChunk) {
        const size_t piece = std::min(kUnbundleChunk, n - at);
        sha.Update(p + at, piece);
        bytes_read_.fetch_add(piece, std::memory_order_relaxed);
        if (downstream_failed) continue;  // finish the digest only
        EUCA_ASSIGN_OR_RETURN(bool more, deliver(p + at, piece));
        if (!more) downstream_failed = true;
      }
    }
    std::string got = sha.FinishHex();
    if (got != part.sha1)
      return InvalidArgument("part '" + part.filename + "' is corrupt: SHA-1 expected " + part.sha1 + " got " + got);
    if (downstream_failed) return false;
  }
  return true;
}

Result<std::unique_ptr<InflatePipeline>> NewSerialPipeline(const Manifest& manifest, PartSource* source,
                                                           const BundleKey& key, const std::string& manifest_path) {
  EUCA_ASSIGN_OR_RETURN(auto aes, AesCbc::Create(AesCbc::Direction::kDecrypt, key));
  return std::unique_ptr<InflatePipeline>(new SerialPipeline(manifest, source, std::move(aes), manifest_path));
}

Result<std::unique_ptr<InflatePipeline>> NewParallelPipeline(const Manifest& manifest, PartSource* source,
                                                             const BundleKey& key, const std::string& manifest_path) {
  EUCA_ASSIGN_OR_RETURN(auto aes, AesCbc::Create(AesCbc::Direction::kDecrypt, key));
  return std::unique_ptr<InflatePipeline>(new ParallelPipeline(manifest, source, std::move(aes), manifest_path));
}

}  // namespace euca::bundles
