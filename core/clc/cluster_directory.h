#pragma once
// How the cloud controller reaches its clusters (availability zones). The CLC's compute
// logic asks a ClusterDirectory for the zones and their cluster controllers; the real one
// (core/clc/topology.h) builds them from the registered clusters and nodes in the state
// store (a remote CcClient, or an in-process cc::Cluster), tests pass a fixed list.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/cc/cluster_controller.h"

namespace euca::clc {

/// One availability zone and the cluster controller that serves it.
struct Zone {
  std::string name;
  std::shared_ptr<cc::ClusterController> cc;
  /// A cluster controller on its own host (registered with a URL): it applies its zone's
  /// network itself. In-process clusters share the cloud controller's host.
  bool remote = false;
};

/// Names no zone may have: the meta-zones of RunInstances (any, single, spread; compute.h)
/// and "verbose", which DescribeAvailabilityZones reads as the administrator's listing.
inline bool IsReservedZoneName(std::string_view name) {
  return name == "any" || name == "single" || name == "spread" || name == "verbose";
}

/// Thread-safe in every implementation.
class ClusterDirectory {
 public:
  virtual ~ClusterDirectory() = default;
  /// Every zone, in registration order (the embedded zone when none is registered).
  virtual Result<std::vector<Zone>> Zones() = 0;
};

}  // namespace euca::clc
