#pragma once
// A cloud controller for unit tests: clc::Cloud on a MemoryStateStore seeded as InitCloud
// leaves it (account eucalyptus, user admin), with Walrus on a MemoryBackend as its object
// store, and helpers to make accounts and users and to upload bundle manifests.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "bundles/manifest.h"
#include "core/base/clock.h"
#include "core/base/env.h"
#include "core/clc/admin.h"
#include "core/clc/cloud.h"
#include "core/walrus/object_store.h"
#include "core/walrus/walrus.h"
#include "drivers/objects/memory_backend.h"
#include "state/memory_store.h"

namespace euca::clc {

inline constexpr char kTestSysId[] = "100000000001";
inline constexpr char kTestAdminId[] = "AIDAADMIN000000000001";

class CloudFixture {
 public:
  CloudFixture() : admin_(store_, PosixEnv(), clock_, "/nonexistent/home"), walrus_(backend_, clock_) {
    model::Account sys{kTestSysId, "eucalyptus", clock_.NowMillis()};
    model::User adm{kTestAdminId, kTestSysId, "admin", true, clock_.NowMillis()};
    auto seq = store_.Transact({"system", "InitCloud", ""}, [&](state::Txn& t) {
      EUCA_RETURN_IF_ERROR(t.Put({"accounts", sys.id, "", sys.name, model::ToJson(sys), std::nullopt}));
      return t.Put({"users", adm.id, sys.id, adm.name, model::ToJson(adm), std::nullopt});
    });
    EXPECT_TRUE(seq.ok());
    root_ = {"eucalyptus", kTestSysId, "admin", kTestAdminId};
    CloudOptions options;
    walrus::Walrus* w = &walrus_;
    options.object_store = [w](const Principal& caller) -> Result<std::unique_ptr<walrus::ObjectStore>> {
      return std::unique_ptr<walrus::ObjectStore>(std::make_unique<walrus::WalrusObjectStore>(*w, caller));
    };
    cloud_ = std::make_unique<Cloud>(store_, PosixEnv(), clock_, "/nonexistent/home", std::move(options));
  }

  /// A user of `account` (created with the account if needed), and its access key.
  std::pair<Principal, model::AccessKey> MakeUserWithKey(const std::string& account, const std::string& user) {
    if (!admin_.DescribeUsers(root_, account).ok()) {
      EXPECT_TRUE(admin_.CreateAccount(root_, account).ok());
    }
    auto created = admin_.CreateUser(root_, account, user);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    auto id = admin_.AuthenticateKey(created->second.id);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return {id->principal, created->second};
  }
  Principal MakeUser(const std::string& account, const std::string& user) {
    return MakeUserWithKey(account, user).first;
  }

  /// Uploads a manifest of `type` (machine, kernel, ramdisk) as `owner` to BUCKET/KEY.
  void PutManifest(const Principal& owner, const std::string& bucket, const std::string& key,
                   const std::string& type = "machine", const std::string& arch = "x86_64",
                   const std::string& canned_acl = "") {
    walrus::WalrusObjectStore store(walrus_, owner);
    Status created = store.CreateBucket(bucket, "", canned_acl);
    EXPECT_TRUE(created.ok() || created.code() == Code::kAlreadyExists) << created.ToString();
    bundles::Manifest m;
    m.name = "image";
    m.user = owner.account_id;
    m.type = type;
    m.architecture = arch;
    m.digest = std::string(40, '0');
    m.size = 1;
    m.bundled_size = 16;
    m.ec2_encrypted_key = "00";
    m.ec2_encrypted_iv = "00";
    m.parts = {{"image.part.00", std::string(40, '0')}};
    walrus::StringSource body(bundles::ManifestToXml(m));
    walrus::PutObjectRequest put;
    put.bucket = bucket;
    put.key = key;
    put.canned_acl = canned_acl;
    auto r = store.PutObject(put, body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }

  /// Runs one action through the cloud and returns the reply text, or the error.
  Result<std::string> Call(const Principal& caller, const std::string& action,
                           std::vector<std::pair<std::string, std::string>> params = {}) {
    api::Ec2Request request(action, api::kEc2Version, "req-1", std::move(params));
    api::Ec2Response response(action, api::kEc2Version, "req-1");
    EUCA_RETURN_IF_ERROR(cloud_->Dispatch(caller, request, response));
    return response.ToString();
  }

  state::MemoryStateStore store_;
  FakeClock clock_;
  Admin admin_;
  objects::MemoryBackend backend_;
  walrus::Walrus walrus_;
  std::unique_ptr<Cloud> cloud_;
  Principal root_;
};

}  // namespace euca::clc
