#include "core/cc/cc_http.h"

#include <algorithm>

#include "core/api/digest.h"
#include "core/api/internal_errors.h"
#include "core/base/error_map.h"
#include "core/nc/json_service.h"
#include "drivers/network/state_json.h"

namespace euca::cc {
namespace {

constexpr std::string_view kPrefix = "/cc/";

constexpr std::string_view kOperations[] = {"runInstances",    "describeInstances", "terminateInstances",
                                            "rebootInstances", "getConsoleOutput",  "describeResources",
                                            "describeNodes",   "setNodes",          "poll",
                                            "applyNetwork"};

// Field access that turns every missing or mistyped field into an InvalidArgument naming it.
Result<const Json*> Field(const Json& j, const char* key, bool required) {
  if (!j.is_object()) return InvalidArgument("the body must be a JSON object");
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return InvalidArgument(std::string("'") + key + "' is required");
    return static_cast<const Json*>(nullptr);
  }
  return &*it;
}

Result<std::string> Str(const Json& j, const char* key, bool required = false) {
  EUCA_ASSIGN_OR_RETURN(const Json* v, Field(j, key, required));
  if (v == nullptr) return std::string();
  if (!v->is_string()) return InvalidArgument(std::string("'") + key + "' must be a string");
  return v->get<std::string>();
}

Result<int64_t> Int(const Json& j, const char* key, int64_t fallback = 0) {
  EUCA_ASSIGN_OR_RETURN(const Json* v, Field(j, key, false));
  if (v == nullptr) return fallback;
  if (!v->is_number_integer()) return InvalidArgument(std::string("'") + key + "' must be an integer");
  return v->get<int64_t>();
}

Result<std::vector<std::string>> Strings(const Json& j, const char* key, bool required = false) {
  EUCA_ASSIGN_OR_RETURN(const Json* v, Field(j, key, required));
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (!v->is_array()) return InvalidArgument(std::string("'") + key + "' must be an array of strings");
  for (const Json& s : *v) {
    if (!s.is_string()) return InvalidArgument(std::string("'") + key + "' must be an array of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

Result<const Json*> Array(const Json& j, const char* key) {
  EUCA_ASSIGN_OR_RETURN(const Json* v, Field(j, key, true));
  if (!v->is_array()) return InvalidArgument(std::string("'") + key + "' must be an array");
  return v;
}

Result<Json> Dispatch(ClusterController& cc, const std::string& op, const Json& body) {
  if (op == "runInstances") {
    EUCA_ASSIGN_OR_RETURN(RunInstancesRequest request, RunInstancesRequestFromJson(body));
    EUCA_ASSIGN_OR_RETURN(std::vector<Placement> placements, cc.RunInstances(request));
    Json out = Json::array();
    for (const Placement& p : placements) out.push_back(ToJson(p));
    return Json{{"placements", out}};
  }
  if (op == "describeInstances") {
    EUCA_ASSIGN_OR_RETURN(std::vector<std::string> ids, Strings(body, "instance_ids"));
    EUCA_ASSIGN_OR_RETURN(std::vector<CcInstance> instances, cc.DescribeInstances(ids));
    Json out = Json::array();
    for (const CcInstance& i : instances) out.push_back(ToJson(i));
    return Json{{"instances", out}};
  }
  if (op == "terminateInstances") {
    EUCA_ASSIGN_OR_RETURN(std::vector<std::string> ids, Strings(body, "instance_ids", true));
    EUCA_ASSIGN_OR_RETURN(std::vector<nc::TerminateResult> results, cc.TerminateInstances(ids));
    Json out = Json::array();
    for (const nc::TerminateResult& r : results) out.push_back(nc::ToJson(r));
    return Json{{"results", out}};
  }
  if (op == "rebootInstances") {
    EUCA_ASSIGN_OR_RETURN(std::vector<std::string> ids, Strings(body, "instance_ids", true));
    EUCA_RETURN_IF_ERROR(cc.RebootInstances(ids));
    return Json{{"status", "ok"}};
  }
  if (op == "getConsoleOutput") {
    EUCA_ASSIGN_OR_RETURN(std::string id, Str(body, "instance_id", true));
    EUCA_RETURN_IF_ERROR(nc::ValidateInstanceId(id));
    EUCA_ASSIGN_OR_RETURN(std::string text, cc.GetConsoleOutput(id));
    return Json{{"instance_id", id}, {"output", api::Base64Encode(text)}};
  }
  if (op == "describeResources") {
    EUCA_ASSIGN_OR_RETURN(const Json* list, Array(body, "vm_types"));
    std::vector<model::VmType> types;
    for (const Json& t : *list) {
      EUCA_ASSIGN_OR_RETURN(model::VmType type, VmTypeFromJson(t));
      types.push_back(std::move(type));
    }
    EUCA_ASSIGN_OR_RETURN(std::vector<VmTypeAvailability> r, cc.DescribeResources(types));
    Json out = Json::array();
    for (const VmTypeAvailability& a : r) out.push_back(ToJson(a));
    return Json{{"resources", out}};
  }
  if (op == "describeNodes") {
    EUCA_ASSIGN_OR_RETURN(std::vector<NodeStatus> nodes, cc.DescribeNodes());
    Json out = Json::array();
    for (const NodeStatus& n : nodes) out.push_back(ToJson(n));
    return Json{{"nodes", out}};
  }
  if (op == "setNodes") {
    EUCA_ASSIGN_OR_RETURN(std::vector<std::string> urls, Strings(body, "node_urls", true));
    EUCA_RETURN_IF_ERROR(cc.SetNodes(urls));
    return Json{{"status", "ok"}};
  }
  if (op == "poll") {
    EUCA_RETURN_IF_ERROR(cc.Poll());
    return Json{{"status", "ok"}};
  }
  if (op == "applyNetwork") {
    EUCA_ASSIGN_OR_RETURN(std::string driver, Str(body, "driver", true));
    EUCA_ASSIGN_OR_RETURN(const Json* state, Field(body, "state", true));
    EUCA_ASSIGN_OR_RETURN(network::DesiredState desired, network::DesiredStateFromJson(*state));
    EUCA_RETURN_IF_ERROR(cc.ApplyNetwork(driver, desired));
    return Json{{"status", "ok"}};
  }
  return Internal("unroutable operation '" + op + "'");  // MakeCcHandler checks kOperations first
}

}  // namespace

// --- JSON ----------------------------------------------------------------------------------

Json ToJson(const model::VmType& t) {
  return {{"name", t.name}, {"cores", t.cores}, {"memory_mib", t.memory_mib}, {"disk_gib", t.disk_gib}};
}

Result<model::VmType> VmTypeFromJson(const Json& j) {
  model::VmType t;
  EUCA_ASSIGN_OR_RETURN(t.name, Str(j, "name", true));
  EUCA_ASSIGN_OR_RETURN(int64_t cores, Int(j, "cores", -1));
  EUCA_ASSIGN_OR_RETURN(int64_t memory, Int(j, "memory_mib", -1));
  EUCA_ASSIGN_OR_RETURN(int64_t disk, Int(j, "disk_gib", -1));
  if (cores < 1 || cores > 4096) return InvalidArgument("'cores' of VM type '" + t.name + "' must be 1 to 4096");
  if (memory < 1) return InvalidArgument("'memory_mib' of VM type '" + t.name + "' must be at least 1");
  if (disk < 0) return InvalidArgument("'disk_gib' of VM type '" + t.name + "' must not be negative");
  t.cores = static_cast<int>(cores);
  t.memory_mib = static_cast<uint64_t>(memory);
  t.disk_gib = static_cast<uint64_t>(disk);
  return t;
}

Json ToJson(const RunInstancesRequest& r) {
  Json list = Json::array();
  for (const nc::RunInstanceRequest& i : r.instances) list.push_back(nc::ToJson(i));
  return {{"instances", list}, {"target_node", r.target_node}};
}

Result<RunInstancesRequest> RunInstancesRequestFromJson(const Json& j) {
  RunInstancesRequest r;
  EUCA_ASSIGN_OR_RETURN(const Json* list, Array(j, "instances"));
  for (const Json& i : *list) {
    Result<nc::RunInstanceRequest> one = nc::RunInstanceRequestFromJson(i);
    if (!one.ok()) return one.status().WithContext("instance " + std::to_string(r.instances.size()));
    r.instances.push_back(std::move(one.value()));
  }
  EUCA_ASSIGN_OR_RETURN(r.target_node, Str(j, "target_node"));
  return r;
}

Json ToJson(const Placement& p) {
  Json j{{"instance_id", p.instance_id}, {"node", p.node}};
  if (!p.status.ok()) j["error"] = Json::parse(api::InternalErrorJson(p.status))["error"];
  return j;
}

Result<Placement> PlacementFromJson(const Json& j) {
  Placement p;
  EUCA_ASSIGN_OR_RETURN(p.instance_id, Str(j, "instance_id", true));
  EUCA_ASSIGN_OR_RETURN(p.node, Str(j, "node"));
  EUCA_ASSIGN_OR_RETURN(const Json* error, Field(j, "error", false));
  if (error != nullptr) {
    p.status =
        api::StatusFromInternalError(500, Json{{"error", *error}}.dump(), "placement of '" + p.instance_id + "'");
  }
  return p;
}

Json ToJson(const CcInstance& i) {
  Json j = nc::ToJson(i.instance);
  j["node"] = i.node;
  return j;
}

Result<CcInstance> CcInstanceFromJson(const Json& j) {
  CcInstance i;
  EUCA_ASSIGN_OR_RETURN(i.instance, nc::InstanceFromJson(j));
  EUCA_ASSIGN_OR_RETURN(i.node, Str(j, "node"));
  return i;
}

Json ToJson(const VmTypeAvailability& a) {
  return {{"type", ToJson(a.type)}, {"available", a.available}, {"max", a.max}};
}

Result<VmTypeAvailability> VmTypeAvailabilityFromJson(const Json& j) {
  VmTypeAvailability a;
  EUCA_ASSIGN_OR_RETURN(const Json* type, Field(j, "type", true));
  EUCA_ASSIGN_OR_RETURN(a.type, VmTypeFromJson(*type));
  EUCA_ASSIGN_OR_RETURN(int64_t available, Int(j, "available"));
  EUCA_ASSIGN_OR_RETURN(int64_t max, Int(j, "max"));
  a.available = static_cast<int>(available);
  a.max = static_cast<int>(max);
  return a;
}

Json ToJson(const NodeStatus& s) {
  return {{"url", s.url},
          {"state", s.state},
          {"resource", nc::ToJson(s.resource)},
          {"instances", s.instances},
          {"last_poll_ms", s.last_poll_ms},
          {"error", s.error}};
}

Result<NodeStatus> NodeStatusFromJson(const Json& j) {
  NodeStatus s;
  EUCA_ASSIGN_OR_RETURN(s.url, Str(j, "url", true));
  EUCA_ASSIGN_OR_RETURN(s.state, Str(j, "state", true));
  EUCA_ASSIGN_OR_RETURN(const Json* resource, Field(j, "resource", true));
  EUCA_ASSIGN_OR_RETURN(s.resource, nc::NodeResourceFromJson(*resource));
  EUCA_ASSIGN_OR_RETURN(int64_t instances, Int(j, "instances"));
  s.instances = static_cast<int>(instances);
  EUCA_ASSIGN_OR_RETURN(s.last_poll_ms, Int(j, "last_poll_ms"));
  EUCA_ASSIGN_OR_RETURN(s.error, Str(j, "error"));
  return s;
}

// --- server --------------------------------------------------------------------------------

http::Handler MakeCcHandler(ClusterController& cluster, Authenticator authenticate) {
  return nc::MakeJsonServiceHandler(
      {"cluster controller", std::string(kPrefix), std::vector<std::string>(std::begin(kOperations), std::end(kOperations))},
      std::move(authenticate),
      [&cluster](const std::string& op, const Json& body) { return Dispatch(cluster, op, body); });
}

// --- client --------------------------------------------------------------------------------

CcClient::CcClient(std::string base_url, Signer sign, http::ClientOptions options)
    : base_url_(std::move(base_url)), sign_(std::move(sign)), options_(options) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Result<Json> CcClient::Call(const std::string& operation, const Json& body) {
  return nc::CallJsonService("cluster controller", base_url_, kPrefix, operation, body, sign_, options_);
}

namespace {

// Parses the array `key` of an answer with `parse`.
template <typename T, typename Parse>
Result<std::vector<T>> ListOf(const Json& answer, const char* key, Parse parse, const char* op) {
  if (!answer.contains(key) || !answer[key].is_array()) {
    return Internal(std::string(op) + ": the answer has no '" + key + "'");
  }
  std::vector<T> out;
  out.reserve(answer[key].size());
  for (const Json& item : answer[key]) {
    Result<T> one = parse(item);
    if (!one.ok()) return one.status().WithContext(op);
    out.push_back(std::move(one.value()));
  }
  return out;
}

}  // namespace

Result<std::vector<Placement>> CcClient::RunInstances(const RunInstancesRequest& request) {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("runInstances", ToJson(request)));
  return ListOf<Placement>(j, "placements", PlacementFromJson, "runInstances");
}

Result<std::vector<CcInstance>> CcClient::DescribeInstances(const std::vector<std::string>& ids) {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("describeInstances", Json{{"instance_ids", ids}}));
  return ListOf<CcInstance>(j, "instances", CcInstanceFromJson, "describeInstances");
}

Result<std::vector<nc::TerminateResult>> CcClient::TerminateInstances(const std::vector<std::string>& ids) {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("terminateInstances", Json{{"instance_ids", ids}}));
  return ListOf<nc::TerminateResult>(j, "results", nc::TerminateResultFromJson, "terminateInstances");
}

Status CcClient::RebootInstances(const std::vector<std::string>& ids) {
  return Call("rebootInstances", Json{{"instance_ids", ids}}).status();
}

Result<std::string> CcClient::GetConsoleOutput(const std::string& id) {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("getConsoleOutput", Json{{"instance_id", id}}));
  if (!j.contains("output") || !j["output"].is_string()) return Internal("getConsoleOutput: no 'output'");
  return api::Base64Decode(j["output"].get<std::string>());
}

Result<std::vector<VmTypeAvailability>> CcClient::DescribeResources(const std::vector<model::VmType>& types) {
  Json list = Json::array();
  for (const model::VmType& t : types) list.push_back(ToJson(t));
  EUCA_ASSIGN_OR_RETURN(Json j, Call("describeResources", Json{{"vm_types", list}}));
  return ListOf<VmTypeAvailability>(j, "resources", VmTypeAvailabilityFromJson, "describeResources");
}

Result<std::vector<NodeStatus>> CcClient::DescribeNodes() {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("describeNodes", Json::object()));
  return ListOf<NodeStatus>(j, "nodes", NodeStatusFromJson, "describeNodes");
}

Status CcClient::SetNodes(const std::vector<std::string>& node_urls) {
  return Call("setNodes", Json{{"node_urls", node_urls}}).status();
}

Status CcClient::Poll() { return Call("poll", Json::object()).status(); }

Status CcClient::ApplyNetwork(const std::string& driver, const network::DesiredState& state) {
  return Call("applyNetwork", Json{{"driver", driver}, {"state", network::ToJson(state)}}).status();
}

}  // namespace euca::cc
