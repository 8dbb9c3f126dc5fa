// The S3 REST front through the real HTTP server on loopback: requests signed with our own
// signers (api::SignSigV4, PresignSigV4, AwsChunkedEncoder), answers checked as XML and headers.

#include "core/walrus/s3_rest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include <map>
#include <memory>

#include <pugixml.hpp>

#include "core/api/aws_chunked.h"
#include "core/api/digest.h"
#include "core/api/encoding.h"
#include "core/api/sigv4.h"
#include "core/base/clock.h"
#include "core/http/client.h"
#include "core/http/server.h"
#include "core/walrus/checksum.h"
#include "core/walrus/rules.h"
#include "core/walrus/s3_test_support.h"
#include "drivers/objects/memory_backend.h"

namespace euca::walrus {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const model::Principal kAlice{"acme", "111111111111", "alice", "AIDAALICE0000000000001"};
const model::Principal kCarol{"other", "222222222222", "carol", "AIDACAROL000000000001"};
const api::Credentials kAliceKey{"AKIAALICE", "alice-secret"};
const api::Credentials kCarolKey{"AKIACAROL", "carol-secret"};
const api::Credentials kDisabledKey{"AKIADISABLED", "disabled-secret"};

class S3RestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WalrusOptions wopts;
    wopts.region = "euca";
    wopts.min_part_size = 16;
    walrus_ = std::make_unique<Walrus>(backend_, RealClock(), wopts);
    KeyLookup lookup = [](const std::string& akid) -> Result<KeyOwner> {
      if (akid == kAliceKey.access_key_id) return KeyOwner{kAlice, kAliceKey.secret_key};
      if (akid == kCarolKey.access_key_id) return KeyOwner{kCarol, kCarolKey.secret_key};
      if (akid == kDisabledKey.access_key_id) return Unauthenticated("user is disabled");
      return NotFound("no such key");
    };
    auto server = http::Server::Start({}, MakeS3Handler(*walrus_, lookup, {.domains = {"s3.example.com"}}));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    host_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  /// Sends `method target` signed by `key` (nullptr: anonymous) with `body`.
  http::ClientResponse Send(const std::string& method, const std::string& target, const std::string& body = "",
                            Headers headers = {}, const api::Credentials* key = &kAliceKey) {
    return test_support::SendSigned(client_, host_, method, target, body, std::move(headers), key,
                                    RealClock().NowMillis());
  }

  /// PUT `path` as the AWS CLI streams it: aws-chunked, 64 KiB chunks signed one by one
  /// (SigV4 streaming, Alice's key). `tamper(body, end)` may change the body first; `end` is
  /// where the final (empty) chunk starts.
  http::ClientResponse SendAwsChunked(const std::string& path, std::string_view data,
                                      const std::function<void(std::string&, size_t)>& tamper = nullptr) {
    const int64_t now = RealClock().NowMillis();
    api::SignableRequest req{.method = "PUT",
                             .path = path,
                             .headers = {{"Host", host_},
                                         {"Content-Encoding", "aws-chunked"},
                                         {"x-amz-decoded-content-length", std::to_string(data.size())}}};
    api::SigV4SignOptions opts{.region = "euca", .now_ms = now, .payload_hash = std::string(api::kStreamingPayload)};
    auto seed = api::SignSigV4(req, kAliceKey, opts);
    EXPECT_TRUE(seed.ok());
    api::SigV4Scope scope{api::FormatAmzDate(now).substr(0, 8), "euca", "s3"};
    api::AwsChunkedEncoder enc(api::SigV4SigningKey(kAliceKey.secret_key, scope), req.headers.Get("X-Amz-Date"),
                               scope, *seed);
    std::string body;
    for (size_t off = 0; off < data.size(); off += 65536) body += enc.Chunk(data.substr(off, 65536));
    const size_t end = body.size();
    body += enc.Final();
    if (tamper) tamper(body, end);
    http::ClientRequest creq{.method = "PUT", .url = "http://" + host_ + path, .headers = req.headers, .body = body};
    auto r = client_.Do(creq);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : http::ClientResponse{};
  }

  objects::MemoryBackend backend_;
  std::unique_ptr<Walrus> walrus_;
  std::unique_ptr<http::Server> server_;
  std::string host_;
  http::Client client_;
};


// Which requests may run on the server's I/O thread: object GETs, HEADs and plain PUTs, in
// either addressing style; nothing bucket-level, internal, copied, multipart or subresource.
TEST(S3TargetTest, QuickRequestsAreObjectReadsAndPlainPuts) {
  std::vector<std::string> domains = {"s3.example.com"};
  auto quick = [&](std::string method, std::string target, std::string host = "127.0.0.1:8780",
                   Headers extra = {}) {
    http::RequestHead h;
    h.method = std::move(method);
    h.target = target;
    size_t q = target.find('?');
    h.path = target.substr(0, q);
    h.query = q == std::string::npos ? "" : target.substr(q + 1);
    h.headers = std::move(extra);
    h.headers.Add("Host", host);
    return IsQuickS3Request(h, domains);
  };
  EXPECT_TRUE(quick("GET", "/b/k"));
  EXPECT_TRUE(quick("HEAD", "/b/dir/k"));
  EXPECT_TRUE(quick("PUT", "/b/k"));
  EXPECT_TRUE(quick("GET", "/services/objectstorage/b/k"));
  EXPECT_TRUE(quick("GET", "/k", "b.s3.example.com"));
  EXPECT_TRUE(quick("GET", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00&response-content-type=a%2Fb"));
  EXPECT_TRUE(quick("GET", "/b/k?AWSAccessKeyId=A&Signature=s&Expires=1"));

  EXPECT_FALSE(quick("GET", "/b"));                       // a listing
  EXPECT_FALSE(quick("PUT", "/b"));                       // bucket creation
  EXPECT_FALSE(quick("PUT", "/", "b.s3.example.com"));    // the same, virtual-host style
  EXPECT_FALSE(quick("GET", "/"));                        // ListBuckets
  EXPECT_FALSE(quick("DELETE", "/b/k"));
  EXPECT_FALSE(quick("POST", "/b/k?uploads"));
  EXPECT_FALSE(quick("PUT", "/b/k?partNumber=1&uploadId=u"));
  EXPECT_FALSE(quick("GET", "/b/k?uploadId=u"));
  EXPECT_FALSE(quick("PUT", "/b/k?acl"));
  EXPECT_FALSE(quick("GET", "/b/k?acl"));
  EXPECT_FALSE(quick("PUT", "/b/k?X-Amz-Signature=00"));  // a presigned PUT: left to the workers
  EXPECT_FALSE(quick("PUT", "/b/k", "127.0.0.1:8780", {{"x-amz-copy-source", "/a/b"}}));
  EXPECT_FALSE(quick("GET", "/_euca/image?manifest=b/k"));
}

TEST(S3TargetTest, PathStyleVirtualHostAndServicePrefixes) {
  std::vector<std::string> domains = {"s3.example.com"};
  auto t = ResolveS3Target("/b/dir/a%20b", "127.0.0.1:8773", domains);
  EXPECT_EQ(t.bucket, "b");
  EXPECT_EQ(t.key, "dir/a b");
  EXPECT_FALSE(t.virtual_host);
  EXPECT_EQ(t.service_prefix, "");
  t = ResolveS3Target("/services/objectstorage/b/k", "h", domains);
  EXPECT_EQ(t.bucket, "b");
  EXPECT_EQ(t.key, "k");
  EXPECT_EQ(t.service_prefix, "/services/objectstorage");
  t = ResolveS3Target("/services/Walrus", "h", domains);
  EXPECT_EQ(t.bucket, "");
  EXPECT_EQ(t.service_prefix, "/services/Walrus");
  t = ResolveS3Target("/services/Walrusx/k", "h", domains);
  EXPECT_EQ(t.bucket, "services");
  EXPECT_EQ(t.service_prefix, "");
  t = ResolveS3Target("/x/y", "My.Bucket.S3.example.com:80", domains);
  EXPECT_TRUE(t.virtual_host);
  EXPECT_EQ(t.bucket, "my.bucket");
  EXPECT_EQ(t.key, "x/y");
  t = ResolveS3Target("/", "s3.example.com", domains);
  EXPECT_EQ(t.bucket, "");
  EXPECT_FALSE(t.virtual_host);
}

TEST_F(S3RestTest, BucketAndObjectRoundTrip) {
  auto r = Send("PUT", "/photos");
  EXPECT_EQ(r.status, 200) << r.body;
  r = Send("PUT", "/photos/dir/a%20b.txt", "hello world",
           {{"Content-Type", "text/plain"}, {"x-amz-meta-Color", "blue"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("ETag"), "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");

  r = Send("GET", "/photos/dir/a%20b.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.headers.Get("Content-Type"), "text/plain");
  EXPECT_EQ(r.headers.Get("x-amz-meta-color"), "blue");

  r = Send("GET", "/photos/dir/a%20b.txt?response-content-type=image%2Fpng", "", {{"Range", "bytes=6-"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "world");
  EXPECT_EQ(r.headers.Get("Content-Range"), "bytes 6-10/11");
  EXPECT_EQ(r.headers.Get("Content-Type"), "image/png");

  r = Send("GET", "/photos/dir/a%20b.txt", "", {{"If-None-Match", "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""}});
  EXPECT_EQ(r.status, 304);

  r = Send("HEAD", "/photos/dir/a%20b.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.Get("Content-Length"), "11");

  r = Send("GET", "/photos?list-type=2&prefix=dir%2F&encoding-type=url");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("<Key>dir/a%20b.txt</Key>"));
  EXPECT_THAT(r.body, HasSubstr("<KeyCount>1</KeyCount>"));
  EXPECT_THAT(r.body, HasSubstr("xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""));

  r = Send("GET", "/photos?versions");
  EXPECT_THAT(r.body, HasSubstr("<VersionId>null</VersionId>"));

  r = Send("GET", "/photos?location");
  EXPECT_THAT(r.body, HasSubstr("<LocationConstraint"));

  r = Send("GET", "/");
  EXPECT_THAT(r.body, HasSubstr("<Name>photos</Name>"));

  // The Eucalyptus prefix reaches the same object.
  r = Send("GET", "/services/objectstorage/photos/dir/a%20b.txt");
  EXPECT_EQ(r.body, "hello world");

  r = Send("PUT", "/photos/copy", "", {{"x-amz-copy-source", "/photos/dir/a%20b.txt"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<CopyObjectResult"));
  EXPECT_EQ(Send("GET", "/photos/copy").headers.Get("x-amz-meta-color"), "blue");

  const std::string list = "<Delete><Object><Key>copy</Key></Object></Delete>";
  r = Send("POST", "/photos?delete", list, {{"Content-MD5", api::Base64Encode(api::Md5(list))}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<Deleted><Key>copy</Key></Deleted>"));

  EXPECT_EQ(Send("DELETE", "/photos").status, 409);
  EXPECT_EQ(Send("DELETE", "/photos/dir/a%20b.txt").status, 204);
  EXPECT_EQ(Send("DELETE", "/photos").status, 204);
  EXPECT_EQ(Send("HEAD", "/photos").status, 404);
}

TEST_F(S3RestTest, VirtualHostStyle) {
  ASSERT_EQ(Send("PUT", "/vbucket").status, 200);
  auto r = Send("PUT", "/k", "v", {{"Host", "vbucket.s3.example.com"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Send("GET", "/vbucket/k").body, "v");
}

TEST_F(S3RestTest, ErrorsAreS3Xml) {
  auto r = Send("GET", "/nosuch/key");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("<Error><Code>NoSuchBucket</Code>"));
  EXPECT_THAT(r.body, HasSubstr("<Resource>/nosuch/key</Resource>"));
  EXPECT_THAT(r.body, HasSubstr("<RequestId>"));

  api::Credentials wrong{kAliceKey.access_key_id, "wrong"};
  r = Send("GET", "/", "", {}, &wrong);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("<Code>SignatureDoesNotMatch</Code>"));

  api::Credentials unknown{"AKIANOBODY", "x"};
  r = Send("GET", "/", "", {}, &unknown);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidAccessKeyId</Code>"));

  r = Send("GET", "/", "", {}, &kDisabledKey);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidAccessKeyId</Code>"));

  r = Send("GET", "/", "", {}, nullptr);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("<Code>AccessDenied</Code>"));

  r = Send("PATCH", "/b/k");
  EXPECT_EQ(r.status, 405);
  EXPECT_THAT(r.body, HasSubstr("<Code>MethodNotAllowed</Code>"));
  EXPECT_EQ(Send("POST", "/").status, 405);

  ASSERT_EQ(Send("PUT", "/errs").status, 200);
  r = Send("POST", "/errs?delete", "<Delete><Object>", {{"Content-MD5", api::Base64Encode(api::Md5("<Delete><Object>"))}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>MalformedXML</Code>"));

  r = Send("PUT", "/errs/k", "data", {{"Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA=="}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>BadDigest</Code>"));
  EXPECT_EQ(Send("GET", "/errs/k").status, 404);

  r = Send("PUT", "/Bad_Name");
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidBucketName</Code>"));

  ASSERT_EQ(Send("PUT", "/errs/k", "data").status, 200);
  r = Send("GET", "/errs/k", "", {{"Range", "bytes=100-200"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRange</Code>"));
}

TEST_F(S3RestTest, ObjectReadsFollowS3sRules) {
  ASSERT_EQ(Send("PUT", "/rules").status, 200);
  ASSERT_EQ(Send("PUT", "/rules/k", "0123456789", {{"x-amz-acl", "public-read"}}).status, 200);

  // Response header overrides need a signed request.
  auto r = Send("GET", "/rules/k?response-content-type=text/html", "", {}, nullptr);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));
  EXPECT_EQ(Send("GET", "/rules/k", "", {}, nullptr).status, 200);
  r = Send("GET", "/rules/k?response-content-type=text/html");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.Get("Content-Type"), "text/html");

  // "null" is the only version id.
  r = Send("GET", "/rules/k?versionId=3HL4kqtJlcpXroDTDmJ");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidArgument</Code>"));
  EXPECT_EQ(Send("DELETE", "/rules/k?versionId=3HL4kqtJlcpXroDTDmJ").status, 400);
  EXPECT_EQ(Send("GET", "/rules/k?versionId=null").status, 200);
  r = Send("PUT", "/rules/copy", "", {{"x-amz-copy-source", "/rules/k?versionId=abc"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidArgument</Code>"));
  EXPECT_EQ(Send("PUT", "/rules/copy", "", {{"x-amz-copy-source", "/rules/k?versionId=null"}}).status, 200);

  // An unsatisfiable range tells the object's size.
  r = Send("GET", "/rules/k", "", {{"Range", "bytes=20-30"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.headers.Get("Content-Range"), "bytes */10");
  EXPECT_EQ(Send("HEAD", "/rules/k", "", {{"Range", "bytes=10-"}}).headers.Get("Content-Range"), "bytes */10");

  // A metadata header sent twice keeps both values.
  Headers twice;
  twice.Add("x-amz-meta-dup", "one");
  twice.Add("x-amz-meta-dup", "two");
  ASSERT_EQ(Send("PUT", "/rules/meta", "m", twice).status, 200);
  EXPECT_EQ(Send("HEAD", "/rules/meta").headers.Get("x-amz-meta-dup"), "one,two");
}

TEST_F(S3RestTest, CarriageReturnsInKeysSurviveTheListingXml) {
  ASSERT_EQ(Send("PUT", "/crlf").status, 200);
  ASSERT_EQ(Send("PUT", "/crlf/a%0Db", "x").status, 200);
  auto r = Send("GET", "/crlf?list-type=2");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("<Key>a&#13;b</Key>"));
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(r.body.c_str()));
  EXPECT_EQ(std::string(doc.child("ListBucketResult").child("Contents").child("Key").text().get()), "a\rb");
}

TEST_F(S3RestTest, ListBucketsByPrefixInPages) {
  for (const char* b : {"/lb-a", "/lb-b", "/lb-c", "/other"}) ASSERT_EQ(Send("PUT", b).status, 200);
  auto r = Send("GET", "/?prefix=lb-&max-buckets=2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<Name>lb-a</Name>"));
  EXPECT_THAT(r.body, HasSubstr("<Name>lb-b</Name>"));
  EXPECT_THAT(r.body, Not(HasSubstr("lb-c")));
  EXPECT_THAT(r.body, HasSubstr("<Prefix>lb-</Prefix>"));
  auto start = r.body.find("<ContinuationToken>") + 19;
  ASSERT_NE(start, std::string::npos + 19);
  std::string token = r.body.substr(start, r.body.find("</ContinuationToken>") - start);
  r = Send("GET", "/?prefix=lb-&max-buckets=2&continuation-token=" + api::UriEncode(token, true));
  EXPECT_THAT(r.body, HasSubstr("<Name>lb-c</Name>"));
  EXPECT_THAT(r.body, Not(HasSubstr("lb-b")));
  EXPECT_THAT(r.body, Not(HasSubstr("ContinuationToken")));
  EXPECT_THAT(Send("GET", "/").body, HasSubstr("<Name>other</Name>"));
  EXPECT_EQ(Send("GET", "/?max-buckets=0").status, 400);
  EXPECT_EQ(Send("GET", "/?continuation-token=%25%25").status, 400);
}

// A subresource that is not served is NotImplemented for every method, and the plain
// operation does not run: DELETE ?tagging once deleted the object, PUT ?retention would have
// overwritten it with the XML, GET ?legal-hold answered with the object's bytes.
TEST_F(S3RestTest, UnservedSubresourcesChangeNothing) {
  ASSERT_EQ(Send("PUT", "/subres").status, 200);
  ASSERT_EQ(Send("PUT", "/subres/k", "content").status, 200);
  const std::string etag = Send("HEAD", "/subres/k").headers.Get("ETag");
  struct Case {
    const char* method;
    const char* target;
    const char* body;
  };
  for (const Case& c : {Case{"PUT", "/subres/k?tagging", "<Tagging/>"}, Case{"GET", "/subres/k?retention", ""},
                        Case{"PUT", "/subres/k?retention", "<Retention/>"},
                        Case{"PUT", "/subres/k?legal-hold", "<LegalHold/>"}, Case{"GET", "/subres/k?legal-hold", ""},
                        Case{"GET", "/subres/k?torrent", ""}, Case{"POST", "/subres/k?restore", "<RestoreRequest/>"},
                        Case{"DELETE", "/subres/k?versionId=null&retention", ""}, Case{"PUT", "/subres?cors", "<x/>"},
                        Case{"PUT", "/subres?versioning", "<VersioningConfiguration/>"},
                        Case{"PUT", "/subres?intelligent-tiering&id=x", "<x/>"}, Case{"DELETE", "/subres?encryption", ""},
                        Case{"DELETE", "/subres?policyStatus", ""}, Case{"DELETE", "/subres?ownershipControls", ""},
                        Case{"HEAD", "/subres/k?acl", ""}, Case{"GET", "/?session", ""}}) {
    auto r = Send(c.method, c.target, c.body);
    EXPECT_EQ(r.status, 501) << c.method << " " << c.target << ": " << r.body;
    if (std::string(c.method) != "HEAD") {
      EXPECT_THAT(r.body, HasSubstr("<Code>NotImplemented</Code>")) << c.target;
    }
  }
  auto r = Send("POST", "/subres", "--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b--\r\n",
                {{"Content-Type", "multipart/form-data; boundary=b"}}, nullptr);
  EXPECT_EQ(r.status, 501) << r.body;
  r = Send("GET", "/subres/k");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "content");
  EXPECT_EQ(r.headers.Get("ETag"), etag);
  EXPECT_EQ(Send("HEAD", "/subres").status, 200);
  // Parameters that are not subresources are the operation's: newer SDKs add x-id.
  EXPECT_EQ(Send("GET", "/subres/k?x-id=GetObject").body, "content");
  EXPECT_EQ(Send("DELETE", "/subres/k?x-id=DeleteObject").status, 204);
  EXPECT_EQ(Send("GET", "/subres/k").status, 404);
}

// Configurations Walrus keeps none of are read as S3 reads a bucket without them, and deleted
// at once, by the bucket's owner only; a DELETE ?tagging (which once deleted the object)
// leaves the object as it was.
TEST_F(S3RestTest, UnsetConfigurationsAreAnsweredAsNoneAndOwnerOnly) {
  ASSERT_EQ(Send("PUT", "/unset", "", {{"x-amz-acl", "public-read-write"}}).status, 200);
  ASSERT_EQ(Send("PUT", "/unset/k", "content", {{"x-amz-acl", "public-read"}}).status, 200);
  const std::string etag = Send("HEAD", "/unset/k").headers.Get("ETag");
  auto r = Send("GET", "/unset?tagging");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("<Code>NoSuchTagSet</Code>"));
  r = Send("GET", "/unset?cors");
  EXPECT_THAT(r.body, HasSubstr("<Code>NoSuchCORSConfiguration</Code>"));
  r = Send("GET", "/unset?requestPayment");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("<Payer>BucketOwner</Payer>"));
  for (const char* target : {"/unset?tagging", "/unset?cors", "/unset?policy", "/unset?website", "/unset?lifecycle",
                             "/unset?replication", "/unset?publicAccessBlock", "/unset/k?tagging",
                             "/unset/k?tagging&versionId=null"}) {
    EXPECT_EQ(Send("DELETE", target).status, 204) << target;
  }
  r = Send("GET", "/unset/k");
  EXPECT_EQ(r.body, "content");
  EXPECT_EQ(r.headers.Get("ETag"), etag);
  r = Send("GET", "/unset/k?tagging");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet/></Tagging>"));

  // Another account, even with WRITE on the bucket, and anonymous callers: not the owner.
  for (const api::Credentials* key : {&kCarolKey, static_cast<const api::Credentials*>(nullptr)}) {
    for (const char* method : {"GET", "DELETE"}) {
      r = Send(method, "/unset?cors", "", {}, key);
      EXPECT_EQ(r.status, 403) << method << (key ? " carol" : " anonymous");
    }
    EXPECT_EQ(Send("GET", "/unset?ownershipControls", "", {}, key).status, 403);
    // The object is public-read: its (empty) tag set is readable, deleting it is not.
    EXPECT_EQ(Send("GET", "/unset/k?tagging", "", {}, key).status, 200);
    EXPECT_EQ(Send("DELETE", "/unset/k?tagging", "", {}, key).status, 403);
  }
  // Configurations kept by id: none listed, none found.
  r = Send("GET", "/unset?analytics");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("<IsTruncated>false</IsTruncated>"));
  r = Send("GET", "/unset?metrics&id=EntireBucket");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("<Code>NoSuchConfiguration</Code>"));
  EXPECT_EQ(Send("DELETE", "/unset?inventory&id=x").status, 501);
  EXPECT_EQ(Send("GET", "/unset?inventory", "", {}, &kCarolKey).status, 403);
  // Objects here have only version "null".
  r = Send("GET", "/unset/k?tagging&versionId=3HL4kqtJlcpXroDTDmjVBH40Nrjfkd");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidArgument</Code>"));
  EXPECT_EQ(Send("DELETE", "/unset/k?tagging&versionId=3HL4kqtJlcpXroDTDmjVBH40Nrjfkd").status, 400);
  EXPECT_EQ(Send("GET", "/nosuch?tagging").status, 404);
  EXPECT_THAT(Send("GET", "/nosuch?tagging").body, HasSubstr("<Code>NoSuchBucket</Code>"));
  EXPECT_THAT(Send("DELETE", "/unset/nosuch?tagging").body, HasSubstr("<Code>NoSuchKey</Code>"));
  EXPECT_EQ(Send("GET", "/unset/k").body, "content");

  // A CORS preflight: there is no CORS configuration to allow it.
  const Headers preflight = {{"Origin", "http://example.com"}, {"Access-Control-Request-Method", "PUT"}};
  for (const char* target : {"/", "/unset", "/unset/k"}) {
    r = Send("OPTIONS", target, "", preflight, nullptr);
    EXPECT_EQ(r.status, 403) << target;
    EXPECT_THAT(r.body, HasSubstr("<Code>AccessForbidden</Code>")) << target;
    EXPECT_TRUE(r.headers.Get("Access-Control-Allow-Origin").empty());
  }
  r = Send("OPTIONS", "/unset/k", "", {{"Origin", "http://example.com"}}, nullptr);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>BadRequest</Code>"));
  EXPECT_EQ(Send("GET", "/unset/k").body, "content");
}

// Headers asking for what Walrus does not do are refused and store nothing: ignored, they
// left plaintext behind an SSE-C PUT, an overwrite behind an append, an unlocked "locked" object.
TEST_F(S3RestTest, UnservedHeadersAreRefusedAndStoreNothing) {
  ASSERT_EQ(Send("PUT", "/hdrs").status, 200);
  ASSERT_EQ(Send("PUT", "/hdrs/k", "content").status, 200);
  struct Case {
    const char* method;
    const char* target;
    Headers headers;
    int status;
  };
  const std::string ssec = "x-amz-server-side-encryption-customer-algorithm";
  for (const Case& c : {
           Case{"PUT", "/hdrs/new", {{ssec, "AES256"}}, 501},
           Case{"GET", "/hdrs/k", {{ssec, "AES256"}}, 501},
           Case{"PUT", "/hdrs/new", {{"x-amz-server-side-encryption", "AES256"}}, 501},
           Case{"PUT", "/hdrs/new", {{"x-amz-server-side-encryption", "aws:kms"}}, 501},
           Case{"PUT", "/hdrs/new", {{"x-amz-object-lock-mode", "COMPLIANCE"}}, 400},
           Case{"PUT", "/hdrs/new", {{"x-amz-object-lock-legal-hold", "ON"}}, 400},
           Case{"POST", "/hdrs/new?uploads", {{"x-amz-object-lock-mode", "GOVERNANCE"}}, 400},
           Case{"PUT", "/hdrs/k", {{"x-amz-write-offset-bytes", "7"}}, 501},
           Case{"PUT", "/hdrs/new", {{"x-amz-tagging", "a=b"}}, 501},
           Case{"PUT", "/hdrs/new", {{"x-amz-website-redirect-location", "/x"}}, 501},
           Case{"PUT", "/hdrs/new", {{"x-amz-storage-class", "GLACIER"}}, 501},
           Case{"PUT", "/hdrs/new", {{"x-amz-copy-source", "/hdrs/k"}, {"x-amz-server-side-encryption", "AES256"}}, 501},
           Case{"PUT", "/hdrs-lock", {{"x-amz-bucket-object-lock-enabled", "true"}}, 501},
           Case{"PUT", "/hdrs-own", {{"x-amz-object-ownership", "BucketOwnerEnforced"}}, 501},
           Case{"DELETE", "/hdrs/k", {{"If-Match", "\"00000000000000000000000000000000\""}}, 501},
           Case{"DELETE", "/hdrs/k", {{"x-amz-if-match-size", "1"}}, 501},
           Case{"DELETE", "/hdrs/k", {{"If-None-Match", "*"}}, 501},
           Case{"DELETE", "/hdrs/k", {{"x-amz-if-match-last-modified-time", "Wed, 01 Jan 2025 00:00:00 GMT"}}, 501},
           Case{"PUT", "/hdrs/new",
                {{"x-amz-copy-source", "/hdrs/k"}, {"x-amz-copy-source-server-side-encryption-customer-algorithm", "AES256"}},
                501},
           Case{"PUT", "/hdrs/new", {{"x-amz-server-side-encryption-bucket-key-enabled", "true"}}, 501},
           Case{"GET", "/hdrs", {{"x-amz-expected-bucket-owner", "222222222222"}}, 403},
           Case{"HEAD", "/hdrs/k", {{"x-amz-expected-bucket-owner", "222222222222"}}, 403},
           Case{"PUT", "/hdrs/new", {{"x-amz-copy-source", "/hdrs/k"}, {"x-amz-source-expected-bucket-owner", "2"}}, 403},
       }) {
    auto r = Send(c.method, c.target, std::string(c.method) == "PUT" ? "body" : "", c.headers);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " " << c.headers.begin()->name << ": " << r.body;
  }
  EXPECT_EQ(Send("GET", "/hdrs/k").body, "content");
  EXPECT_EQ(Send("HEAD", "/hdrs/new").status, 404);
  EXPECT_EQ(Send("HEAD", "/hdrs-lock").status, 404);
  EXPECT_EQ(Send("HEAD", "/hdrs-own").status, 404);
  // What is served: STANDARD, ObjectWriter, object lock "false", the right expected owner.
  EXPECT_EQ(Send("PUT", "/hdrs/std", "x", {{"x-amz-storage-class", "STANDARD"}}).status, 200);
  EXPECT_EQ(Send("PUT", "/hdrs-ok", "", {{"x-amz-object-ownership", "ObjectWriter"},
                                         {"x-amz-bucket-object-lock-enabled", "false"}})
                .status,
            200);
  EXPECT_EQ(Send("PUT", "/hdrs-ok2", "", {{"x-amz-bucket-object-lock-enabled", "False"}}).status, 200);
  // The answer names the header and its value, and says what is not done.
  auto r = Send("PUT", "/hdrs/new", "body", {{"x-amz-storage-class", "GLACIER"}});
  EXPECT_THAT(r.body, HasSubstr("<Code>NotImplemented</Code>"));
  EXPECT_THAT(r.body, HasSubstr("a storage class other than STANDARD ('x-amz-storage-class: GLACIER')"));
  r = Send("PUT", "/hdrs/new", "body", {{"x-amz-object-lock-mode", "COMPLIANCE"}});
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));
  EXPECT_EQ(Send("GET", "/hdrs/k", "", {{"x-amz-expected-bucket-owner", "111111111111"}}).body, "content");
  EXPECT_EQ(Send("GET", "/nosuch", "", {{"x-amz-expected-bucket-owner", "111111111111"}}).status, 404);
}

TEST_F(S3RestTest, GrantHeadersSetTheAcl) {
  // On a new bucket: AllUsers may write into it.
  ASSERT_EQ(Send("PUT", "/grants", "", {{"x-amz-grant-write", "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""}})
                .status,
            200);
  EXPECT_EQ(Send("PUT", "/grants/anon", "a", {}, nullptr).status, 200);
  // On a new object: carol's account (by id) and AllUsers may read, both in one header.
  auto r = Send("PUT", "/grants/k", "v",
                {{"x-amz-grant-read", "id=\"222222222222\", uri=http://acs.amazonaws.com/groups/global/AllUsers"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Send("GET", "/grants/k", "", {}, &kCarolKey).body, "v");
  EXPECT_EQ(Send("GET", "/grants/k", "", {}, nullptr).body, "v");
  auto acl = Send("GET", "/grants/k?acl").body;
  EXPECT_THAT(acl, HasSubstr("<ID>222222222222</ID>"));
  EXPECT_THAT(acl, HasSubstr("<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>"));
  // PUT ?acl by header: only carol may read now.
  EXPECT_EQ(Send("PUT", "/grants/k?acl", "", {{"x-amz-grant-full-control", "id=222222222222"}}).status, 200);
  EXPECT_EQ(Send("GET", "/grants/k", "", {}, nullptr).status, 403);
  EXPECT_EQ(Send("GET", "/grants/k?acl", "", {}, &kCarolKey).status, 200);
  // Copies and multipart uploads take them too.
  r = Send("PUT", "/grants/copy", "", {{"x-amz-copy-source", "/grants/k"}, {"x-amz-grant-read", "id=222222222222"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Send("GET", "/grants/copy", "", {}, &kCarolKey).body, "v");
  r = Send("POST", "/grants/mp?uploads", "", {{"x-amz-grant-read", "id=222222222222"}});
  ASSERT_EQ(r.status, 200) << r.body;

  // Refused, and nothing stored.
  struct Bad {
    Headers headers;
    int status;
    const char* code;
  };
  for (const Bad& b : {Bad{{{"x-amz-grant-read", "id=222222222222"}, {"x-amz-acl", "public-read"}}, 400, "InvalidRequest"},
                       Bad{{{"x-amz-grant-read", "emailAddress=\"carol@example.com\""}}, 400,
                           "UnresolvableGrantByEmailAddress"},
                       Bad{{{"x-amz-grant-read", "name=carol"}}, 400, "InvalidArgument"},
                       Bad{{{"x-amz-grant-read", "id=\"2222"}}, 400, "InvalidArgument"},
                       Bad{{{"x-amz-grant-read", ""}}, 400, "InvalidArgument"},
                       Bad{{{"x-amz-grant-everything", "id=222222222222"}}, 400, "InvalidArgument"},
                       Bad{{{"x-amz-grant-read", "uri=http://example.com/group"}}, 400, "InvalidArgument"}}) {
    r = Send("PUT", "/grants/bad", "v", b.headers);
    EXPECT_EQ(r.status, b.status) << r.body;
    EXPECT_THAT(r.body, HasSubstr(std::string("<Code>") + b.code + "</Code>"));
    EXPECT_EQ(Send("GET", "/grants/bad").status, 404);
  }
  // PUT ?acl takes one form only: a canned ACL, grant headers or a document.
  const std::string policy = Send("GET", "/grants/k?acl").body;
  r = Send("PUT", "/grants/k?acl", policy, {{"x-amz-acl", "public-read"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));
  r = Send("PUT", "/grants/k?acl", policy, {{"x-amz-grant-read", "uri=http://acs.amazonaws.com/groups/global/AllUsers"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Send("GET", "/grants/k", "", {}, nullptr).status, 403);
  EXPECT_EQ(Send("PUT", "/grants/k?acl", "", {{"x-amz-acl", "public-read"}}).status, 200);
  EXPECT_EQ(Send("GET", "/grants/k", "", {}, nullptr).status, 200);
}

TEST_F(S3RestTest, ConditionalWrites) {
  ASSERT_EQ(Send("PUT", "/condw").status, 200);
  auto r = Send("PUT", "/condw/k", "one", {{"If-None-Match", "*"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string etag = r.headers.Get("ETag");
  r = Send("PUT", "/condw/k", "two", {{"If-None-Match", "*"}});
  EXPECT_EQ(r.status, 412);
  EXPECT_THAT(r.body, HasSubstr("<Code>PreconditionFailed</Code>"));
  EXPECT_EQ(Send("GET", "/condw/k").body, "one");
  r = Send("PUT", "/condw/k", "two", {{"If-Match", "\"0123456789abcdef0123456789abcdef\""}});
  EXPECT_EQ(r.status, 412);
  r = Send("PUT", "/condw/none", "two", {{"If-Match", etag}});
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("<Code>NoSuchKey</Code>"));
  r = Send("PUT", "/condw/k", "two", {{"If-None-Match", etag}});
  EXPECT_EQ(r.status, 501);
  EXPECT_EQ(Send("GET", "/condw/k").body, "one");
  // The ETag unquoted does too.
  r = Send("PUT", "/condw/k", "two", {{"If-Match", etag.substr(1, 32)}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Send("GET", "/condw/k").body, "two");

  // CopyObject's destination and CompleteMultipartUpload take them too.
  r = Send("PUT", "/condw/k", "", {{"x-amz-copy-source", "/condw/k"}, {"x-amz-metadata-directive", "REPLACE"}, {"If-None-Match", "*"}});
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(Send("PUT", "/condw/copy", "", {{"x-amz-copy-source", "/condw/k"}, {"If-None-Match", "*"}}).status, 200);
  r = Send("POST", "/condw/k?uploads");
  auto start = r.body.find("<UploadId>") + 10;
  std::string id = r.body.substr(start, r.body.find("</UploadId>") - start);
  auto e1 = Send("PUT", "/condw/k?partNumber=1&uploadId=" + id, "part").headers.Get("ETag");
  const std::string complete =
      "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + e1 + "</ETag></Part></CompleteMultipartUpload>";
  r = Send("POST", "/condw/k?uploadId=" + id, complete, {{"If-None-Match", "*"}});
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(Send("GET", "/condw/k").body, "two");
  EXPECT_EQ(Send("POST", "/condw/k?uploadId=" + id, complete).status, 200);
  EXPECT_EQ(Send("GET", "/condw/k").body, "part");
}

TEST_F(S3RestTest, AdditionalChecksumsAreCheckedBeforeCommitAndEchoed) {
  ASSERT_EQ(Send("PUT", "/sums").status, 200);
  // "123456789": CRC32 cbf43926, SHA-256 15e2b0d3...
  auto r = Send("PUT", "/sums/k", "123456789", {{"x-amz-checksum-crc32", "y/Q5Jg=="}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("x-amz-checksum-crc32"), "y/Q5Jg==");
  r = Send("PUT", "/sums/bad", "123456780", {{"x-amz-checksum-crc32", "y/Q5Jg=="}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>BadDigest</Code>"));
  EXPECT_EQ(Send("GET", "/sums/bad").status, 404);
  r = Send("PUT", "/sums/bad", "123456789", {{"x-amz-checksum-sha256", "y/Q5Jg=="}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));
  r = Send("PUT", "/sums/k2", "123456789", {{"x-amz-checksum-sha256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="}});
  EXPECT_EQ(r.status, 200) << r.body;

  // An aws-chunked body with its checksum in a trailer, as the AWS SDKs send it.
  auto trailer_put = [&](const std::string& key, const std::string& value) {
    const int64_t now = RealClock().NowMillis();
    api::SignableRequest req{.method = "PUT",
                             .path = "/sums/" + key,
                             .headers = {{"Host", host_},
                                         {"Content-Encoding", "aws-chunked"},
                                         {"x-amz-decoded-content-length", "9"},
                                         {"x-amz-trailer", "x-amz-checksum-crc32"}}};
    api::SigV4SignOptions opts{.region = "euca",
                               .now_ms = now,
                               .payload_hash = std::string(api::kStreamingUnsignedPayloadTrailer)};
    EXPECT_TRUE(api::SignSigV4(req, kAliceKey, opts).ok());
    std::string body = "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:" + value + "\r\n\r\n";
    http::ClientRequest creq{.method = "PUT", .url = "http://" + host_ + req.path, .headers = req.headers, .body = body};
    auto got = client_.Do(creq);
    EXPECT_TRUE(got.ok());
    return got.ok() ? *got : http::ClientResponse{};
  };
  r = trailer_put("t1", "y/Q5Jg==");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("x-amz-checksum-crc32"), "y/Q5Jg==");
  EXPECT_EQ(Send("GET", "/sums/t1").body, "123456789");
  r = trailer_put("t2", "AAAAAA==");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>BadDigest</Code>"));
  EXPECT_EQ(Send("GET", "/sums/t2").status, 404);

  // DeleteObjects needs its list's Content-MD5 (or a checksum), and a right one.
  const std::string list = "<Delete><Object><Key>k</Key></Object></Delete>";
  r = Send("POST", "/sums?delete", list);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));
  r = Send("POST", "/sums?delete", list, {{"Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA=="}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>BadDigest</Code>"));
  EXPECT_EQ(Send("GET", "/sums/k").status, 200);
  Checksummer crc(ChecksumAlgorithm::kCrc32);
  crc.Update(list);
  r = Send("POST", "/sums?delete", list, {{"x-amz-checksum-crc32", crc.FinalBase64()}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Send("GET", "/sums/k").status, 404);
}

// A verified checksum is stored with the object and returned by reads that ask for it
// (x-amz-checksum-mode: ENABLED) and get the whole object; x-amz-sdk-checksum-algorithm
// without a checksum is refused, as S3 does.
TEST_F(S3RestTest, StoredChecksumsAreReturnedWithChecksumMode) {
  ASSERT_EQ(Send("PUT", "/kept").status, 200);
  auto r = Send("PUT", "/kept/k", "123456789", {{"x-amz-checksum-crc32", "y/Q5Jg=="}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("x-amz-checksum-type"), "FULL_OBJECT");
  r = Send("GET", "/kept/k");
  EXPECT_FALSE(r.headers.Has("x-amz-checksum-crc32"));
  EXPECT_FALSE(r.headers.Has("x-amz-checksum-type"));
  const Headers mode = {{"x-amz-checksum-mode", "ENABLED"}};
  for (const char* method : {"GET", "HEAD"}) {
    r = Send(method, "/kept/k", "", mode);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.Get("x-amz-checksum-crc32"), "y/Q5Jg==") << method;
    EXPECT_EQ(r.headers.Get("x-amz-checksum-type"), "FULL_OBJECT");
  }
  Headers ranged = mode;
  ranged.Add("Range", "bytes=0-3");
  r = Send("GET", "/kept/k", "", ranged);
  EXPECT_EQ(r.status, 206);
  EXPECT_FALSE(r.headers.Has("x-amz-checksum-crc32"));
  r = Send("GET", "/kept/k?partNumber=1", "", mode);  // a single-part object's part 1 is all of it
  EXPECT_EQ(r.headers.Get("x-amz-checksum-crc32"), "y/Q5Jg==");

  r = Send("PUT", "/kept/sdk", "123456789", {{"x-amz-sdk-checksum-algorithm", "CRC32"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));
  r = Send("PUT", "/kept/sdk", "123456789",
           {{"x-amz-sdk-checksum-algorithm", "SHA1"}, {"x-amz-checksum-crc32", "y/Q5Jg=="}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Send("GET", "/kept/sdk").status, 404);

  // A copy keeps the checksum, or computes the one asked for.
  r = Send("PUT", "/kept/copy", "", {{"x-amz-copy-source", "/kept/k"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<ChecksumCRC32>y/Q5Jg==</ChecksumCRC32>"));
  r = Send("PUT", "/kept/copy256", "", {{"x-amz-copy-source", "/kept/k"}, {"x-amz-checksum-algorithm", "sha256"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<ChecksumSHA256>FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=</ChecksumSHA256>"));
  EXPECT_THAT(r.body, HasSubstr("<ChecksumType>FULL_OBJECT</ChecksumType>"));
  r = Send("HEAD", "/kept/copy256", "", mode);
  EXPECT_EQ(r.headers.Get("x-amz-checksum-sha256"), "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=");
  r = Send("PUT", "/kept/bad", "", {{"x-amz-copy-source", "/kept/k"}, {"x-amz-checksum-algorithm", "MD4"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));

  // Listings name the algorithm and type.
  r = Send("GET", "/kept?list-type=2");
  EXPECT_THAT(r.body, HasSubstr("<Key>k</Key><LastModified>"));
  EXPECT_THAT(r.body, HasSubstr("<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>"
                                "<Size>9</Size>"));
  r = Send("GET", "/kept?versions");
  EXPECT_THAT(r.body, HasSubstr("<ChecksumAlgorithm>SHA256</ChecksumAlgorithm>"));

  // GetObjectAttributes.
  r = Send("GET", "/kept/k?attributes", "", {{"x-amz-object-attributes", "ETag,Checksum,ObjectSize,StorageClass"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<GetObjectAttributesResponse"));
  EXPECT_THAT(r.body, HasSubstr("<ETag>" + api::Hex(api::Md5("123456789")) + "</ETag>"));
  EXPECT_THAT(r.body, HasSubstr("<Checksum><ChecksumCRC32>y/Q5Jg==</ChecksumCRC32><ChecksumType>FULL_OBJECT"
                                "</ChecksumType></Checksum>"));
  EXPECT_THAT(r.body, HasSubstr("<ObjectSize>9</ObjectSize>"));
  EXPECT_THAT(r.body, HasSubstr("<StorageClass>STANDARD</StorageClass>"));
  EXPECT_THAT(r.body, Not(HasSubstr("<ObjectParts>")));
  EXPECT_TRUE(r.headers.Has("Last-Modified"));
  r = Send("GET", "/kept/k?attributes", "", {{"x-amz-object-attributes", "ObjectSize"}});
  EXPECT_THAT(r.body, Not(HasSubstr("<ETag>")));
  r = Send("GET", "/kept/k?attributes");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidArgument</Code>"));
  r = Send("GET", "/kept/k?attributes", "", {{"x-amz-object-attributes", "ETag,Colour"}});
  EXPECT_EQ(r.status, 400);
  r = Send("GET", "/kept/k?attributes", "", {{"x-amz-object-attributes", "ETag"}}, &kCarolKey);
  EXPECT_EQ(r.status, 403);
}

// A multipart upload with an algorithm: parts carry it and keep it, ListParts and
// GetObjectAttributes show it, completion checks what it lists and stores the composite.
TEST_F(S3RestTest, MultipartChecksumsPerPartAndComposite) {
  ASSERT_EQ(Send("PUT", "/mpc").status, 200);
  auto r = Send("POST", "/mpc/o?uploads", "", {{"x-amz-checksum-algorithm", "CRC32"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("x-amz-checksum-algorithm"), "CRC32");
  EXPECT_EQ(r.headers.Get("x-amz-checksum-type"), "COMPOSITE");
  auto start = r.body.find("<UploadId>") + 10;
  std::string id = r.body.substr(start, r.body.find("</UploadId>") - start);
  const std::string p1(20, 'a'), p2 = "tail";
  auto crc = [](std::string_view data) {
    Checksummer c(ChecksumAlgorithm::kCrc32);
    c.Update(data);
    return c.FinalBase64();
  };
  const std::string c1 = crc(p1), c2 = crc(p2);
  r = Send("PUT", "/mpc/o?partNumber=1&uploadId=" + id, p1);
  EXPECT_EQ(r.status, 400) << "a part without the upload's checksum";
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));
  r = Send("PUT", "/mpc/o?partNumber=1&uploadId=" + id, "123456789",
           {{"x-amz-checksum-sha256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="}});
  EXPECT_EQ(r.status, 400) << "a part with another algorithm's";
  r = Send("PUT", "/mpc/o?partNumber=1&uploadId=" + id, p1, {{"x-amz-checksum-crc32", c1}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string e1 = r.headers.Get("ETag");
  EXPECT_EQ(r.headers.Get("x-amz-checksum-crc32"), c1);
  r = Send("PUT", "/mpc/o?partNumber=2&uploadId=" + id, p2, {{"x-amz-checksum-crc32", c2}});
  const std::string e2 = r.headers.Get("ETag");
  r = Send("GET", "/mpc/o?uploadId=" + id);
  EXPECT_THAT(r.body, HasSubstr("<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType>"));
  EXPECT_THAT(r.body, HasSubstr("<Size>4</Size><ChecksumCRC32>" + c2 + "</ChecksumCRC32>"));

  auto complete_xml = [&](const std::string& sum1, const std::string& sum2) {
    auto part = [](int n, const std::string& etag, const std::string& sum) {
      return "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>" + etag + "</ETag>" +
             (sum.empty() ? "" : "<ChecksumCRC32>" + sum + "</ChecksumCRC32>") + "</Part>";
    };
    return "<CompleteMultipartUpload>" + part(1, e1, sum1) + part(2, e2, sum2) + "</CompleteMultipartUpload>";
  };
  r = Send("POST", "/mpc/o?uploadId=" + id, complete_xml(c1, ""));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));
  r = Send("POST", "/mpc/o?uploadId=" + id, complete_xml(c2, c2));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidPart</Code>"));
  const std::string composite = *CompositeChecksum(ChecksumAlgorithm::kCrc32, {c1, c2});
  // The request's own x-amz-checksum-crc32 is the object's expected checksum, not the XML's.
  r = Send("POST", "/mpc/o?uploadId=" + id, complete_xml(c1, c2), {{"x-amz-checksum-crc32", c1}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>BadDigest</Code>"));
  // Refused before anything is checked, and the upload stays: an algorithm Walrus does not know
  // (it would go unchecked), a value that is no checksum, a part count that is no number, two.
  const std::string no_dash = composite.substr(0, composite.find('-'));
  for (const auto& [headers, code] : std::vector<std::pair<Headers, std::string>>{
           {{{"x-amz-checksum-sha512", no_dash}}, "NotImplemented"},
           {{{"x-amz-checksum-crc32", "AAAA"}}, "InvalidRequest"},
           {{{"x-amz-checksum-crc32", no_dash + "-"}}, "InvalidRequest"},
           {{{"x-amz-checksum-crc32", no_dash + "-x"}}, "InvalidRequest"},
           {{{"x-amz-checksum-crc32", no_dash + "-0"}}, "InvalidRequest"},
           {{{"x-amz-checksum-crc32", composite}, {"x-amz-checksum-sha1", "AAAA"}}, "InvalidRequest"}}) {
    r = Send("POST", "/mpc/o?uploadId=" + id, complete_xml(c1, c2), headers);
    EXPECT_THAT(r.body, HasSubstr("<Code>" + code + "</Code>")) << headers.begin()->value;
  }
  EXPECT_EQ(Send("GET", "/mpc/o").status, 404);
  // The count is part of the value: "-3" for two parts does not match.
  r = Send("POST", "/mpc/o?uploadId=" + id, complete_xml(c1, c2), {{"x-amz-checksum-crc32", no_dash + "-3"}});
  EXPECT_THAT(r.body, HasSubstr("<Code>BadDigest</Code>"));
  r = Send("POST", "/mpc/o?uploadId=" + id, complete_xml(c1, c2), {{"x-amz-checksum-crc32", composite}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<ChecksumCRC32>" + composite + "</ChecksumCRC32><ChecksumType>COMPOSITE"));
  EXPECT_THAT(composite, ::testing::EndsWith("-2"));
  EXPECT_EQ(Send("GET", "/mpc/o").body, p1 + p2);

  const Headers mode = {{"x-amz-checksum-mode", "ENABLED"}};
  r = Send("HEAD", "/mpc/o", "", mode);
  EXPECT_EQ(r.headers.Get("x-amz-checksum-crc32"), composite);
  EXPECT_EQ(r.headers.Get("x-amz-checksum-type"), "COMPOSITE");
  r = Send("GET", "/mpc/o?partNumber=2", "", mode);
  EXPECT_EQ(r.body, p2);
  EXPECT_EQ(r.headers.Get("x-amz-checksum-crc32"), c2);
  r = Send("GET", "/mpc/o?attributes", "",
           {{"x-amz-object-attributes", "ObjectParts,Checksum"}, {"x-amz-max-parts", "1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<ObjectParts><PartsCount>2</PartsCount><PartNumberMarker>0</PartNumberMarker>"
                                "<NextPartNumberMarker>1</NextPartNumberMarker><MaxParts>1</MaxParts>"
                                "<IsTruncated>true</IsTruncated><Part><PartNumber>1</PartNumber><Size>20</Size>"
                                "<ChecksumCRC32>" + c1 + "</ChecksumCRC32></Part></ObjectParts>"));
  r = Send("GET", "/mpc/o?attributes", "",
           {{"x-amz-object-attributes", "ObjectParts"}, {"x-amz-part-number-marker", "1"}});
  EXPECT_THAT(r.body, HasSubstr("<Part><PartNumber>2</PartNumber><Size>4</Size>"));
  EXPECT_THAT(r.body, Not(HasSubstr("<PartNumber>1</PartNumber>")));

  // FULL_OBJECT: a CRC of the whole content; parts may leave theirs to the server.
  r = Send("POST", "/mpc/f?uploads", "", {{"x-amz-checksum-algorithm", "CRC32"}, {"x-amz-checksum-type", "FULL_OBJECT"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("x-amz-checksum-type"), "FULL_OBJECT");
  start = r.body.find("<UploadId>") + 10;
  id = r.body.substr(start, r.body.find("</UploadId>") - start);
  const std::string f1 = Send("PUT", "/mpc/f?partNumber=1&uploadId=" + id, p1).headers.Get("ETag");
  const std::string f2 = Send("PUT", "/mpc/f?partNumber=2&uploadId=" + id, p2).headers.Get("ETag");
  r = Send("POST", "/mpc/f?uploadId=" + id,
           "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + f1 +
               "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" + f2 + "</ETag></Part></CompleteMultipartUpload>");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<ChecksumCRC32>" + crc(p1 + p2) + "</ChecksumCRC32><ChecksumType>FULL_OBJECT"));
  r = Send("POST", "/mpc/g?uploads", "", {{"x-amz-checksum-algorithm", "SHA1"}, {"x-amz-checksum-type", "FULL_OBJECT"}});
  EXPECT_EQ(r.status, 400);
}

TEST_F(S3RestTest, AwsChunkedUploadIsCheckedBeforeCommit) {
  ASSERT_EQ(Send("PUT", "/chunks").status, 200);
  const std::string data(100000, 'x');
  auto r = SendAwsChunked("/chunks/obj", data, [](std::string& body, size_t) { body[100] = 'y'; });
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_THAT(r.body, HasSubstr("SignatureDoesNotMatch"));
  EXPECT_EQ(Send("GET", "/chunks/obj").status, 404);
  r = SendAwsChunked("/chunks/obj", data);
  EXPECT_EQ(r.status, 200) << r.body;
  auto g = Send("GET", "/chunks/obj");
  EXPECT_TRUE(g.body == data) << g.body.substr(0, 200);
  EXPECT_EQ(g.headers.Get("Content-Encoding"), "");
}

TEST_F(S3RestTest, LargeAwsChunkedUploadIsCheckedChunkByChunkThroughThePipeline) {
  // 5 MiB: more than four buffers, so the body goes through BodyPipeline; a byte changed in
  // the last chunk fails that chunk's signature, and nothing is stored.
  ASSERT_EQ(Send("PUT", "/bigchunks").status, 200);
  std::string data(5 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 24);
  // Before the last data chunk's CRLF.
  auto r = SendAwsChunked("/bigchunks/obj", data, [](std::string& body, size_t end) { body[end - 2 - 5] ^= 1; });
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_THAT(r.body, HasSubstr("SignatureDoesNotMatch"));
  EXPECT_EQ(Send("GET", "/bigchunks/obj").status, 404);
  EXPECT_EQ(backend_.BlobCountForTest(), 0u);
  EXPECT_EQ(backend_.OpenWritersForTest(), 0u);
  r = SendAwsChunked("/bigchunks/obj", data);
  EXPECT_EQ(r.status, 200) << r.body;
  Md5 md5;
  md5.Update(data);
  EXPECT_EQ(r.headers.Get("ETag"), "\"" + api::Hex(md5.Final()) + "\"");
  auto g = Send("GET", "/bigchunks/obj");
  EXPECT_TRUE(g.body == data) << "the stored bytes differ";
}

TEST_F(S3RestTest, WrongDeclaredSha256IsRefused) {
  ASSERT_EQ(Send("PUT", "/sha").status, 200);
  api::SignableRequest req{.method = "PUT", .path = "/sha/k", .headers = {{"Host", host_}}};
  api::SigV4SignOptions opts{.region = "euca", .now_ms = RealClock().NowMillis(), .payload_hash = api::Sha256Hex("other")};
  ASSERT_TRUE(api::SignSigV4(req, kAliceKey, opts).ok());
  auto r = client_.Do({.method = "PUT", .url = "http://" + host_ + "/sha/k", .headers = req.headers, .body = "body"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("XAmzContentSHA256Mismatch"));
  EXPECT_EQ(Send("GET", "/sha/k").status, 404);
}

TEST_F(S3RestTest, MultipartUpload) {
  ASSERT_EQ(Send("PUT", "/mpu").status, 200);
  auto r = Send("POST", "/mpu/big?uploads");
  ASSERT_EQ(r.status, 200) << r.body;
  auto start = r.body.find("<UploadId>") + 10;
  std::string id = r.body.substr(start, r.body.find("</UploadId>") - start);
  std::string p1(32, 'a'), p2 = "tail";
  auto e1 = Send("PUT", "/mpu/big?partNumber=1&uploadId=" + id, p1).headers.Get("ETag");
  auto e2 = Send("PUT", "/mpu/big?partNumber=2&uploadId=" + id, p2).headers.Get("ETag");
  r = Send("GET", "/mpu/big?uploadId=" + id);
  EXPECT_THAT(r.body, HasSubstr("<PartNumber>2</PartNumber>"));
  r = Send("GET", "/mpu?uploads");
  EXPECT_THAT(r.body, HasSubstr("<UploadId>" + id + "</UploadId>"));
  r = Send("POST", "/mpu/big?uploadId=" + id, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + e1 +
                                                  "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" + e2 +
                                                  "</ETag></Part></CompleteMultipartUpload>");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("-2\"</ETag>"));
  EXPECT_EQ(Send("GET", "/mpu/big").body, p1 + p2);
  // Plain reads do not tell the part count; ?partNumber=N reads part N alone.
  EXPECT_FALSE(Send("HEAD", "/mpu/big").headers.Has("x-amz-mp-parts-count"));
  r = Send("GET", "/mpu/big?partNumber=2");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, p2);
  EXPECT_EQ(r.headers.Get("Content-Range"), "bytes 32-35/36");
  EXPECT_EQ(r.headers.Get("x-amz-mp-parts-count"), "2");
  r = Send("HEAD", "/mpu/big?partNumber=1");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.headers.Get("Content-Length"), "32");
  r = Send("GET", "/mpu/big?partNumber=3");
  EXPECT_EQ(r.status, 416);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidPartNumber</Code>"));
  r = Send("GET", "/mpu/big?partNumber=1", "", {{"Range", "bytes=0-1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("<Code>InvalidRequest</Code>"));
  r = Send("GET", "/mpu/big?partNumber=x");
  EXPECT_EQ(r.status, 400);
  // A single-part object is its own part 1.
  ASSERT_EQ(Send("PUT", "/mpu/small", "abc").status, 200);
  r = Send("GET", "/mpu/small?partNumber=1");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "abc");
  EXPECT_FALSE(r.headers.Has("x-amz-mp-parts-count"));
  EXPECT_EQ(Send("GET", "/mpu/small?partNumber=2").status, 416);
  r = Send("POST", "/mpu/big?uploadId=nosuch", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("NoSuchUpload"));
}

TEST_F(S3RestTest, PresignedGetAndCrossAccountAcl) {
  ASSERT_EQ(Send("PUT", "/shared").status, 200);
  ASSERT_EQ(Send("PUT", "/shared/k", "secret").status, 200);

  api::SignableRequest req{.method = "GET", .path = "/shared/k", .headers = {{"Host", host_}}};
  ASSERT_TRUE(api::PresignSigV4(req, kAliceKey, {.region = "euca", .now_ms = RealClock().NowMillis()}, 300).ok());
  auto r = client_.Do({.method = "GET", .url = "http://" + host_ + "/shared/k?" + api::JoinQuery(req.query)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "secret");

  r = client_.Do({.method = "GET", .url = "http://" + host_ + "/shared/k"});
  EXPECT_EQ(r->status, 403);

  auto c = Send("GET", "/shared/k", "", {}, &kCarolKey);
  EXPECT_EQ(c.status, 403);
  EXPECT_THAT(c.body, HasSubstr("<Code>AccessDenied</Code>"));

  EXPECT_EQ(Send("PUT", "/shared/k?acl", "", {{"x-amz-acl", "public-read"}}).status, 200);
  EXPECT_EQ(Send("GET", "/shared/k", "", {}, &kCarolKey).body, "secret");
  EXPECT_EQ(Send("GET", "/shared/k", "", {}, nullptr).body, "secret");
  auto acl = Send("GET", "/shared/k?acl");
  EXPECT_THAT(acl.body, HasSubstr("<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>"));
  EXPECT_THAT(acl.body, HasSubstr("<Permission>READ</Permission>"));

  // An ACL document round-trips through PUT ?acl.
  std::string doc = acl.body;
  EXPECT_EQ(Send("PUT", "/shared/k?acl", "<AccessControlPolicy><Owner><ID>111111111111</ID></Owner><AccessControlList>"
                                         "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                                         "xsi:type=\"CanonicalUser\"><ID>111111111111</ID></Grantee>"
                                         "<Permission>FULL_CONTROL</Permission></Grant></AccessControlList>"
                                         "</AccessControlPolicy>")
                .status,
            200);
  EXPECT_EQ(Send("GET", "/shared/k", "", {}, &kCarolKey).status, 403);
  EXPECT_THAT(Send("GET", "/shared/k?acl").body, Not(HasSubstr("AllUsers")));
}

}  // namespace
}  // namespace euca::walrus
