#pragma once
// Value types of the cloud's networking (issue 7; docs/networking.md "Cloud side") and their
// JSON as stored in the state store:
//   kind "security-groups": id "sg-" + 8 hex, parent = account id, name unique per account
//   kind "addresses":       id = the public IPv4 address, parent = owner account id

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace euca::model {

using Json = nlohmann::ordered_json;

/// One ingress permission of a security group with one source: a CIDR, or a group.
struct GroupRule {
  std::string protocol;        ///< "tcp", "udp", "icmp" or "-1" (all)
  int from_port = -1;          ///< tcp/udp first port; icmp type (-1 any); "-1": -1
  int to_port = -1;            ///< tcp/udp last port; icmp code (-1 any); "-1": -1
  std::string cidr;            ///< "a.b.c.d/n", or "" when the source is a group
  std::string source_account;  ///< the source group's account ("" with a CIDR)
  std::string source_group;    ///< the source group's id ("" with a CIDR)
  bool operator==(const GroupRule&) const = default;
};

struct SecurityGroup {
  std::string id;  ///< "sg-" + 8 hex
  std::string account_id;
  std::string name;
  std::string description;
  std::vector<GroupRule> rules;  ///< in the order they were authorized
  /// MANAGED modes: the network number (2.., names its bridge, block and VLAN tag), allocated
  /// on the group's first instance; 0 = none yet.
  int network_index = 0;
  int64_t created_ms = 0;
};

/// An allocated public address. Unallocated addresses of network.public-ips are not stored.
struct Address {
  std::string public_ip;
  std::string account_id;
  std::string instance_id;     ///< associated instance, "" = none
  bool auto_assigned = false;  ///< given at launch (--addressing public): released at terminate
  int64_t allocated_ms = 0;
  int64_t lease_expires_ms = 0;  ///< the SLA's address lease (docs/sla.md): released after it; 0 = none
};

Json ToJson(const GroupRule& r);
Json ToJson(const SecurityGroup& g);
Json ToJson(const Address& a);
GroupRule GroupRuleFromJson(const Json& j);
SecurityGroup SecurityGroupFromJson(const Json& j);
Address AddressFromJson(const Json& j);

}  // namespace euca::model
