#include "core/clc/security_groups.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "core/base/random.h"
#include "core/clc/networking.h"

namespace euca::clc {
namespace {

Status GroupNotFound(const std::string& name) {
  return Status(Code::kNotFound, "the security group '" + name + "' does not exist", "InvalidGroup.NotFound");
}

Status BadValue(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message), "InvalidParameterValue");
}

Status CheckText(const std::string& what, const std::string& text) {
  if (text.empty() || text.size() > 255 ||
      std::any_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x20 || c >= 0x7f; }))
    return BadValue("invalid " + what + " '" + text + "': use 1 to 255 printable ASCII characters");
  return Status::Ok();
}

state::Object ToObject(const model::SecurityGroup& g) {
  return {kSecurityGroupsKind, g.id, g.account_id, g.name, model::ToJson(g), std::nullopt};
}

state::TxnContext Txn(const model::Principal& caller, std::string action, const std::string& request_id) {
  return state::TxnContext{caller.ToString(), std::move(action), request_id};
}

Result<model::SecurityGroup> MustFind(state::Txn& t, const std::string& account, const std::string& name_or_id) {
  EUCA_ASSIGN_OR_RETURN(auto g, FindGroup(t, account, name_or_id));
  if (!g && name_or_id == kDefaultGroup) return EnsureDefaultGroup(t, account, 0);
  if (!g) return GroupNotFound(name_or_id);
  return *g;
}

Result<int> Port(const std::optional<int>& v, const char* what, int min, int max) {
  if (!v) return BadValue(std::string(what) + " is required");
  if (*v < min || *v > max)
    return BadValue(std::string(what) + " '" + std::to_string(*v) + "' is outside " + std::to_string(min) + ".." +
                    std::to_string(max));
  return *v;
}

// A permission checked and its source group resolved, inside the transaction.
Result<model::GroupRule> Resolve(state::Txn& t, const model::Principal& caller, const PermissionRequest& p) {
  model::GroupRule r;
  std::string proto = p.protocol;
  std::transform(proto.begin(), proto.end(), proto.begin(), [](unsigned char c) { return std::tolower(c); });
  bool has_source = !p.source_group_name.empty() || !p.source_group_id.empty();
  if (proto.empty() && has_source) proto = "-1";
  if (proto == "all" || proto == "-1")
    r.protocol = "-1";
  else if (proto == "tcp" || proto == "6")
    r.protocol = "tcp";
  else if (proto == "udp" || proto == "17")
    r.protocol = "udp";
  else if (proto == "icmp" || proto == "1")
    r.protocol = "icmp";
  else if (proto.empty())
    return Status(Code::kInvalidArgument, "a protocol (IpProtocol) is required", "MissingParameter");
  else
    return BadValue("protocol '" + p.protocol + "' is not one of tcp, udp, icmp, -1");
  if (r.protocol == "tcp" || r.protocol == "udp") {
    if (p.from_port == -1 && p.to_port == -1) {
      r.from_port = 0, r.to_port = 65535;
    } else {
      EUCA_ASSIGN_OR_RETURN(r.from_port, Port(p.from_port, "FromPort", 0, 65535));
      EUCA_ASSIGN_OR_RETURN(r.to_port, Port(p.to_port, "ToPort", 0, 65535));
      if (r.from_port > r.to_port)
        return BadValue("port range " + std::to_string(r.from_port) + "-" + std::to_string(r.to_port) +
                        " ends before it starts");
    }
  } else if (r.protocol == "icmp") {
    EUCA_ASSIGN_OR_RETURN(r.from_port, Port(p.from_port ? p.from_port : -1, "ICMP type", -1, 255));
    EUCA_ASSIGN_OR_RETURN(r.to_port, Port(p.to_port ? p.to_port : -1, "ICMP code", -1, 255));
  }
  if (!p.cidr.empty() && has_source) return BadValue("give a CIDR or a source group, not both");
  if (has_source) {
    std::optional<model::SecurityGroup> src;
    if (!p.source_group_id.empty()) {
      EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kSecurityGroupsKind, p.source_group_id));
      if (obj) src = model::SecurityGroupFromJson(obj->body);
      if (src && !p.source_group_owner.empty() && src->account_id != p.source_group_owner) src.reset();
      if (!src) return GroupNotFound(p.source_group_id);
    } else {
      std::string owner = p.source_group_owner.empty() ? caller.account_id : p.source_group_owner;
      EUCA_ASSIGN_OR_RETURN(src, FindGroup(t, owner, p.source_group_name));
      if (!src && p.source_group_name == kDefaultGroup && owner == caller.account_id) {
        EUCA_ASSIGN_OR_RETURN(src, EnsureDefaultGroup(t, owner, 0));
      }
      if (!src)
        return GroupNotFound(owner == caller.account_id ? p.source_group_name
                                                        : p.source_group_name + "' of account '" + owner);
    }
    r.source_account = src->account_id;
    r.source_group = src->id;
  } else {
    std::string cidr = p.cidr.empty() ? "0.0.0.0/0" : p.cidr;
    auto parsed = ParseCidr(cidr);
    if (!parsed) return BadValue("CIDR '" + cidr + "' is not of the form a.b.c.d/n");
    r.cidr = FormatIpv4(parsed->first) + "/" + std::to_string(parsed->second);
  }
  return r;
}

bool MatchesFilter(const api::Ec2Filter& f, const model::SecurityGroup& g, Status* error) {
  if (f.name == "group-name") return api::FilterMatches(f, g.name);
  if (f.name == "group-id") return api::FilterMatches(f, g.id);
  if (f.name == "description") return api::FilterMatches(f, g.description);
  if (f.name == "owner-id") return api::FilterMatches(f, g.account_id);
  *error = BadValue("the filter '" + f.name + "' is invalid for DescribeSecurityGroups");
  return false;
}

}  // namespace

Result<model::SecurityGroup> SecurityGroups::Create(const model::Principal& caller, const std::string& name,
                                                    const std::string& description, const std::string& request_id) {
  EUCA_RETURN_IF_ERROR(CheckText("group name", name));
  if (name.rfind("sg-", 0) == 0) return BadValue("invalid group name '" + name + "': names cannot start with 'sg-'");
  EUCA_RETURN_IF_ERROR(CheckText("group description", description));
  model::SecurityGroup g;
  auto txn = store_.Transact(Txn(caller, "CreateSecurityGroup " + name, request_id), [&](state::Txn& t) -> Status {
    const int64_t now = clock_.NowMillis();
    EUCA_RETURN_IF_ERROR(EnsureDefaultGroup(t, caller.account_id, now).status());
    EUCA_ASSIGN_OR_RETURN(auto existing, FindGroup(t, caller.account_id, name));
    if (existing)
      return Status(Code::kAlreadyExists, "the security group '" + name + "' already exists", "InvalidGroup.Duplicate");
    g = {};
    for (;;) {
      g.id = "sg-" + RandomHex(8);
      EUCA_ASSIGN_OR_RETURN(auto taken, t.Get(kSecurityGroupsKind, g.id));
      if (!taken) break;
    }
    g.account_id = caller.account_id;
    g.name = name;
    g.description = description;
    g.created_ms = now;
    return t.Put(ToObject(g));
  });
  if (!txn.ok()) return txn.status();
  return g;
}

Status SecurityGroups::Delete(const model::Principal& caller, const std::string& name_or_id,
                              const std::string& request_id) {
  if (name_or_id.empty())
    return Status(Code::kInvalidArgument, "the request must contain the parameter GroupName or GroupId",
                  "MissingParameter");
  auto txn =
      store_.Transact(Txn(caller, "DeleteSecurityGroup " + name_or_id, request_id), [&](state::Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(auto g, FindGroup(t, caller.account_id, name_or_id));
        if (!g) return GroupNotFound(name_or_id);
        if (g->name == kDefaultGroup)
          return Status(Code::kInvalidArgument, "the security group 'default' cannot be deleted", "CannotDelete");
        EUCA_ASSIGN_OR_RETURN(auto instances, t.List("instances", caller.account_id));
        for (const auto& o : instances) {
          if (o.body.value("state", "") == model::kTerminated) continue;
          for (const auto& name : o.body.value("groups", std::vector<std::string>{}))
            if (name == g->name || name == g->id)
              return Status(Code::kConflict, "the security group '" + g->name + "' is used by instance '" + o.id + "'",
                            "InvalidGroup.InUse");
        }
        EUCA_ASSIGN_OR_RETURN(auto groups, t.List(kSecurityGroupsKind));
        for (const auto& o : groups) {
          if (o.id == g->id) continue;
          model::SecurityGroup other = model::SecurityGroupFromJson(o.body);
          for (const auto& r : other.rules)
            if (r.source_group == g->id)
              return Status(Code::kConflict,
                            "the security group '" + g->name + "' is named by a rule of group '" + other.id + "'",
                            "InvalidGroup.InUse");
        }
        return t.Delete(kSecurityGroupsKind, g->id);
      });
  EUCA_RETURN_IF_ERROR(txn.status());
  Notify();
  return Status::Ok();
}

Result<std::vector<model::SecurityGroup>> SecurityGroups::Describe(const model::Principal& caller,
                                                                   const std::vector<std::string>& names_or_ids,
                                                                   const std::vector<api::Ec2Filter>& filters,
                                                                   bool all_accounts) {
  std::vector<model::SecurityGroup> groups;
  // The default group exists from the account's first look (no history when it does).
  auto txn = store_.Transact(Txn(caller, "CreateSecurityGroup default", ""), [&](state::Txn& t) -> Status {
    groups.clear();
    EUCA_RETURN_IF_ERROR(EnsureDefaultGroup(t, caller.account_id, clock_.NowMillis()).status());
    std::optional<std::string> parent;
    if (!all_accounts) parent = caller.account_id;
    EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kSecurityGroupsKind, parent));
    for (const auto& o : objects) groups.push_back(model::SecurityGroupFromJson(o.body));
    return Status::Ok();
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  std::sort(groups.begin(), groups.end(), [](const model::SecurityGroup& a, const model::SecurityGroup& b) {
    return std::tie(a.account_id, a.name) < std::tie(b.account_id, b.name);
  });
  auto named = [&](const model::SecurityGroup& g, const std::string& n) { return g.name == n || g.id == n; };
  for (const auto& n : names_or_ids)
    if (std::none_of(groups.begin(), groups.end(), [&](const model::SecurityGroup& g) { return named(g, n); }))
      return GroupNotFound(n);
  std::vector<model::SecurityGroup> out;
  for (auto& g : groups) {
    if (!names_or_ids.empty() &&
        std::none_of(names_or_ids.begin(), names_or_ids.end(), [&](const std::string& n) { return named(g, n); }))
      continue;
    bool keep = true;
    for (const auto& f : filters) {
      Status error;
      keep = MatchesFilter(f, g, &error);
      if (!error.ok()) return error;
      if (!keep) break;
    }
    if (keep) out.push_back(std::move(g));
  }
  return out;
}

Status SecurityGroups::Change(const model::Principal& caller, const std::string& group,
                              const std::vector<PermissionRequest>& permissions, bool add,
                              const std::string& request_id) {
  if (group.empty())
    return Status(Code::kInvalidArgument, "the request must contain the parameter GroupName or GroupId",
                  "MissingParameter");
  if (permissions.empty())
    return Status(Code::kInvalidArgument, "the request names no permission (IpProtocol or IpPermissions.1)",
                  "MissingParameter");
  const std::string action = add ? "AuthorizeSecurityGroupIngress " : "RevokeSecurityGroupIngress ";
  auto txn = store_.Transact(Txn(caller, action + group, request_id), [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(model::SecurityGroup g, MustFind(t, caller.account_id, group));
    for (const auto& p : permissions) {
      EUCA_ASSIGN_OR_RETURN(model::GroupRule r, Resolve(t, caller, p));
      auto it = std::find(g.rules.begin(), g.rules.end(), r);
      if (add) {
        if (it != g.rules.end())
          return Status(Code::kAlreadyExists, "the permission is already in security group '" + g.name + "'",
                        "InvalidPermission.Duplicate");
        g.rules.push_back(std::move(r));
      } else {
        if (it == g.rules.end())
          return Status(Code::kNotFound, "the permission is not in security group '" + g.name + "'",
                        "InvalidPermission.NotFound");
        g.rules.erase(it);
      }
    }
    return t.Put(ToObject(g));
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  Notify();
  return Status::Ok();
}

Status SecurityGroups::Authorize(const model::Principal& caller, const std::string& group,
                                 const std::vector<PermissionRequest>& permissions, const std::string& request_id) {
  return Change(caller, group, permissions, true, request_id);
}

Status SecurityGroups::Revoke(const model::Principal& caller, const std::string& group,
                              const std::vector<PermissionRequest>& permissions, const std::string& request_id) {
  return Change(caller, group, permissions, false, request_id);
}

std::string SecurityGroups::GroupName(const std::string& id) {
  std::string name;
  (void)store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kSecurityGroupsKind, id));
    if (obj) name = obj->name;
    return Status::Ok();
  });
  return name;
}

// ---- EC2 ----------------------------------------------------------------------------------------

namespace {

Result<std::optional<int>> OptionalInt(const api::Ec2Request& req, const std::string& name) {
  EUCA_ASSIGN_OR_RETURN(auto v, req.GetInt(name, -1, 65535));
  if (!v) return std::optional<int>();
  return std::optional<int>(static_cast<int>(*v));
}

// Both parameter styles into permissions.
Result<std::vector<PermissionRequest>> Permissions(const api::Ec2Request& req) {
  std::vector<PermissionRequest> out;
  for (int n : req.Indices("IpPermissions")) {
    const std::string base = "IpPermissions." + std::to_string(n) + ".";
    PermissionRequest common;
    common.protocol = req.GetOr(base + "IpProtocol");
    EUCA_ASSIGN_OR_RETURN(common.from_port, OptionalInt(req, base + "FromPort"));
    EUCA_ASSIGN_OR_RETURN(common.to_port, OptionalInt(req, base + "ToPort"));
    size_t before = out.size();
    for (const auto& cidr : req.List(base + "IpRanges")) {  // IpRanges.M (old) has no field
      PermissionRequest p = common;
      p.cidr = cidr;
      out.push_back(p);
    }
    for (int m : req.Indices(base + "IpRanges")) {
      std::string cidr = req.GetOr(base + "IpRanges." + std::to_string(m) + ".CidrIp");
      if (cidr.empty()) continue;
      PermissionRequest p = common;
      p.cidr = cidr;
      out.push_back(p);
    }
    for (int m : req.Indices(base + "Groups")) {
      const std::string g = base + "Groups." + std::to_string(m) + ".";
      PermissionRequest p = common;
      p.source_group_name = req.GetOr(g + "GroupName");
      p.source_group_id = req.GetOr(g + "GroupId");
      p.source_group_owner = req.GetOr(g + "UserId");
      if (p.source_group_name.empty() && p.source_group_id.empty())
        return BadValue("source group " + std::to_string(m) + " of permission " + std::to_string(n) +
                        " has neither GroupName nor GroupId");
      out.push_back(p);
    }
    if (out.size() == before) {  // no source: from anywhere
      common.cidr = "0.0.0.0/0";
      out.push_back(common);
    }
  }
  if (req.Has("IpProtocol") || req.Has("CidrIp") || req.Has("SourceSecurityGroupName")) {
    PermissionRequest p;
    p.protocol = req.GetOr("IpProtocol");
    EUCA_ASSIGN_OR_RETURN(p.from_port, OptionalInt(req, "FromPort"));
    EUCA_ASSIGN_OR_RETURN(p.to_port, OptionalInt(req, "ToPort"));
    p.cidr = req.GetOr("CidrIp");
    p.source_group_name = req.GetOr("SourceSecurityGroupName");
    p.source_group_owner = req.GetOr("SourceSecurityGroupOwnerId");
    out.push_back(p);
  }
  return out;
}

void AddPermissions(pugi::xml_node set, const model::SecurityGroup& g,
                    const std::map<std::string, std::string>& names) {
  // One ipPermission per protocol and port range, its sources together (EC2's shape).
  std::vector<std::tuple<std::string, int, int>> order;
  for (const auto& r : g.rules) {
    auto key = std::make_tuple(r.protocol, r.from_port, r.to_port);
    if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
  }
  for (const auto& [proto, from, to] : order) {
    auto item = api::AddItem(set);
    api::AddText(item, "ipProtocol", proto);
    if (proto != "-1") {
      api::AddInt(item, "fromPort", from);
      api::AddInt(item, "toPort", to);
    }
    auto groups = item.append_child("groups");
    auto ranges = item.append_child("ipRanges");
    for (const auto& r : g.rules) {
      if (r.protocol != proto || r.from_port != from || r.to_port != to) continue;
      if (!r.source_group.empty()) {
        auto gi = api::AddItem(groups);
        api::AddText(gi, "userId", r.source_account);
        api::AddText(gi, "groupId", r.source_group);
        auto name = names.find(r.source_group);
        api::AddText(gi, "groupName", name == names.end() ? "" : name->second);
      } else {
        api::AddText(api::AddItem(ranges), "cidrIp", r.cidr);
      }
    }
  }
}

std::string GroupParam(const api::Ec2Request& req) {
  std::string g = req.GetOr("GroupId");
  return g.empty() ? req.GetOr("GroupName") : g;
}

}  // namespace

void AddSecurityGroupActions(Ec2Actions& actions, SecurityGroups& groups) {
  SecurityGroups* sg = &groups;
  actions.Add("CreateSecurityGroup",
              [sg](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(std::string name, req.Required("GroupName"));
                EUCA_ASSIGN_OR_RETURN(std::string description, req.Required("GroupDescription"));
                EUCA_ASSIGN_OR_RETURN(auto g, sg->Create(caller, name, description, req.request_id()));
                api::AddBool(response, "return", true);
                api::AddText(response, "groupId", g.id);
                return Status::Ok();
              });
  actions.Add("DeleteSecurityGroup",
              [sg](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_RETURN_IF_ERROR(sg->Delete(caller, GroupParam(req), req.request_id()));
                api::AddBool(response, "return", true);
                return Status::Ok();
              });
  actions.Add("DescribeSecurityGroups",
              [sg](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                std::vector<std::string> wanted = req.List("GroupName");
                for (auto& id : req.List("GroupId")) wanted.push_back(id);
                bool verbose = false;
                if (caller.IsCloudAdmin()) {
                  auto it = std::find(wanted.begin(), wanted.end(), "verbose");
                  if (it != wanted.end()) {
                    verbose = true;
                    wanted.erase(it);
                  }
                }
                EUCA_ASSIGN_OR_RETURN(auto filters, req.Filters());
                EUCA_ASSIGN_OR_RETURN(auto found, sg->Describe(caller, wanted, filters, verbose));
                std::map<std::string, std::string> names;
                for (const auto& g : found)
                  for (const auto& r : g.rules)
                    if (!r.source_group.empty() && !names.count(r.source_group))
                      names[r.source_group] = sg->GroupName(r.source_group);
                auto set = response.append_child("securityGroupInfo");
                for (const auto& g : found) {
                  auto item = api::AddItem(set);
                  api::AddText(item, "ownerId", g.account_id);
                  api::AddText(item, "groupId", g.id);
                  api::AddText(item, "groupName", g.name);
                  api::AddText(item, "groupDescription", g.description);
                  AddPermissions(item.append_child("ipPermissions"), g, names);
                  item.append_child("ipPermissionsEgress");
                }
                return Status::Ok();
              });
  for (bool add : {true, false}) {
    actions.Add(
        add ? "AuthorizeSecurityGroupIngress" : "RevokeSecurityGroupIngress",
        [sg, add](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
          EUCA_ASSIGN_OR_RETURN(auto permissions, Permissions(req));
          const std::string group = GroupParam(req);
          EUCA_RETURN_IF_ERROR(add ? sg->Authorize(caller, group, permissions, req.request_id())
                                   : sg->Revoke(caller, group, permissions, req.request_id()));
          api::AddBool(response, "return", true);
          return Status::Ok();
        });
  }
}

}  // namespace euca::clc
