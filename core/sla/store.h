#pragma once
// SLA data in the state store (docs/sla.md, docs/history-format.md): rules (kind "sla-rules",
// id = rule name) and per-account lease defaults (runtime, storage, address) (kind "lease-defaults", id = account id).
// Every change is one StateStore transaction; bad input writes nothing.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/model/account.h"
#include "core/sla/rules.h"
#include "state/store.h"

namespace euca::sla {

inline constexpr const char* kRulesKind = "sla-rules";
inline constexpr const char* kLeaseDefaultsKind = "lease-defaults";

/// Every rule, ordered by name.
Result<std::vector<Rule>> ListRules(state::Txn& txn);
Result<std::vector<Rule>> ListRules(state::StateStore& store);
/// Adds or replaces `rules` in one transaction (action "PutRule a,b"). Cloud admins only
/// (PermissionDenied otherwise).
Status PutRules(state::StateStore& store, const model::Principal& caller, const std::vector<Rule>& rules);
/// Removes the rule `name` (NotFound "rule 'x' does not exist"). Cloud admins only.
Status DeleteRule(state::StateStore& store, const model::Principal& caller, const std::string& name);

/// An account's default leases; nullopt = none (no expiry).
struct LeaseDefaults {
  std::string account_id;
  std::optional<int64_t> runtime_s;
  std::optional<int64_t> storage_s;
  std::optional<int64_t> address_s;  ///< public addresses (AllocateAddress)
};
Result<LeaseDefaults> GetLeaseDefaults(state::Txn& txn, const std::string& account_id);
/// Sets the defaults of the account named `account_name` (NotFound for an unknown account);
/// a field left nullopt keeps its value, an inner nullopt means "none". Cloud admins only.
/// Returns the new defaults.
Result<LeaseDefaults> SetLeaseDefaults(state::StateStore& store, const model::Principal& caller,
                                       const std::string& account_name,
                                       std::optional<std::optional<int64_t>> runtime_s,
                                       std::optional<std::optional<int64_t>> storage_s,
                                       std::optional<std::optional<int64_t>> address_s = std::nullopt);

/// When a storage lease of `account_id` begun at `now_ms` ends (0 = never). For RegisterImage.
Result<int64_t> StorageLeaseExpiry(state::Txn& txn, const std::string& account_id, int64_t now_ms);

/// The account's default address lease in seconds (nullopt = none). For AllocateAddress.
Result<std::optional<int64_t>> AddressLeaseDefault(state::Txn& txn, const std::string& account_id);

/// The name of account `account_id` ("" when it does not exist).
Result<std::string> AccountName(state::Txn& txn, const std::string& account_id);

}  // namespace euca::sla
