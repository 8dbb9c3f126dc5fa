#include "core/clc/compute.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "core/api/digest.h"
#include "core/clc/fake_cluster.h"
#include "state/memory_store.h"

namespace euca::clc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const model::Principal kAdmin{"eucalyptus", "100000000001", "admin", "AIDAADMIN"};
const model::Principal kAlice{"alice", "200000000002", "admin", "AIDAALICE"};
const model::Principal kBob{"bob", "300000000003", "admin", "AIDABOB"};

// m1.small is 1 core / 256 MiB / 5 GiB: a node of N cores holds N of them.
FakeCluster::NodeSize Cores(int n) { return {n, 256 * 64, 5 * 64}; }

class ComputeTest : public ::testing::Test {
 protected:
  ComputeTest() { ResetCompute(); }

  void ResetCompute(SlaHook* sla = nullptr) { compute_ = std::make_unique<Compute>(store_, clock_, dir_, sla); }

  std::shared_ptr<FakeCluster> AddZone(const std::string& name, int cores) {
    auto cc = std::make_shared<FakeCluster>(1, Cores(cores));
    dir_.Add(name, cc);
    return cc;
  }

  void Put(const state::Object& o) {
    ASSERT_TRUE(store_.Transact({"test", "seed", ""}, [&](state::Txn& t) { return t.Put(o); }).ok());
  }
  void PutImage(const std::string& id, const std::string& owner, const std::string& type = "machine",
                bool is_public = false, std::vector<std::string> perms = {}, std::string kernel = "") {
    model::Image i;
    i.id = id;
    i.account_id = owner;
    i.name = id + "-name";
    i.location = "bucket/" + id + ".manifest.xml";
    i.type = type;
    i.is_public = is_public;
    i.launch_permissions = std::move(perms);
    i.kernel_id = std::move(kernel);
    Put({"images", id, owner, i.name, model::ToJson(i), std::nullopt});
  }
  void PutKeyPair(const std::string& owner, const std::string& name) {
    model::KeyPair k{"key-" + owner.substr(0, 4) + name, owner, name, "aa:bb", "ssh-rsa AAAA " + name, 0};
    Put({"key-pairs", k.id, owner, name, model::ToJson(k), std::nullopt});
  }

  RunInstancesRequest Req(int min = 1, int max = 1) {
    RunInstancesRequest r;
    r.image_id = "emi-00000001";
    r.min_count = min;
    r.max_count = max;
    return r;
  }

  std::vector<model::Instance> Describe(const model::Principal& who, std::vector<std::string> ids = {},
                                        std::vector<Filter> filters = {}) {
    auto r = compute_->DescribeInstances(who, {ids, filters, 0, ""});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<model::Instance> out;
    if (r.ok())
      for (const auto& res : r->reservations)
        for (const auto& i : res.instances) out.push_back(i);
    return out;
  }

  model::Instance Stored(const std::string& id) {
    model::Instance out;
    EXPECT_TRUE(store_
                    .Read([&](state::Txn& t) -> Status {
                      auto o = t.Get("instances", id);
                      if (!o.ok()) return o.status();
                      if (!*o) return NotFound(id);
                      out = model::InstanceFromJson((*o)->body);
                      return Status::Ok();
                    })
                    .ok());
    return out;
  }

  state::MemoryStateStore store_;
  FakeClock clock_;
  FixedDirectory dir_;
  std::unique_ptr<Compute> compute_;
};

class ComputeRunTest : public ComputeTest {
 protected:
  ComputeRunTest() {
    zone_ = AddZone("zone-a", 4);
    PutImage("emi-00000001", kAlice.account_id);
  }
  std::shared_ptr<FakeCluster> zone_;
};

TEST_F(ComputeRunTest, RunsPendingInstancesInOneTransaction) {
  PutKeyPair(kAlice.account_id, "mykey");
  auto req = Req(2, 2);
  req.key_name = "mykey";
  req.user_data = api::Base64Encode("#!/bin/sh\necho hi\n");
  size_t commits = store_.CommittedForTest().size();
  auto r = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(store_.CommittedForTest().size(), commits + 1);
  EXPECT_EQ(store_.CommittedForTest().back().principal, "admin@alice");
  EXPECT_THAT(r->id, ::testing::MatchesRegex("r-[0-9a-f]{8}"));
  EXPECT_EQ(r->owner_id, kAlice.account_id);
  EXPECT_THAT(r->groups, ElementsAre("default"));
  ASSERT_EQ(r->instances.size(), 2u);
  for (int k = 0; k < 2; ++k) {
    const auto& i = r->instances[k];
    EXPECT_THAT(i.id, ::testing::MatchesRegex("i-[0-9a-f]{8}"));
    EXPECT_EQ(i.state, "pending");
    EXPECT_EQ(i.launch_index, k);
    EXPECT_EQ(i.zone, "zone-a");
    EXPECT_EQ(i.vm_type, "m1.small");
    EXPECT_EQ(i.key_name, "mykey");
    EXPECT_EQ(Stored(i.id).state, "pending");
    EXPECT_TRUE(zone_->Knows(i.id));
  }
  EXPECT_EQ(zone_->Running(), 2);
  EXPECT_EQ(compute_->InFlightForTest(), 0);
  // User data stays out of the public body (and so out of history).
  ASSERT_TRUE(store_
                  .Read([&](state::Txn& t) -> Status {
                    auto o = t.Get("instances", r->instances[0].id);
                    EXPECT_FALSE((*o)->body.contains("user_data"));
                    EXPECT_EQ((*o)->secret->value("user_data", ""), req.user_data);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_F(ComputeRunTest, MinMaxRunsAsManyAsFitOrNone) {
  auto r = compute_->RunInstances(kAlice, Req(1, 10));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->instances.size(), 4u);
  auto none = compute_->RunInstances(kAlice, Req(1, 1));
  EXPECT_EQ(none.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(none.status().wire_code(), "InsufficientInstanceCapacity");
  EXPECT_EQ(Describe(kAlice).size(), 4u);  // nothing written for the refused one
  EXPECT_EQ(compute_->InFlightForTest(), 0);
}

TEST_F(ComputeRunTest, MinCountAboveRoomRunsNothing) {
  auto r = compute_->RunInstances(kAlice, Req(5, 8));
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("room for 4"));
  EXPECT_EQ(zone_->run_calls, 0);
  EXPECT_TRUE(Describe(kAlice).empty());
}

TEST_F(ComputeRunTest, FiftyConcurrentRequestsNeverOverCommit) {
  auto big = AddZone("zone-b", 3);  // room for 4 + 3 = 7 m1.small
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, refused{0}, other{0};
  for (int n = 0; n < 50; ++n) {
    threads.emplace_back([&] {
      auto r = compute_->RunInstances(kAlice, Req());
      if (r.ok()) {
        ++ok;
      } else if (r.status().wire_code() == "InsufficientInstanceCapacity") {
        ++refused;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 7);
  EXPECT_EQ(refused, 43);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(zone_->Running() + big->Running(), 7);
  EXPECT_EQ(compute_->InFlightForTest(), 0);
  // No reservation leaked: once two terminate, exactly two more fit.
  auto mine = Describe(kAlice);
  ASSERT_EQ(mine.size(), 7u);
  ASSERT_TRUE(compute_->TerminateInstances(kAlice, {mine[0].id, mine[1].id}).ok());
  auto again = compute_->RunInstances(kAlice, Req(1, 5));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->instances.size(), 2u);
}

TEST_F(ComputeRunTest, FailedDispatchRollsBackAndReleases) {
  zone_->FailRun(Unavailable("cluster down (test)"));
  auto r = compute_->RunInstances(kAlice, Req(2, 2));
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("no instances started"));
  EXPECT_EQ(compute_->InFlightForTest(), 0);
  auto shown = Describe(kAlice);
  ASSERT_EQ(shown.size(), 2u);
  for (const auto& i : shown) {
    EXPECT_EQ(i.state, "terminated");
    EXPECT_THAT(i.reason, HasSubstr("cluster down"));
  }
  EXPECT_GE(zone_->terminated, 2);  // stopped whatever might have started

  // A partial placement: the one that started is stopped again, all four slots come back.
  zone_->FailRun(Status::Ok());
  zone_->FailAfter(1);
  auto partial = compute_->RunInstances(kAlice, Req(3, 3));
  EXPECT_FALSE(partial.ok());
  EXPECT_EQ(zone_->Running(), 0);
  EXPECT_EQ(compute_->InFlightForTest(), 0);
  zone_->FailAfter(-1);
  auto full = compute_->RunInstances(kAlice, Req(4, 4));
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(zone_->Running(), 4);
}

TEST_F(ComputeRunTest, ResolvesImagesKernelsAndKeysPerAccount) {
  PutImage("eki-00000001", kAlice.account_id, "kernel", true);
  PutImage("eri-00000001", kAlice.account_id, "ramdisk", true);
  PutImage("emi-00000002", kAlice.account_id, "machine", false, {kBob.account_id}, "eki-00000001");
  PutImage("emi-00000003", kAlice.account_id, "machine", true);
  PutKeyPair(kAlice.account_id, "alicekey");

  auto req = Req();
  // Bob may not launch Alice's private image: it does not exist for him.
  auto hidden = compute_->RunInstances(kBob, req);
  EXPECT_EQ(hidden.status().wire_code(), "InvalidAMIID.NotFound");
  // Launch-permitted, with the image's default kernel.
  req.image_id = "emi-00000002";
  auto permitted = compute_->RunInstances(kBob, req);
  ASSERT_TRUE(permitted.ok()) << permitted.status().ToString();
  EXPECT_EQ(permitted->instances[0].kernel_id, "eki-00000001");
  // Public, with an explicit ramdisk.
  req.image_id = "emi-00000003";
  req.kernel_id = "eki-00000001";
  req.ramdisk_id = "eri-00000001";
  auto pub = compute_->RunInstances(kBob, req);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->instances[0].ramdisk_id, "eri-00000001");
  // A kernel given as the machine image is refused.
  req.image_id = "eki-00000001";
  EXPECT_EQ(compute_->RunInstances(kBob, req).status().code(), Code::kInvalidArgument);
  // Key pairs belong to an account.
  req = Req();
  req.key_name = "alicekey";
  req.image_id = "emi-00000003";
  EXPECT_EQ(compute_->RunInstances(kBob, req).status().wire_code(), "InvalidKeyPair.NotFound");
  EXPECT_TRUE(compute_->RunInstances(kAlice, req).ok());
}

TEST_F(ComputeRunTest, AnImageWithoutKernelReachesTheNodeWithoutOneAndBadKernelsAreRefused) {
  // emi-00000001 has no kernel: the node gets no kernel and no ramdisk and boots the image's
  // own boot loader.
  auto plain = compute_->RunInstances(kAlice, Req());
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->instances[0].kernel_id, "");
  EXPECT_EQ(plain->instances[0].ramdisk_id, "");
  auto sent = zone_->DescribeInstances({plain->instances[0].id});
  ASSERT_TRUE(sent.ok());
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_TRUE((*sent)[0].instance.request.kernel.empty());
  EXPECT_TRUE((*sent)[0].instance.request.ramdisk.empty());
  EXPECT_EQ((*sent)[0].instance.request.image.id, "emi-00000001");

  PutImage("eki-00000001", kAlice.account_id, "kernel");
  PutImage("eri-00000001", kAlice.account_id, "ramdisk");
  size_t commits = store_.CommittedForTest().size();
  // A ramdisk without any kernel (the image has none either).
  auto req = Req();
  req.ramdisk_id = "eri-00000001";
  auto lonely = compute_->RunInstances(kAlice, req);
  EXPECT_EQ(lonely.status().wire_code(), "InvalidParameterCombination");
  EXPECT_THAT(lonely.status().message(), HasSubstr("ramdisk 'eri-00000001' needs a kernel"));
  // A kernel that does not exist.
  req = Req();
  req.kernel_id = "eki-0000dead";
  auto missing = compute_->RunInstances(kAlice, req);
  EXPECT_EQ(missing.status().wire_code(), "InvalidAMIID.NotFound");
  EXPECT_THAT(missing.status().message(), HasSubstr("kernel 'eki-0000dead' does not exist"));
  // A ramdisk given as the kernel, and a kernel as the ramdisk.
  req.kernel_id = "eri-00000001";
  EXPECT_EQ(compute_->RunInstances(kAlice, req).status().wire_code(), "InvalidParameterValue");
  req.kernel_id = "eki-00000001";
  req.ramdisk_id = "eki-00000001";
  EXPECT_EQ(compute_->RunInstances(kAlice, req).status().wire_code(), "InvalidParameterValue");
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
  EXPECT_EQ(zone_->Running(), 1);
  // A kernel without a ramdisk is fine (one whose drivers are built in needs none).
  req.ramdisk_id = "";
  auto kernel_only = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(kernel_only.ok()) << kernel_only.status().ToString();
  EXPECT_EQ(kernel_only->instances[0].kernel_id, "eki-00000001");
}

TEST_F(ComputeRunTest, RefusesBadRequestsWithoutWriting) {
  auto req = Req();
  req.instance_type = "t9.huge";
  EXPECT_EQ(compute_->RunInstances(kAlice, req).status().code(), Code::kInvalidArgument);
  req = Req();
  req.user_data = "not base64!";
  EXPECT_EQ(compute_->RunInstances(kAlice, req).status().code(), Code::kInvalidArgument);
  req.user_data = api::Base64Encode(std::string(16 * 1024 + 1, 'x'));
  EXPECT_THAT(compute_->RunInstances(kAlice, req).status().message(), HasSubstr("16384"));
  req = Req(3, 2);
  EXPECT_EQ(compute_->RunInstances(kAlice, req).status().code(), Code::kInvalidArgument);
  req = Req();
  req.image_id = "";
  EXPECT_EQ(compute_->RunInstances(kAlice, req).status().wire_code(), "MissingParameter");
  req = Req();
  req.zone = "zone-x";
  EXPECT_THAT(compute_->RunInstances(kAlice, req).status().message(), HasSubstr("'zone-x'"));
  EXPECT_EQ(zone_->run_calls, 0);
  EXPECT_TRUE(Describe(kAlice).empty());
}

class CountingSla final : public SlaHook {
 public:
  Status Review(LaunchPlan& plan) override {
    ++calls;
    if (plan.max_count > 2) return PermissionDenied("at most 2 instances per request (SLA)");
    plan.vm_type = {"m1.tiny", 1, 128, 1};
    return Status::Ok();
  }
  int calls = 0;
};

TEST_F(ComputeRunTest, SlaHookMayRejectOrModify) {
  CountingSla sla;
  ResetCompute(&sla);
  auto refused = compute_->RunInstances(kAlice, Req(1, 3));
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied);
  EXPECT_TRUE(Describe(kAlice).empty());
  auto changed = compute_->RunInstances(kAlice, Req(1, 2));
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(changed->instances[0].vm_type, "m1.tiny");
  EXPECT_EQ(sla.calls, 2);
}

TEST_F(ComputeRunTest, ClientTokenReturnsTheFirstReservation) {
  auto req = Req(2, 2);
  req.client_token = "token-1";
  auto first = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(first.ok());
  auto second = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->id, first->id);
  ASSERT_EQ(second->instances.size(), 2u);
  EXPECT_EQ(second->instances[1].id, first->instances[1].id);
  EXPECT_EQ(zone_->run_calls, 1);
  // The same token with other parameters is refused, and launches nothing.
  auto other = req;
  other.min_count = other.max_count = 3;
  auto mismatch = compute_->RunInstances(kAlice, other);
  EXPECT_EQ(mismatch.status().wire_code(), "IdempotentParameterMismatch");
  EXPECT_THAT(mismatch.status().message(), ::testing::HasSubstr("reservation '" + first->id + "'"));
  other = req;
  other.instance_type = "c1.medium";
  EXPECT_EQ(compute_->RunInstances(kAlice, other).status().wire_code(), "IdempotentParameterMismatch");
  other = req;
  other.min_count = 1;  // 1..2 still admits the 2 it got
  EXPECT_TRUE(compute_->RunInstances(kAlice, other).ok());
  EXPECT_EQ(zone_->run_calls, 1);
  // Another account's token is its own.
  PutImage("emi-00000001", kAlice.account_id, "machine", true);
  auto bobs = compute_->RunInstances(kBob, req);
  ASSERT_TRUE(bobs.ok());
  EXPECT_NE(bobs->id, first->id);
}

TEST_F(ComputeRunTest, ClientTokenMismatchCoversZoneGroupsUserDataKernelAndRamdisk) {
  PutImage("eki-00000001", kAlice.account_id, "kernel", true);
  PutImage("eri-00000001", kAlice.account_id, "ramdisk", true);
  auto req = Req(1, 1);
  req.client_token = "token-2";
  req.zone = "zone-a";
  req.groups = {"web", "db"};
  req.user_data = api::Base64Encode("hello");
  req.kernel_id = "eki-00000001";
  req.ramdisk_id = "eri-00000001";
  auto first = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // The same request (groups are a set) is the first reservation.
  auto same = req;
  same.groups = {"db", "web", "db"};
  auto again = compute_->RunInstances(kAlice, same);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->id, first->id);

  const std::string place = "another zone, security groups, kernel or ramdisk";
  std::vector<std::pair<std::string, std::function<void(RunInstancesRequest&)>>> changes = {
      {place, [](RunInstancesRequest& r) { r.zone = ""; }},
      {place, [](RunInstancesRequest& r) { r.zone = "any"; }},
      {place, [](RunInstancesRequest& r) { r.groups = {"web"}; }},
      {place, [](RunInstancesRequest& r) { r.groups = {}; }},
      {place, [](RunInstancesRequest& r) { r.kernel_id = ""; }},
      {place, [](RunInstancesRequest& r) { r.ramdisk_id = "eri-00000002"; }},
      {"other user data", [](RunInstancesRequest& r) { r.user_data = ""; }},
      {"other user data", [](RunInstancesRequest& r) { r.user_data = api::Base64Encode("bye"); }},
  };
  for (const auto& [message, change] : changes) {
    auto other = req;
    change(other);
    auto mismatch = compute_->RunInstances(kAlice, other);
    EXPECT_EQ(mismatch.status().wire_code(), "IdempotentParameterMismatch") << message;
    EXPECT_THAT(mismatch.status().message(),
                ::testing::HasSubstr("client token 'token-2' was used by reservation '" + first->id + "' with " +
                                     message + "; use a new token for a different request"));
  }
  EXPECT_EQ(zone_->run_calls, 1);

  // Defaults spelled out or left out are the same request: no zone = "any", no group = "default".
  auto plain = Req(1, 1);
  plain.client_token = "token-3";
  auto p1 = compute_->RunInstances(kAlice, plain);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  plain.zone = "any";
  plain.groups = {"default"};
  auto p2 = compute_->RunInstances(kAlice, plain);
  ASSERT_TRUE(p2.ok()) << p2.status().ToString();
  EXPECT_EQ(p2->id, p1->id);
}

TEST_F(ComputeTest, MetaZonesPlaceAsDocumented) {
  PutImage("emi-00000001", kAlice.account_id);
  auto a = AddZone("a", 2);
  auto b = AddZone("b", 5);
  auto c = AddZone("c", 3);
  auto req = Req(1, 4);
  // any: the emptiest (b) first.
  req.zone = "any";
  auto any = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(b->Running(), 4);
  // any overflows: room a 2, b 1, c 3 -> c 3, then a 2 (b's 1 unused: 5 asked).
  req.min_count = req.max_count = 5;
  auto overflow = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(overflow.ok()) << overflow.status().ToString();
  EXPECT_EQ(c->Running(), 3);
  EXPECT_EQ(a->Running() + b->Running(), 6);
  // single: one zone must hold all; only 1 room is left anywhere now.
  req.zone = "single";
  req.min_count = 2;
  EXPECT_EQ(compute_->RunInstances(kAlice, req).status().wire_code(), "InsufficientInstanceCapacity");
}

TEST_F(ComputeTest, SpreadDealsEvenlyAndSingleStaysInOneZone) {
  PutImage("emi-00000001", kAlice.account_id);
  auto a = AddZone("a", 4);
  auto b = AddZone("b", 4);
  auto c = AddZone("c", 1);
  auto req = Req(6, 6);
  req.zone = "spread";
  ASSERT_TRUE(compute_->RunInstances(kAlice, req).ok());
  EXPECT_EQ(a->Running(), 3);  // a b c a b a: c has room for one
  EXPECT_EQ(b->Running(), 2);
  EXPECT_EQ(c->Running(), 1);
  req = Req(2, 2);
  req.zone = "single";
  auto single = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->instances[0].zone, single->instances[1].zone);
  EXPECT_EQ(single->instances[0].zone, "b");
  req = Req(1, 3);
  req.zone = "a";
  auto named = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->instances.size(), 1u);  // a had room for one more
  EXPECT_EQ(a->Running(), 4);
}

TEST_F(ComputeRunTest, DescribeReconcilesStates) {
  auto r = compute_->RunInstances(kAlice, Req(3, 3));
  ASSERT_TRUE(r.ok());
  auto ids = std::vector<std::string>{r->instances[0].id, r->instances[1].id, r->instances[2].id};
  EXPECT_EQ(Describe(kAlice, {ids[0]})[0].state, "pending");
  zone_->BootAll();
  auto shown = Describe(kAlice);
  ASSERT_EQ(shown.size(), 3u);
  for (const auto& i : shown) {
    EXPECT_EQ(i.state, "running");
    EXPECT_EQ(i.node, "http://node-0:8775");
  }
  EXPECT_EQ(Stored(ids[0]).state, "running");
  zone_->Teardown(ids[1], "guest crashed");
  zone_->Teardown(ids[2], "", /*forget=*/true);
  auto after = Describe(kAlice, {ids[1], ids[2]});
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].state, "terminated");
  EXPECT_EQ(after[0].reason, "guest crashed");
  EXPECT_EQ(after[1].state, "terminated");
  EXPECT_THAT(after[1].reason, HasSubstr("vanished"));
  // An unreachable cluster changes nothing.
  zone_->FailDescribe(Unavailable("down"));
  EXPECT_EQ(Describe(kAlice, {ids[0]})[0].state, "running");
}

TEST_F(ComputeRunTest, NewInstancesMissingFromTheClusterStayPendingForAGrace) {
  auto r = compute_->RunInstances(kAlice, Req());
  ASSERT_TRUE(r.ok());
  const std::string id = r->instances[0].id;
  zone_->Teardown(id, "", /*forget=*/true);
  EXPECT_EQ(Describe(kAlice, {id})[0].state, "pending");
  clock_.Advance(ComputeOptions{}.pending_grace_ms);
  EXPECT_EQ(Describe(kAlice, {id})[0].state, "terminated");
}

TEST_F(ComputeRunTest, TerminatedStayVisibleForTheConfiguredTime) {
  Put({"properties", kTerminatedVisibleProperty, "", "",
       model::ToJson(model::Property{kTerminatedVisibleProperty, "60"}), std::nullopt});
  auto r = compute_->RunInstances(kAlice, Req());
  ASSERT_TRUE(r.ok());
  const std::string id = r->instances[0].id;
  auto t = compute_->TerminateInstances(kAlice, {id});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(Describe(kAlice, {id})[0].state, "terminated");
  clock_.Advance(59'000);
  EXPECT_EQ(Describe(kAlice).size(), 1u);
  clock_.Advance(1'000);
  EXPECT_TRUE(Describe(kAlice).empty());
  auto gone = compute_->DescribeInstances(kAlice, {{id}, {}, 0, ""});
  EXPECT_EQ(gone.status().wire_code(), "InvalidInstanceID.NotFound");
}

TEST_F(ComputeRunTest, PeriodicReconcileFollowsTheClustersWithoutDescribe) {
  Put({"properties", kTerminatedVisibleProperty, "", "",
       model::ToJson(model::Property{kTerminatedVisibleProperty, "60"}), std::nullopt});
  auto r = compute_->RunInstances(kAlice, Req(3, 3));
  ASSERT_TRUE(r.ok());
  const std::string a = r->instances[0].id, b = r->instances[1].id, c = r->instances[2].id;
  ASSERT_TRUE(compute_->Reconcile().ok());  // the first reads everything
  EXPECT_EQ(Stored(a).state, "pending");
  zone_->BootAll();
  ASSERT_TRUE(compute_->Reconcile().ok());
  EXPECT_EQ(Stored(a).state, "running");
  EXPECT_EQ(Stored(a).node, "http://node-0:8775");
  zone_->Teardown(b, "guest crashed");
  zone_->Teardown(c, "", /*forget=*/true);
  ASSERT_TRUE(compute_->Reconcile().ok());
  EXPECT_EQ(Stored(b).state, "terminated");
  EXPECT_EQ(Stored(b).reason, "guest crashed");
  EXPECT_EQ(Stored(c).state, "terminated");
  EXPECT_EQ(Stored(a).state, "running");

  // An instance another CLC process started on the same store is found through its cluster.
  Compute other(store_, clock_, dir_);
  auto theirs = other.RunInstances(kAlice, Req());
  ASSERT_TRUE(theirs.ok()) << theirs.status().ToString();
  zone_->BootAll();
  ASSERT_TRUE(compute_->Reconcile().ok());
  EXPECT_EQ(Stored(theirs->instances[0].id).state, "running");

  // Expired terminated records go.
  clock_.Advance(60'000);
  ASSERT_TRUE(compute_->Reconcile().ok());
  size_t stored = 0;
  ASSERT_TRUE(store_
                  .Read([&](state::Txn& t) -> Status {
                    auto all = t.List("instances");
                    if (all.ok()) stored = all->size();
                    return all.status();
                  })
                  .ok());
  EXPECT_EQ(stored, 2u);  // a and theirs
}

TEST_F(ComputeRunTest, DescribeFiltersAndPages) {
  auto small = compute_->RunInstances(kAlice, Req(2, 2));
  auto req = Req();
  req.instance_type = "c1.medium";
  auto medium = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(small.ok() && medium.ok());
  EXPECT_EQ(Describe(kAlice, {}, {{"instance-type", {"c1.*"}}}).size(), 1u);
  EXPECT_EQ(Describe(kAlice, {}, {{"instance-state-name", {"pending"}}, {"availability-zone", {"zone-a"}}}).size(), 3u);
  EXPECT_EQ(Describe(kAlice, {}, {{"image-id", {"emi-0000000?"}}, {"key-name", {"nokey"}}}).size(), 0u);
  EXPECT_EQ(compute_->DescribeInstances(kAlice, {{}, {{"color", {"x"}}}, 0, ""}).status().code(),
            Code::kInvalidArgument);
  // Grouped by reservation.
  auto all = compute_->DescribeInstances(kAlice, {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->reservations.size(), 2u);
  // Paging: MaxResults 5 over 3 is one page; the token of a full page continues.
  auto page = compute_->DescribeInstances(kAlice, {{}, {}, 5, ""});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->next_token, "");
  EXPECT_EQ(compute_->DescribeInstances(kAlice, {{"i-00000001"}, {}, 5, ""}).status().wire_code(),
            "InvalidParameterCombination");
}

TEST_F(ComputeRunTest, PagingContinuesFromTheToken) {
  zone_ = AddZone("zone-big", 20);
  auto r = compute_->RunInstances(kAlice, Req(12, 12));
  ASSERT_TRUE(r.ok());
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = compute_->DescribeInstances(kAlice, {{}, {}, 5, token});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& res : page->reservations)
      for (const auto& i : res.instances) EXPECT_TRUE(seen.insert(i.id).second);
    token = page->next_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(pages, 3);
}

TEST_F(ComputeRunTest, TenancyNoInstanceLeaksAcrossAccounts) {
  PutImage("emi-00000001", kAlice.account_id, "machine", true);
  auto alices = compute_->RunInstances(kAlice, Req());
  auto bobs = compute_->RunInstances(kBob, Req());
  ASSERT_TRUE(alices.ok() && bobs.ok());
  const std::string a = alices->instances[0].id, b = bobs->instances[0].id;
  // Each sees its own only.
  auto seen_by_bob = Describe(kBob);
  ASSERT_EQ(seen_by_bob.size(), 1u);
  EXPECT_EQ(seen_by_bob[0].id, b);
  // Another account's instance does not exist for the caller, in every call.
  EXPECT_EQ(compute_->DescribeInstances(kBob, {{a}, {}, 0, ""}).status().wire_code(), "InvalidInstanceID.NotFound");
  EXPECT_EQ(compute_->TerminateInstances(kBob, {a}).status().wire_code(), "InvalidInstanceID.NotFound");
  EXPECT_EQ(compute_->TerminateInstances(kBob, {b, a}).status().wire_code(), "InvalidInstanceID.NotFound");
  EXPECT_EQ(Stored(b).state, "pending");  // nothing terminated when one id is bad
  EXPECT_EQ(compute_->RebootInstances(kBob, {a}).code(), Code::kNotFound);
  EXPECT_EQ(compute_->GetConsoleOutput(kBob, a).status().wire_code(), "InvalidInstanceID.NotFound");
  EXPECT_EQ(Describe(kBob, {}, {{"instance-id", {a}}}).size(), 0u);
  // "verbose" is the administrator's only: Bob still sees his own.
  EXPECT_EQ(Describe(kBob, {"verbose"}).size(), 1u);
  // The administrator sees its own without verbose, everyone's with it.
  EXPECT_EQ(Describe(kAdmin).size(), 0u);
  EXPECT_EQ(Describe(kAdmin, {"verbose"}).size(), 2u);
  EXPECT_EQ(Describe(kAdmin, {a}).size(), 1u);
  EXPECT_EQ(Stored(a).state, "pending");
}

TEST_F(ComputeRunTest, TerminateRebootAndConsole) {
  auto r = compute_->RunInstances(kAlice, Req(2, 2));
  ASSERT_TRUE(r.ok());
  const std::string a = r->instances[0].id, b = r->instances[1].id;
  zone_->BootAll();
  EXPECT_EQ(compute_->TerminateInstances(kAlice, {a, "i-0000dead"}).status().wire_code(), "InvalidInstanceID.NotFound");
  EXPECT_EQ(compute_->TerminateInstances(kAlice, {"bogus"}).status().wire_code(), "InvalidInstanceID.Malformed");
  ASSERT_TRUE(compute_->RebootInstances(kAlice, {a, b}).ok());
  EXPECT_EQ(zone_->reboots[a], 1);
  auto console = compute_->GetConsoleOutput(kAlice, a);
  ASSERT_TRUE(console.ok());
  EXPECT_EQ(console->output, "Linux version 6.1 (fake)\nready\n");
  EXPECT_EQ(console->timestamp_ms, clock_.NowMillis());

  auto t = compute_->TerminateInstances(kAlice, {a});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].previous_state, "running");
  EXPECT_EQ((*t)[0].current_state, "shutting-down");
  EXPECT_EQ(zone_->Running(), 1);
  EXPECT_EQ(Describe(kAlice, {a})[0].state, "terminated");
  EXPECT_EQ(Describe(kAlice, {a})[0].reason, "User initiated");
  auto twice = compute_->TerminateInstances(kAlice, {a});
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ((*twice)[0].previous_state, "terminated");
  EXPECT_EQ((*twice)[0].current_state, "terminated");
  EXPECT_EQ(compute_->RebootInstances(kAlice, {a}).wire_code(), "IncorrectInstanceState");
  EXPECT_EQ(compute_->GetConsoleOutput(kAlice, a)->output, "");
}

// A user's terminate records the decision first (one commit: EC2 shows shutting-down at
// once); a cluster that fails gets it undone in a second commit, and the error names the zone.
// Repeating the terminate of an instance shutting down tells its cluster again.
TEST_F(ComputeRunTest, TerminateRecordsFirstAndUndoesWhatTheClusterRefused) {
  auto r = compute_->RunInstances(kAlice, Req(1, 1));
  ASSERT_TRUE(r.ok());
  const std::string a = r->instances[0].id;
  zone_->BootAll();
  ASSERT_EQ(Describe(kAlice, {a})[0].state, "running");
  zone_->FailTerminate(Unavailable("cluster unreachable"));
  size_t commits = store_.CommittedForTest().size();
  auto failed = compute_->TerminateInstances(kAlice, {a}, "req-1");
  EXPECT_EQ(failed.status().code(), Code::kUnavailable);
  EXPECT_THAT(failed.status().message(), HasSubstr("zone 'zone-a'"));
  ASSERT_EQ(store_.CommittedForTest().size(), commits + 2);
  EXPECT_EQ(store_.CommittedForTest()[commits].action, "TerminateInstances");
  EXPECT_EQ(store_.CommittedForTest()[commits + 1].action, "TerminateInstances rollback");
  EXPECT_EQ(store_.CommittedForTest()[commits + 1].request_id, "req-1");
  EXPECT_EQ(Stored(a).state, "running");
  EXPECT_EQ(zone_->Running(), 1);

  zone_->FailTerminate(Status::Ok());
  auto t = compute_->TerminateInstances(kAlice, {a});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)[0].current_state, "shutting-down");
  EXPECT_EQ(zone_->Running(), 0);
}

TEST_F(ComputeTest, AvailabilityZonesWithVerboseForTheAdministrator) {
  auto a = AddZone("a", 4);
  auto b = AddZone("b", 2);
  b->FailDescribe(Unavailable("no answer"));
  auto zones = compute_->DescribeAvailabilityZones(kAlice, {"verbose"});
  ASSERT_TRUE(zones.ok());
  ASSERT_EQ(zones->size(), 2u);
  EXPECT_EQ((*zones)[0].name, "a");
  EXPECT_EQ((*zones)[0].state, "available");
  EXPECT_TRUE((*zones)[0].resources.empty());  // verbose is the administrator's
  EXPECT_EQ((*zones)[1].state, "unavailable");
  auto verbose = compute_->DescribeAvailabilityZones(kAdmin, {"verbose", "a"});
  ASSERT_TRUE(verbose.ok());
  ASSERT_EQ(verbose->size(), 1u);
  const auto& res = (*verbose)[0].resources;
  ASSERT_EQ(res.size(), 5u);
  EXPECT_EQ(res[0].type.name, "m1.small");
  EXPECT_EQ(res[0].available, 4);
  EXPECT_EQ(res[0].max, 4);
  EXPECT_EQ(res[1].type.name, "c1.medium");
  EXPECT_EQ(res[1].available, 2);
  EXPECT_EQ(compute_->DescribeAvailabilityZones(kAlice, {"nowhere"}).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace euca::clc
