#include "core/nc/nc_types.h"

#include <map>
#include <memory>
#include <mutex>
#include <regex>

#include "core/api/digest.h"

namespace euca::nc {
namespace {

constexpr size_t kMaxUserData = 16 * 1024;  // EC2's limit on decoded user data

// Field access for FromJson: every missing or mistyped field is an InvalidArgument that names it.
class Reader {
 public:
  Reader(const Json& j, std::string prefix) : j_(j), prefix_(std::move(prefix)) {}
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  std::string Str(const char* key, bool required = false) {
    if (!j_.is_object()) return Fail(prefix_.empty() ? "the body must be a JSON object" : "'" + prefix_ + "' must be an object"), "";
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) Fail("'" + Name(key) + "' is required");
      return "";
    }
    if (!it->is_string()) return Fail("'" + Name(key) + "' must be a string"), "";
    return it->get<std::string>();
  }
  int64_t Int(const char* key, int64_t fallback) {
    if (!j_.is_object()) return fallback;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) return Fail("'" + Name(key) + "' must be an integer"), fallback;
    return it->get<int64_t>();
  }
  std::vector<std::string> Strings(const char* key) {
    std::vector<std::string> out;
    if (!j_.is_object()) return out;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return out;
    if (!it->is_array()) return Fail("'" + Name(key) + "' must be an array of strings"), out;
    for (const auto& v : *it) {
      if (!v.is_string()) return Fail("'" + Name(key) + "' must be an array of strings"), out;
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  const Json& Sub(const char* key) {
    static const Json kNull;
    if (!j_.is_object()) return kNull;
    auto it = j_.find(key);
    return it == j_.end() ? kNull : *it;
  }
  std::string Name(const char* key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
  void Absorb(const Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }
  void Fail(std::string m) {
    if (status_.ok()) status_ = InvalidArgument(std::move(m));
  }

 private:
  const Json& j_;
  std::string prefix_;
  Status status_;
};

ImageRef ReadImage(Reader& parent, const char* key) {
  const Json& sub = parent.Sub(key);
  if (sub.is_null()) return {};
  Reader r(sub, parent.Name(key));
  ImageRef ref{r.Str("id", true), r.Str("location", true)};
  parent.Absorb(r.status());
  return ref;
}

// Each pattern is compiled once: compiling a std::regex per check took ~8% of a RunInstances
// in bench/clc. A compiled regex is safe to match from many threads.
bool Matches(const std::string& s, const std::string& pattern) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const std::regex>> compiled;
  std::shared_ptr<const std::regex> re;
  {
    std::lock_guard<std::mutex> lock(mu);
    std::shared_ptr<const std::regex>& slot = compiled[pattern];
    if (!slot) slot = std::make_shared<const std::regex>(pattern);
    re = slot;
  }
  return std::regex_match(s, *re);
}

Status CheckImage(const ImageRef& ref, const char* field, const char* prefix, bool required) {
  if (ref.empty()) {
    return required ? InvalidArgument(std::string("'") + field + "' is required") : Status::Ok();
  }
  if (!Matches(ref.id, std::string("^") + prefix + "-[0-9a-f]{8,17}$")) {
    return InvalidArgument(std::string("'") + field + ".id' is '" + ref.id + "': expected " + prefix +
                           "- and 8 to 17 lower-case hex digits");
  }
  if (ref.location.empty() || ref.location.size() > 2048) {
    return InvalidArgument(std::string("'") + field + ".location' must be 1 to 2048 characters");
  }
  return Status::Ok();
}

}  // namespace

const char* InstanceStateName(InstanceState s) {
  switch (s) {
    case InstanceState::kPending: return "Pending";
    case InstanceState::kExtant: return "Extant";
    case InstanceState::kTeardown: return "Teardown";
  }
  return "Pending";
}

std::string DefaultMac(const std::string& instance_id) {
  std::string hex = instance_id.substr(instance_id.find('-') + 1);
  hex.resize(8, '0');
  return "d0:0d:" + hex.substr(0, 2) + ":" + hex.substr(2, 2) + ":" + hex.substr(4, 2) + ":" + hex.substr(6, 2);
}

Status ValidateInstanceId(const std::string& id) {
  if (!Matches(id, "^i-[0-9a-f]{8,17}$")) {
    return InvalidArgument("instance id '" + id + "' is not i- and 8 to 17 lower-case hex digits");
  }
  return Status::Ok();
}

Status ValidateRunInstanceRequest(const RunInstanceRequest& r) {
  EUCA_RETURN_IF_ERROR(ValidateInstanceId(r.instance_id));
  if (!r.reservation_id.empty() && !Matches(r.reservation_id, "^r-[0-9a-f]{8,17}$")) {
    return InvalidArgument("reservation id '" + r.reservation_id + "' is not r- and 8 to 17 lower-case hex digits");
  }
  EUCA_RETURN_IF_ERROR(CheckImage(r.image, "image", "emi", true));
  EUCA_RETURN_IF_ERROR(CheckImage(r.kernel, "kernel", "eki", false));
  EUCA_RETURN_IF_ERROR(CheckImage(r.ramdisk, "ramdisk", "eri", false));
  if (!r.ramdisk.empty() && r.kernel.empty()) return InvalidArgument("a ramdisk needs a kernel");
  const model::VmType& t = r.vm_type;
  if (t.cores < 1 || t.cores > 256) return InvalidArgument("'vm_type.cores' must be 1 to 256");
  if (t.memory_mib < 32 || t.memory_mib > (1u << 22)) return InvalidArgument("'vm_type.memory_mib' must be 32 to 4194304");
  if (t.disk_gib < 1 || t.disk_gib > 65536) return InvalidArgument("'vm_type.disk_gib' must be 1 to 65536");
  if (r.user_data.size() > kMaxUserData) {
    return InvalidArgument("user data is " + std::to_string(r.user_data.size()) + " bytes; at most 16384 are allowed");
  }
  if (r.public_key.size() > 16384 || r.public_key.find('\0') != std::string::npos) {
    return InvalidArgument("'public_key' must be an OpenSSH public key line");
  }
  for (const std::string* mac : {&r.net.private_mac, &r.net.public_mac}) {
    if (!mac->empty() && !Matches(*mac, "^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")) {
      return InvalidArgument("MAC address '" + *mac + "' is not six lower-case hex pairs");
    }
  }
  if (!r.net.bridge.empty() && !Matches(r.net.bridge, "^[A-Za-z0-9_.-]{1,15}$")) {
    return InvalidArgument("bridge '" + r.net.bridge + "' is not a network interface name");
  }
  if (r.launch_index < 0) return InvalidArgument("'launch_index' must not be negative");
  return Status::Ok();
}

Json ToJson(const ImageRef& r) { return r.empty() ? Json() : Json{{"id", r.id}, {"location", r.location}}; }

Json ToJson(const RunInstanceRequest& r) {
  Json j;
  j["instance_id"] = r.instance_id;
  j["reservation_id"] = r.reservation_id;
  j["owner_id"] = r.owner_id;
  j["user_id"] = r.user_id;
  j["image"] = ToJson(r.image);
  j["kernel"] = ToJson(r.kernel);
  j["ramdisk"] = ToJson(r.ramdisk);
  j["vm_type"] = {{"name", r.vm_type.name},
                  {"cores", r.vm_type.cores},
                  {"memory_mib", r.vm_type.memory_mib},
                  {"disk_gib", r.vm_type.disk_gib}};
  j["key_name"] = r.key_name;
  j["public_key"] = r.public_key;
  j["user_data"] = api::Base64Encode(r.user_data);
  j["launch_index"] = r.launch_index;
  j["group_names"] = r.group_names;
  j["net"] = {{"private_mac", r.net.private_mac}, {"public_mac", r.net.public_mac},
              {"private_ip", r.net.private_ip},   {"public_ip", r.net.public_ip},
              {"bridge", r.net.bridge},           {"vlan", r.net.vlan}};
  return j;
}

Result<RunInstanceRequest> RunInstanceRequestFromJson(const Json& j) {
  Reader r(j, "");
  RunInstanceRequest q;
  q.instance_id = r.Str("instance_id", true);
  q.reservation_id = r.Str("reservation_id");
  q.owner_id = r.Str("owner_id");
  q.user_id = r.Str("user_id");
  q.image = ReadImage(r, "image");
  q.kernel = ReadImage(r, "kernel");
  q.ramdisk = ReadImage(r, "ramdisk");
  if (!r.Sub("vm_type").is_null()) {
    Reader t(r.Sub("vm_type"), "vm_type");
    q.vm_type.name = t.Str("name");
    q.vm_type.cores = static_cast<int>(t.Int("cores", 0));
    q.vm_type.memory_mib = static_cast<uint64_t>(std::max<int64_t>(0, t.Int("memory_mib", 0)));
    q.vm_type.disk_gib = static_cast<uint64_t>(std::max<int64_t>(0, t.Int("disk_gib", 0)));
    r.Absorb(t.status());
  }
  q.key_name = r.Str("key_name");
  q.public_key = r.Str("public_key");
  if (std::string b64 = r.Str("user_data"); !b64.empty()) {
    Result<std::string> decoded = api::Base64Decode(b64);
    if (decoded.ok()) {
      q.user_data = std::move(decoded.value());
    } else {
      r.Fail("'user_data' is not base64");
    }
  }
  q.launch_index = static_cast<int>(r.Int("launch_index", 0));
  q.group_names = r.Strings("group_names");
  {
    Reader n(r.Sub("net"), "net");
    if (!r.Sub("net").is_null()) {
      q.net.private_mac = n.Str("private_mac");
      q.net.public_mac = n.Str("public_mac");
      q.net.private_ip = n.Str("private_ip");
      q.net.public_ip = n.Str("public_ip");
      q.net.bridge = n.Str("bridge");
      q.net.vlan = static_cast<int>(n.Int("vlan", -1));
    }
    r.Absorb(n.status());
  }
  if (!r.ok()) return r.status();
  EUCA_RETURN_IF_ERROR(ValidateRunInstanceRequest(q));
  return q;
}

Json ToJson(const Instance& i) {
  Json j = ToJson(i.request);
  j["state"] = InstanceStateName(i.state);
  j["hypervisor_state"] = i.hypervisor_state;
  j["launch_time_ms"] = i.launch_time_ms;
  j["state_change_ms"] = i.state_change_ms;
  j["reason"] = i.reason;
  return j;
}

Result<Instance> InstanceFromJson(const Json& j) {
  EUCA_ASSIGN_OR_RETURN(RunInstanceRequest request, RunInstanceRequestFromJson(j));
  Reader r(j, "");
  Instance i;
  i.request = std::move(request);
  std::string state = r.Str("state", true);
  if (state == "Pending") {
    i.state = InstanceState::kPending;
  } else if (state == "Extant") {
    i.state = InstanceState::kExtant;
  } else if (state == "Teardown") {
    i.state = InstanceState::kTeardown;
  } else if (r.ok()) {
    r.Fail("'state' is '" + state + "': expected Pending, Extant or Teardown");
  }
  i.hypervisor_state = r.Str("hypervisor_state");
  i.launch_time_ms = r.Int("launch_time_ms", 0);
  i.state_change_ms = r.Int("state_change_ms", 0);
  i.reason = r.Str("reason");
  if (!r.ok()) return r.status();
  return i;
}

Json ToJson(const NodeResource& r) {
  return {{"status", r.status},
          {"memory_max_mib", r.memory_max_mib},
          {"memory_available_mib", r.memory_available_mib},
          {"disk_max_gib", r.disk_max_gib},
          {"disk_available_gib", r.disk_available_gib},
          {"cores_max", r.cores_max},
          {"cores_available", r.cores_available}};
}

Result<NodeResource> NodeResourceFromJson(const Json& j) {
  Reader r(j, "");
  NodeResource n;
  n.status = r.Str("status", true);
  auto u = [&](const char* k) { return static_cast<uint64_t>(std::max<int64_t>(0, r.Int(k, 0))); };
  n.memory_max_mib = u("memory_max_mib");
  n.memory_available_mib = u("memory_available_mib");
  n.disk_max_gib = u("disk_max_gib");
  n.disk_available_gib = u("disk_available_gib");
  n.cores_max = static_cast<int>(r.Int("cores_max", 0));
  n.cores_available = static_cast<int>(r.Int("cores_available", 0));
  if (!r.ok()) return r.status();
  return n;
}

Json ToJson(const TerminateResult& r) {
  return {{"instance_id", r.instance_id}, {"previous_state", r.previous_state}, {"shutdown_state", r.shutdown_state}};
}

Result<TerminateResult> TerminateResultFromJson(const Json& j) {
  Reader r(j, "");
  TerminateResult t{r.Str("instance_id", true), r.Str("previous_state"), r.Str("shutdown_state")};
  if (!r.ok()) return r.status();
  return t;
}

}  // namespace euca::nc
