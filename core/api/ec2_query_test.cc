#include "core/api/ec2_query.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/base/error_map.h"

namespace euca::api {
namespace {

const std::string kData = std::string(EUCA_SOURCE_DIR) + "/tests/data/ec2";

// Compares `actual` with tests/data/ec2/NAME; EUCA_TEST_REGENERATE=1 rewrites the file.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = kData + "/" + name;
  if (std::getenv("EUCA_TEST_REGENERATE")) {
    std::ofstream(path) << actual;
    return;
  }
  std::ifstream in(path);
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), actual) << "golden file " << path << " (EUCA_TEST_REGENERATE=1 rewrites it)";
}

Ec2Request Parse(const std::string& query) {
  auto r = Ec2Request::FromParams(SplitQuery(query), "req-1");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Ec2Request();
}

TEST(Ec2QueryTest, ParsesActionVersionAndParams) {
  auto r = Parse("Action=DescribeKeyPairs&Version=2014-06-15&KeyName.1=a%20b&KeyName.2=c+d");
  EXPECT_EQ(r.action(), "DescribeKeyPairs");
  EXPECT_EQ(r.version(), "2014-06-15");
  EXPECT_EQ(r.request_id(), "req-1");
  EXPECT_EQ(r.List("KeyName"), (std::vector<std::string>{"a b", "c d"}));
}

TEST(Ec2QueryTest, MissingVersionIsTheDefault) { EXPECT_EQ(Parse("Action=DescribeRegions").version(), kEc2Version); }

TEST(Ec2QueryTest, MissingActionIsMissingAction) {
  auto r = Ec2Request::FromParams(SplitQuery("Version=2016-11-15"), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().wire_code(), "MissingAction");
  EXPECT_EQ(HttpStatus(r.status()), 400);
}

TEST(Ec2QueryTest, MalformedVersionIsRejected) {
  auto r = Ec2Request::FromParams(SplitQuery("Action=X&Version=yesterday"), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().wire_code(), "InvalidParameterValue");
}

TEST(Ec2QueryTest, SignatureParamsAreDropped) {
  auto r = Parse(
      "Action=X&AWSAccessKeyId=AK&Signature=s&SignatureMethod=HmacSHA256&SignatureVersion=2&"
      "Timestamp=t&X-Amz-Date=d&Name=n");
  ASSERT_EQ(r.params().size(), 1u);
  EXPECT_EQ(r.params()[0].first, "Name");
}

TEST(Ec2QueryTest, ListsAreInNumericOrder) {
  auto r = Parse(
      "Action=X&InstanceId.10=j&InstanceId.2=b&InstanceId.1=a&InstanceId.9=i&InstanceId.x=no&"
      "InstanceId.0=no&InstanceId.01=no&InstanceIdX.3=no");
  EXPECT_EQ(r.List("InstanceId"), (std::vector<std::string>{"a", "b", "i", "j"}));
  EXPECT_EQ(r.Indices("InstanceId"), (std::vector<int>{1, 2, 9, 10}));
}

TEST(Ec2QueryTest, Filters) {
  auto r = Parse(
      "Action=X&Filter.2.Name=key-name&Filter.2.Value.1=k*&Filter.1.Name=fingerprint&"
      "Filter.1.Value.2=b&Filter.1.Value.1=a");
  auto f = r.Filters();
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0].name, "fingerprint");
  EXPECT_EQ((*f)[0].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*f)[1].name, "key-name");
  EXPECT_TRUE(FilterMatches((*f)[1], "key1"));
  EXPECT_FALSE(FilterMatches((*f)[1], "other"));
}

TEST(Ec2QueryTest, FilterWithoutValuesIsInvalid) {
  auto f = Parse("Action=X&Filter.1.Name=key-name").Filters();
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().wire_code(), "InvalidParameterValue");
}

TEST(Ec2QueryTest, Wildcards) {
  Ec2Filter f{"n", {"a?c", "x*z*", "lit\\*"}};
  EXPECT_TRUE(FilterMatches(f, "abc"));
  EXPECT_FALSE(FilterMatches(f, "abbc"));
  EXPECT_TRUE(FilterMatches(f, "xz"));
  EXPECT_TRUE(FilterMatches(f, "x12z34"));
  EXPECT_TRUE(FilterMatches(f, "lit*"));
  EXPECT_FALSE(FilterMatches(f, "lit1"));
}

TEST(Ec2QueryTest, TypedGetters) {
  auto r = Parse("Action=X&Count=5&Bad=5x&Flag=TRUE&No=maybe&Empty=");
  EXPECT_EQ(*r.GetInt("Count", 1, 10), std::optional<int64_t>(5));
  EXPECT_EQ(*r.GetInt("Absent", 1, 10), std::optional<int64_t>());
  EXPECT_EQ(r.GetInt("Count", 6, 10).status().wire_code(), "InvalidParameterValue");
  EXPECT_EQ(r.GetInt("Bad", 1, 10).status().wire_code(), "InvalidParameterValue");
  EXPECT_EQ(*r.GetBool("Flag"), std::optional<bool>(true));
  EXPECT_EQ(r.GetBool("No").status().wire_code(), "InvalidParameterValue");
  EXPECT_EQ(r.Required("Empty").status().wire_code(), "MissingParameter");
  EXPECT_EQ(r.Required("Absent").status().message(), "the request must contain the parameter 'Absent'");
  EXPECT_EQ(*r.Required("Count"), "5");
}

TEST(Ec2QueryTest, FromHttpMergesQueryAndFormBody) {
  auto r = Ec2Request::FromHttp("POST", "Action=DescribeRegions", "application/x-www-form-urlencoded; charset=utf-8",
                                "Version=2016-11-15&RegionName.1=euca", "id");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->action(), "DescribeRegions");
  EXPECT_EQ(r->List("RegionName"), (std::vector<std::string>{"euca"}));
  auto bad = Ec2Request::FromHttp("POST", "", "application/json", "{}", "id");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().wire_code(), "InvalidParameterValue");
}

TEST(Ec2QueryTest, FormBodyRoundTrips) {
  std::string body = Ec2FormBody("ImportKeyPair", kEc2Version, {{"KeyName", "a b&c"}, {"PublicKeyMaterial", "x+/="}});
  EXPECT_EQ(body, "Action=ImportKeyPair&Version=2016-11-15&KeyName=a%20b%26c&PublicKeyMaterial=x%2B%2F%3D");
  auto r = Parse(body);
  EXPECT_EQ(r.GetOr("KeyName"), "a b&c");
  EXPECT_EQ(r.GetOr("PublicKeyMaterial"), "x+/=");
}

TEST(Ec2QueryTest, Timestamp) {
  EXPECT_EQ(Ec2Timestamp(1479888000123), "2016-11-23T08:00:00.123Z");
  EXPECT_EQ(Ec2Timestamp(0), "1970-01-01T00:00:00.000Z");
}

TEST(Ec2QueryTest, ResponseEnvelopeGolden) {
  Ec2Response response("DescribeKeyPairs", "2016-11-15", "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
  auto set = response.root().append_child("keySet");
  auto item = AddItem(set);
  AddText(item, "keyName", "my-key <&>");
  AddText(item, "keyFingerprint", "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f");
  AddBool(AddItem(set), "flag", true);
  AddInt(response.root(), "count", 2);
  ExpectGolden("describe-key-pairs.xml", response.ToString() + "\n");
}

TEST(Ec2QueryTest, OlderVersionNamespace) {
  Ec2Response response("DescribeRegions", "2009-11-30", "r");
  ExpectGolden("describe-regions-2009.xml", response.ToString() + "\n");
}

TEST(Ec2QueryTest, ErrorDocumentGolden) {
  Status s(Code::kNotFound, "the key pair 'nope' does not exist", "InvalidKeyPair.NotFound");
  ExpectGolden("error-not-found.xml", Ec2ErrorXml(s, "req-9") + "\n");
  EXPECT_EQ(HttpStatus(s), 400);
  ExpectGolden("error-default-code.xml", Ec2ErrorXml(PermissionDenied("no"), "req-10") + "\n");
}

TEST(Ec2QueryTest, ParsesErrorDocumentsBack) {
  Status s(Code::kNotFound, "the key pair 'nope' does not exist", "InvalidKeyPair.NotFound");
  Status back = ParseEc2Error(Ec2ErrorXml(s, "r"), 400);
  EXPECT_EQ(back.code(), Code::kNotFound);
  EXPECT_EQ(back.wire_code(), "InvalidKeyPair.NotFound");
  EXPECT_EQ(back.message(), s.message());
  EXPECT_EQ(ParseEc2Error(Ec2ErrorXml(Unauthenticated("x"), "r"), 401).code(), Code::kUnauthenticated);
  EXPECT_EQ(ParseEc2Error(Ec2ErrorXml(PermissionDenied("x"), "r"), 403).code(), Code::kPermissionDenied);
  EXPECT_EQ(ParseEc2Error(Ec2ErrorXml(ResourceExhausted("x"), "r"), 503).code(), Code::kResourceExhausted);
  Status dup(Code::kAlreadyExists, "dup", "InvalidKeyPair.Duplicate");
  EXPECT_EQ(ParseEc2Error(Ec2ErrorXml(dup, "r"), 400).code(), Code::kAlreadyExists);
  EXPECT_EQ(ParseEc2Error(Ec2ErrorXml(InvalidArgument("x"), "r"), 400).code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseEc2Error("<html>oops</html>", 502).code(), Code::kInternal);
  EXPECT_EQ(ParseEc2Error(
                "<ErrorResponse><Error><Code>RequestExpired</Code><Message>late</Message></Error></ErrorResponse>", 400)
                .code(),
            Code::kUnauthenticated);
}

}  // namespace
}  // namespace euca::api
