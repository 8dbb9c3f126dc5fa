#pragma once
// The one table that maps a Status code to the outside world. Documented for users in
// man/euca.1 (EXIT STATUS) and docs/errors.md; change both with this table.

#include <string_view>

#include "core/base/status.h"

namespace euca {

struct ErrorMapping {
  Code code;
  int exit_status;          ///< CLI exit status of a command that fails with this code
  int http_status;          ///< HTTP status of an API reply
  std::string_view ec2;     ///< default EC2 Query API error code
  std::string_view s3;      ///< default S3 REST error code
};

/// The mapping row of `code`. Never fails: every code has a row.
const ErrorMapping& MapError(Code code);

/// HTTP status of an API error reply (S3 or EC2). Many wire codes have a status of their own
/// (NoSuchBucket 404, BucketNotEmpty 409, InvalidRange 416, SignatureDoesNotMatch 403,
/// RequestExpired 400, ...): when `status` carries such a wire code, that status; otherwise
/// the code's row (MapError(code).http_status). One table serves both APIs.
int HttpStatus(const Status& status);

/// HTTP status of an S3 REST error reply; the same as HttpStatus(status).
int S3HttpStatus(const Status& status);
/// The S3 error code of `status`: its wire code if it has one, else the code's default.
/// The view lives as long as `status`.
std::string_view S3ErrorCode(const Status& status);

/// The code of an S3 error reply from a server (the reverse of the mapping above, for our S3
/// client): the wire codes of docs/errors.md (NoSuchBucket -> NotFound, SignatureDoesNotMatch
/// -> Unauthenticated, BucketNotEmpty -> Conflict, ...), else the code whose row has `s3_code`
/// as its default, else by `http_status` (404 NotFound, 403 PermissionDenied, 409 Conflict,
/// 501 Unsupported, 503 Unavailable, other 4xx InvalidArgument, other 5xx Internal).
Code CodeOfS3Error(std::string_view s3_code, int http_status);

/// The code of an EC2 error reply from a server (for our EC2 client): "*.NotFound" ->
/// NotFound, "*.Duplicate" -> AlreadyExists, AuthFailure/RequestExpired -> Unauthenticated,
/// MissingParameter/InvalidAction/"Invalid*" -> InvalidArgument, else the code whose row has
/// `ec2_code` as its default, else by `http_status` as CodeOfS3Error does.
Code CodeOfEc2Error(std::string_view ec2_code, int http_status);

/// Exit status for a usage error found by the argument parser (same as InvalidArgument).
inline constexpr int kUsageExitStatus = 2;

}  // namespace euca
