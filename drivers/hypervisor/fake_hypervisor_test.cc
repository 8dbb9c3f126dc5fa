#include "drivers/hypervisor/fake_hypervisor.h"

#include <gtest/gtest.h>

namespace euca::hypervisor {
namespace {

DomainSpec Spec(const std::string& name) {
  DomainSpec spec;
  spec.name = name;
  spec.memory_mib = 512;
  spec.kernel = "/var/lib/euca/kernel";
  spec.console_log = "/var/lib/euca/" + name + "/console.log";
  spec.metadata = {{"instance-id", name}};
  return spec;
}

TEST(FakeHypervisorTest, StartListGetDestroy) {
  FakeHypervisor hv;
  auto started = hv.Start(Spec("i-1"));
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->state, DomainState::kRunning);
  EXPECT_EQ(hv.Start(Spec("i-1")).status().code(), Code::kAlreadyExists);
  ASSERT_TRUE(hv.Start(Spec("i-0")).ok());

  auto list = hv.ListDomains();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "i-0");
  EXPECT_EQ((*list)[1].metadata.at("instance-id"), "i-1");
  EXPECT_EQ(hv.GetHostInfo()->free_memory_mib, 8192 - 1024);

  auto got = hv.GetDomain("i-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->uuid, started->uuid);
  EXPECT_EQ(got->console_log, "/var/lib/euca/i-1/console.log");

  EXPECT_TRUE(hv.Destroy("i-1").ok());
  EXPECT_EQ(hv.Destroy("i-1").code(), Code::kNotFound);
  EXPECT_EQ(hv.GetDomain("i-1").status().code(), Code::kNotFound);
  EXPECT_EQ(hv.starts_for_test(), 2);
}

TEST(FakeHypervisorTest, KillCrashAndStartFaults) {
  FakeHypervisor hv;
  ASSERT_TRUE(hv.Start(Spec("i-1")).ok());
  ASSERT_TRUE(hv.Start(Spec("i-2")).ok());
  ASSERT_TRUE(hv.KillForTest("i-1").ok());
  ASSERT_TRUE(hv.CrashForTest("i-2").ok());
  EXPECT_EQ(hv.GetDomain("i-1").status().code(), Code::kNotFound);
  EXPECT_EQ(hv.GetDomain("i-2")->state, DomainState::kCrashed);
  EXPECT_EQ(hv.Reboot("i-2").code(), Code::kConflict);

  hv.FailStartForTest(ResourceExhausted("no memory"));
  EXPECT_EQ(hv.Start(Spec("i-3")).status().code(), Code::kResourceExhausted);
  EXPECT_EQ(hv.GetDomain("i-3").status().code(), Code::kNotFound);
  EXPECT_TRUE(hv.Start(Spec("i-3")).ok());
  EXPECT_TRUE(hv.Reboot("i-3").ok());
  EXPECT_EQ(hv.reboots_for_test("i-3"), 1);
}

TEST(FakeHypervisorTest, StartPausedThenResume) {
  FakeHypervisor hv;
  DomainSpec spec = Spec("i-1");
  spec.start_paused = true;
  ASSERT_EQ(hv.Start(spec)->state, DomainState::kPaused);
  hv.FailResumeForTest(Internal("monitor gone"));
  EXPECT_EQ(hv.Resume("i-1").code(), Code::kInternal);
  EXPECT_EQ(hv.GetDomain("i-1")->state, DomainState::kPaused);
  ASSERT_TRUE(hv.Resume("i-1").ok());
  EXPECT_EQ(hv.GetDomain("i-1")->state, DomainState::kRunning);
  EXPECT_TRUE(hv.Resume("i-1").ok());
  ASSERT_TRUE(hv.CrashForTest("i-1").ok());
  EXPECT_EQ(hv.Resume("i-1").code(), Code::kConflict);
  EXPECT_EQ(hv.Resume("i-2").code(), Code::kNotFound);
}

TEST(FakeHypervisorTest, BadSpecStartsNothing) {
  FakeHypervisor hv;
  DomainSpec spec = Spec("i-1");
  spec.vcpus = 0;
  EXPECT_EQ(hv.Start(spec).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(hv.ListDomains()->empty());
}

TEST(OpenHypervisorTest, ChoosesByScheme) {
  auto fake = OpenHypervisor("fake:///", Accel::kAuto);
  ASSERT_TRUE(fake.ok()) << fake.status().ToString();
  EXPECT_EQ((*fake)->GetHostInfo()->domain_type, "fake");
  auto bad = OpenHypervisor("xen:///", Accel::kAuto);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace euca::hypervisor
