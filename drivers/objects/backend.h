#pragma once
// ObjectBackend: the storage seam of Walrus (CONVENTIONS.md "Seams"). It stores buckets,
// objects, multipart uploads and their parts, and knows nothing of S3 rules: access
// checks, ETags, listing with delimiters and ACL semantics live in core/walrus.
//
// Data lives in blobs: immutable byte strings named by a random id, never by a key, so no
// key (`../`, NULs, 1,024 bytes, Unicode) can reach a path. A write streams into a
// BlobWriter (a temporary file for the filesystem backend); Commit() makes the blob durable
// under its final name; then one metadata call (PutObject, PutPart, CompleteUpload) makes it
// referenced, atomically replacing what the key held before. A blob that is committed but
// never referenced (the process died in between) is reaped when the store is next opened.
// A reader opened on an object sees one whole version, never a mix; the last completed
// metadata call wins. There is no write locking. Formats: docs/walrus-format.md.
//
// Every implementation is thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace euca::objects {

/// Name/value pairs kept in order (user metadata, stored response headers).
using Pairs = std::vector<std::pair<std::string, std::string>>;

/// A committed blob: immutable bytes under a random id.
struct BlobRef {
  BlobRef() = default;
  BlobRef(std::string id, uint64_t size, bool in_db = false, std::shared_ptr<const std::string> data = nullptr)
      : id(std::move(id)), size(size), in_db(in_db), data(std::move(data)) {}
  std::string id;  ///< 32 lower-case hex digits
  uint64_t size = 0;
  /// A small blob a backend keeps in its metadata store instead of a file of its own
  /// (FsBackend, docs/walrus-format.md). `data` carries its bytes from Commit to the
  /// PutObject that stores them; a BlobRef read back from the store has `in_db` and no data.
  bool in_db = false;
  std::shared_ptr<const std::string> data;
  /// Equal when they name the same bytes: where they are kept does not matter.
  bool operator==(const BlobRef& o) const { return id == o.id && size == o.size; }
};

struct BucketRecord {
  std::string name;
  std::string owner_id;    ///< account id
  std::string owner_name;  ///< account name (S3 DisplayName)
  std::string location;    ///< location constraint given at creation ("" = default)
  std::string acl;         ///< opaque to the backend; Walrus keeps JSON here
  int64_t created_ms = 0;
};

/// What a write asks of the key's current version (S3 conditional writes), checked in the
/// same transaction that makes the new version current, so that of two racing writes with
/// `if_absent` exactly one succeeds. The default asks nothing.
struct WriteCondition {
  bool if_absent = false;               ///< If-None-Match: *; PreconditionFailed if the key holds a version
  std::optional<std::string> if_etag = {};  ///< If-Match: the current version's ETag (quoted) or "*" (any);
                                        ///< NoSuchKey if none, PreconditionFailed if another
  bool empty() const { return !if_absent && !if_etag; }
};

/// One object: the current (only) version of a key.
struct ObjectRecord {
  std::string bucket;
  std::string key;    ///< opaque bytes
  uint64_t size = 0;  ///< set by the backend: the sum of the blob sizes
  std::string etag;   ///< as S3 shows it, quotes included
  std::string content_type;
  Pairs metadata;  ///< user metadata (x-amz-meta-NAME without the prefix)
  Pairs headers;   ///< stored response headers (cache-control, ...)
  std::string owner_id;
  std::string owner_name;
  std::string acl;  ///< opaque
  int64_t modified_ms = 0;
  std::string generation;      ///< set by the backend: random hex, new for each version
  uint32_t parts = 0;          ///< 0 for a single PUT; N for an object completed from N parts
  std::vector<BlobRef> blobs;  ///< the content, in order
  /// The additional checksum stored with the object (S3 x-amz-checksum-*), opaque to the
  /// backend: Walrus keeps "ALGORITHM:base64" ("-N" appended for a composite of N parts); ""
  /// for none.
  std::string checksum = {};
  /// A multipart object's part checksums (base64, in part order) when it has a checksum.
  std::vector<std::string> part_checksums = {};
  /// PutObject and CompleteUpload only: the write's condition on the version it replaces.
  /// Not stored; empty in every record a backend returns.
  WriteCondition condition = {};
};

struct UploadRecord {
  std::string upload_id;  ///< unique; chosen by the caller
  std::string bucket;
  std::string key;
  std::string owner_id;  ///< the account that will own the object
  std::string owner_name;
  std::string initiator_id;  ///< the user who started the upload
  std::string initiator_name;
  std::string content_type;
  Pairs metadata;
  Pairs headers;
  std::string acl;
  int64_t initiated_ms = 0;
  std::string checksum_algorithm = {};  ///< "CRC32" ... as created; "" for none (opaque)
  std::string checksum_type = {};       ///< "COMPOSITE" or "FULL_OBJECT" with an algorithm (opaque)
};

struct PartRecord {
  int part_number = 0;
  BlobRef blob;
  std::string etag;
  int64_t modified_ms = 0;
  std::string checksum = {};  ///< "ALGORITHM:base64", or "" (opaque, as ObjectRecord::checksum)
};

/// Keys to list: those starting with `prefix`, from `start`, in byte order (memcmp),
/// at most `limit`.
struct ListRange {
  std::string prefix;
  std::string start;
  bool start_inclusive = false;
  size_t limit = 1000;
};

/// Streams one new blob. Not thread-safe. Destroying a writer that was not committed aborts it.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Write(std::string_view chunk) = 0;
  /// Bytes written so far.
  virtual uint64_t size() const = 0;
  /// Makes the blob durable under its final name (fsync, rename). Nothing references it
  /// yet: hand it to PutObject or PutPart, which own it from then on.
  virtual Result<BlobRef> Commit() = 0;
  /// Drops what was written. Safe to call more than once.
  virtual void Abort() = 0;
};

/// One version of one object, opened whole: later writes to the key do not change what it
/// reads. Thread-safe (positional reads).
/// Bytes of an open file: `length` bytes at `offset` of descriptor `fd`.
struct FileRange {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
};

class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  virtual const ObjectRecord& record() const = 0;
  /// Reads up to `n` bytes at `offset` of the object; returns the count, 0 at the end.
  virtual Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) = 0;
  /// The open files holding bytes [offset, offset + length) of this version, in order, so that
  /// a server may send them without copying (sendfile). The descriptors stay open, and the
  /// version readable, while the reader lives. Empty when the reader has no files (a fake).
  virtual std::vector<FileRange> FileRanges(uint64_t /*offset*/, uint64_t /*length*/) const { return {}; }
};

/// Errors: NotFound with wire code NoSuchBucket, NoSuchKey or NoSuchUpload; AlreadyExists
/// "BucketAlreadyExists"; Conflict "BucketNotEmpty"; OS and SQLite errors as Internal (or
/// ResourceExhausted for a full disk) naming the file.
class ObjectBackend {
 public:
  virtual ~ObjectBackend() = default;

  // Buckets.
  /// AlreadyExists if the name is taken (by anyone).
  virtual Status CreateBucket(const BucketRecord& bucket) = 0;
  virtual Result<BucketRecord> GetBucket(const std::string& name) = 0;
  /// All buckets, ordered by name.
  virtual Result<std::vector<BucketRecord>> ListBuckets() = 0;
  virtual Status SetBucketAcl(const std::string& name, const std::string& acl) = 0;
  /// Conflict (BucketNotEmpty) while it holds objects; unfinished uploads are dropped.
  virtual Status DeleteBucket(const std::string& name) = 0;

  // Objects.
  /// A writer for a new blob.
  virtual Result<std::unique_ptr<BlobWriter>> NewBlob() = 0;
  /// Makes `record` (with `blobs` committed by BlobWriter::Commit) the key's current
  /// version; the old version's blobs are deleted. Takes ownership of the blobs: on any
  /// error they are deleted and the key keeps its old version. Returns the stored record
  /// (size and generation set).
  virtual Result<ObjectRecord> PutObject(ObjectRecord record) = 0;
  /// PutObject without waiting for the metadata commit: `done` gets what PutObject would
  /// return, once the object is durable (or has failed), on whichever thread completes the
  /// commit: this one before returning (the default), or another (the filesystem backend's
  /// group commit, which never commits on the caller's thread).
  /// `done` must not block. The default runs PutObject and then `done`.
  virtual void PutObjectAsync(ObjectRecord record, std::function<void(Result<ObjectRecord>)> done) {
    done(PutObject(std::move(record)));
  }
  virtual Result<ObjectRecord> GetObject(const std::string& bucket, const std::string& key) = 0;
  /// Opens the key's current version for reading.
  virtual Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& bucket, const std::string& key) = 0;
  /// Replaces the object's ACL; if `generation` is set and the key now holds another
  /// version, Conflict and nothing changes.
  virtual Status SetObjectAcl(const std::string& bucket, const std::string& key, const std::string& acl,
                              const std::optional<std::string>& generation) = 0;
  /// Objects in `range`, in key byte order. NoSuchBucket if the bucket is missing.
  virtual Result<std::vector<ObjectRecord>> ListObjects(const std::string& bucket, const ListRange& range) = 0;
  /// Removes the key; false if it held nothing.
  virtual Result<bool> DeleteObject(const std::string& bucket, const std::string& key) = 0;

  // Multipart uploads.
  /// NoSuchBucket if the bucket is missing; AlreadyExists if the upload id is taken.
  virtual Status CreateUpload(const UploadRecord& upload) = 0;
  virtual Result<UploadRecord> GetUpload(const std::string& upload_id) = 0;
  /// Uploads of the bucket whose key starts with `prefix`, ordered by key, then upload id.
  virtual Result<std::vector<UploadRecord>> ListUploads(const std::string& bucket, const std::string& prefix) = 0;
  /// Adds or replaces a part. Owns `part.blob` as PutObject owns its blobs; it may store it
  /// under another id (ListParts tells which).
  virtual Status PutPart(const std::string& upload_id, PartRecord part) = 0;
  /// Parts ordered by number.
  virtual Result<std::vector<PartRecord>> ListParts(const std::string& upload_id) = 0;
  /// Atomically makes `record` the object of the upload's bucket and key and ends the
  /// upload. `record.blobs` must be blobs of parts of this upload as ListParts returned them
  /// (Conflict if a part was replaced since); parts left out are deleted.
  virtual Result<ObjectRecord> CompleteUpload(const std::string& upload_id, ObjectRecord record) = 0;
  /// Ends the upload and deletes its parts.
  virtual Status AbortUpload(const std::string& upload_id) = 0;
};

/// The S3-shaped errors the backends return (shared so Walrus and the fakes agree).
Status NoSuchBucket(const std::string& bucket);
Status NoSuchKey(const std::string& bucket, const std::string& key);
Status NoSuchUpload(const std::string& upload_id);
/// Checks `condition` against `current`, the key's version (nullopt: none): Ok, NoSuchKey
/// or PreconditionFailed (Conflict, 412).
Status CheckWriteCondition(const WriteCondition& condition, const std::optional<ObjectRecord>& current,
                           const std::string& bucket, const std::string& key);

/// A new blob id: 32 random lower-case hex digits.
std::string NewBlobId();
/// True if `name` has the shape of a blob id.
bool IsBlobId(std::string_view name);

/// The smallest string greater than every string that starts with `prefix`, or nullopt if
/// none exists (the prefix is empty or all 0xff bytes).
std::optional<std::string> PrefixSuccessor(std::string_view prefix);

/// A key for messages: printable ASCII kept, other bytes as \xNN, cut at 100 bytes.
std::string PrintableKey(std::string_view key);

}  // namespace euca::objects
