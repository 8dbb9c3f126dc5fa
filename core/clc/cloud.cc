#include "core/clc/cloud.h"

#include <algorithm>

#include "core/clc/instance_actions.h"
#include "core/sla/actions.h"
#include "core/sla/engine.h"
#include "core/sla/store.h"
#include "core/walrus/walrus.h"
#include "drivers/objects/fs_backend.h"

namespace euca::clc {

Cloud::Cloud(state::StateStore& store, Env& env, Clock& clock, std::string home, CloudOptions options)
    : store_(store),
      env_(env),
      clock_(clock),
      home_(std::move(home)),
      options_(std::move(options)),
      admin_(store, env, clock, home_),
      key_pairs_(store, clock),
      images_(store, clock, options_.object_store),
      sla_(store, clock),
      applier_(OpenApplier()),
      instance_networking_(std::make_unique<InstanceNetworking>(clock, applier_.get())),
      security_groups_(store, clock, [this] { (void)applier_->Apply(); }),
      addresses_(store, clock, [this] { (void)applier_->Apply(); }) {
  AddKeyPairActions(actions_, key_pairs_);
  AddImageActions(actions_, images_);
  AddRegionActions(actions_, *this);
  AddSecurityGroupActions(actions_, security_groups_);
  // The SLA's address quotas (core/sla, docs/sla.md).
  addresses_.SetAllocationCheck([](state::Txn& t, const std::string& account_id, int64_t held) {
    return sla::CheckAddressQuota(t, account_id, held);
  });
  // ... and their address leases.
  addresses_.SetDefaultLease([](state::Txn& t, const std::string& account_id) {
    return sla::AddressLeaseDefault(t, account_id);
  });
  AddAddressActions(actions_, addresses_);
  sla_.SetAddresses(&addresses_);  // release-on-terminate (docs/sla.md)
  applier_->SetClusters(options_.clusters);  // remote clusters apply their zones' networks
  // Compute (instances, availability zones) registers here when there are clusters.
  if (options_.clusters) {
    compute_ = std::make_unique<Compute>(store_, clock_, *options_.clusters, &sla_);
    compute_->SetNetworkHook(instance_networking_.get());
    AddInstanceActions(actions_, *compute_);
    AddCapacityReservationActions(actions_, *compute_);  // time-limited capacity (docs/sla.md)
  }
  // SLA: cleanup and leases (core/sla, docs/sla.md).
  sla::AddSlaActions(actions_, {&store_, &clock_, compute_.get(), options_.object_store, home_ + "/cleanup.lock",
                                &addresses_});
}

std::unique_ptr<NetworkApplier> Cloud::OpenApplier() {
  if (options_.network) return std::make_unique<NetworkApplier>(store_, options_.network);
  // The driver of network.driver, its state (and the record of what was applied) in
  // HOME/network. A driver that cannot open fails every apply, naming why; the records stay.
  std::string driver = "plan";
  if (auto d = GetProperty("network.driver"); d.ok()) driver = *d;
  const std::string dir = home_ + "/network";
  auto opened = OpenCloudNetwork(driver, dir);
  Status open_error = opened.status();
  if (opened.ok()) own_network_ = std::move(opened).value();
  Env* record_env = env_.Exists(home_) ? &env_ : nullptr;
  return std::make_unique<NetworkApplier>(store_, own_network_.get(), open_error, record_env, dir);
}

Result<KeyIdentity> Cloud::AuthenticateKey(const std::string& access_key_id) {
  std::lock_guard<std::mutex> lock(admin_mu_);
  return admin_.AuthenticateKey(access_key_id);
}

Result<Principal> Cloud::LocalAdmin() {
  std::lock_guard<std::mutex> lock(admin_mu_);
  return admin_.LocalAdmin();
}

Result<std::string> Cloud::GetProperty(const std::string& name) {
  std::lock_guard<std::mutex> lock(admin_mu_);
  return admin_.GetProperty(name);
}

Status Cloud::Dispatch(const Principal& caller, const api::Ec2Request& request, api::Ec2Response& response) const {
  return DispatchEc2(actions_, caller, request, response);
}

ObjectStoreFactory LocalWalrusObjectStores(std::string dir, Clock& clock, state::StateStore* accounts) {
  struct Shared {
    std::mutex mu;
    std::unique_ptr<objects::FsBackend> backend;
    std::unique_ptr<walrus::Walrus> walrus;
  };
  auto shared = std::make_shared<Shared>();
  Clock* c = &clock;
  return [shared, dir = std::move(dir), c,
          accounts](const Principal& caller) -> Result<std::unique_ptr<walrus::ObjectStore>> {
    std::lock_guard<std::mutex> lock(shared->mu);
    if (!shared->walrus) {
      EUCA_ASSIGN_OR_RETURN(shared->backend, objects::OpenFsBackend(dir));
      walrus::WalrusOptions options;
      if (accounts) options.admit_put = sla::StorageQuotaHook(*accounts);  // storage-quota rules (docs/sla.md)
      shared->walrus = std::make_unique<walrus::Walrus>(*shared->backend, *c, std::move(options), accounts);
    }
    return std::unique_ptr<walrus::ObjectStore>(std::make_unique<walrus::WalrusObjectStore>(*shared->walrus, caller));
  };
}

void AddRegionActions(Ec2Actions& actions, Cloud& cloud) {
  Cloud* c = &cloud;
  actions.Add("DescribeRegions", [c](const Principal&, const api::Ec2Request& req, pugi::xml_node response) -> Status {
    EUCA_ASSIGN_OR_RETURN(std::string region, c->GetProperty("cloud.region"));
    EUCA_ASSIGN_OR_RETURN(std::string endpoint, c->GetProperty("services.ec2-url"));
    std::vector<std::string> names = req.List("RegionName");
    EUCA_ASSIGN_OR_RETURN(auto filters, req.Filters());
    for (const auto& n : names)
      if (n != region)
        return Status(Code::kInvalidArgument, "the region '" + n + "' does not exist; this cloud is '" + region + "'",
                      "InvalidParameterValue");
    bool keep = true;
    for (const auto& f : filters) {
      if (f.name == "region-name") {
        keep = keep && api::FilterMatches(f, region);
      } else if (f.name == "endpoint") {
        keep = keep && api::FilterMatches(f, endpoint);
      } else {
        return Status(Code::kInvalidArgument, "the filter '" + f.name + "' is invalid for DescribeRegions",
                      "InvalidParameterValue");
      }
    }
    auto set = response.append_child("regionInfo");
    if (keep) {
      auto item = api::AddItem(set);
      api::AddText(item, "regionName", region);
      api::AddText(item, "regionEndpoint", endpoint);
    }
    return Status::Ok();
  });
}

}  // namespace euca::clc
