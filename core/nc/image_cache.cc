#include "core/nc/image_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/api/digest.h"

namespace euca::nc {
namespace {

constexpr const char* kImageFile = "image";
constexpr const char* kStagingFile = "image.staging";
constexpr const char* kLastUseFile = "last-use";

// file:///path -> a sparse copy of the file; the digest is its size and mtime.
class LocalFileFetcher final : public ImageFetcher {
 public:
  Result<std::string> Digest(const ImageRef& ref) override {
    EUCA_ASSIGN_OR_RETURN(std::string path, PathOf(ref));
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return errno == ENOENT ? NotFound("image '" + ref.id + "': no file '" + path + "'")
                             : ErrnoStatus("stat '" + path + "'", errno);
    }
    if (!S_ISREG(st.st_mode)) return InvalidArgument("image '" + ref.id + "': '" + path + "' is not a regular file");
    return std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + "-" + std::to_string(st.st_ino);
  }

  Status Fetch(const ImageRef& ref, const std::string& destination) override {
    EUCA_ASSIGN_OR_RETURN(std::string path, PathOf(ref));
    int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return ErrnoStatus("open '" + path + "'", errno);
    int out = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
      int err = errno;
      ::close(in);
      return ErrnoStatus("create '" + destination + "'", err);
    }
    Status s = CopySparse(in, out, path, destination);
    ::close(in);
    if (::close(out) != 0 && s.ok()) s = ErrnoStatus("close '" + destination + "'", errno);
    return s;
  }

 private:
  static Result<std::string> PathOf(const ImageRef& ref) {
    constexpr std::string_view kScheme = "file://";
    if (ref.location.compare(0, kScheme.size(), kScheme) != 0 || ref.location.size() <= kScheme.size() ||
        ref.location[kScheme.size()] != '/') {
      return InvalidArgument("image '" + ref.id + "': location '" + ref.location +
                             "' is not file:///absolute/path");
    }
    return ref.location.substr(kScheme.size());
  }

  // Copies in 1 MiB blocks, seeking over all-zero blocks so sparse images stay sparse.
  static Status CopySparse(int in, int out, const std::string& from, const std::string& to) {
    std::vector<char> buf(1 << 20);
    off_t offset = 0;
    for (;;) {
      ssize_t n = ::read(in, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read '" + from + "'", errno);
      }
      if (n == 0) break;
      bool zero = buf[0] == 0 && std::memcmp(buf.data(), buf.data() + 1, n - 1) == 0;
      if (!zero) {
        for (ssize_t done = 0; done < n;) {
          ssize_t w = ::pwrite(out, buf.data() + done, n - done, offset + done);
          if (w < 0) {
            if (errno == EINTR) continue;
            return ErrnoStatus("write '" + to + "'", errno);
          }
          done += w;
        }
      }
      offset += n;
    }
    if (::ftruncate(out, offset) != 0) return ErrnoStatus("truncate '" + to + "'", errno);
    if (::fdatasync(out) != 0) return ErrnoStatus("sync '" + to + "'", errno);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<ImageFetcher> NewLocalFileFetcher() { return std::make_unique<LocalFileFetcher>(); }

ImageCache::ImageCache(Env& env, ImageFetcher& fetcher, std::string dir, uint64_t max_bytes)
    : env_(env), fetcher_(fetcher), dir_(std::move(dir)), max_bytes_(max_bytes) {}

std::string ImageCache::KeyFor(const std::string& image_id, const std::string& digest) const {
  return image_id + "/" + api::Sha256Hex(digest).substr(0, 32);
}

Status ImageCache::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  EUCA_RETURN_IF_ERROR(env_.CreateDirs(dir_, 0755));
  EUCA_ASSIGN_OR_RETURN(std::vector<std::string> ids, env_.ListDir(dir_));
  for (const std::string& id : ids) {
    std::string id_dir = JoinPath(dir_, id);
    Result<std::vector<std::string>> digests = env_.ListDir(id_dir);
    if (!digests.ok()) continue;  // a stray file
    for (const std::string& d : digests.value()) {
      std::string entry_dir = JoinPath(id_dir, d);
      EUCA_RETURN_IF_ERROR(env_.RemoveAll(JoinPath(entry_dir, kStagingFile)));
      std::string image = JoinPath(entry_dir, kImageFile);
      if (!env_.Exists(image)) {
        EUCA_RETURN_IF_ERROR(env_.RemoveAll(entry_dir));  // a fetch that never finished
        continue;
      }
      Entry e;
      e.path = image;
      e.image_id = id;
      e.ready = true;
      e.bytes = env_.AllocatedBytes(image).value_or(0);
      if (Result<std::string> stamp = env_.ReadFile(JoinPath(entry_dir, kLastUseFile)); stamp.ok()) {
        e.last_use = std::strtoull(stamp.value().c_str(), nullptr, 10);
      }
      tick_ = std::max(tick_, e.last_use);
      entries_[id + "/" + d] = std::move(e);
    }
  }
  return Status::Ok();
}

Result<std::string> ImageCache::Acquire(const ImageRef& ref) {
  EUCA_ASSIGN_OR_RETURN(std::string digest, fetcher_.Digest(ref));
  const std::string key = KeyFor(ref.id, digest);
  const std::string entry_dir = JoinPath(dir_, key);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto it = entries_.find(key);
    if (it == entries_.end()) break;
    Entry& e = it->second;
    if (e.ready) {
      ++e.pins;
      e.last_use = ++tick_;
      std::string stamp = std::to_string(e.last_use);
      std::string path = e.path;
      lock.unlock();
      (void)env_.WriteFileAtomic(JoinPath(entry_dir, kLastUseFile), stamp, 0644);  // best effort: LRU order
      return path;
    }
    if (!e.failure.ok()) return e.failure;  // a failed fetch, still being reported to its waiters
    ++e.pins;  // a waiter keeps the entry (and a failure) until it has looked
    cv_.wait(lock, [&] {
      auto w = entries_.find(key);
      return w == entries_.end() || w->second.ready || !w->second.failure.ok();
    });
    auto again = entries_.find(key);
    if (again == entries_.end()) continue;
    --again->second.pins;
    if (!again->second.failure.ok()) {
      Status failure = again->second.failure;
      if (again->second.pins == 0) entries_.erase(again);
      return failure;
    }
  }
  // This caller fetches; later callers wait on the entry.
  Entry& fresh = entries_[key];
  fresh.path = JoinPath(entry_dir, kImageFile);
  fresh.image_id = ref.id;
  ++fetches_;
  lock.unlock();

  const std::string staging = JoinPath(entry_dir, kStagingFile);
  Status s = env_.CreateDirs(entry_dir, 0755);
  if (s.ok()) s = env_.RemoveAll(staging);
  if (s.ok()) s = fetcher_.Fetch(ref, staging);
  if (s.ok()) s = env_.Rename(staging, JoinPath(entry_dir, kImageFile));
  uint64_t bytes = s.ok() ? env_.AllocatedBytes(JoinPath(entry_dir, kImageFile)).value_or(0) : 0;
  if (!s.ok()) (void)env_.RemoveAll(entry_dir);

  lock.lock();
  Entry& e = entries_[key];
  if (!s.ok()) {
    e.failure = s.WithContext("image '" + ref.id + "'");
    Status failure = e.failure;
    if (e.pins == 0) entries_.erase(key);
    cv_.notify_all();
    return failure;
  }
  e.ready = true;
  e.bytes = bytes;
  e.pins += 1;
  e.last_use = ++tick_;
  std::string stamp = std::to_string(e.last_use);
  std::string path = e.path;
  // Entries of an older digest of this image are stale: gone now, or with their last user.
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->first != key && it->second.image_id == ref.id && it->second.ready) {
      it->second.stale = true;
      if (it->second.pins == 0) RemoveLocked(it);
    }
    it = next;
  }
  EvictLocked(key);
  cv_.notify_all();
  lock.unlock();
  (void)env_.WriteFileAtomic(JoinPath(entry_dir, kLastUseFile), stamp, 0644);
  return path;
}

void ImageCache::RemoveLocked(std::map<std::string, Entry>::iterator it) {
  std::string entry_dir = JoinPath(dir_, it->first);
  (void)env_.RemoveAll(entry_dir);
  entries_.erase(it);
}

void ImageCache::EvictLocked(const std::string& keep) {
  if (max_bytes_ == 0) return;
  for (;;) {
    uint64_t used = 0;
    for (const auto& [k, e] : entries_) used += e.bytes;
    if (used <= max_bytes_) return;
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->first == keep || !it->second.ready || it->second.pins > 0) continue;
      if (victim == entries_.end() || it->second.last_use < victim->second.last_use) victim = it;
    }
    if (victim == entries_.end()) return;  // everything left is in use
    RemoveLocked(victim);
  }
}

void ImageCache::Release(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.path != path || !it->second.ready) continue;
    if (it->second.pins > 0) --it->second.pins;
    if (it->second.pins == 0 && it->second.stale) {
      RemoveLocked(it);  // a newer digest of its image is cached
      return;
    }
    EvictLocked("");
    return;
  }
}

Status ImageCache::Pin(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [k, e] : entries_) {
    if (e.path == path && e.ready) {
      ++e.pins;
      return Status::Ok();
    }
  }
  return NotFound("no cached image at '" + path + "'");
}

uint64_t ImageCache::UsedBytes() {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t used = 0;
  for (const auto& [k, e] : entries_) used += e.bytes;
  return used;
}

int ImageCache::FetchCountForTest() {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

}  // namespace euca::nc
