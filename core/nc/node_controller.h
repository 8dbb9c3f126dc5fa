#pragma once
// The node controller as a component (DESIGN.md §2, §5): one interface, implemented by the
// local Node (core/nc/node.h) and by the remote NcClient (core/nc/nc_http.h) that speaks the
// internal HTTP/JSON API to `euca serve nc`. Operations follow Eucalyptus' NC.

#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/nc/nc_types.h"

namespace euca::nc {

/// ncStartNetwork: for now, which bridge new instances attach to (the networking issue
/// extends it with VLANs and peers).
struct StartNetworkRequest {
  std::string bridge;
  int vlan = -1;
};

/// Thread-safe in every implementation.
class NodeController {
 public:
  virtual ~NodeController() = default;
  /// Records the instance (Pending) and starts preparing and booting it in the background;
  /// repeating it for one instance id returns the existing record and never starts a second
  /// VM. ResourceExhausted when the node lacks cores, memory or disk for the VM type.
  virtual Result<Instance> RunInstance(const RunInstanceRequest& request) = 0;
  /// The node's instances as the hypervisor reports them now (all when `ids` is empty;
  /// unknown ids are skipped). An instance whose domain vanished is reported Teardown.
  virtual Result<std::vector<Instance>> DescribeInstances(const std::vector<std::string>& ids) = 0;
  /// Destroys the domain and removes every file of the instance. Terminating a terminated
  /// or unknown-but-valid instance id is fine (shutdown state "Teardown").
  virtual Result<TerminateResult> TerminateInstance(const std::string& instance_id) = 0;
  /// NotFound for an unknown instance; Conflict when it is not running.
  virtual Status RebootInstance(const std::string& instance_id) = 0;
  virtual Result<NodeResource> DescribeResource() = 0;
  /// The last 64 KiB of the instance's serial console. NotFound for an unknown instance.
  virtual Result<std::string> GetConsoleOutput(const std::string& instance_id) = 0;
  virtual Status StartNetwork(const StartNetworkRequest& request) = 0;
};

}  // namespace euca::nc
