#pragma once
// Node: the node controller's logic (Eucalyptus' NC, reference/eucalyptus-internals.md §3)
// over its seams: the Hypervisor (VMs), the ImageCache (raw images), a CommandRunner (disk
// tools), an Env (files) and a Clock. The hypervisor is the ground truth: every describe asks
// it, so a domain that died or was destroyed behind the NC's back shows as Teardown; a
// restarted Node re-adopts the running domains it started (docs/nc.md).

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/base/clock.h"
#include "core/base/command.h"
#include "core/base/env.h"
#include "core/nc/disks.h"
#include "core/nc/image_cache.h"
#include "core/nc/node_controller.h"
#include "drivers/hypervisor/hypervisor.h"

namespace euca::nc {

struct NodeOptions {
  std::string root;     ///< REQUIRES: set. Holds instances/ and cache/ (docs/nc.md)
  /// Tells this node's domains from others' on a shared hypervisor (stored in each domain's
  /// metadata); default: derived from `root`.
  std::string node_id;
  uint64_t cache_max_bytes = 0;       ///< 0 = unbounded
  uint64_t swap_mib = 512;            ///< Eucalyptus' SWAP_SIZE
  int64_t reserved_memory_mib = 256;  ///< kept for the host, as Eucalyptus
  int max_cores = 0;                  ///< 0 = the host's; else this many (MAX_CORES; may exceed the host's)
  int64_t max_memory_mib = 0;         ///< 0 = the host's less the reserve (MAX_MEM)
  uint64_t max_disk_gib = 0;          ///< 0 = what the filesystem offers (MAX_DISK)
  /// For direct kernel boot. no_timer_check: under TCG on a busy host the kernel's IO-APIC
  /// timer check can fail and stop the boot (cloud images set it too). cryptomgr.notests:
  /// the kernel's self-tests of its crypto algorithms took about a second of a TCG boot (a
  /// guest booted with fips=1 runs them all the same).
  std::string kernel_cmdline = "console=ttyS0 no_timer_check cryptomgr.notests root=/dev/vda";
  /// The BIOS of domains that boot a kernel directly (nc.firmware): "auto" = qboot, QEMU's
  /// minimal firmware (kQbootRom), when it is installed, else the hypervisor's own; "bios" =
  /// always the hypervisor's own (SeaBIOS); or the absolute path of a BIOS ROM. qboot only
  /// hands over to the kernel QEMU loaded, with none of SeaBIOS' device set-up: under TCG it
  /// reached the kernel about 0.3 s sooner. Domains that boot from their own disk always get
  /// the hypervisor's BIOS, which can read disks.
  std::string firmware = "auto";
  int64_t teardown_keep_ms = 180'000;  ///< how long a Teardown record stays visible
  /// Domains start paused and run once no other domain of this node is being started, or
  /// after this long at the latest: the guests of a burst then do not take the CPU from the
  /// starts of the others (libvirt's start of a TCG domain is hundreds of monitor commands).
  /// 0 = each domain runs as soon as it is started.
  int64_t start_batch_ms = 2'000;
  /// On destruction, let instances still being prepared finish starting instead of
  /// cancelling them. A one-shot command (the embedded zone of `euca run-instances`) sets
  /// it: its process ends right after the request, and the domain must outlive it.
  bool finish_starts_on_close = false;
};

/// Where Debian's qemu-system-data installs qboot.
inline constexpr const char* kQbootRom = "/usr/share/qemu/qboot.rom";

/// Thread-safe. Background starts run on threads the Node joins when destroyed.
class Node final : public NodeController {
 public:
  Node(Env& env, CommandRunner& runner, Clock& clock, hypervisor::Hypervisor& hypervisor, ImageFetcher& fetcher,
       NodeOptions options);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Creates the folders, opens the cache and re-adopts this node's running domains; the
  /// folders of instances whose domain is gone are removed (they report Teardown).
  /// REQUIRES: called once, before anything else.
  Status Open();

  Result<Instance> RunInstance(const RunInstanceRequest& request) override;
  Result<std::vector<Instance>> DescribeInstances(const std::vector<std::string>& ids) override;
  Result<TerminateResult> TerminateInstance(const std::string& instance_id) override;
  Status RebootInstance(const std::string& instance_id) override;
  Result<NodeResource> DescribeResource() override;
  Result<std::string> GetConsoleOutput(const std::string& instance_id) override;
  Status StartNetwork(const StartNetworkRequest& request) override;

  /// The folder of an instance (it exists while the instance has files).
  std::string InstanceDir(const std::string& instance_id) const;
  /// Blocks until no instance is being prepared or cleaned up in the background.
  void WaitIdleForTest();
  /// Background threads not yet joined.
  size_t ThreadsForTest();
  ImageCache& cache() { return cache_; }

 private:
  struct Record {
    Instance instance;
    bool busy = false;     // a background thread owns the instance's files and domain
    bool cancel = false;   // terminated while busy: the owner cleans up
    uint64_t extant_seq = 0;           // when it became Extant (see Describe)
    std::vector<std::string> pinned;   // cache entries its disks use
  };

  void Boot(const std::string& instance_id);
  Status Prepare(const std::string& instance_id, const RunInstanceRequest& request, hypervisor::DomainSpec* spec);
  /// Starts the domain paused, waits for the other starts in flight (start_batch_ms) and lets
  /// it run. `*started`: a domain exists (to be destroyed on failure).
  Status StartDomain(const std::string& instance_id, hypervisor::DomainSpec spec, bool* started);
  /// Writes the instance's record file from a snapshot taken under mu_. REQUIRES: mu_ not
  /// held; the caller owns the instance (busy, or not yet visible), so nobody else writes it.
  Status Persist(const std::string& instance_id);
  static std::string RecordText(const Record& r);
  /// Destroys the domain (if any), removes the files and unpins the cache. No lock held.
  void Cleanup(const std::string& instance_id, const std::vector<std::string>& pinned, bool destroy);
  void SetStateLocked(Record& r, InstanceState state, std::string reason);
  void ForgetOldLocked();
  void Spawn(std::function<void()> work);
  // Joins the threads that finished (they have released mu_). REQUIRES: mu_ held.
  void JoinFinishedLocked();
  Result<NodeResource> ResourceLocked(const Env::Space& space, uint64_t used_bytes);
  uint64_t UsedBytes();

  Env& env_;
  CommandRunner& runner_;
  Clock& clock_;
  hypervisor::Hypervisor& hypervisor_;
  NodeOptions options_;
  ImageCache cache_;
  hypervisor::HostInfo host_;

  std::mutex mu_;
  std::condition_variable idle_;
  std::condition_variable started_;  // creating_ dropped, or a start was cancelled
  int creating_ = 0;                 // domains being created (StartDomain)
  std::map<std::string, Record> records_;
  std::string bridge_;    // from StartNetwork
  std::string firmware_;  // for direct kernel boot, from options_.firmware at Open; "" = the hypervisor's
  uint64_t seq_ = 0;
  int in_flight_ = 0;
  std::vector<std::thread> threads_;
  std::set<std::thread::id> finished_;  // threads_ whose work is done, to be joined
};

}  // namespace euca::nc
