#pragma once
// An HTTP/1.1 client on libcurl for our own remote clients (EC2_URL, S3_URL, the internal API)
// and for tests: custom headers, bodies streamed up from a source and down into a sink, timeouts,
// and connection reuse across requests. Nothing here knows S3 or EC2.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/headers.h"
#include "core/base/status.h"
#include "core/http/message.h"

namespace euca::http {

struct ClientOptions {
  int64_t connect_timeout_ms = 10'000;
  /// The whole exchange; 0 = no limit (large transfers rely on stall_timeout_ms instead).
  int64_t timeout_ms = 0;
  /// Abort when no byte moves for this long; 0 = never.
  int64_t stall_timeout_ms = 60'000;
};

struct ClientRequest {
  std::string method = "GET";
  std::string url = {};  ///< "http://127.0.0.1:8773/bucket/key?acl", already percent-encoded
  /// Sent as given (a Host here replaces curl's). Streamed and large (> 1 MiB) bodies go out
  /// with "Expect: 100-continue" unless an Expect header here (empty: none) says otherwise.
  Headers headers = {};
  std::string body = {};   ///< a body held in memory
  BodySource source = {};  ///< a streamed body; when set, `body` is ignored
  /// Length of the streamed body (sent as Content-Length); unknown lengths go chunked.
  std::optional<uint64_t> content_length = {};
  /// Receives the response body piece by piece as it arrives; an error aborts the transfer and
  /// is returned. When unset the body is collected into ClientResponse::body.
  std::function<Status(std::string_view piece)> sink = {};
  /// Called with the final status and headers before the first byte of the response body
  /// reaches `sink` (not called for a response without a body), so that a caller can tell an
  /// error document from the content it asked for. An error aborts the transfer and is returned.
  std::function<Status(int status, const Headers& headers)> on_head = {};
  /// Overrides ClientOptions::timeout_ms for this request when >= 0.
  int64_t timeout_ms = -1;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;  ///< empty when the request had a sink
};

/// A client with its own connection cache: requests to the same host reuse a kept-alive
/// connection. Not thread-safe: one Client per thread.
class Client final {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends `request` and waits for the whole response. Any HTTP status is a success here (the
  /// caller reads ClientResponse::status); errors are transport failures: Unavailable for
  /// connect failures ("GET 'url': cannot connect: ..."), timeouts and resets ("GET 'url':
  /// ..."), InvalidArgument for a malformed URL, or the error of the request's source, sink or
  /// on_head.
  Result<ClientResponse> Do(const ClientRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace euca::http
