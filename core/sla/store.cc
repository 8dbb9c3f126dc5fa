#include "core/sla/store.h"

namespace euca::sla {
namespace {

Status AdminOnly(const model::Principal& caller) {
  if (caller.IsCloudAdmin()) return Status::Ok();
  return Status(Code::kPermissionDenied, "only a cloud administrator may change SLA rules and leases",
                "UnauthorizedOperation");
}

Json Seconds(const std::optional<int64_t>& s) { return s ? Json(*s) : Json(nullptr); }

std::optional<int64_t> FromSeconds(const Json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<int64_t>();
}

}  // namespace

Result<std::vector<Rule>> ListRules(state::Txn& txn) {
  EUCA_ASSIGN_OR_RETURN(auto objects, txn.List(kRulesKind));
  std::vector<Rule> out;
  for (const auto& o : objects) {
    try {
      out.push_back(RuleFromJson(o.body));
    } catch (const std::exception& e) {
      return Internal("corrupt rule '" + o.id + "': " + e.what());
    }
  }
  return out;
}

Result<std::vector<Rule>> ListRules(state::StateStore& store) {
  std::vector<Rule> out;
  EUCA_RETURN_IF_ERROR(store.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(out, ListRules(t));
    return Status::Ok();
  }));
  return out;
}

Status PutRules(state::StateStore& store, const model::Principal& caller, const std::vector<Rule>& rules) {
  EUCA_RETURN_IF_ERROR(AdminOnly(caller));
  if (rules.empty()) return InvalidArgument("no rule to put");
  std::string names;
  for (const auto& r : rules) names += (names.empty() ? "" : ",") + r.name;
  return store
      .Transact({caller.ToString(), "PutRule " + names, ""},
                [&](state::Txn& t) -> Status {
                  for (const auto& r : rules)
                    EUCA_RETURN_IF_ERROR(t.Put(state::Object{kRulesKind, r.name, "", "", ToJson(r), std::nullopt}));
                  return Status::Ok();
                })
      .status();
}

Status DeleteRule(state::StateStore& store, const model::Principal& caller, const std::string& name) {
  EUCA_RETURN_IF_ERROR(AdminOnly(caller));
  return store
      .Transact({caller.ToString(), "DeleteRule " + name, ""},
                [&](state::Txn& t) -> Status {
                  EUCA_ASSIGN_OR_RETURN(auto existing, t.Get(kRulesKind, name));
                  if (!existing)
                    return NotFound("rule '" + name + "' does not exist; 'euca admin describe-rules' lists them");
                  return t.Delete(kRulesKind, name);
                })
      .status();
}

Result<LeaseDefaults> GetLeaseDefaults(state::Txn& txn, const std::string& account_id) {
  LeaseDefaults d{account_id, std::nullopt, std::nullopt, std::nullopt};
  EUCA_ASSIGN_OR_RETURN(auto obj, txn.Get(kLeaseDefaultsKind, account_id));
  if (!obj) return d;
  try {
    d.runtime_s = FromSeconds(obj->body, "runtime_seconds");
    d.storage_s = FromSeconds(obj->body, "storage_seconds");
    d.address_s = FromSeconds(obj->body, "address_seconds");
  } catch (const std::exception& e) {
    return Internal("corrupt lease defaults of account '" + account_id + "': " + e.what());
  }
  return d;
}

Result<LeaseDefaults> SetLeaseDefaults(state::StateStore& store, const model::Principal& caller,
                                       const std::string& account_name,
                                       std::optional<std::optional<int64_t>> runtime_s,
                                       std::optional<std::optional<int64_t>> storage_s,
                                       std::optional<std::optional<int64_t>> address_s) {
  EUCA_RETURN_IF_ERROR(AdminOnly(caller));
  if (!runtime_s && !storage_s && !address_s)
    return InvalidArgument("give --runtime-lease, --storage-lease or --address-lease");
  LeaseDefaults out;
  auto seq = store.Transact({caller.ToString(), "ModifyAccount " + account_name + " leases", ""},
                            [&](state::Txn& t) -> Status {
                              EUCA_ASSIGN_OR_RETURN(auto account, t.GetByName("accounts", "", account_name));
                              if (!account)
                                return Status(Code::kNotFound, "account '" + account_name + "' does not exist",
                                              "InvalidParameterValue");
                              EUCA_ASSIGN_OR_RETURN(out, GetLeaseDefaults(t, account->id));
                              if (runtime_s) out.runtime_s = *runtime_s;
                              if (storage_s) out.storage_s = *storage_s;
                              if (address_s) out.address_s = *address_s;
                              state::Json body = {{"account", out.account_id},
                                                  {"runtime_seconds", Seconds(out.runtime_s)},
                                                  {"storage_seconds", Seconds(out.storage_s)}};
                              if (out.address_s) body["address_seconds"] = *out.address_s;
                              return t.Put(state::Object{kLeaseDefaultsKind, out.account_id, "", "", body,
                                                         std::nullopt});
                            });
  if (!seq.ok()) return seq.status();
  return out;
}

Result<int64_t> StorageLeaseExpiry(state::Txn& txn, const std::string& account_id, int64_t now_ms) {
  EUCA_ASSIGN_OR_RETURN(LeaseDefaults d, GetLeaseDefaults(txn, account_id));
  return d.storage_s ? now_ms + *d.storage_s * 1000 : 0;
}

Result<std::optional<int64_t>> AddressLeaseDefault(state::Txn& txn, const std::string& account_id) {
  EUCA_ASSIGN_OR_RETURN(LeaseDefaults d, GetLeaseDefaults(txn, account_id));
  return d.address_s;
}

Result<std::string> AccountName(state::Txn& txn, const std::string& account_id) {
  EUCA_ASSIGN_OR_RETURN(auto obj, txn.Get("accounts", account_id));
  if (!obj) return std::string();
  return obj->body.value("name", "");
}

}  // namespace euca::sla
