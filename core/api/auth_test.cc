// The checker's decisions that are not about the signature arithmetic: which error for what,
// the lookup callback, anonymous requests, scope checks.

#include "core/api/auth.h"

#include <gtest/gtest.h>

#include "core/base/error_map.h"

namespace euca::api {
namespace {

constexpr int64_t kNow = 1700000000000;
const Credentials kCreds{"AKIDUSER", "secret/key+1"};

SignableRequest S3Get() {
  SignableRequest r;
  r.method = "GET";
  r.path = "/bucket/key";
  r.headers = {{"Host", "localhost:8773"}};
  return r;
}

Result<Verified> Check(const SignableRequest& r, VerifyOptions o = {}, int64_t now = kNow) {
  FakeClock clock(now);
  o.clock = &clock;
  return VerifyRequest(
      r,
      [](const std::string& id) -> Result<std::string> {
        if (id == kCreds.access_key_id) return kCreds.secret_key;
        if (id == "AKIDDISABLED") return PermissionDenied("user of access key 'AKIDDISABLED' is disabled");
        return NotFound("no access key '" + id + "'");
      },
      o);
}

SignableRequest Signed(SignableRequest r, SigV4SignOptions o = {}) {
  o.now_ms = o.now_ms ? o.now_ms : kNow;
  EXPECT_TRUE(SignSigV4(r, kCreds, o).ok());
  return r;
}

TEST(AuthTest, UnknownKeyIsInvalidAccessKeyIdAndLookupErrorsPassThrough) {
  SignableRequest r = S3Get();
  ASSERT_TRUE(SignSigV4(r, {"AKIDNOBODY", "x"}, {.now_ms = kNow}).ok());
  auto v = Check(r);
  EXPECT_EQ(v.status().wire_code(), "InvalidAccessKeyId");
  EXPECT_EQ(HttpStatus(v.status()), 403);
  EXPECT_NE(v.status().message().find("'AKIDNOBODY'"), std::string::npos) << v.status().message();

  r = S3Get();
  ASSERT_TRUE(SignSigV4(r, {"AKIDDISABLED", "x"}, {.now_ms = kNow}).ok());
  EXPECT_EQ(Check(r).status().code(), Code::kPermissionDenied);

  VerifyOptions ec2{.dialect = Dialect::kQuery};
  r = S3Get();
  ASSERT_TRUE(SignSigV4(r, {"AKIDNOBODY", "x"}, {.dialect = Dialect::kQuery, .service = "ec2", .now_ms = kNow}).ok());
  EXPECT_EQ(Check(r, ec2).status().wire_code(), "AuthFailure");
  EXPECT_EQ(HttpStatus(Check(r, ec2).status()), 401);
}

TEST(AuthTest, WrongSecretIsSignatureDoesNotMatch) {
  SignableRequest r = S3Get();
  ASSERT_TRUE(SignSigV4(r, {kCreds.access_key_id, "wrong"}, {.now_ms = kNow}).ok());
  auto v = Check(r);
  EXPECT_EQ(v.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(v.status().wire_code(), "SignatureDoesNotMatch");
  EXPECT_EQ(HttpStatus(v.status()), 403);
}

TEST(AuthTest, ClockSkewBeyondFifteenMinutesIsItsOwnError) {
  SignableRequest r = Signed(S3Get());
  EXPECT_TRUE(Check(r, {}, kNow + 15 * 60 * 1000).ok());
  EXPECT_TRUE(Check(r, {}, kNow - 15 * 60 * 1000).ok());
  for (int64_t now : {kNow + 15 * 60 * 1000 + 1000, kNow - 15 * 60 * 1000 - 1000}) {
    auto v = Check(r, {}, now);
    EXPECT_EQ(v.status().wire_code(), "RequestTimeTooSkewed");
    EXPECT_EQ(HttpStatus(v.status()), 403);
  }
  VerifyOptions ec2{.dialect = Dialect::kQuery};
  SignableRequest q = Signed(S3Get(), {.dialect = Dialect::kQuery, .service = "ec2", .now_ms = kNow});
  auto v = Check(q, ec2, kNow + 3600 * 1000);
  EXPECT_EQ(v.status().wire_code(), "RequestExpired");
  EXPECT_EQ(HttpStatus(v.status()), 400);
}

TEST(AuthTest, DateHeaderMayStandForXAmzDate) {
  // botocore signs over Date, with the SigV4 form of its time, when the request has a Date
  // header and no X-Amz-Date.
  SignableRequest r = S3Get();
  r.headers.Add("Date", FormatHttpDate(kNow));
  r.headers.Add("x-amz-content-sha256", std::string(kEmptySha256));
  std::vector<std::string> names = {"date", "host", "x-amz-content-sha256"};
  SigV4Scope scope{FormatAmzDate(kNow).substr(0, 8), "us-east-1", "s3"};
  std::string creq = CanonicalRequest("GET", "/bucket/key", "", *CanonicalHeaders(r.headers, names),
                                      "date;host;x-amz-content-sha256", kEmptySha256);
  std::string sig =
      SigV4Signature(SigV4SigningKey(kCreds.secret_key, scope), SigV4StringToSign(FormatAmzDate(kNow), scope, creq));
  r.headers.Add("Authorization", "AWS4-HMAC-SHA256 Credential=" + kCreds.access_key_id + "/" + scope.ToString() +
                                     ", SignedHeaders=date;host;x-amz-content-sha256, Signature=" + sig);
  auto v = Check(r);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->request_time_ms, kNow);
  EXPECT_EQ(Check(r, {}, kNow + 3600 * 1000).status().wire_code(), "RequestTimeTooSkewed");
  r.headers.Remove("date");
  EXPECT_EQ(Check(r).status().wire_code(), "AuthorizationHeaderMalformed");
}

TEST(AuthTest, UnsignedAmzHeadersAreRefusedForS3) {
  SignableRequest r = Signed(S3Get());
  r.headers.Add("x-amz-acl", "public-read");
  auto v = Check(r);
  EXPECT_EQ(v.status().wire_code(), "AccessDenied");
  EXPECT_NE(v.status().message().find("'x-amz-acl'"), std::string::npos);
}

TEST(AuthTest, S3NeedsTheContentHashHeader) {
  SignableRequest r = S3Get();
  ASSERT_TRUE(SignSigV4(r, kCreds, {.dialect = Dialect::kQuery, .now_ms = kNow}).ok());  // no x-amz-content-sha256
  auto v = Check(r);
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(v.status().wire_code(), "InvalidRequest");
}

TEST(AuthTest, UnsignedPayloadAndDeclaredHashes) {
  SignableRequest r = S3Get();
  r.method = "PUT";
  r.headers.Add("Content-Length", "5");
  r = Signed(r, {.payload_hash = "UNSIGNED-PAYLOAD"});
  auto v = Check(r);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->payload, PayloadCheck::kUnsigned);

  SignableRequest h = S3Get();
  h.method = "PUT";
  h.headers.Add("Content-Length", "5");
  h.payload_sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";  // "hello"
  h = Signed(h);
  h.payload_sha256.clear();  // the server streams the body: the caller checks the hash
  v = Check(h);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->payload, PayloadCheck::kSha256);
  EXPECT_EQ(v->payload_sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");

  h.headers.Set("x-amz-content-sha256", "nothex");
  EXPECT_EQ(Check(h).status().code(), Code::kInvalidArgument);
}

TEST(AuthTest, ScopeMustNameTheServiceAndRegionAskedFor) {
  SignableRequest r = Signed(S3Get(), {.region = "eucalyptus", .now_ms = kNow});
  EXPECT_TRUE(Check(r).ok());
  EXPECT_TRUE(Check(r, {.region = "eucalyptus"}).ok());
  auto v = Check(r, {.region = "us-east-1"});
  EXPECT_EQ(v.status().wire_code(), "AuthorizationHeaderMalformed");
  EXPECT_EQ(HttpStatus(v.status()), 400);
  EXPECT_EQ(Check(r, {.service = "ec2"}).status().wire_code(), "AuthorizationHeaderMalformed");
  // The credential date must be the request's date.
  std::string auth = r.headers.Get("authorization");
  auth.replace(auth.find("/2023"), 9, "/20231115");
  r.headers.Set("Authorization", auth);
  EXPECT_EQ(Check(r).status().wire_code(), "AuthorizationHeaderMalformed");
}

TEST(AuthTest, AnonymousOnlyWhenAllowed) {
  EXPECT_EQ(Check(S3Get()).status().wire_code(), "AccessDenied");
  auto v = Check(S3Get(), {.allow_anonymous = true});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->scheme, AuthScheme::kAnonymous);
  EXPECT_TRUE(v->access_key_id.empty());
  auto ec2 = Check(S3Get(), {.dialect = Dialect::kQuery});
  EXPECT_EQ(ec2.status().wire_code(), "MissingAuthenticationToken");
  EXPECT_EQ(HttpStatus(ec2.status()), 403);
}

TEST(AuthTest, UnknownAuthorizationSchemesAreMalformed) {
  SignableRequest r = S3Get();
  r.headers.Add("Authorization", "Bearer abc");
  EXPECT_EQ(Check(r).status().wire_code(), "AuthorizationHeaderMalformed");
  r.headers.Set("Authorization", "AWS4-HMAC-SHA256 Credential=garbage");
  EXPECT_EQ(Check(r).status().code(), Code::kInvalidArgument);
  // S3's SigV2 header means nothing to the Query API.
  r.headers.Set("Authorization", "AWS AKIDUSER:abc=");
  EXPECT_EQ(Check(r, {.dialect = Dialect::kQuery}).status().wire_code(), "IncompleteSignature");
}

TEST(AuthTest, PresignedRequestsNeedTheirParameters) {
  SignableRequest r = S3Get();
  ASSERT_TRUE(PresignSigV4(r, kCreds, {.now_ms = kNow}, 60).ok());
  EXPECT_TRUE(Check(r).ok());
  for (const char* drop :
       {"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"}) {
    SignableRequest d = r;
    std::erase_if(d.query, [&](const auto& p) { return p.first == drop; });
    auto v = Check(d);
    EXPECT_EQ(v.status().wire_code(), "AuthorizationQueryParametersError") << drop;
    EXPECT_NE(v.status().message().find(drop), std::string::npos) << v.status().message();
  }
  EXPECT_EQ(Check(r, {}, kNow + 61000).status().wire_code(), "AccessDenied");
}

TEST(AuthTest, PlusInQueryMayMeanSpaceOrPlus) {
  SignableRequest r = S3Get();
  r.query = SplitQuery("prefix=a%2Bb");
  r = Signed(r);
  // A client that left '+' unescaped but meant a plus sign.
  r.query = SplitQuery("prefix=a+b");
  EXPECT_TRUE(Check(r).ok());
}

}  // namespace
}  // namespace euca::api
