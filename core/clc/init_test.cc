// InitCloud and GetCredentials on a real home: the SQLite + git store, real files, modes.

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/base/pki.h"
#include "core/clc/admin.h"
#include "core/clc/zip_reader_test_util.h"
#include "state/sqlite_store.h"

namespace euca::clc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

using testing::ReadZip;

std::string Shell(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

// Fails WriteFileAtomic for paths ending in `suffix`, as a full disk would.
class FailingEnv final : public EnvWrapper {
 public:
  FailingEnv(Env& target, std::string suffix) : EnvWrapper(target), suffix_(std::move(suffix)) {}
  Status WriteFileAtomic(const std::string& p, const std::string& d, uint32_t m) override {
    if (p.size() >= suffix_.size() && p.compare(p.size() - suffix_.size(), suffix_.size(), suffix_) == 0)
      return ResourceExhausted("write '" + p + "': No space left on device");
    return EnvWrapper::WriteFileAtomic(p, d, m);
  }

 private:
  std::string suffix_;
};

class InitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/euca-init-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    home_ = tmp_ + "/home";
  }
  void TearDown() override { (void)env_.RemoveAll(tmp_); }

  Result<InitReport> Init(bool force = false) { return InitCloud({.home = home_, .force = force}, env_, clock_); }

  std::string Read(const std::string& path) {
    auto r = env_.ReadFile(path);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }
  uint32_t Mode(const std::string& path) {
    auto m = env_.Mode(path);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : 0;
  }
  std::unique_ptr<state::StateStore> Open() {
    auto s = state::OpenSqliteStore(home_, clock_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::vector<std::string> Entries(const std::string& dir) {
    auto names = env_.ListDir(dir);
    EXPECT_TRUE(names.ok()) << names.status().ToString();
    return names.ok() ? *names : std::vector<std::string>{};
  }

  Env& env_ = PosixEnv();
  FakeClock clock_;
  std::string tmp_, home_;
};

TEST_F(InitTest, CreatesHomeKeysAndCredentialsWithPrivateModes) {
  auto r = Init();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  HomePaths paths(home_);
  EXPECT_EQ(r->home, home_);
  EXPECT_EQ(r->eucarc_path, paths.Eucarc());
  EXPECT_TRUE(r->backup_dir.empty());
  EXPECT_EQ(r->account.name, "eucalyptus");
  EXPECT_EQ(r->account.id.size(), 12u);
  EXPECT_EQ(r->user.name, "admin");
  EXPECT_EQ(r->user.id.rfind("AIDA", 0), 0u);
  EXPECT_EQ(r->key.id.rfind("AKIA", 0), 0u);
  EXPECT_EQ(r->key.secret.size(), 40u);

  EXPECT_EQ(Mode(home_), 0700u);
  EXPECT_EQ(Mode(paths.Keys()), 0700u);
  EXPECT_EQ(Mode(paths.Credentials()), 0700u);
  for (const std::string& key : {paths.CloudCaKey(), paths.CloudKey(), paths.ComponentKey("cc"),
                                 paths.ComponentKey("nc"), paths.ComponentKey("walrus"), paths.Eucarc()})
    EXPECT_EQ(Mode(key), 0600u) << key;

  // The CA signs the cloud, the components and the administrator.
  std::string ca = Read(paths.CloudCaCert());
  auto ca_info = InspectCertificate(ca);
  ASSERT_TRUE(ca_info.ok());
  EXPECT_TRUE(ca_info->is_ca);
  EXPECT_EQ(ca_info->not_before_ms, clock_.NowMillis());
  EXPECT_TRUE(VerifyKeyMatchesCertificate(Read(paths.CloudCaKey()), ca).ok());
  for (const char* c : {"cc", "nc", "walrus"}) {
    std::string cert = Read(paths.ComponentCert(c));
    EXPECT_TRUE(VerifyCertificateSignedBy(cert, ca).ok()) << c;
    EXPECT_TRUE(VerifyKeyMatchesCertificate(Read(paths.ComponentKey(c)), cert).ok()) << c;
  }
  std::string cloud_cert = Read(paths.CloudCert());
  EXPECT_TRUE(VerifyCertificateSignedBy(cloud_cert, ca).ok());
  EXPECT_TRUE(VerifyKeyMatchesCertificate(Read(paths.CloudKey()), cloud_cert).ok());

  // credentials/admin: eucarc, iamrc, cloud-cert.pem and the administrator's pair, all 0600.
  std::string dir = paths.Credentials() + "/admin";
  EXPECT_EQ(Mode(dir), 0700u);
  auto names = Entries(dir);
  ASSERT_EQ(names.size(), 5u);
  std::string cert_name, key_name;
  for (const auto& n : names) {
    EXPECT_EQ(Mode(dir + "/" + n), 0600u) << n;
    if (n.size() > 9 && n.ends_with("-cert.pem") && n.rfind("euca2-admin-", 0) == 0) cert_name = n;
    if (n.ends_with("-pk.pem")) key_name = n;
  }
  ASSERT_FALSE(cert_name.empty());
  std::string admin_cert = Read(dir + "/" + cert_name);
  auto fp = CertificateFingerprint(admin_cert);
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(cert_name, "euca2-admin-" + fp->substr(0, 8) + "-cert.pem");
  EXPECT_EQ(key_name, "euca2-admin-" + fp->substr(0, 8) + "-pk.pem");
  EXPECT_THAT(names, UnorderedElementsAre("eucarc", "iamrc", "cloud-cert.pem", cert_name, key_name));
  EXPECT_TRUE(VerifyCertificateSignedBy(admin_cert, ca).ok());
  EXPECT_TRUE(VerifyKeyMatchesCertificate(Read(dir + "/" + key_name), admin_cert).ok());
  EXPECT_EQ(Read(dir + "/cloud-cert.pem"), cloud_cert);
  EXPECT_EQ(Read(dir + "/iamrc"), "AWSAccessKeyId=" + r->key.id + "\nAWSSecretKey=" + r->key.secret + "\n");

  // The store holds the account, user, key (secret apart) and certificate, from one "system" commit.
  auto store = Open();
  ASSERT_TRUE(store);
  Admin admin(*store, env_, clock_, home_);
  auto root = admin.LocalAdmin();
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(root->user_id, r->user.id);
  auto id = admin.AuthenticateKey(r->key.id);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->secret, r->key.secret);
  ASSERT_TRUE(store->Read([&](state::Txn& t) -> Status {
    auto certs = t.List("certificates", r->user.id);
    EXPECT_TRUE(certs.ok());
    EXPECT_EQ(certs->size(), 1u);
    if (certs->size() == 1) {
      EXPECT_EQ((*certs)[0].body["fingerprint"], *fp);
      EXPECT_EQ((*certs)[0].id.rfind("cert-", 0), 0u);
    }
    return Status::Ok();
  }).ok());
  auto log = store->Log(std::nullopt, 0);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].principal, "system");
  EXPECT_EQ((*log)[0].action, "InitCloud");
  auto shown = store->Show((*log)[0].rev);
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_THAT(shown->second, HasSubstr(r->key.id));
  EXPECT_THAT(shown->second, Not(HasSubstr(r->key.secret)));  // secrets never reach history
}

TEST_F(InitTest, HomeEucarcIsSourceableAndPointsIntoCredentials) {
  auto r = Init();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string text = Read(r->eucarc_path);
  EXPECT_THAT(text, HasSubstr("# export EC2_URL="));
  EXPECT_THAT(text, HasSubstr("embedded mode"));
  std::string out = Shell("bash -c '. \"$0\" && echo \"$EUCA_HOME|$EC2_ACCESS_KEY|$AWS_SECRET_ACCESS_KEY|$EC2_USER_ID|"
                        "${EC2_URL-unset}\" && cat \"$EC2_CERT\" \"$EC2_PRIVATE_KEY\" \"$EUCALYPTUS_CERT\" | "
                        "grep -c BEGIN' " + r->eucarc_path);
  EXPECT_EQ(out, home_ + "|" + r->key.id + "|" + r->key.secret + "|" + r->account.id + "|unset\n3\n");
}

TEST_F(InitTest, RefusesExistingCloudWithoutForce) {
  ASSERT_TRUE(Init().ok());
  HomePaths paths(home_);
  std::string ca_key = Read(paths.CloudCaKey());
  auto again = Init();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(again.status().message(),
            "'" + home_ + "' already holds a cloud; use --force to move it aside and start again");
  EXPECT_EQ(Read(paths.CloudCaKey()), ca_key);  // untouched
  for (const auto& n : Entries(home_)) EXPECT_EQ(n.rfind("backup-", 0), std::string::npos) << n;
}

TEST_F(InitTest, ForceMovesOldCloudAsideIntoBackup) {
  auto first = Init();
  ASSERT_TRUE(first.ok());
  HomePaths paths(home_);
  std::string old_ca_key = Read(paths.CloudCaKey());
  ASSERT_TRUE(env_.WriteFileAtomic(home_ + "/unrelated.txt", "mine", 0644).ok());
  clock_.Advance(60'000);

  auto second = Init(/*force=*/true);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->backup_dir, home_ + "/backup-20231114T221420Z");
  EXPECT_EQ(Mode(second->backup_dir), 0700u);
  // The old cloud, keys included, is in the backup; the new one is a different cloud.
  auto backed_up = Entries(second->backup_dir);
  for (const char* n : {"state.db", "history.git", "keys", "credentials", "eucarc"})
    EXPECT_NE(std::find(backed_up.begin(), backed_up.end(), n), backed_up.end()) << n;
  EXPECT_EQ(Read(second->backup_dir + "/keys/cloud-ca-pk.pem"), old_ca_key);
  EXPECT_NE(Read(paths.CloudCaKey()), old_ca_key);
  EXPECT_NE(second->key.id, first->key.id);
  EXPECT_EQ(Read(home_ + "/unrelated.txt"), "mine");  // not part of the cloud: left alone
  auto store = Open();
  ASSERT_TRUE(store);
  Admin admin(*store, env_, clock_, home_);
  EXPECT_TRUE(admin.AuthenticateKey(second->key.id).ok());
  EXPECT_EQ(admin.AuthenticateKey(first->key.id).status().code(), Code::kUnauthenticated);

  // A second --force in the same second gets its own folder.
  auto third = Init(/*force=*/true);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->backup_dir, home_ + "/backup-20231114T221420Z-2");
}

TEST_F(InitTest, ForceOnEmptyHomeBacksUpNothing) {
  ASSERT_TRUE(env_.CreateDirs(home_, 0700).ok());
  auto r = Init(/*force=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->backup_dir.empty());
}

TEST_F(InitTest, FailureOnNewHomeLeavesNothing) {
  FailingEnv failing(env_, "/eucarc");  // the very last file init writes
  auto r = InitCloud({.home = home_}, failing, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  EXPECT_FALSE(env_.Exists(home_));
}

TEST_F(InitTest, FailureInExistingHomeRemovesOnlyWhatItMade) {
  ASSERT_TRUE(env_.CreateDirs(home_, 0700).ok());
  ASSERT_TRUE(env_.WriteFileAtomic(home_ + "/notes", "keep", 0600).ok());
  FailingEnv failing(env_, "-pk.pem");  // fails at the first private key
  auto r = InitCloud({.home = home_}, failing, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Entries(home_), UnorderedElementsAre("notes"));
}

TEST_F(InitTest, FailedForceRestoresTheOldCloud) {
  auto first = Init();
  ASSERT_TRUE(first.ok());
  std::string old_ca_key = Read(HomePaths(home_).CloudCaKey());
  FailingEnv failing(env_, "/iamrc");
  auto r = InitCloud({.home = home_, .force = true}, failing, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Read(HomePaths(home_).CloudCaKey()), old_ca_key);
  for (const auto& n : Entries(home_)) EXPECT_EQ(n.rfind("backup-", 0), std::string::npos) << n;
  auto store = Open();
  ASSERT_TRUE(store);
  Admin admin(*store, env_, clock_, home_);
  EXPECT_TRUE(admin.AuthenticateKey(first->key.id).ok());
}

TEST_F(InitTest, RefusesWeakKeysAndEmptyHome) {
  auto weak = InitCloud({.home = home_, .rsa_bits = 1024}, env_, clock_);
  EXPECT_EQ(weak.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(env_.Exists(home_));
  EXPECT_EQ(InitCloud({.home = ""}, env_, clock_).status().code(), Code::kInvalidArgument);
}

class CredentialsZipTest : public InitTest {
 protected:
  void SetUp() override {
    InitTest::SetUp();
    auto r = Init();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    report_ = *r;
    store_ = Open();
    ASSERT_TRUE(store_);
    admin_ = std::make_unique<Admin>(*store_, env_, clock_, home_);
    root_ = admin_->LocalAdmin().value();
  }

  size_t CertCount(const std::string& user_id) {
    size_t n = 0;
    EXPECT_TRUE(store_->Read([&](state::Txn& t) -> Status {
      auto certs = t.List("certificates", user_id);
      if (!certs.ok()) return certs.status();
      n = certs->size();
      return Status::Ok();
    }).ok());
    return n;
  }

  InitReport report_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<Admin> admin_;
  Principal root_;
};

TEST_F(CredentialsZipTest, ZipHoldsFreshCertificateAndWorkingEucarc) {
  ASSERT_TRUE(admin_->CreateAccount(root_, "acme").ok());
  auto alice = admin_->CreateUser(root_, "acme", "alice");
  ASSERT_TRUE(alice.ok());
  ASSERT_TRUE(admin_->ModifyProperties(root_, {{"services.ec2-url", "http://clc.example:8773/"},
                                               {"credentials.cert-validity-days", "30"}})
                  .ok());
  std::string zip_path = tmp_ + "/alice.zip";
  Status s = admin_->GetCredentials(root_, "acme", "alice", zip_path);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Mode(zip_path), 0600u);
  EXPECT_EQ(CertCount(alice->first.id), 1u);

  auto entries = ReadZip(Read(zip_path));
  ASSERT_EQ(entries.size(), 5u);
  std::string cert_name, key_name;
  for (const auto& [name, e] : entries) {
    EXPECT_EQ(e.mode, 0600u) << name;
    if (name.ends_with("-cert.pem") && name != "cloud-cert.pem") cert_name = name;
    if (name.ends_with("-pk.pem")) key_name = name;
  }
  ASSERT_FALSE(cert_name.empty());
  std::string cert = entries[cert_name].data;
  auto fp = CertificateFingerprint(cert);
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(cert_name, "euca2-alice-" + fp->substr(0, 8) + "-cert.pem");
  EXPECT_EQ(key_name, "euca2-alice-" + fp->substr(0, 8) + "-pk.pem");
  EXPECT_TRUE(entries.count("eucarc") && entries.count("iamrc") && entries.count("cloud-cert.pem"));
  EXPECT_EQ(entries["iamrc"].data, "AWSAccessKeyId=" + alice->second.id + "\nAWSSecretKey=" + alice->second.secret + "\n");
  EXPECT_EQ(entries["cloud-cert.pem"].data, Read(HomePaths(home_).CloudCert()));
  std::string ca = Read(HomePaths(home_).CloudCaCert());
  EXPECT_TRUE(VerifyCertificateSignedBy(cert, ca).ok());
  EXPECT_TRUE(VerifyKeyMatchesCertificate(entries[key_name].data, cert).ok());
  auto info = InspectCertificate(cert);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->subject_cn, "alice@acme");
  EXPECT_EQ(info->not_after_ms - info->not_before_ms, 30LL * 86'400'000);

  // Unpacked anywhere, the eucarc finds the files beside it and exports the endpoint.
  std::string unpacked = tmp_ + "/unpacked";
  for (const auto& [name, e] : entries) {
    ASSERT_TRUE(env_.CreateDirs(unpacked, 0700).ok());
    ASSERT_TRUE(env_.WriteFileAtomic(unpacked + "/" + name, e.data, 0600).ok());
  }
  std::string out = Shell("bash -c '. \"$0\" && echo \"$EC2_URL|$EC2_ACCESS_KEY|$EC2_ACCOUNT_NUMBER|$EUCA_HOME|$EC2_CERT\" && "
                        "ls \"$EC2_CERT\" \"$EC2_PRIVATE_KEY\" \"$EUCALYPTUS_CERT\" | wc -l' " + unpacked + "/eucarc");
  EXPECT_EQ(out, "http://clc.example:8773|" + alice->second.id + "|" + alice->first.account_id + "|" + home_ + "|" +
                     unpacked + "/" + cert_name + "\n3\n");

  // History: one commit by the caller, naming the user.
  auto log = store_->Log(std::nullopt, 1);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)[0].principal, "admin@eucalyptus");
  EXPECT_EQ((*log)[0].action, "GetCredentials alice@acme");

  // Each call issues a new pair.
  ASSERT_TRUE(admin_->GetCredentials(root_, "acme", "alice", tmp_ + "/alice2.zip").ok());
  EXPECT_EQ(CertCount(alice->first.id), 2u);
  EXPECT_NE(Read(tmp_ + "/alice2.zip"), Read(zip_path));
}

TEST_F(CredentialsZipTest, RefusedRequestsWriteNoFile) {
  Principal alice;
  ASSERT_TRUE(admin_->CreateAccount(root_, "acme").ok());
  auto created = admin_->CreateUser(root_, "acme", "alice");
  ASSERT_TRUE(created.ok());
  alice = admin_->AuthenticateKey(created->second.id).value().principal;
  std::string zip_path = tmp_ + "/x.zip";

  EXPECT_EQ(admin_->GetCredentials(alice, "acme", "alice", zip_path).code(), Code::kPermissionDenied);
  EXPECT_EQ(admin_->GetCredentials(root_, "acme", "bob", zip_path).code(), Code::kNotFound);
  EXPECT_EQ(admin_->GetCredentials(root_, "acme", "alice", tmp_ + "/nodir/x.zip").code(), Code::kNotFound);
  EXPECT_FALSE(env_.Exists(zip_path));
  EXPECT_EQ(CertCount(created->first.id), 0u);

  // A zip that cannot be written leaves no certificate on record either.
  FailingEnv failing(env_, ".zip");
  Admin admin(*store_, failing, clock_, home_);
  EXPECT_EQ(admin.GetCredentials(root_, "acme", "alice", zip_path).code(), Code::kResourceExhausted);
  EXPECT_FALSE(env_.Exists(zip_path));
  EXPECT_EQ(CertCount(created->first.id), 0u);
}

TEST_F(CredentialsZipTest, DisabledUserCannotAuthenticateAfterReopen) {
  ASSERT_TRUE(admin_->CreateAccount(root_, "acme").ok());
  auto bob = admin_->CreateUser(root_, "acme", "bob");
  ASSERT_TRUE(bob.ok());
  ASSERT_TRUE(admin_->SetUserEnabled(root_, "acme", "bob", false).ok());
  admin_.reset();
  store_ = Open();
  ASSERT_TRUE(store_);
  Admin reopened(*store_, env_, clock_, home_);
  auto r = reopened.AuthenticateKey(bob->second.id);
  EXPECT_EQ(r.status().code(), Code::kUnauthenticated);
  EXPECT_THAT(r.status().message(), HasSubstr("disabled user 'bob'"));
}

}  // namespace
}  // namespace euca::clc
