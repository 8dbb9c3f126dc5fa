#include "drivers/hypervisor/libvirt/accel.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

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

std::string AccelCacheStamp() {
  std::string boot_id;
  {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::getline(in, boot_id);
  }
  std::string qemu = "none";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    struct stat st{};
    std::string candidate = dir + "/qemu-system-x86_64";
    if (!dir.empty() && ::stat(candidate.c_str(), &st) == 0) {
      qemu = candidate + ":" + std::to_string(st.st_mtime);
      break;
    }
  }
  return (boot_id.empty() ? "unknown-boot" : boot_id) + " " + qemu;
}

std::optional<std::string> ReadAccelCache(const std::string& text, const std::string& stamp) {
  auto tab = text.find('\t');
  if (tab == std::string::npos || text.substr(0, tab) != stamp) return std::nullopt;
  std::string answer = text.substr(tab + 1);
  while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
  if (answer != "kvm" && answer != "qemu") return std::nullopt;
  return answer;
}

namespace {

std::string ProbeThisMachine() {
  return ChooseDomainType(
      Accel::kAuto,
      [] {
        int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) return false;
        ::close(fd);
        return true;
      },
      [] { return RunAccelProbe(RealCommandRunner(), "kvm"); });
}

std::string ResolveThroughFile(const std::string& cache_file) {
  const std::string stamp = AccelCacheStamp();
  {
    std::ifstream in(cache_file);
    std::stringstream text;
    text << in.rdbuf();
    if (auto cached = ReadAccelCache(text.str(), stamp)) return *cached;
  }
  std::string answer = ProbeThisMachine();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(cache_file).parent_path(), ec);
  const std::string tmp = cache_file + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << stamp << '\t' << answer << '\n';
  }
  std::filesystem::rename(tmp, cache_file, ec);
  if (ec) std::filesystem::remove(tmp, ec);
  return answer;
}

}  // namespace

std::string ResolveDomainType(Accel accel, const std::string& cache_file) {
  static std::mutex mu;
  static std::map<std::string, std::string> answers;  // cache file ("" = none) -> answer
  if (accel != Accel::kAuto) return ChooseDomainType(accel, {}, {});
  std::lock_guard lock(mu);
  auto it = answers.find(cache_file);
  if (it != answers.end()) return it->second;
  std::string answer = cache_file.empty() ? ProbeThisMachine() : ResolveThroughFile(cache_file);
  answers[cache_file] = answer;
  return answer;
}

}  // namespace euca::hypervisor
