#include "core/nc/node.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/nc/test_support.h"
#include "drivers/hypervisor/fake_hypervisor.h"

namespace euca::nc {
namespace {

using ::testing::HasSubstr;
namespace hv = euca::hypervisor;

constexpr char kId[] = "i-0123abcd";

// The first 4 KiB of a (large, sparse) disk file.
std::string FirstPage(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string page(4096, '\0');
  in.read(page.data(), static_cast<std::streamsize>(page.size()));
  page.resize(static_cast<size_t>(in.gcount()));
  return page;
}

RunInstanceRequest Request(const std::string& id = kId) {
  RunInstanceRequest r;
  r.instance_id = id;
  r.reservation_id = "r-0000beef";
  r.owner_id = "000000000001";
  r.image = {"emi-00000001", "b/root.manifest.xml"};
  r.kernel = {"eki-00000002", "b/kernel.manifest.xml"};
  r.ramdisk = {"eri-00000003", "b/initrd.manifest.xml"};
  r.vm_type = {"m1.small", 1, 256, 2};
  r.key_name = "mykey";
  r.public_key = "ssh-rsa AAAAB3Nza test@example";
  r.user_data = "#!/bin/sh\necho hi\n";
  return r;
}

class NodeTest : public ::testing::Test {
 protected:
  NodeTest() {
    fetcher_.Put("b/root.manifest.xml", std::string(1 << 20, 'r'));
    fetcher_.Put("b/kernel.manifest.xml", "kernel");
    fetcher_.Put("b/initrd.manifest.xml", "initrd");
    Reopen();
  }

  void Reopen() {
    node_.reset();
    NodeOptions o;
    o.root = dir_.path() + "/nc";
    o.teardown_keep_ms = 60'000;
    o.start_batch_ms = 60'000;
    if (edit_options_) edit_options_(o);
    node_ = std::make_unique<Node>(PosixEnv(), runner_, clock_, hypervisor_, fetcher_, o);
    Status s = node_->Open();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::function<void(NodeOptions&)> edit_options_;  // applied by Reopen

  Instance Describe(const std::string& id = kId) {
    Result<std::vector<Instance>> r = node_->DescribeInstances({id});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r.value().size() != 1) return {};
    return r.value()[0];
  }

  Instance RunAndWait(const RunInstanceRequest& r = Request()) {
    Result<Instance> i = node_->RunInstance(r);
    EXPECT_TRUE(i.ok()) << i.status().ToString();
    node_->WaitIdleForTest();
    return Describe(r.instance_id);
  }

  TempDir dir_;
  FakeClock clock_;
  RecordingCommandRunner runner_;
  hv::FakeHypervisor hypervisor_;
  FakeFetcher fetcher_;
  std::unique_ptr<Node> node_;
};

TEST_F(NodeTest, RunInstanceBootsFromCachedKernelRamdiskAndAnOverlay) {
  Result<Instance> pending = node_->RunInstance(Request());
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(pending.value().state, InstanceState::kPending);
  node_->WaitIdleForTest();
  Instance i = Describe();
  EXPECT_EQ(i.state, InstanceState::kExtant);
  EXPECT_EQ(i.hypervisor_state, "running");

  Result<hv::DomainSpec> spec = hypervisor_.SpecForTest(kId);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec.value().vcpus, 1);
  EXPECT_EQ(spec.value().memory_mib, 256);
  EXPECT_THAT(spec.value().kernel, HasSubstr("/cache/eki-00000002/"));
  EXPECT_THAT(spec.value().ramdisk, HasSubstr("/cache/eri-00000003/"));
  EXPECT_EQ(spec.value().cmdline, "console=ttyS0 no_timer_check cryptomgr.notests root=/dev/vda");
  // firmware "auto": qboot where QEMU's data installed it, else the hypervisor's BIOS.
  EXPECT_EQ(spec.value().firmware, std::filesystem::exists(kQbootRom) ? kQbootRom : "");
  ASSERT_EQ(spec.value().disks.size(), 4u);
  EXPECT_EQ(spec.value().disks[0].target, "vda");
  EXPECT_EQ(spec.value().disks[0].format, "qcow2");
  EXPECT_EQ(spec.value().disks[0].path, node_->InstanceDir(kId) + "/root.qcow2");
  EXPECT_EQ(spec.value().disks[3].path, node_->InstanceDir(kId) + "/seed.iso");
  EXPECT_TRUE(spec.value().disks[3].readonly);
  EXPECT_EQ(spec.value().console_log, node_->InstanceDir(kId) + "/console.log");
  EXPECT_EQ(spec.value().metadata.count("node"), 1u);
  EXPECT_TRUE(spec.value().nics.empty());
}

TEST_F(NodeTest, FirmwareOptionChoosesTheBiosOfDirectKernelBoots) {
  std::string rom = dir_.path() + "/my.rom";
  std::ofstream(rom) << "rom";
  edit_options_ = [&](NodeOptions& o) { o.firmware = rom; };
  Reopen();
  ASSERT_EQ(RunAndWait(Request()).state, InstanceState::kExtant);
  EXPECT_EQ(hypervisor_.SpecForTest(kId).value().firmware, rom);
  ASSERT_TRUE(node_->TerminateInstance(kId).ok());

  edit_options_ = [](NodeOptions& o) { o.firmware = "bios"; };
  Reopen();
  ASSERT_EQ(RunAndWait(Request("i-0123abce")).state, InstanceState::kExtant);
  EXPECT_EQ(hypervisor_.SpecForTest("i-0123abce").value().firmware, "");

  for (const auto& [bad, message] : std::vector<std::pair<std::string, std::string>>{
           {"qboot.rom", "firmware 'qboot.rom' is not auto, bios or the absolute path of a BIOS ROM"},
           {"", "firmware '' is not auto, bios or the absolute path of a BIOS ROM"},
           {dir_.path() + "/none.rom", "firmware '" + dir_.path() + "/none.rom' does not exist on this node"}}) {
    NodeOptions o;
    o.root = dir_.path() + "/nc2";
    o.firmware = bad;
    Node node(PosixEnv(), runner_, clock_, hypervisor_, fetcher_, o);
    Status s = node.Open();
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(s.message(), message);
  }
}

TEST_F(NodeTest, WithoutAKernelTheDomainBootsTheImageItselfWithNoCommandLine) {
  RunInstanceRequest r = Request();
  r.kernel = {};
  r.ramdisk = {};
  Instance i = RunAndWait(r);
  EXPECT_EQ(i.state, InstanceState::kExtant) << i.reason;
  Result<hv::DomainSpec> spec = hypervisor_.SpecForTest(kId);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec.value().kernel, "");  // the domain XML then says <boot dev='hd'/>
  EXPECT_EQ(spec.value().ramdisk, "");
  EXPECT_EQ(spec.value().cmdline, "");  // the image's boot loader brings its own
  EXPECT_EQ(spec.value().firmware, "");  // SeaBIOS, which reads the disk; qboot could not
  ASSERT_FALSE(spec.value().disks.empty());
  EXPECT_EQ(spec.value().disks[0].target, "vda");
  EXPECT_EQ(spec.value().disks[0].path, node_->InstanceDir(kId) + "/root.qcow2");
  EXPECT_EQ(fetcher_.fetches, 1);  // the image alone
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/nc/cache/eki-00000002"));
  ASSERT_TRUE(node_->TerminateInstance(kId).ok());

  // A kernel that is not there: the start fails, naming it, and leaves nothing behind.
  r = Request("i-0123abce");
  r.kernel = {"eki-0000dead", "b/missing.manifest.xml"};
  r.ramdisk = {};
  Instance failed = RunAndWait(r);
  EXPECT_EQ(failed.state, InstanceState::kTeardown);
  EXPECT_THAT(failed.reason, HasSubstr("b/missing.manifest.xml"));
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir("i-0123abce")));
  EXPECT_EQ(hypervisor_.SpecForTest("i-0123abce").status().code(), Code::kNotFound);
}

TEST_F(NodeTest, DiskPreparationRunsTheseCommands) {
  RunAndWait();
  std::string transcript = runner_.Transcript();
  // Paths of this run are replaced so that the golden file is stable.
  for (size_t at; (at = transcript.find(dir_.path())) != std::string::npos;) transcript.replace(at, dir_.path().size(), "$DIR");
  // (No command names the cached image: the overlay is written in-process.)
  EXPECT_EQ(transcript.find("/cache/"), std::string::npos) << transcript;
  const std::string golden = std::string(EUCA_SOURCE_DIR) + "/tests/data/nc/disks.out";
  if (getenv("EUCA_TEST_REGENERATE")) std::ofstream(golden) << transcript;
  std::ifstream in(golden);
  std::string want((std::istreambuf_iterator<char>(in)), {});
  // The disks are made at once: the same commands in any order across disks, and within a
  // disk in order (a file is formatted after it is created).
  auto sorted_lines = [](const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  EXPECT_EQ(sorted_lines(transcript), sorted_lines(want));
  // The raw disks are sparse files made before they are formatted (a fake runner formats
  // nothing, so the files are as made): of their planned sizes, private to the node.
  const std::string inst = node_->InstanceDir("i-0123abcd");
  DiskSizes sizes = PlanDisks(Request(), 1 << 20, NodeOptions{}.swap_mib).value();  // the 1 MiB root
  // The overlay, written in-process, is backed by the cached image (its path in the header).
  std::string root = PosixEnv().ReadFile(JoinPath(inst, "root.qcow2")).value_or("");
  EXPECT_EQ(root.substr(0, 4), "QFI\xfb");
  EXPECT_THAT(root, HasSubstr("/nc/cache/emi-00000001/"));
  EXPECT_EQ(PosixEnv().Mode(JoinPath(inst, "root.qcow2")).value_or(0), 0600u);
  for (const auto& [name, size] : {std::pair{"ephemeral.img", sizes.ephemeral_bytes}, {"swap.img", sizes.swap_bytes}}) {
    ASSERT_GT(size, 0u) << name;
    EXPECT_EQ(PosixEnv().FileSize(JoinPath(inst, name)).value_or(0), size) << name;
    EXPECT_EQ(PosixEnv().Mode(JoinPath(inst, name)).value_or(0), 0600u) << name;
  }
  // The swap disk carries its header, made in-process (no mkswap in the transcript).
  std::string swap = FirstPage(JoinPath(inst, "swap.img"));
  ASSERT_EQ(swap.size(), 4096u);
  EXPECT_EQ(swap.substr(4086, 10), "SWAPSPACE2");
  EXPECT_EQ(swap.substr(1052, 5), std::string("swap\0", 5));
}

// The overlay NC writes itself is one QEMU reads as `qemu-img create -f qcow2 -F raw -b`
// writes it: checked by qemu-img itself (skipped where it is not installed).
TEST_F(NodeTest, TheOverlayIsAQcow2ImageOverItsBackingFile) {
  if (!RealCommandRunner().Run(Command{.argv = {"qemu-img", "--version"}}).ok()) GTEST_SKIP() << "no qemu-img";
  const std::string backing = dir_.path() + "/image.raw";
  ASSERT_TRUE(PosixEnv().WriteFileAtomic(backing, std::string(3 << 20, 'x'), 0600).ok());
  for (uint64_t size : {uint64_t{3} << 20, uint64_t{5} << 30}) {  // one L1 entry, and ten
    const std::string path = dir_.path() + "/root-" + std::to_string(size) + ".qcow2";
    Result<std::string> overlay = Qcow2Overlay(backing, size);
    ASSERT_TRUE(overlay.ok()) << overlay.status().ToString();
    ASSERT_TRUE(PosixEnv().WriteFileAtomic(path, *overlay, 0600).ok());
    auto check = RealCommandRunner().Run(Command{.argv = {"qemu-img", "check", path}});
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    EXPECT_THAT(check->out, HasSubstr("No errors were found on the image."));
    auto info = RealCommandRunner().Run(Command{.argv = {"qemu-img", "info", "--output=json", path}});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_THAT(info->out, HasSubstr("\"format\": \"qcow2\""));
    EXPECT_THAT(info->out, HasSubstr("\"virtual-size\": " + std::to_string(size)));
    EXPECT_THAT(info->out, HasSubstr("\"backing-filename\": \"" + backing + "\""));
    EXPECT_THAT(info->out, HasSubstr("\"backing-filename-format\": \"raw\""));
    EXPECT_THAT(info->out, HasSubstr("\"cluster-size\": 65536"));
    // Reads through the overlay come from the backing file.
    auto head = RealCommandRunner().Run(
        Command{.argv = {"qemu-io", "-r", "-c", "read -P 0x78 0 64k", path}});
    ASSERT_TRUE(head.ok()) << head.status().ToString();
    EXPECT_THAT(head->out, HasSubstr("read 65536/65536 bytes"));
  }
  EXPECT_EQ(Qcow2Overlay("relative/image", 1 << 20).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Qcow2Overlay("/" + std::string(2000, 'a'), 1 << 20).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Qcow2Overlay(backing, uint64_t{5} << 40).status().code(), Code::kInvalidArgument);
}

// The swap header NC writes itself is byte for byte the page mkswap writes on a zeroed file
// (skipped where mkswap is not installed), and blkid reads it as swap with its label and uuid.
TEST_F(NodeTest, TheSwapHeaderIsWhatMkswapWrites) {
  if (!RealCommandRunner().Run(Command{.argv = {"mkswap", "--version"}}).ok()) GTEST_SKIP() << "no mkswap";
  const std::string uuid("\x0f\x1e\x2d\x3c\x4b\x5a\x49\x78\x87\x96\xa5\xb4\xc3\xd2\xe1\xf0", 16);
  const std::string uuid_text = "0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0";
  for (uint64_t size : {uint64_t{16} << 20, (uint64_t{5} << 30) + 12345}) {
    const std::string theirs = dir_.path() + "/mkswap-" + std::to_string(size);
    ASSERT_TRUE(PosixEnv().CreateSparseFile(theirs, size, 0600, "").ok());
    auto made = RealCommandRunner().Run(Command{.argv = {"mkswap", "-L", "swap", "-U", uuid_text, theirs}});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    Result<std::string> ours = SwapHeader(size, uuid, "swap");
    ASSERT_TRUE(ours.ok()) << ours.status().ToString();
    EXPECT_EQ(*ours, FirstPage(theirs)) << size;

    const std::string path = dir_.path() + "/ours-" + std::to_string(size);
    ASSERT_TRUE(PosixEnv().CreateSparseFile(path, size, 0600, *ours).ok());
    auto probe = RealCommandRunner().Run(Command{.argv = {"blkid", "-p", "-o", "export", path}});
    if (!probe.ok()) continue;  // no blkid here
    EXPECT_THAT(probe->out, HasSubstr("TYPE=swap"));
    EXPECT_THAT(probe->out, HasSubstr("LABEL=swap"));
    EXPECT_THAT(probe->out, HasSubstr("UUID=" + uuid_text));
  }
  EXPECT_EQ(SwapHeader(9 * 4096, uuid, "swap").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SwapHeader(uint64_t{1} << 45, uuid, "swap").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SwapHeader(1 << 20, "short", "swap").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SwapHeader(1 << 20, uuid, std::string(17, 'x')).status().code(), Code::kInvalidArgument);
}

TEST_F(NodeTest, TheSeedCarriesInstanceIdAndKey) {
  RunInstanceRequest r = Request();
  EXPECT_EQ(NoCloudMetaData(r),
            "instance-id: i-0123abcd\nlocal-hostname: i-0123abcd\npublic-keys:\n  - \"ssh-rsa AAAAB3Nza test@example\"\n");
  r.public_key.clear();
  EXPECT_EQ(NoCloudMetaData(r), "instance-id: i-0123abcd\nlocal-hostname: i-0123abcd\n");
}

// The seed NC writes itself is an ISO 9660 image isoinfo and blkid read as genisoimage's:
// volume id cidata, Joliet, the two files with their bytes (skipped where isoinfo is not
// installed). The real-libvirt tests boot guests that mount it and print what they read.
TEST_F(NodeTest, TheSeedIsAnIso9660ImageWithJolietNames) {
  if (!RealCommandRunner().Run(Command{.argv = {"isoinfo", "-version"}}).ok()) GTEST_SKIP() << "no isoinfo";
  const std::string meta = NoCloudMetaData(Request());
  for (const std::string& user : {std::string(), std::string("#cloud-config\n"), std::string(5000, 'u') + "\n"}) {
    Result<std::string> iso = NoCloudSeedIso(meta, user, 1764806400);  // 2025-12-04 00:00:00 UTC
    ASSERT_TRUE(iso.ok()) << iso.status().ToString();
    EXPECT_EQ(iso->size() % 2048, 0u);
    const std::string path = dir_.path() + "/seed-" + std::to_string(user.size()) + ".iso";
    ASSERT_TRUE(PosixEnv().WriteFileAtomic(path, *iso, 0600).ok());
    auto info = RealCommandRunner().Run(Command{.argv = {"isoinfo", "-d", "-i", path}});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_THAT(info->out, HasSubstr("Volume id: cidata"));
    EXPECT_THAT(info->out, HasSubstr("Joliet with UCS level 3 found"));
    EXPECT_THAT(info->out, HasSubstr("Volume size is: " + std::to_string(iso->size() / 2048)));
    EXPECT_EQ(iso->substr(16 * 2048 + 813, 16), "2025120400000000");  // the volume's creation date
    auto list = RealCommandRunner().Run(Command{.argv = {"isoinfo", "-J", "-f", "-i", path}});
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    EXPECT_EQ(list->out, "/meta-data\n/user-data\n");
    auto plain = RealCommandRunner().Run(Command{.argv = {"isoinfo", "-f", "-i", path}});
    ASSERT_TRUE(plain.ok()) << plain.status().ToString();
    EXPECT_EQ(plain->out, "/META_DAT.;1\n/USER_DAT.;1\n");
    for (const auto& [name, want] : {std::pair{"/meta-data", meta}, {"/user-data", user}}) {
      auto got = RealCommandRunner().Run(Command{.argv = {"isoinfo", "-J", "-x", name, "-i", path}});
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(got->out, want) << name;
    }
    auto probe = RealCommandRunner().Run(Command{.argv = {"blkid", "-p", "-o", "export", path}});
    if (probe.ok()) {
      EXPECT_THAT(probe->out, HasSubstr("TYPE=iso9660"));
      EXPECT_THAT(probe->out, HasSubstr("LABEL=cidata"));
    }
    // busybox's findfs, as the test guest finds its seed, on a read-only loop device (root
    // only; it probes past the end of a short volume, so this checks the padding).
    auto loop = RealCommandRunner().Run(Command{.argv = {"losetup", "--find", "--show", "--read-only", path}});
    if (loop.ok()) {
      const std::string device = loop->out.substr(0, loop->out.find('\n'));
      auto found = RealCommandRunner().Run(Command{.argv = {"busybox", "findfs", "LABEL=cidata"}});
      (void)RealCommandRunner().Run(Command{.argv = {"losetup", "--detach", device}});
      ASSERT_TRUE(found.ok()) << found.status().ToString();
      EXPECT_EQ(found->out.substr(0, found->out.find('\n')), device);
    }
  }
  EXPECT_EQ(NoCloudSeedIso(meta, std::string((16u << 20) + 1, 'x'), 0).status().code(), Code::kInvalidArgument);
}

TEST_F(NodeTest, RepeatingRunInstanceNeverStartsASecondVm) {
  RunAndWait();
  Result<Instance> again = node_->RunInstance(Request());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().state, InstanceState::kExtant);
  node_->WaitIdleForTest();
  EXPECT_EQ(hypervisor_.starts_for_test(), 1);
}

TEST_F(NodeTest, TerminateDestroysTheDomainAndRemovesEveryFile) {
  RunAndWait();
  ASSERT_TRUE(std::filesystem::exists(node_->InstanceDir(kId)));
  Result<TerminateResult> t = node_->TerminateInstance(kId);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().previous_state, "Extant");
  EXPECT_EQ(t.value().shutdown_state, "Teardown");
  EXPECT_EQ(hypervisor_.GetDomain(kId).status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir(kId)));
  EXPECT_EQ(Describe().state, InstanceState::kTeardown);
  // Twice is fine, and so is an id this node never saw.
  EXPECT_TRUE(node_->TerminateInstance(kId).ok());
  EXPECT_TRUE(node_->TerminateInstance("i-99999999").ok());
  EXPECT_EQ(node_->TerminateInstance("x-1").status().code(), Code::kInvalidArgument);
}

TEST_F(NodeTest, ADomainDestroyedBehindOurBackIsReportedTeardownAndCleanedUp) {
  RunAndWait();
  ASSERT_TRUE(hypervisor_.KillForTest(kId).ok());
  Instance i = Describe();
  EXPECT_EQ(i.state, InstanceState::kTeardown);
  EXPECT_THAT(i.reason, HasSubstr("gone"));
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir(kId)));
  // Its resources are free again.
  NodeResource r = node_->DescribeResource().value();
  EXPECT_EQ(r.cores_available, r.cores_max);
}

TEST_F(NodeTest, ACrashedDomainStaysExtantWithItsState) {
  RunAndWait();
  ASSERT_TRUE(hypervisor_.CrashForTest(kId).ok());
  Instance i = Describe();
  EXPECT_EQ(i.state, InstanceState::kExtant);
  EXPECT_EQ(i.hypervisor_state, "crashed");
}

TEST_F(NodeTest, ARestartedNodeReadoptsItsRunningInstances) {
  RunAndWait();
  RunAndWait(Request("i-0000aaaa"));
  ASSERT_TRUE(hypervisor_.KillForTest("i-0000aaaa").ok());  // dies while the NC is down
  Reopen();
  EXPECT_EQ(Describe().state, InstanceState::kExtant);
  Instance dead = Describe("i-0000aaaa");
  EXPECT_EQ(dead.state, InstanceState::kTeardown);
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir("i-0000aaaa")));
  // The re-adopted instance holds its cache entries: it can be terminated cleanly.
  EXPECT_TRUE(node_->TerminateInstance(kId).ok());
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir(kId)));
  EXPECT_EQ(hypervisor_.starts_for_test(), 2);
}

TEST_F(NodeTest, ADomainStartsPausedAndRunsOnceStarted) {
  EXPECT_EQ(RunAndWait().state, InstanceState::kExtant);
  EXPECT_TRUE(hypervisor_.SpecForTest(kId).value().start_paused);
  EXPECT_EQ(hypervisor_.GetDomain(kId)->state, hv::DomainState::kRunning);
  EXPECT_EQ(Describe().hypervisor_state, "running");
}

TEST_F(NodeTest, AStartedDomainWaitsForTheOtherStartsInFlight) {
  hypervisor_.HoldStartForTest("i-0000aaaa");
  ASSERT_TRUE(node_->RunInstance(Request("i-0000aaaa")).ok());
  for (int i = 0; i < 1000 && !hypervisor_.StartHeldForTest("i-0000aaaa"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(hypervisor_.StartHeldForTest("i-0000aaaa"));
  ASSERT_TRUE(node_->RunInstance(Request()).ok());
  // Started, but paused while the other start is in flight (the batch wait is 60 s here).
  for (int i = 0; i < 1000 && !hypervisor_.GetDomain(kId).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(hypervisor_.GetDomain(kId).ok());
  EXPECT_EQ(hypervisor_.GetDomain(kId)->state, hv::DomainState::kPaused);
  EXPECT_EQ(Describe().state, InstanceState::kPending);
  hypervisor_.ReleaseStartForTest("i-0000aaaa");
  node_->WaitIdleForTest();
  EXPECT_EQ(Describe().state, InstanceState::kExtant);
  EXPECT_EQ(Describe("i-0000aaaa").state, InstanceState::kExtant);
  EXPECT_EQ(hypervisor_.GetDomain(kId)->state, hv::DomainState::kRunning);
  EXPECT_EQ(hypervisor_.GetDomain("i-0000aaaa")->state, hv::DomainState::kRunning);
}

TEST_F(NodeTest, TerminatingAPausedStartEndsItsWait) {
  hypervisor_.HoldStartForTest("i-0000aaaa");
  ASSERT_TRUE(node_->RunInstance(Request("i-0000aaaa")).ok());
  ASSERT_TRUE(node_->RunInstance(Request()).ok());
  for (int i = 0; i < 1000 && !hypervisor_.GetDomain(kId).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(node_->TerminateInstance(kId).ok());
  for (int i = 0; i < 1000 && std::filesystem::exists(node_->InstanceDir(kId)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir(kId)));
  EXPECT_EQ(hypervisor_.GetDomain(kId).status().code(), Code::kNotFound);
  hypervisor_.ReleaseStartForTest("i-0000aaaa");
  node_->WaitIdleForTest();
  EXPECT_EQ(Describe("i-0000aaaa").state, InstanceState::kExtant);
}

TEST_F(NodeTest, AFailedResumeIsTeardownAndLeavesNothing) {
  hypervisor_.FailResumeForTest(Internal("monitor gone"));
  Instance i = RunAndWait();
  EXPECT_EQ(i.state, InstanceState::kTeardown);
  EXPECT_THAT(i.reason, HasSubstr("monitor gone"));
  EXPECT_EQ(hypervisor_.GetDomain(kId).status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir(kId)));
}

TEST_F(NodeTest, ARestartedNodeResumesADomainItLeftPaused) {
  RunAndWait();
  // As if the node controller stopped between the paused start and the resume: the record
  // still says Pending, the domain is paused.
  hv::DomainSpec spec = hypervisor_.SpecForTest(kId).value();
  node_.reset();
  ASSERT_TRUE(hypervisor_.Destroy(kId).ok());
  ASSERT_TRUE(hypervisor_.Start(spec).ok());
  ASSERT_EQ(hypervisor_.GetDomain(kId)->state, hv::DomainState::kPaused);
  const std::string record = dir_.path() + "/nc/instances/" + kId + "/instance.json";
  std::ifstream in(record);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  ASSERT_NE(text.find("\"Extant\""), std::string::npos);
  text.replace(text.find("\"Extant\""), 8, "\"Pending\"");
  std::ofstream(record) << text;
  Reopen();
  EXPECT_EQ(hypervisor_.GetDomain(kId)->state, hv::DomainState::kRunning);
  EXPECT_EQ(Describe().state, InstanceState::kExtant);
  EXPECT_EQ(Describe().hypervisor_state, "running");
}

TEST_F(NodeTest, ADomainOfAnotherNodeIsLeftAlone) {
  hv::DomainSpec other;
  other.name = "i-0000ffff";
  other.disks.push_back({"/var/lib/other/disk", "qcow2", "vda"});
  other.metadata["node"] = "nc-someone-else";
  ASSERT_TRUE(hypervisor_.Start(other).ok());
  Reopen();
  EXPECT_TRUE(hypervisor_.GetDomain("i-0000ffff").ok());
  EXPECT_TRUE(node_->DescribeInstances({}).value().empty());
}

TEST_F(NodeTest, NotEnoughRoomIsInsufficientInstanceCapacity) {
  RunInstanceRequest big = Request();
  big.vm_type.cores = 64;
  Result<Instance> r = node_->RunInstance(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(r.status().wire_code(), "InsufficientInstanceCapacity");
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir(kId)));
  // Four 1-core instances fill the fake's four cores; the fifth is refused.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(node_->RunInstance(Request("i-0000000" + std::to_string(i))).ok());
  EXPECT_EQ(node_->RunInstance(Request("i-00000009")).status().code(), Code::kResourceExhausted);
  node_->WaitIdleForTest();
  NodeResource res = node_->DescribeResource().value();
  EXPECT_EQ(res.cores_max, 4);
  EXPECT_EQ(res.cores_available, 0);
  EXPECT_EQ(res.memory_available_mib, res.memory_max_mib - 4 * 256);
}

TEST_F(NodeTest, AFailedStartIsTeardownWithTheReasonAndLeavesNothing) {
  hypervisor_.FailStartForTest(Internal("qemu exited"));
  Instance i = RunAndWait();
  EXPECT_EQ(i.state, InstanceState::kTeardown);
  EXPECT_THAT(i.reason, HasSubstr("qemu exited"));
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir(kId)));
  // A failed image fetch likewise.
  fetcher_.Put("b/other.manifest.xml", "other");
  fetcher_.FailNext(Unavailable("walrus is down"));
  RunInstanceRequest other = Request("i-0000bbbb");
  other.image = {"emi-0000000e", "b/other.manifest.xml"};
  Instance j = RunAndWait(other);
  EXPECT_EQ(j.state, InstanceState::kTeardown);
  EXPECT_THAT(j.reason, HasSubstr("walrus is down"));
  // A failing disk tool too.
  runner_.SetError("mkfs.ext4", Internal("'mkfs.ext4' exited with status 1: no space"));
  Instance k = RunAndWait(Request("i-0000cccc"));
  EXPECT_EQ(k.state, InstanceState::kTeardown);
  EXPECT_THAT(k.reason, HasSubstr("mkfs.ext4"));
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir("i-0000cccc")));
}

TEST_F(NodeTest, TerminatingWhileTheImageDownloadsStartsNothing) {
  fetcher_.Put("b/slow.manifest.xml", "slow", "s1");
  RunInstanceRequest r = Request();
  r.kernel = {};
  r.ramdisk = {};
  r.image = {"emi-0000000f", "b/slow.manifest.xml"};
  fetcher_.Hold();
  ASSERT_TRUE(node_->RunInstance(r).ok());
  while (fetcher_.fetches.load() == 0) std::this_thread::yield();
  Result<TerminateResult> t = node_->TerminateInstance(kId);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().previous_state, "Pending");
  fetcher_.Release();
  node_->WaitIdleForTest();
  EXPECT_EQ(hypervisor_.starts_for_test(), 0);
  EXPECT_FALSE(std::filesystem::exists(node_->InstanceDir(kId)));
  EXPECT_EQ(Describe().state, InstanceState::kTeardown);
}

TEST_F(NodeTest, FinishedBackgroundThreadsAreJoinedSoALongRunningNodeKeepsFew) {
  for (int i = 0; i < 20; ++i) {
    std::string id = "i-000001" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    RunAndWait(Request(id));
    ASSERT_TRUE(node_->TerminateInstance(id).ok());
  }
  EXPECT_LE(node_->ThreadsForTest(), 1u);
  EXPECT_EQ(hypervisor_.starts_for_test(), 20);
}

// A node that gets one burst and nothing after it (it is full) still joins the burst's
// threads: each finishing thread joins those that finished before it.
TEST_F(NodeTest, ABurstsThreadsAreJoinedWithoutALaterStart) {
  fetcher_.Hold();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(node_->RunInstance(Request("i-0000020" + std::to_string(i))).ok());
  fetcher_.Release();
  node_->WaitIdleForTest();
  EXPECT_LE(node_->ThreadsForTest(), 1u);
}

TEST_F(NodeTest, TeardownRecordsAreForgottenAfterAWhile) {
  RunAndWait();
  ASSERT_TRUE(node_->TerminateInstance(kId).ok());
  EXPECT_EQ(node_->DescribeInstances({}).value().size(), 1u);
  clock_.Advance(61'000);
  EXPECT_TRUE(node_->DescribeInstances({}).value().empty());
}

TEST_F(NodeTest, ConsoleOutputIsTheLast64KiB) {
  RunAndWait();
  {
    std::ofstream out(node_->InstanceDir(kId) + "/console.log");
    out << std::string(70 * 1024, 'a') << "EUCA-GUEST-READY";
  }
  Result<std::string> c = node_->GetConsoleOutput(kId);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value().size(), 64u * 1024);
  EXPECT_THAT(c.value(), ::testing::EndsWith("EUCA-GUEST-READY"));
  EXPECT_EQ(node_->GetConsoleOutput("i-99999999").status().code(), Code::kNotFound);
}

TEST_F(NodeTest, RebootAndNetwork) {
  ASSERT_TRUE(node_->StartNetwork({"br-euca0"}).ok());
  EXPECT_EQ(node_->StartNetwork({"bad name!"}).code(), Code::kInvalidArgument);
  RunAndWait();
  EXPECT_TRUE(node_->RebootInstance(kId).ok());
  EXPECT_EQ(hypervisor_.reboots_for_test(kId), 1);
  EXPECT_EQ(node_->RebootInstance("i-99999999").code(), Code::kNotFound);
  Result<hv::DomainSpec> spec = hypervisor_.SpecForTest(kId);
  ASSERT_EQ(spec.value().nics.size(), 1u);
  EXPECT_EQ(spec.value().nics[0].bridge, "br-euca0");
  EXPECT_EQ(spec.value().nics[0].mac, "d0:0d:01:23:ab:cd");
}

TEST_F(NodeTest, BadRequestsAreRefusedAndChangeNothing) {
  RunInstanceRequest r = Request();
  r.instance_id = "i-XYZ";
  EXPECT_EQ(node_->RunInstance(r).status().code(), Code::kInvalidArgument);
  r = Request();
  r.vm_type.cores = 0;
  EXPECT_EQ(node_->RunInstance(r).status().code(), Code::kInvalidArgument);
  r = Request();
  r.user_data.assign(16385, 'u');
  EXPECT_THAT(node_->RunInstance(r).status().message(), HasSubstr("16384"));
  r = Request();
  r.ramdisk = {"eri-00000003", "b/initrd.manifest.xml"};
  r.kernel = {};
  EXPECT_THAT(node_->RunInstance(r).status().message(), HasSubstr("a ramdisk needs a kernel"));
  EXPECT_TRUE(node_->DescribeInstances({}).value().empty());
}

}  // namespace
}  // namespace euca::nc
