#pragma once
// Checking a request's AWS signature: SigV4 (Authorization header, presigned query,
// aws-chunked streaming seed) and SigV2 (S3 REST header and presigned query; Query API
// SignatureVersion=2). The checker does not know the state store: it asks a callback for the
// secret of an access key id. Failures are Status values with the wire code the API answers
// with (see VerifyRequest). Thread-safe.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/api/aws_chunked.h"
#include "core/api/signable.h"
#include "core/base/clock.h"
#include "core/base/status.h"

namespace euca::api {

/// The secret key of `access_key_id`. NotFound when there is no such key; any other error (a
/// disabled user: PermissionDenied) is passed through unchanged.
using SecretLookup = std::function<Result<std::string>(const std::string& access_key_id)>;

/// How a request proved who sent it.
enum class AuthScheme {
  kAnonymous,    ///< no signature (only with VerifyOptions::allow_anonymous)
  kSigV4Header,  ///< Authorization: AWS4-HMAC-SHA256 ...
  kSigV4Query,   ///< presigned X-Amz-Algorithm=AWS4-HMAC-SHA256&...
  kSigV2Header,  ///< S3 Authorization: AWS AKID:SIG
  kSigV2Query,   ///< S3 presigned AWSAccessKeyId&Expires&Signature
  kSigV2Params,  ///< Query API SignatureVersion=2 (in the query or the form body)
};

/// What the caller must still check of a body the verifier did not see.
enum class PayloadCheck {
  kNone,        ///< nothing: the body was covered here (or is not signed by this scheme)
  kUnsigned,    ///< UNSIGNED-PAYLOAD: the body is not signed
  kSha256,      ///< the streamed body must hash to payload_sha256, else XAmzContentSHA256Mismatch
  kAwsChunked,  ///< decode the body with AwsChunkedDecoder(*streaming)
};

struct VerifyOptions {
  Dialect dialect = Dialect::kS3;
  std::string service = {};              ///< SigV4 scope service to insist on ("s3", "ec2"); empty accepts any
  std::string region = {};               ///< SigV4 scope region to insist on; empty accepts any
  Clock* clock = nullptr;                ///< now; nullptr = RealClock()
  int64_t max_skew_ms = 15 * 60 * 1000;  ///< allowed distance of the request time from now
  /// The bucket when the request named it by host name (virtual-host style); S3 SigV2 signs
  /// "/bucket" + path.
  std::string virtual_host_bucket = {};
  /// The endpoint prefix the server strips from this request's path ("/services/objectstorage"),
  /// else empty; S3 SigV2 accepts a signature over the path with or without it.
  std::string s3_service_prefix = {};
  /// Let a request without any signature through as kAnonymous (S3 ACLs decide); otherwise
  /// it fails (AccessDenied / MissingAuthenticationToken).
  bool allow_anonymous = false;
};

/// A request whose signature checked out.
struct Verified {
  std::string access_key_id;  ///< empty for kAnonymous
  AuthScheme scheme = AuthScheme::kAnonymous;
  int64_t request_time_ms = 0;  ///< the signed request time (or the expiry of a SigV2 URL)
  PayloadCheck payload = PayloadCheck::kNone;
  std::string payload_sha256;                 ///< for kSha256: lower-case hex the body must hash to
  std::optional<StreamingContext> streaming;  ///< for kAwsChunked
};

/// Checks the signature of `req` by whichever scheme it carries. On success returns the access
/// key id and what remains to check of the body. Errors carry a wire code by dialect:
///
/// | failure                         | kS3 wire code (HTTP)            | kQuery wire code (HTTP)   |
/// |---------------------------------|---------------------------------|---------------------------|
/// | signature does not match        | SignatureDoesNotMatch (403)     | AuthFailure (401)         |
/// | unknown access key              | InvalidAccessKeyId (403)        | AuthFailure (401)         |
/// | time off by more than max skew  | RequestTimeTooSkewed (403)      | RequestExpired (400)      |
/// | presigned URL expired           | AccessDenied (403)              | RequestExpired (400)      |
/// | malformed auth header / params  | AuthorizationHeaderMalformed or AuthorizationQueryParametersError (400) |
/// IncompleteSignature (400) | | no signature, not allowed       | AccessDenied (403)              |
/// MissingAuthenticationToken (403) |
///
/// and the lookup's own error for anything but NotFound. The HTTP statuses come from
/// euca::HttpStatus (core/base/error_map.h).
Result<Verified> VerifyRequest(const SignableRequest& req, const SecretLookup& lookup, const VerifyOptions& options);

}  // namespace euca::api
