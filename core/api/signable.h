#pragma once
// What request signing and checking see of an HTTP request: a typed view that the daemons fill
// from whatever HTTP library they use (HTTP never enters core, CONVENTIONS.md), and that our
// own clients fill before they sign.

#include <string>

#include "core/api/encoding.h"
#include "core/base/headers.h"

namespace euca::api {

/// Whose canonicalization rules apply. S3 signs the path as sent (no second encoding, no
/// normalization), declares the payload hash in x-amz-content-sha256 and has its own SigV2
/// (REST "AWS key:signature"); every other service (the EC2 Query API) normalizes and
/// re-encodes the path, hashes the body itself and has the Query SigV2 (SignatureVersion=2).
enum class Dialect { kS3, kQuery };

/// An HTTP request as signatures see it. Plain data; copyable.
struct SignableRequest {
  std::string method = {};  ///< "GET", "PUT", ... (upper case)
  std::string path = "/";   ///< path as received, still percent-encoded ("/b/a%20b"); "" counts as "/"
  QueryParams query = {};   ///< raw query parameters as received, in order
  Headers headers = {};     ///< as received; Host must be among them
  std::string body = {};    ///< the whole body when small and at hand (EC2 Query POST); else empty
  /// Hex SHA-256 of a body that is not in `body` (streamed); when set it stands for the body.
  std::string payload_sha256 = {};
};

/// An access key pair.
struct Credentials {
  std::string access_key_id = {};
  std::string secret_key = {};
};

}  // namespace euca::api
