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

/// Exit status for a usage error found by the argument parser (same as InvalidArgument).
inline constexpr int kUsageExitStatus = 2;

}  // namespace euca
