#include "core/base/command.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace euca {
namespace {

Command Sh(const std::string& script) { return Command{.argv = {"sh", "-c", script}}; }

TEST(CommandTest, ToStringQuotesWhatAShellWouldSplit) {
  Command cmd{.argv = {"qemu-img", "create", "-f", "qcow2", "/var/lib/a b.qcow2", "1G"}};
  cmd.env = {{"LC_ALL", "C"}};
  EXPECT_EQ(cmd.ToString(), "LC_ALL=C qemu-img create -f qcow2 '/var/lib/a b.qcow2' 1G");
}

TEST(CommandTest, RealRunnerCapturesOutputAndExitCode) {
  auto r = RealCommandRunner().Run(Sh("echo out; echo err >&2"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(CommandTest, RealRunnerFeedsStdinAndEnvAndDir) {
  Command cmd = Sh("cat; echo \" $FOO\"; pwd");
  cmd.stdin_data = "hello";
  cmd.env = {{"FOO", "bar baz"}};
  cmd.working_dir = "/";
  auto r = RealCommandRunner().Run(cmd);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "hello bar baz\n/\n");
}

TEST(CommandTest, NonZeroExitIsAnErrorNamingTheProgramAndStderrTail) {
  auto r = RealCommandRunner().Run(Sh("echo one >&2; echo 'bad thing' >&2; exit 3"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInternal);
  EXPECT_EQ(r.status().message(), "'sh' exited with status 3: one bad thing");
}

TEST(CommandTest, AcceptFailureReturnsTheExitCode) {
  Command cmd = Sh("exit 7");
  cmd.accept_failure = true;
  auto r = RealCommandRunner().Run(cmd);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 7);
}

TEST(CommandTest, MissingProgramIsNotFound) {
  auto r = RealCommandRunner().Run(Command{.argv = {"euca-no-such-program-xyz"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "program 'euca-no-such-program-xyz' not found in PATH");
  EXPECT_EQ(RealCommandRunner().Run(Command{}).status().code(), Code::kInvalidArgument);
}

TEST(CommandTest, TimeoutKillsTheProgram) {
  Command cmd{.argv = {"sleep", "30"}};
  cmd.timeout = std::chrono::milliseconds(100);
  auto r = RealCommandRunner().Run(cmd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().message(), "'sleep' timed out after 100 ms and was killed");
}

TEST(CommandTest, OutputIsBoundedHeadOfStdoutTailOfStderr) {
  Command cmd = Sh("seq 1 10000; seq 1 10000 >&2");
  cmd.max_output_bytes = 10;
  auto r = RealCommandRunner().Run(cmd);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "1\n2\n3\n4\n5\n");
  EXPECT_TRUE(r->out_truncated);
  EXPECT_EQ(r->err, "999\n10000\n");
  EXPECT_TRUE(r->err_truncated);
}

TEST(CommandTest, StdinUnreadByTheProgramIsNoCrash) {
  Command cmd = Sh("exit 0");
  cmd.stdin_data = std::string(4 << 20, 'x');
  auto r = RealCommandRunner().Run(cmd);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST(CommandTest, KilledBySignalIsReported) {
  auto r = RealCommandRunner().Run(Sh("kill -9 $$"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "'sh' was killed by signal 9");
}

TEST(RecordingCommandRunnerTest, RecordsAndAnswersScriptedResults) {
  RecordingCommandRunner runner;
  runner.SetResult("qemu-img", CommandResult{.exit_code = 0, .out = "{}"});
  runner.SetResult("mkfs.ext4", CommandResult{.exit_code = 1, .err = "mkfs.ext4: no space\n"});
  runner.SetError("dnsmasq", Unavailable("gone"));

  auto a = runner.Run(Command{.argv = {"/usr/bin/qemu-img", "info", "x"}});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->out, "{}");
  auto b = runner.Run(Command{.argv = {"mkfs.ext4", "/dev/x"}});
  EXPECT_EQ(b.status().message(), "'mkfs.ext4' exited with status 1: mkfs.ext4: no space");
  EXPECT_EQ(runner.Run(Command{.argv = {"dnsmasq"}}).status().code(), Code::kUnavailable);
  auto c = runner.Run(Command{.argv = {"ip", "link", "add", "br 0"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->exit_code, 0);

  EXPECT_EQ(runner.Transcript(),
            "/usr/bin/qemu-img info x\n"
            "mkfs.ext4 /dev/x\n"
            "dnsmasq\n"
            "ip link add 'br 0'\n");
  EXPECT_EQ(runner.commands().size(), 4u);
  runner.Clear();
  EXPECT_EQ(runner.Transcript(), "");
}

}  // namespace
}  // namespace euca

namespace euca {
namespace {

// Programs fed on stdin from several threads at once each see the end of their own input:
// no child keeps another's pipe open (they would wait until the timeout).
TEST(RealCommandRunnerTest, ConcurrentStdinFedProgramsEachSeeTheirEndOfInput) {
  constexpr int kThreads = 8;
  constexpr int kRuns = 15;
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRuns; ++r) {
        Command c{.argv = {"cat"}};
        const std::string input = "thread " + std::to_string(t) + " run " + std::to_string(r) + "\n";
        c.stdin_data = input;
        c.timeout = std::chrono::seconds(10);
        auto result = RealCommandRunner().Run(c);
        if (!result.ok() || result->exit_code != 0 || result->out != input) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace euca

namespace euca {
namespace {

// Programs start with no signal blocked and SIGPIPE at its default, whatever the caller
// blocks or ignores (`euca serve` blocks SIGTERM; a daemon it starts must still stop on it).
TEST(RealCommandRunnerTest, ProgramsStartWithDefaultSignals) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  auto r = RealCommandRunner().Run(Command{.argv = {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->out.find("SigBlk:\t0000000000000000"), std::string::npos) << r->out;
  // SigIgn is a hex mask; SIGPIPE (13) is bit 12.
  auto at = r->out.find("SigIgn:\t");
  ASSERT_NE(at, std::string::npos);
  unsigned long long ignored = std::stoull(r->out.substr(at + 8, 16), nullptr, 16);
  EXPECT_EQ(ignored & (1ULL << (SIGPIPE - 1)), 0u) << r->out;
}

}  // namespace
}  // namespace euca
