#pragma once
// The content of one object's file in history (docs/history-format.md): a pretty-printed
// JSON envelope {kind, id, parent, name, body[, secret: "<redacted>"]}. Secrets never
// appear; the marker only says that the object has one.

#include <string>

#include "state/store.h"

namespace euca::state {

inline constexpr const char* kRedactedMarker = "<redacted>";

/// Serializes `object` for history. Deterministic: equal objects give equal bytes.
std::string HistoryFile(const Object& object);

/// Parses a history file. The returned object has no secret; `*had_secret` tells whether
/// the original had one.
Result<Object> ParseHistoryFile(const std::string& text, bool* had_secret);

}  // namespace euca::state
