#pragma once
// The node controller's requests and records (DESIGN.md §5; Eucalyptus' ncRunInstance and
// instance record, reference/eucalyptus-internals.md §3), with their JSON for the internal
// API (docs/internal-api.md). Plain values; FromJson validates what comes off the wire.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/status.h"
#include "core/model/vm_type.h"

namespace euca::nc {

using Json = nlohmann::ordered_json;

/// Where an image comes from: its id and a location the NC's ImageFetcher understands
/// ("BUCKET/KEY.manifest.xml" for Walrus image delivery, "file:///path" for a local raw file).
struct ImageRef {
  std::string id;        ///< emi-/eki-/eri- + hex; empty = none (kernel, ramdisk only)
  std::string location;
  bool empty() const { return id.empty(); }
};

struct NetParams {
  std::string private_mac;  ///< "d0:0d:xx:xx:xx:xx"; empty = the NC derives one from the id
  std::string public_mac;
  std::string private_ip;
  std::string public_ip;
  std::string bridge;       ///< empty = no network interface (startNetwork fills this later)
  int vlan = -1;
};

/// ncRunInstance.
struct RunInstanceRequest {
  std::string instance_id;     ///< "i-" + 8..17 lower-case hex
  std::string reservation_id;  ///< "r-" + hex
  std::string owner_id;        ///< account id of the owner
  std::string user_id;
  ImageRef image;              ///< required: the machine image (a raw disk or filesystem)
  ImageRef kernel;             ///< optional: boot kernel directly (then ramdisk optional)
  ImageRef ramdisk;
  model::VmType vm_type;
  std::string key_name;
  std::string public_key;      ///< OpenSSH public key text, reaches the guest through cidata
  std::string user_data;       ///< raw bytes, at most 16 KiB as EC2 (base64 in JSON)
  int launch_index = 0;
  std::vector<std::string> group_names;
  NetParams net;
};

/// The three states that go up to the CC (Eucalyptus: Pending, Extant, Teardown).
enum class InstanceState { kPending, kExtant, kTeardown };
const char* InstanceStateName(InstanceState s);  ///< "Pending", "Extant", "Teardown"

/// The NC's record of one instance.
struct Instance {
  RunInstanceRequest request;
  InstanceState state = InstanceState::kPending;
  std::string hypervisor_state;  ///< the domain's state as the hypervisor last reported it
  int64_t launch_time_ms = 0;
  int64_t state_change_ms = 0;
  std::string reason;            ///< why it went to Teardown (e.g. "image fetch failed: ...")
};

/// ncDescribeResource: sizes in MiB (memory) and GiB (disk), as Eucalyptus 3.x+.
struct NodeResource {
  std::string status = "ok";
  uint64_t memory_max_mib = 0, memory_available_mib = 0;
  uint64_t disk_max_gib = 0, disk_available_gib = 0;
  int cores_max = 0, cores_available = 0;
};

/// ncTerminateInstance's answer.
struct TerminateResult {
  std::string instance_id;
  std::string previous_state;
  std::string shutdown_state;
};

Json ToJson(const ImageRef& r);
Json ToJson(const RunInstanceRequest& r);
Json ToJson(const Instance& i);
Json ToJson(const NodeResource& r);
Json ToJson(const TerminateResult& r);

/// Parse and validate; InvalidArgument names the field ("'vm_type.cores' must be ...").
Result<RunInstanceRequest> RunInstanceRequestFromJson(const Json& j);
Result<Instance> InstanceFromJson(const Json& j);
Result<NodeResource> NodeResourceFromJson(const Json& j);
Result<TerminateResult> TerminateResultFromJson(const Json& j);

/// REQUIRES nothing; InvalidArgument when `id` is not "i-" + 8..17 lower-case hex.
Status ValidateInstanceId(const std::string& id);
/// Checks the request's ids, sizes, key and user data limits.
Status ValidateRunInstanceRequest(const RunInstanceRequest& r);

/// The MAC the NC gives an instance without one: "d0:0d:" + the first 8 hex digits of its id.
std::string DefaultMac(const std::string& instance_id);

}  // namespace euca::nc
