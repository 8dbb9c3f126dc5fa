#pragma once
// The framing shared by the internal HTTP/JSON services of the node and cluster controllers
// (docs/internal-api.md): `POST <prefix><operation>` with a JSON body, authenticated by the
// caller's Authenticator, answered with JSON or an internal error document. The component's
// own handler only maps an operation and its JSON to an answer.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/status.h"
#include "core/http/client.h"
#include "core/http/message.h"
#include "core/nc/nc_http.h"

namespace euca::nc {

/// Answers one operation's JSON request.
using JsonOperation = std::function<Result<Json>(const std::string& operation, const Json& body)>;

/// What a JSON service is: its name for messages ("node controller"), the path prefix
/// ("/nc/") and its operations.
struct JsonService {
  std::string component;
  std::string prefix;
  std::vector<std::string> operations;
};

/// Serves `service`: 404 for other paths and unknown operations, 405 for other methods, then
/// the body (at most kMaxRequestBody), `authenticate`, JSON parsing, and `answer`.
http::Handler MakeJsonServiceHandler(JsonService service, Authenticator authenticate, JsonOperation answer);

/// POSTs `body` to `base_url` + `prefix` + `operation`, signed by `sign` (if any), and returns
/// the JSON object answered, or the Status of the service's error document. Transport errors
/// name the component and URL.
Result<Json> CallJsonService(std::string_view component, const std::string& base_url, std::string_view prefix,
                             const std::string& operation, const Json& body, const Signer& sign,
                             const http::ClientOptions& options);

}  // namespace euca::nc
