// Render: DesiredState -> links, iptables-restore input, dnsmasq configurations.
// docs/networking.md ("Driver") describes the output; tests/data/network holds golden files.
//
// The rules are written the way `iptables-save` prints them back (the nf_tables backend of
// iptables 1.8), so that a driver can compare what the kernel holds with what it would apply
// chain by chain, and apply nothing when they agree.

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/network/network.h"

namespace euca::network {
namespace {

// ---- IPv4 ----

bool ParseIp(std::string_view text, uint32_t* out) {
  uint32_t value = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
    uint32_t octet = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      octet = octet * 10 + static_cast<uint32_t>(text[i] - '0');
      if (++digits > 3 || octet > 255) return false;
      ++i;
    }
    if (digits > 1 && text[i - digits] == '0') return false;  // no leading zeros (octal in some parsers)
    value = (value << 8) | octet;
    if (++parts < 4) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
  }
  if (i != text.size()) return false;
  *out = value;
  return true;
}

std::string IpString(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) +
         "." + std::to_string(ip & 255);
}

uint32_t Mask(int prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

struct Cidr {
  uint32_t base = 0;  // host bits cleared
  int prefix = 32;
  uint32_t first() const { return base; }
  uint32_t last() const { return base | ~Mask(prefix); }
  bool Contains(uint32_t ip) const { return (ip & Mask(prefix)) == base; }
  std::string ToString() const { return IpString(base) + "/" + std::to_string(prefix); }
};

// "a.b.c.d/n"; `exact` refuses host bits set.
bool ParseCidr(std::string_view text, bool exact, Cidr* out) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  uint32_t ip = 0;
  if (!ParseIp(text.substr(0, slash), &ip)) return false;
  std::string_view p = text.substr(slash + 1);
  if (p.empty() || p.size() > 2) return false;
  int prefix = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    prefix = prefix * 10 + (c - '0');
  }
  if (prefix > 32) return false;
  if (exact && (ip & ~Mask(prefix)) != 0) return false;
  *out = {ip & Mask(prefix), prefix};
  return true;
}

bool ValidIfName(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    if (c <= ' ' || c == '/' || c == ':' || c == '\'' || c == '"' || c == '\\' || c == 0x7f) return false;
  }
  return true;
}

bool ValidMac(std::string_view mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    char c = mac[i];
    if (i % 3 == 2) {
      if (c != ':') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// ---- Validated view of the state ----

struct Net {
  const Group* group;
  Cidr subnet;
  uint32_t gateway;
  std::string bridge;
  std::string chain;
};

struct Checked {
  std::vector<Net> nets;                                        // by index
  std::map<std::string, const Group*> groups;                   // by id
  std::map<std::string, const Net*> net_of;                     // group id -> network
  std::vector<const Endpoint*> endpoints;                       // served here (not elsewhere), by instance id
  std::map<std::string, std::vector<const Endpoint*>> members;  // group id -> its instances (any of their groups)
  std::map<std::string, std::vector<const Endpoint*>> on_net;   // group id -> served instances in its network
  std::string public_interface;
  std::string metadata_target;  // "ip:port" or ":port" (each network's gateway) canonical, "" = none
};

Status CheckRule(const Group& g, const IngressRule& r, const std::map<std::string, const Group*>& groups) {
  std::string where = "rule of group '" + g.id + "'";
  if (r.protocol == "tcp" || r.protocol == "udp") {
    if (r.from_port < 0 || r.from_port > 65535 || r.to_port < r.from_port || r.to_port > 65535) {
      return InvalidArgument(where + ": port range " + std::to_string(r.from_port) + "-" + std::to_string(r.to_port) +
                             " is not within 0-65535 with from <= to");
    }
  } else if (r.protocol == "icmp") {
    if (r.from_port < -1 || r.from_port > 255 || r.to_port < -1 || r.to_port > 255) {
      return InvalidArgument(where + ": icmp type:code " + std::to_string(r.from_port) + ":" +
                             std::to_string(r.to_port) + " is not within -1..255");
    }
    if (r.from_port == -1 && r.to_port != -1) {
      return InvalidArgument(where + ": icmp code " + std::to_string(r.to_port) + " needs an icmp type");
    }
  } else if (r.protocol != "-1") {
    return InvalidArgument(where + ": protocol " + Quote(r.protocol) + " is not one of tcp, udp, icmp, -1");
  }
  if (r.cidr.empty() == r.source_group.empty()) {
    return InvalidArgument(where + ": give exactly one of a CIDR and a source group");
  }
  Cidr c;
  if (!r.cidr.empty() && !ParseCidr(r.cidr, false, &c)) {
    return InvalidArgument(where + ": " + Quote(r.cidr) + " is not a CIDR (a.b.c.d/n)");
  }
  if (!r.source_group.empty() && !groups.count(r.source_group)) {
    return InvalidArgument(where + ": source group " + Quote(r.source_group) + " is not in the state");
  }
  return Status::Ok();
}

Result<Checked> Check(const DesiredState& s) {
  Checked out;
  bool managed = IsManaged(s.mode);
  for (const std::string& d : s.dns) {
    uint32_t ip;
    if (!ParseIp(d, &ip)) return InvalidArgument("name server " + Quote(d) + " is not an IPv4 address");
  }
  if (!s.metadata_target.empty()) {
    size_t colon = s.metadata_target.rfind(':');
    uint32_t ip = 0;
    std::string_view port = colon == std::string::npos ? "" : std::string_view(s.metadata_target).substr(colon + 1);
    // ":PORT": the gateway of each instance's own network (the host), in the MANAGED modes.
    const bool gateway = colon == 0 && managed;
    bool ok = colon != std::string::npos && (gateway || ParseIp(std::string_view(s.metadata_target).substr(0, colon), &ip)) &&
              !port.empty() && port.size() <= 5 &&
              std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
              std::stoi(std::string(port)) >= 1 && std::stoi(std::string(port)) <= 65535;
    if (!ok) {
      return InvalidArgument("metadata target " + Quote(s.metadata_target) + " is not ip:port" +
                             (managed ? " or :port" : ""));
    }
    out.metadata_target = (gateway ? "" : IpString(ip)) + ":" + std::to_string(std::stoi(std::string(port)));
  }

  // Groups (every mode: rules may name them; only MANAGED* makes networks of them).
  for (const Group& g : s.groups) {
    if (g.id.empty()) return InvalidArgument("a group has no id");
    if (!out.groups.emplace(g.id, &g).second) return InvalidArgument("group " + Quote(g.id) + " appears twice");
  }
  if (managed) {
    if (!s.public_interface.empty() && !ValidIfName(s.public_interface)) {
      return InvalidArgument("public interface " + Quote(s.public_interface) + " is not an interface name");
    }
    out.public_interface = s.public_interface.empty() ? "lo" : s.public_interface;
    if (s.mode == Mode::kManaged && !ValidIfName(s.private_interface)) {
      return InvalidArgument("MANAGED needs a private interface for its VLAN devices; " + Quote(s.private_interface) +
                             " is not an interface name");
    }
    std::set<int> indexes, vlans;
    for (const Group& g : s.groups) {
      if (g.index == 0) continue;  // no network (e.g. only a rule's source group)
      if (g.index < 1 || g.index > 4095) {
        return InvalidArgument("group " + Quote(g.id) + ": network index " + std::to_string(g.index) +
                               " is not within 1..4095");
      }
      if (!indexes.insert(g.index).second) {
        return InvalidArgument("group " + Quote(g.id) + ": network index " + std::to_string(g.index) +
                               " is used by another group");
      }
      Net n{&g, {}, 0, BridgeName(g.index), NetworkChain(g.index)};
      if (!ParseCidr(g.subnet, true, &n.subnet) || n.subnet.prefix > 29 || n.subnet.prefix < 8) {
        return InvalidArgument("group " + Quote(g.id) + ": subnet " + Quote(g.subnet) +
                               " is not a network address a.b.c.d/n with n in 8..29");
      }
      n.gateway = n.subnet.first() + 1;
      if (s.mode == Mode::kManaged) {
        if (g.vlan < 2 || g.vlan > 4094) {
          return InvalidArgument("group " + Quote(g.id) + ": VLAN tag " + std::to_string(g.vlan) +
                                 " is not within 2..4094");
        }
        if (!vlans.insert(g.vlan).second) {
          return InvalidArgument("group " + Quote(g.id) + ": VLAN tag " + std::to_string(g.vlan) +
                                 " is used by another group");
        }
        std::string dev = s.private_interface + "." + std::to_string(g.vlan);
        if (!ValidIfName(dev))
          return InvalidArgument("VLAN device name " + Quote(dev) + " is longer than 15 characters");
      }
      out.nets.push_back(n);
    }
    std::sort(out.nets.begin(), out.nets.end(),
              [](const Net& a, const Net& b) { return a.group->index < b.group->index; });
    // Subnets must not overlap: sort by first address and compare neighbours.
    std::vector<const Net*> by_addr;
    for (const Net& n : out.nets) by_addr.push_back(&n);
    std::sort(by_addr.begin(), by_addr.end(),
              [](const Net* a, const Net* b) { return a->subnet.first() < b->subnet.first(); });
    for (size_t i = 1; i < by_addr.size(); ++i) {
      if (by_addr[i]->subnet.first() <= by_addr[i - 1]->subnet.last()) {
        return InvalidArgument("group " + Quote(by_addr[i]->group->id) + ": subnet " +
                               Quote(by_addr[i]->group->subnet) + " overlaps the subnet of group " +
                               Quote(by_addr[i - 1]->group->id));
      }
    }
    for (const Net& n : out.nets) out.net_of[n.group->id] = &n;
    for (const Group& g : s.groups) {
      for (const IngressRule& r : g.ingress) EUCA_RETURN_IF_ERROR(CheckRule(g, r, out.groups));
    }
  } else {
    if (!ValidIfName(s.bridge)) {
      return InvalidArgument(std::string(ModeName(s.mode)) + " needs the bridge instances join; " + Quote(s.bridge) +
                             " is not an interface name");
    }
  }

  Cidr static_net;
  if (s.mode == Mode::kStatic) {
    if (!ParseCidr(s.subnet, true, &static_net) || static_net.prefix > 30) {
      return InvalidArgument("STATIC subnet " + Quote(s.subnet) + " is not a network address a.b.c.d/n with n <= 30");
    }
    uint32_t gw;
    if (!s.gateway.empty() && (!ParseIp(s.gateway, &gw) || !static_net.Contains(gw))) {
      return InvalidArgument("STATIC gateway " + Quote(s.gateway) + " is not an address in " + Quote(s.subnet));
    }
  }

  // Endpoints.
  std::set<std::string> ids, macs, privs, pubs;
  for (const Endpoint& e : s.endpoints) out.endpoints.push_back(&e);
  std::sort(out.endpoints.begin(), out.endpoints.end(),
            [](const Endpoint* a, const Endpoint* b) { return a->instance_id < b->instance_id; });
  for (const Endpoint* e : out.endpoints) {
    std::string who = "instance " + Quote(e->instance_id);
    if (e->instance_id.empty()) return InvalidArgument("an endpoint has no instance id");
    if (!ids.insert(e->instance_id).second) return InvalidArgument(who + " appears twice");
    if (!ValidMac(e->mac)) return InvalidArgument(who + ": MAC " + Quote(e->mac) + " is not xx:xx:xx:xx:xx:xx");
    if (!macs.insert(Lower(e->mac)).second) return InvalidArgument(who + ": MAC " + Quote(e->mac) + " is used twice");
    uint32_t ip = 0;
    bool has_ip = !e->private_ip.empty();
    if (has_ip && !ParseIp(e->private_ip, &ip)) {
      return InvalidArgument(who + ": private address " + Quote(e->private_ip) + " is not an IPv4 address");
    }
    if (has_ip && !privs.insert(e->private_ip).second) {
      return InvalidArgument(who + ": private address " + Quote(e->private_ip) + " is used twice");
    }
    if (managed) {
      auto it = out.net_of.find(e->group_id);
      if (it == out.net_of.end()) {
        return InvalidArgument(who + ": group " + Quote(e->group_id) + " has no network in the state");
      }
      const Net& n = *it->second;
      if (!has_ip) return InvalidArgument(who + " has no private address");
      if (!n.subnet.Contains(ip) || ip == n.subnet.first() || ip == n.gateway || ip == n.subnet.last()) {
        return InvalidArgument(who + ": private address " + Quote(e->private_ip) + " is not a host address of " +
                               Quote(n.group->subnet) + " (the first two and the last are taken)");
      }
      for (const std::string& gid : e->groups) {
        if (!out.groups.count(gid)) return InvalidArgument(who + ": group " + Quote(gid) + " is not in the state");
      }
      if (!e->public_ip.empty()) {
        uint32_t pub;
        if (!ParseIp(e->public_ip, &pub)) {
          return InvalidArgument(who + ": public address " + Quote(e->public_ip) + " is not an IPv4 address");
        }
        if (!pubs.insert(e->public_ip).second) {
          return InvalidArgument(who + ": public address " + Quote(e->public_ip) + " is used twice");
        }
        for (const Net& other : out.nets) {
          if (other.subnet.Contains(pub)) {
            return InvalidArgument(who + ": public address " + Quote(e->public_ip) + " lies in the subnet of group " +
                                   Quote(other.group->id));
          }
        }
      }
    } else if (s.mode == Mode::kStatic) {
      if (!has_ip || !static_net.Contains(ip) || ip == static_net.first() || ip == static_net.last()) {
        return InvalidArgument(who + ": private address " + Quote(e->private_ip) + " is not a host address of " +
                               Quote(s.subnet));
      }
    }
  }
  for (const Endpoint* e : out.endpoints) {
    if (!e->elsewhere) out.on_net[e->group_id].push_back(e);
    std::set<std::string> seen;
    if (!e->group_id.empty() && seen.insert(e->group_id).second) out.members[e->group_id].push_back(e);
    for (const std::string& g : e->groups) {
      if (seen.insert(g).second) out.members[g].push_back(e);
    }
  }
  // From here on `endpoints` are the ones this host serves (DHCP, public addresses).
  std::erase_if(out.endpoints, [](const Endpoint* e) { return e->elsewhere; });
  return out;
}

// ---- Rules ----

void Cat(std::string& out, std::initializer_list<std::string_view> parts) {
  for (std::string_view p : parts) out.append(p);
}

std::string Source(const std::string& cidr) { return cidr == "0.0.0.0/0" ? "" : "-s " + cidr + " "; }

// The match part of an ingress rule after "-s X ", as iptables-save prints it.
// UDP ports go through the multiport match: the udp match's port parser asks getaddrinfo for a
// service name first, and glibc's getaddrinfo dumps every address of the host over netlink,
// so with a thousand bridges loading 10,000 rules took seconds instead of a fraction of one.
std::string RuleMatch(const IngressRule& r) {
  if (r.protocol == "tcp" || r.protocol == "udp") {
    bool all = r.from_port == 0 && r.to_port == 65535;
    std::string m = "-p " + r.protocol + " -m " + (r.protocol == "udp" && !all ? "multiport" : r.protocol) + " ";
    if (all) return m;
    std::string flag = r.protocol == "udp" ? "--dports " : "--dport ";
    if (r.from_port == r.to_port) return m + flag + std::to_string(r.from_port) + " ";
    return m + flag + std::to_string(r.from_port) + ":" + std::to_string(r.to_port) + " ";
  }
  if (r.protocol == "icmp") {
    if (r.from_port == -1) return "-p icmp ";
    std::string type = std::to_string(r.from_port);
    if (r.to_port == -1) return "-p icmp -m icmp --icmp-type " + type + " ";
    return "-p icmp -m icmp --icmp-type " + type + "/" + std::to_string(r.to_port) + " ";
  }
  return "";  // -1: every protocol
}

std::string RuleComment(const IngressRule& r) {
  std::string what = r.protocol == "-1" ? "all" : r.protocol;
  if (r.protocol == "tcp" || r.protocol == "udp") {
    what += " " + std::to_string(r.from_port) + (r.to_port != r.from_port ? "-" + std::to_string(r.to_port) : "");
  } else if (r.protocol == "icmp") {
    what += " " + std::to_string(r.from_port) + ":" + std::to_string(r.to_port);
  }
  return "# " + what + " from " + (r.cidr.empty() ? "group " + r.source_group : r.cidr) + "\n";
}

std::string RenderFilter(const DesiredState& s, const Checked& c) {
  std::string out = "# euca " + std::string(ModeName(s.mode)) +
                    ": filter rules (iptables-restore --noflush; FORWARD jumps to EUCA-FORWARD)\n*filter\n";
  out += ":EUCA-FORWARD - [0:0]\n";
  for (const Net& n : c.nets) out += ":" + n.chain + " - [0:0]\n";
  if (!c.nets.empty()) {
    // Anti-spoofing first: a packet from a network's bridge must carry a source of that
    // network, or it could pose as a member of another group (whose rules trust its subnet
    // or its members' addresses) and pass the default deny.
    out += "# a packet from an instance network must come from that network's addresses\n";
    for (const Net& n : c.nets) out += "-A EUCA-FORWARD ! -s " + n.subnet.ToString() + " -i " + n.bridge + " -j DROP\n";
    out += "-A EUCA-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";
    for (const Net& n : c.nets) out += "-A EUCA-FORWARD -d " + n.subnet.ToString() + " -j " + n.chain + "\n";
    out += "-A EUCA-FORWARD -i eucabr+ -j ACCEPT\n";
  }
  // One group's ingress rules into `chain`; `to` ("" or "-d a.b.c.d/32 ") narrows them to one
  // instance (a rule of an instance's second or later group). Matches are written in
  // iptables-save's order (-s, -d, -i, -p ...) so the driver can compare chains by text.
  auto rules = [&](const std::string& chain, const Group& g, const std::string& to) {
    for (const IngressRule& r : g.ingress) {
      out += RuleComment(r);
      std::string match = RuleMatch(r);
      if (!r.cidr.empty()) {
        Cidr cidr;
        ParseCidr(r.cidr, false, &cidr);
        Cat(out, {"-A ", chain, " ", Source(cidr.ToString()), to, match, "-j ACCEPT\n"});
        continue;
      }
      auto members = c.members.find(r.source_group);
      if (members == c.members.end()) continue;
      for (const Endpoint* e : members->second) {
        if (e->private_ip.empty()) continue;
        Cat(out, {"-A ", chain, " -s ", e->private_ip, "/32 ", to, match, "-j ACCEPT\n"});
      }
    }
  };
  for (const Net& n : c.nets) {
    const Group& g = *n.group;
    const std::string subnet = n.subnet.ToString();
    Cat(out, {"# ", n.chain, ": ", g.id, " (", g.account_id, "/", g.name, ") ", subnet, " on ", n.bridge, "\n"});
    Cat(out, {"-A ", n.chain, " -s ", subnet, " -j ACCEPT\n"});
    rules(n.chain, g, "");
    // An instance sits in its first group's network; the rules of its other groups open
    // that instance alone.
    auto on = c.on_net.find(g.id);
    if (on != c.on_net.end()) {
      for (const Endpoint* e : on->second) {
        for (const std::string& other : std::set<std::string>(e->groups.begin(), e->groups.end())) {
          if (other == g.id) continue;
          const Group& og = *c.groups.at(other);
          if (og.ingress.empty()) continue;
          Cat(out, {"# ", e->instance_id, " is also in ", og.id, " (", og.account_id, "/", og.name, ")\n"});
          rules(n.chain, og, "-d " + e->private_ip + "/32 ");
        }
      }
    }
    Cat(out, {"-A ", n.chain, " -j DROP\n"});
  }
  out += "COMMIT\n";
  return out;
}

std::string RenderNat(const DesiredState& s, const Checked& c) {
  std::string out = "# euca " + std::string(ModeName(s.mode)) +
                    ": nat rules (iptables-restore --noflush; PREROUTING, OUTPUT, POSTROUTING jump to EUCA-*)\n"
                    "*nat\n:EUCA-PREROUTING - [0:0]\n:EUCA-OUTPUT - [0:0]\n:EUCA-POSTROUTING - [0:0]\n";
  bool managed = IsManaged(s.mode);
  std::string from = managed ? "eucabr+" : s.bridge;
  bool metadata = !c.metadata_target.empty() && (s.mode == Mode::kStatic || (managed && !c.nets.empty()));
  if (metadata && c.metadata_target.front() == ':') {
    // The service on the host, reached at each network's own gateway address.
    out += "# instance metadata: " + std::string(kMetadataAddress) + ":80 -> each network's gateway" +
           c.metadata_target + "\n";
    for (const Net& n : c.nets) {
      out += "-A EUCA-PREROUTING -d " + std::string(kMetadataAddress) + "/32 -i " + n.bridge +
             " -p tcp -m tcp --dport 80 -j DNAT --to-destination " + IpString(n.gateway) + c.metadata_target + "\n";
    }
  } else if (metadata) {
    out += "# instance metadata: " + std::string(kMetadataAddress) + ":80 -> " + c.metadata_target + "\n";
    out += "-A EUCA-PREROUTING -d " + std::string(kMetadataAddress) + "/32 -i " + from +
           " -p tcp -m tcp --dport 80 -j DNAT --to-destination " + c.metadata_target + "\n";
  }
  if (managed) {
    std::vector<const Endpoint*> with_public;
    for (const Endpoint* e : c.endpoints) {
      if (!e->public_ip.empty()) with_public.push_back(e);
    }
    for (const Endpoint* e : with_public) {
      out += "-A EUCA-PREROUTING -d " + e->public_ip + "/32 -j DNAT --to-destination " + e->private_ip + "\n";
    }
    for (const Endpoint* e : with_public) {
      out += "-A EUCA-OUTPUT -d " + e->public_ip + "/32 -j DNAT --to-destination " + e->private_ip + "\n";
    }
    if (metadata) {
      out += "# metadata requests keep the instance's address\n";
      out += "-A EUCA-POSTROUTING -m conntrack --ctstate DNAT --ctorigdst " + std::string(kMetadataAddress) +
             " -j ACCEPT\n";
    }
    if (!c.nets.empty()) {
      out += "# traffic into instance networks keeps its source\n";
      out += "-A EUCA-POSTROUTING -o eucabr+ -j ACCEPT\n";
    }
    for (const Endpoint* e : with_public) {
      out += "-A EUCA-POSTROUTING -s " + e->private_ip + "/32 -j SNAT --to-source " + e->public_ip + "\n";
    }
    for (const Net& n : c.nets) out += "-A EUCA-POSTROUTING -s " + n.subnet.ToString() + " -j MASQUERADE\n";
  } else if (metadata) {
    out += "# metadata requests keep the instance's address\n";
    out +=
        "-A EUCA-POSTROUTING -m conntrack --ctstate DNAT --ctorigdst " + std::string(kMetadataAddress) + " -j ACCEPT\n";
  }
  out += "COMMIT\n";
  return out;
}

std::string Netmask(int prefix) { return IpString(Mask(prefix)); }

// One network's part of the DHCP server's configuration: its bridge, its static range,
// tagged with the bridge's name so that the options apply to that network only.
std::string DhcpSection(const std::string& bridge, const std::string& title, const Cidr& subnet,
                        const std::string& router, const DesiredState& s) {
  std::string tag = "tag:" + bridge + ",";
  std::string out = "# " + bridge + ": " + title + "\n";
  out += "interface=" + bridge + "\n";
  out += "dhcp-range=set:" + bridge + "," + IpString(subnet.base) + ",static," + Netmask(subnet.prefix) + ",20m\n";
  out += "dhcp-option=" + tag + "option:router" + (router.empty() ? "" : "," + router) + "\n";
  if (!s.dns.empty()) {
    out += "dhcp-option=" + tag + "option:dns-server";
    for (const std::string& d : s.dns) out += "," + d;
    out += "\n";
  }
  return out;
}

std::string DhcpHosts(const std::vector<const Endpoint*>& hosts) {
  std::string out;
  for (const Endpoint* e : hosts) out += Lower(e->mac) + "," + e->private_ip + "\n";
  return out;
}

// The whole configuration of the one dnsmasq: what every network shares, then the sections.
std::string DhcpConf(const std::string& mode, const std::string& sections, std::string_view state_dir) {
  std::string dir = std::string(state_dir) + "/dhcp/";
  std::string out = "# euca " + mode + ": one DHCP server for the instance networks; hosts in " + dir + "hosts\n";
  out += "port=0\n";
  out += "bind-interfaces\n";
  out += "except-interface=lo\n";
  out += "no-resolv\n";
  out += "no-hosts\n";
  out += "dhcp-authoritative\n";
  out += "dhcp-hostsfile=" + dir + "hosts\n";
  out += "pid-file=" + dir + "dnsmasq.pid\n";
  out += "dhcp-leasefile=" + dir + "dnsmasq.leases\n";
  return out + sections;
}

std::string RenderLinks(const DesiredState& s, const Checked& c) {
  std::vector<std::string> lines;
  for (const Net& n : c.nets) {
    lines.push_back("bridge " + n.bridge + " " + IpString(n.gateway) + "/" + std::to_string(n.subnet.prefix));
    if (s.mode == Mode::kManaged) {
      lines.push_back("vlan " + s.private_interface + "." + std::to_string(n.group->vlan) + " bridge " + n.bridge);
    }
  }
  if (IsManaged(s.mode)) {
    for (const Endpoint* e : c.endpoints) {
      if (!e->public_ip.empty()) lines.push_back("address " + e->public_ip + "/32 dev " + c.public_interface);
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

}  // namespace

std::string NetworkChain(int index) { return "EUCA-NET-" + std::to_string(index); }

Result<Rendered> Render(const DesiredState& state) { return Render(state, kDefaultStateDir); }

Result<Rendered> Render(const DesiredState& state, std::string_view state_dir) {
  EUCA_ASSIGN_OR_RETURN(Checked c, Check(state));
  Rendered r;
  r.links = RenderLinks(state, c);
  r.filter = RenderFilter(state, c);
  r.nat = RenderNat(state, c);
  std::string sections;
  if (IsManaged(state.mode)) {
    for (const Net& n : c.nets) {
      auto hosts = c.on_net.find(n.group->id);
      if (hosts == c.on_net.end()) continue;  // nobody to serve: not served
      std::string title = n.group->id + " (" + n.group->account_id + "/" + n.group->name + ") " + n.subnet.ToString();
      sections += DhcpSection(n.bridge, title, n.subnet, IpString(n.gateway), state);
      r.dhcp_hosts += DhcpHosts(hosts->second);
    }
  } else if (state.mode == Mode::kStatic && !c.endpoints.empty()) {
    Cidr net;
    ParseCidr(state.subnet, true, &net);
    sections = DhcpSection(state.bridge, "STATIC " + net.ToString(), net, state.gateway, state);
    r.dhcp_hosts = DhcpHosts(c.endpoints);
  }
  if (!sections.empty()) r.dhcp_conf = DhcpConf(std::string(ModeName(state.mode)), sections, state_dir);
  return r;
}

}  // namespace euca::network
