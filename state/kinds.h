#pragma once
// The registry of object kinds. A kind names a folder of the history tree and says whether
// its objects are declarative (restored by rollback) or runtime (reported, never
// resurrected). Later issues add their kinds to kinds.cc.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace euca::state {

struct KindInfo {
  std::string_view name;        ///< folder in history, e.g. "users"
  bool declarative;             ///< rollback restores it
  std::string_view id_prefix;   ///< ids of this kind start with it ("" = none)
};

const std::vector<KindInfo>& Kinds();
const KindInfo* FindKind(std::string_view name);

/// The history path of an object: "<kind>/<shard>/<id>.json". The shard is the first two
/// hex digits after the id's prefix when the id is "<prefix>-<hex...>", otherwise the first
/// two hex digits of SHA-1(id). Ids are percent-encoded if they hold '/' or other bytes
/// outside [A-Za-z0-9._@+=-].
std::string HistoryPath(std::string_view kind, std::string_view id);

/// Parses "KIND/ID" or a history path into (kind, id); a bare id is resolved by the
/// kinds' id prefixes. nullopt if it names no kind.
std::optional<std::pair<std::string, std::string>> ParseObjectRef(std::string_view ref);

}  // namespace euca::state
