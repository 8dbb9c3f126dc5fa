// aws-chunked streaming payloads against the S3 documentation's examples ("Example: PUT
// Object" of sigv4-streaming and of sigv4-streaming-trailers), fed in every slicing.

#include "core/api/aws_chunked.h"

#include <gtest/gtest.h>

#include "core/api/auth.h"

namespace euca::api {
namespace {

constexpr const char* kKey = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr int64_t kTime = 1369353600000;  // 2013-05-24T00:00:00Z

constexpr const char* kSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
constexpr const char* kChunk1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
constexpr const char* kChunk2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
constexpr const char* kFinal = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

SignableRequest ExampleRequest() {
  SignableRequest r;
  r.method = "PUT";
  r.path = "/examplebucket/chunkObject.txt";
  r.headers = {{"Host", "s3.amazonaws.com"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"Authorization",
                std::string("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                            "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                            "x-amz-decoded-content-length;x-amz-storage-class,Signature=") +
                    kSeed},
               {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
               {"Content-Encoding", "aws-chunked"},
               {"x-amz-decoded-content-length", "66560"},
               {"Content-Length", "66824"}};
  return r;
}

std::string ExampleBody(const char* s1 = kChunk1, const char* s2 = kChunk2, const char* s3 = kFinal) {
  return std::string("10000;chunk-signature=") + s1 + "\r\n" + std::string(65536, 'a') + "\r\n" +
         "400;chunk-signature=" + s2 + "\r\n" + std::string(1024, 'a') + "\r\n" + "0;chunk-signature=" + s3 +
         "\r\n\r\n";
}

Result<Verified> Verify(const SignableRequest& r) {
  FakeClock clock(kTime);
  VerifyOptions o;
  o.clock = &clock;
  return VerifyRequest(
      r,
      [](const std::string& id) -> Result<std::string> {
        return id == kKey ? Result<std::string>(kSecret) : NotFound(id);
      },
      o);
}

// Decodes `body` fed in pieces of `slice` bytes; the status of the first failure or of Finish().
Status Decode(const StreamingContext& ctx, const std::string& body, size_t slice, std::string* out) {
  AwsChunkedDecoder d(ctx);
  for (size_t pos = 0; pos < body.size(); pos += slice) {
    Status s = d.Feed(std::string_view(body).substr(pos, slice), out);
    if (!s.ok()) return s;
  }
  return d.Finish();
}

TEST(AwsChunkedTest, DocumentedExampleVerifiesAndDecodesInAnySlicing) {
  auto v = Verify(ExampleRequest());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->payload, PayloadCheck::kAwsChunked);
  ASSERT_TRUE(v->streaming.has_value());
  EXPECT_EQ(v->streaming->decoded_length, 66560);
  std::string body = ExampleBody();
  EXPECT_EQ(body.size(), 66824u);
  EXPECT_EQ(AwsChunkedEncoder::EncodedLength(66560, 65536), 66824u);
  for (size_t slice : {1u, 7u, 100u, 4096u, 65536u, 70000u, 1000000u}) {
    std::string out;
    Status s = Decode(*v->streaming, body, slice, &out);
    EXPECT_TRUE(s.ok()) << slice << ": " << s.ToString();
    EXPECT_EQ(out, std::string(66560, 'a')) << slice;
  }
}

TEST(AwsChunkedTest, EncoderReproducesTheDocumentedChunks) {
  auto v = Verify(ExampleRequest());
  ASSERT_TRUE(v.ok());
  const StreamingContext& s = *v->streaming;
  AwsChunkedEncoder e(s.signing_key, s.amz_date, s.scope, s.seed_signature);
  std::string body = e.Chunk(std::string(65536, 'a'));
  body += e.Chunk(std::string(1024, 'a'));
  body += e.Final();
  EXPECT_TRUE(body == ExampleBody()) << body.substr(0, 100);
}

TEST(AwsChunkedTest, RejectsTamperedReorderedTruncatedAndOverlongBodies) {
  auto v = Verify(ExampleRequest());
  ASSERT_TRUE(v.ok());
  std::string out;
  // A changed data byte.
  std::string body = ExampleBody();
  body[100] = 'b';
  EXPECT_EQ(Decode(*v->streaming, body, 4096, &out).wire_code(), "SignatureDoesNotMatch");
  // A wrong chunk signature, and chunks whose signatures were swapped.
  EXPECT_EQ(Decode(*v->streaming, ExampleBody(kChunk2), 4096, &out).wire_code(), "SignatureDoesNotMatch");
  EXPECT_EQ(Decode(*v->streaming, ExampleBody(kChunk1, kFinal, kChunk2), 4096, &out).wire_code(),
            "SignatureDoesNotMatch");
  // Stops before the final chunk.
  body = ExampleBody();
  body.resize(body.find("0;chunk-signature"));
  Status s = Decode(*v->streaming, body, 4096, &out);
  EXPECT_EQ(s.wire_code(), "IncompleteBody") << s.ToString();
  // More data than the chunk header says.
  body = ExampleBody();
  body.insert(body.find("\r\n400;"), "aa");
  EXPECT_FALSE(Decode(*v->streaming, body, 4096, &out).ok());
  // Bytes after the end.
  EXPECT_FALSE(Decode(*v->streaming, ExampleBody() + "x", 4096, &out).ok());
  // A garbage chunk size.
  EXPECT_EQ(Decode(*v->streaming, "zz;chunk-signature=" + std::string(kChunk1) + "\r\n", 4096, &out).wire_code(),
            "InvalidChunkSizeError");
  // A chunk header that never ends does not grow memory without bound.
  EXPECT_FALSE(Decode(*v->streaming, std::string(100000, '1'), 4096, &out).ok());
  // The declared decoded length must hold.
  StreamingContext shorter = *v->streaming;
  shorter.decoded_length = 66559;
  EXPECT_FALSE(Decode(shorter, ExampleBody(), 4096, &out).ok());
}

TEST(AwsChunkedTest, SeedSignatureCoversTheHeaders) {
  SignableRequest r = ExampleRequest();
  r.headers.Set("x-amz-decoded-content-length", "66561");
  EXPECT_EQ(Verify(r).status().wire_code(), "SignatureDoesNotMatch");
}

TEST(AwsChunkedTest, DocumentedTrailerExample) {
  SignableRequest r;
  r.method = "PUT";
  r.path = "/examplebucket/chunkObject.txt";
  r.headers = {{"Host", "s3.amazonaws.com"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                "SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                "x-amz-storage-class;x-amz-trailer,"
                "Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"},
               {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"},
               {"Content-Encoding", "aws-chunked"},
               {"x-amz-decoded-content-length", "66560"},
               {"x-amz-trailer", "x-amz-checksum-crc32c"},
               {"Content-Length", "66946"}};
  auto v = Verify(r);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->streaming->mode, ChunkedMode::kSignedTrailer);
  auto body = [](const char* crc, const char* trailer_sig) {
    return std::string("10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n") +
           std::string(65536, 'a') + "\r\n" +
           "400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n" +
           std::string(1024, 'a') + "\r\n" +
           "0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n" +
           "x-amz-checksum-crc32c:" + crc + "\r\n" + "x-amz-trailer-signature:" + trailer_sig + "\r\n\r\n";
  };
  const char* kTrailerSig = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";
  std::string good = body("sOO8/Q==", kTrailerSig);
  EXPECT_EQ(good.size(), 66946u);
  for (size_t slice : {1u, 333u, 65536u, 100000u}) {
    AwsChunkedDecoder d(*v->streaming);
    std::string out;
    for (size_t pos = 0; pos < good.size(); pos += slice)
      ASSERT_TRUE(d.Feed(std::string_view(good).substr(pos, slice), &out).ok()) << slice;
    EXPECT_TRUE(d.Finish().ok()) << slice;
    EXPECT_EQ(out.size(), 66560u);
    EXPECT_EQ(d.trailers().Get("x-amz-checksum-crc32c"), "sOO8/Q==");
  }
  std::string out;
  EXPECT_EQ(Decode(*v->streaming, body("AAAAAA==", kTrailerSig), 4096, &out).wire_code(), "SignatureDoesNotMatch");
}

TEST(AwsChunkedTest, UnsignedTrailerBodies) {
  StreamingContext ctx;
  ctx.mode = ChunkedMode::kUnsignedTrailer;
  ctx.decoded_length = 11;
  ctx.declared_trailers = {"x-amz-checksum-crc32"};
  std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  std::string out;
  Status s = Decode(ctx, body, 3, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, "hello world");
  out.clear();
  EXPECT_FALSE(Decode(ctx, "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-other:1\r\n\r\n", 3, &out).ok());
}

}  // namespace
}  // namespace euca::api
