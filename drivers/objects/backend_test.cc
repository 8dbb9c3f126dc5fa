// The ObjectBackend contract, run against both implementations: the in-memory fake and the
// filesystem backend in a temporary directory.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "drivers/objects/fs_backend.h"
#include "drivers/objects/memory_backend.h"
#include "drivers/objects/test_support.h"

namespace euca::objects {
namespace {

using ::testing::ElementsAre;
using testing::FilesUnder;
using testing::Get;
using ::testing::HasSubstr;
using testing::Put;
using testing::ReadAll;
using testing::Upload;
using testing::TempDir;
using testing::WriteBlob;

// One backend under test and a way to count the blobs it holds (to catch leaks).
struct Harness {
  virtual ~Harness() = default;
  virtual ObjectBackend& backend() = 0;
  virtual size_t Blobs() = 0;
};

struct MemoryHarness final : Harness {
  MemoryBackend b;
  ObjectBackend& backend() override { return b; }
  size_t Blobs() override { return b.BlobCountForTest(); }
};

// `inline_max` 0: every blob a file; kInlineBlobMax: small blobs in the database.
struct FsHarness final : Harness {
  TempDir dir;
  std::unique_ptr<FsBackend> b;
  explicit FsHarness(size_t inline_max) {
    auto opened = OpenFsBackend(dir.path() + "/walrus", {.sync = false, .inline_max_bytes = inline_max});
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    b = std::move(opened).value();
  }
  ObjectBackend& backend() override { return *b; }
  size_t Blobs() override {
    size_t n = 0;
    for (const auto& f : FilesUnder(dir.path() + "/walrus"))
      if (f.rfind("blobs/", 0) == 0) ++n;
    return n + b->InlineBlobCountForTest();
  }
};

ListRange Range(std::string prefix, std::string start = "", bool inclusive = false, size_t limit = 1000) {
  ListRange r;
  r.prefix = std::move(prefix);
  r.start = std::move(start);
  r.start_inclusive = inclusive;
  r.limit = limit;
  return r;
}

using Factory = std::function<std::unique_ptr<Harness>()>;

class BackendTest : public ::testing::TestWithParam<std::pair<const char*, Factory>> {
 protected:
  BackendTest() : h_(GetParam().second()), b_(h_->backend()) {
    EXPECT_TRUE(b_.CreateBucket({"bkt", "111122223333", "acme", "", "acl", 5}).ok());
  }
  std::unique_ptr<Harness> h_;
  ObjectBackend& b_;
};

TEST_P(BackendTest, BucketsCreateListDelete) {
  Status dup = b_.CreateBucket({"bkt", "999988887777", "other", "", "", 6});
  EXPECT_EQ(dup.code(), Code::kAlreadyExists);
  EXPECT_EQ(dup.wire_code(), "BucketAlreadyExists");
  ASSERT_TRUE(b_.CreateBucket({"abc", "999988887777", "other", "eu", "x", 7}).ok());
  auto all = b_.ListBuckets();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "abc");
  EXPECT_EQ((*all)[0].location, "eu");
  EXPECT_EQ((*all)[0].owner_name, "other");
  EXPECT_EQ((*all)[1].name, "bkt");
  ASSERT_TRUE(b_.SetBucketAcl("abc", "new-acl").ok());
  EXPECT_EQ(b_.GetBucket("abc")->acl, "new-acl");
  EXPECT_EQ(b_.SetBucketAcl("nope", "x").wire_code(), "NoSuchBucket");
  ASSERT_TRUE(b_.DeleteBucket("abc").ok());
  EXPECT_EQ(b_.GetBucket("abc").status().wire_code(), "NoSuchBucket");
  EXPECT_EQ(b_.DeleteBucket("abc").wire_code(), "NoSuchBucket");
}

TEST_P(BackendTest, PutThenReadWholeAndRanges) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7);
  auto put = Put(b_, "bkt", "k", data);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->size, 1000u);
  EXPECT_FALSE(put->generation.empty());
  auto reader = b_.OpenObject("bkt", "k");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*ReadAll(**reader), data);
  char buf[10];
  auto n = (*reader)->ReadAt(995, buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(std::string(buf, 5), data.substr(995));
  EXPECT_EQ(*(*reader)->ReadAt(1000, buf, sizeof buf), 0u);
  EXPECT_EQ(*(*reader)->ReadAt(5000, buf, sizeof buf), 0u);
}

TEST_P(BackendTest, MetadataRoundTripsExactly) {
  auto blob = WriteBlob(b_, "x");
  ASSERT_TRUE(blob.ok());
  ObjectRecord r;
  r.bucket = "bkt";
  r.key = std::string("k\0y", 3);
  r.etag = "\"abc\"";
  r.content_type = "text/plain; charset=\xff";
  r.metadata = {{"colour", "blue"}, {"empty", ""}, {"weird:,", std::string("a\0b,1:", 6)}};
  r.headers = {{"cache-control", "no-cache"}};
  r.owner_id = "111122223333";
  r.owner_name = "acme";
  r.acl = "{\"grants\":[]}";
  r.modified_ms = 1234;
  r.parts = 0;
  r.blobs = {*blob};
  r.checksum = "CRC32:NSRBwg==";
  ASSERT_TRUE(b_.PutObject(r).ok());
  auto got = b_.GetObject("bkt", r.key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->key, r.key);
  EXPECT_EQ(got->etag, r.etag);
  EXPECT_EQ(got->content_type, r.content_type);
  EXPECT_EQ(got->metadata, r.metadata);
  EXPECT_EQ(got->headers, r.headers);
  EXPECT_EQ(got->owner_id, r.owner_id);
  EXPECT_EQ(got->owner_name, r.owner_name);
  EXPECT_EQ(got->acl, r.acl);
  EXPECT_EQ(got->modified_ms, 1234);
  EXPECT_EQ(got->size, 1u);
  EXPECT_EQ(got->blobs, r.blobs);
  EXPECT_EQ(got->checksum, "CRC32:NSRBwg==");
  EXPECT_TRUE(got->part_checksums.empty());
}

TEST_P(BackendTest, ReaderKeepsItsVersionWhileKeyIsReplaced) {
  ASSERT_TRUE(Put(b_, "bkt", "k", std::string(5000, 'a')).ok());
  auto reader = b_.OpenObject("bkt", "k");
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(Put(b_, "bkt", "k", std::string(7000, 'b')).ok());
  ASSERT_TRUE(b_.DeleteObject("bkt", "k").ok());
  EXPECT_EQ(*ReadAll(**reader), std::string(5000, 'a'));
  EXPECT_EQ(b_.GetObject("bkt", "k").status().wire_code(), "NoSuchKey");
}

TEST_P(BackendTest, ReplacedVersionsLeaveNoBlobsBehind) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Put(b_, "bkt", "k", std::string(10 + i, 'x')).ok());
  ASSERT_TRUE(Put(b_, "bkt", "other", "y").ok());
  EXPECT_EQ(h_->Blobs(), 2u);
  EXPECT_EQ(*b_.DeleteObject("bkt", "k"), true);
  EXPECT_EQ(*b_.DeleteObject("bkt", "k"), false);
  EXPECT_EQ(h_->Blobs(), 1u);
}

TEST_P(BackendTest, ConditionalWritesAreDecidedInTheCommit) {
  const WriteCondition absent{.if_absent = true};
  auto put = Put(b_, "bkt", "k", "one", absent);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_TRUE(put->condition.empty());
  put = Put(b_, "bkt", "k", "two", absent);
  EXPECT_EQ(put.status().wire_code(), "PreconditionFailed");
  EXPECT_EQ(*Get(b_, "bkt", "k"), "one");
  EXPECT_EQ(h_->Blobs(), 1u);  // the refused write's blob is dropped
  ASSERT_TRUE(Put(b_, "bkt", "k", "three", {.if_etag = "\"etag\""}).ok());
  EXPECT_EQ(Put(b_, "bkt", "k", "four", {.if_etag = "\"other\""}).status().wire_code(), "PreconditionFailed");
  EXPECT_EQ(Put(b_, "bkt", "none", "five", {.if_etag = "*"}).status().wire_code(), "NoSuchKey");
  ASSERT_TRUE(Put(b_, "bkt", "k", "six", {.if_etag = "*"}).ok());
  EXPECT_EQ(*Get(b_, "bkt", "k"), "six");
  EXPECT_EQ(h_->Blobs(), 1u);

  // Completing an upload onto a taken key with if_absent fails and keeps the upload whole.
  ASSERT_TRUE(b_.CreateUpload(Upload("u", "bkt", "k")).ok());
  auto blob = WriteBlob(b_, "part");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(b_.PutPart("u", {1, *blob, "\"p\"", 1}).ok());
  auto parts = b_.ListParts("u");
  ASSERT_TRUE(parts.ok());
  ObjectRecord rec;
  rec.etag = "\"mp-1\"";
  rec.parts = 1;
  rec.blobs = {(*parts)[0].blob};
  rec.condition = absent;
  EXPECT_EQ(b_.CompleteUpload("u", rec).status().wire_code(), "PreconditionFailed");
  EXPECT_EQ(*Get(b_, "bkt", "k"), "six");
  ASSERT_TRUE(b_.ListParts("u").ok());
  rec.condition = {.if_etag = "\"etag\""};
  auto done = b_.CompleteUpload("u", rec);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE(done->condition.empty());
  EXPECT_EQ(*Get(b_, "bkt", "k"), "part");
}

TEST_P(BackendTest, PutIntoMissingBucketDropsTheBlob) {
  auto put = Put(b_, "nope", "k", "data");
  EXPECT_EQ(put.status().wire_code(), "NoSuchBucket");
  EXPECT_EQ(h_->Blobs(), 0u);
}

TEST_P(BackendTest, AbortedAndAbandonedWritersLeaveNothing) {
  {
    auto w = b_.NewBlob();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write("hello").ok());
    EXPECT_EQ((*w)->size(), 5u);
    (*w)->Abort();
    (*w)->Abort();
    EXPECT_FALSE((*w)->Commit().ok());
  }
  {
    auto w = b_.NewBlob();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write("abandoned").ok());
  }
  EXPECT_EQ(h_->Blobs(), 0u);
}

TEST_P(BackendTest, ListRangesFollowByteOrder) {
  // Byte order (memcmp): NUL < '/' < 'b' < 0x7f < 0xc3 (a UTF-8 lead byte) < 0xff.
  std::vector<std::string> keys = {"a",       std::string("a\0", 2), "a/b", "a/c", "ab", "a\x7f", "\xc3\xa9", "\xff",
                                   "\xff\xff"};
  for (const auto& k : keys) ASSERT_TRUE(Put(b_, "bkt", k, k).ok());
  auto names = [&](const ListRange& r) {
    std::vector<std::string> out;
    auto l = b_.ListObjects("bkt", r);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    if (l.ok())
      for (const auto& o : *l) out.push_back(o.key);
    return out;
  };
  EXPECT_THAT(names({}),
              ElementsAre("a", std::string("a\0", 2), "a/b", "a/c", "ab", "a\x7f", "\xc3\xa9", "\xff", "\xff\xff"));
  EXPECT_THAT(names(Range("a/")), ElementsAre("a/b", "a/c"));
  EXPECT_THAT(names(Range("\xff")), ElementsAre("\xff", "\xff\xff"));
  EXPECT_THAT(names(Range("", "a/b")), ElementsAre("a/c", "ab", "a\x7f", "\xc3\xa9", "\xff", "\xff\xff"));
  EXPECT_THAT(names(Range("", "a/b", true, 2)), ElementsAre("a/b", "a/c"));
  EXPECT_THAT(names(Range("a", "a", false, 2)), ElementsAre(std::string("a\0", 2), "a/b"));
  EXPECT_THAT(names(Range("a/", "a")), ElementsAre("a/b", "a/c"));
  EXPECT_THAT(names(Range("a/", "b")), ElementsAre());
  EXPECT_THAT(names(Range("zz")), ElementsAre());
  EXPECT_EQ(b_.ListObjects("nope", {}).status().wire_code(), "NoSuchBucket");
}

TEST_P(BackendTest, DeleteBucketRefusesObjectsAndDropsUploads) {
  ASSERT_TRUE(Put(b_, "bkt", "k", "v").ok());
  Status s = b_.DeleteBucket("bkt");
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_EQ(s.wire_code(), "BucketNotEmpty");
  ASSERT_TRUE(b_.DeleteObject("bkt", "k").ok());
  ASSERT_TRUE(b_.CreateUpload(Upload("u1", "bkt", "big")).ok());
  auto blob = WriteBlob(b_, "part");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(b_.PutPart("u1", {1, *blob, "\"e\"", 0}).ok());
  ASSERT_TRUE(b_.DeleteBucket("bkt").ok());
  EXPECT_EQ(b_.GetUpload("u1").status().wire_code(), "NoSuchUpload");
  EXPECT_EQ(h_->Blobs(), 0u);
}

TEST_P(BackendTest, MultipartCompleteTakesChosenPartsInOrder) {
  UploadRecord u = Upload("u1", "bkt", "big");
  u.owner_id = "111122223333";
  u.content_type = "text/plain";
  u.metadata = {{"m", "1"}};
  u.initiated_ms = 9;
  u.checksum_algorithm = "SHA256";
  u.checksum_type = "COMPOSITE";
  ASSERT_TRUE(b_.CreateUpload(u).ok());
  EXPECT_EQ(b_.CreateUpload(u).code(), Code::kAlreadyExists);
  EXPECT_EQ(b_.CreateUpload(Upload("u2", "nope", "k")).wire_code(), "NoSuchBucket");
  for (int n : {1, 2, 3}) {
    auto blob = WriteBlob(b_, std::string(3, static_cast<char>('0' + n)));
    ASSERT_TRUE(blob.ok());
    ASSERT_TRUE(b_.PutPart("u1", {n, *blob, "\"e" + std::to_string(n) + "\"", n, "SHA256:p" + std::to_string(n)}).ok());
  }
  // Replacing part 2 drops its old blob.
  auto p2 = WriteBlob(b_, "TWO");
  ASSERT_TRUE(p2.ok());
  ASSERT_TRUE(b_.PutPart("u1", {2, *p2, "\"e2b\"", 20}).ok());
  EXPECT_EQ(h_->Blobs(), 3u);
  auto parts = b_.ListParts("u1");
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[1].etag, "\"e2b\"");
  EXPECT_EQ((*parts)[1].blob.size, p2->size);  // (its id may change: PutPart)
  EXPECT_EQ((*parts)[1].modified_ms, 20);
  EXPECT_EQ((*parts)[0].checksum, "SHA256:p1");
  EXPECT_EQ((*parts)[1].checksum, "");  // replaced by a part without one
  auto got_u = b_.GetUpload("u1");
  ASSERT_TRUE(got_u.ok());
  EXPECT_EQ(got_u->key, "big");
  EXPECT_EQ(got_u->metadata, u.metadata);
  EXPECT_EQ(got_u->checksum_algorithm, "SHA256");
  EXPECT_EQ(got_u->checksum_type, "COMPOSITE");

  // A blob that is not a current part of the upload is refused and nothing changes.
  ObjectRecord stale;
  stale.blobs = {(*parts)[0].blob, BlobRef{NewBlobId(), 3}};
  EXPECT_EQ(b_.CompleteUpload("u1", stale).status().code(), Code::kConflict);
  ASSERT_TRUE(b_.GetUpload("u1").ok());

  // Complete with parts 1 and 3: part 2 is dropped.
  ObjectRecord r;
  r.etag = "\"x-2\"";
  r.parts = 2;
  r.blobs = {(*parts)[0].blob, (*parts)[2].blob};
  r.checksum = "SHA256:c-2";
  r.part_checksums = {"p1", "p3"};
  auto done = b_.CompleteUpload("u1", r);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  auto stored = b_.GetObject("bkt", "big");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->checksum, "SHA256:c-2");
  EXPECT_EQ(stored->part_checksums, (std::vector<std::string>{"p1", "p3"}));
  EXPECT_EQ(done->bucket, "bkt");
  EXPECT_EQ(done->key, "big");
  EXPECT_EQ(done->size, 6u);
  EXPECT_EQ(*Get(b_, "bkt", "big"), "111333");
  EXPECT_EQ(h_->Blobs(), 2u);
  EXPECT_EQ(b_.GetUpload("u1").status().wire_code(), "NoSuchUpload");
  EXPECT_EQ(b_.ListParts("u1").status().wire_code(), "NoSuchUpload");
  EXPECT_EQ(b_.CompleteUpload("u1", r).status().wire_code(), "NoSuchUpload");
  // Reads across the part boundary.
  auto reader = b_.OpenObject("bkt", "big");
  ASSERT_TRUE(reader.ok());
  char buf[4];
  ASSERT_EQ(*(*reader)->ReadAt(2, buf, 4), 4u);
  EXPECT_EQ(std::string(buf, 4), "1333");
}

TEST_P(BackendTest, AbortDropsPartsAndPartsOfMissingUploadsAreDropped) {
  ASSERT_TRUE(b_.CreateUpload(Upload("u1", "bkt", "k")).ok());
  auto blob = WriteBlob(b_, "abc");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(b_.PutPart("u1", {1, *blob, "\"e\"", 0}).ok());
  ASSERT_TRUE(b_.AbortUpload("u1").ok());
  EXPECT_EQ(b_.AbortUpload("u1").wire_code(), "NoSuchUpload");
  auto late = WriteBlob(b_, "late");
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(b_.PutPart("u1", {2, *late, "\"e\"", 0}).wire_code(), "NoSuchUpload");
  EXPECT_EQ(h_->Blobs(), 0u);
}

TEST_P(BackendTest, UploadsListedByKeyThenId) {
  for (auto [id, key] :
       std::vector<std::pair<std::string, std::string>>{{"b2", "b"}, {"a9", "a"}, {"b1", "b"}, {"c1", "c/x"}}) {
    ASSERT_TRUE(b_.CreateUpload(Upload(id, "bkt", key)).ok());
  }
  auto all = b_.ListUploads("bkt", "");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> ids;
  for (const auto& u : *all) ids.push_back(u.upload_id);
  EXPECT_THAT(ids, ElementsAre("a9", "b1", "b2", "c1"));
  auto c = b_.ListUploads("bkt", "c/");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].upload_id, "c1");
}

TEST_P(BackendTest, SetObjectAclChecksGeneration) {
  auto put = Put(b_, "bkt", "k", "v");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(b_.SetObjectAcl("bkt", "k", "a1", std::string("other")).code(), Code::kConflict);
  ASSERT_TRUE(b_.SetObjectAcl("bkt", "k", "a2", put->generation).ok());
  EXPECT_EQ(b_.GetObject("bkt", "k")->acl, "a2");
  ASSERT_TRUE(b_.SetObjectAcl("bkt", "k", "a3", std::nullopt).ok());
  EXPECT_EQ(b_.GetObject("bkt", "k")->acl, "a3");
  EXPECT_EQ(b_.SetObjectAcl("bkt", "none", "a", std::nullopt).wire_code(), "NoSuchKey");
  EXPECT_EQ(b_.SetObjectAcl("nope", "k", "a", std::nullopt).wire_code(), "NoSuchBucket");
}

TEST_P(BackendTest, MissingThingsHaveTheirWireCodes) {
  EXPECT_EQ(b_.GetObject("bkt", "none").status().wire_code(), "NoSuchKey");
  EXPECT_EQ(b_.GetObject("nope", "k").status().wire_code(), "NoSuchBucket");
  EXPECT_EQ(b_.OpenObject("bkt", "none").status().wire_code(), "NoSuchKey");
  EXPECT_EQ(b_.OpenObject("nope", "k").status().wire_code(), "NoSuchBucket");
  EXPECT_EQ(b_.DeleteObject("nope", "k").status().wire_code(), "NoSuchBucket");
  EXPECT_EQ(b_.ListUploads("nope", "").status().wire_code(), "NoSuchBucket");
  EXPECT_EQ(b_.GetObject("bkt", "none").status().code(), Code::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, BackendTest,
    ::testing::Values(std::make_pair("Memory", Factory([] { return std::unique_ptr<Harness>(new MemoryHarness); })),
                      std::make_pair("Fs", Factory([] { return std::unique_ptr<Harness>(new FsHarness(0)); })),
                      std::make_pair("FsInline",
                                     Factory([] { return std::unique_ptr<Harness>(new FsHarness(kInlineBlobMax)); }))),
    [](const auto& info) { return std::string(info.param.first); });

TEST(BackendHelpersTest, PrefixSuccessor) {
  EXPECT_EQ(PrefixSuccessor("abc"), "abd");
  EXPECT_EQ(PrefixSuccessor("a\xff"), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("a\0", 2)), std::string("a\x01", 2));
  EXPECT_EQ(PrefixSuccessor("\xff\xff"), std::nullopt);
  EXPECT_EQ(PrefixSuccessor(""), std::nullopt);
}

TEST(BackendHelpersTest, PrintableKeyEscapesAndCuts) {
  EXPECT_EQ(PrintableKey(std::string("a\0b'\xc3", 5)), "a\\x00b\\x27\\xc3");
  EXPECT_EQ(PrintableKey(std::string(300, 'k')), std::string(100, 'k') + "...");
}

TEST(BackendHelpersTest, BlobIdsAreHex32) {
  std::string id = NewBlobId();
  EXPECT_TRUE(IsBlobId(id));
  EXPECT_NE(id, NewBlobId());
  EXPECT_FALSE(IsBlobId("../../etc/passwd"));
  EXPECT_FALSE(IsBlobId(std::string(32, 'A')));
  EXPECT_FALSE(IsBlobId(std::string(31, 'a')));
}

}  // namespace
}  // namespace euca::objects
