#include "cmd/ec2_call.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>

#include "cmd/session.h"
#include "core/api/ec2_query.h"
#include "core/api/sigv4.h"
#include "core/base/random.h"
#include "core/clc/cloud.h"
#include "core/clc/credentials.h"
#include "core/clc/topology.h"
#include "core/http/client.h"
#include "core/walrus/s3_client.h"

namespace euca::cmd {
namespace {

Result<pugi::xml_document> ParseReply(const std::string& xml, const std::string& action) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size()) || !Ec2Root(doc))
    return Internal("the reply to " + action + " is not an EC2 XML document");
  return doc;
}

Result<pugi::xml_document> CallEmbedded(const Context& ctx, const std::string& action, const Ec2Params& params) {
  EUCA_ASSIGN_OR_RETURN(Session session, OpenSession(ctx));
  clc::CloudOptions options;
  options.object_store =
      clc::LocalWalrusObjectStores(clc::HomePaths(ctx.home).Walrus(), *ctx.clock, session.store.get());
  // The zones as registered (or the embedded one), their cluster controllers in this process.
  clc::StoreClusterDirectory clusters(*session.store, *ctx.env, *ctx.clock, ctx.home);
  options.clusters = &clusters;
  clc::Cloud cloud(*session.store, *ctx.env, *ctx.clock, ctx.home, std::move(options));
  api::Ec2Request request(action, api::kEc2Version, RandomHex(32), params);
  api::Ec2Response response(action, api::kEc2Version, request.request_id());
  ctx.Debug("EC2 " + action + " in process as " + session.principal.ToString());
  EUCA_RETURN_IF_ERROR(cloud.Dispatch(session.principal, request, response));
  // Through the same text the server would send, so both modes read the same document.
  return ParseReply(response.ToString(), action);
}

// The SigV4 region: --region (euca2ools' [USER@]REGION), else the region of the cloud in
// EUCA_HOME, else us-east-1.
std::string SigningRegion(const Context& ctx) {
  std::string region = ctx.region;
  if (size_t at = region.find('@'); at != std::string::npos) region = region.substr(at + 1);
  if (!region.empty()) return region;
  if (HasCloud(ctx)) {
    auto session = OpenSession(ctx, /*authenticate=*/false);
    if (session.ok()) {
      auto r = session->admin->GetProperty("cloud.region");
      if (r.ok() && !r->empty()) return *r;
    }
  }
  return "us-east-1";
}

Result<pugi::xml_document> CallRemote(const Context& ctx, const std::string& action, const Ec2Params& params) {
  auto endpoint = walrus::ParseS3Endpoint(ctx.ec2_url);
  if (!endpoint.ok())
    return InvalidArgument("invalid EC2 endpoint '" + ctx.ec2_url + "': expected http[s]://HOST[:PORT][/PATH]");
  api::Credentials key{ctx.access_key_id, ctx.secret_key};
  std::string key_source = "the environment";
  if (key.access_key_id.empty()) {
    const std::string eucarc = clc::HomePaths(ctx.home).Eucarc();
    if (ctx.env->Exists(eucarc)) {
      auto text = ctx.env->ReadFile(eucarc);
      if (text.ok())
        if (auto keys = clc::ParseEucarcKeys(*text); keys.ok()) {
          key = {keys->first, keys->second};
          key_source = "'" + eucarc + "'";
        }
    }
  }
  if (key.access_key_id.empty() || key.secret_key.empty())
    return Unauthenticated("no access key for '" + ctx.ec2_url +
                           "': set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (source a eucarc) or give -I and -S");
  const std::string region = SigningRegion(ctx);
  const std::string path = endpoint->path.empty() ? "/" : endpoint->path;

  api::SignableRequest signable;
  signable.method = "POST";
  signable.path = path;
  signable.headers.Set("Host", endpoint->host);
  signable.headers.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  signable.body = api::Ec2FormBody(action, api::kEc2Version, params);
  EUCA_RETURN_IF_ERROR(api::SignSigV4(signable, key,
                                      {.dialect = api::Dialect::kQuery,
                                       .region = region,
                                       .service = "ec2",
                                       .now_ms = ctx.clock->NowMillis(),
                                       .payload_hash = {}})
                           .status());
  ctx.Debug("EC2 " + action + " POST " + endpoint->origin + path + " (region '" + region + "', access key '" +
            key.access_key_id + "' from " + key_source + ")");
  http::Client client(
      http::ClientOptions{.connect_timeout_ms = 10'000, .timeout_ms = 300'000, .stall_timeout_ms = 60'000});
  http::ClientRequest request;
  request.method = "POST";
  request.url = endpoint->origin + path;
  request.headers = signable.headers;
  request.body = signable.body;
  EUCA_ASSIGN_OR_RETURN(http::ClientResponse reply, client.Do(request));
  ctx.Debug("EC2 " + action + " answered HTTP " + std::to_string(reply.status));
  if (reply.status != 200) return api::ParseEc2Error(reply.body, reply.status);
  return ParseReply(reply.body, action);
}

}  // namespace

pugi::xml_node Ec2Root(const pugi::xml_document& doc) { return doc.document_element(); }

Result<pugi::xml_document> CallEc2(const Context& ctx, const std::string& action, const Ec2Params& params) {
  if (ctx.embedded()) return CallEmbedded(ctx, action, params);
  return CallRemote(ctx, action, params);
}

void AddEc2KeyFlags(CLI::App& app, Ec2KeyFlags& f, bool old_letters) {
  app.add_option(old_letters ? "-I,-a,--access-key-id,--access-key" : "-I,-A,--access-key-id,--access-key",
                 f.access_key,
                 "access key id (default: AWS_ACCESS_KEY_ID or EC2_ACCESS_KEY; with EC2_URL, else the key of "
                 "EUCA_HOME/eucarc)")
      ->type_name("KEY_ID");
  app.add_option(old_letters ? "-S,-s,--secret-key" : "-S,--secret-key", f.secret_key,
                 "secret key of the access key id")
      ->type_name("KEY");
}

Result<Context> WithEc2Keys(const Context& ctx, const Ec2KeyFlags& flags) {
  if (flags.access_key.empty() && flags.secret_key.empty()) return ctx;
  if (flags.access_key.empty() || flags.secret_key.empty())
    return InvalidArgument("give the access key id (-I) and its secret key (-S) together");
  Context out = ctx;
  out.access_key_id = flags.access_key;
  out.secret_key = flags.secret_key;
  return out;
}

void AddFilterOption(CLI::App& app, std::vector<std::string>& filters) {
  app.add_option("--filter", filters, "only what matches NAME=VALUE (repeatable; * and ? match any)")
      ->type_name("NAME=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

Result<Ec2Params> FilterParams(const std::vector<std::string>& filters) {
  std::vector<std::pair<std::string, std::vector<std::string>>> grouped;
  for (const auto& f : filters) {
    auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0) return InvalidArgument("invalid filter '" + f + "': expected NAME=VALUE");
    std::string name = f.substr(0, eq), value = f.substr(eq + 1);
    auto it = std::find_if(grouped.begin(), grouped.end(), [&](const auto& g) { return g.first == name; });
    if (it == grouped.end()) {
      grouped.push_back({name, {value}});
    } else {
      it->second.push_back(value);
    }
  }
  Ec2Params out;
  for (size_t i = 0; i < grouped.size(); ++i) {
    const std::string base = "Filter." + std::to_string(i + 1);
    out.emplace_back(base + ".Name", grouped[i].first);
    for (size_t j = 0; j < grouped[i].second.size(); ++j)
      out.emplace_back(base + ".Value." + std::to_string(j + 1), grouped[i].second[j]);
  }
  return out;
}

}  // namespace euca::cmd
