#pragma once
// SLA rules (issue 8; docs/sla.md): what a rule is, its text format and its JSON in the state
// store (kind "sla-rules", id = rule name). Plain values; no I/O.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/status.h"

namespace euca::sla {

using Json = nlohmann::ordered_json;

/// The rule kinds that ship (docs/sla.md lists their parameters and actions).
inline constexpr const char* kInstanceLimit = "instance-limit";
inline constexpr const char* kCoreLimit = "core-limit";
inline constexpr const char* kMemoryLimit = "memory-limit";
inline constexpr const char* kMaxRuntime = "max-runtime";
inline constexpr const char* kZonePolicy = "zone-policy";
inline constexpr const char* kStorageQuota = "storage-quota";
inline constexpr const char* kAddressQuota = "address-quota";
inline constexpr const char* kReleaseOnTerminate = "release-on-terminate";  ///< instance state change
inline constexpr const char* kNetworkGuard = "network-guard";               ///< network property change

/// Which requests or objects a rule applies to. An empty field matches anything.
struct Match {
  std::string account;  ///< account name
  std::string user;     ///< user name
  std::string zone;     ///< availability zone (as requested, for request rules)
  std::string type;     ///< VM type name
};

struct Rule {
  std::string name;    ///< [a-z0-9][a-z0-9._-]{0,63}; the id in the store
  std::string kind;    ///< one of the k* kinds above
  Match match;
  std::string action;  ///< the kind's action (reject, terminate, set-zone); the default when not given
  std::string scope;   ///< limits: "user" or "account"; quotas: "account"
  int64_t limit = 0;   ///< limits and quotas: instances, cores, MiB, bytes or addresses
  int64_t duration_s = 0;  ///< max-runtime: seconds
  std::string policy;      ///< zone-policy: any, emptiest, single, spread
  std::string zone;        ///< zone-policy single: the zone
  std::string description;
};

/// Parses a rule file: one or more "[rule NAME]" sections of "key = value" lines ('#' starts
/// a comment). Every rule is checked; the first error names the line and the key, and no rule
/// is returned then (InvalidArgument).
Result<std::vector<Rule>> ParseRules(const std::string& text);
/// The rule in the file format (ParseRules(FormatRule(r)) == {r}).
std::string FormatRule(const Rule& rule);

Json ToJson(const Rule& rule);
/// Throws nlohmann::json::exception on wrong types.
Rule RuleFromJson(const Json& j);

/// True when `match` holds for the given names (an empty field of `match` matches any).
bool Matches(const Match& match, const std::string& account, const std::string& user, const std::string& zone,
             const std::string& type);

/// "2048" (MiB / bytes / count) or with a binary suffix K, M, G, T (and optional "iB" / "B");
/// `unit_bytes` is what a bare number counts (1 for bytes, 1 Mi for MiB: "8G" = 8192 MiB).
std::optional<int64_t> ParseSize(const std::string& text, int64_t unit_bytes);

}  // namespace euca::sla
