#pragma once
// Network: the seam between the cloud and the host's networking (DESIGN.md §8, issue 7;
// docs/networking.md). The cloud computes what the host should look like (DesiredState:
// networks, instance endpoints, public addresses, ingress rules) from its state store; a
// driver makes the host match it:
//   plan   renders and records what it would apply (files under a directory), touching nothing;
//          the golden-file tests and a cloud tried without root use it
//   linux  bridges (ip link), 802.1Q devices (MANAGED), public addresses on the public
//          interface, the filter and nat rules rendered whole and applied atomically with
//          iptables-restore, one dnsmasq for the DHCP of every network
// Drivers are stateless about the cloud: everything they apply comes from the DesiredState,
// so a restarted cluster controller rebuilds the host by applying the state once more.
// Applying the same state twice changes nothing the second time.
//
// Every implementation is thread-safe (Apply calls are serialized inside).

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/command.h"
#include "core/base/status.h"

namespace euca::network {

/// The four networking modes of the seeds (docs/networking.md).
///   SYSTEM          instances join an existing bridge on the physical LAN; external DHCP; no
///                   filtering, no public addresses
///   STATIC          one flat network on an existing bridge; the cloud's DHCP hands out the
///                   administrator's MAC/IP pairs (network.mac-map); no filtering
///   MANAGED         each security group is a network: its own subnet, bridge and 802.1Q tag;
///                   default deny between networks, ingress rules, public addresses, metadata
///   MANAGED-NOVLAN  MANAGED without the VLAN tags
enum class Mode { kSystem, kStatic, kManaged, kManagedNoVlan };

/// "SYSTEM", "STATIC", "MANAGED", "MANAGED-NOVLAN".
const char* ModeName(Mode mode);
/// Case-insensitive inverse of ModeName; InvalidArgument otherwise.
Result<Mode> ParseMode(std::string_view text);
/// True for MANAGED and MANAGED-NOVLAN: networks per group, rules, public addresses.
inline bool IsManaged(Mode mode) { return mode == Mode::kManaged || mode == Mode::kManagedNoVlan; }

/// One ingress rule of a security group (EC2 IpPermissions, one source each).
struct IngressRule {
  std::string protocol;      ///< "tcp", "udp", "icmp", or "-1" (every protocol)
  int from_port = -1;        ///< tcp/udp: first port (0..65535); icmp: type, -1 = any; "-1": unused
  int to_port = -1;          ///< tcp/udp: last port; icmp: code, -1 = any; "-1": unused
  std::string cidr;          ///< "a.b.c.d/n"; exactly one of cidr and source_group is set
  std::string source_group;  ///< a Group::id in the same DesiredState: traffic from its members
  bool operator==(const IngressRule&) const = default;
};

/// A security group. In the MANAGED modes, a group with instances (or with a network index
/// allocated) is a network: hosts in it reach each other; anything else reaching them needs
/// an ingress rule. In SYSTEM and STATIC groups carry no network and rules are not enforced.
struct Group {
  std::string id;          ///< "sg-" + hex, stable for the group's life
  std::string account_id;  ///< owner (rendered into comments only)
  std::string name;        ///< the group's name (comments only)
  int index = 0;           ///< network number, 1..4095, unique in the state: names devices;
                           ///< 0 = no network (the group may still be a rule's source group)
  std::string subnet;      ///< "10.1.0.16/28" (/8../29, no overlaps); the host takes the first
                           ///< usable address (gateway); instances the others but the last
  int vlan = -1;           ///< MANAGED: 802.1Q tag 2..4094; MANAGED-NOVLAN: -1
  std::vector<IngressRule> ingress;
  bool operator==(const Group&) const = default;
};

/// One instance's network interface.
struct Endpoint {
  std::string instance_id;
  std::string group_id;             ///< the network it sits in (MANAGED*: its first group); "" otherwise
  std::vector<std::string> groups;  ///< every group it belongs to (source-group rules match these)
  std::string mac;                  ///< "d0:0d:xx:xx:xx:xx"
  std::string private_ip;           ///< "" in SYSTEM (external DHCP)
  std::string public_ip;            ///< "" = none; MANAGED*: DNAT in, SNAT out
  /// The instance runs on another cluster's hosts: it still counts as a member of its groups
  /// (source-group rules match its address), but this host serves it nothing: no DHCP host,
  /// no public address, no NAT. Its addresses must still be unique in the state.
  bool elsewhere = false;
  bool operator==(const Endpoint&) const = default;
};

/// What the host should look like.
struct DesiredState {
  Mode mode = Mode::kManagedNoVlan;
  std::string bridge;             ///< SYSTEM/STATIC: the existing bridge instances join
  std::string subnet;             ///< STATIC: the flat network "a.b.c.d/n" (DHCP range)
  std::string gateway;            ///< STATIC: the router handed out by DHCP ("" = none)
  std::string public_interface;   ///< MANAGED*: public addresses are added here ("" = lo)
  std::string private_interface;  ///< MANAGED: 802.1Q devices are made on it
  std::vector<std::string> dns;   ///< DHCP option 6 (name servers)
  /// "ip:port" of the instance metadata service: TCP to 169.254.169.254:80 from an instance
  /// is redirected there (DNAT, the source address kept so the service knows the instance).
  /// ":port" (MANAGED modes): to that port on the gateway of the instance's own network, i.e.
  /// a service on this host listening on all addresses. "" = no metadata redirect.
  std::string metadata_target;
  std::vector<Group> groups;        ///< sorted by index, then id (index 0: no network)
  std::vector<Endpoint> endpoints;  ///< sorted by instance id
  bool operator==(const DesiredState&) const = default;
};

/// Name of the bridge of network `index` ("eucabr" + index; fits IFNAMSIZ).
std::string BridgeName(int index);

/// The bridge an instance's NIC joins: BridgeName(group.index) in the MANAGED modes, the
/// configured bridge in SYSTEM and STATIC. NotFound when the endpoint's group has no network.
Result<std::string> BridgeFor(const DesiredState& state, const Endpoint& endpoint);

/// The state rendered: what the linux driver applies and the plan driver records. Texts are
/// deterministic (same state, same bytes) so golden files can hold them.
struct Rendered {
  /// Devices and addresses, one per line, sorted: "bridge eucabr3 10.1.0.49/28",
  /// "vlan eth1.12 bridge eucabr3", "address 203.0.113.5/32 dev eth0".
  std::string links;
  std::string filter;  ///< iptables-restore input (--noflush) for the filter table: euca's chains
  std::string nat;     ///< iptables-restore input (--noflush) for the nat table: euca's chains
  /// DHCP: one dnsmasq serves every network that has instances (as Eucalyptus' CC ran one
  /// dhcpd for all its VLANs). `dhcp_conf` is its configuration, empty when nothing is
  /// served: shared options, then per network its interface, static range and tagged
  /// router/DNS options. `dhcp_hosts` is its hosts file (`<state_dir>/dhcp/hosts`), one
  /// "mac,ip" per instance: a change there alone needs only a SIGHUP, not a restart.
  std::string dhcp_conf;
  std::string dhcp_hosts;
  bool operator==(const Rendered&) const = default;
};

/// Renders `state`; InvalidArgument when it is inconsistent (bad subnet, an endpoint outside
/// its network, a rule naming an unknown group, duplicate addresses, ...), naming the culprit.
/// The dnsmasq configuration names its hosts, pid and lease files under kDefaultStateDir.
Result<Rendered> Render(const DesiredState& state);
/// The same with the dnsmasq hosts, pid and lease files under `state_dir` + "/dhcp".
Result<Rendered> Render(const DesiredState& state, std::string_view state_dir);

/// Where a host's network state lives unless NetworkOptions::state_dir says otherwise.
inline constexpr std::string_view kDefaultStateDir = "/var/lib/euca/network";

/// Chain names (docs/networking.md, "Driver: chains"). Every chain euca owns starts "EUCA-";
/// the builtin chains only jump to them (FORWARD -> EUCA-FORWARD in filter; PREROUTING,
/// OUTPUT, POSTROUTING -> EUCA-PREROUTING, EUCA-OUTPUT, EUCA-POSTROUTING in nat).
inline constexpr std::string_view kChainPrefix = "EUCA-";
/// The filter chain holding the ingress rules of network `index` ("EUCA-NET-" + index).
std::string NetworkChain(int index);
/// The address instances reach the metadata service at.
inline constexpr std::string_view kMetadataAddress = "169.254.169.254";

class Network {
 public:
  virtual ~Network() = default;
  /// Makes the host match `state` (see the file comment); on error the previous rule sets
  /// stay in force (rules are replaced atomically) and the error names what failed.
  virtual Status Apply(const DesiredState& state) = 0;
  /// Removes everything euca made on the host (devices, chains, dnsmasq processes).
  virtual Status TearDown() = 0;
};

struct NetworkOptions {
  /// plan: where the rendering is recorded (links, filter.rules, nat.rules, dhcp/dnsmasq.conf,
  /// dhcp/hosts, written atomically). linux: where dnsmasq's configuration, hosts, leases and
  /// pid file live.
  std::string state_dir;
  /// linux: run every command inside this network namespace ("" = the host's). Tests use it.
  std::string netns;
  /// linux: how external programs (ip, iptables-restore, dnsmasq) run. nullptr = the real runner.
  CommandRunner* runner = nullptr;
};

/// The driver named `driver` ("plan" or "linux"); InvalidArgument for another name.
Result<std::unique_ptr<Network>> OpenNetwork(std::string_view driver, const NetworkOptions& options);

/// In memory: records every state applied (unit tests of the cloud side).
class FakeNetwork final : public Network {
 public:
  Status Apply(const DesiredState& state) override {
    applied.push_back(state);
    return fail_next.ok() ? Status::Ok() : std::exchange(fail_next, Status::Ok());
  }
  Status TearDown() override {
    applied.clear();
    return Status::Ok();
  }
  std::vector<DesiredState> applied;  ///< every Apply, in order
  Status fail_next = Status::Ok();    ///< returned by the next Apply (the state is still recorded)
};

}  // namespace euca::network
