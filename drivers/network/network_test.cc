#include "drivers/network/network.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "drivers/network/linux_network.h"
#include "drivers/network/test_support.h"

namespace euca::network {
namespace {

namespace fs = std::filesystem;

using testing::ReadAll;
using testing::TempDir;

DesiredState Sample() {
  DesiredState s;
  s.mode = Mode::kManagedNoVlan;
  s.public_interface = "eth0";
  s.metadata_target = "192.0.2.10:8773";
  s.groups = {{"sg-a", "123456789012", "a", 1, "10.1.0.0/28", -1, {{"tcp", 22, 22, "0.0.0.0/0", ""}}},
              {"sg-b", "123456789012", "b", 2, "10.1.0.16/28", -1, {}}};
  s.endpoints = {{"i-1", "sg-a", {"sg-a"}, "d0:0d:00:00:00:01", "10.1.0.2", "203.0.113.5"},
                 {"i-2", "sg-b", {"sg-b"}, "d0:0d:00:00:00:02", "10.1.0.18", ""}};
  return s;
}

TEST(NetworkTest, ModesAndNames) {
  EXPECT_EQ(ParseMode("managed-novlan").value(), Mode::kManagedNoVlan);
  EXPECT_FALSE(ParseMode("EDGE").ok());
  EXPECT_EQ(BridgeName(12), "eucabr12");
  EXPECT_EQ(NetworkChain(12), "EUCA-NET-12");
  DesiredState s = Sample();
  EXPECT_EQ(BridgeFor(s, s.endpoints[1]).value(), "eucabr2");
  s.endpoints[1].group_id = "sg-x";
  EXPECT_EQ(BridgeFor(s, s.endpoints[1]).status().code(), Code::kNotFound);
}

TEST(NetworkTest, OpenNetworkNamesTheDrivers) {
  NetworkOptions options;
  EXPECT_TRUE(OpenNetwork("plan", options).ok());
  EXPECT_TRUE(OpenNetwork("linux", options).ok());
  Result<std::unique_ptr<Network>> bad = OpenNetwork("ovs", options);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'ovs'"), std::string::npos);
}

TEST(PlanNetworkTest, RecordsTheRenderingAndRemovesStaleFiles) {
  TempDir dir;
  NetworkOptions options;
  options.state_dir = dir.path().string();
  auto net = OpenNetwork("plan", options).value();
  DesiredState s = Sample();
  ASSERT_TRUE(net->Apply(s).ok());
  Rendered r = Render(s, dir.path().string()).value();
  EXPECT_EQ(ReadAll(dir.path() / "links"), r.links);
  EXPECT_EQ(ReadAll(dir.path() / "filter.rules"), r.filter);
  EXPECT_EQ(ReadAll(dir.path() / "nat.rules"), r.nat);
  EXPECT_EQ(ReadAll(dir.path() / "dhcp/dnsmasq.conf"), r.dhcp_conf);
  EXPECT_EQ(ReadAll(dir.path() / "dhcp/hosts"), r.dhcp_hosts);
  EXPECT_NE(r.dhcp_conf.find("interface=eucabr2\n"), std::string::npos);

  // Group b's instance goes: its network is served no more.
  s.endpoints.pop_back();
  ASSERT_TRUE(net->Apply(s).ok());
  EXPECT_EQ(ReadAll(dir.path() / "dhcp/dnsmasq.conf").find("interface=eucabr2\n"), std::string::npos);
  EXPECT_EQ(ReadAll(dir.path() / "dhcp/hosts"), Render(s, dir.path().string())->dhcp_hosts);
  // Nobody left to serve: no DHCP files.
  s.endpoints.clear();
  ASSERT_TRUE(net->Apply(s).ok());
  EXPECT_FALSE(fs::exists(dir.path() / "dhcp/dnsmasq.conf"));
  EXPECT_FALSE(fs::exists(dir.path() / "dhcp/hosts"));

  // Bad input changes nothing.
  std::string before = ReadAll(dir.path() / "filter.rules");
  DesiredState bad = s;
  bad.groups[0].ingress.push_back({"tcp", 5, 1, "0.0.0.0/0", ""});
  EXPECT_EQ(net->Apply(bad).code(), Code::kInvalidArgument);
  EXPECT_EQ(ReadAll(dir.path() / "filter.rules"), before);

  ASSERT_TRUE(net->TearDown().ok());
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// The linux driver against a RecordingCommandRunner: what it would run.
class LinuxNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.state_dir = dir_.path().string();
    options_.netns = "testns";
    options_.runner = &runner_;
    net_ = std::make_unique<LinuxNetwork>(options_);
    net_->SetDnsmasqProbeForTest([this](const std::string& name) { return running_.count(name) > 0; });
    // The host: only lo and eth0; forwarding off; no euca chains.
    CommandResult links;
    links.out = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n";
    runner_.SetResult("ip", links);
    CommandResult fwd;
    fwd.out = "0\n";
    runner_.SetResult("sysctl", fwd);
  }

  // The one recorded command whose program line (see Programs) starts with `prefix`. The
  // rules are applied beside the links, so the order of those commands is not fixed.
  const Command& Find(const std::string& prefix) {
    std::vector<std::string> programs = Programs();
    const Command* found = nullptr;
    for (size_t i = 0; i < programs.size(); ++i) {
      if (programs[i].rfind(prefix, 0) != 0) continue;
      EXPECT_EQ(found, nullptr) << "two commands start with " << prefix << ":\n" << runner_.Transcript();
      found = &commands_[i];
    }
    if (found == nullptr) ADD_FAILURE() << "no command starts with " << prefix << ":\n" << runner_.Transcript();
    static const Command none{};
    return found ? *found : none;
  }

  std::vector<std::string> Programs() {
    commands_ = runner_.commands();
    std::vector<std::string> out;
    for (const Command& c : runner_.commands()) {
      std::string line;
      for (size_t i = 4; i < c.argv.size() && i < 7; ++i) line += (i > 4 ? " " : "") + c.argv[i];
      out.push_back(line);
    }
    return out;
  }

  TempDir dir_;
  NetworkOptions options_;
  RecordingCommandRunner runner_;
  std::unique_ptr<LinuxNetwork> net_;
  std::set<std::string> running_;
  std::vector<Command> commands_;  // of the last Programs()
};

TEST_F(LinuxNetworkTest, FirstApplyThenNothing) {
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  std::vector<Command> cmds = runner_.commands();
  for (const Command& c : cmds) {
    ASSERT_GE(c.argv.size(), 5u);
    EXPECT_EQ(std::vector<std::string>(c.argv.begin(), c.argv.begin() + 4),
              (std::vector<std::string>{"ip", "netns", "exec", "testns"}));
  }
  std::vector<std::string> programs = Programs();
  ASSERT_EQ(programs.size(), 9u) << runner_.Transcript();
  // Discovery first; then the rules beside the links, forwarding and the DHCP server, in order.
  EXPECT_EQ(std::vector<std::string>(programs.begin(), programs.begin() + 5),
            (std::vector<std::string>{"ip -o link", "ip -o -4", "iptables-save -t filter", "iptables-save -t nat",
                                      "sysctl -n net.ipv4.ip_forward"}));
  std::vector<std::string> links_then_dhcp;
  for (size_t i = 5; i < programs.size(); ++i) {
    if (programs[i] != "iptables-restore --noflush") links_then_dhcp.push_back(programs[i]);
  }
  EXPECT_EQ(links_then_dhcp, (std::vector<std::string>{"ip -batch -", "sysctl -q -w",
                                                       "dnsmasq --conf-file=" + dir_.path().string() +
                                                           "/dhcp/dnsmasq.conf"}));
  // The links batch.
  EXPECT_EQ(*Find("ip -batch").stdin_data,
            "link add eucabr1 type bridge\naddress add 10.1.0.1/28 dev eucabr1\nlink set eucabr1 up\n"
            "link add eucabr2 type bridge\naddress add 10.1.0.17/28 dev eucabr2\nlink set eucabr2 up\n"
            "address add 203.0.113.5/32 dev eth0\n");
  // The rules: every euca chain and one jump from each builtin chain.
  const std::string& rules = *Find("iptables-restore").stdin_data;
  EXPECT_NE(rules.find("*filter\n:EUCA-FORWARD - [0:0]\n:EUCA-NET-1 - [0:0]\n:EUCA-NET-2 - [0:0]\n"),
            std::string::npos);
  EXPECT_NE(rules.find("-I FORWARD 1 -j EUCA-FORWARD\n"), std::string::npos);
  EXPECT_NE(rules.find("-I PREROUTING 1 -j EUCA-PREROUTING\n"), std::string::npos);
  EXPECT_NE(rules.find("-I OUTPUT 1 -j EUCA-OUTPUT\n"), std::string::npos);
  EXPECT_NE(rules.find("-I POSTROUTING 1 -j EUCA-POSTROUTING\n"), std::string::npos);
  EXPECT_EQ(rules.find("\n-F "), std::string::npos);  // never a flush of a whole table or builtin chain
  EXPECT_TRUE(fs::exists(dir_.path() / "dhcp/dnsmasq.conf"));
  EXPECT_TRUE(fs::exists(dir_.path() / "filter.rules"));

  running_ = {"dnsmasq"};
  runner_.Clear();
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  EXPECT_EQ(runner_.Transcript(), "");
}

TEST_F(LinuxNetworkTest, AKilledDhcpServerIsStartedByTheNextApply) {
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  running_ = {};  // killed behind the driver's back
  runner_.Clear();
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  EXPECT_EQ(Programs(), (std::vector<std::string>{"dnsmasq --conf-file=" + dir_.path().string() + "/dhcp/dnsmasq.conf"}))
      << runner_.Transcript();
  running_ = {"dnsmasq"};
  runner_.Clear();
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  EXPECT_EQ(runner_.Transcript(), "");
}

TEST_F(LinuxNetworkTest, OneRuleChangeRewritesOneChain) {
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  running_ = {"dnsmasq"};
  runner_.Clear();
  DesiredState s = Sample();
  s.groups[1].ingress.push_back({"udp", 53, 53, "10.0.0.0/8", ""});
  ASSERT_TRUE(net_->Apply(s).ok());
  std::vector<Command> cmds = runner_.commands();
  ASSERT_EQ(cmds.size(), 1u) << runner_.Transcript();
  // An added rule is inserted before the DROP.
  EXPECT_EQ(*cmds[0].stdin_data, "*filter\n-I EUCA-NET-2 2 -s 10.0.0.0/8 -p udp -m multiport --dports 53 -j ACCEPT\nCOMMIT\n");
  EXPECT_EQ(net_->last_stats().filter_chains, 1);

  // A removed rule: the chain is rewritten whole.
  runner_.Clear();
  s.groups[0].ingress.clear();
  ASSERT_TRUE(net_->Apply(s).ok());
  cmds = runner_.commands();
  ASSERT_EQ(cmds.size(), 1u) << runner_.Transcript();
  EXPECT_EQ(*cmds[0].stdin_data,
            "*filter\n:EUCA-NET-1 - [0:0]\n-A EUCA-NET-1 -s 10.1.0.0/28 -j ACCEPT\n-A EUCA-NET-1 -j DROP\nCOMMIT\n");

  // Two rules added at once, in two places of the chain.
  runner_.Clear();
  s.groups[0].ingress = {{"tcp", 80, 80, "0.0.0.0/0", ""}};
  ASSERT_TRUE(net_->Apply(s).ok());
  runner_.Clear();
  s.groups[0].ingress = {
      {"tcp", 79, 79, "0.0.0.0/0", ""}, {"tcp", 80, 80, "0.0.0.0/0", ""}, {"tcp", 81, 81, "0.0.0.0/0", ""}};
  ASSERT_TRUE(net_->Apply(s).ok());
  cmds = runner_.commands();
  ASSERT_EQ(cmds.size(), 1u) << runner_.Transcript();
  EXPECT_EQ(*cmds[0].stdin_data,
            "*filter\n-I EUCA-NET-1 2 -p tcp -m tcp --dport 79 -j ACCEPT\n"
            "-I EUCA-NET-1 4 -p tcp -m tcp --dport 81 -j ACCEPT\nCOMMIT\n");
}

TEST_F(LinuxNetworkTest, RemovedGroupAndAddress) {
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  running_ = {"dnsmasq"};
  runner_.Clear();
  DesiredState s = Sample();
  s.groups.pop_back();
  s.endpoints.pop_back();
  s.endpoints[0].public_ip = "";
  ASSERT_TRUE(net_->Apply(s).ok());
  ASSERT_EQ(Programs().size(), 3u) << runner_.Transcript();
  EXPECT_EQ(*Find("ip -batch").stdin_data, "link delete eucabr2\naddress delete 203.0.113.5/32 dev eth0\n");
  const std::string& rules = *Find("iptables-restore").stdin_data;
  EXPECT_NE(rules.find(":EUCA-NET-2 - [0:0]\n"), std::string::npos);
  EXPECT_NE(rules.find("-X EUCA-NET-2\nCOMMIT\n"), std::string::npos);
  EXPECT_NE(rules.find("*nat\n"), std::string::npos);
  // The DHCP server stops before the bridge goes and starts again without that network.
  EXPECT_EQ(net_->last_stats().dnsmasq_stopped, 1);
  EXPECT_EQ(net_->last_stats().dnsmasq_started, 1);
  EXPECT_EQ(ReadAll(dir_.path() / "dhcp/dnsmasq.conf").find("eucabr2"), std::string::npos);
}

TEST_F(LinuxNetworkTest, FailureForgetsWhatItKnew) {
  runner_.SetResult("ip", {});  // no links at all
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  running_ = {"dnsmasq"};
  DesiredState s = Sample();
  s.groups[0].ingress.clear();
  CommandResult fail;
  fail.exit_code = 2;
  fail.err = "iptables-restore: line 3 failed\n";
  // The runner scripts by argv[0], which is "ip" (ip netns exec): fail every command.
  runner_.SetResult("ip", fail);
  Status st = net_->Apply(s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("apply the rules"), std::string::npos) << st.ToString();
  // The next Apply looks at the host again (discovery commands first).
  runner_.SetResult("ip", {});
  runner_.Clear();
  ASSERT_TRUE(net_->Apply(s).ok());
  ASSERT_FALSE(runner_.commands().empty());
  EXPECT_EQ(Programs()[0], "ip -o link");
}

TEST_F(LinuxNetworkTest, ManagedMakesVlanDevicesOnTheirBridges) {
  DesiredState s = Sample();
  s.mode = Mode::kManaged;
  s.private_interface = "eth1";
  s.groups[0].vlan = 10;
  s.groups[1].vlan = 11;
  ASSERT_TRUE(net_->Apply(s).ok());
  ASSERT_GE(Programs().size(), 6u);
  EXPECT_EQ(*Find("ip -batch").stdin_data,
            "link add eucabr1 type bridge\naddress add 10.1.0.1/28 dev eucabr1\nlink set eucabr1 up\n"
            "link add eucabr2 type bridge\naddress add 10.1.0.17/28 dev eucabr2\nlink set eucabr2 up\n"
            "link add link eth1 name eth1.10 type vlan id 10\nlink set eth1.10 master eucabr1 up\n"
            "link add link eth1 name eth1.11 type vlan id 11\nlink set eth1.11 master eucabr2 up\n"
            "address add 203.0.113.5/32 dev eth0\n");
  // Group b goes: its bridge and its VLAN device go.
  running_ = {"dnsmasq"};
  runner_.Clear();
  s.groups.pop_back();
  s.endpoints.pop_back();
  ASSERT_TRUE(net_->Apply(s).ok());
  Programs();
  EXPECT_EQ(*Find("ip -batch").stdin_data, "link delete eucabr2\nlink delete eth1.11\n");
  // TearDown removes the VLAN device it made (known from the links file), not others.
  CommandResult links;
  links.out =
      "1: lo: <LOOPBACK,UP> mtu 65536\n3: eth1: <UP> mtu 1500\n4: eth1.10@eth1: <UP> mtu 1500 master eucabr1\n"
      "5: eth1.99@eth1: <UP> mtu 1500\n6: eucabr1: <UP> mtu 1500\n";
  runner_.SetResult("ip", links);
  runner_.Clear();
  ASSERT_TRUE(net_->TearDown().ok());
  bool saw = false;
  for (const Command& c : runner_.commands()) {
    if (c.argv.size() > 5 && c.argv[5] == "-batch") {
      saw = true;
      EXPECT_EQ(*c.stdin_data, "link delete eucabr1\nlink delete eth1.10\n");
    }
  }
  EXPECT_TRUE(saw) << runner_.Transcript();
}

TEST_F(LinuxNetworkTest, AnotherInstanceOnAServedNetworkOnlyReloadsTheHosts) {
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  running_ = {"dnsmasq"};
  runner_.Clear();
  DesiredState s = Sample();
  s.endpoints.push_back({"i-3", "sg-a", {"sg-a"}, "d0:0d:00:00:00:03", "10.1.0.3", ""});
  ASSERT_TRUE(net_->Apply(s).ok());
  // No command at all (no rule names group a as a source): a SIGHUP re-reads the hosts.
  EXPECT_EQ(runner_.Transcript(), "");
  EXPECT_EQ(net_->last_stats().dnsmasq_reloaded, 1);
  EXPECT_EQ(net_->last_stats().dnsmasq_started, 0);
  EXPECT_NE(ReadAll(dir_.path() / "dhcp/hosts").find("d0:0d:00:00:00:03,10.1.0.3\n"), std::string::npos);
  // A new driver (a restarted cluster controller) finds the server running with these hosts.
  LinuxNetwork again(options_);
  again.SetDnsmasqProbeForTest([](const std::string& name) { return name == "dnsmasq"; });
  runner_.Clear();
  ASSERT_TRUE(again.Apply(s).ok());
  EXPECT_EQ(again.last_stats().dnsmasq_started + again.last_stats().dnsmasq_reloaded, 0) << runner_.Transcript();
}

TEST_F(LinuxNetworkTest, AnInstanceLeavingRestartsTheServerWithoutLeases) {
  DesiredState s = Sample();
  s.endpoints.push_back({"i-3", "sg-a", {"sg-a"}, "d0:0d:00:00:00:03", "10.1.0.3", ""});
  ASSERT_TRUE(net_->Apply(s).ok());
  running_ = {"dnsmasq"};
  // dnsmasq leased 10.1.0.3 to i-3's MAC; i-3 terminates, and the address may go to
  // another instance: the old lease must not survive.
  std::ofstream(dir_.path() / "dhcp/dnsmasq.leases") << "1796323642 d0:0d:00:00:00:03 10.1.0.3 * *\n";
  runner_.Clear();
  ASSERT_TRUE(net_->Apply(Sample()).ok());
  EXPECT_EQ(net_->last_stats().dnsmasq_started, 1) << runner_.Transcript();
  EXPECT_EQ(net_->last_stats().dnsmasq_reloaded, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "dhcp/dnsmasq.leases"));
  EXPECT_EQ(ReadAll(dir_.path() / "dhcp/hosts").find("10.1.0.3"), std::string::npos);
}

TEST_F(LinuxNetworkTest, InvalidStateRunsNothing) {
  DesiredState s = Sample();
  s.endpoints[0].private_ip = "10.9.9.9";
  EXPECT_EQ(net_->Apply(s).code(), Code::kInvalidArgument);
  EXPECT_EQ(runner_.Transcript(), "");
}

}  // namespace
}  // namespace euca::network
