// The ObjectStore contract, run against both implementations: WalrusObjectStore (Walrus in
// process) and S3Client talking to the real S3 handler (s3_rest.h) served by http::Server on
// 127.0.0.1:0. Then what only the remote client has: endpoints, signing, transport errors.

#include "core/walrus/s3_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <memory>
#include <thread>

#include "core/api/digest.h"
#include "core/http/server.h"
#include "core/walrus/s3_rest.h"
#include "drivers/objects/memory_backend.h"

namespace euca::walrus {
namespace {

using ::testing::HasSubstr;

const model::Principal kAlice{"acme", "111111111111", "alice", "AIDAALICE0000000000001"};
const model::Principal kCarol{"other", "222222222222", "carol", "AIDACAROL000000000001"};
const api::Credentials kAliceKey{"AKIAALICE", "alice-secret"};
const api::Credentials kCarolKey{"AKIACAROL", "carol-secret"};

std::string Md5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

/// `size` bytes of a repeating pattern, produced as they are read (no copy in memory).
class PatternSource final : public ByteSource {
 public:
  explicit PatternSource(uint64_t size) : remaining_(size) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
    for (size_t i = 0; i < take; ++i) buf[i] = static_cast<char>((pos_ + i) * 7 % 251);
    pos_ += take;
    remaining_ -= take;
    return take;
  }

 private:
  uint64_t remaining_;
  uint64_t pos_ = 0;
};

std::string Pattern(uint64_t size) {
  std::string s(size, '\0');
  PatternSource src(size);
  EXPECT_EQ(*src.Read(s.data(), s.size()), size);
  return s;
}

/// A Walrus on a memory backend, served over S3 REST on loopback.
class Cloud {
 public:
  explicit Cloud(std::string region = {}) {
    WalrusOptions wopts;
    wopts.region = "euca";
    walrus_ = std::make_unique<Walrus>(backend_, RealClock(), wopts);
    KeyLookup lookup = [](const std::string& akid) -> Result<KeyOwner> {
      if (akid == kAliceKey.access_key_id) return KeyOwner{kAlice, kAliceKey.secret_key};
      if (akid == kCarolKey.access_key_id) return KeyOwner{kCarol, kCarolKey.secret_key};
      return NotFound("no such key");
    };
    auto server = http::Server::Start({}, MakeS3Handler(*walrus_, lookup, {.region = std::move(region)}));
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }
  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  Walrus& walrus() { return *walrus_; }
  std::unique_ptr<S3Client> Client(api::Credentials key = kAliceKey, const std::string& path = "",
                                   std::string region = "euca") {
    auto c = S3Client::Create({.endpoint = url(path), .credentials = std::move(key), .region = std::move(region)});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

 private:
  objects::MemoryBackend backend_;
  std::unique_ptr<Walrus> walrus_;
  std::unique_ptr<http::Server> server_;
};

// --- the contract, both ways ---------------------------------------------------------------

enum class Mode { kEmbedded, kRemote };

class ObjectStoreTest : public ::testing::TestWithParam<Mode> {
 protected:
  std::unique_ptr<ObjectStore> StoreFor(const model::Principal& who, const api::Credentials& key) {
    if (GetParam() == Mode::kEmbedded) return std::make_unique<WalrusObjectStore>(cloud_.walrus(), Caller(who));
    return cloud_.Client(key);
  }
  void SetUp() override {
    alice_ = StoreFor(kAlice, kAliceKey);
    carol_ = StoreFor(kCarol, kCarolKey);
  }

  /// Puts `data` with its Content-MD5.
  Result<StoredObject> Put(ObjectStore& s, const std::string& bucket, const std::string& key, const std::string& data,
                           const std::string& acl = "") {
    StringSource body(data);
    return s.PutObject({.bucket = bucket,
                        .key = key,
                        .canned_acl = acl,
                        .content_md5 = api::Base64Encode(Md5(data)),
                        .content_length = data.size()},
                       body);
  }
  Result<std::string> Get(ObjectStore& s, const std::string& bucket, const std::string& key) {
    std::string out;
    EUCA_RETURN_IF_ERROR(s.GetObject(bucket, key, [&](std::string_view p) {
                            out.append(p);
                            return Status::Ok();
                          }).status());
    return out;
  }

  Cloud cloud_;
  std::unique_ptr<ObjectStore> alice_;
  std::unique_ptr<ObjectStore> carol_;
};

INSTANTIATE_TEST_SUITE_P(BothWays, ObjectStoreTest, ::testing::Values(Mode::kEmbedded, Mode::kRemote),
                         [](const auto& info) { return info.param == Mode::kEmbedded ? "Embedded" : "Remote"; });

TEST_P(ObjectStoreTest, BucketsAndObjectsRoundTrip) {
  EXPECT_EQ(alice_->HeadBucket("images").code(), Code::kNotFound);
  ASSERT_TRUE(alice_->CreateBucket("images", "euca", "").ok());
  EXPECT_TRUE(alice_->HeadBucket("images").ok());
  Status again = alice_->CreateBucket("images", "", "");
  EXPECT_EQ(again.code(), Code::kAlreadyExists) << again.ToString();
  EXPECT_EQ(again.wire_code(), "BucketAlreadyOwnedByYou");
  EXPECT_EQ(*cloud_.walrus().GetBucketLocation(kAlice, "images"), "euca");

  auto put = Put(*alice_, "images", "dir/a b+c.txt", "hello world");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  auto head = alice_->HeadObject("images", "dir/a b+c.txt");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 11u);
  EXPECT_EQ(head->etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  EXPECT_EQ(*Get(*alice_, "images", "dir/a b+c.txt"), "hello world");

  ASSERT_TRUE(alice_->DeleteObject("images", "dir/a b+c.txt").ok());
  EXPECT_TRUE(alice_->DeleteObject("images", "dir/a b+c.txt").ok());  // idempotent
  EXPECT_EQ(alice_->HeadObject("images", "dir/a b+c.txt").status().code(), Code::kNotFound);
  EXPECT_TRUE(alice_->DeleteBucket("images").ok());
  EXPECT_EQ(alice_->HeadBucket("images").code(), Code::kNotFound);
}

TEST_P(ObjectStoreTest, ListBucketsAndLastModified) {
  ASSERT_TRUE(alice_->CreateBucket("b-two", "", "").ok());
  ASSERT_TRUE(alice_->CreateBucket("a-one", "", "").ok());
  ASSERT_TRUE(carol_->CreateBucket("carols", "", "").ok());
  auto mine = alice_->ListBuckets();
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  EXPECT_EQ(*mine, (std::vector<std::string>{"a-one", "b-two"}));  // the account's own, by name
  ASSERT_TRUE(Put(*alice_, "a-one", "k", "data").ok());
  auto head = alice_->HeadObject("a-one", "k");
  auto listed = alice_->ListObjects("a-one", "");
  auto got = alice_->GetObject("a-one", "k", [](std::string_view) { return Status::Ok(); });
  ASSERT_TRUE(head.ok() && listed.ok() && got.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_GT(head->last_modified_ms, 0);
  // HTTP dates have whole seconds; the listing and the embedded store have milliseconds.
  EXPECT_EQ(head->last_modified_ms / 1000, (*listed)[0].last_modified_ms / 1000);
  EXPECT_EQ(got->last_modified_ms, head->last_modified_ms);
}

TEST_P(ObjectStoreTest, LargeBodiesStreamBothWays) {
  ASSERT_TRUE(alice_->CreateBucket("big", "", "").ok());
  constexpr uint64_t kSize = 24 << 20;
  PatternSource body(kSize);
  auto put = alice_->PutObject({.bucket = "big", .key = "blob", .content_length = kSize}, body);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->etag, api::Hex(Md5(Pattern(kSize))));

  uint64_t got = 0;
  int pieces = 0;
  api::Sha256Hasher sha;
  auto r = alice_->GetObject("big", "blob", [&](std::string_view p) {
    got += p.size();
    ++pieces;
    sha.Update(p);
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size, kSize);
  EXPECT_EQ(got, kSize);
  EXPECT_GT(pieces, 1);  // handed over as it arrived, not whole
  EXPECT_EQ(sha.FinishHex(), api::Sha256Hex(Pattern(kSize)));
}

TEST_P(ObjectStoreTest, AWrongContentMd5IsRefusedAndTheOldObjectStays) {
  ASSERT_TRUE(alice_->CreateBucket("bk1", "", "").ok());
  ASSERT_TRUE(Put(*alice_, "bk1", "k", "first").ok());
  StringSource body("second");
  auto put = alice_->PutObject(
      {.bucket = "bk1", .key = "k", .content_md5 = api::Base64Encode(Md5("other")), .content_length = 6}, body);
  EXPECT_EQ(put.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(put.status().wire_code(), "BadDigest");
  EXPECT_EQ(*Get(*alice_, "bk1", "k"), "first");
}

TEST_P(ObjectStoreTest, ListsByPrefixAcrossPages) {
  ASSERT_TRUE(alice_->CreateBucket("many", "", "").ok());
  for (int i = 0; i < 1003; ++i) {
    char key[32];
    snprintf(key, sizeof key, "p/img.part.%04d", i);
    ASSERT_TRUE(Put(*alice_, "many", key, std::to_string(i)).ok());
  }
  ASSERT_TRUE(Put(*alice_, "many", "q/other", "x").ok());
  auto listed = alice_->ListObjects("many", "p/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1003u);
  EXPECT_EQ((*listed)[0].key, "p/img.part.0000");
  EXPECT_EQ((*listed)[1002].key, "p/img.part.1002");
  EXPECT_EQ((*listed)[1002].size, 4u);
  EXPECT_EQ((*listed)[1002].etag, api::Hex(Md5("1002")));
  EXPECT_EQ(alice_->ListObjects("many", "nothing/")->size(), 0u);
}

TEST_P(ObjectStoreTest, ErrorsCarryTheStoreCodeAndMessage) {
  auto got = Get(*alice_, "nosuch", "k");
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_EQ(got.status().wire_code(), "NoSuchBucket");
  EXPECT_EQ(got.status().message(), "bucket 'nosuch' does not exist");

  EXPECT_EQ(alice_->HeadObject("nosuch", "k").status().wire_code(), "NoSuchBucket");
  EXPECT_EQ(alice_->HeadBucket("nosuch").wire_code(), "NoSuchBucket");

  ASSERT_TRUE(alice_->CreateBucket("mine", "", "").ok());
  EXPECT_EQ(alice_->HeadObject("mine", "absent").status().wire_code(), "NoSuchKey");
  got = Get(*alice_, "mine", "absent");
  EXPECT_EQ(got.status().wire_code(), "NoSuchKey");
  EXPECT_THAT(got.status().message(), HasSubstr("absent"));

  ASSERT_TRUE(Put(*alice_, "mine", "k", "v").ok());
  Status full = alice_->DeleteBucket("mine");
  EXPECT_EQ(full.code(), Code::kConflict);
  EXPECT_EQ(full.wire_code(), "BucketNotEmpty");

  // Another account: denied, until a public-read ACL allows reading.
  got = Get(*carol_, "mine", "k");
  EXPECT_EQ(got.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(got.status().wire_code(), "AccessDenied");
  EXPECT_EQ(carol_->HeadObject("mine", "k").status().code(), Code::kPermissionDenied);
  ASSERT_TRUE(Put(*alice_, "mine", "k", "v", "public-read").ok());
  EXPECT_EQ(*Get(*carol_, "mine", "k"), "v");
  // A large streamed body refused before it is read (the client waits for 100-continue).
  PatternSource big(uint64_t{16} << 20);
  auto denied = carol_->PutObject({.bucket = "mine", .key = "k", .content_length = uint64_t{16} << 20}, big);
  EXPECT_EQ(denied.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(*Get(*alice_, "mine", "k"), "v");

  auto bad = alice_->CreateBucket("Bad_Name", "", "");
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.wire_code(), "InvalidBucketName");
  EXPECT_THAT(bad.message(), HasSubstr("'Bad_Name'"));
}

TEST_P(ObjectStoreTest, ASinkErrorStopsTheTransferAndIsReturned) {
  ASSERT_TRUE(alice_->CreateBucket("sk1", "", "").ok());
  PatternSource body(8 << 20);
  ASSERT_TRUE(alice_->PutObject({.bucket = "sk1", .key = "k", .content_length = uint64_t{8} << 20}, body).ok());
  auto r = alice_->GetObject("sk1", "k", [](std::string_view) { return InvalidArgument("disk full, say"); });
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "disk full, say");
}

TEST_P(ObjectStoreTest, SeveralThreadsShareOneStore) {
  ASSERT_TRUE(alice_->CreateBucket("par", "", "").ok());
  std::atomic<int> failures{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 10; ++i) {
          std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
          if (!Put(*alice_, "par", key, key).ok() || *Get(*alice_, "par", key) != key) ++failures;
        }
      });
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(alice_->ListObjects("par", "")->size(), 40u);
}

// --- the remote client only ----------------------------------------------------------------

TEST(S3EndpointTest, ParsesOriginAndPathPrefix) {
  auto e = ParseS3Endpoint("http://walrus.example.com:8773/services/objectstorage/");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->origin, "http://walrus.example.com:8773");
  EXPECT_EQ(e->host, "walrus.example.com:8773");
  EXPECT_EQ(e->path, "/services/objectstorage");
  e = ParseS3Endpoint("HTTPS://s3.example.com");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->origin, "https://s3.example.com");
  EXPECT_EQ(e->path, "");
  for (const char* bad : {"walrus:8773", "ftp://h/", "http:///x", "http://h/?a=b", "http://u@h/"}) {
    auto r = ParseS3Endpoint(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr(std::string("'") + bad + "'"));
  }
}

TEST(S3ClientTest, EucalyptusServicePrefixesWork) {
  Cloud cloud;
  for (const char* prefix : {"/services/objectstorage", "/services/Walrus/", ""}) {
    auto c = cloud.Client(kAliceKey, prefix);
    std::string bucket = "pre" + std::to_string(std::string(prefix).size());
    ASSERT_TRUE(c->CreateBucket(bucket, "", "").ok()) << prefix;
    StringSource body("x");
    ASSERT_TRUE(c->PutObject({.bucket = bucket, .key = "a/b", .content_length = 1}, body).ok()) << prefix;
    EXPECT_EQ(c->HeadObject(bucket, "a/b")->size, 1u);
  }
}

TEST(S3ClientTest, AWrongSecretOrUnknownKeyIsAnAuthenticationError) {
  Cloud cloud;
  Status s = cloud.Client({kAliceKey.access_key_id, "wrong"})->CreateBucket("x1x", "", "");
  EXPECT_EQ(s.code(), Code::kUnauthenticated) << s.ToString() << " " << s.wire_code();
  EXPECT_EQ(s.wire_code(), "SignatureDoesNotMatch");
  EXPECT_FALSE(s.message().empty());
  s = cloud.Client({"AKIANOBODY", "x"})->CreateBucket("x1x", "", "");
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_EQ(s.wire_code(), "InvalidAccessKeyId");
  // A HEAD reply has no error document; the client asks again to tell the two apart.
  s = cloud.Client({"AKIANOBODY", "x"})->HeadBucket("x1x");
  EXPECT_EQ(s.wire_code(), "InvalidAccessKeyId");
  auto head = cloud.Client({kAliceKey.access_key_id, "wrong"})->HeadObject("x1x", "k");
  EXPECT_EQ(head.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(head.status().wire_code(), "SignatureDoesNotMatch");
}

TEST(S3ClientTest, AnonymousRequestsAreUnsigned) {
  Cloud cloud;
  auto alice = cloud.Client();
  ASSERT_TRUE(alice->CreateBucket("pub", "", "public-read").ok());
  StringSource body("open");
  ASSERT_TRUE(
      alice->PutObject({.bucket = "pub", .key = "k", .canned_acl = "public-read", .content_length = 4}, body).ok());
  auto anon = cloud.Client({});
  std::string got;
  ASSERT_TRUE(anon->GetObject("pub", "k",
                              [&](std::string_view p) {
                                got.append(p);
                                return Status::Ok();
                              })
                  .ok());
  EXPECT_EQ(got, "open");
  EXPECT_EQ(anon->DeleteObject("pub", "k").code(), Code::kPermissionDenied);
}

TEST(S3ClientTest, SignsForItsRegion) {
  Cloud cloud("euca");  // a server that insists on its region
  EXPECT_TRUE(cloud.Client(kAliceKey, "", "euca")->CreateBucket("rg1", "", "").ok());
  Status s = cloud.Client(kAliceKey, "", "us-west-2")->HeadBucket("rg1");
  EXPECT_FALSE(s.ok());
}

TEST(S3ClientTest, NoServerIsACannotConnectError) {
  // A port that was just free: bind, learn it, close.
  int port = 0;
  {
    auto s = http::Server::Start({}, [](const http::RequestHead&, http::BodyReader&) { return http::Response{}; });
    ASSERT_TRUE(s.ok());
    port = (*s)->port();
  }
  auto c = S3Client::Create({.endpoint = "http://127.0.0.1:" + std::to_string(port), .credentials = kAliceKey});
  ASSERT_TRUE(c.ok());
  Status s = (*c)->HeadBucket("b");
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("cannot connect"));
  EXPECT_THAT(s.message(), HasSubstr("S3 endpoint 'http://127.0.0.1:" + std::to_string(port) + "'"));
}

TEST(S3ClientTest, AServerThatIsNotS3GivesTheHttpStatus) {
  auto server = http::Server::Start({}, [](const http::RequestHead&, http::BodyReader&) {
    return http::Response::Text(502, "<html>bad gateway</html>", "text/html");
  });
  ASSERT_TRUE(server.ok());
  auto c = S3Client::Create({.endpoint = "http://127.0.0.1:" + std::to_string((*server)->port())});
  std::string sunk;
  auto r = (*c)->GetObject("b", "k", [&](std::string_view p) {
    sunk.append(p);
    return Status::Ok();
  });
  EXPECT_EQ(r.status().code(), Code::kInternal);
  EXPECT_THAT(r.status().message(), HasSubstr("HTTP status 502"));
  EXPECT_EQ(sunk, "");  // an error document never reaches the sink
}

}  // namespace
}  // namespace euca::walrus
