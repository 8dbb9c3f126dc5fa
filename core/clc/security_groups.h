#pragma once
// Security groups of the cloud controller (EC2 CreateSecurityGroup, DeleteSecurityGroup,
// DescribeSecurityGroups, AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress; issue 7,
// docs/networking.md "Cloud side"). A group belongs to an account (kind "security-groups",
// id "sg-" + 8 hex, name unique in the account); every account has a "default" group, made
// on first need, that allows all traffic from its own members. Rules are ingress permissions
// with one source each: a CIDR, or a group of any account. Every change is one StateStore
// transaction followed by `on_change` (the network applier). Thread-safe (the store is).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/api/ec2_query.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/clc/ec2_actions.h"
#include "core/model/account.h"
#include "core/model/network.h"
#include "state/store.h"

namespace euca::clc {

/// A permission as the caller gives it, before its source group is resolved.
struct PermissionRequest {
  std::string protocol;  ///< tcp, udp, icmp, -1/all, or a protocol number (6, 17, 1)
  std::optional<int> from_port;
  std::optional<int> to_port;
  std::string cidr;                ///< "" = none
  std::string source_group_name;   ///< with source_group_owner (default: the caller's account)
  std::string source_group_id;     ///< "sg-..."
  std::string source_group_owner;  ///< account id of the source group
};

class SecurityGroups final {
 public:
  /// REQUIRES: `store` and `clock` outlive this object.
  SecurityGroups(state::StateStore& store, Clock& clock, std::function<void()> on_change = nullptr)
      : store_(store), clock_(clock), on_change_(std::move(on_change)) {}

  /// InvalidGroup.Duplicate when the account has a group of that name; InvalidParameterValue
  /// for a name or description outside 1..255 printable ASCII, or a name starting "sg-".
  Result<model::SecurityGroup> Create(const model::Principal& caller, const std::string& name,
                                      const std::string& description, const std::string& request_id = {});
  /// By name or id. InvalidGroup.NotFound; CannotDelete for "default"; InvalidGroup.InUse while
  /// an instance that has not ended is in it or another group's rule names it.
  Status Delete(const model::Principal& caller, const std::string& name_or_id, const std::string& request_id = {});
  /// The caller's groups (the default one made if missing), by name; names and ids given:
  /// exactly those (InvalidGroup.NotFound for the first missing). Filters group-name,
  /// group-id, description, owner-id. `all_accounts` (the administrator's "verbose"): every
  /// account's groups, by owner then name.
  Result<std::vector<model::SecurityGroup>> Describe(const model::Principal& caller,
                                                     const std::vector<std::string>& names_or_ids,
                                                     const std::vector<api::Ec2Filter>& filters,
                                                     bool all_accounts = false);
  /// Adds the permissions to the group (all or none): InvalidPermission.Duplicate when one is
  /// there already, InvalidParameterValue for a bad protocol, port, type or CIDR,
  /// InvalidGroup.NotFound for an unknown group or source group.
  Status Authorize(const model::Principal& caller, const std::string& group,
                   const std::vector<PermissionRequest>& permissions, const std::string& request_id = {});
  /// Removes them (all or none): InvalidPermission.NotFound when one is not there.
  Status Revoke(const model::Principal& caller, const std::string& group,
                const std::vector<PermissionRequest>& permissions, const std::string& request_id = {});

  /// The name of group `id` (for replies naming source groups); "" when unknown.
  std::string GroupName(const std::string& id);

 private:
  Status Change(const model::Principal& caller, const std::string& group,
                const std::vector<PermissionRequest>& permissions, bool add, const std::string& request_id);
  void Notify() {
    if (on_change_) on_change_();
  }

  state::StateStore& store_;
  Clock& clock_;
  std::function<void()> on_change_;
};

/// Registers the five security group actions, with both parameter styles of Authorize and
/// Revoke: flat (IpProtocol, FromPort, ToPort, CidrIp, SourceSecurityGroupName,
/// SourceSecurityGroupOwnerId) and IpPermissions.N.* (AWS CLI 2, boto3). REQUIRES: `groups`
/// outlives `actions`.
void AddSecurityGroupActions(Ec2Actions& actions, SecurityGroups& groups);

}  // namespace euca::clc
