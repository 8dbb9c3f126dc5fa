// The cloud's services run in the foreground: euca serve walrus (S3 REST and, under /_euca/,
// image delivery to node controllers).

#include <pthread.h>
#include <signal.h>

#include <mutex>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cmd/common.h"
#include "core/clc/admin.h"
#include "core/http/server.h"
#include "core/walrus/image_cache.h"
#include "core/walrus/image_delivery.h"
#include "core/walrus/image_rest.h"
#include "core/walrus/s3_rest.h"
#include "core/walrus/walrus.h"
#include "drivers/objects/fs_backend.h"

namespace euca::cmd {

Handler SetupServeWalrus(CLI::App& app) {
  struct Options {
    std::string listen = "127.0.0.1:8773";
    std::vector<std::string> domains;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--listen", o->listen, "address to listen on (default 127.0.0.1:8773; port 0 picks a free port)")
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
    walrus::Walrus walrus(*backend, *ctx.clock, wopts, session.store.get());

    // Admin is thread-compatible; the server's workers take turns resolving keys.
    auto admin_mu = std::make_shared<std::mutex>();
    clc::Admin* admin = session.admin.get();
    walrus::KeyLookup lookup = [admin, admin_mu](const std::string& akid) -> Result<walrus::KeyOwner> {
      std::lock_guard<std::mutex> lock(*admin_mu);
      EUCA_ASSIGN_OR_RETURN(clc::KeyIdentity id, admin->AuthenticateKey(akid));
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
    http::Handler handler = walrus::RouteWalrus(
        walrus::MakeInternalHandler(delivery, {.ca_cert_pem = ca_cert, .allowed = {}, .clock = ctx.clock}),
        walrus::MakeS3Handler(walrus, lookup, sopts));

    // Block the stop signals in every thread (the server's threads inherit this mask) and
    // wait for them here.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);

    http::ServerOptions server_options;
    server_options.listen = o->listen;
    auto server = http::Server::Start(server_options, handler);
    if (!server.ok()) {
      pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
      return server.status();
    }
    *ctx.out << "walrus listening on http://" << (*server)->address() << std::endl;
    ctx.out->flush();
    int sig = 0;
    sigwait(&stop_signals, &sig);
    ctx.Debug("stopping on signal " + std::to_string(sig));
    (*server)->Stop();
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    return Status::Ok();
  };
}

}  // namespace euca::cmd
