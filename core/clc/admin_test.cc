#include "core/clc/admin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "state/memory_store.h"

namespace euca::clc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSysId[] = "100000000001";
constexpr char kAdminId[] = "AIDAADMIN000000000001";

// An Admin on an in-memory store seeded with admin@eucalyptus, as InitCloud leaves it.
class AdminTest : public ::testing::Test {
 protected:
  AdminTest() : admin_(store_, PosixEnv(), clock_, "/nonexistent/home") {
    model::Account sys{kSysId, "eucalyptus", clock_.NowMillis()};
    model::User adm{kAdminId, kSysId, "admin", true, clock_.NowMillis()};
    auto seq = store_.Transact({"system", "InitCloud", ""}, [&](state::Txn& t) {
      EUCA_RETURN_IF_ERROR(t.Put({"accounts", sys.id, "", sys.name, model::ToJson(sys), std::nullopt}));
      return t.Put({"users", adm.id, sys.id, adm.name, model::ToJson(adm), std::nullopt});
    });
    EXPECT_TRUE(seq.ok());
    root_ = {"eucalyptus", kSysId, "admin", kAdminId};
  }

  size_t Commits() const { return store_.CommittedForTest().size(); }
  const state::TxnContext& LastCommit() const { return store_.CommittedForTest().back(); }

  std::vector<state::Object> List(const std::string& kind, std::optional<std::string> parent = std::nullopt) {
    std::vector<state::Object> out;
    EXPECT_TRUE(store_.Read([&](state::Txn& t) {
      auto r = t.List(kind, parent);
      if (!r.ok()) return r.status();
      out = *r;
      return Status::Ok();
    }).ok());
    return out;
  }

  // A principal of an ordinary account, created through the API.
  Principal MakeUser(const std::string& account, const std::string& user) {
    if (!admin_.DescribeUsers(root_, account).ok()) {
      EXPECT_TRUE(admin_.CreateAccount(root_, account).ok());
    }
    auto created = admin_.CreateUser(root_, account, user);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    auto id = admin_.AuthenticateKey(created->second.id);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id->principal;
  }

  state::MemoryStateStore store_;
  FakeClock clock_;
  Admin admin_;
  Principal root_;
};

TEST_F(AdminTest, LocalAdminIsAdminAtEucalyptus) {
  auto p = admin_.LocalAdmin();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ToString(), "admin@eucalyptus");
  EXPECT_EQ(p->account_id, kSysId);
  EXPECT_EQ(p->user_id, kAdminId);
  EXPECT_TRUE(p->IsCloudAdmin());
}

TEST_F(AdminTest, LocalAdminOfAnEmptyStoreIsNotFound) {
  state::MemoryStateStore empty;
  Admin admin(empty, PosixEnv(), clock_, "/nonexistent");
  auto p = admin.LocalAdmin();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kNotFound);
  EXPECT_THAT(p.status().message(), HasSubstr("euca admin init"));
}

TEST_F(AdminTest, CreateAccountMakesAccountAdminAndKeyInOneTransaction) {
  size_t before = Commits();
  auto account = admin_.CreateAccount(root_, "acme");
  ASSERT_TRUE(account.ok()) << account.status().ToString();
  EXPECT_EQ(account->name, "acme");
  EXPECT_EQ(account->id.size(), 12u);
  EXPECT_EQ(account->id.find_first_not_of("0123456789"), std::string::npos);
  EXPECT_NE(account->id[0], '0');
  EXPECT_EQ(account->created_ms, clock_.NowMillis());

  ASSERT_EQ(Commits(), before + 1);
  EXPECT_EQ(LastCommit().principal, "admin@eucalyptus");
  EXPECT_EQ(LastCommit().action, "CreateAccount acme");

  auto accounts = List("accounts");
  ASSERT_EQ(accounts.size(), 2u);
  auto users = List("users", account->id);
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].name, "admin");
  EXPECT_EQ(users[0].id.rfind("AIDA", 0), 0u);
  EXPECT_EQ(users[0].id.size(), 21u);
  auto keys = List("access-keys", users[0].id);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].id.rfind("AKIA", 0), 0u);
  EXPECT_EQ(keys[0].id.size(), 20u);
  EXPECT_EQ(keys[0].name, "");
  // The secret lives only in Object::secret, never in the body that goes to history.
  ASSERT_TRUE(keys[0].secret.has_value());
  EXPECT_EQ((*keys[0].secret)["secret_key"].get<std::string>().size(), 40u);
  EXPECT_FALSE(keys[0].body.contains("secret"));
  EXPECT_EQ(keys[0].body.dump().find((*keys[0].secret)["secret_key"].get<std::string>()), std::string::npos);
}

TEST_F(AdminTest, CreateAccountRefusesBadNamesAndChangesNothing) {
  size_t before = Commits();
  for (std::string bad : std::vector<std::string>{"", "Acme", "-acme", ".acme", "ac me", "acme_corp", "acme/x", std::string(64, 'a')}) {
    auto r = admin_.CreateAccount(root_, bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("'" + bad + "'"));
  }
  EXPECT_EQ(Commits(), before);
  for (std::string good : std::vector<std::string>{"a", "0day", "acme.corp-1", std::string(63, 'z')})
    EXPECT_TRUE(admin_.CreateAccount(root_, good).ok()) << good;
}

TEST_F(AdminTest, DuplicatesAreAlreadyExists) {
  ASSERT_TRUE(admin_.CreateAccount(root_, "acme").ok());
  auto again = admin_.CreateAccount(root_, "acme");
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("'acme'"));
  auto sys = admin_.CreateAccount(root_, "eucalyptus");
  EXPECT_EQ(sys.status().code(), Code::kAlreadyExists);

  ASSERT_TRUE(admin_.CreateUser(root_, "acme", "alice").ok());
  auto dup = admin_.CreateUser(root_, "acme", "alice");
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(dup.status().message(), "user 'alice' already exists in account 'acme'");
  auto dup_admin = admin_.CreateUser(root_, "acme", "admin");
  EXPECT_EQ(dup_admin.status().code(), Code::kAlreadyExists);
  // The same user name in another account is fine.
  EXPECT_TRUE(admin_.CreateUser(root_, "eucalyptus", "alice").ok());
}

TEST_F(AdminTest, CreateUserRefusesBadNames) {
  ASSERT_TRUE(admin_.CreateAccount(root_, "acme").ok());
  size_t before = Commits();
  for (std::string bad : std::vector<std::string>{"", "al ice", "al/ice", "al:ice", "al*ice", std::string(65, 'a')}) {
    auto r = admin_.CreateUser(root_, "acme", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("'" + bad + "'"));
  }
  EXPECT_EQ(Commits(), before);
  for (std::string good : std::vector<std::string>{"Alice", "a+b=c,d.e@f_g-h", std::string(64, 'x')})
    EXPECT_TRUE(admin_.CreateUser(root_, "acme", good).ok()) << good;
}

TEST_F(AdminTest, CreateUserReturnsKeyWithSecretAndRecordsPrincipal) {
  ASSERT_TRUE(admin_.CreateAccount(root_, "acme").ok());
  auto r = admin_.CreateUser(root_, "acme", "alice");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first.name, "alice");
  EXPECT_TRUE(r->first.enabled);
  EXPECT_EQ(r->second.user_id, r->first.id);
  EXPECT_EQ(r->second.account_id, r->first.account_id);
  EXPECT_EQ(r->second.secret.size(), 40u);
  EXPECT_TRUE(r->second.active);
  EXPECT_EQ(LastCommit().principal, "admin@eucalyptus");
  EXPECT_EQ(LastCommit().action, "CreateUser alice@acme");
}

TEST_F(AdminTest, AccountMayBeNamedByNumber) {
  auto acme = admin_.CreateAccount(root_, "acme");
  ASSERT_TRUE(acme.ok());
  auto r = admin_.CreateUser(root_, acme->id, "bob");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first.account_id, acme->id);
}

TEST_F(AdminTest, UnknownAccountOrUserIsNotFound) {
  ASSERT_TRUE(admin_.CreateAccount(root_, "acme").ok());
  auto no_account = admin_.CreateUser(root_, "nope", "bob");
  EXPECT_EQ(no_account.status().code(), Code::kNotFound);
  EXPECT_EQ(no_account.status().message(), "no account 'nope'");

  Status no_user = admin_.SetUserEnabled(root_, "acme", "bob", false);
  EXPECT_EQ(no_user.code(), Code::kNotFound);
  EXPECT_EQ(no_user.message(), "no user 'bob' in account 'acme'");
  EXPECT_EQ(admin_.DeleteUser(root_, "acme", "bob").code(), Code::kNotFound);
  EXPECT_EQ(admin_.DescribeUsers(root_, std::string("nope")).status().code(), Code::kNotFound);
  EXPECT_EQ(admin_.GetCredentials(root_, "acme", "bob", "/tmp/x.zip").code(), Code::kNotFound);
}

TEST_F(AdminTest, NonAdminIsPermissionDeniedEverywhereAndChangesNothing) {
  Principal alice = MakeUser("acme", "alice");
  ASSERT_FALSE(alice.IsCloudAdmin());
  size_t before = Commits();
  auto expect_denied = [&](const Status& s, const char* what) {
    EXPECT_EQ(s.code(), Code::kPermissionDenied) << what << ": " << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("'alice@acme'")) << what;
  };
  expect_denied(admin_.CreateAccount(alice, "evil").status(), "CreateAccount");
  expect_denied(admin_.DescribeAccounts(alice).status(), "DescribeAccounts");
  expect_denied(admin_.CreateUser(alice, "acme", "mallory").status(), "CreateUser");
  expect_denied(admin_.SetUserEnabled(alice, "eucalyptus", "admin", false), "SetUserEnabled");
  expect_denied(admin_.DeleteUser(alice, "acme", "admin"), "DeleteUser");
  expect_denied(admin_.DescribeUsers(alice, std::nullopt).status(), "DescribeUsers");
  expect_denied(admin_.GetCredentials(alice, "acme", "alice", "/tmp/x.zip"), "GetCredentials");
  expect_denied(admin_.DescribeSignups(alice).status(), "DescribeSignups");
  expect_denied(admin_.ApproveSignup(alice, "signup-0").status(), "ApproveSignup");
  expect_denied(admin_.RejectSignup(alice, "signup-0").status(), "RejectSignup");
  expect_denied(admin_.DescribeProperties(alice, "").status(), "DescribeProperties");
  expect_denied(admin_.ModifyProperties(alice, {{"signup.auto-approve", "true"}}).status(), "ModifyProperties");
  EXPECT_EQ(Commits(), before);
  // The admin of an ordinary account is no cloud administrator either.
  Principal acme_admin{"acme", alice.account_id, "admin", "AIDAX"};
  EXPECT_EQ(admin_.CreateAccount(acme_admin, "evil").status().code(), Code::kPermissionDenied);
}

TEST_F(AdminTest, AuthenticateKeyResolvesPrincipalAndSecret) {
  ASSERT_TRUE(admin_.CreateAccount(root_, "acme").ok());
  auto created = admin_.CreateUser(root_, "acme", "bob");
  ASSERT_TRUE(created.ok());
  auto id = admin_.AuthenticateKey(created->second.id);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->principal.ToString(), "bob@acme");
  EXPECT_EQ(id->principal.user_id, created->first.id);
  EXPECT_EQ(id->principal.account_id, created->first.account_id);
  EXPECT_EQ(id->secret, created->second.secret);

  auto unknown = admin_.AuthenticateKey("AKIANOPENOPENOPENOPE");
  EXPECT_EQ(unknown.status().code(), Code::kUnauthenticated);
  EXPECT_THAT(unknown.status().message(), HasSubstr("'AKIANOPENOPENOPENOPE'"));
}

TEST_F(AdminTest, DisabledUsersKeysAreRefusedUntilReenabled) {
  ASSERT_TRUE(admin_.CreateAccount(root_, "acme").ok());
  auto bob = admin_.CreateUser(root_, "acme", "bob");
  ASSERT_TRUE(bob.ok());
  ASSERT_TRUE(admin_.SetUserEnabled(root_, "acme", "bob", false).ok());
  EXPECT_EQ(LastCommit().action, "DisableUser bob@acme");
  auto refused = admin_.AuthenticateKey(bob->second.id);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnauthenticated);
  EXPECT_THAT(refused.status().message(), HasSubstr("access key '" + bob->second.id + "' belongs to disabled user 'bob'"));

  // Disabling again changes nothing and writes no history.
  size_t before = Commits();
  ASSERT_TRUE(admin_.SetUserEnabled(root_, "acme", "bob", false).ok());
  EXPECT_EQ(Commits(), before);

  ASSERT_TRUE(admin_.SetUserEnabled(root_, "acme", "bob", true).ok());
  EXPECT_EQ(LastCommit().action, "EnableUser bob@acme");
  EXPECT_TRUE(admin_.AuthenticateKey(bob->second.id).ok());
}

TEST_F(AdminTest, InactiveKeyIsRefused) {
  ASSERT_TRUE(admin_.CreateAccount(root_, "acme").ok());
  auto bob = admin_.CreateUser(root_, "acme", "bob");
  ASSERT_TRUE(bob.ok());
  ASSERT_TRUE(store_.Transact({"test", "DeactivateKey", ""}, [&](state::Txn& t) {
    auto obj = t.Get("access-keys", bob->second.id);
    if (!obj.ok()) return obj.status();
    state::Object o = **obj;
    o.body["active"] = false;
    return t.Put(o);
  }).ok());
  auto r = admin_.AuthenticateKey(bob->second.id);
  EXPECT_EQ(r.status().code(), Code::kUnauthenticated);
  EXPECT_THAT(r.status().message(), HasSubstr("inactive"));
}

TEST_F(AdminTest, CloudAdministratorCannotBeDeletedOrDisabled) {
  size_t before = Commits();
  Status del = admin_.DeleteUser(root_, "eucalyptus", "admin");
  EXPECT_EQ(del.code(), Code::kConflict) << del.ToString();
  EXPECT_THAT(del.message(), HasSubstr("'admin@eucalyptus'"));
  EXPECT_EQ(admin_.SetUserEnabled(root_, "eucalyptus", "admin", false).code(), Code::kConflict);
  EXPECT_EQ(Commits(), before);
  EXPECT_TRUE(admin_.LocalAdmin().ok());
}

TEST_F(AdminTest, DeleteUserRemovesKeysAndCertificatesInOneTransaction) {
  ASSERT_TRUE(admin_.CreateAccount(root_, "acme").ok());
  auto bob = admin_.CreateUser(root_, "acme", "bob");
  auto carol = admin_.CreateUser(root_, "acme", "carol");
  ASSERT_TRUE(bob.ok() && carol.ok());
  model::Certificate cert{"cert-0123456789abcdef", bob->first.id, bob->first.account_id, "ff", "PEM", true, 1};
  ASSERT_TRUE(store_.Transact({"test", "AddCert", ""}, [&](state::Txn& t) {
    return t.Put({"certificates", cert.id, cert.user_id, "", model::ToJson(cert), std::nullopt});
  }).ok());
  ASSERT_EQ(List("access-keys").size(), 3u);  // acme's admin, bob, carol

  size_t before = Commits();
  ASSERT_TRUE(admin_.DeleteUser(root_, "acme", "bob").ok());
  EXPECT_EQ(Commits(), before + 1);
  EXPECT_EQ(LastCommit().action, "DeleteUser bob@acme");
  EXPECT_TRUE(List("certificates").empty());
  auto keys = List("access-keys");
  ASSERT_EQ(keys.size(), 2u);  // acme's admin and carol
  for (const auto& k : keys) EXPECT_NE(k.parent, bob->first.id);
  EXPECT_EQ(admin_.AuthenticateKey(bob->second.id).status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(admin_.AuthenticateKey(carol->second.id).ok());
  // The name is free again.
  EXPECT_TRUE(admin_.CreateUser(root_, "acme", "bob").ok());
}

TEST_F(AdminTest, DescribeAccountsAndUsersAreSortedWithoutSecrets) {
  ASSERT_TRUE(admin_.CreateAccount(root_, "zeta").ok());
  ASSERT_TRUE(admin_.CreateAccount(root_, "acme").ok());
  ASSERT_TRUE(admin_.CreateUser(root_, "acme", "bob").ok());
  auto accounts = admin_.DescribeAccounts(root_);
  ASSERT_TRUE(accounts.ok());
  std::vector<std::string> names;
  for (const auto& a : *accounts) names.push_back(a.name);
  EXPECT_THAT(names, ElementsAre("acme", "eucalyptus", "zeta"));

  auto users = admin_.DescribeUsers(root_, std::nullopt);
  ASSERT_TRUE(users.ok());
  std::vector<std::string> who;
  for (const auto& u : *users) {
    who.push_back(u.user.name + "@" + u.account.name);
    for (const auto& k : u.keys) EXPECT_TRUE(k.secret.empty()) << k.id;
  }
  EXPECT_THAT(who, ElementsAre("admin@acme", "bob@acme", "admin@eucalyptus", "admin@zeta"));
  EXPECT_EQ((*users)[1].keys.size(), 1u);

  auto acme = admin_.DescribeUsers(root_, std::string("acme"));
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->size(), 2u);
}

TEST_F(AdminTest, SignupLifecycle) {
  auto s = admin_.RequestSignup("newco", "ceo@newco.example", "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->status, "pending");
  EXPECT_EQ(s->user_name, "admin");
  EXPECT_EQ(s->id.rfind("signup-", 0), 0u);
  EXPECT_EQ(s->id.size(), 23u);
  EXPECT_EQ(LastCommit().principal, "anonymous");
  auto signups = List("signups");
  ASSERT_EQ(signups.size(), 1u);
  EXPECT_EQ(signups[0].name, "");
  // Pending: no account yet, and a second request for the name waits on the first.
  EXPECT_EQ(admin_.DescribeUsers(root_, std::string("newco")).status().code(), Code::kNotFound);
  EXPECT_EQ(admin_.RequestSignup("newco", "x@y.z", "").status().code(), Code::kAlreadyExists);

  clock_.Advance(1000);
  auto approved = admin_.ApproveSignup(root_, s->id);
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->status, "approved");
  EXPECT_EQ(approved->decided_by, "admin@eucalyptus");
  EXPECT_EQ(approved->decided_ms, clock_.NowMillis());
  EXPECT_EQ(LastCommit().action, "ApproveSignup " + s->id);
  auto users = admin_.DescribeUsers(root_, std::string("newco"));
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].user.name, "admin");

  auto again = admin_.ApproveSignup(root_, s->id);
  EXPECT_EQ(again.status().code(), Code::kConflict);
  EXPECT_THAT(again.status().message(), HasSubstr("already approved"));
  EXPECT_EQ(admin_.RejectSignup(root_, s->id).status().code(), Code::kConflict);
  // The account exists now: a new sign-up for it is refused.
  EXPECT_EQ(admin_.RequestSignup("newco", "x@y.z", "").status().code(), Code::kAlreadyExists);
}

TEST_F(AdminTest, ApprovedSignupCreatesNamedFirstUserBesideAdmin) {
  auto s = admin_.RequestSignup("labs", "pi@labs.example", "alice");
  ASSERT_TRUE(s.ok());
  size_t before = Commits();
  ASSERT_TRUE(admin_.ApproveSignup(root_, s->id).ok());
  EXPECT_EQ(Commits(), before + 1);
  auto users = admin_.DescribeUsers(root_, std::string("labs"));
  ASSERT_TRUE(users.ok());
  std::vector<std::string> names;
  for (const auto& u : *users) names.push_back(u.user.name);
  EXPECT_THAT(names, ElementsAre("admin", "alice"));
}

TEST_F(AdminTest, RejectedSignupCreatesNothing) {
  auto s = admin_.RequestSignup("spam", "a@b.c", "");
  ASSERT_TRUE(s.ok());
  auto rejected = admin_.RejectSignup(root_, s->id);
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->status, "rejected");
  EXPECT_EQ(LastCommit().action, "RejectSignup " + s->id);
  EXPECT_EQ(admin_.DescribeUsers(root_, std::string("spam")).status().code(), Code::kNotFound);
  auto again = admin_.ApproveSignup(root_, s->id);
  EXPECT_EQ(again.status().code(), Code::kConflict);
  EXPECT_THAT(again.status().message(), HasSubstr("already rejected"));
  // A rejected request does not block a new one.
  EXPECT_TRUE(admin_.RequestSignup("spam", "a@b.c", "").ok());

  auto unknown = admin_.ApproveSignup(root_, "signup-0000000000000000");
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  auto listed = admin_.DescribeSignups(root_);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

TEST_F(AdminTest, SignupValidatesInput) {
  size_t before = Commits();
  EXPECT_EQ(admin_.RequestSignup("Bad Name", "a@b.c", "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(admin_.RequestSignup("ok", "a@b.c", "bad user").status().code(), Code::kInvalidArgument);
  for (std::string bad : std::vector<std::string>{"", "nobody", "@b.c", "a@", "a b@c.d", "a@b\nc"}) {
    auto r = admin_.RequestSignup("ok", bad, "");
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("'" + bad + "'"));
  }
  EXPECT_EQ(admin_.RequestSignup("eucalyptus", "a@b.c", "").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(Commits(), before);
}

TEST_F(AdminTest, AutoApproveCreatesAccountAtOnce) {
  ASSERT_TRUE(admin_.ModifyProperties(root_, {{"signup.auto-approve", "yes"}}).ok());
  size_t before = Commits();
  auto s = admin_.RequestSignup("fast", "a@fast.example", "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->status, "approved");
  EXPECT_EQ(Commits(), before + 1);
  EXPECT_TRUE(admin_.DescribeUsers(root_, std::string("fast")).ok());
  EXPECT_EQ(admin_.ApproveSignup(root_, s->id).status().code(), Code::kConflict);
}

TEST_F(AdminTest, DescribePropertiesListsDefaultsSortedAndFiltersByPrefix) {
  auto all = admin_.DescribeProperties(root_, "");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> names;
  for (const auto& p : *all) names.push_back(p.name);
  EXPECT_THAT(names, ElementsAre("cloud.description", "cloud.embedded-policy", "cloud.embedded-zone", "cloud.region",
                                 "cloud.storage-lease-grace", "cloud.terminated-visible-seconds",
                                 "credentials.cert-validity-days", "nc.accel", "nc.firmware", "nc.hypervisor",
                                 "network.addrs-per-net", "network.bridge", "network.default-addressing",
                                 "network.dns", "network.driver", "network.mac-map", "network.metadata-target",
                                 "network.mode", "network.netmask", "network.private-interface",
                                 "network.public-interface", "network.public-ips", "network.subnet",
                                 "services.ec2-url", "services.s3-url", "signup.auto-approve",
                                 "walrus.image-cache-bytes"));
  EXPECT_EQ((*all)[1].type, "enum");
  EXPECT_EQ((*all)[1].value, "greedy");
  EXPECT_EQ((*all)[3].value, "euca");
  EXPECT_EQ((*all)[3].default_value, "euca");
  EXPECT_EQ((*all)[4].type, "duration");
  EXPECT_EQ((*all)[4].value, "7d");
  EXPECT_EQ((*all)[5].type, "int");
  EXPECT_EQ((*all)[5].value, "3600");
  EXPECT_EQ((*all)[6].value, "3650");
  EXPECT_FALSE((*all)[6].description.empty());

  auto services = admin_.DescribeProperties(root_, "services.");
  ASSERT_TRUE(services.ok());
  ASSERT_EQ(services->size(), 2u);
  EXPECT_EQ((*services)[0].name, "services.ec2-url");
  EXPECT_EQ((*services)[0].type, "url");
  EXPECT_TRUE(admin_.DescribeProperties(root_, "nothing.").value().empty());
}

TEST_F(AdminTest, ModifyPropertiesAppliesAllInOneTransaction) {
  size_t before = Commits();
  auto r = admin_.ModifyProperties(root_, {{"cloud.region", "West-1"}, {"credentials.cert-validity-days", "365"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Commits(), before + 1);
  EXPECT_EQ(LastCommit().principal, "admin@eucalyptus");
  EXPECT_THAT(LastCommit().action, HasSubstr("cloud.region"));
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].first.name, "cloud.region");
  EXPECT_EQ((*r)[0].first.value, "euca");  // old
  EXPECT_EQ((*r)[0].second, "west-1");     // new, canonical
  EXPECT_EQ((*r)[1].second, "365");
  EXPECT_EQ(admin_.GetProperty("cloud.region").value(), "west-1");
  EXPECT_EQ(admin_.GetProperty("credentials.cert-validity-days").value(), "365");
  auto props = List("properties");
  ASSERT_EQ(props.size(), 2u);
  EXPECT_EQ(props[0].id, "cloud.region");
  EXPECT_EQ(props[0].body["value"], "west-1");

  // Second change reports the previous value as old.
  auto r2 = admin_.ModifyProperties(root_, {{"cloud.region", "east"}});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ((*r2)[0].first.value, "west-1");
}

TEST_F(AdminTest, ModifyPropertiesValidatesEverythingFirst) {
  size_t before = Commits();
  auto r = admin_.ModifyProperties(root_, {{"cloud.region", "ok"}, {"credentials.cert-validity-days", "0"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("'credentials.cert-validity-days'"));
  EXPECT_THAT(r.status().message(), HasSubstr("'0'"));
  EXPECT_THAT(r.status().message(), HasSubstr("1 to 36500"));
  EXPECT_EQ(Commits(), before);
  EXPECT_EQ(admin_.GetProperty("cloud.region").value(), "euca");

  auto unknown = admin_.ModifyProperties(root_, {{"cloud.nope", "1"}});
  EXPECT_EQ(unknown.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown property 'cloud.nope'"));
  auto twice = admin_.ModifyProperties(root_, {{"cloud.region", "a"}, {"cloud.region", "b"}});
  EXPECT_EQ(twice.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(admin_.ModifyProperties(root_, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(admin_.GetProperty("nope").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Commits(), before);
}

}  // namespace
}  // namespace euca::clc
