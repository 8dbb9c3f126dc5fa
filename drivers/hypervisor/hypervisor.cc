#include "drivers/hypervisor/hypervisor.h"

#include <cctype>
#include <set>

#include "drivers/hypervisor/fake_hypervisor.h"
#include "drivers/hypervisor/libvirt/libvirt_hypervisor.h"

namespace euca::hypervisor {
namespace {

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-'; }

bool IsName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

bool IsMac(const std::string& mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i % 3 == 2) {
      if (mac[i] != ':') return false;
    } else if (std::isxdigit(static_cast<unsigned char>(mac[i])) == 0) {
      return false;
    }
  }
  return true;
}

// Guest device names: vda..vdz, sda..sdz, hda..hdd.
bool IsTarget(const std::string& t) {
  return t.size() == 3 && (t.starts_with("vd") || t.starts_with("sd") || t.starts_with("hd")) && t[2] >= 'a' &&
         t[2] <= 'z';
}

// A path we can put into domain XML and a QEMU command line: absolute, no control bytes.
bool IsHostPath(const std::string& p) {
  if (p.empty() || p[0] != '/') return false;
  for (char c : p) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

Result<Accel> ParseAccel(std::string_view text) {
  if (text == "auto") return Accel::kAuto;
  if (text == "kvm") return Accel::kKvm;
  if (text == "tcg") return Accel::kTcg;
  return InvalidArgument("accelerator '" + std::string(text) + "' is not one of auto, kvm, tcg");
}

std::string_view AccelName(Accel accel) {
  switch (accel) {
    case Accel::kAuto:
      return "auto";
    case Accel::kKvm:
      return "kvm";
    case Accel::kTcg:
      return "tcg";
  }
  return "auto";
}

std::string_view DomainStateName(DomainState state) {
  switch (state) {
    case DomainState::kNoState:
      return "nostate";
    case DomainState::kRunning:
      return "running";
    case DomainState::kBlocked:
      return "blocked";
    case DomainState::kPaused:
      return "paused";
    case DomainState::kShutdown:
      return "shutdown";
    case DomainState::kShutoff:
      return "shutoff";
    case DomainState::kCrashed:
      return "crashed";
    case DomainState::kPmSuspended:
      return "pmsuspended";
  }
  return "nostate";
}

Status ValidateDomainSpec(const DomainSpec& spec) {
  if (!IsName(spec.name, 64)) {
    return InvalidArgument("domain name '" + spec.name + "' must be 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  const std::string of = " of domain '" + spec.name + "'";
  if (spec.vcpus < 1 || spec.vcpus > 256) {
    return InvalidArgument("vcpus " + std::to_string(spec.vcpus) + of + " must be 1 to 256");
  }
  if (spec.memory_mib < 16 || spec.memory_mib > (int64_t{4} << 20)) {
    return InvalidArgument("memory " + std::to_string(spec.memory_mib) + " MiB" + of + " must be 16 MiB to 4 TiB");
  }
  for (const std::string* path : {&spec.kernel, &spec.ramdisk, &spec.console_log, &spec.firmware}) {
    if (!path->empty() && !IsHostPath(*path)) {
      return InvalidArgument("path '" + *path + "'" + of + " must be absolute");
    }
  }
  if (spec.kernel.empty() && (!spec.ramdisk.empty() || !spec.cmdline.empty())) {
    return InvalidArgument("a ramdisk or kernel command line" + of + " needs a kernel");
  }
  for (char c : spec.cmdline) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgument("kernel command line" + of + " holds a control character");
    }
  }
  if (spec.kernel.empty() && spec.disks.empty()) {
    return InvalidArgument("domain '" + spec.name + "' has neither a kernel nor a disk to boot from");
  }
  std::set<std::string> targets;
  for (const DiskSpec& disk : spec.disks) {
    if (!IsHostPath(disk.path)) return InvalidArgument("disk path '" + disk.path + "'" + of + " must be absolute");
    if (disk.format != "qcow2" && disk.format != "raw") {
      return InvalidArgument("disk format '" + disk.format + "'" + of + " is not qcow2 or raw");
    }
    if (!IsTarget(disk.target)) {
      return InvalidArgument("disk target '" + disk.target + "'" + of + " is not a device name like vda");
    }
    if (!targets.insert(disk.target).second) {
      return InvalidArgument("disk target '" + disk.target + "'" + of + " is used twice");
    }
    if (disk.bus != "virtio" && disk.bus != "sata" && disk.bus != "ide" && disk.bus != "scsi") {
      return InvalidArgument("disk bus '" + disk.bus + "'" + of + " is not virtio, sata, ide or scsi");
    }
    if (disk.device != "disk" && disk.device != "cdrom") {
      return InvalidArgument("disk device '" + disk.device + "'" + of + " is not disk or cdrom");
    }
    if (disk.device == "cdrom" && disk.bus == "virtio") {
      return InvalidArgument("cdrom '" + disk.target + "'" + of + " cannot be on the virtio bus; use sata or ide");
    }
  }
  for (const NicSpec& nic : spec.nics) {
    if (!IsName(nic.bridge, 15)) {
      return InvalidArgument("bridge '" + nic.bridge + "'" + of + " is not an interface name");
    }
    if (!nic.mac.empty() && !IsMac(nic.mac)) {
      return InvalidArgument("MAC address '" + nic.mac + "'" + of + " is not like d0:0d:12:34:56:78");
    }
    if (nic.model != "virtio" && nic.model != "e1000" && nic.model != "rtl8139") {
      return InvalidArgument("NIC model '" + nic.model + "'" + of + " is not virtio, e1000 or rtl8139");
    }
  }
  for (const auto& [key, value] : spec.metadata) {
    if (!IsName(key, 64))
      return InvalidArgument("metadata key '" + key + "'" + of + " must be 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Hypervisor>> OpenHypervisor(const std::string& uri, Accel accel,
                                                   const std::string& accel_cache) {
  if (uri.starts_with("fake://")) {
    HostInfo host = FakeHypervisor::DefaultHost();
    host.uri = uri;
    return std::unique_ptr<Hypervisor>(std::make_unique<FakeHypervisor>(host));
  }
  if (uri.starts_with("test://") || uri.starts_with("qemu://") || uri.starts_with("qemu+")) {
    return OpenLibvirtHypervisor(uri, accel, accel_cache);
  }
  return InvalidArgument("hypervisor URI '" + uri +
                         "' is not supported; use qemu:///system, qemu:///session, test:///default or fake:///");
}

}  // namespace euca::hypervisor
