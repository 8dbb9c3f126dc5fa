#include "core/clc/ec2_rest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/api/sigv2.h"
#include "core/api/sigv4.h"
#include "core/base/error_map.h"
#include "core/clc/cloud_test_support.h"

namespace euca::clc {
namespace {

using ::testing::HasSubstr;

class StringReader final : public http::BodyReader {
 public:
  explicit StringReader(std::string s) : s_(std::move(s)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min(n, s_.size() - pos_);
    std::memcpy(buf, s_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string s_;
  size_t pos_ = 0;
};

class Ec2RestTest : public ::testing::Test, public CloudFixture {
 protected:
  Ec2RestTest() {
    auto [alice, key] = MakeUserWithKey("acme", "alice");
    alice_ = alice;
    key_ = {key.id, key.secret};
    handler_ = MakeEc2Handler(*cloud_, {.region = {}, .clock = &clock_});
  }

  http::Response Send(const api::SignableRequest& req) {
    http::RequestHead head;
    head.method = req.method;
    head.path = req.path;
    head.query = api::JoinQuery(req.query);
    head.target = head.path + (head.query.empty() ? "" : "?" + head.query);
    head.headers = req.headers;
    head.content_length = req.body.size();
    StringReader body(req.body);
    return handler_(head, body);
  }

  api::SignableRequest Form(const std::string& path, const std::string& body) {
    api::SignableRequest req{.method = "POST", .path = path, .query = {}, .headers = {}, .body = body};
    req.headers.Set("Host", "127.0.0.1:8773");
    req.headers.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    return req;
  }

  http::Response PostV4(const std::string& path, const std::string& body, const api::Credentials& key,
                        int64_t skew_ms = 0) {
    auto req = Form(path, body);
    EXPECT_TRUE(api::SignSigV4(req, key,
                               {.dialect = api::Dialect::kQuery,
                                .region = "euca",
                                .service = "ec2",
                                .now_ms = clock_.NowMillis() + skew_ms,
                                .payload_hash = {}})
                    .ok());
    return Send(req);
  }

  static std::string Code(const http::Response& r) {
    auto at = r.body.find("<Code>");
    if (at == std::string::npos) return "";
    return r.body.substr(at + 6, r.body.find("</Code>") - at - 6);
  }

  Principal alice_;
  api::Credentials key_;
  http::Handler handler_;
};

constexpr char kRegions[] = "Action=DescribeRegions&Version=2016-11-15";

TEST_F(Ec2RestTest, SigV4AtEveryServicePath) {
  for (const char* path :
       {"/", "/services/compute", "/services/compute/", "/services/Eucalyptus", "/services/Eucalyptus/"}) {
    auto r = PostV4(path, kRegions, key_);
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    EXPECT_THAT(r.body, HasSubstr("<regionName>euca</regionName>")) << path;
    EXPECT_EQ(r.headers.Get("Content-Type"), "text/xml;charset=UTF-8");
    EXPECT_FALSE(r.headers.Get("x-amzn-RequestId").empty());
  }
}

TEST_F(Ec2RestTest, ReplyGolden) {
  auto r = PostV4("/", "Action=DescribeRegions&Version=2014-06-15", key_);
  ASSERT_EQ(r.status, 200);
  std::string body =
      std::regex_replace(r.body, std::regex("<requestId>[^<]*</requestId>"), "<requestId>ID</requestId>");
  const std::string path = std::string(EUCA_SOURCE_DIR) + "/tests/data/ec2/rest-describe-regions.xml";
  if (std::getenv("EUCA_TEST_REGENERATE")) std::ofstream(path) << body << "\n";
  std::ifstream in(path);
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), body + "\n");
}

TEST_F(Ec2RestTest, SigV4PresignedGet) {
  api::SignableRequest req{
      .method = "GET", .path = "/services/compute", .query = api::SplitQuery(kRegions), .headers = {}, .body = {}};
  req.headers.Set("Host", "127.0.0.1:8773");
  ASSERT_TRUE(api::PresignSigV4(req, key_,
                                {.dialect = api::Dialect::kQuery,
                                 .region = "euca",
                                 .service = "ec2",
                                 .now_ms = clock_.NowMillis(),
                                 .payload_hash = {}},
                                300)
                  .ok());
  auto r = Send(req);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(Ec2RestTest, SigV2QueryAndForm) {
  api::SignableRequest get{
      .method = "GET", .path = "/services/Eucalyptus", .query = api::SplitQuery(kRegions), .headers = {}, .body = {}};
  get.headers.Set("Host", "127.0.0.1:8773");
  ASSERT_TRUE(api::SignQueryV2(get, key_, clock_.NowMillis()).ok());
  auto r = Send(get);
  EXPECT_EQ(r.status, 200) << r.body;
  auto post = Form("/services/Eucalyptus", kRegions);
  ASSERT_TRUE(api::SignQueryV2(post, key_, clock_.NowMillis()).ok());
  r = Send(post);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(Ec2RestTest, BadCredentialsAreAuthFailure) {
  auto unknown = PostV4("/", kRegions, {"AKIANOBODY", "secret"});
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(Code(unknown), "AuthFailure");
  auto wrong = PostV4("/", kRegions, {key_.access_key_id, "not-the-secret"});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Code(wrong), "AuthFailure");
  ASSERT_TRUE(admin_.SetUserEnabled(root_, "acme", "alice", false).ok());
  auto disabled = PostV4("/", kRegions, key_);
  EXPECT_EQ(disabled.status, 401);
  EXPECT_EQ(Code(disabled), "AuthFailure");
  EXPECT_THAT(disabled.body, HasSubstr("<RequestID>"));
}

TEST_F(Ec2RestTest, UnsignedIsRefused) {
  auto r = Send(Form("/", kRegions));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Code(r), "MissingAuthenticationToken");
}

TEST_F(Ec2RestTest, ClockSkewIsRequestExpired) {
  auto r = PostV4("/", kRegions, key_, 20 * 60 * 1000);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Code(r), "RequestExpired");
  EXPECT_EQ(PostV4("/", kRegions, key_, 10 * 60 * 1000).status, 200);
}

TEST_F(Ec2RestTest, UnknownActionPathAndMethod) {
  auto r = PostV4("/", "Action=LaunchRockets&Version=2016-11-15", key_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Code(r), "InvalidAction");
  auto missing = PostV4("/", "Version=2016-11-15", key_);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(Code(missing), "MissingAction");
  auto path = PostV4("/services/other", kRegions, key_);
  EXPECT_EQ(path.status, 404);
  auto put = Form("/", kRegions);
  put.method = "PUT";
  EXPECT_EQ(Send(put).status, 405);
}

TEST_F(Ec2RestTest, ActionErrorsKeepTheirCodes) {
  auto r = PostV4("/", "Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=nope", key_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Code(r), "InvalidKeyPair.NotFound");
  EXPECT_THAT(r.body, HasSubstr("<Message>the key pair 'nope' does not exist</Message>"));
  auto missing = PostV4("/", "Action=CreateKeyPair&Version=2016-11-15", key_);
  EXPECT_EQ(Code(missing), "MissingParameter");
}

TEST_F(Ec2RestTest, CallerIsTheKeysUser) {
  ASSERT_EQ(PostV4("/", "Action=CreateKeyPair&Version=2016-11-15&KeyName=mine", key_).status, 200);
  EXPECT_TRUE(cloud_->key_pairs().Find(alice_.account_id, "mine").ok());
  EXPECT_EQ(store_.CommittedForTest().back().principal, "alice@acme");
}

}  // namespace
}  // namespace euca::clc
