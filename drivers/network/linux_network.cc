#include "drivers/network/linux_network.h"

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include "core/base/env.h"

namespace euca::network {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kFileMode = 0644;
constexpr uint32_t kDirMode = 0755;
constexpr std::string_view kBridgePrefix = "eucabr";
const std::string kDnsmasqName = "dnsmasq";  // its files: dnsmasq.conf, .pid, .leases

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

// The builtin chain -> euca chain jumps of each table.
const std::vector<std::pair<std::string, std::string>>& Jumps(const std::string& table) {
  static const std::vector<std::pair<std::string, std::string>> filter = {{"FORWARD", "EUCA-FORWARD"}};
  static const std::vector<std::pair<std::string, std::string>> nat = {
      {"PREROUTING", "EUCA-PREROUTING"}, {"OUTPUT", "EUCA-OUTPUT"}, {"POSTROUTING", "EUCA-POSTROUTING"}};
  return table == "filter" ? filter : nat;
}

// iptables-save / iptables-restore text of one table -> EUCA-* chain -> its "-A" lines; counts the
// jumps "-A <builtin> -j EUCA-..." into `jumps` (keys "table builtin target").
std::map<std::string, std::string> ParseChains(const std::string& table, const std::string& text,
                                               std::map<std::string, int>* jumps) {
  std::map<std::string, std::string> chains;
  bool in_table = false;
  std::string_view rest(text);
  std::string* last = nullptr;  // rules of one chain come together: skip the map lookup
  std::string_view last_name;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty()) continue;
    if (line[0] == '*') {
      in_table = line.substr(1) == table;
      continue;
    }
    if (!in_table || line[0] == '#') continue;
    if (line[0] == ':') {
      std::string_view name = line.substr(1, line.find(' ') - 1);
      if (StartsWith(name, kChainPrefix)) chains[std::string(name)];
      continue;
    }
    if (!StartsWith(line, "-A ")) continue;
    std::string_view chain = line.substr(3, line.find(' ', 3) - 3);
    if (StartsWith(chain, kChainPrefix)) {
      if (last == nullptr || chain != last_name) {
        last = &chains[std::string(chain)];
        last_name = chain;
      }
      last->append(line);
      last->push_back('\n');
    } else if (jumps != nullptr) {
      for (const auto& [builtin, target] : Jumps(table)) {
        if (line == "-A " + builtin + " -j " + target) ++(*jumps)[table + " " + builtin + " " + target];
      }
    }
  }
  return chains;
}

// If `now` is `before` with lines added (and none removed or moved), appends to `out` one
// "-I <chain> <position> <rule>" per added line, positions counted in `now`, and returns
// true. Lines are "-A <chain> <rule>\n".
bool InsertsOnly(const std::string& before, const std::string& now, std::string* out) {
  std::string_view b(before), n(now);
  std::string add;
  size_t position = 0;
  while (!n.empty()) {
    std::string_view line = n.substr(0, n.find('\n') + 1);
    n.remove_prefix(line.size());
    ++position;
    if (!b.empty() && b.substr(0, line.size()) == line) {
      b.remove_prefix(line.size());
      continue;
    }
    size_t space = line.find(' ', 3);  // after "-A <chain>"
    if (line.size() < 4 || space == std::string_view::npos) return false;
    add += "-I ";
    add.append(line.substr(3, space - 3));
    add += " " + std::to_string(position);
    add.append(line.substr(space));
  }
  if (!b.empty()) return false;
  *out += add;
  return true;
}

// Writes `data` to `path` through a temporary file and a rename: atomic, not durable (no
// fsync). For the record of the rule sets, which the driver never reads back.
Status WriteRecord(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << data;
    if (!out.flush()) return Internal("write '" + tmp + "' failed");
  }
  return PosixEnv().Rename(tmp, path);
}

std::string DhcpDir(const std::string& state_dir) { return JoinPath(state_dir, "dhcp"); }

Result<int> ReadPid(const std::string& path) {
  Result<std::string> text = PosixEnv().ReadFile(path);
  if (!text.ok()) return text.status();
  try {
    int pid = std::stoi(*text);
    if (pid > 1) return pid;
  } catch (...) {
  }
  return NotFound("no pid in '" + path + "'");
}

// True if `pid` is a live (not zombie) process whose command line contains `needle`.
bool ProcessMatches(int pid, const std::string& needle) {
  Result<std::string> cmdline = PosixEnv().ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline.ok() || cmdline->find(needle) == std::string::npos) return false;
  Result<std::string> stat = PosixEnv().ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return false;
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

// True when every folder from / down to `dir` lets others through (o+x), so that dnsmasq,
// which drops to the user nobody, can re-read its hosts file there on SIGHUP.
bool OthersCanReach(const std::string& dir) {
  std::filesystem::path p = std::filesystem::absolute(dir), walked = p.root_path();
  for (const auto& part : p.relative_path()) {
    walked /= part;
    struct stat st;
    if (::stat(walked.c_str(), &st) != 0) return true;  // made later with mode 0755
    if (!(st.st_mode & S_IXOTH)) return false;
  }
  return true;
}

}  // namespace

LinuxNetwork::LinuxNetwork(NetworkOptions options)
    : options_(std::move(options)), runner_(options_.runner ? options_.runner : &RealCommandRunner()) {}

ApplyStats LinuxNetwork::last_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void LinuxNetwork::SetDnsmasqProbeForTest(std::function<bool(const std::string&)> probe) {
  std::lock_guard<std::mutex> lock(mu_);
  probe_ = std::move(probe);
}

Result<CommandResult> LinuxNetwork::Run(std::vector<std::string> argv, std::optional<std::string> input, bool changes) {
  Command cmd;
  if (!options_.netns.empty()) cmd.argv = {"ip", "netns", "exec", options_.netns};
  cmd.argv.insert(cmd.argv.end(), argv.begin(), argv.end());
  cmd.stdin_data = std::move(input);
  cmd.timeout = std::chrono::minutes(2);
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.commands;
    if (changes) ++stats_.changing_commands;
  }
  return runner_->Run(cmd);
}

Status LinuxNetwork::Discover() {
  links_.clear();
  EUCA_ASSIGN_OR_RETURN(CommandResult links, Run({"ip", "-o", "link", "show"}, std::nullopt, false));
  for (const std::string& line : Lines(links.out)) {
    // "12: eucabr1: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 ... master eucabr2 state ..."
    size_t a = line.find(": ");
    if (a == std::string::npos) continue;
    size_t b = line.find(": ", a + 2);
    if (b == std::string::npos) continue;
    std::string name = line.substr(a + 2, b - a - 2);
    name = name.substr(0, name.find('@'));
    Link& link = links_[name];
    size_t lt = line.find('<'), gt = line.find('>');
    if (lt != std::string::npos && gt != std::string::npos) {
      std::string flags = "," + line.substr(lt + 1, gt - lt - 1) + ",";
      link.up = flags.find(",UP,") != std::string::npos;
    }
    std::vector<std::string> words = Words(line);
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      if (words[i] == "master") link.master = words[i + 1];
    }
  }
  EUCA_ASSIGN_OR_RETURN(CommandResult addrs, Run({"ip", "-o", "-4", "addr", "show"}, std::nullopt, false));
  for (const std::string& line : Lines(addrs.out)) {
    // "12: eucabr1    inet 10.1.0.1/28 brd 10.1.0.15 scope global eucabr1\ ..."
    std::vector<std::string> w = Words(line);
    if (w.size() < 4 || w[2] != "inet") continue;
    std::string dev = w[1].substr(0, w[1].find('@'));
    std::string cidr = w[3].find('/') == std::string::npos ? w[3] + "/32" : w[3];
    links_[dev].addresses.insert(cidr);
  }
  jumps_.clear();
  for (const std::string table : {"filter", "nat"}) {
    EUCA_ASSIGN_OR_RETURN(CommandResult saved, Run({"iptables-save", "-t", table}, std::nullopt, false));
    (table == "filter" ? filter_chains_ : nat_chains_) = ParseChains(table, saved.out, &jumps_);
  }
  EUCA_ASSIGN_OR_RETURN(CommandResult fwd, Run({"sysctl", "-n", "net.ipv4.ip_forward"}, std::nullopt, false));
  forwarding_ = fwd.out == "1\n" || fwd.out == "1";

  Env& env = PosixEnv();
  owned_links_.clear();
  Result<std::string> owned = env.ReadFile(JoinPath(options_.state_dir, "links"));
  if (owned.ok()) {
    for (const std::string& line : Lines(*owned)) owned_links_.insert(line);
  }
  recorded_ = {};
  recorded_.links = owned.value_or("");
  recorded_.filter = env.ReadFile(JoinPath(options_.state_dir, "filter.rules")).value_or("");
  recorded_.nat = env.ReadFile(JoinPath(options_.state_dir, "nat.rules")).value_or("");
  dhcp_conf_.clear();
  dhcp_hosts_.clear();
  std::string dir = DhcpDir(options_.state_dir);
  if (env.Exists(dir)) {
    // Earlier versions ran one dnsmasq per bridge (eucabrN.conf, .pid, .leases): stop them.
    EUCA_ASSIGN_OR_RETURN(std::vector<std::string> names, env.ListDir(dir));
    for (const std::string& name : names) {
      if (name.size() <= 5 || name.substr(name.size() - 5) != ".conf" || name == kDnsmasqName + ".conf") continue;
      std::string base = name.substr(0, name.size() - 5);
      EUCA_RETURN_IF_ERROR(StopDnsmasq(base));
      for (const char* ext : {".conf", ".pid", ".leases"}) EUCA_RETURN_IF_ERROR(env.RemoveAll(JoinPath(dir, base + ext)));
    }
    // A configuration whose dnsmasq is not running counts as not applied (started below).
    Result<std::string> conf = env.ReadFile(JoinPath(dir, kDnsmasqName + ".conf"));
    if (conf.ok() && DnsmasqRunning(kDnsmasqName)) {
      dhcp_conf_ = *conf;
      dhcp_hosts_ = env.ReadFile(JoinPath(dir, "hosts")).value_or("");
    }
  }
  known_ = true;
  return Status::Ok();
}

bool LinuxNetwork::DnsmasqRunning(const std::string& name) {
  if (probe_) return probe_(name);
  std::string dir = DhcpDir(options_.state_dir);
  Result<int> pid = ReadPid(JoinPath(dir, name + ".pid"));
  return pid.ok() && ProcessMatches(*pid, JoinPath(dir, name + ".conf"));
}

Status LinuxNetwork::StopDnsmasq(const std::string& name) {
  ++stats_.dnsmasq_stopped;
  if (probe_) return Status::Ok();
  std::string dir = DhcpDir(options_.state_dir);
  std::string conf = JoinPath(dir, name + ".conf");
  Result<int> pid = ReadPid(JoinPath(dir, name + ".pid"));
  if (!pid.ok() || !ProcessMatches(*pid, conf)) return Status::Ok();
  ::kill(*pid, SIGTERM);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (ProcessMatches(*pid, conf)) {
    if (Clock::now() > deadline) {
      ::kill(*pid, SIGKILL);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Ok();
}

namespace {

// Whether a line of the hosts file `before` (MAC,address per line) is not in `after`.
bool HostsDropped(const std::string& before, const std::string& after) {
  std::set<std::string_view> now;
  for (size_t at = 0; at < after.size();) {
    size_t end = after.find('\n', at);
    if (end == std::string::npos) end = after.size();
    now.insert(std::string_view(after).substr(at, end - at));
    at = end + 1;
  }
  for (size_t at = 0; at < before.size();) {
    size_t end = before.find('\n', at);
    if (end == std::string::npos) end = before.size();
    std::string_view line = std::string_view(before).substr(at, end - at);
    if (!line.empty() && !now.count(line)) return true;
    at = end + 1;
  }
  return false;
}

}  // namespace

std::string LinuxNetwork::ServerConf(const Rendered& r) const {
  if (r.dhcp_conf.empty()) return "";
  // dnsmasq reads its hosts file as nobody; where nobody cannot reach it (a private EUCA_HOME)
  // it keeps root instead. Noted in the configuration so that it shows in the file.
  if (!probe_ && !OthersCanReach(DhcpDir(options_.state_dir))) {
    return r.dhcp_conf + "# the state directory is private to its owner: dnsmasq stays root to read hosts\nuser=root\n";
  }
  return r.dhcp_conf;
}

Status LinuxNetwork::ApplyDhcp(const Rendered& r, bool stale_only) {
  Env& env = PosixEnv();
  std::string dir = DhcpDir(options_.state_dir);
  const std::string conf = ServerConf(r);
  std::string conf_path = JoinPath(dir, kDnsmasqName + ".conf"), hosts_path = JoinPath(dir, "hosts");
  if (stale_only) {
    // Before the links change: a server whose configuration changes (networks come or go)
    // stops now, so that it never holds a bridge being deleted; it starts again after the links.
    if (dhcp_conf_.empty() || dhcp_conf_ == conf) return Status::Ok();
    EUCA_RETURN_IF_ERROR(StopDnsmasq(kDnsmasqName));
    dhcp_conf_.clear();
    if (conf.empty()) {
      for (const std::string& path : {conf_path, hosts_path, JoinPath(dir, kDnsmasqName + ".pid")}) {
        EUCA_RETURN_IF_ERROR(env.RemoveAll(path));
      }
      dhcp_hosts_.clear();
    }
    return Status::Ok();
  }
  if (conf.empty()) return Status::Ok();
  // A server killed behind the driver's back (or crashed) is started again by the next apply:
  // its configuration counts as not applied. (Reading its /proc entry costs microseconds.)
  if (!dhcp_conf_.empty() && !DnsmasqRunning(kDnsmasqName)) dhcp_conf_.clear();
  if (dhcp_conf_ == conf && HostsDropped(dhcp_hosts_, r.dhcp_hosts)) {
    // An instance's address left (terminated) and may come back for another MAC: dnsmasq
    // would keep the old client's lease on it and refuse the new one, and SIGHUP does not
    // forget leases. Restart it with no leases (below).
    EUCA_RETURN_IF_ERROR(StopDnsmasq(kDnsmasqName));
    dhcp_conf_.clear();
  }
  if (dhcp_conf_ == conf) {
    if (dhcp_hosts_ == r.dhcp_hosts) return Status::Ok();
    // Only instances changed: dnsmasq re-reads its hosts file on SIGHUP, keeping its socket.
    EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(hosts_path, r.dhcp_hosts, kFileMode));
    if (!probe_) {
      Result<int> pid = ReadPid(JoinPath(dir, kDnsmasqName + ".pid"));
      if (!pid.ok() || ::kill(*pid, SIGHUP) != 0) {
        dhcp_conf_.clear();  // gone meanwhile: start it again next time
        return Unavailable("the DHCP server (dnsmasq) is not running; the next apply starts it");
      }
    }
    dhcp_hosts_ = r.dhcp_hosts;
    ++stats_.dnsmasq_reloaded;
    return Status::Ok();
  }
  if (!dhcp_conf_.empty()) {  // (only when stale_only was skipped)
    EUCA_RETURN_IF_ERROR(StopDnsmasq(kDnsmasqName));
    dhcp_conf_.clear();
  }
  EUCA_RETURN_IF_ERROR(env.CreateDirs(dir, kDirMode));
  EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(hosts_path, r.dhcp_hosts, kFileMode));
  EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(conf_path, conf, kFileMode));
  dhcp_hosts_ = r.dhcp_hosts;
  // Every address is static (dhcp-host), so leases are only dnsmasq's bookkeeping: a server
  // starts without any, or an address that changed hands would stay leased to its old MAC.
  // Clients renewing are answered from the hosts file (dhcp-authoritative).
  EUCA_RETURN_IF_ERROR(env.RemoveAll(JoinPath(dir, kDnsmasqName + ".leases")));
  // dnsmasq returns once it serves (or failed to).
  Result<CommandResult> done = Run({"dnsmasq", "--conf-file=" + conf_path}, std::nullopt, true);
  if (!done.ok()) return done.status().WithContext("start the DHCP server (dnsmasq)");
  ++stats_.dnsmasq_started;
  dhcp_conf_ = conf;
  return Status::Ok();
}

Status LinuxNetwork::ApplyLinks(const Rendered& r) {
  std::map<std::string, std::string> bridges;               // name -> gateway cidr
  std::map<std::string, std::string> vlans;                 // device -> bridge
  std::set<std::pair<std::string, std::string>> addresses;  // (cidr, dev)
  for (const std::string& line : Lines(r.links)) {
    std::vector<std::string> w = Words(line);
    if (w.size() == 3 && w[0] == "bridge") bridges[w[1]] = w[2];
    if (w.size() == 4 && w[0] == "vlan") vlans[w[1]] = w[3];
    if (w.size() == 4 && w[0] == "address") addresses.insert({w[1], w[3]});
  }
  std::string batch;
  // Removals first: bridges, VLAN devices and addresses euca made that the state no longer has.
  for (auto it = links_.begin(); it != links_.end();) {
    if (StartsWith(it->first, kBridgePrefix) && !bridges.count(it->first)) {
      batch += "link delete " + it->first + "\n";
      it = links_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& line : owned_links_) {
    std::vector<std::string> w = Words(line);
    if (w.size() == 4 && w[0] == "vlan" && !vlans.count(w[1]) && links_.count(w[1])) {
      batch += "link delete " + w[1] + "\n";
      links_.erase(w[1]);
    }
    if (w.size() == 4 && w[0] == "address" && !addresses.count({w[1], w[3]}) && links_.count(w[3]) &&
        links_[w[3]].addresses.erase(w[1])) {
      batch += "address delete " + w[1] + " dev " + w[3] + "\n";
    }
  }
  for (const auto& [name, cidr] : bridges) {
    auto found = links_.find(name);
    if (found == links_.end()) batch += "link add " + name + " type bridge\n";
    Link& link = links_[name];
    for (auto a = link.addresses.begin(); a != link.addresses.end();) {
      if (*a == cidr) {
        ++a;
        continue;
      }
      batch += "address delete " + *a + " dev " + name + "\n";
      a = link.addresses.erase(a);
    }
    if (!link.addresses.count(cidr)) {
      batch += "address add " + cidr + " dev " + name + "\n";
      link.addresses.insert(cidr);
    }
    if (!link.up) {
      batch += "link set " + name + " up\n";
      link.up = true;
    }
  }
  for (const auto& [dev, bridge] : vlans) {
    size_t dot = dev.rfind('.');
    if (!links_.count(dev)) {
      batch += "link add link " + dev.substr(0, dot) + " name " + dev + " type vlan id " + dev.substr(dot + 1) + "\n";
    }
    Link& link = links_[dev];
    if (link.master != bridge || !link.up) {
      batch += "link set " + dev + " master " + bridge + " up\n";
      link.master = bridge;
      link.up = true;
    }
  }
  for (const auto& [cidr, dev] : addresses) {
    Link& link = links_[dev];
    if (!link.addresses.count(cidr)) {
      batch += "address add " + cidr + " dev " + dev + "\n";
      link.addresses.insert(cidr);
    }
  }
  if (!batch.empty()) {
    Result<CommandResult> done = Run({"ip", "-batch", "-"}, batch, true);
    if (!done.ok()) return done.status().WithContext("apply links");
  }
  owned_links_.clear();
  for (const std::string& line : Lines(r.links)) owned_links_.insert(line);
  return Status::Ok();
}

Status LinuxNetwork::EnsureForwarding() {
  if (forwarding_) return Status::Ok();
  Result<CommandResult> done = Run({"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"}, std::nullopt, true);
  if (!done.ok()) return done.status().WithContext("enable IPv4 forwarding");
  forwarding_ = true;
  return Status::Ok();
}

Status LinuxNetwork::ApplyRules(const Rendered& r) {
  std::string input;
  std::map<std::string, std::map<std::string, std::string>> wanted;
  for (const std::string table : {"filter", "nat"}) {
    auto& current = table == "filter" ? filter_chains_ : nat_chains_;
    std::map<std::string, std::string> desired = ParseChains(table, table == "filter" ? r.filter : r.nat, nullptr);
    std::string declare, rules, inserts, jumps, remove;
    int changed = 0;
    for (const auto& [chain, lines] : desired) {
      auto it = current.find(chain);
      if (it != current.end() && it->second == lines) continue;
      ++changed;
      // Rules only added (an authorization): insert them where they go; much cheaper for the
      // nf_tables backend than flushing the chain, which needs the whole table's rules.
      if (it != current.end() && InsertsOnly(it->second, lines, &inserts)) continue;
      declare += ":" + chain + " - [0:0]\n";  // creates the chain, or (with --noflush) flushes it
      rules += lines;
    }
    for (const auto& [chain, lines] : current) {
      if (desired.count(chain)) continue;
      declare += ":" + chain + " - [0:0]\n";
      remove += "-X " + chain + "\n";
      ++changed;
    }
    for (const auto& [builtin, target] : Jumps(table)) {
      int& count = jumps_[table + " " + builtin + " " + target];
      if (count == 0) jumps += "-I " + builtin + " 1 -j " + target + "\n";
      for (int i = 1; i < count; ++i) jumps += "-D " + builtin + " -j " + target + "\n";
    }
    (table == "filter" ? stats_.filter_chains : stats_.nat_chains) = changed;
    if (declare.empty() && inserts.empty() && jumps.empty()) continue;
    input += "*" + table + "\n" + declare + rules + inserts + jumps + remove + "COMMIT\n";
    wanted[table] = std::move(desired);
  }
  if (input.empty()) return Status::Ok();
  Result<CommandResult> done = Run({"iptables-restore", "--noflush"}, input, true);
  if (!done.ok()) return done.status().WithContext("apply the rules (the previous rules stay)");
  for (auto& [table, desired] : wanted) {
    (table == "filter" ? filter_chains_ : nat_chains_) = std::move(desired);
    for (const auto& [builtin, target] : Jumps(table)) jumps_[table + " " + builtin + " " + target] = 1;
  }
  return Status::Ok();
}

Status LinuxNetwork::Record(const Rendered& r) {
  Env& env = PosixEnv();
  EUCA_RETURN_IF_ERROR(env.CreateDirs(options_.state_dir, kDirMode));
  if (recorded_.links != r.links) {
    EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(JoinPath(options_.state_dir, "links"), r.links, kFileMode));
    recorded_.links = r.links;
  }
  if (recorded_.filter != r.filter) {
    EUCA_RETURN_IF_ERROR(WriteRecord(JoinPath(options_.state_dir, "filter.rules"), r.filter));
    recorded_.filter = r.filter;
  }
  if (recorded_.nat != r.nat) {
    EUCA_RETURN_IF_ERROR(WriteRecord(JoinPath(options_.state_dir, "nat.rules"), r.nat));
    recorded_.nat = r.nat;
  }
  return Status::Ok();
}

Status LinuxNetwork::Apply(const DesiredState& state) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_ = {};
  auto t = Clock::now();
  EUCA_ASSIGN_OR_RETURN(Rendered r, Render(state, options_.state_dir));
  stats_.render_ms = MsSince(t);
  Status s = [&]() -> Status {
    if (!known_) {
      t = Clock::now();
      EUCA_RETURN_IF_ERROR(Discover());
      stats_.discover_ms = MsSince(t);
    }
    t = Clock::now();
    EUCA_RETURN_IF_ERROR(ApplyDhcp(r, /*stale_only=*/true));
    double dhcp_ms = MsSince(t);
    // The rules and the links are independent (rules name bridges only by the eucabr+
    // wildcard), so iptables-restore runs while ip -batch makes the bridges and the DHCP
    // servers, which need their bridges, start; on two cores this overlaps the kernel's
    // bridge work with the rule parsing. ApplyRules touches only the rule members.
    t = Clock::now();
    Status rules;
    std::thread rules_thread([&] {
      rules = ApplyRules(r);
      stats_.rules_ms = MsSince(t);
    });
    Status links_and_dhcp = [&]() -> Status {
      EUCA_RETURN_IF_ERROR(ApplyLinks(r));
      if (IsManaged(state.mode)) EUCA_RETURN_IF_ERROR(EnsureForwarding());
      stats_.links_ms = MsSince(t);
      auto dhcp_start = Clock::now();
      EUCA_RETURN_IF_ERROR(ApplyDhcp(r, /*stale_only=*/false));
      stats_.dhcp_ms = dhcp_ms + MsSince(dhcp_start);
      return Status::Ok();
    }();
    rules_thread.join();
    EUCA_RETURN_IF_ERROR(links_and_dhcp);
    EUCA_RETURN_IF_ERROR(rules);
    t = Clock::now();
    EUCA_RETURN_IF_ERROR(Record(r));
    stats_.record_ms = MsSince(t);
    return Status::Ok();
  }();
  if (!s.ok()) known_ = false;  // look at the host again next time
  return s;
}

Status LinuxNetwork::TearDown() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_ = {};
  known_ = false;
  EUCA_RETURN_IF_ERROR(Discover());
  known_ = false;
  // DHCP first (it holds the bridges), then links, then rules.
  Env& env = PosixEnv();
  if (!dhcp_conf_.empty()) EUCA_RETURN_IF_ERROR(StopDnsmasq(kDnsmasqName));
  dhcp_conf_.clear();
  dhcp_hosts_.clear();
  EUCA_RETURN_IF_ERROR(env.RemoveAll(DhcpDir(options_.state_dir)));
  std::string batch;
  for (const auto& [name, link] : links_) {
    if (StartsWith(name, kBridgePrefix)) batch += "link delete " + name + "\n";
  }
  for (const std::string& line : owned_links_) {
    std::vector<std::string> w = Words(line);
    if (w.size() == 4 && w[0] == "vlan" && links_.count(w[1])) batch += "link delete " + w[1] + "\n";
    if (w.size() == 4 && w[0] == "address" && links_.count(w[3]) && links_[w[3]].addresses.count(w[1])) {
      batch += "address delete " + w[1] + " dev " + w[3] + "\n";
    }
  }
  if (!batch.empty()) {
    Result<CommandResult> done = Run({"ip", "-batch", "-"}, batch, true);
    if (!done.ok()) return done.status().WithContext("remove links");
  }
  std::string input;
  for (const std::string table : {"filter", "nat"}) {
    const auto& chains = table == "filter" ? filter_chains_ : nat_chains_;
    std::string declare, jumps, remove;
    for (const auto& [builtin, target] : Jumps(table)) {
      for (int i = 0; i < jumps_[table + " " + builtin + " " + target]; ++i) {
        jumps += "-D " + builtin + " -j " + target + "\n";
      }
    }
    for (const auto& [chain, lines] : chains) {
      declare += ":" + chain + " - [0:0]\n";
      remove += "-X " + chain + "\n";
    }
    if (!declare.empty() || !jumps.empty()) input += "*" + table + "\n" + declare + jumps + remove + "COMMIT\n";
  }
  if (!input.empty()) {
    Result<CommandResult> done = Run({"iptables-restore", "--noflush"}, input, true);
    if (!done.ok()) return done.status().WithContext("remove the rules");
  }
  filter_chains_.clear();
  nat_chains_.clear();
  jumps_.clear();
  for (const char* name : {"links", "filter.rules", "nat.rules"}) {
    EUCA_RETURN_IF_ERROR(env.RemoveAll(JoinPath(options_.state_dir, name)));
  }
  return Status::Ok();
}

}  // namespace euca::network
