#pragma once
// An HTTP/1.1 server on Boost.Beast/Asio for the daemons (`euca serve ...`). It parses
// requests, hands each to one typed Handler with a pull-style body reader, and streams the
// handler's response; it knows nothing of S3 or EC2. Bodies are never buffered whole: memory per
// connection is one header buffer plus one body buffer. Shape and threading: docs/http.md.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/base/status.h"
#include "core/http/message.h"

namespace euca::http {

/// A request body of a known length up to this many bytes (and no Expect) is read whole by
/// the I/O thread before its handler runs (docs/http.md); a response of known length up to
/// this many bytes is handed to the I/O thread whole.
inline constexpr uint64_t kSmallBodyBytes = 64 * 1024;

struct ServerOptions {
  /// "ADDR:PORT" to listen on: "127.0.0.1:8773", "0.0.0.0:8773", "[::1]:8773", ":8773" (every
  /// IPv4 address). Port 0 picks a free port; Server::port() tells which.
  std::string listen = "127.0.0.1:0";
  int io_threads = 2;                     ///< threads doing socket I/O and parsing
  int worker_threads = 16;                ///< threads running handlers: the most requests served at once
  size_t max_header_bytes = 16 * 1024;    ///< request line + headers; larger gets 431 and a close
  size_t body_buffer_bytes = 1024 * 1024;  ///< chunk size of streamed response bodies
  int64_t idle_timeout_ms = 60'000;       ///< how long a kept-alive connection may wait for a request
  int64_t io_timeout_ms = 120'000;        ///< how long one read or write may make no progress
  /// Requests for which this answers true run their handler on the I/O thread that read them,
  /// when their whole body is already in memory (none, or up to kSmallBodyBytes read ahead) and they do
  /// not expect 100 Continue: no hand-over to a worker and back. Only for handlers that never
  /// wait long (no disk sync, no waiting on other requests): while one runs, its I/O thread
  /// serves no other connection. A response that is not small is still written by a worker.
  /// Called on an I/O thread; must be cheap and thread-safe. Empty: every request goes to a
  /// worker. See docs/http.md.
  std::function<bool(const RequestHead&)> run_on_io_thread = {};
};

/// A running server. Thread-safe. Destroying it stops it (Stop() with the default grace).
class Server final {
 public:
  /// Binds, listens and starts the threads; the port is known when this returns.
  /// InvalidArgument for a malformed `listen`; Unavailable when the address cannot be bound.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The bound port.
  int port() const;
  /// "ADDR:PORT" actually bound ("127.0.0.1:40123").
  std::string address() const;

  /// Stops accepting and closes idle connections at once; requests being served may finish
  /// for up to `grace_ms`, after which their connections are closed too (their handlers then
  /// see I/O errors). Joins every thread. Idempotent.
  void Stop(int64_t grace_ms = 5000);

  /// Counters for tests and diagnostics: connections accepted, and requests whose handler has
  /// returned (counted before the response goes out).
  uint64_t connections_accepted() const;
  uint64_t requests_served() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Splits "ADDR:PORT" (see ServerOptions::listen) into host and port. InvalidArgument otherwise.
Result<std::pair<std::string, int>> ParseListenAddress(const std::string& listen);

}  // namespace euca::http
