#include "drivers/objects/memory_backend.h"

#include <algorithm>
#include <cstring>

#include "core/base/random.h"

namespace euca::objects {

class MemoryBlobWriter final : public BlobWriter {
 public:
  explicit MemoryBlobWriter(MemoryBackend* backend) : backend_(backend) {}
  ~MemoryBlobWriter() override { Abort(); }

  Status Write(std::string_view chunk) override {
    if (done_) return Internal("write to a finished blob writer");
    data_.append(chunk);
    return Status::Ok();
  }
  uint64_t size() const override { return data_.size(); }

  Result<BlobRef> Commit() override {
    if (done_) return Internal("commit of a finished blob writer");
    done_ = true;
    BlobRef ref{NewBlobId(), data_.size()};
    std::lock_guard lock(backend_->mu_);
    backend_->blobs_[ref.id] = std::make_shared<const std::string>(std::move(data_));
    --backend_->open_writers_;
    return ref;
  }

  void Abort() override {
    if (done_) return;
    done_ = true;
    data_.clear();
    std::lock_guard lock(backend_->mu_);
    --backend_->open_writers_;
  }

 private:
  MemoryBackend* backend_;
  std::string data_;
  bool done_ = false;
};

namespace {

class MemoryReader final : public ObjectReader {
 public:
  MemoryReader(ObjectRecord record, std::vector<std::shared_ptr<const std::string>> blobs)
      : record_(std::move(record)), blobs_(std::move(blobs)) {}
  const ObjectRecord& record() const override { return record_; }
  Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
    size_t done = 0;
    uint64_t base = 0;
    for (const auto& blob : blobs_) {
      if (done == n) break;
      uint64_t end = base + blob->size();
      if (offset + done < end) {
        uint64_t in = offset + done - base;
        size_t take = static_cast<size_t>(std::min<uint64_t>(n - done, blob->size() - in));
        std::memcpy(buf + done, blob->data() + in, take);
        done += take;
      }
      base = end;
    }
    return done;
  }

 private:
  ObjectRecord record_;
  std::vector<std::shared_ptr<const std::string>> blobs_;
};

bool StartsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

Status MemoryBackend::CreateBucket(const BucketRecord& bucket) {
  std::lock_guard lock(mu_);
  if (buckets_.count(bucket.name))
    return Status(Code::kAlreadyExists, "bucket '" + bucket.name + "' already exists", "BucketAlreadyExists");
  buckets_[bucket.name] = bucket;
  return Status::Ok();
}

Result<BucketRecord> MemoryBackend::GetBucket(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return NoSuchBucket(name);
  return it->second;
}

Result<std::vector<BucketRecord>> MemoryBackend::ListBuckets() {
  std::lock_guard lock(mu_);
  std::vector<BucketRecord> out;
  for (const auto& [name, b] : buckets_) out.push_back(b);
  return out;
}

Status MemoryBackend::SetBucketAcl(const std::string& name, const std::string& acl) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return NoSuchBucket(name);
  it->second.acl = acl;
  return Status::Ok();
}

Status MemoryBackend::DeleteBucket(const std::string& name) {
  std::lock_guard lock(mu_);
  if (!buckets_.count(name)) return NoSuchBucket(name);
  auto objs = objects_.find(name);
  if (objs != objects_.end() && !objs->second.empty())
    return Status(Code::kConflict, "bucket '" + name + "' is not empty; delete its objects first", "BucketNotEmpty");
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    if (it->second.record.bucket == name) {
      for (const auto& [n, p] : it->second.parts) blobs_.erase(p.blob.id);
      it = uploads_.erase(it);
    } else {
      ++it;
    }
  }
  buckets_.erase(name);
  objects_.erase(name);
  return Status::Ok();
}

Result<std::unique_ptr<BlobWriter>> MemoryBackend::NewBlob() {
  std::lock_guard lock(mu_);
  ++open_writers_;
  return std::unique_ptr<BlobWriter>(new MemoryBlobWriter(this));
}

void MemoryBackend::DropBlobsLocked(const std::vector<BlobRef>& blobs) {
  for (const auto& b : blobs) blobs_.erase(b.id);
}

Status MemoryBackend::CheckBlobsLocked(const std::vector<BlobRef>& blobs) {
  for (const auto& b : blobs) {
    auto it = blobs_.find(b.id);
    if (it == blobs_.end() || it->second->size() != b.size)
      return Internal("blob '" + b.id + "' was not committed with size " + std::to_string(b.size));
  }
  return Status::Ok();
}

Result<ObjectRecord> MemoryBackend::PutObject(ObjectRecord record) {
  std::lock_guard lock(mu_);
  if (!buckets_.count(record.bucket)) {
    DropBlobsLocked(record.blobs);
    return NoSuchBucket(record.bucket);
  }
  if (Status s = CheckBlobsLocked(record.blobs); !s.ok()) {
    DropBlobsLocked(record.blobs);
    return s;
  }
  if (Status s = CheckConditionLocked(record); !s.ok()) {
    DropBlobsLocked(record.blobs);
    return s;
  }
  record.size = 0;
  for (const auto& b : record.blobs) record.size += b.size;
  record.generation = RandomHex(16);
  record.condition = {};
  auto& slot = objects_[record.bucket][record.key];
  DropBlobsLocked(slot.blobs);
  slot = record;
  return record;
}

Status MemoryBackend::CheckConditionLocked(const ObjectRecord& record) {
  std::optional<ObjectRecord> current;
  auto b = objects_.find(record.bucket);
  if (b != objects_.end()) {
    auto o = b->second.find(record.key);
    if (o != b->second.end()) current = o->second;
  }
  return CheckWriteCondition(record.condition, current, record.bucket, record.key);
}

Result<ObjectRecord> MemoryBackend::GetObject(const std::string& bucket, const std::string& key) {
  std::lock_guard lock(mu_);
  if (!buckets_.count(bucket)) return NoSuchBucket(bucket);
  auto& objs = objects_[bucket];
  auto it = objs.find(key);
  if (it == objs.end()) return NoSuchKey(bucket, key);
  return it->second;
}

Result<std::unique_ptr<ObjectReader>> MemoryBackend::OpenObject(const std::string& bucket, const std::string& key) {
  std::lock_guard lock(mu_);
  if (!buckets_.count(bucket)) return NoSuchBucket(bucket);
  auto& objs = objects_[bucket];
  auto it = objs.find(key);
  if (it == objs.end()) return NoSuchKey(bucket, key);
  std::vector<std::shared_ptr<const std::string>> data;
  for (const auto& b : it->second.blobs) data.push_back(blobs_.at(b.id));
  return std::unique_ptr<ObjectReader>(new MemoryReader(it->second, std::move(data)));
}

Status MemoryBackend::SetObjectAcl(const std::string& bucket, const std::string& key, const std::string& acl,
                                   const std::optional<std::string>& generation) {
  std::lock_guard lock(mu_);
  if (!buckets_.count(bucket)) return NoSuchBucket(bucket);
  auto& objs = objects_[bucket];
  auto it = objs.find(key);
  if (it == objs.end()) return NoSuchKey(bucket, key);
  if (generation && it->second.generation != *generation)
    return Status(Code::kConflict, "object '" + PrintableKey(key) + "' changed meanwhile; retry", "OperationAborted");
  it->second.acl = acl;
  return Status::Ok();
}

Result<std::vector<ObjectRecord>> MemoryBackend::ListObjects(const std::string& bucket, const ListRange& range) {
  std::lock_guard lock(mu_);
  if (!buckets_.count(bucket)) return NoSuchBucket(bucket);
  auto& objs = objects_[bucket];
  const std::string& from = range.start > range.prefix ? range.start : range.prefix;
  bool inclusive = range.start > range.prefix ? range.start_inclusive : true;
  if (range.start == range.prefix) inclusive = range.start_inclusive;
  auto it = inclusive ? objs.lower_bound(from) : objs.upper_bound(from);
  std::vector<ObjectRecord> out;
  for (; it != objs.end() && out.size() < range.limit; ++it) {
    if (!StartsWith(it->first, range.prefix)) break;
    out.push_back(it->second);
  }
  return out;
}

Result<bool> MemoryBackend::DeleteObject(const std::string& bucket, const std::string& key) {
  std::lock_guard lock(mu_);
  if (!buckets_.count(bucket)) return NoSuchBucket(bucket);
  auto& objs = objects_[bucket];
  auto it = objs.find(key);
  if (it == objs.end()) return false;
  DropBlobsLocked(it->second.blobs);
  objs.erase(it);
  return true;
}

Status MemoryBackend::CreateUpload(const UploadRecord& upload) {
  std::lock_guard lock(mu_);
  if (!buckets_.count(upload.bucket)) return NoSuchBucket(upload.bucket);
  if (uploads_.count(upload.upload_id)) return AlreadyExists("upload id '" + upload.upload_id + "' is taken");
  uploads_[upload.upload_id] = Upload{upload, {}};
  return Status::Ok();
}

Result<UploadRecord> MemoryBackend::GetUpload(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return NoSuchUpload(upload_id);
  return it->second.record;
}

Result<std::vector<UploadRecord>> MemoryBackend::ListUploads(const std::string& bucket, const std::string& prefix) {
  std::lock_guard lock(mu_);
  if (!buckets_.count(bucket)) return NoSuchBucket(bucket);
  std::vector<UploadRecord> out;
  for (const auto& [id, u] : uploads_)
    if (u.record.bucket == bucket && StartsWith(u.record.key, prefix)) out.push_back(u.record);
  std::sort(out.begin(), out.end(), [](const UploadRecord& a, const UploadRecord& b) {
    return std::tie(a.key, a.upload_id) < std::tie(b.key, b.upload_id);
  });
  return out;
}

Status MemoryBackend::PutPart(const std::string& upload_id, PartRecord part) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) {
    DropBlobsLocked({part.blob});
    return NoSuchUpload(upload_id);
  }
  if (Status s = CheckBlobsLocked({part.blob}); !s.ok()) {
    DropBlobsLocked({part.blob});
    return s;
  }
  auto& slot = it->second.parts[part.part_number];
  if (!slot.blob.id.empty()) DropBlobsLocked({slot.blob});
  slot = part;
  return Status::Ok();
}

Result<std::vector<PartRecord>> MemoryBackend::ListParts(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return NoSuchUpload(upload_id);
  std::vector<PartRecord> out;
  for (const auto& [n, p] : it->second.parts) out.push_back(p);
  return out;
}

Result<ObjectRecord> MemoryBackend::CompleteUpload(const std::string& upload_id, ObjectRecord record) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return NoSuchUpload(upload_id);
  Upload& upload = it->second;
  if (!buckets_.count(upload.record.bucket)) return NoSuchBucket(upload.record.bucket);
  std::map<std::string, bool> used;
  for (const auto& [n, p] : upload.parts) used[p.blob.id] = false;
  for (const auto& b : record.blobs) {
    auto u = used.find(b.id);
    if (u == used.end() || u->second)
      return Status(Code::kConflict, "a part of upload '" + upload_id + "' was replaced meanwhile; retry",
                    "OperationAborted");
    u->second = true;
  }
  record.bucket = upload.record.bucket;
  record.key = upload.record.key;
  EUCA_RETURN_IF_ERROR(CheckConditionLocked(record));
  for (const auto& [id, taken] : used)
    if (!taken) blobs_.erase(id);
  record.size = 0;
  for (const auto& b : record.blobs) record.size += b.size;
  record.generation = RandomHex(16);
  record.condition = {};
  auto& slot = objects_[record.bucket][record.key];
  DropBlobsLocked(slot.blobs);
  slot = record;
  uploads_.erase(it);
  return record;
}

Status MemoryBackend::AbortUpload(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return NoSuchUpload(upload_id);
  for (const auto& [n, p] : it->second.parts) blobs_.erase(p.blob.id);
  uploads_.erase(it);
  return Status::Ok();
}

size_t MemoryBackend::BlobCountForTest() {
  std::lock_guard lock(mu_);
  return blobs_.size();
}

size_t MemoryBackend::OpenWritersForTest() {
  std::lock_guard lock(mu_);
  return open_writers_;
}

}  // namespace euca::objects
