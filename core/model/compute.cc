#include "core/model/compute.h"

namespace euca::model {

const std::vector<VmType>& DefaultVmTypes() {
  static const std::vector<VmType> kTypes = {
      {"m1.small", 1, 256, 5},  {"c1.medium", 2, 512, 10},  {"m1.large", 2, 512, 10},
      {"m1.xlarge", 2, 1024, 10}, {"c1.xlarge", 2, 2048, 10},
  };
  return kTypes;
}

Json ToJson(const VmType& t) {
  return {{"name", t.name}, {"cores", t.cores}, {"memory_mib", t.memory_mib}, {"disk_gib", t.disk_gib}};
}
Json ToJson(const KeyPair& k) {
  return {{"id", k.id},
          {"account", k.account_id},
          {"name", k.name},
          {"fingerprint", k.fingerprint},
          {"public_key", k.public_key},
          {"created", k.created_ms}};
}
Json ToJson(const Image& i) {
  Json j = {{"id", i.id},
          {"account", i.account_id},
          {"name", i.name},
          {"description", i.description},
          {"location", i.location},
          {"architecture", i.architecture},
          {"type", i.type},
          {"kernel", i.kernel_id},
          {"ramdisk", i.ramdisk_id},
          {"state", i.state},
          {"public", i.is_public},
          {"launch_permissions", i.launch_permissions},
          {"root_device_name", i.root_device_name},
          {"created", i.created_ms}};
  if (i.lease_expires_ms != 0) j["lease_expires"] = i.lease_expires_ms;
  return j;
}
Json ToJson(const Instance& i) {
  Json j = {{"id", i.id},
          {"reservation", i.reservation_id},
          {"account", i.account_id},
          {"user", i.user_id},
          {"image", i.image_id},
          {"kernel", i.kernel_id},
          {"ramdisk", i.ramdisk_id},
          {"vm_type", i.vm_type},
          {"key_name", i.key_name},
          {"groups", i.groups},
          {"zone", i.zone},
          {"node", i.node},
          {"state", i.state},
          {"reason", i.reason},
          {"launch_index", i.launch_index},
          {"launch_time", i.launch_time_ms},
          {"state_change", i.state_change_ms},
          {"private_ip", i.private_ip},
          {"public_ip", i.public_ip},
          {"private_mac", i.private_mac},
          {"client_token", i.client_token},
          {"user_data", i.user_data}};
  if (!i.launch_digest.empty()) j["launch_digest"] = i.launch_digest;
  if (i.lease_expires_ms != 0) j["lease_expires"] = i.lease_expires_ms;
  return j;
}
Json ToJson(const Cluster& c) { return {{"name", c.name}, {"url", c.url}, {"created", c.created_ms}}; }
Json ToJson(const NodeRecord& n) {
  return {{"id", n.id}, {"cluster", n.cluster}, {"url", n.url}, {"created", n.created_ms}};
}

VmType VmTypeFromJson(const Json& j) {
  return {j.value("name", ""), j.value("cores", 1), j.value("memory_mib", uint64_t{256}),
          j.value("disk_gib", uint64_t{5})};
}
KeyPair KeyPairFromJson(const Json& j) {
  return {j.value("id", ""),         j.value("account", ""),    j.value("name", ""),
          j.value("fingerprint", ""), j.value("public_key", ""), j.value("created", int64_t{0})};
}
Image ImageFromJson(const Json& j) {
  Image i;
  i.id = j.value("id", "");
  i.account_id = j.value("account", "");
  i.name = j.value("name", "");
  i.description = j.value("description", "");
  i.location = j.value("location", "");
  i.architecture = j.value("architecture", "x86_64");
  i.type = j.value("type", "machine");
  i.kernel_id = j.value("kernel", "");
  i.ramdisk_id = j.value("ramdisk", "");
  i.state = j.value("state", "available");
  i.is_public = j.value("public", false);
  i.launch_permissions = j.value("launch_permissions", std::vector<std::string>{});
  i.root_device_name = j.value("root_device_name", "/dev/sda1");
  i.created_ms = j.value("created", int64_t{0});
  i.lease_expires_ms = j.value("lease_expires", int64_t{0});
  return i;
}
Instance InstanceFromJson(const Json& j) {
  Instance i;
  i.id = j.value("id", "");
  i.reservation_id = j.value("reservation", "");
  i.account_id = j.value("account", "");
  i.user_id = j.value("user", "");
  i.image_id = j.value("image", "");
  i.kernel_id = j.value("kernel", "");
  i.ramdisk_id = j.value("ramdisk", "");
  i.vm_type = j.value("vm_type", "");
  i.key_name = j.value("key_name", "");
  i.groups = j.value("groups", std::vector<std::string>{});
  i.zone = j.value("zone", "");
  i.node = j.value("node", "");
  i.state = j.value("state", kPending);
  i.reason = j.value("reason", "");
  i.launch_index = j.value("launch_index", 0);
  i.launch_time_ms = j.value("launch_time", int64_t{0});
  i.state_change_ms = j.value("state_change", int64_t{0});
  i.private_ip = j.value("private_ip", "");
  i.public_ip = j.value("public_ip", "");
  i.private_mac = j.value("private_mac", "");
  i.client_token = j.value("client_token", "");
  i.user_data = j.value("user_data", "");
  i.launch_digest = j.value("launch_digest", "");
  i.lease_expires_ms = j.value("lease_expires", int64_t{0});
  return i;
}
Cluster ClusterFromJson(const Json& j) {
  return {j.value("name", ""), j.value("url", ""), j.value("created", int64_t{0})};
}
NodeRecord NodeRecordFromJson(const Json& j) {
  return {j.value("id", ""), j.value("cluster", ""), j.value("url", ""), j.value("created", int64_t{0})};
}

}  // namespace euca::model
