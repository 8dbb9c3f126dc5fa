// The plan driver: renders and records, touching nothing but its state directory.

#include "drivers/network/plan_network.h"

#include "core/base/env.h"

namespace euca::network {

namespace {
constexpr uint32_t kFileMode = 0644;
constexpr uint32_t kDirMode = 0755;

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

PlanNetwork::PlanNetwork(std::string state_dir) : state_dir_(std::move(state_dir)) {}

Status PlanNetwork::Apply(const DesiredState& state) {
  std::lock_guard<std::mutex> lock(mu_);
  EUCA_ASSIGN_OR_RETURN(Rendered r, Render(state, state_dir_));
  Env& env = PosixEnv();
  std::string dhcp_dir = JoinPath(state_dir_, "dhcp");
  EUCA_RETURN_IF_ERROR(env.CreateDirs(dhcp_dir, kDirMode));
  EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(JoinPath(state_dir_, "links"), r.links, kFileMode));
  EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(JoinPath(state_dir_, "filter.rules"), r.filter, kFileMode));
  EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(JoinPath(state_dir_, "nat.rules"), r.nat, kFileMode));
  for (const auto& [name, text] : {std::pair{"dnsmasq.conf", &r.dhcp_conf}, std::pair{"hosts", &r.dhcp_hosts}}) {
    std::string path = JoinPath(dhcp_dir, name);
    EUCA_RETURN_IF_ERROR(text->empty() ? env.RemoveAll(path) : env.WriteFileAtomic(path, *text, kFileMode));
  }
  // Earlier versions recorded one configuration per bridge (eucabrN.conf).
  EUCA_ASSIGN_OR_RETURN(std::vector<std::string> names, env.ListDir(dhcp_dir));
  for (const std::string& name : names) {
    if (EndsWith(name, ".conf") && name != "dnsmasq.conf") EUCA_RETURN_IF_ERROR(env.RemoveAll(JoinPath(dhcp_dir, name)));
  }
  return Status::Ok();
}

Status PlanNetwork::TearDown() {
  std::lock_guard<std::mutex> lock(mu_);
  Env& env = PosixEnv();
  for (const char* name : {"links", "filter.rules", "nat.rules", "dhcp"}) {
    EUCA_RETURN_IF_ERROR(env.RemoveAll(JoinPath(state_dir_, name)));
  }
  return Status::Ok();
}

}  // namespace euca::network
