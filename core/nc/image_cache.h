#pragma once
// The node's image cache (seed 003 §4.2; Eucalyptus' INSTANCE_PATH/cache): raw images keyed
// by image id and the digest of what stands behind it, fetched once however many instances
// of an image start at once, bounded in size with LRU eviction of entries no instance uses.
// Instances' qcow2 overlays are backed by these files, so an entry stays pinned while any
// instance uses it. Layout: docs/nc.md.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/base/env.h"
#include "core/base/status.h"
#include "core/nc/nc_types.h"

namespace euca::nc {

/// Where the node's images come from (Walrus image delivery, or a local file).
class ImageFetcher {
 public:
  virtual ~ImageFetcher() = default;
  /// A token that changes whenever the image behind `ref` changes (the manifest's ETag, a
  /// file's size and modification time). NotFound when there is no such image.
  virtual Result<std::string> Digest(const ImageRef& ref) = 0;
  /// Writes the raw image of `ref` to `destination`, which does not exist yet. On failure a
  /// partial file may be left; the caller removes it.
  virtual Status Fetch(const ImageRef& ref, const std::string& destination) = 0;
};

/// `file:///absolute/path` locations: a local raw image, copied sparsely.
std::unique_ptr<ImageFetcher> NewLocalFileFetcher();

/// Thread-safe.
class ImageCache final {
 public:
  /// `dir` is created on Open. `max_bytes` bounds what unpinned entries may occupy
  /// (0 = unbounded); pinned entries are never evicted, so the bound can be exceeded while
  /// instances use more than it.
  ImageCache(Env& env, ImageFetcher& fetcher, std::string dir, uint64_t max_bytes);

  /// Creates the folder, removes staging files left by a crash, and indexes the entries
  /// (LRU order from their last-use stamps).
  Status Open();

  /// The path of the raw image for `ref`, fetched if needed and pinned until Release. One
  /// fetch per (id, digest) however many callers ask at once; the others wait for it. A
  /// changed digest makes a new entry; the stale one goes when unpinned.
  Result<std::string> Acquire(const ImageRef& ref);
  /// Unpins an entry acquired (or Pin-ned) before. Unknown paths are ignored.
  void Release(const std::string& path);
  /// Pins the entry at `path` (a restarted NC re-adopting an instance). NotFound if absent.
  Status Pin(const std::string& path);

  /// Bytes the entries occupy on disk.
  uint64_t UsedBytes();
  /// Fetches started since construction.
  int FetchCountForTest();

 private:
  struct Entry {
    std::string path;
    std::string image_id;
    bool ready = false;
    bool stale = false;  // a newer digest of the image is cached
    Status failure;  // a failed fetch: waiters report it, the next Acquire retries
    int pins = 0;
    uint64_t bytes = 0;
    uint64_t last_use = 0;
  };

  std::string KeyFor(const std::string& image_id, const std::string& digest) const;
  void EvictLocked(const std::string& keep);
  void RemoveLocked(std::map<std::string, Entry>::iterator it);

  Env& env_;
  ImageFetcher& fetcher_;
  const std::string dir_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // key: "<image id>/<digest hash>"
  uint64_t tick_ = 0;
  int fetches_ = 0;
};

}  // namespace euca::nc
