#pragma once
// Choosing the libvirt domain type for an Accel setting. kKvm and kTcg are taken as told;
// kAuto picks KVM only when /dev/kvm opens read-write AND a probe guest runs under KVM: on
// some hosts (nested virtualization) /dev/kvm exists but guests hang at boot. The probe is a
// 49-byte multiboot image that writes 'K' to the serial port and leaves QEMU through the
// isa-debug-exit port: QEMU, firmware and 20 guest instructions, a few hundred milliseconds
// under TCG and less under a working KVM. Where KVM is broken it either hangs or crawls
// (seen: 4.5 to 5.7 s through the firmware, then Linux hangs), so a probe that does not
// finish within kProbeTimeout counts as "KVM does not work". When in doubt, TCG: slower,
// never stuck. See docs/hypervisor.md "Accelerator".

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "core/base/command.h"
#include "drivers/hypervisor/hypervisor.h"

namespace euca::hypervisor {

inline constexpr std::chrono::milliseconds kProbeTimeout{2000};

/// The probe image (multiboot, a.out kludge, loaded at 1 MiB).
std::string KvmProbeImage();

/// The QEMU command line that runs the probe image at `image_path` with accelerator
/// `accel_name` ("kvm" or "tcg").
Command KvmProbeCommand(const std::string& image_path, const std::string& accel_name);

/// Runs the probe under `accel_name` through `runner`; true when the guest reached its exit
/// port. Writes the image to a temporary file, removed after.
bool RunAccelProbe(CommandRunner& runner, const std::string& accel_name);

/// "kvm" or "qemu" for `accel`. For kAuto: "qemu" unless `kvm_device_usable()` and
/// `kvm_probe()` both say yes. Pure policy; the callbacks are the outside world.
std::string ChooseDomainType(Accel accel, const std::function<bool()>& kvm_device_usable,
                             const std::function<bool()>& kvm_probe);

/// What an auto answer is valid for: this boot of this kernel and this QEMU binary
/// ("<boot id> <qemu-system-x86_64 path>:<mtime>"). A new boot or another QEMU probes again.
std::string AccelCacheStamp();

/// The answer cached in `text` (a cache file's contents, "<stamp>\t<kvm|qemu>\n") when it was
/// written under `stamp`; nullopt otherwise. Pure.
std::optional<std::string> ReadAccelCache(const std::string& text, const std::string& stamp);

/// ChooseDomainType on this machine (/dev/kvm, the probe on RealCommandRunner). The answer
/// for kAuto is computed once per process and cached (the probe costs up to kProbeTimeout);
/// with `cache_file` it is also remembered there across processes (each one-shot command
/// would otherwise probe again): read when its stamp matches, else probed and written
/// (atomically; a file that cannot be written only costs the next process a probe).
/// Thread-safe.
std::string ResolveDomainType(Accel accel, const std::string& cache_file = "");

}  // namespace euca::hypervisor
