#pragma once
// The decrypted-image cache of Walrus (DESIGN.md §7; docs/walrus-format.md, "Image cache"):
// raw images unbundled from manifests in the object store, kept on disk under
// `$EUCA_HOME/walrus/image-cache/`, bounded in size with LRU eviction of whole entries.
//
// An entry is named by the manifest's bucket, key and ETag, so an overwritten manifest never
// serves its old image; when a manifest's image is cached, the entries of its older versions
// (by the manifest's modification time) are removed, and it is not kept if a newer one is. Concurrent requests for one uncached image fill it once (single
// flight): the others wait, then share the entry. A fill reserves room for its image before
// writing it (MakeRoom), so fills in progress count against the bound. An entry being read (a Lease is held) is
// never evicted; a removed entry stays readable through the leases already open on it.
// Entries are written to tmp/ (a name per fill) and renamed into place; tmp/ is emptied when
// the cache opens and no other process has it open, and entries survive restarts with their
// LRU order.
//
// Thread-safe. Bounds and single flight hold within one process; a second process opening
// the same folder shares the entries but does not reap tmp/ (every opener holds the folder's
// LOCK shared), and an entry another process evicted is filled again on its next request.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bundles/file_io.h"
#include "core/base/clock.h"
#include "core/base/status.h"

namespace euca::walrus {

/// Which image: the manifest's location and the ETag of the manifest version it came from.
struct ImageKey {
  std::string bucket = {};
  std::string key = {};
  std::string etag = {};
  /// When that manifest version was written (ms): orders the versions of one location, so that
  /// the newest is the one kept. Not part of the entry id.
  int64_t modified_ms = 0;
};

/// What a fill made.
struct FilledImage {
  uint64_t size = 0;
  std::string sha256 = {};  ///< lower-case hex of the image bytes
};

class ImageCache;

/// A pinned cache entry: readable, and never evicted, while the lease lives. Thread-safe.
class ImageLease final {
 public:
  ~ImageLease();
  ImageLease(const ImageLease&) = delete;
  ImageLease& operator=(const ImageLease&) = delete;

  /// The entry id: 32 lower-case hex digits (Walrus sends it as the ETag).
  const std::string& id() const;
  uint64_t size() const;
  const std::string& sha256() const;
  /// Reads up to `n` bytes at `offset`; 0 at the end.
  Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) const;

  struct Entry;  ///< the cache's record of an entry (image_cache.cc)

 private:
  friend class ImageCache;
  ImageLease(ImageCache* cache, std::shared_ptr<Entry> entry, bundles::File file)
      : cache_(cache), entry_(std::move(entry)), file_(std::move(file)) {}
  ImageCache* cache_;
  std::shared_ptr<Entry> entry_;
  bundles::File file_;
};

struct ImageCacheOptions {
  std::string dir = {};    ///< required; created (0700) with missing parents
  uint64_t max_bytes = 0;  ///< the bound on the bytes of all entries
  Clock* clock = nullptr;  ///< for the LRU times kept across restarts; nullptr = RealClock()
};

class ImageCache final {
 public:
  /// Opens (creating) the cache folder, empties tmp/ when no other process has it open,
  /// drops incomplete entries, loads the rest in their LRU order and evicts down to the bound.
  static Result<std::unique_ptr<ImageCache>> Open(ImageCacheOptions options);
  /// REQUIRES: no lease is alive.
  ~ImageCache();
  ImageCache(const ImageCache&) = delete;
  ImageCache& operator=(const ImageCache&) = delete;

  /// Writes the image to `path` (which does not exist yet; its folder does).
  using Fill = std::function<Result<FilledImage>(const std::string& path)>;

  /// The entry of `key`, pinned. On a miss, runs `fill` (once for all concurrent callers of
  /// one key: they wait and share its result, error included) and keeps what it wrote unless
  /// a newer version of the manifest is cached by then.
  /// Errors: those of `fill`, or the filesystem's.
  Result<std::shared_ptr<const ImageLease>> Get(const ImageKey& key, const Fill& fill);

  /// The size and SHA-256 of `key`'s entry when it is cached, without pinning it or counting a
  /// use (it may be evicted at any time).
  std::optional<FilledImage> Peek(const ImageKey& key) const;

  /// Reserves `bytes` for the fill writing `path` (REQUIRES: called by that fill, with the path
  /// it was given), evicting unpinned entries, least recently used first, until the entries,
  /// the other fills' reservations and `bytes` fit in the bound. The reservation counts
  /// against the bound until the fill ends, when the entry it made counts instead; an image
  /// larger than the bound reserves nothing. A fill calls it once it knows the size of what
  /// it will write (and trusts it); a second call replaces the first.
  void MakeRoom(const std::string& path, uint64_t bytes);

  /// The entry id of `key`: the first 32 hex digits of SHA-256(bucket NUL key NUL etag).
  static std::string EntryId(const ImageKey& key);

  /// Changes the bound and evicts down to it.
  void SetMaxBytes(uint64_t max_bytes);
  /// Bytes of all entries (pinned ones included).
  uint64_t bytes() const;
  /// Bytes reserved by fills in progress (MakeRoom).
  uint64_t reserved_bytes() const;
  /// Entry ids, least recently used first.
  std::vector<std::string> EntriesForTest() const;
  /// How many callers are waiting for another's fill of `key`.
  int WaitersForTest(const ImageKey& key) const;

 private:
  friend class ImageLease;
  using Entry = ImageLease::Entry;
  struct Flight;

  explicit ImageCache(ImageCacheOptions options);
  Status Load(bool reap);
  std::string ImagePath(const std::string& id) const;
  std::string MetaPath(const std::string& id) const;
  // The following REQUIRE mu_ held.
  Result<std::shared_ptr<const ImageLease>> PinLocked(const std::shared_ptr<Entry>& entry);
  void Touch(Entry& entry);
  void RemoveLocked(const std::string& id);
  // Forgets an entry without touching its files; whether it was there.
  bool DropLocked(const std::string& id);
  void TrimLocked(uint64_t incoming);
  void Unpin(Entry& entry);

  ImageCacheOptions options_;
  Clock& clock_;
  int lock_fd_ = -1;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;   // by id
  std::map<std::string, std::shared_ptr<Flight>> flights_;  // fills in progress, by id
  uint64_t bytes_ = 0;     // of the entries
  uint64_t reserved_ = 0;  // by fills in progress (Flight::reserved)
  uint64_t seq_ = 0;  // LRU clock
};

}  // namespace euca::walrus
