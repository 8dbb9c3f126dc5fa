#include "core/base/env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace euca {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  EnvTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "euca-env-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  ~EnvTest() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(EnvTest, CreateSparseFileMakesANewFileOfItsSizeWithExactlyItsMode) {
  const std::string path = JoinPath(dir_, "disk.img");
  mode_t old = ::umask(077);
  Status s = PosixEnv().CreateSparseFile(path, 1ull << 30, 0640, "");
  ::umask(old);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(PosixEnv().FileSize(path).value(), 1ull << 30);
  EXPECT_EQ(PosixEnv().Mode(path).value(), 0640u);  // not narrowed by the umask
  EXPECT_LT(PosixEnv().AllocatedBytes(path).value(), 1ull << 20);  // holes, not 1 GiB of zeros
}

TEST_F(EnvTest, CreateSparseFileRefusesAnExistingFileAndLeavesItAlone) {
  const std::string path = JoinPath(dir_, "disk.img");
  ASSERT_TRUE(PosixEnv().WriteFileAtomic(path, "keep", 0600).ok());
  Status s = PosixEnv().CreateSparseFile(path, 4096, 0600, "");
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_EQ(PosixEnv().ReadFile(path).value(), "keep");
}

TEST_F(EnvTest, CreateSparseFileThatCannotBeSizedLeavesNothing) {
  const std::string path = JoinPath(dir_, "huge.img");
  // Beyond any filesystem's largest file: ftruncate fails (EFBIG or EINVAL).
  Status s = PosixEnv().CreateSparseFile(path, ~0ull >> 1, 0600, "");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(PosixEnv().Exists(path));
}

TEST_F(EnvTest, CreateSparseFileStartsWithItsHeadAndHolesFollow) {
  const std::string path = JoinPath(dir_, "swap.img");
  const std::string head = std::string(4086, '\0') + "SWAPSPACE2";
  ASSERT_TRUE(PosixEnv().CreateSparseFile(path, 8ull << 20, 0600, head).ok());
  EXPECT_EQ(PosixEnv().FileSize(path).value(), 8ull << 20);
  std::string data = PosixEnv().ReadFile(path).value();
  EXPECT_EQ(data.substr(0, head.size()), head);
  EXPECT_EQ(data.find_first_not_of('\0', head.size()), std::string::npos);
  EXPECT_LT(PosixEnv().AllocatedBytes(path).value(), 1ull << 20);
}

TEST_F(EnvTest, CreateSparseFileRefusesAHeadLongerThanTheFile) {
  const std::string path = JoinPath(dir_, "small.img");
  Status s = PosixEnv().CreateSparseFile(path, 4, 0600, "12345");
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(PosixEnv().Exists(path));
}

}  // namespace
}  // namespace euca
