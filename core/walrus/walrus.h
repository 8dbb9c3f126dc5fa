#pragma once
// Walrus: the S3 semantics of the cloud's object store, without HTTP (DESIGN.md §1, §5;
// issue 4). Every call names its caller (a principal, or Caller::Anonymous()), checks access
// (acl.h), and answers typed results or a Status whose wire code is the S3 error code
// (NoSuchBucket, AccessDenied, ...; core/base/error_map.h gives the HTTP status). Bodies
// stream: a PUT reads from a ByteSource and writes through the backend; a GET returns an
// ObjectBody to read from; no call holds a whole object in memory.
//
// The REST server (a later step) parses a request into these calls and encodes their
// results; query-string encodings (encoding-type=url), response-* overrides, XML and
// authentication are its job.
//
// Thread-safe: Walrus keeps no mutable state of its own; the backend is thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/walrus/acl.h"
#include "core/walrus/checksum.h"
#include "core/walrus/rules.h"
#include "drivers/objects/backend.h"
#include "state/store.h"

namespace euca::walrus {

using objects::Pairs;

// Request structs that callers build with designated initializers give every field a default
// (`= {}`), so that leaving fields out compiles cleanly under -Wextra.

struct WalrusOptions {
  /// The region GetBucketLocation reports for buckets created without a constraint, and the
  /// only constraint CreateBucket accepts. Empty: every constraint is accepted and kept.
  std::string region;
  /// Smallest part size allowed for every part but the last (S3: 5 MiB; lower in tests).
  uint64_t min_part_size = 5ull << 20;
  /// Largest single PUT, part or copy (S3: 5 GiB).
  uint64_t max_object_size = 5ull << 30;
  int max_part_number = 10000;
  /// User metadata limit: names plus values, in bytes (S3: 2 KiB).
  size_t max_metadata_bytes = 2048;
  /// Streaming buffer size for PUT and copy.
  size_t buffer_size = 1 << 20;
  /// Admits a PutObject of `bytes` (its Content-Length; 0 when unknown) by the account
  /// `account_id` before anything is written, a CopyObject (the source's size) before the copy,
  /// and an UploadPart or UploadPartCopy (the part's size; the upload's owner) before the part
  /// is written; completing an upload adds nothing: the SLA storage quota
  /// (sla::StorageQuotaHook). `used` sums what the account's objects and the parts of its
  /// unfinished uploads hold now (costly: call it only when a quota applies). A failed Status refuses the PUT as is. Unset: every PUT is admitted.
  std::function<Status(const std::string& account_id, uint64_t bytes, const std::function<Result<uint64_t>()>& used)>
      admit_put = {};
};

/// A stream of request body bytes.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Reads up to `n` bytes into `buf`; 0 at the end of the stream.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  /// The additional checksum (x-amz-checksum-*) the stream's bytes were checked against,
  /// once it has been read to its end; nullopt if none (the default).
  virtual std::optional<StoredChecksum> VerifiedChecksum() const { return std::nullopt; }
};

/// A ByteSource over bytes in memory (small bodies, tests).
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  std::string data_;
  size_t pos_ = 0;
};

/// Stored response headers of an object besides ETag, size and dates.
struct ContentHeaders {
  std::string content_type;  ///< "" on PUT: binary/octet-stream
  std::string cache_control;
  std::string content_disposition;
  std::string content_encoding;
  std::string content_language;
  std::string expires;  ///< as given (an HTTP date)
  bool operator==(const ContentHeaders&) const = default;
};

/// What HEAD and GET report about an object.
struct ObjectInfo {
  std::string bucket;
  std::string key;
  uint64_t size = 0;
  std::string etag;  ///< quoted
  int64_t last_modified_ms = 0;
  ContentHeaders content;
  Pairs metadata;  ///< x-amz-meta-NAME: (NAME lower-cased, value)
  Owner owner;
  uint32_t parts_count = 0;  ///< 0 for single-part objects
  std::string version_id = "null";
  std::optional<StoredChecksum> checksum = {};  ///< the object's additional checksum, if stored
};

struct BucketInfo {
  std::string name;
  int64_t created_ms = 0;
};

struct ListBucketsResult {
  Owner owner;
  std::vector<BucketInfo> buckets;  ///< the caller's account's buckets, by name
};

struct CreateBucketRequest {
  std::string bucket;
  std::string location_constraint;
  std::string canned_acl;  ///< x-amz-acl; "" = private
  std::vector<Grant> grants = {};  ///< x-amz-grant-*: the ACL instead of a canned one
};

struct ListObjectsRequest {
  std::string bucket = {};
  std::string prefix = {};
  std::string delimiter = {};
  int max_keys = 1000;  ///< 0..; above 1000 means 1000
  bool v2 = false;
  // v1
  std::string marker = {};
  // v2
  std::optional<std::string> continuation_token = {};
  std::string start_after = {};  ///< ignored when a continuation token is given
};

struct ObjectSummary {
  std::string key;
  int64_t last_modified_ms = 0;
  std::string etag;
  uint64_t size = 0;
  Owner owner;  ///< v1 always shows it, v2 only with fetch-owner
  std::optional<StoredChecksum> checksum = {};  ///< listed as its algorithm and type
};

struct ListObjectsResult {
  std::vector<ObjectSummary> contents;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  int max_keys = 1000;                  ///< effective value
  std::string next_marker;              ///< v1: set when truncated and a delimiter was given
  std::string next_continuation_token;  ///< v2: set when truncated
  int key_count = 0;                    ///< v2: contents + common prefixes
};

struct ListObjectVersionsRequest {
  std::string bucket = {};
  std::string prefix = {};
  std::string delimiter = {};
  std::string key_marker = {};
  std::string version_id_marker = {};  ///< only with key_marker; "null" is the only version id
  int max_keys = 1000;
};

struct ObjectVersion {
  ObjectSummary object;
  std::string version_id = "null";
  bool is_latest = true;
};

struct ListObjectVersionsResult {
  std::vector<ObjectVersion> versions;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  int max_keys = 1000;
  std::string next_key_marker;
  std::string next_version_id_marker;
};

/// If-Match / If-None-Match of a write (PutObject, CopyObject's destination,
/// CompleteMultipartUpload), as the headers gave them: the write happens only if the key's
/// current version matches, decided in the commit itself (S3 conditional writes).
struct WriteConditions {
  std::optional<std::string> if_match = {};       ///< an ETag (quoted or not) or "*"; NoSuchKey without a version
  std::optional<std::string> if_none_match = {};  ///< "*" only (other values are NotImplemented)
};

struct PutObjectRequest {
  std::string bucket = {};
  std::string key = {};
  ContentHeaders content = {};
  Pairs metadata = {};                          ///< names without "x-amz-meta-"
  std::string canned_acl = {};                  ///< "" = private
  std::vector<Grant> grants = {};               ///< x-amz-grant-*: the ACL instead of a canned one
  std::optional<std::string> content_md5 = {};  ///< base64, as in the Content-MD5 header
  std::optional<uint64_t> content_length = {};  ///< when known: the body must be exactly this long
  WriteConditions conditions = {};              ///< checked before the body is read, and in the commit
};

struct PutObjectResult {
  std::string etag;
  int64_t last_modified_ms = 0;
  std::optional<StoredChecksum> checksum = {};  ///< stored with the object (the body's, verified)
};

struct GetObjectRequest {
  std::string bucket;
  std::string key;
  std::optional<std::string> range;  ///< Range header value
  Conditions conditions;
  /// ?partNumber=N: only part N of a multipart object (206), or the whole of a single-part
  /// object as its part 1; not with `range` (InvalidRequest), N past the parts is 416
  /// InvalidPartNumber.
  std::optional<int> part_number = {};
};

enum class GetStatus {
  kOk,              ///< 200, the whole object
  kPartialContent,  ///< 206, `range` of it
  kNotModified,     ///< 304, no body
};

/// The bytes a GET serves: a range of one version of the object. Not thread-safe.
class ObjectBody final : public ByteSource {
 public:
  ObjectBody(std::unique_ptr<objects::ObjectReader> reader, uint64_t offset, uint64_t length)
      : reader_(std::move(reader)), offset_(offset), remaining_(length) {}
  Result<size_t> Read(char* buf, size_t n) override;
  uint64_t remaining() const { return remaining_; }
  /// The files holding the bytes not yet read, for zero-copy sending; empty without files.
  /// Valid while this body lives.
  std::vector<objects::FileRange> FileRanges() const { return reader_->FileRanges(offset_, remaining_); }

 private:
  std::unique_ptr<objects::ObjectReader> reader_;
  uint64_t offset_;
  uint64_t remaining_;
};

struct GetObjectResult {
  GetStatus status = GetStatus::kOk;
  ObjectInfo info;
  std::optional<ByteRange> range;    ///< for 206: Content-Range bytes first-last/size
  uint64_t content_length = 0;       ///< bytes of the body (0 for 304)
  /// The stored checksum of what is served: the object's for a whole object, the part's for
  /// ?partNumber (a single-part object's own for part 1); none for a Range (as S3).
  std::optional<StoredChecksum> checksum;
  std::unique_ptr<ObjectBody> body;  ///< GetObject with 200/206 only
};

struct DeleteResult {
  std::string key;
  Status status;  ///< ok: deleted (or was absent)
};

enum class MetadataDirective { kCopy, kReplace };

struct CopyObjectRequest {
  std::string source_bucket;
  std::string source_key;
  std::string bucket;
  std::string key;
  MetadataDirective directive = MetadataDirective::kCopy;
  ContentHeaders content;        ///< kReplace only
  Pairs metadata;                ///< kReplace only
  std::string canned_acl;        ///< the copy's ACL ("" = private); never copied from the source
  std::vector<Grant> grants = {};  ///< x-amz-grant-*: the copy's ACL instead of a canned one
  Conditions source_conditions;  ///< x-amz-copy-source-if-*: any failure is 412
  WriteConditions conditions;    ///< If-Match / If-None-Match on the destination key
  /// x-amz-checksum-algorithm: the copy's checksum is computed in it over the copied bytes.
  /// Without it the copy keeps the source's checksum (a composite one is computed again, of
  /// the same algorithm, over the whole copy).
  std::optional<ChecksumAlgorithm> checksum_algorithm = {};
};

struct CopyObjectResult {
  std::string etag;
  int64_t last_modified_ms = 0;
  std::optional<StoredChecksum> checksum = {};  ///< the copy's (or the copied part's)
};

struct CreateMultipartUploadRequest {
  std::string bucket;
  std::string key;
  ContentHeaders content;
  Pairs metadata;
  std::string canned_acl;
  std::vector<Grant> grants = {};  ///< x-amz-grant-*: the ACL instead of a canned one
  /// x-amz-checksum-algorithm: every part carries a checksum of it (a FULL_OBJECT upload's
  /// parts may leave it to Walrus), and the object gets one derived from theirs.
  std::optional<ChecksumAlgorithm> checksum_algorithm = {};
  /// x-amz-checksum-type: "COMPOSITE" or "FULL_OBJECT" (CRCs only); "" is the algorithm's
  /// default (FULL_OBJECT for CRC64NVME, else COMPOSITE). Only with an algorithm.
  std::string checksum_type = {};
};

struct UploadPartRequest {
  std::string bucket;
  std::string key;
  std::string upload_id;
  int part_number = 0;
  std::optional<std::string> content_md5;
  std::optional<uint64_t> content_length;
  /// The algorithm of the checksum the body carries (header or trailer), known before the
  /// body is read so that a part of the wrong algorithm is refused unread.
  std::optional<ChecksumAlgorithm> checksum_algorithm = {};
};

struct UploadPartCopyRequest {
  std::string bucket;
  std::string key;
  std::string upload_id;
  int part_number = 0;
  std::string source_bucket;
  std::string source_key;
  std::optional<std::string> source_range;  ///< x-amz-copy-source-range: "bytes=first-last"
  Conditions source_conditions;
};

struct CompletedPart {
  int part_number = 0;
  std::string etag;                             ///< quoted or not
  std::optional<StoredChecksum> checksum = {};  ///< <ChecksumCRC32> ... as listed
};

struct CompleteMultipartUploadRequest {
  std::string bucket;
  std::string key;
  std::string upload_id;
  std::vector<CompletedPart> parts;
  WriteConditions conditions = {};
  /// x-amz-checksum-ALGORITHM on the request: the whole object's expected checksum (with or
  /// without "-N" for a composite one); a mismatch is BadDigest.
  std::optional<StoredChecksum> checksum = {};
  /// x-amz-checksum-type on the request: if given, the upload's type (else InvalidRequest).
  std::string checksum_type = {};
};

struct CompleteMultipartUploadResult {
  std::string bucket;
  std::string key;
  std::string etag;                             ///< "<md5 of part md5s>-N"
  std::optional<StoredChecksum> checksum = {};  ///< the object's, derived from its parts'
};

struct ListPartsRequest {
  std::string bucket;
  std::string key;
  std::string upload_id;
  int part_number_marker = 0;
  int max_parts = 1000;
};

struct PartInfo {
  int part_number = 0;
  int64_t last_modified_ms = 0;
  std::string etag;
  uint64_t size = 0;
  std::optional<StoredChecksum> checksum = {};
};

struct ListPartsResult {
  std::string bucket;
  std::string key;
  std::string upload_id;
  Owner initiator;
  Owner owner;
  int part_number_marker = 0;
  int next_part_number_marker = 0;
  int max_parts = 1000;
  bool truncated = false;
  std::vector<PartInfo> parts;
  std::optional<ChecksumAlgorithm> checksum_algorithm = {};  ///< the upload's
  std::string checksum_type = {};                            ///< the upload's, with an algorithm
};

struct GetObjectAttributesRequest {
  std::string bucket = {};
  std::string key = {};
  int max_parts = 1000;  ///< x-amz-max-parts
  int part_number_marker = 0;
};

struct ObjectPartInfo {
  int part_number = 0;
  uint64_t size = 0;
  std::optional<StoredChecksum> checksum = {};
};

/// GetObjectAttributes: what HEAD tells, and a multipart object's parts.
struct GetObjectAttributesResult {
  ObjectInfo info;
  uint32_t parts_count = 0;  ///< 0 for a single-part object
  int part_number_marker = 0;
  int next_part_number_marker = 0;
  int max_parts = 1000;
  bool truncated = false;
  /// The parts after the marker, at most max_parts, only when they have checksums (as S3).
  std::vector<ObjectPartInfo> parts;
};

struct ListMultipartUploadsRequest {
  std::string bucket = {};
  std::string prefix = {};
  std::string delimiter = {};
  std::string key_marker = {};
  std::string upload_id_marker = {};
  int max_uploads = 1000;
};

struct UploadInfo {
  std::string key;
  std::string upload_id;
  Owner initiator;
  Owner owner;
  int64_t initiated_ms = 0;
};

struct ListMultipartUploadsResult {
  std::vector<UploadInfo> uploads;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  int max_uploads = 1000;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

/// What an object or upload stores of its content headers and user metadata.
struct StoredContent {
  std::string content_type;  ///< never empty (binary/octet-stream by default)
  Pairs metadata;            ///< names lower-cased
  Pairs headers;             ///< the other stored response headers, as (name, value)
};

/// A new ACL: a canned name or a grant list (exactly one).
struct AclSpec {
  std::optional<std::string> canned = {};
  std::optional<Acl> acl = {};
};

class Walrus final {
 public:
  /// REQUIRES: `backend` and `clock` (and `accounts`, if given) outlive this object.
  /// `accounts` is the state store holding the cloud's accounts: with it, a grant to an
  /// account id must name an existing account (and takes its name as display name).
  Walrus(objects::ObjectBackend& backend, Clock& clock, WalrusOptions options = {},
         state::StateStore* accounts = nullptr);

  const WalrusOptions& options() const { return options_; }

  // Service and buckets.
  Result<ListBucketsResult> ListBuckets(const Caller& caller);
  Status CreateBucket(const Caller& caller, const CreateBucketRequest& request);
  /// Owner only. BucketNotEmpty while it holds objects; unfinished uploads are aborted.
  Status DeleteBucket(const Caller& caller, const std::string& bucket);
  /// READ on the bucket.
  Status HeadBucket(const Caller& caller, const std::string& bucket);
  /// x-amz-expected-bucket-owner: AccessDenied when `bucket` exists and an account other than
  /// `account_id` owns it. A missing bucket is left to the operation (NoSuchBucket).
  Status CheckExpectedOwner(const std::string& bucket, const std::string& account_id);
  /// Owner only. The location constraint ("" for the default region).
  Result<std::string> GetBucketLocation(const Caller& caller, const std::string& bucket);
  Result<ListObjectsResult> ListObjects(const Caller& caller, const ListObjectsRequest& request);
  /// These buckets are unversioned: every object once, version id "null", latest.
  Result<ListObjectVersionsResult> ListObjectVersions(const Caller& caller, const ListObjectVersionsRequest& request);

  // Objects.
  /// WRITE on the bucket. Streams `body`; the new version replaces the old only when whole
  /// and verified (Content-MD5 → BadDigest, length → IncompleteBody).
  Result<PutObjectResult> PutObject(const Caller& caller, const PutObjectRequest& request, ByteSource& body);
  /// PutObject whose caller does not wait for the metadata commit: the body is read and
  /// stored on this thread, then `done` gets the result once the object is durable, on the
  /// thread that completes the commit (this one, before returning, or another: the backend's
  /// group commit). Errors before the commit go to `done` too. `done` must not block.
  void PutObjectAsync(const Caller& caller, const PutObjectRequest& request, ByteSource& body,
                      std::function<void(Result<PutObjectResult>)> done);
  /// READ on the object. Conditions first (412 PreconditionFailed, or kNotModified), then Range.
  Result<GetObjectResult> GetObject(const Caller& caller, const GetObjectRequest& request);
  /// GetObject without a body.
  Result<GetObjectResult> HeadObject(const Caller& caller, const GetObjectRequest& request);
  /// READ on the object, as HeadObject.
  Result<GetObjectAttributesResult> GetObjectAttributes(const Caller& caller,
                                                        const GetObjectAttributesRequest& request);
  /// WRITE on the bucket. Idempotent: deleting an absent key succeeds.
  Status DeleteObject(const Caller& caller, const std::string& bucket, const std::string& key);
  /// 1 to 1,000 keys (else MalformedXML); one result per key, in order.
  Result<std::vector<DeleteResult>> DeleteObjects(const Caller& caller, const std::string& bucket,
                                                  const std::vector<std::string>& keys);
  /// READ on the source object, WRITE on the destination bucket.
  Result<CopyObjectResult> CopyObject(const Caller& caller, const CopyObjectRequest& request);

  // Multipart uploads.
  Result<std::string> CreateMultipartUpload(const Caller& caller, const CreateMultipartUploadRequest& request);
  Result<std::string> UploadPart(const Caller& caller, const UploadPartRequest& request, ByteSource& body);
  Result<CopyObjectResult> UploadPartCopy(const Caller& caller, const UploadPartCopyRequest& request);
  Result<CompleteMultipartUploadResult> CompleteMultipartUpload(const Caller& caller,
                                                                const CompleteMultipartUploadRequest& request);
  Status AbortMultipartUpload(const Caller& caller, const std::string& bucket, const std::string& key,
                              const std::string& upload_id);
  Result<ListPartsResult> ListParts(const Caller& caller, const ListPartsRequest& request);
  Result<ListMultipartUploadsResult> ListMultipartUploads(const Caller& caller,
                                                          const ListMultipartUploadsRequest& request);

  // Configurations Walrus keeps none of (tagging, CORS, policies, ...: every request to set one
  // is refused), which S3 clients still read and delete.
  /// Owner only, as S3's default for a bucket's configurations: NoSuchBucket, AccessDenied.
  Status CheckBucketOwner(const Caller& caller, const std::string& bucket);
  /// `permission` on an existing object: NoSuchBucket, NoSuchKey, AccessDenied.
  Status CheckObjectAccess(const Caller& caller, const std::string& bucket, const std::string& key,
                           Permission permission);

  // ACLs.
  Result<Acl> GetBucketAcl(const Caller& caller, const std::string& bucket);
  Status PutBucketAcl(const Caller& caller, const std::string& bucket, const AclSpec& spec);
  Result<Acl> GetObjectAcl(const Caller& caller, const std::string& bucket, const std::string& key);
  Status PutObjectAcl(const Caller& caller, const std::string& bucket, const std::string& key, const AclSpec& spec);

 private:
  struct Written {
    objects::BlobRef blob;
    std::string md5;                          // raw 16 bytes
    std::optional<StoredChecksum> checksum;  // verified (a body's) or computed (a copy's)
  };

  /// The storage-quota check (admit_put) of `bytes` more for a part of `upload`.
  Status AdmitPart(const objects::UploadRecord& upload, uint64_t bytes);
  /// Bytes of the objects the account `account_id` owns, in every bucket, and of the parts
  /// of its unfinished multipart uploads (for admit_put).
  Result<uint64_t> StoredBytes(const std::string& account_id);
  /// The bucket, if `caller` holds `permission` on it (nullopt: owner only).
  Result<objects::BucketRecord> BucketFor(const Caller& caller, const std::string& bucket,
                                          std::optional<Permission> permission);
  /// Opens an object for reading: READ on it; NoSuchKey only to those who may list the bucket.
  Result<std::unique_ptr<objects::ObjectReader>> OpenForRead(const Caller& caller, const std::string& bucket,
                                                             const std::string& key, Permission permission);
  /// Opens the source of a copy: READ on it, then its x-amz-copy-source-if-* conditions (any
  /// failure is 412 PreconditionFailed).
  Result<std::unique_ptr<objects::ObjectReader>> OpenCopySource(const Caller& caller, const std::string& bucket,
                                                                const std::string& key, const Conditions& conditions);
  Result<GetObjectResult> Get(const Caller& caller, const GetObjectRequest& request, bool with_body);
  /// Streams `body` into a new blob: size limit, exact length, Content-MD5; the checksum is
  /// the body's verified one.
  Result<Written> WriteBlob(ByteSource& body, const std::optional<std::string>& content_md5,
                            const std::optional<uint64_t>& content_length);
  /// Copies `length` bytes at `offset` of `reader` into a new blob, computing a checksum of
  /// `algorithm` over them if given.
  Result<Written> CopyBlob(objects::ObjectReader& reader, uint64_t offset, uint64_t length,
                           std::optional<ChecksumAlgorithm> algorithm = std::nullopt);
  /// Makes `written` the new version of `key` in `bucket`, owned by `caller`, with `acl`
  /// (PutObject and CopyObject). On failure the blob is the backend's to reap.
  Result<objects::ObjectRecord> CommitObject(const Caller& caller, const objects::BucketRecord& bucket,
                                             const std::string& key, Written written, StoredContent content,
                                             const Acl& acl, objects::WriteCondition condition);
  /// The backend's form of `conditions`, checked once against the key's current version so
  /// that a write bound to fail fails before it reads or copies any data (the commit checks
  /// again).
  Result<objects::WriteCondition> EarlyWriteCheck(const std::string& bucket, const std::string& key,
                                                  const WriteConditions& conditions);
  /// The record CommitObject stores.
  objects::ObjectRecord NewObjectRecord(const Caller& caller, const objects::BucketRecord& bucket,
                                        const std::string& key, Written written, StoredContent content, const Acl& acl);
  /// Everything of PutObject before the commit: checks, admission, the body stored as a blob.
  Result<objects::ObjectRecord> PreparePut(const Caller& caller, const PutObjectRequest& request, ByteSource& body);
  Result<objects::UploadRecord> UploadFor(const Caller& caller, const std::string& bucket, const std::string& key,
                                          const std::string& upload_id, Permission permission);
  Status CheckMetadata(const Pairs& metadata) const;
  /// The ACL to store for `spec` on a resource owned by `owner` in a bucket owned by `bucket_owner`.
  Result<Acl> AclFor(const AclSpec& spec, const Owner& owner, const Owner& bucket_owner);
  /// MakeCannedAcl, with the cloud's system account read from the account store when the
  /// canned ACL grants it (InvalidArgument when there is no such account or no store).
  Result<Acl> CannedAclFor(CannedAcl canned, const Owner& owner, const Owner& bucket_owner);
  /// The ACL of a new bucket, object or upload: from x-amz-grant-* `grants` when there are
  /// any, else the canned ACL `canned` ("" = private). Both given is InvalidRequest.
  Result<Acl> NewAclFor(const std::string& canned, const std::vector<Grant>& grants, const Owner& owner,
                        const Owner& bucket_owner);
  Owner OwnerOf(const Caller& caller) const;

  objects::ObjectBackend& backend_;
  Clock& clock_;
  WalrusOptions options_;
  state::StateStore* accounts_;
};

/// The ObjectInfo of a stored record.
ObjectInfo InfoOf(const objects::ObjectRecord& record);

}  // namespace euca::walrus
