#include "core/base/error_map.h"

#include <array>

namespace euca {
namespace {

// Keep in step with man/euca.1 EXIT STATUS and docs/errors.md.
constexpr std::array<ErrorMapping, 11> kTable = {{
    {Code::kOk, 0, 200, "", ""},
    {Code::kInternal, 1, 500, "InternalError", "InternalError"},
    {Code::kInvalidArgument, 2, 400, "InvalidParameterValue", "InvalidArgument"},
    {Code::kNotFound, 3, 400, "InvalidParameterValue", "NoSuchKey"},
    {Code::kAlreadyExists, 4, 409, "InvalidParameterValue", "BucketAlreadyExists"},
    {Code::kConflict, 5, 409, "IncorrectState", "OperationAborted"},
    {Code::kPermissionDenied, 6, 403, "UnauthorizedOperation", "AccessDenied"},
    {Code::kUnauthenticated, 7, 401, "AuthFailure", "InvalidAccessKeyId"},
    {Code::kResourceExhausted, 8, 503, "InsufficientInstanceCapacity", "SlowDown"},
    {Code::kUnsupported, 9, 501, "Unsupported", "NotImplemented"},
    {Code::kUnavailable, 10, 503, "Unavailable", "ServiceUnavailable"},
}};

}  // namespace

const ErrorMapping& MapError(Code code) {
  for (const auto& row : kTable)
    if (row.code == code) return row;
  return kTable[1];
}

}  // namespace euca
