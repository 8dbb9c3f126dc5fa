#pragma once
// Test helpers for the S3 REST front: signed requests to a server on loopback.

#include <gtest/gtest.h>

#include <string>

#include "core/api/encoding.h"
#include "core/api/sigv4.h"
#include "core/http/client.h"

namespace euca::walrus::test_support {

/// Sends `method target` ("/bucket/key?query") to `host` with `body`, signed with SigV4 by
/// `key` at `now_ms` (nullptr: anonymous). A transport failure fails the test and returns an
/// empty response.
inline http::ClientResponse SendSigned(http::Client& client, const std::string& host, const std::string& method,
                                       const std::string& target, const std::string& body, Headers headers,
                                       const api::Credentials* key, int64_t now_ms) {
  auto q = target.find('?');
  api::SignableRequest req{.method = method,
                           .path = target.substr(0, q),
                           .query = q == std::string::npos ? api::QueryParams{} : api::SplitQuery(target.substr(q + 1)),
                           .headers = std::move(headers),
                           .body = body};
  if (!req.headers.Has("Host")) req.headers.Set("Host", host);
  if (key) {
    auto sig = api::SignSigV4(req, *key, {.region = "euca", .now_ms = now_ms});
    EXPECT_TRUE(sig.ok()) << sig.status().ToString();
  }
  http::ClientRequest creq{.method = method, .url = "http://" + host + target, .headers = req.headers, .body = body};
  auto r = client.Do(creq);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : http::ClientResponse{};
}

}  // namespace euca::walrus::test_support
