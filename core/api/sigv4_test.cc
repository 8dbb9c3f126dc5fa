// SigV4 against AWS's published vectors: the S3 examples of "Signature Calculations for the
// Authorization Header" (AKIAIOSFODNN7EXAMPLE, 20130524) and the general SigV4 test suite
// (AKIDEXAMPLE, 20150830, service "service"), as aws-c-auth ships it.

#include "core/api/sigv4.h"

#include <gtest/gtest.h>

#include "core/api/auth.h"
#include "core/api/digest.h"

namespace euca::api {
namespace {

constexpr const char* kS3Key = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kS3Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* kSuiteKey = "AKIDEXAMPLE";
constexpr const char* kSuiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr int64_t kS3Time = 1369353600000;     // 2013-05-24T00:00:00Z
constexpr int64_t kSuiteTime = 1440938160000;  // 2015-08-30T12:36:00Z

SignableRequest Req(std::string method, std::string path, std::string query, Headers headers) {
  SignableRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.query = SplitQuery(query);
  r.headers = std::move(headers);
  return r;
}

SecretLookup Secrets(std::string key, std::string secret) {
  return [key, secret](const std::string& id) -> Result<std::string> {
    if (id == key) return secret;
    return NotFound("no key '" + id + "'");
  };
}

Result<Verified> VerifyAt(const SignableRequest& r, int64_t now, Dialect d, const char* key, const char* secret) {
  FakeClock clock(now);
  VerifyOptions o;
  o.dialect = d;
  o.clock = &clock;
  return VerifyRequest(r, Secrets(key, secret), o);
}

// --- pieces -------------------------------------------------------------------------------

TEST(SigV4Test, SigningKeyMatchesTheTestSuite) {
  SigV4Scope scope{"20150830", "us-east-1", "service"};
  EXPECT_EQ(Hex(SigV4SigningKey(kSuiteSecret, scope)),
            "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
  EXPECT_EQ(scope.ToString(), "20150830/us-east-1/service/aws4_request");
}

// Keys are kept (SigV4SigningKey's table): each secret and scope must still get its own.
TEST(SigV4Test, SigningKeyIsDerivedForEachSecretAndScope) {
  auto derive = [](const std::string& secret, const SigV4Scope& scope) {
    std::string k = HmacSha256("AWS4" + secret, scope.date);
    k = HmacSha256(k, scope.region);
    k = HmacSha256(k, scope.service);
    return HmacSha256(k, "aws4_request");
  };
  SigV4Scope day1{"20260101", "us-east-1", "s3"};
  SigV4Scope day2{"20260102", "us-east-1", "s3"};
  SigV4Scope other_region{"20260101", "eu-west-1", "s3"};
  SigV4Scope other_service{"20260101", "us-east-1", "ec2"};
  for (int round = 0; round < 2; ++round) {  // the second round answers from the table
    for (const std::string secret : {"old-secret", "new-secret", "new-secret2", ""}) {
      for (const auto& scope : {day1, day2, other_region, other_service}) {
        EXPECT_EQ(SigV4SigningKey(secret, scope), derive(secret, scope))
            << "secret '" << secret << "', scope " << scope.ToString() << ", round " << round;
      }
    }
  }
  EXPECT_NE(SigV4SigningKey("old-secret", day1), SigV4SigningKey("new-secret", day1));
}

TEST(SigV4Test, ParsesAuthorizationHeaders) {
  auto a = ParseSigV4Authorization(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
      "SignedHeaders=host;range;x-amz-date, "
      "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->access_key_id, "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(a->scope.date, "20130524");
  EXPECT_EQ(a->scope.region, "us-east-1");
  EXPECT_EQ(a->scope.service, "s3");
  EXPECT_EQ(a->signed_headers, (std::vector<std::string>{"host", "range", "x-amz-date"}));
  EXPECT_EQ(a->signature, "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024");
  // No spaces after commas, other order.
  auto b = ParseSigV4Authorization(
      "AWS4-HMAC-SHA256 Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024,"
      "Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->access_key_id, "AK");
}

TEST(SigV4Test, RejectsMalformedAuthorizationHeaders) {
  const std::string sig = "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";
  for (const std::string& bad : std::vector<std::string>{
           "AWS4-HMAC-SHA1 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, " + sig,
           "AWS4-HMAC-SHA256 Credential=A/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, " + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, " + sig,
           "AWS4-HMAC-SHA256 Credential=20130524/us-east-1/s3/aws4_request, SignedHeaders=host, " + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, " + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host, " + sig,
           std::string(
               "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc"),
           "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, " + sig + ", " + sig,
           "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Extra=1, " + sig,
       }) {
    EXPECT_FALSE(ParseSigV4Authorization(bad).ok()) << bad;
  }
}

TEST(SigV4Test, CanonicalUriKeepsS3PathsAndNormalizesOthers) {
  EXPECT_EQ(CanonicalUri("/test$file.text", Dialect::kS3), "/test%24file.text");
  EXPECT_EQ(CanonicalUri("/test%24file.text", Dialect::kS3), "/test%24file.text");
  EXPECT_EQ(CanonicalUri("/a//b/../c", Dialect::kS3), "/a//b/../c");
  EXPECT_EQ(CanonicalUri("/b/%E1%88%B4 x", Dialect::kS3), "/b/%E1%88%B4%20x");
  EXPECT_EQ(CanonicalUri("", Dialect::kS3), "/");
  EXPECT_EQ(CanonicalUri("//example//", Dialect::kQuery), "/example/");
  EXPECT_EQ(CanonicalUri("/example1/example2/../..", Dialect::kQuery), "/");
  EXPECT_EQ(CanonicalUri("/./", Dialect::kQuery), "/");
  // Double encoding for every service but S3.
  EXPECT_EQ(CanonicalUri("/a%20b", Dialect::kQuery), "/a%2520b");
}

TEST(SigV4Test, CanonicalQuerySortsAndEncodes) {
  EXPECT_EQ(CanonicalQueryString(SplitQuery("Param2=value2&Param1=value1")), "Param1=value1&Param2=value2");
  EXPECT_EQ(CanonicalQueryString(SplitQuery("lifecycle")), "lifecycle=");
  EXPECT_EQ(CanonicalQueryString(SplitQuery("b=2&a=3&a=1")), "a=1&a=3&b=2");
  EXPECT_EQ(CanonicalQueryString(SplitQuery("k=a%2fb&s=a+b&t=%7e")), "k=a%2Fb&s=a%20b&t=~");
  EXPECT_EQ(CanonicalQueryString(SplitQuery("x=1&X-Amz-Signature=ff"), "X-Amz-Signature"), "x=1");
}

TEST(SigV4Test, CanonicalHeadersTrimJoinAndNeedEverySignedHeader) {
  Headers h{{"Host", "h"}, {"My-Header1", "  a   b  "}, {"my-header1", "c"}};
  auto c = CanonicalHeaders(h, {"my-header1", "host"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, "host:h\nmy-header1:a b,c\n");
  EXPECT_FALSE(CanonicalHeaders(h, {"host", "range"}).ok());
}

// --- the S3 examples ------------------------------------------------------------------------

TEST(SigV4S3ExampleTest, GetObject) {
  auto r = Req("GET", "/test.txt", "",
               {{"Host", "examplebucket.s3.amazonaws.com"},
                {"Range", "bytes=0-9"},
                {"x-amz-content-sha256", std::string(kEmptySha256)},
                {"x-amz-date", "20130524T000000Z"}});
  std::vector<std::string> names = {"host", "range", "x-amz-content-sha256", "x-amz-date"};
  std::string creq =
      CanonicalRequest("GET", CanonicalUri(r.path, Dialect::kS3), "", *CanonicalHeaders(r.headers, names),
                       "host;range;x-amz-content-sha256;x-amz-date", kEmptySha256);
  EXPECT_EQ(creq,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  SigV4Scope scope{"20130524", "us-east-1", "s3"};
  std::string sts = SigV4StringToSign("20130524T000000Z", scope, creq);
  EXPECT_EQ(sts,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(SigV4Signature(SigV4SigningKey(kS3Secret, scope), sts),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

  // The signer produces the documented header, and the checker accepts it.
  SignableRequest s = Req("GET", "/test.txt", "", {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}});
  SigV4SignOptions o;
  o.now_ms = kS3Time;
  ASSERT_TRUE(SignSigV4(s, {kS3Key, kS3Secret}, o).ok());
  EXPECT_EQ(s.headers.Get("authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  auto v = VerifyAt(s, kS3Time + 60000, Dialect::kS3, kS3Key, kS3Secret);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->access_key_id, kS3Key);
  EXPECT_EQ(v->scheme, AuthScheme::kSigV4Header);
  EXPECT_EQ(v->payload, PayloadCheck::kNone);  // no body: the empty hash is checked here
}

TEST(SigV4S3ExampleTest, PutObject) {
  std::string body = "Welcome to Amazon S3.";
  ASSERT_EQ(Sha256Hex(body), "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  // The key as a client may send it: '$' raw (S3 re-encodes it) or escaped.
  for (const char* path : {"/test$file.text", "/test%24file.text"}) {
    SignableRequest r = Req("PUT", path, "",
                            {{"Host", "examplebucket.s3.amazonaws.com"},
                             {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                             {"x-amz-content-sha256", Sha256Hex(body)},
                             {"x-amz-date", "20130524T000000Z"},
                             {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                             {"Content-Length", "21"},
                             {"Authorization",
                              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                              "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
                              "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"}});
    auto v = VerifyAt(r, kS3Time, Dialect::kS3, kS3Key, kS3Secret);
    ASSERT_TRUE(v.ok()) << path << ": " << v.status().ToString();
    // The streamed body is the caller's to check against the declared hash.
    EXPECT_EQ(v->payload, PayloadCheck::kSha256);
    EXPECT_EQ(v->payload_sha256, Sha256Hex(body));
    // Held in full, the body is checked here.
    r.body = body;
    EXPECT_EQ(VerifyAt(r, kS3Time, Dialect::kS3, kS3Key, kS3Secret)->payload, PayloadCheck::kNone);
    r.body = "Welcome to Amazon S4.";
    EXPECT_EQ(VerifyAt(r, kS3Time, Dialect::kS3, kS3Key, kS3Secret).status().wire_code(), "XAmzContentSHA256Mismatch");
  }
}

TEST(SigV4S3ExampleTest, GetBucketLifecycleAndListObjects) {
  struct Case {
    const char* query;
    const char* signature;
  } cases[] = {
      {"lifecycle", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
      {"max-keys=2&prefix=J", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
      {"prefix=J&max-keys=2", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
  };
  for (const auto& c : cases) {
    SignableRequest r = Req("GET", "/", c.query,
                            {{"Host", "examplebucket.s3.amazonaws.com"},
                             {"x-amz-content-sha256", std::string(kEmptySha256)},
                             {"x-amz-date", "20130524T000000Z"},
                             {"Authorization",
                              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                              "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" +
                                  std::string(c.signature)}});
    auto v = VerifyAt(r, kS3Time, Dialect::kS3, kS3Key, kS3Secret);
    EXPECT_TRUE(v.ok()) << c.query << ": " << v.status().ToString();
  }
}

TEST(SigV4S3ExampleTest, PresignedUrl) {
  SignableRequest r = Req("GET", "/test.txt",
                          "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"
                          "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"
                          "SignedHeaders=host&X-Amz-Signature="
                          "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
                          {{"Host", "examplebucket.s3.amazonaws.com"}});
  auto v = VerifyAt(r, kS3Time + 3600000, Dialect::kS3, kS3Key, kS3Secret);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->scheme, AuthScheme::kSigV4Query);
  EXPECT_EQ(v->payload, PayloadCheck::kUnsigned);

  // A day later it has expired: AccessDenied, not a signature error.
  auto late = VerifyAt(r, kS3Time + 86400000 + 1000, Dialect::kS3, kS3Key, kS3Secret);
  EXPECT_EQ(late.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(late.status().wire_code(), "AccessDenied");
  // Used before it was signed (beyond the allowed skew).
  EXPECT_EQ(VerifyAt(r, kS3Time - 3600000, Dialect::kS3, kS3Key, kS3Secret).status().wire_code(), "AccessDenied");

  // Our presigner makes the same URL.
  SignableRequest p = Req("GET", "/test.txt", "", {{"Host", "examplebucket.s3.amazonaws.com"}});
  SigV4SignOptions o;
  o.now_ms = kS3Time;
  ASSERT_TRUE(PresignSigV4(p, {kS3Key, kS3Secret}, o, 86400).ok());
  EXPECT_EQ(JoinQuery(p.query), JoinQuery(r.query));
  EXPECT_FALSE(PresignSigV4(p, {kS3Key, kS3Secret}, o, kMaxPresignSeconds + 1).ok());

  // A changed parameter breaks it.
  r.query.emplace_back("versionId", "1");
  EXPECT_EQ(VerifyAt(r, kS3Time, Dialect::kS3, kS3Key, kS3Secret).status().wire_code(), "SignatureDoesNotMatch");
}

// --- the general SigV4 test suite (service "service", normalized paths) ------------------

struct SuiteCase {
  const char* name;
  const char* method;
  const char* path;
  const char* query;
  Headers extra;
  const char* signed_headers;
  const char* signature;
};

TEST(SigV4SuiteTest, HeaderSignedRequests) {
  const SuiteCase cases[] = {
      {"get-vanilla",
       "GET",
       "/",
       "",
       {},
       "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query-order-key-case",
       "GET",
       "/",
       "Param2=value2&Param1=value1",
       {},
       "host;x-amz-date",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-empty-query-key",
       "GET",
       "/",
       "Param1=value1",
       {},
       "host;x-amz-date",
       "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"get-vanilla-query-unreserved",
       "GET",
       "/",
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
       "abcdefghijklmnopqrstuvwxyz",
       {},
       "host;x-amz-date",
       "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query",
       "GET",
       "/",
       "\xe1\x88\xb4=bar",
       {},
       "host;x-amz-date",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-vanilla-query-order-encoded",
       "GET",
       "/",
       "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
       {},
       "host;x-amz-date",
       "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"},
      {"get-unreserved",
       "GET",
       "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       "",
       {},
       "host;x-amz-date",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-utf8",
       "GET",
       "/\xe1\x88\xb4",
       "",
       {},
       "host;x-amz-date",
       "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-space",
       "GET",
       "/example space/",
       "",
       {},
       "host;x-amz-date",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"get-slashes-normalized",
       "GET",
       "//example//",
       "",
       {},
       "host;x-amz-date",
       "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
      {"get-slash-dot-slash-normalized",
       "GET",
       "/./",
       "",
       {},
       "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-relative-relative-normalized",
       "GET",
       "/example1/example2/../..",
       "",
       {},
       "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-header-value-trim",
       "GET",
       "/",
       "",
       {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
       "host;my-header1;my-header2;x-amz-date",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"get-header-key-duplicate",
       "GET",
       "/",
       "",
       {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
       "host;my-header1;x-amz-date",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      // aws-c-auth reads the folded lines of this case as three values of the header.
      {"get-header-value-multiline",
       "GET",
       "/",
       "",
       {{"My-Header1", "value1"}, {"My-Header1", "value2"}, {"My-Header1", "value3"}},
       "host;my-header1;x-amz-date",
       "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790"},
      {"post-vanilla",
       "POST",
       "/",
       "",
       {},
       "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
  };
  for (const auto& c : cases) {
    SignableRequest r = Req(c.method, c.path, c.query, {{"Host", "example.amazonaws.com"}});
    for (const auto& f : c.extra) r.headers.Add(f.name, f.value);
    r.headers.Add("X-Amz-Date", "20150830T123600Z");
    r.headers.Add("Authorization", std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                                               "aws4_request, SignedHeaders=") +
                                       c.signed_headers + ", Signature=" + c.signature);
    auto v = VerifyAt(r, kSuiteTime, Dialect::kQuery, kSuiteKey, kSuiteSecret);
    EXPECT_TRUE(v.ok()) << c.name << ": " << v.status().ToString();

    // Our signer, given the same request, computes the same signature.
    SignableRequest s = Req(c.method, c.path, c.query, {{"Host", "example.amazonaws.com"}});
    for (const auto& f : c.extra) s.headers.Add(f.name, f.value);
    SigV4SignOptions o;
    o.dialect = Dialect::kQuery;
    o.service = "service";
    o.now_ms = kSuiteTime;
    auto sig = SignSigV4(s, {kSuiteKey, kSuiteSecret}, o);
    ASSERT_TRUE(sig.ok());
    EXPECT_EQ(*sig, c.signature) << c.name;
  }
}

TEST(SigV4SuiteTest, PostFormWithDeclaredPayloadHash) {
  SignableRequest r = Req("POST", "/", "",
                          {{"Content-Type", "application/x-www-form-urlencoded"},
                           {"Host", "example.amazonaws.com"},
                           {"Content-Length", "13"},
                           {"x-amz-content-sha256", "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"},
                           {"Authorization",
                            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                            "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, "
                            "Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},
                           {"X-Amz-Date", "20150830T123600Z"}});
  r.body = "Param1=value1";
  auto v = VerifyAt(r, kSuiteTime, Dialect::kQuery, kSuiteKey, kSuiteSecret);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  r.body = "Param1=value2";
  EXPECT_FALSE(VerifyAt(r, kSuiteTime, Dialect::kQuery, kSuiteKey, kSuiteSecret).ok());
}

TEST(SigV4SuiteTest, QuerySignedRequest) {
  SignableRequest r =
      Req("GET", "/",
          "Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-"
          "east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&"
          "X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5",
          {{"Host", "example.amazonaws.com"}});
  auto v = VerifyAt(r, kSuiteTime + 1000, Dialect::kQuery, kSuiteKey, kSuiteSecret);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->scheme, AuthScheme::kSigV4Query);
  EXPECT_EQ(VerifyAt(r, kSuiteTime + 3601000, Dialect::kQuery, kSuiteKey, kSuiteSecret).status().wire_code(),
            "RequestExpired");
}

}  // namespace
}  // namespace euca::api
