// The image cache's files (docs/walrus-format.md, "Image cache"):
//   <id>.img   the raw image (sparse)
//   <id>.json  what it is; written after the image is in place, so an entry exists iff both do;
//              its mtime is the entry's last use (LRU order across restarts)
//   tmp/       fills in progress: <id>-<random>.img, one name per fill
//   LOCK       flock: every opener holds it shared while open; one that gets it exclusively
//              at open (no other process has the cache open) reaps tmp/ first
// POSIX calls stay in this file (directory listing, flock, utimensat); image bytes move
// through bundles/file_io.

#include "core/walrus/image_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/api/digest.h"
#include "core/base/env.h"
#include "core/base/random.h"

namespace euca::walrus {

struct ImageLease::Entry {
  std::string id;
  ImageKey key;
  uint64_t size = 0;
  std::string sha256;
  int pins = 0;
  uint64_t last_used = 0;  // ImageCache::seq_ at the last use
  bool removed = false;
};

struct ImageCache::Flight {
  bool done = false;
  Status status;
  std::shared_ptr<const ImageLease> lease;  // the filled entry, shared with the waiters
  std::string staging;                      // the path the fill writes
  uint64_t reserved = 0;                    // bytes of ImageCache::reserved_ that are this fill's
  int waiters = 0;
  std::condition_variable cv;
};

namespace {

constexpr int kMetaFormat = 1;

bool IsEntryId(const std::string& s) {
  return s.size() == 32 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<std::vector<std::string>> ListNames(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus("list '" + dir + "'", errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

int64_t MtimeMillis(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

void SetMtimeMillis(const std::string& path, int64_t ms) {
  struct timespec times[2];
  times[0].tv_sec = ms / 1000;
  times[0].tv_nsec = (ms % 1000) * 1'000'000;
  times[1] = times[0];
  (void)::utimensat(AT_FDCWD, path.c_str(), times, 0);  // a hint for the next start only
}

std::string MetaJson(const ImageLease::Entry& e, int64_t now_ms) {
  nlohmann::ordered_json j = {{"format", kMetaFormat},
                              {"bucket", api::Hex(e.key.bucket)},
                              {"key", api::Hex(e.key.key)},
                              {"etag", api::Hex(e.key.etag)},
                              {"modified_ms", e.key.modified_ms},
                              {"size", e.size},
                              {"sha256", e.sha256},
                              {"created_ms", now_ms}};
  return j.dump() + "\n";
}

Result<std::string> Unhex(const std::string& hex) {
  if (hex.size() % 2 != 0) return InvalidArgument("odd hex");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (int k = 0; k < 2; ++k) {
      char c = hex[i + k];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return InvalidArgument("bad hex");
      v = v * 16 + d;
    }
    out.push_back(static_cast<char>(v));
  }
  return out;
}

// The entry described by a metadata file, or an error if it is not one of ours.
Result<ImageLease::Entry> ParseMeta(const std::string& id, const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("format", 0) != kMetaFormat) return InvalidArgument("not an entry");
  ImageLease::Entry e;
  e.id = id;
  try {
    EUCA_ASSIGN_OR_RETURN(e.key.bucket, Unhex(j.at("bucket").get<std::string>()));
    EUCA_ASSIGN_OR_RETURN(e.key.key, Unhex(j.at("key").get<std::string>()));
    EUCA_ASSIGN_OR_RETURN(e.key.etag, Unhex(j.at("etag").get<std::string>()));
    e.key.modified_ms = j.value("modified_ms", int64_t{0});  // entries written before it was kept: 0
    e.size = j.at("size").get<uint64_t>();
    e.sha256 = j.at("sha256").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return InvalidArgument("not an entry");
  }
  if (ImageCache::EntryId(e.key) != id) return InvalidArgument("entry id does not match its key");
  return e;
}

}  // namespace

// ---- ImageLease ------------------------------------------------------------------------

ImageLease::~ImageLease() { cache_->Unpin(*entry_); }
const std::string& ImageLease::id() const { return entry_->id; }
uint64_t ImageLease::size() const { return entry_->size; }
const std::string& ImageLease::sha256() const { return entry_->sha256; }
Result<size_t> ImageLease::ReadAt(uint64_t offset, char* buf, size_t n) const {
  if (offset >= entry_->size) return size_t{0};
  return file_.ReadAt(offset, buf, static_cast<size_t>(std::min<uint64_t>(n, entry_->size - offset)));
}

// ---- ImageCache ------------------------------------------------------------------------

ImageCache::ImageCache(ImageCacheOptions options)
    : options_(std::move(options)), clock_(options_.clock != nullptr ? *options_.clock : RealClock()) {}

ImageCache::~ImageCache() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string ImageCache::EntryId(const ImageKey& key) {
  std::string text = key.bucket;
  text.push_back('\0');
  text += key.key;
  text.push_back('\0');
  text += key.etag;
  return api::Sha256Hex(text).substr(0, 32);
}

std::string ImageCache::ImagePath(const std::string& id) const { return options_.dir + "/" + id + ".img"; }
std::string ImageCache::MetaPath(const std::string& id) const { return options_.dir + "/" + id + ".json"; }

Result<std::unique_ptr<ImageCache>> ImageCache::Open(ImageCacheOptions options) {
  if (options.dir.empty()) return InvalidArgument("no image cache folder given");
  std::unique_ptr<ImageCache> cache(new ImageCache(std::move(options)));
  const std::string& dir = cache->options_.dir;
  EUCA_RETURN_IF_ERROR(PosixEnv().CreateDirs(dir + "/tmp", 0700));
  const std::string lock = dir + "/LOCK";
  cache->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (cache->lock_fd_ < 0) return ErrnoStatus("open '" + lock + "'", errno);
  // Sole opener: reap, then hold the lock shared like everyone else, so that no later opener
  // finds itself sole (and reaps our fills) while we live.
  bool sole = ::flock(cache->lock_fd_, LOCK_EX | LOCK_NB) == 0;
  EUCA_RETURN_IF_ERROR(cache->Load(sole));
  while (::flock(cache->lock_fd_, LOCK_SH) != 0) {
    if (errno != EINTR) return ErrnoStatus("lock '" + lock + "'", errno);
  }
  return cache;
}

Status ImageCache::Load(bool reap) {
  const std::string& dir = options_.dir;
  if (reap) {
    EUCA_ASSIGN_OR_RETURN(auto leftovers, ListNames(dir + "/tmp"));
    for (const auto& name : leftovers) bundles::RemoveQuietly(dir + "/tmp/" + name);
  }
  EUCA_ASSIGN_OR_RETURN(auto names, ListNames(dir));
  std::vector<std::pair<int64_t, std::shared_ptr<Entry>>> found;
  for (const auto& name : names) {
    size_t dot = name.find('.');
    std::string id = name.substr(0, dot);
    std::string ext = dot == std::string::npos ? "" : name.substr(dot);
    if (IsEntryId(id) && ext.rfind(".json.tmp-", 0) == 0) {  // a metadata write cut short
      if (reap) bundles::RemoveQuietly(dir + "/" + name);
      continue;
    }
    if (!IsEntryId(id) || (ext != ".img" && ext != ".json")) continue;  // not ours: left alone
    auto image_size = bundles::FileSize(ImagePath(id));
    auto text = PosixEnv().ReadFile(MetaPath(id));
    Result<Entry> entry = text.ok() ? ParseMeta(id, *text) : Result<Entry>(text.status());
    bool complete = entry.ok() && image_size.ok() && *image_size == entry->size;
    if (!complete) {
      if (reap) {  // an image renamed in but never described, or a description without its image
        bundles::RemoveQuietly(ImagePath(id));
        bundles::RemoveQuietly(MetaPath(id));
      }
      continue;
    }
    if (ext != ".img") continue;  // each entry once
    found.emplace_back(MtimeMillis(MetaPath(id)), std::make_shared<Entry>(std::move(entry).value()));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->id < b.second->id;
  });
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [ms, e] : found) {
    e->last_used = ++seq_;
    bytes_ += e->size;
    entries_[e->id] = e;
  }
  TrimLocked(0);
  return Status::Ok();
}

Result<std::shared_ptr<const ImageLease>> ImageCache::PinLocked(const std::shared_ptr<Entry>& entry) {
  EUCA_ASSIGN_OR_RETURN(bundles::File f, bundles::File::OpenRead(ImagePath(entry->id)));
  ++entry->pins;
  Touch(*entry);
  return std::shared_ptr<const ImageLease>(new ImageLease(this, entry, std::move(f)));
}

void ImageCache::Touch(Entry& entry) {
  entry.last_used = ++seq_;
  SetMtimeMillis(MetaPath(entry.id), clock_.NowMillis());
}

void ImageCache::Unpin(Entry& entry) {
  std::lock_guard<std::mutex> lock(mu_);
  --entry.pins;
  if (entry.pins == 0 && !entry.removed) TrimLocked(0);
}

void ImageCache::RemoveLocked(const std::string& id) {
  if (!DropLocked(id)) return;
  // Open leases keep reading the unlinked image through their descriptors.
  bundles::RemoveQuietly(MetaPath(id));
  bundles::RemoveQuietly(ImagePath(id));
}

bool ImageCache::DropLocked(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  it->second->removed = true;
  bytes_ -= it->second->size;
  entries_.erase(it);
  return true;
}

void ImageCache::TrimLocked(uint64_t incoming) {
  // An entry larger than the whole bound is kept only while it is read and does not push the
  // others out: it goes as soon as it is unpinned, and is not counted against the bound.
  const uint64_t max = options_.max_bytes;
  if (incoming > max) incoming = 0;
  uint64_t oversized_pinned = 0;
  std::vector<std::string> oversized;
  for (const auto& [id, e] : entries_) {
    if (e->size <= max) continue;
    if (e->pins > 0)
      oversized_pinned += e->size;
    else
      oversized.push_back(id);
  }
  for (const auto& id : oversized) RemoveLocked(id);
  // Then the least recently used entries, skipping those being read, until the entries, the
  // fills in progress and `incoming` fit.
  while (bytes_ - oversized_pinned + reserved_ + incoming > max) {
    std::shared_ptr<Entry> victim;
    for (const auto& [id, e] : entries_)
      if (e->pins == 0 && (!victim || e->last_used < victim->last_used)) victim = e;
    if (!victim) return;  // everything left is being read
    RemoveLocked(victim->id);
  }
}

Result<std::shared_ptr<const ImageLease>> ImageCache::Get(const ImageKey& key, const Fill& fill) {
  const std::string id = EntryId(key);
  std::shared_ptr<Flight> flight;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      auto it = entries_.find(id);
      if (it != entries_.end()) {
        auto lease = PinLocked(it->second);
        if (lease.ok() || lease.status().code() != Code::kNotFound) return lease;
        // Evicted by another process sharing the folder: forget it and fill again.
        DropLocked(id);
        continue;
      }
      auto f = flights_.find(id);
      if (f == flights_.end()) break;
      std::shared_ptr<Flight> other = f->second;
      ++other->waiters;
      other->cv.wait(lock, [&] { return other->done; });
      --other->waiters;
      if (!other->status.ok()) return other->status;
      if (other->lease) return other->lease;  // what it filled, even if no longer kept
    }
    flight = std::make_shared<Flight>();
    // A name of its own: another process may be filling the same id.
    flight->staging = options_.dir + "/tmp/" + id + "-" + RandomHex(16) + ".img";
    flights_[id] = flight;
  }

  const std::string& staging = flight->staging;
  Result<FilledImage> filled = fill(staging);
  std::shared_ptr<const ImageLease> pinned;
  Status status;
  if (!filled.ok()) {
    status = filled.status();
  } else {
    auto size = bundles::FileSize(staging);
    if (!size.ok()) {
      status = size.status().WithContext("image cache fill");
    } else if (*size != filled->size) {
      status = Internal("image cache fill wrote " + std::to_string(*size) + " bytes but reported " +
                        std::to_string(filled->size));
    } else {
      status = bundles::RenamePath(staging, ImagePath(id));
    }
  }
  auto entry = std::make_shared<Entry>();
  entry->id = id;
  entry->key = key;
  if (status.ok()) {
    entry->size = filled->size;
    entry->sha256 = filled->sha256;
    status = PosixEnv().WriteFileAtomic(MetaPath(id), MetaJson(*entry, clock_.NowMillis()), 0600);
    if (!status.ok()) bundles::RemoveQuietly(ImagePath(id));
  }
  bundles::RemoveQuietly(staging);

  std::lock_guard<std::mutex> lock(mu_);
  // The reservation ends; the entry, if kept, counts instead.
  reserved_ -= flight->reserved;
  flight->reserved = 0;
  if (status.ok()) {
    // One version of a manifest is kept: the one modified last. The images of older versions
    // go (their readers keep their descriptors); a fill of an older version that ends after
    // a newer one's serves its callers but is not kept. (Same time: the fill ending last wins.)
    std::vector<std::string> stale;
    bool superseded = false;
    for (const auto& [other_id, e] : entries_) {
      if (other_id == id || e->key.bucket != key.bucket || e->key.key != key.key) continue;
      if (e->key.modified_ms > key.modified_ms)
        superseded = true;
      else
        stale.push_back(other_id);
    }
    for (const auto& s : stale) RemoveLocked(s);
    entries_[id] = entry;
    bytes_ += entry->size;
    auto lease = PinLocked(entry);
    if (lease.ok())
      pinned = *lease;
    else
      status = lease.status();
    if (superseded) RemoveLocked(id);
    TrimLocked(0);
  }
  flight->done = true;
  flight->status = status;
  flight->lease = pinned;
  flights_.erase(id);
  flight->cv.notify_all();
  if (!status.ok()) return status;
  return pinned;
}

std::optional<FilledImage> ImageCache::Peek(const ImageKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(EntryId(key));
  if (it == entries_.end()) return std::nullopt;
  return FilledImage{it->second->size, it->second->sha256};
}

void ImageCache::MakeRoom(const std::string& path, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  Flight* flight = nullptr;
  for (const auto& [id, f] : flights_)
    if (f->staging == path) flight = f.get();
  if (flight != nullptr) {  // a second call replaces the first
    reserved_ -= flight->reserved;
    flight->reserved = 0;
  }
  TrimLocked(bytes);
  if (flight != nullptr && bytes <= options_.max_bytes) {  // a larger image is not counted (TrimLocked)
    flight->reserved = bytes;
    reserved_ += bytes;
  }
}

uint64_t ImageCache::reserved_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reserved_;
}

void ImageCache::SetMaxBytes(uint64_t max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.max_bytes = max_bytes;
  TrimLocked(0);
}

uint64_t ImageCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

std::vector<std::string> ImageCache::EntriesForTest() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Entry>> all;
  for (const auto& [id, e] : entries_) all.push_back(e);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
  std::vector<std::string> ids;
  for (const auto& e : all) ids.push_back(e->id);
  return ids;
}

int ImageCache::WaitersForTest(const ImageKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = flights_.find(EntryId(key));
  return it == flights_.end() ? 0 : it->second->waiters;
}

}  // namespace euca::walrus
