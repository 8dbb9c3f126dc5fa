#pragma once
// Opening the cloud of a context: the state store of EUCA_HOME, the Admin service on it,
// and the principal the command acts as. Shared by every command that needs a cloud.

#include <memory>

#include "cmd/context.h"
#include "core/base/status.h"
#include "core/clc/admin.h"
#include "state/store.h"

namespace euca::cmd {

/// An open cloud. `admin` refers to `*store`; both live as long as the Session.
struct Session {
  std::unique_ptr<state::StateStore> store;
  std::unique_ptr<clc::Admin> admin;
  clc::Principal principal;  ///< set when opened with authentication
};

/// True if `home` holds a cloud (its state database exists).
bool HasCloud(const Context& ctx);

/// The error for a home without a cloud: NotFound "no cloud in '<home>'; run 'euca admin
/// init' first".
Status NoCloudError(const std::string& home);

/// Opens the cloud in ctx.home. NotFound if there is none; the store's own errors (a
/// corrupt database: Internal; a newer schema: Unsupported) pass through unchanged.
/// With `authenticate`, resolves the principal: the access key of the environment
/// (Admin::AuthenticateKey; a wrong secret is Unauthenticated), else Admin::LocalAdmin().
Result<Session> OpenSession(const Context& ctx, bool authenticate = true);

/// OpenSession, then PermissionDenied unless the principal is a cloud administrator
/// (for commands Admin does not check itself, such as history).
Result<Session> OpenAdminSession(const Context& ctx);

/// After an admin change of network objects or properties made outside the EC2 actions
/// (modify-property, rollback): applies the cloud's whole network state once, to this host
/// and the remote clusters, as an EC2 change would. A failure is reported (stderr; the
/// change itself stands) and the next network change applies again.
void ApplyNetworkAfterAdminChange(Context& ctx, Session& s);

}  // namespace euca::cmd
