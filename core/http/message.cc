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

}  // namespace euca::http
