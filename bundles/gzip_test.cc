#include "bundles/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bundles/test_support.h"

namespace euca::bundles {
namespace {

using test_support::MixedBytes;
using test_support::Quote;
using test_support::Shell;
using test_support::TempDir;

// What the bundle pipeline does, in one thread: blocks compressed independently, framed as
// one gzip member with a combined CRC.
std::string BlockGzip(const std::string& data, size_t block, int level) {
  DeflateBlockCompressor c(level);
  std::string out = GzipHeader();
  uint32_t crc = 0;
  std::vector<uint8_t> buf(DeflateBlockCompressor::Bound(block));
  for (size_t off = 0; off < data.size(); off += block) {
    size_t n = std::min(block, data.size() - off);
    const auto* p = reinterpret_cast<const uint8_t*>(data.data() + off);
    auto len = c.Compress(p, n, buf.data(), buf.size());
    EXPECT_TRUE(len.ok()) << len.status().ToString();
    out.append(reinterpret_cast<const char*>(buf.data()), *len);
    crc = Crc32Combine(crc, Crc32(0, p, n), n);
  }
  return out + GzipTrailer(crc, data.size());
}

// Inflates with zlib, which must see exactly one gzip member spanning all of `gz`.
std::string ZlibGunzipOneMember(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[65536];
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (rc == Z_OK);
  EXPECT_EQ(rc, Z_STREAM_END);
  EXPECT_EQ(z.avail_in, 0u) << "zlib stopped before the end: more than one member?";
  inflateEnd(&z);
  return out;
}

std::string IsalGunzip(const std::string& gz, size_t in_chunk, size_t out_chunk, Status* status) {
  GzipInflater inf;
  std::string out;
  std::vector<uint8_t> buf(out_chunk);
  for (size_t off = 0; off <= gz.size(); off += in_chunk) {
    size_t n = std::min(in_chunk, gz.size() - off);
    inf.SetInput(reinterpret_cast<const uint8_t*>(gz.data() + off), n);
    while (true) {
      auto got = inf.Inflate(buf.data(), buf.size());
      if (!got.ok()) {
        *status = got.status();
        return out;
      }
      out.append(reinterpret_cast<const char*>(buf.data()), *got);
      if (*got == 0 && inf.NeedsInput()) break;
    }
    if (n == 0) break;
  }
  *status = inf.Finish();
  return out;
}

TEST(GzipTest, Crc32CombineEqualsCrcOfConcatenation) {
  std::string a = MixedBytes(100000, 1), b = MixedBytes(77777, 2);
  auto* pa = reinterpret_cast<const uint8_t*>(a.data());
  auto* pb = reinterpret_cast<const uint8_t*>(b.data());
  uint32_t whole = Crc32(Crc32(0, pa, a.size()), pb, b.size());
  EXPECT_EQ(Crc32Combine(Crc32(0, pa, a.size()), Crc32(0, pb, b.size()), b.size()), whole);
  EXPECT_EQ(whole, crc32(crc32(0, reinterpret_cast<const Bytef*>(a.data()), a.size()),
                         reinterpret_cast<const Bytef*>(b.data()), b.size()))
      << "ISA-L's CRC is gzip's CRC-32";
}

TEST(GzipTest, TrailerHoldsCrcAndIsizeModulo32Bits) {
  std::string t = GzipTrailer(0x11223344, (uint64_t{5} << 32) + 7);
  ASSERT_EQ(t, std::string("\x03\x00\x44\x33\x22\x11\x07\x00\x00\x00", 10));
  EXPECT_EQ(GzipHeader().size(), 10u);
}

TEST(GzipTest, ParallelBlocksFormOneMemberZlibAccepts) {
  std::string data = MixedBytes(3 * 1024 * 1024 + 12345, 7);
  for (int level : {0, 1, 2, 3}) {
    std::string gz = BlockGzip(data, 256 * 1024, level);
    EXPECT_LT(gz.size(), data.size()) << "level " << level;
    EXPECT_EQ(ZlibGunzipOneMember(gz), data) << "level " << level;
  }
}

TEST(GzipTest, ParallelBlocksPassGunzipT) {
  TempDir dir;
  std::string data = MixedBytes(2 * 1024 * 1024 + 1, 8);
  test_support::WriteFile(dir / "x.gz", BlockGzip(data, 64 * 1024, 1));
  std::string out;
  ASSERT_EQ(Shell("gunzip -t " + Quote(dir / "x.gz"), &out), 0) << out;
  ASSERT_EQ(
      Shell("gunzip -c " + Quote(dir / "x.gz") + " > " + Quote(dir / "x") + " && gzip -l " + Quote(dir / "x.gz"), &out),
      0)
      << out;
  EXPECT_EQ(test_support::ReadFile(dir / "x"), data);
}

TEST(GzipTest, EmptyInputIsAValidMember) {
  std::string gz = BlockGzip("", 65536, 1);
  EXPECT_EQ(ZlibGunzipOneMember(gz), "");
  Status s;
  EXPECT_EQ(IsalGunzip(gz, 3, 10, &s), "");
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(GzipTest, InflaterStreamsAnyChunking) {
  std::string data = MixedBytes(1024 * 1024, 9);
  std::string gz = BlockGzip(data, 100000, 1);
  for (auto [in, out] : std::vector<std::pair<size_t, size_t>>{{1, 7}, {13, 65536}, {1 << 20, 1 << 20}, {4096, 1}}) {
    Status s;
    EXPECT_EQ(IsalGunzip(gz, in, out, &s), data) << in << "/" << out;
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
}

TEST(GzipTest, InflaterReadsConcatenatedMembersAndTrailingZeros) {
  TempDir dir;
  test_support::WriteFile(dir / "a", "first member\n");
  test_support::WriteFile(dir / "b", MixedBytes(50000, 3));
  ASSERT_EQ(Shell("cd " + Quote(dir.path()) + " && gzip -c a > ab.gz && gzip -c b >> ab.gz"), 0);
  std::string gz = test_support::ReadFile(dir / "ab.gz");
  Status s;
  EXPECT_EQ(IsalGunzip(gz, 1000, 4096, &s), "first member\n" + MixedBytes(50000, 3));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(IsalGunzip(gz + std::string(1000, '\0'), 777, 4096, &s), "first member\n" + MixedBytes(50000, 3));
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(GzipTest, InflaterRejectsTruncatedCorruptAndTrailingGarbage) {
  std::string data = MixedBytes(300000, 4);
  std::string gz = BlockGzip(data, 65536, 1);
  Status s;
  IsalGunzip(gz.substr(0, gz.size() - 3), 4096, 4096, &s);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.message();

  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 1;
  IsalGunzip(bad_crc, 4096, 4096, &s);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();

  IsalGunzip(gz + "garbage", 4096, 4096, &s);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);

  IsalGunzip("", 4096, 4096, &s);
  EXPECT_NE(s.message().find("no gzip data"), std::string::npos) << s.message();

  IsalGunzip("not gzip at all", 4096, 4096, &s);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
}

// Raw deflate of `a` then `b` in one zlib stream with a sync flush between (b may refer back
// into a); returns the two pieces.
std::pair<std::string, std::string> ZlibTwoPieces(const std::string& a, const std::string& b) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out[2];
  const std::string* in[2] = {&a, &b};
  for (int i = 0; i < 2; ++i) {
    std::string buf(deflateBound(&z, in[i]->size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in[i]->data()));
    z.avail_in = static_cast<uInt>(in[i]->size());
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    EXPECT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    out[i] = buf.substr(0, buf.size() - z.avail_out);
  }
  deflateEnd(&z);
  return {out[0], out[1]};
}

TEST(DeflateBlockInflaterTest, InflatesOneBlockAndItsCrc) {
  std::string data = MixedBytes(200000, 9);
  DeflateBlockCompressor c(1);
  std::vector<uint8_t> block(DeflateBlockCompressor::Bound(data.size()) + DeflateBlockInflater::kInputSlack);
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = *c.Compress(p, data.size(), block.data(), block.size());
  std::vector<uint8_t> out(data.size() + 1);
  DeflateBlockInflater inf;
  uint32_t crc = 0;
  auto got = inf.Inflate(block.data(), n, out.data(), out.size(), &crc);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, data.size());
  EXPECT_EQ(std::string(out.begin(), out.begin() + static_cast<long>(*got)), data);
  EXPECT_EQ(crc, Crc32(0, p, data.size()));
  // The inflater is reused: the next block starts afresh.
  got = inf.Inflate(block.data(), n, out.data(), out.size(), &crc);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, data.size());
  // Too little room is an error, not a truncation.
  EXPECT_NE(inf.Inflate(block.data(), n, out.data(), data.size() - 1, &crc).status().message().find("more than"),
            std::string::npos);
  // Cut short, or with a byte too many: not at a block boundary.
  EXPECT_FALSE(inf.Inflate(block.data(), n - 1, out.data(), out.size(), &crc).ok());
  block[n] = 0;
  EXPECT_FALSE(inf.Inflate(block.data(), n + 1, out.data(), out.size(), &crc).ok());
  // Followed by the final block: refused (a block of the index is never final).
  std::memcpy(block.data() + n, "\x03\x00", 2);
  EXPECT_FALSE(inf.Inflate(block.data(), n + 2, out.data(), out.size(), &crc).ok());
}

TEST(DeflateBlockInflaterTest, RefusesABlockThatRefersToEarlierData) {
  std::string a = MixedBytes(50000, 5);
  auto [first, second] = ZlibTwoPieces(a, a.substr(1000, 20000));
  std::vector<uint8_t> out(100000);
  DeflateBlockInflater inf;
  uint32_t crc = 0;
  first.append(DeflateBlockInflater::kInputSlack, '\0');
  second.append(DeflateBlockInflater::kInputSlack, '\0');
  auto ok = inf.Inflate(reinterpret_cast<uint8_t*>(first.data()), first.size() - 2, out.data(), out.size(), &crc);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();  // a sync flush ends on a block boundary too
  EXPECT_EQ(*ok, a.size());
  Status s =
      inf.Inflate(reinterpret_cast<uint8_t*>(second.data()), second.size() - 2, out.data(), out.size(), &crc).status();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("invalid deflate data"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace euca::bundles
