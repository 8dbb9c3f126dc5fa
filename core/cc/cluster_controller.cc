#include "core/cc/cluster_controller.h"

namespace euca::cc {

Result<SchedulePolicy> ParseSchedulePolicy(const std::string& name) {
  if (name == "greedy" || name == "firstfit") return SchedulePolicy::kGreedy;
  if (name == "roundrobin") return SchedulePolicy::kRoundRobin;
  if (name == "pack") return SchedulePolicy::kPack;
  if (name == "spread") return SchedulePolicy::kSpread;
  return InvalidArgument("scheduling policy '" + name + "' is not one of greedy, roundrobin, pack, spread");
}

const char* SchedulePolicyName(SchedulePolicy policy) {
  switch (policy) {
    case SchedulePolicy::kGreedy:
      return "greedy";
    case SchedulePolicy::kRoundRobin:
      return "roundrobin";
    case SchedulePolicy::kPack:
      return "pack";
    case SchedulePolicy::kSpread:
      return "spread";
  }
  return "greedy";
}

Status ClusterController::ApplyNetwork(const std::string&, const network::DesiredState&) {
  return Status(Code::kUnsupported, "this cluster controller does not manage a network: the cloud controller's host does");
}

}  // namespace euca::cc
