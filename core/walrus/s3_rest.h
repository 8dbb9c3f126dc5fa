#pragma once
// The S3 REST front of Walrus: an http::Handler that routes a request (path style, virtual-host
// style, and the Eucalyptus prefixes /services/objectstorage and /services/Walrus),
// authenticates it (api::VerifyRequest: SigV4 header / presigned / aws-chunked, SigV2 header /
// presigned; no credentials: anonymous), parses it into a typed Walrus call and encodes the
// typed result as S3 XML and headers. Walrus itself never sees HTTP (CONVENTIONS.md).
//
// Bodies stream both ways: a PUT reads the request body through Walrus into a provisional
// blob, checking the declared SHA-256 or the aws-chunked signatures before the last read
// returns, so a body that fails its check is never committed; a GET streams the object.
//
// Thread-safe: the handler keeps no mutable state.

#include <functional>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/http/message.h"
#include "core/model/account.h"
#include "core/walrus/walrus.h"

namespace euca::walrus {

/// The XML namespace of every S3 document.
inline constexpr char kS3XmlNamespace[] = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Who holds an access key, and its secret.
struct KeyOwner {
  model::Principal principal;
  std::string secret;
};

/// Resolves an access key id. NotFound or Unauthenticated (unknown, inactive, disabled user)
/// refuse the request with InvalidAccessKeyId; other errors pass through.
using KeyLookup = std::function<Result<KeyOwner>(const std::string& access_key_id)>;

struct S3RestOptions {
  /// Domains for virtual-host-style requests: Host "<bucket>.<domain>[:port]" names a bucket.
  std::vector<std::string> domains = {};
  /// SigV4 scope region to insist on; empty accepts any.
  std::string region = {};
  /// Now, for signature times; nullptr = RealClock(). Must outlive the handler.
  Clock* clock = nullptr;
};

/// The S3 handler over `walrus`. REQUIRES: `walrus` outlives the handler.
http::Handler MakeS3Handler(Walrus& walrus, KeyLookup lookup, S3RestOptions options = {});

/// Whether the S3 handler answers `head` without waiting on anything slow, so that a small one
/// may run on the server's I/O thread (http::ServerOptions::run_on_io_thread): GET or HEAD of
/// an object, and PUT of an object that is not a copy or a multipart part (its reply waits for
/// the group commit without holding the thread). Not the internal paths, bucket-level requests
/// (listings, bucket creation) or POSTs. `domains` as S3RestOptions::domains.
bool IsQuickS3Request(const http::RequestHead& head, const std::vector<std::string>& domains);

/// Where a request goes: the bucket and key it names (decoded), and the Eucalyptus service
/// prefix stripped from its path, if any. Exposed for tests.
struct S3Target {
  std::string bucket;
  std::string key;
  bool virtual_host = false;
  std::string service_prefix;  ///< "/services/objectstorage", "/services/Walrus" or ""
};
S3Target ResolveS3Target(const std::string& raw_path, const std::string& host, const std::vector<std::string>& domains);

}  // namespace euca::walrus
