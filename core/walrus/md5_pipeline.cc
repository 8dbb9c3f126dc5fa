#include "core/walrus/md5_pipeline.h"

#include <algorithm>

#include "core/walrus/rules.h"

namespace euca::walrus {

Md5Pipeline::Md5Pipeline(size_t buffer_size, size_t slots)
    : buffer_size_(std::max<size_t>(buffer_size, 1)), sizes_(std::max<size_t>(slots, 2), 0) {
  for (size_t i = 0; i < sizes_.size(); ++i) buffers_.push_back(std::make_unique_for_overwrite<char[]>(buffer_size_));
  hasher_ = std::thread([this] { Run(); });
}

Md5Pipeline::~Md5Pipeline() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (hasher_.joinable()) hasher_.join();
}

char* Md5Pipeline::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  // Slot `submitted_ % n` was last used by chunk `submitted_ - n`; wait until it is hashed.
  const size_t n = buffers_.size();
  cv_.wait(lock, [&] { return submitted_ < n || hashed_ + n > submitted_; });
  return buffers_[submitted_ % n].get();
}

void Md5Pipeline::Submit(size_t n) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    sizes_[submitted_ % buffers_.size()] = std::min(n, buffer_size_);
    ++submitted_;
  }
  cv_.notify_all();
}

std::string Md5Pipeline::Final() {
  std::unique_lock<std::mutex> lock(mu_);
  finishing_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return hashed_ == submitted_ && !digest_.empty(); });
  return digest_;
}

void Md5Pipeline::Run() {
  Md5 md5;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || hashed_ < submitted_ || finishing_; });
    if (stop_) return;
    if (hashed_ < submitted_) {
      const size_t slot = hashed_ % buffers_.size();
      const char* data = buffers_[slot].get();
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
    cv_.notify_all();
    return;
  }
}

}  // namespace euca::walrus
