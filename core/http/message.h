#pragma once
// The typed shapes of HTTP messages that handlers and callers see: a request head, a pull-style
// body reader, a response with a body held in memory or streamed from a source. Nothing here
// knows S3 or EC2, and nothing here needs Beast or libcurl.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/headers.h"
#include "core/base/status.h"

namespace euca::http {

/// Produces the next bytes of a body: writes at most `n` bytes to `buf` and returns how many;
/// 0 means the body is complete; an error abandons the transfer (the connection is closed).
/// Called from one thread at a time; may block.
using BodySource = std::function<Result<size_t>(char* buf, size_t n)>;

/// A source over bytes held in memory.
BodySource StringSource(std::string data);

/// `length` bytes at `offset` of the open file `fd`.
struct FileRange {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
};

/// What a server handler learns of a request before its body.
struct RequestHead {
  std::string method;  ///< "GET", as sent (methods are case-sensitive)
  std::string target;  ///< request-target as received: "/b/k%20x?acl"
  std::string path;    ///< target up to '?', still percent-encoded
  std::string query;   ///< target after '?', raw; "" when there is none
  int version = 11;    ///< 10 or 11 (HTTP/1.0, HTTP/1.1)
  Headers headers;
  std::optional<uint64_t> content_length;  ///< when the request declared one
  bool chunked = false;                    ///< Transfer-Encoding: chunked
  std::string remote;                      ///< peer "ADDR:PORT"
};

/// The request body, pulled by the handler. Never holds more than one read's worth of it.
/// Only the handler's thread may use it, and only during the handler call.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  /// Reads up to `n` bytes of the (de-chunked) body into `buf`; 0 at its end. Blocks until some
  /// bytes arrive. Unavailable when the peer goes away or stalls beyond the server's I/O timeout;
  /// InvalidArgument when the body is malformed. A request with "Expect: 100-continue" gets its
  /// "100 Continue" on the first call, so a handler that answers without reading spares the
  /// client the upload.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;

  /// The whole body as a string; ResourceExhausted if it is longer than `limit`. For small bodies
  /// (EC2 Query forms, S3 XML documents).
  Result<std::string> ReadAll(size_t limit);
};

struct Response;

/// A response given later, from any thread: for a handler whose reply waits on work that
/// another thread completes (Walrus's PUTs wait for a group commit), so that no worker thread
/// sleeps meanwhile. The handler makes one, arranges for Send to be called exactly once, and
/// returns Response::Later(it). Send may come before or after the handler returns; it must
/// not block, and its response should be small (a body up to 64 KiB; a larger one is sent
/// from a worker thread). Until Send, the connection waits (no further request is read).
class PendingResponse {
 public:
  static std::shared_ptr<PendingResponse> Make();
  PendingResponse();
  ~PendingResponse();
  /// Gives the response. Only the first call counts.
  void Send(Response response);
  /// For the server: `sink` gets the response once it is given (at once if it was already).
  void OnSend(std::function<void(Response)> sink);

 private:
  std::mutex mu_;
  std::unique_ptr<Response> response_;  // given before a sink was set
  std::function<void(Response)> sink_;
  bool sent_ = false;
};

/// A response: status, headers, and a body either held in `body` or streamed from `source`.
struct Response {
  int status = 200;
  Headers headers = {};
  std::string body = {};   ///< the whole body, for small replies
  BodySource source = {};  ///< a streamed body; when set, `body` is ignored
  /// With `source`: the body's exact length, sent as Content-Length (else the body goes out
  /// chunked). For a HEAD request: the length announced. Otherwise body.size() is used.
  std::optional<uint64_t> content_length = {};
  /// With `source` and `content_length`: the same bytes as ranges of open files, which the
  /// server sends with sendfile(2) instead of pulling `source` (no copy through user space).
  /// The descriptors must stay open until the response is sent: `files_owner` keeps what
  /// holds them alive.
  std::vector<FileRange> files = {};
  std::shared_ptr<void> files_owner = {};
  /// When set, the response is given later through it and the rest of this one is ignored.
  std::shared_ptr<PendingResponse> pending = {};

  /// A small response with a body and its Content-Type.
  static Response Text(int status, std::string body, std::string content_type = "text/plain");
  /// A response that `pending` will give.
  static Response Later(std::shared_ptr<PendingResponse> pending);
};

/// Serves one request. Runs on a server worker thread; may block (on the body, on disk, on
/// core). Exceptions become a 500 reply.
using Handler = std::function<Response(const RequestHead& head, BodyReader& body)>;

}  // namespace euca::http
