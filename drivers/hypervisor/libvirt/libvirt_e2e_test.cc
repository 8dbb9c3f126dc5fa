// End-to-end: the libvirt driver on a real libvirt daemon (qemu:///system) booting the test
// guest (tests/fixtures/guest). Needs root; starts a daemon through tests/setup/libvirtd.sh
// when none answers. Skips, saying why, when not root, when the guest is not built
// (`make guest`) or when libvirt/QEMU are missing. Waits are polls with generous deadlines;
// nothing asserts on time. Boot times are printed for orientation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "core/base/command.h"
#include "drivers/hypervisor/libvirt/libvirt_hypervisor.h"

namespace euca::hypervisor {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kUri[] = "qemu:///system";
constexpr auto kBootDeadline = std::chrono::minutes(5);  // 8 TCG guests on a loaded 2-core machine

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `done` every 100 ms until it holds or `deadline` passes.
bool WaitFor(const std::function<bool()>& done, Clock::duration deadline) {
  auto until = Clock::now() + deadline;
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

Status RunProgram(std::vector<std::string> argv) {
  return RealCommandRunner().Run(Command{.argv = std::move(argv)}).status();
}

class LibvirtE2ETest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      skip_ = "needs root (a system libvirt daemon and QEMU as root)";
      return;
    }
    guest_ = EUCA_GUEST_DIR;
    for (const char* f : {"kernel", "initramfs.cpio", "root.ext2"}) {
      if (!fs::exists(guest_ / f)) {
        skip_ = "the test guest is not built (" + (guest_ / f).string() + " is missing; run make guest)";
        return;
      }
    }
    Command setup{.argv = {std::string(EUCA_SOURCE_DIR) + "/tests/setup/libvirtd.sh"}};
    setup.accept_failure = true;
    setup.timeout = std::chrono::seconds(60);
    auto r = RealCommandRunner().Run(setup);
    if (!r.ok() || r->exit_code == 77) {
      skip_ = "no libvirt daemon: " + (r.ok() ? r->out : r.status().ToString());
      return;
    }
    if (r->exit_code != 0) {
      setup_error_ = "tests/setup/libvirtd.sh failed: " + r->out + r->err;
      return;
    }
    std::cout << r->out;
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    auto hv = OpenHypervisor(kUri, Accel::kAuto);
    ASSERT_TRUE(hv.ok()) << hv.status().ToString();
    hv_ = std::move(*hv);
    auto host = hv_->GetHostInfo();
    ASSERT_TRUE(host.ok()) << host.status().ToString();
    std::cout << "host: " << host->cores << " cores, " << host->memory_mib << " MiB, domain type " << host->domain_type
              << "\n";
    prefix_ = "i-e2e" + std::to_string(::getpid()) + "-";
    dir_ = fs::temp_directory_path() / ("euca-e2e-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }

  void TearDown() override {
    if (hv_ != nullptr) {
      auto list = hv_->ListDomains();
      if (list.ok()) {
        for (const DomainInfo& d : *list) {
          if (d.name.starts_with(prefix_)) (void)hv_->Destroy(d.name);
        }
      }
    }
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // A root overlay (qcow2 over the guest's raw ext2), an optional NoCloud seed, a console.
  DomainSpec Prepare(const std::string& name, bool seed) {
    fs::path idir = dir_ / name;
    fs::create_directories(idir);
    DomainSpec spec;
    spec.name = name;
    spec.memory_mib = 256;
    spec.kernel = (guest_ / "kernel").string();
    spec.ramdisk = (guest_ / "initramfs.cpio").string();
    // no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check can fail
    // and panic ("IO-APIC + timer doesn't work"), as cloud images know.
    spec.cmdline = "console=ttyS0 quiet no_timer_check cryptomgr.notests root=/dev/vda euca.instance=" + name;
    spec.console_log = (idir / "console.log").string();
    spec.metadata = {{"instance-id", name}};
    std::string root = (idir / "root.qcow2").string();
    Status s = RunProgram(
        {"qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", (guest_ / "root.ext2").string(), root});
    EXPECT_TRUE(s.ok()) << s.ToString();
    spec.disks.push_back(DiskSpec{.path = root, .format = "qcow2", .target = "vda"});
    if (seed) {
      fs::path sdir = idir / "seed";
      fs::create_directories(sdir);
      std::ofstream(sdir / "meta-data") << "instance-id: " << name << "\nlocal-hostname: " << name
                                        << "\npublic-keys:\n  - ssh-rsa AAAAB3NzaC1yc2EAAAADAQABe2e " << name
                                        << "@euca\n";
      std::ofstream(sdir / "user-data") << "#cloud-config\n";
      std::string iso = (idir / "seed.iso").string();
      s = RunProgram({"genisoimage", "-quiet", "-o", iso, "-V", "cidata", "-J", "-r", sdir.string()});
      EXPECT_TRUE(s.ok()) << s.ToString();
      spec.disks.push_back(DiskSpec{.path = iso, .format = "raw", .target = "vdb", .readonly = true});
    }
    return spec;
  }

  bool ConsoleHas(const DomainSpec& spec, const std::string& text) {
    return ReadFile(spec.console_log).find(text) != std::string::npos;
  }

  // Waits for `text` on the console; gives up at once when the guest kernel panicked.
  bool WaitForConsole(const DomainSpec& spec, const std::string& text) {
    bool panicked = false;
    bool found = WaitFor(
        [&] {
          std::string log = ReadFile(spec.console_log);
          panicked = log.find("Kernel panic") != std::string::npos;
          return panicked || log.find(text) != std::string::npos;
        },
        kBootDeadline);
    return found && !panicked;
  }

  bool Listed(const std::string& name) {
    auto list = hv_->ListDomains();
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (!list.ok()) return false;
    for (const DomainInfo& d : *list) {
      if (d.name == name) return true;
    }
    return false;
  }

  static inline std::string skip_;
  static inline std::string setup_error_;
  static inline fs::path guest_;
  std::unique_ptr<Hypervisor> hv_;
  std::string prefix_;
  fs::path dir_;
};

TEST_F(LibvirtE2ETest, GuestBootsPrintsMarkerAndVanishesWhenDestroyedOutside) {
  DomainSpec spec = Prepare(prefix_ + "1", /*seed=*/true);
  auto start = Clock::now();
  auto started = hv_->Start(spec);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto running = Clock::now();
  std::string marker = "EUCA-GUEST-READY " + spec.name;
  ASSERT_TRUE(WaitForConsole(spec, marker)) << "no ready marker; console:\n" << ReadFile(spec.console_log);
  auto ready = Clock::now();
  std::cout << "start -> running " << std::chrono::duration_cast<std::chrono::milliseconds>(running - start).count()
            << " ms, start -> ready marker "
            << std::chrono::duration_cast<std::chrono::milliseconds>(ready - start).count() << " ms\n";
  // The root disk and the NoCloud seed reached the guest.
  EXPECT_TRUE(ConsoleHas(spec, "EUCA-GUEST-ROOT euca test guest root disk")) << ReadFile(spec.console_log);
  EXPECT_TRUE(ConsoleHas(spec, "EUCA-GUEST-KEY ssh-rsa AAAAB3NzaC1yc2EAAAADAQABe2e " + spec.name + "@euca"))
      << ReadFile(spec.console_log);

  auto got = hv_->GetDomain(spec.name);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->state, DomainState::kRunning);
  EXPECT_EQ(got->metadata.at("instance-id"), spec.name);
  EXPECT_EQ(got->console_log, spec.console_log);
  EXPECT_EQ(got->memory_mib, 256);
  EXPECT_TRUE(Listed(spec.name));
  EXPECT_EQ(hv_->Start(spec).status().code(), Code::kAlreadyExists);

  // A fresh connection (a restarted NC) sees the same domain through its metadata.
  auto other = OpenHypervisor(kUri, Accel::kAuto);
  ASSERT_TRUE(other.ok());
  auto adopted = (*other)->GetDomain(spec.name);
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  EXPECT_EQ(adopted->uuid, got->uuid);

  // Destroyed behind the driver's back.
  Status s = RunProgram({"virsh", "-q", "-c", kUri, "destroy", spec.name});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(Listed(spec.name));
  EXPECT_EQ(hv_->GetDomain(spec.name).status().code(), Code::kNotFound);
  EXPECT_EQ(hv_->Destroy(spec.name).code(), Code::kNotFound);
}

TEST_F(LibvirtE2ETest, RebootResetsTheGuest) {
  DomainSpec spec = Prepare(prefix_ + "r", /*seed=*/false);
  ASSERT_TRUE(hv_->Start(spec).ok());
  std::string marker = "EUCA-GUEST-READY " + spec.name;
  ASSERT_TRUE(WaitForConsole(spec, marker)) << ReadFile(spec.console_log);
  ASSERT_TRUE(hv_->Reboot(spec.name).ok());
  auto count = [&] {
    std::string log = ReadFile(spec.console_log);
    size_t n = 0;
    for (size_t pos = log.find(marker); pos != std::string::npos; pos = log.find(marker, pos + 1)) ++n;
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return count() >= 2; }, kBootDeadline)) << ReadFile(spec.console_log);
  EXPECT_TRUE(hv_->Destroy(spec.name).ok());
  EXPECT_FALSE(Listed(spec.name));
}

TEST_F(LibvirtE2ETest, EightAtOnceThenNothingLeft) {
  constexpr int kCount = 8;
  std::vector<DomainSpec> specs;
  for (int i = 0; i < kCount; ++i) specs.push_back(Prepare(prefix_ + "m" + std::to_string(i), /*seed=*/false));
  auto start = Clock::now();
  std::vector<std::thread> threads;
  std::vector<Status> results(kCount);
  for (int i = 0; i < kCount; ++i) {
    threads.emplace_back([&, i] { results[i] = hv_->Start(specs[i]).status(); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(results[i].ok()) << specs[i].name << ": " << results[i].ToString();
  for (const DomainSpec& spec : specs) {
    std::string marker = "EUCA-GUEST-READY " + spec.name;
    ASSERT_TRUE(WaitForConsole(spec, marker)) << spec.name << " printed no ready marker; console:\n"
                                              << ReadFile(spec.console_log);
  }
  std::cout << kCount << " guests: start -> all ready markers "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count() << " ms\n";
  auto list = hv_->ListDomains();
  ASSERT_TRUE(list.ok());
  int ours = 0;
  for (const DomainInfo& d : *list) ours += d.name.starts_with(prefix_) ? 1 : 0;
  EXPECT_EQ(ours, kCount);

  threads.clear();
  for (int i = 0; i < kCount; ++i) {
    threads.emplace_back([&, i] { results[i] = hv_->Destroy(specs[i].name); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kCount; ++i) EXPECT_TRUE(results[i].ok()) << results[i].ToString();
  list = hv_->ListDomains();
  ASSERT_TRUE(list.ok());
  for (const DomainInfo& d : *list) EXPECT_FALSE(d.name.starts_with(prefix_)) << d.name << " is left";
  auto virsh = RealCommandRunner().Run(Command{.argv = {"virsh", "-q", "-c", kUri, "list", "--all", "--name"}});
  ASSERT_TRUE(virsh.ok());
  EXPECT_EQ(virsh->out.find(prefix_), std::string::npos) << virsh->out;
}

}  // namespace
}  // namespace euca::hypervisor
