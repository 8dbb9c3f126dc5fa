#include "core/clc/capacity_reservations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/clc/compute.h"
#include "core/clc/fake_cluster.h"
#include "state/memory_store.h"

namespace euca::clc {
namespace {

using ::testing::HasSubstr;

const model::Principal kAdmin{"eucalyptus", "100000000001", "admin", "AIDAADMIN"};
const model::Principal kAlice{"alice", "200000000002", "admin", "AIDAALICE"};
const model::Principal kBob{"bob", "300000000003", "admin", "AIDABOB"};

constexpr int64_t kHour = 3600 * 1000;

// Zones of m1.small room: a node of N cores holds N of them.
class CapacityReservationTest : public ::testing::Test {
 protected:
  CapacityReservationTest() {
    zone_a_ = std::make_shared<FakeCluster>(1, FakeCluster::NodeSize{4, 256 * 64, 5 * 64});
    zone_b_ = std::make_shared<FakeCluster>(1, FakeCluster::NodeSize{4, 256 * 64, 5 * 64});
    dir_.Add("zone-a", zone_a_);
    dir_.Add("zone-b", zone_b_);
    EXPECT_TRUE(store_
                    .Transact({"test", "seed", ""},
                              [&](state::Txn& t) { return t.Put(PublicTestImage(kAlice.account_id)); })
                    .ok());
  }

  Result<CapacityReservation> Create(const model::Principal& who, int count, const std::string& zone = "zone-a",
                                     int64_t end_ms = 0, const std::string& type = "m1.small") {
    CapacityReservationRequest r;
    r.instance_type = type;
    r.zone = zone;
    r.instance_count = count;
    r.end_ms = end_ms;
    if (end_ms) r.end_date_type = "limited";
    return compute_.CreateCapacityReservation(who, r);
  }
  Result<Reservation> Run(const model::Principal& who, int count, const std::string& zone = "zone-a") {
    RunInstancesRequest r;
    r.image_id = "emi-00000001";
    r.min_count = r.max_count = count;
    r.zone = zone;
    return compute_.RunInstances(who, r);
  }
  std::vector<CapacityReservation> Describe(const model::Principal& who, std::vector<std::string> ids = {}) {
    auto r = DescribeCapacityReservations(store_, who, ids, {}, clock_.NowMillis());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<CapacityReservation>{};
  }

  state::MemoryStateStore store_;
  FakeClock clock_;
  FixedDirectory dir_;
  std::shared_ptr<FakeCluster> zone_a_, zone_b_;
  Compute compute_{store_, clock_, dir_};
};

TEST_F(CapacityReservationTest, ReservedRoomIsHeldFromOthersAndUsedByTheOwner) {
  auto r = Create(kAlice, 3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(r->id, ::testing::StartsWith("cr-"));
  EXPECT_EQ(r->state, "active");
  EXPECT_EQ(r->available_count, 3);
  // Bob: one of zone-a's four is left.
  EXPECT_TRUE(Run(kBob, 1).ok());
  auto refused = Run(kBob, 1);
  EXPECT_EQ(refused.status().wire_code(), "InsufficientInstanceCapacity");
  EXPECT_THAT(refused.status().message(), HasSubstr("room for 0"));
  // Alice uses her reservation.
  auto mine = Run(kAlice, 2);
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  auto listed = Describe(kAlice);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].available_count, 1);
  EXPECT_EQ(Run(kBob, 1).status().wire_code(), "InsufficientInstanceCapacity");  // still one held
  EXPECT_TRUE(Run(kAlice, 1).ok());
  EXPECT_EQ(Describe(kAlice)[0].available_count, 0);
  EXPECT_EQ(zone_a_->Running(), 4);
  // Bob sees none of Alice's; an id of hers is not found for him.
  EXPECT_TRUE(Describe(kBob).empty());
  EXPECT_EQ(DescribeCapacityReservations(store_, kBob, {r->id}, {}, clock_.NowMillis()).status().wire_code(),
            "InvalidCapacityReservationId.NotFound");
  EXPECT_EQ(Describe(kAdmin, {"verbose"}).size(), 1u);
}

TEST_F(CapacityReservationTest, OwnersLaunchesInAnyZoneGoToTheReservedZoneFirst) {
  ASSERT_TRUE(Create(kAlice, 2, "zone-b").ok());
  auto run = Run(kAlice, 2, "any");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  for (const auto& i : run->instances) EXPECT_EQ(i.zone, "zone-b");
}

TEST_F(CapacityReservationTest, AReservationThatDoesNotFitIsRefusedAndWritesNothing) {
  ASSERT_TRUE(Run(kBob, 2).ok());
  size_t commits = store_.CommittedForTest().size();
  auto r = Create(kAlice, 3);
  EXPECT_EQ(r.status().wire_code(), "InsufficientInstanceCapacity");
  EXPECT_THAT(r.status().message(), HasSubstr("room for 2"));
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
  ASSERT_TRUE(Create(kAlice, 2).ok());
  // Another account cannot reserve what is held.
  EXPECT_EQ(Create(kAdmin, 1).status().wire_code(), "InsufficientInstanceCapacity");
  // Bob's running instances use a reservation of his at once (open matching): it fits, and
  // holds nothing more; one beyond them does not fit.
  EXPECT_TRUE(Create(kBob, 2).ok());
  EXPECT_EQ(Create(kBob, 1).status().wire_code(), "InsufficientInstanceCapacity");
  // Alice's own running instances count against a new reservation of hers (open matching).
  ASSERT_TRUE(Run(kAlice, 2).ok());
  EXPECT_EQ(Create(kAlice, 1).status().wire_code(), "InsufficientInstanceCapacity");
  EXPECT_TRUE(Create(kAlice, 1, "zone-b").ok());
}

TEST_F(CapacityReservationTest, BadRequestsAreRefused) {
  EXPECT_EQ(Create(kAlice, 0).status().code(), Code::kInvalidArgument);
  EXPECT_THAT(Create(kAlice, 1, "zone-x").status().message(), HasSubstr("'zone-x' does not exist"));
  EXPECT_EQ(Create(kAlice, 1, "zone-a", 0, "m9.huge").status().code(), Code::kInvalidArgument);
  EXPECT_THAT(Create(kAlice, 1, "zone-a", clock_.NowMillis() - 1).status().message(), HasSubstr("not in the future"));
  CapacityReservationRequest r{"m1.small", "zone-a", 1, "limited", 0, ""};
  EXPECT_THAT(compute_.CreateCapacityReservation(kAlice, r).status().message(), HasSubstr("needs an EndDate"));
  r = {"m1.small", "zone-a", 1, "", 0, "targeted"};
  EXPECT_THAT(compute_.CreateCapacityReservation(kAlice, r).status().message(), HasSubstr("use open"));
  EXPECT_TRUE(Describe(kAlice).empty());
}

TEST_F(CapacityReservationTest, EndDateFreesTheRoomAndExpireRecordsIt) {
  auto r = Create(kAlice, 4, "zone-a", clock_.NowMillis() + kHour);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Run(kBob, 1).status().wire_code(), "InsufficientInstanceCapacity");
  auto due = ExpiredCapacityReservations(store_, clock_.NowMillis() + kHour - 1);
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->empty());
  clock_.Advance(kHour);
  due = ExpiredCapacityReservations(store_, clock_.NowMillis());
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(Describe(kAlice)[0].state, "expired");  // shown as it is due
  ASSERT_TRUE(ExpireCapacityReservation(store_, "cleanup", r->id, clock_.NowMillis()).ok());
  EXPECT_EQ(store_.CommittedForTest().back().principal, "cleanup");
  EXPECT_EQ(store_.CommittedForTest().back().action, "ExpireCapacityReservation " + r->id);
  EXPECT_EQ(ExpireCapacityReservation(store_, "cleanup", r->id, clock_.NowMillis()).code(), Code::kConflict);
  EXPECT_TRUE(Run(kBob, 4).ok());
}

TEST_F(CapacityReservationTest, CancelFreesTheRoom) {
  auto r = Create(kAlice, 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(CancelCapacityReservation(store_, kBob, r->id, clock_.NowMillis()).wire_code(),
            "InvalidCapacityReservationId.NotFound");
  ASSERT_TRUE(CancelCapacityReservation(store_, kAlice, r->id, clock_.NowMillis()).ok());
  EXPECT_EQ(CancelCapacityReservation(store_, kAlice, r->id, clock_.NowMillis()).wire_code(), "IncorrectState");
  EXPECT_EQ(Describe(kAlice)[0].state, "cancelled");
  EXPECT_TRUE(Run(kBob, 4).ok());
}

// The concurrency guarantee of RunInstances holds with reservations: launches of others and
// new reservations never over-commit a zone together.
TEST_F(CapacityReservationTest, ConcurrentLaunchesAndReservationsNeverOverCommit) {
  ASSERT_TRUE(Create(kAlice, 2).ok());  // zone-a: 2 held for Alice, 2 free
  std::vector<std::thread> threads;
  std::atomic<int> bob_ok{0}, reserved{0}, other{0};
  for (int n = 0; n < 20; ++n) {
    threads.emplace_back([&, n] {
      if (n % 4 == 0) {
        auto r = Create(kAdmin, 1);
        if (r.ok()) {
          ++reserved;
        } else if (r.status().wire_code() != "InsufficientInstanceCapacity") {
          ++other;
        }
        return;
      }
      auto r = Run(kBob, 1);
      if (r.ok()) {
        ++bob_ok;
      } else if (r.status().wire_code() != "InsufficientInstanceCapacity") {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(bob_ok + reserved, 2);
  EXPECT_EQ(compute_.InFlightForTest(), 0);
  // Alice's two are still there for her.
  EXPECT_TRUE(Run(kAlice, 2).ok());
  EXPECT_EQ(zone_a_->Running(), 2 + bob_ok);
}

}  // namespace
}  // namespace euca::clc
