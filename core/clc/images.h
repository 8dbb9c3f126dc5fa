#pragma once
// Images of the cloud controller (EC2 RegisterImage, DeregisterImage, DescribeImages,
// DescribeImageAttribute, ModifyImageAttribute). An image is a registered bundle manifest in
// Walrus (kind "images", id emi-/eki-/eri- + 8 hex, parent = owner account id, name unique
// among the owner's registered images). Registration reads the manifest as the caller, so
// only a bundle the caller may read can become its image. A caller sees its own images,
// public ones and those whose launch permission names its account; another account's
// private image does not exist for it (InvalidAMIID.NotFound). Every change is one
// StateStore transaction. Thread-safe (the store is; the object store factory must be).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/api/ec2_query.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/clc/ec2_actions.h"
#include "core/model/account.h"
#include "core/model/compute.h"
#include "core/walrus/object_store.h"
#include "state/store.h"

namespace euca::clc {

/// Opens the object store as `caller` sees it: the embedded Walrus of the home, or an S3
/// client with the caller's credentials.
using ObjectStoreFactory = std::function<Result<std::unique_ptr<walrus::ObjectStore>>(const model::Principal& caller)>;

struct RegisterImageRequest {
  std::string location;          ///< "BUCKET/KEY.manifest.xml" (a leading '/' is ignored)
  std::string name;              ///< required, 3..128 of [A-Za-z0-9()[] ./'@_-]
  std::string description;       ///< at most 255 characters
  std::string architecture;      ///< "" = the manifest's; i386, x86_64, armhf
  std::string kernel_id;         ///< an eki- the caller may launch (machine images only)
  std::string ramdisk_id;        ///< an eri- the caller may launch (machine images only)
  std::string root_device_name;  ///< "" = /dev/sda1
};

/// What DescribeImages selects (all lists may be empty).
struct DescribeImagesQuery {
  std::vector<std::string> image_ids = {};
  std::vector<std::string> owners = {};  ///< account ids or "self"
  /// Account ids or "self": images the account owns or holds an explicit launch permission
  /// for; "all": public images.
  std::vector<std::string> executable_by = {};
  std::vector<api::Ec2Filter> filters = {};
  bool all_accounts = false;  ///< a cloud admin's `verbose`: every image
};

class Images final {
 public:
  /// REQUIRES: `store` and `clock` outlive this object.
  Images(state::StateStore& store, Clock& clock, ObjectStoreFactory objects)
      : store_(store), clock_(clock), objects_(std::move(objects)) {}

  Result<model::Image> Register(const model::Principal& caller, const RegisterImageRequest& request,
                                const std::string& request_id = {});
  /// The owner (or a cloud admin) marks the image deregistered: it can no longer be
  /// launched, leaves default listings (only its id still shows it) and frees its name.
  /// Deregistering a deregistered image removes its record.
  Status Deregister(const model::Principal& caller, const std::string& image_id, const std::string& request_id = {});
  /// Images by id (InvalidAMIID.NotFound for one the caller cannot see), else the caller's
  /// default view: own, public and launch-permitted, deregistered ones left out; narrowed
  /// by owners, executable-by and filters. Ordered by id.
  Result<std::vector<model::Image>> Describe(const model::Principal& caller, const DescribeImagesQuery& query);
  /// An available image `caller` may launch (RunInstances, kernel and ramdisk references);
  /// InvalidAMIID.NotFound otherwise.
  Result<model::Image> FindLaunchable(const model::Principal& caller, const std::string& image_id);
  /// The image if the caller can see it; owner-only operations get UnauthorizedOperation for
  /// a visible image the caller does not own.
  Result<model::Image> GetOwned(const model::Principal& caller, const std::string& image_id);
  /// Adds and removes launch permissions (account ids; `all` = public). Owner only. Account
  /// ids must name existing accounts (InvalidAMIAttributeItemValue).
  Result<model::Image> ModifyLaunchPermission(const model::Principal& caller, const std::string& image_id,
                                              const std::vector<std::string>& add_users, bool add_all,
                                              const std::vector<std::string>& remove_users, bool remove_all,
                                              const std::string& request_id = {});
  /// Sets the description. Owner only.
  Result<model::Image> ModifyDescription(const model::Principal& caller, const std::string& image_id,
                                         const std::string& description, const std::string& request_id = {});

 private:
  Result<model::Image> Update(const model::Principal& caller, const std::string& image_id, const std::string& action,
                              const std::string& request_id, const std::function<Status(model::Image&)>& change);

  state::StateStore& store_;
  Clock& clock_;
  ObjectStoreFactory objects_;
};

/// True if `caller` may see `image` (own, public, launch-permitted).
bool ImageVisible(const model::Principal& caller, const model::Image& image);

/// Registers RegisterImage, DeregisterImage, DescribeImages, DescribeImageAttribute and
/// ModifyImageAttribute. REQUIRES: `images` outlives `actions`.
void AddImageActions(Ec2Actions& actions, Images& images);

}  // namespace euca::clc
