#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "drivers/network/network.h"
#include "drivers/network/state_json.h"
#include "drivers/network/test_support.h"

namespace euca::network {
namespace {

namespace fs = std::filesystem;

using testing::ReadAll;

std::string Concatenate(const Rendered& r) {
  std::string out = "==> links <==\n" + r.links + "==> filter.rules <==\n" + r.filter + "==> nat.rules <==\n" + r.nat;
  if (!r.dhcp_conf.empty()) out += "==> dhcp/dnsmasq.conf <==\n" + r.dhcp_conf + "==> dhcp/hosts <==\n" + r.dhcp_hosts;
  return out;
}

// tests/data/network/<case>.json (a DesiredState) -> <case>.out (every file the plan driver
// writes, concatenated). EUCA_TEST_REGENERATE=1 rewrites the .out files.
TEST(RenderTest, GoldenFiles) {
  fs::path dir = fs::path(EUCA_SOURCE_DIR) / "tests/data/network";
  const char* regen = std::getenv("EUCA_TEST_REGENERATE");
  bool regenerate = regen != nullptr && std::string(regen) == "1";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++cases;
    SCOPED_TRACE(entry.path().filename().string());
    Result<DesiredState> parsed = DesiredStateFromJson(Json::parse(ReadAll(entry.path())));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    DesiredState state = *parsed;
    EXPECT_EQ(DesiredStateFromJson(ToJson(state)).value(), state);  // the codec round-trips
    Result<Rendered> r = Render(state);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::string text = Concatenate(*r);
    fs::path out = entry.path();
    out.replace_extension(".out");
    if (regenerate) {
      std::ofstream(out, std::ios::binary) << text;
      continue;
    }
    ASSERT_TRUE(fs::exists(out)) << out << " is missing; run with EUCA_TEST_REGENERATE=1";
    EXPECT_EQ(text, ReadAll(out));
    // Deterministic: shuffled input renders the same bytes.
    std::reverse(state.groups.begin(), state.groups.end());
    std::reverse(state.endpoints.begin(), state.endpoints.end());
    Result<Rendered> again = Render(state);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *r);
  }
  EXPECT_GE(cases, 5);
}

// ---- Rule semantics ----

Group MakeGroup(const std::string& id, int index, const std::string& subnet) {
  Group g;
  g.id = id;
  g.account_id = "123456789012";
  g.name = id;
  g.index = index;
  g.subnet = subnet;
  return g;
}

Endpoint MakeEndpoint(const std::string& id, const std::string& group, const std::string& ip, int n) {
  Endpoint e;
  e.instance_id = id;
  e.group_id = group;
  e.groups = {group};
  char mac[32];
  std::snprintf(mac, sizeof mac, "d0:0d:00:00:00:%02x", n);
  e.mac = mac;
  e.private_ip = ip;
  return e;
}

DesiredState TwoGroups() {
  DesiredState s;
  s.mode = Mode::kManagedNoVlan;
  s.public_interface = "eth0";
  s.groups = {MakeGroup("sg-a", 1, "10.1.0.0/28"), MakeGroup("sg-b", 2, "10.1.0.16/28")};
  s.endpoints = {MakeEndpoint("i-1", "sg-a", "10.1.0.2", 1), MakeEndpoint("i-2", "sg-b", "10.1.0.18", 2),
                 MakeEndpoint("i-3", "sg-b", "10.1.0.19", 3)};
  return s;
}

bool Has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(RenderTest, DefaultDenyBetweenNetworks) {
  Rendered r = Render(TwoGroups()).value();
  EXPECT_TRUE(Has(r.filter, "-A EUCA-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-FORWARD -d 10.1.0.0/28 -j EUCA-NET-1"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-FORWARD -d 10.1.0.16/28 -j EUCA-NET-2"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -s 10.1.0.0/28 -j ACCEPT"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -j DROP"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-2 -j DROP"));
  // The DROP is the last rule of the network's chain.
  EXPECT_GT(r.filter.find("-A EUCA-NET-1 -j DROP"), r.filter.find("-A EUCA-NET-1 -s 10.1.0.0/28 -j ACCEPT"));
  // Only euca's chains: never a builtin chain, never a flush of the whole table.
  EXPECT_EQ(r.filter.find("-A FORWARD"), std::string::npos);
  EXPECT_EQ(r.filter.find(":FORWARD"), std::string::npos);
  EXPECT_EQ(r.nat.find(":PREROUTING"), std::string::npos);
}

TEST(RenderTest, SourceGroupRuleNamesEachMemberOnce) {
  DesiredState s = TwoGroups();
  s.groups[0].ingress.push_back({"tcp", 22, 22, "", "sg-b"});
  Rendered r = Render(s).value();
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -s 10.1.0.18/32 -p tcp -m tcp --dport 22 -j ACCEPT"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -s 10.1.0.19/32 -p tcp -m tcp --dport 22 -j ACCEPT"));
  EXPECT_EQ(r.filter.find("-A EUCA-NET-2 -s 10.1.0.2/32"), std::string::npos);  // not the reverse flow
  // A member through a secondary group counts too.
  s.endpoints[0].groups.push_back("sg-b");
  r = Render(s).value();
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -s 10.1.0.2/32 -p tcp -m tcp --dport 22 -j ACCEPT"));
}

TEST(RenderTest, RuleForms) {
  DesiredState s = TwoGroups();
  s.groups[0].ingress = {{"tcp", 1000, 2000, "0.0.0.0/0", ""}, {"udp", 0, 65535, "198.51.100.7/24", ""},
                         {"icmp", -1, -1, "10.0.0.0/8", ""},   {"icmp", 3, 4, "10.0.0.0/8", ""},
                         {"icmp", 8, -1, "10.0.0.0/8", ""},    {"-1", -1, -1, "192.0.2.1/32", ""}};
  Rendered r = Render(s).value();
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -p tcp -m tcp --dport 1000:2000 -j ACCEPT"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -s 198.51.100.0/24 -p udp -m udp -j ACCEPT"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -s 10.0.0.0/8 -p icmp -j ACCEPT"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -s 10.0.0.0/8 -p icmp -m icmp --icmp-type 3/4 -j ACCEPT"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -s 10.0.0.0/8 -p icmp -m icmp --icmp-type 8 -j ACCEPT"));
  EXPECT_TRUE(Has(r.filter, "-A EUCA-NET-1 -s 192.0.2.1/32 -j ACCEPT"));
}

TEST(RenderTest, PublicAddressesAndMetadata) {
  DesiredState s = TwoGroups();
  s.endpoints[0].public_ip = "203.0.113.5";
  s.metadata_target = "192.0.2.10:8773";
  Rendered r = Render(s).value();
  EXPECT_TRUE(Has(r.nat, "-A EUCA-PREROUTING -d 203.0.113.5/32 -j DNAT --to-destination 10.1.0.2"));
  EXPECT_TRUE(Has(r.nat, "-A EUCA-OUTPUT -d 203.0.113.5/32 -j DNAT --to-destination 10.1.0.2"));
  EXPECT_TRUE(Has(r.nat, "-A EUCA-POSTROUTING -s 10.1.0.2/32 -j SNAT --to-source 203.0.113.5"));
  EXPECT_TRUE(Has(r.nat, "-A EUCA-POSTROUTING -s 10.1.0.16/28 -j MASQUERADE"));
  EXPECT_TRUE(Has(r.nat,
                  "-A EUCA-PREROUTING -d 169.254.169.254/32 -i eucabr+ -p tcp -m tcp --dport 80 -j DNAT "
                  "--to-destination 192.0.2.10:8773"));
  // SNAT comes before the masquerade of its network; traffic into instance networks is not translated.
  EXPECT_LT(r.nat.find("-j SNAT --to-source 203.0.113.5"), r.nat.find("-s 10.1.0.0/28 -j MASQUERADE"));
  EXPECT_LT(r.nat.find("-A EUCA-POSTROUTING -o eucabr+ -j ACCEPT"), r.nat.find("-j SNAT"));
  EXPECT_TRUE(Has(r.links, "address 203.0.113.5/32 dev eth0"));
  // No public interface configured: the addresses go to lo.
  s.public_interface = "";
  EXPECT_TRUE(Has(Render(s)->links, "address 203.0.113.5/32 dev lo"));
}

TEST(RenderTest, MetadataAtEachNetworksGateway) {
  DesiredState s = TwoGroups();
  s.metadata_target = ":8773";  // a service on this host, on all addresses
  Rendered r = Render(s).value();
  EXPECT_TRUE(Has(r.nat,
                  "-A EUCA-PREROUTING -d 169.254.169.254/32 -i eucabr1 -p tcp -m tcp --dport 80 -j DNAT "
                  "--to-destination 10.1.0.1:8773"));
  EXPECT_TRUE(Has(r.nat,
                  "-A EUCA-PREROUTING -d 169.254.169.254/32 -i eucabr2 -p tcp -m tcp --dport 80 -j DNAT "
                  "--to-destination 10.1.0.17:8773"));
  EXPECT_FALSE(Has(r.nat, "-i eucabr+ -p tcp"));
  EXPECT_TRUE(Has(r.nat, "--ctorigdst 169.254.169.254 -j ACCEPT"));  // the source is kept
  // Only the MANAGED modes have a gateway per network.
  s.mode = Mode::kStatic;
  s.bridge = "br0";
  s.subnet = "10.2.0.0/24";
  s.groups.clear();
  s.endpoints.clear();
  Result<Rendered> refused = Render(s);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("metadata target ':8773' is not ip:port"), std::string::npos)
      << refused.status().message();
}

TEST(RenderTest, OneDhcpServerForTheNetworksWithInstances) {
  DesiredState s = TwoGroups();
  s.groups.push_back(MakeGroup("sg-empty", 3, "10.1.0.32/28"));
  s.dns = {"192.0.2.53"};
  Rendered r = Render(s, "/srv/net").value();
  const std::string& conf = r.dhcp_conf;
  EXPECT_TRUE(Has(conf, "port=0"));
  EXPECT_TRUE(Has(conf, "bind-interfaces"));
  EXPECT_TRUE(Has(conf, "dhcp-hostsfile=/srv/net/dhcp/hosts"));
  EXPECT_TRUE(Has(conf, "pid-file=/srv/net/dhcp/dnsmasq.pid"));
  EXPECT_TRUE(Has(conf, "dhcp-leasefile=/srv/net/dhcp/dnsmasq.leases"));
  // Per network: its interface, its range tagged with the bridge, the options for that tag.
  EXPECT_TRUE(Has(conf, "interface=eucabr2"));
  EXPECT_TRUE(Has(conf, "dhcp-range=set:eucabr2,10.1.0.16,static,255.255.255.240,20m"));
  EXPECT_TRUE(Has(conf, "dhcp-option=tag:eucabr2,option:router,10.1.0.17"));
  EXPECT_TRUE(Has(conf, "dhcp-option=tag:eucabr2,option:dns-server,192.0.2.53"));
  EXPECT_TRUE(Has(conf, "interface=eucabr1"));
  EXPECT_TRUE(Has(conf, "dhcp-option=tag:eucabr1,option:router,10.1.0.1"));
  EXPECT_FALSE(Has(conf, "interface=eucabr3"));  // a network without instances is not served
  EXPECT_TRUE(Has(r.links, "bridge eucabr3 10.1.0.33/28"));
  // Hosts: one "mac,ip" per instance, of every network.
  EXPECT_TRUE(Has(r.dhcp_hosts, "d0:0d:00:00:00:02,10.1.0.18"));
  EXPECT_TRUE(Has(r.dhcp_hosts, "d0:0d:00:00:00:03,10.1.0.19"));
  // Instances change the hosts, not the configuration (no restart of the server).
  DesiredState more = s;
  more.endpoints.push_back(more.endpoints.back());
  more.endpoints.back().instance_id = "i-more";
  more.endpoints.back().mac = "d0:0d:00:00:00:09";
  more.endpoints.back().private_ip = "10.1.0.20";
  Rendered r2 = Render(more, "/srv/net").value();
  EXPECT_EQ(r2.dhcp_conf, r.dhcp_conf);
  EXPECT_TRUE(Has(r2.dhcp_hosts, "d0:0d:00:00:00:09,10.1.0.20"));
}

TEST(RenderTest, ManagedMakesVlanDevices) {
  DesiredState s = TwoGroups();
  s.mode = Mode::kManaged;
  s.private_interface = "eth1";
  s.groups[0].vlan = 10;
  s.groups[1].vlan = 11;
  Rendered r = Render(s).value();
  EXPECT_TRUE(Has(r.links, "vlan eth1.10 bridge eucabr1"));
  EXPECT_TRUE(Has(r.links, "vlan eth1.11 bridge eucabr2"));
  // The VLAN path filters the same way.
  s.mode = Mode::kManagedNoVlan;
  EXPECT_EQ(Render(s)->filter.substr(Render(s)->filter.find('\n')), r.filter.substr(r.filter.find('\n')));
}

TEST(RenderTest, SystemRendersNothingButEmptyChains) {
  DesiredState s;
  s.mode = Mode::kSystem;
  s.bridge = "br0";
  s.endpoints = {MakeEndpoint("i-1", "", "", 1)};
  Rendered r = Render(s).value();
  EXPECT_EQ(r.links, "");
  EXPECT_TRUE(r.dhcp_conf.empty());
  EXPECT_TRUE(r.dhcp_hosts.empty());
  EXPECT_EQ(r.filter.find("-A "), std::string::npos);
  EXPECT_EQ(r.nat.find("-A "), std::string::npos);
}

// ---- Validation: InvalidArgument naming the culprit, for each kind of inconsistency ----

void ExpectInvalid(const DesiredState& s, const std::string& culprit) {
  Result<Rendered> r = Render(s);
  ASSERT_FALSE(r.ok()) << "expected an error naming " << culprit;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(culprit), std::string::npos) << r.status().message();
}

TEST(RenderTest, ValidatesGroups) {
  DesiredState s = TwoGroups();
  s.groups[1].subnet = "10.1.0.8/28";  // host bits set
  ExpectInvalid(s, "'10.1.0.8/28'");
  s = TwoGroups();
  s.groups[1].subnet = "10.1.0.0/27";  // overlaps sg-a
  ExpectInvalid(s, "overlaps");
  s = TwoGroups();
  s.groups[1].index = 1;
  ExpectInvalid(s, "network index 1");
  s = TwoGroups();
  s.groups[1].index = 4096;
  ExpectInvalid(s, "4096");
  s = TwoGroups();
  s.groups.push_back(s.groups[0]);
  ExpectInvalid(s, "'sg-a' appears twice");
  s = TwoGroups();
  s.mode = Mode::kManaged;
  s.private_interface = "eth1";
  s.groups[0].vlan = 10;
  s.groups[1].vlan = 10;
  ExpectInvalid(s, "VLAN tag 10");
  s.groups[1].vlan = 1;
  ExpectInvalid(s, "VLAN tag 1 ");
  s.groups[1].vlan = 11;
  s.private_interface = "";
  ExpectInvalid(s, "private interface");
  s.private_interface = "averylongname1";
  ExpectInvalid(s, "'averylongname1.10'");
}

TEST(RenderTest, ValidatesRules) {
  DesiredState s = TwoGroups();
  s.groups[0].ingress = {{"tcp", 22, 21, "0.0.0.0/0", ""}};
  ExpectInvalid(s, "port range 22-21");
  s.groups[0].ingress = {{"udp", 0, 65536, "0.0.0.0/0", ""}};
  ExpectInvalid(s, "0-65536");
  s.groups[0].ingress = {{"sctp", 1, 1, "0.0.0.0/0", ""}};
  ExpectInvalid(s, "'sctp'");
  s.groups[0].ingress = {{"icmp", -1, 3, "0.0.0.0/0", ""}};
  ExpectInvalid(s, "icmp code 3");
  s.groups[0].ingress = {{"tcp", 22, 22, "", "sg-nope"}};
  ExpectInvalid(s, "'sg-nope'");
  s.groups[0].ingress = {{"tcp", 22, 22, "10.0.0.0/8", "sg-b"}};
  ExpectInvalid(s, "exactly one");
  s.groups[0].ingress = {{"tcp", 22, 22, "10.0.0/8", ""}};
  ExpectInvalid(s, "'10.0.0/8'");
}

TEST(RenderTest, ValidatesEndpoints) {
  DesiredState s = TwoGroups();
  s.endpoints[2].private_ip = "10.1.0.18";  // i-2 has it
  ExpectInvalid(s, "'10.1.0.18' is used twice");
  s = TwoGroups();
  s.endpoints[0].private_ip = "10.1.0.20";  // in sg-b's subnet, not sg-a's
  ExpectInvalid(s, "'10.1.0.20'");
  s = TwoGroups();
  s.endpoints[0].private_ip = "10.1.0.1";  // the gateway
  ExpectInvalid(s, "'10.1.0.1'");
  s = TwoGroups();
  s.endpoints[0].mac = "d0:0d:00:00:00";
  ExpectInvalid(s, "'i-1'");
  s = TwoGroups();
  s.endpoints[1].mac = "D0:0D:00:00:00:01";  // i-1's, other case
  ExpectInvalid(s, "is used twice");
  s = TwoGroups();
  s.endpoints[0].group_id = "sg-x";
  ExpectInvalid(s, "'sg-x' has no network");
  s = TwoGroups();
  s.endpoints[0].public_ip = "203.0.113.5";
  s.endpoints[1].public_ip = "203.0.113.5";
  ExpectInvalid(s, "'203.0.113.5' is used twice");
  s.endpoints[1].public_ip = "10.1.0.5";
  ExpectInvalid(s, "lies in the subnet");
  s = TwoGroups();
  s.endpoints[1].instance_id = "i-1";
  ExpectInvalid(s, "'i-1' appears twice");
  s = TwoGroups();
  s.metadata_target = "192.0.2.1";
  ExpectInvalid(s, "metadata target");
  s.metadata_target = "192.0.2.1:99999";
  ExpectInvalid(s, "metadata target");
  s = TwoGroups();
  s.dns = {"resolver"};
  ExpectInvalid(s, "'resolver'");
}

TEST(RenderTest, ValidatesStaticAndSystem) {
  DesiredState s;
  s.mode = Mode::kStatic;
  s.bridge = "br0";
  s.subnet = "192.168.10.0/24";
  s.endpoints = {MakeEndpoint("i-1", "", "192.168.11.5", 1)};
  ExpectInvalid(s, "'192.168.11.5'");
  s.endpoints[0].private_ip = "192.168.10.5";
  s.gateway = "192.168.11.1";
  ExpectInvalid(s, "gateway");
  s.gateway = "";
  s.bridge = "";
  ExpectInvalid(s, "bridge");
  s.bridge = "br0";
  s.subnet = "192.168.10.0";
  ExpectInvalid(s, "STATIC subnet");
  s.mode = Mode::kSystem;
  s.bridge = "a bridge";
  ExpectInvalid(s, "'a bridge'");
}

TEST(RenderTest, GroupWithoutNetworkMayBeASourceOnly) {
  DesiredState s = TwoGroups();
  s.groups.push_back(MakeGroup("sg-idle", 0, ""));
  s.groups[0].ingress = {{"tcp", 22, 22, "", "sg-idle"}};
  Result<Rendered> r = Render(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->filter.find("EUCA-NET-0"), std::string::npos);
}

}  // namespace
}  // namespace euca::network
