#include "core/walrus/acl.h"

#include <cctype>

#include <nlohmann/json.hpp>

namespace euca::walrus {

std::string_view PermissionName(Permission p) {
  switch (p) {
    case Permission::kRead:
      return "READ";
    case Permission::kWrite:
      return "WRITE";
    case Permission::kReadAcp:
      return "READ_ACP";
    case Permission::kWriteAcp:
      return "WRITE_ACP";
    case Permission::kFullControl:
      return "FULL_CONTROL";
  }
  return "READ";
}

std::optional<Permission> ParsePermission(std::string_view name) {
  for (Permission p :
       {Permission::kRead, Permission::kWrite, Permission::kReadAcp, Permission::kWriteAcp, Permission::kFullControl})
    if (PermissionName(p) == name) return p;
  return std::nullopt;
}

Result<std::vector<Grant>> ParseGrantHeader(Permission permission, std::string_view value) {
  auto invalid = [&](const std::string& why) {
    return Status(Code::kInvalidArgument,
                  "invalid grant '" + std::string(value) + "': " + why +
                      "; give a comma-separated list of id=\"ACCOUNT_ID\" or uri=\"GROUP_URI\"",
                  "InvalidArgument");
  };
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  std::vector<Grant> out;
  std::string_view rest = value;
  while (true) {
    // One item: up to the next comma outside quotes.
    size_t end = 0;
    bool quoted = false;
    while (end < rest.size() && (quoted || rest[end] != ',')) {
      if (rest[end] == '"') quoted = !quoted;
      ++end;
    }
    if (quoted) return invalid("a quote is not closed");
    std::string_view item = trim(rest.substr(0, end));
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return invalid("'" + std::string(item) + "' is not TYPE=VALUE");
    std::string type(trim(item.substr(0, eq)));
    for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view v = trim(item.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.empty()) return invalid("'" + std::string(item) + "' has no value");
    Grant g;
    g.permission = permission;
    if (type == "id") {
      g.grantee = {Grantee::Type::kCanonicalUser, std::string(v), ""};
    } else if (type == "uri") {
      g.grantee = {Grantee::Type::kGroup, std::string(v), ""};
    } else if (type == "emailaddress") {
      return Status(Code::kInvalidArgument,
                    "cannot grant to e-mail address '" + std::string(v) +
                        "': accounts here have no e-mail address; grant to id=\"ACCOUNT_ID\"",
                    "UnresolvableGrantByEmailAddress");
    } else {
      return invalid("unknown grantee type '" + type + "'");
    }
    out.push_back(std::move(g));
    if (end == rest.size()) break;
    rest.remove_prefix(end + 1);
  }
  return out;
}

Result<CannedAcl> ParseCannedAcl(std::string_view name) {
  if (name.empty() || name == "private") return CannedAcl::kPrivate;
  if (name == "public-read") return CannedAcl::kPublicRead;
  if (name == "public-read-write") return CannedAcl::kPublicReadWrite;
  if (name == "authenticated-read") return CannedAcl::kAuthenticatedRead;
  if (name == "bucket-owner-read") return CannedAcl::kBucketOwnerRead;
  if (name == "bucket-owner-full-control") return CannedAcl::kBucketOwnerFullControl;
  if (name == "aws-exec-read") return CannedAcl::kAwsExecRead;
  if (name == "ec2-bundle-read") return CannedAcl::kEc2BundleRead;
  if (name == "log-delivery-write") return CannedAcl::kLogDeliveryWrite;
  return Status(Code::kInvalidArgument,
                "unknown canned ACL '" + std::string(name) +
                    "'; use private, public-read, public-read-write, authenticated-read, bucket-owner-read, "
                    "bucket-owner-full-control, aws-exec-read, ec2-bundle-read or log-delivery-write",
                "InvalidArgument");
}

bool GrantsCloud(CannedAcl canned) { return canned == CannedAcl::kAwsExecRead || canned == CannedAcl::kEc2BundleRead; }

namespace {

Grant UserGrant(const Owner& o, Permission p) { return {{Grantee::Type::kCanonicalUser, o.id, o.display_name}, p}; }
Grant GroupGrant(const char* uri, Permission p) { return {{Grantee::Type::kGroup, uri, ""}, p}; }

}  // namespace

Acl MakeCannedAcl(CannedAcl canned, const Owner& owner, const Owner& bucket_owner, const Owner& cloud) {
  Acl acl{owner, {UserGrant(owner, Permission::kFullControl)}};
  switch (canned) {
    case CannedAcl::kPrivate:
      break;
    case CannedAcl::kPublicRead:
      acl.grants.push_back(GroupGrant(kAllUsersGroup, Permission::kRead));
      break;
    case CannedAcl::kPublicReadWrite:
      acl.grants.push_back(GroupGrant(kAllUsersGroup, Permission::kRead));
      acl.grants.push_back(GroupGrant(kAllUsersGroup, Permission::kWrite));
      break;
    case CannedAcl::kAuthenticatedRead:
      acl.grants.push_back(GroupGrant(kAuthenticatedUsersGroup, Permission::kRead));
      break;
    case CannedAcl::kBucketOwnerRead:
      if (bucket_owner.id != owner.id) acl.grants.push_back(UserGrant(bucket_owner, Permission::kRead));
      break;
    case CannedAcl::kBucketOwnerFullControl:
      if (bucket_owner.id != owner.id) acl.grants.push_back(UserGrant(bucket_owner, Permission::kFullControl));
      break;
    case CannedAcl::kAwsExecRead:
    case CannedAcl::kEc2BundleRead:
      if (cloud.id != owner.id) acl.grants.push_back(UserGrant(cloud, Permission::kRead));
      break;
    case CannedAcl::kLogDeliveryWrite:
      acl.grants.push_back(GroupGrant(kLogDeliveryGroup, Permission::kWrite));
      acl.grants.push_back(GroupGrant(kLogDeliveryGroup, Permission::kReadAcp));
      break;
  }
  return acl;
}

bool Allows(const Acl& acl, const Caller& caller, Permission permission) {
  if (!caller.anonymous() && caller.account_id() == acl.owner.id) return true;
  for (const auto& g : acl.grants) {
    if (g.permission != permission && g.permission != Permission::kFullControl) continue;
    const Grantee& who = g.grantee;
    if (who.type == Grantee::Type::kCanonicalUser) {
      if (!caller.anonymous() && who.id == caller.account_id()) return true;
    } else if (who.id == kAllUsersGroup) {
      return true;
    } else if (who.id == kAuthenticatedUsersGroup) {
      if (!caller.anonymous()) return true;
    }
  }
  return false;
}

std::string AclToJson(const Acl& acl) {
  nlohmann::ordered_json j;
  j["owner"] = {{"id", acl.owner.id}, {"name", acl.owner.display_name}};
  j["grants"] = nlohmann::ordered_json::array();
  for (const auto& g : acl.grants) {
    nlohmann::ordered_json e;
    e["type"] = g.grantee.type == Grantee::Type::kGroup ? "Group" : "CanonicalUser";
    e["id"] = g.grantee.id;
    if (!g.grantee.display_name.empty()) e["name"] = g.grantee.display_name;
    e["permission"] = PermissionName(g.permission);
    j["grants"].push_back(std::move(e));
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Acl> AclFromJson(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    Acl acl;
    acl.owner.id = j.at("owner").at("id").get<std::string>();
    acl.owner.display_name = j.at("owner").value("name", "");
    for (const auto& e : j.at("grants")) {
      Grant g;
      std::string type = e.at("type").get<std::string>();
      g.grantee.type = type == "Group" ? Grantee::Type::kGroup : Grantee::Type::kCanonicalUser;
      g.grantee.id = e.at("id").get<std::string>();
      g.grantee.display_name = e.value("name", "");
      auto p = ParsePermission(e.at("permission").get<std::string>());
      if (!p) return Internal("corrupt ACL: unknown permission");
      g.permission = *p;
      acl.grants.push_back(std::move(g));
    }
    return acl;
  } catch (const nlohmann::json::exception& e) {
    return Internal(std::string("corrupt ACL: ") + e.what());
  }
}

}  // namespace euca::walrus
