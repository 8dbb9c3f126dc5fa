#pragma once
// An in-memory ObjectBackend for unit tests of Walrus logic: the same contract as the
// filesystem backend, without durability. Thread-safe (one mutex; blob bytes are shared
// immutable strings, so readers keep their version while writers replace it).

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "drivers/objects/backend.h"

namespace euca::objects {

class MemoryBackend final : public ObjectBackend {
 public:
  Status CreateBucket(const BucketRecord& bucket) override;
  Result<BucketRecord> GetBucket(const std::string& name) override;
  Result<std::vector<BucketRecord>> ListBuckets() override;
  Status SetBucketAcl(const std::string& name, const std::string& acl) override;
  Status DeleteBucket(const std::string& name) override;

  Result<std::unique_ptr<BlobWriter>> NewBlob() override;
  Result<ObjectRecord> PutObject(ObjectRecord record) override;
  Result<ObjectRecord> GetObject(const std::string& bucket, const std::string& key) override;
  Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& bucket, const std::string& key) override;
  Status SetObjectAcl(const std::string& bucket, const std::string& key, const std::string& acl,
                      const std::optional<std::string>& generation) override;
  Result<std::vector<ObjectRecord>> ListObjects(const std::string& bucket, const ListRange& range) override;
  Result<bool> DeleteObject(const std::string& bucket, const std::string& key) override;

  Status CreateUpload(const UploadRecord& upload) override;
  Result<UploadRecord> GetUpload(const std::string& upload_id) override;
  Result<std::vector<UploadRecord>> ListUploads(const std::string& bucket, const std::string& prefix) override;
  Status PutPart(const std::string& upload_id, PartRecord part) override;
  Result<std::vector<PartRecord>> ListParts(const std::string& upload_id) override;
  Result<ObjectRecord> CompleteUpload(const std::string& upload_id, ObjectRecord record) override;
  Status AbortUpload(const std::string& upload_id) override;

  /// Committed blobs, referenced or not: tests check that nothing leaks.
  size_t BlobCountForTest();
  /// Writers open (neither committed nor aborted).
  size_t OpenWritersForTest();

 private:
  friend class MemoryBlobWriter;
  using Blob = std::shared_ptr<const std::string>;
  struct Upload {
    UploadRecord record;
    std::map<int, PartRecord> parts;
  };

  void DropBlobsLocked(const std::vector<BlobRef>& blobs);
  Status CheckBlobsLocked(const std::vector<BlobRef>& blobs);
  /// CheckWriteCondition of `record` against the key's current version.
  Status CheckConditionLocked(const ObjectRecord& record);

  std::mutex mu_;
  std::map<std::string, BucketRecord> buckets_;
  std::map<std::string, std::map<std::string, ObjectRecord>> objects_;  // bucket -> key -> record
  std::map<std::string, Upload> uploads_;
  std::map<std::string, Blob> blobs_;
  size_t open_writers_ = 0;
};

}  // namespace euca::objects
