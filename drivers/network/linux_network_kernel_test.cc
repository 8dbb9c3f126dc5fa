// The linux driver on the real kernel (root only; skipped otherwise). Everything happens in
// network namespaces the test makes itself: "host" (the driver applies there, through the
// netns option), one namespace per instance joined by a veth pair whose host end the test
// puts on the eucabrN bridge, and "outside" on the far end of the public interface. The
// host's own interfaces and firewall are never touched.
//
//   outside (198.51.100.2, listener :9000, metadata :8080)
//      | veth
//   host: pub0 198.51.100.1 (public /32s added here), eucabr1 10.1.0.1/28, eucabr2 10.1.0.17/28
//      | veth             | veth           | veth
//   a1 10.1.0.2       a2 10.1.0.3      b1 10.1.0.18        (listeners :22, :23, :7000)

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/base/command.h"
#include "core/base/strings.h"
#include "drivers/network/linux_network.h"
#include "drivers/network/test_support.h"

namespace euca::network {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kServer[] = R"(import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(16)
while True:
    c, a = s.accept()
    try:
        c.settimeout(2)
        c.recv(4096)
        c.sendall(("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%s %s\n" % (name, a[0])).encode())
    except Exception:
        pass
    c.close()
)";

constexpr char kClient[] = R"(import socket, sys
ip, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
try:
    c = socket.create_connection((ip, port), timeout=timeout)
    c.sendall(b"GET /latest/meta-data/instance-id HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        data += d
    print(data.decode().strip().splitlines()[-1])
except Exception as e:
    print("FAIL", e)
    sys.exit(1)
)";

// A UDP listener that appends "payload source" per datagram to a file: one-way traffic with
// a forged source address shows whether the forgery passed (no answer can come back).
constexpr char kUdpLog[] = R"(import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
while True:
    data, a = s.recvfrom(2048)
    with open(path, "a") as f:
        f.write("%s %s\n" % (data.decode(errors="replace"), a[0]))
)";

// Sends one datagram "payload" to ip:port from the source address `source`.
constexpr char kUdpSend[] = R"(import socket, sys
source, ip, port, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((source, 0))
s.sendto(payload.encode(), (ip, port))
)";

bool Executable(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    if (::access((std::string(dir) + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

class LinuxNetworkKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, bridges, iptables)";
    for (const char* tool : {"ip", "iptables-restore", "iptables-save", "dnsmasq", "busybox", "python3"}) {
      if (!Executable(tool)) GTEST_SKIP() << "'" << tool << "' is not installed (make deps installs it)";
    }
    prefix_ = "eut" + std::to_string(::getpid() % 100000);
    host_ = prefix_ + "h";
    outside_ = prefix_ + "o";
    dir_ = fs::temp_directory_path() / ("euca-net-" + prefix_);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "server.py") << kServer;
    std::ofstream(dir_ / "client.py") << kClient;
    std::ofstream(dir_ / "udp_log.py") << kUdpLog;
    std::ofstream(dir_ / "udp_send.py") << kUdpSend;
    std::ofstream(dir_ / "udhcpc.sh") << "#!/bin/sh\nexit 0\n";
    fs::permissions(dir_ / "udhcpc.sh", fs::perms::owner_all);

    for (const std::string& ns : {host_, outside_}) MakeNamespace(ns);
    // The public side: host pub0 <-> outside eth0.
    Sh("ip link add pub0 netns " + host_ + " type veth peer name eth0 netns " + outside_);
    InNs(host_, "ip addr add 198.51.100.1/24 dev pub0 && ip link set pub0 up");
    InNs(outside_,
         "ip addr add 198.51.100.2/24 dev eth0 && ip link set eth0 up && "
         "ip route add 203.0.113.0/24 via 198.51.100.1 && ip route add 10.1.0.0/16 via 198.51.100.1");
    // A rule of the host's own, which euca must leave alone.
    InNs(host_,
         "iptables -A FORWARD -s 192.0.2.99/32 -j ACCEPT && iptables -t nat -A POSTROUTING -s 192.0.2.99/32 -j RETURN");
    StartServer(outside_, "outside", 9000);
    StartServer(outside_, "metadata", 8080);

    NetworkOptions options;
    options.state_dir = (dir_ / "state").string();
    options.netns = host_;
    net_ = std::make_unique<LinuxNetwork>(options);
  }

  void TearDown() override {
    if (prefix_.empty()) return;
    if (net_) {
      Status s = net_->TearDown();
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    for (int pid : servers_) ::kill(pid, SIGKILL);
    for (const std::string& ns : namespaces_) Sh("ip netns delete " + ns);
    fs::remove_all(dir_);
  }

  // Runs `script` with sh; the result whatever the exit status.
  CommandResult Sh(const std::string& script) {
    Command cmd;
    cmd.argv = {"sh", "-c", script};
    cmd.accept_failure = true;
    cmd.timeout = std::chrono::seconds(60);
    Result<CommandResult> r = RealCommandRunner().Run(cmd);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CommandResult{};
  }
  void InNs(const std::string& ns, const std::string& script) {
    CommandResult r = Sh("ip netns exec " + ns + " sh -ec " + ShellQuote(script));
    ASSERT_EQ(r.exit_code, 0) << script << ": " << r.err;
  }
  std::string OutNs(const std::string& ns, const std::string& script) {
    return Sh("ip netns exec " + ns + " sh -c " + ShellQuote(script)).out;
  }

  void MakeNamespace(const std::string& ns) {
    CommandResult r = Sh("ip netns add " + ns + " && ip netns exec " + ns + " ip link set lo up");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    namespaces_.push_back(ns);
  }

  // An instance: its namespace, a veth whose host end (vh<name>) waits in the host namespace.
  void MakeInstance(const std::string& name, const std::string& mac) {
    std::string ns = prefix_ + name;
    MakeNamespace(ns);
    Sh("ip link add vh" + name + " netns " + host_ + " type veth peer name eth0 netns " + ns);
    InNs(ns, "ip link set eth0 address " + mac + " && ip link set eth0 up");
    for (int port : {22, 23, 7000}) StartServer(ns, name, port);
  }
  // After Apply: the host end joins the instance's bridge; the instance takes its address.
  void Attach(const std::string& name, const std::string& bridge, const std::string& cidr, const std::string& gateway,
              bool configure = true) {
    InNs(host_, "ip link set vh" + name + " master " + bridge + " up");
    if (configure) {
      InNs(prefix_ + name, "ip addr add " + cidr + " dev eth0 && ip route add default via " + gateway);
    }
  }

  void StartServer(const std::string& ns, const std::string& name, int port) {
    CommandResult r = Sh("ip netns exec " + ns + " /usr/bin/python3 " + (dir_ / "server.py").string() + " " + name +
                         " " + std::to_string(port) + " >/dev/null 2>&1 & echo $!");
    servers_.push_back(std::stoi(r.out));
    // Ready when it answers on loopback.
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Connect(ns, "127.0.0.1", port, 1).empty()) {
      ASSERT_LT(Clock::now(), deadline) << "server " << name << ":" << port << " did not start";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // "name peer" from the listener at ip:port, "" when the connection failed.
  std::string Connect(const std::string& ns, const std::string& ip, int port, double timeout) {
    CommandResult r = Sh("ip netns exec " + ns + " /usr/bin/python3 " + (dir_ / "client.py").string() + " " + ip + " " +
                         std::to_string(port) + " " + std::to_string(timeout));
    if (r.exit_code != 0) return "";
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }
  std::string From(const std::string& instance) { return prefix_ + instance; }

  // Polls until `who` reaches ip:port and gets `want`; the last answer otherwise.
  void ExpectReach(const std::string& ns, const std::string& ip, int port, const std::string& want) {
    auto deadline = Clock::now() + std::chrono::seconds(15);
    std::string got;
    while (Clock::now() < deadline) {
      got = Connect(ns, ip, port, 2);
      if (got == want) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << ns << " -> " << ip << ":" << port << ": want '" << want << "', got '" << got << "'";
  }
  void ExpectBlocked(const std::string& ns, const std::string& ip, int port) {
    std::string got = Connect(ns, ip, port, 1.5);
    EXPECT_EQ(got, "") << ns << " -> " << ip << ":" << port << " should be blocked";
  }

  Status Apply() {
    Status s = net_->Apply(state_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s;
  }

  std::string Saved() {
    std::string out;
    for (const std::string& line : [&] {
           std::vector<std::string> v;
           std::istringstream in(OutNs(host_, "iptables-save"));
           std::string l;
           while (std::getline(in, l)) v.push_back(l);
           return v;
         }()) {
      if (!line.empty() && line[0] != '#') out += line + "\n";
    }
    return out;
  }

  DesiredState TwoGroups() {
    DesiredState s;
    s.mode = Mode::kManagedNoVlan;
    s.public_interface = "pub0";
    s.metadata_target = "198.51.100.2:8080";
    s.dns = {"198.51.100.53"};
    Group a{"sg-a", "123456789012", "a", 1, "10.1.0.0/28", -1, {{"tcp", 7000, 7000, "0.0.0.0/0", ""}}};
    Group b{"sg-b", "210987654321", "b", 2, "10.1.0.16/28", -1, {}};
    s.groups = {a, b};
    s.endpoints = {{"i-a1", "sg-a", {"sg-a"}, "d0:0d:00:00:00:01", "10.1.0.2", "203.0.113.5"},
                   {"i-a2", "sg-a", {"sg-a"}, "d0:0d:00:00:00:02", "10.1.0.3", ""},
                   {"i-b1", "sg-b", {"sg-b"}, "d0:0d:00:00:00:03", "10.1.0.18", ""}};
    return s;
  }

  // Applies TwoGroups and attaches a1, a2, b1 (a1 takes its address by DHCP).
  void StartTwoGroups() {
    MakeInstance("a1", "d0:0d:00:00:00:01");
    MakeInstance("a2", "d0:0d:00:00:00:02");
    MakeInstance("b1", "d0:0d:00:00:00:03");
    state_ = TwoGroups();
    ASSERT_TRUE(Apply().ok());
    Attach("a1", "eucabr1", "10.1.0.2/28", "10.1.0.1", /*configure=*/false);
    Attach("a2", "eucabr1", "10.1.0.3/28", "10.1.0.1");
    Attach("b1", "eucabr2", "10.1.0.18/28", "10.1.0.17");
    // DHCP: dnsmasq on eucabr1 hands a1 its address (the script only exits; read udhcpc's report).
    std::string dhcp = Sh("ip netns exec " + From("a1") + " busybox udhcpc -i eth0 -n -q -t 10 -T 1 -s " +
                          (dir_ / "udhcpc.sh").string() + " 2>&1")
                           .out;
    EXPECT_NE(dhcp.find("lease of 10.1.0.2 obtained from 10.1.0.1"), std::string::npos) << dhcp;
    InNs(From("a1"), "ip addr add 10.1.0.2/28 dev eth0 && ip route add default via 10.1.0.1");
  }

  std::string prefix_, host_, outside_;
  fs::path dir_;
  std::vector<std::string> namespaces_;
  std::vector<int> servers_;
  std::unique_ptr<LinuxNetwork> net_;
  DesiredState state_;
};

TEST_F(LinuxNetworkKernelTest, IsolationMatrix) {
  ASSERT_NO_FATAL_FAILURE(StartTwoGroups());

  // Same group: reachable. Different groups: blocked both ways.
  ExpectReach(From("a2"), "10.1.0.2", 22, "a1 10.1.0.3");
  ExpectReach(From("a1"), "10.1.0.3", 23, "a2 10.1.0.2");
  ExpectBlocked(From("b1"), "10.1.0.2", 22);
  ExpectBlocked(From("a1"), "10.1.0.18", 22);

  // tcp/22 from group B into A opens exactly that flow.
  state_.groups[0].ingress.push_back({"tcp", 22, 22, "", "sg-b"});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(net_->last_stats().filter_chains, 1);  // only EUCA-NET-1 changed (rules inserted)
  {
    // The kernel holds the chain exactly as rendered: a new driver finds nothing to change.
    NetworkOptions options;
    options.state_dir = (dir_ / "state").string();
    options.netns = host_;
    LinuxNetwork fresh(options);
    ASSERT_TRUE(fresh.Apply(state_).ok());
    EXPECT_EQ(fresh.last_stats().changing_commands, 0);
  }
  ExpectReach(From("b1"), "10.1.0.2", 22, "a1 10.1.0.18");
  ExpectReach(From("b1"), "10.1.0.3", 22, "a2 10.1.0.18");
  ExpectBlocked(From("b1"), "10.1.0.2", 23);   // another port
  ExpectBlocked(From("a1"), "10.1.0.18", 22);  // the reverse direction
  // Revoked: closed again.
  state_.groups[0].ingress.pop_back();
  ASSERT_TRUE(Apply().ok());
  ExpectBlocked(From("b1"), "10.1.0.2", 22);

  // An instance's second group opens that instance alone: a2 is also in sg-c, which lets
  // group B in on tcp/23; a1 (only in sg-a) stays closed, and a2's other ports too.
  state_.groups.push_back({"sg-c", "123456789012", "c", 0, "", -1, {{"tcp", 23, 23, "", "sg-b"}}});
  state_.endpoints[1].groups = {"sg-a", "sg-c"};
  ASSERT_TRUE(Apply().ok());
  ExpectReach(From("b1"), "10.1.0.3", 23, "a2 10.1.0.18");
  ExpectBlocked(From("b1"), "10.1.0.2", 23);
  ExpectBlocked(From("b1"), "10.1.0.3", 22);
  state_.endpoints[1].groups = {"sg-a"};
  ASSERT_TRUE(Apply().ok());
  ExpectBlocked(From("b1"), "10.1.0.3", 23);

  // A forged source address does not pass: b1 posing as 10.1.0.5 (inside A's subnet, which
  // A's network trusts) is dropped on its way out of B's bridge. Datagrams: one-way, so no
  // answer is needed to see whether the forgery got through. a2's datagram sent after the
  // forged ones shows the listener received what reached it.
  fs::path udp_log = dir_ / "udp-a1.log";
  {
    CommandResult r = Sh("ip netns exec " + From("a1") + " /usr/bin/python3 " + (dir_ / "udp_log.py").string() +
                         " 5000 " + udp_log.string() + " >/dev/null 2>&1 & echo $!");
    servers_.push_back(std::stoi(r.out));
  }
  auto send = [&](const std::string& from, const std::string& source, const std::string& payload) {
    InNs(From(from), "/usr/bin/python3 " + (dir_ / "udp_send.py").string() + " " + source + " 10.1.0.2 5000 " + payload);
  };
  auto logged = [&] {
    std::ifstream in(udp_log);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  auto wait_logged = [&](const std::string& line) {
    auto deadline = Clock::now() + std::chrono::seconds(15);
    while (logged().find(line) == std::string::npos && Clock::now() < deadline) {
      send("a2", "10.1.0.3", "ping");  // the listener may still be starting
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  wait_logged("ping 10.1.0.3");
  ASSERT_NE(logged().find("ping 10.1.0.3"), std::string::npos) << "the UDP listener in a1 heard nothing";
  InNs(From("b1"), "ip addr add 10.1.0.5/32 dev eth0");
  for (int i = 0; i < 3; ++i) send("b1", "10.1.0.5", "forged");
  send("b1", "10.1.0.18", "own");  // b1's own address: group A allows nothing from B on udp
  InNs(From("b1"), "ip addr del 10.1.0.5/32 dev eth0");
  send("a2", "10.1.0.3", "after");
  wait_logged("after 10.1.0.3");
  ASSERT_NE(logged().find("after 10.1.0.3"), std::string::npos);
  EXPECT_EQ(logged().find("forged"), std::string::npos) << logged();
  EXPECT_EQ(logged().find("own"), std::string::npos) << logged();

  // The public address reaches its instance (DNAT, outside source kept), only on allowed ports.
  ExpectReach(outside_, "203.0.113.5", 7000, "a1 198.51.100.2");
  ExpectBlocked(outside_, "203.0.113.5", 22);
  ExpectBlocked(outside_, "10.1.0.18", 7000);  // group B allows nothing from outside
  // Outbound: a1 leaves with its public address (SNAT), a2 with the host's (masquerade).
  ExpectReach(From("a1"), "198.51.100.2", 9000, "outside 203.0.113.5");
  ExpectReach(From("a2"), "198.51.100.2", 9000, "outside 198.51.100.1");
  // Metadata: 169.254.169.254:80 reaches the listener, which sees the instance's own address.
  ExpectReach(From("a2"), "169.254.169.254", 80, "metadata 10.1.0.3");
  ExpectReach(From("b1"), "169.254.169.254", 80, "metadata 10.1.0.18");

  // The address released: it reaches nothing, and it is gone from the public interface.
  state_.endpoints[0].public_ip = "";
  ASSERT_TRUE(Apply().ok());
  ExpectBlocked(outside_, "203.0.113.5", 7000);
  EXPECT_EQ(OutNs(host_, "ip -o addr show dev pub0").find("203.0.113.5"), std::string::npos);
  ExpectReach(From("a1"), "198.51.100.2", 9000, "outside 198.51.100.1");

  // The host's own rules survived every apply.
  std::string saved = Saved();
  EXPECT_NE(saved.find("-A FORWARD -s 192.0.2.99/32 -j ACCEPT"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-A POSTROUTING -s 192.0.2.99/32 -j RETURN"), std::string::npos) << saved;
}

// The DHCP server killed behind the driver's back: the next apply starts it again, and it
// hands out the same address.
TEST_F(LinuxNetworkKernelTest, AKilledDhcpServerIsStartedByTheNextApply) {
  ASSERT_NO_FATAL_FAILURE(StartTwoGroups());
  fs::path pid_file = dir_ / "state" / "dhcp" / "dnsmasq.pid";
  auto read_pid = [&] {
    std::ifstream in(pid_file);
    int pid = 0;
    in >> pid;
    return pid;
  };
  int old_pid = read_pid();
  ASSERT_GT(old_pid, 1);
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (::kill(old_pid, 0) == 0 && Clock::now() < deadline) {
    // A killed child of init is reaped at once; wait until its pid is gone.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(Apply().ok());
  int new_pid = read_pid();
  EXPECT_NE(new_pid, old_pid);
  EXPECT_EQ(::kill(new_pid, 0), 0) << "no DHCP server runs after the apply";
  InNs(From("a1"), "ip addr flush dev eth0");
  std::string dhcp = Sh("ip netns exec " + From("a1") + " busybox udhcpc -i eth0 -n -q -t 10 -T 1 -s " +
                        (dir_ / "udhcpc.sh").string() + " 2>&1")
                         .out;
  EXPECT_NE(dhcp.find("lease of 10.1.0.2 obtained from 10.1.0.1"), std::string::npos) << dhcp;
}

TEST_F(LinuxNetworkKernelTest, ApplyingTwiceChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartTwoGroups());
  std::string rules = Saved();
  // Devices, masters and IPv4 addresses; not the operational state or IPv6 DAD flags, which
  // the kernel changes on its own a moment after a bridge gains a port.
  std::string links = OutNs(host_, "ip -o link show | sed -E 's/ state [A-Z]+//'; ip -o -4 addr show");
  std::string pid = OutNs(host_, "cat " + (dir_ / "state/dhcp/dnsmasq.pid").string());
  ASSERT_FALSE(pid.empty());

  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(net_->last_stats().commands, 0);
  // A new driver (a restarted cluster controller) finds the host as it wants it.
  NetworkOptions options;
  options.state_dir = (dir_ / "state").string();
  options.netns = host_;
  LinuxNetwork fresh(options);
  ASSERT_TRUE(fresh.Apply(state_).ok());
  ApplyStats stats = fresh.last_stats();
  EXPECT_EQ(stats.changing_commands, 0) << "filter chains " << stats.filter_chains << ", nat chains "
                                        << stats.nat_chains << ", dnsmasq started " << stats.dnsmasq_started;
  EXPECT_EQ(Saved(), rules);
  EXPECT_EQ(OutNs(host_, "ip -o link show | sed -E 's/ state [A-Z]+//'; ip -o -4 addr show"), links);
  EXPECT_EQ(OutNs(host_, "cat " + (dir_ / "state/dhcp/dnsmasq.pid").string()), pid);
  // Exactly one jump from each builtin chain.
  for (const char* jump : {"-A FORWARD -j EUCA-FORWARD\n", "-A PREROUTING -j EUCA-PREROUTING\n",
                           "-A OUTPUT -j EUCA-OUTPUT\n", "-A POSTROUTING -j EUCA-POSTROUTING\n"}) {
    size_t first = rules.find(jump);
    EXPECT_NE(first, std::string::npos) << jump;
    EXPECT_EQ(rules.find(jump, first + 1), std::string::npos) << jump;
  }

  // Another instance on a served network: the same dnsmasq re-reads its hosts (SIGHUP) and
  // hands the newcomer its address.
  MakeInstance("b2", "d0:0d:00:00:00:04");
  state_.endpoints.push_back({"i-b2", "sg-b", {"sg-b"}, "d0:0d:00:00:00:04", "10.1.0.19", ""});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(net_->last_stats().dnsmasq_started, 0);
  EXPECT_EQ(net_->last_stats().dnsmasq_reloaded, 1);
  EXPECT_EQ(OutNs(host_, "cat " + (dir_ / "state/dhcp/dnsmasq.pid").string()), pid);
  Attach("b2", "eucabr2", "10.1.0.19/28", "10.1.0.17", /*configure=*/false);
  std::string dhcp = Sh("ip netns exec " + From("b2") + " busybox udhcpc -i eth0 -n -q -t 10 -T 1 -s " +
                        (dir_ / "udhcpc.sh").string() + " 2>&1")
                         .out;
  EXPECT_NE(dhcp.find("lease of 10.1.0.19 obtained from 10.1.0.17"), std::string::npos) << dhcp;
}

TEST_F(LinuxNetworkKernelTest, RemovedNetworkAndTearDownLeaveNothing) {
  ASSERT_NO_FATAL_FAILURE(StartTwoGroups());
  std::string pid = OutNs(host_, "cat " + (dir_ / "state/dhcp/dnsmasq.pid").string());
  // Group B's instance leaves: its bridge and chain go, and DHCP serves group A only.
  state_.groups.pop_back();
  state_.endpoints.pop_back();
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(OutNs(host_, "ip -o link show eucabr2 2>/dev/null"), "");
  EXPECT_EQ(Saved().find("EUCA-NET-2"), std::string::npos);
  std::string conf = testing::ReadAll(dir_ / "state/dhcp/dnsmasq.conf");
  EXPECT_EQ(conf.find("eucabr2"), std::string::npos) << conf;
  EXPECT_NE(conf.find("interface=eucabr1\n"), std::string::npos) << conf;
  // The server was restarted without that network (a zombie left to a non-reaping init has
  // an empty command line).
  auto cmdline_of = [](const std::string& p) {
    std::ifstream in("/proc/" + std::to_string(std::stoi(p)) + "/cmdline");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(cmdline_of(pid).find("dnsmasq"), std::string::npos) << cmdline_of(pid);
  std::string pid_now = OutNs(host_, "cat " + (dir_ / "state/dhcp/dnsmasq.pid").string());
  EXPECT_NE(cmdline_of(pid_now).find("dnsmasq"), std::string::npos);

  ASSERT_TRUE(net_->TearDown().ok());
  std::string saved = Saved();
  EXPECT_EQ(saved.find("EUCA"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-A FORWARD -s 192.0.2.99/32 -j ACCEPT"), std::string::npos) << saved;
  EXPECT_EQ(OutNs(host_, "ip -o link show type bridge"), "");
  EXPECT_EQ(OutNs(host_, "ip -o addr show dev pub0").find("203.0.113.5"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "state/dhcp"));
}

TEST_F(LinuxNetworkKernelTest, FailedRuleApplyKeepsTheOldRules) {
  ASSERT_NO_FATAL_FAILURE(StartTwoGroups());
  // A rule of the host's own holds group B's chain, so the kernel refuses to delete it.
  InNs(host_, "iptables -A INPUT -j EUCA-NET-2");
  std::string before = Saved();
  DesiredState next = state_;
  next.groups.pop_back();
  next.endpoints.pop_back();
  next.groups[0].ingress.push_back({"tcp", 22, 22, "0.0.0.0/0", ""});
  Status s = net_->Apply(next);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("iptables-restore"), std::string::npos) << s.ToString();
  // Neither table changed: not group A's new rule, not the nat rules.
  EXPECT_EQ(Saved(), before);
  ExpectBlocked(outside_, "203.0.113.5", 22);  // the new rule would open it
  // The hold released, the next Apply looks at the host again and converges.
  InNs(host_, "iptables -D INPUT -j EUCA-NET-2");
  ASSERT_TRUE(net_->Apply(next).ok());
  std::string after = Saved();
  EXPECT_NE(after.find("-A EUCA-NET-1 -p tcp -m tcp --dport 22 -j ACCEPT"), std::string::npos) << after;
  EXPECT_EQ(after.find("EUCA-NET-2"), std::string::npos) << after;
  ExpectReach(outside_, "203.0.113.5", 22, "a1 198.51.100.2");
}

TEST_F(LinuxNetworkKernelTest, StaticModeServesTheMacMapOnTheConfiguredBridge) {
  // STATIC: the bridge exists already (the administrator's); euca only adds DHCP.
  InNs(host_, "ip link add br-lan type bridge && ip addr add 192.168.50.1/24 dev br-lan && ip link set br-lan up");
  MakeInstance("s1", "d0:0d:00:00:00:51");
  DesiredState s;
  s.mode = Mode::kStatic;
  s.bridge = "br-lan";
  s.subnet = "192.168.50.0/24";
  s.gateway = "192.168.50.1";
  s.endpoints = {{"i-s1", "", {}, "d0:0d:00:00:00:51", "192.168.50.77", ""}};
  state_ = s;
  // A state directory private to root (as a EUCA_HOME of mode 0700): dnsmasq, which reads its
  // hosts file after dropping to nobody, must keep root to serve anyone.
  fs::permissions(dir_, fs::perms::owner_all);
  ASSERT_TRUE(Apply().ok());
  EXPECT_NE(testing::ReadAll(dir_ / "state/dhcp/dnsmasq.conf").find("\nuser=root\n"), std::string::npos);
  Attach("s1", "br-lan", "", "", /*configure=*/false);
  std::string dhcp = Sh("ip netns exec " + From("s1") + " busybox udhcpc -i eth0 -n -q -t 10 -T 1 -s " +
                        (dir_ / "udhcpc.sh").string() + " 2>&1")
                         .out;
  EXPECT_NE(dhcp.find("lease of 192.168.50.77 obtained from 192.168.50.1"), std::string::npos) << dhcp;
  // No bridge of euca's, no filtering.
  EXPECT_EQ(OutNs(host_, "ip -o link show type bridge").find("eucabr"), std::string::npos);
  EXPECT_EQ(Saved().find("-A EUCA-FORWARD"), std::string::npos);
  ASSERT_TRUE(net_->TearDown().ok());
  // TearDown leaves the administrator's bridge alone.
  EXPECT_NE(OutNs(host_, "ip -o link show br-lan"), "");
}

}  // namespace
}  // namespace euca::network
