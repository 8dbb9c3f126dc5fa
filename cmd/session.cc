#include "cmd/session.h"

#include "core/clc/networking.h"
#include "core/clc/topology.h"
#include "state/sqlite_store.h"

namespace euca::cmd {

bool HasCloud(const Context& ctx) { return ctx.env->Exists(clc::HomePaths(ctx.home).StateDb()); }

Status NoCloudError(const std::string& home) {
  return NotFound("no cloud in '" + home + "'; run 'euca admin init' first");
}

Result<Session> OpenSession(const Context& ctx, bool authenticate) {
  if (!HasCloud(ctx)) return NoCloudError(ctx.home);
  ctx.Debug("home '" + ctx.home + "' (" + (ctx.embedded() ? "embedded" : "EC2_URL '" + ctx.ec2_url + "'") + ")");
  Session s;
  EUCA_ASSIGN_OR_RETURN(s.store, state::OpenSqliteStore(ctx.home, *ctx.clock));
  s.admin = std::make_unique<clc::Admin>(*s.store, *ctx.env, *ctx.clock, ctx.home);
  if (!authenticate) return s;
  if (!ctx.access_key_id.empty()) {
    EUCA_ASSIGN_OR_RETURN(clc::KeyIdentity id, s.admin->AuthenticateKey(ctx.access_key_id));
    if (!ctx.secret_key.empty() && ctx.secret_key != id.secret)
      return Unauthenticated("secret key does not match access key '" + ctx.access_key_id + "'");
    s.principal = std::move(id.principal);
  } else {
    EUCA_ASSIGN_OR_RETURN(s.principal, s.admin->LocalAdmin());
  }
  ctx.Debug("principal " + s.principal.ToString());
  return s;
}

Result<Session> OpenAdminSession(const Context& ctx) {
  EUCA_ASSIGN_OR_RETURN(Session s, OpenSession(ctx));
  if (!s.principal.IsCloudAdmin())
    return PermissionDenied("'" + s.principal.ToString() + "' is not a cloud administrator");
  return s;
}

void ApplyNetworkAfterAdminChange(Context& ctx, Session& s) {
  std::string driver = s.admin->GetProperty("network.driver").value_or("plan");
  clc::StoreClusterDirectory clusters(*s.store, *ctx.env, *ctx.clock, ctx.home);
  Status applied = clc::ApplyCloudNetwork(*s.store, *ctx.env, ctx.home, driver, &clusters);
  ctx.Debug(applied.ok() ? "network state applied (" + driver + ")" : applied.ToString());
}

}  // namespace euca::cmd
