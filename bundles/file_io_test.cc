#include "bundles/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
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

// The ways an ImageWriter may end up writing; every test of its output runs in each.
enum class Mode {
  kDirect,             // O_DIRECT where the test folder's file system has it
  kBuffered,           // direct_io off
  kRefusedAtOpen,      // the file system refuses to set O_DIRECT (EINVAL)
  kRefusedAtFirstWrite,  // O_DIRECT is set, but its first write fails with EINVAL
};

std::string ModeName(const testing::TestParamInfo<Mode>& info) {
  switch (info.param) {
    case Mode::kDirect: return "Direct";
    case Mode::kBuffered: return "Buffered";
    case Mode::kRefusedAtOpen: return "RefusedAtOpen";
    case Mode::kRefusedAtFirstWrite: return "RefusedAtFirstWrite";
  }
  return "?";
}

bool HasDirect(int fd) { return (::fcntl(fd, F_GETFL) & O_DIRECT) != 0; }

// Seams: a file system that has no O_DIRECT at all, and one whose direct writes all fail
// (a device that wants bigger blocks); each counts the refusals.
std::atomic<int> refusals{0};
int RefuseDirectFlag(int fd, int flags) {
  if ((flags & O_DIRECT) != 0) {
    ++refusals;
    errno = EINVAL;
    return -1;
  }
  return ::fcntl(fd, F_SETFL, flags);
}
ssize_t RefuseDirectWrite(int fd, const void* buf, size_t n, off_t offset) {
  if (HasDirect(fd)) {
    ++refusals;
    errno = EINVAL;
    return -1;
  }
  return ::pwrite(fd, buf, n, offset);
}

ImageWriterOptions OptionsFor(Mode mode) {
  switch (mode) {
    case Mode::kDirect: return {};
    case Mode::kBuffered: return {.direct_io = false};
    case Mode::kRefusedAtOpen: return {.set_fl_for_test = &RefuseDirectFlag};
    case Mode::kRefusedAtFirstWrite: return {.pwrite_for_test = &RefuseDirectWrite};
  }
  return {};
}

// Whether files in `dir` can be opened with O_DIRECT.
bool DirectIoWorksIn(const std::string& dir) {
  const std::string path = dir + "/.direct-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  ::unlink(path.c_str());
  return fd >= 0;
}

// Writes `data` with an ImageWriter in `mode` in calls cut at `cuts` (offsets into data),
// then finishes it at the data's size; returns the file's path.
std::string WriteInCalls(const TempDir& dir, const std::string& name, const std::string& data,
                         const std::vector<size_t>& cuts, Mode mode = Mode::kDirect) {
  auto f = File::Create(dir / name, 0644);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  {
    ImageWriter w(*f, OptionsFor(mode));
    size_t at = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(data.size());
    for (size_t end : ends) {
      Status s = w.Write(at, reinterpret_cast<const uint8_t*>(data.data()) + at, end - at);
      EXPECT_TRUE(s.ok()) << s.ToString();
      at = end;
    }
    Status s = w.Finish(data.size());
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (mode != Mode::kDirect) {
      EXPECT_FALSE(w.direct());
    } else if (DirectIoWorksIn(dir.path())) {
      EXPECT_TRUE(w.direct());
    }
  }
  EXPECT_TRUE(f->Close().ok());
  return dir / name;
}

// Whether the file has a hole at `offset` (SEEK_HOLE from there lands there).
bool HoleAt(const std::string& path, uint64_t offset) {
  auto f = File::OpenRead(path);
  if (!f.ok()) return false;
  return ::lseek(f->fd(), static_cast<off_t>(offset), SEEK_HOLE) == static_cast<off_t>(offset);
}

class ImageWriterTest : public testing::TestWithParam<Mode> {};

// `n` random bytes: no block of them is all zeros.
std::string DataBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(1 + rng() % 255);
  return out;
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

TEST_P(ImageWriterTest, EveryZeroBlockIsAHoleAndTheBytesReadBack) {
  TempDir dir;
  const std::string data = ScatteredZeroBlocks();
  const std::string path = WriteInCalls(dir, "img", data, {}, GetParam());
  EXPECT_TRUE(ReadFile(path) == data);
  EXPECT_TRUE(HoleAt(path, kBlock)) << "the single zero blocks between data are holes";
  EXPECT_LE(AllocatedBytes(path), data.size() / 2) << "a quarter is data";
}

TEST_P(ImageWriterTest, AZeroBlockCutAcrossTwoCallsIsStillAHole) {
  TempDir dir;
  const std::string data = MixedBytes(kBlock, 7) + std::string(kBlock, '\0') + MixedBytes(kBlock, 8);
  // Cut inside the zero block, and inside each data block.
  const std::string path = WriteInCalls(dir, "img", data, {100, kBlock + 512, 2 * kBlock + 9}, GetParam());
  EXPECT_TRUE(ReadFile(path) == data);
  EXPECT_TRUE(HoleAt(path, kBlock));
}

TEST_P(ImageWriterTest, ZerosBesideDataInOneBlockAndAnEndInZerosReadBack) {
  TempDir dir;
  // Data with zeros at a call's edge inside the same block, then a file that ends in a hole.
  std::string data = MixedBytes(1000, 9) + std::string(kBlock, '\0') + "x" + std::string(5 * kBlock, '\0');
  const std::string path = WriteInCalls(dir, "img", data, {1000, 1500, kBlock + 1000, kBlock + 1001}, GetParam());
  EXPECT_EQ(ReadFile(path).size(), data.size());
  EXPECT_TRUE(ReadFile(path) == data);
  EXPECT_TRUE(HoleAt(path, 2 * kBlock));
}

TEST_P(ImageWriterTest, GapsBetweenCallsAreHoles) {
  TempDir dir;
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  const std::string a = MixedBytes(kBlock, 3), b = MixedBytes(kBlock, 4);
  {
    ImageWriter w(*f, OptionsFor(GetParam()));
    ASSERT_TRUE(w.Write(0, reinterpret_cast<const uint8_t*>(a.data()), a.size()).ok());
    ASSERT_TRUE(w.Write(10 * kBlock, reinterpret_cast<const uint8_t*>(b.data()), b.size()).ok());
    ASSERT_TRUE(w.Finish(11 * kBlock).ok());
  }
  ASSERT_TRUE(f->Close().ok());
  EXPECT_TRUE(ReadFile(dir / "img") == a + std::string(9 * kBlock, '\0') + b);
  EXPECT_TRUE(HoleAt(dir / "img", kBlock));
}

// Several staging windows' worth: blocks of data, of zeros and of both, some runs longer than
// a window, cut into calls of odd sizes (some across windows) with gaps, and an end that is
// not a whole block; every zero block is a hole, every other one is not.
TEST_P(ImageWriterTest, ManyWindowsOfMixedBlocksCutAnywhereReadBackWithEveryZeroBlockAHole) {
  TempDir dir;
  std::mt19937 rng(11);
  std::string data;
  while (data.size() < 5 * ImageWriter::kStageBytes) {
    switch (rng() % 4) {
      case 0: data += std::string(kBlock * (1 + rng() % 3), '\0'); break;
      case 1: data += MixedBytes(kBlock * (1 + rng() % 8), static_cast<uint32_t>(rng())); break;
      case 2: data += MixedBytes(kBlock * 300, static_cast<uint32_t>(rng())); break;  // past a window
      default: data += std::string(kBlock - 5, '\0') + "edge!"; break;             // data at a block's end
    }
  }
  data += MixedBytes(777, 5);
  std::vector<size_t> cuts;
  for (size_t at = rng() % 70000; at < data.size(); at += 1 + rng() % 300000) cuts.push_back(at);
  cuts.push_back(ImageWriter::kStageBytes);  // a cut right at a window's edge
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  const std::string path = WriteInCalls(dir, "img", data, cuts, GetParam());
  EXPECT_TRUE(ReadFile(path) == data);
  int holes = 0;
  for (size_t b = 0; b + kBlock <= data.size(); b += kBlock) {
    const bool zero = IsAllZero(reinterpret_cast<const uint8_t*>(data.data()) + b, kBlock);
    EXPECT_EQ(HoleAt(path, b), zero) << "block at " << b;
    holes += zero;
  }
  EXPECT_GT(holes, 50);
}

INSTANTIATE_TEST_SUITE_P(Modes, ImageWriterTest,
                         testing::Values(Mode::kDirect, Mode::kBuffered, Mode::kRefusedAtOpen,
                                         Mode::kRefusedAtFirstWrite),
                         ModeName);

TEST(ImageWriterDirectTest, WritesWithODirectAndFillsNoPageCache) {
  TempDir dir;
  if (!DirectIoWorksIn(dir.path())) GTEST_SKIP() << "the temporary folder's file system has no O_DIRECT";
  struct statfs fs;
  ASSERT_EQ(::statfs(dir.path().c_str(), &fs), 0);
  const std::string data = DataBytes(3 * ImageWriter::kStageBytes + 100, 21);
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  ImageWriter w(*f);
  EXPECT_TRUE(w.direct());
  EXPECT_TRUE(HasDirect(f->fd()));
  ASSERT_TRUE(w.Write(0, reinterpret_cast<const uint8_t*>(data.data()), data.size()).ok());
  ASSERT_TRUE(w.Finish(data.size()).ok());
  EXPECT_TRUE(w.direct()) << "no write fell back";
  if (fs.f_type != TMPFS_MAGIC) {  // tmpfs's direct I/O goes through its page cache, its memory
    auto r = File::OpenRead(dir / "img");
    ASSERT_TRUE(r.ok());
    void* map = ::mmap(nullptr, data.size(), PROT_READ, MAP_SHARED, r->fd(), 0);
    ASSERT_NE(map, MAP_FAILED);
    std::vector<unsigned char> resident((data.size() + kBlock - 1) / kBlock);
    ASSERT_EQ(::mincore(map, data.size(), resident.data()), 0);
    ::munmap(map, data.size());
    size_t cached = 0;
    for (unsigned char r : resident) cached += r & 1;
    EXPECT_EQ(cached, 0u) << "pages of the image in the page cache";
  }
  ASSERT_TRUE(f->Close().ok());
  EXPECT_TRUE(ReadFile(dir / "img") == data);
}

TEST(ImageWriterDirectTest, FallsBackToBufferedWhenSettingODirectFails) {
  TempDir dir;
  refusals = 0;
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  ImageWriter w(*f, {.set_fl_for_test = &RefuseDirectFlag});
  EXPECT_FALSE(w.direct());
  EXPECT_FALSE(HasDirect(f->fd()));
  EXPECT_EQ(refusals.load(), 1);
  const std::string data = DataBytes(2 * kBlock + 3, 4);
  ASSERT_TRUE(w.Write(0, reinterpret_cast<const uint8_t*>(data.data()), data.size()).ok());
  ASSERT_TRUE(w.Finish(data.size()).ok());
  EXPECT_TRUE(ReadFile(dir / "img") == data);
}

TEST(ImageWriterDirectTest, FallsBackToBufferedWhenADirectWriteFailsWithEinval) {
  TempDir dir;
  refusals = 0;
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  ImageWriter w(*f, {.pwrite_for_test = &RefuseDirectWrite});
  const bool had_direct = w.direct();
  const std::string data = DataBytes(3 * ImageWriter::kStageBytes, 6);
  ASSERT_TRUE(w.Write(0, reinterpret_cast<const uint8_t*>(data.data()), data.size()).ok());
  ASSERT_TRUE(w.Finish(data.size()).ok());
  EXPECT_FALSE(w.direct());
  EXPECT_FALSE(HasDirect(f->fd()));
  // A refusal at the first write of each writer thread that wrote while O_DIRECT was on,
  // if the file system let it be set at all.
  if (had_direct) {
    EXPECT_GE(refusals.load(), 1);
    EXPECT_LE(refusals.load(), static_cast<int>(ImageWriter::kWriterThreads));
  } else {
    EXPECT_EQ(refusals.load(), 0);
  }
  EXPECT_TRUE(ReadFile(dir / "img") == data);
}

ssize_t DiskFull(int, const void*, size_t, off_t) {
  errno = ENOSPC;
  return -1;
}

TEST(ImageWriterDirectTest, AWriteErrorNamesTheFile) {
  TempDir dir;
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  ImageWriter w(*f, {.pwrite_for_test = &DiskFull});
  const std::string data = DataBytes(kBlock, 6);
  // The first call only stages; the error shows at the latest at Finish.
  Status s = w.Write(0, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  if (s.ok()) s = w.Finish(data.size());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("write '" + dir / "img" + "'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("No space"), std::string::npos) << s.ToString();
}

TEST(ImageWriterDirectTest, AWriteErrorStopsLaterWrites) {
  TempDir dir;
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  ImageWriter w(*f, {.pwrite_for_test = &DiskFull});
  const std::string data = DataBytes(ImageWriter::kStageBytes, 6);
  Status s;
  // The pool holds kStageSlots windows: past them a write waits for the writer, which failed.
  for (uint64_t i = 0; i < 4 * ImageWriter::kStageSlots && s.ok(); ++i)
    s = w.Write(i * data.size(), reinterpret_cast<const uint8_t*>(data.data()), data.size());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("No space"), std::string::npos) << s.ToString();
  EXPECT_FALSE(w.Finish(data.size()).ok());
}

TEST(ImageWriterDirectTest, DataBeforeTheEndOfEarlierDataIsRefused) {
  TempDir dir;
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  ImageWriter w(*f);
  const std::string data = DataBytes(2 * kBlock, 6);
  ASSERT_TRUE(w.Write(kBlock, reinterpret_cast<const uint8_t*>(data.data()), data.size()).ok());
  Status s = w.Write(2 * kBlock, reinterpret_cast<const uint8_t*>(data.data()), 10);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
}

TEST(ImageWriterDirectTest, ASizeShortOfTheDataIsRefused) {
  TempDir dir;
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  ImageWriter w(*f);
  const std::string data = DataBytes(kBlock, 6);
  ASSERT_TRUE(w.Write(0, reinterpret_cast<const uint8_t*>(data.data()), data.size()).ok());
  EXPECT_EQ(w.Finish(100).code(), Code::kInvalidArgument);
}

TEST(ImageWriterDirectTest, DestroyedWithoutFinishStopsItsThread) {
  TempDir dir;
  auto f = File::Create(dir / "img", 0644);
  ASSERT_TRUE(f.ok());
  const std::string data = DataBytes(ImageWriter::kStageBytes, 6);
  {
    ImageWriter w(*f);
    for (uint64_t i = 0; i < 2 * ImageWriter::kStageSlots; ++i)
      ASSERT_TRUE(w.Write(i * data.size(), reinterpret_cast<const uint8_t*>(data.data()), data.size()).ok());
  }
  ASSERT_TRUE(f->Close().ok());
  // What it wrote is whole windows; the rest was dropped.
  EXPECT_EQ(ReadFile(dir / "img").size() % ImageWriter::kStageBytes, 0u);
}

}  // namespace
}  // namespace euca::bundles
