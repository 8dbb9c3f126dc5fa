#pragma once
// A large request body in three stages on three threads: the caller receives into a ring of
// buffers, a hasher thread computes the MD5 (the ETag) and a writer thread hands each buffer
// to a sink (the blob writer, which may give it to the disk with O_DIRECT). A large PUT is
// then bound by the slowest of receiving, hashing and writing instead of their sum
// (bench/walrus), and memory stays at `slots` buffers whatever the body's size.

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/base/status.h"

namespace euca::walrus {

/// One producer (the caller), one hasher and one writer thread. For each chunk:
///   char* b = *p.Next();  fill up to p.buffer_size() bytes;  p.Submit(n);
/// and leave b alone from then on; at the end Final(). Not for more than one producer.
class BodyPipeline final {
 public:
  /// Takes each chunk in order, on the writer thread; an error stops the pipeline.
  using Sink = std::function<Status(std::string_view chunk)>;
  /// Buffers are aligned to this (page, and O_DIRECT block) size.
  static constexpr size_t kBufferAlign = 4096;

  /// `slots` ≥ 2 buffers of `buffer_size` bytes each, one after the other in memory; starts
  /// both threads. The writer hands the sink every submitted whole buffer up to the ring's end
  /// in one call (a few MiB at once when the sink has fallen behind), so a chunk may span
  /// several buffers.
  BodyPipeline(size_t buffer_size, Sink sink, size_t slots = 4);
  /// Stops both threads (discarding what they have not taken) and joins them; a sink call in
  /// progress finishes first.
  ~BodyPipeline();
  BodyPipeline(const BodyPipeline&) = delete;
  BodyPipeline& operator=(const BodyPipeline&) = delete;

  size_t buffer_size() const { return buffer_size_; }
  /// A buffer the caller may fill: waits until both threads are done with its previous use.
  /// The sink's error once it failed.
  Result<char*> Next();
  /// Queues the first `n` bytes of the buffer Next() returned, in order.
  void Submit(size_t n);
  /// Waits until every submitted byte is hashed and written; the 16-byte MD5 digest, or the
  /// sink's error. Call once.
  Result<std::string> Final();

 private:
  void Hash();
  void Write();
  /// Stops and joins the threads that run, and unmaps the ring (destructor, failed start).
  void StopAndUnmap();

  const size_t buffer_size_;
  Sink sink_;
  char* ring_ = nullptr;  // the slots, one after the other (mmap'ed, page-aligned)
  size_t ring_bytes_ = 0;
  std::vector<char*> buffers_;               // each slot's start in ring_
  bool contiguous_ = false;  // whole slots follow each other without a gap (one write may take several)
  std::vector<size_t> sizes_;
  std::mutex mu_;
  std::condition_variable cv_;
  // All guarded by mu_.
  size_t submitted_ = 0;  // chunks submitted
  size_t hashed_ = 0;     // chunks hashed
  size_t written_ = 0;    // chunks the sink took
  bool stop_ = false;     // the destructor runs
  bool finishing_ = false;
  bool hash_done_ = false;  // digest_ is set
  std::string digest_;
  Status error_;  // the sink's first error
  std::thread hasher_;
  std::thread writer_;
};

}  // namespace euca::walrus
