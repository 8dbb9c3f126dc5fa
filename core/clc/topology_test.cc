#include "core/clc/topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/cc/test_support.h"
#include "core/nc/test_support.h"
#include "state/memory_store.h"
#include "state/sqlite_store.h"

namespace euca::clc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The value of a Result, by value (a range-for over `.value()` of a temporary would dangle).
template <typename T>
T Get(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : T{};
}

const Principal kAdmin{"eucalyptus", "000000000001", "admin", "AIDAADMIN"};
const Principal kAlice{"alice", "000000000002", "admin", "AIDAALICE"};

class TopologyTest : public ::testing::Test {
 protected:
  Topology& topo() { return topo_; }
  std::vector<std::string> ClusterNames() {
    std::vector<std::string> out;
    for (const auto& c : Get(topo_.DescribeClusters(kAdmin))) out.push_back(c.name);
    return out;
  }
  std::vector<std::string> NodeUrls(const std::string& cluster = "") {
    std::vector<std::string> out;
    for (const auto& n : Get(topo_.DescribeNodes(kAdmin, cluster))) out.push_back(n.url);
    return out;
  }
  void Tick() { clock_.Advance(1); }

  FakeClock clock_;
  state::MemoryStateStore store_;
  Topology topo_{store_, clock_};
};

TEST_F(TopologyTest, ClustersAndNodesAreRegisteredInOrderOneCommitEach) {
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "zone-b", "http://cc-b:8774/").ok());
  Tick();
  Result<model::Cluster> a = topo().RegisterCluster(kAdmin, "zone-a", "");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().url, "");
  Tick();
  EXPECT_THAT(ClusterNames(), ElementsAre("zone-b", "zone-a"));
  EXPECT_EQ(topo().DescribeClusters(kAdmin).value()[0].url, "http://cc-b:8774");

  ASSERT_TRUE(topo().RegisterNode(kAdmin, "zone-a", "http://n2:8775").ok());
  Tick();
  Result<model::NodeRecord> n1 = topo().RegisterNode(kAdmin, "zone-a", "http://n1:8775");
  ASSERT_TRUE(n1.ok());
  EXPECT_THAT(n1.value().id, testing::MatchesRegex("node-[0-9a-f]{16}"));
  EXPECT_EQ(n1.value().cluster, "zone-a");
  Tick();
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "zone-b", "http://n3:8775").ok());
  EXPECT_THAT(NodeUrls("zone-a"), ElementsAre("http://n2:8775", "http://n1:8775"));
  EXPECT_THAT(NodeUrls(), ElementsAre("http://n3:8775", "http://n2:8775", "http://n1:8775"));

  std::vector<std::string> actions;
  for (const auto& c : store_.CommittedForTest()) actions.push_back(c.principal + " " + c.action);
  EXPECT_THAT(actions, ElementsAre("admin@eucalyptus RegisterCluster zone-b", "admin@eucalyptus RegisterCluster zone-a",
                                   "admin@eucalyptus RegisterNode http://n2:8775 in zone-a",
                                   "admin@eucalyptus RegisterNode http://n1:8775 in zone-a",
                                   "admin@eucalyptus RegisterNode http://n3:8775 in zone-b"));
}

TEST_F(TopologyTest, BadInputIsRefusedAndChangesNothing) {
  for (const char* bad : {"", "-zone", "zone a", "zöne", "a/b"}) {
    EXPECT_EQ(topo().RegisterCluster(kAdmin, bad, "").status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(topo().RegisterCluster(kAdmin, std::string(64, 'z'), "").status().code(), Code::kInvalidArgument);
  // The meta-zones of RunInstances cannot name a cluster.
  for (const char* meta : {"any", "single", "spread"}) {
    Status s = topo().RegisterCluster(kAdmin, meta, "").status();
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << meta;
    EXPECT_THAT(s.message(), HasSubstr("is reserved")) << meta;
  }
  // Nor can "verbose", which describe-availability-zones reads as the administrator's listing.
  Status verbose = topo().RegisterCluster(kAdmin, "verbose", "http://cc:8774").status();
  EXPECT_EQ(verbose.code(), Code::kInvalidArgument);
  EXPECT_THAT(verbose.message(), HasSubstr("'verbose' is reserved: describe-availability-zones reads it"));
  for (const char* bad : {"cc:8774", "ftp://cc", "http://", "http://cc :1", "http:///x"}) {
    Status s = topo().RegisterCluster(kAdmin, "z", bad).status();
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_THAT(topo().RegisterCluster(kAdmin, "z", "cc:8774").status().message(),
              HasSubstr("cluster controller URL 'cc:8774' is not valid"));
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "z", "").ok());
  Status again = topo().RegisterCluster(kAdmin, "z", "http://cc:8774").status();
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_THAT(again.message(), HasSubstr("'z' is already registered"));

  Status no_cluster = topo().RegisterNode(kAdmin, "nope", "http://n1:8775").status();
  EXPECT_EQ(no_cluster.code(), Code::kNotFound);
  EXPECT_THAT(no_cluster.message(), HasSubstr("no cluster 'nope'"));
  EXPECT_EQ(topo().RegisterNode(kAdmin, "z", "n1").status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "z", "http://n1:8775").ok());
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "y", "").ok());
  Status twice = topo().RegisterNode(kAdmin, "y", "http://n1:8775/").status();
  EXPECT_EQ(twice.code(), Code::kAlreadyExists);
  EXPECT_THAT(twice.message(), HasSubstr("already registered in cluster 'z'"));
  EXPECT_EQ(store_.CommittedForTest().size(), 3u);
}

TEST_F(TopologyTest, DeregisteringAClusterWithNodesIsRefused) {
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "z", "").ok());
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "z", "http://n1:8775").ok());
  Status s = topo().DeregisterCluster(kAdmin, "z");
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_THAT(s.message(), HasSubstr("cluster 'z' still has 1 node; deregister them first with "
                                     "'euca admin deregister-node z URL'"));
  EXPECT_EQ(topo().DeregisterNode(kAdmin, "z", "http://n9:8775").code(), Code::kNotFound);
  EXPECT_EQ(topo().DeregisterNode(kAdmin, "q", "http://n1:8775").code(), Code::kNotFound);
  ASSERT_TRUE(topo().DeregisterNode(kAdmin, "z", "http://n1:8775/").ok());
  EXPECT_TRUE(NodeUrls("z").empty());
  ASSERT_TRUE(topo().DeregisterCluster(kAdmin, "z").ok());
  EXPECT_TRUE(ClusterNames().empty());
  EXPECT_EQ(topo().DeregisterCluster(kAdmin, "z").code(), Code::kNotFound);
  EXPECT_EQ(topo().DescribeNodes(kAdmin, "z").status().code(), Code::kNotFound);
}

TEST_F(TopologyTest, OnlyCloudAdministratorsMayTouchTheTopology) {
  EXPECT_EQ(topo().RegisterCluster(kAlice, "z", "").status().code(), Code::kPermissionDenied);
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "z", "").ok());
  EXPECT_EQ(topo().RegisterNode(kAlice, "z", "http://n1:8775").status().code(), Code::kPermissionDenied);
  EXPECT_EQ(topo().DeregisterCluster(kAlice, "z").code(), Code::kPermissionDenied);
  EXPECT_EQ(topo().DescribeClusters(kAlice).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(topo().DescribeNodes(kAlice, "").status().code(), Code::kPermissionDenied);
  EXPECT_EQ(topo().DeregisterNode(kAlice, "z", "http://n1:8775").code(), Code::kPermissionDenied);
}

// The directory over fakes: registered nodes are FakeNcs, a remote cluster is a cc::Cluster
// over its own fakes, the embedded node a FakeNc too.
class DirectoryTest : public TopologyTest {
 protected:
  DirectoryTest() {
    for (const char* url : {"http://n1:8775", "http://n2:8775", "http://n3:8775"}) fakes_[url] = nodes_.Add(url);
    embedded_ = std::make_shared<cc::FakeNc>(2, 2048, 20);
  }
  std::unique_ptr<StoreClusterDirectory> Make(int64_t recheck_ms = 0) {
    DirectoryOptions o;
    o.recheck_ms = recheck_ms;
    o.node_connector = nodes_.Connector();
    o.cluster_connector = [this](const std::string& url) -> Result<std::shared_ptr<cc::ClusterController>> {
      ++cluster_connects_;
      auto remote = std::make_shared<cc::Cluster>(remote_nodes_.Connector(), cc::SchedulePolicy::kGreedy, clock_);
      remote_nodes_.Add(url + "/n");
      EXPECT_TRUE(remote->SetNodes({url + "/n"}).ok());
      return std::shared_ptr<cc::ClusterController>(remote);
    };
    o.embedded_node = [this]() -> Result<std::shared_ptr<nc::NodeController>> {
      ++embedded_opens_;
      return std::shared_ptr<nc::NodeController>(embedded_);
    };
    return std::make_unique<StoreClusterDirectory>(store_, PosixEnv(), clock_, "/nonexistent", o);
  }
  std::vector<std::string> Names(const std::vector<Zone>& zones) {
    std::vector<std::string> out;
    for (const Zone& z : zones) out.push_back(z.name);
    return out;
  }
  std::vector<std::string> NodesOf(const Zone& z) {
    std::vector<std::string> out;
    for (const cc::NodeStatus& n : Get(z.cc->DescribeNodes())) out.push_back(n.url + " " + n.state);
    return out;
  }

  cc::FakeNodes nodes_, remote_nodes_;
  std::map<std::string, std::shared_ptr<cc::FakeNc>> fakes_;
  std::shared_ptr<cc::FakeNc> embedded_;
  int cluster_connects_ = 0;
  int embedded_opens_ = 0;
};

TEST_F(DirectoryTest, WithoutClustersTheCloudHasOneEmbeddedZone) {
  auto dir = Make();
  std::vector<Zone> zones = dir->Zones().value();
  EXPECT_THAT(Names(zones), ElementsAre("local"));
  EXPECT_THAT(NodesOf(zones[0]), ElementsAre("local://nc up"));
  EXPECT_EQ(zones[0].cc->DescribeResources({{"m1.small", 1, 256, 5}}).value()[0].available, 2);
  // Its name is a property.
  ASSERT_TRUE(store_
                  .Transact({"admin@eucalyptus", "set", ""},
                            [](state::Txn& t) {
                              return t.Put({"properties", "cloud.embedded-zone", "", "",
                                            state::Json{{"name", "cloud.embedded-zone"}, {"value", "home"}},
                                            std::nullopt});
                            })
                  .ok());
  EXPECT_THAT(Names(dir->Zones().value()), ElementsAre("home"));
  EXPECT_EQ(embedded_opens_, 1) << "the embedded node is opened once";
}

// In-process clusters place by the property cloud.embedded-policy, read when they are made.
TEST_F(DirectoryTest, InProcessClustersPlaceByTheEmbeddedPolicyProperty) {
  auto policy_of = [](const Zone& z) { return std::dynamic_pointer_cast<cc::Cluster>(z.cc)->policy(); };
  EXPECT_EQ(policy_of(Make()->Zones().value()[0]), cc::SchedulePolicy::kGreedy);
  ASSERT_TRUE(store_
                  .Transact({"admin@eucalyptus", "set", ""},
                            [](state::Txn& t) {
                              return t.Put({"properties", "cloud.embedded-policy", "", "",
                                            state::Json{{"name", "cloud.embedded-policy"}, {"value", "spread"}},
                                            std::nullopt});
                            })
                  .ok());
  EXPECT_EQ(policy_of(Make()->Zones().value()[0]), cc::SchedulePolicy::kSpread);
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "inside", "").ok());
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "inside", "http://n1:8775").ok());
  EXPECT_EQ(policy_of(Make()->Zones().value()[0]), cc::SchedulePolicy::kSpread);
}

TEST_F(DirectoryTest, RegisteredClustersAreTheZonesInRegistrationOrder) {
  auto dir = Make();
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "remote", "http://cc:8774").ok());
  Tick();
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "inside", "").ok());
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "inside", "http://n2:8775").ok());
  Tick();
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "inside", "http://n1:8775").ok());
  std::vector<Zone> zones = dir->Zones().value();
  ASSERT_THAT(Names(zones), ElementsAre("remote", "inside"));
  EXPECT_THAT(NodesOf(zones[0]), ElementsAre("http://cc:8774/n up"));
  EXPECT_THAT(NodesOf(zones[1]), ElementsAre("http://n2:8775 up", "http://n1:8775 up"));
  EXPECT_EQ(embedded_opens_, 0);

  // A node leaves, another comes: the same cluster object gets the new list.
  std::shared_ptr<cc::ClusterController> inside = zones[1].cc;
  ASSERT_TRUE(topo().DeregisterNode(kAdmin, "inside", "http://n2:8775").ok());
  Tick();
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "inside", "http://n3:8775").ok());
  zones = dir->Zones().value();
  EXPECT_EQ(zones[1].cc, inside);
  EXPECT_THAT(NodesOf(zones[1]), ElementsAre("http://n1:8775 up", "http://n3:8775 up"));
  EXPECT_EQ(cluster_connects_, 1) << "an unchanged remote cluster is not reconnected";
}

TEST_F(DirectoryTest, ARemoteClusterGetsTheRegisteredNodesAndLosesDeregisteredOnes) {
  auto dir = Make();
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "remote", "http://cc:8774").ok());
  std::vector<Zone> zones = dir->Zones().value();
  ASSERT_THAT(Names(zones), ElementsAre("remote"));
  // No node registered yet: the cluster keeps the nodes it was started with.
  EXPECT_THAT(NodesOf(zones[0]), ElementsAre("http://cc:8774/n up"));
  std::shared_ptr<cc::ClusterController> remote = zones[0].cc;

  remote_nodes_.Add("http://m1:8775");
  remote_nodes_.Add("http://m2:8775");
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "remote", "http://m1:8775").ok());
  Tick();
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "remote", "http://m2:8775").ok());
  zones = dir->Zones().value();
  EXPECT_EQ(zones[0].cc, remote);
  EXPECT_THAT(NodesOf(zones[0]), ElementsAre("http://m1:8775 up", "http://m2:8775 up"));

  ASSERT_TRUE(topo().DeregisterNode(kAdmin, "remote", "http://m1:8775").ok());
  zones = dir->Zones().value();
  EXPECT_THAT(NodesOf(zones[0]), ElementsAre("http://m2:8775 up"));
  // The last one leaves too: the cluster gets the empty list (not its start nodes back).
  ASSERT_TRUE(topo().DeregisterNode(kAdmin, "remote", "http://m2:8775").ok());
  zones = dir->Zones().value();
  EXPECT_THAT(NodesOf(zones[0]), testing::IsEmpty());
  EXPECT_EQ(cluster_connects_, 1) << "the remote cluster is not reconnected";
}

TEST_F(DirectoryTest, RegistrationIsReReadAfterRecheckOrInvalidate) {
  auto dir = Make(/*recheck_ms=*/1000);
  EXPECT_THAT(Names(dir->Zones().value()), ElementsAre("local"));
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "z", "").ok());
  EXPECT_THAT(Names(dir->Zones().value()), ElementsAre("local"));  // cached
  clock_.Advance(1000);
  EXPECT_THAT(Names(dir->Zones().value()), ElementsAre("z"));
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "y", "").ok());
  dir->Invalidate();
  EXPECT_THAT(Names(dir->Zones().value()), ElementsAre("z", "y"));
}

TEST_F(DirectoryTest, AnUnreachableNodeIsDownNotAnError) {
  auto dir = Make();
  ASSERT_TRUE(topo().RegisterCluster(kAdmin, "z", "").ok());
  ASSERT_TRUE(topo().RegisterNode(kAdmin, "z", "http://gone:8775").ok());
  std::vector<Zone> zones = dir->Zones().value();
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_THAT(NodesOf(zones[0]), ElementsAre("http://gone:8775 down"));
}

// The real embedded zone: a cloud made by InitCloud on the fake hypervisor; its node is an
// nc::Node in this process, rooted in the cloud's home.
TEST(EmbeddedZoneTest, TheEmbeddedNodeRunsAnInstanceInProcess) {
  nc::TempDir dir;
  const std::string home = dir.path() + "/cloud";
  auto init = InitCloud({.home = home, .properties = {{"nc.hypervisor", "fake://"}}}, PosixEnv(), RealClock());
  ASSERT_TRUE(init.ok()) << init.status().ToString();
  auto store = state::OpenSqliteStore(home, RealClock());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::ofstream(dir.path() + "/root.img") << std::string(4096, 'r');

  StoreClusterDirectory directory(**store, PosixEnv(), RealClock(), home);
  std::vector<Zone> zones = Get(directory.Zones());
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_EQ(zones[0].name, "local");
  std::vector<cc::NodeStatus> nodes = Get(zones[0].cc->DescribeNodes());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].url, "local://nc");
  EXPECT_EQ(nodes[0].state, "up") << nodes[0].error;
  EXPECT_GT(nodes[0].resource.cores_max, 0);

  cc::RunInstancesRequest run;
  nc::RunInstanceRequest r;
  r.instance_id = "i-0000e001";
  r.image = {"emi-00000001", "file://" + dir.path() + "/root.img"};
  r.vm_type = {"m1.small", 1, 128, 1};
  run.instances.push_back(r);
  std::vector<cc::Placement> placed = Get(zones[0].cc->RunInstances(run));
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_TRUE(placed[0].status.ok()) << placed[0].status.ToString();
  EXPECT_EQ(placed[0].node, "local://nc");
  EXPECT_TRUE(std::filesystem::exists(home + "/nc/instances/i-0000e001"));
  EXPECT_EQ(Get(zones[0].cc->TerminateInstances({"i-0000e001"}))[0].shutdown_state, "Teardown");

  // Walrus locations go to image delivery in this process: a bucket that does not exist
  // fails there, and the instance goes to Teardown with Walrus' reason.
  r.instance_id = "i-0000e002";
  r.image = {"emi-00000002", "nobucket/none.manifest.xml"};
  run.instances = {r};
  ASSERT_TRUE(Get(zones[0].cc->RunInstances(run))[0].status.ok());
  nc::Instance seen;
  for (int i = 0; i < 2000 && seen.state != nc::InstanceState::kTeardown; ++i) {
    ASSERT_TRUE(zones[0].cc->Poll().ok());
    std::vector<cc::CcInstance> d = Get(zones[0].cc->DescribeInstances({"i-0000e002"}));
    if (!d.empty()) seen = d[0].instance;
    if (seen.state != nc::InstanceState::kTeardown) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(seen.state, nc::InstanceState::kTeardown);
  EXPECT_THAT(seen.reason, HasSubstr("nobucket"));
}

}  // namespace
}  // namespace euca::clc
