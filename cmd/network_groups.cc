// Security groups, euca2ools style: euca create-group, delete-group, describe-groups,
// authorize, revoke. Each is one EC2 action through CallEc2 (in process, or EC2_URL); the
// records come from the reply XML.

#include <CLI/CLI.hpp>
#include <regex>

#include "cmd/common.h"
#include "cmd/ec2_call.h"
#include "core/api/ec2_query.h"

namespace euca::cmd {
using api::ChildText;

namespace {

// Ec2Params naming the group: GroupId for "sg-...", else GroupName.
void AddGroupParam(Ec2Params& params, const std::string& group) {
  params.emplace_back(group.rfind("sg-", 0) == 0 ? "GroupId" : "GroupName", group);
}

// The PERMISSION records of one group of a DescribeSecurityGroups reply.
void AddPermissionRecords(pugi::xml_node group, std::vector<Record>& records) {
  const std::string owner = ChildText(group, "ownerId");
  const std::string name = ChildText(group, "groupName");
  for (auto perm : group.child("ipPermissions").children("item")) {
    std::string proto = ChildText(perm, "ipProtocol");
    std::vector<Field> head = {{"owner", owner},
                               {"group", name},
                               {"allows", "ALLOWS"},
                               {"protocol", proto},
                               {"from_port", ChildText(perm, "fromPort")},
                               {"to_port", ChildText(perm, "toPort")}};
    for (auto g : perm.child("groups").children("item")) {
      Record r{"PERMISSION", head};
      r.fields.push_back({"from", "FROM"});
      r.fields.push_back({"user_tag", "USER"});
      r.fields.push_back({"source_owner", ChildText(g, "userId")});
      if (!ChildText(g, "groupName").empty()) {
        r.fields.push_back({"name_tag", "NAME"});
        r.fields.push_back({"source_group", ChildText(g, "groupName")});
      }
      r.fields.push_back({"id_tag", "ID"});
      r.fields.push_back({"source_group_id", ChildText(g, "groupId")});
      r.fields.push_back({"direction", "ingress"});
      records.push_back(std::move(r));
    }
    for (auto range : perm.child("ipRanges").children("item")) {
      Record r{"PERMISSION", head};
      r.fields.push_back({"from", "FROM"});
      r.fields.push_back({"cidr_tag", "CIDR"});
      r.fields.push_back({"cidr", ChildText(range, "cidrIp")});
      r.fields.push_back({"direction", "ingress"});
      records.push_back(std::move(r));
    }
  }
}

struct RuleOptions {
  std::string group;
  std::string protocol = "tcp";
  std::string ports;
  std::string icmp = "-1:-1";
  std::vector<std::string> cidrs;
  std::string source_group;
  std::string source_user;
  bool egress = false;
  Ec2KeyFlags keys;
};

void AddRuleOptions(CLI::App& app, RuleOptions& o) {
  AddRequiredArg(app, "GROUP", o.group, "the group to change (name or sg-id)");
  app.add_option("-P,--protocol", o.protocol, "tcp, udp, icmp, or -1/all for every protocol (default tcp)")
      ->type_name("PROTOCOL");
  app.add_option("-p,--port-range", o.ports, "port or FROM-TO range (tcp and udp; -1 = every port)")
      ->type_name("PORTS");
  app.add_option("-t,--icmp-type-code", o.icmp, "ICMP TYPE:CODE (icmp; default -1:-1, every type and code)")
      ->type_name("TYPE:CODE");
  app.add_option("-s,--cidr,--source-subnet", o.cidrs, "source addresses (repeatable; default 0.0.0.0/0)")
      ->type_name("CIDR")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-o,--source-group", o.source_group, "source security group (name or sg-id)")->type_name("GROUP");
  app.add_option("-u,--source-group-user", o.source_user, "account of the source group (default: yours)")
      ->type_name("ACCOUNT");
  app.add_flag("--egress", o.egress, "egress rules (VPC only: refused)");
  AddEc2KeyFlags(app, o.keys, /*old_letters=*/false);
}

Result<int> PortNumber(const std::string& text, const std::string& what) {
  static const std::regex kNumber(R"(-?[0-9]{1,5})");
  if (!std::regex_match(text, kNumber)) return InvalidArgument(what + " '" + text + "' is not a number");
  return std::stoi(text);
}

// The rule as IpPermissions.1 parameters and as PERMISSION fields (euca2ools 3).
Status RuleParams(const RuleOptions& o, Ec2Params& params, std::vector<Field>& fields) {
  if (o.egress) return InvalidArgument("--egress needs a VPC; this cloud has none");
  std::string proto = o.protocol;
  if (proto == "all") proto = "-1";
  std::string from, to;
  if (proto == "tcp" || proto == "udp" || proto == "6" || proto == "17") {
    if (o.ports.empty()) return InvalidArgument("give a port or range with -p for protocol '" + proto + "'");
    if (o.ports.find(':') != std::string::npos)
      return InvalidArgument("port range '" + o.ports + "' must be FROM-TO, not FROM:TO");
    if (o.ports == "-1") {
      from = "1", to = "65535";
    } else {
      size_t dash = o.ports.find('-', 1);
      from = o.ports.substr(0, dash);
      to = dash == std::string::npos ? from : o.ports.substr(dash + 1);
      EUCA_RETURN_IF_ERROR(PortNumber(from, "port").status());
      EUCA_RETURN_IF_ERROR(PortNumber(to, "port").status());
    }
  } else if (proto == "icmp" || proto == "1") {
    if (!o.ports.empty())
      return InvalidArgument("-p gives ports of tcp and udp; for icmp give -t TYPE:CODE (-1 for any)");
    size_t colon = o.icmp.find(':');
    if (colon == std::string::npos) return InvalidArgument("ICMP type and code '" + o.icmp + "' must be TYPE:CODE");
    from = o.icmp.substr(0, colon);
    to = o.icmp.substr(colon + 1);
    EUCA_RETURN_IF_ERROR(PortNumber(from, "ICMP type").status());
    EUCA_RETURN_IF_ERROR(PortNumber(to, "ICMP code").status());
  }
  if (!o.source_user.empty() && o.source_group.empty())
    return InvalidArgument("-u names the account of a source group: give the group with -o");
  const std::string p = "IpPermissions.1.";
  params.emplace_back(p + "IpProtocol", proto);
  if (!from.empty()) {
    params.emplace_back(p + "FromPort", from);
    params.emplace_back(p + "ToPort", to);
  }
  fields = {{"group", o.group}, {"allows", "ALLOWS"}, {"protocol", proto}, {"from_port", from}, {"to_port", to}};
  if (!o.source_group.empty()) {
    if (!o.source_user.empty()) {
      params.emplace_back(p + "Groups.1.UserId", o.source_user);
      fields.push_back({"user_tag", "USER"});
      fields.push_back({"source_owner", o.source_user});
    }
    bool by_id = o.source_group.rfind("sg-", 0) == 0;
    params.emplace_back(p + (by_id ? "Groups.1.GroupId" : "Groups.1.GroupName"), o.source_group);
    fields.push_back({by_id ? "id_tag" : "name_tag", by_id ? "ID" : "NAME"});
    fields.push_back({by_id ? "source_group_id" : "source_group", o.source_group});
  }
  std::vector<std::string> cidrs = o.cidrs;
  if (cidrs.empty() && o.source_group.empty()) cidrs.push_back("0.0.0.0/0");
  for (size_t i = 0; i < cidrs.size(); ++i) {
    params.emplace_back(p + "IpRanges." + std::to_string(i + 1) + ".CidrIp", cidrs[i]);
    fields.push_back({"from", "FROM"});
    fields.push_back({"cidr_tag", "CIDR"});
    fields.push_back({"cidr", cidrs[i]});
  }
  return Status::Ok();
}

Handler RuleHandler(CLI::App& app, const char* action) {
  auto o = std::make_shared<RuleOptions>();
  AddRuleOptions(app, *o);
  return [o, action](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    Ec2Params params;
    AddGroupParam(params, o->group);
    std::vector<Field> fields;
    EUCA_RETURN_IF_ERROR(RuleParams(*o, params, fields));
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, action, params));
    (void)doc;
    PrintRecords(ctx, {{"GROUP", {{"group", o->group}}}, {"PERMISSION", fields}});
    return Status::Ok();
  };
}

}  // namespace

Handler SetupCreateGroup(CLI::App& app) {
  struct Options {
    std::string name;
    std::string description;
    std::string vpc;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "GROUP", o->name, "name of the new security group");
  app.add_option("-d,--description", o->description, "what the group is for")->type_name("DESC")->required();
  app.add_option("-c,--vpc", o->vpc, "VPC of the group (refused: this cloud has none)")->type_name("VPC");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    if (!o->vpc.empty()) return InvalidArgument("--vpc '" + o->vpc + "': this cloud has no VPCs");
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(
        pugi::xml_document doc,
        CallEc2(c, "CreateSecurityGroup", {{"GroupName", o->name}, {"GroupDescription", o->description}}));
    PrintRecords(
        ctx,
        {{"GROUP", {{"id", ChildText(Ec2Root(doc), "groupId")}, {"name", o->name}, {"description", o->description}}}});
    return Status::Ok();
  };
}

Handler SetupDeleteGroup(CLI::App& app) {
  struct Options {
    std::string group;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "GROUP", o->group, "the group to delete (name or sg-id)");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    Ec2Params params;
    AddGroupParam(params, o->group);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DeleteSecurityGroup", params));
    (void)doc;
    PrintRecords(ctx, {{"RETURN", {{"return", true}}}});
    return Status::Ok();
  };
}

Handler SetupDescribeGroups(CLI::App& app) {
  struct Options {
    std::vector<std::string> groups;
    std::vector<std::string> filters;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("GROUP", o->groups, "groups to show, by name or sg-id (default: all of the account's)")
      ->type_name("GROUP");
  AddFilterOption(app, o->filters);
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(Ec2Params params, FilterParams(o->filters));
    int names = 0, ids = 0;
    for (const auto& g : o->groups) {
      if (g.rfind("sg-", 0) == 0) {
        params.emplace_back("GroupId." + std::to_string(++ids), g);
      } else {
        params.emplace_back("GroupName." + std::to_string(++names), g);
      }
    }
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DescribeSecurityGroups", params));
    std::vector<Record> records;
    for (auto item : Ec2Root(doc).child("securityGroupInfo").children("item")) {
      records.push_back({"GROUP",
                         {{"id", ChildText(item, "groupId")},
                          {"owner", ChildText(item, "ownerId")},
                          {"name", ChildText(item, "groupName")},
                          {"description", ChildText(item, "groupDescription")},
                          {"vpc", ChildText(item, "vpcId")}}});
      AddPermissionRecords(item, records);
    }
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupAuthorize(CLI::App& app) { return RuleHandler(app, "AuthorizeSecurityGroupIngress"); }

Handler SetupRevoke(CLI::App& app) { return RuleHandler(app, "RevokeSecurityGroupIngress"); }

}  // namespace euca::cmd
