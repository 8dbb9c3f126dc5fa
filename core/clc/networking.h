#pragma once
// The cloud side of networking (issue 7; docs/networking.md "Cloud side"): the network
// properties read into a NetworkConfig, instance addressing at launch (Compute's
// NetworkHook), the desired network state built from the state store, and the applier that
// hands it to a network::Network driver after every change.
//
//   MANAGED, MANAGED-NOVLAN  a security group with instances is a network: index v (2..)
//                            owns the block network.subnet + (v-2) * network.addrs-per-net;
//                            +1 is the router, instances get +2 .. size-2, the last is the
//                            broadcast address. MANAGED tags it with VLAN v. An instance sits
//                            in its first group's network, MAC d0:0d: + its id's hex.
//   STATIC                   MAC and IP from the free pairs of network.mac-map
//   SYSTEM                   MAC d0:0d:...; the LAN's DHCP gives the address
//
// Addresses and networks are never freed explicitly: an instance that is terminated (or
// gone) holds nothing, so its private address, its MAC pair and its auto-assigned public
// address are free for the next launch.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/clock.h"
#include "core/base/env.h"
#include "core/base/status.h"
#include "core/clc/cluster_directory.h"
#include "core/clc/compute.h"
#include "core/model/network.h"
#include "drivers/network/network.h"
#include "state/store.h"

namespace euca::clc {

inline constexpr char kSecurityGroupsKind[] = "security-groups";
inline constexpr char kAddressesKind[] = "addresses";
inline constexpr char kDefaultGroup[] = "default";

/// "a.b.c.d" -> host order; nullopt when malformed.
std::optional<uint32_t> ParseIpv4(std::string_view text);
std::string FormatIpv4(uint32_t ip);
/// "a.b.c.d/n" (n 0..32) -> (address, prefix); nullopt when malformed.
std::optional<std::pair<uint32_t, int>> ParseCidr(std::string_view text);

/// The network.* properties, parsed.
struct NetworkConfig {
  network::Mode mode = network::Mode::kManagedNoVlan;
  std::string driver = "plan";
  uint32_t subnet = 0;
  uint32_t netmask = 0;
  int prefix = 0;
  int addrs_per_net = 32;
  std::vector<std::string> public_ips;  ///< network.public-ips expanded, in order
  std::vector<std::string> dns;
  std::vector<std::pair<std::string, std::string>> mac_map;  ///< STATIC: (mac, ip)
  std::string bridge;
  std::string public_interface;
  std::string private_interface;
  std::string metadata_target;
  bool public_at_launch = false;  ///< network.default-addressing is "public"

  /// The highest network index the subnet holds (at most 4094); indexes start at 2.
  int MaxIndex() const;
  uint32_t BlockBase(int index) const;
  /// "a.b.c.d/n" of the block of network `index`.
  std::string BlockCidr(int index) const;
  /// "a.b.c.d/n" of network.subnet/netmask.
  std::string SubnetCidr() const;
};

/// Reads and checks the network.* properties together (InvalidArgument naming the property
/// when they do not fit: a subnet not aligned to its netmask, a block larger than the subnet).
Result<NetworkConfig> ReadNetworkConfig(state::Txn& txn);

/// Called by Admin::ModifyProperties inside its transaction after writing, with the names of
/// the properties whose value changed: checks the network properties still fit together and
/// refuses (Conflict) a change of network.mode, subnet, netmask or addrs-per-net
/// while instances are not terminated. When such a change passes, every group's network
/// index is freed (the blocks moved).
Status CheckNetworkPropertyChanges(state::Txn& txn, const std::vector<std::string>& changed);

/// The security group `name_or_id` ("sg-..." or a name) of `account_id`, or nullopt.
Result<std::optional<model::SecurityGroup>> FindGroup(state::Txn& txn, const std::string& account_id,
                                                      const std::string& name_or_id);
/// The account's "default" group, created when missing (it allows traffic from itself).
Result<model::SecurityGroup> EnsureDefaultGroup(state::Txn& txn, const std::string& account_id, int64_t now_ms);

/// Live instances: every record whose state is not terminated.
Result<std::vector<model::Instance>> LiveInstances(state::Txn& txn);

/// What the host should look like, from the store: properties, groups with a network (rules
/// whose source group has none are left out: nothing can match them), live instances'
/// endpoints, associated addresses of live instances.
Result<network::DesiredState> BuildDesiredState(state::Txn& txn);
/// The view of `state` one host serves: instances whose zone is not in `served_zones` are
/// marked elsewhere (members for rules; no DHCP, public address or NAT there). `zone_of`
/// maps instance ids to their zones.
network::DesiredState ViewForZones(const network::DesiredState& state, const std::map<std::string, std::string>& zone_of,
                                   const std::vector<std::string>& served_zones);

/// Applies the desired state through a driver after every change. Apply() builds the whole
/// state from the store and applies it; concurrent calls coalesce (a caller waits for an
/// apply that started after its call, so it sees its own change applied). A failure is
/// reported (the `report` callback, by default stderr) and returned, the records stay as they
/// are; the next Apply tries again. With `record_dir`, processes take turns through an flock
/// on record_dir/apply.lock from reading the store to the end of the apply.
///
/// With a cluster directory (SetClusters), the cloud's clusters share the work as Eucalyptus'
/// CCs did (docs/networking.md "Remote cluster controllers"): `network` applies for the
/// in-process zones (this host), with the remote zones' instances elsewhere; each remote
/// zone's cluster controller gets its own view through ClusterController::ApplyNetwork. When
/// every zone is remote, this host applies nothing. Thread-safe.
class NetworkApplier final {
 public:
  /// `network` nullptr: every Apply fails with `open_error` (a driver that could not open).
  /// `record_dir` non-empty: the last state applied is written there as desired-state.json.
  NetworkApplier(state::StateStore& store, network::Network* network, Status open_error = Status::Ok(),
                 Env* env = nullptr, std::string record_dir = {}, std::function<void(const Status&)> report = nullptr);

  /// Zones and their cluster controllers (nullptr = everything is applied on this host).
  /// Call before the first Apply. REQUIRES: `clusters` outlives this object.
  void SetClusters(ClusterDirectory* clusters) { clusters_ = clusters; }

  Status Apply();
  /// The outcome of the last apply (Ok before the first).
  Status LastStatus();
  /// Applies done (tests).
  uint64_t applies();

 private:
  state::StateStore& store_;
  network::Network* network_;
  Status open_error_;
  Env* env_;
  std::string record_dir_;
  std::function<void(const Status&)> report_;
  ClusterDirectory* clusters_ = nullptr;

  // One apply: the local driver and every remote cluster. Called without mu_.
  Status ApplyOnce();

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t requested_ = 0;      // guarded by mu_
  uint64_t done_ = 0;           // guarded by mu_: requests covered by finished applies
  bool applying_ = false;       // guarded by mu_
  uint64_t applies_ = 0;        // guarded by mu_
  Status last_ = Status::Ok();  // guarded by mu_
};

/// Applies the cloud's whole desired network state once, through the driver `driver` with its
/// state in HOME/network, as a Cloud's applier does. For changes of network objects made
/// outside the EC2 actions (`euca admin rollback`), to this host and, with `clusters`, to
/// the remote clusters. Errors are reported on stderr too.
Status ApplyCloudNetwork(state::StateStore& store, Env& env, const std::string& home, const std::string& driver,
                         ClusterDirectory* clusters = nullptr);

/// The driver the cloud applies through: network.driver ("plan" or "linux") with state under
/// `state_dir` (EUCA_HOME/network).
Result<std::unique_ptr<network::Network>> OpenCloudNetwork(const std::string& driver, const std::string& state_dir);

/// Compute's network part: addresses at launch, and an apply after instances change.
/// REQUIRES: `clock` and `applier` (if any) outlive this object.
class InstanceNetworking final : public NetworkHook {
 public:
  InstanceNetworking(Clock& clock, NetworkApplier* applier) : clock_(clock), applier_(applier) {}
  Result<std::map<std::string, nc::NetParams>> Assign(state::Txn& txn, const LaunchPlan& plan,
                                                      const std::string& addressing,
                                                      std::vector<model::Instance>& instances) override;
  void Changed() override;

 private:
  Clock& clock_;
  NetworkApplier* applier_;
};

}  // namespace euca::clc
