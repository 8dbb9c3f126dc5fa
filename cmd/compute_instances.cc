// Instances and zones, euca2ools style: euca run-instances, describe-instances,
// terminate-instances, reboot-instances, get-console-output, describe-availability-zones.
// Each is one EC2 action through CallEc2 (in process, or EC2_URL); the records come from the
// reply XML (reference/euca2ools-cli.md §1.3).

#include <CLI/CLI.hpp>
#include <ostream>
#include <regex>

#include "cmd/common.h"
#include "cmd/ec2_call.h"
#include "core/api/digest.h"
#include "core/api/ec2_query.h"

namespace euca::cmd {
using api::ChildText;

namespace {

// "a, b" of the groupSet's names (1.x and 3.x RESERVATION).
std::string GroupNames(pugi::xml_node parent) {
  std::string out;
  for (auto item : parent.child("groupSet").children("item")) {
    std::string name = ChildText(item, "groupName");
    if (name.empty()) name = ChildText(item, "groupId");
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string GroupIds(pugi::xml_node parent) {
  std::string out;
  for (auto item : parent.child("groupSet").children("item")) {
    std::string id = ChildText(item, "groupId");
    if (id.empty()) continue;
    if (!out.empty()) out += ", ";
    out += id;
  }
  return out;
}

Record ReservationRecord(pugi::xml_node node) {
  return {
      "RESERVATION",
      {{"id", ChildText(node, "reservationId")}, {"owner", ChildText(node, "ownerId")}, {"groups", GroupNames(node)}}};
}

// euca2ools 3's INSTANCE line: 32 fields after the tag.
Record InstanceRecord(pugi::xml_node i) {
  std::string monitoring = ChildText(i.child("monitoring"), "state");
  std::string codes;
  for (auto item : i.child("productCodes").children("item")) {
    if (!codes.empty()) codes += ", ";
    codes += ChildText(item, "productCode");
  }
  std::string launch_index = ChildText(i, "amiLaunchIndex");
  return {"INSTANCE",
          {{"id", ChildText(i, "instanceId")},
           {"image", ChildText(i, "imageId")},
           {"dns_name", ChildText(i, "dnsName")},
           {"private_dns_name", ChildText(i, "privateDnsName")},
           {"state", ChildText(i.child("instanceState"), "name")},
           {"key_name", ChildText(i, "keyName")},
           {"launch_index", launch_index.empty() ? Json(nullptr) : Json(std::stoi(launch_index))},
           {"product_codes", codes},
           {"type", ChildText(i, "instanceType")},
           {"launch_time", ChildText(i, "launchTime")},
           {"zone", ChildText(i.child("placement"), "availabilityZone")},
           {"kernel", ChildText(i, "kernelId")},
           {"ramdisk", ChildText(i, "ramdiskId")},
           {"platform", ChildText(i, "platform")},
           {"monitoring", monitoring.empty() ? "" : "monitoring-" + monitoring},
           {"ip", ChildText(i, "ipAddress")},
           {"private_ip", ChildText(i, "privateIpAddress")},
           {"vpc", ChildText(i, "vpcId")},
           {"subnet", ChildText(i, "subnetId")},
           {"root_device_type", ChildText(i, "rootDeviceType")},
           {"lifecycle", ChildText(i, "instanceLifecycle")},
           {"spot_request", ""},
           {"license", ""},
           {"placement_group", ChildText(i.child("placement"), "groupName")},
           {"virtualization_type", ChildText(i, "virtualizationType")},
           {"hypervisor", ChildText(i, "hypervisor")},
           {"client_token", ChildText(i, "clientToken")},
           {"group_ids", GroupIds(i)},
           {"tenancy", ChildText(i.child("placement"), "tenancy")},
           {"ebs_optimized", ChildText(i, "ebsOptimized")},
           {"iam_profile", ChildText(i.child("iamInstanceProfile"), "arn")},
           {"architecture", ChildText(i, "architecture")}}};
}

// The instances of a reservation, sorted by launch time as euca2ools prints them.
void AddReservation(pugi::xml_node reservation, std::vector<Record>& records) {
  records.push_back(ReservationRecord(reservation));
  std::vector<pugi::xml_node> items;
  for (auto item : reservation.child("instancesSet").children("item")) items.push_back(item);
  std::stable_sort(items.begin(), items.end(), [](pugi::xml_node a, pugi::xml_node b) {
    return ChildText(a, "launchTime") < ChildText(b, "launchTime");
  });
  for (auto item : items) {
    records.push_back(InstanceRecord(item));
    // Tags as euca2ools prints them (the SLA's euca:lease-expires, docs/sla.md).
    for (auto tag : item.child("tagSet").children("item"))
      records.push_back({"TAG",
                         {{"type", "instance"},
                          {"id", ChildText(item, "instanceId")},
                          {"key", ChildText(tag, "key")},
                          {"value", ChildText(tag, "value")}}});
  }
}

void AddIds(Ec2Params& params, const std::vector<std::string>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) params.emplace_back("InstanceId." + std::to_string(i + 1), ids[i]);
}

// "MIN" or "MIN-MAX" of -n/--instance-count.
Result<std::pair<int, int>> ParseCount(const std::string& text) {
  static const std::regex kForm(R"(([0-9]{1,6})(?:-([0-9]{1,6}))?)");
  std::smatch m;
  if (!std::regex_match(text, m, kForm))
    return InvalidArgument("--instance-count must be MIN or MIN-MAX, got '" + text + "'");
  int min = std::stoi(m[1].str());
  int max = m[2].matched ? std::stoi(m[2].str()) : min;
  if (min < 1 || max < min)
    return InvalidArgument("--instance-count must be MIN or MIN-MAX with 1 <= MIN <= MAX, got '" + text + "'");
  return std::make_pair(min, max);
}

// Console text as euca2ools shows it: control characters as ^@ ^A ... ^? (newlines, carriage
// returns and tabs kept).
std::string Caret(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out.push_back('^');
      out.push_back(static_cast<char>(c + 0x40));
    } else if (c == 0x7f) {
      out += "^?";
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace

Handler SetupRunInstances(CLI::App& app) {
  struct Options {
    std::string image;
    std::string count = "1";
    std::vector<std::string> groups;
    std::string key;
    std::string user_data;
    std::string user_data_file;
    bool user_data_force = false;
    std::string type;
    std::string zone;
    std::string kernel;
    std::string ramdisk;
    std::string client_token;
    std::string addressing;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "IMAGE", o->image, "the machine image to run (emi-...)");
  app.add_option("-n,--instance-count", o->count, "how many: MIN or MIN-MAX (default 1)")->type_name("MIN[-MAX]");
  app.add_option("-g,--group", o->groups, "security group (repeatable; default: default)")
      ->type_name("GROUP")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-k,--key", o->key, "key pair whose public key the instances get")->type_name("KEYPAIR");
  app.add_option("-d,--user-data", o->user_data, "user data for the instances (at most 16 KiB)")->type_name("DATA");
  app.add_option("-f,--user-data-file", o->user_data_file, "read the user data from FILE")->type_name("FILE");
  app.add_flag("--user-data-force", o->user_data_force, "accept -d even when it names an existing file");
  app.add_option("-t,--instance-type", o->type, "VM type (default m1.small)")->type_name("TYPE");
  app.add_option("-z,--availability-zone", o->zone, "zone, or a meta-zone: any, single, spread (default any)")
      ->type_name("ZONE");
  app.add_option("--kernel", o->kernel, "kernel image (eki-...) instead of the image's")->type_name("KERNEL");
  app.add_option("--ramdisk", o->ramdisk, "ramdisk image (eri-...) instead of the image's")->type_name("RAMDISK");
  app.add_option("--client-token", o->client_token, "idempotency token: repeating it returns the first reservation")
      ->type_name("TOKEN");
  app.add_option("--addressing", o->addressing,
                 "public: each instance also gets a public address (MANAGED modes); private: none "
                 "(default: the cloud's network.default-addressing)")
      ->type_name("public|private")
      ->check(CLI::IsMember({"public", "private"}));
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(auto count, ParseCount(o->count));
    if (!o->user_data.empty() && !o->user_data_file.empty())
      return InvalidArgument("give the user data with -d or -f, not both");
    std::string user_data = o->user_data;
    if (!o->user_data.empty() && !o->user_data_force && ctx.env->Exists(o->user_data))
      return InvalidArgument("the user data '" + o->user_data +
                             "' names a file; use -f to send its content or --user-data-force to send the name");
    if (!o->user_data_file.empty()) {
      auto text = ctx.env->ReadFile(o->user_data_file);
      if (!text.ok()) return text.status().WithContext("user data file");
      user_data = std::move(text).value();
    }
    Ec2Params params = {
        {"ImageId", o->image}, {"MinCount", std::to_string(count.first)}, {"MaxCount", std::to_string(count.second)}};
    for (size_t i = 0; i < o->groups.size(); ++i)
      params.emplace_back("SecurityGroup." + std::to_string(i + 1), o->groups[i]);
    if (!o->key.empty()) params.emplace_back("KeyName", o->key);
    if (!user_data.empty()) params.emplace_back("UserData", api::Base64Encode(user_data));
    if (!o->type.empty()) params.emplace_back("InstanceType", o->type);
    if (!o->zone.empty()) params.emplace_back("Placement.AvailabilityZone", o->zone);
    if (!o->kernel.empty()) params.emplace_back("KernelId", o->kernel);
    if (!o->ramdisk.empty()) params.emplace_back("RamdiskId", o->ramdisk);
    if (!o->client_token.empty()) params.emplace_back("ClientToken", o->client_token);
    if (!o->addressing.empty()) params.emplace_back("AddressingType", o->addressing);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "RunInstances", params));
    std::vector<Record> records;
    AddReservation(Ec2Root(doc), records);
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupDescribeInstances(CLI::App& app) {
  struct Options {
    std::vector<std::string> ids;
    std::vector<std::string> filters;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("INSTANCE", o->ids, "instances to show (default: all of the account's; verbose: everyone's, admin)")
      ->type_name("INSTANCE");
  AddFilterOption(app, o->filters);
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(Ec2Params base, FilterParams(o->filters));
    AddIds(base, o->ids);
    std::vector<Record> records;
    std::string token;
    do {  // every page (the server pages only when asked; kept for servers that page anyway)
      Ec2Params params = base;
      if (!token.empty()) params.emplace_back("NextToken", token);
      EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DescribeInstances", params));
      for (auto item : Ec2Root(doc).child("reservationSet").children("item")) AddReservation(item, records);
      token = ChildText(Ec2Root(doc), "nextToken");
    } while (!token.empty());
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupTerminateInstances(CLI::App& app) {
  struct Options {
    std::vector<std::string> ids;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("INSTANCE", o->ids, "instances to terminate")->type_name("INSTANCE")->required();
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    Ec2Params params;
    AddIds(params, o->ids);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "TerminateInstances", params));
    std::vector<Record> records;
    for (auto item : Ec2Root(doc).child("instancesSet").children("item"))
      records.push_back({"INSTANCE",
                         {{"id", ChildText(item, "instanceId")},
                          {"previous_state", ChildText(item.child("previousState"), "name")},
                          {"current_state", ChildText(item.child("currentState"), "name")}}});
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupRebootInstances(CLI::App& app) {
  struct Options {
    std::vector<std::string> ids;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("INSTANCE", o->ids, "instances to reboot")->type_name("INSTANCE")->required();
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    Ec2Params params;
    AddIds(params, o->ids);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "RebootInstances", params));
    (void)doc;
    if (ctx.output == OutputFormat::kJson) PrintRecords(ctx, {});
    return Status::Ok();
  };
}

Handler SetupGetConsoleOutput(CLI::App& app) {
  struct Options {
    std::string id;
    bool raw = false;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "INSTANCE", o->id, "the instance whose console to show");
  app.add_flag("-r,--raw-console-output", o->raw, "print control characters as they are (not as ^X)");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "GetConsoleOutput", {{"InstanceId", o->id}}));
    pugi::xml_node root = Ec2Root(doc);
    std::string encoded = ChildText(root, "output");
    std::string text;
    if (!encoded.empty()) {
      auto decoded = api::Base64Decode(encoded);
      if (!decoded.ok()) return Internal("the console output in the reply is not base64");
      text = std::move(decoded).value();
    }
    if (ctx.output == OutputFormat::kJson) {
      PrintRecords(
          ctx,
          {{"CONSOLE",
            {{"id", ChildText(root, "instanceId")}, {"timestamp", ChildText(root, "timestamp")}, {"output", text}}}});
      return Status::Ok();
    }
    *ctx.out << ChildText(root, "instanceId") << '\n' << ChildText(root, "timestamp") << '\n';
    *ctx.out << (o->raw ? text : Caret(text));
    if (!text.empty() && text.back() != '\n') *ctx.out << '\n';
    return Status::Ok();
  };
}

Handler SetupDescribeAvailabilityZones(CLI::App& app) {
  struct Options {
    std::vector<std::string> names;
    std::vector<std::string> filters;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("ZONE", o->names, "zones to show (default: all); verbose (admin): free/max per VM type")
      ->type_name("ZONE");
  AddFilterOption(app, o->filters);
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(Ec2Params params, FilterParams(o->filters));
    for (size_t i = 0; i < o->names.size(); ++i) params.emplace_back("ZoneName." + std::to_string(i + 1), o->names[i]);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DescribeAvailabilityZones", params));
    std::vector<Record> records;
    for (auto item : Ec2Root(doc).child("availabilityZoneInfo").children("item")) {
      std::string messages;
      for (auto m : item.child("messageSet").children("item")) {
        if (!messages.empty()) messages += ", ";
        messages += ChildText(m, "message");
      }
      records.push_back(
          {"AVAILABILITYZONE",
           {{"name", ChildText(item, "zoneName")}, {"state", ChildText(item, "zoneState")}, {"messages", messages}}});
    }
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

}  // namespace euca::cmd
