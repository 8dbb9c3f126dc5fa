#include "core/sla/cleanup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/clc/cloud_test_support.h"
#include "core/clc/fake_cluster.h"
#include "core/sla/actions.h"
#include "core/sla/engine.h"
#include "core/sla/store.h"
#include "core/sla/test_support.h"
#include "core/clc/addresses.h"
#include "state/forwarding_store.h"
#include "state/memory_store.h"

namespace euca::sla {
namespace {

using sla_test::kAdmin;
using sla_test::kAlice;
using sla_test::kBob;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kDay = 24 * kHour;


// The resources of the report's actions of one kind.
std::vector<std::string> Ids(const CleanupReport& r, const std::string& action) {
  std::vector<std::string> out;
  for (const auto& a : r.actions)
    if (a.action == action) out.push_back(a.resource_id);
  return out;
}

// A store that runs `after_first_read` once, right after the first Read returns: what a
// renew-lease committed between the cleanup's snapshot and its actions looks like.
class InterleavingStore final : public state::ForwardingStateStore {
 public:
  using ForwardingStateStore::ForwardingStateStore;
  Status Read(const TxnFn& fn) override {
    Status s = inner_.Read(fn);
    if (auto hook = std::move(after_first_read); hook) {
      after_first_read = nullptr;
      hook();
    }
    return s;
  }
  std::function<void()> after_first_read;
};

class InstanceCleanupTest : public ::testing::Test {
 protected:
  InstanceCleanupTest() : engine_(store_, clock_) {
    sla_test::SeedAccountsAndImage(store_, /*users=*/true);
    zone_ = std::make_shared<clc::FakeCluster>(1, clc::FakeCluster::NodeSize{16, 256 * 64, 5 * 64});
    dir_.Add("zone-a", zone_);
    compute_ = std::make_unique<clc::Compute>(store_, clock_, dir_, &engine_);
  }

  void Put(const state::Object& o) {
    ASSERT_TRUE(store_.Transact({"test", "seed", ""}, [&](state::Txn& t) { return t.Put(o); }).ok());
  }

  std::vector<std::string> Run(const model::Principal& who, int n) {
    clc::RunInstancesRequest r;
    r.image_id = "emi-00000001";
    r.min_count = r.max_count = n;
    auto res = compute_->RunInstances(who, r);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    std::vector<std::string> ids;
    if (res.ok())
      for (const auto& i : res->instances) ids.push_back(i.id);
    return ids;
  }

  std::string StateOf(const std::string& id) {
    std::string state;
    EXPECT_TRUE(store_
                    .Read([&](state::Txn& t) -> Status {
                      EUCA_ASSIGN_OR_RETURN(auto o, t.Get("instances", id));
                      if (o) state = o->body.value("state", "");
                      return Status::Ok();
                    })
                    .ok());
    return state;
  }

  CleanupReport Cleanup(int64_t now_ms = 0, bool dry_run = false) {
    auto r = RunCleanup(store_, clock_, compute_.get(), {}, {dry_run, now_ms});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CleanupReport{};
  }


  state::MemoryStateStore store_;
  FakeClock clock_;
  clc::FixedDirectory dir_;
  Engine engine_;
  std::shared_ptr<clc::FakeCluster> zone_;
  std::unique_ptr<clc::Compute> compute_;
};

TEST_F(InstanceCleanupTest, RuntimeLeaseExpiryTerminatesExactlyTheExpired) {
  ASSERT_TRUE(SetLeaseDefaults(store_, kAdmin, "alice", std::optional<int64_t>(1 * 3600), std::nullopt).ok());
  auto early = Run(kAlice, 2);
  auto bob = Run(kBob, 1);  // no lease
  clock_.Advance(kHour / 2);
  auto late = Run(kAlice, 1);  // ends half an hour after the first two
  zone_->BootAll();
  clock_.Advance(kHour / 2 - 1000);
  EXPECT_EQ(Cleanup().actions.size(), 0u);  // one second early: nothing
  clock_.Advance(1000);

  size_t commits = store_.CommittedForTest().size();
  CleanupReport report = Cleanup();
  EXPECT_THAT(Ids(report, "terminate"), UnorderedElementsAre(early[0], early[1]));
  EXPECT_EQ(report.Failed(), 0);
  EXPECT_EQ(report.Summary(), "cleanup: terminated 2 instances, expired 0 images, deleted 0 images, 0 failed");
  for (const auto& id : early) EXPECT_EQ(StateOf(id), model::kShuttingDown);
  EXPECT_EQ(StateOf(late[0]), model::kPending);
  EXPECT_EQ(StateOf(bob[0]), model::kPending);
  // One history commit per action, by "cleanup" (the others: the states the cluster reported).
  auto by_cleanup = [&] {
    int n = 0;
    const auto& committed = store_.CommittedForTest();
    for (size_t k = commits; k < committed.size(); ++k)
      if (committed[k].principal == "cleanup") {
        ++n;
        EXPECT_EQ(committed[k].action, "TerminateInstances");
      }
    return n;
  };
  EXPECT_EQ(by_cleanup(), 2);

  // Idempotent: what was done is not due again.
  size_t after = store_.CommittedForTest().size();
  EXPECT_EQ(Cleanup().Summary(), "cleanup: nothing to do");
  EXPECT_EQ(store_.CommittedForTest().size(), after);
  // The later one, in its turn.
  EXPECT_THAT(Ids(Cleanup(clock_.NowMillis() + kHour / 2), "terminate"), UnorderedElementsAre(late[0]));
}

TEST_F(InstanceCleanupTest, DryRunChangesNothing) {
  ASSERT_TRUE(SetLeaseDefaults(store_, kAdmin, "alice", std::optional<int64_t>(60), std::nullopt).ok());
  auto ids = Run(kAlice, 2);
  size_t commits = store_.CommittedForTest().size();
  CleanupReport report = Cleanup(clock_.NowMillis() + kHour, /*dry_run=*/true);
  EXPECT_EQ(report.actions.size(), 2u);
  EXPECT_EQ(report.Summary(), "cleanup (dry run): would terminate 2 instances, expire 0 images, delete 0 images");
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
  for (const auto& id : ids) EXPECT_EQ(StateOf(id), model::kPending);
  EXPECT_EQ(zone_->terminated, 0);
}

TEST_F(InstanceCleanupTest, MaxRuntimeRuleTerminatesWhatRanTooLong) {
  auto rules = ParseRules("[rule six-hours]\nkind = max-runtime\nduration = 6h\nmatch.account = alice\n");
  ASSERT_TRUE(rules.ok());
  ASSERT_TRUE(PutRules(store_, kAdmin, *rules).ok());
  auto alice = Run(kAlice, 1);
  auto bob = Run(kBob, 1);
  EXPECT_TRUE(Cleanup(clock_.NowMillis() + 6 * kHour - 1).actions.empty());
  CleanupReport report = Cleanup(clock_.NowMillis() + 6 * kHour);
  EXPECT_THAT(Ids(report, "terminate"), UnorderedElementsAre(alice[0]));
  EXPECT_THAT(report.actions[0].reason, HasSubstr("six-hours"));
  EXPECT_EQ(StateOf(bob[0]), model::kPending);
}

TEST_F(InstanceCleanupTest, AFailingZoneIsReportedAndRetried) {
  ASSERT_TRUE(SetLeaseDefaults(store_, kAdmin, "alice", std::optional<int64_t>(60), std::nullopt).ok());
  auto ids = Run(kAlice, 1);
  // Without a compute part to terminate with, the action fails and is reported.
  auto r = RunCleanup(store_, clock_, nullptr, {}, {false, clock_.NowMillis() + kHour});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Failed(), 1);
  EXPECT_THAT(r->Summary(), HasSubstr("1 failed"));
  EXPECT_THAT(Ids(Cleanup(clock_.NowMillis() + kHour), "terminate"), UnorderedElementsAre(ids[0]));
}

TEST_F(InstanceCleanupTest, ARenewBetweenSnapshotAndActionWins) {
  ASSERT_TRUE(SetLeaseDefaults(store_, kAdmin, "alice", std::optional<int64_t>(60), std::nullopt).ok());
  auto renewed = Run(kAlice, 1);
  auto expired = Run(kAlice, 1);
  zone_->BootAll();
  ASSERT_TRUE(compute_->Reconcile().ok());
  const int64_t later = clock_.NowMillis() + kHour;
  InterleavingStore store(store_);
  store.after_first_read = [&] {  // the owner renews one of the two, as renew-lease does
    ASSERT_TRUE(store_
                    .Transact({"alice", "EucaRenewLease", ""},
                              [&](state::Txn& t) -> Status {
                                EUCA_ASSIGN_OR_RETURN(auto o, t.Get("instances", renewed[0]));
                                o->body["lease_expires"] = later + kHour;
                                return t.Put(*o);
                              })
                    .ok());
  };
  auto r = RunCleanup(store, clock_, compute_.get(), {}, {false, later});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(Ids(*r, "terminate"), UnorderedElementsAre(expired[0]));
  EXPECT_EQ(r->Failed(), 0);
  EXPECT_EQ(StateOf(renewed[0]), model::kRunning);
  EXPECT_EQ(StateOf(expired[0]), model::kShuttingDown);
  EXPECT_EQ(zone_->terminated, 1);
}

TEST_F(InstanceCleanupTest, AClusterThatFailsToTerminateLeavesTheInstanceAsItWas) {
  ASSERT_TRUE(SetLeaseDefaults(store_, kAdmin, "alice", std::optional<int64_t>(60), std::nullopt).ok());
  auto ids = Run(kAlice, 1);
  zone_->BootAll();
  ASSERT_TRUE(compute_->Reconcile().ok());
  ASSERT_EQ(StateOf(ids[0]), model::kRunning);
  zone_->FailTerminate(Unavailable("cluster unreachable"));
  auto r = Cleanup(clock_.NowMillis() + kHour);
  EXPECT_EQ(r.Failed(), 1);
  EXPECT_THAT(r.actions[0].result.message(), HasSubstr("cluster unreachable"));
  EXPECT_EQ(StateOf(ids[0]), model::kRunning);  // the decision was undone: renewable again
  // The next run, with the cluster back, terminates it.
  zone_->FailTerminate(Status::Ok());
  EXPECT_THAT(Ids(Cleanup(clock_.NowMillis() + kHour), "terminate"), UnorderedElementsAre(ids[0]));
  EXPECT_EQ(StateOf(ids[0]), model::kShuttingDown);
}

// Public addresses with a lease: the cleanup disassociates, then releases, exactly the
// expired ones, through clc::Addresses (the network is applied after each step).
class AddressCleanupTest : public InstanceCleanupTest {
 protected:
  AddressCleanupTest() {
    Put({"properties", "network.public-ips", "", "",
         model::ToJson(model::Property{"network.public-ips", "203.0.113.1-203.0.113.4"}), std::nullopt});
    addresses_.SetDefaultLease([](state::Txn& t, const std::string& account) { return AddressLeaseDefault(t, account); });
  }
  std::string Allocate(const model::Principal& who, std::optional<std::optional<int64_t>> lease = std::nullopt) {
    auto a = addresses_.Allocate(who, "", lease);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? a->public_ip : "";
  }
  std::vector<model::Address> Held(const model::Principal& who) {
    auto a = addresses_.Describe(who, {}, {});
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? *a : std::vector<model::Address>{};
  }
  CleanupReport CleanupAddresses(int64_t now_ms, bool dry_run = false) {
    auto r = RunCleanup(store_, clock_, compute_.get(), {}, {dry_run, now_ms}, &addresses_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CleanupReport{};
  }

  int applied_ = 0;
  clc::Addresses addresses_{store_, clock_, [this] { ++applied_; }};
};

TEST_F(AddressCleanupTest, LeaseExpiryReleasesExactlyTheExpiredAddresses) {
  const int64_t t0 = clock_.NowMillis();
  ASSERT_TRUE(SetLeaseDefaults(store_, kAdmin, "alice", std::nullopt, std::nullopt, std::optional<int64_t>(3600)).ok());
  std::string leased = Allocate(kAlice);                                      // the default: 1 hour
  std::string longer = Allocate(kAlice, std::optional<int64_t>(2 * 3600));   // asked: 2 hours
  std::string kept = Allocate(kAlice, std::optional<int64_t>());             // asked: none
  std::string bobs = Allocate(kBob);                                          // bob has no default
  auto held = Held(kAlice);
  ASSERT_EQ(held.size(), 3u);
  EXPECT_EQ(held[0].lease_expires_ms, t0 + kHour);
  EXPECT_EQ(held[1].lease_expires_ms, t0 + 2 * kHour);
  EXPECT_EQ(held[2].lease_expires_ms, 0);
  auto instance = Run(kAlice, 1);
  ASSERT_TRUE(addresses_.Associate(kAlice, leased, instance[0]).ok());

  EXPECT_TRUE(CleanupAddresses(t0 + kHour - 1).actions.empty());
  // A dry run reports and changes nothing.
  size_t commits = store_.CommittedForTest().size();
  CleanupReport dry = CleanupAddresses(t0 + kHour, /*dry_run=*/true);
  EXPECT_THAT(Ids(dry, "release-address"), UnorderedElementsAre(leased));
  EXPECT_EQ(dry.Summary(),
            "cleanup (dry run): would terminate 0 instances, expire 0 images, delete 0 images, release 1 address");
  EXPECT_EQ(store_.CommittedForTest().size(), commits);

  int applied = applied_;
  CleanupReport report = CleanupAddresses(t0 + kHour);
  EXPECT_THAT(Ids(report, "release-address"), UnorderedElementsAre(leased));
  EXPECT_EQ(report.Summary(),
            "cleanup: terminated 0 instances, expired 0 images, deleted 0 images, released 1 address, 0 failed");
  // Two commits by "cleanup": disassociate, then release; the network applied after each.
  const auto& committed = store_.CommittedForTest();
  ASSERT_EQ(committed.size(), commits + 2);
  EXPECT_EQ(committed[commits].principal, "cleanup");
  EXPECT_EQ(committed[commits].action, "DisassociateAddress " + leased);
  EXPECT_EQ(committed[commits + 1].principal, "cleanup");
  EXPECT_EQ(committed[commits + 1].action, "ReleaseAddress " + leased);
  EXPECT_EQ(applied_, applied + 2);
  held = Held(kAlice);
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].public_ip, longer);
  EXPECT_EQ(held[1].public_ip, kept);
  EXPECT_EQ(Held(kBob).size(), 1u);
  std::string instance_ip = "x";
  ASSERT_TRUE(store_
                  .Read([&](state::Txn& t) -> Status {
                    EUCA_ASSIGN_OR_RETURN(auto o, t.Get("instances", instance[0]));
                    instance_ip = o->body.value("public_ip", "");
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(instance_ip, "");
  // Idempotent; the next one in its turn (not associated: only the release commit).
  EXPECT_EQ(CleanupAddresses(t0 + kHour).Summary(), "cleanup: nothing to do");
  commits = store_.CommittedForTest().size();
  EXPECT_THAT(Ids(CleanupAddresses(t0 + 3 * kHour), "release-address"), UnorderedElementsAre(longer));
  EXPECT_EQ(store_.CommittedForTest().size(), commits + 1);
  EXPECT_EQ(Held(kAlice).size(), 1u);
  (void)bobs;
}

TEST_F(AddressCleanupTest, WithoutAddressesTheActionFailsAndIsRetried) {
  std::string ip = Allocate(kAlice, std::optional<int64_t>(60));
  auto r = RunCleanup(store_, clock_, compute_.get(), {}, {false, clock_.NowMillis() + kHour});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Failed(), 1);
  EXPECT_THAT(Ids(CleanupAddresses(clock_.NowMillis() + kHour), "release-address"), UnorderedElementsAre(ip));
  EXPECT_TRUE(Held(kAlice).empty());
}

TEST_F(AddressCleanupTest, ReleaseExpiredLeavesARenewedAddress) {
  std::string ip = Allocate(kAlice, std::optional<int64_t>(60));
  EXPECT_EQ(addresses_.ReleaseExpired("cleanup", ip, clock_.NowMillis()).code(), Code::kConflict);
  EXPECT_EQ(addresses_.ReleaseExpired("cleanup", "203.0.113.4", clock_.NowMillis() + kHour).code(), Code::kNotFound);
  ASSERT_TRUE(addresses_.ReleaseExpired("cleanup", ip, clock_.NowMillis() + kHour).ok());
  EXPECT_TRUE(Held(kAlice).empty());
}

TEST_F(InstanceCleanupTest, ExpiresExactlyTheCapacityReservationsPastTheirEnd) {
  clc::CapacityReservationRequest limited{"m1.small", "zone-a", 2, "limited", clock_.NowMillis() + kHour, ""};
  auto ending = compute_->CreateCapacityReservation(kAlice, limited);
  ASSERT_TRUE(ending.ok()) << ending.status().ToString();
  clc::CapacityReservationRequest unlimited{"m1.small", "zone-a", 2, "", 0, ""};
  ASSERT_TRUE(compute_->CreateCapacityReservation(kAlice, unlimited).ok());
  EXPECT_TRUE(Cleanup(clock_.NowMillis() + kHour - 1).actions.empty());
  size_t commits = store_.CommittedForTest().size();
  CleanupReport dry = Cleanup(clock_.NowMillis() + kHour, /*dry_run=*/true);
  EXPECT_EQ(dry.Summary(),
            "cleanup (dry run): would terminate 0 instances, expire 0 images, delete 0 images, expire 1 reservation");
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
  CleanupReport report = Cleanup(clock_.NowMillis() + kHour);
  EXPECT_THAT(Ids(report, "expire-reservation"), UnorderedElementsAre(ending->id));
  EXPECT_EQ(report.Summary(),
            "cleanup: terminated 0 instances, expired 0 images, deleted 0 images, expired 1 reservation, 0 failed");
  ASSERT_EQ(store_.CommittedForTest().size(), commits + 1);
  EXPECT_EQ(store_.CommittedForTest().back().principal, "cleanup");
  EXPECT_EQ(store_.CommittedForTest().back().action, "ExpireCapacityReservation " + ending->id);
  EXPECT_EQ(Cleanup(clock_.NowMillis() + kHour).Summary(), "cleanup: nothing to do");
}

TEST(CleanupLockTest, SecondHolderIsRefused) {
  std::string dir = ::testing::TempDir() + "/cleanup-lock-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/cleanup.lock";
  {
    CleanupLock first, second;
    ASSERT_EQ(first.TryLock(path).value(), true);
    EXPECT_EQ(second.TryLock(path).value(), false);
  }
  CleanupLock again;
  EXPECT_EQ(again.TryLock(path).value(), true);
  std::filesystem::remove_all(dir);
}

TEST(CleanupActionTest, TwoAtOnceActOnce) {
  state::MemoryStateStore store;
  FakeClock clock;
  std::string dir = ::testing::TempDir() + "/cleanup-action-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  clc::Ec2Actions actions;
  AddSlaActions(actions, {&store, &clock, nullptr, {}, dir + "/cleanup.lock"});
  auto call = [&](const model::Principal& who) -> Result<std::string> {
    api::Ec2Request request("EucaCleanup", api::kEc2Version, "req-1", {});
    api::Ec2Response response("EucaCleanup", api::kEc2Version, "req-1");
    EUCA_RETURN_IF_ERROR(clc::DispatchEc2(actions, who, request, response));
    return response.ToString();
  };
  auto free = call(kAdmin);
  ASSERT_TRUE(free.ok()) << free.status().ToString();
  EXPECT_THAT(*free, HasSubstr("<busy>false</busy>"));
  EXPECT_THAT(*free, HasSubstr("nothing to do"));
  {
    CleanupLock held;  // as a cron run in another process would
    ASSERT_TRUE(held.TryLock(dir + "/cleanup.lock").value());
    auto busy = call(kAdmin);
    ASSERT_TRUE(busy.ok());
    EXPECT_THAT(*busy, HasSubstr("<busy>true</busy>"));
  }
  auto denied = call(kAlice);
  EXPECT_EQ(denied.status().code(), Code::kPermissionDenied);
  std::filesystem::remove_all(dir);
}

// Storage leases, on a cloud with Walrus (on a MemoryBackend) holding the bundles.
class ImageCleanupTest : public ::testing::Test, public clc::CloudFixture {
 protected:
  void PutPart(const model::Principal& owner, const std::string& bucket, const std::string& key) {
    walrus::WalrusObjectStore store(walrus_, owner);
    walrus::StringSource body("part bytes");
    walrus::PutObjectRequest put;
    put.bucket = bucket;
    put.key = key;
    ASSERT_TRUE(store.PutObject(put, body).ok());
  }
  std::string Register(const model::Principal& owner, const std::string& prefix) {
    PutManifest(owner, "bundles", prefix + ".manifest.xml");
    PutPart(owner, "bundles", prefix + ".part.00");
    PutPart(owner, "bundles", prefix + ".part.01");
    auto image = cloud_->images().Register(owner, {.location = "bundles/" + prefix + ".manifest.xml",
                                                   .name = prefix,
                                                   .description = "",
                                                   .architecture = "",
                                                   .kernel_id = "",
                                                   .ramdisk_id = "",
                                                   .root_device_name = ""});
    EXPECT_TRUE(image.ok()) << image.status().ToString();
    return image.ok() ? image->id : "";
  }
  std::vector<std::string> Keys(const model::Principal& owner) {
    walrus::WalrusObjectStore store(walrus_, owner);
    auto listed = store.ListObjects("bundles", "");
    EXPECT_TRUE(listed.ok());
    std::vector<std::string> out;
    if (listed.ok())
      for (const auto& o : *listed) out.push_back(o.key);
    return out;
  }
  model::Image Image(const std::string& id) {
    model::Image out;
    EXPECT_TRUE(store_
                    .Read([&](state::Txn& t) -> Status {
                      EUCA_ASSIGN_OR_RETURN(auto o, t.Get("images", id));
                      if (o) out = model::ImageFromJson(o->body);
                      return Status::Ok();
                    })
                    .ok());
    return out;
  }
  // An image of `owner` registered now with a one-day storage lease, expired by a cleanup a
  // day later (the clock stays).
  std::string ExpiredImage(const model::Principal& owner, const std::string& prefix) {
    const int64_t t0 = clock_.NowMillis();
    EXPECT_TRUE(SetLeaseDefaults(store_, root_, owner.account_name, std::nullopt, std::optional<int64_t>(86400)).ok());
    std::string id = Register(owner, prefix);
    Cleanup(t0 + kDay);
    EXPECT_EQ(Image(id).state, "expired");
    return id;
  }
  CleanupReport Cleanup(int64_t now_ms, bool dry_run = false) {
    auto r = RunCleanup(store_, clock_, nullptr, cloud_->options().object_store, {dry_run, now_ms});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CleanupReport{};
  }
};

TEST_F(ImageCleanupTest, StorageLeaseExpiryThenGraceDeletesExactlyTheExpiredBundles) {
  model::Principal alice = MakeUser("alice", "dev");
  const int64_t t0 = clock_.NowMillis();
  ASSERT_TRUE(SetLeaseDefaults(store_, root_, "alice", std::nullopt, std::optional<int64_t>(86400)).ok());
  std::string one = Register(alice, "one");  // lease: 1 day
  ASSERT_TRUE(SetLeaseDefaults(store_, root_, "alice", std::nullopt, std::optional<int64_t>(2 * 86400)).ok());
  std::string three = Register(alice, "three");  // lease: 2 days
  ASSERT_TRUE(SetLeaseDefaults(store_, root_, "alice", std::nullopt, std::optional<std::optional<int64_t>>(
                                                                            std::optional<int64_t>())).ok());
  std::string two = Register(alice, "two");  // no lease
  EXPECT_EQ(Image(one).lease_expires_ms, t0 + kDay);
  EXPECT_EQ(Image(two).lease_expires_ms, 0);

  // Expiry: marked expired (not launchable), nothing deleted.
  CleanupReport r1 = Cleanup(t0 + kDay);
  ASSERT_EQ(r1.actions.size(), 1u);
  EXPECT_EQ(r1.actions[0].action, "expire-image");
  EXPECT_EQ(Image(one).state, "expired");
  EXPECT_EQ(Image(three).state, "available");
  EXPECT_EQ(Keys(alice).size(), 9u);
  EXPECT_EQ(cloud_->images().FindLaunchable(alice, one).status().code(), Code::kNotFound);

  // Dry run after the grace (7 days by default): reports, changes nothing.
  size_t commits = store_.CommittedForTest().size();
  CleanupReport dry = Cleanup(t0 + 8 * kDay, /*dry_run=*/true);
  EXPECT_EQ(dry.actions.size(), 2u);  // delete one, expire three
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
  EXPECT_EQ(Keys(alice).size(), 9u);

  // After the grace: exactly the bundle of `one` goes, and the image is deregistered.
  CleanupReport r2 = Cleanup(t0 + 8 * kDay);
  EXPECT_EQ(r2.Failed(), 0);
  EXPECT_EQ(r2.Summary(), "cleanup: terminated 0 instances, expired 1 image, deleted 1 image, 0 failed");
  EXPECT_EQ(Image(one).state, "deregistered");
  EXPECT_EQ(Image(three).state, "expired");
  EXPECT_EQ(Image(two).state, "available");
  EXPECT_THAT(Keys(alice), UnorderedElementsAre("three.manifest.xml", "three.part.00", "three.part.01",
                                                "two.manifest.xml", "two.part.00", "two.part.01"));
  EXPECT_EQ(store_.CommittedForTest().back().principal, "cleanup");
  EXPECT_EQ(Cleanup(t0 + 8 * kDay).Summary(), "cleanup: nothing to do");
}

TEST_F(ImageCleanupTest, ARenewBetweenSnapshotAndActionKeepsTheImageAndItsBundle) {
  model::Principal alice = MakeUser("alice", "dev");
  const int64_t t0 = clock_.NowMillis();
  ASSERT_TRUE(SetLeaseDefaults(store_, root_, "alice", std::nullopt, std::optional<int64_t>(86400)).ok());
  std::string one = Register(alice, "one");
  std::string two = Register(alice, "two");
  InterleavingStore store(store_);
  auto renew = [&](const std::string& id) {
    store.after_first_read = [&, id] {
      auto renewed = Call(alice, "EucaRenewLease", {{"ResourceId", id}, {"Duration", "30d"}});
      ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
    };
  };
  auto cleanup = [&](int64_t now) {
    auto r = RunCleanup(store, clock_, nullptr, cloud_->options().object_store, {false, now});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CleanupReport{};
  };
  // Expiry: `one` is renewed after the snapshot; only `two` expires.
  clock_.Set(t0 + kDay);
  renew(one);
  CleanupReport r1 = cleanup(t0 + kDay);
  EXPECT_EQ(r1.Summary(), "cleanup: terminated 0 instances, expired 1 image, deleted 0 images, 0 failed");
  EXPECT_EQ(Image(one).state, "available");
  EXPECT_EQ(Image(two).state, "expired");
  // After the grace: `two` is renewed after the snapshot; nothing is deleted.
  clock_.Set(t0 + 8 * kDay);
  renew(two);
  CleanupReport r2 = cleanup(t0 + 8 * kDay);
  EXPECT_EQ(r2.Summary(), "cleanup: nothing to do");
  EXPECT_EQ(Image(two).state, "available");
  EXPECT_EQ(Keys(alice).size(), 6u);
}

TEST_F(ImageCleanupTest, AFailedBundleDeletionLeavesTheImageExpiredForTheNextRun) {
  model::Principal alice = MakeUser("alice", "dev");
  const int64_t t0 = clock_.NowMillis();
  std::string one = ExpiredImage(alice, "one");
  clc::ObjectStoreFactory failing = [](const model::Principal&) -> Result<std::unique_ptr<walrus::ObjectStore>> {
    return Unavailable("object store unreachable");
  };
  auto r = RunCleanup(store_, clock_, nullptr, failing, {false, t0 + 8 * kDay});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Failed(), 2);  // the image's bundle, and listing the account's unregistered ones
  EXPECT_THAT(Ids(*r, "delete-image"), ElementsAre(one));
  EXPECT_EQ(Image(one).state, "expired");
  EXPECT_EQ(Keys(alice).size(), 3u);
  EXPECT_EQ(Cleanup(t0 + 8 * kDay).Summary(),
            "cleanup: terminated 0 instances, expired 0 images, deleted 1 image, 0 failed");
  EXPECT_EQ(Image(one).state, "deregistered");
  EXPECT_TRUE(Keys(alice).empty());
}

TEST_F(ImageCleanupTest, AnUnregisteredBundleExpiresWithTheStorageLeaseAndGoesAfterTheGrace) {
  model::Principal alice = MakeUser("alice", "dev");
  const int64_t t0 = clock_.NowMillis();
  std::string kept = Register(alice, "kept");  // registered (without a lease): never a loose bundle
  ASSERT_TRUE(SetLeaseDefaults(store_, root_, "alice", std::nullopt, std::optional<int64_t>(86400)).ok());
  PutManifest(alice, "bundles", "loose.manifest.xml");  // uploaded, never registered
  PutPart(alice, "bundles", "loose.part.00");
  // The admin's account has no storage lease: its bundles stay.
  PutManifest(root_, "admins", "theirs.manifest.xml");

  // Before the lease ends it registers; after, RegisterImage refuses it as expired.
  clock_.Set(t0 + kDay);
  auto late = cloud_->images().Register(alice, {.location = "bundles/loose.manifest.xml",
                                                .name = "loose",
                                                .description = "",
                                                .architecture = "",
                                                .kernel_id = "",
                                                .ramdisk_id = "",
                                                .root_device_name = ""});
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().wire_code(), "InvalidManifest");
  EXPECT_THAT(late.status().message(), HasSubstr("expired: its storage lease ended"));

  // Within the grace: nothing happens to it.
  EXPECT_TRUE(Ids(Cleanup(t0 + 7 * kDay), "delete-bundle").empty());
  // After the grace: a dry run reports it and changes nothing, then it is deleted, with a
  // history commit by the cleanup.
  size_t commits = store_.CommittedForTest().size();
  CleanupReport dry = Cleanup(t0 + 8 * kDay + 1, /*dry_run=*/true);
  EXPECT_THAT(Ids(dry, "delete-bundle"), ElementsAre("bundles/loose.manifest.xml"));
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
  EXPECT_EQ(Keys(alice).size(), 5u);
  CleanupReport r = Cleanup(t0 + 8 * kDay + 1);
  EXPECT_EQ(r.Failed(), 0);
  EXPECT_THAT(Ids(r, "delete-bundle"), ElementsAre("bundles/loose.manifest.xml"));
  EXPECT_THAT(r.Summary(), HasSubstr(", deleted 1 bundle"));
  EXPECT_THAT(Keys(alice), UnorderedElementsAre("kept.manifest.xml", "kept.part.00", "kept.part.01"));
  const auto& last = store_.CommittedForTest().back();
  EXPECT_EQ(last.principal, "cleanup");
  EXPECT_EQ(last.action, "DeleteBundle bundles/loose.manifest.xml");
  walrus::WalrusObjectStore admins(walrus_, root_);
  EXPECT_TRUE(admins.HeadObject("admins", "theirs.manifest.xml").ok());
  EXPECT_TRUE(Ids(Cleanup(t0 + 9 * kDay), "delete-bundle").empty());  // idempotent
  EXPECT_FALSE(kept.empty());
}

TEST_F(ImageCleanupTest, RenewLeaseMakesAnExpiredImageAvailable) {
  model::Principal alice = MakeUser("alice", "dev");
  const int64_t t0 = clock_.NowMillis();
  std::string one = ExpiredImage(alice, "one");
  clock_.Set(t0 + kDay);
  auto renewed = Call(alice, "EucaRenewLease", {{"ResourceId", one}, {"Duration", "3d"}});
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_THAT(*renewed, HasSubstr("<state>available</state>"));
  EXPECT_EQ(Image(one).lease_expires_ms, t0 + 4 * kDay);
  auto described = Call(alice, "DescribeImages", {{"ImageId.1", one}});
  ASSERT_TRUE(described.ok());
  EXPECT_THAT(*described, HasSubstr("<key>euca:lease-expires</key>"));
  auto leases = Call(alice, "EucaDescribeLeases");
  ASSERT_TRUE(leases.ok());
  EXPECT_THAT(*leases, HasSubstr(one));
  // Another account's image does not exist for bob; bad durations are refused.
  model::Principal bob = MakeUser("bob", "dev");
  EXPECT_EQ(Call(bob, "EucaRenewLease", {{"ResourceId", one}}).status().code(), Code::kNotFound);
  EXPECT_EQ(Call(alice, "EucaRenewLease", {{"ResourceId", one}, {"Duration", "soon"}}).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace euca::sla
