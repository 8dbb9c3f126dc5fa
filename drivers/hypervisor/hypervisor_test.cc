#include "drivers/hypervisor/hypervisor.h"

#include <gtest/gtest.h>

#include <functional>

namespace euca::hypervisor {
namespace {

DomainSpec Valid() {
  DomainSpec spec;
  spec.name = "i-12345678";
  spec.kernel = "/k";
  spec.disks.push_back(DiskSpec{.path = "/d.qcow2", .format = "qcow2", .target = "vda"});
  spec.nics.push_back(NicSpec{.bridge = "br0", .mac = "d0:0d:12:34:56:78"});
  return spec;
}

TEST(HypervisorTest, AccelParsesAndFormats) {
  for (Accel a : {Accel::kAuto, Accel::kKvm, Accel::kTcg}) EXPECT_EQ(*ParseAccel(AccelName(a)), a);
  auto bad = ParseAccel("hvf");
  EXPECT_EQ(bad.status().message(), "accelerator 'hvf' is not one of auto, kvm, tcg");
}

TEST(HypervisorTest, StateNames) {
  EXPECT_EQ(DomainStateName(DomainState::kPmSuspended), "pmsuspended");
  EXPECT_EQ(DomainStateName(DomainState::kShutoff), "shutoff");
}

TEST(HypervisorTest, ValidateAcceptsAGoodSpec) { EXPECT_TRUE(ValidateDomainSpec(Valid()).ok()); }

TEST(HypervisorTest, ValidateRefusesBadSpecsNamingTheValue) {
  struct Case {
    std::function<void(DomainSpec&)> edit;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](DomainSpec& s) { s.name = "i-1/../x"; }, "domain name 'i-1/../x' must be 1 to 64 of A-Z a-z 0-9 . _ -"},
      {[](DomainSpec& s) { s.memory_mib = 1; }, "memory 1 MiB of domain 'i-12345678' must be 16 MiB to 4 TiB"},
      {[](DomainSpec& s) { s.disks[0].format = "vmdk"; },
       "disk format 'vmdk' of domain 'i-12345678' is not qcow2 or raw"},
      {[](DomainSpec& s) { s.disks.push_back(s.disks[0]); }, "disk target 'vda' of domain 'i-12345678' is used twice"},
      {[](DomainSpec& s) { s.disks[0].path = "rel.img"; },
       "disk path 'rel.img' of domain 'i-12345678' must be absolute"},
      {[](DomainSpec& s) { s.nics[0].mac = "zz"; },
       "MAC address 'zz' of domain 'i-12345678' is not like d0:0d:12:34:56:78"},
      {[](DomainSpec& s) {
         s.kernel.clear();
         s.disks.clear();
       },
       "domain 'i-12345678' has neither a kernel nor a disk to boot from"},
      {[](DomainSpec& s) {
         s.kernel.clear();
         s.cmdline = "console=ttyS0";
       },
       "a ramdisk or kernel command line of domain 'i-12345678' needs a kernel"},
      {[](DomainSpec& s) { s.firmware = "qboot.rom"; }, "path 'qboot.rom' of domain 'i-12345678' must be absolute"},
      {[](DomainSpec& s) { s.metadata["bad key"] = "x"; },
       "metadata key 'bad key' of domain 'i-12345678' must be 1 to 64 of A-Z a-z 0-9 . _ -"},
  };
  for (const Case& c : cases) {
    DomainSpec spec = Valid();
    c.edit(spec);
    Status s = ValidateDomainSpec(spec);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.message;
    EXPECT_EQ(s.message(), c.message);
  }
}

}  // namespace
}  // namespace euca::hypervisor
