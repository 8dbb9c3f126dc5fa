#pragma once
// The SLA rule engine (issue 8; docs/sla.md). Rules fire on events:
//  - request arrival: RunInstances reaches Engine::Review (the clc::SlaHook) after its
//    references are resolved and before capacity is reserved; zone policies set the zone of
//    a request that names none, limit rules admit, lower MaxCount (modify) or reject with an
//    EC2 error code, and the account's runtime lease is stamped on the plan;
//  - address allocation: CheckAddressQuota (called by AllocateAddress);
//  - object upload: CheckStorageQuota (for the Walrus put path);
//  - instance state change: Engine::StateChanged (clc::Compute calls it after each committed
//    change; release-on-terminate rules release the addresses of a terminated instance);
//  - network property change: CheckNetworkPropertyChange (Admin::ModifyProperties calls it in
//    its transaction; network-guard rules refuse while matching instances run);
//  - timer expiry: RunCleanup (cleanup.h) at a time given by a Clock.
// Rules are read from the store on every event, so a put-rule takes effect at once, in every
// process on the store. Thread-safe (the store is).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/clc/addresses.h"
#include "core/clc/compute.h"
#include "state/store.h"

namespace euca::sla {

class Engine final : public clc::SlaHook {
 public:
  /// REQUIRES: `store` and `clock` outlive the engine.
  Engine(state::StateStore& store, Clock& clock) : store_(store), clock_(clock) {}

  /// Applies, in rule name order: the first matching zone-policy (only when the plan's zone
  /// is "any", i.e. the request named none), then every matching limit rule (InstanceLimitExceeded,
  /// VcpuLimitExceeded; MaxCount lowered when MinCount still fits; pending and running
  /// instances count, shutting-down ones no longer), then the account's runtime lease.
  Status Review(clc::LaunchPlan& plan) override;
  /// The limit rules again, in the launch's own transaction: two launches of one user that
  /// Review admitted side by side cannot both take the last room under a limit; the later
  /// one gets fewer instances (down to MinCount) or the rule's rejection.
  Result<int> Admit(state::Txn& txn, const clc::LaunchPlan& plan, int count) override;
  /// The instance-state-change event: on an instance that reached terminated, when a
  /// release-on-terminate rule matches it, each public address (not given at launch) still
  /// associated with it is disassociated, then released (principal "sla"; through
  /// clc::Addresses, so the network is applied). Failures are left for the owner to see:
  /// the address stays allocated and unassociated.
  void StateChanged(const model::Instance& instance, const std::string& previous_state) override;
  /// Where release-on-terminate releases addresses (nullptr: it does nothing). Only before
  /// the first event. REQUIRES: `addresses` outlives the engine.
  void SetAddresses(clc::Addresses* addresses) { addresses_ = addresses; }

 private:
  state::StateStore& store_;
  Clock& clock_;
  clc::Addresses* addresses_ = nullptr;
};

/// The history principal of what the engine does on its own (release-on-terminate).
inline constexpr const char* kSlaPrincipal = "sla";

/// The network-property-change event, in the transaction `txn` that changes the properties
/// `changed` (names whose value changes): when one of them is a network.* property and a
/// network-guard rule matches a pending or running instance, Conflict
/// (OperationNotPermitted) naming the rule, the property and the instance; nothing changes.
Status CheckNetworkPropertyChange(state::Txn& txn, const std::vector<std::string>& changed);

/// Whether the account `account_id` may hold one more public address when it holds `held`
/// now, read in `txn` (the allocation's own): OK, or ResourceExhausted (AddressLimitExceeded)
/// naming the first address-quota rule that forbids it.
Status CheckAddressQuota(state::Txn& txn, const std::string& account_id, int64_t held);

/// Whether the account may store `adding` more bytes when it stores `used` now: OK, or
/// ResourceExhausted (wire code QuotaExceeded) naming the storage-quota rule.
Status CheckStorageQuota(state::StateStore& store, const std::string& account_id, int64_t used, int64_t adding);

/// The Walrus put-path hook (walrus::WalrusOptions::admit_put) of the storage quotas: sums
/// the account's stored bytes only when a storage-quota rule matches it, and refuses with
/// CheckStorageQuota's error. Whether a rule matches is read from the store once and kept
/// while StateStore::ChangeCounter stays the same, so a PUT by an account no rule names
/// costs no store read; a changed rule (by any process) holds from the next PUT on.
/// Thread-safe. REQUIRES: `store` outlives it.
std::function<Status(const std::string& account_id, uint64_t bytes, const std::function<Result<uint64_t>()>& used)>
StorageQuotaHook(state::StateStore& store);

}  // namespace euca::sla
