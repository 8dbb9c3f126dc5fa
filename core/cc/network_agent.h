#pragma once
// A cluster controller's hand on its host's networking (issue 7, docs/networking.md "Remote
// cluster controllers"). The cloud controller builds the desired state from its store and
// sends each remote cluster its view (POST /cc/applyNetwork): its own instances served, the
// other clusters' instances marked `elsewhere`. The agent applies it through the driver the
// cloud names (network.driver) and records it, so that a restarted `euca serve cc` rebuilds
// the host from the record at once, before the cloud controller's next push.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/base/env.h"
#include "core/base/status.h"
#include "drivers/network/network.h"

namespace euca::cc {

/// Opens a driver by name with the given options (network::OpenNetwork; tests inject fakes).
using NetworkOpener =
    std::function<Result<std::unique_ptr<network::Network>>(std::string_view, const network::NetworkOptions&)>;

/// Thread-safe: applies are serialized.
class NetworkAgent final {
 public:
  /// `options.state_dir`: the drivers' state and the record (desired-state.json, written
  /// atomically after each successful apply: {"driver": ..., "state": ...}).
  /// REQUIRES: `env` outlives this object.
  NetworkAgent(Env& env, network::NetworkOptions options, NetworkOpener opener = network::OpenNetwork);

  /// Applies `state` through `driver` ("plan" or "linux"; opened once and kept). On error the
  /// record keeps the last state that applied.
  Status Apply(const std::string& driver, const network::DesiredState& state);
  /// Applies the recorded state again; Ok when nothing was recorded yet. A record that does
  /// not parse is an error naming the file (it is left for the operator).
  Status Restore();
  /// Where the record is.
  std::string RecordPath() const { return options_.state_dir + "/desired-state.json"; }

 private:
  Env& env_;
  network::NetworkOptions options_;
  NetworkOpener opener_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<network::Network>> drivers_;  // guarded by mu_
};

}  // namespace euca::cc
