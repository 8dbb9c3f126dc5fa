#pragma once
// What clients of the object store need from it (the bundle commands today, image delivery
// later), on whichever side of the wire the store is (DESIGN.md §2): ObjectStore, with an
// embedded implementation over Walrus in this process (WalrusObjectStore, here) and a remote
// one that speaks S3 REST (S3Client, s3_client.h). Errors are the same Status either way: a
// code, the S3 wire code (NoSuchBucket, AccessDenied, ...) and the store's message.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/walrus/walrus.h"

namespace euca::walrus {

/// What HEAD, GET, PUT and listings report of a stored object.
struct StoredObject {
  std::string key;
  uint64_t size = 0;
  std::string etag;  ///< unquoted: the MD5 in hex for a single PUT, "<hex>-N" for multipart
  int64_t last_modified_ms = 0;  ///< HEAD, GET and listings (0 after a PUT: not reported)
};

/// Receives an object's bytes in order; an error stops the transfer and is returned.
using ObjectSink = std::function<Status(std::string_view piece)>;

/// Buckets and objects as one caller sees them. Implementations are thread-safe: the bundle
/// commands move several objects at once. Bodies stream both ways; no call holds a whole
/// object in memory.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  /// The names of the caller's account's buckets, by name.
  virtual Result<std::vector<std::string>> ListBuckets() = 0;
  /// Creates `bucket` with the location constraint `location` ("" none) and the canned ACL
  /// `canned_acl` ("" private). AlreadyExists (BucketAlreadyOwnedByYou, BucketAlreadyExists)
  /// when it exists.
  virtual Status CreateBucket(const std::string& bucket, const std::string& location,
                              const std::string& canned_acl) = 0;
  /// Ok when the bucket exists and the caller may read it; NotFound (NoSuchBucket) or
  /// PermissionDenied otherwise.
  virtual Status HeadBucket(const std::string& bucket) = 0;
  /// Deletes an empty bucket; Conflict (BucketNotEmpty) while it holds objects.
  virtual Status DeleteBucket(const std::string& bucket) = 0;

  /// Size and ETag of an object; NotFound (NoSuchKey or NoSuchBucket) when absent.
  virtual Result<StoredObject> HeadObject(const std::string& bucket, const std::string& key) = 0;
  /// Streams `body` into request.bucket/request.key. The object is replaced only when the
  /// whole body arrived and matched request.content_md5 and request.content_length
  /// (InvalidArgument, BadDigest or IncompleteBody, otherwise: the old object stays).
  virtual Result<StoredObject> PutObject(const PutObjectRequest& request, ByteSource& body) = 0;
  /// Streams the object to `sink`. The result's size is the number of bytes given to it.
  virtual Result<StoredObject> GetObject(const std::string& bucket, const std::string& key, const ObjectSink& sink) = 0;
  /// Every object whose key starts with `prefix`, by key (all pages).
  virtual Result<std::vector<StoredObject>> ListObjects(const std::string& bucket, const std::string& prefix) = 0;
  /// Deletes an object; deleting an absent key succeeds.
  virtual Status DeleteObject(const std::string& bucket, const std::string& key) = 0;
};

/// The embedded store: Walrus in this process, called as `caller`.
/// REQUIRES: `walrus` outlives this object.
class WalrusObjectStore final : public ObjectStore {
 public:
  WalrusObjectStore(Walrus& walrus, Caller caller) : walrus_(walrus), caller_(std::move(caller)) {}

  Result<std::vector<std::string>> ListBuckets() override;
  Status CreateBucket(const std::string& bucket, const std::string& location, const std::string& canned_acl) override;
  Status HeadBucket(const std::string& bucket) override;
  Status DeleteBucket(const std::string& bucket) override;
  Result<StoredObject> HeadObject(const std::string& bucket, const std::string& key) override;
  Result<StoredObject> PutObject(const PutObjectRequest& request, ByteSource& body) override;
  Result<StoredObject> GetObject(const std::string& bucket, const std::string& key, const ObjectSink& sink) override;
  Result<std::vector<StoredObject>> ListObjects(const std::string& bucket, const std::string& prefix) override;
  Status DeleteObject(const std::string& bucket, const std::string& key) override;

 private:
  Walrus& walrus_;
  const Caller caller_;
};

/// `etag` without its surrounding double quotes, if it has them.
std::string UnquoteEtag(std::string etag);

}  // namespace euca::walrus
