#pragma once
// The JSON form of a DesiredState (docs/networking.md, "Desired state as JSON"): what the
// cloud controller records as EUCA_HOME/network/desired-state.json, sends to a remote cluster
// controller (POST /cc/applyNetwork, docs/internal-api.md), and what the golden-file cases of
// tests/data/network hold. Field names follow the C++ members.

#include <nlohmann/json.hpp>

#include "core/base/status.h"
#include "drivers/network/network.h"

namespace euca::network {

using Json = nlohmann::ordered_json;

/// Every field; empty optional ones (cidr or source_group of a rule, elsewhere=false) left out.
Json ToJson(const DesiredState& state);

/// The inverse of ToJson. Checks the JSON's shape only (types, known mode): InvalidArgument
/// naming the field. Whether the state makes sense is Render's to check.
Result<DesiredState> DesiredStateFromJson(const Json& json);

}  // namespace euca::network
