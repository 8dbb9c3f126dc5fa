#include "core/nc/nc_http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/http/server.h"
#include "core/nc/node.h"
#include "core/nc/test_support.h"
#include "drivers/hypervisor/fake_hypervisor.h"

namespace euca::nc {
namespace {

using ::testing::HasSubstr;

// The real HTTP server and client on loopback in front of a Node on fakes.
class NcHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fetcher_.Put("b/root.manifest.xml", std::string(4096, 'r'));
    NodeOptions o;
    o.root = dir_.path() + "/nc";
    node_ = std::make_unique<Node>(PosixEnv(), runner_, clock_, hypervisor_, fetcher_, o);
    ASSERT_TRUE(node_->Open().ok());
    auto auth = [this](const http::RequestHead& head, std::string_view) -> Status {
      if (head.headers.Get("X-Test-Token") != "let-me-in") return Unauthenticated("no token");
      return Status::Ok();
    };
    Result<std::unique_ptr<http::Server>> server = http::Server::Start({}, MakeNcHandler(*node_, auth));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server.value());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  NcClient Client(std::string token = "let-me-in") {
    return NcClient(url_, [token](http::ClientRequest& r) {
      r.headers.Set("X-Test-Token", token);
      return Status::Ok();
    });
  }

  RunInstanceRequest Request() {
    RunInstanceRequest r;
    r.instance_id = "i-0123abcd";
    r.image = {"emi-00000001", "b/root.manifest.xml"};
    r.vm_type = {"m1.small", 1, 128, 1};
    r.public_key = "ssh-ed25519 AAAA key";
    r.user_data = std::string("\0\x01binary", 8);
    return r;
  }

  TempDir dir_;
  FakeClock clock_;
  RecordingCommandRunner runner_;
  hypervisor::FakeHypervisor hypervisor_;
  FakeFetcher fetcher_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
};

TEST_F(NcHttpTest, EveryOperationRoundTrips) {
  NcClient nc = Client();
  Result<Instance> run = nc.RunInstance(Request());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run.value().request.user_data, std::string("\0\x01binary", 8));
  node_->WaitIdleForTest();
  Result<std::vector<Instance>> d = nc.DescribeInstances({});
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d.value().size(), 1u);
  EXPECT_EQ(d.value()[0].state, InstanceState::kExtant);
  EXPECT_EQ(d.value()[0].request.public_key, "ssh-ed25519 AAAA key");
  Result<NodeResource> res = nc.DescribeResource();
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res.value().cores_available, res.value().cores_max - 1);
  EXPECT_TRUE(nc.RebootInstance("i-0123abcd").ok());
  EXPECT_TRUE(nc.StartNetwork({"br0"}).ok());
  EXPECT_TRUE(nc.GetConsoleOutput("i-0123abcd").ok());
  Result<TerminateResult> t = nc.TerminateInstance("i-0123abcd");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().previous_state, "Extant");
}

TEST_F(NcHttpTest, ErrorsKeepTheirCodeAndWireCode) {
  NcClient nc = Client();
  Status reboot = nc.RebootInstance("i-99999999");
  EXPECT_EQ(reboot.code(), Code::kNotFound);
  EXPECT_EQ(reboot.wire_code(), "InvalidInstanceID.NotFound");
  RunInstanceRequest big = Request();
  big.vm_type.cores = 99;
  Result<Instance> r = nc.RunInstance(big);
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(r.status().wire_code(), "InsufficientInstanceCapacity");
  EXPECT_EQ(nc.TerminateInstance("bad").status().code(), Code::kInvalidArgument);
}

TEST_F(NcHttpTest, UnauthenticatedCallersAreRefusedBeforeAnythingHappens) {
  NcClient nc = Client("wrong");
  Result<Instance> r = nc.RunInstance(Request());
  EXPECT_EQ(r.status().code(), Code::kUnauthenticated);
  node_->WaitIdleForTest();
  EXPECT_EQ(hypervisor_.starts_for_test(), 0);
}

TEST_F(NcHttpTest, MalformedRequestsGetClearErrors) {
  http::Client client;
  http::ClientRequest req;
  req.method = "POST";
  req.url = url_ + "/nc/runInstance";
  req.headers.Set("X-Test-Token", "let-me-in");
  req.body = "{not json";
  Result<http::ClientResponse> r = client.Do(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, 400);
  EXPECT_THAT(r.value().body, HasSubstr("not JSON"));
  req.body = R"({"instance_id":"i-0123abcd"})";
  r = client.Do(req);
  EXPECT_EQ(r.value().status, 400);
  EXPECT_THAT(r.value().body, HasSubstr("'image' is required"));
  req.url = url_ + "/nc/formatDisk";
  req.body = "{}";
  EXPECT_EQ(client.Do(req).value().status, 404);
  req.method = "GET";
  req.url = url_ + "/nc/describeResource";
  EXPECT_EQ(client.Do(req).value().status, 405);
}

}  // namespace
}  // namespace euca::nc
