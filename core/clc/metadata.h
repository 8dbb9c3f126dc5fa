#pragma once
// The instance metadata service (EC2's http://169.254.169.254/, issue 7; docs/metadata.md).
// The network driver redirects an instance's TCP to 169.254.169.254:80 to the cloud
// controller, keeping the source address; this handler finds the instance whose private (or
// public) address that source is and answers with that instance's own data only. Paths, as
// EC2 and cloud-init ask them (any version segment: "latest", "1.0", "2009-04-04", ...):
//   /latest/meta-data/                     the listing of the keys below
//   /latest/meta-data/instance-id          ami-id, ami-launch-index, instance-type,
//   local-ipv4, public-ipv4, mac, hostname, local-hostname, reservation-id, security-groups,
//   placement/availability-zone, public-keys/0/openssh-key
//   /latest/user-data                      the raw user data (404 when there is none)
// A source that is no live instance gets 404, as does an unknown path; only GET and HEAD.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/base/status.h"
#include "core/http/message.h"
#include "core/model/compute.h"
#include "state/store.h"

namespace euca::clc {

/// True when the request's path is a metadata path ("/<version>/meta-data..." or
/// "/<version>/user-data", version "latest", "1.0" or a date); the CLC's server uses it to
/// route requests between the EC2 API and this service.
bool IsMetadataPath(const std::string& path);

/// The live (not terminated) instance whose private or public address is `ip`; nullopt when
/// none.
Result<std::optional<model::Instance>> FindInstanceByAddress(state::StateStore& store, const std::string& ip);

/// FindInstanceByAddress without a scan per request: an index address -> instance id, built
/// by one scan of the instances and kept while the store reports no change
/// (StateStore::ChangeCounter; a store without one is scanned every time). What the index
/// names is read again and checked, so a stale entry is never answered. Thread-safe.
class InstanceAddressIndex final {
 public:
  /// REQUIRES: `store` outlives the index.
  explicit InstanceAddressIndex(state::StateStore& store) : store_(store) {}
  Result<std::optional<model::Instance>> Find(const std::string& ip);
  /// Scans of all instances so far (tests).
  uint64_t scans() const;

 private:
  state::StateStore& store_;
  mutable std::mutex mu_;  // guards what follows
  std::optional<uint64_t> counter_;
  std::unordered_map<std::string, std::string> ids_;  // address -> instance id
  uint64_t scans_ = 0;
};

/// The metadata handler over the state store. REQUIRES: `store` outlives the handler.
http::Handler MakeMetadataHandler(state::StateStore& store);

}  // namespace euca::clc
