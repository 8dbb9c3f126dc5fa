#include "core/walrus/checksum.h"

#include <gtest/gtest.h>

#include <string>

namespace euca::walrus {
namespace {

std::string Of(ChecksumAlgorithm a, std::string_view data, size_t piece) {
  Checksummer c(a);
  for (size_t i = 0; i < data.size(); i += piece) c.Update(data.substr(i, piece));
  return c.FinalBase64();
}

// The check values of each algorithm for "123456789" (CRC catalogue; SHA from FIPS 180),
// whole and in pieces of 1, 3 and 8 bytes, base64 of the big-endian bytes as S3 sends them.
TEST(ChecksumTest, KnownValuesWholeAndInPieces) {
  const std::string data = "123456789";
  const std::pair<ChecksumAlgorithm, const char*> cases[] = {
      {ChecksumAlgorithm::kCrc32, "y/Q5Jg=="},
      {ChecksumAlgorithm::kCrc32c, "4waSgw=="},
      {ChecksumAlgorithm::kCrc64Nvme, "rosUhgp5mIg="},
      {ChecksumAlgorithm::kSha1, "98O8HYCOBHMq32eZZczDTKeuNEE="},
      {ChecksumAlgorithm::kSha256, "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="},
  };
  for (const auto& [a, want] : cases) {
    for (size_t piece : {size_t{9}, size_t{1}, size_t{3}, size_t{8}}) {
      EXPECT_EQ(Of(a, data, piece), want) << ChecksumName(a) << " in pieces of " << piece;
    }
  }
  EXPECT_EQ(Of(ChecksumAlgorithm::kCrc32, "", 1), "AAAAAA==");
  // A long input crosses the eight-byte slices of CRC64NVME at every alignment.
  std::string long_data(1000, '\0');
  for (size_t i = 0; i < long_data.size(); ++i) long_data[i] = static_cast<char>(i * 7 + 1);
  EXPECT_EQ(Of(ChecksumAlgorithm::kCrc64Nvme, long_data, 1), Of(ChecksumAlgorithm::kCrc64Nvme, long_data, 1000));
  EXPECT_EQ(Of(ChecksumAlgorithm::kCrc64Nvme, long_data, 5), Of(ChecksumAlgorithm::kCrc64Nvme, long_data, 13));
}

// A composite checksum is the checksum of the parts' raw checksums, "-N" appended (values
// computed with Python's zlib and hashlib).
TEST(ChecksumTest, CompositeOfParts) {
  auto crc = CompositeChecksum(ChecksumAlgorithm::kCrc32, {Of(ChecksumAlgorithm::kCrc32, "hello ", 6),
                                                          Of(ChecksumAlgorithm::kCrc32, "world", 5)});
  ASSERT_TRUE(crc.ok()) << crc.status().ToString();
  EXPECT_EQ(*crc, "1Fu2mQ==-2");
  auto sha = CompositeChecksum(ChecksumAlgorithm::kSha256, {Of(ChecksumAlgorithm::kSha256, "hello ", 6),
                                                           Of(ChecksumAlgorithm::kSha256, "world", 5)});
  ASSERT_TRUE(sha.ok());
  EXPECT_EQ(*sha, "Zhie15keHg/OBlOZxcoF/BXCgYZaeimRvdZnwUZqkaQ=-2");
  EXPECT_EQ(CompositeChecksum(ChecksumAlgorithm::kCrc32, {"AAAA"}).status().wire_code(), "InvalidRequest");
}

// The CRC of a concatenation, combined from the parts' CRCs and sizes, is the CRC of the whole.
TEST(ChecksumTest, CombinedCrcsEqualTheWholeObjects) {
  std::string data(70000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 9));
  for (auto a : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme}) {
    const size_t cuts[] = {0, 1, 4096, 65536, 69999, 70000};
    std::vector<std::pair<std::string, uint64_t>> parts;
    for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
      std::string_view piece = std::string_view(data).substr(cuts[i], cuts[i + 1] - cuts[i]);
      parts.emplace_back(Of(a, piece, 4096), piece.size());
    }
    auto combined = CombineCrcs(a, parts);
    ASSERT_TRUE(combined.ok()) << combined.status().ToString();
    EXPECT_EQ(*combined, Of(a, data, 8192)) << ChecksumName(a);
  }
  auto hello = CombineCrcs(ChecksumAlgorithm::kCrc32, {{Of(ChecksumAlgorithm::kCrc32, "hello ", 6), 6},
                                                       {Of(ChecksumAlgorithm::kCrc32, "world", 5), 5}});
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(*hello, "DUoRhQ==");
  EXPECT_FALSE(CombineCrcs(ChecksumAlgorithm::kSha1, {}).ok());
}

TEST(ChecksumTest, StoredForm) {
  StoredChecksum c{ChecksumAlgorithm::kCrc32c, "4waSgw==-3"};
  EXPECT_EQ(FormatStoredChecksum(c), "CRC32C:4waSgw==-3");
  auto back = ParseStoredChecksum("CRC32C:4waSgw==-3");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->algorithm, ChecksumAlgorithm::kCrc32c);
  EXPECT_EQ(back->value, "4waSgw==-3");
  EXPECT_EQ(back->type(), "COMPOSITE");
  EXPECT_EQ(ParseStoredChecksum("SHA1:98O8HYCOBHMq32eZZczDTKeuNEE=")->type(), "FULL_OBJECT");
  EXPECT_FALSE(ParseStoredChecksum(""));
  EXPECT_FALSE(ParseStoredChecksum("MD9:x"));
}

TEST(ChecksumTest, NamesAndHeaders) {
  EXPECT_EQ(ParseChecksumAlgorithm("crc64nvme"), ChecksumAlgorithm::kCrc64Nvme);
  EXPECT_EQ(ParseChecksumAlgorithm("SHA256"), ChecksumAlgorithm::kSha256);
  EXPECT_FALSE(ParseChecksumAlgorithm("md5"));
  EXPECT_EQ(ChecksumHeader(ChecksumAlgorithm::kCrc32c), "x-amz-checksum-crc32c");
}

TEST(ChecksumTest, ExpectedChecksumFromHeadersOrTrailer) {
  auto none = ExpectedChecksumOf(Headers{{"x-amz-checksum-mode", "ENABLED"}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);

  auto header = ExpectedChecksumOf(Headers{{"X-Amz-Checksum-CRC32", "y/Q5Jg=="}});
  ASSERT_TRUE(header.ok());
  ASSERT_TRUE(*header);
  EXPECT_EQ((*header)->algorithm, ChecksumAlgorithm::kCrc32);
  EXPECT_EQ((*header)->value, "y/Q5Jg==");

  auto trailer = ExpectedChecksumOf(Headers{{"x-amz-trailer", "x-amz-checksum-crc64nvme"}});
  ASSERT_TRUE(trailer.ok());
  ASSERT_TRUE(*trailer);
  EXPECT_EQ((*trailer)->algorithm, ChecksumAlgorithm::kCrc64Nvme);
  EXPECT_FALSE((*trailer)->value);

  EXPECT_EQ(ExpectedChecksumOf(Headers{{"x-amz-checksum-crc32", "y/Q5Jg=="}, {"x-amz-checksum-sha1", "x"}})
                .status()
                .wire_code(),
            "InvalidRequest");
  EXPECT_EQ(ExpectedChecksumOf(Headers{{"x-amz-checksum-crc32", "AAAA"}}).status().wire_code(), "InvalidRequest");
  EXPECT_EQ(ExpectedChecksumOf(Headers{{"x-amz-trailer", "x-amz-meta-foo"}}).status().wire_code(), "InvalidRequest");
  // An algorithm not known here would go unchecked: refused, never ignored.
  EXPECT_EQ(ExpectedChecksumOf(Headers{{"x-amz-checksum-sha512", "AAAA"}}).status().wire_code(), "NotImplemented");
  EXPECT_EQ(ExpectedChecksumOf(Headers{{"x-amz-checksum-xxhash64", "AAAA"}}).status().wire_code(), "NotImplemented");
  EXPECT_TRUE(ExpectedChecksumOf(Headers{{"x-amz-checksum-type", "COMPOSITE"}, {"x-amz-checksum-algorithm", "SHA1"}}).ok());

  EXPECT_TRUE(CheckChecksum(ChecksumAlgorithm::kCrc32, "y/Q5Jg==", "y/Q5Jg==").ok());
  EXPECT_EQ(CheckChecksum(ChecksumAlgorithm::kCrc32, "AAAAAA==", "y/Q5Jg==").wire_code(), "BadDigest");
}

TEST(ChecksumTest, ObjectChecksumOfCompleteTakesTheCompositeForm) {
  auto none = ObjectChecksumOf(Headers{{"x-amz-checksum-type", "COMPOSITE"}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  for (std::string value : {"y/Q5Jg==", "y/Q5Jg==-1", "y/Q5Jg==-10000"}) {
    auto got = ObjectChecksumOf(Headers{{"X-Amz-Checksum-CRC32", value}});
    ASSERT_TRUE(got.ok()) << value << ": " << got.status().message();
    ASSERT_TRUE(*got);
    EXPECT_EQ((*got)->algorithm, ChecksumAlgorithm::kCrc32);
    EXPECT_EQ((*got)->value, value);
  }
  for (std::string value : {"", "-2", "AAAA-2", "y/Q5Jg==-", "y/Q5Jg==-0", "y/Q5Jg==-02", "y/Q5Jg==-10001",
                            "y/Q5Jg==-1x", "y/Q5Jg==-2-2", "y/Q5Jg==-99999999999"}) {
    EXPECT_EQ(ObjectChecksumOf(Headers{{"x-amz-checksum-crc32", value}}).status().wire_code(), "InvalidRequest")
        << value;
  }
  EXPECT_EQ(ObjectChecksumOf(Headers{{"x-amz-checksum-crc32", "y/Q5Jg=="}, {"x-amz-checksum-sha1", "x"}})
                .status()
                .wire_code(),
            "InvalidRequest");
  EXPECT_EQ(ObjectChecksumOf(Headers{{"x-amz-checksum-sha512", "AAAA"}}).status().wire_code(), "NotImplemented");
}

}  // namespace
}  // namespace euca::walrus
