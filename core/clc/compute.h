#pragma once
// The instances part of the cloud controller (issue 6; docs/clc.md): RunInstances through
// the system resource state (resolve references -> SLA hook -> reserve capacity -> write the
// instance records -> dispatch to the clusters -> commit, or roll back on any failure),
// DescribeInstances reconciled with the clusters, Terminate/Reboot/GetConsoleOutput and
// DescribeAvailabilityZones. Every instance record change is one StateStore::Transact
// (runtime kind "instances"). Thread-safe: concurrent RunInstances never over-commit a zone.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/cc/cluster_controller.h"
#include "core/clc/capacity_reservations.h"
#include "core/clc/cluster_directory.h"
#include "core/model/account.h"
#include "core/model/compute.h"
#include "core/nc/nc_types.h"
#include "state/store.h"

namespace euca::clc {

/// Meta-zones: Placement.AvailabilityZone values that name a placement rule instead of a zone
/// (docs/clc.md). A cluster cannot be addressed by these names.
inline constexpr const char* kZoneAny = "any";        ///< emptiest zone first, overflowing to others
inline constexpr const char* kZoneSingle = "single";  ///< one zone that holds every instance
inline constexpr const char* kZoneSpread = "spread";  ///< instances dealt evenly across zones
bool IsMetaZone(const std::string& name);

/// The cloud property that says how long terminated instances stay visible.
inline constexpr const char* kTerminatedVisibleProperty = "cloud.terminated-visible-seconds";

/// RunInstances as the EC2 API gives it.
struct RunInstancesRequest {
  std::string image_id;
  int min_count = 1;
  int max_count = 1;
  std::string instance_type;        ///< "" = model::kDefaultVmType
  std::string key_name;             ///< "" = none
  std::vector<std::string> groups;  ///< security group names; empty = {"default"}
  std::string user_data;            ///< base64, at most 16 KiB decoded
  std::string zone;                 ///< a zone, a meta-zone, or "" (= "any")
  std::string kernel_id;            ///< "" = the image's
  std::string ramdisk_id;           ///< "" = the image's
  std::string client_token;         ///< idempotency: "" = none; at most 64 ASCII characters
  std::string addressing;           ///< "public", "private" or "" (network.default-addressing)
  std::string request_id;           ///< the API request's id, for the history commit ("" = a new one)
};

/// A launch after its references are resolved: what the SLA hook reviews and may change.
struct LaunchPlan {
  model::Principal caller;
  model::Image image;
  std::optional<model::Image> kernel;
  std::optional<model::Image> ramdisk;
  model::VmType vm_type;
  std::optional<model::KeyPair> key_pair;
  std::vector<std::string> groups;
  std::string user_data;  ///< decoded bytes
  std::string zone;       ///< as requested (zone or meta-zone, never empty)
  int min_count = 1;
  int max_count = 1;
  std::string client_token;
  /// The runtime lease the SLA hook sets (core/sla): written into every instance record;
  /// 0 = none.
  int64_t lease_expires_ms = 0;
};

/// The SLA issue's rules plug in here. Thread-safe in every implementation.
class SlaHook {
 public:
  virtual ~SlaHook() = default;
  /// Called once per RunInstances after the references are resolved and before capacity is
  /// reserved. A failed Status rejects the request (returned to the caller as is); the hook
  /// may change the plan (type, zone, counts, groups) instead. Nothing is written before it.
  virtual Status Review(LaunchPlan& plan) = 0;
  /// Called once per RunInstances inside the transaction `txn` that writes its records (so
  /// after every earlier launch committed and before any later one: writers are serialized),
  /// with the `count` instances capacity was reserved for (plan.min_count <= count <=
  /// plan.max_count). Returns how many of them the rules still admit, in [plan.min_count,
  /// count], or the rejection; Review's answer may be stale by then (a concurrent launch of
  /// the same user). Default: all of them.
  virtual Result<int> Admit(state::Txn& txn, const LaunchPlan& plan, int count) {
    (void)txn;
    (void)plan;
    return count;
  }
  /// The instance-state-change event (docs/sla.md): called once per committed change of an
  /// instance's state (TerminateInstances: shutting-down; reconciliation: running,
  /// terminated), after its transaction and outside Compute's locks. Default: nothing.
  virtual void StateChanged(const model::Instance& instance, const std::string& previous_state) {
    (void)instance;
    (void)previous_state;
  }
};
/// The default: accepts every plan unchanged.
SlaHook& NoSlaHook();

/// The networking issue's part of a launch (core/clc/networking.h). Thread-safe.
class NetworkHook {
 public:
  virtual ~NetworkHook() = default;
  /// Inside RunInstances' transaction, before the records are written: resolves the plan's
  /// groups and gives each instance its addresses (private_mac, private_ip, public_ip);
  /// returns what each node controller needs, by instance id. A failure fails the launch.
  virtual Result<std::map<std::string, nc::NetParams>> Assign(state::Txn& txn, const LaunchPlan& plan,
                                                              const std::string& addressing,
                                                              std::vector<model::Instance>& instances) = 0;
  /// After instances were started or ended (the desired network state changed).
  virtual void Changed() = 0;
};

/// One reservation: the instances one RunInstances started.
struct Reservation {
  std::string id;
  std::string owner_id;  ///< account id
  std::vector<std::string> groups;
  std::vector<model::Instance> instances;  ///< by launch index
};

struct Filter {
  std::string name;                 ///< instance-id, instance-state-name, availability-zone, ...
  std::vector<std::string> values;  ///< any matches; '*' and '?' are wildcards
};

struct DescribeInstancesRequest {
  /// Instance ids ("" = all of the caller's). The cloud administrator's "verbose" among them
  /// means every account's instances.
  std::vector<std::string> instance_ids;
  std::vector<Filter> filters;
  int max_results = 0;     ///< 0 = no paging; else 5..1000 (not with instance ids)
  std::string next_token;  ///< from a previous page
};

struct DescribeInstancesResult {
  std::vector<Reservation> reservations;
  std::string next_token;  ///< "" = last page
};

struct InstanceStateChange {
  std::string instance_id;
  std::string previous_state;
  std::string current_state;
};

struct ConsoleOutput {
  std::string instance_id;
  int64_t timestamp_ms = 0;
  std::string output;  ///< raw bytes (the EC2 layer encodes base64)
};

struct AvailabilityZone {
  std::string name;
  std::string state;    ///< "available" (its cluster answers) or "unavailable"
  std::string message;  ///< why unavailable
  /// Free/max per VM type, in VM type order (filled for the administrator's verbose only).
  std::vector<cc::VmTypeAvailability> resources;
};

struct ComputeOptions {
  /// How long a pending instance may be missing from its cluster's reports before it counts
  /// as lost (terminated). Clusters report what they polled, so a new instance may lag.
  int64_t pending_grace_ms = 300'000;
  /// The random hex digits of new reservation and instance ids; empty = RandomHex. Tests
  /// give a counter to make ids, and so their order, predictable. Called from any thread.
  std::function<std::string(size_t n_hex)> random_hex = {};
};

class Compute final {
 public:
  /// REQUIRES: every argument outlives this object. `sla` nullptr = NoSlaHook().
  Compute(state::StateStore& store, Clock& clock, ClusterDirectory& zones, SlaHook* sla = nullptr,
          ComputeOptions options = {});
  /// Networking (addresses at launch, applies after changes); nullptr = none. Only before
  /// the first request. REQUIRES: `hook` outlives this object.
  void SetNetworkHook(NetworkHook* hook) { network_ = hook; }

  /// Runs between min_count and max_count instances (as many as fit), or none:
  /// ResourceExhausted (InsufficientInstanceCapacity) when fewer than min_count fit or the
  /// clusters fail to start them; then every record of the reservation is terminated with the
  /// reason and nothing keeps running. The same client token from the same account returns
  /// the first reservation again.
  Result<Reservation> RunInstances(const model::Principal& caller, const RunInstancesRequest& request);
  /// The caller's instances (the administrator's "verbose": everyone's), grouped by
  /// reservation (oldest first, instances by launch index; a page holds the next instances
  /// in id order), states reconciled with the clusters. An id that is not the caller's, or
  /// whose terminated record expired, is NotFound (InvalidInstanceID.NotFound).
  Result<DescribeInstancesResult> DescribeInstances(const model::Principal& caller,
                                                    const DescribeInstancesRequest& request);
  /// All ids are checked first (NotFound names the first unknown); then each is terminated.
  Result<std::vector<InstanceStateChange>> TerminateInstances(const model::Principal& caller,
                                                              const std::vector<std::string>& ids,
                                                              const std::string& request_id = "");
  /// Terminates, on behalf of the system (the SLA cleanup), those of `ids` (any account's)
  /// that are pending or running and for which `due` still holds on the record as it is now.
  /// The decision comes first: one transaction (principal `principal`) checks `due` and marks
  /// them shutting-down with the state reason `reason`, so an owner's change that commits
  /// before it (a renew-lease) wins, and one after it finds the instance shutting-down. Then
  /// their clusters are told; the instances of a cluster that fails go back to their earlier
  /// state (a second commit) and the failure is returned. Ids that are gone or no longer due
  /// are reported unchanged (previous_state == current_state).
  using DueCheck = std::function<bool(const model::Instance&)>;
  Result<std::vector<InstanceStateChange>> TerminateForSystem(const std::string& principal,
                                                              const std::vector<std::string>& ids,
                                                              const std::string& reason, const DueCheck& due);
  Status RebootInstances(const model::Principal& caller, const std::vector<std::string>& ids);
  Result<ConsoleOutput> GetConsoleOutput(const model::Principal& caller, const std::string& id);
  /// Zones named (all when empty; unknown names are NotFound). "verbose" among the names
  /// (administrator only) adds the free/max listing per VM type.
  Result<std::vector<AvailabilityZone>> DescribeAvailabilityZones(const model::Principal& caller,
                                                                  const std::vector<std::string>& names);
  /// The cloud's region name (property cloud.region), as DescribeAvailabilityZones reports it.
  Result<std::string> Region();
  /// Reconciles every unfinished instance with the clusters and drops expired terminated
  /// records (servers call it periodically; describe does it for what it shows). The first
  /// call reads every record; later calls compare the clusters' reports with what this
  /// object last saw and read only the records that change.
  Status Reconcile();

  /// Creates a capacity reservation (capacity_reservations.h) for `caller`: InstanceCount
  /// instances of the type in the zone, unlimited or until EndDate (limited), matching
  /// "open". Refused with InsufficientInstanceCapacity when the zone has no room for what it
  /// would hold beyond the caller's matching instances (checked and written under the zone
  /// ledgers' lock, so reservations and launches never over-commit a zone together). One
  /// commit "CreateCapacityReservation cr-...".
  Result<CapacityReservation> CreateCapacityReservation(const model::Principal& caller,
                                                        const CapacityReservationRequest& request,
                                                        const std::string& request_id = "");

  state::StateStore& store() { return store_; }
  Clock& clock() { return clock_; }

  /// Instances reserved but not yet committed or rolled back, per zone (tests: no leaks).
  int InFlightForTest();

 private:
  struct Usage {
    int64_t cores = 0, memory_mib = 0, disk_gib = 0;
  };
  // The SRS of one zone. While instances are in flight there, availability is the cluster's
  // answer taken when nothing was in flight, minus what was reserved since; otherwise the
  // cluster is asked again.
  struct ZoneLedger {
    std::map<std::string, int> snapshot;  // type -> available, from the cluster
    Usage since;                          // reserved since the snapshot (in flight or committed)
    int in_flight = 0;                    // instances reserved and not yet committed/rolled back
  };
  struct Allocation {
    std::string zone;
    int count = 0;
  };

  // The first `n` instances of `allocations`, in order; and what `all` holds beyond `taken`
  // (a prefix of it by TakeFirst).
  static std::vector<Allocation> TakeFirst(const std::vector<Allocation>& allocations, int n);
  static std::vector<Allocation> Excess(const std::vector<Allocation>& all, const std::vector<Allocation>& taken);
  Result<LaunchPlan> Resolve(const model::Principal& caller, const RunInstancesRequest& request);
  Result<std::vector<Allocation>> Reserve(const LaunchPlan& plan, const std::vector<Zone>& zones);
  // Under srs_mu_: how many of `type` zone `zone` can take now (its cluster's answer, asked
  // again when nothing is in flight there, minus what was reserved since and `held`).
  // `all_types` is filled on first need.
  Result<int> RoomLocked(const Zone& zone, const model::VmType& type, const HeldCapacity& held,
                         std::vector<model::VmType>& all_types);
  void Release(const model::VmType& type, const std::vector<Allocation>& allocations, bool committed);
  Result<std::optional<Reservation>> FindByToken(const model::Principal& caller, const std::string& token);
  // `n_hex` digits for a new id: options_.random_hex, else RandomHex.
  std::string NewHex(size_t n_hex);
  Status Reconcile(std::vector<model::Instance>& instances);
  Result<int64_t> TerminatedVisibleMs(state::Txn& txn);
  Result<std::vector<InstanceStateChange>> Terminate(const model::Principal& caller, const std::vector<std::string>& ids,
                                                     const state::TxnContext& txn, const std::string& reason);
  // The one terminate path: records the decision (shutting-down, for the instances `due`
  // accepts), tells their clusters, and undoes the decision for the clusters that failed.
  Result<std::vector<InstanceStateChange>> TerminateDecided(const state::TxnContext& txn,
                                                            const std::vector<std::string>& ids,
                                                            const std::string& reason, const DueCheck& due);
  // What the periodic Reconcile() compares the clusters' reports with: the zone, state and
  // times of every instance record this object wrote or read.
  struct Known {
    std::string zone, state;
    int64_t launch_ms = 0, state_change_ms = 0;
  };
  void Remember(const std::vector<model::Instance>& instances);
  void Forget(const std::vector<std::string>& ids);

  state::StateStore& store_;
  Clock& clock_;
  ClusterDirectory& zones_;
  SlaHook& sla_;
  ComputeOptions options_;
  NetworkHook* network_ = nullptr;

  std::mutex srs_mu_;  // guards ledgers_
  std::map<std::string, ZoneLedger> ledgers_;

  std::mutex known_mu_;  // guards known_loaded_, known_
  bool known_loaded_ = false;
  std::unordered_map<std::string, Known> known_;
};

}  // namespace euca::clc
