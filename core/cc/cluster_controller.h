#pragma once
// The cluster controller as a component (DESIGN.md §1, §5): one interface, implemented by
// the local Cluster (core/cc/cluster.h) and by the remote CcClient (core/cc/cc_http.h) that
// speaks the internal HTTP/JSON API to `euca serve cc`. Operations follow Eucalyptus' CC:
// the plural forms of the NC's, plus describeResources(vmTypes).

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/model/vm_type.h"
#include "core/nc/nc_types.h"
#include "drivers/network/network.h"

namespace euca::cc {

/// How RunInstances picks a node for each instance (reference/eucalyptus-internals.md §4).
enum class SchedulePolicy {
  kGreedy,      ///< first fit: the first node, in registration order, that fits (the seeds)
  kRoundRobin,  ///< first node that fits, starting after the node used last
  kPack,        ///< the fitting node with the least free capacity left (fills nodes up)
  kSpread,      ///< the fitting node with the most free capacity (balances load)
};
/// "greedy" (also "firstfit"), "roundrobin", "pack", "spread"; InvalidArgument otherwise.
Result<SchedulePolicy> ParseSchedulePolicy(const std::string& name);
const char* SchedulePolicyName(SchedulePolicy policy);

/// One node as the CC last saw it.
struct NodeStatus {
  std::string url;
  std::string state = "down";   ///< "up" (answered the last poll) or "down"
  nc::NodeResource resource;    ///< zero when down
  int instances = 0;            ///< instances the CC knows on it
  int64_t last_poll_ms = 0;
  std::string error;            ///< why it is down
};

/// describeResources: how many instances of one type fit, summed over up nodes, each node
/// counted by repeated subtraction of (cores, memory, disk) from its free (available) and
/// total (max) capacity.
struct VmTypeAvailability {
  model::VmType type;
  int available = 0;
  int max = 0;
};

/// ccRunInstances: instances of one reservation. Each is placed independently by the policy
/// (or on `target_node` when set) and sent to its node.
struct RunInstancesRequest {
  std::vector<nc::RunInstanceRequest> instances;
  std::string target_node;   ///< a node URL, or "" to let the policy choose
};

/// The outcome for one instance of a RunInstancesRequest.
struct Placement {
  std::string instance_id;
  std::string node;          ///< URL of the node it went to ("" when it failed)
  Status status;             ///< ok, or why it could not be placed or started
};

/// An instance as the CC reports it: the NC's record and the node it runs on.
struct CcInstance {
  nc::Instance instance;
  std::string node;
};

/// Thread-safe in every implementation.
class ClusterController {
 public:
  virtual ~ClusterController() = default;
  /// Places and starts every instance; one Placement per request instance, in order. Never
  /// over-commits a node: concurrent calls see each other's placements. Repeating an
  /// instance id already placed returns its node and starts nothing new.
  virtual Result<std::vector<Placement>> RunInstances(const RunInstancesRequest& request) = 0;
  /// Instances on the cluster's nodes as last polled (all when `ids` is empty; unknown ids
  /// are skipped).
  virtual Result<std::vector<CcInstance>> DescribeInstances(const std::vector<std::string>& ids) = 0;
  /// Terminates each instance on its node; an id the CC does not know is reported with
  /// shutdown_state "Teardown" (terminating twice is fine).
  virtual Result<std::vector<nc::TerminateResult>> TerminateInstances(const std::vector<std::string>& ids) = 0;
  /// NotFound names the first unknown instance; nothing is rebooted then.
  virtual Status RebootInstances(const std::vector<std::string>& ids) = 0;
  virtual Result<std::string> GetConsoleOutput(const std::string& instance_id) = 0;
  /// How many of each type fit now (see VmTypeAvailability), in the order given.
  virtual Result<std::vector<VmTypeAvailability>> DescribeResources(const std::vector<model::VmType>& types) = 0;
  virtual Result<std::vector<NodeStatus>> DescribeNodes() = 0;
  /// Replaces the set of nodes (URLs, in registration order). Nodes that stay keep their
  /// state; the CLC sends the full list whenever registration changes.
  virtual Status SetNodes(const std::vector<std::string>& node_urls) = 0;
  /// Polls every node now (describeResource, describeInstances) instead of waiting for the
  /// next round.
  virtual Status Poll() = 0;
  /// Makes the cluster's host match `state` through the network driver `driver` ("plan" or
  /// "linux"; docs/networking.md "Remote cluster controllers"). Implemented by a cluster
  /// controller that runs on its own host (`euca serve cc`); the in-process clusters' host is
  /// the cloud controller's, which applies for them itself: Unsupported by default.
  virtual Status ApplyNetwork(const std::string& driver, const network::DesiredState& state);
};

}  // namespace euca::cc
