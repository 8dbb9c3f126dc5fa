#pragma once
// Capacity reservations (EC2 CreateCapacityReservation, DescribeCapacityReservations,
// CancelCapacityReservation; the SLA issue's time-limited allocations, docs/sla.md
// "Capacity reservations"). A reservation holds room for InstanceCount instances of one type
// in one zone for one account, until it is cancelled or its EndDate passes (then the cleanup
// marks it expired). Records of the runtime kind "capacity-reservations" (id cr- + 17 hex,
// parent = the owner account).
//
// Matching is EC2's "open": the owner's pending and running instances of the type in the
// zone use the reservation first (they count against it); what is left unused is held away
// from every other launch (clc::Compute's admission counts it, so others get
// InsufficientInstanceCapacity when only reserved room is left). Creation, which must fit,
// lives in Compute (it shares the zone ledgers); the rest works on the store.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/api/ec2_query.h"
#include "core/base/status.h"
#include "core/model/account.h"
#include "core/model/vm_type.h"
#include "state/store.h"

namespace euca::clc {

inline constexpr char kCapacityReservationsKind[] = "capacity-reservations";

struct CapacityReservation {
  std::string id;  ///< cr-0123456789abcdef0
  std::string account_id;
  std::string instance_type;
  std::string zone;
  int instance_count = 0;
  std::string end_date_type = "unlimited";  ///< "unlimited" or "limited"
  int64_t end_ms = 0;                       ///< limited: when it ends; 0 = never
  std::string match_criteria = "open";
  std::string state = "active";  ///< active, expired, cancelled
  int64_t created_ms = 0;
  int64_t state_change_ms = 0;
  /// Not stored: how many of instance_count the owner's instances leave unused (describe).
  int available_count = 0;
};

state::Json ToJson(const CapacityReservation& r);
/// Throws nlohmann::json::exception on wrong types.
CapacityReservation CapacityReservationFromJson(const state::Json& j);

/// CreateCapacityReservation as the EC2 API gives it.
struct CapacityReservationRequest {
  std::string instance_type;
  std::string zone;
  int instance_count = 0;
  std::string end_date_type;   ///< "" = unlimited
  int64_t end_ms = 0;          ///< EndDate; 0 = none given
  std::string match_criteria;  ///< "" = open
};

/// True when the reservation holds capacity at `now_ms` (active and not past its end).
bool Holds(const CapacityReservation& r, int64_t now_ms);

/// Resources held away, per zone.
struct HeldCapacity {
  int64_t cores = 0, memory_mib = 0, disk_gib = 0;
};
/// What the active reservations hold at `now_ms` away from a launch of `type` by `account_id`,
/// per zone: for each (owner, type, zone), the reserved instances its owner's pending and
/// running instances leave unused, in resources; the owner's own reservations of `type`
/// hold nothing from its launches of `type`. `mine`: per zone, how many instances of
/// `type` the account's own reservations keep for it. Empty when there are no reservations.
Status ReadHeldCapacity(state::Txn& t, const std::string& account_id, const std::string& type, int64_t now_ms,
                        std::map<std::string, HeldCapacity>& held, std::map<std::string, int>& mine);

/// The reservations of `caller` (a cloud administrator's "verbose" among `ids`: everyone's),
/// with available_count; `ids` non-empty: exactly those (InvalidCapacityReservationId.NotFound).
/// Filters: instance-type, availability-zone, state, owner-id, end-date-type.
Result<std::vector<CapacityReservation>> DescribeCapacityReservations(state::StateStore& store,
                                                                      const model::Principal& caller,
                                                                      const std::vector<std::string>& ids,
                                                                      const std::vector<api::Ec2Filter>& filters,
                                                                      int64_t now_ms);
/// Cancels the caller's active reservation `id` (one commit "CancelCapacityReservation ID"):
/// its capacity is free at once. A cloud administrator may cancel any.
Status CancelCapacityReservation(state::StateStore& store, const model::Principal& caller, const std::string& id,
                                 int64_t now_ms, const std::string& request_id = {});
/// The cleanup's part: the active reservations whose end passed by `now_ms`.
Result<std::vector<CapacityReservation>> ExpiredCapacityReservations(state::StateStore& store, int64_t now_ms);
/// Marks the reservation `id` expired as `principal` (one commit "ExpireCapacityReservation
/// ID"), if it is still active and past its end (Conflict otherwise; NotFound when gone).
Status ExpireCapacityReservation(state::StateStore& store, const std::string& principal, const std::string& id,
                                 int64_t now_ms);

class Compute;
/// Registers CreateCapacityReservation, DescribeCapacityReservations and
/// CancelCapacityReservation. REQUIRES: `compute`, `store`, `clock` outlive `actions`.
class Ec2Actions;
void AddCapacityReservationActions(Ec2Actions& actions, Compute& compute);

}  // namespace euca::clc
