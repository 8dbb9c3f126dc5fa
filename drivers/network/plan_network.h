#pragma once
// The plan driver (OpenNetwork("plan", ...)): Apply renders the state and records it under
// state_dir (links, filter.rules, nat.rules, dhcp/<bridge>.conf; each written atomically,
// configurations of bridges no longer served removed); it touches nothing else on the host.
// TearDown removes those files. Thread-safe.

#include <mutex>
#include <string>

#include "drivers/network/network.h"

namespace euca::network {

class PlanNetwork final : public Network {
 public:
  explicit PlanNetwork(std::string state_dir);
  Status Apply(const DesiredState& state) override;
  Status TearDown() override;

 private:
  std::mutex mu_;
  const std::string state_dir_;
};

}  // namespace euca::network
