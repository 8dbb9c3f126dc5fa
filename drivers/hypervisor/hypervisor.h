#pragma once
// Hypervisor: the seam between the node controller and the machine's VMs (CONVENTIONS.md
// "Seams"). Drivers are chosen by URI scheme, like libvirt's own driver table:
//   test:///default                 libvirt's in-process fake (no daemon; unit tests, simulations)
//   qemu:///system, qemu:///session libvirt + QEMU (real guests)
//   fake://...                      FakeHypervisor, in memory (core unit tests, fault injection)
// Domains are transient: a domain exists while its VM runs (or has crashed and not yet been
// cleaned up) and is gone after Destroy. The NC keeps its own records; what identifies a domain
// as ours is the euca metadata stored with it (docs/hypervisor.md), which lets a restarted NC
// re-adopt running instances through ListDomains.
//
// Every implementation is thread-safe. An operation a driver lacks answers Unsupported.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace euca::hypervisor {

/// CPU acceleration for libvirt+QEMU domains: KVM (domain type "kvm") or QEMU's software
/// emulation TCG (domain type "qemu"). kAuto picks KVM only when it works (docs/hypervisor.md).
enum class Accel { kAuto, kKvm, kTcg };

/// "auto", "kvm" or "tcg" (case-sensitive). InvalidArgument otherwise.
Result<Accel> ParseAccel(std::string_view text);
std::string_view AccelName(Accel accel);

struct DiskSpec {
  std::string path{};            ///< image file on the host
  std::string format = "qcow2";  ///< "qcow2" | "raw"
  std::string target{};          ///< guest device name: "vda", "vdb", ...
  std::string bus = "virtio";    ///< "virtio" | "sata" | "ide" | "scsi"
  std::string device = "disk";   ///< "disk" | "cdrom"
  bool readonly = false;
  bool operator==(const DiskSpec&) const = default;
};

/// A NIC attached to an existing Linux bridge.
struct NicSpec {
  std::string bridge{};  ///< e.g. "br0"
  std::string mac{};     ///< "d0:0d:12:34:56:78"; "" = chosen by the hypervisor
  std::string model = "virtio";
  bool operator==(const NicSpec&) const = default;
};

/// What to start. ValidateDomainSpec says what is accepted.
struct DomainSpec {
  std::string name{};  ///< the instance id ("i-0123abcd"); unique on the host
  int vcpus = 1;
  int64_t memory_mib = 256;
  std::string kernel{};   ///< direct kernel boot; "" = boot from the first disk
  std::string ramdisk{};  ///< initrd for direct kernel boot; "" = none
  std::string cmdline{};  ///< kernel command line (direct kernel boot only)
  /// BIOS image the guest starts in instead of the hypervisor's own (SeaBIOS), e.g. qboot
  /// for direct kernel boot; "" = the hypervisor's. An absolute host path.
  std::string firmware{};
  std::vector<DiskSpec> disks{};
  std::vector<NicSpec> nics{};
  std::string console_log{};  ///< the serial console (ttyS0) is written to this file; "" = none
  /// Stored with the domain under the euca namespace; ListDomains and GetDomain give it back.
  std::map<std::string, std::string> metadata{};
  /// Start with the virtual CPUs stopped (state paused) until Resume: everything of the start
  /// is done but the guest runs no instruction. The NC starts a burst of domains this way so
  /// that the guests already booting do not slow down the starts of the others (docs/nc.md).
  bool start_paused = false;
};

enum class DomainState { kNoState, kRunning, kBlocked, kPaused, kShutdown, kShutoff, kCrashed, kPmSuspended };
/// "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended", "nostate".
std::string_view DomainStateName(DomainState state);

struct DomainInfo {
  std::string name{};
  std::string uuid{};
  DomainState state = DomainState::kNoState;
  int vcpus = 0;
  int64_t memory_mib = 0;
  std::map<std::string, std::string> metadata{};
  std::string console_log{};
};

struct HostInfo {
  int cores = 0;  ///< logical CPUs
  int64_t memory_mib = 0;
  int64_t free_memory_mib = 0;
  std::string model{};        ///< CPU model ("x86_64")
  std::string uri{};          ///< the connection's URI
  std::string domain_type{};  ///< what Start uses: "kvm" | "qemu" | "test" | "fake"
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  virtual Result<HostInfo> GetHostInfo() = 0;
  /// Starts a transient domain. InvalidArgument (ValidateDomainSpec), AlreadyExists when a
  /// domain of that name exists (ours or not). Idempotency is the caller's business.
  virtual Result<DomainInfo> Start(const DomainSpec& spec) = 0;
  /// The euca-managed domains (those carrying our metadata), in name order.
  virtual Result<std::vector<DomainInfo>> ListDomains() = 0;
  /// NotFound when no euca-managed domain has that name.
  virtual Result<DomainInfo> GetDomain(const std::string& name) = 0;
  /// Hard power-off; the transient domain disappears. NotFound when absent.
  virtual Status Destroy(const std::string& name) = 0;
  /// Reboots the guest (ACPI/guest agent first where the driver has it, else a reset).
  /// NotFound when absent.
  virtual Status Reboot(const std::string& name) = 0;
  /// Lets a paused domain (DomainSpec::start_paused) run. Ok when it runs already; NotFound
  /// when absent; Conflict when it can neither run nor be resumed (shut off, crashed).
  virtual Status Resume(const std::string& name) = 0;
};

/// Checks a spec before anything is started: a name of [A-Za-z0-9._-] (1..64 bytes), vcpus
/// 1..256, memory 16 MiB..4 TiB, disk formats/targets/devices, unique targets, a cmdline or
/// ramdisk only with a kernel, a boot source (kernel or disk), NICs with a bridge and a
/// well-formed MAC, metadata keys [A-Za-z0-9_.-]+.
Status ValidateDomainSpec(const DomainSpec& spec);

/// Opens the driver for `uri` (see the table at the top). InvalidArgument for an unknown
/// scheme; Unavailable when the daemon does not answer. `accel` matters for qemu:// only;
/// `accel_cache`, a file that remembers kAuto's probe across processes ("" = none).
Result<std::unique_ptr<Hypervisor>> OpenHypervisor(const std::string& uri, Accel accel,
                                                   const std::string& accel_cache = "");

}  // namespace euca::hypervisor
