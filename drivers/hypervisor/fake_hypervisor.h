#pragma once
// FakeHypervisor: an in-memory Hypervisor for unit tests of the node controller, with hooks
// that make the world misbehave: a domain killed or crashed behind the NC's back, and
// Start failures. Same contract as the libvirt driver (validation, AlreadyExists, NotFound);
// every domain it holds counts as euca-managed. Thread-safe.

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "drivers/hypervisor/hypervisor.h"

namespace euca::hypervisor {

class FakeHypervisor final : public Hypervisor {
 public:
  /// A host of 4 cores and 8 GiB unless told otherwise. Free memory is memory_mib less the
  /// memory of the domains that exist.
  explicit FakeHypervisor(HostInfo host = DefaultHost());
  static HostInfo DefaultHost();

  Result<HostInfo> GetHostInfo() override;
  Result<DomainInfo> Start(const DomainSpec& spec) override;
  Result<std::vector<DomainInfo>> ListDomains() override;
  Result<DomainInfo> GetDomain(const std::string& name) override;
  Status Destroy(const std::string& name) override;
  Status Reboot(const std::string& name) override;
  Status Resume(const std::string& name) override;

  /// The domain vanishes as if destroyed from outside (virsh destroy, QEMU died). NotFound
  /// when absent.
  Status KillForTest(const std::string& name);
  /// The domain stays, in state crashed. NotFound when absent.
  Status CrashForTest(const std::string& name);
  /// The next Start calls fail with these statuses, one each, in order (nothing is started).
  void FailStartForTest(Status status);
  /// The spec a domain was started with. NotFound when absent.
  Result<DomainSpec> SpecForTest(const std::string& name) const;
  /// Start of `name` blocks until ReleaseStartForTest(name) (a slow start, to see what
  /// happens meanwhile).
  void HoldStartForTest(const std::string& name);
  void ReleaseStartForTest(const std::string& name);
  /// True once a Start of `name` is blocked by HoldStartForTest.
  bool StartHeldForTest(const std::string& name) const;
  /// The next Resume calls fail with these statuses, one each, in order (nothing resumes).
  void FailResumeForTest(Status status);
  /// How many Start calls succeeded, and how many times each domain was rebooted.
  int starts_for_test() const;
  int reboots_for_test(const std::string& name) const;

 private:
  struct Domain {
    DomainSpec spec;
    std::string uuid;
    DomainState state = DomainState::kRunning;
    int reboots = 0;
  };
  static DomainInfo Info(const Domain& d);

  mutable std::mutex mu_;
  std::condition_variable released_;
  std::map<std::string, bool> held_;  // name -> a Start is waiting
  HostInfo host_;
  std::map<std::string, Domain> domains_;
  std::deque<Status> start_faults_;
  std::deque<Status> resume_faults_;
  int starts_ = 0;
  int next_uuid_ = 1;
};

}  // namespace euca::hypervisor
