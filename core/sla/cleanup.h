#pragma once
// The timer event of the SLA engine (docs/sla.md "Cleanup"): everything whose time is up at
// `now` is acted on, each action one history commit with principal "cleanup":
//  1. instances whose runtime lease ended, or that ran longer than a matching max-runtime
//     rule allows: terminated (through clc::Compute, as the user's own terminate would);
//  2. images whose storage lease ended: marked "expired" (no longer launchable);
//  3. expired images whose grace (property cloud.storage-lease-grace) is over too: their
//     bundle (manifest and parts) deleted from Walrus, then the image deregistered;
//  4. public addresses whose lease ended: disassociated, then released (through
//     clc::Addresses, so the network is applied as for the owner's release);
//  5. capacity reservations whose end date passed: marked expired (their room is free).
// Idempotent: what was acted on is no longer due. A failed action is reported and retried by
// the next run; the others go on.

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/clc/addresses.h"
#include "core/clc/compute.h"
#include "core/clc/images.h"
#include "state/store.h"

namespace euca::sla {

/// The history principal of every cleanup action.
inline constexpr const char* kCleanupPrincipal = "cleanup";
/// The cloud property: how long an expired image stays before it is deleted.
inline constexpr const char* kStorageGraceProperty = "cloud.storage-lease-grace";

struct CleanupOptions {
  bool dry_run = false;  ///< report what is due, change nothing
  int64_t now_ms = 0;    ///< the time to act at; 0 = the clock's
};

struct CleanupAction {
  std::string action;  ///< "terminate", "expire-image", "delete-image", "release-address", "expire-reservation"
  std::string resource_id;  ///< instance or image id, public address, capacity reservation id
  std::string owner_id;     ///< account id
  std::string reason;       ///< e.g. "runtime lease ended 2026-12-01T10:00:00Z"
  Status result;            ///< OK (or not run: dry run), else why it failed
};

struct CleanupReport {
  bool dry_run = false;
  std::vector<CleanupAction> actions;
  int Failed() const;
  /// One line for cron mail: "cleanup: terminated 2 instances, expired 1 image, deleted 0
  /// images, 0 failed" or "cleanup: nothing to do" (dry run: "would terminate ..."); released
  /// addresses and expired reservations are counted after the images when there are any
  /// ("released 1 address, expired 2 reservations").
  std::string Summary() const;
};

/// Runs one cleanup. `compute` nullptr: due instances are reported as failed (Unavailable).
/// `objects` opens the object store as an image's owner (unset: due deletions fail).
/// `addresses` nullptr: due addresses are reported as failed (Unavailable).
/// Errors only when the store cannot be read; action failures are in the report.
Result<CleanupReport> RunCleanup(state::StateStore& store, Clock& clock, clc::Compute* compute,
                                 const clc::ObjectStoreFactory& objects, const CleanupOptions& options,
                                 clc::Addresses* addresses = nullptr);

/// Holds the cleanup lock (EUCA_HOME/cleanup.lock, flock(2)) of one home: one cleanup at a time
/// across processes (cron runs, `euca serve clc`) and threads. Released on destruction.
class CleanupLock final {
 public:
  /// Takes the lock without waiting: ok(true) when taken, ok(false) when another holds it.
  Result<bool> TryLock(const std::string& path);
  ~CleanupLock();
  CleanupLock() = default;
  CleanupLock(const CleanupLock&) = delete;
  CleanupLock& operator=(const CleanupLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace euca::sla
