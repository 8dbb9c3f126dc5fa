#include "core/walrus/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/error_map.h"
#include "core/base/random.h"

namespace euca::walrus {
namespace {

TEST(RulesTest, BucketNames) {
  for (std::string ok : {std::string("abc"), std::string("my-bucket"), std::string("my.bucket.2"), std::string("a1b"),
                         std::string("123"), std::string(63, 'a')})
    EXPECT_TRUE(ValidateBucketName(ok).ok()) << ok;
  for (std::string bad :
       {std::string("ab"), std::string(64, 'a'), std::string("ABC"), std::string("my_bucket"), std::string("-abc"),
        std::string("abc-"), std::string(".abc"), std::string("a..b"), std::string("a.-b"), std::string("a-.b"),
        std::string("192.168.1.1"), std::string("xn--abc"), std::string("sthree-abc"), std::string("abc-s3alias"),
        std::string("abc--ol-s3"), std::string("a/b"), std::string("a b"), std::string("abc\0", 4),
        std::string("\xc3\xa9t\xc3\xa9")}) {
    Status s = ValidateBucketName(bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(s.wire_code(), "InvalidBucketName") << bad;
    EXPECT_EQ(S3HttpStatus(s), 400);
  }
  EXPECT_TRUE(ValidateBucketName("192.168.1.1a").ok());
}

TEST(RulesTest, Keys) {
  EXPECT_TRUE(ValidateKey(std::string(1024, 'k')).ok());
  EXPECT_TRUE(ValidateKey(std::string("\0", 1)).ok());
  EXPECT_EQ(ValidateKey(std::string(1025, 'k')).wire_code(), "KeyTooLongError");
  EXPECT_EQ(ValidateKey("").wire_code(), "InvalidArgument");
}

TEST(RulesTest, Md5AndEtags) {
  Md5 md5;
  md5.Update("hello ");
  md5.Update("world");
  std::string digest = md5.Final();
  EXPECT_EQ(HexEncode(digest), "5eb63bbbe01eeed093cb22bb8f5acdc3");
  EXPECT_EQ(SinglePartEtag(digest), "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
  EXPECT_EQ(EtagMd5("\"5eb63bbbe01eeed093cb22bb8f5acdc3\""), digest);
  EXPECT_EQ(EtagMd5("5EB63BBBE01EEED093CB22BB8F5ACDC3"), digest);
  EXPECT_EQ(EtagMd5("\"abc-2\""), std::nullopt);
  // Multipart: MD5 of the concatenated binary part MD5s, then "-N" (expected value from
  // python: md5(md5(b"a").digest() + md5(b"b").digest()).hexdigest()).
  auto md5_of = [](std::string_view data) {
    Md5 m;
    m.Update(data);
    return m.Final();
  };
  EXPECT_EQ(MultipartEtag({md5_of("a"), md5_of("b")}), "\"96e024ba2074fe77e8e965ba43a704be-2\"");
  EXPECT_EQ(MultipartEtag({md5_of("a")}), "\"" + HexEncode(md5_of(md5_of("a"))) + "-1\"");
  EXPECT_EQ(BareEtag(" W/\"abc\" "), "abc");
  EXPECT_EQ(BareEtag("abc"), "abc");
}

TEST(RulesTest, Base64) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  for (std::string s : {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
                        std::string("\0\xff\x10", 3), RandomBytes(100)})
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  for (const char* bad : {"Zg=", "Z===", "Zg==Zg==", "Zm9v!", "=Zg=", "Zg=a"})
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << bad;
}

TEST(RulesTest, Ranges) {
  auto r = [](const char* h, uint64_t size) { return ResolveRange(h, size); };
  EXPECT_EQ(*r("bytes=0-9", 100), (ByteRange{0, 9}));
  EXPECT_EQ(*r("bytes=10-", 100), (ByteRange{10, 99}));
  EXPECT_EQ(*r("bytes=90-200", 100), (ByteRange{90, 99}));
  EXPECT_EQ(*r("bytes=-10", 100), (ByteRange{90, 99}));
  EXPECT_EQ(*r("bytes=-500", 100), (ByteRange{0, 99}));
  EXPECT_EQ(*r("bytes=0-0", 1), (ByteRange{0, 0}));
  EXPECT_EQ(*r(" Bytes=5-6 ", 100), (ByteRange{5, 6}));
  EXPECT_EQ(r("bytes=0-9", 100)->value().length(), 10u);
  // Ignored (whole object): malformed, other units, several ranges, reversed.
  for (const char* ignored : {"", "bytes", "bytes=", "bytes=a-b", "items=0-1", "bytes=0-1,3-4", "bytes=9-2",
                              "bytes=--1", "bytes=1", "bytes=+1-2"}) {
    auto got = r(ignored, 100);
    ASSERT_TRUE(got.ok()) << ignored;
    EXPECT_EQ(*got, std::nullopt) << ignored;
  }
  // Unsatisfiable: InvalidRange, 416.
  for (auto [h, size] : std::vector<std::pair<const char*, uint64_t>>{
           {"bytes=100-", 100}, {"bytes=100-200", 100}, {"bytes=-0", 100}, {"bytes=0-", 0}, {"bytes=-1", 0}}) {
    auto got = r(h, size);
    EXPECT_EQ(got.status().wire_code(), "InvalidRange") << h;
    EXPECT_EQ(S3HttpStatus(got.status()), 416) << h;
  }
}

TEST(RulesTest, EtagLists) {
  EXPECT_TRUE(EtagListMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagListMatches("abc", "\"abc\""));
  EXPECT_TRUE(EtagListMatches("\"x\", \"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagListMatches("*", "\"abc\""));
  EXPECT_FALSE(EtagListMatches("\"abd\"", "\"abc\""));
  EXPECT_FALSE(EtagListMatches("", "\"abc\""));
}

TEST(RulesTest, ConditionsFollowRfcOrder) {
  const std::string etag = "\"e1\"";
  const int64_t modified = 1'700'000'000'500;  // .5 s: compared at whole seconds
  const int64_t now = modified + 3'600'000;
  auto eval = [&](Conditions c) { return EvaluateConditions(c, etag, modified, now); };
  EXPECT_EQ(eval({}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_match = "\"e1\""}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_match = "\"e2\""}), Precondition::kFailed);
  EXPECT_EQ(eval({.if_none_match = "\"e1\""}), Precondition::kNotModified);
  EXPECT_EQ(eval({.if_none_match = "*"}), Precondition::kNotModified);
  EXPECT_EQ(eval({.if_none_match = "\"e2\""}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_modified_since_ms = modified - 500}), Precondition::kNotModified);  // same second
  EXPECT_EQ(eval({.if_modified_since_ms = modified - 1500}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_modified_since_ms = now + 1000}), Precondition::kProceed);  // future date: ignored
  EXPECT_EQ(eval({.if_unmodified_since_ms = modified - 500}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_unmodified_since_ms = modified - 1500}), Precondition::kFailed);
  // If-Match wins over If-Unmodified-Since (S3: 200); If-None-Match over If-Modified-Since.
  EXPECT_EQ(eval({.if_match = "\"e1\"", .if_unmodified_since_ms = modified - 10'000}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_none_match = "\"e2\"", .if_modified_since_ms = modified + 10'000}), Precondition::kProceed);
  EXPECT_EQ(eval({.if_none_match = "\"e1\"", .if_modified_since_ms = modified - 10'000}), Precondition::kNotModified);
  // 412 before 304.
  EXPECT_EQ(eval({.if_match = "\"e2\"", .if_none_match = "\"e1\""}), Precondition::kFailed);
  Status s = PreconditionFailed("x");
  EXPECT_EQ(s.wire_code(), "PreconditionFailed");
  EXPECT_EQ(S3HttpStatus(s), 412);
}

}  // namespace
}  // namespace euca::walrus
