#pragma once
// Errors of the internal HTTP/JSON API (docs/internal-api.md): a Status travels as
//   {"error":{"code":"NotFound","message":"...","wire_code":"InvalidInstanceID.NotFound"}}
// (wire_code only when the Status has one)
// with the HTTP status of the error map (core/base/error_map.h), and comes back as the same
// Status on the client. Pure functions; thread-safe.

#include <string>
#include <string_view>

#include "core/base/status.h"

namespace euca::api {

/// The JSON body of an error reply for `status` (code = CodeName(status.code())).
/// REQUIRES: !status.ok().
std::string InternalErrorJson(const Status& status);

/// The Status an error reply stands for: its code and message when the body is an error
/// document, else a Status from the HTTP status alone (401 Unauthenticated, 403
/// PermissionDenied, 404 NotFound, 5xx Unavailable, other Internal) naming `what`.
Status StatusFromInternalError(int http_status, std::string_view body, const std::string& what);

}  // namespace euca::api
