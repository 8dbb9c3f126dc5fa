#pragma once
// The compute objects of the cloud controller (issue 6): VM types, key pairs, images,
// instances, clusters (availability zones) and their nodes. Plain values with their JSON as
// stored in the state store (docs/state-format.md lists the kinds; docs/clc.md the fields).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/vm_type.h"

namespace euca::model {

using Json = nlohmann::ordered_json;

/// Eucalyptus 3.4/4.x defaults for the five classic types (cores / disk GiB / memory MiB),
/// in the order describe-availability-zones verbose lists them. The default type is m1.small.
const std::vector<VmType>& DefaultVmTypes();
inline constexpr const char* kDefaultVmType = "m1.small";

/// A key pair. Kind "key-pairs": id "key-" + 16 hex, parent = account id, name = key name
/// (unique within the account). The private key is never stored: CreateKeyPair returns it once.
struct KeyPair {
  std::string id;
  std::string account_id;
  std::string name;         ///< 1..255 printable ASCII
  std::string fingerprint;  ///< lower-case colon-separated hex
  std::string public_key;   ///< OpenSSH text, "ssh-rsa AAAA... comment"
  int64_t created_ms = 0;
};

/// A registered image. Kind "images": id "emi-"/"eki-"/"eri-" + 8 lower-case hex, parent =
/// owner account id.
struct Image {
  std::string id;
  std::string account_id;      ///< owner
  std::string name;            ///< unique within the owner's images
  std::string description;
  std::string location;        ///< "BUCKET/PREFIX.manifest.xml"
  std::string architecture = "x86_64";  ///< "i386", "x86_64"
  std::string type = "machine";         ///< "machine", "kernel", "ramdisk"
  std::string kernel_id;       ///< default kernel for a machine image ("" = none)
  std::string ramdisk_id;
  std::string state = "available";      ///< "available", "deregistered", "failed"
  bool is_public = false;
  std::vector<std::string> launch_permissions;  ///< account ids allowed to launch it
  std::string root_device_name = "/dev/sda1";
  int64_t created_ms = 0;
  /// Storage lease (docs/sla.md): when it ends, 0 = never. "lease_expires" in JSON, only when set.
  int64_t lease_expires_ms = 0;
};

/// EC2 instance states as the CLC reports them.
inline constexpr const char* kPending = "pending";
inline constexpr const char* kRunning = "running";
inline constexpr const char* kShuttingDown = "shutting-down";
inline constexpr const char* kTerminated = "terminated";

/// An instance as the CLC knows it. Kind "instances" (runtime): id "i-" + hex, parent =
/// owner account id.
struct Instance {
  std::string id;
  std::string reservation_id;  ///< "r-" + hex
  std::string account_id;
  std::string user_id;
  std::string image_id;
  std::string kernel_id;
  std::string ramdisk_id;
  std::string vm_type;         ///< a VmType name
  std::string key_name;
  std::vector<std::string> groups;
  std::string zone;            ///< the cluster (availability zone) it was placed in
  std::string node;            ///< URL of the NC running it ("" until placed)
  std::string state = kPending;
  std::string reason;          ///< why it is in its state (EC2 StateReason message)
  int launch_index = 0;
  int64_t launch_time_ms = 0;
  int64_t state_change_ms = 0;
  std::string private_ip;
  std::string public_ip;
  std::string private_mac;
  std::string client_token;    ///< RunInstances ClientToken ("" = none)
  /// With a client token: SHA-256 (hex) of the request's zone, security groups, kernel and
  /// ramdisk as asked (not as resolved), to tell a retry from another request with that
  /// token. "launch_digest" in JSON, only when set.
  std::string launch_digest;
  std::string user_data;       ///< base64, as given to RunInstances (≤ 16 KiB decoded)
  /// Runtime lease (docs/sla.md): when cleanup terminates it, 0 = never. "lease_expires" in
  /// JSON, only when set.
  int64_t lease_expires_ms = 0;
};

/// A cluster = an availability zone. Kind "clusters": id = name. `url` is the CC's internal
/// API ("" = the embedded cluster of a one-machine cloud).
struct Cluster {
  std::string name;            ///< [a-zA-Z0-9][a-zA-Z0-9._-]{0,62}
  std::string url;
  int64_t created_ms = 0;
};

/// A node controller registered in a cluster. Kind "nodes": id "node-" + 16 hex, parent =
/// cluster name, name = URL (unique within the cluster).
struct NodeRecord {
  std::string id;
  std::string cluster;
  std::string url;             ///< "http://HOST:PORT" of `euca serve nc`
  int64_t created_ms = 0;
};

Json ToJson(const VmType& t);
Json ToJson(const KeyPair& k);
Json ToJson(const Image& i);
Json ToJson(const Instance& i);
Json ToJson(const Cluster& c);
Json ToJson(const NodeRecord& n);

/// Parsers: missing fields take their defaults; wrong types throw nlohmann::json::exception.
VmType VmTypeFromJson(const Json& j);
KeyPair KeyPairFromJson(const Json& j);
Image ImageFromJson(const Json& j);
Instance InstanceFromJson(const Json& j);
Cluster ClusterFromJson(const Json& j);
NodeRecord NodeRecordFromJson(const Json& j);

}  // namespace euca::model
