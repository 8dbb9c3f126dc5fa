// The cloud's services run in the foreground: euca serve walrus (S3 REST and, under /_euca/,
// image delivery to node controllers), euca serve clc (the EC2 Query API), euca serve nc.

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cmd/common.h"
#include "core/clc/admin.h"
#include "core/clc/key_cache.h"
#include "core/clc/topology.h"
#include "core/http/server.h"
#include "core/sla/engine.h"
#include "core/walrus/image_cache.h"
#include "core/walrus/image_delivery.h"
#include "core/walrus/image_rest.h"
#include "core/walrus/s3_rest.h"
#include "core/walrus/walrus.h"
#include "drivers/objects/fs_backend.h"
#include "state/store.h"
#include "core/api/component_auth.h"
#include "core/base/command.h"
#include "core/nc/image_fetchers.h"
#include "core/nc/nc_http.h"
#include "core/nc/node.h"
#include "core/cc/cc_http.h"
#include "core/cc/cluster.h"
#include "core/nc/node_factory.h"
#include "drivers/hypervisor/hypervisor.h"
#include "cmd/session.h"
#include "core/clc/cloud.h"
#include "core/clc/ec2_rest.h"
#include "core/clc/metadata.h"

namespace euca::cmd {
namespace {

// Serves `handler` on `listen`, prints "NAME listening on http://ADDR:PORT" once connections are
// accepted, and returns when SIGTERM or SIGINT arrives (after requests in flight finish).
Status ServeUntilStopped(Context& ctx, const std::string& name, const std::string& listen,
                         const http::Handler& handler,
                         std::function<bool(const http::RequestHead&)> run_on_io_thread = {}) {
  // Block the stop signals in every thread (the server's threads inherit this mask) and
  // wait for them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);

  http::ServerOptions server_options;
  server_options.listen = listen;
  server_options.run_on_io_thread = std::move(run_on_io_thread);
  auto server = http::Server::Start(server_options, handler);
  if (!server.ok()) {
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    return server.status();
  }
  *ctx.out << name << " listening on http://" << (*server)->address() << std::endl;
  ctx.out->flush();
  int sig = 0;
  sigwait(&stop_signals, &sig);
  ctx.Debug("stopping on signal " + std::to_string(sig));
  (*server)->Stop();
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return Status::Ok();
}

}  // namespace

Handler SetupServeWalrus(CLI::App& app) {
  struct Options {
    // Not 8773: that is the cloud controller's (EC2 and metadata), and both run on one host.
    std::string listen = "127.0.0.1:8780";
    std::vector<std::string> domains;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--listen", o->listen, "address to listen on (default 127.0.0.1:8780; port 0 picks a free port)")
      ->type_name("ADDR:PORT");
  app.add_option("--domain", o->domains, "serve virtual-host-style requests for BUCKET.DOMAIN (repeatable)")
      ->type_name("DOMAIN")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Session session, OpenSession(ctx, /*authenticate=*/false));
    EUCA_ASSIGN_OR_RETURN(std::string region, session.admin->GetProperty("cloud.region"));
    EUCA_ASSIGN_OR_RETURN(auto backend, objects::OpenFsBackend(clc::HomePaths(ctx.home).Walrus()));
    walrus::WalrusOptions wopts;
    wopts.region = region;
    wopts.admit_put = sla::StorageQuotaHook(*session.store);  // storage-quota rules (docs/sla.md)
    walrus::Walrus walrus(*backend, *ctx.clock, wopts, session.store.get());

    // Every request is signed: keys are resolved through a cache that any change of the
    // state store (a key or user disabled, by any process) empties.
    auto keys = std::make_shared<clc::KeyCache>(*session.admin, *session.store);
    walrus::KeyLookup lookup = [keys](const std::string& akid) -> Result<walrus::KeyOwner> {
      EUCA_ASSIGN_OR_RETURN(clc::KeyIdentity id, keys->Authenticate(akid));
      return walrus::KeyOwner{id.principal, id.secret};
    };
    walrus::S3RestOptions sopts{.domains = o->domains, .region = {}, .clock = ctx.clock};

    // Image delivery for node controllers (docs/internal-api.md), beside S3 on one listener.
    const clc::HomePaths paths(ctx.home);
    EUCA_ASSIGN_OR_RETURN(std::string cache_bytes, session.admin->GetProperty("walrus.image-cache-bytes"));
    EUCA_ASSIGN_OR_RETURN(std::string cloud_key, ctx.env->ReadFile(paths.CloudKey()));
    EUCA_ASSIGN_OR_RETURN(std::string ca_cert, ctx.env->ReadFile(paths.CloudCaCert()));
    EUCA_ASSIGN_OR_RETURN(auto cache, walrus::ImageCache::Open({.dir = paths.Walrus() + "/image-cache",
                                                                .max_bytes = std::stoull(cache_bytes),
                                                                .clock = ctx.clock}));
    walrus::ImageDelivery delivery(*backend, *cache, walrus::SignerCertificatesFromStore(*session.store),
                                   {.cloud_key_pem = cloud_key});
    // One look at the state store per request: the key cache and the quota hook share it
    // (state::ChangeCounterScope; a PUT asked twice).
    http::Handler routed = walrus::RouteWalrus(
        walrus::MakeInternalHandler(delivery, {.ca_cert_pem = ca_cert, .allowed = {}, .clock = ctx.clock}),
        walrus::MakeS3Handler(walrus, lookup, sopts), o->domains);
    http::Handler handler = [routed = std::move(routed)](const http::RequestHead& head, http::BodyReader& body) {
      state::ChangeCounterScope scope;
      return routed(head, body);
    };

    // Small object GETs and PUTs run on the I/O threads, without a hand-over to a worker and
    // back (docs/http.md). A PUT whose body the server read ahead must be one the backend keeps
    // in its database: an I/O thread must never write and fsync a blob file.
    static_assert(http::kSmallBodyBytes <= objects::kInlineBlobMax,
                  "a PUT served on an I/O thread would write a blob file");
    return ServeUntilStopped(ctx, "walrus", o->listen, handler, [domains = o->domains](const http::RequestHead& h) {
      return walrus::IsQuickS3Request(h, domains);
    });
  };
}

// Runs Compute::Reconcile every `period_ms` on a thread of its own until destroyed.
class Reconciler {
 public:
  Reconciler(clc::Compute& compute, int64_t period_ms) : thread_([this, &compute, period_ms] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stop_) {
        if (cv_.wait_for(lock, std::chrono::milliseconds(period_ms), [this] { return stop_; })) break;
        lock.unlock();
        (void)compute.Reconcile();
        lock.lock();
      }
    }) {}
  ~Reconciler() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};
constexpr int64_t kReconcilePeriodMs = 6'000;  // Eucalyptus' CLC_POLLING_FREQUENCY

Handler SetupServeClc(CLI::App& app) {
  struct Options {
    std::string listen = "127.0.0.1:8773";
  };
  auto o = std::make_shared<Options>();
  app.add_option("--listen", o->listen, "address to listen on (default 127.0.0.1:8773; port 0 picks a free port)")
      ->type_name("ADDR:PORT");
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Session session, OpenSession(ctx, /*authenticate=*/false));
    clc::CloudOptions options;
    // Manifests are read from the Walrus data of this home (`euca serve walrus` may serve
    // it at the same time: the object store is shared between processes).
    options.object_store =
        clc::LocalWalrusObjectStores(clc::HomePaths(ctx.home).Walrus(), *ctx.clock, session.store.get());
    // The zones: registered clusters (remote CCs), else the embedded one, polled in the
    // background.
    clc::DirectoryOptions directory;
    directory.start_polling = true;
    clc::StoreClusterDirectory clusters(*session.store, *ctx.env, *ctx.clock, ctx.home, std::move(directory));
    options.clusters = &clusters;
    clc::Cloud cloud(*session.store, *ctx.env, *ctx.clock, ctx.home, std::move(options));
    // The host's networking rebuilt from the store (a failure is reported; the next change
    // applies again).
    (void)cloud.ApplyNetwork();
    // Instance states follow the clusters' polls even when nobody describes them.
    Reconciler reconciler(*cloud.compute(), kReconcilePeriodMs);
    // One port, as Eucalyptus' CLC: the EC2 API, and the instance metadata service that the
    // network driver's 169.254.169.254 redirect reaches (docs/metadata.md).
    http::Handler ec2 = clc::MakeEc2Handler(cloud, {.region = {}, .clock = ctx.clock});
    http::Handler metadata = clc::MakeMetadataHandler(*session.store);
    http::Handler handler = [ec2, metadata](const http::RequestHead& head, http::BodyReader& body) {
      return clc::IsMetadataPath(head.path) ? metadata(head, body) : ec2(head, body);
    };
    return ServeUntilStopped(ctx, "clc", o->listen, handler);
  };
}

Handler SetupServeNc(CLI::App& app) {
  struct Options {
    std::string listen = "127.0.0.1:8775";
    std::string hypervisor;
    std::string accel;
    std::string firmware;
    std::string walrus_url;
    std::string root;
    uint64_t cache_bytes = 0;
    int max_cores = 0;
    int64_t max_memory_mib = 0;
    uint64_t max_disk_gib = 0;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--listen", o->listen, "address to listen on (default 127.0.0.1:8775; port 0 picks a free port)")
      ->type_name("ADDR:PORT");
  app.add_option("--hypervisor", o->hypervisor, "hypervisor URI (default: the cloud's nc.hypervisor, else qemu:///system)")
      ->type_name("URI");
  app.add_option("--accel", o->accel, "auto, kvm or tcg (default: the cloud's nc.accel, else auto)")
      ->type_name("auto|kvm|tcg");
  app.add_option("--firmware", o->firmware,
                 "BIOS of VMs that boot a kernel directly: auto (qboot when installed), bios (SeaBIOS) or a "
                 "ROM's absolute path (default: the cloud's nc.firmware, else auto)")
      ->type_name("auto|bios|PATH");
  app.add_option("--walrus-url", o->walrus_url,
                 "Walrus to fetch images from (default: the cloud's services.s3-url)")
      ->type_name("URL");
  app.add_option("--root", o->root, "folder for instances and the image cache (default EUCA_HOME/nc)")
      ->type_name("DIR");
  app.add_option("--cache-bytes", o->cache_bytes, "bound of the image cache in bytes (default 0: unbounded)")
      ->type_name("BYTES");
  app.add_option("--max-cores", o->max_cores, "cores offered to instances (default: the host's; more over-commits)")
      ->type_name("N")
      ->check(CLI::Range(1, 4096));
  app.add_option("--max-memory", o->max_memory_mib, "MiB offered to instances (default: the host's less 256)")
      ->type_name("MIB")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  app.add_option("--max-disk", o->max_disk_gib, "GiB offered to instances (default: what the disk has)")
      ->type_name("GIB");
  return [o](Context& ctx) -> Status {
    const clc::HomePaths paths(ctx.home);
    // The node's own credentials and the cloud CA: in EUCA_HOME/keys, as `euca admin init`
    // makes them on the cloud's host (copy them to a node's home on another host).
    EUCA_ASSIGN_OR_RETURN(std::string ca_cert, ctx.env->ReadFile(paths.CloudCaCert()));
    EUCA_ASSIGN_OR_RETURN(std::string nc_cert, ctx.env->ReadFile(paths.ComponentCert("nc")));
    EUCA_ASSIGN_OR_RETURN(std::string nc_key, ctx.env->ReadFile(paths.ComponentKey("nc")));
    std::string uri = o->hypervisor, accel_text = o->accel, firmware = o->firmware, walrus_url = o->walrus_url;
    if (HasCloud(ctx)) {
      EUCA_ASSIGN_OR_RETURN(Session session, OpenSession(ctx, /*authenticate=*/false));
      if (uri.empty()) {
        EUCA_ASSIGN_OR_RETURN(uri, session.admin->GetProperty("nc.hypervisor"));
      }
      if (accel_text.empty()) {
        EUCA_ASSIGN_OR_RETURN(accel_text, session.admin->GetProperty("nc.accel"));
      }
      if (firmware.empty()) {
        EUCA_ASSIGN_OR_RETURN(firmware, session.admin->GetProperty("nc.firmware"));
      }
      if (walrus_url.empty()) {
        EUCA_ASSIGN_OR_RETURN(walrus_url, session.admin->GetProperty("services.s3-url"));
      }
    }
    if (uri.empty()) uri = "qemu:///system";
    ctx.Debug("hypervisor '" + uri + "'");

    nc::NodeSetup setup;
    setup.hypervisor_uri = uri;
    setup.accel = accel_text;
    if (!walrus_url.empty()) {
      setup.image_source = std::make_unique<walrus::HttpImageSource>(walrus::HttpImageSourceOptions{
          .walrus_url = walrus_url, .credentials = {nc_cert, nc_key}, .clock = ctx.clock, .client = {}});
    }
    setup.options.root = o->root.empty() ? ctx.home + "/nc" : o->root;
    if (!firmware.empty()) setup.options.firmware = firmware;
    setup.options.cache_max_bytes = o->cache_bytes;
    setup.options.max_cores = o->max_cores;
    setup.options.max_memory_mib = o->max_memory_mib;
    setup.options.max_disk_gib = o->max_disk_gib;
    EUCA_ASSIGN_OR_RETURN(std::shared_ptr<nc::Node> node,
                          nc::OpenNode(*ctx.env, RealCommandRunner(), *ctx.clock, std::move(setup)));

    // Cluster and cloud controllers call nodes (docs/internal-api.md).
    nc::Authenticator authenticate = nc::ComponentAuthenticator(
        {.ca_cert_pem = ca_cert, .allowed = {api::Component::kCc, api::Component::kClc}, .clock = ctx.clock});
    return ServeUntilStopped(ctx, "nc", o->listen, nc::MakeNcHandler(*node, authenticate));
  };
}

Handler SetupServeCc(CLI::App& app) {
  struct Options {
    std::string listen = "127.0.0.1:8774";
    std::string policy = "greedy";
    int64_t poll_seconds = 6;
    std::vector<std::string> nodes;
    std::string network_dir;
    std::string network_netns;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--listen", o->listen, "address to listen on (default 127.0.0.1:8774; port 0 picks a free port)")
      ->type_name("ADDR:PORT");
  app.add_option("--policy", o->policy, "how instances are placed on nodes (default greedy)")
      ->type_name("greedy|roundrobin|pack|spread");
  app.add_option("--poll-seconds", o->poll_seconds, "seconds between polls of the nodes (default 6)")
      ->type_name("N")
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  app.add_option("--node", o->nodes, "URL of a node controller (repeatable; in this order)")
      ->type_name("URL")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--network-dir", o->network_dir,
                 "where this cluster's network state lives: the driver's files and the last state the cloud "
                 "controller sent, applied again at start (default EUCA_HOME/cc-network)")
      ->type_name("DIR");
  app.add_option("--network-netns", o->network_netns,
                 "apply the linux network driver inside this network namespace instead of the host's")
      ->type_name("NAME");
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(cc::SchedulePolicy policy, cc::ParseSchedulePolicy(o->policy));
    const clc::HomePaths paths(ctx.home);
    // The cluster's own credentials and the cloud CA (copy them to a cluster's home on another host).
    EUCA_ASSIGN_OR_RETURN(std::string ca_cert, ctx.env->ReadFile(paths.CloudCaCert()));
    EUCA_ASSIGN_OR_RETURN(std::string cc_cert, ctx.env->ReadFile(paths.ComponentCert("cc")));
    EUCA_ASSIGN_OR_RETURN(std::string cc_key, ctx.env->ReadFile(paths.ComponentKey("cc")));
    nc::Signer sign = nc::ComponentSigner({cc_cert, cc_key}, ctx.clock);
    cc::NodeConnector connect = [sign](const std::string& url) -> Result<std::shared_ptr<nc::NodeController>> {
      return std::shared_ptr<nc::NodeController>(std::make_shared<nc::NcClient>(url, sign));
    };
    // The cloud controller sends this cluster's view of the network (docs/networking.md, "Remote
    // cluster controllers"); the last one is applied again now, before the next push.
    cc::NetworkAgent network(*ctx.env, {.state_dir = o->network_dir.empty() ? ctx.home + "/cc-network" : o->network_dir,
                                        .netns = o->network_netns,
                                        .runner = nullptr});
    if (Status restored = network.Restore(); !restored.ok())
      std::cerr << "euca: network: " << restored.WithContext("applying the recorded network state").message()
                << " (the cloud controller's next change applies it again)\n";
    cc::ClusterOptions options;
    options.poll_period_ms = o->poll_seconds * 1000;
    options.network = &network;
    cc::Cluster cluster(connect, policy, *ctx.clock, options);
    EUCA_RETURN_IF_ERROR(cluster.SetNodes(o->nodes));
    cluster.Start();
    ctx.Debug("policy " + std::string(cc::SchedulePolicyName(policy)) + ", " + std::to_string(o->nodes.size()) +
              " nodes");
    // Only the cloud controller calls a cluster (docs/internal-api.md).
    nc::Authenticator authenticate = nc::ComponentAuthenticator(
        {.ca_cert_pem = ca_cert, .allowed = {api::Component::kClc}, .clock = ctx.clock});
    Status served = ServeUntilStopped(ctx, "cc", o->listen, cc::MakeCcHandler(cluster, authenticate));
    cluster.Stop();
    return served;
  };
}

}  // namespace euca::cmd
