#include "core/clc/metadata.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/api/digest.h"
#include "state/memory_store.h"

namespace euca::clc {
namespace {

class NoBody final : public http::BodyReader {
 public:
  Result<size_t> Read(char*, size_t) override { return size_t{0}; }
};

class MetadataTest : public ::testing::Test {
 protected:
  MetadataTest() {
    model::Instance a;
    a.id = "i-0000000a";
    a.reservation_id = "r-0000000a";
    a.account_id = "111111111111";
    a.image_id = "emi-0000000a";
    a.vm_type = "m1.small";
    a.key_name = "alice-key";
    a.groups = {"web", "ssh"};
    a.zone = "zone-1";
    a.state = model::kRunning;
    a.private_ip = "10.1.0.2";
    a.public_ip = "192.0.2.10";
    a.private_mac = "d0:0d:00:00:00:0a";
    a.launch_index = 3;
    a.user_data = api::Base64Encode("#!/bin/sh\necho a\n");
    model::Instance b = a;
    b.id = "i-0000000b";
    b.account_id = "222222222222";
    b.key_name = "";
    b.groups = {};
    b.private_ip = "10.1.0.34";
    b.public_ip = "";
    b.user_data = "";
    model::Instance gone = a;
    gone.id = "i-0000000c";
    gone.state = model::kTerminated;
    gone.private_ip = "10.1.0.3";
    model::KeyPair key{.id = "key-0000000000000001", .account_id = "111111111111", .name = "alice-key",
                       .fingerprint = "00", .public_key = "ssh-ed25519 AAAA alice"};
    auto s = store_.Transact({"system", "seed", ""}, [&](state::Txn& t) -> Status {
      for (const model::Instance& i : {a, b, gone}) {
        EUCA_RETURN_IF_ERROR(
            t.Put({.kind = "instances", .id = i.id, .parent = i.account_id, .name = "", .body = model::ToJson(i), .secret = std::nullopt}));
      }
      return t.Put({.kind = "key-pairs", .id = key.id, .parent = key.account_id, .name = key.name,
                    .body = model::ToJson(key), .secret = std::nullopt});
    });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
  }

  http::Response Get(const std::string& from, const std::string& path, const std::string& method = "GET") {
    http::RequestHead head;
    head.method = method;
    head.path = path;
    head.target = path;
    head.remote = from + ":40000";
    NoBody body;
    return handler_(head, body);
  }

  state::MemoryStateStore store_;
  http::Handler handler_ = MakeMetadataHandler(store_);
};

TEST_F(MetadataTest, EachInstanceGetsItsOwnData) {
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/instance-id").body, "i-0000000a");
  EXPECT_EQ(Get("10.1.0.34", "/latest/meta-data/instance-id").body, "i-0000000b");
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/local-ipv4").body, "10.1.0.2");
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/public-ipv4").body, "192.0.2.10");
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/security-groups").body, "web\nssh");
  EXPECT_EQ(Get("10.1.0.34", "/latest/meta-data/security-groups").body, "default");
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/placement/availability-zone").body, "zone-1");
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/ami-launch-index").body, "3");
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/public-keys/0/openssh-key").body, "ssh-ed25519 AAAA alice\n");
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/public-keys/").body, "0=alice-key");
  EXPECT_EQ(Get("10.1.0.2", "/latest/user-data").body, "#!/bin/sh\necho a\n");
  // Dated versions as cloud-init asks them, and the public address as the source.
  EXPECT_EQ(Get("192.0.2.10", "/2009-04-04/meta-data/instance-id").body, "i-0000000a");
  EXPECT_EQ(Get("[::ffff:10.1.0.34]", "/1.0/meta-data/instance-id").body, "i-0000000b");
}

TEST_F(MetadataTest, ListingNamesOnlyWhatTheInstanceHas) {
  std::string a = Get("10.1.0.2", "/latest/meta-data/").body;
  EXPECT_THAT(a, ::testing::HasSubstr("public-ipv4\n"));
  EXPECT_THAT(a, ::testing::HasSubstr("public-keys/"));
  std::string b = Get("10.1.0.34", "/latest/meta-data").body;
  EXPECT_THAT(b, ::testing::HasSubstr("instance-id\n"));
  EXPECT_THAT(b, ::testing::Not(::testing::HasSubstr("public-ipv4")));
  EXPECT_THAT(b, ::testing::Not(::testing::HasSubstr("public-keys")));
}

TEST_F(MetadataTest, StrangersMissingKeysAndOtherMethodsAreRefused) {
  EXPECT_EQ(Get("10.1.0.99", "/latest/meta-data/instance-id").status, 404);   // no such instance
  EXPECT_EQ(Get("10.1.0.3", "/latest/meta-data/instance-id").status, 404);    // terminated
  EXPECT_EQ(Get("10.1.0.34", "/latest/meta-data/public-ipv4").status, 404);  // has none
  EXPECT_EQ(Get("10.1.0.34", "/latest/user-data").status, 404);
  EXPECT_EQ(Get("10.1.0.34", "/latest/meta-data/public-keys/0/openssh-key").status, 404);
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/no-such-key").status, 404);
  EXPECT_EQ(Get("10.1.0.2", "/latest/../etc/passwd").status, 404);
  EXPECT_EQ(Get("10.1.0.2", "/latest/meta-data/instance-id", "PUT").status, 405);
}

TEST_F(MetadataTest, TheAddressIndexScansOnlyAfterAChangeAndNeverAnswersStale) {
  InstanceAddressIndex index(store_);
  for (int k = 0; k < 3; ++k) {
    auto a = index.Find("10.1.0.2");
    ASSERT_TRUE(a.ok() && *a);
    EXPECT_EQ((*a)->id, "i-0000000a");
    auto pub = index.Find("192.0.2.10");
    ASSERT_TRUE(pub.ok() && *pub);
    EXPECT_EQ((*pub)->id, "i-0000000a");
    auto stranger = index.Find("10.9.9.9");
    ASSERT_TRUE(stranger.ok());
    EXPECT_FALSE(*stranger);
    EXPECT_FALSE(*index.Find("10.1.0.3"));  // terminated
  }
  EXPECT_EQ(index.scans(), 1u);
  // The address moves to another instance: the next lookup sees it.
  auto moved = store_.Transact({"system", "move", ""}, [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto a, t.Get("instances", "i-0000000a"));
    a->body["private_ip"] = "10.1.0.99";
    EUCA_RETURN_IF_ERROR(t.Put(*a));
    EUCA_ASSIGN_OR_RETURN(auto b, t.Get("instances", "i-0000000b"));
    b->body["private_ip"] = "10.1.0.2";
    return t.Put(*b);
  });
  ASSERT_TRUE(moved.ok());
  auto now = index.Find("10.1.0.2");
  ASSERT_TRUE(now.ok() && *now);
  EXPECT_EQ((*now)->id, "i-0000000b");
  EXPECT_EQ((*index.Find("10.1.0.99"))->id, "i-0000000a");
  EXPECT_EQ(index.scans(), 2u);
}

TEST_F(MetadataTest, MetadataPathsAreToldFromEc2Paths) {
  EXPECT_TRUE(IsMetadataPath("/latest/meta-data/"));
  EXPECT_TRUE(IsMetadataPath("/latest/user-data"));
  EXPECT_TRUE(IsMetadataPath("/2009-04-04/meta-data/instance-id"));
  EXPECT_FALSE(IsMetadataPath("/"));
  EXPECT_FALSE(IsMetadataPath("/services/compute"));
  EXPECT_FALSE(IsMetadataPath("/latest/other"));
}

}  // namespace
}  // namespace euca::clc
