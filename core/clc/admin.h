#pragma once
// Cloud administration: accounts, users, access keys, certificates, sign-ups and cloud
// properties (issue 2). All changes go through the StateStore with the caller as principal,
// so each becomes one history commit. Thread-compatible.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base/clock.h"
#include "core/base/env.h"
#include "core/base/status.h"
#include "core/model/account.h"
#include "state/store.h"

namespace euca::clc {

/// Files of a cloud home (docs/home-layout.md).
struct HomePaths {
  explicit HomePaths(std::string home) : home(std::move(home)) {}
  std::string home;
  std::string StateDb() const { return home + "/state.db"; }
  std::string History() const { return home + "/history.git"; }
  std::string Keys() const { return home + "/keys"; }
  std::string CloudCaCert() const { return home + "/keys/cloud-ca.pem"; }
  std::string CloudCaKey() const { return home + "/keys/cloud-ca-pk.pem"; }
  std::string CloudCert() const { return home + "/keys/cloud-cert.pem"; }
  std::string CloudKey() const { return home + "/keys/cloud-pk.pem"; }
  std::string ComponentCert(const std::string& c) const { return home + "/keys/" + c + "-cert.pem"; }
  std::string ComponentKey(const std::string& c) const { return home + "/keys/" + c + "-pk.pem"; }
  std::string Credentials() const { return home + "/credentials"; }
  std::string Eucarc() const { return home + "/eucarc"; }
  std::string Walrus() const { return home + "/walrus"; }
};

/// Who is acting (defined in the model so that every component can take one).
using Principal = model::Principal;

/// A user with its account and keys, as describe-users shows it.
struct UserView {
  model::Account account;
  model::User user;
  std::vector<model::AccessKey> keys;  ///< secrets blank
};

/// What AuthenticateKey returns: the principal and the secret to verify signatures with.
struct KeyIdentity {
  Principal principal;
  std::string secret;
};

/// A type-checked cloud setting (see properties.h for the registry).
struct PropertyView {
  std::string name;
  std::string value;        ///< current value (the default when never set)
  std::string default_value;
  std::string type;         ///< "string", "int", "bool", "enum", "duration", ...
  std::string description;
};

/// Result of InitCloud: what was created, for the command to print.
struct InitReport {
  std::string home;
  model::Account account;
  model::User user;
  model::AccessKey key;          ///< with secret
  std::string eucarc_path;
  std::string backup_dir;        ///< set when --force moved an old cloud aside
};

struct InitOptions {
  std::string home;
  bool force = false;
  int rsa_bits = 2048;           ///< tests may not go below 2048 either: RSA ≥ 2048 is the rule
  /// Properties set at creation (e.g. nc.hypervisor), checked before anything is written.
  std::vector<std::pair<std::string, std::string>> properties = {};
};

/// Creates a cloud in `opts.home` (see docs/home-layout.md): home 0700, the cloud CA, the
/// cloud certificate and key, component credentials, the `eucalyptus` account with user
/// `admin`, its access key, an X.509 certificate and key, and `eucarc`. Refuses an existing
/// cloud (AlreadyExists) unless `force`, which moves the old cloud aside into a backup
/// folder first (never deletes keys). On failure, a new home is removed again.
Result<InitReport> InitCloud(const InitOptions& opts, Env& env, Clock& clock);

class Admin final {
 public:
  /// REQUIRES: `store`, `env`, `clock` outlive this object; `home` holds an initialised cloud.
  Admin(state::StateStore& store, Env& env, Clock& clock, std::string home);

  /// The principal of a local operator: admin@eucalyptus.
  Result<Principal> LocalAdmin();
  /// Resolves an access key id to its user. Unauthenticated if the key is unknown or
  /// inactive, or its user is disabled.
  Result<KeyIdentity> AuthenticateKey(const std::string& access_key_id);

  // Accounts and users. `caller` must be a cloud admin (PermissionDenied otherwise).
  Result<model::Account> CreateAccount(const Principal& caller, const std::string& name);
  Result<std::vector<model::Account>> DescribeAccounts(const Principal& caller);
  /// Creates a user with one active access key (returned with its secret).
  Result<std::pair<model::User, model::AccessKey>> CreateUser(const Principal& caller,
                                                              const std::string& account_name,
                                                              const std::string& user_name);
  Status SetUserEnabled(const Principal& caller, const std::string& account_name,
                        const std::string& user_name, bool enabled);
  /// Deletes the user and its access keys and certificates. The account's `admin` of the
  /// system account cannot be deleted (Conflict).
  Status DeleteUser(const Principal& caller, const std::string& account_name, const std::string& user_name);
  Result<std::vector<UserView>> DescribeUsers(const Principal& caller,
                                              const std::optional<std::string>& account_name);

  /// Issues a new X.509 certificate and key for the user (recorded as a certificate object)
  /// and writes a credentials zip (eucarc, iamrc, cloud-cert.pem, euca2-USER-FP8-cert.pem,
  /// euca2-USER-FP8-pk.pem; entries 0600) to `zip_path` atomically, mode 0600.
  Status GetCredentials(const Principal& caller, const std::string& account_name,
                        const std::string& user_name, const std::string& zip_path);

  // Sign-ups (the web form comes later; `RequestSignup` is what it will call).
  Result<model::Signup> RequestSignup(const std::string& account_name, const std::string& email,
                                      const std::string& user_name);
  Result<std::vector<model::Signup>> DescribeSignups(const Principal& caller);
  /// Creates the account and its first user; the sign-up becomes "approved".
  Result<model::Signup> ApproveSignup(const Principal& caller, const std::string& id);
  Result<model::Signup> RejectSignup(const Principal& caller, const std::string& id);

  // Properties.
  Result<std::vector<PropertyView>> DescribeProperties(const Principal& caller, const std::string& prefix);
  /// Validates every assignment first; applies all in one transaction or none.
  /// Returns the old and new values.
  Result<std::vector<std::pair<PropertyView, std::string>>> ModifyProperties(
      const Principal& caller, const std::vector<std::pair<std::string, std::string>>& assignments);
  /// The current value of a registered property (its default if unset).
  Result<std::string> GetProperty(const std::string& name);

 private:
  state::StateStore& store_;
  Env& env_;
  Clock& clock_;
  HomePaths paths_;
};

}  // namespace euca::clc
