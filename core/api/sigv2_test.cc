// SigV2 against the examples of the S3 "Signing and Authenticating REST Requests" page
// (AKIAIOSFODNN7EXAMPLE) and round trips of the Query API flavour.

#include "core/api/sigv2.h"

#include <gtest/gtest.h>

#include "core/api/auth.h"
#include "core/api/digest.h"

namespace euca::api {
namespace {

constexpr const char* kKey = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr int64_t kMarch2007 = 1175024202000;  // 2007-03-27T19:36:42Z

Result<Verified> VerifyAt(const SignableRequest& r, int64_t now, Dialect d, std::string bucket = {},
                          std::string service_prefix = {}) {
  FakeClock clock(now);
  VerifyOptions o;
  o.dialect = d;
  o.clock = &clock;
  o.virtual_host_bucket = std::move(bucket);
  o.s3_service_prefix = std::move(service_prefix);
  return VerifyRequest(
      r,
      [](const std::string& id) -> Result<std::string> {
        return id == kKey ? Result<std::string>(kSecret) : NotFound(id);
      },
      o);
}

SignableRequest Req(std::string method, std::string path, std::string query, Headers headers) {
  SignableRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.query = SplitQuery(query);
  r.headers = std::move(headers);
  return r;
}

TEST(S3V2Test, DocumentedObjectGetPathAndVirtualHostStyle) {
  Headers h{{"Host", "johnsmith.s3.amazonaws.com"}, {"Date", "Tue, 27 Mar 2007 19:36:42 +0000"}};
  EXPECT_EQ(S3V2StringToSign("GET", h, "Tue, 27 Mar 2007 19:36:42 +0000", S3V2CanonicalAmzHeaders(h),
                             S3V2CanonicalResource("johnsmith", "/photos/puppy.jpg", {})),
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg");
  h.Add("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=");
  auto v = VerifyAt(Req("GET", "/photos/puppy.jpg", "", h), kMarch2007, Dialect::kS3, "johnsmith");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->access_key_id, kKey);
  EXPECT_EQ(v->scheme, AuthScheme::kSigV2Header);
  // Path style: the bucket is in the path already.
  h.Set("Host", "s3.amazonaws.com");
  EXPECT_TRUE(VerifyAt(Req("GET", "/johnsmith/photos/puppy.jpg", "", h), kMarch2007, Dialect::kS3).ok());
  // The newer page's bucket name.
  Headers n{{"Host", "awsexamplebucket1.s3.us-west-1.amazonaws.com"},
            {"Date", "Tue, 27 Mar 2007 19:36:42 +0000"},
            {"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g="}};
  EXPECT_TRUE(VerifyAt(Req("GET", "/photos/puppy.jpg", "", n), kMarch2007, Dialect::kS3, "awsexamplebucket1").ok());
}

TEST(S3V2Test, DocumentedObjectPutDeleteAndUpload) {
  Headers put{{"Host", "awsexamplebucket1.s3.us-west-1.amazonaws.com"},
              {"Content-Type", "image/jpeg"},
              {"Content-Length", "94328"},
              {"Date", "Tue, 27 Mar 2007 21:15:45 +0000"},
              {"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:iqRzw+ileNPu1fhspnRs8nOjjIA="}};
  auto v = VerifyAt(Req("PUT", "/photos/puppy.jpg", "", put), kMarch2007 + 6000000, Dialect::kS3, "awsexamplebucket1");
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->payload, PayloadCheck::kUnsigned);

  // x-amz-date replaces Date, whose line in the string to sign is then empty.
  Headers del{{"Host", "s3.us-west-1.amazonaws.com"},
              {"Date", "Tue, 27 Mar 2007 21:20:27 +0000"},
              {"x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"},
              {"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:R4dJ53KECjStyBO5iTBJZ4XVOaI="}};
  v = VerifyAt(Req("DELETE", "/johnsmith/photos/puppy.jpg", "", del), kMarch2007 + 6000000, Dialect::kS3);
  EXPECT_TRUE(v.ok()) << v.status().ToString();

  // Upload with Content-MD5, several x-amz-* headers, a repeated one and a bucket named by a CNAME.
  Headers up{{"Host", "static.johnsmith.net:8080"},
             {"Date", "Tue, 27 Mar 2007 21:06:08 +0000"},
             {"x-amz-acl", "public-read"},
             {"content-type", "application/x-download"},
             {"Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="},
             {"X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"},
             {"X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"},
             {"X-Amz-Meta-FileChecksum", "0x02661779"},
             {"X-Amz-Meta-ChecksumAlgorithm", "crc32"},
             {"Content-Disposition", "attachment; filename=database.dat"},
             {"Content-Encoding", "gzip"},
             {"Content-Length", "5913339"},
             {"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:ilyl83RwaSoYIEdixDQcA4OnAnc="}};
  EXPECT_EQ(S3V2CanonicalAmzHeaders(up),
            "x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n"
            "x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n");
  v = VerifyAt(Req("PUT", "/db-backup.dat.gz", "", up), kMarch2007 + 6000000, Dialect::kS3, "static.johnsmith.net");
  EXPECT_TRUE(v.ok()) << v.status().ToString();
}

TEST(S3V2Test, SubResourcesAreSignedOthersAreNot) {
  EXPECT_EQ(S3V2CanonicalResource("", "/b/k", SplitQuery("uploadId=X%2FY&partNumber=2&prefix=p&acl")),
            "/b/k?acl&partNumber=2&uploadId=X/Y");
  EXPECT_EQ(S3V2CanonicalResource("b", "/", SplitQuery("max-keys=3")), "/b/");
  EXPECT_EQ(S3V2CanonicalResource("", "", {}), "/");
}

TEST(S3V2Test, EquivalentResourcesAreTheBucketSlashAndTheServicePrefixOnly) {
  const QueryParams acl = SplitQuery("acl");
  using V = std::vector<std::string>;
  EXPECT_EQ(S3V2CanonicalResources("", "/grt", acl, ""), (V{"/grt?acl", "/grt/?acl"}));
  EXPECT_EQ(S3V2CanonicalResources("", "/grt/", {}, ""), (V{"/grt/", "/grt"}));
  EXPECT_EQ(S3V2CanonicalResources("", "/grt/o", {}, ""), (V{"/grt/o"}));
  EXPECT_EQ(S3V2CanonicalResources("", "/grt/o/", {}, ""), (V{"/grt/o/"}));
  EXPECT_EQ(S3V2CanonicalResources("", "/", {}, ""), (V{"/"}));
  EXPECT_EQ(S3V2CanonicalResources("grt", "/", {}, ""), (V{"/grt/", "/grt"}));
  EXPECT_EQ(S3V2CanonicalResources("", "/services/objectstorage/grt/o", {}, "/services/objectstorage"),
            (V{"/services/objectstorage/grt/o", "/grt/o"}));
  EXPECT_EQ(S3V2CanonicalResources("", "/services/objectstorage/grt", acl, "/services/objectstorage"),
            (V{"/services/objectstorage/grt?acl", "/grt?acl", "/grt/?acl"}));
  EXPECT_EQ(S3V2CanonicalResources("", "/services/objectstorage", {}, "/services/objectstorage"),
            (V{"/services/objectstorage", "/"}));
  // A prefix the path does not start with (as a whole segment) is not removed.
  EXPECT_EQ(S3V2CanonicalResources("", "/services/objectstoragex/o", {}, "/services/objectstorage"),
            (V{"/services/objectstoragex/o"}));
}

// botocore (signature_version='s3') signs a bucket-level request as "/grt/?acl" while it sends
// "GET /grt?acl", and signs "/grt/o" below an endpoint of ".../services/objectstorage": both
// got SignatureDoesNotMatch, header and presigned alike.
TEST(S3V2Test, BotocoreBucketSlashAndServicePrefixSignaturesVerify) {
  Headers h{{"Host", "127.0.0.1:8773"}, {"Date", "Tue, 27 Mar 2007 19:36:42 +0000"}};
  auto signed_as = [&](std::string method, std::string path, std::string query, std::string resource) {
    SignableRequest r = Req(std::move(method), std::move(path), std::move(query), h);
    std::string sts =
        S3V2StringToSign(r.method, r.headers, h.Get("date"), S3V2CanonicalAmzHeaders(r.headers), resource);
    r.headers.Add("Authorization", std::string("AWS ") + kKey + ":" + Base64Encode(HmacSha1(kSecret, sts)));
    return r;
  };
  const std::string prefix = "/services/objectstorage";
  EXPECT_TRUE(VerifyAt(signed_as("GET", "/grt", "acl", "/grt/?acl"), kMarch2007, Dialect::kS3).ok());
  EXPECT_TRUE(VerifyAt(signed_as("PUT", "/grt", "", "/grt/"), kMarch2007, Dialect::kS3).ok());
  EXPECT_TRUE(VerifyAt(signed_as("POST", "/grt/", "delete", "/grt?delete"), kMarch2007, Dialect::kS3).ok());
  EXPECT_TRUE(VerifyAt(signed_as("GET", prefix + "/grt/o", "", "/grt/o"), kMarch2007, Dialect::kS3, "", prefix).ok());
  EXPECT_TRUE(
      VerifyAt(signed_as("GET", prefix + "/grt", "acl", "/grt/?acl"), kMarch2007, Dialect::kS3, "", prefix).ok());
  EXPECT_TRUE(
      VerifyAt(signed_as("GET", prefix + "/grt/o", "", prefix + "/grt/o"), kMarch2007, Dialect::kS3, "", prefix).ok());

  // Nothing beyond those: another object, an object's path with a slash, a prefix the server
  // did not strip, the prefix kept on a signature of a different path.
  auto mismatch = [&](const SignableRequest& r, std::string service_prefix = {}) {
    return VerifyAt(r, kMarch2007, Dialect::kS3, "", std::move(service_prefix)).status().wire_code();
  };
  EXPECT_EQ(mismatch(signed_as("GET", "/grt", "", "/grx/")), "SignatureDoesNotMatch");
  EXPECT_EQ(mismatch(signed_as("GET", "/grt/o", "", "/grt/o/")), "SignatureDoesNotMatch");
  EXPECT_EQ(mismatch(signed_as("GET", "/grt/o/", "", "/grt/o")), "SignatureDoesNotMatch");
  EXPECT_EQ(mismatch(signed_as("GET", prefix + "/grt/o", "", "/grt/o")), "SignatureDoesNotMatch");
  EXPECT_EQ(mismatch(signed_as("GET", prefix + "/grt/o", "", "/o"), prefix), "SignatureDoesNotMatch");
  EXPECT_EQ(mismatch(signed_as("GET", "/grt", "acl", "/grt/"), prefix), "SignatureDoesNotMatch");

  // Presigned: the same equivalents.
  auto presigned_as = [&](std::string path, std::string resource) {
    SignableRequest r = Req("GET", std::move(path), "", {{"Host", "127.0.0.1:8773"}});
    std::string expires = std::to_string(kMarch2007 / 1000 + 600);
    std::string sts = S3V2StringToSign("GET", r.headers, expires, "", resource);
    r.query = SplitQuery("AWSAccessKeyId=" + std::string(kKey) + "&Expires=" + expires +
                         "&Signature=" + UriEncode(Base64Encode(HmacSha1(kSecret, sts)), false));
    return r;
  };
  EXPECT_TRUE(VerifyAt(presigned_as("/grt", "/grt/"), kMarch2007, Dialect::kS3).ok());
  EXPECT_TRUE(VerifyAt(presigned_as(prefix + "/grt/o", "/grt/o"), kMarch2007, Dialect::kS3, "", prefix).ok());
  EXPECT_EQ(mismatch(presigned_as("/grt/o", "/grt/o/")), "SignatureDoesNotMatch");
}

TEST(S3V2Test, PresignedUrlsRoundTripAndExpire) {
  SignableRequest r = Req("GET", "/photos/puppy.jpg", "", {{"Host", "awsexamplebucket1.s3.us-west-1.amazonaws.com"}});
  ASSERT_TRUE(PresignS3V2(r, {kKey, kSecret}, kMarch2007, 600, "awsexamplebucket1").ok());
  EXPECT_EQ(JoinQuery(r.query),
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175024802&Signature=" +
                UriEncode(Base64Encode(HmacSha1(kSecret, "GET\n\n\n1175024802\n/awsexamplebucket1/photos/puppy.jpg")),
                          false));
  auto v = VerifyAt(r, kMarch2007 + 599000, Dialect::kS3, "awsexamplebucket1");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->scheme, AuthScheme::kSigV2Query);
  auto late = VerifyAt(r, kMarch2007 + 601000, Dialect::kS3, "awsexamplebucket1");
  EXPECT_EQ(late.status().wire_code(), "AccessDenied");
  // Another key's signature.
  r.query.back().second = "AAAAAAAAAAAAAAAAAAAAAAAAAAA%3D";
  EXPECT_EQ(VerifyAt(r, kMarch2007, Dialect::kS3, "awsexamplebucket1").status().wire_code(), "SignatureDoesNotMatch");
}

TEST(S3V2Test, HeaderSignerRoundTripsAndIsCheckedForSkew) {
  SignableRequest r = Req("PUT", "/bucket/key%20x", "acl", {{"Host", "localhost:8773"}, {"x-amz-acl", "private"}});
  ASSERT_TRUE(SignS3V2(r, {kKey, kSecret}, kMarch2007).ok());
  EXPECT_TRUE(VerifyAt(r, kMarch2007 + 1000, Dialect::kS3).ok());
  auto skewed = VerifyAt(r, kMarch2007 + 16 * 60 * 1000, Dialect::kS3);
  EXPECT_EQ(skewed.status().wire_code(), "RequestTimeTooSkewed");
  EXPECT_EQ(skewed.status().code(), Code::kUnauthenticated);
  r.headers.Set("x-amz-acl", "public-read");
  EXPECT_EQ(VerifyAt(r, kMarch2007, Dialect::kS3).status().wire_code(), "SignatureDoesNotMatch");
}

TEST(QueryV2Test, StringToSignSortsAndEncodes) {
  QueryParams p = SplitQuery(
      "Action=DescribeImages&Version=2016-11-15&AWSAccessKeyId=AK&SignatureVersion=2&SignatureMethod=HmacSHA256&"
      "Timestamp=2013-05-24T00%3A00%3A00Z&ImageId.1=emi-1&Signature=zzz&Filter.1.Value.1=a+b");
  EXPECT_EQ(QueryV2StringToSign("GET", "EC2.Example.com:8773", "/services/compute", p),
            "GET\nec2.example.com:8773\n/services/compute\n"
            "AWSAccessKeyId=AK&Action=DescribeImages&Filter.1.Value.1=a%20b&ImageId.1=emi-1&"
            "SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2013-05-24T00%3A00%3A00Z&Version=2016-11-15");
}

TEST(QueryV2Test, GetAndPostRoundTrip) {
  constexpr int64_t kNow = 1369353600000;
  SignableRequest get = Req("GET", "/", "Action=DescribeRegions&Version=2016-11-15", {{"Host", "localhost:8773"}});
  ASSERT_TRUE(SignQueryV2(get, {kKey, kSecret}, kNow).ok());
  auto v = VerifyAt(get, kNow + 1000, Dialect::kQuery);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->scheme, AuthScheme::kSigV2Params);
  EXPECT_EQ(v->access_key_id, kKey);

  SignableRequest post = Req("POST", "/services/compute", "",
                             {{"Host", "localhost:8773"}, {"Content-Type", "application/x-www-form-urlencoded"}});
  post.body = "Action=RunInstances&ImageId=emi-12345678&MinCount=1&MaxCount=1&UserData=a%2Bb%3D";
  ASSERT_TRUE(SignQueryV2(post, {kKey, kSecret}, kNow).ok());
  EXPECT_TRUE(VerifyAt(post, kNow, Dialect::kQuery).ok());
  post.body += "&InstanceType=m1.large";
  auto bad = VerifyAt(post, kNow, Dialect::kQuery);
  EXPECT_EQ(bad.status().wire_code(), "AuthFailure");
  EXPECT_EQ(bad.status().code(), Code::kUnauthenticated);

  auto skewed = VerifyAt(get, kNow + 20 * 60 * 1000, Dialect::kQuery);
  EXPECT_EQ(skewed.status().wire_code(), "RequestExpired");

  // HmacSHA1 is accepted too.
  SignableRequest sha1 = Req("GET", "/", "", {{"Host", "h"}});
  QueryParams p = SplitQuery(
      "Action=DescribeRegions&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&SignatureVersion=2&SignatureMethod=HmacSHA1&"
      "Timestamp=2013-05-24T00%3A00%3A00Z");
  std::string sig = Base64Encode(HmacSha1(kSecret, QueryV2StringToSign("GET", "h", "/", p)));
  p.emplace_back("Signature", UriEncode(sig, false));
  sha1.query = p;
  EXPECT_TRUE(VerifyAt(sha1, kNow, Dialect::kQuery).ok());
  // Version 1 is refused by name.
  sha1.query[2].second = "1";
  EXPECT_EQ(VerifyAt(sha1, kNow, Dialect::kQuery).status().wire_code(), "IncompleteSignature");
}

}  // namespace
}  // namespace euca::api
