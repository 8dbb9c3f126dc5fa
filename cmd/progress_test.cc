#include "cmd/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace euca::cmd {
namespace {

TEST(ProgressTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(512ull << 20), "512.0 MiB");
  EXPECT_EQ(HumanBytes(5ull << 30), "5.0 GiB");
}

TEST(ProgressTest, RenderShowsBytesPercentBarAndRate) {
  // 50 MB of 100 MB after one second.
  std::string line = ProgressBar::Render(50'000'000, 100'000'000, 1'000'000'000);
  EXPECT_NE(line.find("47.7 MiB / 95.4 MiB"), std::string::npos) << line;
  EXPECT_NE(line.find(" 50% [###############               ]"), std::string::npos) << line;
  EXPECT_NE(line.find("50.0 MB/s"), std::string::npos) << line;
  EXPECT_NE(ProgressBar::Render(0, 10, 0).find("-- MB/s"), std::string::npos);
  EXPECT_NE(ProgressBar::Render(0, 0, 5).find("100%"), std::string::npos);  // an empty image is done
}

TEST(ProgressTest, DisabledBarWritesNothing) {
  std::ostringstream err;
  FakeClock clock;
  {
    ProgressBar bar(err, clock, false);
    bar.Update(1, 2);
    bar.Update(2, 2);
  }
  EXPECT_EQ(err.str(), "");
}

TEST(ProgressTest, RedrawsAtMostEveryTenthOfASecondAndEndsTheLine) {
  std::ostringstream err;
  FakeClock clock;
  ProgressBar bar(err, clock, true);
  bar.Update(10, 100);  // first: drawn
  bar.Update(20, 100);  // too soon: skipped
  clock.Advance(100);
  bar.Update(30, 100);   // drawn
  bar.Update(100, 100);  // done: always drawn
  bar.Update(100, 100);  // the same again: skipped
  std::string s = err.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\r'), 3) << s;
  EXPECT_EQ(s.find(" 20%"), std::string::npos);
  EXPECT_NE(s.find("100%"), std::string::npos);
  EXPECT_EQ(s.find('\n'), std::string::npos);
  bar.Finish();
  EXPECT_EQ(err.str().back(), '\n');
  bar.Finish();  // idempotent
  s = err.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1);
}

TEST(ProgressTest, ShorterLineWipesTheLongerOne) {
  std::ostringstream err;
  FakeClock clock;
  ProgressBar bar(err, clock, true);
  bar.Update(1023ull << 20, 1ull << 40);  // "1023.0 MiB / 1.0 TiB"
  clock.Advance(1000);
  bar.Update(1ull << 30, 1ull << 40);  // "1.0 GiB / 1.0 TiB": 3 characters shorter
  std::string s = err.str();
  size_t second = s.rfind('\r');
  EXPECT_EQ(s.size() - second, second) << s;  // both draws are as wide
}

}  // namespace
}  // namespace euca::cmd
