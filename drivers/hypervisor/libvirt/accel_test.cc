#include "drivers/hypervisor/libvirt/accel.h"

#include <gtest/gtest.h>

namespace euca::hypervisor {
namespace {

TEST(AccelTest, ExplicitSettingsNeedNoProbe) {
  auto never = []() -> bool {
    ADD_FAILURE() << "probed";
    return true;
  };
  EXPECT_EQ(ChooseDomainType(Accel::kKvm, never, never), "kvm");
  EXPECT_EQ(ChooseDomainType(Accel::kTcg, never, never), "qemu");
}

TEST(AccelTest, AutoPicksKvmOnlyWhenDeviceAndProbeWork) {
  int probes = 0;
  auto probe = [&](bool answer) {
    return [&probes, answer] {
      ++probes;
      return answer;
    };
  };
  EXPECT_EQ(ChooseDomainType(
                Accel::kAuto, [] { return false; }, probe(true)),
            "qemu");
  EXPECT_EQ(probes, 0);  // no /dev/kvm: no probe
  EXPECT_EQ(ChooseDomainType(
                Accel::kAuto, [] { return true; }, probe(false)),
            "qemu");  // KVM hangs
  EXPECT_EQ(ChooseDomainType(
                Accel::kAuto, [] { return true; }, probe(true)),
            "kvm");
  EXPECT_EQ(probes, 2);
}

TEST(AccelTest, ProbeCommandLine) {
  EXPECT_EQ(KvmProbeCommand("/tmp/p", "kvm").ToString(),
            "qemu-system-x86_64 -accel kvm -machine pc -m 16 -nodefaults -no-user-config -nographic -serial null "
            "-monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel /tmp/p");
  EXPECT_EQ(KvmProbeCommand("/tmp/p", "kvm").timeout, kProbeTimeout);
}

TEST(AccelTest, ProbeSucceedsOnlyOnTheDebugExitStatus) {
  RecordingCommandRunner runner;
  runner.SetResult("qemu-system-x86_64", CommandResult{.exit_code = 33});
  EXPECT_TRUE(RunAccelProbe(runner, "kvm"));
  runner.SetResult("qemu-system-x86_64", CommandResult{.exit_code = 1, .err = "Could not access KVM kernel module"});
  EXPECT_FALSE(RunAccelProbe(runner, "kvm"));
  runner.SetError("qemu-system-x86_64", Unavailable("'qemu-system-x86_64' timed out after 2000 ms and was killed"));
  EXPECT_FALSE(RunAccelProbe(runner, "kvm"));
  EXPECT_EQ(runner.commands().size(), 3u);
}

TEST(AccelTest, ProbeImageIsAMultibootHeaderThenCode) {
  std::string image = KvmProbeImage();
  ASSERT_GE(image.size(), 32u);
  EXPECT_EQ(image.substr(0, 4), std::string("\x02\xb0\xad\x1b", 4));
  uint32_t sum = 0;
  for (int i = 0; i < 3; ++i) {
    uint32_t word = 0;
    for (int b = 0; b < 4; ++b) word |= static_cast<uint32_t>(static_cast<unsigned char>(image[i * 4 + b])) << (8 * b);
    sum += word;
  }
  EXPECT_EQ(sum, 0u);  // magic + flags + checksum
}

// The real thing: the probe guest under TCG (always works where QEMU is installed).
TEST(AccelTest, ProbeGuestRunsUnderTcg) {
  if (!RealCommandRunner().Run(Command{.argv = {"sh", "-c", "command -v qemu-system-x86_64"}}).ok()) {
    GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  }
  EXPECT_TRUE(RunAccelProbe(RealCommandRunner(), "tcg"));
}

}  // namespace
}  // namespace euca::hypervisor

namespace euca::hypervisor {
namespace {

TEST(AccelCacheTest, AnAnswerCountsOnlyUnderItsOwnStamp) {
  EXPECT_EQ(ReadAccelCache("boot-1 /usr/bin/qemu-system-x86_64:100\tkvm\n", "boot-1 /usr/bin/qemu-system-x86_64:100"),
            "kvm");
  EXPECT_EQ(ReadAccelCache("boot-1 q:100\tqemu\n", "boot-1 q:100"), "qemu");
  EXPECT_EQ(ReadAccelCache("boot-1 q:100\tkvm\n", "boot-2 q:100"), std::nullopt);  // rebooted
  EXPECT_EQ(ReadAccelCache("boot-1 q:100\tkvm\n", "boot-1 q:200"), std::nullopt);  // QEMU changed
  EXPECT_EQ(ReadAccelCache("boot-1 q:100\txen\n", "boot-1 q:100"), std::nullopt);
  EXPECT_EQ(ReadAccelCache("", "boot-1 q:100"), std::nullopt);
  EXPECT_EQ(ReadAccelCache("garbage", "boot-1 q:100"), std::nullopt);
}

TEST(AccelCacheTest, TheStampNamesThisBoot) {
  std::string stamp = AccelCacheStamp();
  EXPECT_EQ(stamp, AccelCacheStamp());
  EXPECT_EQ(stamp.find('\t'), std::string::npos);
  EXPECT_NE(stamp.find(' '), std::string::npos);
}

}  // namespace
}  // namespace euca::hypervisor
