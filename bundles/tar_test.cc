#include "bundles/tar.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "bundles/test_support.h"

namespace euca::bundles {
namespace {

using test_support::Quote;
using test_support::Shell;
using test_support::TempDir;

// Writes a whole tar stream for one member; `data` empty with `size` > 0 leaves a hole.
void WriteTar(const std::string& path, const std::string& name, uint64_t size, const std::string& data) {
  auto header = TarMemberHeader(name, size, 1700000000);
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, header->data(), header->size()), static_cast<ssize_t>(header->size()));
  if (!data.empty()) {
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  uint64_t end = header->size() + size;
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(end + TarTrailerSize(end))), 0);
  ::close(fd);
  EXPECT_EQ((end + TarTrailerSize(end)) % kTarRecord, 0u);
}

TEST(TarTest, GnuTarReadsTheMember) {
  TempDir dir;
  std::string data = test_support::MixedBytes(123457, 1);
  WriteTar(dir / "x.tar", "my-image", data.size(), data);
  std::string out;
  ASSERT_EQ(Shell("tar -tvf " + Quote(dir / "x.tar"), &out), 0) << out;
  EXPECT_NE(out.find("123457"), std::string::npos) << out;
  EXPECT_NE(out.find("my-image"), std::string::npos) << out;
  EXPECT_NE(out.find("-rw-r--r--"), std::string::npos) << out;
  ASSERT_EQ(Shell("cd " + Quote(dir.path()) + " && tar -xf x.tar", &out), 0) << out;
  EXPECT_EQ(test_support::ReadFile(dir / "my-image"), data);
}

TEST(TarTest, SizesBeyond8GiBUsePaxAndGnuTarReadsThem) {
  TempDir dir;
  const uint64_t size = 9ull << 30;  // 9 GiB: more than 11 octal digits hold
  WriteTar(dir / "big.tar", "big-image", size, "");
  std::string out;
  ASSERT_EQ(Shell("tar -tvf " + Quote(dir / "big.tar"), &out), 0) << out;
  EXPECT_NE(out.find(std::to_string(size)), std::string::npos) << out;
  EXPECT_NE(out.find(" big-image"), std::string::npos) << out;
  EXPECT_EQ(out.find("PaxHeaders"), std::string::npos) << "the pax header is metadata, not a member: " << out;
}

TEST(TarTest, SizesBelow8GiBAreUstar) {
  auto h = TarMemberHeader("img", (8ull << 30) - 1, 0);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size(), kTarBlock);
  EXPECT_EQ(h->substr(124, 12), std::string("77777777777\0", 12));
  EXPECT_EQ(h->substr(257, 8), std::string("ustar\0"
                                           "00",
                                           8));
  auto pax = TarMemberHeader("img", 8ull << 30, 0);
  ASSERT_TRUE(pax.ok());
  EXPECT_EQ(pax->size(), 3 * kTarBlock);
  EXPECT_NE(pax->find("size=8589934592\n"), std::string::npos);
}

TEST(TarTest, LongNamesUsePaxPath) {
  TempDir dir;
  std::string name(150, 'n');
  WriteTar(dir / "long.tar", name, 5, "hello");
  std::string out;
  ASSERT_EQ(Shell("tar -tf " + Quote(dir / "long.tar"), &out), 0) << out;
  EXPECT_EQ(out, name + "\n");
}

TEST(TarTest, RefusesNamesThatAreNotPlainFileNames) {
  for (const char* bad : {"", ".", "..", "a/b", "/etc/passwd"}) {
    auto h = TarMemberHeader(bad, 1, 0);
    ASSERT_FALSE(h.ok()) << bad;
    EXPECT_EQ(h.status().code(), Code::kInvalidArgument);
  }
}

TEST(TarTest, TrailerPadsToARecord) {
  EXPECT_EQ(TarTrailerSize(512), 10240u - 512);
  EXPECT_EQ(TarTrailerSize(513), 10240u - 513);
  EXPECT_EQ(TarTrailerSize(10240 - 1024), 1024u);
  EXPECT_EQ(TarTrailerSize(10240 - 1023), 1023u + 10240);
}

}  // namespace
}  // namespace euca::bundles
