#pragma once
// The cloud controller assembled (DESIGN.md §1): over one StateStore, Env, Clock and cloud
// home it owns the Admin service, the key pairs, the images and the EC2 action registry with
// every action registered. `euca serve clc` puts the EC2 HTTP front (ec2_rest.h) before it;
// the commands in embedded mode call Dispatch directly (cmd/ec2_call.h). Same actions, same
// XML either way.
//
// Thread-safe once constructed: Admin (thread-compatible) is used under a mutex, the rest
// works on the thread-safe StateStore.

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/api/ec2_query.h"
#include "core/base/clock.h"
#include "core/base/env.h"
#include "core/base/status.h"
#include "core/clc/admin.h"
#include "core/clc/cluster_directory.h"
#include "core/clc/compute.h"
#include "core/clc/ec2_actions.h"
#include "core/clc/addresses.h"
#include "core/clc/images.h"
#include "core/clc/key_pairs.h"
#include "core/sla/engine.h"
#include "core/clc/networking.h"
#include "core/clc/security_groups.h"
#include "core/walrus/object_store.h"
#include "state/store.h"

namespace euca::clc {

struct CloudOptions {
  /// The object store as `caller` sees it (RegisterImage reads manifests through it, so an
  /// image can be registered only from a manifest its owner may read). Unset: RegisterImage
  /// answers Unavailable.
  ObjectStoreFactory object_store = {};
  /// The availability zones and their cluster controllers, for the compute actions
  /// (instances, zones). Unset: no compute actions are registered. Must outlive the Cloud.
  ClusterDirectory* clusters = nullptr;
  /// The network driver the desired network state is applied through (tests: a
  /// network::FakeNetwork). Unset: the driver of the property network.driver, its state in
  /// HOME/network, where the last state applied is also recorded (desired-state.json).
  network::Network* network = nullptr;
};

class Cloud final {
 public:
  /// REQUIRES: `store`, `env`, `clock` outlive this object; `home` holds an initialised cloud.
  Cloud(state::StateStore& store, Env& env, Clock& clock, std::string home, CloudOptions options = {});
  Cloud(const Cloud&) = delete;
  Cloud& operator=(const Cloud&) = delete;

  /// The caller of an access key id and its secret (Admin::AuthenticateKey, serialized).
  Result<KeyIdentity> AuthenticateKey(const std::string& access_key_id);
  /// admin@eucalyptus, the principal of a local operator.
  Result<Principal> LocalAdmin();
  /// A cloud property's current value (serialized through Admin).
  Result<std::string> GetProperty(const std::string& name);

  /// Runs one EC2 request as `caller` (InvalidAction for an unknown action).
  Status Dispatch(const Principal& caller, const api::Ec2Request& request, api::Ec2Response& response) const;

  const Ec2Actions& actions() const { return actions_; }
  /// For the parts that register their own actions (compute: AddInstanceActions(...)). Only
  /// before the cloud serves requests.
  Ec2Actions& mutable_actions() { return actions_; }

  state::StateStore& store() { return store_; }
  Clock& clock() { return clock_; }
  const std::string& home() const { return home_; }
  const CloudOptions& options() const { return options_; }
  KeyPairs& key_pairs() { return key_pairs_; }
  Images& images() { return images_; }
  /// The instances part (nullptr without options().clusters).
  Compute* compute() { return compute_.get(); }
  SecurityGroups& security_groups() { return security_groups_; }
  Addresses& addresses() { return addresses_; }
  /// Applies the whole desired network state now (servers call it on start: a restarted
  /// cloud rebuilds the host's networking from the store).
  Status ApplyNetwork() { return applier_->Apply(); }
  NetworkApplier& network_applier() { return *applier_; }

 private:
  std::unique_ptr<NetworkApplier> OpenApplier();

  state::StateStore& store_;
  Env& env_;
  Clock& clock_;
  const std::string home_;
  const CloudOptions options_;
  std::mutex admin_mu_;
  Admin admin_;  // guarded by admin_mu_
  KeyPairs key_pairs_;
  Images images_;
  sla::Engine sla_;                   // the SLA rules RunInstances passes (core/sla)
  std::unique_ptr<network::Network> own_network_;  // the driver opened here (options_.network unset)
  std::unique_ptr<NetworkApplier> applier_;
  std::unique_ptr<InstanceNetworking> instance_networking_;
  SecurityGroups security_groups_;
  Addresses addresses_;
  std::unique_ptr<Compute> compute_;  // set when options_.clusters is
  Ec2Actions actions_;
};

/// Object stores over the Walrus data directory `dir` (EUCA_HOME/walrus) in this process,
/// opened on first use and shared by every caller; `accounts` as for walrus::Walrus.
/// REQUIRES: `clock` (and `accounts`) outlive the factory.
ObjectStoreFactory LocalWalrusObjectStores(std::string dir, Clock& clock, state::StateStore* accounts);

/// Registers DescribeRegions: one region, named by the property cloud.region, whose endpoint
/// is services.ec2-url ("" when unset). REQUIRES: `cloud` outlives `actions`.
void AddRegionActions(Ec2Actions& actions, Cloud& cloud);

}  // namespace euca::clc
