#pragma once
// A bounded blocking queue joining the stages of the bundle pipeline. Internal to bundles/.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "core/base/status.h"

namespace euca::bundles {

/// The first error of a pipeline's threads; setting it (to an error, once) runs `cancel`,
/// which stops the pipeline. Thread-safe.
class FirstError final {
 public:
  void Set(Status s, const std::function<void()>& cancel) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!first_.ok() || s.ok()) return;
      first_ = std::move(s);
    }
    cancel();
  }
  Status Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_;
  }

 private:
  std::mutex mu_;
  Status first_;
};

/// A FIFO of at most `capacity` items shared by producer and consumer threads. Close() ends
/// the stream normally (consumers drain what is left); Cancel() abandons it (pending items
/// are dropped and every waiter wakes). Thread-safe.
template <typename T>
class BoundedQueue final {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  /// Blocks while full. False (and `item` is dropped) if the queue was closed or cancelled.
  bool Push(T item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_ || cancelled_; });
    if (closed_ || cancelled_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  /// Blocks while empty. Empty optional once closed and drained, or cancelled.
  std::optional<T> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_ || cancelled_; });
    if (cancelled_ || items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  /// No more pushes; consumers drain the rest.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  /// Abandon: drop the items, wake everyone, fail every later Push and Pop.
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    items_.clear();
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> items_;
  bool closed_ = false;
  bool cancelled_ = false;
};

/// Hands items put in any order to a consumer that takes them in sequence order (0, 1, 2,
/// ...). Unbounded itself: the producers' pool of items bounds it. Thread-safe.
template <typename T>
class ReorderQueue final {
 public:
  void Put(uint64_t seq, T item) {
    std::lock_guard<std::mutex> lock(mu_);
    ready_.emplace(seq, std::move(item));
    cv_.notify_all();
  }

  /// Blocks until item `seq` is there; empty optional once cancelled.
  std::optional<T> Take(uint64_t seq) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return cancelled_ || ready_.count(seq) > 0; });
    if (cancelled_) return std::nullopt;
    auto it = ready_.find(seq);
    T item = std::move(it->second);
    ready_.erase(it);
    return item;
  }

  /// Wakes the consumer; every later Take fails.
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    ready_.clear();
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, T> ready_;
  bool cancelled_ = false;
};

}  // namespace euca::bundles
