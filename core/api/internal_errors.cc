#include "core/api/internal_errors.h"

#include <nlohmann/json.hpp>

namespace euca::api {
namespace {

constexpr Code kCodes[] = {
    Code::kInvalidArgument, Code::kNotFound,          Code::kAlreadyExists, Code::kConflict,    Code::kPermissionDenied,
    Code::kUnauthenticated, Code::kResourceExhausted, Code::kUnsupported,   Code::kUnavailable, Code::kInternal};

}  // namespace

std::string InternalErrorJson(const Status& status) {
  nlohmann::ordered_json j = {{"error", {{"code", std::string(CodeName(status.code()))}, {"message", status.message()}}}};
  if (!status.wire_code().empty()) j["error"]["wire_code"] = status.wire_code();
  return j.dump();
}

Status StatusFromInternalError(int http_status, std::string_view body, const std::string& what) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const auto& e = j["error"];
    std::string code = e.value("code", "");
    std::string message = e.value("message", "");
    std::string wire_code = e.contains("wire_code") && e["wire_code"].is_string() ? e["wire_code"].get<std::string>() : "";
    for (Code c : kCodes)
      if (CodeName(c) == code) return Status(c, message, wire_code);
  }
  std::string message = what + ": HTTP " + std::to_string(http_status);
  switch (http_status) {
    case 401:
      return Unauthenticated(message);
    case 403:
      return PermissionDenied(message);
    case 404:
      return NotFound(message);
    default:
      return http_status >= 500 ? Unavailable(message) : Internal(message);
  }
}

}  // namespace euca::api
