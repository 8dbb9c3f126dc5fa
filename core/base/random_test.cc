#include "core/base/random.h"

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace euca {
namespace {

TEST(RandomBytesTest, GivesTheSizeAskedAndNeverTheSameBytesTwice) {
  std::set<std::string> seen;
  for (size_t n : {size_t{0}, size_t{1}, size_t{16}, size_t{255}, size_t{256}, size_t{257}, size_t{5000}}) {
    EXPECT_EQ(RandomBytes(n).size(), n);
  }
  // More than one pooled block's worth, in small requests: every id distinct.
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(RandomBytes(16)).second) << "repeated at " << i;
  EXPECT_NE(RandomHex(32), RandomHex(32));
}

TEST(RandomBytesTest, ThreadsDrawDifferentBytes) {
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) threads.emplace_back([&, t] { got[t] = RandomBytes(32); });
  for (auto& th : threads) th.join();
  std::set<std::string> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), got.size());
}

// A forked child must not hand out the bytes its parent's pooled block still holds.
TEST(RandomBytesTest, AForkedChildDrawsOtherBytesThanItsParent) {
  (void)RandomBytes(1);  // the parent's block is filled now
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string mine = RandomBytes(32);
    ssize_t w = ::write(fds[1], mine.data(), mine.size());
    ::_exit(w == 32 ? 0 : 1);
  }
  ::close(fds[1]);
  std::string child(32, '\0');
  size_t got = 0;
  while (got < child.size()) {
    ssize_t r = ::read(fds[0], child.data() + got, child.size() - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_EQ(got, child.size());
  EXPECT_NE(RandomBytes(32), child);
}

}  // namespace
}  // namespace euca
