// End-to-end: the node controller on a real libvirt daemon (qemu:///system, TCG) booting the
// test guest (tests/fixtures/guest) from its image cache, with real mkfs.ext4 and the disks,
// swap header and seed the NC writes itself. Needs root; starts a daemon through tests/setup/libvirtd.sh when none answers.
// Skips, saying why, when not root or when the guest is not built (`make guest`). Waits are
// polls with generous deadlines; nothing asserts on time.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include "core/base/command.h"
#include "core/nc/node.h"
#include "core/nc/test_support.h"

namespace euca::nc {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using ::testing::HasSubstr;

constexpr auto kBootDeadline = std::chrono::minutes(5);  // 8 TCG guests on a loaded 2-core machine

// An instance id unique to this test process: i-e2e, the pid as five digits (so short pids still
// give the eight hex digits an instance id needs), then the suffix.
std::string TestId(const std::string& suffix) {
  char pid[8];
  std::snprintf(pid, sizeof pid, "%05d", static_cast<int>(::getpid() % 100000));
  return "i-e2e" + std::string(pid) + suffix;
}

bool WaitFor(const std::function<bool()>& done, Steady::duration deadline) {
  auto until = Steady::now() + deadline;
  while (!done()) {
    if (Steady::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

class NodeE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      skip_ = "needs root (a system libvirt daemon and QEMU as root)";
      return;
    }
    for (const char* f : {"kernel", "initramfs.cpio", "root.ext2"}) {
      if (!fs::exists(fs::path(EUCA_GUEST_DIR) / f)) {
        skip_ = std::string("the test guest is not built (") + EUCA_GUEST_DIR + "/" + f + " is missing; run make guest)";
        return;
      }
    }
    Command setup{.argv = {std::string(EUCA_SOURCE_DIR) + "/tests/setup/libvirtd.sh"}};
    setup.accept_failure = true;
    setup.timeout = std::chrono::seconds(60);
    auto r = RealCommandRunner().Run(setup);
    if (!r.ok() || r->exit_code == 77) skip_ = "no libvirt daemon: " + (r.ok() ? r->out : r.status().ToString());
    else if (r->exit_code != 0) setup_error_ = "tests/setup/libvirtd.sh failed: " + r->out + r->err;
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    auto hv = hypervisor::OpenHypervisor("qemu:///system", hypervisor::Accel::kAuto);
    ASSERT_TRUE(hv.ok()) << hv.status().ToString();
    hv_ = std::move(*hv);
    fetcher_ = NewLocalFileFetcher();
    Reopen();
  }

  void TearDown() override {
    if (node_ != nullptr) {
      auto all = node_->DescribeInstances({});
      if (all.ok()) {
        for (const Instance& i : *all) (void)node_->TerminateInstance(i.request.instance_id);
      }
    }
    node_.reset();
  }

  void Reopen() {
    node_.reset();
    NodeOptions o;
    o.root = dir_.path() + "/nc";
    o.node_id = "nc-e2e-" + std::to_string(::getpid());
    o.kernel_cmdline = "console=ttyS0 quiet no_timer_check cryptomgr.notests root=/dev/vda";
    o.swap_mib = 64;
    o.max_cores = 16;  // eight 1-core guests on a 2-core host: TCG guests mostly wait
    node_ = std::make_unique<Node>(PosixEnv(), RealCommandRunner(), RealClock(), *hv_, *fetcher_, o);
    Status s = node_->Open();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  RunInstanceRequest Request(const std::string& id) {
    const std::string g = std::string("file://") + EUCA_GUEST_DIR + "/";
    RunInstanceRequest r;
    r.instance_id = id;
    r.image = {"emi-0000e2e0", g + "root.ext2"};
    r.kernel = {"eki-0000e2e0", g + "kernel"};
    r.ramdisk = {"eri-0000e2e0", g + "initramfs.cpio"};
    r.vm_type = {"m1.small", 1, 128, 1};
    r.public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e " + id;
    r.user_data = "#!/bin/sh\necho hello\n";
    return r;
  }

  bool Booted(const std::string& id) {
    auto out = node_->GetConsoleOutput(id);
    return out.ok() && out->find("EUCA-GUEST-READY " + id) != std::string::npos;
  }

  Instance Describe(const std::string& id) {
    auto d = node_->DescribeInstances({id});
    if (!d.ok() || d->size() != 1) return {};
    return (*d)[0];
  }

  static std::string skip_;
  static std::string setup_error_;
  TempDir dir_;
  std::unique_ptr<hypervisor::Hypervisor> hv_;
  std::unique_ptr<ImageFetcher> fetcher_;
  std::unique_ptr<Node> node_;
};

std::string NodeE2ETest::skip_;
std::string NodeE2ETest::setup_error_;

TEST_F(NodeE2ETest, OneGuestBootsWithItsKeyAndVanishesOnTerminate) {
  const std::string id = TestId("a");
  ASSERT_TRUE(ValidateInstanceId(id).ok()) << id;
  auto start = Steady::now();
  ASSERT_TRUE(node_->RunInstance(Request(id)).ok());
  ASSERT_TRUE(WaitFor([&] { return Describe(id).state != InstanceState::kPending; }, kBootDeadline));
  Instance running = Describe(id);
  ASSERT_EQ(running.state, InstanceState::kExtant) << running.reason;
  auto at_running = Steady::now();
  // Direct kernel boot starts in qboot where QEMU's data has it (nc.firmware auto).
  if (std::filesystem::exists(kQbootRom)) {
    auto xml = RealCommandRunner().Run(Command{.argv = {"virsh", "-c", "qemu:///system", "dumpxml", id}});
    ASSERT_TRUE(xml.ok()) << xml.status().ToString();
    EXPECT_THAT(xml->out, HasSubstr(std::string("<loader type='rom'>") + kQbootRom + "</loader>"));
  }
  {
    // libvirt read the guest CPU the short way (two commands, not one per feature) and still
    // checked it and recorded the live CPU: its check='full' and features appear only then.
    auto xml = RealCommandRunner().Run(Command{.argv = {"virsh", "-c", "qemu:///system", "dumpxml", id}});
    ASSERT_TRUE(xml.ok()) << xml.status().ToString();
    EXPECT_THAT(xml->out, HasSubstr("<qemu:del capability='cpu-unavailable-features'/>"));
    EXPECT_THAT(xml->out, HasSubstr("check='full'"));
    EXPECT_THAT(xml->out, HasSubstr("<feature policy='require' name='hypervisor'/>"));
  }
  ASSERT_TRUE(WaitFor([&] { return Booted(id); }, kBootDeadline)) << node_->GetConsoleOutput(id).value_or("");
  auto at_ready = Steady::now();
  std::cout << "request -> running " << std::chrono::duration<double>(at_running - start).count()
            << " s, -> ready marker " << std::chrono::duration<double>(at_ready - start).count() << " s\n";
  std::string console = node_->GetConsoleOutput(id).value();
  EXPECT_THAT(console, HasSubstr("EUCA-GUEST-SEED " + id));  // the NoCloud seed reached the guest
  EXPECT_THAT(console, HasSubstr("EUCA-GUEST-KEY ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e " + id));
  EXPECT_THAT(console, HasSubstr("EUCA-GUEST-ROOT"));  // the overlay over the cached root mounted

  ASSERT_TRUE(node_->TerminateInstance(id).ok());
  EXPECT_EQ(hv_->GetDomain(id).status().code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(node_->InstanceDir(id)));
}

// No kernel given: the domain boots from its first disk (SeaBIOS, then the image's own boot
// loader), here the guest's whole-disk image with syslinux, which boots the same kernel and
// initramfs with its own command line and root=/dev/vda2 (the image's second partition).
TEST_F(NodeE2ETest, AWholeDiskImageBootsThroughItsOwnBootLoaderAndVanishesOnTerminate) {
  const std::string disk = std::string(EUCA_GUEST_DIR) + "/disk.img";
  if (!fs::exists(disk)) GTEST_SKIP() << disk << " is missing (an older guest build; run make guest)";
  const std::string id = TestId("d");
  RunInstanceRequest r = Request(id);
  r.image = {"emi-0000e2e1", "file://" + disk};
  r.kernel = {};
  r.ramdisk = {};
  ASSERT_TRUE(node_->RunInstance(r).ok());
  ASSERT_TRUE(WaitFor([&] { return Describe(id).state != InstanceState::kPending; }, kBootDeadline));
  ASSERT_EQ(Describe(id).state, InstanceState::kExtant) << Describe(id).reason;
  // The domain has no kernel of its own: it boots from the disk.
  auto xml = RealCommandRunner().Run(Command{.argv = {"virsh", "-c", "qemu:///system", "dumpxml", id}});
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_THAT(xml->out, HasSubstr("<boot dev='hd'/>"));
  EXPECT_THAT(xml->out, ::testing::Not(HasSubstr("<kernel>")));
  EXPECT_THAT(xml->out, ::testing::Not(HasSubstr("qboot")));  // SeaBIOS reads the disk
  ASSERT_TRUE(WaitFor([&] { return Booted(id); }, kBootDeadline)) << node_->GetConsoleOutput(id).value_or("");
  std::string console = node_->GetConsoleOutput(id).value();
  EXPECT_THAT(console, HasSubstr("SYSLINUX"));  // the boot loader's banner on the serial console
  EXPECT_THAT(console, HasSubstr("EUCA-GUEST-ROOT euca test guest root disk"));  // vda2 of the overlay
  EXPECT_THAT(console, HasSubstr("EUCA-GUEST-SEED " + id));
  EXPECT_THAT(console, HasSubstr("EUCA-GUEST-KEY ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e " + id));

  ASSERT_TRUE(node_->TerminateInstance(id).ok());
  EXPECT_EQ(hv_->GetDomain(id).status().code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(node_->InstanceDir(id)));
}

TEST_F(NodeE2ETest, EightAtOnceFromOneDownloadThenNothingLeft) {
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(TestId("b" + std::to_string(i)));
  for (const std::string& id : ids) ASSERT_TRUE(node_->RunInstance(Request(id)).ok()) << id;
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitFor([&] { return Booted(id); }, kBootDeadline))
        << id << ": " << Describe(id).reason << "\n" << node_->GetConsoleOutput(id).value_or("");
  }
  // One copy of each image in the cache however many instances use it.
  int cached = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_.path() + "/nc/cache")) {
    cached += e.is_regular_file() && e.path().filename() == "image";
  }
  EXPECT_EQ(cached, 3);  // kernel, ramdisk, root
  for (const std::string& id : ids) ASSERT_TRUE(node_->TerminateInstance(id).ok());
  auto left = hv_->ListDomains();
  ASSERT_TRUE(left.ok());
  for (const auto& d : *left) EXPECT_EQ(std::count(ids.begin(), ids.end(), d.name), 0) << d.name;
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/nc/instances"));
}

TEST_F(NodeE2ETest, ARestartedNodeReadoptsAndSeesADomainDestroyedBehindItsBack) {
  const std::string id = TestId("c");
  ASSERT_TRUE(node_->RunInstance(Request(id)).ok());
  ASSERT_TRUE(WaitFor([&] { return Describe(id).state == InstanceState::kExtant; }, kBootDeadline))
      << Describe(id).reason;
  Reopen();  // the node controller restarts; the VM keeps running
  EXPECT_EQ(Describe(id).state, InstanceState::kExtant);
  ASSERT_TRUE(RealCommandRunner().Run(Command{.argv = {"virsh", "-c", "qemu:///system", "destroy", id}}).ok());
  Instance gone = Describe(id);
  EXPECT_EQ(gone.state, InstanceState::kTeardown);
  EXPECT_THAT(gone.reason, HasSubstr("gone"));
  EXPECT_FALSE(fs::exists(node_->InstanceDir(id)));
}

}  // namespace
}  // namespace euca::nc
