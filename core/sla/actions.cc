#include "core/sla/actions.h"

#include <memory>

#include "core/clc/networking.h"
#include "core/clc/properties.h"
#include "core/sla/cleanup.h"
#include "core/sla/store.h"

namespace euca::sla {
namespace {

using api::AddItem;
using api::AddText;

Status AdminOnly(const model::Principal& caller, const std::string& what) {
  if (caller.IsCloudAdmin()) return Status::Ok();
  return Status(Code::kPermissionDenied, "only a cloud administrator may " + what, "UnauthorizedOperation");
}

std::string Expires(int64_t ms) { return ms == 0 ? "none" : FormatIso8601(ms); }

struct Shared {
  SlaServices services;
  std::mutex cleanup_mu;  // one cleanup at a time in this process (the file lock covers others)
};

Status Cleanup(Shared& s, const model::Principal& caller, const api::Ec2Request& request, pugi::xml_node response) {
  EUCA_RETURN_IF_ERROR(AdminOnly(caller, "run the cleanup"));
  CleanupOptions options;
  EUCA_ASSIGN_OR_RETURN(auto dry, request.GetBool("DryRun"));
  options.dry_run = dry.value_or(false);
  std::string now = request.GetOr("Now");
  if (!now.empty()) {
    auto parsed = ParseIso8601(now);
    if (!parsed.ok())
      return Status(Code::kInvalidArgument, "Now '" + now + "' is not an ISO 8601 time such as 2026-12-03T10:00:00Z",
                    "InvalidParameterValue");
    options.now_ms = *parsed;
  }
  auto busy = [&]() {
    AddText(response, "busy", "true");
    AddText(response, "dryRun", options.dry_run ? "true" : "false");
    AddText(response, "summary", "cleanup: another cleanup is running; this one did nothing");
    AddText(response, "failed", "0");
    response.append_child("actionSet");
    return Status::Ok();
  };
  std::unique_lock<std::mutex> lock(s.cleanup_mu, std::try_to_lock);
  if (!lock.owns_lock()) return busy();
  CleanupLock file_lock;
  if (!s.services.lock_path.empty()) {
    EUCA_ASSIGN_OR_RETURN(bool taken, file_lock.TryLock(s.services.lock_path));
    if (!taken) return busy();
  }
  EUCA_ASSIGN_OR_RETURN(CleanupReport report, RunCleanup(*s.services.store, *s.services.clock, s.services.compute,
                                                         s.services.objects, options, s.services.addresses));
  AddText(response, "busy", "false");
  AddText(response, "dryRun", options.dry_run ? "true" : "false");
  AddText(response, "summary", report.Summary());
  api::AddInt(response, "failed", report.Failed());
  auto set = response.append_child("actionSet");
  for (const auto& a : report.actions) {
    auto item = AddItem(set);
    AddText(item, "action", a.action);
    AddText(item, "resourceId", a.resource_id);
    AddText(item, "ownerId", a.owner_id);
    AddText(item, "reason", a.reason);
    AddText(item, "result", a.result.ok() ? (options.dry_run ? "due" : "done") : "failed");
    if (!a.result.ok()) AddText(item, "error", a.result.message());
  }
  return Status::Ok();
}

struct Lease {
  std::string id, type, owner, state;
  int64_t expires_ms = 0;
};

// What an id names: an instance (i-...), a public address (a dotted IPv4 address) or an image.
enum class IdKind { kInstance, kAddress, kImage };
IdKind KindOf(const std::string& id) {
  if (id.rfind("i-", 0) == 0) return IdKind::kInstance;
  if (clc::ParseIpv4(id)) return IdKind::kAddress;
  return IdKind::kImage;
}
const char* StoreKind(IdKind k) {
  return k == IdKind::kInstance ? "instances" : k == IdKind::kAddress ? clc::kAddressesKind : "images";
}

Status NotFoundId(const std::string& id) {
  switch (KindOf(id)) {
    case IdKind::kInstance:
      return Status(Code::kNotFound, "instance '" + id + "' does not exist", "InvalidInstanceID.NotFound");
    case IdKind::kAddress:
      return Status(Code::kNotFound, "the address '" + id + "' is not allocated to your account",
                    "InvalidAddress.NotFound");
    case IdKind::kImage:
      break;
  }
  return Status(Code::kNotFound, "image '" + id + "' does not exist", "InvalidAMIID.NotFound");
}

// The lease of an object of kind "instances", "images" or "addresses", if it is live and
// `caller` owns it. An address's state is "associated" or "allocated"; addresses given at
// launch (they end with their instance) have no lease of their own and are not listed.
Result<std::optional<Lease>> LeaseOf(state::Txn& t, const model::Principal& caller, const state::Object& o) {
  if (!caller.IsCloudAdmin() && o.parent != caller.account_id) return std::optional<Lease>();
  if (o.kind == clc::kAddressesKind) {
    EUCA_ASSIGN_OR_RETURN(auto a, clc::EffectiveAddress(t, o));
    if (!a || a->auto_assigned) return std::optional<Lease>();
    return std::optional<Lease>(
        Lease{o.id, "address", o.parent, a->instance_id.empty() ? "allocated" : "associated", a->lease_expires_ms});
  }
  Lease l{o.id, o.kind == "instances" ? "instance" : "image", o.parent, o.body.value("state", ""),
          o.body.value("lease_expires", int64_t{0})};
  if (l.state == model::kTerminated || l.state == "deregistered") return std::optional<Lease>();
  return std::optional<Lease>(l);
}

Status DescribeLeases(Shared& s, const model::Principal& caller, const api::Ec2Request& request,
                      pugi::xml_node response) {
  std::vector<std::string> ids = request.List("ResourceId");
  std::vector<Lease> leases;
  EUCA_RETURN_IF_ERROR(s.services.store->Read([&](state::Txn& t) -> Status {
    if (!ids.empty()) {
      for (const auto& id : ids) {
        EUCA_ASSIGN_OR_RETURN(auto o, t.Get(StoreKind(KindOf(id)), id));
        std::optional<Lease> l;
        if (o) {
          EUCA_ASSIGN_OR_RETURN(l, LeaseOf(t, caller, *o));
        }
        if (!l) return NotFoundId(id);
        leases.push_back(*l);
      }
      return Status::Ok();
    }
    std::optional<std::string> parent;
    if (!caller.IsCloudAdmin()) parent = caller.account_id;
    for (const char* kind : {"instances", "images", clc::kAddressesKind}) {
      EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kind, parent));
      for (const auto& o : objects) {
        EUCA_ASSIGN_OR_RETURN(auto l, LeaseOf(t, caller, o));
        if (l) leases.push_back(*l);
      }
    }
    return Status::Ok();
  }));
  auto set = response.append_child("leaseSet");
  for (const auto& l : leases) {
    auto item = AddItem(set);
    AddText(item, "resourceId", l.id);
    AddText(item, "resourceType", l.type);
    AddText(item, "ownerId", l.owner);
    AddText(item, "state", l.state);
    AddText(item, "expires", Expires(l.expires_ms));
  }
  return Status::Ok();
}

Status RenewLease(Shared& s, const model::Principal& caller, const api::Ec2Request& request, pugi::xml_node response) {
  EUCA_ASSIGN_OR_RETURN(std::string id, request.Required("ResourceId"));
  std::string duration = request.GetOr("Duration");
  std::optional<std::optional<int64_t>> asked;
  if (!duration.empty()) {
    auto d = clc::ParseDuration(duration);
    if (!d.ok()) return Status(Code::kInvalidArgument, d.status().message(), "InvalidParameterValue");
    asked = *d;
  }
  const IdKind id_kind = KindOf(id);
  const bool instance = id_kind == IdKind::kInstance;
  const char* kind = StoreKind(id_kind);
  const int64_t now = s.services.clock->NowMillis();
  Lease out;
  auto seq = s.services.store->Transact({caller.ToString(), "RenewLease " + id, request.request_id()},
                                        [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto o, t.Get(kind, id));
    std::optional<Lease> l;
    if (o) {
      EUCA_ASSIGN_OR_RETURN(l, LeaseOf(t, caller, *o));
    }
    if (!l) return NotFoundId(id);
    if (instance && l->state == model::kShuttingDown)
      return Status(Code::kConflict, "instance '" + id + "' is shutting-down; its lease cannot be renewed",
                    "IncorrectInstanceState");
    std::optional<int64_t> seconds;
    if (asked) {
      seconds = *asked;
    } else {
      EUCA_ASSIGN_OR_RETURN(LeaseDefaults d, GetLeaseDefaults(t, o->parent));
      const char* which = instance ? "runtime" : id_kind == IdKind::kAddress ? "address" : "storage";
      seconds = instance ? d.runtime_s : id_kind == IdKind::kAddress ? d.address_s : d.storage_s;
      if (!seconds)
        return Status(Code::kInvalidArgument,
                      std::string("the account of '") + id + "' has no default " + which +
                          " lease: give --for DURATION (or --for none)",
                      "InvalidParameterValue");
    }
    state::Object changed = *o;
    int64_t expires = seconds ? now + *seconds * 1000 : 0;
    if (expires) {
      changed.body["lease_expires"] = expires;
    } else {
      changed.body.erase("lease_expires");
    }
    if (id_kind == IdKind::kImage && l->state == "expired") changed.body["state"] = "available";  // launchable
    EUCA_RETURN_IF_ERROR(t.Put(changed));
    out = *l;
    out.expires_ms = expires;
    if (id_kind != IdKind::kAddress) out.state = changed.body.value("state", "");
    return Status::Ok();
  });
  if (!seq.ok()) return seq.status();
  auto item = AddItem(response.append_child("leaseSet"));
  AddText(item, "resourceId", out.id);
  AddText(item, "resourceType", out.type);
  AddText(item, "ownerId", out.owner);
  AddText(item, "state", out.state);
  AddText(item, "expires", Expires(out.expires_ms));
  return Status::Ok();
}

}  // namespace

void AddLeaseTag(pugi::xml_node item, int64_t expires_ms) {
  auto tag = AddItem(item.append_child("tagSet"));
  AddText(tag, "key", kLeaseTag);
  AddText(tag, "value", FormatIso8601(expires_ms));
}

void AddSlaActions(clc::Ec2Actions& actions, const SlaServices& services) {
  auto shared = std::make_shared<Shared>();
  shared->services = services;
  actions.Add("EucaCleanup", [shared](const model::Principal& c, const api::Ec2Request& r, pugi::xml_node out) {
    return Cleanup(*shared, c, r, out);
  });
  actions.Add("EucaDescribeLeases", [shared](const model::Principal& c, const api::Ec2Request& r, pugi::xml_node out) {
    return DescribeLeases(*shared, c, r, out);
  });
  actions.Add("EucaRenewLease", [shared](const model::Principal& c, const api::Ec2Request& r, pugi::xml_node out) {
    return RenewLease(*shared, c, r, out);
  });
}

}  // namespace euca::sla
