// bench/network: full reconcile of G groups x R rules by the linux driver inside a network
// namespace the bench makes (render and apply timed apart; first apply, re-apply by the same
// driver, re-apply by a new driver as after a restart), and the latency of one rule change on
// that loaded system. Goals (issue 7): full reconcile <= 1 s, one change <= 50 ms.
//
// Peer: the naive way, one `iptables -A` per rule (after `iptables -N` per chain) for the same
// rule set in a second namespace, and one `iptables -A` for one change. Both sides run their
// commands through `ip netns exec`. Ratios are naive / euca.
//
// Needs root (network namespaces); prints why and exits 0 otherwise. Run it on a quiet
// machine: every figure is wall-clock time.
//
// Usage: bench_network [--groups 1000] [--rules 10] [--dhcp-groups 100] [--changes 50]
//                      [--peer-rules N (default: all)] [--render-only]

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/command.h"
#include "drivers/network/linux_network.h"

namespace {

using namespace euca;           // NOLINT
using namespace euca::network;  // NOLINT
using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string Ip(uint32_t v) {
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 255) + "." + std::to_string((v >> 8) & 255) + "." +
         std::to_string(v & 255);
}

bool Sh(const std::string& script) {
  Command cmd;
  cmd.argv = {"sh", "-c", script};
  cmd.accept_failure = true;
  Result<CommandResult> r = RealCommandRunner().Run(cmd);
  return r.ok() && r->exit_code == 0;
}

DesiredState MakeState(int groups, int rules, int dhcp_groups) {
  DesiredState s;
  s.mode = Mode::kManagedNoVlan;
  s.metadata_target = "192.0.2.10:8773";
  s.dns = {"192.0.2.53"};
  const uint32_t base = (10u << 24);  // 10.0.0.0, one /28 per group
  for (int g = 1; g <= groups; ++g) {
    Group group;
    group.id = "sg-" + std::to_string(10000000 + g);
    group.account_id = "123456789012";
    group.name = "group" + std::to_string(g);
    group.index = g;
    group.subnet = Ip(base + 16u * static_cast<uint32_t>(g - 1)) + "/28";
    for (int r = 0; r < rules; ++r) {
      IngressRule rule;
      if (r % 5 == 4 && dhcp_groups > 0) {  // from a group with instances
        rule = {"tcp", 22, 22, "", "sg-" + std::to_string(10000000 + 1 + (g + r) % dhcp_groups)};
      } else if (r % 5 == 3) {
        rule = {"icmp", 8, -1, "172.16." + std::to_string(r) + ".0/24", ""};
      } else {
        rule = {r % 2 ? "udp" : "tcp", 1000 + r, 1000 + r + (r % 3) * 10,
                "192.168." + std::to_string(r) + "." + std::to_string(g % 256) + "/32", ""};
      }
      group.ingress.push_back(rule);
    }
    s.groups.push_back(group);
  }
  for (int g = 1; g <= dhcp_groups && g <= groups; ++g) {
    for (int e = 0; e < 2; ++e) {
      Endpoint ep;
      char id[16], mac[32];
      std::snprintf(id, sizeof id, "i-%08x", g * 2 + e);
      std::snprintf(mac, sizeof mac, "d0:0d:00:00:%02x:%02x", (g * 2 + e) >> 8, (g * 2 + e) & 255);
      ep.instance_id = id;
      ep.group_id = s.groups[g - 1].id;
      ep.groups = {ep.group_id};
      ep.mac = mac;
      ep.private_ip = Ip(base + 16u * static_cast<uint32_t>(g - 1) + 2 + e);
      if (e == 0) ep.public_ip = Ip((203u << 24) | (static_cast<uint32_t>(g) & 0xffff));
      s.endpoints.push_back(ep);
    }
  }
  std::sort(s.endpoints.begin(), s.endpoints.end(),
            [](const Endpoint& a, const Endpoint& b) { return a.instance_id < b.instance_id; });
  return s;
}

struct Row {
  std::string what, euca, peer, ratio;
};

std::string Fmt(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.2f ms" : "%.0f ms", ms);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int groups = 1000, rules = 10, dhcp_groups = 100, changes = 50, peer_rules = -1;
  bool render_only = false;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--render-only") {
      render_only = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "flag %s needs a value\n", flag.c_str());
      return 2;
    }
    int v = std::atoi(argv[i + 1]);
    if (flag == "--groups")
      groups = v;
    else if (flag == "--rules")
      rules = v;
    else if (flag == "--dhcp-groups")
      dhcp_groups = v;
    else if (flag == "--changes")
      changes = v;
    else if (flag == "--peer-rules")
      peer_rules = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  dhcp_groups = std::min(dhcp_groups, groups);
  if (render_only) {  // no root needed: Render alone, best of 20
    DesiredState state = MakeState(groups, rules, dhcp_groups);
    double best = 1e9;
    size_t bytes = 0;
    for (int i = 0; i < 20; ++i) {
      auto t = Clock::now();
      Result<Rendered> r = Render(state, "/var/lib/euca/network");
      best = std::min(best, MsSince(t));
      bytes = r.ok() ? r->filter.size() + r->nat.size() : 0;
    }
    std::printf("render of %d groups x %d rules: %.2f ms (best of 20), %zu bytes of rules\n", groups, rules, best,
                bytes);
    return 0;
  }
  if (::geteuid() != 0) {
    std::printf("bench_network: skipped (needs root for network namespaces)\n");
    return 0;
  }
  std::string ns = "eucabench" + std::to_string(::getpid());
  std::string peer_ns = ns + "p";
  std::string dir = (std::filesystem::temp_directory_path() / ns).string();
  std::filesystem::remove_all(dir);
  if (!Sh("ip netns add " + ns + " && ip netns exec " + ns + " ip link set lo up && ip netns add " + peer_ns)) {
    std::fprintf(stderr, "bench_network: cannot make network namespaces\n");
    return 1;
  }

  DesiredState state = MakeState(groups, rules, dhcp_groups);
  NetworkOptions options;
  options.state_dir = dir;
  options.netns = ns;
  std::vector<Row> rows;
  int status = 0;
  {
    LinuxNetwork net(options);
    auto t = Clock::now();
    Status s = net.Apply(state);
    double first = MsSince(t);
    if (!s.ok()) {
      std::fprintf(stderr, "apply: %s\n", s.ToString().c_str());
      status = 1;
    }
    ApplyStats st = net.last_stats();
    Rendered rendered = Render(state, dir).value();
    size_t rule_lines = 0;
    for (const std::string* text : {&rendered.filter, &rendered.nat}) {
      std::istringstream in(*text);
      std::string line;
      while (std::getline(in, line)) rule_lines += line.rfind("-A ", 0) == 0;
    }

    t = Clock::now();
    s = net.Apply(state);
    double again = MsSince(t);
    int again_commands = net.last_stats().commands;
    t = Clock::now();
    LinuxNetwork restarted(options);
    s = restarted.Apply(state);
    double after_restart = MsSince(t);
    ApplyStats rst = restarted.last_stats();

    // One rule change at a time on the loaded system: add a rule to a random group, apply.
    std::mt19937 rng(7);
    std::vector<double> change_ms;
    double change_render = 0, change_rules = 0, change_record = 0;
    for (int i = 0; i < changes && status == 0; ++i) {
      Group& g = state.groups[rng() % state.groups.size()];
      g.ingress.push_back({"tcp", 5000 + i, 5000 + i, "198.51.100." + std::to_string(i % 256) + "/32", ""});
      t = Clock::now();
      s = net.Apply(state);
      change_ms.push_back(MsSince(t));
      change_render += net.last_stats().render_ms;
      change_rules += net.last_stats().rules_ms;
      change_record += net.last_stats().record_ms;
      if (!s.ok()) {
        std::fprintf(stderr, "change: %s\n", s.ToString().c_str());
        status = 1;
      }
    }
    std::sort(change_ms.begin(), change_ms.end());
    double p50 = change_ms.empty() ? 0 : change_ms[change_ms.size() / 2];
    double p99 = change_ms.empty() ? 0 : change_ms[std::min(change_ms.size() - 1, change_ms.size() * 99 / 100)];

    // The peer: one iptables command per chain and per rule, same rule set.
    std::vector<std::string> lines;
    for (const std::string* text : {&rendered.filter, &rendered.nat}) {
      std::istringstream in(*text);
      std::string line, table;
      while (std::getline(in, line)) {
        if (line.rfind("*", 0) == 0) table = line.substr(1);
        if (line.rfind(":", 0) == 0) lines.push_back("-t " + table + " -N " + line.substr(1, line.find(' ') - 1));
        if (line.rfind("-A ", 0) == 0) lines.push_back("-t " + table + " " + line);
      }
    }
    size_t peer_count = peer_rules < 0 ? lines.size() : std::min(lines.size(), static_cast<size_t>(peer_rules));
    t = Clock::now();
    size_t done = 0;
    for (; done < peer_count; ++done) {
      Command cmd;
      std::istringstream words(lines[done]);
      cmd.argv = {"ip", "netns", "exec", peer_ns, "iptables"};
      std::string w;
      while (words >> w) cmd.argv.push_back(w);
      if (!RealCommandRunner().Run(cmd).ok()) break;
    }
    double peer_ms = MsSince(t);
    bool extrapolated = done < lines.size();
    double peer_full = done == 0 ? 0 : peer_ms * static_cast<double>(lines.size()) / static_cast<double>(done);
    // One change, the naive way: one more `iptables -A` on the peer loaded with the whole set.
    {
      std::string all = rendered.filter + rendered.nat;
      Command load;
      load.argv = {"ip", "netns", "exec", peer_ns, "iptables-restore"};
      load.stdin_data = all;
      if (!RealCommandRunner().Run(load).ok()) std::fprintf(stderr, "peer: loading the rule set failed\n");
    }
    std::vector<double> peer_change;
    for (int i = 0; i < std::min(changes, 20); ++i) {
      Command cmd;
      cmd.argv = {"ip",  "netns",      "exec", peer_ns,           "iptables",
                  "-A",  "EUCA-NET-1", "-s",   "198.51.100.1/32", "-p",
                  "tcp", "-m",         "tcp",  "--dport",         std::to_string(6000 + i),
                  "-j",  "ACCEPT"};
      t = Clock::now();
      if (RealCommandRunner().Run(cmd).ok()) peer_change.push_back(MsSince(t));
    }
    std::sort(peer_change.begin(), peer_change.end());
    double peer_p50 = peer_change.empty() ? 0 : peer_change[peer_change.size() / 2];

    auto ratio = [](double peer, double ours) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1fx", ours > 0 ? peer / ours : 0.0);
      return std::string(buf);
    };
    size_t served = 0;  // networks the one dnsmasq serves
    for (size_t at = 0; (at = rendered.dhcp_conf.find("\ninterface=", at)) != std::string::npos; ++at) ++served;
    std::printf("## bench/network: %d groups x %d rules (%zu rule lines, %zu bridges, DHCP for %zu networks)\n\n",
                groups, rules, rule_lines, state.groups.size(), served);
    std::printf("| step | euca (linux driver) | naive peer (one `iptables` per rule) | peer / euca |\n");
    std::printf("|---|---|---|---|\n");
    std::printf("| full reconcile, first apply (render + apply) | %s | %s%s | %s |\n", Fmt(first).c_str(),
                Fmt(peer_full).c_str(), extrapolated ? " (extrapolated)" : "", ratio(peer_full, first).c_str());
    std::printf("| - render | %s | | |\n", Fmt(st.render_ms).c_str());
    std::printf("| - links (%d bridges, `ip -batch`), beside the rules | %s | | |\n", groups, Fmt(st.links_ms).c_str());
    std::printf("| - rules (`iptables-restore --noflush`), beside links + dhcp | %s | %s%s | %s |\n", Fmt(st.rules_ms).c_str(),
                Fmt(peer_full).c_str(), extrapolated ? " (extrapolated)" : "", ratio(peer_full, st.rules_ms).c_str());
    std::printf("| - dhcp (%d dnsmasq started, one for every network), after the links | %s | | |\n", st.dnsmasq_started, Fmt(st.dhcp_ms).c_str());
    std::printf("| - record (filter.rules, nat.rules, links) | %s | | |\n", Fmt(st.record_ms).c_str());
    std::printf("| re-apply, same driver (%d commands) | %s | | |\n", again_commands, Fmt(again).c_str());
    std::printf("| re-apply by a new driver (restart; %d queries, %d changes) | %s | | |\n", rst.commands,
                rst.changing_commands, Fmt(after_restart).c_str());
    std::printf("| one rule change, p50 (%zu changes) | %s | %s | %s |\n", change_ms.size(), Fmt(p50).c_str(),
                Fmt(peer_p50).c_str(), ratio(peer_p50, p50).c_str());
    std::printf("| one rule change, p99 | %s | | |\n", Fmt(p99).c_str());
    if (!change_ms.empty()) {
      double n = static_cast<double>(change_ms.size());
      std::printf("| - mean render / iptables-restore / record | %s / %s / %s | | |\n", Fmt(change_render / n).c_str(),
                  Fmt(change_rules / n).c_str(), Fmt(change_record / n).c_str());
    }
    std::printf("\nGoals: full reconcile <= 1000 ms (%s), one change <= 50 ms (p50 %s).\n",
                first <= 1000 ? "met" : "missed", p50 <= 50 ? "met" : "missed");
    if (extrapolated) {
      std::printf("The peer ran %zu of %zu commands; its full time is extrapolated linearly.\n", done, lines.size());
    }
    Status down = net.TearDown();
    if (!down.ok()) std::fprintf(stderr, "teardown: %s\n", down.ToString().c_str());
  }
  Sh("ip netns delete " + ns + "; ip netns delete " + peer_ns);
  std::filesystem::remove_all(dir);
  return status;
}
