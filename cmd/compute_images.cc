// Images, euca2ools style: euca register, deregister, describe-images,
// describe-image-attribute, modify-image-attribute. Each is an EC2 action through CallEc2
// (in process, or EC2_URL); the records come from the reply XML.

#include <CLI/CLI.hpp>
#include <algorithm>

#include "cmd/common.h"
#include "cmd/ec2_call.h"
#include "core/api/ec2_query.h"

namespace euca::cmd {
namespace {

using api::ChildText;

void AddList(Ec2Params& params, const std::string& prefix, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) params.emplace_back(prefix + "." + std::to_string(i + 1), values[i]);
}

// IMAGE id location owner state public|private arch type kernel ramdisk platform
// rootDeviceType virtualizationType hypervisor (euca2ools 3).
Record ImageRecord(pugi::xml_node item) {
  const std::string alias = ChildText(item, "imageOwnerAlias");
  return {"IMAGE",
          {{"id", ChildText(item, "imageId")},
           {"location", ChildText(item, "imageLocation")},
           {"owner", alias.empty() ? ChildText(item, "imageOwnerId") : alias},
           {"state", ChildText(item, "imageState")},
           {"visibility", ChildText(item, "isPublic") == "true" ? "public" : "private"},
           {"architecture", ChildText(item, "architecture")},
           {"type", ChildText(item, "imageType")},
           {"kernel", ChildText(item, "kernelId")},
           {"ramdisk", ChildText(item, "ramdiskId")},
           {"platform", ChildText(item, "platform")},
           {"root_device_type", ChildText(item, "rootDeviceType")},
           {"virtualization_type", ChildText(item, "virtualizationType")},
           {"hypervisor", ChildText(item, "hypervisor")}}};
}

}  // namespace

Handler SetupRegister(CLI::App& app) {
  struct Options {
    std::string manifest;
    std::string name;
    std::string description;
    std::string architecture;
    std::string kernel;
    std::string ramdisk;
    std::string root_device_name;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "MANIFEST", o->manifest, "the uploaded bundle's manifest: BUCKET/PREFIX.manifest.xml");
  app.add_option("-n,--name", o->name, "name of the image (default: MANIFEST without .manifest.xml)")
      ->type_name("NAME");
  app.add_option("-d,--description", o->description, "description of the image")->type_name("TEXT");
  app.add_option("-a,--architecture", o->architecture, "i386, x86_64 or armhf (default: the manifest's)")
      ->type_name("ARCH")
      ->check(CLI::IsMember({"i386", "x86_64", "armhf"}));
  app.add_option("--kernel", o->kernel, "default kernel image (eki-...) of a machine image")->type_name("KERNEL");
  app.add_option("--ramdisk", o->ramdisk, "default ramdisk image (eri-...) of a machine image")->type_name("RAMDISK");
  app.add_option("--root-device-name", o->root_device_name, "root device (default /dev/sda1)")->type_name("DEVICE");
  AddEc2KeyFlags(app, o->keys, /*old_letters=*/false);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    std::string name = o->name;
    if (name.empty()) {
      name = o->manifest;
      while (!name.empty() && name[0] == '/') name.erase(0, 1);
      const std::string suffix = ".manifest.xml";
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        name.resize(name.size() - suffix.size());
    }
    Ec2Params params{{"ImageLocation", o->manifest}, {"Name", name}};
    if (!o->description.empty()) params.emplace_back("Description", o->description);
    if (!o->architecture.empty()) params.emplace_back("Architecture", o->architecture);
    if (!o->kernel.empty()) params.emplace_back("KernelId", o->kernel);
    if (!o->ramdisk.empty()) params.emplace_back("RamdiskId", o->ramdisk);
    if (!o->root_device_name.empty()) params.emplace_back("RootDeviceName", o->root_device_name);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "RegisterImage", params));
    PrintRecords(ctx, {{"IMAGE", {{"id", ChildText(Ec2Root(doc), "imageId")}}}});
    return Status::Ok();
  };
}

Handler SetupDeregister(CLI::App& app) {
  struct Options {
    std::string image;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "IMAGE", o->image, "the image to deregister (emi-, eki- or eri-...)");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DeregisterImage", {{"ImageId", o->image}}));
    (void)doc;
    PrintRecords(ctx, {{"IMAGE", {{"id", o->image}}}});
    return Status::Ok();
  };
}

Handler SetupDescribeImages(CLI::App& app) {
  struct Options {
    std::vector<std::string> images;
    bool all = false;
    std::vector<std::string> owners;
    std::vector<std::string> executable_by;
    std::vector<std::string> filters;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("IMAGE", o->images, "images to show")->type_name("IMAGE");
  app.add_flag("-a,--all", o->all, "every image you may see: yours, public ones and those shared with you");
  app.add_option("-o,--owner", o->owners, "only images of this account (\"self\": yours; repeatable)")
      ->type_name("ACCOUNT")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-x,--executable-by", o->executable_by,
                 "only images this account may launch (\"self\", \"all\" for public; repeatable)")
      ->type_name("ACCOUNT")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  AddFilterOption(app, o->filters);
  AddEc2KeyFlags(app, o->keys, /*old_letters=*/false);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(Ec2Params base, FilterParams(o->filters));
    AddList(base, "ImageId", o->images);
    std::vector<Ec2Params> calls;
    if (!o->all && o->images.empty() && o->owners.empty() && o->executable_by.empty()) {
      // euca2ools' default: your images, and those you were given launch permission for.
      Ec2Params own = base, shared = base;
      own.emplace_back("Owner.1", "self");
      shared.emplace_back("ExecutableBy.1", "self");
      calls = {own, shared};
    } else {
      Ec2Params params = base;
      AddList(params, "Owner", o->owners);
      AddList(params, "ExecutableBy", o->executable_by);
      calls = {params};
    }
    std::vector<std::pair<std::string, std::vector<Record>>> found;
    for (const auto& params : calls) {
      EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DescribeImages", params));
      for (auto item : Ec2Root(doc).child("imagesSet").children("item")) {
        std::string id = ChildText(item, "imageId");
        if (std::any_of(found.begin(), found.end(), [&](const auto& f) { return f.first == id; })) continue;
        std::vector<Record> image{ImageRecord(item)};
        // Tags as euca2ools prints them (the SLA's euca:lease-expires, docs/sla.md).
        for (auto tag : item.child("tagSet").children("item"))
          image.push_back(
              {"TAG", {{"type", "image"}, {"id", id}, {"key", ChildText(tag, "key")}, {"value", ChildText(tag, "value")}}});
        found.emplace_back(id, std::move(image));
      }
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Record> records;
    for (auto& [id, r] : found) records.insert(records.end(), r.begin(), r.end());
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupDescribeImageAttribute(CLI::App& app) {
  struct Options {
    std::string image;
    bool launch_permission = false;
    bool description = false;
    bool kernel = false;
    bool ramdisk = false;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "IMAGE", o->image, "the image");
  auto* group = app.add_option_group("attribute", "the attribute to show (exactly one)");
  group->add_flag("-l,--launch-permission", o->launch_permission, "who may launch the image");
  group->add_flag("--description", o->description, "the image's description");
  group->add_flag("--kernel", o->kernel, "the image's default kernel");
  group->add_flag("--ramdisk", o->ramdisk, "the image's default ramdisk");
  group->require_option(1);
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    std::string attribute = o->launch_permission ? "launchPermission"
                            : o->description     ? "description"
                            : o->kernel          ? "kernel"
                                                 : "ramdisk";
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc,
                          CallEc2(c, "DescribeImageAttribute", {{"ImageId", o->image}, {"Attribute", attribute}}));
    pugi::xml_node root = Ec2Root(doc);
    const std::string id = ChildText(root, "imageId");
    std::vector<Record> records;
    if (attribute == "launchPermission") {
      for (auto item : root.child("launchPermission").children("item")) {
        if (item.child("group"))
          records.push_back({attribute, {{"id", id}, {"kind", "group"}, {"value", ChildText(item, "group")}}});
        if (item.child("userId"))
          records.push_back({attribute, {{"id", id}, {"kind", "userId"}, {"value", ChildText(item, "userId")}}});
      }
    } else {
      std::string value = root.child(attribute.c_str()).child("value").text().get();
      if (!value.empty()) records.push_back({attribute, {{"id", id}, {"value", value}}});
    }
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupModifyImageAttribute(CLI::App& app) {
  struct Options {
    std::string image;
    bool launch_permission = false;
    std::vector<std::string> add;
    std::vector<std::string> remove;
    std::string description;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "IMAGE", o->image, "the image");
  app.add_flag("-l,--launch-permission", o->launch_permission, "change who may launch the image (with -a and -r)");
  app.add_option("-a,--add", o->add, "grant launch permission to ACCOUNT (\"all\": make public; repeatable)")
      ->type_name("ACCOUNT")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-r,--remove", o->remove, "revoke ACCOUNT's launch permission (\"all\": make private; repeatable)")
      ->type_name("ACCOUNT")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--description", o->description, "set the image's description")->type_name("TEXT");
  AddEc2KeyFlags(app, o->keys, /*old_letters=*/false);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    Ec2Params params{{"ImageId", o->image}};
    if ((!o->add.empty() || !o->remove.empty()) && !o->launch_permission)
      return InvalidArgument("-a and -r change launch permissions: give -l/--launch-permission too");
    if (o->launch_permission) {
      if (o->add.empty() && o->remove.empty()) return InvalidArgument("-l needs at least one -a ACCOUNT or -r ACCOUNT");
      int n = 0;
      for (const auto& a : o->add)
        params.emplace_back("LaunchPermission.Add." + std::to_string(++n) + (a == "all" ? ".Group" : ".UserId"), a);
      n = 0;
      for (const auto& r : o->remove)
        params.emplace_back("LaunchPermission.Remove." + std::to_string(++n) + (r == "all" ? ".Group" : ".UserId"), r);
    }
    if (!o->description.empty()) params.emplace_back("Description.Value", o->description);
    if (params.size() == 1) return InvalidArgument("nothing to change: give -l with -a/-r, or --description");
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "ModifyImageAttribute", params));
    (void)doc;
    PrintRecords(ctx, {{"IMAGE", {{"id", o->image}}}});
    return Status::Ok();
  };
}

}  // namespace euca::cmd
