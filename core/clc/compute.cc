#include "core/clc/compute.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/api/digest.h"
#include "core/base/random.h"
#include "core/clc/properties.h"
#include "core/clc/vm_types.h"
#include "core/nc/nc_types.h"

namespace euca::clc {
namespace {

constexpr char kInstances[] = "instances";
constexpr char kImages[] = "images";
constexpr char kKeyPairs[] = "key-pairs";
constexpr char kProperties[] = "properties";
constexpr size_t kMaxUserDataBytes = 16 * 1024;
constexpr int kMaxInstancesPerRequest = 10'000;

class NoSla final : public SlaHook {
 public:
  Status Review(LaunchPlan&) override { return Status::Ok(); }
};

// ---- Records --------------------------------------------------------------------------------

// The name that makes a client token unique within an account: "TOKEN#LAUNCH_INDEX".
std::string TokenName(const std::string& token, int launch_index) { return token + "#" + std::to_string(launch_index); }

// User data is kept out of history (it often carries secrets): it goes in the secret part.
state::Object ToObject(const model::Instance& i) {
  state::Object o{kInstances, i.id, i.account_id, "", model::ToJson(i), std::nullopt};
  o.body.erase("user_data");
  if (!i.user_data.empty()) o.secret = state::Json{{"user_data", i.user_data}};
  if (!i.client_token.empty()) o.name = TokenName(i.client_token, i.launch_index);
  return o;
}

Result<model::Instance> ToInstance(const state::Object& o) {
  try {
    model::Instance i = model::InstanceFromJson(o.body);
    if (o.secret) i.user_data = o.secret->value("user_data", "");
    return i;
  } catch (const std::exception& e) {
    return Internal("corrupt instance '" + o.id + "': " + e.what());
  }
}

Status InstanceNotFound(const std::string& id) {
  return Status(Code::kNotFound, "instance '" + id + "' does not exist", "InvalidInstanceID.NotFound");
}

Status CheckInstanceId(const std::string& id) {
  if (nc::ValidateInstanceId(id).ok()) return Status::Ok();
  return Status(Code::kInvalidArgument, "invalid instance id '" + id + "'", "InvalidInstanceID.Malformed");
}

bool Visible(const model::Principal& caller, const model::Instance& i) {
  return caller.IsCloudAdmin() || i.account_id == caller.account_id;
}

bool IsFinal(const std::string& state) { return state == model::kTerminated; }

// Reads the instances `ids` visible to `caller`; NotFound names the first that is not.
Result<std::vector<model::Instance>> ReadOwned(state::StateStore& store, const model::Principal& caller,
                                               const std::vector<std::string>& ids) {
  for (const auto& id : ids) EUCA_RETURN_IF_ERROR(CheckInstanceId(id));
  std::vector<model::Instance> out;
  EUCA_RETURN_IF_ERROR(store.Read([&](state::Txn& t) -> Status {
    for (const auto& id : ids) {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kInstances, id));
      if (!obj) return InstanceNotFound(id);
      EUCA_ASSIGN_OR_RETURN(auto inst, ToInstance(*obj));
      if (!Visible(caller, inst)) return InstanceNotFound(id);
      out.push_back(std::move(inst));
    }
    return Status::Ok();
  }));
  return out;
}

// ---- Images and key pairs (kinds written by the image and key pair services) ----------------

bool CanLaunch(const model::Principal& caller, const model::Image& image) {
  if (caller.IsCloudAdmin() || image.account_id == caller.account_id || image.is_public) return true;
  const auto& perms = image.launch_permissions;
  return std::find(perms.begin(), perms.end(), caller.account_id) != perms.end() ||
         std::find(perms.begin(), perms.end(), "all") != perms.end();
}

// The image `id` of `type` that `caller` may launch, or InvalidAMIID.NotFound.
Result<model::Image> ResolveImage(state::Txn& t, const model::Principal& caller, const std::string& id,
                                  const std::string& type, const char* what) {
  Status not_found(Code::kNotFound, std::string(what) + " '" + id + "' does not exist", "InvalidAMIID.NotFound");
  EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kImages, id));
  if (!obj) return not_found;
  model::Image image;
  try {
    image = model::ImageFromJson(obj->body);
  } catch (const std::exception& e) {
    return Internal("corrupt image '" + id + "': " + e.what());
  }
  if (!CanLaunch(caller, image) || image.state != "available") return not_found;
  if (image.type != type)
    return Status(Code::kInvalidArgument,
                  std::string(what) + " '" + id + "' is a " + image.type + " image, not a " + type + " image",
                  "InvalidParameterValue");
  return image;
}

// ---- Filters ----------------------------------------------------------------------------------

bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p, ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1, t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const std::string* FilterField(const std::string& name, const model::Instance& i) {
  if (name == "instance-id") return &i.id;
  if (name == "instance-state-name") return &i.state;
  if (name == "availability-zone") return &i.zone;
  if (name == "image-id") return &i.image_id;
  if (name == "key-name") return &i.key_name;
  if (name == "instance-type") return &i.vm_type;
  if (name == "reservation-id") return &i.reservation_id;
  if (name == "owner-id") return &i.account_id;
  return nullptr;
}

bool Matches(const std::vector<Filter>& filters, const model::Instance& i) {
  for (const auto& f : filters) {
    const std::string* field = FilterField(f.name, i);
    if (!std::any_of(f.values.begin(), f.values.end(), [&](const std::string& v) { return GlobMatch(v, *field); }))
      return false;
  }
  return true;
}

std::vector<Reservation> GroupByReservation(std::vector<model::Instance> instances) {
  std::vector<Reservation> out;
  std::unordered_map<std::string, size_t> index;
  for (auto& i : instances) {
    auto [it, inserted] = index.emplace(i.reservation_id, out.size());
    if (inserted) out.push_back({i.reservation_id, i.account_id, i.groups, {}});
    out[it->second].instances.push_back(std::move(i));
  }
  // Oldest reservation first, each in launch order (ids are random: not an order).
  for (auto& r : out)
    std::sort(r.instances.begin(), r.instances.end(),
              [](const model::Instance& a, const model::Instance& b) { return a.launch_index < b.launch_index; });
  std::sort(out.begin(), out.end(), [](const Reservation& a, const Reservation& b) {
    int64_t ta = a.instances[0].launch_time_ms, tb = b.instances[0].launch_time_ms;
    return ta != tb ? ta < tb : a.id < b.id;
  });
  return out;
}

// ---- Capacity ---------------------------------------------------------------------------------

int64_t CeilDiv(int64_t a, int64_t b) { return b <= 0 ? 0 : (a + b - 1) / b; }

}  // namespace

bool IsMetaZone(const std::string& name) { return name == kZoneAny || name == kZoneSingle || name == kZoneSpread; }

SlaHook& NoSlaHook() {
  static NoSla hook;
  return hook;
}

Compute::Compute(state::StateStore& store, Clock& clock, ClusterDirectory& zones, SlaHook* sla, ComputeOptions options)
    : store_(store), clock_(clock), zones_(zones), sla_(sla ? *sla : NoSlaHook()), options_(options) {}

std::string Compute::NewHex(size_t n_hex) { return options_.random_hex ? options_.random_hex(n_hex) : RandomHex(n_hex); }

Result<int64_t> Compute::TerminatedVisibleMs(state::Txn& txn) {
  EUCA_ASSIGN_OR_RETURN(const PropertyDef* def, FindProperty(kTerminatedVisibleProperty));
  std::string value = def->default_value;
  EUCA_ASSIGN_OR_RETURN(auto obj, txn.Get(kProperties, kTerminatedVisibleProperty));
  if (obj) value = obj->body.value("value", value);
  try {
    return std::stoll(value) * 1000;
  } catch (const std::exception&) {
    return Internal("property '" + std::string(kTerminatedVisibleProperty) + "' holds '" + value + "'");
  }
}

// ---- RunInstances -----------------------------------------------------------------------------

Result<LaunchPlan> Compute::Resolve(const model::Principal& caller, const RunInstancesRequest& r) {
  if (r.image_id.empty()) return Status(Code::kInvalidArgument, "an image id is required", "MissingParameter");
  if (r.min_count < 1 || r.max_count < r.min_count || r.max_count > kMaxInstancesPerRequest)
    return InvalidArgument(
        "instance counts must satisfy 1 <= MinCount <= MaxCount <= " + std::to_string(kMaxInstancesPerRequest) +
        ", got '" + std::to_string(r.min_count) + "' and '" + std::to_string(r.max_count) + "'");
  if (r.client_token.size() > 64 ||
      std::any_of(r.client_token.begin(), r.client_token.end(), [](unsigned char c) { return c < 0x21 || c > 0x7e; }))
    return InvalidArgument("client token '" + r.client_token + "' must be at most 64 printable ASCII characters");

  LaunchPlan plan;
  plan.caller = caller;
  plan.min_count = r.min_count;
  plan.max_count = r.max_count;
  plan.zone = r.zone.empty() ? kZoneAny : r.zone;
  plan.groups = r.groups.empty() ? std::vector<std::string>{"default"} : r.groups;
  plan.client_token = r.client_token;
  if (!r.user_data.empty()) {
    auto decoded = api::Base64Decode(r.user_data);
    if (!decoded.ok()) return InvalidArgument("user data is not valid base64");
    if (decoded->size() > kMaxUserDataBytes)
      return InvalidArgument("user data is " + std::to_string(decoded->size()) + " bytes; at most 16384 are allowed");
    plan.user_data = std::move(decoded).value();
  }
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(plan.image, ResolveImage(t, caller, r.image_id, "machine", "image"));
    std::string kernel_id = r.kernel_id.empty() ? plan.image.kernel_id : r.kernel_id;
    std::string ramdisk_id = r.ramdisk_id.empty() ? plan.image.ramdisk_id : r.ramdisk_id;
    if (!kernel_id.empty()) {
      EUCA_ASSIGN_OR_RETURN(plan.kernel, ResolveImage(t, caller, kernel_id, "kernel", "kernel"));
    }
    if (!ramdisk_id.empty()) {
      if (kernel_id.empty())
        return Status(Code::kInvalidArgument,
                      "ramdisk '" + ramdisk_id + "' needs a kernel, and image '" + plan.image.id +
                          "' has none: give --kernel too, or no ramdisk to boot the image's own boot loader",
                      "InvalidParameterCombination");
      EUCA_ASSIGN_OR_RETURN(plan.ramdisk, ResolveImage(t, caller, ramdisk_id, "ramdisk", "ramdisk"));
    }
    EUCA_ASSIGN_OR_RETURN(plan.vm_type,
                          FindVmType(t, r.instance_type.empty() ? model::kDefaultVmType : r.instance_type));
    if (!r.key_name.empty()) {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.GetByName(kKeyPairs, caller.account_id, r.key_name));
      if (!obj)
        return Status(Code::kNotFound, "key pair '" + r.key_name + "' does not exist", "InvalidKeyPair.NotFound");
      try {
        plan.key_pair = model::KeyPairFromJson(obj->body);
      } catch (const std::exception& e) {
        return Internal("corrupt key pair '" + r.key_name + "': " + e.what());
      }
    }
    return Status::Ok();
  }));
  return plan;
}

Result<std::vector<Compute::Allocation>> Compute::Reserve(const LaunchPlan& plan, const std::vector<Zone>& zones) {
  std::vector<const Zone*> candidates;
  if (IsMetaZone(plan.zone)) {
    for (const auto& z : zones) candidates.push_back(&z);
  } else {
    for (const auto& z : zones)
      if (z.name == plan.zone) candidates.push_back(&z);
    if (candidates.empty())
      return Status(Code::kInvalidArgument, "availability zone '" + plan.zone + "' does not exist",
                    "InvalidParameterValue");
  }
  const model::VmType& type = plan.vm_type;

  std::lock_guard<std::mutex> lock(srs_mu_);
  // Capacity reservations (capacity_reservations.h): what others' reservations hold is not
  // room; the caller's own reservations of the type make their zones come first.
  std::map<std::string, HeldCapacity> held;
  std::map<std::string, int> mine;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) {
    return ReadHeldCapacity(t, plan.caller.account_id, type.name, clock_.NowMillis(), held, mine);
  }));
  std::vector<model::VmType> all_types;
  std::vector<int> room(candidates.size(), 0);
  for (size_t k = 0; k < candidates.size(); ++k) {
    EUCA_ASSIGN_OR_RETURN(room[k], RoomLocked(*candidates[k], type, held[candidates[k]->name], all_types));
  }

  std::vector<int> take(candidates.size(), 0);
  int total = 0;
  // Zones by room, most first; registration order breaks ties.
  std::vector<size_t> order(candidates.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int mine_a = std::min(room[a], mine[candidates[a]->name]), mine_b = std::min(room[b], mine[candidates[b]->name]);
    if (mine_a != mine_b) return mine_a > mine_b;  // the caller's reserved room first
    return room[a] > room[b];
  });
  if (plan.zone == kZoneSpread) {
    bool progress = true;
    while (total < plan.max_count && progress) {
      progress = false;
      for (size_t k : order) {
        if (total == plan.max_count) break;
        if (take[k] < room[k]) ++take[k], ++total, progress = true;
      }
    }
  } else if (plan.zone == kZoneSingle) {
    if (!order.empty()) total = take[order[0]] = std::min(plan.max_count, room[order[0]]);
  } else {  // a named zone (the only candidate), or "any": fill the emptiest, overflow
    for (size_t k : order) {
      int n = std::min(plan.max_count - total, room[k]);
      take[k] = n;
      total += n;
    }
  }
  if (total < plan.min_count) {
    int best = plan.zone == kZoneSingle ? (order.empty() ? 0 : room[order[0]]) : 0;
    if (plan.zone != kZoneSingle)
      for (int r : room) best += r;
    return Status(Code::kResourceExhausted,
                  "not enough capacity for " + std::to_string(plan.min_count) + " instance(s) of type '" + type.name +
                      "' in '" + plan.zone + "': room for " + std::to_string(best),
                  "InsufficientInstanceCapacity");
  }
  std::vector<Allocation> out;
  for (size_t k = 0; k < candidates.size(); ++k) {
    if (take[k] == 0) continue;
    ZoneLedger& ledger = ledgers_[candidates[k]->name];
    ledger.since.cores += int64_t{type.cores} * take[k];
    ledger.since.memory_mib += static_cast<int64_t>(type.memory_mib) * take[k];
    ledger.since.disk_gib += static_cast<int64_t>(type.disk_gib) * take[k];
    ledger.in_flight += take[k];
    out.push_back({candidates[k]->name, take[k]});
  }
  return out;
}

Result<int> Compute::RoomLocked(const Zone& zone, const model::VmType& type, const HeldCapacity& held,
                                std::vector<model::VmType>& all_types) {
  ZoneLedger& ledger = ledgers_[zone.name];
  if (ledger.in_flight == 0) {  // nothing of ours in flight: the cluster's answer is exact
    if (all_types.empty()) {
      EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(all_types, ListVmTypes(t));
        return Status::Ok();
      }));
      if (std::none_of(all_types.begin(), all_types.end(), [&](const model::VmType& v) { return v == type; }))
        all_types.push_back(type);
    }
    auto answer = zone.cc->DescribeResources(all_types);
    ledger.snapshot.clear();
    ledger.since = {};
    if (!answer.ok()) return 0;  // an unreachable zone has no room
    for (const auto& a : *answer) ledger.snapshot[a.type.name] = a.available;
  }
  auto it = ledger.snapshot.find(type.name);
  if (it == ledger.snapshot.end()) return 0;
  int64_t used = std::max({CeilDiv(ledger.since.cores + held.cores, type.cores),
                           CeilDiv(ledger.since.memory_mib + held.memory_mib, static_cast<int64_t>(type.memory_mib)),
                           CeilDiv(ledger.since.disk_gib + held.disk_gib, static_cast<int64_t>(type.disk_gib))});
  return static_cast<int>(std::max<int64_t>(0, it->second - used));
}

Result<CapacityReservation> Compute::CreateCapacityReservation(const model::Principal& caller,
                                                               const CapacityReservationRequest& request,
                                                               const std::string& request_id) {
  CapacityReservation r;
  r.account_id = caller.account_id;
  r.zone = request.zone;
  r.instance_count = request.instance_count;
  r.end_date_type = request.end_date_type.empty() ? "unlimited" : request.end_date_type;
  r.match_criteria = request.match_criteria.empty() ? "open" : request.match_criteria;
  const int64_t now = clock_.NowMillis();
  r.created_ms = r.state_change_ms = now;
  auto bad = [](const std::string& message) {
    return Status(Code::kInvalidArgument, message, "InvalidParameterValue");
  };
  if (r.instance_count < 1) return bad("InstanceCount must be at least 1");
  if (r.match_criteria != "open")
    return bad("InstanceMatchCriteria '" + r.match_criteria + "' is not supported: use open");
  if (r.end_date_type == "unlimited") {
    if (request.end_ms != 0) return bad("EndDate needs EndDateType limited");
  } else if (r.end_date_type == "limited") {
    if (request.end_ms == 0) return bad("EndDateType limited needs an EndDate");
    if (request.end_ms <= now) return bad("EndDate " + FormatIso8601(request.end_ms) + " is not in the future");
    r.end_ms = request.end_ms;
  } else {
    return bad("EndDateType '" + r.end_date_type + "' must be unlimited or limited");
  }
  model::VmType type;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    auto found = FindVmType(t, request.instance_type);
    if (!found.ok()) return bad(found.status().message());
    type = *found;
    return Status::Ok();
  }));
  r.instance_type = type.name;
  EUCA_ASSIGN_OR_RETURN(std::vector<Zone> zones, zones_.Zones());
  const Zone* zone = nullptr;
  for (const auto& z : zones)
    if (z.name == request.zone) zone = &z;
  if (!zone) return bad("availability zone '" + request.zone + "' does not exist");

  std::lock_guard<std::mutex> lock(srs_mu_);
  std::map<std::string, HeldCapacity> held;
  std::map<std::string, int> mine;
  int live = 0;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_RETURN_IF_ERROR(ReadHeldCapacity(t, caller.account_id, type.name, now, held, mine));
    EUCA_ASSIGN_OR_RETURN(auto all, t.List(kInstances, caller.account_id));
    for (const auto& o : all) {
      std::string state = o.body.value("state", "");
      if ((state == model::kPending || state == model::kRunning) && o.body.value("vm_type", "") == type.name &&
          o.body.value("zone", "") == zone->name)
        ++live;
    }
    return Status::Ok();
  }));
  std::vector<model::VmType> all_types;
  EUCA_ASSIGN_OR_RETURN(int room, RoomLocked(*zone, type, held[zone->name], all_types));
  // What the caller's reservations of the type would keep unused there, with this one: the
  // room the zone has for the caller (their unused part is in it) must hold it.
  int64_t total_reserved = r.instance_count;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto all, t.List(kCapacityReservationsKind, caller.account_id));
    for (const auto& o : all) {
      CapacityReservation other;
      try {
        other = CapacityReservationFromJson(o.body);
      } catch (const std::exception& e) {
        return Internal("corrupt capacity reservation '" + o.id + "': " + e.what());
      }
      if (Holds(other, now) && other.instance_type == type.name && other.zone == zone->name)
        total_reserved += other.instance_count;
    }
    return Status::Ok();
  }));
  const int64_t unused_before = std::max<int64_t>(0, total_reserved - r.instance_count - live);
  const int64_t unused_after = std::max<int64_t>(0, total_reserved - live);
  if (unused_after > room)
    return Status(Code::kResourceExhausted,
                  "not enough capacity to reserve " + std::to_string(r.instance_count) + " instance(s) of type '" +
                      type.name + "' in '" + zone->name + "': room for " +
                      std::to_string(std::max<int64_t>(0, room - unused_before)),
                  "InsufficientInstanceCapacity");
  r.id = "cr-" + RandomHex(17);
  auto written = store_.Transact(
      {caller.ToString(), "CreateCapacityReservation " + r.id, request_id}, [&](state::Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(auto existing, t.Get(kCapacityReservationsKind, r.id));
        if (existing) return Status(Code::kAlreadyExists, "capacity reservation id '" + r.id + "' is taken; try again");
        return t.Put({kCapacityReservationsKind, r.id, r.account_id, "", ToJson(r), std::nullopt});
      });
  if (!written.ok()) return written.status();
  // The caller's instances fill the older reservations first.
  r.available_count = static_cast<int>(std::min<int64_t>(r.instance_count, unused_after));
  return r;
}

std::vector<Compute::Allocation> Compute::TakeFirst(const std::vector<Allocation>& allocations, int n) {
  std::vector<Allocation> out;
  for (const auto& a : allocations) {
    if (n <= 0) break;
    out.push_back({a.zone, std::min(a.count, n)});
    n -= out.back().count;
  }
  return out;
}

std::vector<Compute::Allocation> Compute::Excess(const std::vector<Allocation>& all,
                                                 const std::vector<Allocation>& taken) {
  std::vector<Allocation> out;
  for (size_t k = 0; k < all.size(); ++k) {
    int left = all[k].count - (k < taken.size() ? taken[k].count : 0);
    if (left > 0) out.push_back({all[k].zone, left});
  }
  return out;
}

void Compute::Release(const model::VmType& type, const std::vector<Allocation>& allocations, bool committed) {
  std::lock_guard<std::mutex> lock(srs_mu_);
  for (const auto& a : allocations) {
    ZoneLedger& ledger = ledgers_[a.zone];
    ledger.in_flight -= a.count;
    if (!committed) {
      // Given back: the cluster never counted them (what started was terminated first).
      ledger.since.cores -= int64_t{type.cores} * a.count;
      ledger.since.memory_mib -= static_cast<int64_t>(type.memory_mib) * a.count;
      ledger.since.disk_gib -= static_cast<int64_t>(type.disk_gib) * a.count;
    }
    // Once nothing is in flight, the next Reserve asks the cluster again: its answer then
    // counts every committed instance itself.
  }
}

int Compute::InFlightForTest() {
  std::lock_guard<std::mutex> lock(srs_mu_);
  int n = 0;
  for (const auto& [zone, ledger] : ledgers_) n += ledger.in_flight;
  return n;
}

Result<std::optional<Reservation>> Compute::FindByToken(const model::Principal& caller, const std::string& token) {
  std::optional<Reservation> out;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    for (int index = 0;; ++index) {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.GetByName(kInstances, caller.account_id, TokenName(token, index)));
      if (!obj) break;
      EUCA_ASSIGN_OR_RETURN(auto inst, ToInstance(*obj));
      if (!out) out = Reservation{inst.reservation_id, inst.account_id, inst.groups, {}};
      out->instances.push_back(std::move(inst));
    }
    return Status::Ok();
  }));
  return out;
}

namespace {

// The request's zone, security groups, kernel and ramdisk as asked, defaults spelled out
// ("" zone = "any", no group = "default"; groups as a set), each length-prefixed.
std::string LaunchDigest(const RunInstancesRequest& r) {
  std::set<std::string> groups(r.groups.begin(), r.groups.end());
  if (groups.empty()) groups.insert("default");
  std::string text;
  auto add = [&text](const std::string& v) { text += std::to_string(v.size()) + ":" + v + ";"; };
  add(r.zone.empty() ? kZoneAny : r.zone);
  add(std::to_string(groups.size()));
  for (const auto& g : groups) add(g);
  add(r.kernel_id);
  add(r.ramdisk_id);
  return api::Sha256Hex(text);
}

// User data as bytes (base64 spelled differently is the same data); undecodable = as given.
std::string UserDataBytes(const std::string& b64) {
  if (b64.empty()) return "";
  auto decoded = api::Base64Decode(b64);
  return decoded.ok() ? *decoded : b64;
}

// EC2: repeating a client token with other parameters is IdempotentParameterMismatch, not a
// second launch and not the first reservation.
Status SameLaunch(const Reservation& earlier, const RunInstancesRequest& r) {
  if (earlier.instances.empty()) return Status::Ok();
  const model::Instance& first = earlier.instances.front();
  const std::string type = r.instance_type.empty() ? model::kDefaultVmType : r.instance_type;
  const int count = static_cast<int>(earlier.instances.size());
  std::string differs;
  if (first.image_id != r.image_id) differs = "image '" + first.image_id + "'";
  else if (first.vm_type != type) differs = "instance type '" + first.vm_type + "'";
  else if (first.key_name != r.key_name) differs = "key pair '" + first.key_name + "'";
  else if (count < r.min_count || count > r.max_count) differs = std::to_string(count) + " instances";
  else if (UserDataBytes(first.user_data) != UserDataBytes(r.user_data)) differs = "other user data";
  // Records written before the digest existed are compared on the fields above only.
  else if (!first.launch_digest.empty() && first.launch_digest != LaunchDigest(r))
    differs = "another zone, security groups, kernel or ramdisk";
  if (differs.empty()) return Status::Ok();
  return Status(Code::kInvalidArgument,
                "client token '" + r.client_token + "' was used by reservation '" + earlier.id + "' with " + differs +
                    "; use a new token for a different request",
                "IdempotentParameterMismatch");
}

}  // namespace

Result<Reservation> Compute::RunInstances(const model::Principal& caller, const RunInstancesRequest& request) {
  if (!request.client_token.empty()) {
    EUCA_ASSIGN_OR_RETURN(auto earlier, FindByToken(caller, request.client_token));
    if (earlier) {
      EUCA_RETURN_IF_ERROR(SameLaunch(*earlier, request));
      return *earlier;
    }
  }
  EUCA_ASSIGN_OR_RETURN(LaunchPlan plan, Resolve(caller, request));
  EUCA_RETURN_IF_ERROR(sla_.Review(plan));
  if (plan.min_count < 1 || plan.max_count < plan.min_count)
    return Internal("the SLA hook left MinCount " + std::to_string(plan.min_count) + " > MaxCount " +
                    std::to_string(plan.max_count));
  EUCA_ASSIGN_OR_RETURN(std::vector<Zone> zones, zones_.Zones());
  EUCA_ASSIGN_OR_RETURN(std::vector<Allocation> allocations, Reserve(plan, zones));

  // The records, pending, in one transaction.
  const int64_t now = clock_.NowMillis();
  Reservation reservation;
  reservation.owner_id = caller.account_id;
  reservation.groups = plan.groups;
  std::string user_data_b64 = plan.user_data.empty() ? "" : api::Base64Encode(plan.user_data);
  const std::string launch_digest = plan.client_token.empty() ? "" : LaunchDigest(request);
  std::map<std::string, nc::NetParams> net_params;  // by instance id, from the network hook
  int reserved = 0;
  for (const auto& a : allocations) reserved += a.count;
  std::vector<Allocation> admitted;  // what the SLA hook still admits in the transaction
  auto written = store_.Transact({caller.ToString(), "RunInstances", request.request_id}, [&](state::Txn& t) -> Status {
    reservation.instances.clear();
    reservation.id = "r-" + NewHex(8);
    EUCA_ASSIGN_OR_RETURN(int allowed, sla_.Admit(t, plan, reserved));
    if (allowed < plan.min_count || allowed > reserved)
      return Internal("the SLA hook admitted " + std::to_string(allowed) + " of " + std::to_string(reserved) +
                      " instances with MinCount " + std::to_string(plan.min_count));
    admitted = TakeFirst(allocations, allowed);
    std::set<std::string> taken;
    int index = 0;
    for (const auto& a : admitted) {
      for (int n = 0; n < a.count; ++n, ++index) {
        model::Instance i;
        for (;;) {  // ids are random; a collision (rare) draws again
          i.id = "i-" + NewHex(8);
          if (taken.count(i.id)) continue;
          EUCA_ASSIGN_OR_RETURN(auto existing, t.Get(kInstances, i.id));
          if (!existing) break;
        }
        taken.insert(i.id);
        i.reservation_id = reservation.id;
        i.account_id = caller.account_id;
        i.user_id = caller.user_id;
        i.image_id = plan.image.id;
        i.kernel_id = plan.kernel ? plan.kernel->id : "";
        i.ramdisk_id = plan.ramdisk ? plan.ramdisk->id : "";
        i.vm_type = plan.vm_type.name;
        i.key_name = plan.key_pair ? plan.key_pair->name : "";
        i.groups = plan.groups;
        i.zone = a.zone;
        i.state = model::kPending;
        i.launch_index = index;
        i.launch_time_ms = now;
        i.state_change_ms = now;
        i.client_token = plan.client_token;
        if (!plan.client_token.empty()) i.launch_digest = launch_digest;
        i.user_data = user_data_b64;
        i.lease_expires_ms = plan.lease_expires_ms;
        reservation.instances.push_back(std::move(i));
      }
    }
    if (network_) {
      EUCA_ASSIGN_OR_RETURN(net_params, network_->Assign(t, plan, request.addressing, reservation.instances));
    }
    for (const auto& i : reservation.instances) EUCA_RETURN_IF_ERROR(t.Put(ToObject(i)));
    return Status::Ok();
  });
  if (!written.ok()) {
    Release(plan.vm_type, allocations, false);
    admitted.clear();
    // The same token raced us: the first writer's reservation is the answer.
    if (written.status().code() == Code::kAlreadyExists && !plan.client_token.empty()) {
      EUCA_ASSIGN_OR_RETURN(auto earlier, FindByToken(caller, plan.client_token));
      if (earlier) {
        EUCA_RETURN_IF_ERROR(SameLaunch(*earlier, request));
        return *earlier;
      }
    }
    return written.status();
  }
  Release(plan.vm_type, Excess(allocations, admitted), false);  // what a concurrent launch took
  allocations = std::move(admitted);

  // The network first: the bridges, rules and DHCP entries of the new instances exist before
  // any node controller starts them (a NIC cannot join a bridge that is not there yet).
  if (network_) network_->Changed();

  // Dispatch, one request per zone.
  std::unordered_map<std::string, std::shared_ptr<cc::ClusterController>> ccs;
  for (const auto& z : zones) ccs[z.name] = z.cc;
  Status failure;
  std::map<std::string, std::vector<std::string>> to_stop;  // zone -> ids that may have started
  size_t next = 0;
  for (const auto& a : allocations) {
    cc::RunInstancesRequest run;
    std::vector<std::string> ids;
    for (int n = 0; n < a.count; ++n) {
      const model::Instance& i = reservation.instances[next++];
      nc::RunInstanceRequest r;
      r.instance_id = i.id;
      r.reservation_id = reservation.id;
      r.owner_id = caller.account_id;
      r.user_id = caller.user_id;
      r.image = {plan.image.id, plan.image.location};
      if (plan.kernel) r.kernel = {plan.kernel->id, plan.kernel->location};
      if (plan.ramdisk) r.ramdisk = {plan.ramdisk->id, plan.ramdisk->location};
      r.vm_type = plan.vm_type;
      if (plan.key_pair) {
        r.key_name = plan.key_pair->name;
        r.public_key = plan.key_pair->public_key;
      }
      r.user_data = plan.user_data;
      r.launch_index = i.launch_index;
      r.group_names = plan.groups;
      if (auto net = net_params.find(i.id); net != net_params.end()) r.net = net->second;
      run.instances.push_back(std::move(r));
      ids.push_back(i.id);
    }
    if (!failure.ok()) continue;
    auto placed = ccs[a.zone]->RunInstances(run);
    if (!placed.ok()) {
      failure = placed.status().WithContext("zone '" + a.zone + "'");
      to_stop[a.zone] = ids;  // unknown which started: stop them all (unknown ids are fine)
      continue;
    }
    for (const auto& p : *placed) {
      if (!p.node.empty() || p.status.ok()) to_stop[a.zone].push_back(p.instance_id);
      if (!p.status.ok() && failure.ok()) failure = p.status.WithContext("instance '" + p.instance_id + "'");
    }
    if (placed->size() != ids.size() && failure.ok())
      failure = Internal("zone '" + a.zone + "' placed " + std::to_string(placed->size()) + " of " +
                         std::to_string(ids.size()) + " instances");
  }
  if (failure.ok()) {
    Release(plan.vm_type, allocations, true);
    Remember(reservation.instances);
    return reservation;
  }

  // Roll back: stop what started, then record why nothing runs.
  for (const auto& [zone, ids] : to_stop)
    if (!ids.empty()) (void)ccs[zone]->TerminateInstances(ids);
  const std::string reason = "launch failed: " + failure.message();
  const int64_t then = clock_.NowMillis();
  auto marked =
      store_.Transact({caller.ToString(), "RunInstances rollback", request.request_id}, [&](state::Txn& t) -> Status {
        for (auto& i : reservation.instances) {
          i.state = model::kTerminated;
          i.reason = reason;
          i.state_change_ms = then;
          EUCA_RETURN_IF_ERROR(t.Put(ToObject(i)));
        }
        return Status::Ok();
      });
  Release(plan.vm_type, allocations, false);
  if (!marked.ok()) return marked.status().WithContext("rolling back reservation '" + reservation.id + "'");
  Remember(reservation.instances);
  if (network_) network_->Changed();
  if (failure.code() == Code::kResourceExhausted)
    return Status(Code::kResourceExhausted, "no instances started: " + failure.message(),
                  "InsufficientInstanceCapacity");
  return Status(failure.code(), "no instances started: " + failure.message(), failure.wire_code());
}

// ---- Reconciliation ---------------------------------------------------------------------------

Status Compute::Reconcile(std::vector<model::Instance>& instances) {
  const int64_t now = clock_.NowMillis();
  int64_t visible_ms = 0;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(visible_ms, TerminatedVisibleMs(t));
    return Status::Ok();
  }));

  // What the clusters say about the unfinished ones.
  std::map<std::string, std::vector<std::string>> by_zone;
  for (const auto& i : instances)
    if (!IsFinal(i.state)) by_zone[i.zone].push_back(i.id);
  std::unordered_map<std::string, cc::CcInstance> seen;
  std::set<std::string> answered;  // zones whose cluster answered
  if (!by_zone.empty()) {
    auto zones = zones_.Zones();
    if (zones.ok()) {
      for (const auto& z : *zones) {
        auto it = by_zone.find(z.name);
        if (it == by_zone.end()) continue;
        auto described = z.cc->DescribeInstances(it->second);
        if (!described.ok()) continue;
        answered.insert(z.name);
        for (auto& ci : *described) {
          std::string id = ci.instance.request.instance_id;
          seen.emplace(std::move(id), std::move(ci));
        }
      }
    }
  }

  std::vector<model::Instance> changed;   // new records
  std::vector<model::Instance> expected;  // what they were (only changed if still so)
  std::vector<std::string> expired;
  std::vector<model::Instance> kept;
  for (auto& i : instances) {
    if (IsFinal(i.state)) {
      if (now - i.state_change_ms >= visible_ms) {
        expired.push_back(i.id);
      } else {
        kept.push_back(std::move(i));
      }
      continue;
    }
    model::Instance next = i;
    auto it = seen.find(i.id);
    if (it != seen.end()) {
      const cc::CcInstance& ci = it->second;
      if (!ci.node.empty()) next.node = ci.node;
      if (!ci.instance.request.net.private_ip.empty()) next.private_ip = ci.instance.request.net.private_ip;
      // public_ip: the cloud's address records are the truth (associate/disassociate change it).
      if (!ci.instance.request.net.private_mac.empty()) next.private_mac = ci.instance.request.net.private_mac;
      switch (ci.instance.state) {
        case nc::InstanceState::kPending:
          break;
        case nc::InstanceState::kExtant:
          if (next.state == model::kPending) next.state = model::kRunning;
          break;
        case nc::InstanceState::kTeardown:
          if (next.state != model::kShuttingDown && !ci.instance.reason.empty()) next.reason = ci.instance.reason;
          next.state = model::kTerminated;
          break;
      }
    } else if (answered.count(i.zone)) {
      // Gone from its cluster: finished, unless it is new and the cluster has not seen it yet.
      bool young = i.state == model::kPending && now - i.launch_time_ms < options_.pending_grace_ms;
      if (!young) {
        if (i.state != model::kShuttingDown) next.reason = "the instance vanished from zone '" + i.zone + "'";
        next.state = model::kTerminated;
      }
    }
    if (next.state != i.state) next.state_change_ms = now;
    bool differs = next.state != i.state || next.node != i.node || next.private_ip != i.private_ip ||
                   next.public_ip != i.public_ip || next.private_mac != i.private_mac || next.reason != i.reason;
    if (differs) {
      expected.push_back(i);
      changed.push_back(next);
    }
    kept.push_back(std::move(next));
  }
  instances = std::move(kept);
  Remember(instances);
  Forget(expired);
  if (changed.empty() && expired.empty()) return Status::Ok();

  std::vector<std::pair<model::Instance, std::string>> transitions;  // committed state changes
  auto seq = store_.Transact({"system", "ReconcileInstances", ""}, [&](state::Txn& t) -> Status {
    transitions.clear();
    for (size_t k = 0; k < changed.size(); ++k) {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kInstances, changed[k].id));
      if (!obj) continue;
      EUCA_ASSIGN_OR_RETURN(auto current, ToInstance(*obj));
      // Changed meanwhile (a terminate, another reconcile): that change stands.
      if (current.state != expected[k].state || current.state_change_ms != expected[k].state_change_ms) continue;
      changed[k].lease_expires_ms = current.lease_expires_ms;  // a renew-lease meanwhile stands (core/sla)
      EUCA_RETURN_IF_ERROR(t.Put(ToObject(changed[k])));
      if (changed[k].state != current.state) transitions.emplace_back(changed[k], current.state);
    }
    for (const auto& id : expired) {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kInstances, id));
      if (obj) EUCA_RETURN_IF_ERROR(t.Delete(kInstances, id));
    }
    return Status::Ok();
  });
  if (seq.ok() && network_) network_->Changed();
  if (seq.ok())
    for (const auto& [instance, previous] : transitions) sla_.StateChanged(instance, previous);
  return seq.status();
}

void Compute::Remember(const std::vector<model::Instance>& instances) {
  std::lock_guard<std::mutex> lock(known_mu_);
  for (const auto& i : instances) known_[i.id] = {i.zone, i.state, i.launch_time_ms, i.state_change_ms};
}

void Compute::Forget(const std::vector<std::string>& ids) {
  std::lock_guard<std::mutex> lock(known_mu_);
  for (const auto& id : ids) known_.erase(id);
}

Status Compute::Reconcile() {
  bool loaded;
  {
    std::lock_guard<std::mutex> lock(known_mu_);
    loaded = known_loaded_;
  }
  if (!loaded) {  // once: every record
    std::vector<model::Instance> all;
    EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
      EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kInstances));
      for (const auto& o : objects) {
        EUCA_ASSIGN_OR_RETURN(auto i, ToInstance(o));
        all.push_back(std::move(i));
      }
      return Status::Ok();
    }));
    EUCA_RETURN_IF_ERROR(Reconcile(all));
    std::lock_guard<std::mutex> lock(known_mu_);
    known_loaded_ = true;
    return Status::Ok();
  }

  // Only the records whose cluster report would change them, or that expire.
  const int64_t now = clock_.NowMillis();
  int64_t visible_ms = 0;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(visible_ms, TerminatedVisibleMs(t));
    return Status::Ok();
  }));
  std::unordered_map<std::string, Known> known;
  {
    std::lock_guard<std::mutex> lock(known_mu_);
    known = known_;
  }
  std::set<std::string> candidates;
  std::set<std::string> busy_zones;
  for (const auto& [id, k] : known) {
    if (k.state == model::kTerminated) {
      if (now - k.state_change_ms >= visible_ms) candidates.insert(id);
    } else {
      busy_zones.insert(k.zone);
    }
  }
  if (!busy_zones.empty()) {
    auto zones = zones_.Zones();
    if (zones.ok()) {
      for (const auto& z : *zones) {
        if (!busy_zones.count(z.name)) continue;
        auto described = z.cc->DescribeInstances({});
        if (!described.ok()) continue;
        std::unordered_set<std::string> reported;
        for (const auto& ci : *described) {
          const std::string& id = ci.instance.request.instance_id;
          reported.insert(id);
          auto it = known.find(id);
          if (it == known.end()) {  // started by another process on this store
            candidates.insert(id);
            continue;
          }
          const std::string& state = it->second.state;
          if ((ci.instance.state == nc::InstanceState::kExtant && state == model::kPending) ||
              (ci.instance.state == nc::InstanceState::kTeardown && state != model::kTerminated))
            candidates.insert(id);
        }
        for (const auto& [id, k] : known) {
          if (k.zone != z.name || k.state == model::kTerminated || reported.count(id)) continue;
          bool young = k.state == model::kPending && now - k.launch_ms < options_.pending_grace_ms;
          if (!young) candidates.insert(id);
        }
      }
    }
  }
  if (candidates.empty()) return Status::Ok();
  std::vector<model::Instance> instances;
  std::vector<std::string> missing;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    for (const auto& id : candidates) {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kInstances, id));
      if (!obj) {
        missing.push_back(id);
        continue;
      }
      EUCA_ASSIGN_OR_RETURN(auto i, ToInstance(*obj));
      instances.push_back(std::move(i));
    }
    return Status::Ok();
  }));
  Forget(missing);
  return Reconcile(instances);
}

// ---- DescribeInstances ------------------------------------------------------------------------

Result<DescribeInstancesResult> Compute::DescribeInstances(const model::Principal& caller,
                                                           const DescribeInstancesRequest& request) {
  bool everyone = false;
  std::vector<std::string> ids;
  for (const auto& id : request.instance_ids) {
    if (id == "verbose") {
      everyone = caller.IsCloudAdmin();
      continue;
    }
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  for (const auto& f : request.filters) {
    model::Instance probe;
    if (!FilterField(f.name, probe))
      return Status(Code::kInvalidArgument, "the filter '" + f.name + "' is invalid", "InvalidParameterValue");
  }
  if (request.max_results != 0) {
    if (!ids.empty())
      return Status(Code::kInvalidArgument, "MaxResults cannot be combined with instance ids",
                    "InvalidParameterCombination");
    if (request.max_results < 5 || request.max_results > 1000)
      return InvalidArgument("MaxResults must be from 5 to 1000, got '" + std::to_string(request.max_results) + "'");
  }
  if (!request.next_token.empty() && !nc::ValidateInstanceId(request.next_token).ok())
    return InvalidArgument("invalid NextToken '" + request.next_token + "'");

  std::vector<model::Instance> instances;
  if (!ids.empty()) {
    EUCA_ASSIGN_OR_RETURN(instances, ReadOwned(store_, caller, ids));
  } else {
    EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
      std::optional<std::string> parent;
      if (!everyone) parent = caller.account_id;
      EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kInstances, parent));
      for (const auto& o : objects) {
        if (!request.next_token.empty() && o.id <= request.next_token) continue;
        EUCA_ASSIGN_OR_RETURN(auto i, ToInstance(o));
        instances.push_back(std::move(i));
      }
      return Status::Ok();
    }));
  }
  EUCA_RETURN_IF_ERROR(Reconcile(instances));
  if (!ids.empty()) {
    for (const auto& id : ids)  // an expired terminated record is gone now
      if (std::none_of(instances.begin(), instances.end(), [&](const model::Instance& i) { return i.id == id; }))
        return InstanceNotFound(id);
  }

  DescribeInstancesResult result;
  std::vector<model::Instance> shown;
  for (auto& i : instances) {
    if (!Matches(request.filters, i)) continue;
    if (request.max_results != 0 && static_cast<int>(shown.size()) == request.max_results) {
      result.next_token = shown.back().id;
      break;
    }
    shown.push_back(std::move(i));
  }
  result.reservations = GroupByReservation(std::move(shown));
  return result;
}

// ---- Terminate, reboot, console ----------------------------------------------------------------

Result<std::vector<InstanceStateChange>> Compute::TerminateInstances(const model::Principal& caller,
                                                                     const std::vector<std::string>& ids,
                                                                     const std::string& request_id) {
  return Terminate(caller, ids, {caller.ToString(), "TerminateInstances", request_id}, "User initiated");
}

Result<std::vector<InstanceStateChange>> Compute::TerminateForSystem(const std::string& principal,
                                                                     const std::vector<std::string>& ids,
                                                                     const std::string& reason, const DueCheck& due) {
  // An instance already shutting down was decided on before: the system leaves it.
  return TerminateDecided({principal, "TerminateInstances", ""}, ids, reason,
                          [&](const model::Instance& i) { return i.state != model::kShuttingDown && due(i); });
}

Result<std::vector<InstanceStateChange>> Compute::Terminate(const model::Principal& caller,
                                                            const std::vector<std::string>& ids,
                                                            const state::TxnContext& txn, const std::string& reason) {
  if (ids.empty()) return Status(Code::kInvalidArgument, "at least one instance id is required", "MissingParameter");
  EUCA_ASSIGN_OR_RETURN(auto instances, ReadOwned(store_, caller, ids));
  EUCA_RETURN_IF_ERROR(Reconcile(instances));  // drops expired ones: those are NotFound now
  for (const auto& id : ids)
    if (std::none_of(instances.begin(), instances.end(), [&](const model::Instance& i) { return i.id == id; }))
      return InstanceNotFound(id);
  // A user's terminate of an instance shutting down tells its cluster again.
  return TerminateDecided(txn, ids, reason, [](const model::Instance&) { return true; });
}

Result<std::vector<InstanceStateChange>> Compute::TerminateDecided(const state::TxnContext& txn,
                                                                   const std::vector<std::string>& ids,
                                                                   const std::string& reason, const DueCheck& due) {
  // 1. The decision, checked and recorded in one transaction: EC2 shows shutting-down at once,
  //    and a change that commits before it (a renew-lease) is seen by `due`.
  const int64_t now = clock_.NowMillis();
  std::map<std::string, InstanceStateChange> changes;
  std::map<std::string, model::Instance> before;  // the ones marked shutting-down here, as they were
  std::vector<model::Instance> told;              // the ones their clusters are told to stop
  std::vector<model::Instance> marked;
  auto seq = store_.Transact(txn, [&](state::Txn& t) -> Status {
    changes.clear();
    before.clear();
    told.clear();
    marked.clear();
    for (const auto& id : ids) {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kInstances, id));
      if (!obj) continue;
      EUCA_ASSIGN_OR_RETURN(auto i, ToInstance(*obj));
      changes[id] = {id, i.state, i.state};
      if (IsFinal(i.state) || !due(i)) continue;
      if (i.state != model::kShuttingDown) {
        before[id] = i;
        i.state = model::kShuttingDown;
        i.reason = reason;
        i.state_change_ms = now;
        changes[id].current_state = i.state;
        EUCA_RETURN_IF_ERROR(t.Put(ToObject(i)));
        marked.push_back(i);
      }
      told.push_back(std::move(i));
    }
    return Status::Ok();
  });
  if (!seq.ok()) return seq.status();
  Remember(marked);

  // 2. The clusters. A deregistered zone runs nothing any more: its instances just end.
  std::map<std::string, std::vector<std::string>> by_zone;
  for (const auto& i : told) by_zone[i.zone].push_back(i.id);
  Status failure;
  std::set<std::string> refused;
  if (!by_zone.empty()) {
    auto zones = zones_.Zones();
    for (const auto& [zone, zone_ids] : by_zone) {
      Status result = zones.status();
      if (zones.ok()) {
        auto z = std::find_if(zones->begin(), zones->end(), [&](const Zone& x) { return x.name == zone; });
        if (z != zones->end()) result = z->cc->TerminateInstances(zone_ids).status();
      }
      if (result.ok()) continue;
      if (failure.ok()) failure = result.WithContext("zone '" + zone + "'");
      refused.insert(zone_ids.begin(), zone_ids.end());
    }
  }

  // 3. Undo the decision where the cluster failed (unless the record changed meanwhile).
  std::vector<model::Instance> restored;
  if (!refused.empty() && !before.empty()) {
    auto undone = store_.Transact({txn.principal, "TerminateInstances rollback", txn.request_id},
                                  [&](state::Txn& t) -> Status {
                                    restored.clear();
                                    for (const auto& [id, was] : before) {
                                      if (!refused.count(id)) continue;
                                      EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kInstances, id));
                                      if (!obj) continue;
                                      EUCA_ASSIGN_OR_RETURN(auto i, ToInstance(*obj));
                                      if (i.state != model::kShuttingDown || i.state_change_ms != now) continue;
                                      model::Instance back = was;
                                      back.lease_expires_ms = i.lease_expires_ms;
                                      EUCA_RETURN_IF_ERROR(t.Put(ToObject(back)));
                                      restored.push_back(std::move(back));
                                    }
                                    return Status::Ok();
                                  });
    if (!undone.ok()) return failure.WithContext("and restoring the instances failed: " + undone.status().message());
    Remember(restored);
    for (const auto& i : restored) changes[i.id].current_state = i.state;
  }
  if (network_ && marked.size() > restored.size()) network_->Changed();
  for (const auto& i : marked)
    if (!refused.count(i.id)) sla_.StateChanged(i, before[i.id].state);
  if (!failure.ok()) return failure;
  std::vector<InstanceStateChange> out;
  for (const auto& id : ids)
    if (auto it = changes.find(id); it != changes.end()) out.push_back(it->second);
  return out;
}

Status Compute::RebootInstances(const model::Principal& caller, const std::vector<std::string>& ids) {
  if (ids.empty()) return Status(Code::kInvalidArgument, "at least one instance id is required", "MissingParameter");
  EUCA_ASSIGN_OR_RETURN(auto instances, ReadOwned(store_, caller, ids));
  std::map<std::string, std::vector<std::string>> by_zone;
  for (const auto& i : instances) {
    if (i.state == model::kTerminated || i.state == model::kShuttingDown)
      return Status(Code::kConflict, "instance '" + i.id + "' is " + i.state + " and cannot be rebooted",
                    "IncorrectInstanceState");
    by_zone[i.zone].push_back(i.id);
  }
  EUCA_ASSIGN_OR_RETURN(std::vector<Zone> zones, zones_.Zones());
  for (const auto& [zone, zone_ids] : by_zone) {
    auto z = std::find_if(zones.begin(), zones.end(), [&](const Zone& x) { return x.name == zone; });
    if (z == zones.end()) return Unavailable("zone '" + zone + "' of instance '" + zone_ids[0] + "' is not registered");
    EUCA_RETURN_IF_ERROR(z->cc->RebootInstances(zone_ids));
  }
  return Status::Ok();
}

Result<ConsoleOutput> Compute::GetConsoleOutput(const model::Principal& caller, const std::string& id) {
  EUCA_ASSIGN_OR_RETURN(auto instances, ReadOwned(store_, caller, {id}));
  const model::Instance& i = instances[0];
  ConsoleOutput out{id, clock_.NowMillis(), ""};
  if (IsFinal(i.state)) return out;
  EUCA_ASSIGN_OR_RETURN(std::vector<Zone> zones, zones_.Zones());
  auto z = std::find_if(zones.begin(), zones.end(), [&](const Zone& x) { return x.name == i.zone; });
  if (z == zones.end()) return out;
  auto text = z->cc->GetConsoleOutput(id);
  if (text.ok()) {
    out.output = std::move(text).value();
  } else if (text.status().code() != Code::kNotFound) {
    return text.status();
  }
  return out;
}

Result<std::string> Compute::Region() {
  EUCA_ASSIGN_OR_RETURN(const PropertyDef* def, FindProperty("cloud.region"));
  std::string value = def->default_value;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kProperties, "cloud.region"));
    if (obj) value = obj->body.value("value", value);
    return Status::Ok();
  }));
  return value;
}

// ---- Zones --------------------------------------------------------------------------------------

Result<std::vector<AvailabilityZone>> Compute::DescribeAvailabilityZones(const model::Principal& caller,
                                                                         const std::vector<std::string>& names) {
  bool verbose = false;
  std::vector<std::string> wanted;
  for (const auto& n : names) {
    if (n == "verbose") {
      verbose = caller.IsCloudAdmin();
    } else {
      wanted.push_back(n);
    }
  }
  EUCA_ASSIGN_OR_RETURN(std::vector<Zone> zones, zones_.Zones());
  for (const auto& n : wanted)
    if (std::none_of(zones.begin(), zones.end(), [&](const Zone& z) { return z.name == n; }))
      return Status(Code::kNotFound, "availability zone '" + n + "' does not exist", "InvalidParameterValue");
  std::vector<model::VmType> types;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(types, ListVmTypes(t));
    return Status::Ok();
  }));
  std::vector<AvailabilityZone> out;
  for (const auto& z : zones) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), z.name) == wanted.end()) continue;
    AvailabilityZone az{z.name, "available", "", {}};
    auto resources = z.cc->DescribeResources(types);
    if (!resources.ok()) {
      az.state = "unavailable";
      az.message = resources.status().message();
    } else if (verbose) {
      az.resources = std::move(resources).value();
    }
    out.push_back(std::move(az));
  }
  return out;
}

}  // namespace euca::clc
