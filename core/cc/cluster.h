#pragma once
// Cluster: the cluster controller's logic (Eucalyptus' CC, reference/eucalyptus-internals.md
// §4) over its node controllers. It polls each node (describeInstances, then
// describeResource), keeps what it saw, schedules RunInstances by a policy and passes
// terminate/reboot/console through to the node an instance runs on (docs/cc.md).
//
// Capacity is never over-committed: a node's free capacity is what its last poll reported
// less the instances placed on it since and not yet seen in a poll ("in flight"); a node that
// still answers ResourceExhausted sends the instance on to the next node that fits.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/base/clock.h"
#include "core/cc/cluster_controller.h"
#include "core/cc/network_agent.h"
#include "core/nc/node_controller.h"

namespace euca::cc {

/// Reaches the node controller at a URL (an NcClient, or an in-process Node in the embedded
/// cloud). Called once per node when it is added, and again at each poll while it fails.
using NodeConnector = std::function<Result<std::shared_ptr<nc::NodeController>>(const std::string& url)>;

struct ClusterOptions {
  /// Period of the background poll loop (Start); Eucalyptus' NC_POLLING_FREQUENCY.
  int64_t poll_period_ms = 6'000;
  /// Nodes polled at once by Poll().
  int poll_parallelism = 32;
  /// Instances of one RunInstances request started on their nodes at once.
  int run_parallelism = 16;
  /// The host's networking, for a cluster controller on its own host (`euca serve cc`);
  /// nullptr = ApplyNetwork is Unsupported. Must outlive the cluster.
  NetworkAgent* network = nullptr;
};

/// Thread-safe.
class Cluster final : public ClusterController {
 public:
  Cluster(NodeConnector connect, SchedulePolicy policy, Clock& clock, ClusterOptions options = {});
  ~Cluster() override;
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  Result<std::vector<Placement>> RunInstances(const RunInstancesRequest& request) override;
  Result<std::vector<CcInstance>> DescribeInstances(const std::vector<std::string>& ids) override;
  Result<std::vector<nc::TerminateResult>> TerminateInstances(const std::vector<std::string>& ids) override;
  Status RebootInstances(const std::vector<std::string>& ids) override;
  Result<std::string> GetConsoleOutput(const std::string& instance_id) override;
  Result<std::vector<VmTypeAvailability>> DescribeResources(const std::vector<model::VmType>& types) override;
  Result<std::vector<NodeStatus>> DescribeNodes() override;
  Status SetNodes(const std::vector<std::string>& node_urls) override;
  Status Poll() override;
  Status ApplyNetwork(const std::string& driver, const network::DesiredState& state) override;

  /// Starts the background loop that polls every poll_period_ms (the first round at once).
  /// REQUIRES: not started.
  void Start();
  /// Stops and joins the loop; a no-op when not started. Also done by the destructor.
  void Stop();

  SchedulePolicy policy() const { return policy_; }

 private:
  struct Capacity {
    int64_t cores = 0, memory_mib = 0, disk_gib = 0;
  };
  // An instance placed on a node whose start the node's last poll does not show yet.
  struct InFlight {
    model::VmType type;
    bool started = false;      // the node accepted it
    uint64_t started_gen = 0;  // the node's poll generation when it did
  };
  struct Node {
    std::string url;
    size_t order = 0;  // registration order
    std::shared_ptr<nc::NodeController> nc;
    NodeStatus status;
    uint64_t poll_gen = 0;     // polls started on this node
    uint64_t applied_gen = 0;  // the newest poll whose answer is in `status`
    std::map<std::string, InFlight> in_flight;
    std::set<std::string> instances;  // ids the CC knows on it
    Capacity Free() const;
  };
  struct Known {
    CcInstance cc;
    uint64_t seen_gen = 0;  // the node's poll generation when last reported or started
  };
  struct PollAnswer {
    Result<std::vector<nc::Instance>> instances = std::vector<nc::Instance>{};
    Result<nc::NodeResource> resource = nc::NodeResource{};
  };

  /// Picks a node for `type` (REQUIRES: mu_ held), skipping `tried`; null when none fits.
  std::shared_ptr<Node> PickLocked(const model::VmType& type, const std::string& target,
                                   const std::set<std::string>& tried, Status* why);
  /// Places and starts one instance, trying further nodes on ResourceExhausted or an
  /// unreachable node. `first` is the node reserved for it already (may be null).
  Placement StartOne(const nc::RunInstanceRequest& request, const std::string& target, std::shared_ptr<Node> first);
  void PollNode(const std::shared_ptr<Node>& node);
  void PollAll(const std::vector<std::shared_ptr<Node>>& nodes);
  void MarkDownLocked(Node& node, const Status& why);
  std::shared_ptr<Node> NodeOfLocked(const std::string& instance_id);
  void Loop();

  NodeConnector connect_;
  const SchedulePolicy policy_;
  Clock& clock_;
  const ClusterOptions options_;

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Node>> nodes_;  // registration order
  std::unordered_map<std::string, std::shared_ptr<Node>> by_url_;
  std::map<std::string, Known> instances_;                // by id: O(log n) lookups, ordered listing
  std::unordered_map<std::string, std::string> placing_;  // instance id -> node URL while starting
  size_t next_rr_ = 0;                                    // round-robin position in nodes_

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;
  std::thread loop_;
};

}  // namespace euca::cc
