#include "core/walrus/body_pipeline.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include <sys/mman.h>

#include "core/walrus/rules.h"

namespace euca::walrus {

BodyPipeline::BodyPipeline(size_t buffer_size, Sink sink, size_t slots)
    : buffer_size_(std::max<size_t>(buffer_size, 1)), sink_(std::move(sink)), sizes_(std::max<size_t>(slots, 2), 0) {
  // aligned_alloc wants a size that is a multiple of the alignment.
  const size_t alloc = (buffer_size_ + kBufferAlign - 1) / kBufferAlign * kBufferAlign;
  contiguous_ = alloc == buffer_size_;
  // Mapped, not malloc'ed: unmapped when the pipeline goes, so the memory goes back to the
  // system at once. From malloc, rings of concurrent uploads were kept by glibc's per-thread
  // arenas: ten concurrent 8 MiB part uploads (the AWS CLI's way with a big file) left the
  // server at 700 MiB resident.
  ring_bytes_ = alloc * sizes_.size();
  void* ring = ::mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED) throw std::bad_alloc();
  ring_ = static_cast<char*>(ring);
  for (size_t i = 0; i < sizes_.size(); ++i) buffers_.push_back(ring_ + i * alloc);
  try {
    hasher_ = std::thread([this] { Hash(); });
    writer_ = std::thread([this] { Write(); });
  } catch (...) {  // no thread: stop the one that started, and give the ring back
    StopAndUnmap();
    throw;
  }
}

BodyPipeline::~BodyPipeline() { StopAndUnmap(); }

void BodyPipeline::StopAndUnmap() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (hasher_.joinable()) hasher_.join();
  if (writer_.joinable()) writer_.join();
  ::munmap(ring_, ring_bytes_);
}

Result<char*> BodyPipeline::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  // Slot `submitted_ % n` was last used by chunk `submitted_ - n`; wait until both threads
  // are past it.
  const size_t n = buffers_.size();
  cv_.wait(lock, [&] { return !error_.ok() || submitted_ < n || std::min(hashed_, written_) + n > submitted_; });
  if (!error_.ok()) return error_;
  return buffers_[submitted_ % n];
}

void BodyPipeline::Submit(size_t n) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_.ok()) return;
    sizes_[submitted_ % buffers_.size()] = std::min(n, buffer_size_);
    ++submitted_;
  }
  cv_.notify_all();
}

Result<std::string> BodyPipeline::Final() {
  std::unique_lock<std::mutex> lock(mu_);
  finishing_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return !error_.ok() || (hash_done_ && written_ == submitted_); });
  if (!error_.ok()) return error_;
  return digest_;
}

void BodyPipeline::Hash() {
  Md5 md5;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !error_.ok() || hashed_ < submitted_ || finishing_; });
    if (stop_ || !error_.ok()) return;
    if (hashed_ < submitted_) {
      const size_t slot = hashed_ % buffers_.size();
      const char* data = buffers_[slot];
      const size_t size = sizes_[slot];
      lock.unlock();
      md5.Update(std::string_view(data, size));
      lock.lock();
      ++hashed_;
      cv_.notify_all();
      continue;
    }
    // finishing_ and everything hashed.
    digest_ = md5.Final();
    hash_done_ = true;
    cv_.notify_all();
    return;
  }
}

void BodyPipeline::Write() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || written_ < submitted_ || finishing_; });
    if (stop_) return;
    if (written_ == submitted_) return;  // finishing_ and everything written
    // Every submitted chunk from here to the end of the ring in one call while they are whole
    // buffers (only the body's last may be shorter): the disk takes a few MiB at once faster
    // than one at a time.
    const size_t first = written_ % buffers_.size();
    size_t count = 0, size = 0;
    while (written_ + count < submitted_ && first + count < buffers_.size()) {
      size += sizes_[first + count];
      ++count;
      if (!contiguous_ || sizes_[first + count - 1] != buffer_size_) break;
    }
    const char* data = buffers_[first];
    lock.unlock();
    Status s = sink_(std::string_view(data, size));
    lock.lock();
    if (!s.ok()) {
      error_ = std::move(s);
      cv_.notify_all();
      return;
    }
    written_ += count;
    cv_.notify_all();
  }
}

}  // namespace euca::walrus
