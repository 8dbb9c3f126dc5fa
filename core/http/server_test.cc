// The HTTP server and client on loopback: concurrency, keep-alive, streaming with bounded memory,
// bad requests, 100-continue, timeouts, graceful stop, and the curl binary against the server.

#include "core/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/http/client.h"

namespace euca::http {
namespace {

using namespace std::chrono_literals;

// The byte at offset `i` of the test pattern; position-dependent, so loss or reordering shows.
inline char PatternByte(uint64_t i) { return static_cast<char>((i * 131 + (i >> 12)) & 0xff); }

BodySource PatternSource(uint64_t total) {
  auto pos = std::make_shared<uint64_t>(0);
  return [pos, total](char* buf, size_t n) -> Result<size_t> {
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, total - *pos));
    for (size_t i = 0; i < take; ++i) buf[i] = PatternByte(*pos + i);
    *pos += take;
    return take;
  };
}

// Reads a body and checks it against the pattern: its length, or -1 at the first wrong byte.
int64_t CheckPattern(BodyReader& body) {
  std::vector<char> buf(256 * 1024);
  uint64_t pos = 0;
  for (;;) {
    Result<size_t> n = body.Read(buf.data(), buf.size());
    if (!n.ok()) return -2;
    if (*n == 0) return static_cast<int64_t>(pos);
    for (size_t i = 0; i < *n; ++i)
      if (buf[i] != PatternByte(pos + i)) return -1;
    pos += *n;
  }
}

// The test server's routes.
Response Route(const RequestHead& head, BodyReader& body) {
  if (head.path == "/hello") return Response::Text(200, "hello\n");
  if (head.path == "/echo") {
    auto all = body.ReadAll(16 << 20);
    if (!all.ok()) return Response::Text(413, all.status().message());
    Response r = Response::Text(200, *all, "application/octet-stream");
    r.headers.Add("X-Method", head.method);
    r.headers.Add("X-Query", head.query);
    r.headers.Add("X-Path", head.path);
    r.headers.Add("X-My-Header", head.headers.Get("x-MY-header"));
    return r;
  }
  if (head.path == "/check") {  // PUT a pattern body; answers its length
    int64_t n = CheckPattern(body);
    return Response::Text(n >= 0 ? 200 : 400, std::to_string(n));
  }
  if (head.path == "/pattern") {  // GET ?N[&chunked]: N bytes of pattern
    uint64_t n = std::stoull(head.query.substr(0, head.query.find('&')));
    Response r;
    r.source = PatternSource(n);
    if (head.query.find("chunked") == std::string::npos) r.content_length = n;
    return r;
  }
  if (head.path == "/reject") return Response::Text(403, "no\n");  // never reads the body
  if (head.path == "/head") {
    Response r;
    r.content_length = 1000;
    r.headers.Add("ETag", "\"x\"");
    return r;
  }
  if (head.path == "/empty") return Response{.status = 204};
  if (head.path == "/throw") throw std::runtime_error("boom");
  if (head.path == "/slow") {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(head.query)));
    return Response::Text(200, "slow\n");
  }
  return Response::Text(404, "not found\n");
}

std::unique_ptr<Server> StartServer(ServerOptions options = {}, Handler handler = Route) {
  auto s = Server::Start(std::move(options), std::move(handler));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::string Url(const Server& s, const std::string& target) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + target;
}

// A raw TCP connection for what a well-behaved client would never send.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() { close(fd_); }
  bool ok() const { return ok_; }
  void Send(const std::string& s) { ASSERT_EQ(send(fd_, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())); }
  // Reads until `marker` has been seen (or EOF / timeout); returns everything read.
  std::string ReadUntil(const std::string& marker) {
    while (buf_.find(marker) == std::string::npos && Fill()) {
    }
    return buf_;
  }
  // Reads until the peer closes (or the 5 s timeout); true if it closed.
  bool ReadToClose(std::string* out) {
    while (Fill()) {
    }
    *out = buf_;
    return closed_;
  }
  void Clear() { buf_.clear(); }

 private:
  bool Fill() {
    char b[65536];
    ssize_t n = recv(fd_, b, sizeof b, 0);
    if (n == 0) closed_ = true;
    if (n <= 0) return false;
    buf_.append(b, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool ok_ = false;
  bool closed_ = false;
  std::string buf_;
};

uint64_t VmHwmKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

void ResetVmHwm() { std::ofstream("/proc/self/clear_refs") << "5"; }

TEST(ListenAddressTest, ParsesAndRejects) {
  EXPECT_EQ(*ParseListenAddress("127.0.0.1:8773"), (std::pair<std::string, int>("127.0.0.1", 8773)));
  EXPECT_EQ(*ParseListenAddress(":0"), (std::pair<std::string, int>("0.0.0.0", 0)));
  EXPECT_EQ(*ParseListenAddress("[::1]:80"), (std::pair<std::string, int>("::1", 80)));
  EXPECT_EQ(*ParseListenAddress("localhost:1"), (std::pair<std::string, int>("127.0.0.1", 1)));
  for (const char* bad : {"8773", "127.0.0.1", "1.2.3.4:x", "1.2.3.4:70000", "::1:80", "[::1:80", "host.example:80"}) {
    auto r = ParseListenAddress(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(Server::Start({.listen = "nonsense"}, Route).status().code(), Code::kInvalidArgument);
}

TEST(ServerTest, ListensOnPortZeroAndReportsTheBoundPort) {
  auto s = StartServer();
  ASSERT_TRUE(s);
  EXPECT_GT(s->port(), 0);
  EXPECT_EQ(s->address(), "127.0.0.1:" + std::to_string(s->port()));
  Client c;
  auto r = c.Do({.url = Url(*s, "/hello")});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello\n");
  EXPECT_EQ(r->headers.Get("content-type"), "text/plain");
  EXPECT_EQ(r->headers.Get("server"), "euca");
  EXPECT_FALSE(r->headers.Get("date").empty());
  // The port is taken: a second server on it fails with a clear error.
  auto again = Server::Start({.listen = s->address()}, Route);
  EXPECT_EQ(again.status().code(), Code::kUnavailable);
  EXPECT_NE(again.status().message().find(s->address()), std::string::npos);
}

TEST(ServerTest, HandlersSeeTheRawTargetAndHeaders) {
  auto s = StartServer();
  Client c;
  ClientRequest req{.method = "POST", .url = Url(*s, "/echo?a=1%202&b"), .body = "payload"};
  req.headers.Add("X-My-Header", "v");
  auto r = c.Do(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "payload");
  EXPECT_EQ(r->headers.Get("x-method"), "POST");
  EXPECT_EQ(r->headers.Get("x-path"), "/echo");
  EXPECT_EQ(r->headers.Get("x-query"), "a=1%202&b");
  EXPECT_EQ(r->headers.Get("x-my-header"), "v");
  EXPECT_EQ(c.Do({.url = Url(*s, "/nowhere")})->status, 404);
}

TEST(ServerTest, ManyConcurrentRequests) {
  auto s = StartServer({.worker_threads = 4});
  constexpr int kThreads = 16, kEach = 40;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c;
      for (int i = 0; i < kEach; ++i) {
        std::string body((t * 7919 + i * 104729) % 100000, static_cast<char>('a' + i % 26));
        auto r = c.Do({.method = "PUT", .url = Url(*s, "/echo?t=" + std::to_string(t)), .body = body});
        if (r.ok() && r->status == 200 && r->body == body) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good, kThreads * kEach);
  EXPECT_EQ(s->requests_served(), uint64_t{kThreads * kEach});
  EXPECT_EQ(s->connections_accepted(), uint64_t{kThreads});  // one kept-alive connection per client
}

TEST(ServerTest, KeepAliveReusesOneConnection) {
  auto s = StartServer();
  Client c;
  for (int i = 0; i < 50; ++i) ASSERT_EQ(c.Do({.url = Url(*s, "/hello")})->status, 200);
  EXPECT_EQ(s->connections_accepted(), 1u);
  // HTTP/1.0 closes unless asked to keep alive.
  Raw a(s->port());
  a.Send("GET /hello HTTP/1.0\r\n\r\n");
  std::string out;
  EXPECT_TRUE(a.ReadToClose(&out));
  EXPECT_EQ(out.rfind("HTTP/1.0 200", 0), 0u) << out;
  Raw b(s->port());
  b.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(b.ReadToClose(&out));
  EXPECT_NE(out.find("hello\nHTTP/1.0 200"), std::string::npos) << out;
}

TEST(ServerTest, StreamsHugeBodiesInBoundedMemory) {
  constexpr uint64_t kSize = 200ull << 20;
  auto s = StartServer();
  Client c;
  ResetVmHwm();
  uint64_t before = VmHwmKiB();
  for (bool known_length : {true, false}) {
    ClientRequest put{.method = "PUT", .url = Url(*s, "/check"), .source = PatternSource(kSize)};
    if (known_length) put.content_length = kSize;
    auto r = c.Do(put);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, std::to_string(kSize)) << (known_length ? "Content-Length" : "chunked");
  }
  for (const char* mode : {"", "&chunked"}) {
    uint64_t pos = 0;
    bool same = true;
    ClientRequest get{.url = Url(*s, "/pattern?" + std::to_string(kSize) + mode)};
    get.sink = [&](std::string_view piece) {
      for (size_t i = 0; i < piece.size() && same; ++i) same = piece[i] == PatternByte(pos + i);
      pos += piece.size();
      return Status::Ok();
    };
    auto r = c.Do(get);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(pos, kSize) << mode;
    EXPECT_TRUE(same) << mode;
    EXPECT_TRUE(r->body.empty());
    if (*mode == '\0')
      EXPECT_EQ(r->headers.Get("content-length"), std::to_string(kSize));
    else
      EXPECT_EQ(r->headers.Get("transfer-encoding"), "chunked");
  }
  uint64_t after = VmHwmKiB();
  RecordProperty("vmhwm_before_kib", std::to_string(before));
  RecordProperty("vmhwm_after_kib", std::to_string(after));
  // 800 MiB went through client and server in this process; its peak resident set grew by
  // a few buffers, not by a body.
  EXPECT_LT(after - before, 48u * 1024) << "VmHWM grew from " << before << " KiB to " << after << " KiB";
}

TEST(ServerTest, BadRequestsGet4xxAndAClose) {
  auto s = StartServer({.max_header_bytes = 8192});
  struct Case {
    std::string request;
    std::string status;
  } cases[] = {
      {"NOT A REQUEST\r\n\r\n", "HTTP/1.1 400"},
      {"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n", "HTTP/1.1 431"},
      {"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "HTTP/1.1 400"},
      {"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "HTTP/1.1 400"},
      {"GET /hello HTTP/1.1\r\nBad Header Name: x\r\n\r\n", "HTTP/1.1 400"},
  };
  for (const auto& c : cases) {
    Raw r(s->port());
    r.Send(c.request);
    std::string out;
    EXPECT_TRUE(r.ReadToClose(&out)) << c.request.substr(0, 40);
    EXPECT_EQ(out.rfind(c.status, 0), 0u) << c.request.substr(0, 40) << " -> " << out;
  }
  // A body that breaks its chunked framing fails the handler's read; the connection closes.
  Raw r(s->port());
  r.Send("PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");
  std::string out;
  EXPECT_TRUE(r.ReadToClose(&out));
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;  // the echo route reports its read error
  // The server still serves.
  Client c;
  EXPECT_EQ(c.Do({.url = Url(*s, "/hello")})->status, 200);
}

TEST(ServerTest, ExpectContinueIsSentOnlyWhenTheHandlerReads) {
  auto s = StartServer();
  {
    Raw r(s->port());
    r.Send("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    std::string got = r.ReadUntil("\r\n\r\n");
    EXPECT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
    r.Clear();
    r.Send("hello");
    got = r.ReadUntil("hello");
    EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  }
  {
    Raw r(s->port());
    r.Send("PUT /reject HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n");
    std::string out;
    EXPECT_TRUE(r.ReadToClose(&out));  // answered without the body, then closed
    EXPECT_EQ(out.rfind("HTTP/1.1 403", 0), 0u) << out;
    EXPECT_EQ(out.find("100 Continue"), std::string::npos);
  }
  // Through curl's own Expect handling (it sends one for large uploads).
  Client c;
  auto r =
      c.Do({.method = "PUT", .url = Url(*s, "/check"), .source = PatternSource(3 << 20), .content_length = 3 << 20});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, std::to_string(3 << 20));
}

TEST(ServerTest, UnreadBodiesAreDrainedOrTheConnectionCloses) {
  auto s = StartServer();
  Client c;
  // A small unread body is drained and the connection kept.
  EXPECT_EQ(c.Do({.method = "PUT", .url = Url(*s, "/hello"), .body = std::string(1000, 'x')})->status, 200);
  EXPECT_EQ(c.Do({.url = Url(*s, "/hello")})->status, 200);
  EXPECT_EQ(s->connections_accepted(), 1u);
  // A client waiting for "100 Continue" never gets it from a handler that does not read; it
  // gets the answer and a closed connection.
  ClientRequest expect{.method = "PUT", .url = Url(*s, "/hello"), .body = "x"};
  expect.headers.Add("Expect", "100-continue");
  EXPECT_EQ(c.Do(expect)->status, 200);
  EXPECT_EQ(c.Do({.url = Url(*s, "/hello")})->status, 200);
  EXPECT_EQ(s->connections_accepted(), 2u);
  // A large one ends the connection; the client still gets its answer.
  ClientRequest big{
      .method = "PUT", .url = Url(*s, "/hello"), .source = PatternSource(8 << 20), .content_length = 8 << 20};
  big.headers.Add("Expect", "");
  auto r = c.Do(big);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST(ServerTest, HeadNoContentAndHandlerExceptions) {
  auto s = StartServer();
  Raw a(s->port());
  a.Send(
      "HEAD /head HTTP/1.1\r\nHost: x\r\n\r\nGET /empty HTTP/1.1\r\nHost: x\r\n\r\nGET /throw HTTP/1.1\r\nHost: "
      "x\r\n\r\n");
  std::string out = a.ReadUntil("boom");
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Length: 1000\r\n"), std::string::npos) << out;
  // No body bytes follow the HEAD reply's header: the next reply starts right after it.
  size_t second = out.find("\r\n\r\nHTTP/1.1 204");
  ASSERT_NE(second, std::string::npos) << out;
  size_t third = out.find("HTTP/1.1 500");
  ASSERT_NE(third, std::string::npos) << out;
  std::string no_content = out.substr(second, third - second);
  EXPECT_EQ(no_content.find("Content-Length"), std::string::npos) << no_content;  // 204 has no length
  EXPECT_EQ(no_content.find("chunked"), std::string::npos) << no_content;
  Client c;
  auto r = c.Do({.method = "HEAD", .url = Url(*s, "/head")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->headers.Get("etag"), "\"x\"");
  EXPECT_EQ(r->headers.Get("content-length"), "1000");
}

TEST(ServerTest, IdleConnectionsTimeOut) {
  auto s = StartServer({.idle_timeout_ms = 200});
  Raw r(s->port());
  auto start = std::chrono::steady_clock::now();
  std::string out;
  EXPECT_TRUE(r.ReadToClose(&out));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_TRUE(out.empty());
}

TEST(ServerTest, StalledBodiesFailTheHandlersRead) {
  std::atomic<int> read_error{0};
  auto s = StartServer({.io_timeout_ms = 300}, [&](const RequestHead&, BodyReader& body) {
    char buf[100];
    for (;;) {
      auto n = body.Read(buf, sizeof buf);
      if (!n.ok() && n.status().code() == Code::kUnavailable) ++read_error;
      if (!n.ok() || *n == 0) break;
    }
    return Response::Text(400, "stalled\n");
  });
  Raw r(s->port());
  r.Send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  std::string out;
  EXPECT_TRUE(r.ReadToClose(&out));
  s->Stop();  // waits for the handler
  EXPECT_EQ(read_error, 1);
}

// A body past what the parser buffered is read straight from the socket by the handler's
// thread: the bytes arrive whole and in order, a request pipelined right behind the body is
// left for the next parse (never read as body), and a client that stalls or closes mid-body
// fails the handler's read.
TEST(ServerTest, LargeBodiesAreReadStraightFromTheSocketAndNoFurther) {
  auto s = StartServer({.io_timeout_ms = 300});
  constexpr uint64_t kSize = 3 * 1024 * 1024 + 17;
  std::string body(kSize, '\0');
  for (uint64_t i = 0; i < kSize; ++i) body[i] = PatternByte(i);
  const std::string put = "PUT /check HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n";
  const std::string next = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  // The head alone first (the handler then reads every body byte from the socket), and all
  // in one send (the parser holds the first body bytes).
  for (bool head_first : {true, false}) {
    Raw r(s->port());
    if (head_first) {
      r.Send(put);
      std::this_thread::sleep_for(50ms);
      r.Send(body + next);
    } else {
      r.Send(put + body + next);
    }
    std::string out = r.ReadUntil("hello\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out.substr(0, 200);
    EXPECT_NE(out.find("\r\n\r\n" + std::to_string(kSize) + "HTTP/1.1 200"), std::string::npos) << out;
    EXPECT_NE(out.find("hello\n"), std::string::npos) << out;
  }
  EXPECT_EQ(s->connections_accepted(), 2u);

  std::atomic<int> read_errors{0};
  auto t = StartServer({.io_timeout_ms = 300}, [&](const RequestHead&, BodyReader& b) {
    std::vector<char> buf(1 << 20);
    for (;;) {
      auto n = b.Read(buf.data(), buf.size());
      if (!n.ok()) {
        if (n.status().code() == Code::kUnavailable) ++read_errors;
        break;
      }
      if (*n == 0) break;
    }
    return Response::Text(400, "cut\n");
  });
  const std::string head = "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
  {
    Raw stalls(t->port());  // sends 200 KB of 1 MB, then nothing
    stalls.Send(head + std::string(200000, 'a'));
    std::string ignored;
    EXPECT_TRUE(stalls.ReadToClose(&ignored));
  }
  {
    Raw quits(t->port());  // sends 200 KB of 1 MB, then closes
    quits.Send(head);
    std::this_thread::sleep_for(50ms);  // the handler is reading from the socket by now
    quits.Send(std::string(200000, 'b'));
  }
  t->Stop(2000);  // waits for the handlers
  EXPECT_EQ(read_errors, 2) << "a read of a body that never came whole did not fail";
}

// A temporary file holding `size` pattern bytes from pattern offset `from`; its descriptor.
struct PatternFile {
  std::string path;
  int fd = -1;
  PatternFile(uint64_t from, uint64_t size) {
    char tmpl[] = "/tmp/euca-http-test-XXXXXX";
    fd = mkstemp(tmpl);
    path = tmpl;
    std::string data(size, '\0');
    for (uint64_t i = 0; i < size; ++i) data[i] = PatternByte(from + i);
    EXPECT_EQ(write(fd, data.data(), data.size()), ssize_t(size));
  }
  ~PatternFile() {
    close(fd);
    unlink(path.c_str());
  }
};

TEST(ServerTest, FileBodiesGoOutWithSendfile) {
  // The pattern's bytes [0, 3 MiB) as a range of one file and the whole of another; the source
  // fails, so a correct body proves the files were sent. A small body takes the source.
  const uint64_t mib = 1 << 20;
  PatternFile a(0, 2 * mib + 100), b(2 * mib, mib);
  auto s = StartServer({}, [&](const RequestHead& head, BodyReader&) {
    Response r;
    if (head.path == "/small") {
      r.source = PatternSource(1000);
      r.content_length = 1000;
      r.files = {{a.fd, 0, 1000}};
      return r;
    }
    r.source = [](char*, size_t) -> Result<size_t> { return Internal("the source must not be read"); };
    r.files = {{a.fd, 0, 2 * mib}, {b.fd, 0, mib}};
    r.content_length = 3 * mib;
    return r;
  });
  Client client;
  for (int i = 0; i < 2; ++i) {  // twice: the connection stays usable after a file body
    auto r = client.Do({.url = "http://" + s->address() + "/big"});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->body.size(), 3 * mib);
    for (uint64_t j = 0; j < r->body.size(); ++j) ASSERT_EQ(r->body[j], PatternByte(j)) << "at " << j;
  }
  auto r = client.Do({.url = "http://" + s->address() + "/small"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body.size(), 1000u);
  EXPECT_EQ(s->connections_accepted(), 1u);
}

TEST(ServerTest, StalledReadersOfFileBodiesAreCut) {
  PatternFile a(0, 64 << 20);
  auto s = StartServer({.io_timeout_ms = 300}, [&](const RequestHead&, BodyReader&) {
    Response r;
    r.source = PatternSource(64 << 20);
    r.files = {{a.fd, 0, 64 << 20}};
    r.content_length = 64 << 20;
    return r;
  });
  Raw raw(s->port());
  raw.Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(1500ms);  // read nothing: the server's wait for room times out
  std::string out;
  EXPECT_TRUE(raw.ReadToClose(&out));
  EXPECT_LT(out.size(), size_t{64} << 20) << "the connection was cut before the whole body";
  s->Stop();
}

TEST(ServerTest, GracefulStopFinishesRequestsInFlight) {
  auto s = StartServer();
  std::atomic<int> status{0};
  std::thread client([&] {
    Client c;
    auto r = c.Do({.url = Url(*s, "/slow?500")});
    status = r.ok() ? r->status : -1;
  });
  Client idle;  // a kept-alive idle connection must not hold the stop up
  ASSERT_EQ(idle.Do({.url = Url(*s, "/hello")})->status, 200);
  std::this_thread::sleep_for(150ms);
  auto start = std::chrono::steady_clock::now();
  int port = s->port();
  s->Stop(5000);
  client.join();
  EXPECT_EQ(status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  auto after = Client().Do({.url = "http://127.0.0.1:" + std::to_string(port) + "/hello"});
  EXPECT_EQ(after.status().code(), Code::kUnavailable);
}

TEST(ServerTest, StopCutsRequestsThatOutliveTheGrace) {
  std::atomic<bool> entered{false};
  std::atomic<int> read_failed{0};
  auto s = StartServer({}, [&](const RequestHead&, BodyReader& body) {
    entered = true;
    char buf[10];
    if (!body.Read(buf, sizeof buf).ok()) ++read_failed;  // the client never sends it
    return Response::Text(200, "x");
  });
  Raw r(s->port());
  // A body over 64 KiB: the handler starts before it arrives (a small one is read first).
  r.Send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  while (!entered) std::this_thread::sleep_for(5ms);
  auto start = std::chrono::steady_clock::now();
  s->Stop(200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(read_failed, 1);
}

TEST(ServerTest, ASmallBodyIsReadBeforeTheHandlerAndStopDropsOneThatNeverCame) {
  std::atomic<int> handled{0};
  auto s = StartServer({}, [&](const RequestHead&, BodyReader& body) {
    ++handled;
    auto all = body.ReadAll(1 << 20);
    return Response::Text(200, all.ok() ? "got " + *all : "failed");
  });
  Raw ok(s->port());
  ok.Send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(handled, 0);  // half the body: the handler waits for the rest, holding no worker
  ok.Send("56789");
  EXPECT_NE(ok.ReadUntil("got 0123456789").find("got 0123456789"), std::string::npos);
  EXPECT_EQ(handled, 1);

  Raw stalled(s->port());
  stalled.Send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
  while (s->connections_accepted() < 2) std::this_thread::sleep_for(5ms);
  auto start = std::chrono::steady_clock::now();
  s->Stop(60'000);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // closed at once, not after the grace
  EXPECT_EQ(handled, 1);
}

// Responses given later (PendingResponse), as Walrus's PUTs give theirs once their group
// commit is durable: before the handler returns, after it from another thread (the worker is
// free meanwhile: more requests than workers are served while every reply waits), small and
// large, with the request body read first; the connection is kept alive throughout.
TEST(ServerTest, PendingResponsesAreSentByWhoeverGivesThem) {
  std::mutex mu;
  std::vector<std::pair<std::shared_ptr<PendingResponse>, std::string>> waiting;  // guarded by mu
  Handler handler = [&](const RequestHead& head, BodyReader& body) -> Response {
    auto all = body.ReadAll(1 << 20);
    if (!all.ok()) return Response::Text(400, all.status().message());
    auto pending = PendingResponse::Make();
    if (head.path == "/now") {  // given before the handler returns
      pending->Send(Response::Text(200, "now:" + *all));
    } else if (head.path == "/big") {  // over the small-response limit: sent from a worker
      std::thread([pending, n = std::stoull(head.query)] {
        Response r;
        r.source = PatternSource(n);
        r.content_length = n;
        pending->Send(std::move(r));
      }).detach();
    } else {  // given by the test's thread, once every request is waiting
      std::lock_guard<std::mutex> lock(mu);
      waiting.emplace_back(pending, *all);
    }
    return Response::Later(pending);
  };
  auto s = StartServer({.worker_threads = 2}, handler);
  Client c;
  for (int i = 0; i < 3; ++i) {
    auto r = c.Do({.method = "PUT", .url = Url(*s, "/now"), .body = "b" + std::to_string(i)});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "now:b" + std::to_string(i));
  }
  for (uint64_t n : {uint64_t{5}, uint64_t{3} << 20}) {
    auto r = c.Do({.url = Url(*s, "/big?" + std::to_string(n))});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
    ASSERT_EQ(r->body.size(), n);
    bool same = true;
    for (uint64_t i = 0; i < n && same; ++i) same = r->body[i] == PatternByte(i);
    EXPECT_TRUE(same);
  }
  EXPECT_EQ(s->connections_accepted(), 1u);

  // Six requests waiting at once on two workers: no worker waits with them.
  constexpr int kClients = 6;
  std::vector<std::thread> clients;
  std::vector<std::string> got(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      Client own;
      auto r = own.Do({.method = "PUT", .url = Url(*s, "/later"), .body = "c" + std::to_string(i)});
      got[i] = r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString();
    });
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (waiting.size() == kClients) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the requests did not all reach the handler";
    std::this_thread::sleep_for(5ms);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [pending, body] : waiting) {
      pending->Send(Response::Text(201, "later:" + body));
      pending->Send(Response::Text(500, "a second Send does not count"));
    }
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(got[i], "201 later:c" + std::to_string(i));
}

// ServerOptions::run_on_io_thread: a request it picks whose body is in memory is served by
// the I/O thread, so it is answered while the only worker is busy; one it does not pick, one
// whose body is still to come (Expect: 100-continue) and the rest wait for the worker. A large
// response of a request served on the I/O thread is still written (by a worker).
TEST(ServerTest, PickedSmallRequestsRunOnTheIoThread) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> blocking{false};
  std::atomic<int> picks{0};
  Handler handler = [&](const RequestHead& head, BodyReader& body) -> Response {
    auto all = body.ReadAll(1 << 20);
    if (!all.ok()) return Response::Text(400, all.status().message());
    if (head.path == "/block") {
      blocking = true;
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return release; });
    }
    if (head.query.rfind("big=", 0) == 0) {
      Response r;
      r.content_length = std::stoull(head.query.substr(4));
      r.source = PatternSource(*r.content_length);
      return r;
    }
    return Response::Text(200, head.path + ":" + *all);
  };
  ServerOptions options{.worker_threads = 1};
  options.run_on_io_thread = [&](const RequestHead& head) {
    ++picks;
    return head.path.rfind("/here", 0) == 0;
  };
  auto s = StartServer(options, handler);
  std::thread blocker([&] {
    Client c;
    auto r = c.Do({.url = Url(*s, "/block")});
    EXPECT_TRUE(r.ok() && r->status == 200);
  });
  while (!blocking) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(picks, 1);  // asked about /block too (it said no)

  // Picked, no body and a small body: answered with the worker still blocked.
  Client c;
  auto get = c.Do({.url = Url(*s, "/here/get"), .timeout_ms = 5000});
  auto put = c.Do({.method = "PUT", .url = Url(*s, "/here/put"), .body = "small", .timeout_ms = 5000});
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!get.ok() || !put.ok()) release = true;  // failed: let the rest finish, not hang
  }
  cv.notify_all();
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->body, "/here/get:");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->body, "/here/put:small");

  // Not picked, or its body not in memory: they wait for the worker.
  std::atomic<int> answered{0};
  std::vector<std::thread> waiters;
  waiters.emplace_back([&] {
    Client own;
    auto r = own.Do({.url = Url(*s, "/elsewhere")});
    EXPECT_TRUE(r.ok() && r->body == "/elsewhere:");
    ++answered;
  });
  waiters.emplace_back([&] {
    Raw raw(s->port());
    raw.Send("PUT /here/expect HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    raw.ReadUntil("100 Continue");
    raw.Send("body");
    EXPECT_NE(raw.ReadUntil("/here/expect:body").find("/here/expect:body"), std::string::npos);
    ++answered;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(answered, 0);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : waiters) t.join();
  blocker.join();
  EXPECT_EQ(answered, 2);

  // Picked, with a response too large to hand over whole: a worker writes it.
  auto big = c.Do({.url = Url(*s, "/here/big?big=" + std::to_string(3 << 20))});
  ASSERT_TRUE(big.ok());
  ASSERT_EQ(big->body.size(), size_t{3} << 20);
  bool same = true;
  for (size_t i = 0; i < big->body.size() && same; ++i) same = big->body[i] == PatternByte(i);
  EXPECT_TRUE(same);
  EXPECT_EQ(s->requests_served(), 6u);
}

// Stop waits for responses given later, as it waits for handlers: the thread that gives one
// after the workers are joined still finds the server there (no use after free).
TEST(ServerTest, StopWaitsForPendingResponses) {
  std::atomic<bool> reached{false}, sent{false};
  std::shared_ptr<PendingResponse> pending = PendingResponse::Make();
  Handler handler = [&](const RequestHead&, BodyReader&) -> Response {
    reached = true;
    return Response::Later(pending);
  };
  auto s = StartServer({}, handler);
  std::thread client([&] { (void)Client().Do({.url = Url(*s, "/later")}); });
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!reached) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(5ms);
  }
  std::thread giver([&] {
    // After Stop's grace below and the 2 s it waits for connections after joining the workers.
    std::this_thread::sleep_for(2500ms);
    sent = true;
    pending->Send(Response::Text(200, "late\n"));
  });
  s->Stop(/*grace_ms=*/50);
  EXPECT_TRUE(sent) << "Stop returned before the pending response was given";
  s.reset();
  giver.join();
  client.join();
}

TEST(ClientTest, TimeoutsAndConnectFailures) {
  auto s = StartServer();
  Client c({.timeout_ms = 200});
  auto r = c.Do({.url = Url(*s, "/slow?1000")});
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("/slow?1000"), std::string::npos) << r.status().message();
  EXPECT_EQ(c.Do({.url = Url(*s, "/slow?10"), .timeout_ms = 5000})->status, 200);
  EXPECT_EQ(c.Do({.url = "not a url"}).status().code(), Code::kInvalidArgument);
  // Nothing listens on port 1.
  EXPECT_EQ(Client().Do({.url = "http://127.0.0.1:1/"}).status().code(), Code::kUnavailable);
}

TEST(ClientTest, SourceAndSinkErrorsAbortTheTransfer) {
  auto s = StartServer();
  Client c;
  int calls = 0;
  ClientRequest put{.method = "PUT", .url = Url(*s, "/check")};
  put.source = [&](char* buf, size_t n) -> Result<size_t> {
    if (++calls > 3) return Internal("disk on fire");
    memset(buf, 0, n);
    return n;
  };
  auto r = c.Do(put);
  EXPECT_EQ(r.status().code(), Code::kInternal);
  EXPECT_NE(r.status().message().find("disk on fire"), std::string::npos);
  ClientRequest get{.url = Url(*s, "/pattern?1000000")};
  get.sink = [](std::string_view) { return ResourceExhausted("disk full"); };
  EXPECT_EQ(c.Do(get).status().code(), Code::kResourceExhausted);
  // The client recovers for the next request.
  EXPECT_EQ(c.Do({.url = Url(*s, "/hello")})->status, 200);
}

TEST(CurlBinaryTest, UploadsAndDownloadsThroughTheServer) {
  if (system("command -v curl >/dev/null 2>&1") != 0) GTEST_SKIP() << "the curl program is not installed";
  auto s = StartServer();
  std::string dir = testing::TempDir() + "euca_http_curl_" + std::to_string(getpid());
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  {
    std::ofstream f(dir + "/up.bin", std::ios::binary);
    for (uint64_t i = 0; i < (5u << 20); ++i) f.put(PatternByte(i));
  }
  auto run = [](const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  };
  EXPECT_EQ(run("curl -sS -T " + dir + "/up.bin " + Url(*s, "/check")), std::to_string(5u << 20));
  EXPECT_EQ(run("curl -sS -T - " + Url(*s, "/check") + " < " + dir + "/up.bin"),  // chunked from stdin
            std::to_string(5u << 20));
  run("curl -sS -o " + dir + "/down.bin " + Url(*s, "/pattern?5242880"));
  EXPECT_EQ(system(("cmp -s " + dir + "/up.bin " + dir + "/down.bin").c_str()), 0);
  EXPECT_EQ(run("curl -sS -w '%{http_code} %{num_connects}\\n' -o /dev/null " + Url(*s, "/hello") + " -o /dev/null " +
                Url(*s, "/hello")),
            "200 1\n200 0\n");  // two requests, the second on the same connection
  EXPECT_EQ(run("curl -sS -I " + Url(*s, "/head")).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(run("curl -sS --http1.0 " + Url(*s, "/hello")), "hello\n");
  ASSERT_EQ(system(("rm -rf " + dir).c_str()), 0);
}

}  // namespace
}  // namespace euca::http
