#include "core/clc/images.h"

#include <algorithm>
#include <cctype>

#include "bundles/manifest.h"
#include "core/base/random.h"
#include "core/sla/actions.h"
#include "core/sla/store.h"

namespace euca::clc {
namespace {

constexpr char kKind[] = "images";
constexpr size_t kMaxManifestBytes = 16 << 20;

Status ImageError(Code code, std::string message, std::string wire = {}) {
  return Status(code, std::move(message), std::move(wire));
}

Status ImageNotFound(const std::string& id) {
  return ImageError(Code::kNotFound, "the image id '" + id + "' does not exist", "InvalidAMIID.NotFound");
}

Status Invalid(std::string message) {
  return ImageError(Code::kInvalidArgument, std::move(message), "InvalidParameterValue");
}

state::TxnContext Txn(const model::Principal& caller, std::string action, const std::string& request_id) {
  return state::TxnContext{caller.ToString(), std::move(action), request_id};
}

std::string PrefixOf(const std::string& type) {
  if (type == "kernel") return "eki-";
  if (type == "ramdisk") return "eri-";
  return "emi-";
}

bool LooksLikeImageId(const std::string& id) {
  if (id.size() != 12) return false;
  std::string p = id.substr(0, 4);
  if (p != "emi-" && p != "eki-" && p != "eri-" && p != "ami-" && p != "aki-" && p != "ari-") return false;
  return std::all_of(id.begin() + 4, id.end(), [](unsigned char c) { return std::isxdigit(c); });
}

Status CheckName(const std::string& name) {
  auto ok_char = [](unsigned char c) {
    return std::isalnum(c) || std::string_view("()[] ./-'@_").find(static_cast<char>(c)) != std::string_view::npos;
  };
  if (name.size() < 3 || name.size() > 128 || !std::all_of(name.begin(), name.end(), ok_char))
    return Invalid("invalid image name '" + name + "': use 3 to 128 letters, digits, spaces and ( ) [ ] . / - ' @ _");
  return Status::Ok();
}

bool Permitted(const model::Image& image, const std::string& account_id) {
  return std::find(image.launch_permissions.begin(), image.launch_permissions.end(), account_id) !=
         image.launch_permissions.end();
}

bool LaunchableBy(const model::Image& image, const std::string& account_id) {
  return image.account_id == account_id || image.is_public || Permitted(image, account_id);
}

std::string RootDeviceType() { return "instance-store"; }
std::string VirtualizationType(const model::Image& i) {
  return i.type == "machine" && i.kernel_id.empty() ? "hvm" : "paravirtual";
}

Result<bool> FilterMatches(const api::Ec2Filter& f, const model::Image& i) {
  const std::string& n = f.name;
  auto is = [&](const std::string& v) { return api::FilterMatches(f, v); };
  if (n == "image-id") return is(i.id);
  if (n == "image-type") return is(i.type);
  if (n == "name") return is(i.name);
  if (n == "description") return is(i.description);
  if (n == "state") return is(i.state);
  if (n == "architecture") return is(i.architecture);
  if (n == "owner-id") return is(i.account_id);
  if (n == "is-public") return is(i.is_public ? "true" : "false");
  if (n == "kernel-id") return is(i.kernel_id);
  if (n == "ramdisk-id") return is(i.ramdisk_id);
  if (n == "manifest-location") return is(i.location);
  if (n == "root-device-name") return is(i.root_device_name);
  if (n == "root-device-type") return is(RootDeviceType());
  if (n == "virtualization-type") return is(VirtualizationType(i));
  return Invalid("the filter '" + n + "' is invalid for DescribeImages");
}

Result<std::vector<model::Image>> ListAll(state::StateStore& store) {
  std::vector<model::Image> out;
  EUCA_RETURN_IF_ERROR(store.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kKind));
    for (const auto& o : objects) out.push_back(model::ImageFromJson(o.body));
    return Status::Ok();
  }));
  return out;
}

Result<std::optional<model::Image>> Load(state::StateStore& store, const std::string& id) {
  std::optional<model::Image> out;
  EUCA_RETURN_IF_ERROR(store.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto o, t.Get(kKind, id));
    if (o) out = model::ImageFromJson(o->body);
    return Status::Ok();
  }));
  return out;
}

state::Object ToObject(const model::Image& i) {
  // A deregistered image gives its name back to the account.
  return state::Object{.kind = kKind,
                       .id = i.id,
                       .parent = i.account_id,
                       .name = i.state == "deregistered" ? std::string() : i.name,
                       .body = model::ToJson(i),
                       .secret = std::nullopt};
}

void AddImageItem(pugi::xml_node item, const model::Image& i) {
  api::AddText(item, "imageId", i.id);
  api::AddText(item, "imageLocation", i.location);
  api::AddText(item, "imageState", i.state);
  api::AddText(item, "imageOwnerId", i.account_id);
  api::AddText(item, "creationDate", api::Ec2Timestamp(i.created_ms));
  api::AddBool(item, "isPublic", i.is_public);
  api::AddText(item, "architecture", i.architecture);
  api::AddText(item, "imageType", i.type);
  if (!i.kernel_id.empty()) api::AddText(item, "kernelId", i.kernel_id);
  if (!i.ramdisk_id.empty()) api::AddText(item, "ramdiskId", i.ramdisk_id);
  api::AddText(item, "name", i.name);
  if (!i.description.empty()) api::AddText(item, "description", i.description);
  api::AddText(item, "rootDeviceType", RootDeviceType());
  api::AddText(item, "rootDeviceName", i.root_device_name);
  item.append_child("blockDeviceMapping");
  api::AddText(item, "virtualizationType", VirtualizationType(i));
  api::AddText(item, "hypervisor", "kvm");
  if (i.lease_expires_ms != 0) sla::AddLeaseTag(item, i.lease_expires_ms);
}

}  // namespace

bool ImageVisible(const model::Principal& caller, const model::Image& image) {
  return LaunchableBy(image, caller.account_id);
}

Result<model::Image> Images::Register(const model::Principal& caller, const RegisterImageRequest& r,
                                      const std::string& request_id) {
  EUCA_RETURN_IF_ERROR(CheckName(r.name));
  if (r.description.size() > 255) return Invalid("the description is longer than 255 characters");
  if (!r.architecture.empty() && r.architecture != "i386" && r.architecture != "x86_64" && r.architecture != "armhf")
    return Invalid("invalid architecture '" + r.architecture + "': use i386, x86_64 or armhf");
  std::string location = r.location;
  while (!location.empty() && location[0] == '/') location.erase(0, 1);
  auto slash = location.find('/');
  if (location.empty() || slash == std::string::npos || slash == 0 || slash + 1 == location.size())
    return Invalid("invalid image location '" + r.location + "': expected BUCKET/KEY.manifest.xml");
  const std::string bucket = location.substr(0, slash), key = location.substr(slash + 1);

  // The manifest, read as the caller.
  if (!objects_) return Unavailable("no object store is configured to read image manifests from");
  EUCA_ASSIGN_OR_RETURN(std::unique_ptr<walrus::ObjectStore> store, objects_(caller));
  std::string xml;
  auto got = store->GetObject(bucket, key, [&](std::string_view piece) -> Status {
    if (xml.size() + piece.size() > kMaxManifestBytes) return Invalid("'" + location + "' is too large for a manifest");
    xml.append(piece);
    return Status::Ok();
  });
  if (!got.ok()) {
    const Status& s = got.status();
    if (s.code() == Code::kNotFound)
      return ImageError(Code::kInvalidArgument, "the manifest '" + location + "' does not exist", "InvalidManifest");
    if (s.code() == Code::kPermissionDenied)
      return ImageError(Code::kPermissionDenied, "you may not read the manifest '" + location + "'");
    return s.WithContext("read manifest '" + location + "'");
  }
  auto manifest = bundles::ParseManifest(xml);
  if (!manifest.ok())
    return ImageError(Code::kInvalidArgument,
                      "'" + location + "' is not a bundle manifest: " + manifest.status().message(), "InvalidManifest");

  model::Image image;
  image.account_id = caller.account_id;
  image.name = r.name;
  image.description = r.description;
  image.location = location;
  image.architecture = r.architecture.empty() ? manifest->architecture : r.architecture;
  if (image.architecture.empty()) image.architecture = "x86_64";
  image.type = manifest->type.empty() ? "machine" : manifest->type;
  if (manifest->kernel_id == "true") image.type = "kernel";
  if (manifest->ramdisk_id == "true") image.type = "ramdisk";
  if (image.type != "machine" && image.type != "kernel" && image.type != "ramdisk")
    return ImageError(Code::kInvalidArgument,
                      "the manifest '" + location + "' has an unknown image type '" + image.type + "'",
                      "InvalidManifest");
  image.root_device_name = r.root_device_name.empty() ? "/dev/sda1" : r.root_device_name;
  image.created_ms = clock_.NowMillis();
  if (!r.kernel_id.empty() || !r.ramdisk_id.empty()) {
    if (image.type != "machine")
      return Invalid("a " + image.type +
                     " image cannot have a kernel or ramdisk; give --kernel and --ramdisk "
                     "only for machine images");
  }
  // No kernel: the image boots from its own boot loader; a ramdisk alone would boot nothing.
  if (!r.ramdisk_id.empty() && r.kernel_id.empty())
    return Invalid("the ramdisk '" + r.ramdisk_id +
                   "' needs a kernel: give --kernel too (an image with neither boots from its own boot loader)");
  if (!r.kernel_id.empty()) {
    EUCA_ASSIGN_OR_RETURN(model::Image kernel, FindLaunchable(caller, r.kernel_id));
    if (kernel.type != "kernel") return Invalid("the image '" + r.kernel_id + "' is not a kernel image");
    image.kernel_id = kernel.id;
  }
  if (!r.ramdisk_id.empty()) {
    EUCA_ASSIGN_OR_RETURN(model::Image ramdisk, FindLaunchable(caller, r.ramdisk_id));
    if (ramdisk.type != "ramdisk") return Invalid("the image '" + r.ramdisk_id + "' is not a ramdisk image");
    image.ramdisk_id = ramdisk.id;
  }

  auto txn = store_.Transact(Txn(caller, "RegisterImage " + r.name, request_id), [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto existing, t.GetByName(kKind, image.account_id, image.name));
    if (existing)
      return ImageError(Code::kAlreadyExists,
                        "an image named '" + image.name + "' already exists (" + existing->id + ")",
                        "InvalidAMIName.Duplicate");
    // The account's storage lease (core/sla, docs/sla.md): an unregistered bundle's runs from
    // its upload; once it ended the bundle is expired (the cleanup deletes it after the grace).
    if (got->last_modified_ms > 0) {
      EUCA_ASSIGN_OR_RETURN(int64_t bundle_ends, sla::StorageLeaseExpiry(t, image.account_id, got->last_modified_ms));
      if (bundle_ends != 0 && bundle_ends <= image.created_ms)
        return ImageError(Code::kInvalidArgument,
                          "the bundle '" + location + "' expired: its storage lease ended " +
                              FormatIso8601(bundle_ends) + "; upload it again to register it",
                          "InvalidManifest");
    }
    EUCA_ASSIGN_OR_RETURN(image.lease_expires_ms, sla::StorageLeaseExpiry(t, image.account_id, image.created_ms));
    for (;;) {
      image.id = PrefixOf(image.type) + RandomHex(8);
      EUCA_ASSIGN_OR_RETURN(auto taken, t.Get(kKind, image.id));
      if (!taken) break;
    }
    return t.Put(ToObject(image));
  });
  if (!txn.ok()) return txn.status();
  return image;
}

Result<model::Image> Images::GetOwned(const model::Principal& caller, const std::string& image_id) {
  EUCA_ASSIGN_OR_RETURN(auto image, Load(store_, image_id));
  if (!image || (!ImageVisible(caller, *image) && !caller.IsCloudAdmin())) return ImageNotFound(image_id);
  if (image->account_id != caller.account_id && !caller.IsCloudAdmin())
    return ImageError(Code::kPermissionDenied, "only the owner of '" + image_id + "' may do this",
                      "UnauthorizedOperation");
  return *image;
}

Status Images::Deregister(const model::Principal& caller, const std::string& image_id, const std::string& request_id) {
  EUCA_RETURN_IF_ERROR(GetOwned(caller, image_id).status());
  return store_
      .Transact(Txn(caller, "DeregisterImage " + image_id, request_id),
                [&](state::Txn& t) -> Status {
                  EUCA_ASSIGN_OR_RETURN(auto o, t.Get(kKind, image_id));
                  if (!o) return ImageNotFound(image_id);
                  model::Image image = model::ImageFromJson(o->body);
                  if (image.state == "deregistered") return t.Delete(kKind, image_id);
                  image.state = "deregistered";
                  return t.Put(ToObject(image));
                })
      .status();
}

Result<std::vector<model::Image>> Images::Describe(const model::Principal& caller, const DescribeImagesQuery& q) {
  // Filter names are checked up front: a bad one is an error even when nothing is selected.
  for (const auto& f : q.filters) EUCA_RETURN_IF_ERROR(FilterMatches(f, model::Image{}).status());
  EUCA_ASSIGN_OR_RETURN(std::vector<model::Image> all, ListAll(store_));
  const bool admin_all = q.all_accounts && caller.IsCloudAdmin();
  auto visible = [&](const model::Image& i) { return admin_all || ImageVisible(caller, i); };
  std::vector<model::Image> selected;
  if (!q.image_ids.empty()) {
    for (const auto& id : q.image_ids) {
      auto it = std::find_if(all.begin(), all.end(), [&](const model::Image& i) { return i.id == id; });
      if (it == all.end() || !visible(*it)) {
        if (!LooksLikeImageId(id))
          return ImageError(Code::kInvalidArgument, "invalid image id '" + id + "'", "InvalidAMIID.Malformed");
        return ImageNotFound(id);
      }
      if (std::none_of(selected.begin(), selected.end(), [&](const model::Image& i) { return i.id == id; }))
        selected.push_back(*it);
    }
  } else {
    for (auto& i : all)
      if (visible(i) && i.state != "deregistered") selected.push_back(std::move(i));
  }
  auto resolve = [&](const std::string& who) { return who == "self" ? caller.account_id : who; };
  std::vector<model::Image> out;
  for (auto& i : selected) {
    if (!q.owners.empty() && std::none_of(q.owners.begin(), q.owners.end(),
                                          [&](const std::string& o) { return resolve(o) == i.account_id; }))
      continue;
    if (!q.executable_by.empty() &&
        std::none_of(q.executable_by.begin(), q.executable_by.end(), [&](const std::string& e) {
          if (e == "all") return i.is_public;
          const std::string who = resolve(e);
          return i.account_id == who || Permitted(i, who);
        }))
      continue;
    bool keep = true;
    for (const auto& f : q.filters) {
      EUCA_ASSIGN_OR_RETURN(keep, FilterMatches(f, i));
      if (!keep) break;
    }
    if (keep) out.push_back(std::move(i));
  }
  std::sort(out.begin(), out.end(), [](const model::Image& a, const model::Image& b) { return a.id < b.id; });
  return out;
}

Result<model::Image> Images::FindLaunchable(const model::Principal& caller, const std::string& image_id) {
  EUCA_ASSIGN_OR_RETURN(auto image, Load(store_, image_id));
  if (!image || !ImageVisible(caller, *image) || image->state != "available") return ImageNotFound(image_id);
  return *image;
}

Result<model::Image> Images::Update(const model::Principal& caller, const std::string& image_id,
                                    const std::string& action, const std::string& request_id,
                                    const std::function<Status(model::Image&)>& change) {
  EUCA_RETURN_IF_ERROR(GetOwned(caller, image_id).status());
  model::Image out;
  auto txn = store_.Transact(Txn(caller, action + " " + image_id, request_id), [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto o, t.Get(kKind, image_id));
    if (!o) return ImageNotFound(image_id);
    out = model::ImageFromJson(o->body);
    EUCA_RETURN_IF_ERROR(change(out));
    // Accounts named in launch permissions must exist.
    for (const auto& a : out.launch_permissions) {
      EUCA_ASSIGN_OR_RETURN(auto account, t.Get("accounts", a));
      if (!account)
        return ImageError(Code::kInvalidArgument, "the account '" + a + "' does not exist",
                          "InvalidAMIAttributeItemValue");
    }
    return t.Put(ToObject(out));
  });
  if (!txn.ok()) return txn.status();
  return out;
}

Result<model::Image> Images::ModifyLaunchPermission(const model::Principal& caller, const std::string& image_id,
                                                    const std::vector<std::string>& add_users, bool add_all,
                                                    const std::vector<std::string>& remove_users, bool remove_all,
                                                    const std::string& request_id) {
  return Update(caller, image_id, "ModifyImageAttribute launchPermission", request_id, [&](model::Image& i) -> Status {
    auto& perms = i.launch_permissions;
    for (const auto& u : remove_users) perms.erase(std::remove(perms.begin(), perms.end(), u), perms.end());
    for (const auto& u : add_users) {
      if (u.size() != 12 || !std::all_of(u.begin(), u.end(), [](unsigned char c) { return std::isdigit(c); }))
        return ImageError(Code::kInvalidArgument, "invalid account id '" + u + "': expected 12 digits",
                          "InvalidAMIAttributeItemValue");
      if (u != i.account_id && std::find(perms.begin(), perms.end(), u) == perms.end()) perms.push_back(u);
    }
    if (remove_all) i.is_public = false;
    if (add_all) i.is_public = true;
    return Status::Ok();
  });
}

Result<model::Image> Images::ModifyDescription(const model::Principal& caller, const std::string& image_id,
                                               const std::string& description, const std::string& request_id) {
  if (description.size() > 255) return Invalid("the description is longer than 255 characters");
  return Update(caller, image_id, "ModifyImageAttribute description", request_id, [&](model::Image& i) -> Status {
    i.description = description;
    return Status::Ok();
  });
}

void AddImageActions(Ec2Actions& actions, Images& images) {
  Images* im = &images;
  actions.Add("RegisterImage",
              [im](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                RegisterImageRequest r;
                EUCA_ASSIGN_OR_RETURN(r.location, req.Required("ImageLocation"));
                EUCA_ASSIGN_OR_RETURN(r.name, req.Required("Name"));
                r.description = req.GetOr("Description");
                r.architecture = req.GetOr("Architecture");
                r.kernel_id = req.GetOr("KernelId");
                r.ramdisk_id = req.GetOr("RamdiskId");
                r.root_device_name = req.GetOr("RootDeviceName");
                EUCA_ASSIGN_OR_RETURN(model::Image image, im->Register(caller, r, req.request_id()));
                api::AddText(response, "imageId", image.id);
                return Status::Ok();
              });
  actions.Add("DeregisterImage",
              [im](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(std::string id, req.Required("ImageId"));
                EUCA_RETURN_IF_ERROR(im->Deregister(caller, id, req.request_id()));
                api::AddBool(response, "return", true);
                return Status::Ok();
              });
  actions.Add("DescribeImages",
              [im](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                DescribeImagesQuery q;
                q.image_ids = req.List("ImageId");
                auto verbose = std::find(q.image_ids.begin(), q.image_ids.end(), "verbose");
                if (verbose != q.image_ids.end() && caller.IsCloudAdmin()) {
                  q.all_accounts = true;
                  q.image_ids.erase(verbose);
                }
                q.owners = req.List("Owner");
                q.executable_by = req.List("ExecutableBy");
                EUCA_ASSIGN_OR_RETURN(q.filters, req.Filters());
                EUCA_ASSIGN_OR_RETURN(auto found, im->Describe(caller, q));
                auto set = response.append_child("imagesSet");
                for (const auto& i : found) AddImageItem(api::AddItem(set), i);
                return Status::Ok();
              });
  actions.Add(
      "DescribeImageAttribute",
      [im](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
        EUCA_ASSIGN_OR_RETURN(std::string id, req.Required("ImageId"));
        EUCA_ASSIGN_OR_RETURN(std::string attribute, req.Required("Attribute"));
        EUCA_ASSIGN_OR_RETURN(model::Image image, im->GetOwned(caller, id));
        api::AddText(response, "imageId", image.id);
        if (attribute == "launchPermission") {
          auto set = response.append_child("launchPermission");
          if (image.is_public) api::AddText(api::AddItem(set), "group", "all");
          for (const auto& u : image.launch_permissions) api::AddText(api::AddItem(set), "userId", u);
        } else if (attribute == "description") {
          api::AddText(response.append_child("description"), "value", image.description);
        } else if (attribute == "kernel") {
          api::AddText(response.append_child("kernel"), "value", image.kernel_id);
        } else if (attribute == "ramdisk") {
          api::AddText(response.append_child("ramdisk"), "value", image.ramdisk_id);
        } else if (attribute == "blockDeviceMapping") {
          response.append_child("blockDeviceMapping");
        } else if (attribute == "productCodes") {
          response.append_child("productCodes");
        } else {
          return Invalid("invalid attribute '" + attribute +
                         "': use launchPermission, description, kernel, ramdisk, blockDeviceMapping or productCodes");
        }
        return Status::Ok();
      });
  actions.Add("ModifyImageAttribute",
              [im](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(std::string id, req.Required("ImageId"));
                std::vector<std::string> add_users, remove_users;
                bool add_all = false, remove_all = false, any = false;
                // LaunchPermission.Add.N.UserId / .Group (AWS CLI, boto3, euca2ools 3) ...
                for (const char* op : {"Add", "Remove"}) {
                  const std::string base = std::string("LaunchPermission.") + op;
                  for (int n : req.Indices(base)) {
                    const std::string member = base + "." + std::to_string(n);
                    auto user = req.Get(member + ".UserId");
                    auto group = req.Get(member + ".Group");
                    if (user) (op[0] == 'A' ? add_users : remove_users).push_back(*user);
                    if (group) {
                      if (*group != "all") return Invalid("invalid group '" + *group + "': the only group is 'all'");
                      (op[0] == 'A' ? add_all : remove_all) = true;
                    }
                    any = true;
                  }
                }
                // ... or Attribute=launchPermission&OperationType=add&UserId.N&UserGroup.N (euca2ools 1.x).
                const std::string attribute = req.GetOr("Attribute");
                auto description = req.Get("Description.Value");
                if (!description && attribute == "description") description = req.Get("Value");
                if (attribute == "launchPermission" || req.Has("OperationType")) {
                  const std::string op = req.GetOr("OperationType");
                  if (op != "add" && op != "remove")
                    return Invalid("invalid OperationType '" + op + "': use add or remove");
                  for (const auto& u : req.List("UserId")) (op == "add" ? add_users : remove_users).push_back(u);
                  for (const auto& g : req.List("UserGroup")) {
                    if (g != "all") return Invalid("invalid group '" + g + "': the only group is 'all'");
                    (op == "add" ? add_all : remove_all) = true;
                  }
                  any = true;
                } else if (!attribute.empty() && attribute != "description") {
                  return Invalid("invalid attribute '" + attribute + "': use launchPermission or description");
                }
                if (description) {
                  EUCA_RETURN_IF_ERROR(im->ModifyDescription(caller, id, *description, req.request_id()).status());
                } else if (!any) {
                  return ImageError(Code::kInvalidArgument,
                                    "the request must name a launch permission or a description to change",
                                    "MissingParameter");
                }
                if (any)
                  EUCA_RETURN_IF_ERROR(im->ModifyLaunchPermission(caller, id, add_users, add_all, remove_users,
                                                                  remove_all, req.request_id())
                                           .status());
                api::AddBool(response, "return", true);
                return Status::Ok();
              });
}

}  // namespace euca::clc
