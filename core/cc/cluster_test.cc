#include "core/cc/cluster.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "core/cc/test_support.h"
#include "core/nc/node.h"
#include "core/nc/test_support.h"
#include "drivers/hypervisor/fake_hypervisor.h"

namespace euca::cc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The value of a Result, by value (a range-for over `.value()` of a temporary would dangle).
template <typename T>
T Get(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : T{};
}

const model::VmType kSmall{"m1.small", 1, 256, 5};
const model::VmType kLarge{"m1.large", 2, 512, 10};

std::string Id(int n) {
  char buf[16];
  snprintf(buf, sizeof buf, "i-%08x", n);
  return buf;
}

nc::RunInstanceRequest Request(const std::string& id, const model::VmType& type = kSmall) {
  nc::RunInstanceRequest r;
  r.instance_id = id;
  r.reservation_id = "r-0000beef";
  r.owner_id = "000000000001";
  r.image = {"emi-00000001", "b/root.manifest.xml"};
  r.vm_type = type;
  return r;
}

RunInstancesRequest Batch(int first, int count, const model::VmType& type = kSmall) {
  RunInstancesRequest r;
  for (int i = 0; i < count; ++i) r.instances.push_back(Request(Id(first + i), type));
  return r;
}

std::vector<std::string> NodesOf(const std::vector<Placement>& placements) {
  std::vector<std::string> out;
  for (const Placement& p : placements) {
    EXPECT_TRUE(p.status.ok()) << p.instance_id << ": " << p.status.ToString();
    out.push_back(p.node);
  }
  return out;
}

// Clusters over FakeNc nodes "a", "b", "c" (4 cores, 4 GiB, 100 GiB each unless told).
class ClusterTest : public ::testing::Test {
 protected:
  std::unique_ptr<Cluster> Make(SchedulePolicy policy, std::vector<std::string> urls = {"a", "b", "c"}) {
    for (const std::string& url : urls) {
      if (!fakes_.count(url)) fakes_[url] = nodes_.Add(url);
    }
    auto cluster = std::make_unique<Cluster>(nodes_.Connector(), policy, clock_);
    EXPECT_TRUE(cluster->SetNodes(urls).ok());
    return cluster;
  }
  NodeStatus Status(Cluster& c, const std::string& url) {
    for (const NodeStatus& s : Get(c.DescribeNodes())) {
      if (s.url == url) return s;
    }
    ADD_FAILURE() << "no node " << url;
    return {};
  }

  FakeClock clock_;
  FakeNodes nodes_;
  std::map<std::string, std::shared_ptr<FakeNc>> fakes_;
};

TEST_F(ClusterTest, PolicyNamesParse) {
  EXPECT_EQ(ParseSchedulePolicy("greedy").value(), SchedulePolicy::kGreedy);
  EXPECT_EQ(ParseSchedulePolicy("firstfit").value(), SchedulePolicy::kGreedy);
  EXPECT_EQ(ParseSchedulePolicy("roundrobin").value(), SchedulePolicy::kRoundRobin);
  EXPECT_EQ(ParseSchedulePolicy("pack").value(), SchedulePolicy::kPack);
  EXPECT_EQ(ParseSchedulePolicy("spread").value(), SchedulePolicy::kSpread);
  EXPECT_STREQ(SchedulePolicyName(SchedulePolicy::kRoundRobin), "roundrobin");
  Result<SchedulePolicy> bad = ParseSchedulePolicy("random");
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'random'"));
}

TEST_F(ClusterTest, NewNodesArePolledAtOnceAndAreUp) {
  auto c = Make(SchedulePolicy::kGreedy);
  std::vector<NodeStatus> nodes = c->DescribeNodes().value();
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].url, "a");
  EXPECT_EQ(nodes[0].state, "up");
  EXPECT_EQ(nodes[0].resource.cores_max, 4);
  EXPECT_EQ(nodes[0].resource.cores_available, 4);
  EXPECT_EQ(nodes[0].last_poll_ms, clock_.NowMillis());
}

TEST_F(ClusterTest, GreedyFillsNodesInRegistrationOrderWithoutAPollBetween) {
  auto c = Make(SchedulePolicy::kGreedy);
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(1, 6)).value()), ElementsAre("a", "a", "a", "a", "b", "b"));
  EXPECT_EQ(fakes_["a"]->Live(), 4);
  EXPECT_EQ(fakes_["b"]->Live(), 2);
  // Polled or not, the cluster sees the same free capacity.
  NodeStatus before = Status(*c, "b");
  ASSERT_TRUE(c->Poll().ok());
  NodeStatus after = Status(*c, "b");
  EXPECT_EQ(before.resource.cores_available, 2);
  EXPECT_EQ(after.resource.cores_available, 2);
  EXPECT_EQ(after.instances, 2);
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(7, 1)).value()), ElementsAre("b"));
}

TEST_F(ClusterTest, RoundRobinStartsAfterTheNodeUsedLast) {
  auto c = Make(SchedulePolicy::kRoundRobin);
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(1, 4)).value()), ElementsAre("a", "b", "c", "a"));
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(5, 2)).value()), ElementsAre("b", "c"));
  // A full node is passed over.
  fakes_["a"]->ReportAvailable(0, 0, 0);
  ASSERT_TRUE(c->Poll().ok());
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(7, 2)).value()), ElementsAre("b", "c"));
}

TEST_F(ClusterTest, PackFillsTheFullestNodeAndSpreadTheEmptiest) {
  auto pack = Make(SchedulePolicy::kPack);
  ASSERT_TRUE(pack->RunInstances([] {
                    RunInstancesRequest r = Batch(1, 2);
                    r.target_node = "b";
                    return r;
                  }())
                  .ok());
  // b has 2 cores left, a and c 4: pack goes to b until it is full, then to a.
  EXPECT_THAT(NodesOf(pack->RunInstances(Batch(10, 3)).value()), ElementsAre("b", "b", "a"));

  auto spread = Make(SchedulePolicy::kSpread);  // same nodes: a 3 free, b 0, c 4
  EXPECT_THAT(NodesOf(spread->RunInstances(Batch(20, 4)).value()), ElementsAre("c", "a", "c", "a"));
}

TEST_F(ClusterTest, ATargetNodeIsUsedOrRefused) {
  auto c = Make(SchedulePolicy::kGreedy);
  RunInstancesRequest r = Batch(1, 1);
  r.target_node = "c";
  EXPECT_THAT(NodesOf(c->RunInstances(r).value()), ElementsAre("c"));
  r = Batch(2, 1, {"big", 8, 256, 5});
  r.target_node = "c";
  Placement p = c->RunInstances(r).value()[0];
  EXPECT_EQ(p.status.code(), Code::kResourceExhausted);
  EXPECT_EQ(p.status.wire_code(), "InsufficientInstanceCapacity");
  EXPECT_THAT(p.status.message(), HasSubstr("on node 'c'"));
  r.target_node = "zz";
  EXPECT_EQ(c->RunInstances(r).value()[0].status.code(), Code::kNotFound);
}

TEST_F(ClusterTest, NoRoomIsInsufficientInstanceCapacityNamingTheInstance) {
  auto c = Make(SchedulePolicy::kGreedy);
  std::vector<Placement> p = c->RunInstances(Batch(1, 14)).value();
  int ok = 0;
  for (const Placement& x : p) ok += x.status.ok();
  EXPECT_EQ(ok, 12);
  EXPECT_EQ(p[12].status.code(), Code::kResourceExhausted);
  EXPECT_EQ(p[12].status.wire_code(), "InsufficientInstanceCapacity");
  EXPECT_THAT(p[12].status.message(), HasSubstr("'" + Id(13) + "'"));
  EXPECT_EQ(p[12].node, "");
  // A cluster without nodes says so.
  Cluster empty(nodes_.Connector(), SchedulePolicy::kGreedy, clock_);
  Placement none = empty.RunInstances(Batch(50, 1)).value()[0];
  EXPECT_THAT(none.status.message(), HasSubstr("has no nodes"));
}

TEST_F(ClusterTest, NoOverCommitWithManyConcurrentRequests) {
  // The fakes accept whatever they are sent: only the cluster's bookkeeping keeps each at 4.
  for (SchedulePolicy policy :
       {SchedulePolicy::kGreedy, SchedulePolicy::kRoundRobin, SchedulePolicy::kPack, SchedulePolicy::kSpread}) {
    fakes_.clear();
    FakeNodes fresh;
    std::vector<std::string> urls;
    for (int n = 0; n < 4; ++n) {
      urls.push_back("n" + std::to_string(n));
      fakes_[urls.back()] = fresh.Add(urls.back());
    }
    Cluster c(fresh.Connector(), policy, clock_);
    ASSERT_TRUE(c.SetNodes(urls).ok());
    std::atomic<int> placed{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] {
        for (int k = 0; k < 4; ++k) {
          if (k == 2) (void)c.Poll();  // polls interleave with placements
          for (const Placement& p : Get(c.RunInstances(Batch(t * 100 + k, 1)))) {
            (p.status.ok() ? placed : refused)++;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(placed, 16) << SchedulePolicyName(policy);
    EXPECT_EQ(refused, 48) << SchedulePolicyName(policy);
    for (const auto& [url, fake] : fakes_) EXPECT_EQ(fake->Live(), 4) << url << " " << SchedulePolicyName(policy);
    ASSERT_TRUE(c.Poll().ok());
    EXPECT_EQ(c.DescribeResources({kSmall}).value()[0].available, 0);
    EXPECT_EQ(c.DescribeInstances({}).value().size(), 16u);
  }
}

TEST_F(ClusterTest, ANodeThatRefusesSendsTheInstanceToTheNextThatFits) {
  auto c = Make(SchedulePolicy::kGreedy);
  fakes_["a"]->refuse_runs = 1;
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(1, 1)).value()), ElementsAre("b"));
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(2, 1)).value()), ElementsAre("a"));
  EXPECT_EQ(fakes_["a"]->Live(), 1);
  // Every node refuses: the instance is refused, and no capacity stays reserved.
  for (auto& [url, f] : fakes_) f->refuse_runs = 1;
  Placement p = c->RunInstances(Batch(3, 1)).value()[0];
  EXPECT_EQ(p.status.code(), Code::kResourceExhausted);
  EXPECT_EQ(c->DescribeResources({kSmall}).value()[0].available, 10);
}

TEST_F(ClusterTest, ADownNodeHasNoCapacityAndIsSkippedUntilItAnswersAgain) {
  auto c = Make(SchedulePolicy::kGreedy);
  fakes_["a"]->down = true;
  ASSERT_TRUE(c->Poll().ok());
  NodeStatus a = Status(*c, "a");
  EXPECT_EQ(a.state, "down");
  EXPECT_EQ(a.resource.cores_max, 0);
  EXPECT_EQ(a.resource.cores_available, 0);
  EXPECT_THAT(a.error, HasSubstr("connection refused"));
  EXPECT_EQ(c->DescribeResources({kSmall}).value()[0].max, 8);
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(1, 1)).value()), ElementsAre("b"));

  fakes_["a"]->down = false;
  ASSERT_TRUE(c->Poll().ok());
  EXPECT_EQ(Status(*c, "a").state, "up");
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(2, 1)).value()), ElementsAre("a"));
}

TEST_F(ClusterTest, ANodeFoundUnreachableWhilePlacingIsMarkedDownAndTheNextIsTried) {
  auto c = Make(SchedulePolicy::kGreedy);
  fakes_["a"]->down = true;  // not polled since: the cluster still thinks it is up
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(1, 1)).value()), ElementsAre("b"));
  EXPECT_EQ(Status(*c, "a").state, "down");
  // All unreachable: the error says so.
  fakes_["b"]->down = true;
  fakes_["c"]->down = true;
  Placement p = c->RunInstances(Batch(2, 1)).value()[0];
  EXPECT_FALSE(p.status.ok());
  Placement q = c->RunInstances(Batch(3, 1)).value()[0];
  EXPECT_THAT(q.status.message(), HasSubstr("no node is up"));
}

TEST_F(ClusterTest, AnUnconnectableNodeIsDownWithTheReason) {
  auto c = Make(SchedulePolicy::kGreedy, {"a", "b"});
  ASSERT_TRUE(c->SetNodes({"a", "nowhere", "b"}).ok());
  std::vector<NodeStatus> nodes = c->DescribeNodes().value();
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[1].url, "nowhere");
  EXPECT_EQ(nodes[1].state, "down");
  EXPECT_THAT(nodes[1].error, HasSubstr("no node at 'nowhere'"));
}

TEST_F(ClusterTest, DescribeResourcesCountsWholeInstancesPerNodeFromAvailableAndMax) {
  FakeNodes fresh;
  auto n1 = fresh.Add("n1", 4, 2048, 20);
  auto n2 = fresh.Add("n2", 4, 4096, 40);
  auto n3 = fresh.Add("n3", 16, 16384, 400);
  n1->ReportAvailable(3, 1000, 10);
  Cluster c(fresh.Connector(), SchedulePolicy::kGreedy, clock_);
  ASSERT_TRUE(c.SetNodes({"n1", "n2", "n3"}).ok());
  n3->down = true;  // a down node counts for nothing
  ASSERT_TRUE(c.Poll().ok());
  const model::VmType a{"a", 1, 512, 5}, b{"b", 2, 1024, 15}, huge{"huge", 8, 512, 1};
  std::vector<VmTypeAvailability> r = c.DescribeResources({a, b, huge}).value();
  ASSERT_EQ(r.size(), 3u);
  // a: n1 available min(3, 1, 2) = 1, max min(4, 4, 4) = 4; n2 min(4, 8, 8) = 4 both.
  EXPECT_EQ(r[0].type.name, "a");
  EXPECT_EQ(r[0].available, 5);
  EXPECT_EQ(r[0].max, 8);
  // b: n1 available min(1, 0, 0) = 0, max min(2, 2, 1) = 1; n2 min(2, 4, 2) = 2 both.
  EXPECT_EQ(r[1].available, 2);
  EXPECT_EQ(r[1].max, 3);
  EXPECT_EQ(r[2].available, 0);
  EXPECT_EQ(r[2].max, 0);
  // Placements not yet polled count at once.
  ASSERT_TRUE(c.RunInstances(Batch(1, 1, b)).value()[0].status.ok());
  EXPECT_EQ(c.DescribeResources({a}).value()[0].available, 3);  // n2 now min(2, 6, 5)
  EXPECT_EQ(c.DescribeResources({{"bad", 0, 1, 1}}).status().code(), Code::kInvalidArgument);
}

TEST_F(ClusterTest, RepeatingAnInstanceReturnsItsNodeAndStartsNothing) {
  auto c = Make(SchedulePolicy::kRoundRobin);
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(1, 1)).value()), ElementsAre("a"));
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(1, 1)).value()), ElementsAre("a"));
  ASSERT_TRUE(c->Poll().ok());
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(1, 1)).value()), ElementsAre("a"));
  EXPECT_EQ(fakes_["a"]->runs, 1);
  EXPECT_EQ(fakes_["b"]->runs + fakes_["c"]->runs, 0);
  // Twice in one request is a mistake.
  RunInstancesRequest twice = Batch(5, 1);
  twice.instances.push_back(twice.instances[0]);
  std::vector<Placement> p = c->RunInstances(twice).value();
  EXPECT_TRUE(p[0].status.ok());
  EXPECT_EQ(p[1].status.code(), Code::kInvalidArgument);
  EXPECT_EQ(c->RunInstances({}).status().code(), Code::kInvalidArgument);
}

TEST_F(ClusterTest, ConcurrentRepeatsOfOneInstanceStartItOnce) {
  auto c = Make(SchedulePolicy::kRoundRobin);
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        Result<std::vector<Placement>> p = c->RunInstances(Batch(1000 + round, 1));
        if (p.ok() && p.value()[0].status.ok()) ++ok;
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_GE(ok, 1);
  }
  EXPECT_EQ(fakes_["a"]->runs + fakes_["b"]->runs + fakes_["c"]->runs, 10);
  EXPECT_EQ(c->DescribeInstances({}).value().size(), 10u);
  EXPECT_EQ(c->DescribeResources({kSmall}).value()[0].available, 2);
}

TEST_F(ClusterTest, AnInvalidRequestIsRefusedAndReservesNothing) {
  auto c = Make(SchedulePolicy::kGreedy);
  RunInstancesRequest r = Batch(1, 1);
  r.instances[0].instance_id = "x-1";
  Placement p = c->RunInstances(r).value()[0];
  EXPECT_EQ(p.status.code(), Code::kInvalidArgument);
  EXPECT_EQ(c->DescribeResources({kSmall}).value()[0].available, 12);
}

TEST_F(ClusterTest, TerminateRebootAndConsoleGoToTheInstancesNode) {
  auto c = Make(SchedulePolicy::kGreedy);
  ASSERT_TRUE(c->RunInstances(Batch(1, 5)).ok());  // 4 on a, 1 on b
  std::vector<CcInstance> one = c->DescribeInstances({Id(5), "i-99999999"}).value();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].node, "b");
  EXPECT_EQ(one[0].instance.request.instance_id, Id(5));
  EXPECT_EQ(c->DescribeInstances({}).value().size(), 5u);

  EXPECT_EQ(c->GetConsoleOutput(Id(5)).value(), "console of " + Id(5) + "\n");
  EXPECT_EQ(c->GetConsoleOutput("i-99999999").status().wire_code(), "InvalidInstanceID.NotFound");

  ASSERT_TRUE(c->RebootInstances({Id(1), Id(5)}).ok());
  EXPECT_EQ(fakes_["a"]->Reboots(Id(1)), 1);
  EXPECT_EQ(fakes_["b"]->Reboots(Id(5)), 1);
  // An unknown id: nothing is rebooted.
  ::euca::Status s = c->RebootInstances({Id(1), "i-99999999"});
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("'i-99999999'"));
  EXPECT_EQ(fakes_["a"]->Reboots(Id(1)), 1);

  std::vector<nc::TerminateResult> t = c->TerminateInstances({Id(5), "i-99999999"}).value();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].previous_state, "Extant");
  EXPECT_EQ(t[0].shutdown_state, "Teardown");
  EXPECT_EQ(t[1].instance_id, "i-99999999");
  EXPECT_EQ(t[1].shutdown_state, "Teardown");
  EXPECT_EQ(fakes_["b"]->Live(), 0);
  EXPECT_EQ(c->DescribeInstances({Id(5)}).value()[0].instance.state, nc::InstanceState::kTeardown);
  EXPECT_EQ(c->TerminateInstances({"bad"}).status().code(), Code::kInvalidArgument);
}

TEST_F(ClusterTest, TerminatingGivesTheCapacityBackBeforeTheNextPoll) {
  auto c = Make(SchedulePolicy::kGreedy, {"a"});
  ASSERT_TRUE(c->Poll().ok());
  ASSERT_EQ(NodesOf(c->RunInstances(Batch(1, 4)).value()).size(), 4u);
  ASSERT_TRUE(c->Poll().ok());  // the four are in the node's report now
  EXPECT_EQ(c->RunInstances(Batch(5, 1)).value()[0].status.code(), Code::kResourceExhausted);
  ASSERT_TRUE(c->TerminateInstances({Id(1), Id(5)}).ok());
  EXPECT_EQ(c->DescribeResources({kSmall}).value()[0].available, 1);
  ASSERT_TRUE(c->TerminateInstances({Id(1)}).ok());  // twice gives nothing back twice
  EXPECT_EQ(c->DescribeResources({kSmall}).value()[0].available, 1);
  EXPECT_THAT(NodesOf(c->RunInstances(Batch(6, 1)).value()), ElementsAre("a"));
  ASSERT_TRUE(c->Poll().ok());
  EXPECT_EQ(c->DescribeResources({kSmall}).value()[0].available, 0);
}

TEST_F(ClusterTest, PollingFollowsTheNodesStateAndForgetsWhatTheNodeForgot) {
  auto c = Make(SchedulePolicy::kGreedy, {"a"});
  ASSERT_TRUE(c->RunInstances(Batch(1, 2)).ok());
  ASSERT_TRUE(fakes_["a"]->TerminateInstance(Id(1)).ok());  // behind the cluster's back
  ASSERT_TRUE(c->Poll().ok());
  EXPECT_EQ(c->DescribeInstances({Id(1)}).value()[0].instance.state, nc::InstanceState::kTeardown);
  EXPECT_EQ(Status(*c, "a").instances, 1);
  fakes_["a"]->Forget(Id(1));
  ASSERT_TRUE(c->Poll().ok());
  EXPECT_TRUE(c->DescribeInstances({Id(1)}).value().empty());
  EXPECT_EQ(c->DescribeInstances({}).value().size(), 1u);
  // A node that is down keeps its instances as last seen.
  fakes_["a"]->down = true;
  ASSERT_TRUE(c->Poll().ok());
  EXPECT_EQ(c->DescribeInstances({}).value().size(), 1u);
}

TEST_F(ClusterTest, SetNodesKeepsTheStayingNodesAndForgetsTheLeavingOnes) {
  auto c = Make(SchedulePolicy::kRoundRobin);
  ASSERT_TRUE(c->RunInstances(Batch(1, 3)).ok());  // one on each
  ASSERT_TRUE(c->SetNodes({"c", "a"}).ok());
  std::vector<NodeStatus> nodes = c->DescribeNodes().value();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].url, "c");
  EXPECT_EQ(nodes[0].instances, 1);
  EXPECT_EQ(nodes[1].url, "a");
  EXPECT_EQ(c->DescribeInstances({}).value().size(), 2u);
  EXPECT_TRUE(c->DescribeInstances({Id(2)}).value().empty());
  EXPECT_EQ(c->SetNodes({"a", "a"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(c->SetNodes({""}).code(), Code::kInvalidArgument);
}

TEST_F(ClusterTest, ManyNodesArePolledAndDescribedById) {
  FakeNodes fresh;
  std::vector<std::string> urls;
  for (int n = 0; n < 100; ++n) {
    urls.push_back("n" + std::to_string(n));
    fresh.Add(urls.back());
  }
  Cluster c(fresh.Connector(), SchedulePolicy::kSpread, clock_);
  ASSERT_TRUE(c.SetNodes(urls).ok());
  std::vector<Placement> p = c.RunInstances(Batch(1, 400)).value();
  for (const Placement& x : p) ASSERT_TRUE(x.status.ok()) << x.status.ToString();
  ASSERT_TRUE(c.Poll().ok());
  for (const NodeStatus& s : Get(c.DescribeNodes())) {
    EXPECT_EQ(s.state, "up");
    EXPECT_EQ(s.instances, 4) << s.url;
  }
  EXPECT_EQ(c.DescribeInstances({Id(77)}).value()[0].instance.request.instance_id, Id(77));
}

TEST_F(ClusterTest, TheBackgroundLoopPollsUntilStopped) {
  auto c = Make(SchedulePolicy::kGreedy, {"a"});
  fakes_["a"]->down = true;
  c->Start();
  // The first round runs at once; wait for it with a generous deadline.
  for (int i = 0; i < 5000 && Status(*c, "a").state == "up"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(Status(*c, "a").state, "down");
  c->Stop();
  c->Stop();  // twice is fine
}

// The cluster over real node controllers (nc::Node on FakeHypervisor).
class ClusterOnNodesTest : public ::testing::Test {
 protected:
  struct TestNode {
    hypervisor::FakeHypervisor hypervisor;
    std::shared_ptr<nc::Node> node;
  };

  ClusterOnNodesTest() {
    fetcher_.Put("b/root.manifest.xml", std::string(4096, 'r'));
    for (const std::string url : {"http://n1:8775", "http://n2:8775"}) {
      auto t = std::make_unique<TestNode>();
      nc::NodeOptions o;
      o.root = dir_.path() + "/" + url.substr(7, 2);
      o.max_disk_gib = 4;
      t->node = std::make_shared<nc::Node>(PosixEnv(), runner_, clock_, t->hypervisor, fetcher_, o);
      EXPECT_TRUE(t->node->Open().ok());
      nodes_[url] = std::move(t);
    }
    cluster_ = std::make_unique<Cluster>(
        [this](const std::string& url) -> Result<std::shared_ptr<nc::NodeController>> {
          auto it = nodes_.find(url);
          if (it == nodes_.end()) return NotFound("no node at '" + url + "'");
          return std::shared_ptr<nc::NodeController>(it->second->node);
        },
        SchedulePolicy::kGreedy, clock_);
    EXPECT_TRUE(cluster_->SetNodes({"http://n1:8775", "http://n2:8775"}).ok());
  }
  ~ClusterOnNodesTest() override {
    cluster_.reset();
    for (auto& [url, t] : nodes_) t->node->WaitIdleForTest();
  }
  void WaitIdle() {
    for (auto& [url, t] : nodes_) t->node->WaitIdleForTest();
  }

  nc::TempDir dir_;
  FakeClock clock_;
  RecordingCommandRunner runner_;
  nc::FakeFetcher fetcher_;
  std::map<std::string, std::unique_ptr<TestNode>> nodes_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(ClusterOnNodesTest, RunsPollsAndTerminatesOnRealNodes) {
  // The fake host has 4 cores and each node offers 4 GiB of disk: two of these fill n1.
  const model::VmType kLarge{"m1.large", 2, 512, 1}, kSmall{"m1.small", 1, 256, 1};
  std::vector<Placement> p = cluster_->RunInstances(Batch(1, 3, kLarge)).value();
  EXPECT_THAT(NodesOf(p), ElementsAre("http://n1:8775", "http://n1:8775", "http://n2:8775"));
  WaitIdle();
  ASSERT_TRUE(cluster_->Poll().ok());
  std::vector<CcInstance> all = cluster_->DescribeInstances({}).value();
  ASSERT_EQ(all.size(), 3u);
  for (const CcInstance& i : all)
    EXPECT_EQ(i.instance.state, nc::InstanceState::kExtant) << i.instance.request.instance_id;
  EXPECT_EQ(nodes_["http://n1:8775"]->hypervisor.starts_for_test(), 2);
  std::vector<VmTypeAvailability> r = cluster_->DescribeResources({kLarge, kSmall}).value();
  EXPECT_EQ(r[0].available, 1);
  EXPECT_EQ(r[0].max, 4);
  EXPECT_EQ(r[1].available, 2);
  // A repeat starts nothing; terminate reaches the node.
  EXPECT_THAT(NodesOf(cluster_->RunInstances(Batch(1, 1, kLarge)).value()), ElementsAre("http://n1:8775"));
  ASSERT_TRUE(cluster_->TerminateInstances({Id(3)}).ok());
  EXPECT_EQ(nodes_["http://n2:8775"]->hypervisor.GetDomain(Id(3)).status().code(), Code::kNotFound);
  ASSERT_TRUE(cluster_->RebootInstances({Id(1)}).ok());
  EXPECT_EQ(nodes_["http://n1:8775"]->hypervisor.reboots_for_test(Id(1)), 1);
  EXPECT_TRUE(cluster_->GetConsoleOutput(Id(1)).ok());
  WaitIdle();
  EXPECT_EQ(nodes_["http://n1:8775"]->hypervisor.starts_for_test(), 2);
}

}  // namespace
}  // namespace euca::cc
