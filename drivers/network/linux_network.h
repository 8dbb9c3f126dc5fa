#pragma once
// The linux driver (OpenNetwork("linux", ...)): makes the host (or options.netns) match a
// DesiredState with ip(8), iptables-restore(8) and dnsmasq(8), run through a CommandRunner.
// docs/networking.md ("Driver: applying") describes the steps; in short:
//   - links: missing eucabr* bridges are made (gateway address, up), eucabr* bridges not in
//     the state deleted; VLAN devices (MANAGED) and public /32 addresses added and removed
//     to match; all in one `ip -batch -`
//   - rules: only the EUCA-* chains whose rules changed are rewritten, in one
//     `iptables-restore --noflush` (atomic per table: on failure the old rules stay), with the
//     jumps from the builtin chains kept at exactly one each; chains no longer rendered are
//     deleted
//   - DHCP: one dnsmasq for every served network, (re)started only when its configuration
//     (the set of served networks) changed or it is not running; when only the instances
//     changed, its hosts file is rewritten and it gets a SIGHUP; stopped (by pid file) when
//     nothing is served. Processes of earlier versions (one per bridge) are stopped.
// The driver learns what the host holds once (ip, iptables-save, pid files) and from then on
// compares with what it applied itself, so applying the same state twice runs no command the
// second time. Any failure forgets what it knew: the next Apply looks at the host again.
// Thread-safe (one Apply at a time).

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "drivers/network/network.h"

namespace euca::network {

/// What the last Apply did (for tests and bench/network).
struct ApplyStats {
  int commands = 0;           ///< commands run (queries included)
  int changing_commands = 0;  ///< commands that changed the host
  int filter_chains = 0;      ///< filter chains rewritten or deleted
  int nat_chains = 0;         ///< nat chains rewritten or deleted
  int dnsmasq_started = 0;
  int dnsmasq_stopped = 0;
  int dnsmasq_reloaded = 0;  ///< SIGHUPs sent: only the hosts changed
  /// Milliseconds per step. The rules are applied beside the links and then the DHCP
  /// servers, so rules_ms overlaps links_ms + dhcp_ms.
  double render_ms = 0, discover_ms = 0, links_ms = 0, rules_ms = 0, dhcp_ms = 0, record_ms = 0;
};

class LinuxNetwork final : public Network {
 public:
  explicit LinuxNetwork(NetworkOptions options);
  Status Apply(const DesiredState& state) override;
  Status TearDown() override;

  ApplyStats last_stats() const;

  /// Replaces the check "is the dnsmasq `name` (pid file `<name>.pid`) running?"
  /// (default: the pid file names a live process whose command line names its
  /// configuration). Tests with a RecordingCommandRunner use it.
  /// With a probe, no signal is sent either.
  void SetDnsmasqProbeForTest(std::function<bool(const std::string& name)> probe);

 private:
  struct Link {
    bool up = false;
    std::string master;
    std::set<std::string> addresses;  // "a.b.c.d/n"
  };

  Result<CommandResult> Run(std::vector<std::string> argv, std::optional<std::string> input, bool changes);
  Status Discover();
  Status ApplyLinks(const Rendered& r);
  Status ApplyRules(const Rendered& r);
  Status ApplyDhcp(const Rendered& r, bool stale_only);
  std::string ServerConf(const Rendered& r) const;  // r.dhcp_conf as this host runs it
  Status EnsureForwarding();
  bool DnsmasqRunning(const std::string& name);  // name: of its .conf and .pid files
  Status StopDnsmasq(const std::string& name);
  Status Record(const Rendered& r);

  mutable std::mutex mu_;
  const NetworkOptions options_;
  CommandRunner* runner_;
  std::function<bool(const std::string&)> probe_;
  std::mutex stats_mu_;  // guards the command counts of stats_ (rules apply beside the links)
  ApplyStats stats_;

  // What the host holds, as far as the driver knows (valid when known_).
  bool known_ = false;
  std::map<std::string, Link> links_;                 // every link by name
  std::set<std::string> owned_links_;                 // lines of the last applied links text
  std::map<std::string, std::string> filter_chains_;  // EUCA-* chain -> its "-A" lines
  std::map<std::string, std::string> nat_chains_;
  std::map<std::string, int> jumps_;  // "filter FORWARD EUCA-FORWARD" -> count
  bool forwarding_ = false;
  std::string dhcp_conf_;   // configuration the running dnsmasq started with ("" = none runs)
  std::string dhcp_hosts_;  // hosts file it has read
  Rendered recorded_;                        // what Record last wrote
};

}  // namespace euca::network
