// Clusters (availability zones) and node controllers: euca admin register-cluster,
// deregister-cluster, describe-clusters, register-node, deregister-node, describe-nodes
// (Eucalyptus' euca_conf --register-cluster/--register-nodes and euca-describe-nodes).

#include <CLI/CLI.hpp>

#include "cmd/common.h"
#include "core/clc/topology.h"

namespace euca::cmd {
namespace {

Record ClusterRecord(const model::Cluster& c) { return {"CLUSTER", {{"name", c.name}, {"url", c.url}}}; }

Record NodeRecord(const std::string& cluster, const cc::NodeStatus& n) {
  return {"NODE",
          {{"cluster", cluster},
           {"url", n.url},
           {"state", n.state},
           {"cores_free", n.resource.cores_available},
           {"cores_max", n.resource.cores_max},
           {"memory_free_mib", n.resource.memory_available_mib},
           {"memory_max_mib", n.resource.memory_max_mib},
           {"disk_free_gib", n.resource.disk_available_gib},
           {"disk_max_gib", n.resource.disk_max_gib},
           {"instances", n.instances},
           {"error", n.error}}};
}

/// The zones of the registered clusters, each polled now. Empty when no cluster is
/// registered: the embedded zone's node belongs to the cloud controller's process, which a
/// command must not open beside it.
Result<std::vector<clc::Zone>> RegisteredZones(Context& ctx, Session& s, clc::StoreClusterDirectory& dir) {
  EUCA_ASSIGN_OR_RETURN(clc::TopologySnapshot snap, clc::ReadTopology(*s.store));
  if (snap.clusters.empty()) return std::vector<clc::Zone>{};
  ctx.Debug("polling " + std::to_string(snap.clusters.size()) + " clusters");
  return dir.Zones();
}

}  // namespace

Handler SetupRegisterCluster(CLI::App& app) {
  struct Options {
    std::string name, url;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "NAME", o->name, "cluster (availability zone) name");
  app.add_option("URL", o->url, "the cluster controller's URL (http://HOST:8774); none: run it in the cloud controller")
      ->type_name("URL");
  return WithSession([o](Context& ctx, Session& s) -> Status {
    clc::Topology topology(*s.store, *ctx.clock);
    EUCA_ASSIGN_OR_RETURN(model::Cluster c, topology.RegisterCluster(s.principal, o->name, o->url));
    PrintRecords(ctx, {ClusterRecord(c)});
    return Status::Ok();
  });
}

Handler SetupDeregisterCluster(CLI::App& app) {
  auto name = std::make_shared<std::string>();
  AddRequiredArg(app, "NAME", *name, "cluster name");
  return WithSession([name](Context& ctx, Session& s) -> Status {
    return clc::Topology(*s.store, *ctx.clock).DeregisterCluster(s.principal, *name);
  });
}

Handler SetupDescribeClusters(CLI::App&) {
  return WithSession([](Context& ctx, Session& s) -> Status {
    clc::Topology topology(*s.store, *ctx.clock);
    EUCA_ASSIGN_OR_RETURN(std::vector<model::Cluster> clusters, topology.DescribeClusters(s.principal));
    EUCA_ASSIGN_OR_RETURN(clc::TopologySnapshot snap, clc::ReadTopology(*s.store));
    clc::StoreClusterDirectory dir(*s.store, *ctx.env, *ctx.clock, ctx.home);
    EUCA_ASSIGN_OR_RETURN(std::vector<clc::Zone> zones, RegisteredZones(ctx, s, dir));
    std::vector<Record> records;
    for (const model::Cluster& c : clusters) {
      // "up" when its cluster controller answers (always, for one run in-process).
      std::string state = "down";
      for (const clc::Zone& z : zones) {
        if (z.name == c.name && z.cc->DescribeNodes().ok()) state = "up";
      }
      Record r = ClusterRecord(c);
      r.fields.push_back({"nodes", snap.node_urls[c.name].size()});
      r.fields.push_back({"state", state});
      records.push_back(std::move(r));
    }
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

Handler SetupRegisterNode(CLI::App& app) {
  struct Options {
    std::string cluster, url;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "CLUSTER", o->cluster, "cluster name");
  AddRequiredArg(app, "URL", o->url, "the node controller's URL (http://HOST:8775)");
  return WithSession([o](Context& ctx, Session& s) -> Status {
    clc::Topology topology(*s.store, *ctx.clock);
    EUCA_ASSIGN_OR_RETURN(model::NodeRecord n, topology.RegisterNode(s.principal, o->cluster, o->url));
    PrintRecords(ctx, {{"NODE", {{"cluster", n.cluster}, {"url", n.url}, {"id", n.id}}}});
    return Status::Ok();
  });
}

Handler SetupDeregisterNode(CLI::App& app) {
  struct Options {
    std::string cluster, url;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "CLUSTER", o->cluster, "cluster name");
  AddRequiredArg(app, "URL", o->url, "the node controller's URL");
  return WithSession([o](Context& ctx, Session& s) -> Status {
    return clc::Topology(*s.store, *ctx.clock).DeregisterNode(s.principal, o->cluster, o->url);
  });
}

Handler SetupDescribeNodes(CLI::App& app) {
  auto cluster = std::make_shared<std::string>();
  app.add_option("CLUSTER", *cluster, "list only the nodes of this cluster")->type_name("CLUSTER");
  return WithSession([cluster](Context& ctx, Session& s) -> Status {
    // Checks the caller and the cluster name before anything is polled.
    EUCA_RETURN_IF_ERROR(clc::Topology(*s.store, *ctx.clock).DescribeNodes(s.principal, *cluster).status());
    clc::StoreClusterDirectory dir(*s.store, *ctx.env, *ctx.clock, ctx.home);
    EUCA_ASSIGN_OR_RETURN(std::vector<clc::Zone> zones, RegisteredZones(ctx, s, dir));
    std::vector<Record> records;
    for (const clc::Zone& z : zones) {
      if (!cluster->empty() && z.name != *cluster) continue;
      Result<std::vector<cc::NodeStatus>> nodes = z.cc->DescribeNodes();
      if (!nodes.ok()) {
        // The cluster controller is unreachable: its registered nodes, state unknown.
        ctx.Debug("cluster '" + z.name + "': " + nodes.status().ToString());
        EUCA_ASSIGN_OR_RETURN(std::vector<model::NodeRecord> registered,
                              clc::Topology(*s.store, *ctx.clock).DescribeNodes(s.principal, z.name));
        for (const model::NodeRecord& n : registered) {
          cc::NodeStatus unknown;
          unknown.url = n.url;
          unknown.state = "unknown";
          records.push_back(NodeRecord(z.name, unknown));
        }
        continue;
      }
      for (const cc::NodeStatus& n : nodes.value()) records.push_back(NodeRecord(z.name, n));
    }
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

}  // namespace euca::cmd
