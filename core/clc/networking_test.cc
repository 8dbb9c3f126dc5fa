#include "core/clc/networking.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "core/base/env.h"
#include "core/base/error_map.h"
#include "core/clc/addresses.h"
#include "core/clc/cloud.h"
#include "core/clc/fake_cluster.h"
#include "core/clc/properties.h"
#include "core/clc/security_groups.h"
#include "core/nc/test_support.h"
#include "state/memory_store.h"

namespace euca::clc {
namespace {

using ::testing::HasSubstr;

const model::Principal kAlice{"alice", "200000000002", "admin", "AIDAALICE"};
const model::Principal kBob{"bob", "300000000003", "admin", "AIDABOB"};

class NetworkingTest : public ::testing::Test {
 protected:
  NetworkingTest() {
    cluster_ = std::make_shared<FakeCluster>(1, FakeCluster::NodeSize{8, 256 * 64, 5 * 64});
    dir_.Add("zone-a", cluster_);
    Put(PublicTestImage(kAlice.account_id, "emi-00000001", "guest", "b/guest.manifest.xml"));
    compute_.SetNetworkHook(&hook_);
  }

  void Put(const state::Object& o) {
    ASSERT_TRUE(store_.Transact({"test", "seed", ""}, [&](state::Txn& t) { return t.Put(o); }).ok());
  }
  void SetProperty(const std::string& name, const std::string& value) {
    Put({"properties", name, "", "", model::ToJson(model::Property{name, value}), std::nullopt});
  }
  std::vector<model::Instance> Run(const model::Principal& who, int count = 1, std::vector<std::string> groups = {},
                                   std::string addressing = "") {
    RunInstancesRequest r;
    r.image_id = "emi-00000001";
    r.min_count = r.max_count = count;
    r.groups = std::move(groups);
    r.addressing = std::move(addressing);
    auto res = compute_.RunInstances(who, r);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? res->instances : std::vector<model::Instance>{};
  }
  const network::DesiredState& Last() {
    static const network::DesiredState kEmpty;
    return net_.applied.empty() ? kEmpty : net_.applied.back();
  }
  const network::Group* GroupNamed(const std::string& name) {
    for (const auto& g : Last().groups)
      if (g.name == name) return &g;
    return nullptr;
  }
  const network::Endpoint* EndpointOf(const std::string& id) {
    for (const auto& e : Last().endpoints)
      if (e.instance_id == id) return &e;
    return nullptr;
  }
  model::Instance Stored(const std::string& id) {
    model::Instance out;
    EXPECT_TRUE(store_
                    .Read([&](state::Txn& t) -> Status {
                      EUCA_ASSIGN_OR_RETURN(auto o, t.Get("instances", id));
                      if (o) out = model::InstanceFromJson(o->body);
                      return Status::Ok();
                    })
                    .ok());
    return out;
  }
  PermissionRequest Tcp(int from, int to, std::string cidr) {
    PermissionRequest p;
    p.protocol = "tcp";
    p.from_port = from;
    p.to_port = to;
    p.cidr = std::move(cidr);
    return p;
  }

  state::MemoryStateStore store_;
  FakeClock clock_{1'700'000'000'000};
  FixedDirectory dir_;
  std::shared_ptr<FakeCluster> cluster_;
  network::FakeNetwork net_;
  NetworkApplier applier_{store_, &net_};
  InstanceNetworking hook_{clock_, &applier_};
  Compute compute_{store_, clock_, dir_};
  SecurityGroups groups_{store_, clock_, [this] { (void)applier_.Apply(); }};
  Addresses addresses_{store_, clock_, [this] { (void)applier_.Apply(); }};
};

TEST(NetworkConfigTest, ParsesAddresses) {
  EXPECT_EQ(ParseIpv4("10.1.2.3"), 0x0a010203u);
  EXPECT_FALSE(ParseIpv4("10.1.2"));
  EXPECT_FALSE(ParseIpv4("10.1.2.256"));
  EXPECT_FALSE(ParseIpv4("10.1.2.3.4"));
  EXPECT_FALSE(ParseIpv4("01.1.2.3"));
  EXPECT_EQ(FormatIpv4(0xcb007105u), "203.0.113.5");
  auto cidr = ParseCidr("10.0.0.0/8");
  ASSERT_TRUE(cidr);
  EXPECT_EQ(cidr->second, 8);
  EXPECT_FALSE(ParseCidr("10.0.0.0/33"));
  EXPECT_FALSE(ParseCidr("10.0.0.0"));
}

TEST_F(NetworkingTest, LaunchGivesEachInstanceAnAddressInItsGroupsBlock) {
  SetProperty("network.driver", "linux");  // NICs join the bridges the driver makes
  auto instances = Run(kAlice, 2);
  ASSERT_EQ(instances.size(), 2u);
  // The default group was made, got network 2 = 10.1.0.0/27 (32 per net): +2, +3.
  EXPECT_EQ(instances[0].private_ip, "10.1.0.2");
  EXPECT_EQ(instances[1].private_ip, "10.1.0.3");
  EXPECT_EQ(instances[0].private_mac, "d0:0d:" + instances[0].id.substr(2, 2) + ":" + instances[0].id.substr(4, 2) +
                                          ":" + instances[0].id.substr(6, 2) + ":" + instances[0].id.substr(8, 2));
  EXPECT_EQ(Stored(instances[0].id).private_ip, "10.1.0.2");
  const network::Group* g = GroupNamed("default");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->index, 2);
  EXPECT_EQ(g->subnet, "10.1.0.0/27");
  EXPECT_EQ(g->vlan, -1);            // MANAGED-NOVLAN by default
  ASSERT_EQ(g->ingress.size(), 1u);  // the default group allows itself
  EXPECT_EQ(g->ingress[0].source_group, g->id);
  ASSERT_NE(EndpointOf(instances[1].id), nullptr);
  EXPECT_EQ(EndpointOf(instances[1].id)->group_id, g->id);
  // The node controller is told the same.
  auto described = cluster_->DescribeInstances({instances[0].id});
  ASSERT_TRUE(described.ok());
  ASSERT_EQ(described->size(), 1u);
  const nc::NetParams& net = (*described)[0].instance.request.net;
  EXPECT_EQ(net.private_ip, "10.1.0.2");
  EXPECT_EQ(net.private_mac, instances[0].private_mac);
  EXPECT_EQ(net.bridge, "eucabr2");
  EXPECT_EQ(net.vlan, -1);
  // A second group gets the next block; MANAGED tags it.
  SetProperty("network.mode", "MANAGED");
  ASSERT_TRUE(groups_.Create(kAlice, "web", "web servers").ok());
  auto web = Run(kAlice, 1, {"web"});
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].private_ip, "10.1.0.34");
  ASSERT_NE(GroupNamed("web"), nullptr);
  EXPECT_EQ(GroupNamed("web")->vlan, 3);
}

TEST_F(NetworkingTest, ThePlanDriverGivesNoBridge) {
  auto instances = Run(kAlice, 1);
  ASSERT_EQ(instances.size(), 1u);
  auto described = cluster_->DescribeInstances({instances[0].id});
  ASSERT_TRUE(described.ok());
  ASSERT_EQ(described->size(), 1u);
  EXPECT_EQ((*described)[0].instance.request.net.bridge, "");  // the host has no such bridge
  EXPECT_EQ((*described)[0].instance.request.net.private_ip, "10.1.0.2");
}

TEST_F(NetworkingTest, UnknownGroupFailsTheLaunchAndWritesNothing) {
  RunInstancesRequest r;
  r.image_id = "emi-00000001";
  r.groups = {"nope"};
  auto res = compute_.RunInstances(kAlice, r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().wire_code(), "InvalidGroup.NotFound");
  EXPECT_EQ(compute_.InFlightForTest(), 0);
  EXPECT_TRUE(net_.applied.empty());
}

TEST_F(NetworkingTest, AuthorizeAndRevokeReachTheAppliedState) {
  ASSERT_TRUE(groups_.Create(kAlice, "web", "web servers").ok());
  Run(kAlice, 1, {"web"});
  ASSERT_TRUE(groups_.Authorize(kAlice, "web", {Tcp(22, 22, "10.0.0.0/8")}).ok());
  const network::Group* g = GroupNamed("web");
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->ingress.size(), 1u);
  EXPECT_EQ(g->ingress[0], (network::IngressRule{"tcp", 22, 22, "10.0.0.0/8", ""}));
  // The same rule again is a duplicate; nothing more is applied.
  size_t applies = net_.applied.size();
  auto dup = groups_.Authorize(kAlice, "web", {Tcp(22, 22, "10.0.0.0/8")});
  EXPECT_EQ(dup.wire_code(), "InvalidPermission.Duplicate");
  EXPECT_EQ(net_.applied.size(), applies);
  ASSERT_TRUE(groups_.Revoke(kAlice, "web", {Tcp(22, 22, "10.0.0.0/8")}).ok());
  ASSERT_NE(GroupNamed("web"), nullptr);
  EXPECT_TRUE(GroupNamed("web")->ingress.empty());
  EXPECT_EQ(groups_.Revoke(kAlice, "web", {Tcp(22, 22, "10.0.0.0/8")}).wire_code(), "InvalidPermission.NotFound");
}

TEST_F(NetworkingTest, BadRulesAreRefused) {
  ASSERT_TRUE(groups_.Create(kAlice, "web", "web servers").ok());
  EXPECT_EQ(groups_.Authorize(kAlice, "web", {Tcp(80, 22, "")}).code(), Code::kInvalidArgument);
  EXPECT_EQ(groups_.Authorize(kAlice, "web", {Tcp(0, 70000, "")}).code(), Code::kInvalidArgument);
  EXPECT_EQ(groups_.Authorize(kAlice, "web", {Tcp(22, 22, "10.0.0.0/40")}).code(), Code::kInvalidArgument);
  PermissionRequest bad = Tcp(22, 22, "");
  bad.protocol = "gre";
  EXPECT_EQ(groups_.Authorize(kAlice, "web", {bad}).code(), Code::kInvalidArgument);
  EXPECT_EQ(groups_.Authorize(kAlice, "nope", {Tcp(22, 22, "")}).wire_code(), "InvalidGroup.NotFound");
  auto described = groups_.Describe(kAlice, {"web"}, {});
  ASSERT_TRUE(described.ok());
  EXPECT_TRUE((*described)[0].rules.empty());
}

TEST_F(NetworkingTest, SourceGroupOfAnotherAccount) {
  ASSERT_TRUE(groups_.Create(kBob, "clients", "bob's clients").ok());
  ASSERT_TRUE(groups_.Create(kAlice, "web", "web servers").ok());
  PermissionRequest p;
  p.protocol = "tcp";
  p.from_port = p.to_port = 443;
  p.source_group_name = "clients";
  p.source_group_owner = kBob.account_id;
  ASSERT_TRUE(groups_.Authorize(kAlice, "web", {p}).ok());
  Run(kAlice, 1, {"web"});
  // Bob's group has no instances yet: it is in the state without a network (it could hold
  // instances as their second group), and the rule naming it matches no address yet.
  ASSERT_NE(GroupNamed("web"), nullptr);
  ASSERT_NE(GroupNamed("clients"), nullptr);
  EXPECT_EQ(GroupNamed("clients")->index, 0);
  ASSERT_EQ(GroupNamed("web")->ingress.size(), 1u);
  Run(kBob, 1, {"clients"});
  EXPECT_NE(GroupNamed("clients")->index, 0);
  ASSERT_NE(GroupNamed("web"), nullptr);
  ASSERT_EQ(GroupNamed("web")->ingress.size(), 1u);
  ASSERT_NE(GroupNamed("clients"), nullptr);
  EXPECT_EQ(GroupNamed("web")->ingress[0].source_group, GroupNamed("clients")->id);
  // Bob cannot delete a group Alice's rule names.
  EXPECT_EQ(groups_.Delete(kBob, "clients").wire_code(), "InvalidGroup.InUse");
}

TEST_F(NetworkingTest, DeleteGroupInUseIsRefusedAndChangesNothing) {
  ASSERT_TRUE(groups_.Create(kAlice, "web", "web servers").ok());
  auto instances = Run(kAlice, 1, {"web"});
  size_t applies = net_.applied.size();
  Status s = groups_.Delete(kAlice, "web");
  EXPECT_EQ(s.wire_code(), "InvalidGroup.InUse");
  EXPECT_THAT(s.message(), HasSubstr(instances[0].id));
  EXPECT_EQ(net_.applied.size(), applies);
  EXPECT_TRUE(groups_.Describe(kAlice, {"web"}, {}).ok());
  EXPECT_EQ(groups_.Delete(kAlice, "default").wire_code(), "CannotDelete");
  // Once the instance is terminated the group goes.
  ASSERT_TRUE(compute_.TerminateInstances(kAlice, {instances[0].id}).ok());
  EXPECT_EQ(groups_.Delete(kAlice, "web").wire_code(), "InvalidGroup.InUse");  // shutting down
  ASSERT_TRUE(compute_.Reconcile().ok());
  EXPECT_TRUE(groups_.Delete(kAlice, "web").ok());
  EXPECT_EQ(groups_.Describe(kAlice, {"web"}, {}).status().wire_code(), "InvalidGroup.NotFound");
}

TEST_F(NetworkingTest, AddressesAssociateReleaseAndTerminate) {
  SetProperty("network.public-ips", "203.0.113.1-203.0.113.2");
  auto instances = Run(kAlice, 2);
  auto a = addresses_.Allocate(kAlice);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->public_ip, "203.0.113.1");
  ASSERT_TRUE(addresses_.Associate(kAlice, "203.0.113.1", instances[0].id).ok());
  ASSERT_NE(EndpointOf(instances[0].id), nullptr);
  EXPECT_EQ(EndpointOf(instances[0].id)->public_ip, "203.0.113.1");
  EXPECT_EQ(Stored(instances[0].id).public_ip, "203.0.113.1");
  // Bob cannot touch it.
  EXPECT_EQ(addresses_.Associate(kBob, "203.0.113.1", instances[0].id).wire_code(), "InvalidAddress.NotFound");
  // Reassociation moves it.
  ASSERT_TRUE(addresses_.Associate(kAlice, "203.0.113.1", instances[1].id).ok());
  EXPECT_EQ(EndpointOf(instances[0].id)->public_ip, "");
  EXPECT_EQ(EndpointOf(instances[1].id)->public_ip, "203.0.113.1");
  EXPECT_EQ(Stored(instances[0].id).public_ip, "");
  // Release disassociates first.
  ASSERT_TRUE(addresses_.Release(kAlice, "203.0.113.1").ok());
  EXPECT_EQ(EndpointOf(instances[1].id)->public_ip, "");
  EXPECT_EQ(Stored(instances[1].id).public_ip, "");
  auto listed = addresses_.Describe(kAlice, {}, {});
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  // Terminate: the endpoint is gone.
  ASSERT_TRUE(compute_.TerminateInstances(kAlice, {instances[0].id}).ok());
  EXPECT_EQ(EndpointOf(instances[0].id), nullptr);
  EXPECT_NE(EndpointOf(instances[1].id), nullptr);
}

TEST_F(NetworkingTest, PublicAddressAtLaunchReturnsToThePoolAtTerminate) {
  SetProperty("network.public-ips", "203.0.113.7");
  auto instances = Run(kAlice, 1, {}, "public");
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].public_ip, "203.0.113.7");
  EXPECT_EQ(EndpointOf(instances[0].id)->public_ip, "203.0.113.7");
  EXPECT_EQ(addresses_.Allocate(kBob).status().wire_code(), "AddressLimitExceeded");
  ASSERT_TRUE(compute_.TerminateInstances(kAlice, {instances[0].id}).ok());
  auto again = addresses_.Allocate(kBob);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->public_ip, "203.0.113.7");
}

TEST_F(NetworkingTest, NoPublicAddressesOutsideTheManagedModes) {
  SetProperty("network.public-ips", "203.0.113.7");
  SetProperty("network.mode", "SYSTEM");
  auto a = addresses_.Allocate(kAlice);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("SYSTEM"));
  // SYSTEM: a MAC, no address (the LAN's DHCP), the configured bridge.
  auto instances = Run(kAlice, 1);
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].private_ip, "");
  EXPECT_EQ(Last().bridge, "br0");
  ASSERT_NE(EndpointOf(instances[0].id), nullptr);
  EXPECT_TRUE(Last().groups.empty());
}

TEST_F(NetworkingTest, StaticModeHandsOutTheMacMap) {
  SetProperty("network.mode", "STATIC");
  SetProperty("network.mac-map", "d0:0d:00:00:00:01=192.168.1.10 d0:0d:00:00:00:02=192.168.1.11");
  SetProperty("network.metadata-target", "192.168.1.1:8773");
  auto first = Run(kAlice, 2);
  ASSERT_EQ(first.size(), 2u);
  // STATIC instances reach the metadata service too (IP:PORT; the flat network has no gateway of ours).
  ASSERT_FALSE(net_.applied.empty());
  EXPECT_EQ(net_.applied.back().metadata_target, "192.168.1.1:8773");
  EXPECT_EQ(first[0].private_mac, "d0:0d:00:00:00:01");
  EXPECT_EQ(first[1].private_ip, "192.168.1.11");
  RunInstancesRequest r;
  r.image_id = "emi-00000001";
  EXPECT_EQ(compute_.RunInstances(kAlice, r).status().code(), Code::kResourceExhausted);
  ASSERT_TRUE(compute_.TerminateInstances(kAlice, {first[0].id}).ok());
  auto again = Run(kAlice, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].private_ip, "192.168.1.10");
}

// With a remote zone, this host serves the in-process zone's instances and the remote
// cluster controller gets its own view: each sees the other's instances as elsewhere (still
// sources of group rules). A cluster that fails is named; the others are applied anyway.
TEST_F(NetworkingTest, RemoteZonesGetTheirOwnView) {
  auto remote = std::make_shared<FakeCluster>(1, FakeCluster::NodeSize{8, 256 * 64, 5 * 64});
  dir_.Add("zone-b", remote, /*remote=*/true);
  applier_.SetClusters(&dir_);
  SetProperty("network.driver", "plan");
  RunInstancesRequest r;
  r.image_id = "emi-00000001";
  r.min_count = r.max_count = 1;
  r.zone = "zone-a";
  auto here = compute_.RunInstances(kAlice, r);
  r.zone = "zone-b";
  auto there = compute_.RunInstances(kAlice, r);
  ASSERT_TRUE(here.ok() && there.ok());
  const std::string a = here->instances[0].id, b = there->instances[0].id;

  ASSERT_NE(EndpointOf(a), nullptr);
  ASSERT_NE(EndpointOf(b), nullptr);
  EXPECT_FALSE(EndpointOf(a)->elsewhere);
  EXPECT_TRUE(EndpointOf(b)->elsewhere);
  ASSERT_FALSE(remote->network_applied.empty());
  EXPECT_EQ(remote->network_driver, "plan");
  const network::DesiredState& view = remote->network_applied.back();
  ASSERT_EQ(view.endpoints.size(), 2u);
  for (const auto& e : view.endpoints) EXPECT_EQ(e.elsewhere, e.instance_id != b) << e.instance_id;
  EXPECT_EQ(view.groups, Last().groups);  // both hold every network and rule

  // A failing cluster is named and returned; this host is still applied.
  remote->FailNetwork(Status(Code::kUnavailable, "connection refused"));
  const size_t local_before = net_.applied.size();
  Status failed = applier_.Apply();
  EXPECT_EQ(failed.code(), Code::kUnavailable);
  EXPECT_THAT(failed.message(), HasSubstr("cluster 'zone-b'"));
  EXPECT_EQ(net_.applied.size(), local_before + 1);
  remote->FailNetwork(Status::Ok());
  EXPECT_TRUE(applier_.Apply().ok());
}

// When every zone is remote, this host applies nothing: the cluster controllers do.
TEST(NetworkApplierTest, AllRemoteZonesLeaveThisHostAlone) {
  state::MemoryStateStore store;
  network::FakeNetwork net;
  auto remote = std::make_shared<FakeCluster>(1, FakeCluster::NodeSize{8, 256 * 64, 5 * 64});
  FixedDirectory dir;
  dir.Add("zone-r", remote, /*remote=*/true);
  NetworkApplier applier(store, &net);
  applier.SetClusters(&dir);
  EXPECT_TRUE(applier.Apply().ok());
  EXPECT_TRUE(net.applied.empty());
  EXPECT_EQ(remote->network_applied.size(), 1u);
}

TEST_F(NetworkingTest, ApplyFailureKeepsTheRecords) {
  ASSERT_TRUE(groups_.Create(kAlice, "web", "web servers").ok());
  Run(kAlice, 1, {"web"});
  std::vector<Status> reported;
  NetworkApplier failing(store_, &net_, Status::Ok(), nullptr, "", [&](const Status& s) { reported.push_back(s); });
  net_.fail_next = Unavailable("iptables-restore failed");
  EXPECT_EQ(failing.Apply().code(), Code::kUnavailable);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_THAT(reported[0].message(), HasSubstr("iptables-restore"));
  EXPECT_FALSE(failing.LastStatus().ok());
  // The next apply succeeds with everything.
  EXPECT_TRUE(failing.Apply().ok());
  EXPECT_NE(GroupNamed("web"), nullptr);
}

TEST_F(NetworkingTest, ConcurrentAppliesCoalesce) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([this] { EXPECT_TRUE(applier_.Apply().ok()); });
  for (auto& t : threads) t.join();
  EXPECT_GE(applier_.applies(), 1u);
  EXPECT_LE(applier_.applies(), 8u);
  EXPECT_EQ(net_.applied.size(), applier_.applies());
}

TEST_F(NetworkingTest, LayoutChangesWaitForInstancesToEnd) {
  auto instances = Run(kAlice, 1);
  auto change = [&](const std::string& name, const std::string& value) {
    return store_
        .Transact({"test", "modify", ""},
                  [&](state::Txn& t) -> Status {
                    EUCA_RETURN_IF_ERROR(
                        t.Put({"properties", name, "", "", model::ToJson(model::Property{name, value}), std::nullopt}));
                    return CheckNetworkPropertyChanges(t, {name});
                  })
        .status();
  };
  Status refused = change("network.subnet", "10.2.0.0");
  EXPECT_EQ(refused.code(), Code::kConflict);
  EXPECT_THAT(refused.message(), HasSubstr(instances[0].id));
  EXPECT_TRUE(change("network.dns", "10.0.0.53").ok());
  ASSERT_TRUE(compute_.TerminateInstances(kAlice, {instances[0].id}).ok());
  cluster_->Teardown(instances[0].id, "");
  ASSERT_TRUE(compute_.Reconcile().ok());
  EXPECT_EQ(change("network.subnet", "10.2.0.1").code(), Code::kInvalidArgument);  // host bits
  EXPECT_TRUE(change("network.subnet", "10.2.0.0").ok());
  auto again = Run(kAlice, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].private_ip, "10.2.0.2");
}

}  // namespace
}  // namespace euca::clc

namespace euca::clc {
namespace {

// A remote command exits as the embedded one does: the wire codes map back to their codes.
TEST(NetworkErrorsTest, WireCodesMapBack) {
  EXPECT_EQ(CodeOfEc2Error("InvalidGroup.InUse", 400), Code::kConflict);
  EXPECT_EQ(CodeOfEc2Error("InvalidGroup.NotFound", 400), Code::kNotFound);
  EXPECT_EQ(CodeOfEc2Error("InvalidPermission.Duplicate", 400), Code::kAlreadyExists);
  EXPECT_EQ(CodeOfEc2Error("AddressLimitExceeded", 400), Code::kResourceExhausted);
  EXPECT_EQ(HttpStatus(Status(Code::kConflict, "x", "InvalidGroup.InUse")), 400);
  EXPECT_EQ(HttpStatus(Status(Code::kResourceExhausted, "x", "AddressLimitExceeded")), 400);
}

}  // namespace
}  // namespace euca::clc

namespace euca::clc {
namespace {

std::string Canonical(const std::string& name, const std::string& value) {
  auto def = FindProperty(name);
  if (!def.ok()) return "unknown";
  auto v = CanonicalPropertyValue(**def, value);
  return v.ok() ? *v : "bad";
}

TEST(NetworkPropertiesTest, ValuesAreCheckedAndCanonical) {
  EXPECT_EQ(Canonical("network.mode", "managed"), "MANAGED");
  EXPECT_EQ(Canonical("network.mode", "vpc"), "bad");
  EXPECT_EQ(Canonical("network.driver", "linux"), "linux");
  EXPECT_EQ(Canonical("network.driver", "ovs"), "bad");
  EXPECT_EQ(Canonical("network.subnet", "10.2.0.0"), "10.2.0.0");
  EXPECT_EQ(Canonical("network.subnet", "10.2.0"), "bad");
  EXPECT_EQ(Canonical("network.netmask", "255.255.240.0"), "255.255.240.0");
  EXPECT_EQ(Canonical("network.netmask", "255.0.255.0"), "bad");
  EXPECT_EQ(Canonical("network.addrs-per-net", "64"), "64");
  EXPECT_EQ(Canonical("network.addrs-per-net", "48"), "bad");
  EXPECT_EQ(Canonical("network.addrs-per-net", "8"), "bad");
  EXPECT_EQ(Canonical("network.addrs-per-net", "4096"), "bad");
  EXPECT_EQ(Canonical("network.public-ips", "1.2.3.4, 1.2.3.5-1.2.3.9"), "1.2.3.4 1.2.3.5-1.2.3.9");
  EXPECT_EQ(Canonical("network.public-ips", "1.2.3.9-1.2.3.5"), "bad");
  EXPECT_EQ(Canonical("network.public-ips", "1.0.0.0-1.2.0.0"), "bad");  // more than 65536
  EXPECT_EQ(Canonical("network.public-ips", ""), "");
  EXPECT_EQ(Canonical("network.dns", "8.8.8.8,1.1.1.1"), "8.8.8.8 1.1.1.1");
  EXPECT_EQ(Canonical("network.mac-map", "D0:0D:00:00:00:01=10.0.0.5"), "d0:0d:00:00:00:01=10.0.0.5");
  EXPECT_EQ(Canonical("network.mac-map", "d0:0d:00:00:00:01=10.0.0.5 d0:0d:00:00:00:01=10.0.0.6"), "bad");
  EXPECT_EQ(Canonical("network.mac-map", "d0:0d:00:00:00=10.0.0.5"), "bad");
  EXPECT_EQ(Canonical("network.bridge", "virbr0"), "virbr0");
  EXPECT_EQ(Canonical("network.bridge", "a very long bridge name"), "bad");
  EXPECT_EQ(Canonical("network.metadata-target", "10.0.0.1:8773"), "10.0.0.1:8773");
  EXPECT_EQ(Canonical("network.metadata-target", "10.0.0.1"), "bad");
  EXPECT_EQ(Canonical("network.metadata-target", ":8773"), ":8773");  // each network's gateway
  EXPECT_EQ(Canonical("network.metadata-target", ":0"), "bad");
  EXPECT_EQ(Canonical("network.default-addressing", "PUBLIC"), "public");
}

}  // namespace
}  // namespace euca::clc

namespace euca::clc {
namespace {

// The cloud assembled: its EC2 actions apply through the network it was given.
TEST(CloudNetworkTest, ActionsApplyThroughTheCloudsNetwork) {
  state::MemoryStateStore store;
  FakeClock clock{1'700'000'000'000};
  network::FakeNetwork net;
  CloudOptions options;
  options.network = &net;
  Cloud cloud(store, PosixEnv(), clock, "/nonexistent/home", std::move(options));
  auto call = [&](const std::string& action, std::vector<std::pair<std::string, std::string>> params) {
    api::Ec2Request request(action, api::kEc2Version, "req-1", std::move(params));
    api::Ec2Response response(action, api::kEc2Version, "req-1");
    return cloud.Dispatch(kAlice, request, response);
  };
  ASSERT_TRUE(call("CreateSecurityGroup", {{"GroupName", "web"}, {"GroupDescription", "web"}}).ok());
  ASSERT_TRUE(call("AuthorizeSecurityGroupIngress",
                   {{"GroupName", "web"}, {"IpProtocol", "tcp"}, {"FromPort", "22"}, {"ToPort", "22"}})
                  .ok());
  EXPECT_EQ(net.applied.size(), 1u);  // the create changes no network; the rule is applied
  EXPECT_TRUE(cloud.ApplyNetwork().ok());
  EXPECT_EQ(net.applied.size(), 2u);
  EXPECT_TRUE(call("AllocateAddress", {}).code() == Code::kResourceExhausted);
}

}  // namespace
}  // namespace euca::clc

namespace euca::clc {
namespace {

// Appliers of several processes on one cloud take turns (a lock file beside the record) and
// record what they applied.
TEST(NetworkApplierTest, RecordsTheStateAppliedUnderALock) {
  nc::TempDir dir;
  state::MemoryStateStore store;
  network::FakeNetwork a_net, b_net;
  const std::string record = dir.path() + "/network";
  NetworkApplier a(store, &a_net, Status::Ok(), &PosixEnv(), record);
  NetworkApplier b(store, &b_net, Status::Ok(), &PosixEnv(), record);
  std::thread other([&] { EXPECT_TRUE(b.Apply().ok()); });
  EXPECT_TRUE(a.Apply().ok());
  other.join();
  EXPECT_TRUE(PosixEnv().Exists(record + "/apply.lock"));
  auto text = PosixEnv().ReadFile(record + "/desired-state.json");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(state::Json::parse(*text).value("mode", ""), "MANAGED-NOVLAN");
  // A driver that could not open fails every apply, naming why.
  NetworkApplier broken(store, nullptr, InvalidArgument("network driver 'ovs' is not one of plan, linux"), nullptr, "",
                        [](const Status&) {});
  EXPECT_THAT(broken.Apply().message(), HasSubstr("'ovs'"));
}

}  // namespace
}  // namespace euca::clc
