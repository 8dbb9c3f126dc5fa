#include "core/http/client.h"

#include <curl/curl.h>

#include <cstring>
#include <mutex>

#include "core/base/strings.h"

namespace euca::http {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Per-request state the curl callbacks share.
struct Transfer {
  const ClientRequest* request = nullptr;
  ClientResponse response;
  Status source_error;
  Status sink_error;
  bool head_reported = false;
  size_t body_pos = 0;  // into request->body when it has no source
};

size_t OnRead(char* buf, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nitems;
  if (t->request->source) {
    Result<size_t> got = t->request->source(buf, n);
    if (!got.ok()) {
      t->source_error = got.status();
      return CURL_READFUNC_ABORT;
    }
    return *got;
  }
  const std::string& body = t->request->body;
  size_t take = std::min(n, body.size() - t->body_pos);
  memcpy(buf, body.data() + t->body_pos, take);
  t->body_pos += take;
  return take;
}

size_t OnWrite(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nmemb;
  if (t->request->on_head && !t->head_reported) {
    t->head_reported = true;
    Status s = t->request->on_head(t->response.status, t->response.headers);
    if (!s.ok()) {
      t->sink_error = s;
      return 0;
    }
  }
  if (t->request->sink) {
    Status s = t->request->sink(std::string_view(data, n));
    if (!s.ok()) {
      t->sink_error = s;
      return 0;  // curl aborts with CURLE_WRITE_ERROR
    }
    return n;
  }
  t->response.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nitems;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (after "100 Continue" or a redirect) starts a new set of headers.
    t->response.headers = Headers();
    size_t sp = line.find(' ');
    t->response.status = sp == std::string_view::npos ? 0 : atoi(std::string(line.substr(sp + 1, 3)).c_str());
    return n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    t->response.headers.Add(std::string(line.substr(0, colon)), std::string(value));
  }
  return n;
}

}  // namespace

struct Client::Impl {
  ClientOptions options;
  CURL* curl = nullptr;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  GlobalInit();
  impl_->options = options;
  impl_->curl = curl_easy_init();
}

Client::~Client() {
  if (impl_->curl) curl_easy_cleanup(impl_->curl);
}

Result<ClientResponse> Client::Do(const ClientRequest& request) {
  CURL* c = impl_->curl;
  if (!c) return Internal("libcurl could not create a handle");
  curl_easy_reset(c);  // options only; the connection cache stays
  Transfer t;
  t.request = &request;
  const std::string what = request.method + " '" + request.url + "'";

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(impl_->options.connect_timeout_ms));
  int64_t timeout = request.timeout_ms >= 0 ? request.timeout_ms : impl_->options.timeout_ms;
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout));
  if (impl_->options.stall_timeout_ms > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>((impl_->options.stall_timeout_ms + 999) / 1000));
  }
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);

  const bool has_body = request.source || !request.body.empty() || request.method == "PUT" || request.method == "POST";
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    // UPLOAD streams through the read callback for any method; CUSTOMREQUEST names it.
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    std::optional<uint64_t> length = request.source ? request.content_length : request.body.size();
    if (length) curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(*length));
    if (request.method != "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  curl_slist* headers = nullptr;
  // curl asks "Expect: 100-continue" before any upload; for a small body in memory the extra
  // round trip costs more than sending the body a server may refuse.
  if (has_body && !request.source && request.body.size() <= (1u << 20) && !request.headers.Has("expect"))
    headers = curl_slist_append(headers, "Expect:");
  for (const auto& f : request.headers) {
    std::string line =
        f.value.empty() ? f.name + (EqualsIgnoreCase(f.name, "expect") ? ":" : ";") : f.name + ": " + f.value;
    headers = curl_slist_append(headers, line.c_str());
  }
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    if (!t.source_error.ok()) return t.source_error.WithContext(what + ": request body");
    if (!t.sink_error.ok()) return t.sink_error;
    std::string msg = what + ": " + curl_easy_strerror(rc);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) return InvalidArgument(msg);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY)
      return Unavailable(what + ": cannot connect: " + curl_easy_strerror(rc));
    return Unavailable(msg);
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  t.response.status = static_cast<int>(status);
  return std::move(t.response);
}

}  // namespace euca::http
