#include "core/clc/properties.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/clc/cluster_directory.h"

namespace euca::clc {
namespace {

constexpr size_t kMaxStringValue = 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '-'; });
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Checkers of string properties: the canonical value, or nullopt.
std::optional<std::string> CheckRegion(std::string_view v) {
  std::string lower = Lower(v);
  if (!IsDnsLabel(lower)) return std::nullopt;
  return lower;
}

// "" or http(s)://host[:port][/path]; canonical with lower-case scheme and host and no
// trailing '/' after the host.
std::optional<std::string> CanonicalUrl(std::string_view v) {
  if (v.empty()) return std::string();
  std::string lower = Lower(v);
  std::string_view scheme;
  if (lower.rfind("http://", 0) == 0) scheme = "http://";
  else if (lower.rfind("https://", 0) == 0) scheme = "https://";
  else return std::nullopt;
  std::string_view rest = v.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // [ipv6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
    if (host.size() < 3 || host.find_first_not_of("[]0123456789abcdefABCDEF:.") != std::string_view::npos)
      return std::nullopt;
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '-' || c == '.' || c == '_';
        }))
      return std::nullopt;
  }
  if (authority.size() != host.size()) {
    auto p = ParseInt(port);
    if (!p || *p < 1 || *p > 65535 || port.front() == '+') return std::nullopt;
  }
  for (unsigned char c : path)
    if (c <= ' ' || c >= 0x7f) return std::nullopt;
  if (path == "/") path = {};
  return std::string(scheme) + Lower(authority) + std::string(path);
}

// A libvirt connection URI the node controller can use: DRIVER[+TRANSPORT]://[HOST]/PATH for the
// qemu and test drivers (qemu:///system, test:///default, qemu+ssh://host/system), or fake://
// (the in-memory hypervisor, for trying a cloud without VMs).
std::optional<std::string> CheckHypervisorUri(std::string_view v) {
  std::string s(v);
  size_t sep = s.find("://");
  if (sep == std::string::npos || sep == 0) return std::nullopt;
  std::string scheme = Lower(s.substr(0, sep));
  std::string driver = scheme.substr(0, scheme.find('+'));
  if (driver != "qemu" && driver != "test" && driver != "fake") return std::nullopt;
  if (std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c >= 0x7f; })) return std::nullopt;
  return scheme + s.substr(sep);
}

// nc.firmware: auto, bios or an absolute path without control characters or spaces.
std::optional<std::string> CheckFirmware(std::string_view v) {
  std::string s(v);
  if (s == "auto" || s == "bios") return s;
  if (s.size() < 2 || s[0] != '/') return std::nullopt;
  if (std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; })) return std::nullopt;
  return s;
}

// A cluster (availability zone) name: [a-zA-Z0-9][a-zA-Z0-9._-]{0,62}.
std::optional<std::string> CheckZoneName(std::string_view v) {
  auto ok = [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; };
  if (v.empty() || v.size() > 63 || !std::isalnum(static_cast<unsigned char>(v[0]))) return std::nullopt;
  if (!std::all_of(v.begin(), v.end(), ok)) return std::nullopt;
  if (IsReservedZoneName(v)) return std::nullopt;
  return std::string(v);
}

// ---- Network properties (issue 7; docs/networking.md) ----

std::optional<uint32_t> Ipv4(std::string_view s) {
  uint32_t out = 0;
  for (int part = 0; part < 4; ++part) {
    size_t dot = part < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return std::nullopt;
    std::string_view p = s.substr(0, dot);
    auto v = ParseInt(p);
    if (!v || *v < 0 || *v > 255 || p.front() == '+' || (p.size() > 1 && p.front() == '0')) return std::nullopt;
    out = (out << 8) | static_cast<uint32_t>(*v);
    s.remove_prefix(std::min(s.size(), dot + 1));
    if (part < 3 && s.empty()) return std::nullopt;
  }
  return out;
}

std::vector<std::string> ListWords(std::string_view v) {
  std::vector<std::string> out;
  std::string w;
  for (char c : v) {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!w.empty()) out.push_back(std::move(w));
      w.clear();
    } else {
      w += c;
    }
  }
  if (!w.empty()) out.push_back(std::move(w));
  return out;
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::optional<std::string> CheckIpv4(std::string_view v) {
  if (!Ipv4(v)) return std::nullopt;
  return std::string(v);
}

std::optional<std::string> CheckNetmask(std::string_view v) {
  auto m = Ipv4(v);
  if (!m) return std::nullopt;
  uint32_t inverted = ~*m;
  if ((inverted & (inverted + 1)) != 0 || *m == 0) return std::nullopt;  // contiguous ones, at least /1
  return std::string(v);
}

std::optional<std::string> CheckAddrsPerNet(std::string_view v) {
  auto n = ParseInt(v);
  if (!n || *n < 16 || *n > 2048 || (*n & (*n - 1)) != 0) return std::nullopt;
  return std::to_string(*n);
}

// "a.b.c.d e.f.g.h", "a.b.c.d-e.f.g.h", or both mixed; at most 65536 addresses.
std::optional<std::string> CheckPublicIps(std::string_view v) {
  std::vector<std::string> words = ListWords(v);
  uint64_t total = 0;
  for (const auto& w : words) {
    size_t dash = w.find('-');
    if (dash == std::string::npos) {
      if (!Ipv4(w)) return std::nullopt;
      ++total;
      continue;
    }
    auto a = Ipv4(std::string_view(w).substr(0, dash)), b = Ipv4(std::string_view(w).substr(dash + 1));
    if (!a || !b || *b < *a) return std::nullopt;
    total += uint64_t{*b} - *a + 1;
  }
  if (total > 65536) return std::nullopt;
  return JoinWords(words);
}

std::optional<std::string> CheckIpList(std::string_view v) {
  std::vector<std::string> words = ListWords(v);
  for (const auto& w : words)
    if (!Ipv4(w)) return std::nullopt;
  return JoinWords(words);
}

bool IsMac(std::string_view s) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2 ? s[i] != ':' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// "MAC=IP MAC=IP": MACs lower case, each MAC and IP at most once.
std::optional<std::string> CheckMacMap(std::string_view v) {
  std::vector<std::string> words = ListWords(v);
  std::vector<std::string> macs, ips;
  for (auto& w : words) {
    size_t eq = w.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string mac = Lower(std::string_view(w).substr(0, eq)), ip = w.substr(eq + 1);
    if (!IsMac(mac) || !Ipv4(ip)) return std::nullopt;
    if (std::find(macs.begin(), macs.end(), mac) != macs.end() || std::find(ips.begin(), ips.end(), ip) != ips.end())
      return std::nullopt;
    macs.push_back(mac);
    ips.push_back(ip);
    w = mac + "=" + ip;
  }
  return JoinWords(words);
}

// A network interface name ("" = none): at most 15 of [A-Za-z0-9._-].
std::optional<std::string> CheckInterface(std::string_view v) {
  if (v.size() > 15) return std::nullopt;
  auto ok = [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; };
  if (!std::all_of(v.begin(), v.end(), ok)) return std::nullopt;
  return std::string(v);
}

// "" or IP:PORT.
std::optional<std::string> CheckHostPort(std::string_view v) {
  if (v.empty()) return std::string();
  size_t colon = v.rfind(':');
  // ":PORT" = that port on the gateway of each instance's network (the host itself).
  if (colon == std::string_view::npos || (colon != 0 && !Ipv4(v.substr(0, colon)))) return std::nullopt;
  auto port = ParseInt(v.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535 || v[colon + 1] == '+') return std::nullopt;
  return std::string(v.substr(0, colon)) + ":" + std::to_string(*port);
}

std::vector<PropertyDef> MakeRegistry() {
  std::vector<PropertyDef> defs;
  auto add = [&defs](PropertyDef d) { defs.push_back(std::move(d)); };
  // Keep docs/properties.md in step.
  add({.name = "cloud.region",
       .type = PropertyType::kString,
       .default_value = "euca",
       .description = "Region name the cloud reports to clients (a DNS label).",
       .check = &CheckRegion,
       .form = "a DNS label (letters, digits and '-', at most 63)"});
  add({.name = "cloud.description",
       .type = PropertyType::kString,
       .default_value = "",
       .description = "Free-text description of this cloud."});
  add({.name = "services.ec2-url",
       .type = PropertyType::kUrl,
       .default_value = "",
       .description = "EC2 endpoint written to eucarc as EC2_URL; empty means embedded mode."});
  add({.name = "services.s3-url",
       .type = PropertyType::kUrl,
       .default_value = "",
       .description = "S3 (Walrus) endpoint written to eucarc as S3_URL; empty means embedded mode."});
  add({.name = "credentials.cert-validity-days",
       .type = PropertyType::kInt,
       .default_value = "3650",
       .description = "Validity in days of user certificates issued by get-credentials.",
       .min = 1,
       .max = 36500});
  add({.name = "walrus.image-cache-bytes",
       .type = PropertyType::kInt,
       .default_value = "32212254720",
       .description = "Bytes of decrypted images Walrus keeps for node controllers (LRU); 0 keeps none. "
                      "Read when 'euca serve walrus' starts.",
       .min = 0,
       .max = int64_t{1} << 50});
  add({.name = "nc.hypervisor",
       .type = PropertyType::kString,
       .default_value = "qemu:///system",
       .description = "Hypervisor URI of the embedded node controller: qemu:///system (real VMs), "
                      "test:///default (libvirt's fake) or fake:// (in memory).",
       .check = &CheckHypervisorUri,
       .form = "a libvirt URI of the qemu or test driver (qemu:///system, test:///default) or fake://"});
  add({.name = "nc.accel",
       .type = PropertyType::kEnum,
       .default_value = "auto",
       .description = "CPU acceleration of the embedded node controller's VMs: kvm, tcg (QEMU's "
                      "software emulation) or auto (KVM when it works, else TCG).",
       .choices = {"auto", "kvm", "tcg"}});
  add({.name = "nc.firmware",
       .type = PropertyType::kString,
       .default_value = "auto",
       .description = "BIOS of the node controllers' VMs that boot a kernel directly: auto (qboot, "
                      "QEMU's minimal firmware, when the node has it: the kernel starts sooner; else "
                      "SeaBIOS), bios (always SeaBIOS) or the absolute path of a BIOS ROM on the nodes. "
                      "VMs that boot from their own disk always get SeaBIOS.",
       .check = &CheckFirmware,
       .form = "auto, bios or the absolute path of a BIOS ROM"});
  add({.name = "cloud.embedded-zone",
       .type = PropertyType::kString,
       .default_value = "local",
       .description = "Name of the availability zone of a cloud without registered clusters, whose "
                      "cluster controller and node controller run inside the cloud controller.",
       .check = &CheckZoneName,
       .form = "a zone name (letters, digits, '.', '_' and '-', at most 63, starting with a letter or digit; "
               "not any, single, spread or verbose, which RunInstances and describe-availability-zones read "
               "otherwise)"});
  add({.name = "cloud.embedded-policy",
       .type = PropertyType::kEnum,
       .default_value = "greedy",
       .description = "How the clusters the cloud controller runs in-process (the embedded zone) place "
                      "instances on their nodes: greedy (first fit, as in the seeds), roundrobin, pack (the "
                      "fullest node that fits) or spread (the emptiest). Read when such a cluster is made: by "
                      "each embedded command, and by euca serve clc when it starts. A remote cluster "
                      "controller has its own (euca serve cc --policy).",
       .choices = {"greedy", "roundrobin", "pack", "spread"}});
  add({.name = "signup.auto-approve",
       .type = PropertyType::kBool,
       .default_value = "false",
       .description = "Approve account sign-up requests without an administrator."});
  add({.name = "cloud.storage-lease-grace",
       .type = PropertyType::kDuration,
       .default_value = "7d",
       .description = "How long an image whose storage lease expired stays (expired, not launchable) before "
                      "euca admin cleanup deregisters it and deletes its bundle (docs/sla.md)."});
  add({.name = "cloud.terminated-visible-seconds",
       .type = PropertyType::kInt,
       .default_value = "3600",
       .description = "Seconds a terminated instance stays visible to describe-instances before its record "
                      "is removed.",
       .min = 0,
       .max = 31'536'000});
  // Networking (issue 7): docs/networking.md "Cloud side"; the modes are in euca-networking(7).
  add({.name = "network.mode",
       .type = PropertyType::kEnum,
       .default_value = "MANAGED-NOVLAN",
       .description = "Networking mode: SYSTEM (the LAN's bridge and DHCP), STATIC (network.mac-map pairs), "
                      "MANAGED (a network and VLAN per security group) or MANAGED-NOVLAN (the same without "
                      "VLAN tags). Changed only while no instance runs.",
       .choices = {"SYSTEM", "STATIC", "MANAGED", "MANAGED-NOVLAN"}});
  add({.name = "network.driver",
       .type = PropertyType::kEnum,
       .default_value = "plan",
       .description = "How the network state is applied: plan (rendered and recorded under EUCA_HOME/network, "
                      "the host untouched) or linux (bridges, VLANs, iptables, dnsmasq). Read when the cloud starts.",
       .choices = {"plan", "linux"}});
  add({.name = "network.subnet",
       .type = PropertyType::kString,
       .default_value = "10.1.0.0",
       .description = "MANAGED modes: the private range cut into one block per security group; STATIC: the "
                      "flat network. Changed only while no instance runs.",
       .check = &CheckIpv4,
       .form = "an IPv4 address such as 10.1.0.0"});
  add({.name = "network.netmask",
       .type = PropertyType::kString,
       .default_value = "255.255.0.0",
       .description = "Netmask of network.subnet. Changed only while no instance runs.",
       .check = &CheckNetmask,
       .form = "an IPv4 netmask such as 255.255.0.0"});
  add({.name = "network.addrs-per-net",
       .type = PropertyType::kString,
       .default_value = "32",
       .description = "MANAGED modes: addresses in each security group's block (network, router, instances, "
                      "broadcast). Changed only while no instance runs.",
       .check = &CheckAddrsPerNet,
       .form = "a power of 2 from 16 to 2048"});
  add({.name = "network.public-ips",
       .type = PropertyType::kString,
       .default_value = "",
       .description = "MANAGED modes: the public addresses allocate-address hands out: a list (\"a b c\") and/or "
                      "ranges (\"a-b\"); empty = none.",
       .check = &CheckPublicIps,
       .form = "IPv4 addresses and FIRST-LAST ranges separated by blanks, at most 65536 addresses"});
  add({.name = "network.dns",
       .type = PropertyType::kString,
       .default_value = "",
       .description = "Name servers handed to instances by DHCP (blank-separated IPv4 addresses).",
       .check = &CheckIpList,
       .form = "IPv4 addresses separated by blanks"});
  add({.name = "network.mac-map",
       .type = PropertyType::kString,
       .default_value = "",
       .description = "STATIC: the MAC=IP pairs instances get, first free pair first.",
       .check = &CheckMacMap,
       .form = "MAC=IP pairs separated by blanks (aa:bb:cc:dd:ee:ff=10.0.0.5), each MAC and IP once"});
  add({.name = "network.bridge",
       .type = PropertyType::kString,
       .default_value = "br0",
       .description = "SYSTEM and STATIC: the existing bridge instances join.",
       .check = &CheckInterface,
       .form = "an interface name (at most 15 letters, digits, '.', '_' and '-')"});
  add({.name = "network.public-interface",
       .type = PropertyType::kString,
       .default_value = "",
       .description = "MANAGED modes: the interface public addresses are added to (empty = lo).",
       .check = &CheckInterface,
       .form = "an interface name (at most 15 letters, digits, '.', '_' and '-'), or empty"});
  add({.name = "network.private-interface",
       .type = PropertyType::kString,
       .default_value = "",
       .description = "MANAGED: the interface the VLAN devices are made on.",
       .check = &CheckInterface,
       .form = "an interface name (at most 15 letters, digits, '.', '_' and '-'), or empty"});
  add({.name = "network.metadata-target",
       .type = PropertyType::kString,
       .default_value = "",
       .description = "MANAGED modes and STATIC: IP:PORT of the instance metadata service that "
                      "169.254.169.254:80 is redirected to, or (MANAGED modes) :PORT for that port on the gateway "
                      "of each instance's network (a `euca serve clc` on this host listening on all addresses); "
                      "empty = no redirect.",
       .check = &CheckHostPort,
       .form = "IP:PORT, :PORT, or empty"});
  add({.name = "network.default-addressing",
       .type = PropertyType::kEnum,
       .default_value = "private",
       .description = "MANAGED modes: whether instances get a public address at launch when run-instances does "
                      "not say (--addressing): public or private.",
       .choices = {"private", "public"}});
  std::sort(defs.begin(), defs.end(), [](const PropertyDef& a, const PropertyDef& b) { return a.name < b.name; });
  return defs;
}

}  // namespace

std::string_view PropertyTypeName(PropertyType type) {
  switch (type) {
    case PropertyType::kString: return "string";
    case PropertyType::kInt: return "int";
    case PropertyType::kBool: return "bool";
    case PropertyType::kEnum: return "enum";
    case PropertyType::kDuration: return "duration";
    case PropertyType::kUrl: return "url";
  }
  return "string";
}

std::string PropertyDef::ExpectedForm() const {
  switch (type) {
    case PropertyType::kString:
      if (check) return form;
      return "text without control characters, at most " + std::to_string(kMaxStringValue) + " bytes";
    case PropertyType::kInt:
      return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    case PropertyType::kBool:
      return "true or false";
    case PropertyType::kEnum: {
      std::string out = "one of ";
      for (size_t i = 0; i < choices.size(); ++i) out += (i ? ", " : "") + choices[i];
      return out;
    }
    case PropertyType::kDuration:
      return "a duration such as 30m, 6h or 7d, or none";
    case PropertyType::kUrl:
      return "an http:// or https:// URL, or empty";
  }
  return "";
}

const std::vector<PropertyDef>& Properties() {
  static const std::vector<PropertyDef> kDefs = MakeRegistry();
  return kDefs;
}

Result<const PropertyDef*> FindProperty(std::string_view name) {
  for (const auto& d : Properties())
    if (d.name == name) return &d;
  return InvalidArgument("unknown property '" + std::string(name) + "'; 'euca-describe-properties' lists them");
}

Result<std::optional<int64_t>> ParseDuration(std::string_view text) {
  std::string v = Lower(Trim(text));
  if (v == "none") return std::optional<int64_t>();
  static constexpr std::pair<char, int64_t> kUnits[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  if (v.size() >= 2 && std::isdigit(static_cast<unsigned char>(v.front()))) {
    for (auto [unit, seconds] : kUnits) {
      if (v.back() != unit) continue;
      auto n = ParseInt(std::string_view(v).substr(0, v.size() - 1));
      if (n && *n >= 0 && *n <= INT64_MAX / seconds) return std::optional<int64_t>(*n * seconds);
    }
  }
  return InvalidArgument("duration '" + std::string(text) + "' is not of the form 30m, 6h, 7d or none");
}

Result<std::string> CanonicalPropertyValue(const PropertyDef& def, std::string_view raw) {
  std::string_view v = Trim(raw);
  auto bad = [&]() {
    return InvalidArgument("property '" + def.name + "' cannot be '" + std::string(raw) + "': expected " +
                           def.ExpectedForm());
  };
  switch (def.type) {
    case PropertyType::kString: {
      if (v.size() > kMaxStringValue) return bad();
      for (unsigned char c : v)
        if (c < ' ' || c == 0x7f) return bad();
      if (!def.check) return std::string(v);
      auto checked = def.check(v);
      if (!checked) return bad();
      return *checked;
    }
    case PropertyType::kInt: {
      auto n = ParseInt(v);
      if (!n || *n < def.min || *n > def.max) return bad();
      return std::to_string(*n);
    }
    case PropertyType::kBool: {
      std::string l = Lower(v);
      if (l == "true" || l == "yes" || l == "on" || l == "1") return std::string("true");
      if (l == "false" || l == "no" || l == "off" || l == "0") return std::string("false");
      return bad();
    }
    case PropertyType::kEnum: {
      std::string l = Lower(v);
      for (const auto& c : def.choices)
        if (Lower(c) == l) return c;
      return bad();
    }
    case PropertyType::kDuration: {
      auto d = ParseDuration(v);
      if (!d.ok()) return bad();
      if (!*d) return std::string("none");
      std::string l = Lower(v);
      return std::to_string(**d / (l.back() == 'd' ? 86400 : l.back() == 'h' ? 3600 : l.back() == 'm' ? 60 : 1)) +
             l.back();
    }
    case PropertyType::kUrl: {
      auto url = CanonicalUrl(v);
      if (!url) return bad();
      return *url;
    }
  }
  return bad();
}

}  // namespace euca::clc
