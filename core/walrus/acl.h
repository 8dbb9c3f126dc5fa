#pragma once
// Who calls Walrus, and S3 access control lists: grants, canned ACLs and the access check.
//
// Identity is the account: a canonical user id is an account id, and every user of an
// account acts as the account (no per-user policies yet). The owner of a bucket or object
// always holds every permission on it; anyone else needs a grant. Anonymous callers match
// only grants to the AllUsers group. The LogDelivery group has no members here (this cloud
// delivers no server access logs); log-delivery-write is stored and shown as S3 does.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/model/account.h"

namespace euca::walrus {

/// The caller of a Walrus operation: an authenticated principal, or anonymous.
class Caller final {
 public:
  Caller(const model::Principal& principal) : principal_(principal) {}  // NOLINT(google-explicit-constructor)
  static Caller Anonymous() { return Caller(); }

  bool anonymous() const { return !principal_.has_value(); }
  /// REQUIRES: !anonymous().
  const model::Principal& principal() const { return *principal_; }
  /// The account id, "" when anonymous.
  std::string account_id() const { return principal_ ? principal_->account_id : std::string(); }
  /// "user@account" or "anonymous" (for messages).
  std::string ToString() const { return principal_ ? principal_->ToString() : "anonymous"; }

 private:
  Caller() = default;
  std::optional<model::Principal> principal_;
};

enum class Permission { kRead, kWrite, kReadAcp, kWriteAcp, kFullControl };
/// "READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL".
std::string_view PermissionName(Permission p);
std::optional<Permission> ParsePermission(std::string_view name);

inline constexpr char kAllUsersGroup[] = "http://acs.amazonaws.com/groups/global/AllUsers";
inline constexpr char kAuthenticatedUsersGroup[] = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
inline constexpr char kLogDeliveryGroup[] = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// The owner recorded for what an anonymous caller writes (S3's anonymous canonical id).
inline constexpr char kAnonymousOwnerId[] = "65a011a29cdf8ec533ec3d1ccaae921c";

struct Owner {
  std::string id;            ///< account id
  std::string display_name;  ///< account name
  bool operator==(const Owner&) const = default;
};

struct Grantee {
  enum class Type { kCanonicalUser, kGroup };
  Type type = Type::kCanonicalUser;
  std::string id;            ///< account id (CanonicalUser) or group URI (Group)
  std::string display_name;  ///< CanonicalUser: the account name
  bool operator==(const Grantee&) const = default;
};

struct Grant {
  Grantee grantee;
  Permission permission = Permission::kRead;
  bool operator==(const Grant&) const = default;
};

struct Acl {
  Owner owner;
  std::vector<Grant> grants;
  bool operator==(const Acl&) const = default;
};

enum class CannedAcl {
  kPrivate,
  kPublicRead,
  kPublicReadWrite,
  kAuthenticatedRead,
  kBucketOwnerRead,
  kBucketOwnerFullControl,
  kAwsExecRead,       ///< S3: EC2 may read (an AMI bundle); here the cloud's system account
  kEc2BundleRead,     ///< Eucalyptus' own: the same grant as aws-exec-read
  kLogDeliveryWrite,  ///< the LogDelivery group gets WRITE and READ_ACP
};

/// Parses an x-amz-acl value; "" is private. InvalidArgument for anything else.
Result<CannedAcl> ParseCannedAcl(std::string_view name);
/// Whether `canned` grants the cloud's system account (aws-exec-read, ec2-bundle-read).
bool GrantsCloud(CannedAcl canned);
/// The ACL a canned name stands for: `owner` FULL_CONTROL plus the named grants.
/// `bucket_owner` is used by bucket-owner-read/-full-control (no extra grant when it is the
/// owner, and on buckets, where they mean private). `cloud` is the cloud's system account
/// (model::kSystemAccount), which aws-exec-read and ec2-bundle-read grant READ, as S3 grants
/// EC2 (no extra grant when it is the owner). REQUIRES: cloud.id is set when GrantsCloud(canned).
Acl MakeCannedAcl(CannedAcl canned, const Owner& owner, const Owner& bucket_owner, const Owner& cloud = {});

/// The grants of one x-amz-grant-* header (x-amz-grant-read, -write, -read-acp, -write-acp,
/// -full-control: `permission`): a comma-separated list of id="ACCOUNT_ID" or uri="GROUP_URI"
/// (quotes optional). emailAddress="..." is UnresolvableGrantByEmailAddress: accounts here
/// have no e-mail address. Anything else, or an empty list, is InvalidArgument. The grantees
/// are not checked here (Walrus::AclFor does).
Result<std::vector<Grant>> ParseGrantHeader(Permission permission, std::string_view value);

/// True if `caller` holds `permission` (directly or through FULL_CONTROL) under `acl`.
bool Allows(const Acl& acl, const Caller& caller, Permission permission);

/// The stored form (JSON; docs/walrus-format.md).
std::string AclToJson(const Acl& acl);
Result<Acl> AclFromJson(std::string_view json);

}  // namespace euca::walrus
