#include "drivers/network/network.h"

#include <algorithm>
#include <cctype>

#include "drivers/network/linux_network.h"
#include "drivers/network/plan_network.h"

namespace euca::network {

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kSystem: return "SYSTEM";
    case Mode::kStatic: return "STATIC";
    case Mode::kManaged: return "MANAGED";
    case Mode::kManagedNoVlan: return "MANAGED-NOVLAN";
  }
  return "?";
}

Result<Mode> ParseMode(std::string_view text) {
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  for (Mode m : {Mode::kSystem, Mode::kStatic, Mode::kManaged, Mode::kManagedNoVlan}) {
    if (upper == ModeName(m)) return m;
  }
  return InvalidArgument("network mode '" + std::string(text) +
                         "' is not one of SYSTEM, STATIC, MANAGED, MANAGED-NOVLAN");
}

std::string BridgeName(int index) { return "eucabr" + std::to_string(index); }

Result<std::string> BridgeFor(const DesiredState& state, const Endpoint& endpoint) {
  if (!IsManaged(state.mode)) return state.bridge;
  for (const Group& g : state.groups) {
    if (g.id == endpoint.group_id) return BridgeName(g.index);
  }
  return NotFound("group '" + endpoint.group_id + "' of instance '" + endpoint.instance_id + "' has no network");
}

Result<std::unique_ptr<Network>> OpenNetwork(std::string_view driver, const NetworkOptions& options) {
  NetworkOptions o = options;
  if (o.state_dir.empty()) o.state_dir = std::string(kDefaultStateDir);
  if (driver == "plan") return std::unique_ptr<Network>(std::make_unique<PlanNetwork>(o.state_dir));
  if (driver == "linux") return std::unique_ptr<Network>(std::make_unique<LinuxNetwork>(o));
  return InvalidArgument("network driver '" + std::string(driver) + "' is not one of linux, plan");
}

}  // namespace euca::network
