#include "core/clc/addresses.h"

#include <algorithm>
#include <set>

#include "core/clc/networking.h"
#include "core/clc/properties.h"
#include "core/sla/actions.h"

namespace euca::clc {
namespace {

constexpr char kInstances[] = "instances";

Status AddressNotFound(const std::string& ip) {
  return Status(Code::kNotFound, "the address '" + ip + "' is not allocated to your account",
                "InvalidAddress.NotFound");
}

state::TxnContext Txn(const model::Principal& caller, std::string action, const std::string& request_id) {
  return state::TxnContext{caller.ToString(), std::move(action), request_id};
}

state::Object ToObject(const model::Address& a) {
  return {kAddressesKind, a.public_ip, a.account_id, "", model::ToJson(a), std::nullopt};
}

Status CheckIp(const std::string& ip) {
  if (!ParseIpv4(ip))
    return Status(Code::kInvalidArgument, "invalid public address '" + ip + "'", "InvalidParameterValue");
  return Status::Ok();
}

// True when the instance record `id` exists and has not ended.
Result<bool> InstanceLive(state::Txn& t, const std::string& id) {
  if (id.empty()) return false;
  EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kInstances, id));
  if (!obj) return false;
  std::string state = obj->body.value("state", "");
  return state != model::kTerminated && state != model::kShuttingDown;
}

Result<std::optional<model::Address>> Effective(state::Txn& t, const state::Object& o) {
  return EffectiveAddress(t, o);
}

// Sets the instance record's public address (keeping its secret part).
Status SetInstancePublicIp(state::Txn& t, const std::string& id, const std::string& ip) {
  if (id.empty()) return Status::Ok();
  EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kInstances, id));
  if (!obj) return Status::Ok();
  if (obj->body.value("public_ip", "") == ip) return Status::Ok();
  obj->body["public_ip"] = ip;
  return t.Put(*obj);
}

// The caller's address `ip` (effective), or InvalidAddress.NotFound.
Result<model::Address> Owned(state::Txn& t, const model::Principal& caller, const std::string& ip) {
  EUCA_RETURN_IF_ERROR(CheckIp(ip));
  EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kAddressesKind, ip));
  if (!obj) return AddressNotFound(ip);
  EUCA_ASSIGN_OR_RETURN(auto a, Effective(t, *obj));
  if (!a || (a->account_id != caller.account_id && !caller.IsCloudAdmin())) return AddressNotFound(ip);
  return *a;
}

Status RequireManaged(state::Txn& t) {
  EUCA_ASSIGN_OR_RETURN(NetworkConfig c, ReadNetworkConfig(t));
  if (!network::IsManaged(c.mode))
    return Status(Code::kInvalidArgument,
                  std::string("public addresses need network.mode MANAGED or MANAGED-NOVLAN; this cloud runs ") +
                      network::ModeName(c.mode),
                  "InvalidParameterValue");
  return Status::Ok();
}

}  // namespace

Result<std::optional<model::Address>> EffectiveAddress(state::Txn& t, const state::Object& o) {
  model::Address a = model::AddressFromJson(o.body);
  EUCA_ASSIGN_OR_RETURN(bool live, InstanceLive(t, a.instance_id));
  if (!live) {
    if (a.auto_assigned) return std::optional<model::Address>();
    a.instance_id.clear();
  }
  return std::optional<model::Address>(a);
}

Result<model::Address> Addresses::Allocate(const model::Principal& caller, const std::string& request_id,
                                           std::optional<std::optional<int64_t>> lease_s) {
  model::Address out;
  auto txn = store_.Transact(Txn(caller, "AllocateAddress", request_id), [&](state::Txn& t) -> Status {
    EUCA_RETURN_IF_ERROR(RequireManaged(t));
    if (allocation_check_) {
      int64_t held = 0;
      EUCA_ASSIGN_OR_RETURN(auto all, t.List(kAddressesKind));
      for (const auto& obj : all) {
        EUCA_ASSIGN_OR_RETURN(auto a, Effective(t, obj));
        if (a && a->account_id == caller.account_id) ++held;
      }
      EUCA_RETURN_IF_ERROR(allocation_check_(t, caller.account_id, held));
    }
    EUCA_ASSIGN_OR_RETURN(NetworkConfig c, ReadNetworkConfig(t));
    for (const auto& ip : c.public_ips) {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kAddressesKind, ip));
      if (obj) {
        EUCA_ASSIGN_OR_RETURN(auto a, Effective(t, *obj));
        if (a) continue;  // taken
      }
      const int64_t now = clock_.NowMillis();
      out = model::Address{ip, caller.account_id, "", false, now};
      std::optional<int64_t> seconds;
      if (lease_s) {
        seconds = *lease_s;
      } else if (default_lease_) {
        EUCA_ASSIGN_OR_RETURN(seconds, default_lease_(t, caller.account_id));
      }
      if (seconds) out.lease_expires_ms = now + *seconds * 1000;
      return t.Put(ToObject(out));
    }
    return Status(Code::kResourceExhausted,
                  c.public_ips.empty() ? "no public addresses: the property network.public-ips is empty"
                                       : "every address of network.public-ips is allocated",
                  "AddressLimitExceeded");
  });
  if (!txn.ok()) return txn.status();
  return out;
}

Status Addresses::Associate(const model::Principal& caller, const std::string& public_ip,
                            const std::string& instance_id, const std::string& request_id) {
  if (instance_id.empty())
    return Status(Code::kInvalidArgument, "the request must contain the parameter InstanceId", "MissingParameter");
  auto txn = store_.Transact(
      Txn(caller, "AssociateAddress " + public_ip + " " + instance_id, request_id), [&](state::Txn& t) -> Status {
        EUCA_RETURN_IF_ERROR(RequireManaged(t));
        EUCA_ASSIGN_OR_RETURN(model::Address a, Owned(t, caller, public_ip));
        EUCA_ASSIGN_OR_RETURN(auto inst, t.Get(kInstances, instance_id));
        if (!inst || (inst->parent != a.account_id))
          return Status(Code::kNotFound, "instance '" + instance_id + "' does not exist", "InvalidInstanceID.NotFound");
        std::string state = inst->body.value("state", "");
        if (state != model::kPending && state != model::kRunning)
          return Status(Code::kConflict,
                        "instance '" + instance_id + "' is " + state +
                            ": only pending or running "
                            "instances get an address",
                        "IncorrectInstanceState");
        if (a.instance_id == instance_id) return Status::Ok();
        // The instance's other address lets go (an auto-assigned one goes back to the pool).
        EUCA_ASSIGN_OR_RETURN(auto all, t.List(kAddressesKind));
        for (const auto& o : all) {
          model::Address other = model::AddressFromJson(o.body);
          if (other.public_ip == a.public_ip || other.instance_id != instance_id) continue;
          if (other.auto_assigned) {
            EUCA_RETURN_IF_ERROR(t.Delete(kAddressesKind, other.public_ip));
          } else {
            other.instance_id.clear();
            EUCA_RETURN_IF_ERROR(t.Put(ToObject(other)));
          }
        }
        EUCA_RETURN_IF_ERROR(SetInstancePublicIp(t, a.instance_id, ""));  // moves from there
        a.instance_id = instance_id;
        EUCA_RETURN_IF_ERROR(t.Put(ToObject(a)));
        return SetInstancePublicIp(t, instance_id, a.public_ip);
      });
  EUCA_RETURN_IF_ERROR(txn.status());
  Notify();
  return Status::Ok();
}

Status Addresses::Disassociate(const model::Principal& caller, const std::string& public_ip,
                               const std::string& request_id) {
  auto txn = store_.Transact(Txn(caller, "DisassociateAddress " + public_ip, request_id), [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(model::Address a, Owned(t, caller, public_ip));
    if (a.instance_id.empty()) return Status::Ok();
    EUCA_RETURN_IF_ERROR(SetInstancePublicIp(t, a.instance_id, ""));
    if (a.auto_assigned) return t.Delete(kAddressesKind, a.public_ip);  // back to the pool
    a.instance_id.clear();
    return t.Put(ToObject(a));
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  Notify();
  return Status::Ok();
}

Status Addresses::Release(const model::Principal& caller, const std::string& public_ip, const std::string& request_id) {
  auto txn = store_.Transact(Txn(caller, "ReleaseAddress " + public_ip, request_id), [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(model::Address a, Owned(t, caller, public_ip));
    EUCA_RETURN_IF_ERROR(SetInstancePublicIp(t, a.instance_id, ""));
    return t.Delete(kAddressesKind, a.public_ip);
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  Notify();
  return Status::Ok();
}

Status Addresses::ReleaseExpired(const std::string& principal, const std::string& public_ip, int64_t now_ms) {
  return ReleaseAsSystem(principal, public_ip, [&](state::Txn& t, const state::Object& o) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto a, Effective(t, o));
    if (!a) return NotFound("the address '" + public_ip + "' is no longer allocated");
    if (a->lease_expires_ms == 0 || a->lease_expires_ms > now_ms)
      return Status(Code::kConflict, "the lease of the address '" + public_ip + "' was renewed");
    return Status::Ok();
  });
}

Status Addresses::ReleaseOfInstance(const std::string& principal, const std::string& public_ip,
                                    const std::string& instance_id) {
  return ReleaseAsSystem(principal, public_ip, [&](state::Txn&, const state::Object& o) -> Status {
    model::Address a = model::AddressFromJson(o.body);
    if (a.auto_assigned || a.instance_id != instance_id)
      return Status(Code::kConflict, "the address '" + public_ip + "' is no longer on '" + instance_id + "'");
    return Status::Ok();
  });
}

Status Addresses::ReleaseAsSystem(const std::string& principal, const std::string& public_ip, const DueFn& due) {
  // The stored record, if it is still allocated and still due.
  auto stored = [&](state::Txn& t) -> Result<model::Address> {
    EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kAddressesKind, public_ip));
    if (!obj) return NotFound("the address '" + public_ip + "' is no longer allocated");
    EUCA_RETURN_IF_ERROR(due(t, *obj));
    return model::AddressFromJson(obj->body);
  };
  bool associated = false;
  auto first = store_.Transact({principal, "DisassociateAddress " + public_ip, ""}, [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(model::Address a, stored(t));
    if (a.instance_id.empty()) return Status::Ok();
    associated = true;
    EUCA_RETURN_IF_ERROR(SetInstancePublicIp(t, a.instance_id, ""));
    a.instance_id.clear();
    return t.Put(ToObject(a));
  });
  EUCA_RETURN_IF_ERROR(first.status());
  if (associated) Notify();
  auto second = store_.Transact({principal, "ReleaseAddress " + public_ip, ""}, [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kAddressesKind, public_ip));
    if (!obj) return NotFound("the address '" + public_ip + "' is no longer allocated");
    model::Address a = model::AddressFromJson(obj->body);
    if (!a.instance_id.empty()) return Status(Code::kConflict, "the address '" + public_ip + "' was associated again");
    return t.Delete(kAddressesKind, a.public_ip);
  });
  EUCA_RETURN_IF_ERROR(second.status());
  Notify();
  return Status::Ok();
}

Result<std::vector<model::Address>> Addresses::Describe(const model::Principal& caller,
                                                        const std::vector<std::string>& ips,
                                                        const std::vector<api::Ec2Filter>& filters) {
  std::vector<std::string> wanted;
  bool everyone = false;
  for (const auto& ip : ips) {
    if (ip == "verbose" && caller.IsCloudAdmin()) {
      everyone = true;
      continue;
    }
    EUCA_RETURN_IF_ERROR(CheckIp(ip));
    wanted.push_back(ip);
  }
  for (const auto& f : filters)
    if (f.name != "public-ip" && f.name != "instance-id" && f.name != "domain")
      return Status(Code::kInvalidArgument, "the filter '" + f.name + "' is invalid for DescribeAddresses",
                    "InvalidParameterValue");
  std::vector<model::Address> all;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    std::optional<std::string> parent;
    if (!everyone) parent = caller.account_id;
    EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kAddressesKind, parent));
    for (const auto& o : objects) {
      EUCA_ASSIGN_OR_RETURN(auto a, Effective(t, o));
      if (a) all.push_back(std::move(*a));
    }
    return Status::Ok();
  }));
  std::sort(all.begin(), all.end(), [](const model::Address& a, const model::Address& b) {
    return ParseIpv4(a.public_ip).value_or(0) < ParseIpv4(b.public_ip).value_or(0);
  });
  for (const auto& ip : wanted)
    if (std::none_of(all.begin(), all.end(), [&](const model::Address& a) { return a.public_ip == ip; }))
      return AddressNotFound(ip);
  std::vector<model::Address> out;
  for (auto& a : all) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), a.public_ip) == wanted.end()) continue;
    bool keep = true;
    for (const auto& f : filters) {
      const std::string value = f.name == "public-ip"     ? a.public_ip
                                : f.name == "instance-id" ? a.instance_id
                                                          : "standard";
      keep = keep && api::FilterMatches(f, value);
    }
    if (keep) out.push_back(std::move(a));
  }
  return out;
}

void AddAddressActions(Ec2Actions& actions, Addresses& addresses) {
  Addresses* ad = &addresses;
  actions.Add("AllocateAddress",
              [ad](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                std::string domain = req.GetOr("Domain", "standard");
                if (domain != "standard")
                  return Status(Code::kInvalidArgument, "domain '" + domain + "' is not supported: use standard",
                                "InvalidParameterValue");
                // The euca extension EucaLease=DURATION (docs/sla.md): the address's lease.
                std::optional<std::optional<int64_t>> lease;
                if (std::string text = req.GetOr("EucaLease"); !text.empty()) {
                  auto d = ParseDuration(text);
                  if (!d.ok()) return Status(Code::kInvalidArgument, "EucaLease: " + d.status().message(),
                                             "InvalidParameterValue");
                  lease = *d;
                }
                EUCA_ASSIGN_OR_RETURN(model::Address a, ad->Allocate(caller, req.request_id(), lease));
                api::AddText(response, "publicIp", a.public_ip);
                api::AddText(response, "domain", "standard");
                if (a.lease_expires_ms != 0) sla::AddLeaseTag(response, a.lease_expires_ms);
                return Status::Ok();
              });
  actions.Add("AssociateAddress",
              [ad](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(std::string ip, req.Required("PublicIp"));
                EUCA_ASSIGN_OR_RETURN(std::string instance, req.Required("InstanceId"));
                EUCA_RETURN_IF_ERROR(ad->Associate(caller, ip, instance, req.request_id()));
                api::AddBool(response, "return", true);
                return Status::Ok();
              });
  actions.Add("DisassociateAddress",
              [ad](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(std::string ip, req.Required("PublicIp"));
                EUCA_RETURN_IF_ERROR(ad->Disassociate(caller, ip, req.request_id()));
                api::AddBool(response, "return", true);
                return Status::Ok();
              });
  actions.Add("ReleaseAddress",
              [ad](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(std::string ip, req.Required("PublicIp"));
                EUCA_RETURN_IF_ERROR(ad->Release(caller, ip, req.request_id()));
                api::AddBool(response, "return", true);
                return Status::Ok();
              });
  actions.Add("DescribeAddresses",
              [ad](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(auto filters, req.Filters());
                EUCA_ASSIGN_OR_RETURN(auto found, ad->Describe(caller, req.List("PublicIp"), filters));
                auto set = response.append_child("addressesSet");
                for (const auto& a : found) {
                  auto item = api::AddItem(set);
                  api::AddText(item, "publicIp", a.public_ip);
                  api::AddText(item, "domain", "standard");
                  api::AddText(item, "instanceId", a.instance_id);
                  if (caller.IsCloudAdmin() && a.account_id != caller.account_id)
                    api::AddText(item, "ownerId", a.account_id);
                  if (a.lease_expires_ms != 0) sla::AddLeaseTag(item, a.lease_expires_ms);
                }
                return Status::Ok();
              });
}

}  // namespace euca::clc
