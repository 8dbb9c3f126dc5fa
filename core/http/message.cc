#include "core/http/message.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace euca::http {

BodySource StringSource(std::string data) {
  auto state = std::make_shared<std::pair<std::string, size_t>>(std::move(data), 0);
  return [state](char* buf, size_t n) -> Result<size_t> {
    auto& [s, pos] = *state;
    size_t take = std::min(n, s.size() - pos);
    if (take) memcpy(buf, s.data() + pos, take);
    pos += take;
    return take;
  };
}

Result<std::string> BodyReader::ReadAll(size_t limit) {
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    EUCA_ASSIGN_OR_RETURN(size_t n, Read(buf, sizeof buf));
    if (n == 0) return out;
    if (out.size() + n > limit)
      return ResourceExhausted("request body is larger than " + std::to_string(limit) + " bytes");
    out.append(buf, n);
  }
}

Response Response::Text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers.Add("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

Response Response::Later(std::shared_ptr<PendingResponse> pending) {
  Response r;
  r.pending = std::move(pending);
  return r;
}

std::shared_ptr<PendingResponse> PendingResponse::Make() { return std::make_shared<PendingResponse>(); }
PendingResponse::PendingResponse() = default;
PendingResponse::~PendingResponse() = default;

void PendingResponse::Send(Response response) {
  std::function<void(Response)> sink;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (sent_) return;
    sent_ = true;
    if (!sink_) {
      response_ = std::make_unique<Response>(std::move(response));
      return;
    }
    sink = std::move(sink_);
  }
  sink(std::move(response));
}

void PendingResponse::OnSend(std::function<void(Response)> sink) {
  std::unique_ptr<Response> given;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!response_) {
      sink_ = std::move(sink);
      return;
    }
    given = std::move(response_);
  }
  sink(std::move(*given));
}

}  // namespace euca::http
