#include "core/clc/capacity_reservations.h"

#include <algorithm>
#include <tuple>

#include "core/base/clock.h"
#include "core/clc/compute.h"
#include "core/clc/ec2_actions.h"
#include "core/clc/vm_types.h"
#include "core/model/compute.h"

namespace euca::clc {
namespace {

constexpr char kInstances[] = "instances";

Status ReservationNotFound(const std::string& id) {
  return Status(Code::kNotFound, "capacity reservation '" + id + "' does not exist",
                "InvalidCapacityReservationId.NotFound");
}

Result<CapacityReservation> FromObject(const state::Object& o) {
  try {
    return CapacityReservationFromJson(o.body);
  } catch (const std::exception& e) {
    return Internal("corrupt capacity reservation '" + o.id + "': " + e.what());
  }
}

state::Object ToObject(const CapacityReservation& r) {
  return {kCapacityReservationsKind, r.id, r.account_id, "", ToJson(r), std::nullopt};
}

using GroupKey = std::tuple<std::string, std::string, std::string>;  // account, type, zone

// The pending and running instances per (account, type, zone).
Result<std::map<GroupKey, int>> LiveInstances(state::Txn& t) {
  std::map<GroupKey, int> live;
  EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kInstances));
  for (const auto& o : objects) {
    std::string state = o.body.value("state", "");
    if (state != model::kPending && state != model::kRunning) continue;
    ++live[{o.parent, o.body.value("vm_type", ""), o.body.value("zone", "")}];
  }
  return live;
}

// Sets available_count of every reservation of `all` that holds at `now_ms`: the owner's
// live instances fill its reservations of a type and zone oldest first.
Status FillAvailable(state::Txn& t, std::vector<CapacityReservation>& all, int64_t now_ms) {
  EUCA_ASSIGN_OR_RETURN(auto live, LiveInstances(t));
  std::vector<CapacityReservation*> order;
  for (auto& r : all) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(), [](const CapacityReservation* a, const CapacityReservation* b) {
    return a->created_ms < b->created_ms;
  });
  for (auto* r : order) {
    r->available_count = 0;
    if (!Holds(*r, now_ms)) continue;
    int& used = live[{r->account_id, r->instance_type, r->zone}];
    int take = std::min(used, r->instance_count);
    used -= take;
    r->available_count = r->instance_count - take;
  }
  return Status::Ok();
}

Result<std::vector<CapacityReservation>> ListAll(state::Txn& t, std::optional<std::string> parent = std::nullopt) {
  EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kCapacityReservationsKind, parent));
  std::vector<CapacityReservation> out;
  for (const auto& o : objects) {
    EUCA_ASSIGN_OR_RETURN(auto r, FromObject(o));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

state::Json ToJson(const CapacityReservation& r) {
  return {{"id", r.id},
          {"account", r.account_id},
          {"instance_type", r.instance_type},
          {"zone", r.zone},
          {"instance_count", r.instance_count},
          {"end_date_type", r.end_date_type},
          {"end", r.end_ms},
          {"match_criteria", r.match_criteria},
          {"state", r.state},
          {"created", r.created_ms},
          {"state_change", r.state_change_ms}};
}

CapacityReservation CapacityReservationFromJson(const state::Json& j) {
  CapacityReservation r;
  r.id = j.at("id").get<std::string>();
  r.account_id = j.value("account", "");
  r.instance_type = j.value("instance_type", "");
  r.zone = j.value("zone", "");
  r.instance_count = j.value("instance_count", 0);
  r.end_date_type = j.value("end_date_type", "unlimited");
  r.end_ms = j.value("end", int64_t{0});
  r.match_criteria = j.value("match_criteria", "open");
  r.state = j.value("state", "active");
  r.created_ms = j.value("created", int64_t{0});
  r.state_change_ms = j.value("state_change", int64_t{0});
  return r;
}

bool Holds(const CapacityReservation& r, int64_t now_ms) {
  return r.state == "active" && (r.end_ms == 0 || r.end_ms > now_ms);
}

Status ReadHeldCapacity(state::Txn& t, const std::string& account_id, const std::string& type, int64_t now_ms,
                        std::map<std::string, HeldCapacity>& held, std::map<std::string, int>& mine) {
  held.clear();
  mine.clear();
  EUCA_ASSIGN_OR_RETURN(auto all, ListAll(t));
  std::map<GroupKey, int> reserved;
  for (const auto& r : all)
    if (Holds(r, now_ms)) reserved[{r.account_id, r.instance_type, r.zone}] += r.instance_count;
  if (reserved.empty()) return Status::Ok();
  EUCA_ASSIGN_OR_RETURN(auto live, LiveInstances(t));
  std::map<std::string, model::VmType> types;
  for (const auto& [key, count] : reserved) {
    const auto& [owner, type_name, zone] = key;
    auto l = live.find(key);
    int unused = std::max(0, count - (l == live.end() ? 0 : l->second));
    if (unused == 0) continue;
    if (owner == account_id && type_name == type) {
      mine[zone] += unused;
      continue;
    }
    if (!types.count(type_name)) {
      auto found = FindVmType(t, type_name);
      if (!found.ok()) continue;  // a type deleted since: it holds nothing that can be named
      types[type_name] = *found;
    }
    const model::VmType& v = types[type_name];
    HeldCapacity& h = held[zone];
    h.cores += int64_t{v.cores} * unused;
    h.memory_mib += static_cast<int64_t>(v.memory_mib) * unused;
    h.disk_gib += static_cast<int64_t>(v.disk_gib) * unused;
  }
  return Status::Ok();
}

Result<std::vector<CapacityReservation>> DescribeCapacityReservations(state::StateStore& store,
                                                                      const model::Principal& caller,
                                                                      const std::vector<std::string>& ids,
                                                                      const std::vector<api::Ec2Filter>& filters,
                                                                      int64_t now_ms) {
  std::vector<std::string> wanted;
  bool everyone = false;
  for (const auto& id : ids) {
    if (id == "verbose" && caller.IsCloudAdmin()) {
      everyone = true;
      continue;
    }
    wanted.push_back(id);
  }
  static const char* kFilters[] = {"instance-type", "availability-zone", "state", "owner-id", "end-date-type",
                                   "capacity-reservation-id"};
  for (const auto& f : filters)
    if (std::find(std::begin(kFilters), std::end(kFilters), f.name) == std::end(kFilters))
      return Status(Code::kInvalidArgument, "the filter '" + f.name + "' is invalid for DescribeCapacityReservations",
                    "InvalidParameterValue");
  std::vector<CapacityReservation> all;
  EUCA_RETURN_IF_ERROR(store.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(all, ListAll(t));
    return FillAvailable(t, all, now_ms);
  }));
  auto visible = [&](const CapacityReservation& r) {
    return r.account_id == caller.account_id || (caller.IsCloudAdmin() && (everyone || !wanted.empty()));
  };
  for (const auto& id : wanted)
    if (std::none_of(all.begin(), all.end(), [&](const CapacityReservation& r) { return r.id == id && visible(r); }))
      return ReservationNotFound(id);
  std::vector<CapacityReservation> out;
  for (auto& r : all) {
    if (!visible(r)) continue;
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), r.id) == wanted.end()) continue;
    // Past its end but not yet expired by the cleanup: shown as it will be.
    if (r.state == "active" && !Holds(r, now_ms)) r.state = "expired";
    bool keep = true;
    for (const auto& f : filters) {
      const std::string value = f.name == "instance-type"       ? r.instance_type
                                : f.name == "availability-zone" ? r.zone
                                : f.name == "state"             ? r.state
                                : f.name == "owner-id"          ? r.account_id
                                : f.name == "end-date-type"     ? r.end_date_type
                                                                : r.id;
      keep = keep && api::FilterMatches(f, value);
    }
    if (keep) out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const CapacityReservation& a, const CapacityReservation& b) {
    return std::tie(a.created_ms, a.id) < std::tie(b.created_ms, b.id);
  });
  return out;
}

Status CancelCapacityReservation(state::StateStore& store, const model::Principal& caller, const std::string& id,
                                 int64_t now_ms, const std::string& request_id) {
  return store
      .Transact({caller.ToString(), "CancelCapacityReservation " + id, request_id},
                [&](state::Txn& t) -> Status {
                  EUCA_ASSIGN_OR_RETURN(auto o, t.Get(kCapacityReservationsKind, id));
                  if (!o || (o->parent != caller.account_id && !caller.IsCloudAdmin())) return ReservationNotFound(id);
                  EUCA_ASSIGN_OR_RETURN(CapacityReservation r, FromObject(*o));
                  if (!Holds(r, now_ms))
                    return Status(Code::kConflict,
                                  "capacity reservation '" + id + "' is " +
                                      (r.state == "active" ? std::string("expired") : r.state) +
                                      "; only an active reservation can be cancelled",
                                  "IncorrectState");
                  r.state = "cancelled";
                  r.state_change_ms = now_ms;
                  return t.Put(ToObject(r));
                })
      .status();
}

Result<std::vector<CapacityReservation>> ExpiredCapacityReservations(state::StateStore& store, int64_t now_ms) {
  std::vector<CapacityReservation> out;
  EUCA_RETURN_IF_ERROR(store.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto all, ListAll(t));
    for (auto& r : all)
      if (r.state == "active" && !Holds(r, now_ms)) out.push_back(std::move(r));
    return Status::Ok();
  }));
  return out;
}

Status ExpireCapacityReservation(state::StateStore& store, const std::string& principal, const std::string& id,
                                 int64_t now_ms) {
  return store
      .Transact({principal, "ExpireCapacityReservation " + id, ""},
                [&](state::Txn& t) -> Status {
                  EUCA_ASSIGN_OR_RETURN(auto o, t.Get(kCapacityReservationsKind, id));
                  if (!o) return ReservationNotFound(id);
                  EUCA_ASSIGN_OR_RETURN(CapacityReservation r, FromObject(*o));
                  if (r.state != "active" || Holds(r, now_ms))
                    return Status(Code::kConflict, "capacity reservation '" + id + "' is not due to expire");
                  r.state = "expired";
                  r.state_change_ms = now_ms;
                  return t.Put(ToObject(r));
                })
      .status();
}

namespace {

void AddReservation(pugi::xml_node item, const CapacityReservation& r) {
  api::AddText(item, "capacityReservationId", r.id);
  api::AddText(item, "ownerId", r.account_id);
  api::AddText(item, "instanceType", r.instance_type);
  api::AddText(item, "instancePlatform", "Linux/UNIX");
  api::AddText(item, "availabilityZone", r.zone);
  api::AddText(item, "tenancy", "default");
  api::AddInt(item, "totalInstanceCount", r.instance_count);
  api::AddInt(item, "availableInstanceCount", r.available_count);
  api::AddText(item, "state", r.state);
  api::AddText(item, "createDate", FormatIso8601(r.created_ms));
  if (r.end_ms != 0) api::AddText(item, "endDate", FormatIso8601(r.end_ms));
  api::AddText(item, "endDateType", r.end_date_type);
  api::AddText(item, "instanceMatchCriteria", r.match_criteria);
}

}  // namespace

void AddCapacityReservationActions(Ec2Actions& actions, Compute& compute) {
  Compute* c = &compute;
  actions.Add("CreateCapacityReservation",
              [c](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                CapacityReservationRequest r;
                EUCA_ASSIGN_OR_RETURN(r.instance_type, req.Required("InstanceType"));
                EUCA_ASSIGN_OR_RETURN(r.zone, req.Required("AvailabilityZone"));
                EUCA_ASSIGN_OR_RETURN(auto count, req.GetInt("InstanceCount", 1, 10'000));
                if (!count)
                  return Status(Code::kInvalidArgument, "the request must contain the parameter InstanceCount",
                                "MissingParameter");
                r.instance_count = static_cast<int>(*count);
                std::string platform = req.GetOr("InstancePlatform", "Linux/UNIX");
                if (platform != "Linux/UNIX")
                  return Status(Code::kInvalidArgument,
                                "InstancePlatform '" + platform + "' is not supported: use Linux/UNIX",
                                "InvalidParameterValue");
                std::string tenancy = req.GetOr("Tenancy", "default");
                if (tenancy != "default")
                  return Status(Code::kInvalidArgument, "Tenancy '" + tenancy + "' is not supported: use default",
                                "InvalidParameterValue");
                r.end_date_type = req.GetOr("EndDateType");
                r.match_criteria = req.GetOr("InstanceMatchCriteria");
                if (std::string end = req.GetOr("EndDate"); !end.empty()) {
                  auto parsed = ParseIso8601(end);
                  if (!parsed.ok())
                    return Status(Code::kInvalidArgument,
                                  "EndDate '" + end + "' is not an ISO 8601 time such as 2026-12-03T10:00:00Z",
                                  "InvalidParameterValue");
                  r.end_ms = *parsed;
                }
                EUCA_ASSIGN_OR_RETURN(CapacityReservation created,
                                      c->CreateCapacityReservation(caller, r, req.request_id()));
                AddReservation(response.append_child("capacityReservation"), created);
                return Status::Ok();
              });
  actions.Add("DescribeCapacityReservations",
              [c](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(auto filters, req.Filters());
                EUCA_ASSIGN_OR_RETURN(auto found,
                                      DescribeCapacityReservations(c->store(), caller, req.List("CapacityReservationId"),
                                                                   filters, c->clock().NowMillis()));
                auto set = response.append_child("capacityReservationSet");
                for (const auto& r : found) AddReservation(api::AddItem(set), r);
                return Status::Ok();
              });
  actions.Add("CancelCapacityReservation",
              [c](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(std::string id, req.Required("CapacityReservationId"));
                EUCA_RETURN_IF_ERROR(
                    CancelCapacityReservation(c->store(), caller, id, c->clock().NowMillis(), req.request_id()));
                api::AddBool(response, "return", true);
                return Status::Ok();
              });
}

}  // namespace euca::clc
