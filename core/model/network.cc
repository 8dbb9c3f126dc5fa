#include "core/model/network.h"

namespace euca::model {

Json ToJson(const GroupRule& r) {
  Json j = {{"protocol", r.protocol}, {"from_port", r.from_port}, {"to_port", r.to_port}};
  if (!r.cidr.empty()) j["cidr"] = r.cidr;
  if (!r.source_group.empty()) {
    j["source_account"] = r.source_account;
    j["source_group"] = r.source_group;
  }
  return j;
}

Json ToJson(const SecurityGroup& g) {
  Json rules = Json::array();
  for (const auto& r : g.rules) rules.push_back(ToJson(r));
  return {
      {"id", g.id},     {"account", g.account_id},          {"name", g.name},         {"description", g.description},
      {"rules", rules}, {"network_index", g.network_index}, {"created", g.created_ms}};
}

Json ToJson(const Address& a) {
  Json j = {{"public_ip", a.public_ip},
          {"account", a.account_id},
          {"instance", a.instance_id},
          {"auto_assigned", a.auto_assigned},
          {"allocated", a.allocated_ms}};
  if (a.lease_expires_ms != 0) j["lease_expires"] = a.lease_expires_ms;
  return j;
}

GroupRule GroupRuleFromJson(const Json& j) {
  GroupRule r;
  r.protocol = j.value("protocol", "");
  r.from_port = j.value("from_port", -1);
  r.to_port = j.value("to_port", -1);
  r.cidr = j.value("cidr", "");
  r.source_account = j.value("source_account", "");
  r.source_group = j.value("source_group", "");
  return r;
}

SecurityGroup SecurityGroupFromJson(const Json& j) {
  SecurityGroup g;
  g.id = j.value("id", "");
  g.account_id = j.value("account", "");
  g.name = j.value("name", "");
  g.description = j.value("description", "");
  if (j.contains("rules"))
    for (const auto& r : j.at("rules")) g.rules.push_back(GroupRuleFromJson(r));
  g.network_index = j.value("network_index", 0);
  g.created_ms = j.value("created", int64_t{0});
  return g;
}

Address AddressFromJson(const Json& j) {
  Address a;
  a.public_ip = j.value("public_ip", "");
  a.account_id = j.value("account", "");
  a.instance_id = j.value("instance", "");
  a.auto_assigned = j.value("auto_assigned", false);
  a.allocated_ms = j.value("allocated", int64_t{0});
  a.lease_expires_ms = j.value("lease_expires", int64_t{0});
  return a;
}

}  // namespace euca::model
