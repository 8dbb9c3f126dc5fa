#pragma once
// Shared pieces of the core/cc tests: a NodeController fake whose capacity and failures the
// test sets, and a connector over a map of such nodes.

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/cc/cluster.h"
#include "core/nc/node_controller.h"

namespace euca::cc {

/// An in-memory node: instances start at once (Extant) and take cores, memory and disk until
/// terminated. It trusts the CC unless `check_capacity` is set: what it accepts it runs, so a
/// test sees any over-commit. Thread-safe.
class FakeNc final : public nc::NodeController {
 public:
  FakeNc(int cores, uint64_t memory_mib, uint64_t disk_gib) {
    max_.cores_max = cores;
    max_.memory_max_mib = memory_mib;
    max_.disk_max_gib = disk_gib;
  }

  std::atomic<bool> down{false};    ///< every call answers Unavailable
  std::atomic<int> refuse_runs{0};  ///< the next N RunInstance calls answer ResourceExhausted
  std::atomic<bool> check_capacity{false};
  std::atomic<int> runs{0};  ///< RunInstance calls that started an instance

  Result<nc::Instance> RunInstance(const nc::RunInstanceRequest& request) override {
    if (down) return Unavailable("connection refused");
    if (refuse_runs > 0) {
      --refuse_runs;
      return Status(Code::kResourceExhausted, "full", "InsufficientInstanceCapacity");
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = instances_.find(request.instance_id); it != instances_.end()) return it->second;
    if (check_capacity) {
      nc::NodeResource r = ResourceLocked();
      if (request.vm_type.cores > r.cores_available || request.vm_type.memory_mib > r.memory_available_mib ||
          request.vm_type.disk_gib > r.disk_available_gib) {
        return Status(Code::kResourceExhausted, "full", "InsufficientInstanceCapacity");
      }
    }
    nc::Instance i;
    i.request = request;
    i.state = nc::InstanceState::kExtant;
    i.hypervisor_state = "running";
    instances_[request.instance_id] = i;
    ++runs;
    return i;
  }
  Result<std::vector<nc::Instance>> DescribeInstances(const std::vector<std::string>& ids) override {
    if (down) return Unavailable("connection refused");
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<nc::Instance> out;
    for (const auto& [id, i] : instances_) {
      if (ids.empty() || std::find(ids.begin(), ids.end(), id) != ids.end()) out.push_back(i);
    }
    return out;
  }
  Result<nc::TerminateResult> TerminateInstance(const std::string& id) override {
    if (down) return Unavailable("connection refused");
    std::lock_guard<std::mutex> lock(mu_);
    auto it = instances_.find(id);
    if (it == instances_.end()) return nc::TerminateResult{id, "Teardown", "Teardown"};
    nc::TerminateResult r{id, nc::InstanceStateName(it->second.state), "Teardown"};
    it->second.state = nc::InstanceState::kTeardown;
    return r;
  }
  Status RebootInstance(const std::string& id) override {
    if (down) return Unavailable("connection refused");
    std::lock_guard<std::mutex> lock(mu_);
    if (!instances_.count(id)) return NotFound("no instance '" + id + "'");
    ++reboots_[id];
    return Status::Ok();
  }
  Result<nc::NodeResource> DescribeResource() override {
    if (down) return Unavailable("connection refused");
    std::lock_guard<std::mutex> lock(mu_);
    return ResourceLocked();
  }
  Result<std::string> GetConsoleOutput(const std::string& id) override {
    if (down) return Unavailable("connection refused");
    std::lock_guard<std::mutex> lock(mu_);
    if (!instances_.count(id)) return NotFound("no instance '" + id + "'");
    return "console of " + id + "\n";
  }
  Status StartNetwork(const nc::StartNetworkRequest&) override { return Status::Ok(); }

  /// The node forgets an instance (as an NC does some time after Teardown).
  void Forget(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    instances_.erase(id);
  }
  /// Instances not in Teardown.
  int Live() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [id, i] : instances_) n += i.state != nc::InstanceState::kTeardown;
    return n;
  }
  int Reboots(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return reboots_[id];
  }
  /// Overrides what DescribeResource reports as available (max stays).
  void ReportAvailable(int cores, uint64_t memory_mib, uint64_t disk_gib) {
    std::lock_guard<std::mutex> lock(mu_);
    override_ = true;
    avail_ = {cores, memory_mib, disk_gib};
  }

 private:
  nc::NodeResource ResourceLocked() {
    nc::NodeResource r = max_;
    int64_t cores = r.cores_max, mem = static_cast<int64_t>(r.memory_max_mib),
            disk = static_cast<int64_t>(r.disk_max_gib);
    for (const auto& [id, i] : instances_) {
      if (i.state == nc::InstanceState::kTeardown) continue;
      cores -= i.request.vm_type.cores;
      mem -= static_cast<int64_t>(i.request.vm_type.memory_mib);
      disk -= static_cast<int64_t>(i.request.vm_type.disk_gib);
    }
    r.cores_available = static_cast<int>(std::max<int64_t>(0, cores));
    r.memory_available_mib = static_cast<uint64_t>(std::max<int64_t>(0, mem));
    r.disk_available_gib = static_cast<uint64_t>(std::max<int64_t>(0, disk));
    if (override_) {
      r.cores_available = avail_.cores;
      r.memory_available_mib = avail_.memory;
      r.disk_available_gib = avail_.disk;
    }
    return r;
  }
  struct Avail {
    int cores;
    uint64_t memory, disk;
  };

  std::mutex mu_;
  nc::NodeResource max_;
  std::map<std::string, nc::Instance> instances_;
  std::map<std::string, int> reboots_;
  bool override_ = false;
  Avail avail_{0, 0, 0};
};

/// Node URLs -> nodes; an unknown URL cannot be connected (NotFound).
class FakeNodes {
 public:
  std::shared_ptr<FakeNc> Add(const std::string& url, int cores = 4, uint64_t memory_mib = 4096,
                              uint64_t disk_gib = 100) {
    auto node = std::make_shared<FakeNc>(cores, memory_mib, disk_gib);
    std::lock_guard<std::mutex> lock(mu_);
    nodes_[url] = node;
    return node;
  }
  NodeConnector Connector() {
    return [this](const std::string& url) -> Result<std::shared_ptr<nc::NodeController>> {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = nodes_.find(url);
      if (it == nodes_.end()) return NotFound("no node at '" + url + "'");
      return std::shared_ptr<nc::NodeController>(it->second);
    };
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FakeNc>> nodes_;
};

}  // namespace euca::cc
