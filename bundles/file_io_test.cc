#include "bundles/file_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "bundles/test_support.h"

namespace euca::bundles {
namespace {

using test_support::MixedBytes;
using test_support::ReadFile;
using test_support::TempDir;

// A file system block: the granule of holes.
constexpr size_t kBlock = 4096;

// Writes `data` with WriteSparse in calls cut at `cuts` (offsets into data), then sets the
// size; returns the file's path.
std::string WriteInCalls(const TempDir& dir, const std::string& name, const std::string& data,
                         const std::vector<size_t>& cuts) {
  auto f = File::Create(dir / name, 0644);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  size_t at = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(data.size());
  for (size_t end : ends) {
    Status s = WriteSparse(*f, at, reinterpret_cast<const uint8_t*>(data.data()) + at, end - at);
    EXPECT_TRUE(s.ok()) << s.ToString();
    at = end;
  }
  EXPECT_TRUE(f->Truncate(data.size()).ok());
  EXPECT_TRUE(f->Close().ok());
  return dir / name;
}

// Whether the file has a hole at `offset` (SEEK_HOLE from there lands there).
bool HoleAt(const std::string& path, uint64_t offset) {
  auto f = File::OpenRead(path);
  if (!f.ok()) return false;
  return ::lseek(f->fd(), static_cast<off_t>(offset), SEEK_HOLE) == static_cast<off_t>(offset);
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ~uint64_t{0};
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// One block of data, then three of zeros, 64 times: no 64 KiB run of zeros anywhere.
std::string ScatteredZeroBlocks() {
  std::string data;
  for (int i = 0; i < 64; ++i) data += MixedBytes(kBlock, static_cast<uint32_t>(i + 1)) + std::string(3 * kBlock, '\0');
  return data;
}

TEST(WriteSparseTest, EveryZeroBlockIsAHoleAndTheBytesReadBack) {
  TempDir dir;
  const std::string data = ScatteredZeroBlocks();
  const std::string path = WriteInCalls(dir, "img", data, {});
  EXPECT_TRUE(ReadFile(path) == data);
  EXPECT_TRUE(HoleAt(path, kBlock)) << "the single zero blocks between data are holes";
  EXPECT_LE(AllocatedBytes(path), data.size() / 2) << "a quarter is data";
}

TEST(WriteSparseTest, AZeroBlockCutAcrossTwoCallsIsStillAHole) {
  TempDir dir;
  const std::string data = MixedBytes(kBlock, 7) + std::string(kBlock, '\0') + MixedBytes(kBlock, 8);
  // Cut inside the zero block, and inside each data block.
  const std::string path = WriteInCalls(dir, "img", data, {100, kBlock + 512, 2 * kBlock + 9});
  EXPECT_TRUE(ReadFile(path) == data);
  EXPECT_TRUE(HoleAt(path, kBlock));
}

TEST(WriteSparseTest, ZerosBesideDataInOneBlockAndAnEndInZerosReadBack) {
  TempDir dir;
  // Data with zeros at a call's edge inside the same block, then a file that ends in a hole.
  std::string data = MixedBytes(1000, 9) + std::string(kBlock, '\0') + "x" + std::string(5 * kBlock, '\0');
  const std::string path = WriteInCalls(dir, "img", data, {1000, 1500, kBlock + 1000, kBlock + 1001});
  EXPECT_EQ(ReadFile(path).size(), data.size());
  EXPECT_TRUE(ReadFile(path) == data);
  EXPECT_TRUE(HoleAt(path, 2 * kBlock));
}

TEST(WriteSparseTest, GapsBetweenCallsAreHoles) {
  TempDir dir;
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  const std::string a = MixedBytes(kBlock, 3), b = MixedBytes(kBlock, 4);
  ASSERT_TRUE(WriteSparse(*f, 0, reinterpret_cast<const uint8_t*>(a.data()), a.size()).ok());
  ASSERT_TRUE(WriteSparse(*f, 10 * kBlock, reinterpret_cast<const uint8_t*>(b.data()), b.size()).ok());
  ASSERT_TRUE(f->Truncate(11 * kBlock).ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_TRUE(ReadFile(dir / "img") == a + std::string(9 * kBlock, '\0') + b);
  EXPECT_TRUE(HoleAt(dir / "img", kBlock));
}

}  // namespace
}  // namespace euca::bundles
