#include "core/sla/engine.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/clc/networking.h"
#include "core/clc/vm_types.h"
#include "core/sla/store.h"

namespace euca::sla {
namespace {

struct Live {
  std::string user_id, zone, vm_type;
};

// What one instance of the plan costs against a limit rule, and what `live` already uses.
int64_t Cost(const Rule& r, const model::VmType& type) {
  if (r.kind == kCoreLimit) return type.cores;
  if (r.kind == kMemoryLimit) return static_cast<int64_t>(type.memory_mib);
  return 1;
}

const char* Unit(const Rule& r) {
  if (r.kind == kCoreLimit) return "core(s)";
  if (r.kind == kMemoryLimit) return "MiB";
  return "instance(s)";
}

const char* WireCode(const Rule& r) { return r.kind == kCoreLimit ? "VcpuLimitExceeded" : "InstanceLimitExceeded"; }

std::string MetaZoneOf(const Rule& r) {
  if (r.policy == "emptiest") return clc::kZoneSingle;  // the zone with the most room takes all
  if (r.policy == "single") return r.zone;
  if (r.policy == "spread") return clc::kZoneSpread;
  return clc::kZoneAny;
}

// What the limit rules weigh a launch against: the rules, and when one of them is a limit,
// the caller account's live instances and the VM types.
struct LimitInputs {
  std::vector<Rule> rules;
  std::vector<Live> live;
  std::map<std::string, model::VmType> types;
};

Result<LimitInputs> ReadLimitInputs(state::Txn& t, const model::Principal& caller) {
  LimitInputs in;
  EUCA_ASSIGN_OR_RETURN(in.rules, ListRules(t));
  bool limits = std::any_of(in.rules.begin(), in.rules.end(), [](const Rule& r) {
    return r.kind == kInstanceLimit || r.kind == kCoreLimit || r.kind == kMemoryLimit;
  });
  if (!limits) return in;
  EUCA_ASSIGN_OR_RETURN(auto objects, t.List("instances", caller.account_id));
  for (const auto& o : objects) {
    std::string state = o.body.value("state", "");
    if (state == model::kTerminated || state == model::kShuttingDown) continue;  // going away
    in.live.push_back({o.body.value("user", ""), o.body.value("zone", ""), o.body.value("vm_type", "")});
  }
  EUCA_ASSIGN_OR_RETURN(auto all, clc::ListVmTypes(t));
  for (auto& v : all) in.types[v.name] = v;
  return in;
}

// How many of `want` instances of the plan every matching limit rule admits (at least
// plan.min_count), or the first rule's rejection.
Result<int> Admitted(const LimitInputs& in, const clc::LaunchPlan& plan, int want) {
  const model::Principal& caller = plan.caller;
  for (const auto& r : in.rules) {
    if (r.kind != kInstanceLimit && r.kind != kCoreLimit && r.kind != kMemoryLimit) continue;
    if (!Matches(r.match, caller.account_name, caller.user_name, plan.zone, plan.vm_type.name)) continue;
    int64_t used = 0;
    for (const auto& l : in.live) {
      if (r.scope == "user" && l.user_id != caller.user_id) continue;
      if (!r.match.zone.empty() && l.zone != r.match.zone) continue;
      if (!r.match.type.empty() && l.vm_type != r.match.type) continue;
      auto it = in.types.find(l.vm_type);
      used += it == in.types.end() ? (r.kind == kInstanceLimit ? 1 : 0) : Cost(r, it->second);
    }
    const int64_t cost = std::max<int64_t>(1, Cost(r, plan.vm_type));
    const int64_t fits = std::max<int64_t>(0, r.limit - used) / cost;
    if (fits < plan.min_count) {
      const std::string who = r.scope == "user" ? "user '" + caller.user_name + "@" + caller.account_name + "'"
                                                : "account '" + caller.account_name + "'";
      return Status(Code::kResourceExhausted,
                    "rule '" + r.name + "' limits " + who + " to " + std::to_string(r.limit) + " " + Unit(r) + "; " +
                        std::to_string(used) + " in use, so " + std::to_string(fits) + " more instance(s) of type '" +
                        plan.vm_type.name + "' fit, not " + std::to_string(plan.min_count),
                    WireCode(r));
    }
    if (fits < want) want = static_cast<int>(fits);
  }
  return want;
}

}  // namespace

Status Engine::Review(clc::LaunchPlan& plan) {
  const model::Principal& caller = plan.caller;
  LimitInputs in;
  LeaseDefaults leases;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(in, ReadLimitInputs(t, caller));
    EUCA_ASSIGN_OR_RETURN(leases, GetLeaseDefaults(t, caller.account_id));
    return Status::Ok();
  }));

  // Request arrival, 1: where (only when the request named no zone).
  if (plan.zone == clc::kZoneAny) {
    for (const auto& r : in.rules) {
      if (r.kind != kZonePolicy) continue;
      if (!Matches(r.match, caller.account_name, caller.user_name, "", plan.vm_type.name)) continue;
      plan.zone = MetaZoneOf(r);
      break;
    }
  }

  // Request arrival, 2: how many (checked again by Admit in the launch's transaction).
  EUCA_ASSIGN_OR_RETURN(plan.max_count, Admitted(in, plan, plan.max_count));

  // Request arrival, 3: for how long.
  if (leases.runtime_s) plan.lease_expires_ms = clock_.NowMillis() + *leases.runtime_s * 1000;
  return Status::Ok();
}

Result<int> Engine::Admit(state::Txn& txn, const clc::LaunchPlan& plan, int count) {
  EUCA_ASSIGN_OR_RETURN(LimitInputs in, ReadLimitInputs(txn, plan.caller));
  return Admitted(in, plan, count);
}

namespace {

Result<const Rule*> FirstQuota(const std::vector<Rule>& rules, const char* kind, const std::string& account_name,
                               int64_t used, int64_t adding) {
  for (const auto& r : rules) {
    if (r.kind != kind || !Matches(r.match, account_name, "", "", "")) continue;
    if (used + adding > r.limit) return &r;
  }
  return static_cast<const Rule*>(nullptr);
}

}  // namespace

Status CheckAddressQuota(state::Txn& t, const std::string& account_id, int64_t held) {
  EUCA_ASSIGN_OR_RETURN(std::vector<Rule> rules, ListRules(t));
  EUCA_ASSIGN_OR_RETURN(std::string name, AccountName(t, account_id));
  EUCA_ASSIGN_OR_RETURN(const Rule* hit, FirstQuota(rules, kAddressQuota, name, held, 1));
  if (!hit) return Status::Ok();
  return Status(Code::kResourceExhausted,
                "rule '" + hit->name + "' limits account '" + name + "' to " + std::to_string(hit->limit) +
                    " public address(es); it holds " + std::to_string(held) + ": release one first",
                "AddressLimitExceeded");
}

Status CheckStorageQuota(state::StateStore& store, const std::string& account_id, int64_t used, int64_t adding) {
  const Rule* hit = nullptr;
  std::string name;
  std::vector<Rule> rules;
  EUCA_RETURN_IF_ERROR(store.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(rules, ListRules(t));
    EUCA_ASSIGN_OR_RETURN(name, AccountName(t, account_id));
    return Status::Ok();
  }));
  EUCA_ASSIGN_OR_RETURN(hit, FirstQuota(rules, kStorageQuota, name, used, adding));
  if (!hit) return Status::Ok();
  return Status(Code::kResourceExhausted,
                "rule '" + hit->name + "' limits account '" + name + "' to " + std::to_string(hit->limit) +
                    " stored bytes; it stores " + std::to_string(used) + " and this adds " + std::to_string(adding),
                "QuotaExceeded");
}

std::function<Status(const std::string&, uint64_t, const std::function<Result<uint64_t>()>&)> StorageQuotaHook(
    state::StateStore& store) {
  // Whether a storage-quota rule matches an account, by account id, kept while the store's
  // ChangeCounter stays (as clc::KeyCache): any change, by any process (a rule added or
  // removed, an account renamed), drops every answer, so it holds from the next PUT on.
  struct Cache {
    std::mutex mu;
    std::optional<uint64_t> counter;  // the ChangeCounter the answers belong to
    std::unordered_map<std::string, bool> applies;
  };
  constexpr size_t kMaxEntries = 4096;
  auto cache = std::make_shared<Cache>();
  state::StateStore* s = &store;
  return [s, cache](const std::string& account_id, uint64_t bytes,
                    const std::function<Result<uint64_t>()>& used) -> Status {
    // Asked before the read below: a change that lands during the read makes the next call
    // see a new counter and read again.
    std::optional<uint64_t> now = s->ChangeCounter();
    std::optional<bool> applies;
    {
      std::lock_guard<std::mutex> lock(cache->mu);
      if (!now || now != cache->counter) {
        cache->applies.clear();
        cache->counter = now;
      }
      if (auto it = cache->applies.find(account_id); now && it != cache->applies.end()) applies = it->second;
    }
    if (!applies) {
      std::vector<Rule> rules;
      std::string name;
      EUCA_RETURN_IF_ERROR(s->Read([&](state::Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(rules, ListRules(t));
        EUCA_ASSIGN_OR_RETURN(name, AccountName(t, account_id));
        return Status::Ok();
      }));
      applies = std::any_of(rules.begin(), rules.end(), [&](const Rule& r) {
        return r.kind == kStorageQuota && Matches(r.match, name, "", "", "");
      });
      std::lock_guard<std::mutex> lock(cache->mu);
      if (now && cache->counter == now) {
        if (cache->applies.size() >= kMaxEntries) cache->applies.clear();
        cache->applies.emplace(account_id, *applies);
      }
    }
    if (!*applies) return Status::Ok();
    EUCA_ASSIGN_OR_RETURN(uint64_t total, used());
    return CheckStorageQuota(*s, account_id, static_cast<int64_t>(total), static_cast<int64_t>(bytes));
  };
}

void Engine::StateChanged(const model::Instance& instance, const std::string& previous_state) {
  if (instance.state != model::kTerminated || previous_state == model::kTerminated || !addresses_) return;
  std::vector<Rule> rules;
  std::string account, user;
  std::vector<std::string> ips;
  Status read = store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(rules, ListRules(t));
    if (std::none_of(rules.begin(), rules.end(), [](const Rule& r) { return r.kind == kReleaseOnTerminate; }))
      return Status::Ok();
    EUCA_ASSIGN_OR_RETURN(account, AccountName(t, instance.account_id));
    EUCA_ASSIGN_OR_RETURN(auto u, t.Get("users", instance.user_id));
    if (u) user = u->body.value("name", "");
    EUCA_ASSIGN_OR_RETURN(auto all, t.List(clc::kAddressesKind, instance.account_id));
    for (const auto& o : all) {
      model::Address a = model::AddressFromJson(o.body);
      if (!a.auto_assigned && a.instance_id == instance.id) ips.push_back(a.public_ip);
    }
    return Status::Ok();
  });
  if (!read.ok() || ips.empty()) return;
  bool match = std::any_of(rules.begin(), rules.end(), [&](const Rule& r) {
    return r.kind == kReleaseOnTerminate && Matches(r.match, account, user, instance.zone, instance.vm_type);
  });
  if (!match) return;
  // Disassociated and released meanwhile (by the owner, another process): nothing to do.
  for (const auto& ip : ips) (void)addresses_->ReleaseOfInstance(kSlaPrincipal, ip, instance.id);
}

Status CheckNetworkPropertyChange(state::Txn& txn, const std::vector<std::string>& changed) {
  std::string property;
  for (const auto& name : changed)
    if (name.rfind("network.", 0) == 0) {
      property = name;
      break;
    }
  if (property.empty()) return Status::Ok();
  EUCA_ASSIGN_OR_RETURN(std::vector<Rule> rules, ListRules(txn));
  std::vector<const Rule*> guards;
  for (const auto& r : rules)
    if (r.kind == kNetworkGuard) guards.push_back(&r);
  if (guards.empty()) return Status::Ok();
  EUCA_ASSIGN_OR_RETURN(auto objects, txn.List("instances"));
  std::map<std::string, std::string> accounts, users;  // id -> name, as needed
  auto name_of = [&](std::map<std::string, std::string>& cache, const char* kind,
                     const std::string& id) -> Result<std::string> {
    auto it = cache.find(id);
    if (it != cache.end()) return it->second;
    EUCA_ASSIGN_OR_RETURN(auto o, txn.Get(kind, id));
    std::string name = o ? o->body.value("name", "") : "";
    cache[id] = name;
    return name;
  };
  for (const auto& o : objects) {
    std::string state = o.body.value("state", "");
    if (state != model::kPending && state != model::kRunning) continue;
    EUCA_ASSIGN_OR_RETURN(std::string account, name_of(accounts, "accounts", o.parent));
    EUCA_ASSIGN_OR_RETURN(std::string user, name_of(users, "users", o.body.value("user", "")));
    for (const Rule* r : guards) {
      if (!Matches(r->match, account, user, o.body.value("zone", ""), o.body.value("vm_type", ""))) continue;
      return Status(Code::kConflict,
                    "rule '" + r->name + "' guards the network while matching instances run: '" + property +
                        "' cannot change while instance '" + o.id + "' of account '" + account +
                        "' is " + state + "; terminate it first or delete the rule",
                    "OperationNotPermitted");
    }
  }
  return Status::Ok();
}

}  // namespace euca::sla
