#pragma once
// The SLA rule engine (issue 8; docs/sla.md). Rules fire on events:
//  - request arrival: RunInstances reaches Engine::Review (the clc::SlaHook) after its
//    references are resolved and before capacity is reserved; zone policies set the zone of
//    a request that names none, limit rules admit, lower MaxCount (modify) or reject with an
//    EC2 error code, and the account's runtime lease is stamped on the plan;
//  - address allocation: CheckAddressQuota (called by AllocateAddress);
//  - object upload: CheckStorageQuota (for the Walrus put path);
//  - timer expiry: RunCleanup (cleanup.h) at a time given by a Clock.
// Rules are read from the store on every event, so a put-rule takes effect at once, in every
// process on the store. Thread-safe (the store is).

#include <cstdint>
#include <functional>
#include <string>

#include "core/base/clock.h"
#include "core/base/status.h"
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

 private:
  state::StateStore& store_;
  Clock& clock_;
};

/// Whether the account `account_id` may hold one more public address when it holds `held`
/// now: OK, or ResourceExhausted (AddressLimitExceeded) naming the first address-quota rule
/// that forbids it.
Status CheckAddressQuota(state::StateStore& store, const std::string& account_id, int64_t held);

/// Whether the account may store `adding` more bytes when it stores `used` now: OK, or
/// ResourceExhausted (wire code QuotaExceeded) naming the storage-quota rule.
Status CheckStorageQuota(state::StateStore& store, const std::string& account_id, int64_t used, int64_t adding);

/// The Walrus put-path hook (walrus::WalrusOptions::admit_put) of the storage quotas: reads
/// the rules on every PUT, sums the account's stored bytes only when a storage-quota rule
/// matches it, and refuses with CheckStorageQuota's error. REQUIRES: `store` outlives it.
std::function<Status(const std::string& account_id, uint64_t bytes, const std::function<Result<uint64_t>()>& used)>
StorageQuotaHook(state::StateStore& store);

}  // namespace euca::sla
