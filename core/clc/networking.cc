#include "core/clc/networking.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <set>

#include "core/base/random.h"
#include "core/clc/properties.h"
#include "drivers/network/state_json.h"

namespace euca::clc {
namespace {

constexpr char kInstances[] = "instances";
constexpr char kProperties[] = "properties";

// The properties that move networks: changing them needs every instance terminated.
constexpr const char* kLayoutProperties[] = {"network.mode", "network.subnet", "network.netmask",
                                             "network.addrs-per-net"};

Result<std::string> Property(state::Txn& t, const std::string& name) {
  EUCA_ASSIGN_OR_RETURN(const PropertyDef* def, FindProperty(name));
  EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kProperties, name));
  if (!obj) return def->default_value;
  return obj->body.value("value", def->default_value);
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

Status ConfigError(const std::string& message) {
  return Status(Code::kInvalidArgument, message, "InvalidParameterValue");
}

bool IsLive(const model::Instance& i) { return i.state != model::kTerminated && i.state != model::kShuttingDown; }

// An exclusive flock(2) on a file, held until Unlock or destruction.
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() { Unlock(); }
  Status Lock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Internal("cannot open '" + path + "': " + std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      Status s = Internal("cannot lock '" + path + "': " + std::strerror(errno));
      Unlock();
      return s;
    }
    return Status::Ok();
  }
  void Unlock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string MacOf(const std::string& instance_id) {
  std::string hex = instance_id.size() > 2 ? instance_id.substr(2) : "";
  while (hex.size() < 8) hex = "0" + hex;
  hex = hex.substr(0, 8);
  return "d0:0d:" + hex.substr(0, 2) + ":" + hex.substr(2, 2) + ":" + hex.substr(4, 2) + ":" + hex.substr(6, 2);
}

}  // namespace

// ---- Addresses ----------------------------------------------------------------------------------

std::optional<uint32_t> ParseIpv4(std::string_view text) {
  uint32_t out = 0;
  for (int part = 0; part < 4; ++part) {
    size_t dot = text.find('.');
    if ((part < 3) != (dot != std::string_view::npos)) return std::nullopt;  // exactly three dots
    std::string_view p = text.substr(0, dot);
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || p.size() > 3 || ec != std::errc() || ptr != p.data() + p.size() || v > 255 ||
        (p.size() > 1 && p[0] == '0'))
      return std::nullopt;
    out = (out << 8) | v;
    if (dot != std::string_view::npos) text.remove_prefix(dot + 1);
  }
  return out;
}

std::string FormatIpv4(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) +
         "." + std::to_string(ip & 255);
}

std::optional<std::pair<uint32_t, int>> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = ParseIpv4(text.substr(0, slash));
  std::string_view len = text.substr(slash + 1);
  int n = -1;
  auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (!ip || len.empty() || ec != std::errc() || ptr != len.data() + len.size() || n < 0 || n > 32) return std::nullopt;
  return std::make_pair(*ip, n);
}

// ---- Configuration ------------------------------------------------------------------------------

int NetworkConfig::MaxIndex() const {
  uint64_t size = uint64_t{1} << (32 - prefix);
  uint64_t blocks = addrs_per_net > 0 ? size / static_cast<uint64_t>(addrs_per_net) : 0;
  return static_cast<int>(std::min<uint64_t>(4094, blocks + 1));
}

uint32_t NetworkConfig::BlockBase(int index) const {
  return subnet + static_cast<uint32_t>(index - 2) * static_cast<uint32_t>(addrs_per_net);
}

std::string NetworkConfig::BlockCidr(int index) const {
  int bits = 0;
  while ((1 << bits) < addrs_per_net) ++bits;
  return FormatIpv4(BlockBase(index)) + "/" + std::to_string(32 - bits);
}

std::string NetworkConfig::SubnetCidr() const { return FormatIpv4(subnet) + "/" + std::to_string(prefix); }

Result<NetworkConfig> ReadNetworkConfig(state::Txn& t) {
  NetworkConfig c;
  EUCA_ASSIGN_OR_RETURN(std::string mode, Property(t, "network.mode"));
  EUCA_ASSIGN_OR_RETURN(c.mode, network::ParseMode(mode));
  EUCA_ASSIGN_OR_RETURN(c.driver, Property(t, "network.driver"));
  EUCA_ASSIGN_OR_RETURN(std::string subnet, Property(t, "network.subnet"));
  EUCA_ASSIGN_OR_RETURN(std::string netmask, Property(t, "network.netmask"));
  auto s = ParseIpv4(subnet);
  auto m = ParseIpv4(netmask);
  if (!s) return ConfigError("property 'network.subnet' holds '" + subnet + "', not an IPv4 address");
  if (!m) return ConfigError("property 'network.netmask' holds '" + netmask + "', not an IPv4 netmask");
  c.subnet = *s;
  c.netmask = *m;
  c.prefix = 0;
  while (c.prefix < 32 && (c.netmask & (0x80000000u >> c.prefix))) ++c.prefix;
  if (c.prefix < 32 && (c.netmask << c.prefix) != 0)
    return ConfigError("property 'network.netmask' holds '" + netmask + "', not a contiguous netmask");
  if ((c.subnet & c.netmask) != c.subnet)
    return ConfigError("property 'network.subnet' '" + subnet + "' has host bits under network.netmask '" + netmask +
                       "': use '" + FormatIpv4(c.subnet & c.netmask) + "'");
  EUCA_ASSIGN_OR_RETURN(std::string per, Property(t, "network.addrs-per-net"));
  c.addrs_per_net = std::stoi(per);
  if (uint64_t{static_cast<uint64_t>(c.addrs_per_net)} > (uint64_t{1} << (32 - c.prefix)))
    return ConfigError("property 'network.addrs-per-net' is " + per + ", more than the " +
                       std::to_string(uint64_t{1} << (32 - c.prefix)) + " addresses of network.subnet/netmask");
  EUCA_ASSIGN_OR_RETURN(std::string ips, Property(t, "network.public-ips"));
  for (const auto& w : Words(ips)) {
    size_t dash = w.find('-');
    if (dash == std::string::npos) {
      c.public_ips.push_back(w);
      continue;
    }
    auto a = ParseIpv4(w.substr(0, dash)), b = ParseIpv4(w.substr(dash + 1));
    if (!a || !b || *b < *a) return ConfigError("property 'network.public-ips' holds a bad range '" + w + "'");
    for (uint64_t ip = *a; ip <= *b; ++ip) c.public_ips.push_back(FormatIpv4(static_cast<uint32_t>(ip)));
  }
  EUCA_ASSIGN_OR_RETURN(std::string dns, Property(t, "network.dns"));
  c.dns = Words(dns);
  EUCA_ASSIGN_OR_RETURN(std::string macs, Property(t, "network.mac-map"));
  for (const auto& w : Words(macs)) {
    size_t eq = w.find('=');
    if (eq == std::string::npos) return ConfigError("property 'network.mac-map' holds '" + w + "', not MAC=IP");
    c.mac_map.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  EUCA_ASSIGN_OR_RETURN(c.bridge, Property(t, "network.bridge"));
  EUCA_ASSIGN_OR_RETURN(c.public_interface, Property(t, "network.public-interface"));
  EUCA_ASSIGN_OR_RETURN(c.private_interface, Property(t, "network.private-interface"));
  EUCA_ASSIGN_OR_RETURN(c.metadata_target, Property(t, "network.metadata-target"));
  EUCA_ASSIGN_OR_RETURN(std::string addressing, Property(t, "network.default-addressing"));
  c.public_at_launch = addressing == "public";
  return c;
}

Result<std::vector<model::Instance>> LiveInstances(state::Txn& t) {
  std::vector<model::Instance> out;
  EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kInstances));
  for (const auto& o : objects) {
    model::Instance i;
    try {
      i = model::InstanceFromJson(o.body);
    } catch (const std::exception& e) {
      return Internal("corrupt instance '" + o.id + "': " + e.what());
    }
    if (IsLive(i)) out.push_back(std::move(i));
  }
  return out;
}

// What one property cannot check alone: the properties against each other, so that no
// accepted combination makes every later apply fail. Each message names the property to set
// and that several may be set in one call.
Status CheckNetworkConfig(const NetworkConfig& c) {
  const bool managed = network::IsManaged(c.mode);
  const uint32_t mask = c.netmask;
  auto inside = [&](uint32_t ip) { return (ip & mask) == c.subnet; };
  const std::string range = "network.subnet/netmask " + c.SubnetCidr();
  if (c.mode == network::Mode::kManaged) {
    if (c.private_interface.empty())
      return ConfigError(
          "MANAGED needs network.private-interface, the interface its VLAN devices are made on; set both in one "
          "call: euca admin modify-property network.mode=MANAGED network.private-interface=IFACE");
    if (c.private_interface.size() + 5 > 15)  // IFACE.4094 must be an interface name
      return ConfigError("network.private-interface '" + c.private_interface +
                         "' is too long for its VLAN devices ('" + c.private_interface +
                         ".4094' is over 15 characters): at most 10 characters");
  }
  if ((c.mode == network::Mode::kStatic || c.mode == network::Mode::kSystem) && c.bridge.empty())
    return ConfigError(std::string(network::ModeName(c.mode)) + " needs network.bridge, the bridge instances join");
  std::set<std::string> seen;
  for (const std::string& ip : c.public_ips) {
    auto a = ParseIpv4(ip);
    if (!a) return ConfigError("network.public-ips holds '" + ip + "', not an IPv4 address");
    if (!seen.insert(ip).second) return ConfigError("network.public-ips holds '" + ip + "' twice");
    if (managed && inside(*a))
      return ConfigError("network.public-ips holds '" + ip + "', inside the private " + range +
                         " that instance networks are cut from");
  }
  if (c.mode == network::Mode::kStatic) {
    const uint32_t last = c.subnet | ~mask;
    for (const auto& [mac, ip] : c.mac_map) {
      auto a = ParseIpv4(ip);
      if (!a) return ConfigError("network.mac-map gives " + mac + " '" + ip + "', not an IPv4 address");
      if (!inside(*a) || *a == c.subnet || *a == last || *a == c.subnet + 1)
        return ConfigError("network.mac-map gives " + mac + " " + ip + ", not a host address of " + range +
                           " (its first address is the network, the next the router, the last the broadcast)");
    }
    if (!c.metadata_target.empty() && c.metadata_target.front() == ':')
      return ConfigError("network.metadata-target '" + c.metadata_target +
                         "' means each instance network's gateway, which STATIC does not have: give IP:PORT");
  }
  return Status::Ok();
}

Status CheckNetworkPropertyChanges(state::Txn& t, const std::vector<std::string>& changed) {
  bool network = false, layout = false;
  for (const auto& name : changed) {
    if (name.rfind("network.", 0) == 0) network = true;
    for (const char* p : kLayoutProperties)
      if (name == p) layout = true;
  }
  if (!network) return Status::Ok();
  EUCA_ASSIGN_OR_RETURN(NetworkConfig config, ReadNetworkConfig(t));
  EUCA_RETURN_IF_ERROR(CheckNetworkConfig(config));
  if (!layout) return Status::Ok();
  // Instances that have not finished (shutting-down ones too: their VMs still hold addresses).
  EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kInstances));
  for (const auto& o : objects) {
    std::string state = o.body.value("state", "");
    if (state != model::kTerminated)
      return Status(Code::kConflict,
                    "cannot change the network layout (network.mode, subnet, netmask, addrs-per-net) while instance '" +
                        o.id + "' is " + state + ": terminate every instance first",
                    "IncorrectState");
  }
  // The blocks moved: every group gets a network again on its next instance.
  EUCA_ASSIGN_OR_RETURN(auto groups, t.List(kSecurityGroupsKind));
  for (auto& o : groups) {
    if (o.body.value("network_index", 0) == 0) continue;
    o.body["network_index"] = 0;
    EUCA_RETURN_IF_ERROR(t.Put(o));
  }
  return Status::Ok();
}

// ---- Groups -------------------------------------------------------------------------------------

Result<std::optional<model::SecurityGroup>> FindGroup(state::Txn& t, const std::string& account_id,
                                                      const std::string& name_or_id) {
  std::optional<state::Object> obj;
  if (name_or_id.rfind("sg-", 0) == 0) {
    EUCA_ASSIGN_OR_RETURN(obj, t.Get(kSecurityGroupsKind, name_or_id));
    if (obj && obj->parent != account_id) obj.reset();
  }
  if (!obj) {
    EUCA_ASSIGN_OR_RETURN(obj, t.GetByName(kSecurityGroupsKind, account_id, name_or_id));
  }
  if (!obj) return std::optional<model::SecurityGroup>();
  return std::optional<model::SecurityGroup>(model::SecurityGroupFromJson(obj->body));
}

Result<model::SecurityGroup> EnsureDefaultGroup(state::Txn& t, const std::string& account_id, int64_t now_ms) {
  EUCA_ASSIGN_OR_RETURN(auto found, FindGroup(t, account_id, kDefaultGroup));
  if (found) return *found;
  model::SecurityGroup g;
  for (;;) {
    g.id = "sg-" + RandomHex(8);
    EUCA_ASSIGN_OR_RETURN(auto taken, t.Get(kSecurityGroupsKind, g.id));
    if (!taken) break;
  }
  g.account_id = account_id;
  g.name = kDefaultGroup;
  g.description = "default group";
  g.created_ms = now_ms;
  g.rules.push_back({"-1", -1, -1, "", account_id, g.id});
  EUCA_RETURN_IF_ERROR(t.Put({kSecurityGroupsKind, g.id, g.account_id, g.name, model::ToJson(g), std::nullopt}));
  return g;
}

// ---- Desired state ------------------------------------------------------------------------------

Result<network::DesiredState> BuildDesiredState(state::Txn& t) {
  EUCA_ASSIGN_OR_RETURN(NetworkConfig c, ReadNetworkConfig(t));
  network::DesiredState d;
  d.mode = c.mode;
  d.dns = c.dns;
  const bool managed = network::IsManaged(c.mode);
  if (managed) {
    d.public_interface = c.public_interface;
    d.private_interface = c.private_interface;
    d.metadata_target = c.metadata_target;
  } else {
    d.bridge = c.bridge;
  }
  if (c.mode == network::Mode::kStatic) {
    d.subnet = c.SubnetCidr();
    d.gateway = FormatIpv4(c.subnet + 1);
    d.metadata_target = c.metadata_target;  // IP:PORT only (CheckNetworkConfig)
  }

  // Groups, by id.
  std::map<std::string, model::SecurityGroup> groups;
  EUCA_ASSIGN_OR_RETURN(auto group_objects, t.List(kSecurityGroupsKind));
  for (const auto& o : group_objects) groups[o.id] = model::SecurityGroupFromJson(o.body);
  auto resolve = [&](const std::string& account, const std::string& name_or_id) -> const model::SecurityGroup* {
    auto it = groups.find(name_or_id);
    if (it != groups.end() && it->second.account_id == account) return &it->second;
    for (const auto& [id, g] : groups)
      if (g.account_id == account && g.name == name_or_id) return &g;
    return nullptr;
  };
  if (managed) {
    // Every group: one with a network (index >= 2) is rendered as a network; one without
    // (index 0) may still hold instances as their second or later group, whose rules open
    // those instances, and be a rule's source group.
    for (const auto& [id, g] : groups) {
      bool has_network = g.network_index >= 2 && g.network_index <= c.MaxIndex();
      network::Group out;
      out.id = g.id;
      out.account_id = g.account_id;
      out.name = g.name;
      if (has_network) {
        out.index = g.network_index;
        out.subnet = c.BlockCidr(g.network_index);
        out.vlan = c.mode == network::Mode::kManaged ? g.network_index : -1;
      }
      for (const auto& r : g.rules) {
        network::IngressRule rule{r.protocol, r.from_port, r.to_port, r.cidr, ""};
        if (!r.source_group.empty()) {
          if (!groups.count(r.source_group)) continue;  // deleted: nothing can match
          rule.source_group = r.source_group;
        }
        if (std::find(out.ingress.begin(), out.ingress.end(), rule) == out.ingress.end())
          out.ingress.push_back(std::move(rule));
      }
      d.groups.push_back(std::move(out));
    }
    std::sort(d.groups.begin(), d.groups.end(), [](const network::Group& a, const network::Group& b) {
      return a.index != b.index ? a.index < b.index : a.id < b.id;
    });
  }

  std::map<std::string, std::string> public_of;  // instance id -> public ip
  if (managed) {
    EUCA_ASSIGN_OR_RETURN(auto addresses, t.List(kAddressesKind));
    for (const auto& o : addresses) {
      model::Address a = model::AddressFromJson(o.body);
      if (!a.instance_id.empty()) public_of[a.instance_id] = a.public_ip;
    }
  }
  EUCA_ASSIGN_OR_RETURN(auto instances, LiveInstances(t));
  for (const auto& i : instances) {
    if (i.private_mac.empty()) continue;  // launched without networking
    network::Endpoint e;
    e.instance_id = i.id;
    e.mac = i.private_mac;
    e.private_ip = i.private_ip;
    if (managed) {
      for (const auto& name : i.groups) {
        const model::SecurityGroup* g = resolve(i.account_id, name);
        if (!g) continue;
        if (e.group_id.empty()) {
          if (g->network_index < 2 || g->network_index > c.MaxIndex()) break;  // its network is gone
          e.group_id = g->id;
        }
        e.groups.push_back(g->id);
      }
      if (e.group_id.empty()) continue;
      if (auto p = public_of.find(i.id); p != public_of.end()) e.public_ip = p->second;
    }
    d.endpoints.push_back(std::move(e));
  }
  std::sort(d.endpoints.begin(), d.endpoints.end(),
            [](const network::Endpoint& a, const network::Endpoint& b) { return a.instance_id < b.instance_id; });
  return d;
}

network::DesiredState ViewForZones(const network::DesiredState& state, const std::map<std::string, std::string>& zone_of,
                                   const std::vector<std::string>& served_zones) {
  network::DesiredState view = state;
  for (auto& e : view.endpoints) {
    auto z = zone_of.find(e.instance_id);
    e.elsewhere = z == zone_of.end() ||
                  std::find(served_zones.begin(), served_zones.end(), z->second) == served_zones.end();
  }
  return view;
}

// ---- Applier ------------------------------------------------------------------------------------

NetworkApplier::NetworkApplier(state::StateStore& store, network::Network* network, Status open_error, Env* env,
                               std::string record_dir, std::function<void(const Status&)> report)
    : store_(store),
      network_(network),
      open_error_(std::move(open_error)),
      env_(env),
      record_dir_(std::move(record_dir)),
      report_(std::move(report)) {
  if (!report_)
    report_ = [](const Status& s) {
      std::cerr << "euca: network: " << s.message()
                << " (the cloud's records are kept; the next change applies them again)\n";
    };
}

Status NetworkApplier::Apply() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t mine = ++requested_;
  while (done_ < mine) {
    if (applying_) {
      cv_.wait(lock);
      continue;
    }
    // Apply everything requested so far: the state read now includes every change made
    // before those requests.
    applying_ = true;
    const uint64_t target = requested_;
    lock.unlock();
    Status result = ApplyOnce();
    if (!result.ok()) result = result.WithContext("applying the network state");
    if (!result.ok()) report_(result);
    lock.lock();
    applying_ = false;
    done_ = target;
    ++applies_;
    last_ = result;
    cv_.notify_all();
  }
  return last_;
}

Status NetworkApplier::ApplyOnce() {
  // Which zones this host serves, and which clusters serve themselves.
  std::vector<std::string> local_zones;
  std::vector<Zone> remote_zones;
  bool everything_local = clusters_ == nullptr;
  if (clusters_) {
    EUCA_ASSIGN_OR_RETURN(std::vector<Zone> zones, clusters_->Zones());
    for (Zone& z : zones) (z.remote ? remote_zones.push_back(std::move(z)) : local_zones.push_back(z.name));
    everything_local = remote_zones.empty();
  }
  // Other processes of the same cloud (embedded commands, `euca serve clc`) apply too: one at
  // a time, each reading the store after the previous applied, so the newest state wins.
  FileLock cross_process;
  if (env_ && !record_dir_.empty()) {
    EUCA_RETURN_IF_ERROR(env_->CreateDirs(record_dir_, 0755));
    EUCA_RETURN_IF_ERROR(cross_process.Lock(record_dir_ + "/apply.lock"));
  }
  network::DesiredState desired;
  std::string driver;
  std::map<std::string, std::string> zone_of;  // instance id -> zone, when some zone is remote
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(desired, BuildDesiredState(t));
    if (everything_local) return Status::Ok();
    EUCA_ASSIGN_OR_RETURN(NetworkConfig config, ReadNetworkConfig(t));
    driver = config.driver;
    EUCA_ASSIGN_OR_RETURN(auto live, LiveInstances(t));
    for (const auto& i : live) zone_of[i.id] = i.zone;
    return Status::Ok();
  }));
  Status result = Status::Ok();
  if (everything_local || !local_zones.empty()) {
    result = open_error_;
    if (result.ok() && !network_) result = Internal("no network driver");
    if (result.ok()) result = network_->Apply(everything_local ? desired : ViewForZones(desired, zone_of, local_zones));
  }
  for (const Zone& z : remote_zones) {
    Status pushed = z.cc->ApplyNetwork(driver, ViewForZones(desired, zone_of, {z.name}));
    if (pushed.ok()) continue;
    pushed = pushed.WithContext("cluster '" + z.name + "'");
    if (result.ok()) {
      result = pushed;  // returned; Apply reports it
    } else {
      report_(pushed.WithContext("applying the network state"));
    }
  }
  EUCA_RETURN_IF_ERROR(result);
  if (env_ && !record_dir_.empty())
    return env_->WriteFileAtomic(record_dir_ + "/desired-state.json", network::ToJson(desired).dump(2) + "\n", 0644);
  return Status::Ok();
}

Status NetworkApplier::LastStatus() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

uint64_t NetworkApplier::applies() {
  std::lock_guard<std::mutex> lock(mu_);
  return applies_;
}

// ---- The driver ---------------------------------------------------------------------------------

Result<std::unique_ptr<network::Network>> OpenCloudNetwork(const std::string& driver, const std::string& state_dir) {
  return network::OpenNetwork(driver, {.state_dir = state_dir, .netns = "", .runner = nullptr});
}

Status ApplyCloudNetwork(state::StateStore& store, Env& env, const std::string& home, const std::string& driver,
                         ClusterDirectory* clusters) {
  const std::string dir = home + "/network";
  auto opened = OpenCloudNetwork(driver, dir);
  NetworkApplier applier(store, opened.ok() ? opened->get() : nullptr, opened.status(), &env, dir);
  applier.SetClusters(clusters);
  return applier.Apply();
}

// ---- Instances ----------------------------------------------------------------------------------

Result<std::map<std::string, nc::NetParams>> InstanceNetworking::Assign(state::Txn& t, const LaunchPlan& plan,
                                                                        const std::string& addressing,
                                                                        std::vector<model::Instance>& instances) {
  if (addressing != "" && addressing != "public" && addressing != "private")
    return Status(Code::kInvalidArgument, "addressing type '" + addressing + "' is not public or private",
                  "InvalidParameterValue");
  EUCA_ASSIGN_OR_RETURN(NetworkConfig c, ReadNetworkConfig(t));
  const std::string& account = plan.caller.account_id;
  std::vector<model::SecurityGroup> groups;
  for (const auto& name : plan.groups) {
    EUCA_ASSIGN_OR_RETURN(auto g, FindGroup(t, account, name));
    if (!g && name == kDefaultGroup) {
      EUCA_ASSIGN_OR_RETURN(g, EnsureDefaultGroup(t, account, clock_.NowMillis()));
    }
    if (!g) return Status(Code::kNotFound, "the security group '" + name + "' does not exist", "InvalidGroup.NotFound");
    groups.push_back(std::move(*g));
  }
  if (groups.empty()) return InvalidArgument("an instance needs a security group");
  EUCA_ASSIGN_OR_RETURN(auto live, LiveInstances(t));
  std::map<std::string, nc::NetParams> out;
  const bool want_public = addressing == "public" || (addressing.empty() && c.public_at_launch);
  // The NICs join bridges only when the linux driver makes them (or, in SYSTEM and STATIC,
  // when the host is the operator's to configure); the plan driver touches nothing, so its
  // instances get no NIC rather than one on a bridge that does not exist.
  const bool attach = c.driver == "linux";

  if (!network::IsManaged(c.mode)) {
    std::set<std::string> used_macs;
    for (const auto& i : live) used_macs.insert(i.private_mac);
    size_t next_pair = 0;
    for (auto& i : instances) {
      nc::NetParams p;
      p.bridge = attach ? c.bridge : "";
      if (c.mode == network::Mode::kStatic) {
        while (next_pair < c.mac_map.size() && used_macs.count(c.mac_map[next_pair].first)) ++next_pair;
        if (next_pair == c.mac_map.size())
          return Status(Code::kResourceExhausted,
                        "network.mac-map has no free MAC=IP pair left for instance " +
                            std::to_string(i.launch_index + 1) + " of " + std::to_string(instances.size()),
                        "InsufficientInstanceCapacity");
        i.private_mac = c.mac_map[next_pair].first;
        i.private_ip = c.mac_map[next_pair].second;
        i.public_ip = i.private_ip;  // Eucalyptus STATIC: the public address is the private one
        ++next_pair;
      } else {
        i.private_mac = MacOf(i.id);
      }
      p.private_mac = i.private_mac;
      p.private_ip = i.private_ip;
      p.public_ip = i.public_ip;
      out[i.id] = p;
    }
    return out;
  }

  // MANAGED*: the first group's network, allocated on first use.
  model::SecurityGroup& net = groups[0];
  if (net.network_index < 2 || net.network_index > c.MaxIndex()) {
    std::set<int> taken;
    EUCA_ASSIGN_OR_RETURN(auto all, t.List(kSecurityGroupsKind));
    for (const auto& o : all) taken.insert(o.body.value("network_index", 0));
    int index = 2;
    while (index <= c.MaxIndex() && taken.count(index)) ++index;
    if (index > c.MaxIndex())
      return Status(Code::kResourceExhausted,
                    "no network left for security group '" + net.name + "': network.subnet holds " +
                        std::to_string(c.MaxIndex() - 1) + " networks of network.addrs-per-net addresses",
                    "InsufficientInstanceCapacity");
    net.network_index = index;
    EUCA_RETURN_IF_ERROR(
        t.Put({kSecurityGroupsKind, net.id, net.account_id, net.name, model::ToJson(net), std::nullopt}));
  }
  const uint32_t base = c.BlockBase(net.network_index);
  std::set<uint32_t> used;
  for (const auto& i : live)
    if (auto ip = ParseIpv4(i.private_ip); ip && *ip >= base && *ip < base + c.addrs_per_net) used.insert(*ip);
  std::set<std::string> busy_public;
  if (want_public) {
    EUCA_ASSIGN_OR_RETURN(auto addresses, t.List(kAddressesKind));
    std::set<std::string> live_ids;
    for (const auto& i : live) live_ids.insert(i.id);
    for (const auto& o : addresses) {
      model::Address a = model::AddressFromJson(o.body);
      // An auto-assigned address whose instance ended is free again.
      if (a.auto_assigned && !live_ids.count(a.instance_id)) continue;
      busy_public.insert(a.public_ip);
    }
  }
  uint32_t next_host = base + 2;
  for (auto& i : instances) {
    while (next_host < base + c.addrs_per_net - 1 && used.count(next_host)) ++next_host;
    if (next_host >= base + c.addrs_per_net - 1)
      return Status(Code::kResourceExhausted,
                    "the network of security group '" + net.name + "' (" + c.BlockCidr(net.network_index) +
                        ") has no free address; raise network.addrs-per-net or use another group",
                    "InsufficientInstanceCapacity");
    i.private_ip = FormatIpv4(next_host++);
    i.private_mac = MacOf(i.id);
    if (want_public) {
      auto free = std::find_if(c.public_ips.begin(), c.public_ips.end(),
                               [&](const std::string& ip) { return !busy_public.count(ip); });
      if (free == c.public_ips.end())
        return Status(Code::kResourceExhausted,
                      "no public address of network.public-ips is free for instance '" + i.id + "'",
                      "AddressLimitExceeded");
      busy_public.insert(*free);
      model::Address a{*free, account, i.id, true, clock_.NowMillis()};
      EUCA_RETURN_IF_ERROR(t.Put({kAddressesKind, a.public_ip, account, "", model::ToJson(a), std::nullopt}));
      i.public_ip = *free;
    }
    nc::NetParams p;
    p.private_mac = i.private_mac;
    p.private_ip = i.private_ip;
    p.public_ip = i.public_ip;
    p.bridge = attach ? network::BridgeName(net.network_index) : "";
    p.vlan = c.mode == network::Mode::kManaged ? net.network_index : -1;
    out[i.id] = p;
  }
  return out;
}

void InstanceNetworking::Changed() {
  if (applier_) (void)applier_->Apply();
}

}  // namespace euca::clc
