#pragma once
// Public (elastic) addresses of the cloud controller (EC2 AllocateAddress, AssociateAddress,
// DisassociateAddress, ReleaseAddress, DescribeAddresses; issue 7, docs/networking.md "Cloud
// side"). The pool is the property network.public-ips; an allocated address is a record of
// kind "addresses" (id = the address, parent = the owner account) that may name one of the
// owner's instances. Only the MANAGED modes have public addresses. An address associated
// with an instance that ended counts as not associated; one given at launch (auto-assigned)
// goes back to the pool when its instance ends. Every change is one StateStore transaction
// followed by `on_change` (the network applier). Thread-safe.

#include <functional>
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
  /// quotas, sla::CheckAddressQuota). Checked before the allocation's transaction, so two
  /// allocations at the same instant may both pass it (docs/sla.md).
  using AllocationCheck = std::function<Status(const std::string& account_id, int64_t held)>;
  void SetAllocationCheck(AllocationCheck check) { allocation_check_ = std::move(check); }

  /// The first free address of network.public-ips: AddressLimitExceeded when none is free;
  /// InvalidParameterValue in SYSTEM and STATIC (no public addresses there); the allocation
  /// check's error when it refuses.
  Result<model::Address> Allocate(const model::Principal& caller, const std::string& request_id = {});
  /// Associates the caller's `public_ip` with the caller's pending or running instance; an
  /// address already on another instance moves, an address the instance had is
  /// disassociated (released, if it was given at launch).
  Status Associate(const model::Principal& caller, const std::string& public_ip, const std::string& instance_id,
                   const std::string& request_id = {});
  /// Not associated already is fine.
  Status Disassociate(const model::Principal& caller, const std::string& public_ip, const std::string& request_id = {});
  /// Disassociates, then gives the address back to the pool.
  Status Release(const model::Principal& caller, const std::string& public_ip, const std::string& request_id = {});
  /// The caller's addresses (the administrator's "verbose": every account's), by address;
  /// `ips` non-empty: exactly those (InvalidAddress.NotFound). Filters public-ip,
  /// instance-id, domain.
  Result<std::vector<model::Address>> Describe(const model::Principal& caller, const std::vector<std::string>& ips,
                                               const std::vector<api::Ec2Filter>& filters);

 private:
  void Notify() {
    if (on_change_) on_change_();
  }

  state::StateStore& store_;
  Clock& clock_;
  AllocationCheck allocation_check_;
  std::function<void()> on_change_;
};

/// Registers the five address actions. REQUIRES: `addresses` outlives `actions`.
void AddAddressActions(Ec2Actions& actions, Addresses& addresses);

}  // namespace euca::clc
