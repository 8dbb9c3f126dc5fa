#pragma once
// AWS Signature Version 2 in its two flavours: the Query API one (EC2; SignatureVersion=2,
// HmacSHA256 or HmacSHA1 over "METHOD\nhost\npath\nsorted-query") and S3's REST one
// ("Authorization: AWS AKID:base64(HMAC-SHA1(StringToSign))", and presigned
// ?AWSAccessKeyId&Expires&Signature). Checking lives in auth.h. Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/signable.h"
#include "core/base/status.h"

namespace euca::api {

/// The S3 sub-resources that belong in a SigV2 canonicalized resource ("acl", "uploadId",
/// "response-content-type", ...).
bool IsS3SubResource(std::string_view name);

/// The Query SigV2 string to sign: "METHOD\nhost\npath\nQUERY" where host is lower case, path
/// the raw path ("/" when empty) and QUERY the decoded parameters except Signature, sorted by
/// name, UriEncoded and joined with '&'. `params` is the query plus, for a form POST, the body.
std::string QueryV2StringToSign(std::string_view method, std::string_view host, std::string_view raw_path,
                                const QueryParams& params);

/// The S3 SigV2 canonicalized amz headers: "name:value\n" for each x-amz-* header (names lower
/// case, sorted; repeated values joined with ','), plus x-amz-* query parameters when
/// `query` is given (presigned URLs carry them there).
std::string S3V2CanonicalAmzHeaders(const Headers& headers, const QueryParams* query = nullptr);

/// The S3 SigV2 canonicalized resource: "/" + `bucket` when the bucket was named by the host
/// (virtual-host style, else empty), the raw path, then the sub-resources sorted by name
/// ("?acl", "?partNumber=2&uploadId=X"), values decoded.
std::string S3V2CanonicalResource(std::string_view bucket, std::string_view raw_path, const QueryParams& query);

/// The canonicalized resources a SigV2 client may have signed for one request, the first as
/// sent (S3V2CanonicalResource), then only these equivalents: for a path naming a bucket alone,
/// the path with and without its trailing slash (botocore signs "/b/" for "GET /b"); and, when
/// the path starts with `service_prefix` (the endpoint prefix the server strips, e.g.
/// "/services/objectstorage"; empty for none), the same without that prefix (botocore signs
/// the path below its endpoint). No duplicates.
std::vector<std::string> S3V2CanonicalResources(std::string_view bucket, std::string_view raw_path,
                                                const QueryParams& query, std::string_view service_prefix);

/// The S3 SigV2 string to sign: "METHOD\nContent-MD5\nContent-Type\nDATE\nAMZ_HEADERS RESOURCE".
/// `date` is the Date header, "" when x-amz-date is given, or Expires for presigned URLs.
std::string S3V2StringToSign(std::string_view method, const Headers& headers, std::string_view date,
                             std::string_view canonical_amz_headers, std::string_view canonical_resource);

/// Signs `req` for the Query API: adds AWSAccessKeyId, SignatureMethod=HmacSHA256,
/// SignatureVersion=2, Timestamp and Signature to the query (GET) or, for a form POST
/// (Content-Type application/x-www-form-urlencoded), to the body. InvalidArgument without Host.
Status SignQueryV2(SignableRequest& req, const Credentials& credentials, int64_t now_ms);

/// Signs `req` for S3 REST: sets Date and "Authorization: AWS AKID:SIG". `bucket` is the bucket
/// when addressed by host name (virtual-host style), else "".
Status SignS3V2(SignableRequest& req, const Credentials& credentials, int64_t now_ms, std::string_view bucket = {});

/// Presigns `req` for S3 REST: appends AWSAccessKeyId, Expires (now + expires_seconds, epoch
/// seconds) and Signature to the query.
Status PresignS3V2(SignableRequest& req, const Credentials& credentials, int64_t now_ms, int64_t expires_seconds,
                   std::string_view bucket = {});

}  // namespace euca::api
