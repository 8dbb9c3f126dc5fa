// The libvirt driver on test:///default, libvirt's in-process fake (no daemon). Its default
// state holds a domain named "test" that is not ours. The real daemon is exercised by
// libvirt_e2e_test.cc.
#include "drivers/hypervisor/libvirt/libvirt_hypervisor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace euca::hypervisor {
namespace {

std::unique_ptr<Hypervisor> OpenTest() {
  auto hv = OpenHypervisor("test:///default", Accel::kAuto);
  EXPECT_TRUE(hv.ok()) << hv.status().ToString();
  return hv.ok() ? std::move(*hv) : nullptr;
}

DomainSpec Spec(const std::string& name) {
  DomainSpec spec;
  spec.name = name;
  spec.memory_mib = 128;
  spec.kernel = "/boot/vmlinuz";
  spec.cmdline = "console=ttyS0";
  spec.console_log = "/tmp/" + name + ".log";
  spec.metadata = {{"instance-id", name}, {"image-id", "emi-1"}};
  return spec;
}

TEST(LibvirtHypervisorTest, HostInfo) {
  auto hv = OpenTest();
  auto host = hv->GetHostInfo();
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  EXPECT_GT(host->cores, 0);
  EXPECT_GT(host->memory_mib, 0);
  EXPECT_LE(host->free_memory_mib, host->memory_mib);
  EXPECT_EQ(host->uri, "test:///default");
  EXPECT_EQ(host->domain_type, "test");
}

TEST(LibvirtHypervisorTest, StartGetListDestroy) {
  auto hv = OpenTest();
  auto started = hv->Start(Spec("i-lv-1"));
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->name, "i-lv-1");
  EXPECT_EQ(started->state, DomainState::kRunning);
  EXPECT_EQ(started->memory_mib, 128);
  EXPECT_EQ(started->vcpus, 1);
  EXPECT_EQ(started->console_log, "/tmp/i-lv-1.log");
  EXPECT_EQ(started->metadata.at("image-id"), "emi-1");
  EXPECT_EQ(started->uuid.size(), 36u);

  auto again = hv->Start(Spec("i-lv-1"));
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);

  auto got = hv->GetDomain("i-lv-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->uuid, started->uuid);

  auto list = hv->ListDomains();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);  // not libvirt's own "test" domain
  EXPECT_EQ((*list)[0].name, "i-lv-1");

  EXPECT_TRUE(hv->Reboot("i-lv-1").ok());
  EXPECT_EQ(hv->Reboot("i-none").code(), Code::kNotFound);
  ASSERT_TRUE(hv->Destroy("i-lv-1").ok());
  EXPECT_EQ(hv->GetDomain("i-lv-1").status().code(), Code::kNotFound);
  EXPECT_EQ(hv->Destroy("i-lv-1").code(), Code::kNotFound);
  EXPECT_TRUE(hv->ListDomains()->empty());
}

TEST(LibvirtHypervisorTest, StartPausedThenResume) {
  auto hv = OpenTest();
  DomainSpec spec = Spec("i-lv-2");
  spec.start_paused = true;
  auto started = hv->Start(spec);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->state, DomainState::kPaused);
  ASSERT_TRUE(hv->Resume("i-lv-2").ok());
  EXPECT_EQ(hv->GetDomain("i-lv-2")->state, DomainState::kRunning);
  EXPECT_TRUE(hv->Resume("i-lv-2").ok());  // running already
  EXPECT_EQ(hv->Resume("i-none").code(), Code::kNotFound);
  EXPECT_EQ(hv->Resume("test").code(), Code::kNotFound);  // not ours
  ASSERT_TRUE(hv->Destroy("i-lv-2").ok());
}

TEST(LibvirtHypervisorTest, ForeignDomainsAreNeitherListedNorTouched) {
  auto hv = OpenTest();
  auto got = hv->GetDomain("test");
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_EQ(got.status().message(), "domain 'test' is not managed by euca");
  EXPECT_EQ(hv->Destroy("test").code(), Code::kNotFound);
  EXPECT_EQ(hv->Start(Spec("test")).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(hv->GetDomain("i-none").status().message(), "domain 'i-none' not found");
}

TEST(LibvirtHypervisorTest, BadSpecStartsNothing) {
  auto hv = OpenTest();
  DomainSpec spec = Spec("i-bad");
  spec.disks.push_back(DiskSpec{.path = "relative.img", .format = "qcow2", .target = "vda"});
  EXPECT_EQ(hv->Start(spec).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(hv->GetDomain("i-bad").status().code(), Code::kNotFound);
}

TEST(LibvirtHypervisorTest, ConcurrentStartsAndDestroys) {
  auto hv = OpenTest();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      std::string name = "i-par-" + std::to_string(i);
      if (!hv->Start(Spec(name)).ok()) ++failures;
      if (!hv->GetDomain(name).ok()) ++failures;
      if (!hv->Destroy(name).ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(hv->ListDomains()->empty());
}

TEST(LibvirtHypervisorTest, UnreachableDaemonIsUnavailable) {
  auto hv = OpenLibvirtHypervisorWithType("qemu+unix:///system?socket=/nonexistent/libvirt-sock", "qemu");
  ASSERT_FALSE(hv.ok());
  EXPECT_EQ(hv.status().code(), Code::kUnavailable);
  EXPECT_NE(hv.status().message().find("connect to 'qemu+unix:///system?socket=/nonexistent/libvirt-sock'"),
            std::string::npos)
      << hv.status().message();
}

}  // namespace
}  // namespace euca::hypervisor
