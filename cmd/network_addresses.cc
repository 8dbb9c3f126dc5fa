// Public addresses, euca2ools style: euca allocate-address, associate-address,
// disassociate-address, release-address, describe-addresses. Each is one EC2 action through
// CallEc2 (in process, or EC2_URL); the records come from the reply XML. An address's lease
// (docs/sla.md) follows its ADDRESS record as a TAG record, as euca2ools prints tags.

#include <CLI/CLI.hpp>

#include "cmd/common.h"
#include "cmd/ec2_call.h"
#include "core/api/ec2_query.h"
#include "core/clc/properties.h"

namespace euca::cmd {
using api::ChildText;

namespace {
// The tags of `item` (the SLA's euca:lease-expires) as euca2ools prints them.
void AddAddressTags(pugi::xml_node item, const std::string& ip, std::vector<Record>& records) {
  for (auto tag : item.child("tagSet").children("item"))
    records.push_back(
        {"TAG", {{"type", "address"}, {"id", ip}, {"key", ChildText(tag, "key")}, {"value", ChildText(tag, "value")}}});
}
}  // namespace

Handler SetupAllocateAddress(CLI::App& app) {
  struct Options {
    std::string domain;
    std::string lease;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("-d,--domain", o->domain, "standard (vpc is refused: this cloud has no VPCs)")
      ->type_name("standard|vpc");
  app.add_option("--lease", o->lease,
                 "release the address after DURATION (30m, 6h, 7d or none; default: the account's address lease)")
      ->type_name("DURATION");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    if (!o->lease.empty()) {
      auto d = clc::ParseDuration(o->lease);
      if (!d.ok()) return InvalidArgument("--lease: " + d.status().message());
    }
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    Ec2Params params;
    if (!o->domain.empty()) params.emplace_back("Domain", o->domain);
    if (!o->lease.empty()) params.emplace_back("EucaLease", o->lease);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "AllocateAddress", params));
    pugi::xml_node root = Ec2Root(doc);
    std::vector<Record> records{{"ADDRESS",
                                 {{"ip", ChildText(root, "publicIp")},
                                  {"domain", ChildText(root, "domain")},
                                  {"allocation_id", ChildText(root, "allocationId")}}}};
    AddAddressTags(root, ChildText(root, "publicIp"), records);
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupAssociateAddress(CLI::App& app) {
  struct Options {
    std::string ip;
    std::string instance;
    std::string allocation;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("IP", o->ip, "the public address to associate")->type_name("IP");
  app.add_option("-i,--instance-id,--instance", o->instance, "the instance that gets the address")
      ->type_name("INSTANCE")
      ->required();
  app.add_option("-a,--allocation-id", o->allocation, "VPC allocation id (refused: this cloud has no VPCs)")
      ->type_name("ID");
  AddEc2KeyFlags(app, o->keys, /*old_letters=*/false);
  return [o](Context& ctx) -> Status {
    if (!o->allocation.empty()) return InvalidArgument("--allocation-id needs a VPC; give the address itself");
    if (o->ip.empty()) return InvalidArgument("give the public address to associate");
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc,
                          CallEc2(c, "AssociateAddress", {{"PublicIp", o->ip}, {"InstanceId", o->instance}}));
    (void)doc;
    PrintRecords(ctx, {{"ADDRESS", {{"ip", o->ip}, {"instance", o->instance}}}});
    return Status::Ok();
  };
}

Handler SetupDisassociateAddress(CLI::App& app) {
  struct Options {
    std::string ip;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "IP", o->ip, "the public address to take off its instance");
  AddEc2KeyFlags(app, o->keys, /*old_letters=*/false);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DisassociateAddress", {{"PublicIp", o->ip}}));
    (void)doc;
    PrintRecords(ctx, {{"ADDRESS", {{"ip", o->ip}}}});
    return Status::Ok();
  };
}

Handler SetupReleaseAddress(CLI::App& app) {
  struct Options {
    std::string ip;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "IP", o->ip, "the public address to give back");
  AddEc2KeyFlags(app, o->keys, /*old_letters=*/false);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "ReleaseAddress", {{"PublicIp", o->ip}}));
    (void)doc;
    PrintRecords(ctx, {{"ADDRESS", {{"ip", o->ip}, {"allocation_id", ""}}}});
    return Status::Ok();
  };
}

Handler SetupDescribeAddresses(CLI::App& app) {
  struct Options {
    std::vector<std::string> ips;
    std::vector<std::string> filters;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("IP", o->ips, "addresses to show (default: all of the account's; verbose: everyone's, admin)")
      ->type_name("IP");
  AddFilterOption(app, o->filters);
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(Ec2Params params, FilterParams(o->filters));
    for (size_t i = 0; i < o->ips.size(); ++i) params.emplace_back("PublicIp." + std::to_string(i + 1), o->ips[i]);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DescribeAddresses", params));
    std::vector<Record> records;
    for (auto item : Ec2Root(doc).child("addressesSet").children("item")) {
      records.push_back({"ADDRESS",
                         {{"ip", ChildText(item, "publicIp")},
                          {"instance", ChildText(item, "instanceId")},
                          {"domain", ChildText(item, "domain")},
                          {"allocation_id", ChildText(item, "allocationId")},
                          {"association_id", ChildText(item, "associationId")},
                          {"network_interface", ChildText(item, "networkInterfaceId")},
                          {"private_ip", ChildText(item, "privateIpAddress")}}});
      AddAddressTags(item, ChildText(item, "publicIp"), records);
    }
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

}  // namespace euca::cmd
