#pragma once
// Accounts, users and their credentials: plain values, JSON in and out.
// Secret fields (an access key's secret) are kept apart by the store; see core/clc.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace euca::model {

using Json = nlohmann::ordered_json;

/// The system account that owns the cloud; its users are cloud administrators.
inline constexpr const char* kSystemAccount = "eucalyptus";
/// The user every account is created with.
inline constexpr const char* kAccountAdminUser = "admin";

struct Account {
  std::string id;    ///< 12 decimal digits
  std::string name;  ///< unique; [a-z0-9][a-z0-9.-]{0,62}
  int64_t created_ms = 0;
};

struct User {
  std::string id;          ///< "AIDA" + 17 [A-Z0-9]
  std::string account_id;
  std::string name;        ///< unique within the account; [A-Za-z0-9+=,.@_-]{1,64}
  bool enabled = true;
  int64_t created_ms = 0;
};

struct AccessKey {
  std::string id;          ///< "AKIA" + 16 [A-Z0-9]
  std::string user_id;
  std::string account_id;
  bool active = true;
  int64_t created_ms = 0;
  std::string secret;      ///< 40 chars; never in history
};

struct Certificate {
  std::string id;          ///< "cert-" + 16 hex
  std::string user_id;
  std::string account_id;
  std::string fingerprint; ///< SHA-1 of the DER certificate, lower-case hex
  std::string pem;         ///< the public certificate
  bool active = true;
  int64_t created_ms = 0;
};

/// A request for a new account, approved or rejected by an administrator.
struct Signup {
  std::string id;            ///< "signup-" + 16 hex
  std::string account_name;
  std::string user_name;     ///< first user of the account (default "admin")
  std::string email;
  std::string status;        ///< "pending", "approved", "rejected"
  int64_t created_ms = 0;
  int64_t decided_ms = 0;
  std::string decided_by;
};

/// Who is acting: an authenticated user of an account; "user@account" in history.
struct Principal {
  std::string account_name;
  std::string account_id;
  std::string user_name;
  std::string user_id;
  std::string ToString() const { return user_name + "@" + account_name; }
  bool IsCloudAdmin() const { return account_name == kSystemAccount; }
};

/// A cloud setting as stored: name and canonical value text.
struct Property {
  std::string name;
  std::string value;
};

Json ToJson(const Account& a);
Json ToJson(const User& u);
Json ToJson(const AccessKey& k);  ///< without the secret
Json ToJson(const Certificate& c);
Json ToJson(const Signup& s);
Json ToJson(const Property& p);

/// Parsers. Missing fields take their defaults; wrong types throw nlohmann::json::exception,
/// which the store translates to Internal ("corrupt object").
Account AccountFromJson(const Json& j);
User UserFromJson(const Json& j);
AccessKey AccessKeyFromJson(const Json& j);
Certificate CertificateFromJson(const Json& j);
Signup SignupFromJson(const Json& j);
Property PropertyFromJson(const Json& j);

}  // namespace euca::model
