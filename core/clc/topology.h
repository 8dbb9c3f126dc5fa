#pragma once
// The cloud's topology (DESIGN.md §1): clusters (= availability zones) and the node
// controllers registered in them, kept in the state store (kinds "clusters" and "nodes"),
// and StoreClusterDirectory, which turns them into the zones the compute logic places
// instances in (cluster_directory.h).
//
// A cluster with a URL is a remote `euca serve cc` (CcClient, signed as "clc"); a cluster
// without one is run in-process by the CLC (cc::Cluster) over its registered nodes (NcClient,
// signed as "cc"). With no cluster registered at all, the cloud has one embedded zone
// (property cloud.embedded-zone) whose only node runs in-process too, on nc.hypervisor, with
// images from Walrus image delivery in-process: a one-machine cloud needs no daemon.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/env.h"
#include "core/cc/cluster.h"
#include "core/clc/admin.h"
#include "core/clc/cluster_directory.h"
#include "core/model/compute.h"
#include "state/store.h"

namespace euca::clc {

/// Registration of clusters and nodes. Every change is one transaction (one history commit)
/// by the caller, who must be a cloud administrator (PermissionDenied otherwise). Bad input
/// changes nothing. Thread-compatible (the store serializes transactions).
class Topology final {
 public:
  /// REQUIRES: `store` and `clock` outlive this object.
  Topology(state::StateStore& store, Clock& clock);

  /// `url` "" = a cluster the CLC runs in-process. AlreadyExists for a registered name;
  /// InvalidArgument for a bad name or URL.
  Result<model::Cluster> RegisterCluster(const Principal& caller, const std::string& name, const std::string& url);
  /// Conflict while the cluster still has nodes; NotFound for an unknown cluster.
  Status DeregisterCluster(const Principal& caller, const std::string& name);
  /// In registration order.
  Result<std::vector<model::Cluster>> DescribeClusters(const Principal& caller);
  /// NotFound for an unknown cluster; AlreadyExists when the URL is registered (in any cluster).
  Result<model::NodeRecord> RegisterNode(const Principal& caller, const std::string& cluster, const std::string& url);
  /// NotFound when the URL is not a node of the cluster.
  Status DeregisterNode(const Principal& caller, const std::string& cluster, const std::string& url);
  /// In registration order; of one cluster, or of all when `cluster` is "" (NotFound for an
  /// unknown cluster).
  Result<std::vector<model::NodeRecord>> DescribeNodes(const Principal& caller, const std::string& cluster);

 private:
  state::StateStore& store_;
  Clock& clock_;
};

/// The clusters and their nodes as stored, in registration order (no caller check: for the
/// directory and the daemons).
struct TopologySnapshot {
  std::vector<model::Cluster> clusters;
  std::map<std::string, std::vector<std::string>> node_urls;  ///< cluster name -> node URLs
};
Result<TopologySnapshot> ReadTopology(state::StateStore& store);

/// Checks a cluster name: [a-zA-Z0-9][a-zA-Z0-9._-]{0,62}.
Status CheckClusterName(const std::string& name);
/// Checks a component URL: http:// or https://, a host, no spaces or control characters.
Status CheckComponentUrl(const std::string& url, const std::string& what);

/// Builds an in-process node controller (the embedded zone's node).
using NodeFactory = std::function<Result<std::shared_ptr<nc::NodeController>>()>;
/// Reaches a registered remote cluster controller.
using ClusterConnector = std::function<Result<std::shared_ptr<cc::ClusterController>>(const std::string& url)>;

struct DirectoryOptions {
  cc::ClusterOptions cluster = {};
  /// Start the in-process clusters' background poll loops (the CLC daemon); commands leave
  /// it off and poll when they need to.
  bool start_polling = false;
  /// The registration is re-read at most this often (0 = on every Zones()); Invalidate()
  /// forces it.
  int64_t recheck_ms = 1'000;
  /// How to reach what is registered. Defaults (when empty): NcClient signed with
  /// EUCA_HOME/keys/cc-*.pem, CcClient signed with the cloud's key, and the embedded node of
  /// EmbeddedNodeFactory.
  cc::NodeConnector node_connector = {};
  ClusterConnector cluster_connector = {};
  NodeFactory embedded_node = {};
};

/// Zones from the registration in the state store. Zones and their cluster controllers are
/// kept while their registration stays the same: a cluster gets the new node list (SetNodes)
/// when nodes come or go (a remote one only once any node was registered for it: until
/// then it keeps the nodes it was started with); a cluster whose URL changed is reconnected.
/// Thread-safe.
class StoreClusterDirectory final : public ClusterDirectory {
 public:
  /// REQUIRES: `store`, `env` and `clock` outlive this object; `home` holds the cloud.
  StoreClusterDirectory(state::StateStore& store, Env& env, Clock& clock, std::string home,
                        DirectoryOptions options = {});
  ~StoreClusterDirectory() override;

  Result<std::vector<Zone>> Zones() override;
  /// The next Zones() re-reads the registration (after a change made in this process).
  void Invalidate();

 private:
  struct Entry {
    std::string url;  // "" for in-process
    std::shared_ptr<cc::ClusterController> cc;
    std::shared_ptr<cc::Cluster> local;  // set when in-process
    std::vector<std::string> nodes;      // the node list last set
    bool nodes_sent = false;             // a remote cluster got a node list from us
  };
  Result<std::shared_ptr<cc::Cluster>> NewLocalCluster();
  Result<std::string> EmbeddedZoneName();

  state::StateStore& store_;
  Env& env_;
  Clock& clock_;
  const std::string home_;
  DirectoryOptions options_;

  std::mutex mu_;
  bool valid_ = false;
  int64_t read_ms_ = 0;
  std::vector<Zone> zones_;
  std::map<std::string, Entry> entries_;  // by zone name
};

/// The embedded zone's node: an nc::Node (nc/node_factory.h) on the cloud's nc.hypervisor and
/// nc.accel, rooted at EUCA_HOME/nc, whose Walrus images come from image delivery in this
/// process (the Walrus of EUCA_HOME/walrus, its image cache, the cloud's key). The store,
/// env and clock must outlive the node.
NodeFactory EmbeddedNodeFactory(state::StateStore& store, Env& env, Clock& clock, const std::string& home);

}  // namespace euca::clc
