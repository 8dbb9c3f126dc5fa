#pragma once
// The node controller's internal HTTP/JSON API (docs/internal-api.md): the handler that
// `euca serve nc` runs in front of a Node, and NcClient, the NodeController that a cluster
// controller uses to reach a remote node. Requests are authenticated by the caller-supplied
// Authenticator (component credentials in production, see core/api/component_auth.h).

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/api/component_auth.h"
#include "core/base/clock.h"
#include "core/http/client.h"
#include "core/http/message.h"
#include "core/nc/node_controller.h"

namespace euca::nc {

/// Decides whether a request may be served: ok, or Unauthenticated / PermissionDenied.
using Authenticator = std::function<Status(const http::RequestHead& head, std::string_view body)>;
/// Adds authentication to an outgoing request (e.g. component signature headers).
using Signer = std::function<Status(http::ClientRequest& request)>;

/// Checks the component signature of each request (component_auth.h): the internal API's
/// Authenticator in production.
Authenticator ComponentAuthenticator(api::ComponentVerifyOptions options);
/// Signs each request with a component's credentials (component_auth.h). `clock` (null = the
/// real one) must outlive the signer.
Signer ComponentSigner(api::ComponentCredentials credentials, Clock* clock = nullptr);

/// Largest JSON request body accepted (user data is at most 16 KiB).
inline constexpr size_t kMaxRequestBody = 1 << 20;

/// POST /nc/<operation> with a JSON body; see docs/internal-api.md.
http::Handler MakeNcHandler(NodeController& node, Authenticator authenticate);

/// A remote node. Thread-safe (one HTTP connection per call).
class NcClient final : public NodeController {
 public:
  /// `base_url`: "http://host:port" of `euca serve nc`.
  NcClient(std::string base_url, Signer sign, http::ClientOptions options = {});

  Result<Instance> RunInstance(const RunInstanceRequest& request) override;
  Result<std::vector<Instance>> DescribeInstances(const std::vector<std::string>& ids) override;
  Result<TerminateResult> TerminateInstance(const std::string& instance_id) override;
  Status RebootInstance(const std::string& instance_id) override;
  Result<NodeResource> DescribeResource() override;
  Result<std::string> GetConsoleOutput(const std::string& instance_id) override;
  Status StartNetwork(const StartNetworkRequest& request) override;

 private:
  Result<Json> Call(const std::string& operation, const Json& body);

  std::string base_url_;
  Signer sign_;
  http::ClientOptions options_;
};

}  // namespace euca::nc
