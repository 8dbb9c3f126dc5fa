// Compute over a real node controller: a nc::Node on FakeHypervisor behind a trivial
// one-node cluster, so that what the CLC sends is what a node accepts, and the node's states
// come back as EC2 states.

#include <gtest/gtest.h>

#include "core/clc/compute.h"
#include "core/clc/fake_cluster.h"
#include "core/nc/node.h"
#include "core/nc/test_support.h"
#include "drivers/hypervisor/fake_hypervisor.h"
#include "state/memory_store.h"

namespace euca::clc {
namespace {

const model::Principal kAlice{"alice", "200000000002", "admin", "AIDAALICE"};
constexpr char kNodeUrl[] = "http://node-0:8775";

// One node, every call passed straight through.
class OneNodeCluster final : public cc::ClusterController {
 public:
  explicit OneNodeCluster(nc::NodeController& node) : node_(node) {}

  Result<std::vector<cc::Placement>> RunInstances(const cc::RunInstancesRequest& request) override {
    std::vector<cc::Placement> out;
    for (const auto& r : request.instances) {
      auto started = node_.RunInstance(r);
      out.push_back({r.instance_id, started.ok() ? kNodeUrl : "", started.status()});
    }
    return out;
  }
  Result<std::vector<cc::CcInstance>> DescribeInstances(const std::vector<std::string>& ids) override {
    EUCA_ASSIGN_OR_RETURN(auto instances, node_.DescribeInstances(ids));
    std::vector<cc::CcInstance> out;
    for (auto& i : instances) out.push_back({std::move(i), kNodeUrl});
    return out;
  }
  Result<std::vector<nc::TerminateResult>> TerminateInstances(const std::vector<std::string>& ids) override {
    std::vector<nc::TerminateResult> out;
    for (const auto& id : ids) {
      EUCA_ASSIGN_OR_RETURN(auto r, node_.TerminateInstance(id));
      out.push_back(r);
    }
    return out;
  }
  Status RebootInstances(const std::vector<std::string>& ids) override {
    for (const auto& id : ids) EUCA_RETURN_IF_ERROR(node_.RebootInstance(id));
    return Status::Ok();
  }
  Result<std::string> GetConsoleOutput(const std::string& id) override { return node_.GetConsoleOutput(id); }
  Result<std::vector<cc::VmTypeAvailability>> DescribeResources(const std::vector<model::VmType>& types) override {
    EUCA_ASSIGN_OR_RETURN(nc::NodeResource r, node_.DescribeResource());
    std::vector<cc::VmTypeAvailability> out;
    for (const auto& t : types) {
      auto fit = [&](int64_t cores, int64_t mem, int64_t disk) {
        return static_cast<int>(std::min({cores / t.cores, mem / static_cast<int64_t>(t.memory_mib),
                                          disk / static_cast<int64_t>(t.disk_gib)}));
      };
      out.push_back({t,
                     fit(r.cores_available, static_cast<int64_t>(r.memory_available_mib),
                         static_cast<int64_t>(r.disk_available_gib)),
                     fit(r.cores_max, static_cast<int64_t>(r.memory_max_mib), static_cast<int64_t>(r.disk_max_gib))});
    }
    return out;
  }
  Result<std::vector<cc::NodeStatus>> DescribeNodes() override { return std::vector<cc::NodeStatus>{}; }
  Status SetNodes(const std::vector<std::string>&) override { return Status::Ok(); }
  Status Poll() override { return Status::Ok(); }

 private:
  nc::NodeController& node_;
};

class ComputeOverNodeTest : public ::testing::Test {
 protected:
  ComputeOverNodeTest() {
    fetcher_.Put("images/root.manifest.xml", std::string(1 << 16, 'r'));
    nc::NodeOptions o;
    o.root = dir_.path() + "/nc";
    o.max_disk_gib = 100;
    node_ = std::make_unique<nc::Node>(PosixEnv(), runner_, clock_, hypervisor_, fetcher_, o);
    EXPECT_TRUE(node_->Open().ok());
    dir_zones_.Add("zone-a", std::make_shared<OneNodeCluster>(*node_));
    model::Image image;
    image.id = "emi-00000001";
    image.account_id = kAlice.account_id;
    image.name = "root";
    image.location = "images/root.manifest.xml";
    EXPECT_TRUE(store_.Transact({"test", "seed", ""}, [&](state::Txn& t) {
      return t.Put({"images", image.id, image.account_id, image.name, model::ToJson(image), std::nullopt});
    }).ok());
    compute_ = std::make_unique<Compute>(store_, clock_, dir_zones_);
  }

  std::string State(const std::string& id) {
    auto r = compute_->DescribeInstances(kAlice, {{id}, {}, 0, ""});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->reservations.at(0).instances.at(0).state : "";
  }

  nc::TempDir dir_;
  FakeClock clock_;
  RecordingCommandRunner runner_;
  hypervisor::FakeHypervisor hypervisor_;  // 4 cores, 8 GiB
  nc::FakeFetcher fetcher_;
  std::unique_ptr<nc::Node> node_;
  FixedDirectory dir_zones_;
  state::MemoryStateStore store_;
  std::unique_ptr<Compute> compute_;
};

TEST_F(ComputeOverNodeTest, RunDescribeTerminateOnARealNode) {
  RunInstancesRequest req;
  req.image_id = "emi-00000001";
  req.min_count = 1;
  req.max_count = 10;
  auto r = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->instances.size(), 4u);  // the node's four cores
  node_->WaitIdleForTest();
  const std::string id = r->instances[0].id;
  EXPECT_EQ(State(id), "running");
  auto console = compute_->GetConsoleOutput(kAlice, id);
  EXPECT_TRUE(console.ok()) << console.status().ToString();
  EXPECT_TRUE(compute_->RebootInstances(kAlice, {id}).ok());

  auto more = compute_->RunInstances(kAlice, req);
  EXPECT_EQ(more.status().wire_code(), "InsufficientInstanceCapacity");

  auto t = compute_->TerminateInstances(kAlice, {id});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)[0].previous_state, "running");
  EXPECT_EQ(State(id), "terminated");
  node_->WaitIdleForTest();
  auto one = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->instances.size(), 1u);
  node_->WaitIdleForTest();
}

TEST_F(ComputeOverNodeTest, AnImageTheNodeCannotFetchEndsTerminatedWithTheNodesReason) {
  fetcher_.FailNext(Unavailable("walrus down (test)"));
  RunInstancesRequest req;
  req.image_id = "emi-00000001";
  auto r = compute_->RunInstances(kAlice, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  node_->WaitIdleForTest();
  auto shown = compute_->DescribeInstances(kAlice, {{r->instances[0].id}, {}, 0, ""});
  ASSERT_TRUE(shown.ok());
  const auto& i = shown->reservations[0].instances[0];
  EXPECT_EQ(i.state, "terminated");
  EXPECT_NE(i.reason.find("walrus down"), std::string::npos) << i.reason;
}

}  // namespace
}  // namespace euca::clc
