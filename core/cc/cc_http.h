#pragma once
// The cluster controller's internal HTTP/JSON API (docs/internal-api.md): the handler that
// `euca serve cc` runs in front of a Cluster, and CcClient, the ClusterController that the
// cloud controller uses to reach a remote cluster. Requests are authenticated by the
// caller-supplied Authenticator (component credentials of the CLC in production).

#include <nlohmann/json.hpp>
#include <string>

#include "core/cc/cluster_controller.h"
#include "core/http/client.h"
#include "core/http/message.h"
#include "core/nc/nc_http.h"

namespace euca::cc {

using Json = nlohmann::ordered_json;
using nc::Authenticator;
using nc::Signer;

/// Largest JSON request body accepted (a RunInstances of many instances with user data).
inline constexpr size_t kMaxRequestBody = 64 << 20;

/// POST /cc/<operation> with a JSON body; see docs/internal-api.md.
http::Handler MakeCcHandler(ClusterController& cluster, Authenticator authenticate);

/// A remote cluster controller. Thread-safe (one HTTP connection per call).
class CcClient final : public ClusterController {
 public:
  /// `base_url`: "http://host:port" of `euca serve cc`.
  CcClient(std::string base_url, Signer sign, http::ClientOptions options = {});

  Result<std::vector<Placement>> RunInstances(const RunInstancesRequest& request) override;
  Result<std::vector<CcInstance>> DescribeInstances(const std::vector<std::string>& ids) override;
  Result<std::vector<nc::TerminateResult>> TerminateInstances(const std::vector<std::string>& ids) override;
  Status RebootInstances(const std::vector<std::string>& ids) override;
  Result<std::string> GetConsoleOutput(const std::string& instance_id) override;
  Result<std::vector<VmTypeAvailability>> DescribeResources(const std::vector<model::VmType>& types) override;
  Result<std::vector<NodeStatus>> DescribeNodes() override;
  Status SetNodes(const std::vector<std::string>& node_urls) override;
  Status Poll() override;
  Status ApplyNetwork(const std::string& driver, const network::DesiredState& state) override;

 private:
  Result<Json> Call(const std::string& operation, const Json& body);

  std::string base_url_;
  Signer sign_;
  http::ClientOptions options_;
};

// JSON of the cluster controller's types (docs/internal-api.md). The parsers validate what
// comes off the wire: InvalidArgument names the field.
Json ToJson(const model::VmType& t);
Json ToJson(const RunInstancesRequest& r);
Json ToJson(const Placement& p);
Json ToJson(const CcInstance& i);
Json ToJson(const VmTypeAvailability& a);
Json ToJson(const NodeStatus& s);
Result<model::VmType> VmTypeFromJson(const Json& j);
Result<RunInstancesRequest> RunInstancesRequestFromJson(const Json& j);
Result<Placement> PlacementFromJson(const Json& j);
Result<CcInstance> CcInstanceFromJson(const Json& j);
Result<VmTypeAvailability> VmTypeAvailabilityFromJson(const Json& j);
Result<NodeStatus> NodeStatusFromJson(const Json& j);

}  // namespace euca::cc
