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

// The one table of wire codes (S3 and EC2) with an HTTP status of their own (error responses
// tables of the S3 API reference and of the EC2 common errors). Keyed by wire code, which no
// two APIs use with different statuses; a code absent here takes its Code's row. A plain
// array, so a miscounted size cannot add empty rows.
struct WireStatus {
  std::string_view wire_code;
  int http_status;
};
constexpr WireStatus kWireStatuses[] = {
    {"AccessDenied", 403},
    {"AuthFailure", 401},                        // EC2
    {"AuthorizationHeaderMalformed", 400},
    {"AuthorizationQueryParametersError", 400},
    {"BadDigest", 400},
    {"BucketAlreadyExists", 409},
    {"BucketAlreadyOwnedByYou", 409},
    {"BucketNotEmpty", 409},
    {"EntityTooLarge", 400},
    {"EntityTooSmall", 400},
    {"IncompleteBody", 400},
    {"IncompleteSignature", 400},                // EC2
    {"InvalidAccessKeyId", 403},
    {"InvalidArgument", 400},
    {"InvalidBucketName", 400},
    {"InvalidDigest", 400},
    {"InvalidKeyPair.Duplicate", 400},           // EC2: every client error is a 400
    {"InvalidAMIName.Duplicate", 400},           // EC2
    {"InvalidGroup.Duplicate", 400},             // EC2
    {"InvalidGroup.InUse", 400},                 // EC2
    {"InvalidPermission.Duplicate", 400},        // EC2
    {"AddressLimitExceeded", 400},               // EC2
    {"InvalidLocationConstraint", 400},
    {"InvalidPart", 400},
    {"InvalidPartNumber", 416},
    {"InvalidPartOrder", 400},
    {"InvalidRange", 416},
    {"InvalidRequest", 400},
    {"KeyTooLongError", 400},
    {"MalformedACLError", 400},
    {"MalformedXML", 400},
    {"MetadataTooLarge", 400},
    {"MethodNotAllowed", 405},
    {"MissingContentLength", 411},
    {"MissingAuthenticationToken", 403},         // EC2
    {"NoSuchBucket", 404},
    {"NoSuchBucketPolicy", 404},                 // S3: configurations Walrus keeps none of
    {"NoSuchCORSConfiguration", 404},
    {"NoSuchConfiguration", 404},
    {"NoSuchKey", 404},
    {"NoSuchLifecycleConfiguration", 404},
    {"NoSuchPublicAccessBlockConfiguration", 404},
    {"NoSuchTagSet", 404},
    {"NoSuchUpload", 404},
    {"NoSuchWebsiteConfiguration", 404},
    {"ObjectLockConfigurationNotFoundError", 404},
    {"ReplicationConfigurationNotFoundError", 404},
    {"ServerSideEncryptionConfigurationNotFoundError", 404},
    {"NotImplemented", 501},
    {"OperationAborted", 409},
    {"PreconditionFailed", 412},
    {"RequestExpired", 400},                     // EC2
    {"RequestTimeTooSkewed", 403},
    {"SignatureDoesNotMatch", 403},              // S3 and EC2
    {"SlowDown", 503},
    {"XAmzContentSHA256Mismatch", 400},
    {"InstanceLimitExceeded", 400},              // EC2 (SLA rules, docs/sla.md)
    {"VcpuLimitExceeded", 400},                  // EC2 (SLA rules)
    {"AddressLimitExceeded", 400},               // EC2 (SLA rules)
    {"QuotaExceeded", 403},                      // S3 (SLA storage quota; as Ceph RGW)
};

// S3 wire codes whose code is not the one whose row names them as its default (the reverse
// direction, for replies of S3 servers). Mirrors the tables of docs/errors.md.
struct WireCode {
  std::string_view wire_code;
  Code code;
};
constexpr WireCode kS3WireCodes[] = {
    {"NoSuchBucket", Code::kNotFound},
    {"NoSuchUpload", Code::kNotFound},
    {"NoSuchVersion", Code::kNotFound},
    {"NoSuchBucketPolicy", Code::kNotFound},
    {"NoSuchCORSConfiguration", Code::kNotFound},
    {"NoSuchConfiguration", Code::kNotFound},
    {"NoSuchLifecycleConfiguration", Code::kNotFound},
    {"NoSuchPublicAccessBlockConfiguration", Code::kNotFound},
    {"NoSuchTagSet", Code::kNotFound},
    {"NoSuchWebsiteConfiguration", Code::kNotFound},
    {"ObjectLockConfigurationNotFoundError", Code::kNotFound},
    {"ReplicationConfigurationNotFoundError", Code::kNotFound},
    {"ServerSideEncryptionConfigurationNotFoundError", Code::kNotFound},
    {"BucketAlreadyOwnedByYou", Code::kAlreadyExists},
    {"BucketNotEmpty", Code::kConflict},
    {"PreconditionFailed", Code::kConflict},
    {"SignatureDoesNotMatch", Code::kUnauthenticated},
    {"RequestTimeTooSkewed", Code::kUnauthenticated},
    {"ExpiredToken", Code::kUnauthenticated},
    {"InvalidToken", Code::kUnauthenticated},
    {"InvalidSecurity", Code::kUnauthenticated},
    {"MissingSecurityHeader", Code::kUnauthenticated},
    {"AllAccessDisabled", Code::kPermissionDenied},
    {"AccountProblem", Code::kPermissionDenied},
    {"InvalidObjectState", Code::kPermissionDenied},
    {"MethodNotAllowed", Code::kUnsupported},
    {"RequestTimeout", Code::kUnavailable},
    {"TooManyBuckets", Code::kResourceExhausted},
    {"QuotaExceeded", Code::kResourceExhausted},
};

}  // namespace

Code CodeOfS3Error(std::string_view s3_code, int http_status) {
  for (const auto& row : kS3WireCodes)
    if (row.wire_code == s3_code) return row.code;
  for (const auto& row : kTable)
    if (row.code != Code::kOk && row.s3 == s3_code) return row.code;
  switch (http_status) {
    case 401:
    case 403:
      return http_status == 401 ? Code::kUnauthenticated : Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
    case 412:
      return Code::kConflict;
    case 501:
      return Code::kUnsupported;
    case 503:
      return Code::kUnavailable;
    default:
      return http_status >= 400 && http_status < 500 ? Code::kInvalidArgument : Code::kInternal;
  }
}

Code CodeOfEc2Error(std::string_view ec2_code, int http_status) {
  auto ends_with = [&](std::string_view suffix) {
    return ec2_code.size() >= suffix.size() && ec2_code.substr(ec2_code.size() - suffix.size()) == suffix;
  };
  if (ends_with(".NotFound") || ends_with(".Unavailable") || ends_with(".Malformed"))
    return ends_with(".NotFound") ? Code::kNotFound : Code::kInvalidArgument;
  if (ends_with(".Duplicate")) return Code::kAlreadyExists;
  if (ends_with("LimitExceeded")) return Code::kResourceExhausted;  // SLA limits (docs/sla.md)
  if (ends_with(".InUse")) return Code::kConflict;
  if (ec2_code == "AddressLimitExceeded") return Code::kResourceExhausted;
  if (ec2_code == "AuthFailure" || ec2_code == "RequestExpired" || ec2_code == "SignatureDoesNotMatch" ||
      ec2_code == "MissingAuthenticationToken" || ec2_code == "IncompleteSignature")
    return Code::kUnauthenticated;
  if (ec2_code == "MissingParameter" || ec2_code == "InvalidAction" || ec2_code == "MissingAction" ||
      ec2_code.substr(0, 7) == "Invalid")
    return Code::kInvalidArgument;
  for (const auto& row : kTable)
    if (row.code != Code::kOk && row.ec2 == ec2_code) return row.code;
  return CodeOfS3Error("", http_status);
}

int HttpStatus(const Status& status) {
  if (!status.wire_code().empty())
    for (const auto& row : kWireStatuses)
      if (row.wire_code == status.wire_code()) return row.http_status;
  return MapError(status.code()).http_status;
}

int S3HttpStatus(const Status& status) { return HttpStatus(status); }

std::string_view S3ErrorCode(const Status& status) {
  if (!status.wire_code().empty()) return status.wire_code();
  return MapError(status.code()).s3;
}

const ErrorMapping& MapError(Code code) {
  for (const auto& row : kTable)
    if (row.code == code) return row;
  return kTable[1];
}

}  // namespace euca
