#include "core/sla/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

#include "core/clc/fake_cluster.h"
#include "core/walrus/object_store.h"
#include "core/walrus/walrus.h"
#include "drivers/objects/memory_backend.h"
#include "core/sla/store.h"
#include "core/sla/test_support.h"
#include "state/memory_store.h"

namespace euca::sla {
namespace {

using sla_test::kAdmin;
using sla_test::kAlice;
using sla_test::kBob;

using ::testing::HasSubstr;

const model::Principal kAlice2{"alice", "200000000002", "dev", "AIDAALICEDEV"};

Rule Parse(const std::string& text) {
  auto rules = ParseRules(text);
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  return rules.ok() ? (*rules)[0] : Rule{};
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : engine_(store_, clock_) {
    sla_test::SeedAccountsAndImage(store_, /*users=*/false);
    zone_a_ = std::make_shared<clc::FakeCluster>(1, clc::FakeCluster::NodeSize{8, 256 * 64, 5 * 64});
    zone_b_ = std::make_shared<clc::FakeCluster>(1, clc::FakeCluster::NodeSize{8, 256 * 64, 5 * 64});
    dir_.Add("zone-a", zone_a_);
    dir_.Add("zone-b", zone_b_);
    compute_ = std::make_unique<clc::Compute>(store_, clock_, dir_, &engine_);
  }

  void Put(const state::Object& o) {
    ASSERT_TRUE(store_.Transact({"test", "seed", ""}, [&](state::Txn& t) { return t.Put(o); }).ok());
  }
  void PutRule(const std::string& text) { ASSERT_TRUE(PutRules(store_, kAdmin, {Parse(text)}).ok()); }

  Result<clc::Reservation> Run(const model::Principal& who, int min, int max, const std::string& type = "",
                               const std::string& zone = "") {
    clc::RunInstancesRequest r;
    r.image_id = "emi-00000001";
    r.min_count = min;
    r.max_count = max;
    r.instance_type = type;
    r.zone = zone;
    return compute_->RunInstances(who, r);
  }

  state::MemoryStateStore store_;
  FakeClock clock_;
  clc::FixedDirectory dir_;
  Engine engine_;
  std::shared_ptr<clc::FakeCluster> zone_a_, zone_b_;
  std::unique_ptr<clc::Compute> compute_;
};

TEST_F(EngineTest, NoRulesAdmitsUnchanged) {
  auto r = Run(kAlice, 3, 3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->instances.size(), 3u);
  EXPECT_EQ(r->instances[0].lease_expires_ms, 0);
}

TEST_F(EngineTest, InstanceLimitPerUserAdmitsModifiesAndRejects) {
  PutRule("[rule four-per-user]\nkind = instance-limit\nscope = user\nlimit = 4\n");
  auto first = Run(kAlice, 3, 3);  // admitted as asked
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->instances.size(), 3u);
  auto second = Run(kAlice, 1, 5);  // modified: MaxCount lowered to what fits
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->instances.size(), 1u);
  auto third = Run(kAlice, 1, 1);  // rejected
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(third.status().wire_code(), "InstanceLimitExceeded");
  EXPECT_THAT(third.status().message(), HasSubstr("rule 'four-per-user'"));
  EXPECT_EQ(compute_->InFlightForTest(), 0);
  // Another user of the same account has a count of its own.
  EXPECT_TRUE(Run(kAlice2, 4, 4).ok());
  // Terminated instances do not count.
  ASSERT_TRUE(compute_->TerminateInstances(kAlice, {first->instances[0].id}).ok());
  ASSERT_TRUE(compute_->Reconcile().ok());
  auto fourth = Run(kAlice, 1, 1);
  EXPECT_TRUE(fourth.ok()) << fourth.status().ToString();
}

// The engine, with a launch of the same user slipped in between its Review and its Admit
// (what a concurrent request does when it commits first).
class InterleavingSla final : public clc::SlaHook {
 public:
  explicit InterleavingSla(Engine& engine) : engine_(engine) {}
  Status Review(clc::LaunchPlan& plan) override {
    Status s = engine_.Review(plan);
    if (auto between = std::move(between_); between) {
      between_ = nullptr;
      between();
    }
    return s;
  }
  Result<int> Admit(state::Txn& txn, const clc::LaunchPlan& plan, int count) override {
    return engine_.Admit(txn, plan, count);
  }
  std::function<void()> between_;

 private:
  Engine& engine_;
};

TEST_F(EngineTest, ALaunchCommittedAfterReviewCountsAgainstTheLimit) {
  PutRule("[rule four-per-user]\nkind = instance-limit\nscope = user\nlimit = 4\n");
  InterleavingSla sla(engine_);
  clc::Compute compute(store_, clock_, dir_, &sla);
  clc::RunInstancesRequest r;
  r.image_id = "emi-00000001";
  auto run = [&](int min, int max) {
    r.min_count = min;
    r.max_count = max;
    return compute.RunInstances(kAlice, r);
  };
  // Review admits 4; meanwhile 3 are launched; the transaction admits only 1.
  std::string earlier;
  sla.between_ = [&] {
    auto three = run(3, 3);
    ASSERT_TRUE(three.ok()) << three.status().ToString();
    earlier = three->instances[0].id;
  };
  auto modified = run(1, 4);
  ASSERT_TRUE(modified.ok()) << modified.status().ToString();
  EXPECT_EQ(modified->instances.size(), 1u);
  EXPECT_EQ(compute.InFlightForTest(), 0);
  // Two live: Review admits MinCount 2; meanwhile 1 is launched; the transaction rejects it.
  ASSERT_TRUE(compute.TerminateInstances(kAlice, {modified->instances[0].id, earlier}).ok());
  ASSERT_TRUE(compute.Reconcile().ok());
  sla.between_ = [&] { ASSERT_TRUE(run(1, 1).ok()); };
  auto rejected = run(2, 2);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().wire_code(), "InstanceLimitExceeded");
  EXPECT_THAT(rejected.status().message(), HasSubstr("3 in use"));
  EXPECT_EQ(compute.InFlightForTest(), 0);
}

TEST_F(EngineTest, ConcurrentLaunchesNeverPassTheLimitTogether) {
  PutRule("[rule five-per-user]\nkind = instance-limit\nscope = user\nlimit = 5\n");
  std::atomic<int> ok{0}, limited{0}, other{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 16; ++k)
    threads.emplace_back([&] {
      auto r = Run(kAlice, 1, 1);
      if (r.ok()) ++ok;
      else if (r.status().wire_code() == "InstanceLimitExceeded") ++limited;
      else ++other;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 5);
  EXPECT_EQ(limited.load(), 11);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(compute_->InFlightForTest(), 0);
}

TEST_F(EngineTest, InstanceLimitPerAccountCountsEveryUser) {
  PutRule("[rule acct]\nkind = instance-limit\nscope = account\nlimit = 2\nmatch.account = alice\n");
  ASSERT_TRUE(Run(kAlice, 1, 1).ok());
  ASSERT_TRUE(Run(kAlice2, 1, 1).ok());
  auto r = Run(kAlice, 1, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().wire_code(), "InstanceLimitExceeded");
  EXPECT_TRUE(Run(kBob, 3, 3).ok());  // the rule matches only alice
}

TEST_F(EngineTest, CoreLimitRejectsWithVcpuLimitExceeded) {
  PutRule("[rule cores]\nkind = core-limit\nscope = account\nlimit = 3\n");
  // c1.medium has 2 cores (the default VM types of docs/clc.md).
  ASSERT_TRUE(Run(kAlice, 1, 1, "c1.medium").ok());
  auto r = Run(kAlice, 1, 1, "c1.medium");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().wire_code(), "VcpuLimitExceeded");
  EXPECT_TRUE(Run(kAlice, 1, 1, "m1.small").ok());  // 1 core still fits
}

TEST_F(EngineTest, MemoryLimitCountsMebibytes) {
  PutRule("[rule mem]\nkind = memory-limit\nscope = user\nlimit = 1G\nmatch.type = m1.small\n");
  // m1.small: 256 MiB; 1 GiB holds four.
  auto r = Run(kAlice, 1, 10);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->instances.size(), 4u);
  auto again = Run(kAlice, 1, 1);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().wire_code(), "InstanceLimitExceeded");
  EXPECT_THAT(again.status().message(), HasSubstr("MiB"));
  EXPECT_TRUE(Run(kAlice, 1, 1, "c1.medium").ok());  // the rule matches only m1.small
}

TEST_F(EngineTest, ZonePolicySetsTheZoneOnlyWhenNoneIsNamed) {
  PutRule("[rule pin]\nkind = zone-policy\npolicy = single\nzone = zone-b\n");
  auto r = Run(kAlice, 2, 2);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const auto& i : r->instances) EXPECT_EQ(i.zone, "zone-b");
  auto named = Run(kAlice, 1, 1, "", "zone-a");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->instances[0].zone, "zone-a");
}

TEST_F(EngineTest, ZonePolicySpreadDealsAcrossZones) {
  PutRule("[rule spread]\nkind = zone-policy\npolicy = spread\n");
  auto r = Run(kAlice, 4, 4);
  ASSERT_TRUE(r.ok());
  int a = 0;
  for (const auto& i : r->instances) a += i.zone == "zone-a";
  EXPECT_EQ(a, 2);
}

TEST_F(EngineTest, ZonePolicyEmptiestPutsAllInOneZone) {
  ASSERT_TRUE(Run(kBob, 3, 3, "", "zone-a").ok());
  PutRule("[rule e]\nkind = zone-policy\npolicy = emptiest\nmatch.account = alice\n");
  auto r = Run(kAlice, 6, 6);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const auto& i : r->instances) EXPECT_EQ(i.zone, "zone-b");
  // With "any" (no rule) the same request overflows into the fuller zone.
  ASSERT_TRUE(DeleteRule(store_, kAdmin, "e").ok());
  auto any = Run(kAlice, 3, 3);
  ASSERT_TRUE(any.ok()) << any.status().ToString();
}

TEST_F(EngineTest, RuntimeLeaseFromTheAccountDefault) {
  ASSERT_TRUE(SetLeaseDefaults(store_, kAdmin, "alice", std::optional<int64_t>(6 * 3600), std::nullopt).ok());
  auto r = Run(kAlice, 1, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->instances[0].lease_expires_ms, clock_.NowMillis() + 6 * 3600 * 1000);
  auto b = Run(kBob, 1, 1);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->instances[0].lease_expires_ms, 0);
}

TEST_F(EngineTest, AddressQuota) {
  auto check = [&](int64_t held) {
    return store_.Read([&](state::Txn& t) { return CheckAddressQuota(t, kAlice.account_id, held); });
  };
  EXPECT_TRUE(check(5).ok());
  PutRule("[rule addr]\nkind = address-quota\nlimit = 2\n");
  EXPECT_TRUE(check(1).ok());
  Status s = check(2);
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_EQ(s.wire_code(), "AddressLimitExceeded");
}

TEST_F(EngineTest, StorageQuota) {
  PutRule("[rule bytes]\nkind = storage-quota\nlimit = 1M\nmatch.account = alice\n");
  EXPECT_TRUE(CheckStorageQuota(store_, kAlice.account_id, 1000, 1000).ok());
  Status s = CheckStorageQuota(store_, kAlice.account_id, 1 << 20, 1);
  EXPECT_EQ(s.wire_code(), "QuotaExceeded");
  EXPECT_TRUE(CheckStorageQuota(store_, kBob.account_id, 1 << 20, 1).ok());
}

TEST_F(EngineTest, RulesAreAdminOnly) {
  EXPECT_EQ(PutRules(store_, kAlice, {Parse("[rule x]\nkind = instance-limit\nlimit = 1\n")}).code(),
            Code::kPermissionDenied);
  EXPECT_EQ(DeleteRule(store_, kAdmin, "nope").code(), Code::kNotFound);
}

}  // namespace
}  // namespace euca::sla

namespace euca::sla {
namespace {

// The storage quota in the Walrus put path (walrus::WalrusOptions::admit_put).
TEST(StorageQuotaHookTest, RefusesThePutThatWouldPassTheQuota) {
  state::MemoryStateStore store;
  model::Account a{kAlice.account_id, "alice", 0};
  ASSERT_TRUE(store.Transact({"test", "seed", ""}, [&](state::Txn& t) {
                     return t.Put({"accounts", a.id, "", a.name, model::ToJson(a), std::nullopt});
                   }).ok());
  auto hook = StorageQuotaHook(store);
  int sums = 0;
  auto used = [&]() -> Result<uint64_t> {
    ++sums;
    return uint64_t{900};
  };
  EXPECT_TRUE(hook(kAlice.account_id, 1000, used).ok());
  EXPECT_EQ(sums, 0);  // no rule: the usage is not even summed
  auto rules = ParseRules("[rule q]\nkind = storage-quota\nlimit = 1K\nmatch.account = alice\n");
  ASSERT_TRUE(rules.ok());
  ASSERT_TRUE(PutRules(store, kAdmin, *rules).ok());
  EXPECT_TRUE(hook(kAlice.account_id, 124, used).ok());
  Status refused = hook(kAlice.account_id, 125, used);
  EXPECT_EQ(refused.code(), Code::kResourceExhausted);
  EXPECT_EQ(refused.wire_code(), "QuotaExceeded");
  EXPECT_EQ(sums, 2);
  EXPECT_TRUE(hook(kBob.account_id, 1 << 20, used).ok());  // the rule matches alice only
}

// A store that counts reads and, unless `tells_changes` is false, passes ChangeCounter on.
class CountingStore final : public state::StateStore {
 public:
  CountingStore(state::StateStore& inner, bool tells_changes) : inner_(inner), tells_changes_(tells_changes) {}
  Result<uint64_t> Transact(const state::TxnContext& ctx, const TxnFn& fn) override { return inner_.Transact(ctx, fn); }
  Status Read(const TxnFn& fn) override {
    ++reads;
    return inner_.Read(fn);
  }
  std::optional<uint64_t> ChangeCounter() override {
    return tells_changes_ ? inner_.ChangeCounter() : std::nullopt;
  }
  Result<std::vector<state::CommitInfo>> Log(const std::optional<std::string>& o, size_t n) override {
    return inner_.Log(o, n);
  }
  Result<std::pair<state::CommitInfo, std::string>> Show(const std::string& rev) override { return inner_.Show(rev); }
  Result<std::string> Diff(const std::string& from, const std::optional<std::string>& to) override {
    return inner_.Diff(from, to);
  }
  Result<state::RollbackResult> Rollback(const state::TxnContext& ctx, const std::string& rev,
                                         const std::vector<std::string>& objects, bool dry_run) override {
    return inner_.Rollback(ctx, rev, objects, dry_run);
  }
  int reads = 0;

 private:
  state::StateStore& inner_;
  bool tells_changes_;
};

void SeedAlice(state::StateStore& store) {
  model::Account a{kAlice.account_id, "alice", 0};
  ASSERT_TRUE(store.Transact({"test", "seed", ""}, [&](state::Txn& t) {
                     return t.Put({"accounts", a.id, "", a.name, model::ToJson(a), std::nullopt});
                   }).ok());
}

TEST(StorageQuotaHookTest, KeepsWhetherARuleAppliesUntilTheStoreChanges) {
  state::MemoryStateStore inner;
  SeedAlice(inner);
  CountingStore store(inner, /*tells_changes=*/true);
  auto hook = StorageQuotaHook(store);
  auto used = []() -> Result<uint64_t> { return uint64_t{900}; };
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(hook(kAlice.account_id, 1000, used).ok());
  EXPECT_EQ(store.reads, 1);  // no rule, and nothing changed: read once
  // A rule added (here through another handle on the store, as by another process) holds
  // from the next PUT on.
  auto rules = ParseRules("[rule q]\nkind = storage-quota\nlimit = 1K\nmatch.account = alice\n");
  ASSERT_TRUE(rules.ok());
  ASSERT_TRUE(PutRules(inner, kAdmin, *rules).ok());
  EXPECT_EQ(hook(kAlice.account_id, 1000, used).code(), Code::kResourceExhausted);
  EXPECT_TRUE(hook(kAlice.account_id, 100, used).ok());
  // ... and so does its removal.
  ASSERT_TRUE(DeleteRule(inner, kAdmin, "q").ok());
  EXPECT_TRUE(hook(kAlice.account_id, 1000, used).ok());
  int reads = store.reads;
  EXPECT_TRUE(hook(kAlice.account_id, 1000, used).ok());
  EXPECT_EQ(store.reads, reads);
}

TEST(StorageQuotaHookTest, ReadsEveryTimeFromAStoreThatCannotTellChanges) {
  state::MemoryStateStore inner;
  SeedAlice(inner);
  CountingStore store(inner, /*tells_changes=*/false);
  auto hook = StorageQuotaHook(store);
  auto used = []() -> Result<uint64_t> { return uint64_t{900}; };
  EXPECT_TRUE(hook(kAlice.account_id, 1000, used).ok());
  auto rules = ParseRules("[rule q]\nkind = storage-quota\nlimit = 1K\nmatch.account = alice\n");
  ASSERT_TRUE(rules.ok());
  ASSERT_TRUE(PutRules(inner, kAdmin, *rules).ok());
  EXPECT_EQ(hook(kAlice.account_id, 1000, used).code(), Code::kResourceExhausted);
  EXPECT_GE(store.reads, 2);
}

// Alice's account and a storage quota of 1 KiB for every account.
void SeedAliceWithQuota(state::StateStore& store) {
  model::Account a{kAlice.account_id, "alice", 0};
  ASSERT_TRUE(store.Transact({"test", "seed", ""}, [&](state::Txn& t) {
                     return t.Put({"accounts", a.id, "", a.name, model::ToJson(a), std::nullopt});
                   }).ok());
  auto rules = ParseRules("[rule q]\nkind = storage-quota\nlimit = 1K\n");
  ASSERT_TRUE(rules.ok());
  ASSERT_TRUE(PutRules(store, kAdmin, *rules).ok());
}

TEST(StorageQuotaHookTest, WalrusRefusesAPutBeyondTheQuotaAndWritesNothing) {
  state::MemoryStateStore store;
  SeedAliceWithQuota(store);
  objects::MemoryBackend backend;
  FakeClock clock;
  walrus::WalrusOptions options;
  options.admit_put = StorageQuotaHook(store);
  walrus::Walrus w(backend, clock, options);
  walrus::WalrusObjectStore alice(w, kAlice);
  ASSERT_TRUE(alice.CreateBucket("quota", "", "").ok());
  auto put = [&](const std::string& key, size_t n) {
    walrus::StringSource body(std::string(n, 'x'));
    walrus::PutObjectRequest req;
    req.bucket = "quota";
    req.key = key;
    req.content_length = n;
    return alice.PutObject(req, body).status();
  };
  EXPECT_TRUE(put("one", 600).ok());
  Status refused = put("two", 600);
  EXPECT_EQ(refused.code(), Code::kResourceExhausted);
  EXPECT_EQ(refused.wire_code(), "QuotaExceeded");
  auto listed = alice.ListObjects("quota", "");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
  EXPECT_TRUE(put("three", 424).ok());  // exactly up to the quota
}

}  // namespace
}  // namespace euca::sla

namespace euca::sla {
namespace {

class EngineEventTest : public EngineTest {
 protected:
  EngineEventTest() {
    Put({"properties", "network.public-ips", "", "",
         model::ToJson(model::Property{"network.public-ips", "203.0.113.1-203.0.113.4"}), std::nullopt});
    engine_.SetAddresses(&addresses_);
  }
  std::string RunOne(const model::Principal& who) {
    auto r = Run(who, 1, 1, "", "zone-a");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->instances[0].id : "";
  }
  std::string Allocate(const model::Principal& who, const std::string& instance = "") {
    auto a = addresses_.Allocate(who);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    if (!a.ok()) return "";
    if (!instance.empty()) {
      EXPECT_TRUE(addresses_.Associate(who, a->public_ip, instance).ok());
    }
    return a->public_ip;
  }
  std::vector<std::string> Held(const model::Principal& who) {
    std::vector<std::string> out;
    auto a = addresses_.Describe(who, {}, {});
    EXPECT_TRUE(a.ok());
    if (a.ok())
      for (const auto& x : *a) out.push_back(x.public_ip + (x.instance_id.empty() ? "" : "@" + x.instance_id));
    return out;
  }
  void End(const model::Principal& who, const std::string& id) {
    ASSERT_TRUE(compute_->TerminateInstances(who, {id}).ok());
    zone_a_->Teardown(id, "");
  }
  Status ChangeProperty(const std::string& name, const std::string& value) {
    return store_
        .Transact({"test", "modify", ""},
                  [&](state::Txn& t) -> Status {
                    EUCA_RETURN_IF_ERROR(t.Put(
                        {"properties", name, "", "", model::ToJson(model::Property{name, value}), std::nullopt}));
                    return CheckNetworkPropertyChange(t, {name});
                  })
        .status();
  }

  int applied_ = 0;
  clc::Addresses addresses_{store_, clock_, [this] { ++applied_; }};
};

TEST_F(EngineEventTest, ReleaseOnTerminateReleasesTheAddressesOfATerminatedInstance) {
  PutRule("[rule give-back]\nkind = release-on-terminate\nmatch.account = alice\n");
  std::string alice = RunOne(kAlice), bob = RunOne(kBob);
  std::string alice_ip = Allocate(kAlice, alice), bob_ip = Allocate(kBob, bob), spare = Allocate(kAlice);
  // Terminating (shutting-down) is not the event; reaching terminated is.
  End(kAlice, alice);
  End(kBob, bob);
  EXPECT_EQ(Held(kAlice), (std::vector<std::string>{alice_ip, spare}));  // counts as unassociated
  size_t commits = store_.CommittedForTest().size();
  int applied = applied_;
  ASSERT_TRUE(compute_->Reconcile().ok());
  EXPECT_EQ(Held(kAlice), (std::vector<std::string>{spare}));
  EXPECT_EQ(Held(kBob), (std::vector<std::string>{bob_ip}));  // no rule matches bob: kept, unassociated
  std::vector<std::string> by_sla;
  const auto& committed = store_.CommittedForTest();
  for (size_t k = commits; k < committed.size(); ++k)
    if (committed[k].principal == "sla") by_sla.push_back(committed[k].action);
  EXPECT_EQ(by_sla, (std::vector<std::string>{"DisassociateAddress " + alice_ip, "ReleaseAddress " + alice_ip}));
  EXPECT_EQ(applied_, applied + 2);
  // Idempotent: a second reconcile changes nothing.
  commits = store_.CommittedForTest().size();
  ASSERT_TRUE(compute_->Reconcile().ok());
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
}

TEST_F(EngineEventTest, ConcurrentAllocationsNeverPassTheAddressQuotaTogether) {
  PutRule("[rule addr]\nkind = address-quota\nlimit = 2\n");
  addresses_.SetAllocationCheck([](state::Txn& t, const std::string& account_id, int64_t held) {
    return CheckAddressQuota(t, account_id, held);
  });
  std::atomic<int> ok{0}, limited{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      auto a = addresses_.Allocate(kAlice);
      if (a.ok()) ++ok;
      else if (a.status().wire_code() == "AddressLimitExceeded") ++limited;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(limited.load(), 2);
  EXPECT_EQ(Held(kAlice).size(), 2u);
}

TEST_F(EngineEventTest, WithoutARuleTerminationKeepsTheAddress) {
  std::string alice = RunOne(kAlice);
  std::string ip = Allocate(kAlice, alice);
  End(kAlice, alice);
  ASSERT_TRUE(compute_->Reconcile().ok());
  EXPECT_EQ(Held(kAlice), (std::vector<std::string>{ip}));
}

TEST_F(EngineEventTest, NetworkGuardRefusesNetworkChangesWhileMatchingInstancesRun) {
  PutRule("[rule hands-off]\nkind = network-guard\nmatch.account = bob\n");
  RunOne(kAlice);
  EXPECT_TRUE(ChangeProperty("network.dns", "10.0.0.53").ok());  // alice's do not match
  std::string bob = RunOne(kBob);
  size_t commits = store_.CommittedForTest().size();
  Status refused = ChangeProperty("network.dns", "10.0.0.54");
  EXPECT_EQ(refused.code(), Code::kConflict);
  EXPECT_EQ(refused.wire_code(), "OperationNotPermitted");
  EXPECT_THAT(refused.message(), HasSubstr("rule 'hands-off'"));
  EXPECT_THAT(refused.message(), HasSubstr("'network.dns'"));
  EXPECT_THAT(refused.message(), HasSubstr(bob));
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
  EXPECT_TRUE(ChangeProperty("cloud.region", "elsewhere").ok());  // not a network property
  End(kBob, bob);
  ASSERT_TRUE(compute_->Reconcile().ok());
  EXPECT_TRUE(ChangeProperty("network.dns", "10.0.0.54").ok());
}

TEST(EngineEventRulesTest, EventKindsTakeOnlyMatchKeys) {
  auto ok = ParseRules("[rule a]\nkind = release-on-terminate\nmatch.zone = zone-a\n[rule b]\nkind = network-guard\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].action, "release");
  EXPECT_EQ((*ok)[1].action, "reject");
  EXPECT_EQ(ParseRules(FormatRule((*ok)[0])).value()[0].kind, "release-on-terminate");
  EXPECT_THAT(ParseRules("[rule a]\nkind = network-guard\nlimit = 2\n").status().message(),
              HasSubstr("line 3: key 'limit' does not apply to rule 'a' of kind network-guard"));
  EXPECT_THAT(ParseRules("[rule a]\nkind = release-on-terminate\naction = terminate\n").status().message(),
              HasSubstr("is 'release', not 'terminate'"));
}

}  // namespace
}  // namespace euca::sla

namespace euca::sla {
namespace {

// The storage quota also counts copies and completed multipart uploads.
class StorageQuotaWalrusTest : public ::testing::Test {
 protected:
  StorageQuotaWalrusTest() {
    SeedAliceWithQuota(store_);
    options_.admit_put = StorageQuotaHook(store_);
    options_.min_part_size = 1;
    walrus_ = std::make_unique<walrus::Walrus>(backend_, clock_, options_);
    EXPECT_TRUE(walrus_->CreateBucket(kAlice, {"quota", "", ""}).ok());
  }
  Status Put(const std::string& key, size_t n) {
    walrus::StringSource body(std::string(n, 'x'));
    walrus::PutObjectRequest req;
    req.bucket = "quota";
    req.key = key;
    req.content_length = n;
    return walrus_->PutObject(kAlice, req, body).status();
  }
  Result<std::string> Multipart(const std::string& key, std::vector<size_t> sizes) {
    EUCA_ASSIGN_OR_RETURN(std::string id, walrus_->CreateMultipartUpload(kAlice, {"quota", key, {}, {}, ""}));
    walrus::CompleteMultipartUploadRequest done{"quota", key, id, {}};
    for (size_t i = 0; i < sizes.size(); ++i) {
      walrus::StringSource body(std::string(sizes[i], 'y'));
      walrus::UploadPartRequest part{"quota", key, id, static_cast<int>(i + 1), std::nullopt, sizes[i]};
      EUCA_ASSIGN_OR_RETURN(std::string etag, walrus_->UploadPart(kAlice, part, body));
      done.parts.push_back({static_cast<int>(i + 1), etag});
    }
    EUCA_RETURN_IF_ERROR(walrus_->CompleteMultipartUpload(kAlice, done).status());
    return id;
  }
  size_t Objects() {
    walrus::WalrusObjectStore alice(*walrus_, kAlice);
    auto listed = alice.ListObjects("quota", "");
    EXPECT_TRUE(listed.ok());
    return listed.ok() ? listed->size() : 0;
  }

  state::MemoryStateStore store_;
  objects::MemoryBackend backend_;
  FakeClock clock_;
  walrus::WalrusOptions options_;
  std::unique_ptr<walrus::Walrus> walrus_;
};

TEST_F(StorageQuotaWalrusTest, CopyBeyondTheQuotaIsRefused) {
  ASSERT_TRUE(Put("one", 600).ok());
  walrus::CopyObjectRequest copy;
  copy.source_bucket = "quota";
  copy.source_key = "one";
  copy.bucket = "quota";
  copy.key = "two";
  auto refused = walrus_->CopyObject(kAlice, copy);
  EXPECT_EQ(refused.status().wire_code(), "QuotaExceeded");
  EXPECT_EQ(Objects(), 1u);
  ASSERT_TRUE(Put("small", 100).ok());
  copy.source_key = "small";
  EXPECT_TRUE(walrus_->CopyObject(kAlice, copy).ok());  // 600 + 100 + 100 fit
  EXPECT_EQ(Objects(), 3u);
}

TEST_F(StorageQuotaWalrusTest, PartsCountAsTheyAreUploaded) {
  ASSERT_TRUE(Put("one", 600).ok());
  // The second part would pass the quota: refused as it is uploaded; nothing is completed.
  auto refused = Multipart("big", {300, 200});
  EXPECT_EQ(refused.status().wire_code(), "QuotaExceeded");
  EXPECT_EQ(Objects(), 1u);
  // The unfinished upload's first part still takes room: a PUT that fits beside the objects
  // alone is refused until the upload is aborted.
  EXPECT_EQ(Put("small", 200).wire_code(), "QuotaExceeded");
  auto uploads = walrus_->ListMultipartUploads(kAlice, {.bucket = "quota"});
  ASSERT_TRUE(uploads.ok());
  ASSERT_EQ(uploads->uploads.size(), 1u);
  ASSERT_TRUE(walrus_->AbortMultipartUpload(kAlice, "quota", "big", uploads->uploads[0].upload_id).ok());
  // Completing adds nothing: parts that fit complete.
  auto fits = Multipart("fits", {300, 124});
  EXPECT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(Objects(), 2u);
}

}  // namespace
}  // namespace euca::sla
