#include "drivers/hypervisor/libvirt/accel.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <mutex>

namespace euca::hypervisor {
namespace {

void PutLe32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The exit port of QEMU's isa-debug-exit device and the value the probe writes there;
// QEMU then exits with status (value << 1) | 1.
constexpr int kExitPort = 0xf4;
constexpr int kExitValue = 0x10;
constexpr int kProbeExitStatus = (kExitValue << 1) | 1;

}  // namespace

std::string KvmProbeImage() {
  constexpr uint32_t kMagic = 0x1BADB002;
  constexpr uint32_t kFlags = 0x00010000;  // the address fields below are valid (a.out kludge)
  constexpr uint32_t kLoad = 0x100000;
  std::string image;
  PutLe32(image, kMagic);
  PutLe32(image, kFlags);
  PutLe32(image, static_cast<uint32_t>(-(kMagic + kFlags)));
  PutLe32(image, kLoad);         // header_addr
  PutLe32(image, kLoad);         // load_addr
  PutLe32(image, 0);             // load_end_addr: the whole file
  PutLe32(image, 0);             // bss_end_addr: none
  PutLe32(image, kLoad + 0x20);  // entry: right after this header
  // 32-bit protected mode code.
  const unsigned char code[] = {
      0x66, 0xBA,       0xF8,
      0x03,       // mov dx, 0x3f8 (COM1)
      0xB0, 'K',  // mov al, 'K'
      0xEE,       // out dx, al
      0x66, 0xBA,       kExitPort & 0xff,
      0x00,              // mov dx, 0xf4
      0xB0, kExitValue,  // mov al, 0x10
      0xEE,              // out dx, al: QEMU exits
      0xF4,              // hlt
      0xEB, 0xFD,        // jmp back to hlt
  };
  image.append(reinterpret_cast<const char*>(code), sizeof(code));
  return image;
}

Command KvmProbeCommand(const std::string& image_path, const std::string& accel_name) {
  Command cmd;
  cmd.argv = {"qemu-system-x86_64",
              "-accel",
              accel_name,
              "-machine",
              "pc",
              "-m",
              "16",
              "-nodefaults",
              "-no-user-config",
              "-nographic",
              "-serial",
              "null",
              "-monitor",
              "none",
              "-device",
              "isa-debug-exit,iobase=0xf4,iosize=0x04",
              "-kernel",
              image_path};
  cmd.timeout = kProbeTimeout;
  cmd.accept_failure = true;  // success is a non-zero exit status
  cmd.max_output_bytes = 4096;
  return cmd;
}

bool RunAccelProbe(CommandRunner& runner, const std::string& accel_name) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string path = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/euca-accel-probe-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) return false;
  std::string image = KvmProbeImage();
  bool written = ::write(fd, image.data(), image.size()) == static_cast<ssize_t>(image.size());
  ::close(fd);
  bool works = false;
  if (written) {
    auto result = runner.Run(KvmProbeCommand(path, accel_name));
    works = result.ok() && result->exit_code == kProbeExitStatus;
  }
  ::unlink(path.c_str());
  return works;
}

std::string ChooseDomainType(Accel accel, const std::function<bool()>& kvm_device_usable,
                             const std::function<bool()>& kvm_probe) {
  switch (accel) {
    case Accel::kKvm:
      return "kvm";
    case Accel::kTcg:
      return "qemu";
    case Accel::kAuto:
      return kvm_device_usable() && kvm_probe() ? "kvm" : "qemu";
  }
  return "qemu";
}

std::string ResolveDomainType(Accel accel) {
  static std::once_flag once;
  static std::string auto_answer;
  if (accel != Accel::kAuto) return ChooseDomainType(accel, {}, {});
  std::call_once(once, [] {
    auto_answer = ChooseDomainType(
        Accel::kAuto,
        [] {
          int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
          if (fd < 0) return false;
          ::close(fd);
          return true;
        },
        [] { return RunAccelProbe(RealCommandRunner(), "kvm"); });
  });
  return auto_answer;
}

}  // namespace euca::hypervisor
