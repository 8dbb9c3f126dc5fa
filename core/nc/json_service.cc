#include "core/nc/json_service.h"

#include <algorithm>

#include "core/api/internal_errors.h"
#include "core/base/error_map.h"

namespace euca::nc {
namespace {

http::Response JsonReply(int status, const Json& body) {
  return http::Response::Text(status, body.dump() + "\n", "application/json");
}

http::Response ErrorReply(const Status& s, int status = 0) {
  return http::Response::Text(status ? status : HttpStatus(s), api::InternalErrorJson(s) + "\n", "application/json");
}

}  // namespace

http::Handler MakeJsonServiceHandler(JsonService service, Authenticator authenticate, JsonOperation answer) {
  return [service = std::move(service), authenticate = std::move(authenticate), answer = std::move(answer)](
             const http::RequestHead& head, http::BodyReader& reader) -> http::Response {
    if (head.path.compare(0, service.prefix.size(), service.prefix) != 0) {
      return ErrorReply(NotFound("no such path '" + head.path + "': the " + service.component + " serves " +
                                 service.prefix + "<operation>"),
                        404);
    }
    const std::string op(head.path.substr(service.prefix.size()));
    if (std::find(service.operations.begin(), service.operations.end(), op) == service.operations.end())
      return ErrorReply(NotFound("the " + service.component + " has no operation '" + op + "'"), 404);
    if (head.method != "POST") {
      http::Response r = ErrorReply(InvalidArgument("use POST for '" + head.path + "'"), 405);
      r.headers.Set("Allow", "POST");
      return r;
    }
    Result<std::string> body = reader.ReadAll(kMaxRequestBody);
    if (!body.ok()) return ErrorReply(body.status());
    if (Status auth = authenticate(head, body.value()); !auth.ok()) return ErrorReply(auth);
    Json json = body.value().empty() ? Json::object() : Json::parse(body.value(), nullptr, false);
    if (json.is_discarded()) return ErrorReply(InvalidArgument("the request body is not JSON"));
    Result<Json> answered = answer(op, json);
    if (!answered.ok()) return ErrorReply(answered.status());
    return JsonReply(200, answered.value());
  };
}

Result<Json> CallJsonService(std::string_view component, const std::string& base_url, std::string_view prefix,
                             const std::string& operation, const Json& body, const Signer& sign,
                             const http::ClientOptions& options) {
  const std::string who = std::string(component) + " '" + base_url + "'";
  http::ClientRequest request;
  request.method = "POST";
  request.url = base_url + std::string(prefix) + operation;
  request.body = body.dump();
  request.headers.Set("Content-Type", "application/json");
  if (sign) EUCA_RETURN_IF_ERROR(sign(request));
  http::Client client(options);
  Result<http::ClientResponse> response = client.Do(request);
  if (!response.ok()) return response.status().WithContext(who);
  if (response.value().status != 200)
    return api::StatusFromInternalError(response.value().status, response.value().body, who + " " + operation);
  Json json = Json::parse(response.value().body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return Unavailable(who + " answered " + operation + " without JSON");
  return json;
}

}  // namespace euca::nc
