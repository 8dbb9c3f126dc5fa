#pragma once
// The upstream half of Unbundle (docs/bundle-format.md, "Unbundle"): from the parts of a
// bundle to its tar stream. Internal to bundles/.
//
//   PartFeed          reads the parts in order and checks each part's SHA-1 (shared);
//   SerialPipeline    decrypts, and one inflater thread gunzips any gzip;
//   ParallelPipeline  decrypts straight into the blocks of the manifest's deflate index,
//                     which one worker per core inflates, handed back in order.
// Both are InflatePipelines: the caller's thread pulls the tar stream with Next() while
// their threads run, and Join() gives the most upstream error. Fixed pools bound memory.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "bundles/bundle.h"
#include "bundles/crypto.h"
#include "bundles/manifest.h"
#include "core/base/status.h"

namespace euca::bundles {

/// What the reader hands downstream at once, and the size of the serial path's buffers.
inline constexpr size_t kUnbundleChunk = 1 << 20;
/// Deflate-index blocks larger than this go the serial way (the job pool would not fit
/// the memory bound).
inline constexpr uint64_t kMaxParallelBlock = 4 << 20;

/// Reads the parts of a bundle in manifest order from a PartSource, checks each part's
/// SHA-1 as it streams by, and hands the ciphertext on in pieces of at most kUnbundleChunk
/// bytes. Run() on one thread; bytes_read() from any.
class PartFeed final {
 public:
  /// Takes a piece of ciphertext; false when the pipeline failed downstream.
  using Deliver = std::function<Result<bool>(const uint8_t* p, size_t n)>;

  /// REQUIRES: `manifest` and `source` outlive the feed.
  PartFeed(const Manifest& manifest, PartSource* source) : manifest_(manifest), source_(source) {}

  /// Feeds every part to `deliver` until it answers false; then the current part is still
  /// read to its end and its SHA-1 checked, so that a corrupt part is named rather than the
  /// damage it did downstream. True when everything was delivered, false when `deliver`
  /// stopped it; InvalidArgument "part 'x.part.03' is corrupt: SHA-1 expected E got G".
  Result<bool> Run(const Deliver& deliver);

  /// Ciphertext bytes read so far (for progress).
  uint64_t bytes_read() const { return bytes_read_.load(std::memory_order_relaxed); }

 private:
  const Manifest& manifest_;
  PartSource* source_;
  std::atomic<uint64_t> bytes_read_{0};
};

/// The tar stream of a bundle, produced by threads of its own from the parts.
/// Use: Start(), then Next() until false (the caller's thread), then Join(); Cancel() from
/// the caller when it fails downstream; CheckComplete() after a Join() that succeeded and a
/// tar stream read to its end.
class InflatePipeline {
 public:
  virtual ~InflatePipeline() = default;

  /// Starts the threads.
  virtual void Start() = 0;
  /// The next chunk of the tar stream, in order, valid until the next call (which releases
  /// it to the pool); false at the end of the stream, on an error or once cancelled.
  virtual bool Next(const uint8_t** p, size_t* n) = 0;
  /// Whether [p, p + n) lies in a block of zeros the pipeline shares between chunks: such
  /// bytes need no scan and no write (the image keeps a hole there).
  virtual bool InSharedZeros(const void* /*p*/, size_t /*n*/) const { return false; }
  /// Stops the threads; Next() answers false from then on.
  virtual void Cancel() = 0;
  /// Waits for the threads and returns the most upstream error: reading, checking and
  /// decrypting the parts first, then gunzipping.
  virtual Status Join() = 0;
  /// After all went well: that the tar stream handed out is the whole gzip stream (the
  /// parallel path's CRC-32 and length against the gzip trailer; the serial inflater
  /// checks them itself).
  virtual Status CheckComplete() { return Status::Ok(); }
  /// Ciphertext bytes read so far (any thread).
  virtual uint64_t parts_read() const = 0;
};

/// Any gzip stream (one or more members): one inflater thread. About 12 MiB of buffers.
/// `manifest_path` names the bundle in messages. REQUIRES: the arguments outlive it.
Result<std::unique_ptr<InflatePipeline>> NewSerialPipeline(const Manifest& manifest, PartSource* source,
                                                           const BundleKey& key, const std::string& manifest_path);

/// The blocks of `manifest.deflate_index` (non-empty, block size at most kMaxParallelBlock,
/// every size at most DeflateBlockCompressor::Bound of it: the caller checks) inflated by
/// one worker per core, each block checked against the index (docs/bundle-format.md,
/// "Deflate index"). About 24 MiB of jobs. REQUIRES: the arguments outlive it.
Result<std::unique_ptr<InflatePipeline>> NewParallelPipeline(const Manifest& manifest, PartSource* source,
                                                             const BundleKey& key, const std::string& manifest_path);

}  // namespace euca::bundles
