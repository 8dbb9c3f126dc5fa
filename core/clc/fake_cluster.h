#pragma once
// Test doubles of the cloud controller's seams to its clusters: FakeCluster (a cluster
// controller over an in-memory set of nodes with capacities, counting placements at once as
// cc::Cluster does) and FixedDirectory (a fixed list of zones). For unit tests of
// core/clc; thread-safe.

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/cc/cluster_controller.h"
#include "core/clc/cluster_directory.h"
#include "core/model/compute.h"
#include "state/store.h"

namespace euca::clc {

class FakeCluster final : public cc::ClusterController {
 public:
  struct NodeSize {
    int cores = 4;
    int64_t memory_mib = 4096;
    int64_t disk_gib = 100;
  };
  /// `nodes` nodes of `size` each, named "http://node-N:8775".
  FakeCluster() : FakeCluster(1, NodeSize{4, 4096, 100}) {}
  FakeCluster(int nodes, NodeSize size) {
    for (int n = 0; n < nodes; ++n) nodes_.push_back({"http://node-" + std::to_string(n) + ":8775", size, size});
  }

  Result<std::vector<cc::Placement>> RunInstances(const cc::RunInstancesRequest& request) override {
    ++run_calls;
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_run_.ok()) return fail_run_;
    std::vector<cc::Placement> out;
    int index = 0;
    for (const auto& r : request.instances) {
      auto known = instances_.find(r.instance_id);
      if (known != instances_.end()) {
        out.push_back({r.instance_id, known->second.node, Status::Ok()});
        continue;
      }
      if (fail_after_ >= 0 && index++ >= fail_after_) {
        out.push_back({r.instance_id, "", Unavailable("node refused the instance (test)")});
        continue;
      }
      Node* node = nullptr;
      for (auto& n : nodes_)
        if (Fits(n.free, r.vm_type)) {
          node = &n;
          break;
        }
      if (!node) {
        out.push_back({r.instance_id, "", ResourceExhausted("no node has room for '" + r.instance_id + "'")});
        continue;
      }
      Take(node->free, r.vm_type, +1);
      cc::CcInstance ci;
      ci.instance.request = r;
      ci.instance.state = nc::InstanceState::kPending;
      ci.node = node->url;
      instances_[r.instance_id] = ci;
      out.push_back({r.instance_id, node->url, Status::Ok()});
    }
    return out;
  }

  Result<std::vector<cc::CcInstance>> DescribeInstances(const std::vector<std::string>& ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_describe_.ok()) return fail_describe_;
    std::vector<cc::CcInstance> out;
    for (const auto& [id, ci] : instances_)
      if (ids.empty() || std::find(ids.begin(), ids.end(), id) != ids.end()) out.push_back(ci);
    return out;
  }

  Result<std::vector<nc::TerminateResult>> TerminateInstances(const std::vector<std::string>& ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_terminate_.ok()) return fail_terminate_;
    std::vector<nc::TerminateResult> out;
    for (const auto& id : ids) {
      ++terminated;
      auto it = instances_.find(id);
      if (it == instances_.end()) {
        out.push_back({id, "Teardown", "Teardown"});
        continue;
      }
      std::string previous = nc::InstanceStateName(it->second.instance.state);
      if (it->second.instance.state != nc::InstanceState::kTeardown) {
        for (auto& n : nodes_)
          if (n.url == it->second.node) Take(n.free, it->second.instance.request.vm_type, -1);
        it->second.instance.state = nc::InstanceState::kTeardown;
      }
      out.push_back({id, previous, "Teardown"});
    }
    return out;
  }

  Status RebootInstances(const std::vector<std::string>& ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : ids)
      if (!instances_.count(id)) return NotFound("instance '" + id + "' is not in this cluster");
    for (const auto& id : ids) ++reboots[id];
    return Status::Ok();
  }

  Result<std::string> GetConsoleOutput(const std::string& instance_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!instances_.count(instance_id)) return NotFound("instance '" + instance_id + "' is not in this cluster");
    return std::string("Linux version 6.1 (fake)\nready\n");
  }

  Result<std::vector<cc::VmTypeAvailability>> DescribeResources(const std::vector<model::VmType>& types) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_describe_.ok()) return fail_describe_;
    std::vector<cc::VmTypeAvailability> out;
    for (const auto& t : types) {
      cc::VmTypeAvailability a{t, 0, 0};
      for (const auto& n : nodes_) {
        a.available += Count(n.free, t);
        a.max += Count(n.size, t);
      }
      out.push_back(a);
    }
    return out;
  }

  Result<std::vector<cc::NodeStatus>> DescribeNodes() override { return std::vector<cc::NodeStatus>{}; }
  Status SetNodes(const std::vector<std::string>&) override { return Status::Ok(); }
  Status Poll() override { return Status::Ok(); }
  /// Records the state (a remote cluster's view); fails with the FailNetwork status.
  Status ApplyNetwork(const std::string& driver, const network::DesiredState& state) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_network_.ok()) return fail_network_;
    network_driver = driver;
    network_applied.push_back(state);
    return Status::Ok();
  }
  std::string network_driver;                      ///< the driver of the last ApplyNetwork
  std::vector<network::DesiredState> network_applied;  ///< every ApplyNetwork that passed

  // Test controls.
  /// Every pending instance becomes Extant (as if the nodes booted them).
  void BootAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, ci] : instances_)
      if (ci.instance.state == nc::InstanceState::kPending) ci.instance.state = nc::InstanceState::kExtant;
  }
  /// The instance's node tore it down by itself (`reason`), or it vanished (`forget`).
  void Teardown(const std::string& id, const std::string& reason, bool forget = false) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end()) return;
    for (auto& n : nodes_)
      if (n.url == it->second.node) Take(n.free, it->second.instance.request.vm_type, -1);
    if (forget) {
      instances_.erase(it);
    } else {
      it->second.instance.state = nc::InstanceState::kTeardown;
      it->second.instance.reason = reason;
    }
  }
  /// RunInstances fails as a whole with `s` (ok: stops failing).
  void FailRun(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_run_ = std::move(s);
  }
  /// RunInstances places the first `n` instances of each request and refuses the rest (-1: off).
  void FailAfter(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_after_ = n;
  }
  /// TerminateInstances fails as a whole with `s` (ok: stops failing).
  void FailTerminate(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_terminate_ = std::move(s);
  }
  /// ApplyNetwork fails with `s` (ok: stops failing).
  void FailNetwork(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_network_ = std::move(s);
  }
  /// DescribeInstances and DescribeResources fail with `s` (the cluster is unreachable).
  void FailDescribe(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_describe_ = std::move(s);
  }
  /// Instances placed and not torn down.
  int Running() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [id, ci] : instances_) n += ci.instance.state != nc::InstanceState::kTeardown;
    return n;
  }
  bool Knows(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return instances_.count(id) > 0;
  }

  std::atomic<int> run_calls{0};
  std::atomic<int> terminated{0};
  std::map<std::string, int> reboots;

 private:
  struct Node {
    std::string url;
    NodeSize size;
    NodeSize free;
  };
  static bool Fits(const NodeSize& free, const model::VmType& t) {
    return free.cores >= t.cores && free.memory_mib >= static_cast<int64_t>(t.memory_mib) &&
           free.disk_gib >= static_cast<int64_t>(t.disk_gib);
  }
  static int Count(NodeSize s, const model::VmType& t) {
    int n = 0;
    while (Fits(s, t)) Take(s, t, +1), ++n;
    return n;
  }
  static void Take(NodeSize& s, const model::VmType& t, int sign) {
    s.cores -= sign * t.cores;
    s.memory_mib -= sign * static_cast<int64_t>(t.memory_mib);
    s.disk_gib -= sign * static_cast<int64_t>(t.disk_gib);
  }

  std::mutex mu_;
  std::vector<Node> nodes_;
  std::map<std::string, cc::CcInstance> instances_;
  Status fail_run_;
  Status fail_describe_;
  Status fail_terminate_;
  Status fail_network_;
  int fail_after_ = -1;
};

/// A fixed list of zones.
class FixedDirectory final : public ClusterDirectory {
 public:
  /// `remote`: a cluster controller on its own host (see Zone::remote).
  void Add(const std::string& name, std::shared_ptr<cc::ClusterController> cc, bool remote = false) {
    zones_.push_back({name, std::move(cc), remote});
  }
  Result<std::vector<Zone>> Zones() override { return zones_; }

 private:
  std::vector<Zone> zones_;
};

/// The record of a public machine image `id` of account `account_id`, for tests that launch
/// instances (Compute needs an image as much as a cluster).
inline state::Object PublicTestImage(const std::string& account_id, const std::string& id = "emi-00000001",
                                     const std::string& name = "img",
                                     const std::string& location = "bucket/img.manifest.xml") {
  model::Image i;
  i.id = id;
  i.account_id = account_id;
  i.name = name;
  i.location = location;
  i.is_public = true;
  return {"images", i.id, i.account_id, i.name, model::ToJson(i), std::nullopt};
}

}  // namespace euca::clc
