#pragma once
// AWS Signature Version 4, the pieces (canonical request, string to sign, signing key,
// Authorization header) and a signer for our own clients and tests. Checking lives in auth.h;
// the aws-chunked streaming payload in aws_chunked.h. Pure functions; thread-safe.
// Reference: docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html and
// docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/signable.h"
#include "core/base/status.h"

namespace euca::api {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view kStreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// SHA-256 of the empty string.
inline constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The longest validity of a presigned URL (7 days), as S3 enforces it.
inline constexpr int64_t kMaxPresignSeconds = 604800;

/// A credential scope: "20130524/us-east-1/s3/aws4_request".
struct SigV4Scope {
  std::string date;              ///< YYYYMMDD
  std::string region;            ///< "us-east-1"
  std::string service;           ///< "s3", "ec2"
  std::string ToString() const;  ///< "DATE/REGION/SERVICE/aws4_request"
};

/// The parts of an "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." header
/// (or of the X-Amz-* presigned query parameters).
struct SigV4Authorization {
  std::string access_key_id;
  SigV4Scope scope;
  std::vector<std::string> signed_headers;  ///< lower-case names, in the order given
  std::string signature;                    ///< 64 lower-case hex digits
};

/// Parses an Authorization header value. InvalidArgument naming what is wrong when it is not
/// "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b,
/// Signature=HEX" (components in any order, spaces after commas optional, none repeated).
Result<SigV4Authorization> ParseSigV4Authorization(std::string_view header_value);

/// Parses "AKID/DATE/REGION/SERVICE/aws4_request" (the Credential component, or the decoded
/// X-Amz-Credential parameter) into key id and scope. InvalidArgument otherwise.
Result<SigV4Authorization> ParseSigV4Credential(std::string_view credential);

/// The canonical URI of a raw (as received) path. kS3: the path as the client encoded it,
/// re-encoded once from its decoded form ("/test$file.text" and "/test%24file.text" both give
/// "/test%24file.text"); no normalization. kQuery: dot segments and empty segments removed,
/// then every segment encoded again (AWS's double encoding).
std::string CanonicalUri(std::string_view raw_path, Dialect dialect);

/// The canonical query string of raw parameters: names and values decoded ('+' as space),
/// UriEncoded, sorted by name then value, joined with '&'. Parameters named `exclude`
/// (X-Amz-Signature for presigned URLs) are left out.
std::string CanonicalQueryString(const QueryParams& query, std::string_view exclude = {});

/// The canonical headers block: "name:value\n" for each name of `signed_headers` in sorted
/// order, values of repeated fields trimmed, inner whitespace runs collapsed and joined with
/// ','. InvalidArgument if a signed header is absent from `headers`.
Result<std::string> CanonicalHeaders(const Headers& headers, const std::vector<std::string>& signed_headers);

/// The canonical request: METHOD\nURI\nQUERY\nHEADERS\nSIGNED;HEADERS\nPAYLOAD_HASH.
std::string CanonicalRequest(std::string_view method, std::string_view canonical_uri, std::string_view canonical_query,
                             std::string_view canonical_headers, std::string_view signed_headers,
                             std::string_view payload_hash);

/// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical_request)>".
std::string SigV4StringToSign(std::string_view amz_date, const SigV4Scope& scope, std::string_view canonical_request);

/// The signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request"):
/// 32 raw bytes. Derived keys are kept in a small process-wide table by (secret, date,
/// region, service), so a server derives each caller's key once a day. Thread-safe.
std::string SigV4SigningKey(std::string_view secret_key, const SigV4Scope& scope);

/// Hex HMAC-SHA256 of `string_to_sign` under `signing_key`.
std::string SigV4Signature(std::string_view signing_key, std::string_view string_to_sign);

/// The signature of one aws-chunked chunk whose data hashes to `chunk_sha256_hex`, chained
/// from `previous_signature` (the seed signature for the first chunk).
std::string SigV4ChunkSignature(std::string_view signing_key, std::string_view amz_date, const SigV4Scope& scope,
                                std::string_view previous_signature, std::string_view chunk_sha256_hex);

/// The signature of the trailing headers of an aws-chunked body ("name:value\n" each, the
/// x-amz-trailer-signature itself excluded), chained from the final chunk's signature.
std::string SigV4TrailerSignature(std::string_view signing_key, std::string_view amz_date, const SigV4Scope& scope,
                                  std::string_view previous_signature, std::string_view canonical_trailers);

/// How our signer signs.
struct SigV4SignOptions {
  Dialect dialect = Dialect::kS3;
  std::string region = "us-east-1";
  std::string service = "s3";
  int64_t now_ms = 0;  ///< signing time (from a Clock)
  /// The payload hash to sign: a hex digest, kUnsignedPayload or a STREAMING-* value. Empty:
  /// the request's payload_sha256, else the hash of its body (kUnsignedPayload when presigning
  /// for kS3).
  std::string payload_hash = {};
};

/// Signs `req` for header authentication: sets X-Amz-Date, X-Amz-Content-Sha256 (kS3) and
/// Authorization, signing every header present except Authorization, User-Agent, Expect and
/// X-Amzn-Trace-Id. Returns the signature (the seed of an aws-chunked body).
/// REQUIRES: `req` has a Host header (else InvalidArgument, and `req` is unchanged).
Result<std::string> SignSigV4(SignableRequest& req, const Credentials& credentials, const SigV4SignOptions& options);

/// Presigns `req`: appends the X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders
/// and -Signature query parameters, signing the Host header only. InvalidArgument when
/// `expires_seconds` is outside 1..kMaxPresignSeconds or Host is missing.
Status PresignSigV4(SignableRequest& req, const Credentials& credentials, const SigV4SignOptions& options,
                    int64_t expires_seconds);

}  // namespace euca::api
