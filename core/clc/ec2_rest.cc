#include "core/clc/ec2_rest.h"

#include <memory>
#include <optional>

#include "core/api/auth.h"
#include "core/api/ec2_query.h"
#include "core/base/error_map.h"
#include "core/base/random.h"
#include "core/clc/cloud.h"

namespace euca::clc {
namespace {

constexpr std::string_view kServicePaths[] = {"/", "/services/compute", "/services/Eucalyptus"};

bool IsServicePath(std::string_view path) {
  if (path.empty()) return true;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  for (auto p : kServicePaths)
    if (path == p) return true;
  return false;
}

// EC2 request ids are UUIDs.
std::string NewRequestId() {
  std::string h = RandomHex(32);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

http::Response Xml(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.Set("Content-Type", "text/xml;charset=UTF-8");
  return r;
}

http::Response ErrorResponse(const Status& s, const std::string& request_id, std::optional<int> status = {}) {
  return Xml(status.value_or(HttpStatus(s)), api::Ec2ErrorXml(s, request_id));
}

class Ec2Rest final {
 public:
  Ec2Rest(Cloud& cloud, Ec2RestOptions options) : cloud_(cloud), options_(std::move(options)) {}

  http::Response Handle(const http::RequestHead& head, http::BodyReader& reader) {
    const std::string request_id = NewRequestId();
    http::Response r = Serve(head, reader, request_id);
    r.headers.Set("x-amzn-RequestId", request_id);
    return r;
  }

 private:
  http::Response Serve(const http::RequestHead& head, http::BodyReader& reader, const std::string& request_id) {
    if (!IsServicePath(head.path))
      return ErrorResponse(
          Status(Code::kNotFound,
                 "there is no EC2 service at '" + head.path + "'; use /, /services/compute or /services/Eucalyptus",
                 "InvalidAction"),
          request_id, 404);
    if (head.method != "GET" && head.method != "POST")
      return ErrorResponse(Status(Code::kInvalidArgument,
                                  "the method '" + head.method + "' is not allowed; use GET or POST", "InvalidRequest"),
                           request_id, 405);
    auto body = reader.ReadAll(kMaxEc2Body);
    if (!body.ok()) {
      Status s = body.status().code() == Code::kResourceExhausted
                     ? Status(Code::kInvalidArgument, "the request body is larger than 1 MiB", "InvalidParameterValue")
                     : body.status();
      return ErrorResponse(s, request_id);
    }

    // Authenticate.
    api::SignableRequest signable{.method = head.method,
                                  .path = head.path,
                                  .query = api::SplitQuery(head.query),
                                  .headers = head.headers,
                                  .body = *body};
    std::optional<Principal> principal;
    api::SecretLookup lookup = [&](const std::string& akid) -> Result<std::string> {
      auto id = cloud_.AuthenticateKey(akid);
      if (!id.ok()) {
        if (id.status().code() == Code::kUnauthenticated || id.status().code() == Code::kNotFound)
          return NotFound("the access key id '" + akid + "' does not exist, is not active or its user is disabled");
        return id.status();
      }
      principal = id->principal;
      return id->secret;
    };
    api::VerifyOptions vopts{.dialect = api::Dialect::kQuery,
                             .service = "ec2",
                             .region = options_.region,
                             .clock = options_.clock,
                             .allow_anonymous = false};
    auto verified = api::VerifyRequest(signable, lookup, vopts);
    if (!verified.ok()) return ErrorResponse(verified.status(), request_id);
    if (!principal)
      return ErrorResponse(Status(Code::kUnauthenticated, "the request is not signed", "AuthFailure"), request_id);

    // Parse and dispatch.
    auto request =
        api::Ec2Request::FromHttp(head.method, head.query, head.headers.Get("Content-Type"), *body, request_id);
    if (!request.ok()) return ErrorResponse(request.status(), request_id);
    api::Ec2Response response(request->action(), request->version(), request_id);
    Status s = cloud_.Dispatch(*principal, *request, response);
    if (!s.ok()) return ErrorResponse(s, request_id);
    return Xml(200, response.ToString());
  }

  Cloud& cloud_;
  Ec2RestOptions options_;
};

}  // namespace

http::Handler MakeEc2Handler(Cloud& cloud, Ec2RestOptions options) {
  auto rest = std::make_shared<Ec2Rest>(cloud, std::move(options));
  return [rest](const http::RequestHead& head, http::BodyReader& body) { return rest->Handle(head, body); };
}

}  // namespace euca::clc
