#pragma once
// The EC2 Query actions of the SLA part (docs/ec2-api.md "SLA actions"): EucaCleanup
// (cloud admins), EucaDescribeLeases and EucaRenewLease (owners and cloud admins; instances,
// images and public addresses); and the lease tag describe output carries (tagSet item
// "euca:lease-expires").

#include <cstdint>
#include <mutex>
#include <pugixml.hpp>
#include <string>

#include "core/base/clock.h"
#include "core/clc/addresses.h"
#include "core/clc/compute.h"
#include "core/clc/ec2_actions.h"
#include "core/clc/images.h"
#include "state/store.h"

namespace euca::sla {

/// The tag key under which DescribeInstances and DescribeImages show a lease's end.
inline constexpr const char* kLeaseTag = "euca:lease-expires";
/// Appends <tagSet><item><key>euca:lease-expires</key><value>ISO 8601</value></item></tagSet>.
void AddLeaseTag(pugi::xml_node item, int64_t expires_ms);

/// What the actions work on. REQUIRES: the references outlive the registered actions.
struct SlaServices {
  state::StateStore* store = nullptr;
  Clock* clock = nullptr;
  clc::Compute* compute = nullptr;     ///< nullptr: no instances to act on
  clc::ObjectStoreFactory objects;     ///< opens the object store as an image owner
  std::string lock_path;               ///< the cleanup lock file ("" = only the in-process lock)
  clc::Addresses* addresses = nullptr; ///< nullptr: address leases are not acted on
};

/// Registers EucaCleanup, EucaDescribeLeases and EucaRenewLease.
void AddSlaActions(clc::Ec2Actions& actions, const SlaServices& services);

}  // namespace euca::sla
