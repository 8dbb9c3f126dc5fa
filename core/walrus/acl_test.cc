#include "core/walrus/acl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace euca::walrus {
namespace {

const model::Principal kAlice{"acme", "111111111111", "alice", "AIDAALICE"};
const model::Principal kCarol{"other", "222222222222", "carol", "AIDACAROL"};
const Owner kAcme{"111111111111", "acme"};
const Owner kOther{"222222222222", "other"};

TEST(AclTest, CannedAclsGrantWhatTheirNamesSay) {
  struct Case {
    const char* name;
    bool carol_reads, carol_writes, anonymous_reads, anonymous_writes;
  };
  for (const Case& c :
       {Case{"private", false, false, false, false}, Case{"", false, false, false, false},
        Case{"public-read", true, false, true, false}, Case{"public-read-write", true, true, true, true},
        Case{"authenticated-read", true, false, false, false}}) {
    auto canned = ParseCannedAcl(c.name);
    ASSERT_TRUE(canned.ok()) << c.name;
    Acl acl = MakeCannedAcl(*canned, kAcme, kAcme);
    EXPECT_EQ(acl.owner, kAcme);
    EXPECT_TRUE(Allows(acl, kAlice, Permission::kFullControl)) << c.name;
    EXPECT_EQ(Allows(acl, kCarol, Permission::kRead), c.carol_reads) << c.name;
    EXPECT_EQ(Allows(acl, kCarol, Permission::kWrite), c.carol_writes) << c.name;
    EXPECT_EQ(Allows(acl, Caller::Anonymous(), Permission::kRead), c.anonymous_reads) << c.name;
    EXPECT_EQ(Allows(acl, Caller::Anonymous(), Permission::kWrite), c.anonymous_writes) << c.name;
    EXPECT_FALSE(Allows(acl, kCarol, Permission::kWriteAcp)) << c.name;
    EXPECT_FALSE(Allows(acl, Caller::Anonymous(), Permission::kReadAcp)) << c.name;
  }
}

TEST(AclTest, BucketOwnerCannedAclsOnAnotherAccountsObject) {
  // Carol writes into acme's bucket.
  Acl read = MakeCannedAcl(CannedAcl::kBucketOwnerRead, kOther, kAcme);
  EXPECT_TRUE(Allows(read, kAlice, Permission::kRead));
  EXPECT_FALSE(Allows(read, kAlice, Permission::kWriteAcp));
  Acl full = MakeCannedAcl(CannedAcl::kBucketOwnerFullControl, kOther, kAcme);
  EXPECT_TRUE(Allows(full, kAlice, Permission::kWriteAcp));
  Acl priv = MakeCannedAcl(CannedAcl::kPrivate, kOther, kAcme);
  EXPECT_FALSE(Allows(priv, kAlice, Permission::kRead));
  // Same owner: no extra grant.
  EXPECT_EQ(MakeCannedAcl(CannedAcl::kBucketOwnerFullControl, kAcme, kAcme).grants.size(), 1u);
}

// aws-exec-read (euca-upload-bundle's default), ec2-bundle-read and log-delivery-write were
// refused as unknown canned ACLs.
TEST(AclTest, ExecReadBundleReadAndLogDeliveryWriteGrantWhatS3Documents) {
  const Owner cloud{"000000000001", "eucalyptus"};
  const model::Principal admin{"eucalyptus", cloud.id, "admin", "AIDAADMIN"};
  for (const char* name : {"aws-exec-read", "ec2-bundle-read"}) {
    auto canned = ParseCannedAcl(name);
    ASSERT_TRUE(canned.ok()) << name << ": " << canned.status().ToString();
    EXPECT_TRUE(GrantsCloud(*canned));
    Acl acl = MakeCannedAcl(*canned, kAcme, kAcme, cloud);
    EXPECT_EQ(acl.grants,
              (std::vector<Grant>{{{Grantee::Type::kCanonicalUser, kAcme.id, "acme"}, Permission::kFullControl},
                                  {{Grantee::Type::kCanonicalUser, cloud.id, "eucalyptus"}, Permission::kRead}}))
        << name;
    EXPECT_TRUE(Allows(acl, admin, Permission::kRead)) << name;
    EXPECT_FALSE(Allows(acl, admin, Permission::kWrite)) << name;
    EXPECT_FALSE(Allows(acl, admin, Permission::kReadAcp)) << name;
    EXPECT_FALSE(Allows(acl, kCarol, Permission::kRead)) << name;
    EXPECT_FALSE(Allows(acl, Caller::Anonymous(), Permission::kRead)) << name;
    // The cloud's own objects: no grant beside the owner's.
    EXPECT_EQ(MakeCannedAcl(*canned, cloud, cloud, cloud).grants.size(), 1u) << name;
  }
  auto log = ParseCannedAcl("log-delivery-write");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_FALSE(GrantsCloud(*log));
  Acl acl = MakeCannedAcl(*log, kAcme, kAcme);
  EXPECT_EQ(acl.grants,
            (std::vector<Grant>{{{Grantee::Type::kCanonicalUser, kAcme.id, "acme"}, Permission::kFullControl},
                                {{Grantee::Type::kGroup, kLogDeliveryGroup, ""}, Permission::kWrite},
                                {{Grantee::Type::kGroup, kLogDeliveryGroup, ""}, Permission::kReadAcp}}));
  // Nobody is in the LogDelivery group here.
  EXPECT_FALSE(Allows(acl, kCarol, Permission::kWrite));
  EXPECT_FALSE(Allows(acl, Caller::Anonymous(), Permission::kWrite));
  EXPECT_FALSE(Allows(acl, kCarol, Permission::kReadAcp));
}

TEST(AclTest, UnknownCannedAclIsRefused) {
  for (const char* bad : {"Private", "public", "aws-exec-read-typo"}) {
    auto r = ParseCannedAcl(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().wire_code(), "InvalidArgument");
  }
}

TEST(AclTest, GrantHeadersParse) {
  auto g = ParseGrantHeader(Permission::kRead,
                            "id=\"111111111111\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\",ID=222");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(g->size(), 3u);
  EXPECT_EQ((*g)[0], (Grant{{Grantee::Type::kCanonicalUser, "111111111111", ""}, Permission::kRead}));
  EXPECT_EQ((*g)[1], (Grant{{Grantee::Type::kGroup, kAllUsersGroup, ""}, Permission::kRead}));
  EXPECT_EQ((*g)[2].grantee.id, "222");
  // A comma inside quotes is the value's.
  g = ParseGrantHeader(Permission::kWriteAcp, "id=\"a,b\"");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ((*g)[0].grantee.id, "a,b");
  EXPECT_EQ((*g)[0].permission, Permission::kWriteAcp);
  for (const char* bad : {"", "id", "id=", "id=\"\"", "id=\"abc", "name=x", "id=1,", ",id=1"}) {
    auto r = ParseGrantHeader(Permission::kRead, bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().wire_code(), "InvalidArgument") << bad;
  }
  auto e = ParseGrantHeader(Permission::kRead, "emailAddress=\"a@example.com\"");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().wire_code(), "UnresolvableGrantByEmailAddress");
}

TEST(AclTest, AnonymousNeverMatchesOwnerOrUserGrants) {
  Acl acl{{"", ""}, {{{Grantee::Type::kCanonicalUser, "", ""}, Permission::kRead}}};
  EXPECT_FALSE(Allows(acl, Caller::Anonymous(), Permission::kRead));
  Acl anon_owned = MakeCannedAcl(CannedAcl::kPrivate, {kAnonymousOwnerId, "anonymous"}, kAcme);
  EXPECT_FALSE(Allows(anon_owned, Caller::Anonymous(), Permission::kRead));
}

TEST(AclTest, FullControlImpliesEveryPermission) {
  Acl acl{kAcme, {{{Grantee::Type::kCanonicalUser, kOther.id, "other"}, Permission::kFullControl}}};
  for (Permission p : {Permission::kRead, Permission::kWrite, Permission::kReadAcp, Permission::kWriteAcp})
    EXPECT_TRUE(Allows(acl, kCarol, p));
  Acl only_acp{kAcme, {{{Grantee::Type::kCanonicalUser, kOther.id, "other"}, Permission::kReadAcp}}};
  EXPECT_TRUE(Allows(only_acp, kCarol, Permission::kReadAcp));
  EXPECT_FALSE(Allows(only_acp, kCarol, Permission::kRead));
}

TEST(AclTest, JsonRoundTripAndCorruption) {
  Acl acl = MakeCannedAcl(CannedAcl::kPublicReadWrite, kAcme, kAcme);
  acl.grants.push_back({{Grantee::Type::kCanonicalUser, kOther.id, "other"}, Permission::kWriteAcp});
  auto back = AclFromJson(AclToJson(acl));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, acl);
  EXPECT_EQ(AclFromJson("{").status().code(), Code::kInternal);
  EXPECT_EQ(
      AclFromJson(R"({"owner":{"id":"1"},"grants":[{"type":"Group","id":"x","permission":"EAT"}]})").status().code(),
      Code::kInternal);
}

TEST(AclTest, PermissionNames) {
  for (Permission p :
       {Permission::kRead, Permission::kWrite, Permission::kReadAcp, Permission::kWriteAcp, Permission::kFullControl})
    EXPECT_EQ(ParsePermission(PermissionName(p)), p);
  EXPECT_EQ(ParsePermission("read"), std::nullopt);
}

}  // namespace
}  // namespace euca::walrus
