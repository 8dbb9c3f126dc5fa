#include "core/clc/admin.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <future>
#include <iterator>
#include <memory>
#include <tuple>

#include "core/base/pki.h"
#include "core/base/random.h"
#include "core/clc/credentials.h"
#include "core/clc/networking.h"
#include "core/clc/properties.h"
#include "core/sla/engine.h"
#include "state/sqlite_store.h"

namespace euca::clc {
namespace {

using state::Object;
using state::Txn;
using state::TxnContext;

constexpr char kAccounts[] = "accounts";
constexpr char kUsers[] = "users";
constexpr char kAccessKeys[] = "access-keys";
constexpr char kCertificates[] = "certificates";
constexpr char kSignups[] = "signups";
constexpr char kProperties[] = "properties";

constexpr char kPending[] = "pending";
constexpr char kApproved[] = "approved";
constexpr char kRejected[] = "rejected";

/// The components that get their own key and certificate at init.
constexpr const char* kComponents[] = {"cc", "nc", "walrus"};
/// The cloud CA outlives every certificate it may issue (cert-validity-days <= 36500).
constexpr int kCaValidityDays = 36500;
constexpr char kCertValidityProperty[] = "credentials.cert-validity-days";

// ---- Names -------------------------------------------------------------------------------

bool IsAccountName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  auto ok = [](unsigned char c) { return std::islower(c) || std::isdigit(c); };
  if (!ok(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](unsigned char c) { return ok(c) || c == '.' || c == '-'; });
}

bool IsUserName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '_' || c == '-';
  });
}

Status CheckAccountName(const std::string& name) {
  if (IsAccountName(name)) return Status::Ok();
  return InvalidArgument("account name '" + name +
                         "' is not valid: use 1 to 63 lower-case letters, digits, '.' and '-', "
                         "starting with a letter or digit");
}

Status CheckUserName(const std::string& name) {
  if (IsUserName(name)) return Status::Ok();
  return InvalidArgument("user name '" + name + "' is not valid: use 1 to 64 letters, digits and the characters +=,.@_-");
}

Status CheckEmail(const std::string& email) {
  size_t at = email.find('@');
  bool ok = email.size() <= 254 && at != std::string::npos && at > 0 && at + 1 < email.size() &&
            std::none_of(email.begin(), email.end(), [](unsigned char c) {
              return c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '\\';
            });
  if (ok) return Status::Ok();
  return InvalidArgument("e-mail address '" + email + "' is not valid: it needs a name, '@' and a domain");
}

Status RequireAdmin(const Principal& caller) {
  if (caller.IsCloudAdmin()) return Status::Ok();
  return PermissionDenied("'" + caller.ToString() + "' is not a cloud administrator; only users of account '" +
                          std::string(model::kSystemAccount) + "' may do this");
}

std::string Who(const std::string& user, const std::string& account) { return user + "@" + account; }

TxnContext Ctx(std::string principal, std::string action) {
  return TxnContext{std::move(principal), std::move(action), ""};
}

// ---- Objects -----------------------------------------------------------------------------

// model::*FromJson throws on a wrongly typed field; the store gave us a corrupt object.
template <typename F>
auto Decode(const Object& o, F parse) -> Result<decltype(parse(o.body))> {
  try {
    return parse(o.body);
  } catch (const nlohmann::json::exception& e) {
    return Internal("corrupt " + o.kind + " object '" + o.id + "': " + e.what());
  }
}

Object ToObject(const model::Account& a) { return {kAccounts, a.id, "", a.name, model::ToJson(a), std::nullopt}; }
Object ToObject(const model::User& u) { return {kUsers, u.id, u.account_id, u.name, model::ToJson(u), std::nullopt}; }
Object ToObject(const model::AccessKey& k) {
  return {kAccessKeys, k.id, k.user_id, "", model::ToJson(k), state::Json{{"secret_key", k.secret}}};
}
Object ToObject(const model::Certificate& c) {
  return {kCertificates, c.id, c.user_id, "", model::ToJson(c), std::nullopt};
}
Object ToObject(const model::Signup& s) { return {kSignups, s.id, "", "", model::ToJson(s), std::nullopt}; }
Object ToObject(const model::Property& p) { return {kProperties, p.name, "", "", model::ToJson(p), std::nullopt}; }

Result<model::AccessKey> DecodeKey(const Object& o) {
  EUCA_ASSIGN_OR_RETURN(model::AccessKey key, Decode(o, model::AccessKeyFromJson));
  if (o.secret) {
    try {
      key.secret = o.secret->value("secret_key", "");
    } catch (const nlohmann::json::exception& e) {
      return Internal("corrupt secret of access key '" + o.id + "': " + e.what());
    }
  }
  return key;
}

// An unused id of `kind` from `make` (collisions are astronomically rare but checked).
template <typename F>
Result<std::string> FreeId(Txn& txn, const std::string& kind, F make) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string id = make();
    EUCA_ASSIGN_OR_RETURN(auto existing, txn.Get(kind, id));
    if (!existing) return id;
  }
  return Internal("no free " + kind + " id after 8 attempts");
}

// An account by name, or by its 12-digit number.
Result<model::Account> FindAccount(Txn& txn, const std::string& name) {
  EUCA_ASSIGN_OR_RETURN(auto obj, txn.GetByName(kAccounts, "", name));
  if (!obj && !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); })) {
    EUCA_ASSIGN_OR_RETURN(obj, txn.Get(kAccounts, name));
  }
  if (!obj) return NotFound("no account '" + name + "'");
  return Decode(*obj, model::AccountFromJson);
}

Result<model::User> FindUser(Txn& txn, const model::Account& account, const std::string& user_name) {
  EUCA_ASSIGN_OR_RETURN(auto obj, txn.GetByName(kUsers, account.id, user_name));
  if (!obj) return NotFound("no user '" + user_name + "' in account '" + account.name + "'");
  return Decode(*obj, model::UserFromJson);
}

Result<std::vector<model::AccessKey>> KeysOf(Txn& txn, const model::User& user) {
  EUCA_ASSIGN_OR_RETURN(auto objs, txn.List(kAccessKeys, user.id));
  std::vector<model::AccessKey> keys;
  for (const auto& o : objs) {
    EUCA_ASSIGN_OR_RETURN(auto k, DecodeKey(o));
    keys.push_back(std::move(k));
  }
  std::sort(keys.begin(), keys.end(), [](const model::AccessKey& a, const model::AccessKey& b) {
    return std::tie(a.created_ms, a.id) < std::tie(b.created_ms, b.id);
  });
  return keys;
}

Result<model::AccessKey> AddAccessKey(Txn& txn, const model::User& user, int64_t now) {
  model::AccessKey key;
  EUCA_ASSIGN_OR_RETURN(key.id, FreeId(txn, kAccessKeys, [] { return "AKIA" + RandomUpperAlnum(16); }));
  key.user_id = user.id;
  key.account_id = user.account_id;
  key.active = true;
  key.created_ms = now;
  key.secret = RandomSecret(40);
  EUCA_RETURN_IF_ERROR(txn.Put(ToObject(key)));
  return key;
}

// A new user with one active access key.
Result<std::pair<model::User, model::AccessKey>> AddUser(Txn& txn, const model::Account& account,
                                                         const std::string& name, int64_t now) {
  EUCA_ASSIGN_OR_RETURN(auto existing, txn.GetByName(kUsers, account.id, name));
  if (existing) return AlreadyExists("user '" + name + "' already exists in account '" + account.name + "'");
  model::User user;
  EUCA_ASSIGN_OR_RETURN(user.id, FreeId(txn, kUsers, [] { return "AIDA" + RandomUpperAlnum(17); }));
  user.account_id = account.id;
  user.name = name;
  user.enabled = true;
  user.created_ms = now;
  EUCA_RETURN_IF_ERROR(txn.Put(ToObject(user)));
  EUCA_ASSIGN_OR_RETURN(model::AccessKey key, AddAccessKey(txn, user, now));
  return std::make_pair(std::move(user), std::move(key));
}

// A new account with its `admin` user (and that user's access key).
Result<std::pair<model::Account, std::pair<model::User, model::AccessKey>>> AddAccount(Txn& txn,
                                                                                       const std::string& name,
                                                                                       int64_t now) {
  EUCA_ASSIGN_OR_RETURN(auto existing, txn.GetByName(kAccounts, "", name));
  if (existing) return AlreadyExists("account '" + name + "' already exists");
  model::Account account;
  EUCA_ASSIGN_OR_RETURN(account.id, FreeId(txn, kAccounts, [] { return RandomDigits(12); }));
  account.name = name;
  account.created_ms = now;
  EUCA_RETURN_IF_ERROR(txn.Put(ToObject(account)));
  EUCA_ASSIGN_OR_RETURN(auto admin, AddUser(txn, account, model::kAccountAdminUser, now));
  return std::make_pair(std::move(account), std::move(admin));
}

// The stored value of a registered property, or its default.
Result<std::string> ReadProperty(Txn& txn, const PropertyDef& def) {
  EUCA_ASSIGN_OR_RETURN(auto obj, txn.Get(kProperties, def.name));
  if (!obj) return def.default_value;
  EUCA_ASSIGN_OR_RETURN(model::Property p, Decode(*obj, model::PropertyFromJson));
  return p.value;
}

Result<std::string> ReadProperty(Txn& txn, std::string_view name) {
  EUCA_ASSIGN_OR_RETURN(const PropertyDef* def, FindProperty(name));
  return ReadProperty(txn, *def);
}

// ---- Credentials -------------------------------------------------------------------------

// A user's new key pair and the certificate the cloud CA issued for it.
struct IssuedCredentials {
  std::string key_pem;
  model::Certificate cert;  // id left empty
};

// `key_pem` is a fresh private key (made outside any transaction: key generation is slow).
Result<IssuedCredentials> IssueUserCredentials(std::string key_pem, const std::string& ca_cert,
                                               const std::string& ca_key, const model::Account& account,
                                               const model::User& user, int days, int64_t now) {
  IssuedCredentials out;
  out.key_pem = std::move(key_pem);
  CertSpec spec{.common_name = Who(user.name, account.name), .organization = account.id, .days = days,
                .not_before_ms = now};
  EUCA_ASSIGN_OR_RETURN(out.cert.pem, IssueCertificatePem(out.key_pem, ca_cert, ca_key, spec));
  EUCA_ASSIGN_OR_RETURN(out.cert.fingerprint, CertificateFingerprint(out.cert.pem));
  out.cert.user_id = user.id;
  out.cert.account_id = account.id;
  out.cert.active = true;
  out.cert.created_ms = now;
  return out;
}

// The files of a user's credentials: eucarc, iamrc, cloud-cert.pem and the user's pair.
// `eucarc` holds `euca_home` as EUCA_HOME and names the other files beside it.
std::vector<CredentialFile> CredentialFiles(const model::Account& account, const model::User& user,
                                            const model::AccessKey& key, const IssuedCredentials& issued,
                                            const std::string& cloud_cert, const std::string& euca_home,
                                            const std::string& ec2_url, const std::string& s3_url, int64_t now,
                                            EucarcSpec* spec_out) {
  std::string stem = CredentialStem(user.name, issued.cert.fingerprint);
  EucarcSpec spec{.principal = Who(user.name, account.name),
                  .euca_home = euca_home,
                  .file_dir = "",
                  .access_key = key.id,
                  .secret_key = key.secret,
                  .account_id = account.id,
                  .cert_file = stem + "-cert.pem",
                  .key_file = stem + "-pk.pem",
                  .cloud_cert_file = "cloud-cert.pem",
                  .ec2_url = ec2_url,
                  .s3_url = s3_url,
                  .created_ms = now};
  if (spec_out) *spec_out = spec;
  return {
      {"eucarc", RenderEucarc(spec), 0600},
      {"iamrc", RenderIamrc(key.id, key.secret), 0600},
      {"cloud-cert.pem", cloud_cert, 0600},
      {spec.cert_file, issued.cert.pem, 0600},
      {spec.key_file, issued.key_pem, 0600},
  };
}

// ---- Init --------------------------------------------------------------------------------

bool IsCloudEntry(const std::string& name) {
  return name.rfind("state.db", 0) == 0 || name == "history.git" || name == "keys" || name == "credentials" ||
         name == "eucarc";
}

// Names of the entries of `home` that belong to a cloud (state.db*, history.git, keys, ...).
Result<std::vector<std::string>> CloudEntries(Env& env, const std::string& home) {
  if (!env.Exists(home)) return std::vector<std::string>();
  EUCA_ASSIGN_OR_RETURN(auto names, env.ListDir(home));
  std::vector<std::string> out;
  for (auto& n : names)
    if (IsCloudEntry(n)) out.push_back(std::move(n));
  std::sort(out.begin(), out.end());
  return out;
}

// "backup-20231114T221320Z" (with "-2", "-3", ... if taken).
std::string FreeBackupDir(Env& env, const std::string& home, int64_t now) {
  std::string stamp;
  for (char c : FormatIso8601(now))
    if (c != '-' && c != ':') stamp.push_back(c);
  std::string dir = JoinPath(home, "backup-" + stamp);
  for (int i = 2; env.Exists(dir); ++i) dir = JoinPath(home, "backup-" + stamp + "-" + std::to_string(i));
  return dir;
}

Status WriteKeyPair(Env& env, const std::string& key_path, const std::string& key_pem, const std::string& cert_path,
                    const std::string& cert_pem) {
  EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(key_path, key_pem, 0600));
  return env.WriteFileAtomic(cert_path, cert_pem, 0644);
}

// `n` new RSA keys, each generated on its own thread (init needs six; each takes ~0.2 s).
Result<std::vector<std::string>> GenerateKeys(size_t n, int bits) {
  std::vector<std::future<Result<std::string>>> pending;
  for (size_t i = 0; i < n; ++i) pending.push_back(std::async(std::launch::async, GenerateRsaKeyPem, bits));
  std::vector<std::string> keys;
  Status first_error;
  for (auto& f : pending) {
    Result<std::string> key = f.get();
    if (!key.ok() && first_error.ok()) first_error = key.status();
    if (key.ok()) keys.push_back(std::move(key).value());
  }
  if (!first_error.ok()) return first_error;
  return keys;
}

// Everything of InitCloud after the old cloud (if any) is out of the way.
Status CreateCloud(const HomePaths& paths, const InitOptions& opts, Env& env, Clock& clock, InitReport& report) {
  const int64_t now = clock.NowMillis();
  std::vector<model::Property> initial;
  for (const auto& [name, value] : opts.properties) {
    EUCA_ASSIGN_OR_RETURN(const PropertyDef* def, FindProperty(name));
    EUCA_ASSIGN_OR_RETURN(std::string canonical, CanonicalPropertyValue(*def, value));
    initial.push_back({def->name, std::move(canonical)});
  }
  EUCA_ASSIGN_OR_RETURN(const PropertyDef* validity, FindProperty(kCertValidityProperty));
  const int days = std::stoi(validity->default_value);

  // Every key first (slow: made concurrently), so that nothing is written unless all exist.
  // Order: CA, cloud, components, administrator.
  EUCA_ASSIGN_OR_RETURN(std::vector<std::string> keys, GenerateKeys(2 + std::size(kComponents) + 1, opts.rsa_bits));
  auto next_key = keys.begin();

  EUCA_RETURN_IF_ERROR(env.CreateDirs(paths.home, 0700));
  EUCA_RETURN_IF_ERROR(env.CreateDirs(paths.Keys(), 0700));

  // The cloud CA, the cloud's own certificate and the components' credentials.
  const std::string ca_key = *next_key++;
  EUCA_ASSIGN_OR_RETURN(std::string ca_cert,
                        CreateCaCertificatePem(ca_key, {.common_name = "euca cloud CA",
                                                        .organization = "euca",
                                                        .days = kCaValidityDays,
                                                        .not_before_ms = now}));
  EUCA_RETURN_IF_ERROR(WriteKeyPair(env, paths.CloudCaKey(), ca_key, paths.CloudCaCert(), ca_cert));
  auto issue = [&](const std::string& cn, const std::string& key_path, const std::string& cert_path) -> Result<std::string> {
    const std::string key = *next_key++;
    EUCA_ASSIGN_OR_RETURN(std::string cert,
                          IssueCertificatePem(key, ca_cert, ca_key,
                                              {.common_name = cn, .organization = "euca", .days = days,
                                               .not_before_ms = now}));
    EUCA_RETURN_IF_ERROR(WriteKeyPair(env, key_path, key, cert_path, cert));
    return cert;
  };
  EUCA_ASSIGN_OR_RETURN(std::string cloud_cert, issue("euca cloud", paths.CloudKey(), paths.CloudCert()));
  for (const char* c : kComponents) {
    EUCA_RETURN_IF_ERROR(issue(std::string("euca ") + c, paths.ComponentKey(c), paths.ComponentCert(c)).status());
  }

  // The store and, in one transaction, the system account with its administrator.
  state::OpenOptions open_options;
  open_options.create = true;
  EUCA_ASSIGN_OR_RETURN(std::unique_ptr<state::StateStore> store,
                        state::OpenSqliteStore(paths.home, clock, open_options));
  const std::string admin_key = *next_key++;
  IssuedCredentials issued;
  auto txn = store->Transact(Ctx("system", "InitCloud"), [&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto created, AddAccount(t, model::kSystemAccount, now));
    report.account = created.first;
    report.user = created.second.first;
    report.key = created.second.second;
    EUCA_ASSIGN_OR_RETURN(issued, IssueUserCredentials(admin_key, ca_cert, ca_key, report.account, report.user,
                                                       days, now));
    EUCA_ASSIGN_OR_RETURN(issued.cert.id, FreeId(t, kCertificates, [] { return "cert-" + RandomHex(16); }));
    for (const model::Property& p : initial) EUCA_RETURN_IF_ERROR(t.Put(ToObject(p)));
    return t.Put(ToObject(issued.cert));
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  store.reset();

  // credentials/admin/ and $EUCA_HOME/eucarc, which names the files in credentials/admin/.
  const std::string admin_dir = JoinPath(paths.Credentials(), model::kAccountAdminUser);
  EucarcSpec spec;
  auto files = CredentialFiles(report.account, report.user, report.key, issued, cloud_cert, paths.home, "", "", now,
                               &spec);
  EUCA_RETURN_IF_ERROR(env.CreateDirs(paths.Credentials(), 0700));
  EUCA_RETURN_IF_ERROR(WriteCredentialsDir(env, admin_dir, files));
  spec.euca_home.clear();
  spec.file_dir = "credentials/" + std::string(model::kAccountAdminUser);
  EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(paths.Eucarc(), RenderEucarc(spec), 0600));
  report.eucarc_path = paths.Eucarc();
  return Status::Ok();
}

std::string AbsoluteHome(const std::string& home) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(home, ec);
  if (ec) p = home;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

Result<InitReport> InitCloud(const InitOptions& opts, Env& env, Clock& clock) {
  if (opts.home.empty()) return InvalidArgument("no cloud home given; set EUCA_HOME or pass --home");
  if (opts.rsa_bits < kMinRsaBits)
    return InvalidArgument("RSA key size '" + std::to_string(opts.rsa_bits) + "' is too small; use at least " +
                           std::to_string(kMinRsaBits) + " bits");
  const HomePaths paths(AbsoluteHome(opts.home));
  InitReport report;
  report.home = paths.home;

  const bool home_existed = env.Exists(paths.home);
  EUCA_ASSIGN_OR_RETURN(std::vector<std::string> old_entries, CloudEntries(env, paths.home));
  if (!old_entries.empty()) {
    if (!opts.force)
      return AlreadyExists("'" + paths.home + "' already holds a cloud; use --force to move it aside and start again");
    report.backup_dir = FreeBackupDir(env, paths.home, clock.NowMillis());
    EUCA_RETURN_IF_ERROR(env.CreateDirs(report.backup_dir, 0700));
    for (size_t i = 0; i < old_entries.size(); ++i) {
      const auto& name = old_entries[i];
      Status moved = env.Rename(JoinPath(paths.home, name), JoinPath(report.backup_dir, name));
      if (!moved.ok()) {  // put back what was already moved
        for (size_t j = 0; j < i; ++j)
          (void)env.Rename(JoinPath(report.backup_dir, old_entries[j]), JoinPath(paths.home, old_entries[j]));
        (void)env.RemoveAll(report.backup_dir);
        return moved;
      }
    }
  }

  Status created = CreateCloud(paths, opts, env, clock, report);
  if (created.ok()) return report;

  // Leave nothing half-made: remove what was created, bring back what was moved aside.
  if (!home_existed) {
    (void)env.RemoveAll(paths.home);
  } else {
    if (auto made = CloudEntries(env, paths.home); made.ok())
      for (const auto& name : *made) (void)env.RemoveAll(JoinPath(paths.home, name));
    if (!report.backup_dir.empty()) {
      for (const auto& name : old_entries)
        (void)env.Rename(JoinPath(report.backup_dir, name), JoinPath(paths.home, name));
      (void)env.RemoveAll(report.backup_dir);
    }
  }
  return created;
}

// ---- Admin -------------------------------------------------------------------------------

Admin::Admin(state::StateStore& store, Env& env, Clock& clock, std::string home)
    : store_(store), env_(env), clock_(clock), paths_(std::move(home)) {}

Result<Principal> Admin::LocalAdmin() {
  Principal p;
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& txn) -> Status {
    auto account = FindAccount(txn, model::kSystemAccount);
    if (!account.ok() && account.status().code() == Code::kNotFound)
      return NotFound("this cloud has no account '" + std::string(model::kSystemAccount) +
                      "'; run 'euca admin init' to create one");
    EUCA_RETURN_IF_ERROR(account.status());
    EUCA_ASSIGN_OR_RETURN(model::User user, FindUser(txn, *account, model::kAccountAdminUser));
    p = {account->name, account->id, user.name, user.id};
    return Status::Ok();
  }));
  return p;
}

Result<KeyIdentity> Admin::AuthenticateKey(const std::string& access_key_id) {
  KeyIdentity id;
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& txn) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto key_obj, txn.Get(kAccessKeys, access_key_id));
    if (!key_obj) return Unauthenticated("access key '" + access_key_id + "' does not exist");
    EUCA_ASSIGN_OR_RETURN(model::AccessKey key, DecodeKey(*key_obj));
    if (!key.active) return Unauthenticated("access key '" + access_key_id + "' is inactive");
    EUCA_ASSIGN_OR_RETURN(auto user_obj, txn.Get(kUsers, key_obj->parent));
    if (!user_obj) return Unauthenticated("access key '" + access_key_id + "' belongs to no user");
    EUCA_ASSIGN_OR_RETURN(model::User user, Decode(*user_obj, model::UserFromJson));
    EUCA_ASSIGN_OR_RETURN(auto account_obj, txn.Get(kAccounts, user.account_id));
    if (!account_obj) return Unauthenticated("access key '" + access_key_id + "' belongs to no account");
    EUCA_ASSIGN_OR_RETURN(model::Account account, Decode(*account_obj, model::AccountFromJson));
    if (!user.enabled)
      return Unauthenticated("access key '" + access_key_id + "' belongs to disabled user '" + user.name +
                             "' of account '" + account.name + "'");
    if (key.secret.empty()) return Internal("access key '" + access_key_id + "' has no secret");
    id.principal = {account.name, account.id, user.name, user.id};
    id.secret = key.secret;
    return Status::Ok();
  }));
  return id;
}

Result<model::Account> Admin::CreateAccount(const Principal& caller, const std::string& name) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  EUCA_RETURN_IF_ERROR(CheckAccountName(name));
  model::Account account;
  const int64_t now = clock_.NowMillis();
  auto txn = store_.Transact(Ctx(caller.ToString(), "CreateAccount " + name), [&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto created, AddAccount(t, name, now));
    account = std::move(created.first);
    return Status::Ok();
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  return account;
}

Result<std::vector<model::Account>> Admin::DescribeAccounts(const Principal& caller) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  std::vector<model::Account> out;
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto objs, t.List(kAccounts));
    for (const auto& o : objs) {
      EUCA_ASSIGN_OR_RETURN(auto a, Decode(o, model::AccountFromJson));
      out.push_back(std::move(a));
    }
    return Status::Ok();
  }));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Result<std::pair<model::User, model::AccessKey>> Admin::CreateUser(const Principal& caller,
                                                                   const std::string& account_name,
                                                                   const std::string& user_name) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  EUCA_RETURN_IF_ERROR(CheckUserName(user_name));
  std::pair<model::User, model::AccessKey> out;
  const int64_t now = clock_.NowMillis();
  auto txn = store_.Transact(
      Ctx(caller.ToString(), "CreateUser " + Who(user_name, account_name)), [&](Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(model::Account account, FindAccount(t, account_name));
        EUCA_ASSIGN_OR_RETURN(out, AddUser(t, account, user_name, now));
        return Status::Ok();
      });
  EUCA_RETURN_IF_ERROR(txn.status());
  return out;
}

Status Admin::SetUserEnabled(const Principal& caller, const std::string& account_name, const std::string& user_name,
                             bool enabled) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  const std::string who = Who(user_name, account_name);
  auto txn = store_.Transact(
      Ctx(caller.ToString(), (enabled ? "EnableUser " : "DisableUser ") + who),
      [&](Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(model::Account account, FindAccount(t, account_name));
        EUCA_ASSIGN_OR_RETURN(model::User user, FindUser(t, account, user_name));
        if (!enabled && account.name == model::kSystemAccount && user.name == model::kAccountAdminUser)
          return Conflict("'" + Who(user.name, account.name) +
                          "' is the cloud administrator and cannot be disabled; it would lock everyone out");
        if (user.enabled == enabled) return Status::Ok();  // nothing to change, no history
        user.enabled = enabled;
        return t.Put(ToObject(user));
      });
  return txn.status();
}

Status Admin::DeleteUser(const Principal& caller, const std::string& account_name, const std::string& user_name) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  auto txn = store_.Transact(
      Ctx(caller.ToString(), "DeleteUser " + Who(user_name, account_name)), [&](Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(model::Account account, FindAccount(t, account_name));
        EUCA_ASSIGN_OR_RETURN(model::User user, FindUser(t, account, user_name));
        if (account.name == model::kSystemAccount && user.name == model::kAccountAdminUser)
          return Conflict("'" + Who(user.name, account.name) + "' is the cloud administrator and cannot be deleted");
        for (const char* kind : {kAccessKeys, kCertificates}) {
          EUCA_ASSIGN_OR_RETURN(auto objs, t.List(kind, user.id));
          for (const auto& o : objs) EUCA_RETURN_IF_ERROR(t.Delete(kind, o.id));
        }
        return t.Delete(kUsers, user.id);
      });
  return txn.status();
}

Result<std::vector<UserView>> Admin::DescribeUsers(const Principal& caller,
                                                   const std::optional<std::string>& account_name) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  std::vector<UserView> out;
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& t) -> Status {
    std::vector<model::Account> accounts;
    if (account_name) {
      EUCA_ASSIGN_OR_RETURN(auto a, FindAccount(t, *account_name));
      accounts.push_back(std::move(a));
    } else {
      EUCA_ASSIGN_OR_RETURN(auto objs, t.List(kAccounts));
      for (const auto& o : objs) {
        EUCA_ASSIGN_OR_RETURN(auto a, Decode(o, model::AccountFromJson));
        accounts.push_back(std::move(a));
      }
    }
    for (const auto& account : accounts) {
      EUCA_ASSIGN_OR_RETURN(auto users, t.List(kUsers, account.id));
      for (const auto& o : users) {
        UserView view;
        view.account = account;
        EUCA_ASSIGN_OR_RETURN(view.user, Decode(o, model::UserFromJson));
        EUCA_ASSIGN_OR_RETURN(view.keys, KeysOf(t, view.user));
        for (auto& k : view.keys) k.secret.clear();
        out.push_back(std::move(view));
      }
    }
    return Status::Ok();
  }));
  std::sort(out.begin(), out.end(), [](const UserView& a, const UserView& b) {
    return std::tie(a.account.name, a.user.name) < std::tie(b.account.name, b.user.name);
  });
  return out;
}

Status Admin::GetCredentials(const Principal& caller, const std::string& account_name, const std::string& user_name,
                             const std::string& zip_path) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  if (zip_path.empty()) return InvalidArgument("no file given for the credentials zip");
  std::string dir = std::filesystem::path(zip_path).parent_path().string();
  if (!dir.empty() && !env_.Exists(dir)) return NotFound("folder '" + dir + "' does not exist");

  // What the zip needs from the store.
  model::Account account;
  model::User user;
  model::AccessKey key;
  std::string days_text, ec2_url, s3_url;
  const std::string who = Who(user_name, account_name);
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(account, FindAccount(t, account_name));
    EUCA_ASSIGN_OR_RETURN(user, FindUser(t, account, user_name));
    EUCA_ASSIGN_OR_RETURN(auto keys, KeysOf(t, user));
    auto active = std::find_if(keys.begin(), keys.end(), [](const model::AccessKey& k) { return k.active; });
    if (active == keys.end())
      return Conflict("user '" + user_name + "' in account '" + account.name + "' has no active access key");
    key = *active;
    EUCA_ASSIGN_OR_RETURN(days_text, ReadProperty(t, kCertValidityProperty));
    EUCA_ASSIGN_OR_RETURN(ec2_url, ReadProperty(t, "services.ec2-url"));
    EUCA_ASSIGN_OR_RETURN(s3_url, ReadProperty(t, "services.s3-url"));
    return Status::Ok();
  }));
  if (key.secret.empty()) return Internal("access key '" + key.id + "' has no secret");

  // A new key pair and certificate, and the zip, all in memory.
  EUCA_ASSIGN_OR_RETURN(std::string ca_cert, env_.ReadFile(paths_.CloudCaCert()));
  EUCA_ASSIGN_OR_RETURN(std::string ca_key, env_.ReadFile(paths_.CloudCaKey()));
  EUCA_ASSIGN_OR_RETURN(std::string cloud_cert, env_.ReadFile(paths_.CloudCert()));
  const int64_t now = clock_.NowMillis();
  EUCA_ASSIGN_OR_RETURN(std::string user_key, GenerateRsaKeyPem(kMinRsaBits));
  EUCA_ASSIGN_OR_RETURN(IssuedCredentials issued, IssueUserCredentials(std::move(user_key), ca_cert, ca_key, account,
                                                                       user, std::stoi(days_text), now));
  auto files = CredentialFiles(account, user, key, issued, cloud_cert, paths_.home, ec2_url, s3_url, now, nullptr);
  EUCA_ASSIGN_OR_RETURN(std::string zip, BuildZip(files, now));

  // Record the certificate, then hand out the zip.
  const std::string principal = caller.ToString();
  auto txn = store_.Transact(Ctx(principal, "GetCredentials " + who), [&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(model::Account a, FindAccount(t, account_name));
    EUCA_ASSIGN_OR_RETURN(model::User u, FindUser(t, a, user_name));
    if (u.id != user.id) return Conflict("user '" + user_name + "' was replaced meanwhile; try again");
    EUCA_ASSIGN_OR_RETURN(issued.cert.id, FreeId(t, kCertificates, [] { return "cert-" + RandomHex(16); }));
    return t.Put(ToObject(issued.cert));
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  Status written = env_.WriteFileAtomic(zip_path, zip, 0600);
  if (!written.ok()) {
    // Nobody holds the key of the recorded certificate: take it back (best effort).
    (void)store_.Transact(Ctx(principal, "DeleteCertificate " + issued.cert.id + " of " + who),
                          [&](Txn& t) { return t.Delete(kCertificates, issued.cert.id); });
  }
  return written;
}

Result<model::Signup> Admin::RequestSignup(const std::string& account_name, const std::string& email,
                                           const std::string& user_name) {
  const std::string first_user = user_name.empty() ? model::kAccountAdminUser : user_name;
  EUCA_RETURN_IF_ERROR(CheckAccountName(account_name));
  EUCA_RETURN_IF_ERROR(CheckUserName(first_user));
  EUCA_RETURN_IF_ERROR(CheckEmail(email));
  model::Signup signup;
  const int64_t now = clock_.NowMillis();
  auto txn = store_.Transact(
      Ctx("anonymous", "RequestSignup " + account_name + " (" + email + ")"),
      [&](Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(auto existing, t.GetByName(kAccounts, "", account_name));
        if (existing) return AlreadyExists("account '" + account_name + "' already exists");
        EUCA_ASSIGN_OR_RETURN(auto signups, t.List(kSignups));
        for (const auto& o : signups) {
          EUCA_ASSIGN_OR_RETURN(model::Signup s, Decode(o, model::SignupFromJson));
          if (s.account_name == account_name && s.status == kPending)
            return AlreadyExists("a sign-up for account '" + account_name + "' is already pending ('" + s.id + "')");
        }
        signup.account_name = account_name;
        signup.user_name = first_user;
        signup.email = email;
        signup.status = kPending;
        signup.created_ms = now;
        EUCA_ASSIGN_OR_RETURN(signup.id, FreeId(t, kSignups, [] { return "signup-" + RandomHex(16); }));
        EUCA_ASSIGN_OR_RETURN(std::string auto_approve, ReadProperty(t, "signup.auto-approve"));
        if (auto_approve == "true") {
          EUCA_ASSIGN_OR_RETURN(auto created, AddAccount(t, account_name, now));
          if (first_user != model::kAccountAdminUser) {
            EUCA_RETURN_IF_ERROR(AddUser(t, created.first, first_user, now).status());
          }
          signup.status = kApproved;
          signup.decided_ms = now;
          signup.decided_by = "system";
        }
        return t.Put(ToObject(signup));
      });
  EUCA_RETURN_IF_ERROR(txn.status());
  return signup;
}

Result<std::vector<model::Signup>> Admin::DescribeSignups(const Principal& caller) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  std::vector<model::Signup> out;
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto objs, t.List(kSignups));
    for (const auto& o : objs) {
      EUCA_ASSIGN_OR_RETURN(auto s, Decode(o, model::SignupFromJson));
      out.push_back(std::move(s));
    }
    return Status::Ok();
  }));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return std::tie(a.created_ms, a.id) < std::tie(b.created_ms, b.id); });
  return out;
}

namespace {

// Approves or rejects a pending sign-up in one transaction.
Result<model::Signup> DecideSignup(state::StateStore& store, Clock& clock, const Principal& caller,
                                   const std::string& id, bool approve) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  model::Signup signup;
  const int64_t now = clock.NowMillis();
  auto txn = store.Transact(
      Ctx(caller.ToString(), (approve ? "ApproveSignup " : "RejectSignup ") + id),
      [&](Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(auto obj, t.Get(kSignups, id));
        if (!obj) return NotFound("no sign-up '" + id + "'");
        EUCA_ASSIGN_OR_RETURN(signup, Decode(*obj, model::SignupFromJson));
        if (signup.status != kPending)
          return Conflict("sign-up '" + id + "' was already " + signup.status + " by '" + signup.decided_by + "'");
        if (approve) {
          EUCA_ASSIGN_OR_RETURN(auto created, AddAccount(t, signup.account_name, now));
          if (signup.user_name != model::kAccountAdminUser) {
            EUCA_RETURN_IF_ERROR(AddUser(t, created.first, signup.user_name, now).status());
          }
        }
        signup.status = approve ? kApproved : kRejected;
        signup.decided_ms = now;
        signup.decided_by = caller.ToString();
        return t.Put(ToObject(signup));
      });
  EUCA_RETURN_IF_ERROR(txn.status());
  return signup;
}

}  // namespace

Result<model::Signup> Admin::ApproveSignup(const Principal& caller, const std::string& id) {
  return DecideSignup(store_, clock_, caller, id, true);
}

Result<model::Signup> Admin::RejectSignup(const Principal& caller, const std::string& id) {
  return DecideSignup(store_, clock_, caller, id, false);
}

namespace {

PropertyView ViewOf(const PropertyDef& def, std::string value) {
  return {def.name, std::move(value), def.default_value, std::string(PropertyTypeName(def.type)), def.description};
}

}  // namespace

Result<std::vector<PropertyView>> Admin::DescribeProperties(const Principal& caller, const std::string& prefix) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  std::vector<PropertyView> out;
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& t) -> Status {
    for (const auto& def : Properties()) {  // sorted by name
      if (def.name.rfind(prefix, 0) != 0) continue;
      EUCA_ASSIGN_OR_RETURN(std::string value, ReadProperty(t, def));
      out.push_back(ViewOf(def, std::move(value)));
    }
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<std::pair<PropertyView, std::string>>> Admin::ModifyProperties(
    const Principal& caller, const std::vector<std::pair<std::string, std::string>>& assignments) {
  EUCA_RETURN_IF_ERROR(RequireAdmin(caller));
  if (assignments.empty()) return InvalidArgument("no property to modify; give NAME=VALUE");
  // Validate everything before touching the store.
  std::vector<std::pair<const PropertyDef*, std::string>> changes;
  std::string action = "ModifyProperties";
  for (const auto& [name, value] : assignments) {
    EUCA_ASSIGN_OR_RETURN(const PropertyDef* def, FindProperty(name));
    for (const auto& c : changes)
      if (c.first == def) return InvalidArgument("property '" + name + "' is given twice");
    EUCA_ASSIGN_OR_RETURN(std::string canonical, CanonicalPropertyValue(*def, value));
    changes.emplace_back(def, std::move(canonical));
    action += " " + name;
  }
  std::vector<std::pair<PropertyView, std::string>> out;
  std::vector<std::string> changed;
  auto txn = store_.Transact(Ctx(caller.ToString(), action), [&](Txn& t) -> Status {
    out.clear();
    changed.clear();
    for (const auto& [def, value] : changes) {
      EUCA_ASSIGN_OR_RETURN(std::string old, ReadProperty(t, *def));
      out.emplace_back(ViewOf(*def, old), value);
      EUCA_RETURN_IF_ERROR(t.Put(ToObject(model::Property{def->name, value})));
      if (old != value) changed.push_back(def->name);
    }
    // The network properties fit together; layout changes wait for instances to end.
    EUCA_RETURN_IF_ERROR(CheckNetworkPropertyChanges(t, changed));
    // The SLA's network-property-change event: network-guard rules (docs/sla.md).
    return sla::CheckNetworkPropertyChange(t, changed);
  });
  EUCA_RETURN_IF_ERROR(txn.status());
  return out;
}

Result<std::string> Admin::GetProperty(const std::string& name) {
  EUCA_ASSIGN_OR_RETURN(const PropertyDef* def, FindProperty(name));
  std::string value;
  EUCA_RETURN_IF_ERROR(store_.Read([&](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(value, ReadProperty(t, *def));
    return Status::Ok();
  }));
  return value;
}

}  // namespace euca::clc
