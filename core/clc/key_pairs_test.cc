#include "core/clc/key_pairs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/api/digest.h"
#include "core/base/pki.h"
#include "core/clc/cloud_test_support.h"

namespace euca::clc {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Made with ssh-keygen; fingerprints from "ssh-keygen -l -E md5".
constexpr char kRsaPub[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCrG4+DEbuDu09ifHWg+b7VkUERC7VANx9L41fQtOdRc65Divtm3B9r2EUAvJ6zVYDd9u2vUSbMK"
    "PN2BNNp+XhX7ZEF9BdRmbcvh4bBj3fni1pe/a0cXSVurKv4tGUuZp/ac5eG8KTSkdQS/GB0ABnwgXKzw3t859pu5E7GX1rcnOA54UZ7KoUKsWa6E"
    "umQDimIGeh8f3u+wIdLF2P9Nhhul7yRYD32JtMtT/HDkh/QQ1ua895aCgupcLJYyCKZKlAPpVi970CUqSH/qXgiMZXeiImKKb8RWHQkZ5/ntbVJk"
    "h6vuGnalwEsL7j6BxvPHlQ3bqXetrXXSWh4AES04I4p test@example\n";
constexpr char kRsaMd5[] = "db:0f:f2:dc:6e:a8:c7:aa:2a:ac:ad:ec:49:6e:6f:d5";
constexpr char kEdPub[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFeNH8pRkmJntMbWGH7e5a3FpvOczJmf7rpAUeB/QIhP ed@example";
constexpr char kEdMd5[] = "f9:35:dc:50:77:af:06:0d:55:d9:e7:07:58:a2:12:21";

class KeyPairsTest : public ::testing::Test, public CloudFixture {
 protected:
  KeyPairs& keys() { return cloud_->key_pairs(); }
};

TEST_F(KeyPairsTest, CreateReturnsThePrivateKeyOnceWithEc2Fingerprint) {
  auto alice = MakeUser("acme", "alice");
  auto created = keys().Create(alice, "k1", "req-7");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_THAT(created->private_key_pem, StartsWith("-----BEGIN RSA PRIVATE KEY-----"));
  auto der = PrivateKeyPkcs8Der(created->private_key_pem);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(created->key.fingerprint, ColonHex(api::Sha1(*der)));
  EXPECT_EQ(created->key.fingerprint.size(), 59u);  // 20 bytes
  EXPECT_THAT(created->key.public_key, StartsWith("ssh-rsa AAAAB3NzaC1yc2E"));
  EXPECT_TRUE(ParseSshPublicKey(created->key.public_key).ok());
  EXPECT_THAT(created->key.id, StartsWith("key-"));
  // Stored without any secret, in one commit carrying the request id.
  EXPECT_EQ(store_.CommittedForTest().back().action, "CreateKeyPair k1");
  EXPECT_EQ(store_.CommittedForTest().back().request_id, "req-7");
  auto stored = keys().Find(alice.account_id, "k1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->public_key, created->key.public_key);
}

TEST_F(KeyPairsTest, DuplicateNameIsRefused) {
  auto alice = MakeUser("acme", "alice");
  ASSERT_TRUE(keys().Create(alice, "k1").ok());
  size_t commits = store_.CommittedForTest().size();
  auto again = keys().Create(alice, "k1");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().wire_code(), "InvalidKeyPair.Duplicate");
  auto imported = keys().Import(alice, "k1", kRsaPub);
  EXPECT_EQ(imported.status().wire_code(), "InvalidKeyPair.Duplicate");
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
}

TEST_F(KeyPairsTest, ImportUsesMd5OfTheBlob) {
  auto alice = MakeUser("acme", "alice");
  auto rsa = keys().Import(alice, "rsa", kRsaPub);
  ASSERT_TRUE(rsa.ok()) << rsa.status().ToString();
  EXPECT_EQ(rsa->fingerprint, kRsaMd5);
  auto ed = keys().Import(alice, "ed", kEdPub);
  ASSERT_TRUE(ed.ok()) << ed.status().ToString();
  EXPECT_EQ(ed->fingerprint, kEdMd5);
  EXPECT_EQ(ed->public_key, kEdPub);
}

TEST_F(KeyPairsTest, ImportRejectsWhatIsNotAnOpenSshKey) {
  auto alice = MakeUser("acme", "alice");
  for (const char* bad : {"", "not a key", "ssh-rsa !!!notbase64", "ssh-dss AAAAB3NzaC1kc3M= x",
                          "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFeNH8pRkmJntMbWGH7e5a3FpvOczJmf7rpAUeB/QIhP",
                          "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"}) {
    auto r = keys().Import(alice, "bad", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().wire_code(), "InvalidKeyPair.Format") << bad;
  }
  auto described = keys().Describe(alice, {}, {});
  ASSERT_TRUE(described.ok());
  EXPECT_TRUE(described->empty());
}

TEST_F(KeyPairsTest, BadNamesAreInvalid) {
  auto alice = MakeUser("acme", "alice");
  EXPECT_EQ(keys().Create(alice, "").status().wire_code(), "InvalidParameterValue");
  EXPECT_EQ(keys().Create(alice, std::string(256, 'k')).status().wire_code(), "InvalidParameterValue");
  EXPECT_EQ(keys().Create(alice, "tab\there").status().wire_code(), "InvalidParameterValue");
}

TEST_F(KeyPairsTest, AnotherAccountsKeysAreInvisible) {
  auto alice = MakeUser("acme", "alice");
  auto bob = MakeUser("other", "bob");
  ASSERT_TRUE(keys().Import(alice, "shared-name", kRsaPub).ok());
  ASSERT_TRUE(keys().Import(bob, "shared-name", kEdPub).ok());  // names are per account
  ASSERT_TRUE(keys().Import(alice, "alice-only", kEdPub).ok());
  auto bobs = keys().Describe(bob, {}, {});
  ASSERT_TRUE(bobs.ok());
  ASSERT_EQ(bobs->size(), 1u);
  EXPECT_EQ((*bobs)[0].fingerprint, kEdMd5);
  auto named = keys().Describe(bob, {"alice-only"}, {});
  ASSERT_FALSE(named.ok());
  EXPECT_EQ(named.status().wire_code(), "InvalidKeyPair.NotFound");
  EXPECT_EQ(named.status().message(), "the key pair 'alice-only' does not exist");
  // Bob deleting "alice-only" deletes nothing of Alice's.
  EXPECT_TRUE(keys().Delete(bob, "alice-only").ok());
  EXPECT_TRUE(keys().Find(alice.account_id, "alice-only").ok());
  EXPECT_TRUE(keys().Delete(bob, "shared-name").ok());
  EXPECT_TRUE(keys().Find(alice.account_id, "shared-name").ok());
  EXPECT_FALSE(keys().Find(bob.account_id, "shared-name").ok());
}

TEST_F(KeyPairsTest, ABadFilterNameIsAnErrorEvenWhenNothingIsSelected) {
  auto alice = MakeUser("acme", "alice");
  auto none = keys().Describe(alice, {}, {{"color", {"red"}}});
  EXPECT_EQ(none.status().wire_code(), "InvalidParameterValue");
  EXPECT_THAT(none.status().message(), HasSubstr("the filter 'color' is invalid for DescribeKeyPairs"));
  // Also when an earlier, valid filter already rules out every key.
  ASSERT_TRUE(keys().Import(alice, "web-1", kRsaPub).ok());
  EXPECT_EQ(keys().Describe(alice, {}, {{"key-name", {"db-*"}}, {"color", {"red"}}}).status().wire_code(),
            "InvalidParameterValue");
}

TEST_F(KeyPairsTest, DescribeFilters) {
  auto alice = MakeUser("acme", "alice");
  ASSERT_TRUE(keys().Import(alice, "web-1", kRsaPub).ok());
  ASSERT_TRUE(keys().Import(alice, "db-1", kEdPub).ok());
  auto web = keys().Describe(alice, {}, {{"key-name", {"web-*"}}});
  ASSERT_TRUE(web.ok());
  ASSERT_EQ(web->size(), 1u);
  EXPECT_EQ((*web)[0].name, "web-1");
  auto fp = keys().Describe(alice, {}, {{"fingerprint", {kEdMd5}}});
  ASSERT_TRUE(fp.ok());
  ASSERT_EQ(fp->size(), 1u);
  EXPECT_EQ((*fp)[0].name, "db-1");
  EXPECT_EQ(keys().Describe(alice, {}, {{"color", {"red"}}}).status().wire_code(), "InvalidParameterValue");
}

TEST_F(KeyPairsTest, DeleteIsIdempotent) {
  auto alice = MakeUser("acme", "alice");
  ASSERT_TRUE(keys().Import(alice, "k", kRsaPub).ok());
  EXPECT_TRUE(keys().Delete(alice, "k").ok());
  EXPECT_EQ(store_.CommittedForTest().back().action, "DeleteKeyPair k");
  EXPECT_TRUE(keys().Delete(alice, "k").ok());
  EXPECT_FALSE(keys().Find(alice.account_id, "k").ok());
}

TEST_F(KeyPairsTest, ActionsSpeakEc2Xml) {
  auto alice = MakeUser("acme", "alice");
  auto imported = Call(alice, "ImportKeyPair", {{"KeyName", "k"}, {"PublicKeyMaterial", api::Base64Encode(kRsaPub)}});
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_THAT(*imported, HasSubstr(std::string("<keyFingerprint>") + kRsaMd5 + "</keyFingerprint>"));
  auto raw = Call(alice, "ImportKeyPair", {{"KeyName", "k2"}, {"PublicKeyMaterial", kEdPub}});
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  auto described = Call(alice, "DescribeKeyPairs", {{"KeyName.1", "k"}});
  ASSERT_TRUE(described.ok());
  EXPECT_THAT(*described, HasSubstr("<keySet><item><keyName>k</keyName>"));
  auto created = Call(alice, "CreateKeyPair", {{"KeyName", "c"}});
  ASSERT_TRUE(created.ok());
  EXPECT_THAT(*created, HasSubstr("<keyMaterial>-----BEGIN RSA PRIVATE KEY-----"));
  EXPECT_EQ(Call(alice, "CreateKeyPair").status().wire_code(), "MissingParameter");
  auto deleted = Call(alice, "DeleteKeyPair", {{"KeyName", "nope"}});
  ASSERT_TRUE(deleted.ok());
  EXPECT_THAT(*deleted, HasSubstr("<return>true</return>"));
}

TEST_F(KeyPairsTest, DeleteByKeyPairIdStaysInTheAccount) {
  auto alice = MakeUser("acme", "alice");
  auto bob = MakeUser("other", "bob");
  auto key = keys().Import(alice, "k", kRsaPub);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(Call(bob, "DeleteKeyPair", {{"KeyPairId", key->id}}).ok());
  EXPECT_TRUE(keys().Find(alice.account_id, "k").ok());
  ASSERT_TRUE(Call(alice, "DeleteKeyPair", {{"KeyPairId", key->id}}).ok());
  EXPECT_FALSE(keys().Find(alice.account_id, "k").ok());
  EXPECT_EQ(Call(alice, "DeleteKeyPair").status().wire_code(), "MissingParameter");
}

TEST_F(KeyPairsTest, ConcurrentImportsOfOneNameCreateOneKey) {
  auto alice = MakeUser("acme", "alice");
  std::atomic<int> created{0}, duplicates{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto r = Call(alice, "ImportKeyPair", {{"KeyName", "race"}, {"PublicKeyMaterial", kEdPub}});
      if (r.ok()) ++created;
      if (r.status().wire_code() == "InvalidKeyPair.Duplicate") ++duplicates;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(duplicates.load(), 15);
  auto all = keys().Describe(alice, {}, {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
}

TEST_F(KeyPairsTest, AdminSeesEveryAccountOnlyWithVerbose) {
  auto alice = MakeUser("acme", "alice");
  ASSERT_TRUE(keys().Import(alice, "k", kRsaPub).ok());
  auto plain = Call(root_, "DescribeKeyPairs");
  ASSERT_TRUE(plain.ok());
  EXPECT_THAT(*plain, ::testing::Not(HasSubstr("<keyName>k</keyName>")));
  auto verbose = Call(root_, "DescribeKeyPairs", {{"KeyName.1", "verbose"}});
  ASSERT_TRUE(verbose.ok()) << verbose.status().ToString();
  EXPECT_THAT(*verbose, HasSubstr("<keyName>k</keyName>"));
  // For anybody else "verbose" is just a name.
  EXPECT_EQ(Call(alice, "DescribeKeyPairs", {{"KeyName.1", "verbose"}}).status().wire_code(),
            "InvalidKeyPair.NotFound");
}

}  // namespace
}  // namespace euca::clc
