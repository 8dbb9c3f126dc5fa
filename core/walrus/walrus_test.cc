// Walrus S3 semantics over the in-memory backend (and, at the end, over the filesystem
// backend for the concurrency and multipart paths).

#include "core/walrus/walrus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/base/error_map.h"
#include "core/base/random.h"
#include "drivers/objects/fs_backend.h"
#include "drivers/objects/memory_backend.h"
#include "state/memory_store.h"

namespace euca::walrus {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kAcmeId[] = "111111111111";
constexpr char kOtherId[] = "222222222222";
constexpr char kCloudId[] = "000000000001";  // the cloud's system account, "eucalyptus"

const model::Principal kAlice{"acme", kAcmeId, "alice", "AIDAALICE0000000000001"};
const model::Principal kBob{"acme", kAcmeId, "bob", "AIDABOB00000000000001"};
const model::Principal kCarol{"other", kOtherId, "carol", "AIDACAROL000000000001"};
const model::Principal kCloudAdmin{"eucalyptus", kCloudId, "admin", "AIDAADMIN000000000001"};
const Caller kAnon = Caller::Anonymous();

// Expects `s` to fail with the S3 wire code and the HTTP status the error map gives it.
#define EXPECT_S3_ERROR(expr, wire, http)                                       \
  do {                                                                          \
    ::euca::Status s3_status_ = (expr);                                         \
    EXPECT_EQ(s3_status_.wire_code(), wire) << s3_status_.ToString();           \
    EXPECT_EQ(::euca::S3HttpStatus(s3_status_), http) << s3_status_.ToString(); \
  } while (0)

std::string Md5Hex(std::string_view data) {
  Md5 m;
  m.Update(data);
  return HexEncode(m.Final());
}

std::string Md5Base64(std::string_view data) {
  Md5 m;
  m.Update(data);
  return Base64Encode(m.Final());
}

Result<std::string> Drain(ByteSource& src) {
  std::string out;
  char buf[5];
  for (;;) {
    EUCA_ASSIGN_OR_RETURN(size_t n, src.Read(buf, sizeof buf));
    if (n == 0) return out;
    out.append(buf, n);
  }
}

// A source that fails after some bytes (a client that hangs up mid-body).
class FailingSource final : public ByteSource {
 public:
  explicit FailingSource(size_t ok_bytes) : left_(ok_bytes) {}
  Result<size_t> Read(char* buf, size_t n) override {
    if (left_ == 0) return Unavailable("client went away");
    n = std::min(n, left_);
    std::memset(buf, 'x', n);
    left_ -= n;
    return n;
  }

 private:
  size_t left_;
};

class WalrusTest : public ::testing::Test {
 protected:
  WalrusTest() : walrus_(backend_, clock_, Options(), &store_) {
    auto seq = store_.Transact({"system", "seed", ""}, [&](state::Txn& t) {
      for (const auto& [id, name] :
           {std::pair{kAcmeId, "acme"}, std::pair{kOtherId, "other"}, std::pair{kCloudId, "eucalyptus"}}) {
        model::Account a{id, name, 1};
        EUCA_RETURN_IF_ERROR(t.Put({"accounts", a.id, "", a.name, model::ToJson(a), std::nullopt}));
      }
      return Status::Ok();
    });
    EXPECT_TRUE(seq.ok());
  }

  static WalrusOptions Options() {
    WalrusOptions o;
    o.min_part_size = 10;
    o.buffer_size = 7;  // many small reads and writes
    return o;
  }

  void MakeBucket(const Caller& who, const std::string& name, const std::string& acl = "") {
    Status s = walrus_.CreateBucket(who, {name, "", acl});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  Result<PutObjectResult> Put(const Caller& who, const std::string& bucket, const std::string& key,
                              const std::string& data, const std::string& acl = "") {
    PutObjectRequest req;
    req.bucket = bucket;
    req.key = key;
    req.canned_acl = acl;
    StringSource src(data);
    return walrus_.PutObject(who, req, src);
  }

  Result<std::string> Read(const Caller& who, const std::string& bucket, const std::string& key,
                           std::optional<std::string> range = std::nullopt) {
    GetObjectRequest req;
    req.bucket = bucket;
    req.key = key;
    req.range = std::move(range);
    EUCA_ASSIGN_OR_RETURN(auto got, walrus_.GetObject(who, req));
    if (!got.body) return Internal("no body");
    return Drain(*got.body);
  }

  std::vector<std::string> Keys(const ListObjectsResult& r) {
    std::vector<std::string> out;
    for (const auto& o : r.contents) out.push_back(o.key);
    return out;
  }

  objects::MemoryBackend backend_;
  FakeClock clock_;
  state::MemoryStateStore store_;
  Walrus walrus_;
};

// Buckets.

TEST_F(WalrusTest, CreateListHeadLocateAndDeleteBuckets) {
  MakeBucket(kAlice, "zeta");
  MakeBucket(kBob, "alpha");  // same account as alice
  MakeBucket(kCarol, "carols");
  auto mine = walrus_.ListBuckets(kAlice);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->owner, (Owner{kAcmeId, "acme"}));
  ASSERT_EQ(mine->buckets.size(), 2u);
  EXPECT_EQ(mine->buckets[0].name, "alpha");
  EXPECT_EQ(mine->buckets[1].name, "zeta");
  EXPECT_EQ(mine->buckets[0].created_ms, clock_.NowMillis());
  EXPECT_TRUE(walrus_.HeadBucket(kBob, "zeta").ok());
  EXPECT_EQ(*walrus_.GetBucketLocation(kAlice, "zeta"), "");
  ASSERT_TRUE(walrus_.DeleteBucket(kBob, "zeta").ok());
  EXPECT_S3_ERROR(walrus_.HeadBucket(kAlice, "zeta"), "NoSuchBucket", 404);
  EXPECT_EQ(walrus_.ListBuckets(kAlice)->buckets.size(), 1u);
}

TEST_F(WalrusTest, CreateBucketErrors) {
  MakeBucket(kAlice, "taken");
  EXPECT_S3_ERROR(walrus_.CreateBucket(kBob, {"taken", "", ""}), "BucketAlreadyOwnedByYou", 409);
  EXPECT_S3_ERROR(walrus_.CreateBucket(kCarol, {"taken", "", ""}), "BucketAlreadyExists", 409);
  EXPECT_S3_ERROR(walrus_.CreateBucket(kAlice, {"Bad_Name", "", ""}), "InvalidBucketName", 400);
  EXPECT_S3_ERROR(walrus_.CreateBucket(kAlice, {"ok-name", "", "public"}), "InvalidArgument", 400);
  EXPECT_S3_ERROR(walrus_.CreateBucket(kAnon, {"anon-bucket", "", ""}), "AccessDenied", 403);
  EXPECT_EQ(walrus_.ListBuckets(kAlice)->buckets.size(), 1u);  // nothing half-created
  EXPECT_S3_ERROR(walrus_.ListBuckets(kAnon).status(), "AccessDenied", 403);
}

TEST_F(WalrusTest, LocationConstraintsFollowTheRegion) {
  WalrusOptions o;
  o.region = "euca-1";
  Walrus regional(backend_, clock_, o);
  EXPECT_S3_ERROR(regional.CreateBucket(kAlice, {"far", "eu-west-1", ""}), "InvalidLocationConstraint", 400);
  ASSERT_TRUE(regional.CreateBucket(kAlice, {"near", "euca-1", ""}).ok());
  ASSERT_TRUE(regional.CreateBucket(kAlice, {"plain", "", ""}).ok());
  EXPECT_EQ(*regional.GetBucketLocation(kAlice, "near"), "euca-1");
  EXPECT_EQ(*regional.GetBucketLocation(kAlice, "plain"), "euca-1");
  EXPECT_S3_ERROR(regional.GetBucketLocation(kCarol, "plain").status(), "AccessDenied", 403);
  // Without a region every constraint is kept as given.
  ASSERT_TRUE(walrus_.CreateBucket(kAlice, {"anywhere", "mars-1", ""}).ok());
  EXPECT_EQ(*walrus_.GetBucketLocation(kAlice, "anywhere"), "mars-1");
}

TEST_F(WalrusTest, DeleteBucketRules) {
  MakeBucket(kAlice, "bkt", "public-read-write");
  ASSERT_TRUE(Put(kAlice, "bkt", "k", "v").ok());
  EXPECT_S3_ERROR(walrus_.DeleteBucket(kAlice, "bkt"), "BucketNotEmpty", 409);
  // Even a grantee with full write access may not delete another account's bucket.
  EXPECT_S3_ERROR(walrus_.DeleteBucket(kCarol, "bkt"), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.DeleteBucket(kAnon, "bkt"), "AccessDenied", 403);
  ASSERT_TRUE(walrus_.DeleteObject(kAlice, "bkt", "k").ok());
  auto up = walrus_.CreateMultipartUpload(kAlice, {"bkt", "m", {}, {}, ""});
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE(walrus_.DeleteBucket(kAlice, "bkt").ok());  // unfinished uploads do not hold it
  EXPECT_S3_ERROR(walrus_.DeleteBucket(kAlice, "bkt"), "NoSuchBucket", 404);
  EXPECT_EQ(backend_.BlobCountForTest(), 0u);
}

// Objects.

TEST_F(WalrusTest, PutGetHeadRoundTripWithMetadata) {
  MakeBucket(kAlice, "bkt");
  PutObjectRequest req;
  req.bucket = "bkt";
  req.key = "dir/file.txt";
  req.content.cache_control = "no-cache";
  req.content.content_disposition = "attachment";
  req.metadata = {{"Colour", "blue"}, {"x", ""}};
  std::string data = "hello, walrus";
  StringSource src(data);
  clock_.Set(1'700'000'123'456);
  auto put = walrus_.PutObject(kAlice, req, src);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->etag, "\"" + Md5Hex(data) + "\"");
  EXPECT_EQ(put->last_modified_ms, 1'700'000'123'456);

  auto got = walrus_.GetObject(kBob, {"bkt", "dir/file.txt", std::nullopt, {}});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, GetStatus::kOk);
  EXPECT_EQ(got->content_length, data.size());
  EXPECT_EQ(got->info.size, data.size());
  EXPECT_EQ(got->info.etag, put->etag);
  EXPECT_EQ(got->info.content.content_type, "binary/octet-stream");
  EXPECT_EQ(got->info.content.cache_control, "no-cache");
  EXPECT_EQ(got->info.content.content_disposition, "attachment");
  EXPECT_EQ(got->info.metadata, (Pairs{{"colour", "blue"}, {"x", ""}}));
  EXPECT_EQ(got->info.owner, (Owner{kAcmeId, "acme"}));
  EXPECT_EQ(got->info.version_id, "null");
  EXPECT_EQ(got->info.parts_count, 0u);
  EXPECT_EQ(*Drain(*got->body), data);

  auto head = walrus_.HeadObject(kAlice, {"bkt", "dir/file.txt", std::nullopt, {}});
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->body, nullptr);
  EXPECT_EQ(head->content_length, data.size());
  EXPECT_EQ(head->info.etag, put->etag);

  // Overwrite: last write wins, with its own content type.
  req.content = {};
  req.content.content_type = "text/plain";
  req.metadata.clear();
  StringSource src2("v2");
  ASSERT_TRUE(walrus_.PutObject(kAlice, req, src2).ok());
  auto again = walrus_.HeadObject(kAlice, {"bkt", "dir/file.txt", std::nullopt, {}});
  EXPECT_EQ(again->info.content.content_type, "text/plain");
  EXPECT_TRUE(again->info.metadata.empty());
  EXPECT_EQ(*Read(kAlice, "bkt", "dir/file.txt"), "v2");
  EXPECT_EQ(backend_.BlobCountForTest(), 1u);
}

TEST_F(WalrusTest, EmptyObject) {
  MakeBucket(kAlice, "bkt");
  auto put = Put(kAlice, "bkt", "empty", "");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
  EXPECT_EQ(*Read(kAlice, "bkt", "empty"), "");
  EXPECT_S3_ERROR(Read(kAlice, "bkt", "empty", "bytes=0-").status(), "InvalidRange", 416);
}

TEST_F(WalrusTest, ContentMd5IsChecked) {
  MakeBucket(kAlice, "bkt");
  ASSERT_TRUE(Put(kAlice, "bkt", "k", "old").ok());
  PutObjectRequest req;
  req.bucket = "bkt";
  req.key = "k";
  req.content_md5 = Md5Base64("new data");
  StringSource good("new data");
  ASSERT_TRUE(walrus_.PutObject(kAlice, req, good).ok());

  req.content_md5 = Md5Base64("something else");
  StringSource bad("newer data");
  EXPECT_S3_ERROR(walrus_.PutObject(kAlice, req, bad).status(), "BadDigest", 400);
  EXPECT_EQ(*Read(kAlice, "bkt", "k"), "new data");  // the old version stays
  EXPECT_EQ(backend_.BlobCountForTest(), 1u);        // the rejected body is gone
  EXPECT_EQ(backend_.OpenWritersForTest(), 0u);

  req.content_md5 = "not base64!";
  StringSource any("x");
  EXPECT_S3_ERROR(walrus_.PutObject(kAlice, req, any).status(), "InvalidDigest", 400);
  req.content_md5 = Base64Encode("short");
  EXPECT_S3_ERROR(walrus_.PutObject(kAlice, req, any).status(), "InvalidDigest", 400);
}

TEST_F(WalrusTest, BodyLengthAndSizeLimits) {
  MakeBucket(kAlice, "bkt");
  PutObjectRequest req;
  req.bucket = "bkt";
  req.key = "k";
  req.content_length = 10;
  StringSource short_body("12345");
  EXPECT_S3_ERROR(walrus_.PutObject(kAlice, req, short_body).status(), "IncompleteBody", 400);
  StringSource long_body("123456789012");
  EXPECT_S3_ERROR(walrus_.PutObject(kAlice, req, long_body).status(), "IncompleteBody", 400);
  req.content_length.reset();
  FailingSource broken(20);
  EXPECT_EQ(walrus_.PutObject(kAlice, req, broken).status().code(), Code::kUnavailable);

  WalrusOptions small = Options();
  small.max_object_size = 8;
  Walrus limited(backend_, clock_, small);
  StringSource nine("123456789");
  EXPECT_S3_ERROR(limited.PutObject(kAlice, req, nine).status(), "EntityTooLarge", 400);
  req.content_length = 100;
  StringSource declared("x");
  EXPECT_S3_ERROR(limited.PutObject(kAlice, req, declared).status(), "EntityTooLarge", 400);

  req.content_length.reset();
  req.metadata = {{"big", std::string(3000, 'm')}};
  StringSource meta("x");
  EXPECT_S3_ERROR(walrus_.PutObject(kAlice, req, meta).status(), "MetadataTooLarge", 400);

  EXPECT_S3_ERROR(walrus_.GetObject(kAlice, {"bkt", "k", std::nullopt, {}}).status(), "NoSuchKey", 404);
  EXPECT_EQ(backend_.BlobCountForTest(), 0u);
  EXPECT_EQ(backend_.OpenWritersForTest(), 0u);
}

TEST_F(WalrusTest, KeysAreOpaqueBytes) {
  MakeBucket(kAlice, "bkt");
  std::vector<std::string> keys = {"../../etc/passwd",
                                   "a/../../b",
                                   std::string("nul\0key", 7),
                                   std::string(1024, 'k'),
                                   "\xf0\x9f\x90\x8b walrus \xc3\xa9",
                                   " spaced "};
  for (const auto& k : keys) ASSERT_TRUE(Put(kAlice, "bkt", k, "data:" + k).ok()) << objects::PrintableKey(k);
  for (const auto& k : keys) EXPECT_EQ(*Read(kAlice, "bkt", k), "data:" + k);
  ListObjectsRequest req;
  req.bucket = "bkt";
  auto listed = walrus_.ListObjects(kAlice, req);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->contents.size(), keys.size());
  EXPECT_S3_ERROR(Put(kAlice, "bkt", std::string(1025, 'k'), "x").status(), "KeyTooLongError", 400);
  EXPECT_S3_ERROR(Put(kAlice, "bkt", "", "x").status(), "InvalidArgument", 400);
}

TEST_F(WalrusTest, RangesServePartialContent) {
  MakeBucket(kAlice, "bkt");
  std::string data = "0123456789abcdefghij";
  ASSERT_TRUE(Put(kAlice, "bkt", "k", data).ok());
  auto got = walrus_.GetObject(kAlice, {"bkt", "k", "bytes=5-9", {}});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, GetStatus::kPartialContent);
  EXPECT_EQ(got->range, (ByteRange{5, 9}));
  EXPECT_EQ(got->content_length, 5u);
  EXPECT_EQ(got->info.size, 20u);
  EXPECT_EQ(*Drain(*got->body), "56789");
  EXPECT_EQ(*Read(kAlice, "bkt", "k", "bytes=-3"), "hij");
  EXPECT_EQ(*Read(kAlice, "bkt", "k", "bytes=15-"), "fghij");
  EXPECT_EQ(*Read(kAlice, "bkt", "k", "bytes=18-1000"), "ij");
  auto whole = walrus_.GetObject(kAlice, {"bkt", "k", "bytes=0-1,4-5", {}});
  EXPECT_EQ(whole->status, GetStatus::kOk);
  EXPECT_EQ(*Drain(*whole->body), data);
  EXPECT_S3_ERROR(Read(kAlice, "bkt", "k", "bytes=20-").status(), "InvalidRange", 416);
  EXPECT_S3_ERROR(walrus_.HeadObject(kAlice, {"bkt", "k", "bytes=99-", {}}).status(), "InvalidRange", 416);
}

TEST_F(WalrusTest, ConditionalGetsAndHeads) {
  MakeBucket(kAlice, "bkt");
  clock_.Set(1'700'000'000'000);
  auto put = Put(kAlice, "bkt", "k", "data");
  ASSERT_TRUE(put.ok());
  clock_.Advance(3'600'000);
  auto get = [&](Conditions c) { return walrus_.GetObject(kAlice, {"bkt", "k", std::nullopt, c}); };
  auto ok = get({.if_match = put->etag});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, GetStatus::kOk);
  EXPECT_S3_ERROR(get({.if_match = "\"nope\""}).status(), "PreconditionFailed", 412);
  EXPECT_S3_ERROR(get({.if_unmodified_since_ms = 1'699'999'000'000}).status(), "PreconditionFailed", 412);
  auto not_modified = get({.if_none_match = put->etag});
  ASSERT_TRUE(not_modified.ok());
  EXPECT_EQ(not_modified->status, GetStatus::kNotModified);
  EXPECT_EQ(not_modified->body, nullptr);
  EXPECT_EQ(not_modified->info.etag, put->etag);
  EXPECT_EQ(get({.if_modified_since_ms = 1'700'000'000'000})->status, GetStatus::kNotModified);
  EXPECT_EQ(get({.if_modified_since_ms = 1'699'999'000'000})->status, GetStatus::kOk);
  auto head = walrus_.HeadObject(kAlice, {"bkt", "k", std::nullopt, {.if_none_match = "*"}});
  EXPECT_EQ(head->status, GetStatus::kNotModified);
  // Conditions are checked before the range.
  EXPECT_S3_ERROR(walrus_.GetObject(kAlice, {"bkt", "k", "bytes=100-", {.if_match = "\"x\""}}).status(),
                  "PreconditionFailed", 412);
}

TEST_F(WalrusTest, MissingThingsAndWhoMayKnow) {
  MakeBucket(kAlice, "bkt");
  EXPECT_S3_ERROR(Read(kAlice, "nobucket", "k").status(), "NoSuchBucket", 404);
  EXPECT_S3_ERROR(Read(kAlice, "bkt", "nokey").status(), "NoSuchKey", 404);
  // Someone who may not list the bucket learns nothing about which keys exist.
  EXPECT_S3_ERROR(Read(kCarol, "bkt", "nokey").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(Read(kAnon, "bkt", "nokey").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.HeadObject(kCarol, {"bkt", "nokey", std::nullopt, {}}).status(), "AccessDenied", 403);
}

TEST_F(WalrusTest, DeleteObjectIsIdempotent) {
  MakeBucket(kAlice, "bkt");
  ASSERT_TRUE(Put(kAlice, "bkt", "k", "v").ok());
  ASSERT_TRUE(walrus_.DeleteObject(kBob, "bkt", "k").ok());
  ASSERT_TRUE(walrus_.DeleteObject(kBob, "bkt", "k").ok());
  ASSERT_TRUE(walrus_.DeleteObject(kBob, "bkt", "never-was").ok());
  EXPECT_S3_ERROR(Read(kAlice, "bkt", "k").status(), "NoSuchKey", 404);
  EXPECT_S3_ERROR(walrus_.DeleteObject(kAlice, "nobucket", "k"), "NoSuchBucket", 404);
  EXPECT_S3_ERROR(walrus_.DeleteObject(kCarol, "bkt", "k"), "AccessDenied", 403);
  EXPECT_EQ(backend_.BlobCountForTest(), 0u);
}

TEST_F(WalrusTest, DeleteObjectsReportsPerKey) {
  MakeBucket(kAlice, "bkt");
  ASSERT_TRUE(Put(kAlice, "bkt", "a", "1").ok());
  ASSERT_TRUE(Put(kAlice, "bkt", "b", "2").ok());
  auto res = walrus_.DeleteObjects(kAlice, "bkt", {"a", "missing", std::string(1025, 'x'), "b"});
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->size(), 4u);
  EXPECT_EQ((*res)[0].key, "a");
  EXPECT_TRUE((*res)[0].status.ok());
  EXPECT_TRUE((*res)[1].status.ok());
  EXPECT_EQ((*res)[2].status.wire_code(), "KeyTooLongError");
  EXPECT_TRUE((*res)[3].status.ok());
  EXPECT_TRUE(walrus_.ListObjects(kAlice, {.bucket = "bkt"})->contents.empty());

  ASSERT_TRUE(Put(kAlice, "bkt", "c", "3").ok());
  auto denied = walrus_.DeleteObjects(kCarol, "bkt", {"c"});
  ASSERT_TRUE(denied.ok());
  EXPECT_S3_ERROR((*denied)[0].status, "AccessDenied", 403);
  EXPECT_EQ(*Read(kAlice, "bkt", "c"), "3");
  EXPECT_S3_ERROR(walrus_.DeleteObjects(kAlice, "bkt", {}).status(), "MalformedXML", 400);
  EXPECT_S3_ERROR(walrus_.DeleteObjects(kAlice, "bkt", std::vector<std::string>(1001, "k")).status(), "MalformedXML",
                  400);
  EXPECT_S3_ERROR(walrus_.DeleteObjects(kAlice, "nobucket", {"k"}).status(), "NoSuchBucket", 404);
}

TEST_F(WalrusTest, CopyObjectWithMetadataDirectives) {
  MakeBucket(kAlice, "src");
  MakeBucket(kAlice, "dst");
  PutObjectRequest req;
  req.bucket = "src";
  req.key = "k";
  req.content.content_type = "text/plain";
  req.metadata = {{"a", "1"}};
  StringSource body("copy me");
  auto put = walrus_.PutObject(kAlice, req, body);
  ASSERT_TRUE(put.ok());

  CopyObjectRequest copy;
  copy.source_bucket = "src";
  copy.source_key = "k";
  copy.bucket = "dst";
  copy.key = "k2";
  auto copied = walrus_.CopyObject(kBob, copy);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(copied->etag, put->etag);
  auto head = walrus_.HeadObject(kAlice, {"dst", "k2", std::nullopt, {}});
  EXPECT_EQ(head->info.content.content_type, "text/plain");
  EXPECT_EQ(head->info.metadata, (Pairs{{"a", "1"}}));
  EXPECT_EQ(*Read(kAlice, "dst", "k2"), "copy me");

  copy.directive = MetadataDirective::kReplace;
  copy.content.content_type = "application/json";
  copy.metadata = {{"B", "2"}};
  ASSERT_TRUE(walrus_.CopyObject(kAlice, copy).ok());
  head = walrus_.HeadObject(kAlice, {"dst", "k2", std::nullopt, {}});
  EXPECT_EQ(head->info.content.content_type, "application/json");
  EXPECT_EQ(head->info.metadata, (Pairs{{"b", "2"}}));

  // Onto itself: only with REPLACE.
  CopyObjectRequest self = copy;
  self.bucket = "src";
  self.key = "k";
  self.directive = MetadataDirective::kCopy;
  EXPECT_S3_ERROR(walrus_.CopyObject(kAlice, self).status(), "InvalidRequest", 400);
  self.directive = MetadataDirective::kReplace;
  ASSERT_TRUE(walrus_.CopyObject(kAlice, self).ok());
  EXPECT_EQ(*Read(kAlice, "src", "k"), "copy me");

  // Source conditions fail with 412, never 304.
  copy.source_conditions = {.if_none_match = put->etag};
  EXPECT_S3_ERROR(walrus_.CopyObject(kAlice, copy).status(), "PreconditionFailed", 412);
  copy.source_conditions = {.if_match = "\"other\""};
  EXPECT_S3_ERROR(walrus_.CopyObject(kAlice, copy).status(), "PreconditionFailed", 412);
  copy.source_conditions = {};
  copy.source_key = "missing";
  EXPECT_S3_ERROR(walrus_.CopyObject(kAlice, copy).status(), "NoSuchKey", 404);
  copy.source_bucket = "nobucket";
  EXPECT_S3_ERROR(walrus_.CopyObject(kAlice, copy).status(), "NoSuchBucket", 404);
}

TEST_F(WalrusTest, CopyAcrossAccountsNeedsReadOnSourceAndWriteOnDestination) {
  MakeBucket(kAlice, "alices");
  MakeBucket(kCarol, "carols");
  ASSERT_TRUE(Put(kAlice, "alices", "private", "secret").ok());
  ASSERT_TRUE(Put(kAlice, "alices", "public", "shared", "public-read").ok());
  CopyObjectRequest copy;
  copy.source_bucket = "alices";
  copy.source_key = "private";
  copy.bucket = "carols";
  copy.key = "stolen";
  EXPECT_S3_ERROR(walrus_.CopyObject(kCarol, copy).status(), "AccessDenied", 403);
  copy.source_key = "public";
  ASSERT_TRUE(walrus_.CopyObject(kCarol, copy).ok());
  EXPECT_EQ(walrus_.HeadObject(kCarol, {"carols", "stolen", std::nullopt, {}})->info.owner.id, kOtherId);
  // Writing into alice's bucket is refused.
  copy.bucket = "alices";
  copy.key = "planted";
  EXPECT_S3_ERROR(walrus_.CopyObject(kCarol, copy).status(), "AccessDenied", 403);
}

// Listing through Walrus (the walk itself is tested exhaustively in listing_test.cc).

TEST_F(WalrusTest, ListObjectsV1) {
  MakeBucket(kAlice, "bkt");
  for (const char* k : {"a/1", "a/2", "b", "c/x/1", "c/y", "d"}) ASSERT_TRUE(Put(kAlice, "bkt", k, k).ok());
  auto all = walrus_.ListObjects(kAlice, {.bucket = "bkt"});
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Keys(*all), ElementsAre("a/1", "a/2", "b", "c/x/1", "c/y", "d"));
  EXPECT_FALSE(all->truncated);
  EXPECT_EQ(all->contents[0].etag, "\"" + Md5Hex("a/1") + "\"");
  EXPECT_EQ(all->contents[0].size, 3u);
  EXPECT_EQ(all->contents[0].owner, (Owner{kAcmeId, "acme"}));

  auto grouped = walrus_.ListObjects(kAlice, {.bucket = "bkt", .delimiter = "/", .max_keys = 3});
  ASSERT_TRUE(grouped.ok());
  EXPECT_THAT(grouped->common_prefixes, ElementsAre("a/", "c/"));
  EXPECT_THAT(Keys(*grouped), ElementsAre("b"));
  EXPECT_TRUE(grouped->truncated);
  EXPECT_EQ(grouped->next_marker, "c/");
  auto rest = walrus_.ListObjects(kAlice, {.bucket = "bkt", .delimiter = "/", .max_keys = 3, .marker = "c/"});
  EXPECT_THAT(Keys(*rest), ElementsAre("d"));
  EXPECT_FALSE(rest->truncated);
  EXPECT_EQ(rest->next_marker, "");

  // Without a delimiter, no NextMarker: clients resume from the last key.
  auto page = walrus_.ListObjects(kAlice, {.bucket = "bkt", .max_keys = 2});
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_marker, "");
  auto page2 = walrus_.ListObjects(kAlice, {.bucket = "bkt", .max_keys = 2, .marker = page->contents.back().key});
  EXPECT_THAT(Keys(*page2), ElementsAre("b", "c/x/1"));

  auto sub = walrus_.ListObjects(kAlice, {.bucket = "bkt", .prefix = "c/", .delimiter = "/"});
  EXPECT_THAT(sub->common_prefixes, ElementsAre("c/x/"));
  EXPECT_THAT(Keys(*sub), ElementsAre("c/y"));

  EXPECT_S3_ERROR(walrus_.ListObjects(kAlice, {.bucket = "bkt", .max_keys = -1}).status(), "InvalidArgument", 400);
  EXPECT_EQ(walrus_.ListObjects(kAlice, {.bucket = "bkt", .max_keys = 5000})->max_keys, 1000);
  auto none = walrus_.ListObjects(kAlice, {.bucket = "bkt", .max_keys = 0});
  EXPECT_TRUE(none->contents.empty());
  EXPECT_FALSE(none->truncated);
  EXPECT_S3_ERROR(walrus_.ListObjects(kAlice, {.bucket = "nobucket"}).status(), "NoSuchBucket", 404);
}

TEST_F(WalrusTest, ListObjectsV2PagesWithContinuationTokens) {
  MakeBucket(kAlice, "bkt");
  std::vector<std::string> keys;
  for (int i = 0; i < 25; ++i) keys.push_back("k" + std::to_string(100 + i));
  for (const auto& k : keys) ASSERT_TRUE(Put(kAlice, "bkt", k, "x").ok());
  std::vector<std::string> seen;
  std::optional<std::string> token;
  int pages = 0;
  for (;; ++pages) {
    ASSERT_LT(pages, 10);
    ListObjectsRequest req{.bucket = "bkt", .max_keys = 10, .v2 = true, .continuation_token = token};
    auto page = walrus_.ListObjects(kAlice, req);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_EQ(page->key_count, static_cast<int>(page->contents.size()));
    for (const auto& o : page->contents) seen.push_back(o.key);
    if (!page->truncated) {
      EXPECT_EQ(page->next_continuation_token, "");
      break;
    }
    EXPECT_FALSE(page->next_continuation_token.empty());
    token = page->next_continuation_token;
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(seen, keys);

  auto after = walrus_.ListObjects(kAlice, {.bucket = "bkt", .max_keys = 2, .v2 = true, .start_after = "k122"});
  EXPECT_THAT(Keys(*after), ElementsAre("k123", "k124"));
  EXPECT_FALSE(after->truncated);
  // A continuation token overrides start-after.
  auto first = walrus_.ListObjects(kAlice, {.bucket = "bkt", .max_keys = 1, .v2 = true});
  auto resumed = walrus_.ListObjects(kAlice, {.bucket = "bkt",
                                              .max_keys = 1,
                                              .v2 = true,
                                              .continuation_token = first->next_continuation_token,
                                              .start_after = "k120"});
  EXPECT_THAT(Keys(*resumed), ElementsAre("k101"));
  EXPECT_S3_ERROR(walrus_.ListObjects(kAlice, {.bucket = "bkt", .v2 = true, .continuation_token = "garbage"}).status(),
                  "InvalidArgument", 400);
}

TEST_F(WalrusTest, ListObjectVersionsShowsEachObjectOnceAsNullVersion) {
  MakeBucket(kAlice, "bkt");
  for (const char* k : {"a", "b", "b", "c/1", "d"}) ASSERT_TRUE(Put(kAlice, "bkt", k, k).ok());
  auto all = walrus_.ListObjectVersions(kAlice, {.bucket = "bkt"});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->versions.size(), 4u);
  for (const auto& v : all->versions) {
    EXPECT_EQ(v.version_id, "null");
    EXPECT_TRUE(v.is_latest);
  }
  auto page = walrus_.ListObjectVersions(kAlice, {.bucket = "bkt", .delimiter = "/", .max_keys = 2});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_key_marker, "b");
  EXPECT_EQ(page->next_version_id_marker, "null");
  auto next = walrus_.ListObjectVersions(
      kAlice, {.bucket = "bkt", .delimiter = "/", .key_marker = "b", .version_id_marker = "null", .max_keys = 1});
  EXPECT_TRUE(next->versions.empty());
  EXPECT_THAT(next->common_prefixes, ElementsAre("c/"));
  EXPECT_EQ(next->next_key_marker, "c/");
  EXPECT_EQ(next->next_version_id_marker, "");
  EXPECT_S3_ERROR(walrus_.ListObjectVersions(kAlice, {.bucket = "bkt", .version_id_marker = "null"}).status(),
                  "InvalidArgument", 400);
  EXPECT_S3_ERROR(
      walrus_.ListObjectVersions(kAlice, {.bucket = "bkt", .key_marker = "a", .version_id_marker = "v1"}).status(),
      "InvalidArgument", 400);
  EXPECT_S3_ERROR(walrus_.ListObjectVersions(kCarol, {.bucket = "bkt"}).status(), "AccessDenied", 403);
}

// Multipart uploads.

class MultipartTest : public WalrusTest {
 protected:
  std::string Create(const std::string& key, const Caller& who = kAlice) {
    CreateMultipartUploadRequest req{"bkt", key, {}, {}, ""};
    req.content.content_type = "video/mp4";
    req.metadata = {{"M", "1"}};
    auto id = walrus_.CreateMultipartUpload(who, req);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : "";
  }
  Result<std::string> Part(const std::string& key, const std::string& id, int n, const std::string& data,
                           const Caller& who = kAlice) {
    UploadPartRequest req{"bkt", key, id, n, std::nullopt, data.size()};
    StringSource src(data);
    return walrus_.UploadPart(who, req, src);
  }
  // An UploadPartCopy of bkt/src (bytes `range`) into part `n` of upload `id` of `key`.
  static UploadPartCopyRequest CopyOfSrc(const std::string& key, const std::string& id, int n,
                                         std::optional<std::string> range) {
    return {.bucket = "bkt",
            .key = key,
            .upload_id = id,
            .part_number = n,
            .source_bucket = "bkt",
            .source_key = "src",
            .source_range = std::move(range),
            .source_conditions = {}};
  }
  void SetUp() override { MakeBucket(kAlice, "bkt"); }
};

TEST_F(MultipartTest, CompleteJoinsPartsWithMultipartEtag) {
  std::string id = Create("big");
  std::string p1(10, '1'), p2(12, '2'), p3(3, '3');
  auto e1 = Part("big", id, 1, p1);
  auto e2 = Part("big", id, 2, p2);
  auto e3 = Part("big", id, 3, p3);
  ASSERT_TRUE(e1.ok() && e2.ok() && e3.ok());
  EXPECT_EQ(*e1, "\"" + Md5Hex(p1) + "\"");
  // Not visible before completion.
  EXPECT_S3_ERROR(Read(kAlice, "bkt", "big").status(), "NoSuchKey", 404);

  auto parts = walrus_.ListParts(kAlice, {"bkt", "big", id, 0, 1000});
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->parts.size(), 3u);
  EXPECT_EQ(parts->parts[1].size, 12u);
  EXPECT_EQ(parts->parts[1].etag, *e2);
  EXPECT_EQ(parts->initiator.id, kAlice.user_id);
  EXPECT_EQ(parts->owner.id, kAcmeId);

  auto done = walrus_.CompleteMultipartUpload(kAlice, {"bkt", "big", id, {{1, *e1}, {2, *e2}, {3, *e3}}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  Md5 m1, m2, m3;
  m1.Update(p1);
  m2.Update(p2);
  m3.Update(p3);
  EXPECT_EQ(done->etag, MultipartEtag({m1.Final(), m2.Final(), m3.Final()}));
  EXPECT_THAT(done->etag, ::testing::EndsWith("-3\""));
  EXPECT_EQ(*Read(kAlice, "bkt", "big"), p1 + p2 + p3);
  EXPECT_EQ(*Read(kAlice, "bkt", "big", "bytes=8-11"), "1122");  // across a part boundary
  auto head = walrus_.HeadObject(kAlice, {"bkt", "big", std::nullopt, {}});
  EXPECT_EQ(head->info.parts_count, 3u);
  EXPECT_EQ(head->info.content.content_type, "video/mp4");
  EXPECT_EQ(head->info.metadata, (Pairs{{"m", "1"}}));
  EXPECT_S3_ERROR(walrus_.ListParts(kAlice, {"bkt", "big", id, 0, 1000}).status(), "NoSuchUpload", 404);
  EXPECT_EQ(backend_.BlobCountForTest(), 3u);
}

// A body whose client-sent checksum the front end verified, as RequestBody reports it: only
// once read to its end.
class ChecksummedSource final : public ByteSource {
 public:
  ChecksummedSource(std::string data, ChecksumAlgorithm a) : src_(data), sum_{a, Sum(a, data)} {}
  static std::string Sum(ChecksumAlgorithm a, std::string_view data) {
    Checksummer c(a);
    c.Update(data);
    return c.FinalBase64();
  }
  Result<size_t> Read(char* buf, size_t n) override {
    EUCA_ASSIGN_OR_RETURN(size_t got, src_.Read(buf, n));
    if (got == 0) done_ = true;
    return got;
  }
  std::optional<StoredChecksum> VerifiedChecksum() const override {
    return done_ ? std::optional<StoredChecksum>(sum_) : std::nullopt;
  }

 private:
  StringSource src_;
  StoredChecksum sum_;
  bool done_ = false;
};

// A composite object's checksum is of its parts' checksums; a copy of it gets a full-object
// checksum of the same algorithm (it has no parts), a copy asking for another algorithm gets
// that one, and a part copied into an upload with an algorithm gets its checksum computed.
TEST_F(MultipartTest, ChecksumsOfPartsCompletionAndCopies) {
  using A = ChecksumAlgorithm;
  CreateMultipartUploadRequest req{"bkt", "sum", {}, {}, ""};
  req.checksum_algorithm = A::kSha256;
  auto id = walrus_.CreateMultipartUpload(kAlice, req);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const std::string p1(10, '1'), p2 = "22";
  auto part = [&](int n, const std::string& data, std::optional<A> sent) {
    UploadPartRequest ur{"bkt", "sum", *id, n, std::nullopt, data.size(), sent};
    if (!sent) {
      StringSource src(data);
      return walrus_.UploadPart(kAlice, ur, src);
    }
    ChecksummedSource src(data, *sent);
    return walrus_.UploadPart(kAlice, ur, src);
  };
  // A COMPOSITE upload's parts must carry its algorithm's checksum; nothing is stored otherwise.
  EXPECT_S3_ERROR(part(1, p1, std::nullopt).status(), "InvalidRequest", 400);
  EXPECT_S3_ERROR(part(1, p1, A::kCrc32).status(), "InvalidRequest", 400);
  auto e1 = part(1, p1, A::kSha256);
  auto e2 = part(2, p2, A::kSha256);
  ASSERT_TRUE(e1.ok() && e2.ok());
  const std::string s1 = ChecksummedSource::Sum(A::kSha256, p1), s2 = ChecksummedSource::Sum(A::kSha256, p2);
  auto listed = walrus_.ListParts(kAlice, {"bkt", "sum", *id, 0, 1000});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->parts.size(), 2u);
  EXPECT_EQ(listed->parts[0].checksum->value, s1);
  EXPECT_EQ(listed->checksum_type, "COMPOSITE");

  auto complete = [&](std::vector<CompletedPart> parts) {
    return walrus_.CompleteMultipartUpload(kAlice, {"bkt", "sum", *id, std::move(parts)});
  };
  EXPECT_S3_ERROR(complete({{1, *e1}, {2, *e2, StoredChecksum{A::kSha256, s2}}}).status(), "InvalidRequest", 400);
  EXPECT_S3_ERROR(complete({{1, *e1, StoredChecksum{A::kSha256, s2}}, {2, *e2, StoredChecksum{A::kSha256, s2}}})
                      .status(),
                  "InvalidPart", 400);
  auto done = complete({{1, *e1, StoredChecksum{A::kSha256, s1}}, {2, *e2, StoredChecksum{A::kSha256, s2}}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  const std::string composite = *CompositeChecksum(A::kSha256, {s1, s2});
  ASSERT_TRUE(done->checksum);
  EXPECT_EQ(done->checksum->value, composite);
  EXPECT_EQ(done->checksum->type(), "COMPOSITE");

  // Reads: the whole object's checksum, a part's, none for a Range.
  auto whole = walrus_.HeadObject(kAlice, {"bkt", "sum", std::nullopt, {}});
  ASSERT_TRUE(whole.ok() && whole->checksum);
  EXPECT_EQ(whole->checksum->value, composite);
  auto second = walrus_.HeadObject(kAlice, {"bkt", "sum", std::nullopt, {}, 2});
  ASSERT_TRUE(second.ok() && second->checksum);
  EXPECT_EQ(second->checksum->value, s2);
  auto ranged = walrus_.HeadObject(kAlice, {"bkt", "sum", "bytes=0-1", {}});
  ASSERT_TRUE(ranged.ok());
  EXPECT_FALSE(ranged->checksum);
  auto attrs = walrus_.GetObjectAttributes(kAlice, {"bkt", "sum", 1, 1});
  ASSERT_TRUE(attrs.ok()) << attrs.status().ToString();
  EXPECT_EQ(attrs->parts_count, 2u);
  ASSERT_EQ(attrs->parts.size(), 1u);
  EXPECT_EQ(attrs->parts[0].part_number, 2);
  EXPECT_EQ(attrs->parts[0].size, 2u);
  EXPECT_EQ(attrs->parts[0].checksum->value, s2);
  EXPECT_FALSE(attrs->truncated);

  // Copies.
  auto copy_of = [](std::string from, std::string to) {
    CopyObjectRequest r;
    r.source_bucket = r.bucket = "bkt";
    r.source_key = std::move(from);
    r.key = std::move(to);
    return r;
  };
  CopyObjectRequest copy = copy_of("sum", "copy");
  auto c = walrus_.CopyObject(kAlice, copy);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->checksum);
  EXPECT_EQ(c->checksum->value, ChecksummedSource::Sum(A::kSha256, p1 + p2));
  copy.key = "copy32";
  copy.checksum_algorithm = A::kCrc32;
  c = walrus_.CopyObject(kAlice, copy);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->checksum->algorithm, A::kCrc32);
  EXPECT_EQ(c->checksum->value, ChecksummedSource::Sum(A::kCrc32, p1 + p2));
  EXPECT_EQ(walrus_.HeadObject(kAlice, {"bkt", "copy32", std::nullopt, {}})->checksum->value, c->checksum->value);
  // A copy of an object with a full-object checksum keeps it; one without has none.
  copy = copy_of("copy32", "copy32b");
  EXPECT_EQ(walrus_.CopyObject(kAlice, copy)->checksum->value, c->checksum->value);
  ASSERT_TRUE(Put(kAlice, "bkt", "plain", "abc").ok());
  copy = copy_of("plain", "plain2");
  EXPECT_FALSE(walrus_.CopyObject(kAlice, copy)->checksum);

  req.key = "fromcopy";
  req.checksum_algorithm = A::kCrc32c;
  auto id2 = walrus_.CreateMultipartUpload(kAlice, req);
  ASSERT_TRUE(id2.ok());
  UploadPartCopyRequest pc{.bucket = "bkt", .key = "fromcopy", .upload_id = *id2, .part_number = 1,
                           .source_bucket = "bkt", .source_key = "sum", .source_range = "bytes=0-9",
                           .source_conditions = {}};
  auto copied = walrus_.UploadPartCopy(kAlice, pc);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  ASSERT_TRUE(copied->checksum);
  EXPECT_EQ(copied->checksum->value, ChecksummedSource::Sum(A::kCrc32c, p1));
}

// A FULL_OBJECT upload's checksum is the CRC of the whole content; its parts may leave their
// CRC to Walrus; an expected value given at completion must match.
TEST_F(MultipartTest, FullObjectChecksumsCombineCrcs) {
  using A = ChecksumAlgorithm;
  CreateMultipartUploadRequest req{"bkt", "full", {}, {}, ""};
  req.checksum_algorithm = A::kSha1;
  req.checksum_type = "FULL_OBJECT";
  EXPECT_S3_ERROR(walrus_.CreateMultipartUpload(kAlice, req).status(), "InvalidRequest", 400);
  req.checksum_algorithm = A::kCrc64Nvme;
  req.checksum_type = "COMPOSITE";
  EXPECT_S3_ERROR(walrus_.CreateMultipartUpload(kAlice, req).status(), "InvalidRequest", 400);
  req.checksum_algorithm = std::nullopt;
  req.checksum_type = "FULL_OBJECT";
  EXPECT_S3_ERROR(walrus_.CreateMultipartUpload(kAlice, req).status(), "InvalidRequest", 400);
  req.checksum_algorithm = A::kCrc64Nvme;
  req.checksum_type = "";  // CRC64NVME's default is FULL_OBJECT
  auto id = walrus_.CreateMultipartUpload(kAlice, req);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const std::string p1(11, 'x'), p2 = "yz";
  StringSource s1(p1);
  auto e1 = walrus_.UploadPart(kAlice, {"bkt", "full", *id, 1, std::nullopt, p1.size()}, s1);
  ChecksummedSource s2(p2, A::kCrc64Nvme);
  auto e2 = walrus_.UploadPart(kAlice, {"bkt", "full", *id, 2, std::nullopt, p2.size(), A::kCrc64Nvme}, s2);
  ASSERT_TRUE(e1.ok() && e2.ok()) << e1.status().ToString() << e2.status().ToString();
  const std::string want = ChecksummedSource::Sum(A::kCrc64Nvme, p1 + p2);
  CompleteMultipartUploadRequest cr{"bkt", "full", *id, {{1, *e1}, {2, *e2}}};
  cr.checksum = StoredChecksum{A::kCrc64Nvme, ChecksummedSource::Sum(A::kCrc64Nvme, "other")};
  EXPECT_S3_ERROR(walrus_.CompleteMultipartUpload(kAlice, cr).status(), "BadDigest", 400);
  cr.checksum->value = want;
  cr.checksum_type = "COMPOSITE";
  EXPECT_S3_ERROR(walrus_.CompleteMultipartUpload(kAlice, cr).status(), "InvalidRequest", 400);
  cr.checksum_type = "FULL_OBJECT";
  auto done = walrus_.CompleteMultipartUpload(kAlice, cr);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_TRUE(done->checksum);
  EXPECT_EQ(done->checksum->value, want);
  EXPECT_EQ(done->checksum->type(), "FULL_OBJECT");
}

TEST_F(MultipartTest, CompletionErrors) {
  std::string id = Create("k");
  auto e1 = Part("k", id, 1, std::string(5, 'a'));  // below the minimum of 10
  auto e2 = Part("k", id, 2, std::string(10, 'b'));
  ASSERT_TRUE(e1.ok() && e2.ok());
  auto complete = [&](std::vector<CompletedPart> parts) {
    return walrus_.CompleteMultipartUpload(kAlice, {"bkt", "k", id, std::move(parts)}).status();
  };
  EXPECT_S3_ERROR(complete({{1, *e1}, {2, *e2}}), "EntityTooSmall", 400);
  EXPECT_S3_ERROR(complete({{2, *e2}, {1, *e1}}), "InvalidPartOrder", 400);
  EXPECT_S3_ERROR(complete({{2, *e2}, {2, *e2}}), "InvalidPartOrder", 400);
  EXPECT_S3_ERROR(complete({{1, "\"0000\""}}), "InvalidPart", 400);
  EXPECT_S3_ERROR(complete({{7, *e2}}), "InvalidPart", 400);
  EXPECT_S3_ERROR(complete({}), "MalformedXML", 400);
  // The failed attempts changed nothing: the upload still completes, and a small last
  // part is fine. Quotes around ETags are optional.
  auto e3 = Part("k", id, 3, "c");
  ASSERT_TRUE(e3.ok());
  auto done = walrus_.CompleteMultipartUpload(kAlice, {"bkt", "k", id, {{2, std::string(BareEtag(*e2))}, {3, *e3}}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(*Read(kAlice, "bkt", "k"), std::string(10, 'b') + "c");
  EXPECT_EQ(backend_.BlobCountForTest(), 2u);  // part 1, left out, is gone
}

TEST_F(MultipartTest, UploadsAreBoundToTheirBucketAndKey) {
  MakeBucket(kAlice, "other-bkt");
  std::string id = Create("k");
  EXPECT_S3_ERROR(Part("other-key", id, 1, "x").status(), "NoSuchUpload", 404);
  UploadPartRequest wrong_bucket{"other-bkt", "k", id, 1, std::nullopt, std::nullopt};
  StringSource src("x");
  EXPECT_S3_ERROR(walrus_.UploadPart(kAlice, wrong_bucket, src).status(), "NoSuchUpload", 404);
  EXPECT_S3_ERROR(Part("k", "no-such-id", 1, "x").status(), "NoSuchUpload", 404);
  EXPECT_S3_ERROR(Part("k", id, 0, "x").status(), "InvalidArgument", 400);
  EXPECT_S3_ERROR(Part("k", id, 10001, "x").status(), "InvalidArgument", 400);
  EXPECT_S3_ERROR(walrus_.AbortMultipartUpload(kAlice, "bkt", "other", id), "NoSuchUpload", 404);
  ASSERT_TRUE(Part("k", id, 1, "x").ok());
  ASSERT_TRUE(walrus_.AbortMultipartUpload(kAlice, "bkt", "k", id).ok());
  EXPECT_S3_ERROR(walrus_.AbortMultipartUpload(kAlice, "bkt", "k", id), "NoSuchUpload", 404);
  EXPECT_S3_ERROR(walrus_.CompleteMultipartUpload(kAlice, {"bkt", "k", id, {{1, "x"}}}).status(), "NoSuchUpload", 404);
  EXPECT_EQ(backend_.BlobCountForTest(), 0u);
}

TEST_F(MultipartTest, ReuploadedPartReplacesTheOld) {
  std::string id = Create("k");
  auto old_etag = Part("k", id, 1, "first version");
  auto new_etag = Part("k", id, 1, "second version");
  ASSERT_TRUE(old_etag.ok() && new_etag.ok());
  EXPECT_S3_ERROR(walrus_.CompleteMultipartUpload(kAlice, {"bkt", "k", id, {{1, *old_etag}}}).status(), "InvalidPart",
                  400);
  ASSERT_TRUE(walrus_.CompleteMultipartUpload(kAlice, {"bkt", "k", id, {{1, *new_etag}}}).ok());
  EXPECT_EQ(*Read(kAlice, "bkt", "k"), "second version");
  EXPECT_EQ(backend_.BlobCountForTest(), 1u);
}

TEST_F(MultipartTest, PartMd5AndLengthAreChecked) {
  std::string id = Create("k");
  UploadPartRequest req{"bkt", "k", id, 1, Md5Base64("other"), std::nullopt};
  StringSource src("data");
  EXPECT_S3_ERROR(walrus_.UploadPart(kAlice, req, src).status(), "BadDigest", 400);
  EXPECT_TRUE(walrus_.ListParts(kAlice, {"bkt", "k", id, 0, 1000})->parts.empty());
}

TEST_F(MultipartTest, ListPartsPages) {
  std::string id = Create("k");
  for (int n : {1, 2, 3, 5, 8}) ASSERT_TRUE(Part("k", id, n, std::string(10, 'x')).ok());
  auto page = walrus_.ListParts(kAlice, {"bkt", "k", id, 0, 2});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->parts.size(), 2u);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_part_number_marker, 2);
  auto next = walrus_.ListParts(kAlice, {"bkt", "k", id, 2, 2});
  EXPECT_EQ(next->parts[0].part_number, 3);
  EXPECT_EQ(next->parts[1].part_number, 5);
  EXPECT_TRUE(next->truncated);
  auto last = walrus_.ListParts(kAlice, {"bkt", "k", id, 5, 2});
  ASSERT_EQ(last->parts.size(), 1u);
  EXPECT_FALSE(last->truncated);
  EXPECT_S3_ERROR(walrus_.ListParts(kAlice, {"bkt", "k", id, -1, 2}).status(), "InvalidArgument", 400);
  EXPECT_S3_ERROR(walrus_.ListParts(kCarol, {"bkt", "k", id, 0, 2}).status(), "AccessDenied", 403);
}

TEST_F(MultipartTest, ListMultipartUploadsPagesByKeyAndUploadId) {
  std::string a1 = Create("a");
  clock_.Advance(1);
  std::string a2 = Create("a");
  std::string b = Create("dir/b");
  std::string c = Create("dir/sub/c");
  std::string z = Create("z");
  EXPECT_LT(a1, a2);  // upload ids sort by initiation
  auto all = walrus_.ListMultipartUploads(kAlice, {.bucket = "bkt"});
  ASSERT_TRUE(all.ok());
  std::vector<std::string> ids;
  for (const auto& u : all->uploads) ids.push_back(u.upload_id);
  EXPECT_THAT(ids, ElementsAre(a1, a2, b, c, z));
  EXPECT_EQ(all->uploads[0].owner.id, kAcmeId);
  EXPECT_EQ(all->uploads[0].initiator.display_name, "alice@acme");

  auto page = walrus_.ListMultipartUploads(kAlice, {.bucket = "bkt", .max_uploads = 1});
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_key_marker, "a");
  EXPECT_EQ(page->next_upload_id_marker, a1);
  auto page2 = walrus_.ListMultipartUploads(
      kAlice, {.bucket = "bkt", .key_marker = "a", .upload_id_marker = a1, .max_uploads = 1});
  ASSERT_EQ(page2->uploads.size(), 1u);
  EXPECT_EQ(page2->uploads[0].upload_id, a2);
  auto after_a = walrus_.ListMultipartUploads(kAlice, {.bucket = "bkt", .key_marker = "a"});
  EXPECT_EQ(after_a->uploads.size(), 3u);

  auto grouped = walrus_.ListMultipartUploads(kAlice, {.bucket = "bkt", .delimiter = "/"});
  EXPECT_THAT(grouped->common_prefixes, ElementsAre("dir/"));
  EXPECT_EQ(grouped->uploads.size(), 3u);
  auto sub = walrus_.ListMultipartUploads(kAlice, {.bucket = "bkt", .prefix = "dir/", .delimiter = "/"});
  EXPECT_THAT(sub->common_prefixes, ElementsAre("dir/sub/"));
  ASSERT_EQ(sub->uploads.size(), 1u);
  EXPECT_EQ(sub->uploads[0].key, "dir/b");
  EXPECT_S3_ERROR(walrus_.ListMultipartUploads(kCarol, {.bucket = "bkt"}).status(), "AccessDenied", 403);
}

TEST_F(MultipartTest, UploadPartCopyCopiesRanges) {
  ASSERT_TRUE(Put(kAlice, "bkt", "src", "0123456789abcdefghij").ok());
  std::string id = Create("dst");
  UploadPartCopyRequest req = CopyOfSrc("dst", id, 1, "bytes=0-9");
  auto c1 = walrus_.UploadPartCopy(kAlice, req);
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();
  EXPECT_EQ(c1->etag, "\"" + Md5Hex("0123456789") + "\"");
  req.part_number = 2;
  req.source_range = "bytes=15-19";
  auto c2 = walrus_.UploadPartCopy(kAlice, req);
  ASSERT_TRUE(c2.ok());
  ASSERT_TRUE(walrus_.CompleteMultipartUpload(kAlice, {"bkt", "dst", id, {{1, c1->etag}, {2, c2->etag}}}).ok());
  EXPECT_EQ(*Read(kAlice, "bkt", "dst"), "0123456789fghij");
  req.source_range = "bytes=50-60";
  EXPECT_S3_ERROR(walrus_.UploadPartCopy(kAlice, req).status(), "NoSuchUpload", 404);
  std::string id2 = Create("dst2");
  req.upload_id = id2;
  req.key = "dst2";
  EXPECT_S3_ERROR(walrus_.UploadPartCopy(kAlice, req).status(), "InvalidArgument", 400);
  req.source_range = "rows=1-2";
  EXPECT_S3_ERROR(walrus_.UploadPartCopy(kAlice, req).status(), "InvalidArgument", 400);
}

// UploadPartCopy read x-amz-copy-source-range as a GET Range: "bytes=0-99" of a 10-byte source
// was clamped to the 10 bytes, "bytes=5-" and "bytes=-3" were taken. S3 wants exactly
// bytes=FIRST-LAST with FIRST <= LAST < size, else 400 InvalidArgument, and stores no part.
TEST_F(MultipartTest, UploadPartCopyRangeMustBeExactAndWithinTheSource) {
  ASSERT_TRUE(Put(kAlice, "bkt", "src", "0123456789").ok());
  std::string id = Create("dst");
  UploadPartCopyRequest req = CopyOfSrc("dst", id, 1, std::nullopt);
  for (const char* bad :
       {"bytes=0-99", "bytes=0-10", "bytes=10-10", "bytes=5-", "bytes=-3", "bytes=3-2", "bytes=0-", "bytes=", "bytes=-",
        "bytes=0-1,2-3", "bytes= 0-1", "bytes=0-1 ", "bytes=+0-1", "0-1", "bytes=a-b", ""}) {
    req.source_range = bad;
    Status s = walrus_.UploadPartCopy(kAlice, req).status();
    EXPECT_S3_ERROR(s, "InvalidArgument", 400);
    EXPECT_THAT(s.message(), HasSubstr("'" + std::string(bad) + "'"));
  }
  req.source_range = "bytes=0-99";
  EXPECT_THAT(walrus_.UploadPartCopy(kAlice, req).status().message(),
              HasSubstr("is not valid for source object of size 10"));
  auto none = walrus_.ListParts(kAlice, {.bucket = "bkt", .key = "dst", .upload_id = id});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->parts.empty());

  // The boundaries S3 takes: the whole source, and its last byte alone.
  int n = 0;
  for (auto [range, bytes] : {std::pair{"bytes=0-9", "0123456789"}, std::pair{"bytes=9-9", "9"}}) {
    req.part_number = ++n;
    req.source_range = range;
    auto copied = walrus_.UploadPartCopy(kAlice, req);
    ASSERT_TRUE(copied.ok()) << range << ": " << copied.status().ToString();
    EXPECT_EQ(copied->etag, "\"" + Md5Hex(bytes) + "\"") << range;
  }
}

TEST_F(MultipartTest, CopyingAMultipartObjectGivesAPlainMd5Etag) {
  std::string id = Create("mp");
  auto e1 = Part("mp", id, 1, std::string(10, 'a'));
  auto e2 = Part("mp", id, 2, "b");
  ASSERT_TRUE(walrus_.CompleteMultipartUpload(kAlice, {"bkt", "mp", id, {{1, *e1}, {2, *e2}}}).ok());
  CopyObjectRequest copy;
  copy.source_bucket = "bkt";
  copy.source_key = "mp";
  copy.bucket = "bkt";
  copy.key = "flat";
  auto copied = walrus_.CopyObject(kAlice, copy);
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(copied->etag, "\"" + Md5Hex(std::string(10, 'a') + "b") + "\"");
  EXPECT_EQ(walrus_.HeadObject(kAlice, {"bkt", "flat", std::nullopt, {}})->info.parts_count, 0u);
}

// Access control.

TEST_F(WalrusTest, AnotherAccountIsRefusedByDefault) {
  MakeBucket(kAlice, "bkt");
  ASSERT_TRUE(Put(kAlice, "bkt", "k", "v").ok());
  // Bob is in alice's account: the account is the principal of access.
  EXPECT_EQ(*Read(kBob, "bkt", "k"), "v");
  ASSERT_TRUE(Put(kBob, "bkt", "k2", "v2").ok());
  // Carol is not.
  EXPECT_S3_ERROR(walrus_.HeadBucket(kCarol, "bkt"), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.ListObjects(kCarol, {.bucket = "bkt"}).status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(Read(kCarol, "bkt", "k").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.HeadObject(kCarol, {"bkt", "k", std::nullopt, {}}).status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(Put(kCarol, "bkt", "k", "overwritten").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.DeleteObject(kCarol, "bkt", "k"), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.GetBucketAcl(kCarol, "bkt").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.PutBucketAcl(kCarol, "bkt", {.canned = "public-read"}), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.GetObjectAcl(kCarol, "bkt", "k").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.CreateMultipartUpload(kCarol, {"bkt", "m", {}, {}, ""}).status(), "AccessDenied", 403);
  // Anonymous too.
  EXPECT_S3_ERROR(Read(kAnon, "bkt", "k").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(Put(kAnon, "bkt", "k", "x").status(), "AccessDenied", 403);
  EXPECT_EQ(*Read(kAlice, "bkt", "k"), "v");  // unchanged
  // Carol's own bucket is hers.
  MakeBucket(kCarol, "carols");
  EXPECT_S3_ERROR(Read(kAlice, "carols", "x").status(), "AccessDenied", 403);
}

TEST_F(WalrusTest, BucketGrantsOpenTheBucketToAnotherAccount) {
  MakeBucket(kAlice, "bkt");
  ASSERT_TRUE(Put(kAlice, "bkt", "k", "v").ok());
  Acl read{{}, {{{Grantee::Type::kCanonicalUser, kOtherId, ""}, Permission::kRead}}};
  ASSERT_TRUE(walrus_.PutBucketAcl(kAlice, "bkt", {.acl = read}).ok());
  // READ on the bucket lists it, but the objects keep their own (private) ACL.
  auto listed = walrus_.ListObjects(kCarol, {.bucket = "bkt"});
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(Keys(*listed), ElementsAre("k"));
  EXPECT_TRUE(walrus_.HeadBucket(kCarol, "bkt").ok());
  EXPECT_S3_ERROR(Read(kCarol, "bkt", "k").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(Read(kCarol, "bkt", "nokey").status(), "NoSuchKey", 404);  // may list, so may know
  EXPECT_S3_ERROR(Put(kCarol, "bkt", "c", "x").status(), "AccessDenied", 403);
  // The stored grant names the account.
  auto acl = walrus_.GetBucketAcl(kAlice, "bkt");
  ASSERT_TRUE(acl.ok());
  EXPECT_EQ(acl->owner, (Owner{kAcmeId, "acme"}));
  ASSERT_EQ(acl->grants.size(), 1u);
  EXPECT_EQ(acl->grants[0].grantee.display_name, "other");

  // WRITE: carol writes objects that she owns; alice may delete but not read them.
  Acl write{{kAcmeId, "acme"},
            {{{Grantee::Type::kCanonicalUser, kOtherId, ""}, Permission::kRead},
             {{Grantee::Type::kCanonicalUser, kOtherId, ""}, Permission::kWrite}}};
  ASSERT_TRUE(walrus_.PutBucketAcl(kAlice, "bkt", {.acl = write}).ok());
  ASSERT_TRUE(Put(kCarol, "bkt", "carols", "hers").ok());
  EXPECT_EQ(walrus_.HeadObject(kCarol, {"bkt", "carols", std::nullopt, {}})->info.owner.id, kOtherId);
  EXPECT_S3_ERROR(Read(kAlice, "bkt", "carols").status(), "AccessDenied", 403);
  ASSERT_TRUE(Put(kCarol, "bkt", "shared", "for alice", "bucket-owner-read").ok());
  EXPECT_EQ(*Read(kAlice, "bkt", "shared"), "for alice");
  EXPECT_S3_ERROR(walrus_.GetObjectAcl(kAlice, "bkt", "shared").status(), "AccessDenied", 403);
  ASSERT_TRUE(Put(kCarol, "bkt", "full", "x", "bucket-owner-full-control").ok());
  EXPECT_TRUE(walrus_.GetObjectAcl(kAlice, "bkt", "full").ok());
  ASSERT_TRUE(walrus_.DeleteObject(kAlice, "bkt", "carols").ok());
  // Carol still may not delete the bucket or change its ACL.
  EXPECT_S3_ERROR(walrus_.PutBucketAcl(kCarol, "bkt", {.canned = "public-read"}), "AccessDenied", 403);
  // Back to private: carol is out again.
  ASSERT_TRUE(walrus_.PutBucketAcl(kAlice, "bkt", {.canned = "private"}).ok());
  EXPECT_S3_ERROR(walrus_.ListObjects(kCarol, {.bucket = "bkt"}).status(), "AccessDenied", 403);
}

TEST_F(WalrusTest, AnonymousOnlyWhereAnAclAllows) {
  MakeBucket(kAlice, "pub", "public-read");
  ASSERT_TRUE(Put(kAlice, "pub", "open", "everyone", "public-read").ok());
  ASSERT_TRUE(Put(kAlice, "pub", "closed", "only acme").ok());
  EXPECT_TRUE(walrus_.ListObjects(kAnon, {.bucket = "pub"}).ok());
  EXPECT_EQ(*Read(kAnon, "pub", "open"), "everyone");
  EXPECT_S3_ERROR(Read(kAnon, "pub", "closed").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(Put(kAnon, "pub", "new", "x").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.GetObjectAcl(kAnon, "pub", "open").status(), "AccessDenied", 403);

  MakeBucket(kAlice, "drop", "public-read-write");
  auto put = Put(kAnon, "drop", "anon-file", "from nobody");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto head = walrus_.HeadObject(kAnon, {"drop", "anon-file", std::nullopt, {}});
  EXPECT_S3_ERROR(head.status(), "AccessDenied", 403);  // its owner is anonymous: nobody
  EXPECT_TRUE(walrus_.DeleteObject(kAlice, "drop", "anon-file").ok());

  MakeBucket(kAlice, "members", "authenticated-read");
  ASSERT_TRUE(Put(kAlice, "members", "doc", "signed in", "authenticated-read").ok());
  EXPECT_EQ(*Read(kCarol, "members", "doc"), "signed in");
  EXPECT_S3_ERROR(Read(kAnon, "members", "doc").status(), "AccessDenied", 403);
}

TEST_F(WalrusTest, TypedAclsOnObjects) {
  MakeBucket(kAlice, "bkt");
  ASSERT_TRUE(Put(kAlice, "bkt", "k", "v").ok());
  auto acl = walrus_.GetObjectAcl(kAlice, "bkt", "k");
  ASSERT_TRUE(acl.ok());
  EXPECT_EQ(acl->owner, (Owner{kAcmeId, "acme"}));
  ASSERT_EQ(acl->grants.size(), 1u);
  EXPECT_EQ(acl->grants[0].permission, Permission::kFullControl);

  Acl grants{{kAcmeId, ""},
             {{{Grantee::Type::kCanonicalUser, kOtherId, "ignored"}, Permission::kRead},
              {{Grantee::Type::kCanonicalUser, kOtherId, ""}, Permission::kReadAcp},
              {{Grantee::Type::kGroup, kAuthenticatedUsersGroup, ""}, Permission::kRead}}};
  ASSERT_TRUE(walrus_.PutObjectAcl(kAlice, "bkt", "k", {.acl = grants}).ok());
  auto stored = walrus_.GetObjectAcl(kCarol, "bkt", "k");
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  ASSERT_EQ(stored->grants.size(), 3u);
  EXPECT_EQ(stored->grants[0].grantee.display_name, "other");  // from the account store
  EXPECT_EQ(stored->owner.display_name, "acme");
  EXPECT_EQ(*Read(kCarol, "bkt", "k"), "v");
  EXPECT_S3_ERROR(walrus_.PutObjectAcl(kCarol, "bkt", "k", {.canned = "public-read"}), "AccessDenied", 403);

  // Bad ACLs change nothing.
  Acl unknown{{}, {{{Grantee::Type::kCanonicalUser, "999999999999", ""}, Permission::kRead}}};
  EXPECT_S3_ERROR(walrus_.PutObjectAcl(kAlice, "bkt", "k", {.acl = unknown}), "InvalidArgument", 400);
  Acl group{{}, {{{Grantee::Type::kGroup, "http://example.com/everybody", ""}, Permission::kRead}}};
  EXPECT_S3_ERROR(walrus_.PutObjectAcl(kAlice, "bkt", "k", {.acl = group}), "InvalidArgument", 400);
  Acl stolen{{kOtherId, "other"}, {}};
  EXPECT_S3_ERROR(walrus_.PutObjectAcl(kAlice, "bkt", "k", {.acl = stolen}), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.PutObjectAcl(kAlice, "bkt", "k", {.canned = "private", .acl = grants}), "InvalidRequest",
                  400);
  EXPECT_S3_ERROR(walrus_.PutObjectAcl(kAlice, "bkt", "k", {}), "MalformedACLError", 400);
  EXPECT_S3_ERROR(walrus_.PutObjectAcl(kAlice, "bkt", "k", {.canned = "nonsense"}), "InvalidArgument", 400);
  EXPECT_EQ(walrus_.GetObjectAcl(kAlice, "bkt", "k")->grants.size(), 3u);

  // WRITE_ACP lets another account replace the ACL.
  Acl delegate{{}, {{{Grantee::Type::kCanonicalUser, kOtherId, ""}, Permission::kWriteAcp}}};
  ASSERT_TRUE(walrus_.PutObjectAcl(kAlice, "bkt", "k", {.acl = delegate}).ok());
  EXPECT_S3_ERROR(Read(kCarol, "bkt", "k").status(), "AccessDenied", 403);
  ASSERT_TRUE(walrus_.PutObjectAcl(kCarol, "bkt", "k", {.canned = "public-read"}).ok());
  EXPECT_EQ(*Read(kAnon, "bkt", "k"), "v");
  EXPECT_EQ(walrus_.GetObjectAcl(kAlice, "bkt", "k")->owner.id, kAcmeId);  // owner unchanged
  EXPECT_S3_ERROR(walrus_.GetObjectAcl(kAlice, "bkt", "none").status(), "NoSuchKey", 404);
}

// aws-exec-read (euca-upload-bundle's default), ec2-bundle-read and log-delivery-write were
// refused as unknown canned ACLs on bucket and object creation and on PUT ?acl.
TEST_F(WalrusTest, BundleReadAndLogDeliveryCannedAclsOnEveryWayIn) {
  const Grant owner_full{{Grantee::Type::kCanonicalUser, kAcmeId, "acme"}, Permission::kFullControl};
  const Grant cloud_read{{Grantee::Type::kCanonicalUser, kCloudId, "eucalyptus"}, Permission::kRead};
  const std::vector<Grant> log_delivery = {owner_full,
                                           {{Grantee::Type::kGroup, kLogDeliveryGroup, ""}, Permission::kWrite},
                                           {{Grantee::Type::kGroup, kLogDeliveryGroup, ""}, Permission::kReadAcp}};
  auto object_grants = [&](const std::string& bucket, const std::string& key) {
    auto acl = walrus_.GetObjectAcl(kAlice, bucket, key);
    EXPECT_TRUE(acl.ok()) << acl.status().ToString();
    return acl.ok() ? acl->grants : std::vector<Grant>{};
  };

  // Buckets.
  MakeBucket(kAlice, "logs", "log-delivery-write");
  EXPECT_EQ(walrus_.GetBucketAcl(kAlice, "logs")->grants, log_delivery);
  MakeBucket(kAlice, "images", "aws-exec-read");
  EXPECT_EQ(walrus_.GetBucketAcl(kAlice, "images")->grants, (std::vector<Grant>{owner_full, cloud_read}));
  EXPECT_TRUE(walrus_.ListObjects(kCloudAdmin, {.bucket = "images"}).ok());
  EXPECT_S3_ERROR(walrus_.ListObjects(kCarol, {.bucket = "images"}).status(), "AccessDenied", 403);

  // Objects: PUT, copy and multipart; the cloud's account reads them, nobody else does.
  ASSERT_TRUE(Put(kAlice, "images", "img.part.00", "part", "aws-exec-read").ok());
  EXPECT_EQ(object_grants("images", "img.part.00"), (std::vector<Grant>{owner_full, cloud_read}));
  EXPECT_EQ(*Read(kCloudAdmin, "images", "img.part.00"), "part");
  EXPECT_S3_ERROR(Read(kCarol, "images", "img.part.00").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(Read(kAnon, "images", "img.part.00").status(), "AccessDenied", 403);
  EXPECT_S3_ERROR(walrus_.GetObjectAcl(kCloudAdmin, "images", "img.part.00").status(), "AccessDenied", 403);
  CopyObjectRequest copy;
  copy.source_bucket = "images";
  copy.source_key = "img.part.00";
  copy.bucket = "images";
  copy.key = "copy";
  copy.canned_acl = "ec2-bundle-read";
  ASSERT_TRUE(walrus_.CopyObject(kAlice, copy).ok());
  EXPECT_EQ(*Read(kCloudAdmin, "images", "copy"), "part");
  auto id = walrus_.CreateMultipartUpload(kAlice, {"images", "mp", {}, {}, "ec2-bundle-read"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  StringSource part("multipart");
  auto etag = walrus_.UploadPart(kAlice, {"images", "mp", *id, 1, std::nullopt, 9}, part);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  ASSERT_TRUE(walrus_.CompleteMultipartUpload(kAlice, {"images", "mp", *id, {{1, *etag}}}).ok());
  EXPECT_EQ(object_grants("images", "mp"), (std::vector<Grant>{owner_full, cloud_read}));
  EXPECT_EQ(*Read(kCloudAdmin, "images", "mp"), "multipart");
  ASSERT_TRUE(Put(kAlice, "logs", "entry", "x", "log-delivery-write").ok());
  EXPECT_EQ(object_grants("logs", "entry"), log_delivery);

  // PUT ?acl.
  ASSERT_TRUE(Put(kAlice, "images", "later", "x").ok());
  EXPECT_S3_ERROR(Read(kCloudAdmin, "images", "later").status(), "AccessDenied", 403);
  ASSERT_TRUE(walrus_.PutObjectAcl(kAlice, "images", "later", {.canned = "aws-exec-read"}).ok());
  EXPECT_EQ(*Read(kCloudAdmin, "images", "later"), "x");
  ASSERT_TRUE(walrus_.PutObjectAcl(kAlice, "images", "later", {.canned = "log-delivery-write"}).ok());
  EXPECT_EQ(object_grants("images", "later"), log_delivery);
  ASSERT_TRUE(walrus_.PutBucketAcl(kAlice, "logs", {.canned = "ec2-bundle-read"}).ok());
  EXPECT_EQ(walrus_.GetBucketAcl(kAlice, "logs")->grants, (std::vector<Grant>{owner_full, cloud_read}));
  ASSERT_TRUE(walrus_.PutBucketAcl(kAlice, "images", {.canned = "log-delivery-write"}).ok());
  EXPECT_EQ(walrus_.GetBucketAcl(kAlice, "images")->grants, log_delivery);

  // The cloud's own objects need no grant beside the owner's.
  MakeBucket(kCloudAdmin, "cloud", "aws-exec-read");
  EXPECT_EQ(walrus_.GetBucketAcl(kCloudAdmin, "cloud")->grants.size(), 1u);
}

TEST(WalrusCloudAccountTest, ExecReadWithoutTheCloudsAccountIsRefusedAndStoresNothing) {
  objects::MemoryBackend backend;
  FakeClock clock;
  state::MemoryStateStore empty;
  for (state::StateStore* accounts :
       {static_cast<state::StateStore*>(&empty), static_cast<state::StateStore*>(nullptr)}) {
    Walrus walrus(backend, clock, {}, accounts);
    Status made = walrus.CreateBucket(kAlice, {"bkt", "", "aws-exec-read"});
    EXPECT_S3_ERROR(made, "InvalidArgument", 400);
    EXPECT_THAT(made.message(), HasSubstr("'eucalyptus'"));
    EXPECT_S3_ERROR(walrus.HeadBucket(kAlice, "bkt"), "NoSuchBucket", 404);
    ASSERT_TRUE(walrus.CreateBucket(kAlice, {"bkt", "", "log-delivery-write"}).ok());
    PutObjectRequest put;
    put.bucket = "bkt";
    put.key = "k";
    put.canned_acl = "ec2-bundle-read";
    StringSource src("v");
    EXPECT_S3_ERROR(walrus.PutObject(kAlice, put, src).status(), "InvalidArgument", 400);
    EXPECT_S3_ERROR(walrus.HeadObject(kAlice, {"bkt", "k", std::nullopt, {}}).status(), "NoSuchKey", 404);
    ASSERT_TRUE(walrus.DeleteBucket(kAlice, "bkt").ok());
  }
}

// Walrus over the filesystem backend.

class WalrusFsTest : public ::testing::Test {
 protected:
  WalrusFsTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "euca-walrus-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    auto b = objects::OpenFsBackend(dir_ + "/walrus", {.sync = false});
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
    WalrusOptions o;
    o.min_part_size = 1024;
    o.buffer_size = 4096;
    walrus_ = std::make_unique<Walrus>(*backend_, RealClock(), o);
    EXPECT_TRUE(walrus_->CreateBucket(kAlice, {"bkt", "", ""}).ok());
  }
  ~WalrusFsTest() override {
    walrus_.reset();
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<objects::FsBackend> backend_;
  std::unique_ptr<Walrus> walrus_;
};

TEST_F(WalrusFsTest, ConcurrentPutsOfOneKeyReadWholeWithMatchingEtag) {
  constexpr int kWriters = 6;
  auto content = [](int w) { return std::string(static_cast<size_t>(w + 1) * 9000, static_cast<char>('a' + w)); };
  {
    StringSource src(content(0));
    ASSERT_TRUE(walrus_->PutObject(kAlice, {.bucket = "bkt", .key = "k"}, src).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int r = 0; r < 10; ++r) {
        StringSource src(content(w));
        if (!walrus_->PutObject(kBob, {.bucket = "bkt", .key = "k"}, src).ok()) ++bad;
      }
    });
  }
  std::thread reader([&] {
    while (!stop) {
      auto got = walrus_->GetObject(kAlice, {"bkt", "k", std::nullopt, {}});
      if (!got.ok()) {
        ++bad;
        continue;
      }
      auto data = Drain(*got->body);
      int w = data.ok() && !data->empty() ? (*data)[0] - 'a' : -1;
      if (w < 0 || w >= kWriters || *data != content(w) || got->info.etag != "\"" + Md5Hex(*data) + "\"") ++bad;
      ++reads;
    }
  });
  for (auto& t : threads) t.join();
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

TEST_F(WalrusFsTest, MultipartAndCopySurviveReopen) {
  auto id = walrus_->CreateMultipartUpload(kAlice, {"bkt", "big", {}, {}, ""});
  ASSERT_TRUE(id.ok());
  std::vector<CompletedPart> parts;
  std::string whole;
  for (int n = 1; n <= 3; ++n) {
    std::string data(n == 3 ? 10 : 2000, static_cast<char>('0' + n));
    whole += data;
    StringSource src(data);
    auto etag = walrus_->UploadPart(kAlice, {"bkt", "big", *id, n, Md5Base64(data), data.size()}, src);
    ASSERT_TRUE(etag.ok()) << etag.status().ToString();
    parts.push_back({n, *etag});
  }
  ASSERT_TRUE(walrus_->CompleteMultipartUpload(kAlice, {"bkt", "big", *id, parts}).ok());
  CopyObjectRequest copy;
  copy.source_bucket = "bkt";
  copy.source_key = "big";
  copy.bucket = "bkt";
  copy.key = "copy";
  ASSERT_TRUE(walrus_->CopyObject(kAlice, copy).ok());
  // Reopen the directory: everything is there.
  walrus_.reset();
  backend_.reset();
  auto b = objects::OpenFsBackend(dir_ + "/walrus", {.sync = false});
  ASSERT_TRUE(b.ok());
  backend_ = std::move(b).value();
  EXPECT_EQ(backend_->reap_report().orphan_blobs, 0u);
  walrus_ = std::make_unique<Walrus>(*backend_, RealClock());
  for (const char* key : {"big", "copy"}) {
    auto got = walrus_->GetObject(kAlice, {"bkt", key, "bytes=1990-2010", {}});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*Drain(*got->body), whole.substr(1990, 21)) << key;
  }
}

// A body larger than four buffers goes through BodyPipeline (hashed and written on two more
// threads), and with sync on the blob file is written with O_DIRECT where the filesystem
// allows: the object and its ETag come out right, and a bad Content-MD5 leaves nothing.
class WalrusFsSyncTest : public WalrusFsTest {
 protected:
  WalrusFsSyncTest() {
    walrus_.reset();
    backend_.reset();
    auto b = objects::OpenFsBackend(dir_ + "/walrus2", {.sync = true});
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
    WalrusOptions o;
    o.buffer_size = 64 * 1024;
    walrus_ = std::make_unique<Walrus>(*backend_, RealClock(), o);
    EXPECT_TRUE(walrus_->CreateBucket(kAlice, {"bkt", "", ""}).ok());
  }
  // Files under the data directory's `sub` folder (blobs, tmp).
  size_t FilesIn(const std::string& sub) {
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/walrus2/" + sub))
      n += e.is_regular_file();
    return n;
  }
};

// Gives its data in reads of at most `piece` bytes (a socket gives what has arrived).
class PieceSource final : public ByteSource {
 public:
  PieceSource(std::string data, size_t piece) : data_(std::move(data)), piece_(piece) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min({n, piece_, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t piece_;
  size_t pos_ = 0;
};

TEST_F(WalrusFsSyncTest, LargeBodiesOfAnyShapeRoundTripWithTheirMd5) {
  std::string data;
  for (uint32_t i = 0; i < (1u << 20) + 12345; ++i) data.push_back(static_cast<char>((i * 2654435761u) >> 24));
  struct Case {
    const char* key;
    size_t size;
    size_t piece;
    bool length_known;
  };
  for (const Case& c : {Case{"whole-buffers", 1u << 20, 1u << 20, true},
                        Case{"ragged-tail", data.size(), 1u << 20, true},
                        Case{"odd-pieces", data.size(), 1000, true},
                        Case{"no-length", data.size() - 7, 65536, false},
                        Case{"just-pipelined", 4 * 65536, 65536, true}}) {
    const std::string body = data.substr(0, c.size);
    PutObjectRequest req;
    req.bucket = "bkt";
    req.key = c.key;
    req.content_md5 = Md5Base64(body);
    if (c.length_known) req.content_length = body.size();
    PieceSource src(body, c.piece);
    auto put = walrus_->PutObject(kAlice, req, src);
    ASSERT_TRUE(put.ok()) << c.key << ": " << put.status().ToString();
    EXPECT_EQ(put->etag, "\"" + Md5Hex(body) + "\"") << c.key;
    auto got = walrus_->GetObject(kAlice, {"bkt", c.key, std::nullopt, {}});
    ASSERT_TRUE(got.ok()) << c.key;
    EXPECT_EQ(got->info.size, body.size()) << c.key;
    auto read = Drain(*got->body);
    ASSERT_TRUE(read.ok()) << c.key;
    EXPECT_TRUE(*read == body) << c.key << ": the stored bytes differ";
  }
  EXPECT_EQ(FilesIn("blobs"), 5u);
  EXPECT_EQ(FilesIn("tmp"), 0u);
}

TEST_F(WalrusFsSyncTest, BadContentMd5OnALargeBodyStoresNothing) {
  const std::string old_body(300 * 1024, 'o');
  {
    StringSource src(old_body);
    ASSERT_TRUE(walrus_->PutObject(kAlice, {.bucket = "bkt", .key = "k"}, src).ok());
  }
  ASSERT_EQ(FilesIn("blobs"), 1u);
  const std::string body(2 * 1024 * 1024 + 1, 'n');  // 33 buffers through the pipeline
  PutObjectRequest req;
  req.bucket = "bkt";
  req.key = "k";
  req.content_md5 = Md5Base64(body + "x");
  req.content_length = body.size();
  PieceSource src(body, 100000);
  EXPECT_S3_ERROR(walrus_->PutObject(kAlice, req, src).status(), "BadDigest", 400);
  auto got = walrus_->GetObject(kAlice, {"bkt", "k", std::nullopt, {}});
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*Drain(*got->body) == old_body);  // the old version stays
  EXPECT_EQ(FilesIn("blobs"), 1u);              // the rejected body left no blob
  EXPECT_EQ(FilesIn("tmp"), 0u);                // and no temporary file
}

}  // namespace
}  // namespace euca::walrus
