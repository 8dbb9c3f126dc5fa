#pragma once
// Public (elastic) addresses of the cloud controller (EC2 AllocateAddress, AssociateAddress,
// DisassociateAddress, ReleaseAddress, DescribeAddresses; issue 7, docs/networking.md "Cloud
// side"). The pool is the property network.public-ips; an allocated address is a record of
// kind "addresses" (id = the address, parent = the owner account) that may name one of the
// owner's instances. Only the MANAGED modes have public addresses. An address associated
// with an instance that ended counts as not associated; one given at launch (auto-assigned)
// goes back to the pool when its instance ends. Every change is one StateStore transaction
// followed by `on_change` (the network applier). Thread-safe.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/api/ec2_query.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/clc/ec2_actions.h"
#include "core/model/account.h"
#include "core/model/network.h"
#include "state/store.h"

namespace euca::clc {

class Addresses final {
 public:
  /// REQUIRES: `store` and `clock` outlive this object.
  Addresses(state::StateStore& store, Clock& clock, std::function<void()> on_change = nullptr)
      : store_(store), clock_(clock), on_change_(std::move(on_change)) {}

  /// Who may hold one more address: called by Allocate with the account and how many
  /// addresses it holds now; an error refuses the allocation as is (the SLA issue's address
  /// quotas, sla::CheckAddressQuota). Checked in the allocation's own transaction `txn`, so
  /// two allocations at the same instant cannot both take the last one under a quota.
  using AllocationCheck = std::function<Status(state::Txn& txn, const std::string& account_id, int64_t held)>;
  void SetAllocationCheck(AllocationCheck check) { allocation_check_ = std::move(check); }

  /// The account's default address lease in seconds (nullopt = none), read in the
  /// allocation's transaction (the SLA's lease defaults, sla::AddressLeaseDefault). Unset:
  /// addresses get no lease unless the request asks for one.
  using DefaultLease = std::function<Result<std::optional<int64_t>>(state::Txn&, const std::string& account_id)>;
  void SetDefaultLease(DefaultLease lease) { default_lease_ = std::move(lease); }

  /// The first free address of network.public-ips: AddressLimitExceeded when none is free;
  /// InvalidParameterValue in SYSTEM and STATIC (no public addresses there); the allocation
  /// check's error when it refuses. `lease_s`: the address's lease in seconds from now
  /// (inner nullopt = none); nullopt = the account's default (SetDefaultLease). The address
  /// is released by the cleanup after its lease_expires (docs/sla.md).
  Result<model::Address> Allocate(const model::Principal& caller, const std::string& request_id = {},
                                  std::optional<std::optional<int64_t>> lease_s = std::nullopt);
  /// Associates the caller's `public_ip` with the caller's pending or running instance; an
  /// address already on another instance moves, an address the instance had is
  /// disassociated (released, if it was given at launch).
  Status Associate(const model::Principal& caller, const std::string& public_ip, const std::string& instance_id,
                   const std::string& request_id = {});
  /// Not associated already is fine.
  Status Disassociate(const model::Principal& caller, const std::string& public_ip, const std::string& request_id = {});
  /// Disassociates, then gives the address back to the pool.
  Status Release(const model::Principal& caller, const std::string& public_ip, const std::string& request_id = {});
  /// The SLA cleanup's release of an address whose lease ended at or before `now_ms`: when
  /// associated, first disassociates it (one commit "DisassociateAddress IP"), then releases
  /// it (one commit "ReleaseAddress IP"), both as `principal`; the network is applied after
  /// each, as for the owner's own calls. NotFound when the address is no longer allocated;
  /// Conflict (nothing done) when its lease was renewed meanwhile.
  Status ReleaseExpired(const std::string& principal, const std::string& public_ip, int64_t now_ms);
  /// The SLA's release-on-terminate (docs/sla.md): as ReleaseExpired, for an address (not
  /// given at launch) whose record still names `instance_id`; Conflict when it does not.
  Status ReleaseOfInstance(const std::string& principal, const std::string& public_ip, const std::string& instance_id);
  /// The caller's addresses (the administrator's "verbose": every account's), by address;
  /// `ips` non-empty: exactly those (InvalidAddress.NotFound). Filters public-ip,
  /// instance-id, domain.
  Result<std::vector<model::Address>> Describe(const model::Principal& caller, const std::vector<std::string>& ips,
                                               const std::vector<api::Ec2Filter>& filters);

 private:
  // Disassociates (one commit, when associated), then releases (one commit) `public_ip` as
  // `principal`, if `due` (called in each transaction with the stored record) says OK.
  using DueFn = std::function<Status(state::Txn&, const state::Object&)>;
  Status ReleaseAsSystem(const std::string& principal, const std::string& public_ip, const DueFn& due);

  void Notify() {
    if (on_change_) on_change_();
  }

  state::StateStore& store_;
  Clock& clock_;
  AllocationCheck allocation_check_;
  DefaultLease default_lease_;
  std::function<void()> on_change_;
};

/// The address record `o` (kind "addresses") as it counts now: the association with an
/// instance that ended is dropped; an auto-assigned address of an ended instance is free
/// (nullopt).
Result<std::optional<model::Address>> EffectiveAddress(state::Txn& t, const state::Object& o);

/// Registers the five address actions. REQUIRES: `addresses` outlives `actions`.
void AddAddressActions(Ec2Actions& actions, Addresses& addresses);

}  // namespace euca::clc
