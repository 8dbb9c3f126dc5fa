#include "core/http/server.h"

#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <functional>
#include <thread>
#include <vector>

#include "core/base/strings.h"

namespace euca::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Parser = bhttp::request_parser<bhttp::buffer_body>;
using Serializer = bhttp::response_serializer<bhttp::buffer_body>;

constexpr size_t kDrainLimit = 1 << 20;  // unread request body we read and drop to keep a connection
// Room in a connection's input buffer once it reads a body. Beast reads at most the buffer's
// free capacity at a time, which after a header alone is a few hundred bytes.
constexpr size_t kBodyReadBytes = size_t{128} * 1024;
// Bodies given as files go out with sendfile(2) from this size on; below it one copying write
// (header and body together) costs less than the extra hand-off.
constexpr uint64_t kSendFileMinBytes = 256 * 1024;
// Small requests and responses take the short way (docs/http.md): a request body up to this
// size is read by the I/O thread before the handler runs, and a response up to this size is
// handed back to the I/O thread whole, without the worker waiting for the write. A small
// request then costs two thread hand-overs instead of five or six.

std::chrono::milliseconds Ms(int64_t ms) { return std::chrono::milliseconds(ms); }

std::string HttpDateNow() {
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
           tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

bool IsParseError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message && ec != bhttp::error::need_buffer;
}

// The status line and header fields of `r` (framing aside: the callers decide it).
template <class Body>
void SetHeader(bhttp::response<Body>& res, const RequestHead& head, const Response& r) {
  res.version(head.version >= 11 ? 11 : 10);
  res.result(static_cast<unsigned>(r.status));
  for (const auto& f : r.headers) {
    // Framing is ours to decide.
    if (EqualsIgnoreCase(f.name, "content-length") || EqualsIgnoreCase(f.name, "transfer-encoding") ||
        EqualsIgnoreCase(f.name, "connection"))
      continue;
    res.insert(f.name, f.value);
  }
  if (res.find(bhttp::field::server) == res.end()) res.set(bhttp::field::server, "euca");
  if (res.find(bhttp::field::date) == res.end()) res.set(bhttp::field::date, HttpDateNow());
}

class Connection;

// The handler threads. Not boost::asio::thread_pool: it woke a sleeping thread for every post
// and, whenever a thread took a job with more queued, woke another, so that under a stream of
// small requests most woken threads found nothing left and slept again: two to three sleeps
// and wakes per request on a 16-client load (perf sched_switch), each a context switch that
// on a 2-core VM costs tens of microseconds. This pool wakes a sleeper only while the jobs
// queued outnumber the threads already woken for them.
class WorkerPool {
 public:
  explicit WorkerPool(size_t threads) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() { Join(); }

  void Post(std::function<void()> job) {
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_) return;  // joined: the job is dropped (what it holds is released)
    queue_.push_back(std::move(job));
    if (sleeping_ > waking_ && waking_ < queue_.size()) {
      ++waking_;
      lock.unlock();
      cv_.notify_one();
    }
  }

  // Runs what is queued, then ends the threads. Later posts are dropped.
  void Join() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      joining_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      while (queue_.empty() && !joining_) {
        ++sleeping_;
        cv_.wait(lock);
        --sleeping_;
        if (waking_ > 0) --waking_;
      }
      if (queue_.empty()) return;
      std::function<void()> job = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      try {
        job();
      } catch (...) {
        // Handlers' exceptions are answered in Serve; nothing else is expected to throw.
      }
      job = nullptr;  // released outside the lock
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t sleeping_ = 0;  // threads waiting on cv_
  size_t waking_ = 0;    // notified and not yet awake
  bool joining_ = false;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

struct Server::Impl {
  // Declared first so that they outlive the io_context: handlers it destroys may hold the last
  // reference to a connection, whose destructor unregisters it here.
  std::mutex mu;
  std::condition_variable conns_cv;
  std::map<uint64_t, std::weak_ptr<Connection>> conns;  // guarded by mu
  uint64_t next_id = 0;                                 // guarded by mu
  bool stopped = false;                                 // guarded by mu
  uint64_t pending = 0;  // guarded by mu: PendingResponses not yet given (Stop waits for them)

  ServerOptions opt;
  Handler handler;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  net::steady_timer accept_retry{ioc};
  std::vector<std::thread> io_threads;
  std::unique_ptr<WorkerPool> workers;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> served{0};
  int port = 0;
  std::string address;

  void Accept();
  void Forget(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    conns.erase(id);
    conns_cv.notify_all();
  }
  // Runs `fn` on every live connection's strand.
  template <typename Fn>
  void ForEachConnection(Fn fn);
};

namespace {

// One TCP connection. Its socket lives on a strand: header reads and completion handlers run
// there. A request's handler runs on a worker thread and does its body and response I/O by
// posting single operations to the strand and waiting for them (Await), so handlers may block
// while the I/O threads never do.
class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl* server, tcp::socket socket, uint64_t id) : s_(server), id_(id), stream_(std::move(socket)) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec)
      remote_ = (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) + ":" +
                std::to_string(ep.port());
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }
  ~Connection() { s_->Forget(id_); }

  void Start() { ReadHeader(); }

  // On the strand: closes the connection if it is waiting for a request, or for the rest of a
  // small one whose handler has not started (Stop()).
  void CloseIfIdle() {
    if (pre_reading_) dropped_ = true;
    if (idle_ || pre_reading_) Close();
  }
  // On the strand: closes the socket whatever it is doing; pending operations fail. While a
  // worker reads the body straight from the descriptor (ReadRaw) it is only shut down, which
  // wakes that read: the descriptor is not closed (and its number cannot be reused) under the
  // worker's feet. The socket closes later, at the next Close or with the connection.
  void Close() {
    beast::error_code ec;
    std::lock_guard<std::mutex> lock(raw_mu_);
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    if (!raw_reading_) stream_.socket().close(ec);
  }
  net::any_io_executor executor() { return stream_.get_executor(); }

  // --- used by the worker thread (BodyReaderImpl, Serve) ---
  Result<size_t> ReadBody(char* buf, size_t n);

 private:
  void ReadHeader() {
    if (s_->stopping) return Close();
    parser_.emplace();
    raw_ = false;
    raw_left_ = 0;
    parser_->header_limit(static_cast<std::uint32_t>(s_->opt.max_header_bytes));
    // Bodies stream; handlers decide their limits. (Not boost::none: Beast 1.74 then compares
    // a Content-Length against an empty optional and refuses every body.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    idle_ = true;
    stream_.expires_after(Ms(s_->opt.idle_timeout_ms));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Connection::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    idle_ = false;
    if (ec == bhttp::error::header_limit)
      return ReplyAndClose(431, "request header is larger than " + std::to_string(s_->opt.max_header_bytes) + " bytes");
    if (ec && IsParseError(ec)) return ReplyAndClose(400, "malformed request: " + ec.message());
    if (ec) return Close();  // end of stream, timeout, reset, shutdown
    pre_read_ = false;
    auto len = parser_->content_length();
    const auto& req = parser_->get();
    if (len && *len > 0 && *len <= kSmallBodyBytes && !parser_->is_done() &&
        req.find(bhttp::field::expect) == req.end()) {
      return PreReadBody(static_cast<size_t>(*len));
    }
    stream_.expires_never();
    if (TryServeHere()) return;
    s_->workers->Post([self = shared_from_this()] { self->Serve(); });
  }

  // On the strand, with the request's head parsed: serves it on this I/O thread when its body
  // is all in memory and ServerOptions::run_on_io_thread says so. True when it did.
  bool TryServeHere() {
    if (!s_->opt.run_on_io_thread || !parser_->is_done()) return false;
    RequestHead head = MakeHead();
    if (head.headers.Has("expect") || !s_->opt.run_on_io_thread(head)) return false;
    Serve(std::move(head), /*on_worker=*/false);
    return true;
  }

  // On the strand: reads a small body whole into small_body_, then hands the request to a
  // worker, whose reads are then served from memory (no hand-over per read). An error is kept
  // for the handler's read to report, as if it had read itself.
  void PreReadBody(size_t len) {
    // Room in the read buffer for the whole body: Beast reads no more than the buffer's free
    // capacity at a time (and at least 512 bytes), so a 4 KiB body in a fresh 512-byte buffer
    // took nine socket reads, each with its own epoll wake-up and timer renewal. The capacity
    // stays for the connection's later requests, whose head and body then come in one read.
    if (buffer_.capacity() < buffer_.size() + len) buffer_.reserve(buffer_.size() + len);
    small_body_.resize(len);
    small_read_ = 0;
    auto& body = parser_->get().body();
    body.data = small_body_.data();
    body.size = len;
    stream_.expires_after(Ms(s_->opt.io_timeout_ms));
    pre_reading_ = true;
    FillBody([this, self = shared_from_this(), len](beast::error_code ec, size_t) {
      pre_reading_ = false;
      if (dropped_) return;  // closed by Stop() before its handler started: as if it never came
      if (ec == bhttp::error::need_buffer) ec = {};
      small_body_.resize(len - parser_->get().body().size);
      parser_->get().body().data = nullptr;
      pre_read_ = true;
      pre_read_ec_ = ec;
      stream_.expires_never();
      if (TryServeHere()) return;
      s_->workers->Post([self] { self->Serve(); });
    });
  }

  // A last small reply for a request we could not parse, then a lingering close (so the reply is
  // not lost to a reset caused by unread input).
  void ReplyAndClose(int status, std::string message) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(status), 11);
    res->set(bhttp::field::server, "euca");
    res->set(bhttp::field::content_type, "text/plain");
    res->body() = std::move(message) + "\n";
    res->keep_alive(false);
    res->prepare_payload();
    stream_.expires_after(Ms(5000));
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code, size_t) { self->LingerClose(); });
  }

 public:
  // On the strand: ends a connection whose peer may still be sending (a request we refused or
  // did not read). Closing at once would make the kernel reset the connection, and the peer
  // could lose our reply; instead stop sending, read and drop its input until it closes, for at
  // most two seconds.
  void LingerClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    linger_until_ = std::chrono::steady_clock::now() + Ms(2000);
    Linger();
  }

 private:
  void Linger() {
    auto left = linger_until_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return Close();
    stream_.expires_after(left);
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->Linger();
    });
  }

  // Runs one asynchronous operation on the strand from a worker thread and waits for it.
  template <typename Initiate>
  std::pair<beast::error_code, size_t> Await(Initiate initiate) {
    auto done = std::make_shared<std::promise<std::pair<beast::error_code, size_t>>>();
    auto result = done->get_future();
    net::post(stream_.get_executor(), [this, &initiate, done] {
      stream_.expires_after(Ms(s_->opt.io_timeout_ms));
      initiate([done](beast::error_code ec, size_t n) { done->set_value({ec, n}); });
    });
    return result.get();
  }

  // On the strand: reads body bytes into the parser's buffer until it is full, the body
  // ends, or an error; then calls `done`. Each read renews the no-progress timeout.
  void FillBody(std::function<void(beast::error_code, size_t)> done) {
    bhttp::async_read_some(stream_, buffer_, *parser_,
                           [this, done = std::move(done)](beast::error_code ec, size_t) mutable {
                             if (ec == bhttp::error::need_buffer) ec = {};
                             if (!ec && !parser_->is_done() && parser_->get().body().size > 0) {
                               stream_.expires_after(Ms(s_->opt.io_timeout_ms));
                               return FillBody(std::move(done));
                             }
                             done(ec, 0);
                           });
  }

  // Whether the request's body has been read to its end (by the parser, or by ReadRaw).
  bool BodyDone() const { return raw_ ? raw_left_ == 0 : parser_->is_done(); }
  Result<size_t> ReadRaw(char* buf, size_t n);

  Status IoError(std::string_view what, const beast::error_code& ec) {
    io_failed_ = true;
    if (ec == beast::error::timeout)
      return Unavailable(std::string(what) + ": no progress for " + std::to_string(s_->opt.io_timeout_ms) +
                         " ms; the client stalled");
    if (IsParseError(ec)) return InvalidArgument(std::string(what) + ": malformed body: " + ec.message());
    return Unavailable(std::string(what) + ": " + ec.message());
  }

  RequestHead MakeHead() const;
  // Runs the handler and gives its response. On a worker (the default), or on the strand
  // (TryServeHere: the body is in memory, so nothing here waits on the strand).
  void Serve() { Serve(MakeHead(), /*on_worker=*/true); }
  void Serve(RequestHead head, bool on_worker);
  void Finish(const RequestHead& head, Response& response, bool keep, bool on_worker);
  bool Drain();
  bool WriteResponse(const RequestHead& head, Response& r, bool keep_alive);
  bool WriteSmallResponse(const RequestHead& head, Response& r, bool keep_alive);
  bool SendFiles(const std::vector<FileRange>& files, uint64_t length);

  Server::Impl* s_;
  uint64_t id_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::atomic<bool> idle_{false};
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  bool io_failed_ = false;
  std::string remote_;
  std::chrono::steady_clock::time_point linger_until_;
  std::vector<char> out_;  // response body buffer, reused across requests
  // A small request body read ahead by the I/O thread (PreReadBody): valid when pre_read_.
  bool pre_read_ = false;
  std::atomic<bool> pre_reading_{false};  // PreReadBody waits for the body
  bool dropped_ = false;                   // CloseIfIdle closed it while pre_reading_ (strand only)
  beast::error_code pre_read_ec_;
  std::string small_body_;
  size_t small_read_ = 0;
  // The rest of a Content-Length body read straight from the socket by the worker (ReadRaw):
  // set once the parser holds no buffered bytes. raw_left_ is what the body still lacks.
  bool raw_ = false;
  uint64_t raw_left_ = 0;
  std::mutex raw_mu_;         // orders Close() and ReadRaw's use of the descriptor
  bool raw_reading_ = false;  // guarded by raw_mu_: ReadRaw uses the descriptor
  char scratch_[4096];
};

class BodyReaderImpl final : public BodyReader {
 public:
  explicit BodyReaderImpl(Connection* c) : c_(c) {}
  Result<size_t> Read(char* buf, size_t n) override { return c_->ReadBody(buf, n); }

 private:
  Connection* c_;
};

RequestHead Connection::MakeHead() const {
  const auto& req = parser_->get();
  RequestHead h;
  h.method = std::string(req.method_string());
  h.target = std::string(req.target());
  size_t q = h.target.find('?');
  h.path = h.target.substr(0, q);
  h.query = q == std::string::npos ? std::string() : h.target.substr(q + 1);
  h.version = req.version();
  for (const auto& f : req) h.headers.Add(std::string(f.name_string()), std::string(f.value()));
  if (auto len = parser_->content_length()) h.content_length = *len;
  h.chunked = parser_->chunked();
  h.remote = remote_;
  return h;
}

Result<size_t> Connection::ReadBody(char* buf, size_t n) {
  if (pre_read_) {
    size_t k = std::min(n, small_body_.size() - small_read_);
    if (k > 0) {
      std::memcpy(buf, small_body_.data() + small_read_, k);
      small_read_ += k;
      return k;
    }
    if (n == 0) return size_t{0};
    if (pre_read_ec_) return IoError("read request body", pre_read_ec_);
  }
  if (n == 0 || BodyDone()) return size_t{0};
  if (io_failed_) return Unavailable("request body: the connection already failed");
  if (expect_continue_ && !continue_sent_) {
    continue_sent_ = true;
    static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [ec, unused] = Await(
        [this](auto handler) { net::async_write(stream_, net::buffer(k100.data(), k100.size()), std::move(handler)); });
    if (ec) return IoError("send 100 Continue", ec);
  }
  if (!raw_ && buffer_.size() == 0 && !parser_->chunked() && parser_->content_length_remaining()) {
    raw_ = true;
    raw_left_ = *parser_->content_length_remaining();
  }
  if (raw_) return ReadRaw(buf, n);
  if (buffer_.capacity() < kBodyReadBytes) buffer_.reserve(kBodyReadBytes);
  for (;;) {
    auto& body = parser_->get().body();
    body.data = buf;
    body.size = n;
    // One hand-over to the I/O thread fills the caller's buffer (or ends the body), rather
    // than one per socket read: a large PUT arrives in 1 MiB pieces, not 64 KiB ones.
    auto [ec, unused] = Await([this](auto handler) {
      FillBody(std::function<void(beast::error_code, size_t)>(std::move(handler)));
    });
    if (ec == bhttp::error::need_buffer) ec = {};
    size_t got = n - parser_->get().body().size;
    parser_->get().body().data = nullptr;
    if (ec) return IoError("read request body", ec);
    if (got > 0 || parser_->is_done()) return got;
  }
}

// On the worker: fills `buf` (or ends the body) straight from the socket, with no hand-over
// to the strand and no copy out of the parser's buffer. The strand does nothing with the
// socket while a handler runs, and the socket stays non-blocking: recv what is queued, and
// when nothing is, poll for more. (For a 1 GiB PUT the strand's path made about six system
// calls per 64 KiB: recvmsg, epoll_wait, timerfd_settime to renew the timeout, and epoll_ctl
// and futex calls for the hand-overs; this one about one recv per MiB.) No read goes past the
// body, so a pipelined next request stays in the socket for the strand.
Result<size_t> Connection::ReadRaw(char* buf, size_t n) {
  int fd;
  {
    std::lock_guard<std::mutex> lock(raw_mu_);
    if (!stream_.socket().is_open()) {
      io_failed_ = true;
      return Unavailable("read request body: the connection was closed");
    }
    fd = stream_.socket().native_handle();
    raw_reading_ = true;
  }
  struct Done {
    Connection* c;
    ~Done() {
      std::lock_guard<std::mutex> lock(c->raw_mu_);
      c->raw_reading_ = false;
    }
  } done{this};
  const size_t want = static_cast<size_t>(std::min<uint64_t>(n, raw_left_));
  auto fail = [&](std::string why) -> Result<size_t> {
    io_failed_ = true;
    return Unavailable("read request body: " + why);
  };
  size_t got = 0;
  while (got < want) {
    ssize_t k = ::recv(fd, buf + got, want - got, MSG_DONTWAIT);
    if (k > 0) {
      got += static_cast<size_t>(k);
      raw_left_ -= static_cast<uint64_t>(k);
      continue;
    }
    if (k == 0) return fail("the client closed the connection before the body's end");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(std::strerror(errno));
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<uint64_t>(s_->opt.io_timeout_ms, INT32_MAX)));
    if (r == 0) return fail("no progress for " + std::to_string(s_->opt.io_timeout_ms) + " ms; the client stalled");
    if (r < 0 && errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno));
  }
  return got;
}

bool Connection::Drain() {
  BodyReaderImpl reader(this);
  size_t total = 0;
  while (total <= kDrainLimit) {
    Result<size_t> n = reader.Read(scratch_, sizeof scratch_);
    if (!n.ok()) return false;
    if (*n == 0) return true;
    total += *n;
  }
  return false;
}

void Connection::Serve(RequestHead head, bool on_worker) {
  expect_continue_ = head.version >= 11 && EqualsIgnoreCase(head.headers.Get("expect"), "100-continue");
  continue_sent_ = false;
  io_failed_ = false;
  BodyReaderImpl reader(this);
  Response response;
  try {
    response = s_->handler(head, reader);
  } catch (const std::exception& e) {
    response = Response::Text(500, std::string("internal error: ") + e.what() + "\n");
  } catch (...) {
    response = Response::Text(500, "internal error\n");
  }
  if (response.pending) {
    // Given later (PendingResponse): settle the request body now, on this worker (the handler
    // read it all, or Drain reads the rest), free the worker, and finish on the thread that
    // gives the response.
    bool keep = parser_->get().keep_alive() && !io_failed_;
    if (keep && !BodyDone()) keep = !(expect_continue_ && !continue_sent_) && Drain();
    ++s_->served;
    auto pending = std::move(response.pending);
    auto shared_head = std::make_shared<RequestHead>(std::move(head));
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      ++s_->pending;
    }
    pending->OnSend([self = shared_from_this(), shared_head, keep](Response r) mutable {
      if (r.pending) r = Response::Text(500, "internal error: a pending response gave a pending response\n");
      Server::Impl* server = self->s_;
      self->Finish(*shared_head, r, keep, /*on_worker=*/false);
      self.reset();  // the connection may go now, while Stop still waits for this response
      std::lock_guard<std::mutex> lock(server->mu);
      --server->pending;
      server->conns_cv.notify_all();
    });
    return;
  }
  bool keep = parser_->get().keep_alive() && !io_failed_;
  if (keep && !s_->stopping && !BodyDone() &&
      !EqualsIgnoreCase(response.headers.Get("connection"), "close")) {
    // The handler left body unread. A client waiting for 100 Continue will not send it; a small
    // rest is cheaper to read than a new connection; anything else ends the connection.
    keep = !(expect_continue_ && !continue_sent_) && Drain();
  }
  ++s_->served;
  Finish(head, response, keep, on_worker);
}

// Sends the response of a request whose body is settled: a small one is handed to the strand
// at once; any other is written from a worker thread (this one, or one it is posted to).
void Connection::Finish(const RequestHead& head, Response& response, bool keep, bool on_worker) {
  keep = keep && !s_->stopping && !EqualsIgnoreCase(response.headers.Get("connection"), "close");
  if (WriteSmallResponse(head, response, keep)) return;  // the I/O thread takes it from here
  if (!on_worker) {
    auto job = std::make_shared<std::pair<RequestHead, Response>>(head, std::move(response));
    s_->workers->Post([self = shared_from_this(), job, keep] { self->Finish(job->first, job->second, keep, true); });
    return;
  }
  bool ok = WriteResponse(head, response, keep);
  auto self = shared_from_this();
  if (ok && keep) {
    net::post(stream_.get_executor(), [self] { self->ReadHeader(); });
  } else if (ok && !BodyDone()) {
    net::post(stream_.get_executor(), [self] { self->LingerClose(); });
  } else {
    net::post(stream_.get_executor(), [self] { self->Close(); });
  }
}

// Sends `files` (exactly `length` bytes in all) after a header already written. The whole
// transfer runs on the strand: sendfile(2) as much as the socket takes, then a wait for room
// (bounded by the I/O timeout) and again, so the worker waits once, not once per socket buffer.
bool Connection::SendFiles(const std::vector<FileRange>& files, uint64_t length) {
  uint64_t total = 0;
  for (const auto& f : files) total += f.length;
  if (total != length) return false;
  auto [ec, unused] = Await([this, &files](auto handler) {
    struct State {
      std::vector<FileRange> files;
      size_t index = 0;
      uint64_t done_in_file = 0;
      std::function<void(beast::error_code)> finish;
    };
    auto st = std::make_shared<State>();
    st->files = files;
    st->finish = [handler](beast::error_code e) mutable { handler(e, 0); };
    beast::error_code ignored;
    stream_.socket().native_non_blocking(true, ignored);
    auto step = std::make_shared<std::function<void()>>();
    // The step holds itself only weakly; a pending wait holds it strongly (no cycle, no leak).
    *step = [this, self = shared_from_this(), st, weak = std::weak_ptr<std::function<void()>>(step)]() {
      while (st->index < st->files.size()) {
        const FileRange& f = st->files[st->index];
        if (st->done_in_file == f.length) {
          ++st->index;
          st->done_in_file = 0;
          continue;
        }
        off_t off = static_cast<off_t>(f.offset + st->done_in_file);
        size_t want = static_cast<size_t>(std::min<uint64_t>(f.length - st->done_in_file, size_t{1} << 30));
        ssize_t k = ::sendfile(stream_.socket().native_handle(), f.fd, &off, want);
        if (k > 0) {
          st->done_in_file += static_cast<uint64_t>(k);
          continue;
        }
        if (k == 0) return st->finish(beast::error_code(EIO, beast::system_category()));  // file too short
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          return st->finish(beast::error_code(errno, beast::system_category()));
        auto timer = std::make_shared<net::steady_timer>(stream_.get_executor());
        timer->expires_after(Ms(s_->opt.io_timeout_ms));
        timer->async_wait([this, self](beast::error_code e) {
          beast::error_code ignored;
          if (!e) stream_.socket().cancel(ignored);  // the client stalled: fail the wait
        });
        stream_.socket().async_wait(tcp::socket::wait_write, [st, step = weak.lock(), timer](beast::error_code e) {
          timer->cancel();
          if (e) {
            st->finish(e);
          } else {
            (*step)();
          }
        });
        return;
      }
      st->finish({});
    };
    (*step)();
  });
  return !ec;  // on failure the client sees a truncated body and a closed connection
}

// What a response sends after its header: nothing (1xx, 204, 304), nothing because the
// request was a HEAD, and the body's length when known (a source without Content-Length: not).
struct BodyShape {
  bool no_body;
  bool is_head;
  std::optional<uint64_t> length;
};
BodyShape BodyOf(const RequestHead& head, const Response& r) {
  BodyShape b{r.status < 200 || r.status == 204 || r.status == 304, head.method == "HEAD", std::nullopt};
  if (r.source)
    b.length = r.content_length;
  else
    b.length = b.is_head && r.content_length ? *r.content_length : r.body.size();
  return b;
}

bool Connection::WriteResponse(const RequestHead& head, Response& r, bool keep_alive) {
  bhttp::response<bhttp::buffer_body> res;
  SetHeader(res, head, r);
  res.keep_alive(keep_alive);

  const auto [no_body, is_head, length] = BodyOf(head, r);
  if (!no_body) {
    if (length)
      res.content_length(*length);
    else if (res.version() >= 11)
      res.chunked(true);
    else
      keep_alive = false, res.keep_alive(false);  // HTTP/1.0 without a length: the close ends the body
  }

  res.body().data = nullptr;
  res.body().size = 0;
  res.body().more = !(no_body || is_head);
  Serializer sr(res);
  auto write = [&]() {
    auto [ec, unused] = Await([this, &sr](auto handler) { bhttp::async_write(stream_, sr, std::move(handler)); });
    return ec == bhttp::error::need_buffer ? beast::error_code() : ec;
  };
  if (no_body || is_head) {
    auto [ec, unused] =
        Await([this, &sr](auto handler) { bhttp::async_write_header(stream_, sr, std::move(handler)); });
    return !ec;
  }
  if (!r.source) {
    res.body().data = r.body.data();
    res.body().size = r.body.size();
    res.body().more = false;
    return !write();
  }
  if (!r.files.empty() && length && *length >= kSendFileMinBytes) {
    if (auto [ec, unused] =
            Await([this, &sr](auto handler) { bhttp::async_write_header(stream_, sr, std::move(handler)); });
        ec)
      return false;
    return SendFiles(r.files, *length);
  }
  // A small body needs no more buffer than its length (memory per connection stays small).
  size_t chunk = s_->opt.body_buffer_bytes;
  if (length) chunk = static_cast<size_t>(std::clamp<uint64_t>(*length, 4096, chunk));
  if (out_.size() < chunk) out_.resize(chunk);
  // The header goes out with the first piece, and a body of known length ends with its last
  // piece: a small body is one write (one hand-off to the I/O strand), not three.
  uint64_t sent = 0;
  for (;;) {
    Result<size_t> n = r.source(out_.data(), chunk);
    if (!n.ok()) return false;  // the client sees a truncated body (or none) and a closed connection
    sent += *n;
    if (length && (sent > *length || (*n == 0 && sent != *length))) return false;
    const bool last = *n == 0 || (length && sent == *length);
    res.body().data = *n ? out_.data() : nullptr;
    res.body().size = *n;
    res.body().more = !last;
    if (write()) return false;
    if (last) return true;
  }
}

// A response of known length up to kSmallBodyBytes (or without a body) is put together here,
// its body pulled whole from its source, and handed to the strand, which writes it and goes
// on with the connection (next request, or close) without the worker waiting. Returns false,
// having done nothing, for any other response (WriteResponse sends it).
bool Connection::WriteSmallResponse(const RequestHead& head, Response& r, bool keep_alive) {
  const auto [no_body, is_head, length] = BodyOf(head, r);
  if (!no_body && (!length || (!is_head && *length > kSmallBodyBytes))) return false;
  const bool header_only = no_body || is_head;

  struct Out {
    bhttp::response<bhttp::string_body> res;
    std::optional<bhttp::response_serializer<bhttp::string_body>> sr;
  };
  auto out = std::make_shared<Out>();
  SetHeader(out->res, head, r);
  out->res.keep_alive(keep_alive);
  if (!no_body) out->res.content_length(*length);
  bool failed = false;
  if (!header_only && r.source) {
    std::string& body = out->res.body();
    body.resize(static_cast<size_t>(*length));
    size_t got = 0;
    while (got < body.size()) {
      Result<size_t> n = r.source(body.data() + got, body.size() - got);
      if (!n.ok() || *n == 0) {  // a failed or short source: the client sees a closed connection
        failed = true;
        break;
      }
      got += *n;
    }
  } else if (!header_only) {
    out->res.body() = std::move(r.body);
  }
  const bool linger = !BodyDone();
  auto self = shared_from_this();
  if (failed) {
    net::post(stream_.get_executor(), [self] { self->Close(); });
    return true;
  }
  out->sr.emplace(out->res);
  net::post(stream_.get_executor(), [this, self, out, header_only, keep_alive, linger] {
    stream_.expires_after(Ms(s_->opt.io_timeout_ms));
    auto done = [this, self, out, keep_alive, linger](beast::error_code ec, size_t) {
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return Close();
      if (keep_alive) return ReadHeader();
      if (linger) return LingerClose();
      Close();
    };
    if (header_only) {
      bhttp::async_write_header(stream_, *out->sr, std::move(done));
    } else {
      bhttp::async_write(stream_, *out->sr, std::move(done));
    }
  });
  return true;
}

}  // namespace

template <typename Fn>
void Server::Impl::ForEachConnection(Fn fn) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [id, weak] : conns)
      if (auto c = weak.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) net::post(c->executor(), [c, fn] { fn(*c); });
}

void Server::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: try again shortly rather than spin.
      accept_retry.expires_after(Ms(50));
      accept_retry.async_wait([this](beast::error_code) {
        if (!stopping) Accept();
      });
      return;
    }
    ++accepted;
    std::shared_ptr<Connection> c;
    {
      std::lock_guard<std::mutex> lock(mu);
      uint64_t id = next_id++;
      c = std::make_shared<Connection>(this, std::move(socket), id);
      conns[id] = c;
    }
    c->Start();
    Accept();
  });
}

Result<std::pair<std::string, int>> ParseListenAddress(const std::string& listen) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid listen address '" + listen + "': " + why + "; expected ADDR:PORT such as " +
                           "127.0.0.1:8773");
  };
  std::string host, port;
  if (!listen.empty() && listen[0] == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      return bad("unterminated IPv6 address");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return bad("no port");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("put an IPv6 address in brackets");
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return bad("port is not a number");
  int p = std::stoi(port);
  if (p > 65535) return bad("port is larger than 65535");
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  net::ip::make_address(host, ec);
  if (ec) return bad("'" + host + "' is not an IP address");
  return std::pair<std::string, int>(host, p);
}

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  EUCA_ASSIGN_OR_RETURN(auto hp, ParseListenAddress(options.listen));
  if (options.io_threads < 1) options.io_threads = 1;
  if (options.worker_threads < 1) options.worker_threads = 1;
  if (options.body_buffer_bytes < 4096) options.body_buffer_bytes = 4096;
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  impl->handler = std::move(handler);
  tcp::endpoint ep(net::ip::make_address(hp.first), static_cast<unsigned short>(hp.second));
  beast::error_code ec;
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen on '" + impl->opt.listen + "': " + ec.message());
  tcp::endpoint bound = impl->acceptor.local_endpoint(ec);
  impl->port = bound.port();
  impl->address = (bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string()) +
                  ":" + std::to_string(impl->port);
  impl->work.emplace(impl->ioc.get_executor());
  impl->workers = std::make_unique<WorkerPool>(static_cast<size_t>(impl->opt.worker_threads));
  impl->Accept();
  for (int i = 0; i < impl->opt.io_threads; ++i) {
    impl->io_threads.emplace_back([ioc = &impl->ioc] {
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (...) {
          // A handler threw on an I/O thread; keep serving.
        }
      }
    });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

int Server::port() const { return impl_->port; }
std::string Server::address() const { return impl_->address; }
uint64_t Server::connections_accepted() const { return impl_->accepted; }
uint64_t Server::requests_served() const { return impl_->served; }

void Server::Stop(int64_t grace_ms) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopped) return;
    s.stopped = true;
  }
  s.stopping = true;
  std::promise<void> closed;
  net::post(s.ioc, [&] {
    beast::error_code ec;
    s.acceptor.close(ec);
    s.accept_retry.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  s.ForEachConnection([](Connection& c) { c.CloseIfIdle(); });
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.conns_cv.wait_for(lock, Ms(grace_ms), [&] { return s.conns.empty(); });
  }
  // Whatever is still open is cut; handlers blocked on its I/O get errors and return.
  s.ForEachConnection([](Connection& c) { c.Close(); });
  s.workers->Join();
  {
    // Responses given later (by threads not the server's, e.g. a group commit's) still come:
    // the I/O threads must live to send them, and this Impl to take them.
    std::unique_lock<std::mutex> lock(s.mu);
    s.conns_cv.wait(lock, [&] { return s.pending == 0; });
  }
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.conns_cv.wait_for(lock, Ms(2000), [&] { return s.conns.empty(); });
  }
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
}

}  // namespace euca::http
