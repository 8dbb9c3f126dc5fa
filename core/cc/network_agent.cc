#include "core/cc/network_agent.h"

#include <utility>

#include "drivers/network/state_json.h"

namespace euca::cc {

NetworkAgent::NetworkAgent(Env& env, network::NetworkOptions options, NetworkOpener opener)
    : env_(env), options_(std::move(options)), opener_(std::move(opener)) {}

Status NetworkAgent::Apply(const std::string& driver, const network::DesiredState& state) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = drivers_.find(driver);
  if (it == drivers_.end()) {
    EUCA_RETURN_IF_ERROR(env_.CreateDirs(options_.state_dir, 0755));
    EUCA_ASSIGN_OR_RETURN(std::unique_ptr<network::Network> opened, opener_(driver, options_));
    it = drivers_.emplace(driver, std::move(opened)).first;
  }
  EUCA_RETURN_IF_ERROR(it->second->Apply(state));
  network::Json record = {{"driver", driver}, {"state", network::ToJson(state)}};
  return env_.WriteFileAtomic(RecordPath(), record.dump(2) + "\n", 0644);
}

Status NetworkAgent::Restore() {
  if (!env_.Exists(RecordPath())) return Status::Ok();
  EUCA_ASSIGN_OR_RETURN(std::string text, env_.ReadFile(RecordPath()));
  const std::string where = "the recorded network state '" + RecordPath() + "'";
  network::Json record = network::Json::parse(text, nullptr, false);
  if (record.is_discarded() || !record.is_object() || !record.contains("driver") || !record["driver"].is_string() ||
      !record.contains("state"))
    return InvalidArgument(where + " is not {\"driver\": ..., \"state\": ...}");
  Result<network::DesiredState> state = network::DesiredStateFromJson(record["state"]);
  if (!state.ok()) return state.status().WithContext(where);
  return Apply(record["driver"].get<std::string>(), *state);
}

}  // namespace euca::cc
