// Cross-check with a real client: tests/data/api/botocore_sign.py signs requests with
// botocore's SigV4, S3 SigV4, presigners, HmacV1 (S3 SigV2) and SigV2 (EC2), and boto3's own
// presigned URLs; every one must verify here, and none once tampered with.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/api/auth.h"
#include "core/api/digest.h"
#include "core/api/sigv2.h"

namespace euca::api {
namespace {

constexpr const char* kSecret = "s3cr3t/Key+With=Symbols0123456789abcdef";

// Runs the script; its stdout, and its exit status in *status.
std::string RunScript(int* status) {
  std::string cmd = std::string("/usr/bin/python3 ") + EUCA_SOURCE_DIR + "/tests/data/api/botocore_sign.py 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    *status = -1;
    return "";
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

struct Case {
  std::string name;
  VerifyOptions options;
  int64_t now_ms = 0;
  std::string access_key_id;
  SignableRequest request;
};

std::vector<Case> LoadCases() {
  int status = 0;
  std::string out = RunScript(&status);
  if (status == 77 || status == 127) return {};
  EXPECT_EQ(status, 0) << out;
  std::vector<Case> cases;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    std::string line = out.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    Case c;
    c.name = j["name"];
    c.options.dialect = j["dialect"] == "s3" ? Dialect::kS3 : Dialect::kQuery;
    c.options.virtual_host_bucket = j["bucket"];
    c.options.s3_service_prefix = j.value("service_prefix", "");
    c.now_ms = j["now_ms"];
    c.access_key_id = j["access_key_id"];
    c.request.method = j["method"];
    c.request.path = j["path"];
    c.request.query = SplitQuery(j["query"].get<std::string>());
    for (const auto& h : j["headers"]) c.request.headers.Add(h[0], h[1]);
    c.request.body = *Base64Decode(j["body"].get<std::string>());
    cases.push_back(std::move(c));
  }
  return cases;
}

Result<Verified> Verify(const Case& c, const SignableRequest& r) {
  FakeClock clock(c.now_ms);
  VerifyOptions o = c.options;
  o.clock = &clock;
  return VerifyRequest(
      r,
      [&](const std::string& id) -> Result<std::string> {
        if (id == c.access_key_id) return std::string(kSecret);
        return NotFound("no access key '" + id + "'");
      },
      o);
}

TEST(BotocoreTest, EveryBotocoreSignatureVerifiesAndNoTamperedOne) {
  std::vector<Case> cases = LoadCases();
  if (cases.empty())
    GTEST_SKIP() << "python3-boto3 is not installed (/usr/bin/python3 cannot import botocore); run 'make deps'";
  EXPECT_GE(cases.size(), 20u);
  for (const Case& c : cases) {
    auto v = Verify(c, c.request);
    ASSERT_TRUE(v.ok()) << c.name << ": " << v.status().ToString();
    EXPECT_EQ(v->access_key_id, c.access_key_id) << c.name;
    // Payload hashes that are checked later must match the body botocore sent.
    if (v->payload == PayloadCheck::kSha256) {
      EXPECT_EQ(v->payload_sha256, Sha256Hex(c.request.body)) << c.name;
    }

    // Tamper with the path, then with the first query value, then with the body (S3 SigV2
    // signs neither the body nor query parameters other than sub-resources).
    const bool s3v2 = c.name.find("s3v2") != std::string::npos;
    SignableRequest t = c.request;
    t.path += "x";
    EXPECT_FALSE(Verify(c, t).ok()) << c.name << " accepted a changed path";
    if (!c.request.query.empty() && (!s3v2 || IsS3SubResource(PercentDecode(c.request.query.front().first, true)))) {
      t = c.request;
      t.query.front().second += "0";
      EXPECT_FALSE(Verify(c, t).ok()) << c.name << " accepted a changed query";
    }
    if (!c.request.body.empty() && !s3v2) {
      t = c.request;
      t.body[0] ^= 1;
      EXPECT_FALSE(Verify(c, t).ok()) << c.name << " accepted a changed body";
    }
  }
}

}  // namespace
}  // namespace euca::api
