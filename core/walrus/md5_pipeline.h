#pragma once
// MD5 on a second thread, fed from a ring of buffers: the thread that receives a body and
// writes it to disk hands each filled buffer to the hasher and moves on, so a large PUT is
// bound by the slower of hashing and receiving+writing instead of their sum (bench/walrus).

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace euca::walrus {

/// One producer (the caller) and one hasher thread. Usage, for each chunk:
///   char* b = p.Next();  fill up to p.buffer_size() bytes;  p.Submit(n);  use b (read only)
/// until the next Next(); then Final(). Not thread-safe for more than one producer.
class Md5Pipeline final {
 public:
  /// `slots` ≥ 2 buffers of `buffer_size` bytes each; starts the hasher thread.
  Md5Pipeline(size_t buffer_size, size_t slots = 4);
  /// Stops the hasher (discarding what it has not hashed) and joins it.
  ~Md5Pipeline();
  Md5Pipeline(const Md5Pipeline&) = delete;
  Md5Pipeline& operator=(const Md5Pipeline&) = delete;

  size_t buffer_size() const { return buffer_size_; }
  /// A buffer the caller may fill; waits until the hasher is done with its previous use.
  char* Next();
  /// Queues the first `n` bytes of the buffer Next() returned for hashing, in order.
  void Submit(size_t n);
  /// Waits for every submitted byte to be hashed; the 16-byte digest. Call once.
  std::string Final();

 private:
  void Run();

  const size_t buffer_size_;
  std::vector<std::unique_ptr<char[]>> buffers_;
  std::vector<size_t> sizes_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t submitted_ = 0;  // chunks submitted (guarded by mu_)
  size_t hashed_ = 0;     // chunks hashed (guarded by mu_)
  bool stop_ = false;     // guarded by mu_
  std::string digest_;    // set by the hasher when stopping after Final
  bool finishing_ = false;
  std::thread hasher_;
};

}  // namespace euca::walrus
