#include "core/nc/nc_http.h"

#include <algorithm>

#include "core/api/digest.h"
#include "core/api/encoding.h"
#include "core/api/internal_errors.h"
#include "core/base/error_map.h"
#include "core/nc/json_service.h"

namespace euca::nc {
namespace {

constexpr std::string_view kPrefix = "/nc/";

Result<std::string> InstanceIdOf(const Json& body) {
  if (!body.is_object() || !body.contains("instance_id") || !body["instance_id"].is_string()) {
    return InvalidArgument("'instance_id' is required");
  }
  std::string id = body["instance_id"].get<std::string>();
  EUCA_RETURN_IF_ERROR(ValidateInstanceId(id));
  return id;
}

Result<Json> Dispatch(NodeController& node, const std::string& op, const Json& body) {
  if (op == "runInstance") {
    EUCA_ASSIGN_OR_RETURN(RunInstanceRequest request, RunInstanceRequestFromJson(body));
    EUCA_ASSIGN_OR_RETURN(Instance instance, node.RunInstance(request));
    return Json{{"instance", ToJson(instance)}};
  }
  if (op == "describeInstances") {
    std::vector<std::string> ids;
    if (body.is_object() && body.contains("instance_ids")) {
      const Json& list = body["instance_ids"];
      if (!list.is_array()) return InvalidArgument("'instance_ids' must be an array of strings");
      for (const Json& id : list) {
        if (!id.is_string()) return InvalidArgument("'instance_ids' must be an array of strings");
        ids.push_back(id.get<std::string>());
      }
    }
    EUCA_ASSIGN_OR_RETURN(std::vector<Instance> instances, node.DescribeInstances(ids));
    Json out = Json::array();
    for (const Instance& i : instances) out.push_back(ToJson(i));
    return Json{{"instances", out}};
  }
  if (op == "terminateInstance") {
    EUCA_ASSIGN_OR_RETURN(std::string id, InstanceIdOf(body));
    EUCA_ASSIGN_OR_RETURN(TerminateResult r, node.TerminateInstance(id));
    return ToJson(r);
  }
  if (op == "rebootInstance") {
    EUCA_ASSIGN_OR_RETURN(std::string id, InstanceIdOf(body));
    EUCA_RETURN_IF_ERROR(node.RebootInstance(id));
    return Json{{"status", "ok"}};
  }
  if (op == "describeResource") {
    EUCA_ASSIGN_OR_RETURN(NodeResource r, node.DescribeResource());
    return ToJson(r);
  }
  if (op == "getConsoleOutput") {
    EUCA_ASSIGN_OR_RETURN(std::string id, InstanceIdOf(body));
    EUCA_ASSIGN_OR_RETURN(std::string text, node.GetConsoleOutput(id));
    return Json{{"instance_id", id}, {"output", api::Base64Encode(text)}};
  }
  if (op == "startNetwork") {
    StartNetworkRequest r;
    if (!body.is_object() || !body.contains("bridge") || !body["bridge"].is_string()) {
      return InvalidArgument("'bridge' is required");
    }
    r.bridge = body["bridge"].get<std::string>();
    if (body.contains("vlan") && body["vlan"].is_number_integer()) r.vlan = body["vlan"].get<int>();
    EUCA_RETURN_IF_ERROR(node.StartNetwork(r));
    return Json{{"status", "ok"}};
  }
  return Internal("unroutable operation '" + op + "'");  // MakeNcHandler checks kOperations first
}

constexpr std::string_view kOperations[] = {"runInstance",      "describeInstances", "terminateInstance",
                                            "rebootInstance",   "describeResource",  "getConsoleOutput",
                                            "startNetwork"};

}  // namespace

Authenticator ComponentAuthenticator(api::ComponentVerifyOptions options) {
  return [options = std::move(options)](const http::RequestHead& head, std::string_view body) -> Status {
    api::SignableRequest req;
    req.method = head.method;
    req.path = head.path;
    req.query = api::SplitQuery(head.query);
    req.headers = head.headers;
    req.body = std::string(body);
    return api::VerifyComponentRequest(req, options).status();
  };
}

Signer ComponentSigner(api::ComponentCredentials credentials, Clock* clock) {
  return [credentials = std::move(credentials), clock](http::ClientRequest& request) -> Status {
    // "http://host:port/path?query" -> path and query, as the receiver sees them.
    std::string_view url = request.url;
    size_t scheme = url.find("://");
    size_t path_at = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
    std::string_view target = path_at == std::string_view::npos ? "/" : url.substr(path_at);
    size_t q = target.find('?');
    std::string path(target.substr(0, q));
    std::string query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
    const int64_t now = (clock != nullptr ? *clock : RealClock()).NowMillis();
    return api::SignComponentRequest(credentials, request.method, path, api::SplitQuery(query),
                                     api::Sha256Hex(request.body), now, request.headers);
  };
}

http::Handler MakeNcHandler(NodeController& node, Authenticator authenticate) {
  return MakeJsonServiceHandler(
      {"node controller", std::string(kPrefix), std::vector<std::string>(std::begin(kOperations), std::end(kOperations))},
      std::move(authenticate),
      [&node](const std::string& op, const Json& body) { return Dispatch(node, op, body); });
}

NcClient::NcClient(std::string base_url, Signer sign, http::ClientOptions options)
    : base_url_(std::move(base_url)), sign_(std::move(sign)), options_(options) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Result<Json> NcClient::Call(const std::string& operation, const Json& body) {
  return CallJsonService("node controller", base_url_, kPrefix, operation, body, sign_, options_);
}

Result<Instance> NcClient::RunInstance(const RunInstanceRequest& request) {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("runInstance", ToJson(request)));
  if (!j.contains("instance")) return Internal("runInstance: the answer has no 'instance'");
  return InstanceFromJson(j["instance"]);
}

Result<std::vector<Instance>> NcClient::DescribeInstances(const std::vector<std::string>& ids) {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("describeInstances", Json{{"instance_ids", ids}}));
  if (!j.contains("instances") || !j["instances"].is_array()) {
    return Internal("describeInstances: the answer has no 'instances'");
  }
  std::vector<Instance> out;
  for (const Json& i : j["instances"]) {
    EUCA_ASSIGN_OR_RETURN(Instance instance, InstanceFromJson(i));
    out.push_back(std::move(instance));
  }
  return out;
}

Result<TerminateResult> NcClient::TerminateInstance(const std::string& id) {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("terminateInstance", Json{{"instance_id", id}}));
  return TerminateResultFromJson(j);
}

Status NcClient::RebootInstance(const std::string& id) {
  return Call("rebootInstance", Json{{"instance_id", id}}).status();
}

Result<NodeResource> NcClient::DescribeResource() {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("describeResource", Json::object()));
  return NodeResourceFromJson(j);
}

Result<std::string> NcClient::GetConsoleOutput(const std::string& id) {
  EUCA_ASSIGN_OR_RETURN(Json j, Call("getConsoleOutput", Json{{"instance_id", id}}));
  if (!j.contains("output") || !j["output"].is_string()) return Internal("getConsoleOutput: no 'output'");
  return api::Base64Decode(j["output"].get<std::string>());
}

Status NcClient::StartNetwork(const StartNetworkRequest& request) {
  return Call("startNetwork", Json{{"bridge", request.bridge}, {"vlan", request.vlan}}).status();
}

}  // namespace euca::nc
