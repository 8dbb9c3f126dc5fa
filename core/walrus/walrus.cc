#include "core/walrus/walrus.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/api/encoding.h"
#include "core/base/random.h"
#include "core/base/strings.h"
#include "core/walrus/listing.h"
#include "core/walrus/body_pipeline.h"

namespace euca::walrus {
namespace {

constexpr char kDefaultContentType[] = "binary/octet-stream";
constexpr size_t kMaxDeleteKeys = 1000;
constexpr int kMaxListEntries = 1000;
constexpr size_t kMaxGrants = 100;

Status AccessDenied(const Caller& caller, const std::string& what) {
  return Status(Code::kPermissionDenied, "access denied: " + caller.ToString() + " may not " + what, "AccessDenied");
}

// What a permission lets one do, for messages: "alice@acme may not <verb> bucket 'b'".
std::string_view Verb(Permission p) {
  switch (p) {
    case Permission::kRead:
      return "read";
    case Permission::kWrite:
      return "write to";
    case Permission::kReadAcp:
      return "read the ACL of";
    case Permission::kWriteAcp:
      return "change the ACL of";
    case Permission::kFullControl:
      return "control";
  }
  return "access";
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string ObjectName(const std::string& bucket, const std::string& key) {
  return "'" + bucket + "/" + objects::PrintableKey(key) + "'";
}

// Stored response headers (content type is a column of its own).
constexpr std::pair<const char*, std::string ContentHeaders::*> kStoredHeaders[] = {
    {"cache-control", &ContentHeaders::cache_control},
    {"content-disposition", &ContentHeaders::content_disposition},
    {"content-encoding", &ContentHeaders::content_encoding},
    {"content-language", &ContentHeaders::content_language},
    {"expires", &ContentHeaders::expires},
};

Pairs HeadersToPairs(const ContentHeaders& h) {
  Pairs out;
  for (const auto& [name, field] : kStoredHeaders)
    if (!(h.*field).empty()) out.emplace_back(name, h.*field);
  return out;
}

ContentHeaders PairsToHeaders(const std::string& content_type, const Pairs& pairs) {
  ContentHeaders h;
  h.content_type = content_type;
  for (const auto& [n, v] : pairs)
    for (const auto& [name, field] : kStoredHeaders)
      if (n == name) h.*field = v;
  return h;
}

Pairs LowerNames(const Pairs& metadata) {
  Pairs out;
  for (const auto& [n, v] : metadata) out.emplace_back(AsciiLower(n), v);
  return out;
}

// What an object (or upload) stores of a request's content headers and user metadata.
StoredContent StoreContent(const ContentHeaders& content, const Pairs& metadata) {
  return {content.content_type.empty() ? kDefaultContentType : content.content_type, LowerNames(metadata),
          HeadersToPairs(content)};
}

Result<int> EffectiveMax(int value, const char* name) {
  if (value < 0) return S3Error(Code::kInvalidArgument, std::string(name) + " must be 0 or more", "InvalidArgument");
  return std::min(value, kMaxListEntries);
}

ObjectSummary SummaryOf(const objects::ObjectRecord& r) {
  return {r.key, r.modified_ms, r.etag, r.size, {r.owner_id, r.owner_name}, ParseStoredChecksum(r.checksum)};
}

// Upload ids sort by initiation time: 12 hex digits of milliseconds, then 20 random.
std::string NewUploadId(int64_t now_ms) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012" PRIx64, static_cast<uint64_t>(now_ms & 0xffffffffffff));
  return std::string(buf) + RandomHex(20);
}


/// What NewAclFor checks before it needs the owners: one form of ACL, a known canned name.
Status CheckNewAcl(const std::string& canned, const std::vector<Grant>& grants) {
  if (!grants.empty() && !canned.empty())
    return S3Error(Code::kInvalidArgument,
                   "specifying both a canned ACL (x-amz-acl) and grant headers (x-amz-grant-*) is not allowed",
                   "InvalidRequest");
  return ParseCannedAcl(canned).status();
}

}  // namespace

Result<size_t> StringSource::Read(char* buf, size_t n) {
  size_t take = std::min(n, data_.size() - pos_);
  std::memcpy(buf, data_.data() + pos_, take);
  pos_ += take;
  return take;
}

Result<size_t> ObjectBody::Read(char* buf, size_t n) {
  n = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
  if (n == 0) return size_t{0};
  EUCA_ASSIGN_OR_RETURN(size_t got, reader_->ReadAt(offset_, buf, n));
  if (got == 0)
    return Internal("object '" + objects::PrintableKey(reader_->record().key) + "' is shorter than recorded");
  offset_ += got;
  remaining_ -= got;
  return got;
}

ObjectInfo InfoOf(const objects::ObjectRecord& r) {
  ObjectInfo info;
  info.bucket = r.bucket;
  info.key = r.key;
  info.size = r.size;
  info.etag = r.etag;
  info.last_modified_ms = r.modified_ms;
  info.content = PairsToHeaders(r.content_type, r.headers);
  info.metadata = r.metadata;
  info.owner = {r.owner_id, r.owner_name};
  info.parts_count = r.parts;
  info.checksum = ParseStoredChecksum(r.checksum);
  return info;
}

Walrus::Walrus(objects::ObjectBackend& backend, Clock& clock, WalrusOptions options, state::StateStore* accounts)
    : backend_(backend), clock_(clock), options_(std::move(options)), accounts_(accounts) {
  if (options_.buffer_size == 0) options_.buffer_size = 1 << 20;
}

Owner Walrus::OwnerOf(const Caller& caller) const {
  if (caller.anonymous()) return {kAnonymousOwnerId, "anonymous"};
  return {caller.principal().account_id, caller.principal().account_name};
}

Status Walrus::CheckMetadata(const Pairs& metadata) const {
  size_t bytes = 0;
  for (const auto& [n, v] : metadata) {
    if (n.empty()) return S3Error(Code::kInvalidArgument, "a metadata name must not be empty", "InvalidArgument");
    bytes += n.size() + v.size();
  }
  if (bytes > options_.max_metadata_bytes)
    return S3Error(Code::kInvalidArgument,
                   "user metadata is " + std::to_string(bytes) + " bytes; the limit is " +
                       std::to_string(options_.max_metadata_bytes),
                   "MetadataTooLarge");
  return Status::Ok();
}

Result<objects::BucketRecord> Walrus::BucketFor(const Caller& caller, const std::string& bucket,
                                                std::optional<Permission> permission) {
  EUCA_ASSIGN_OR_RETURN(auto b, backend_.GetBucket(bucket));
  if (!permission) {
    if (caller.anonymous() || caller.account_id() != b.owner_id)
      return AccessDenied(caller, "manage bucket '" + bucket + "' (only its owner may)");
    return b;
  }
  EUCA_ASSIGN_OR_RETURN(Acl acl, AclFromJson(b.acl));
  if (!Allows(acl, caller, *permission))
    return AccessDenied(caller, std::string(Verb(*permission)) + " bucket '" + bucket + "'");
  return b;
}

Result<std::unique_ptr<objects::ObjectReader>> Walrus::OpenForRead(const Caller& caller, const std::string& bucket,
                                                                   const std::string& key, Permission permission) {
  EUCA_RETURN_IF_ERROR(ValidateKey(key));
  EUCA_ASSIGN_OR_RETURN(auto b, backend_.GetBucket(bucket));
  auto reader = backend_.OpenObject(bucket, key);
  if (!reader.ok()) {
    // Only those who may list the bucket learn that a key is absent (as S3 does).
    if (reader.status().wire_code() == "NoSuchKey") {
      EUCA_ASSIGN_OR_RETURN(Acl bucket_acl, AclFromJson(b.acl));
      if (!Allows(bucket_acl, caller, Permission::kRead))
        return AccessDenied(caller, "read " + ObjectName(bucket, key));
    }
    return reader.status();
  }
  EUCA_ASSIGN_OR_RETURN(Acl acl, AclFromJson((*reader)->record().acl));
  if (!Allows(acl, caller, permission))
    return AccessDenied(caller, std::string(Verb(permission)) + " " + ObjectName(bucket, key));
  return std::move(reader).value();
}

Result<std::unique_ptr<objects::ObjectReader>> Walrus::OpenCopySource(const Caller& caller, const std::string& bucket,
                                                                      const std::string& key,
                                                                      const Conditions& conditions) {
  EUCA_ASSIGN_OR_RETURN(auto reader, OpenForRead(caller, bucket, key, Permission::kRead));
  const objects::ObjectRecord& src = reader->record();
  if (EvaluateConditions(conditions, src.etag, src.modified_ms, clock_.NowMillis()) != Precondition::kProceed)
    return PreconditionFailed("a copy-source precondition failed for " + ObjectName(bucket, key) + " (ETag " +
                              src.etag + ")");
  return reader;
}

// Service and buckets.

Result<ListBucketsResult> Walrus::ListBuckets(const Caller& caller) {
  if (caller.anonymous()) return AccessDenied(caller, "list buckets; sign the request");
  EUCA_ASSIGN_OR_RETURN(auto all, backend_.ListBuckets());
  ListBucketsResult out;
  out.owner = OwnerOf(caller);
  for (const auto& b : all)
    if (b.owner_id == caller.account_id()) out.buckets.push_back({b.name, b.created_ms});
  return out;
}

Status Walrus::CreateBucket(const Caller& caller, const CreateBucketRequest& req) {
  if (caller.anonymous()) return AccessDenied(caller, "create buckets; sign the request");
  EUCA_RETURN_IF_ERROR(ValidateBucketName(req.bucket));
  EUCA_RETURN_IF_ERROR(CheckNewAcl(req.canned_acl, req.grants));
  if (!options_.region.empty() && !req.location_constraint.empty() && req.location_constraint != options_.region)
    return S3Error(Code::kInvalidArgument,
                   "location constraint " + Quote(req.location_constraint) + " is not this cloud's region " +
                       Quote(options_.region),
                   "InvalidLocationConstraint");
  auto taken = [&](const objects::BucketRecord& b) {
    if (b.owner_id == caller.account_id())
      return S3Error(Code::kAlreadyExists, "you already own bucket " + Quote(req.bucket), "BucketAlreadyOwnedByYou");
    return S3Error(Code::kAlreadyExists,
                   "bucket name " + Quote(req.bucket) + " is taken by another account; choose another name",
                   "BucketAlreadyExists");
  };
  if (auto existing = backend_.GetBucket(req.bucket); existing.ok()) return taken(*existing);
  Owner owner = OwnerOf(caller);
  EUCA_ASSIGN_OR_RETURN(Acl acl, NewAclFor(req.canned_acl, req.grants, owner, owner));
  objects::BucketRecord rec{.name = req.bucket,
                            .owner_id = owner.id,
                            .owner_name = owner.display_name,
                            .location = req.location_constraint,
                            .acl = AclToJson(acl),
                            .created_ms = clock_.NowMillis()};
  Status s = backend_.CreateBucket(rec);
  if (s.code() == Code::kAlreadyExists) {  // lost a race with another creator
    if (auto existing = backend_.GetBucket(req.bucket); existing.ok()) return taken(*existing);
  }
  return s;
}

Status Walrus::DeleteBucket(const Caller& caller, const std::string& bucket) {
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, bucket, std::nullopt));
  return backend_.DeleteBucket(b.name);
}

Status Walrus::HeadBucket(const Caller& caller, const std::string& bucket) {
  return BucketFor(caller, bucket, Permission::kRead).status();
}

Status Walrus::CheckExpectedOwner(const std::string& bucket, const std::string& account_id) {
  auto b = backend_.GetBucket(bucket);
  if (!b.ok()) return b.status().code() == Code::kNotFound ? Status::Ok() : b.status();
  if (b->owner_id != account_id)
    return S3Error(
        Code::kPermissionDenied,
        "access denied: bucket " + Quote(bucket) + " is not owned by the expected account " + Quote(account_id),
        "AccessDenied");
  return Status::Ok();
}

Result<std::string> Walrus::GetBucketLocation(const Caller& caller, const std::string& bucket) {
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, bucket, std::nullopt));
  return b.location.empty() ? options_.region : b.location;
}

Result<ListObjectsResult> Walrus::ListObjects(const Caller& caller, const ListObjectsRequest& req) {
  EUCA_ASSIGN_OR_RETURN(int max_keys, EffectiveMax(req.max_keys, "max-keys"));
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, req.bucket, Permission::kRead));
  std::string after = req.marker;
  if (req.v2) {
    if (req.continuation_token) {
      EUCA_ASSIGN_OR_RETURN(after, DecodeContinuationToken(*req.continuation_token));
    } else {
      after = req.start_after;
    }
  }
  auto fetch = [&](const objects::ListRange& r) { return backend_.ListObjects(b.name, r); };
  EUCA_ASSIGN_OR_RETURN(ListPage page,
                        ListEntries(fetch, req.prefix, req.delimiter, after, static_cast<size_t>(max_keys)));
  ListObjectsResult out;
  out.max_keys = max_keys;
  for (const auto& r : page.objects) out.contents.push_back(SummaryOf(r));
  out.common_prefixes = std::move(page.common_prefixes);
  out.truncated = page.truncated;
  out.key_count = static_cast<int>(out.contents.size() + out.common_prefixes.size());
  if (page.truncated) {
    if (req.v2) {
      out.next_continuation_token = EncodeContinuationToken(page.last);
    } else if (!req.delimiter.empty()) {
      out.next_marker = page.last;
    }
  }
  return out;
}

Result<ListObjectVersionsResult> Walrus::ListObjectVersions(const Caller& caller,
                                                            const ListObjectVersionsRequest& req) {
  EUCA_ASSIGN_OR_RETURN(int max_keys, EffectiveMax(req.max_keys, "max-keys"));
  if (!req.version_id_marker.empty()) {
    if (req.key_marker.empty())
      return S3Error(Code::kInvalidArgument, "a version-id-marker cannot be given without a key-marker",
                     "InvalidArgument");
    if (req.version_id_marker != "null")
      return S3Error(Code::kInvalidArgument,
                     "invalid version id " + Quote(req.version_id_marker) + "; this bucket is not versioned",
                     "InvalidArgument");
  }
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, req.bucket, Permission::kRead));
  auto fetch = [&](const objects::ListRange& r) { return backend_.ListObjects(b.name, r); };
  EUCA_ASSIGN_OR_RETURN(ListPage page,
                        ListEntries(fetch, req.prefix, req.delimiter, req.key_marker, static_cast<size_t>(max_keys)));
  ListObjectVersionsResult out;
  out.max_keys = max_keys;
  for (const auto& r : page.objects) out.versions.push_back({SummaryOf(r), "null", true});
  out.common_prefixes = std::move(page.common_prefixes);
  out.truncated = page.truncated;
  if (page.truncated) {
    out.next_key_marker = page.last;
    if (!page.objects.empty() && page.objects.back().key == page.last) out.next_version_id_marker = "null";
  }
  return out;
}

// Objects.

Result<Walrus::Written> Walrus::WriteBlob(ByteSource& body, const std::optional<std::string>& content_md5,
                                          const std::optional<uint64_t>& content_length) {
  std::optional<std::string> expected;
  if (content_md5) {
    EUCA_ASSIGN_OR_RETURN(expected, DecodeContentMd5(*content_md5));
  }
  auto too_large = [&] {
    return S3Error(Code::kInvalidArgument,
                   "the body is larger than the limit of " + std::to_string(options_.max_object_size) +
                       " bytes; use a multipart upload",
                   "EntityTooLarge");
  };
  if (content_length && *content_length > options_.max_object_size) return too_large();
  EUCA_ASSIGN_OR_RETURN(auto writer, backend_.NewBlob());
  size_t buf_size = options_.buffer_size;
  if (content_length) buf_size = static_cast<size_t>(std::clamp<uint64_t>(*content_length + 1, 4096, buf_size));
  // A large body (32 buffers or more, or of unknown length) is hashed and written on two more
  // threads (BodyPipeline) while this one receives; a smaller one is hashed and written
  // inline, where threads would cost more than they save (concurrent multipart parts run in
  // parallel anyway). `pipeline` is declared after `writer`, so it stops before `writer` goes.
  constexpr uint64_t kPipelineBuffers = 32;
  const bool pipelined =
      !content_length || *content_length >= kPipelineBuffers * static_cast<uint64_t>(options_.buffer_size);
  std::optional<BodyPipeline> pipeline;
  std::optional<Md5> md5;
  // Page-aligned like the pipeline's, so that a blob writer using O_DIRECT needs no copy.
  struct FreeAligned {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, FreeAligned> inline_buf;
  if (pipelined) {
    // 16 buffers (16 MiB): the disk's and the hash's pace both vary (on a shared VM by
    // milliseconds per MiB), and with 4 the three threads waited on each other for a fifth of
    // a 1 GiB PUT.
    constexpr size_t kSlots = 16;
    pipeline.emplace(buf_size, [w = writer.get()](std::string_view chunk) { return w->Write(chunk); }, kSlots);
  } else {
    md5.emplace();
    constexpr size_t kAlign = BodyPipeline::kBufferAlign;
    inline_buf.reset(static_cast<char*>(std::aligned_alloc(kAlign, (buf_size + kAlign - 1) / kAlign * kAlign)));
    if (!inline_buf) return ResourceExhausted("no memory for a request body buffer");
  }
  uint64_t total = 0;
  for (bool ended = false; !ended;) {
    char* buf = inline_buf.get();
    if (pipelined) {
      EUCA_ASSIGN_OR_RETURN(buf, pipeline->Next());
    }
    // A whole buffer per hand-over, even from a source that gives less per read (aws-chunked
    // decoding gives a chunk at a time): fewer hand-overs, and whole aligned blocks that the
    // blob writer can give the disk without staging them.
    size_t n = 0;
    while (n < buf_size) {
      EUCA_ASSIGN_OR_RETURN(size_t got, body.Read(buf + n, buf_size - n));
      if (got == 0) {
        ended = true;
        break;
      }
      n += got;
    }
    if (n == 0) break;
    total += n;
    if (total > options_.max_object_size) return too_large();
    if (content_length && total > *content_length)
      return S3Error(Code::kInvalidArgument,
                     "the body is longer than its Content-Length of " + std::to_string(*content_length),
                     "IncompleteBody");
    if (pipelined) {
      pipeline->Submit(n);
    } else {
      md5->Update(std::string_view(buf, n));
      EUCA_RETURN_IF_ERROR(writer->Write(std::string_view(buf, n)));
    }
  }
  if (content_length && total != *content_length)
    return S3Error(
        Code::kInvalidArgument,
        "the body ended after " + std::to_string(total) + " of " + std::to_string(*content_length) + " bytes",
        "IncompleteBody");
  std::string digest;
  if (pipelined) {
    EUCA_ASSIGN_OR_RETURN(digest, pipeline->Final());
    pipeline.reset();
  } else {
    digest = md5->Final();
  }
  if (expected && *expected != digest)
    return S3Error(Code::kInvalidArgument,
                   "the Content-MD5 you specified did not match what was received (" + Base64Encode(digest) + ")",
                   "BadDigest");
  EUCA_ASSIGN_OR_RETURN(objects::BlobRef blob, writer->Commit());
  return Written{std::move(blob), std::move(digest), body.VerifiedChecksum()};
}

Result<Walrus::Written> Walrus::CopyBlob(objects::ObjectReader& reader, uint64_t offset, uint64_t length,
                                         std::optional<ChecksumAlgorithm> algorithm) {
  EUCA_ASSIGN_OR_RETURN(auto writer, backend_.NewBlob());
  size_t buf_size = static_cast<size_t>(std::clamp<uint64_t>(length, 1, options_.buffer_size));
  auto buf = std::make_unique_for_overwrite<char[]>(buf_size);
  Md5 md5;
  std::optional<Checksummer> sum;
  if (algorithm) sum.emplace(*algorithm);
  uint64_t done = 0;
  while (done < length) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf_size, length - done));
    EUCA_ASSIGN_OR_RETURN(size_t n, reader.ReadAt(offset + done, buf.get(), want));
    if (n == 0) return Internal("copy source '" + objects::PrintableKey(reader.record().key) + "' ended early");
    md5.Update(std::string_view(buf.get(), n));
    if (sum) sum->Update(std::string_view(buf.get(), n));
    EUCA_RETURN_IF_ERROR(writer->Write(std::string_view(buf.get(), n)));
    done += n;
  }
  EUCA_ASSIGN_OR_RETURN(objects::BlobRef blob, writer->Commit());
  std::optional<StoredChecksum> checksum;
  if (sum) checksum = StoredChecksum{*algorithm, sum->FinalBase64()};
  return Written{std::move(blob), md5.Final(), std::move(checksum)};
}

Result<objects::WriteCondition> Walrus::EarlyWriteCheck(const std::string& bucket, const std::string& key,
                                                        const WriteConditions& conditions) {
  objects::WriteCondition out;
  if (conditions.if_none_match) {
    if (api::TrimSpace(*conditions.if_none_match) != "*") {
      return S3Error(
          Code::kUnsupported,
          "If-None-Match on a write takes only '*' (no object under the key), not '" + *conditions.if_none_match + "'",
          "NotImplemented");
    }
    out.if_absent = true;
  }
  if (conditions.if_match) {
    std::string etag(api::TrimSpace(*conditions.if_match));
    if (etag.empty()) return S3Error(Code::kInvalidArgument, "If-Match is empty", "InvalidArgument");
    out.if_etag = etag == "*" ? etag : "\"" + std::string(BareEtag(etag)) + "\"";
  }
  if (out.empty()) return out;
  auto current = backend_.GetObject(bucket, key);
  if (!current.ok() && current.status().wire_code() != "NoSuchKey") return current.status();
  EUCA_RETURN_IF_ERROR(objects::CheckWriteCondition(
      out, current.ok() ? std::optional<objects::ObjectRecord>(*std::move(current)) : std::nullopt, bucket, key));
  return out;
}

Result<objects::ObjectRecord> Walrus::PreparePut(const Caller& caller, const PutObjectRequest& req,
                                                 ByteSource& body) {
  EUCA_RETURN_IF_ERROR(ValidateKey(req.key));
  EUCA_RETURN_IF_ERROR(CheckMetadata(req.metadata));
  EUCA_RETURN_IF_ERROR(CheckNewAcl(req.canned_acl, req.grants));
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, req.bucket, Permission::kWrite));
  EUCA_ASSIGN_OR_RETURN(Acl acl, NewAclFor(req.canned_acl, req.grants, OwnerOf(caller), {b.owner_id, b.owner_name}));
  EUCA_ASSIGN_OR_RETURN(objects::WriteCondition condition, EarlyWriteCheck(req.bucket, req.key, req.conditions));
  if (options_.admit_put && !caller.anonymous()) {
    const std::string account = OwnerOf(caller).id;
    EUCA_RETURN_IF_ERROR(
        options_.admit_put(account, req.content_length.value_or(0), [&] { return StoredBytes(account); }));
  }
  EUCA_ASSIGN_OR_RETURN(Written w, WriteBlob(body, req.content_md5, req.content_length));
  auto rec = NewObjectRecord(caller, b, req.key, std::move(w), StoreContent(req.content, req.metadata), acl);
  rec.condition = std::move(condition);
  return rec;
}

Result<PutObjectResult> Walrus::PutObject(const Caller& caller, const PutObjectRequest& req, ByteSource& body) {
  EUCA_ASSIGN_OR_RETURN(auto rec, PreparePut(caller, req, body));
  EUCA_ASSIGN_OR_RETURN(auto stored, backend_.PutObject(std::move(rec)));
  return PutObjectResult{stored.etag, stored.modified_ms, ParseStoredChecksum(stored.checksum)};
}

void Walrus::PutObjectAsync(const Caller& caller, const PutObjectRequest& req, ByteSource& body,
                            std::function<void(Result<PutObjectResult>)> done) {
  auto rec = PreparePut(caller, req, body);
  if (!rec.ok()) return done(rec.status());
  backend_.PutObjectAsync(*std::move(rec), [done = std::move(done)](Result<objects::ObjectRecord> stored) {
    if (!stored.ok()) return done(stored.status());
    done(PutObjectResult{stored->etag, stored->modified_ms, ParseStoredChecksum(stored->checksum)});
  });
}

Result<uint64_t> Walrus::StoredBytes(const std::string& account_id) {
  uint64_t total = 0;
  EUCA_ASSIGN_OR_RETURN(auto buckets, backend_.ListBuckets());
  for (const auto& b : buckets) {
    objects::ListRange range;
    for (;;) {
      EUCA_ASSIGN_OR_RETURN(auto page, backend_.ListObjects(b.name, range));
      for (const auto& o : page)
        if (o.owner_id == account_id) total += o.size;
      if (page.size() < range.limit) break;
      range.start = page.back().key;
      range.start_inclusive = false;
    }
    // The parts of unfinished multipart uploads take room too (until completed or aborted).
    EUCA_ASSIGN_OR_RETURN(auto uploads, backend_.ListUploads(b.name, ""));
    for (const auto& u : uploads) {
      if (u.owner_id != account_id) continue;
      EUCA_ASSIGN_OR_RETURN(auto parts, backend_.ListParts(u.upload_id));
      for (const auto& p : parts) total += p.blob.size;
    }
  }
  return total;
}

Status Walrus::AdmitPart(const objects::UploadRecord& upload, uint64_t bytes) {
  if (!options_.admit_put || upload.owner_id == kAnonymousOwnerId) return Status::Ok();
  return options_.admit_put(upload.owner_id, bytes, [&] { return StoredBytes(upload.owner_id); });
}

objects::ObjectRecord Walrus::NewObjectRecord(const Caller& caller, const objects::BucketRecord& bucket,
                                              const std::string& key, Written written, StoredContent content,
                                              const Acl& acl) {
  Owner owner = OwnerOf(caller);
  objects::ObjectRecord rec;
  rec.bucket = bucket.name;
  rec.key = key;
  rec.etag = SinglePartEtag(written.md5);
  rec.content_type = std::move(content.content_type);
  rec.metadata = std::move(content.metadata);
  rec.headers = std::move(content.headers);
  rec.owner_id = owner.id;
  rec.owner_name = owner.display_name;
  rec.acl = AclToJson(acl);
  rec.modified_ms = clock_.NowMillis();
  rec.blobs = {std::move(written.blob)};
  if (written.checksum) rec.checksum = FormatStoredChecksum(*written.checksum);
  return rec;
}

Result<objects::ObjectRecord> Walrus::CommitObject(const Caller& caller, const objects::BucketRecord& bucket,
                                                   const std::string& key, Written written, StoredContent content,
                                                   const Acl& acl, objects::WriteCondition condition) {
  auto rec = NewObjectRecord(caller, bucket, key, std::move(written), std::move(content), acl);
  rec.condition = std::move(condition);
  return backend_.PutObject(std::move(rec));
}

namespace {

/// The bytes of part `number` of `rec` (GetObject ?partNumber): a multipart object's parts are
/// its blobs, in order; a single-part object is its own part 1. nullopt: the whole (empty)
/// object.
Result<std::optional<ByteRange>> PartRange(const objects::ObjectRecord& rec, int number) {
  const size_t parts = rec.parts > 0 ? rec.blobs.size() : 1;
  if (number < 1 || static_cast<size_t>(number) > parts) {
    return S3Error(Code::kInvalidArgument,
                   "part " + std::to_string(number) + " is not satisfiable: " + ObjectName(rec.bucket, rec.key) +
                       " has " + std::to_string(parts) + (parts == 1 ? " part" : " parts"),
                   "InvalidPartNumber");
  }
  if (rec.parts == 0) {
    if (rec.size == 0) return std::optional<ByteRange>();
    return std::optional<ByteRange>(ByteRange{0, rec.size - 1});
  }
  uint64_t first = 0;
  for (int i = 0; i + 1 < number; ++i) first += rec.blobs[i].size;
  const uint64_t size = rec.blobs[number - 1].size;
  if (size == 0) return std::optional<ByteRange>();
  return std::optional<ByteRange>(ByteRange{first, first + size - 1});
}

/// The stored checksum of part `number` of `rec` (0: the whole object): a single-part object's
/// own for its part 1, a multipart object's part's when it kept one. nullopt: none.
std::optional<StoredChecksum> PartChecksum(const objects::ObjectRecord& rec, int number) {
  auto whole = ParseStoredChecksum(rec.checksum);
  if (number == 0 || (rec.parts == 0 && number == 1)) return whole;
  if (!whole || number < 1 || static_cast<size_t>(number) > rec.part_checksums.size()) return std::nullopt;
  return StoredChecksum{whole->algorithm, rec.part_checksums[number - 1]};
}

}  // namespace

Result<GetObjectResult> Walrus::Get(const Caller& caller, const GetObjectRequest& req, bool with_body) {
  if (req.part_number && req.range) {
    return S3Error(Code::kInvalidArgument, "a request may not give both a Range header and the 'partNumber' parameter",
                   "InvalidRequest");
  }
  EUCA_ASSIGN_OR_RETURN(auto reader, OpenForRead(caller, req.bucket, req.key, Permission::kRead));
  const objects::ObjectRecord& rec = reader->record();
  GetObjectResult out;
  out.info = InfoOf(rec);
  switch (EvaluateConditions(req.conditions, rec.etag, rec.modified_ms, clock_.NowMillis())) {
    case Precondition::kFailed:
      return PreconditionFailed("a precondition failed for " + ObjectName(req.bucket, req.key) + " (ETag " + rec.etag +
                                ")");
    case Precondition::kNotModified:
      out.status = GetStatus::kNotModified;
      return out;
    case Precondition::kProceed:
      break;
  }
  uint64_t offset = 0;
  uint64_t length = rec.size;
  if (!req.range) out.checksum = PartChecksum(rec, req.part_number.value_or(0));
  if (req.part_number) {
    EUCA_ASSIGN_OR_RETURN(out.range, PartRange(rec, *req.part_number));
    if (out.range) {
      out.status = GetStatus::kPartialContent;
      offset = out.range->first;
      length = out.range->length();
    }
  } else if (req.range) {
    EUCA_ASSIGN_OR_RETURN(out.range, ResolveRange(*req.range, rec.size));
    if (out.range) {
      out.status = GetStatus::kPartialContent;
      offset = out.range->first;
      length = out.range->length();
    }
  }
  out.content_length = length;
  if (with_body) out.body = std::make_unique<ObjectBody>(std::move(reader), offset, length);
  return out;
}

Result<GetObjectResult> Walrus::GetObject(const Caller& caller, const GetObjectRequest& req) {
  return Get(caller, req, true);
}

Result<GetObjectResult> Walrus::HeadObject(const Caller& caller, const GetObjectRequest& req) {
  return Get(caller, req, false);
}

Result<GetObjectAttributesResult> Walrus::GetObjectAttributes(const Caller& caller,
                                                              const GetObjectAttributesRequest& req) {
  EUCA_ASSIGN_OR_RETURN(int max_parts, EffectiveMax(req.max_parts, "x-amz-max-parts"));
  if (req.part_number_marker < 0)
    return S3Error(Code::kInvalidArgument, "x-amz-part-number-marker must be 0 or more", "InvalidArgument");
  EUCA_ASSIGN_OR_RETURN(auto reader, OpenForRead(caller, req.bucket, req.key, Permission::kRead));
  const objects::ObjectRecord& rec = reader->record();
  GetObjectAttributesResult out;
  out.info = InfoOf(rec);
  out.parts_count = rec.parts;
  out.part_number_marker = req.part_number_marker;
  out.max_parts = max_parts;
  if (rec.parts == 0 || rec.part_checksums.empty()) return out;
  for (int n = req.part_number_marker + 1; n <= static_cast<int>(rec.blobs.size()); ++n) {
    if (static_cast<int>(out.parts.size()) == max_parts) {
      out.truncated = true;
      break;
    }
    out.parts.push_back({n, rec.blobs[n - 1].size, PartChecksum(rec, n)});
  }
  if (!out.parts.empty()) out.next_part_number_marker = out.parts.back().part_number;
  return out;
}

Status Walrus::DeleteObject(const Caller& caller, const std::string& bucket, const std::string& key) {
  EUCA_RETURN_IF_ERROR(ValidateKey(key));
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, bucket, Permission::kWrite));
  return backend_.DeleteObject(b.name, key).status();
}

Result<std::vector<DeleteResult>> Walrus::DeleteObjects(const Caller& caller, const std::string& bucket,
                                                        const std::vector<std::string>& keys) {
  if (keys.empty() || keys.size() > kMaxDeleteKeys)
    return S3Error(Code::kInvalidArgument,
                   "a multi-object delete names 1 to 1000 keys, not " + std::to_string(keys.size()), "MalformedXML");
  EUCA_ASSIGN_OR_RETURN(auto b, backend_.GetBucket(bucket));
  EUCA_ASSIGN_OR_RETURN(Acl acl, AclFromJson(b.acl));
  bool allowed = Allows(acl, caller, Permission::kWrite);
  std::vector<DeleteResult> out;
  for (const auto& key : keys) {
    Status s = allowed ? ValidateKey(key) : AccessDenied(caller, "delete " + ObjectName(bucket, key));
    if (s.ok()) s = backend_.DeleteObject(bucket, key).status();
    out.push_back({key, std::move(s)});
  }
  return out;
}

Result<CopyObjectResult> Walrus::CopyObject(const Caller& caller, const CopyObjectRequest& req) {
  EUCA_RETURN_IF_ERROR(ValidateKey(req.key));
  EUCA_RETURN_IF_ERROR(ValidateKey(req.source_key));
  if (req.directive == MetadataDirective::kReplace) EUCA_RETURN_IF_ERROR(CheckMetadata(req.metadata));
  EUCA_RETURN_IF_ERROR(CheckNewAcl(req.canned_acl, req.grants));
  if (req.source_bucket == req.bucket && req.source_key == req.key && req.directive == MetadataDirective::kCopy)
    return S3Error(Code::kInvalidArgument,
                   "this copy request is illegal because it is trying to copy an object to itself without changing "
                   "its metadata; use the REPLACE metadata directive",
                   "InvalidRequest");
  EUCA_ASSIGN_OR_RETURN(auto dest, BucketFor(caller, req.bucket, Permission::kWrite));
  EUCA_ASSIGN_OR_RETURN(Acl acl,
                        NewAclFor(req.canned_acl, req.grants, OwnerOf(caller), {dest.owner_id, dest.owner_name}));
  EUCA_ASSIGN_OR_RETURN(auto reader, OpenCopySource(caller, req.source_bucket, req.source_key, req.source_conditions));
  EUCA_ASSIGN_OR_RETURN(objects::WriteCondition condition, EarlyWriteCheck(req.bucket, req.key, req.conditions));
  const objects::ObjectRecord& src = reader->record();
  if (src.size > options_.max_object_size)
    return S3Error(Code::kInvalidArgument,
                   "the copy source is larger than the copy limit of " + std::to_string(options_.max_object_size) +
                       " bytes; copy it in parts (UploadPartCopy)",
                   "InvalidRequest");
  StoredContent content = req.directive == MetadataDirective::kCopy
                              ? StoredContent{src.content_type, src.metadata, src.headers}
                              : StoreContent(req.content, req.metadata);
  if (options_.admit_put && !caller.anonymous()) {  // the copy is stored bytes too (SLA storage quota)
    const std::string account = OwnerOf(caller).id;
    EUCA_RETURN_IF_ERROR(options_.admit_put(account, src.size, [&] { return StoredBytes(account); }));
  }
  // The copy's checksum: of the algorithm asked for, computed over the copied bytes; else the
  // source's, kept when it is of the whole content (FULL_OBJECT) and computed again when it is
  // a composite of parts the copy does not have.
  std::optional<StoredChecksum> source_checksum = ParseStoredChecksum(src.checksum);
  std::optional<ChecksumAlgorithm> algorithm = req.checksum_algorithm;
  if (!algorithm && source_checksum && source_checksum->composite()) algorithm = source_checksum->algorithm;
  EUCA_ASSIGN_OR_RETURN(Written w, CopyBlob(*reader, 0, src.size, algorithm));
  if (!algorithm) w.checksum = source_checksum;
  EUCA_ASSIGN_OR_RETURN(auto stored, CommitObject(caller, dest, req.key, std::move(w), std::move(content), acl,
                                                         std::move(condition)));
  return CopyObjectResult{stored.etag, stored.modified_ms, ParseStoredChecksum(stored.checksum)};
}

// Multipart uploads.

namespace {

Status CheckUploadChecksum(const std::optional<ChecksumAlgorithm>& algorithm, const std::string& type) {
  if (type.empty()) return Status::Ok();
  if (!algorithm)
    return S3Error(Code::kInvalidArgument, "x-amz-checksum-type needs an x-amz-checksum-algorithm header beside it",
                   "InvalidRequest");
  if (type != "COMPOSITE" && type != "FULL_OBJECT")
    return S3Error(Code::kInvalidArgument,
                   "unknown x-amz-checksum-type " + Quote(type) + ": use COMPOSITE or FULL_OBJECT", "InvalidRequest");
  if (type == "FULL_OBJECT" && !IsCrc(*algorithm))
    return S3Error(Code::kInvalidArgument,
                   "a FULL_OBJECT checksum of a multipart upload is a CRC (CRC32, CRC32C, CRC64NVME), not " +
                       std::string(ChecksumName(*algorithm)),
                   "InvalidRequest");
  if (type == "COMPOSITE" && *algorithm == ChecksumAlgorithm::kCrc64Nvme)
    return S3Error(Code::kInvalidArgument,
                   "CRC64NVME checksums of multipart uploads are FULL_OBJECT only, not COMPOSITE", "InvalidRequest");
  return Status::Ok();
}

/// The checksum a part of `upload` contributes to the object (base64; "" when the upload has no
/// algorithm), checked against what CompleteMultipartUpload lists for it: a listed value must
/// be the stored one (InvalidPart), and a COMPOSITE upload must list every part's.
Result<std::string> CompletedPartChecksum(const objects::UploadRecord& upload, const objects::PartRecord& part,
                                          const CompletedPart& listed) {
  const auto stored = ParseStoredChecksum(part.checksum);
  const std::string number = std::to_string(part.part_number);
  if (listed.checksum && stored &&
      (listed.checksum->algorithm != stored->algorithm || listed.checksum->value != stored->value))
    return S3Error(Code::kInvalidArgument,
                   "part " + number + " has " + std::string(ChecksumName(stored->algorithm)) + " " + stored->value +
                       ", not the listed " + std::string(ChecksumName(listed.checksum->algorithm)) + " " +
                       listed.checksum->value,
                   "InvalidPart");
  const auto algorithm = ParseChecksumAlgorithm(upload.checksum_algorithm);
  if (!algorithm) return std::string();
  if (!stored || stored->algorithm != *algorithm)  // parts of another algorithm are refused unread
    return Internal("part " + number + " of upload '" + upload.upload_id + "' has no " +
                    std::string(ChecksumName(*algorithm)) + " checksum stored");
  if (!listed.checksum && upload.checksum_type != "FULL_OBJECT")
    return S3Error(Code::kInvalidArgument,
                   "upload '" + upload.upload_id + "' was created with " + std::string(ChecksumName(*algorithm)) +
                       " checksums: list each part's <Checksum" + std::string(ChecksumName(*algorithm)) +
                       ">; it is missing for part " + number,
                   "InvalidRequest");
  return stored->value;
}

/// A ByteSource that computes a checksum of what it passes on (a FULL_OBJECT upload's part
/// sent without one), reported as its VerifiedChecksum once read to the end.
class ChecksumSource final : public ByteSource {
 public:
  ChecksumSource(ByteSource& in, ChecksumAlgorithm algorithm) : in_(in), sum_(algorithm) {}
  Result<size_t> Read(char* buf, size_t n) override {
    EUCA_ASSIGN_OR_RETURN(size_t got, in_.Read(buf, n));
    if (got > 0) {
      sum_.Update(std::string_view(buf, got));
    } else if (!value_) {
      value_ = sum_.FinalBase64();
    }
    return got;
  }
  std::optional<StoredChecksum> VerifiedChecksum() const override {
    if (!value_) return std::nullopt;
    return StoredChecksum{sum_.algorithm(), *value_};
  }

 private:
  ByteSource& in_;
  Checksummer sum_;
  std::optional<std::string> value_;
};

}  // namespace

Result<objects::UploadRecord> Walrus::UploadFor(const Caller& caller, const std::string& bucket, const std::string& key,
                                                const std::string& upload_id, Permission permission) {
  EUCA_RETURN_IF_ERROR(BucketFor(caller, bucket, permission).status());
  EUCA_ASSIGN_OR_RETURN(auto upload, backend_.GetUpload(upload_id));
  if (upload.bucket != bucket || upload.key != key) return objects::NoSuchUpload(upload_id);
  return upload;
}

Result<std::string> Walrus::CreateMultipartUpload(const Caller& caller, const CreateMultipartUploadRequest& req) {
  EUCA_RETURN_IF_ERROR(ValidateKey(req.key));
  EUCA_RETURN_IF_ERROR(CheckUploadChecksum(req.checksum_algorithm, req.checksum_type));
  EUCA_RETURN_IF_ERROR(CheckMetadata(req.metadata));
  EUCA_RETURN_IF_ERROR(CheckNewAcl(req.canned_acl, req.grants));
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, req.bucket, Permission::kWrite));
  Owner owner = OwnerOf(caller);
  int64_t now = clock_.NowMillis();
  objects::UploadRecord u;
  u.upload_id = NewUploadId(now);
  u.bucket = req.bucket;
  u.key = req.key;
  u.owner_id = owner.id;
  u.owner_name = owner.display_name;
  u.initiator_id = caller.anonymous() ? kAnonymousOwnerId : caller.principal().user_id;
  u.initiator_name = caller.anonymous() ? "anonymous" : caller.principal().ToString();
  StoredContent content = StoreContent(req.content, req.metadata);
  u.content_type = std::move(content.content_type);
  u.metadata = std::move(content.metadata);
  u.headers = std::move(content.headers);
  EUCA_ASSIGN_OR_RETURN(Acl acl, NewAclFor(req.canned_acl, req.grants, owner, {b.owner_id, b.owner_name}));
  u.acl = AclToJson(acl);
  u.initiated_ms = now;
  if (req.checksum_algorithm) {
    u.checksum_algorithm = std::string(ChecksumName(*req.checksum_algorithm));
    u.checksum_type = std::string(MultipartChecksumType(*req.checksum_algorithm, req.checksum_type));
  }
  EUCA_RETURN_IF_ERROR(backend_.CreateUpload(u));
  return u.upload_id;
}

namespace {

Status CheckPartNumber(int n, int max) {
  if (n < 1 || n > max)
    return S3Error(Code::kInvalidArgument,
                   "part number must be an integer between 1 and " + std::to_string(max) + ", not " + std::to_string(n),
                   "InvalidArgument");
  return Status::Ok();
}
}  // namespace

Result<std::string> Walrus::UploadPart(const Caller& caller, const UploadPartRequest& req, ByteSource& body) {
  EUCA_RETURN_IF_ERROR(CheckPartNumber(req.part_number, options_.max_part_number));
  EUCA_ASSIGN_OR_RETURN(auto upload, UploadFor(caller, req.bucket, req.key, req.upload_id, Permission::kWrite));
  // An upload created with an algorithm takes parts of that algorithm only, and (unless its
  // type is FULL_OBJECT, whose parts' CRCs Walrus computes if they are left out) only with one.
  const auto upload_algorithm = ParseChecksumAlgorithm(upload.checksum_algorithm);
  if (upload_algorithm && req.checksum_algorithm != upload_algorithm &&
      (req.checksum_algorithm || upload.checksum_type != "FULL_OBJECT"))
    return S3Error(Code::kInvalidArgument,
                   "checksum type mismatch: upload " + Quote(upload.upload_id) + " was created with " +
                       std::string(ChecksumName(*upload_algorithm)) + " checksums; send x-amz-checksum-" +
                       AsciiLower(ChecksumName(*upload_algorithm)) + " with each part, not " +
                       (req.checksum_algorithm ? ChecksumHeader(*req.checksum_algorithm) : std::string("none")),
                   "InvalidRequest");
  EUCA_RETURN_IF_ERROR(AdmitPart(upload, req.content_length.value_or(0)));  // SLA storage quota
  std::optional<ChecksumSource> summed;
  if (upload_algorithm && !req.checksum_algorithm) summed.emplace(body, *upload_algorithm);
  ByteSource& source = summed ? static_cast<ByteSource&>(*summed) : body;
  EUCA_ASSIGN_OR_RETURN(Written w, WriteBlob(source, req.content_md5, req.content_length));
  std::string etag = SinglePartEtag(w.md5);
  std::string checksum = w.checksum ? FormatStoredChecksum(*w.checksum) : "";
  EUCA_RETURN_IF_ERROR(backend_.PutPart(upload.upload_id,
                                        {req.part_number, std::move(w.blob), etag, clock_.NowMillis(), checksum}));
  return etag;
}

namespace {

// x-amz-copy-source-range: exactly "bytes=FIRST-LAST" with FIRST <= LAST < `size`; unlike a GET
// Range nothing is clamped, and suffix or open ranges are refused (400 InvalidArgument).
Result<ByteRange> CopySourceRange(std::string_view header, uint64_t size) {
  constexpr std::string_view kUnit = "bytes=";
  auto number = [](std::string_view s) -> std::optional<uint64_t> {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
  };
  std::string_view spec = header.substr(0, kUnit.size()) == kUnit ? header.substr(kUnit.size()) : std::string_view();
  size_t dash = spec.find('-');
  std::optional<uint64_t> first = dash == std::string_view::npos ? std::nullopt : number(spec.substr(0, dash));
  std::optional<uint64_t> last = dash == std::string_view::npos ? std::nullopt : number(spec.substr(dash + 1));
  if (!first || !last)
    return S3Error(Code::kInvalidArgument,
                   "x-amz-copy-source-range " + Quote(header) +
                       " must have the form bytes=FIRST-LAST, the zero-based offsets of the first and last bytes "
                       "to copy",
                   "InvalidArgument");
  if (*first > *last || *last >= size)
    return S3Error(Code::kInvalidArgument,
                   "x-amz-copy-source-range " + Quote(header) + " is not valid for source object of size " +
                       std::to_string(size) + "; give bytes=FIRST-LAST with FIRST <= LAST < " + std::to_string(size),
                   "InvalidArgument");
  return ByteRange{*first, *last};
}

}  // namespace

Result<CopyObjectResult> Walrus::UploadPartCopy(const Caller& caller, const UploadPartCopyRequest& req) {
  EUCA_RETURN_IF_ERROR(CheckPartNumber(req.part_number, options_.max_part_number));
  EUCA_ASSIGN_OR_RETURN(auto upload, UploadFor(caller, req.bucket, req.key, req.upload_id, Permission::kWrite));
  EUCA_ASSIGN_OR_RETURN(auto reader, OpenCopySource(caller, req.source_bucket, req.source_key, req.source_conditions));
  const objects::ObjectRecord& src = reader->record();
  uint64_t offset = 0;
  uint64_t length = src.size;
  if (req.source_range) {
    EUCA_ASSIGN_OR_RETURN(ByteRange range, CopySourceRange(*req.source_range, src.size));
    offset = range.first;
    length = range.length();
  }
  if (length > options_.max_object_size)
    return S3Error(Code::kInvalidArgument,
                   "a part may hold at most " + std::to_string(options_.max_object_size) + " bytes", "InvalidRequest");
  EUCA_RETURN_IF_ERROR(AdmitPart(upload, length));  // SLA storage quota
  EUCA_ASSIGN_OR_RETURN(Written w, CopyBlob(*reader, offset, length, ParseChecksumAlgorithm(upload.checksum_algorithm)));
  std::string etag = SinglePartEtag(w.md5);
  int64_t now = clock_.NowMillis();
  std::optional<StoredChecksum> checksum = w.checksum;
  EUCA_RETURN_IF_ERROR(backend_.PutPart(upload.upload_id, {req.part_number, std::move(w.blob), etag, now,
                                                           checksum ? FormatStoredChecksum(*checksum) : ""}));
  return CopyObjectResult{etag, now, checksum};
}

Result<CompleteMultipartUploadResult> Walrus::CompleteMultipartUpload(const Caller& caller,
                                                                      const CompleteMultipartUploadRequest& req) {
  EUCA_ASSIGN_OR_RETURN(auto upload, UploadFor(caller, req.bucket, req.key, req.upload_id, Permission::kWrite));
  EUCA_ASSIGN_OR_RETURN(objects::WriteCondition condition, EarlyWriteCheck(upload.bucket, upload.key, req.conditions));
  if (req.parts.empty())
    return S3Error(Code::kInvalidArgument, "a multipart upload is completed with at least one part", "MalformedXML");
  for (size_t i = 1; i < req.parts.size(); ++i)
    if (req.parts[i].part_number <= req.parts[i - 1].part_number)
      return S3Error(Code::kInvalidArgument,
                     "parts must be listed in ascending order of part number; " +
                         std::to_string(req.parts[i].part_number) + " follows " +
                         std::to_string(req.parts[i - 1].part_number),
                     "InvalidPartOrder");
  EUCA_ASSIGN_OR_RETURN(auto stored, backend_.ListParts(upload.upload_id));
  std::map<int, const objects::PartRecord*> by_number;
  for (const auto& p : stored) by_number[p.part_number] = &p;
  objects::ObjectRecord rec;
  std::vector<std::string> md5s;
  const auto algorithm = ParseChecksumAlgorithm(upload.checksum_algorithm);
  if (!req.checksum_type.empty() && req.checksum_type != upload.checksum_type)
    return S3Error(Code::kInvalidArgument,
                   "x-amz-checksum-type " + Quote(req.checksum_type) + " does not match upload " +
                       Quote(req.upload_id) + ", created with " +
                       (upload.checksum_type.empty() ? std::string("no checksum") : Quote(upload.checksum_type)),
                   "InvalidRequest");
  std::vector<std::pair<std::string, uint64_t>> sums;  // the parts' checksums (algorithm's), sizes
  for (size_t i = 0; i < req.parts.size(); ++i) {
    const CompletedPart& want = req.parts[i];
    auto it = by_number.find(want.part_number);
    if (it == by_number.end() || BareEtag(it->second->etag) != BareEtag(want.etag))
      return S3Error(Code::kInvalidArgument,
                     "part " + std::to_string(want.part_number) + " with ETag " + Quote(want.etag) +
                         " was not uploaded to upload " + Quote(req.upload_id),
                     "InvalidPart");
    const objects::PartRecord& part = *it->second;
    if (i + 1 < req.parts.size() && part.blob.size < options_.min_part_size)
      return S3Error(Code::kInvalidArgument,
                     "part " + std::to_string(part.part_number) + " is " + std::to_string(part.blob.size) +
                         " bytes; every part but the last needs at least " + std::to_string(options_.min_part_size),
                     "EntityTooSmall");
    auto md5 = EtagMd5(part.etag);
    if (!md5) return Internal("part " + std::to_string(part.part_number) + " has a corrupt ETag");
    md5s.push_back(*std::move(md5));
    rec.blobs.push_back(part.blob);
    EUCA_ASSIGN_OR_RETURN(auto sum, CompletedPartChecksum(upload, part, want));
    if (algorithm) sums.emplace_back(std::move(sum), part.blob.size);
  }
  if (algorithm) {
    StoredChecksum object{*algorithm, ""};
    std::vector<std::string> values;
    for (const auto& [value, size] : sums) values.push_back(value);
    if (upload.checksum_type == "FULL_OBJECT") {
      EUCA_ASSIGN_OR_RETURN(object.value, CombineCrcs(*algorithm, sums));
    } else {
      EUCA_ASSIGN_OR_RETURN(object.value, CompositeChecksum(*algorithm, values));
    }
    if (req.checksum) {
      std::string_view want = req.checksum->value;
      std::string_view got = object.value;
      if (object.composite() && want.find('-') == std::string_view::npos) got = got.substr(0, got.find('-'));
      if (req.checksum->algorithm != *algorithm || want != got)
        return S3Error(Code::kInvalidArgument,
                       "the " + std::string(ChecksumName(req.checksum->algorithm)) + " you specified (" +
                           req.checksum->value + ") did not match the calculated checksum (" +
                           std::string(ChecksumName(*algorithm)) + " " + object.value + ")",
                       "BadDigest");
    }
    rec.checksum = FormatStoredChecksum(object);
    rec.part_checksums = std::move(values);
  } else if (req.checksum) {
    return S3Error(Code::kInvalidArgument,
                   "upload " + Quote(req.upload_id) +
                       " was created without a checksum algorithm, so the object has no " +
                       std::string(ChecksumName(req.checksum->algorithm)) + " to check",
                   "InvalidRequest");
  }
  rec.bucket = upload.bucket;
  rec.key = upload.key;
  rec.etag = MultipartEtag(md5s);
  rec.content_type = upload.content_type;
  rec.metadata = upload.metadata;
  rec.headers = upload.headers;
  rec.owner_id = upload.owner_id;
  rec.owner_name = upload.owner_name;
  rec.acl = upload.acl;
  rec.modified_ms = clock_.NowMillis();
  rec.parts = static_cast<uint32_t>(req.parts.size());
  rec.condition = std::move(condition);
  // No storage-quota check: the parts were counted (and admitted) as they were uploaded, and
  // completing adds no bytes (parts left out of the list are dropped).
  EUCA_ASSIGN_OR_RETURN(auto done, backend_.CompleteUpload(upload.upload_id, std::move(rec)));
  return CompleteMultipartUploadResult{done.bucket, done.key, done.etag, ParseStoredChecksum(done.checksum)};
}

Status Walrus::AbortMultipartUpload(const Caller& caller, const std::string& bucket, const std::string& key,
                                    const std::string& upload_id) {
  EUCA_ASSIGN_OR_RETURN(auto upload, UploadFor(caller, bucket, key, upload_id, Permission::kWrite));
  return backend_.AbortUpload(upload.upload_id);
}

Result<ListPartsResult> Walrus::ListParts(const Caller& caller, const ListPartsRequest& req) {
  EUCA_ASSIGN_OR_RETURN(int max_parts, EffectiveMax(req.max_parts, "max-parts"));
  if (req.part_number_marker < 0)
    return S3Error(Code::kInvalidArgument, "part-number-marker must be 0 or more", "InvalidArgument");
  EUCA_ASSIGN_OR_RETURN(auto upload, UploadFor(caller, req.bucket, req.key, req.upload_id, Permission::kRead));
  EUCA_ASSIGN_OR_RETURN(auto parts, backend_.ListParts(upload.upload_id));
  ListPartsResult out;
  out.bucket = upload.bucket;
  out.key = upload.key;
  out.upload_id = upload.upload_id;
  out.initiator = {upload.initiator_id, upload.initiator_name};
  out.owner = {upload.owner_id, upload.owner_name};
  out.part_number_marker = req.part_number_marker;
  out.max_parts = max_parts;
  out.checksum_algorithm = ParseChecksumAlgorithm(upload.checksum_algorithm);
  if (out.checksum_algorithm) out.checksum_type = upload.checksum_type;
  for (const auto& p : parts) {
    if (p.part_number <= req.part_number_marker) continue;
    if (static_cast<int>(out.parts.size()) == max_parts) {
      out.truncated = true;
      break;
    }
    out.parts.push_back({p.part_number, p.modified_ms, p.etag, p.blob.size, ParseStoredChecksum(p.checksum)});
  }
  if (!out.parts.empty()) out.next_part_number_marker = out.parts.back().part_number;
  return out;
}

Result<ListMultipartUploadsResult> Walrus::ListMultipartUploads(const Caller& caller,
                                                                const ListMultipartUploadsRequest& req) {
  EUCA_ASSIGN_OR_RETURN(int max_uploads, EffectiveMax(req.max_uploads, "max-uploads"));
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, req.bucket, Permission::kRead));
  EUCA_ASSIGN_OR_RETURN(auto all, backend_.ListUploads(b.name, req.prefix));
  ListMultipartUploadsResult out;
  out.max_uploads = max_uploads;
  if (max_uploads == 0) return out;
  int count = 0;
  std::string last_key, last_id;
  for (const auto& u : all) {
    // Resume after (key-marker, upload-id-marker); the id marker counts only with a key marker.
    if (!req.key_marker.empty()) {
      if (u.key < req.key_marker) continue;
      if (u.key == req.key_marker && (req.upload_id_marker.empty() || u.upload_id <= req.upload_id_marker)) continue;
    }
    if (!req.delimiter.empty()) {
      size_t d = u.key.find(req.delimiter, req.prefix.size());
      if (d != std::string::npos) {
        std::string cp = u.key.substr(0, d + req.delimiter.size());
        if (cp <= req.key_marker || (!out.common_prefixes.empty() && out.common_prefixes.back() == cp)) continue;
        if (count == max_uploads) {
          out.truncated = true;
          break;
        }
        out.common_prefixes.push_back(cp);
        last_key = cp;
        last_id.clear();
        ++count;
        continue;
      }
    }
    if (count == max_uploads) {
      out.truncated = true;
      break;
    }
    out.uploads.push_back(
        {u.key, u.upload_id, {u.initiator_id, u.initiator_name}, {u.owner_id, u.owner_name}, u.initiated_ms});
    last_key = u.key;
    last_id = u.upload_id;
    ++count;
  }
  if (out.truncated) {
    out.next_key_marker = last_key;
    out.next_upload_id_marker = last_id;
  }
  return out;
}

// ACLs.

Result<Acl> Walrus::AclFor(const AclSpec& spec, const Owner& owner, const Owner& bucket_owner) {
  if (spec.canned.has_value() == spec.acl.has_value())
    return S3Error(Code::kInvalidArgument, spec.canned ? "give a canned ACL or a grant list, not both" : "no ACL given",
                   spec.canned ? "InvalidRequest" : "MalformedACLError");
  if (spec.canned) {
    EUCA_ASSIGN_OR_RETURN(CannedAcl canned, ParseCannedAcl(*spec.canned));
    return CannedAclFor(canned, owner, bucket_owner);
  }
  const Acl& in = *spec.acl;
  if (!in.owner.id.empty() && in.owner.id != owner.id)
    return S3Error(Code::kPermissionDenied,
                   "the ACL names owner " + Quote(in.owner.id) + " but " + Quote(owner.id) + " owns the resource",
                   "AccessDenied");
  if (in.grants.size() > kMaxGrants)
    return S3Error(Code::kInvalidArgument, "an ACL holds at most 100 grants", "MalformedACLError");
  Acl out{owner, {}};
  for (const auto& g : in.grants) {
    Grant grant = g;
    if (g.grantee.type == Grantee::Type::kGroup) {
      if (g.grantee.id != kAllUsersGroup && g.grantee.id != kAuthenticatedUsersGroup &&
          g.grantee.id != kLogDeliveryGroup)
        return S3Error(Code::kInvalidArgument, "unknown grantee group " + Quote(g.grantee.id), "InvalidArgument");
      grant.grantee.display_name.clear();
    } else {
      if (g.grantee.id.empty())
        return S3Error(Code::kInvalidArgument, "a canonical-user grant needs an id", "InvalidArgument");
      if (accounts_) {
        std::optional<std::string> name;
        EUCA_RETURN_IF_ERROR(accounts_->Read([&](state::Txn& t) -> Status {
          EUCA_ASSIGN_OR_RETURN(auto obj, t.Get("accounts", g.grantee.id));
          if (obj) name = obj->body.value("name", "");
          return Status::Ok();
        }));
        if (!name)
          return S3Error(Code::kInvalidArgument, "invalid id " + Quote(g.grantee.id) + ": no such account",
                         "InvalidArgument");
        grant.grantee.display_name = *name;
      }
    }
    out.grants.push_back(std::move(grant));
  }
  return out;
}

Result<Acl> Walrus::NewAclFor(const std::string& canned, const std::vector<Grant>& grants, const Owner& owner,
                              const Owner& bucket_owner) {
  EUCA_RETURN_IF_ERROR(CheckNewAcl(canned, grants));
  if (!grants.empty()) return AclFor(AclSpec{.acl = Acl{{}, grants}}, owner, bucket_owner);
  EUCA_ASSIGN_OR_RETURN(CannedAcl c, ParseCannedAcl(canned));
  return CannedAclFor(c, owner, bucket_owner);
}

Result<Acl> Walrus::CannedAclFor(CannedAcl canned, const Owner& owner, const Owner& bucket_owner) {
  if (!GrantsCloud(canned)) return MakeCannedAcl(canned, owner, bucket_owner);
  std::optional<Owner> cloud;
  if (accounts_) {
    EUCA_RETURN_IF_ERROR(accounts_->Read([&](state::Txn& t) -> Status {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.GetByName("accounts", "", model::kSystemAccount));
      if (obj) cloud = Owner{obj->id, obj->name};
      return Status::Ok();
    }));
  }
  if (!cloud)
    return S3Error(Code::kInvalidArgument,
                   "this canned ACL grants read to the cloud's account " + Quote(model::kSystemAccount) +
                       ", which this object store does not know; run 'euca admin init' or use another ACL",
                   "InvalidArgument");
  return MakeCannedAcl(canned, owner, bucket_owner, *cloud);
}

Status Walrus::CheckBucketOwner(const Caller& caller, const std::string& bucket) {
  return BucketFor(caller, bucket, std::nullopt).status();
}

Status Walrus::CheckObjectAccess(const Caller& caller, const std::string& bucket, const std::string& key,
                                 Permission permission) {
  return OpenForRead(caller, bucket, key, permission).status();
}

Result<Acl> Walrus::GetBucketAcl(const Caller& caller, const std::string& bucket) {
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, bucket, Permission::kReadAcp));
  return AclFromJson(b.acl);
}

Status Walrus::PutBucketAcl(const Caller& caller, const std::string& bucket, const AclSpec& spec) {
  EUCA_ASSIGN_OR_RETURN(auto b, BucketFor(caller, bucket, Permission::kWriteAcp));
  Owner owner{b.owner_id, b.owner_name};
  EUCA_ASSIGN_OR_RETURN(Acl acl, AclFor(spec, owner, owner));
  return backend_.SetBucketAcl(b.name, AclToJson(acl));
}

Result<Acl> Walrus::GetObjectAcl(const Caller& caller, const std::string& bucket, const std::string& key) {
  EUCA_ASSIGN_OR_RETURN(auto reader, OpenForRead(caller, bucket, key, Permission::kReadAcp));
  return AclFromJson(reader->record().acl);
}

Status Walrus::PutObjectAcl(const Caller& caller, const std::string& bucket, const std::string& key,
                            const AclSpec& spec) {
  EUCA_ASSIGN_OR_RETURN(auto reader, OpenForRead(caller, bucket, key, Permission::kWriteAcp));
  const objects::ObjectRecord& rec = reader->record();
  EUCA_ASSIGN_OR_RETURN(auto b, backend_.GetBucket(bucket));
  EUCA_ASSIGN_OR_RETURN(Acl acl, AclFor(spec, {rec.owner_id, rec.owner_name}, {b.owner_id, b.owner_name}));
  return backend_.SetObjectAcl(bucket, key, AclToJson(acl), rec.generation);
}

}  // namespace euca::walrus
