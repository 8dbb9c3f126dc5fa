#include "core/clc/topology.h"

#include <algorithm>
#include <cctype>

#include "core/base/random.h"
#include "core/cc/cc_http.h"
#include "core/clc/compute.h"
#include "core/nc/nc_http.h"
#include "core/nc/node_factory.h"
#include "core/walrus/image_cache.h"
#include "core/walrus/image_client.h"
#include "core/walrus/image_delivery.h"
#include "drivers/objects/fs_backend.h"

namespace euca::clc {
namespace {

using state::Object;
using state::Txn;

constexpr char kClusters[] = "clusters";
constexpr char kNodes[] = "nodes";
/// The URL the embedded zone's in-process node goes by.
constexpr char kEmbeddedNodeUrl[] = "local://nc";

Status RequireAdmin(const Principal& caller) {
  if (caller.IsCloudAdmin()) return Status::Ok();
  return PermissionDenied("'" + caller.ToString() + "' is not a cloud administrator; only users of account '" +
                          std::string(model::kSystemAccount) + "' may do this");
}

state::TxnContext Ctx(const Principal& caller, std::string action) {
  return state::TxnContext{caller.ToString(), std::move(action), ""};
}

template <typename T, typename F>
Result<T> Decode(const Object& o, F parse) {
  try {
    return parse(o.body);
  } catch (const nlohmann::json::exception& e) {
    return Internal("corrupt " + o.kind + " object '" + o.id + "': " + e.what());
  }
}

std::string TrimSlashes(std::string url) {
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  return url;
}

Status UnknownCluster(const std::string& name) {
  return NotFound("no cluster '" + name +
                  "'; see 'euca admin describe-clusters', or register it with "
                  "'euca admin register-cluster'");
}

Result<std::vector<model::Cluster>> ListClusters(Txn& t) {
  EUCA_ASSIGN_OR_RETURN(std::vector<Object> objs, t.List(kClusters));
  std::vector<model::Cluster> out;
  for (const Object& o : objs) {
    EUCA_ASSIGN_OR_RETURN(model::Cluster c, Decode<model::Cluster>(o, model::ClusterFromJson));
    out.push_back(std::move(c));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.created_ms < b.created_ms; });
  return out;
}

Result<std::vector<model::NodeRecord>> ListNodes(Txn& t, const std::optional<std::string>& cluster) {
  EUCA_ASSIGN_OR_RETURN(std::vector<Object> objs, t.List(kNodes, cluster));
  std::vector<model::NodeRecord> out;
  for (const Object& o : objs) {
    EUCA_ASSIGN_OR_RETURN(model::NodeRecord n, Decode<model::NodeRecord>(o, model::NodeRecordFromJson));
    out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return std::tie(a.created_ms, a.url) < std::tie(b.created_ms, b.url); });
  return out;
}

}  // namespace

Status CheckClusterName(const std::string& name) {
  if (IsMetaZone(name))
    return InvalidArgument("cluster name '" + name +
                           "' is reserved: RunInstances reads it as a placement rule (any, single, spread); "
                           "choose another name");
  if (IsReservedZoneName(name))
    return InvalidArgument("cluster name '" + name +
                           "' is reserved: describe-availability-zones reads it as the administrator's listing; "
                           "choose another name");
  auto ok = [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; };
  if (!name.empty() && name.size() <= 63 && std::isalnum(static_cast<unsigned char>(name[0])) &&
      std::all_of(name.begin(), name.end(), ok)) {
    return Status::Ok();
  }
  return InvalidArgument("cluster name '" + name +
                         "' is not valid: use 1 to 63 letters, digits, '.', '_' and '-', starting with a letter "
                         "or digit");
}

Status CheckComponentUrl(const std::string& url, const std::string& what) {
  const bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  const size_t host = url.find("://") + 3;
  const bool clean = std::none_of(url.begin(), url.end(), [](unsigned char c) { return c <= ' ' || c >= 0x7f; });
  if (scheme && clean && url.size() <= 2048 && host < url.size() && url[host] != '/' && url[host] != ':') {
    return Status::Ok();
  }
  return InvalidArgument(what + " URL '" + url + "' is not valid: use http://HOST:PORT");
}

// ---- Topology ----------------------------------------------------------------------------

Topology::Topology(state::StateStore& store, Clock& clock) : store_(store), clock_(clock) {}

Result<model::Cluster> Topology::RegisterCluster(const Principal& caller, const std::string& name,
                                                 const std::string& url) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  EUCA_RETURN_IF_ERROR(CheckClusterName(name));
  model::Cluster c{name, TrimSlashes(url), clock_.NowMillis()};
  if (!c.url.empty()) EUCA_RETURN_IF_ERROR(CheckComponentUrl(c.url, "cluster controller"));
  auto txn = store_.Transact(Ctx(caller, "RegisterCluster " + name), [&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto existing, t.Get(kClusters, name));
    if (existing) return AlreadyExists("cluster '" + name + "' is already registered");
    return t.Put(Object{kClusters, name, "", name, model::ToJson(c), std::nullopt});
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  return c;
}

Status Topology::DeregisterCluster(const Principal& caller, const std::string& name) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  return store_
      .Transact(Ctx(caller, "DeregisterCluster " + name),
                [&](Txn& t) -> Status {
                  EUCA_ASSIGN_OR_RETURN(auto existing, t.Get(kClusters, name));
                  if (!existing) return UnknownCluster(name);
                  EUCA_ASSIGN_OR_RETURN(std::vector<Object> nodes, t.List(kNodes, name));
                  if (!nodes.empty()) {
                    return Conflict("cluster '" + name + "' still has " + std::to_string(nodes.size()) +
                                    (nodes.size() == 1 ? " node" : " nodes") +
                                    "; deregister them first with 'euca admin deregister-node " + name + " URL'");
                  }
                  return t.Delete(kClusters, name);
                })
      .status();
}

Result<std::vector<model::Cluster>> Topology::DescribeClusters(const Principal& caller) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  std::vector<model::Cluster> out;
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(out, ListClusters(t));
    return Status::Ok();
  }));
  return out;
}

Result<model::NodeRecord> Topology::RegisterNode(const Principal& caller, const std::string& cluster,
                                                 const std::string& url) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  EUCA_RETURN_IF_ERROR(CheckClusterName(cluster));
  model::NodeRecord n{"", cluster, TrimSlashes(url), clock_.NowMillis()};
  EUCA_RETURN_IF_ERROR(CheckComponentUrl(n.url, "node controller"));
  auto txn = store_.Transact(Ctx(caller, "RegisterNode " + n.url + " in " + cluster), [&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto existing, t.Get(kClusters, cluster));
    if (!existing) return UnknownCluster(cluster);
    EUCA_ASSIGN_OR_RETURN(std::vector<model::NodeRecord> all, ListNodes(t, std::nullopt));
    for (const model::NodeRecord& other : all) {
      if (other.url == n.url) {
        return AlreadyExists("node '" + n.url + "' is already registered in cluster '" + other.cluster + "'");
      }
    }
    for (int attempt = 0; n.id.empty() && attempt < 8; ++attempt) {
      std::string id = "node-" + RandomHex(16);
      EUCA_ASSIGN_OR_RETURN(auto taken, t.Get(kNodes, id));
      if (!taken) n.id = id;
    }
    if (n.id.empty()) return Internal("no free node id after 8 attempts");
    return t.Put(Object{kNodes, n.id, cluster, n.url, model::ToJson(n), std::nullopt});
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  return n;
}

Status Topology::DeregisterNode(const Principal& caller, const std::string& cluster, const std::string& url) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  const std::string u = TrimSlashes(url);
  return store_
      .Transact(Ctx(caller, "DeregisterNode " + u + " in " + cluster),
                [&](Txn& t) -> Status {
                  EUCA_ASSIGN_OR_RETURN(auto c, t.Get(kClusters, cluster));
                  if (!c) return UnknownCluster(cluster);
                  EUCA_ASSIGN_OR_RETURN(auto node, t.GetByName(kNodes, cluster, u));
                  if (!node) {
                    return NotFound("node '" + u + "' is not registered in cluster '" + cluster +
                                    "'; see 'euca admin describe-nodes " + cluster + "'");
                  }
                  return t.Delete(kNodes, node->id);
                })
      .status();
}

Result<std::vector<model::NodeRecord>> Topology::DescribeNodes(const Principal& caller, const std::string& cluster) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  std::vector<model::NodeRecord> out;
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& t) -> Status {
    std::optional<std::string> parent;
    if (!cluster.empty()) {
      EUCA_ASSIGN_OR_RETURN(auto c, t.Get(kClusters, cluster));
      if (!c) return UnknownCluster(cluster);
      parent = cluster;
    }
    EUCA_ASSIGN_OR_RETURN(out, ListNodes(t, parent));
    return Status::Ok();
  }));
  if (cluster.empty()) {
    // Grouped by cluster, clusters in registration order.
    EUCA_ASSIGN_OR_RETURN(TopologySnapshot snap, ReadTopology(store_));
    std::map<std::string, size_t> rank;
    for (size_t i = 0; i < snap.clusters.size(); ++i) rank[snap.clusters[i].name] = i;
    std::stable_sort(out.begin(), out.end(),
                     [&](const auto& a, const auto& b) { return rank[a.cluster] < rank[b.cluster]; });
  }
  return out;
}

Result<TopologySnapshot> ReadTopology(state::StateStore& store) {
  TopologySnapshot snap;
  EUCA_RETURN_IF_ERROR(store.Read([&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(snap.clusters, ListClusters(t));
    EUCA_ASSIGN_OR_RETURN(std::vector<model::NodeRecord> nodes, ListNodes(t, std::nullopt));
    for (const model::NodeRecord& n : nodes) snap.node_urls[n.cluster].push_back(n.url);
    return Status::Ok();
  }));
  return snap;
}

// ---- The embedded node -------------------------------------------------------------------

namespace {

// Walrus image delivery of EUCA_HOME/walrus in this process, owning what it reads through.
class EmbeddedImageSource final : public walrus::ImageSource {
 public:
  std::unique_ptr<objects::FsBackend> backend;
  std::unique_ptr<walrus::ImageCache> cache;
  std::unique_ptr<walrus::ImageDelivery> delivery;
  std::unique_ptr<walrus::DeliveryImageSource> source;

  Result<walrus::FetchedImage> Fetch(const std::string& location, const std::string& destination) override {
    return source->Fetch(location, destination);
  }
  Result<std::string> Etag(const std::string& location) override { return source->Etag(location); }
};

}  // namespace

NodeFactory EmbeddedNodeFactory(state::StateStore& store, Env& env, Clock& clock, const std::string& home) {
  return [&store, &env, &clock, home]() -> Result<std::shared_ptr<nc::NodeController>> {
    const HomePaths paths(home);
    Admin admin(store, env, clock, home);
    nc::NodeSetup setup;
    EUCA_ASSIGN_OR_RETURN(setup.hypervisor_uri, admin.GetProperty("nc.hypervisor"));
    EUCA_ASSIGN_OR_RETURN(setup.accel, admin.GetProperty("nc.accel"));
    EUCA_ASSIGN_OR_RETURN(setup.options.firmware, admin.GetProperty("nc.firmware"));
    EUCA_ASSIGN_OR_RETURN(std::string s3_url, admin.GetProperty("services.s3-url"));
    if (!s3_url.empty()) {
      // A Walrus daemon serves the images: fetch them from it as a node controller would.
      EUCA_ASSIGN_OR_RETURN(std::string cert, env.ReadFile(paths.ComponentCert("nc")));
      EUCA_ASSIGN_OR_RETURN(std::string key, env.ReadFile(paths.ComponentKey("nc")));
      setup.image_source = std::make_unique<walrus::HttpImageSource>(walrus::HttpImageSourceOptions{
          .walrus_url = s3_url, .credentials = {cert, key}, .clock = &clock, .client = {}});
    } else {
      EUCA_ASSIGN_OR_RETURN(std::string cache_bytes, admin.GetProperty("walrus.image-cache-bytes"));
      EUCA_ASSIGN_OR_RETURN(std::string cloud_key, env.ReadFile(paths.CloudKey()));
      auto source = std::make_unique<EmbeddedImageSource>();
      EUCA_ASSIGN_OR_RETURN(source->backend, objects::OpenFsBackend(paths.Walrus()));
      EUCA_ASSIGN_OR_RETURN(source->cache, walrus::ImageCache::Open({.dir = paths.Walrus() + "/image-cache",
                                                                     .max_bytes = std::stoull(cache_bytes),
                                                                     .clock = &clock}));
      source->delivery = std::make_unique<walrus::ImageDelivery>(
          *source->backend, *source->cache, walrus::SignerCertificatesFromStore(store),
          walrus::ImageDeliveryOptions{.cloud_key_pem = cloud_key});
      source->source = std::make_unique<walrus::DeliveryImageSource>(*source->delivery);
      setup.image_source = std::move(source);
    }
    setup.options.root = home + "/nc";
    // A command's process ends with the request: instances it started must finish starting
    // (the domain then outlives the process and the next command re-adopts it).
    setup.options.finish_starts_on_close = true;
    EUCA_ASSIGN_OR_RETURN(std::shared_ptr<nc::Node> node,
                          nc::OpenNode(env, RealCommandRunner(), clock, std::move(setup)));
    return std::shared_ptr<nc::NodeController>(std::move(node));
  };
}

// ---- StoreClusterDirectory ---------------------------------------------------------------

StoreClusterDirectory::StoreClusterDirectory(state::StateStore& store, Env& env, Clock& clock, std::string home,
                                             DirectoryOptions options)
    : store_(store), env_(env), clock_(clock), home_(std::move(home)), options_(std::move(options)) {
  const HomePaths paths(home_);
  Env* env_ptr = &env_;
  Clock* clock_ptr = &clock_;
  if (!options_.node_connector) {
    // Registered nodes are reached as the cluster controller would: signed as "cc".
    options_.node_connector = [paths, env_ptr,
                               clock_ptr](const std::string& url) -> Result<std::shared_ptr<nc::NodeController>> {
      EUCA_ASSIGN_OR_RETURN(std::string cert, env_ptr->ReadFile(paths.ComponentCert("cc")));
      EUCA_ASSIGN_OR_RETURN(std::string key, env_ptr->ReadFile(paths.ComponentKey("cc")));
      return std::shared_ptr<nc::NodeController>(
          std::make_shared<nc::NcClient>(url, nc::ComponentSigner({cert, key}, clock_ptr)));
    };
  }
  if (!options_.cluster_connector) {
    // Remote clusters are called as the cloud controller: signed with the cloud's key.
    options_.cluster_connector = [paths, env_ptr,
                                  clock_ptr](const std::string& url) -> Result<std::shared_ptr<cc::ClusterController>> {
      EUCA_ASSIGN_OR_RETURN(std::string cert, env_ptr->ReadFile(paths.CloudCert()));
      EUCA_ASSIGN_OR_RETURN(std::string key, env_ptr->ReadFile(paths.CloudKey()));
      return std::shared_ptr<cc::ClusterController>(
          std::make_shared<cc::CcClient>(url, nc::ComponentSigner({cert, key}, clock_ptr)));
    };
  }
  if (!options_.embedded_node) options_.embedded_node = EmbeddedNodeFactory(store_, env_, clock_, home_);
  // The embedded node is opened once (two Nodes on one root would fight) and shared.
  auto embedded = std::make_shared<std::pair<std::mutex, std::shared_ptr<nc::NodeController>>>();
  NodeFactory make = options_.embedded_node;
  options_.embedded_node = [embedded, make]() -> Result<std::shared_ptr<nc::NodeController>> {
    std::lock_guard<std::mutex> lock(embedded->first);
    if (!embedded->second) {
      EUCA_ASSIGN_OR_RETURN(embedded->second, make());
    }
    return embedded->second;
  };
}

StoreClusterDirectory::~StoreClusterDirectory() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, e] : entries_) {
    if (e.local) e.local->Stop();
  }
}

void StoreClusterDirectory::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  valid_ = false;
}

Result<std::shared_ptr<cc::Cluster>> StoreClusterDirectory::NewLocalCluster() {
  cc::NodeConnector nodes = options_.node_connector;
  NodeFactory embedded = options_.embedded_node;
  cc::NodeConnector connect = [nodes, embedded](const std::string& url) -> Result<std::shared_ptr<nc::NodeController>> {
    if (url == kEmbeddedNodeUrl) return embedded();
    return nodes(url);
  };
  // Placement in a cluster the CLC runs in-process: the property cloud.embedded-policy, read
  // when the cluster is made (each embedded command; euca serve clc at start).
  Admin admin(store_, env_, clock_, home_);
  EUCA_ASSIGN_OR_RETURN(std::string policy_name, admin.GetProperty("cloud.embedded-policy"));
  EUCA_ASSIGN_OR_RETURN(cc::SchedulePolicy policy, cc::ParseSchedulePolicy(policy_name));
  auto cluster = std::make_shared<cc::Cluster>(connect, policy, clock_, options_.cluster);
  if (options_.start_polling) cluster->Start();
  return cluster;
}

Result<std::string> StoreClusterDirectory::EmbeddedZoneName() {
  Admin admin(store_, env_, clock_, home_);
  return admin.GetProperty("cloud.embedded-zone");
}

Result<std::vector<Zone>> StoreClusterDirectory::Zones() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.NowMillis();
  if (valid_ && options_.recheck_ms > 0 && now - read_ms_ < options_.recheck_ms) return zones_;

  EUCA_ASSIGN_OR_RETURN(TopologySnapshot snap, ReadTopology(store_));
  struct Want {
    std::string name, url;
    std::vector<std::string> nodes;
  };
  std::vector<Want> wanted;
  if (snap.clusters.empty()) {
    EUCA_ASSIGN_OR_RETURN(std::string name, EmbeddedZoneName());
    wanted.push_back({name, "", {kEmbeddedNodeUrl}});
  }
  for (const model::Cluster& c : snap.clusters) wanted.push_back({c.name, c.url, snap.node_urls[c.name]});

  std::map<std::string, Entry> entries;
  std::vector<Zone> zones;
  for (Want& w : wanted) {
    Entry e;
    if (auto old = entries_.find(w.name); old != entries_.end() && old->second.url == w.url) e = old->second;
    if (!e.cc) {
      e.url = w.url;
      if (w.url.empty()) {
        EUCA_ASSIGN_OR_RETURN(e.local, NewLocalCluster());
        e.cc = e.local;
      } else {
        EUCA_ASSIGN_OR_RETURN(e.cc, options_.cluster_connector(w.url));
      }
    }
    if (e.local && e.nodes != w.nodes) {
      EUCA_RETURN_IF_ERROR(e.local->SetNodes(w.nodes));
      e.nodes = w.nodes;
    } else if (!e.local && e.nodes != w.nodes && (e.nodes_sent || !w.nodes.empty())) {
      // A remote cluster gets the registered nodes once there are any (until then it keeps
      // the nodes it was started with). Unreachable now: tried again at the next re-read.
      if (e.cc->SetNodes(w.nodes).ok()) {
        e.nodes = w.nodes;
        e.nodes_sent = true;
      }
    }
    zones.push_back(Zone{w.name, e.cc, !w.url.empty()});
    entries[w.name] = std::move(e);
  }
  // Clusters that left stop polling (callers holding their Zone keep a working object).
  for (auto& [name, e] : entries_) {
    auto kept = entries.find(name);
    if (e.local && (kept == entries.end() || kept->second.local != e.local)) e.local->Stop();
  }
  entries_ = std::move(entries);
  zones_ = std::move(zones);
  valid_ = true;
  read_ms_ = now;
  return zones_;
}

}  // namespace euca::clc
