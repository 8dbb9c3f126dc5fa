#include "core/cc/cc_http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/cc/cluster.h"
#include "core/cc/test_support.h"
#include "core/http/server.h"
#include "core/nc/test_support.h"

namespace euca::cc {
namespace {

using ::testing::HasSubstr;

nc::RunInstanceRequest Request(const std::string& id) {
  nc::RunInstanceRequest r;
  r.instance_id = id;
  r.image = {"emi-00000001", "b/root.manifest.xml"};
  r.vm_type = {"m1.small", 1, 256, 5};
  r.user_data = std::string("\0\x01binary", 8);
  return r;
}

// The real HTTP server and client on loopback in front of a Cluster over fake nodes.
class CcHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = nodes_.Add("http://a:8775", 2);
    b_ = nodes_.Add("http://b:8775", 2);
    cluster_ = std::make_unique<Cluster>(nodes_.Connector(), SchedulePolicy::kGreedy, clock_);
    auto auth = [](const http::RequestHead& head, std::string_view) -> Status {
      if (head.headers.Get("X-Test-Token") != "let-me-in") return Unauthenticated("no token");
      return Status::Ok();
    };
    Result<std::unique_ptr<http::Server>> server = http::Server::Start({}, MakeCcHandler(*cluster_, auth));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server.value());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  CcClient Client(std::string token = "let-me-in") {
    return CcClient(url_, [token](http::ClientRequest& r) {
      r.headers.Set("X-Test-Token", token);
      return Status::Ok();
    });
  }

  FakeClock clock_;
  FakeNodes nodes_;
  std::shared_ptr<FakeNc> a_, b_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
};

TEST_F(CcHttpTest, EveryOperationRoundTrips) {
  CcClient cc = Client();
  ASSERT_TRUE(cc.SetNodes({"http://a:8775", "http://b:8775"}).ok());
  Result<std::vector<NodeStatus>> nodes = cc.DescribeNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes.value().size(), 2u);
  EXPECT_EQ(nodes.value()[0].url, "http://a:8775");
  EXPECT_EQ(nodes.value()[0].state, "up");
  EXPECT_EQ(nodes.value()[0].resource.cores_max, 2);

  RunInstancesRequest run;
  for (const char* id : {"i-00000001", "i-00000002", "i-00000003", "i-00000004", "i-00000005"}) {
    run.instances.push_back(Request(id));
  }
  Result<std::vector<Placement>> placed = cc.RunInstances(run);
  ASSERT_TRUE(placed.ok()) << placed.status().ToString();
  ASSERT_EQ(placed.value().size(), 5u);
  EXPECT_EQ(placed.value()[0].node, "http://a:8775");
  EXPECT_TRUE(placed.value()[0].status.ok());
  EXPECT_EQ(placed.value()[3].node, "http://b:8775");
  EXPECT_EQ(placed.value()[4].status.code(), Code::kResourceExhausted);
  EXPECT_EQ(placed.value()[4].status.wire_code(), "InsufficientInstanceCapacity");
  EXPECT_THAT(placed.value()[4].status.message(), HasSubstr("'i-00000005'"));

  ASSERT_TRUE(cc.Poll().ok());
  Result<std::vector<CcInstance>> d = cc.DescribeInstances({"i-00000003"});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d.value().size(), 1u);
  EXPECT_EQ(d.value()[0].node, "http://b:8775");
  EXPECT_EQ(d.value()[0].instance.state, nc::InstanceState::kExtant);
  EXPECT_EQ(d.value()[0].instance.request.user_data, std::string("\0\x01binary", 8));
  EXPECT_EQ(cc.DescribeInstances({}).value().size(), 4u);

  Result<std::vector<VmTypeAvailability>> res =
      cc.DescribeResources({{"m1.small", 1, 256, 5}, {"c1.medium", 2, 256, 5}});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_EQ(res.value().size(), 2u);
  EXPECT_EQ(res.value()[0].type.name, "m1.small");
  EXPECT_EQ(res.value()[0].available, 0);
  EXPECT_EQ(res.value()[0].max, 4);
  EXPECT_EQ(res.value()[1].max, 2);

  EXPECT_TRUE(cc.RebootInstances({"i-00000001"}).ok());
  EXPECT_EQ(a_->Reboots("i-00000001"), 1);
  EXPECT_EQ(cc.GetConsoleOutput("i-00000001").value(), "console of i-00000001\n");
  Result<std::vector<nc::TerminateResult>> t = cc.TerminateInstances({"i-00000001", "i-0000ffff"});
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t.value().size(), 2u);
  EXPECT_EQ(t.value()[0].previous_state, "Extant");
  EXPECT_EQ(t.value()[1].shutdown_state, "Teardown");
}

TEST_F(CcHttpTest, ErrorsKeepTheirCodeAndWireCode) {
  CcClient cc = Client();
  ::euca::Status reboot = cc.RebootInstances({"i-99999999"});
  EXPECT_EQ(reboot.code(), Code::kNotFound);
  EXPECT_EQ(reboot.wire_code(), "InvalidInstanceID.NotFound");
  EXPECT_EQ(cc.GetConsoleOutput("i-99999999").status().wire_code(), "InvalidInstanceID.NotFound");
  EXPECT_EQ(cc.TerminateInstances({"bad"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(cc.SetNodes({"x", "x"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(cc.DescribeResources({{"zero", 0, 1, 1}}).status().code(), Code::kInvalidArgument);
}

TEST_F(CcHttpTest, UnauthenticatedCallersAreRefusedBeforeAnythingHappens) {
  ASSERT_TRUE(cluster_->SetNodes({"http://a:8775"}).ok());
  CcClient cc = Client("wrong");
  RunInstancesRequest run;
  run.instances.push_back(Request("i-00000001"));
  EXPECT_EQ(cc.RunInstances(run).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(cc.SetNodes({}).code(), Code::kUnauthenticated);
  EXPECT_EQ(a_->runs, 0);
  EXPECT_EQ(cluster_->DescribeNodes().value().size(), 1u);
}

TEST_F(CcHttpTest, MalformedRequestsGetClearErrors) {
  http::Client client;
  http::ClientRequest req;
  req.method = "POST";
  req.url = url_ + "/cc/runInstances";
  req.headers.Set("X-Test-Token", "let-me-in");
  req.body = "{not json";
  Result<http::ClientResponse> r = client.Do(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, 400);
  EXPECT_THAT(r.value().body, HasSubstr("not JSON"));
  req.body = R"({"instances":[{"instance_id":"i-0123abcd"}]})";
  r = client.Do(req);
  EXPECT_EQ(r.value().status, 400);
  EXPECT_THAT(r.value().body, HasSubstr("'image' is required"));
  req.body = R"({"instances":"x"})";
  EXPECT_THAT(client.Do(req).value().body, HasSubstr("'instances' must be an array"));
  req.url = url_ + "/cc/setNodes";
  req.body = R"({"node_urls":[1]})";
  EXPECT_THAT(client.Do(req).value().body, HasSubstr("'node_urls' must be an array of strings"));
  req.url = url_ + "/cc/describeResources";
  req.body = R"({"vm_types":[{"name":"x","cores":"1"}]})";
  EXPECT_THAT(client.Do(req).value().body, HasSubstr("'cores' must be an integer"));
  req.url = url_ + "/cc/formatDisk";
  req.body = "{}";
  EXPECT_EQ(client.Do(req).value().status, 404);
  req.url = url_ + "/nc/describeResource";
  EXPECT_EQ(client.Do(req).value().status, 404);
  req.method = "GET";
  req.url = url_ + "/cc/describeNodes";
  EXPECT_EQ(client.Do(req).value().status, 405);
}

// applyNetwork: a cluster without a network agent refuses (Unsupported); with one, the state
// crosses the wire whole and lands in the agent's driver; a malformed state changes nothing.
TEST_F(CcHttpTest, ApplyNetworkReachesTheAgent) {
  network::DesiredState state;
  state.groups.push_back({"sg-0000000a", "123456789012", "web", 2, "10.1.0.0/28", -1, {{"tcp", 22, 22, "", "sg-0000000a"}}});
  state.endpoints.push_back(
      {"i-00000001", "sg-0000000a", {"sg-0000000a"}, "d0:0d:00:00:00:01", "10.1.0.2", "203.0.113.5", true});
  EXPECT_EQ(Client().ApplyNetwork("plan", state).code(), Code::kUnsupported);

  nc::TempDir dir;
  network::FakeNetwork* applied = nullptr;
  NetworkAgent agent(PosixEnv(), {.state_dir = dir.path(), .netns = "", .runner = nullptr},
                     [&](std::string_view, const network::NetworkOptions&) -> Result<std::unique_ptr<network::Network>> {
                       auto net = std::make_unique<network::FakeNetwork>();
                       applied = net.get();
                       return std::unique_ptr<network::Network>(std::move(net));
                     });
  Cluster cluster(nodes_.Connector(), SchedulePolicy::kGreedy, clock_, {.network = &agent});
  auto server = http::Server::Start({}, MakeCcHandler(cluster, [](const http::RequestHead&, std::string_view) {
    return Status::Ok();
  }));
  ASSERT_TRUE(server.ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(server.value()->port());
  CcClient cc(url, [](http::ClientRequest&) { return Status::Ok(); });
  ASSERT_TRUE(cc.ApplyNetwork("plan", state).ok());
  ASSERT_NE(applied, nullptr);
  EXPECT_EQ(applied->applied.back(), state);

  http::Client client;
  http::ClientRequest req;
  req.method = "POST";
  req.url = url + "/cc/applyNetwork";
  req.body = R"({"driver":"plan","state":{"mode":"MANAGED","groups":"x"}})";
  Result<http::ClientResponse> r = client.Do(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, 400);
  EXPECT_THAT(r.value().body, HasSubstr(".groups is not an array"));
  req.body = R"({"state":{"mode":"MANAGED"}})";
  EXPECT_THAT(client.Do(req).value().body, HasSubstr("'driver' is required"));
  EXPECT_EQ(applied->applied.size(), 1u);
}

TEST(CcJsonTest, TypesRoundTrip) {
  NodeStatus s{"http://n:1", "up", {}, 3, 1234, ""};
  s.resource.cores_max = 8;
  s.resource.cores_available = 5;
  NodeStatus back = NodeStatusFromJson(ToJson(s)).value();
  EXPECT_EQ(back.url, s.url);
  EXPECT_EQ(back.instances, 3);
  EXPECT_EQ(back.last_poll_ms, 1234);
  EXPECT_EQ(back.resource.cores_available, 5);

  Placement p{"i-00000001", "", Status(Code::kResourceExhausted, "full", "InsufficientInstanceCapacity")};
  Placement pb = PlacementFromJson(ToJson(p)).value();
  EXPECT_EQ(pb.status.code(), Code::kResourceExhausted);
  EXPECT_EQ(pb.status.message(), "full");
  EXPECT_EQ(pb.status.wire_code(), "InsufficientInstanceCapacity");
  EXPECT_FALSE(ToJson(Placement{"i-00000001", "n", Status::Ok()}).contains("error"));

  VmTypeAvailability a{{"m1.small", 1, 256, 5}, 7, 9};
  VmTypeAvailability ab = VmTypeAvailabilityFromJson(ToJson(a)).value();
  EXPECT_EQ(ab.type, a.type);
  EXPECT_EQ(ab.available, 7);
  EXPECT_EQ(ab.max, 9);
  EXPECT_EQ(VmTypeFromJson(Json{{"name", "x"}, {"cores", 0}, {"memory_mib", 1}}).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace euca::cc
