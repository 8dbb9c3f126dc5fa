#include "core/clc/instance_actions.h"

#include <cstdio>

#include "core/api/digest.h"
#include "core/api/ec2_query.h"
#include "core/base/clock.h"
#include "core/sla/actions.h"

namespace euca::clc {
namespace {

using api::AddItem;
using api::AddText;

void AddState(pugi::xml_node parent, const char* name, const std::string& state) {
  auto node = parent.append_child(name);
  api::AddInt(node, "code", InstanceStateCode(state));
  AddText(node, "name", state);
}

void AddGroups(pugi::xml_node parent, const std::vector<std::string>& groups) {
  auto set = parent.append_child("groupSet");
  for (const auto& g : groups) {
    auto item = AddItem(set);
    AddText(item, "groupName", g);
  }
}

// One instance as EC2's RunningInstancesItemType.
void AddInstance(pugi::xml_node set, const model::Instance& i) {
  auto item = AddItem(set);
  AddText(item, "instanceId", i.id);
  AddText(item, "imageId", i.image_id);
  AddState(item, "instanceState", i.state);
  AddText(item, "privateDnsName", i.private_ip);
  AddText(item, "dnsName", i.public_ip);
  AddText(item, "reason", i.state == model::kTerminated || i.state == model::kShuttingDown ? i.reason : "");
  if (!i.key_name.empty()) AddText(item, "keyName", i.key_name);
  api::AddInt(item, "amiLaunchIndex", i.launch_index);
  item.append_child("productCodes");
  AddText(item, "instanceType", i.vm_type);
  AddText(item, "launchTime", api::Ec2Timestamp(i.launch_time_ms));
  auto placement = item.append_child("placement");
  AddText(placement, "availabilityZone", i.zone);
  AddText(placement, "tenancy", "default");
  if (!i.kernel_id.empty()) AddText(item, "kernelId", i.kernel_id);
  if (!i.ramdisk_id.empty()) AddText(item, "ramdiskId", i.ramdisk_id);
  AddText(item.append_child("monitoring"), "state", "disabled");
  if (!i.private_ip.empty()) AddText(item, "privateIpAddress", i.private_ip);
  if (!i.public_ip.empty()) AddText(item, "ipAddress", i.public_ip);
  AddGroups(item, i.groups);
  if (!i.reason.empty() && (i.state == model::kTerminated || i.state == model::kShuttingDown)) {
    auto reason = item.append_child("stateReason");
    AddText(reason, "code", i.reason == "User initiated" ? "Client.UserInitiatedShutdown" : "Server.InternalError");
    AddText(reason, "message",
            i.reason == "User initiated" ? "Client.UserInitiatedShutdown: User initiated shutdown" : i.reason);
  }
  AddText(item, "architecture", "x86_64");
  AddText(item, "rootDeviceType", "instance-store");
  AddText(item, "rootDeviceName", "/dev/sda1");
  item.append_child("blockDeviceMapping");
  AddText(item, "virtualizationType", "paravirtual");
  if (!i.client_token.empty()) AddText(item, "clientToken", i.client_token);
  AddText(item, "hypervisor", "kvm");
  if (i.lease_expires_ms != 0) sla::AddLeaseTag(item, i.lease_expires_ms);
}

// InstanceId.N, checked non-empty.
Result<std::vector<std::string>> InstanceIds(const api::Ec2Request& request) {
  std::vector<std::string> ids = request.List("InstanceId");
  if (ids.empty())
    return Status(Code::kInvalidArgument, "the request must contain the parameter InstanceId", "MissingParameter");
  return ids;
}

Result<int> Count(const api::Ec2Request& request, const char* name) {
  EUCA_ASSIGN_OR_RETURN(auto value, request.GetInt(name, 1, 1'000'000));
  return value ? static_cast<int>(*value) : 1;
}

Status RunInstances(Compute& compute, const model::Principal& caller, const api::Ec2Request& request,
                    pugi::xml_node response) {
  RunInstancesRequest r;
  EUCA_ASSIGN_OR_RETURN(r.image_id, request.Required("ImageId"));
  EUCA_ASSIGN_OR_RETURN(r.min_count, Count(request, "MinCount"));
  EUCA_ASSIGN_OR_RETURN(r.max_count, Count(request, "MaxCount"));
  if (!request.Has("MaxCount")) r.max_count = std::max(r.max_count, r.min_count);
  r.instance_type = request.GetOr("InstanceType");
  r.key_name = request.GetOr("KeyName");
  r.groups = request.List("SecurityGroup");
  for (const auto& id : request.List("SecurityGroupId")) r.groups.push_back(id);
  r.user_data = request.GetOr("UserData");
  r.zone = request.GetOr("Placement.AvailabilityZone");
  r.kernel_id = request.GetOr("KernelId");
  r.ramdisk_id = request.GetOr("RamdiskId");
  r.client_token = request.GetOr("ClientToken");
  r.addressing = request.GetOr("AddressingType");
  r.request_id = request.request_id();
  EUCA_ASSIGN_OR_RETURN(Reservation reservation, compute.RunInstances(caller, r));
  AddText(response, "reservationId", reservation.id);
  AddText(response, "ownerId", reservation.owner_id);
  AddGroups(response, reservation.groups);
  auto set = response.append_child("instancesSet");
  for (const auto& i : reservation.instances) AddInstance(set, i);
  return Status::Ok();
}

Status DescribeInstances(Compute& compute, const model::Principal& caller, const api::Ec2Request& request,
                         pugi::xml_node response) {
  DescribeInstancesRequest r;
  r.instance_ids = request.List("InstanceId");
  EUCA_ASSIGN_OR_RETURN(auto filters, request.Filters());
  for (auto& f : filters) r.filters.push_back({std::move(f.name), std::move(f.values)});
  EUCA_ASSIGN_OR_RETURN(auto max, request.GetInt("MaxResults", 5, 1000));
  if (max) r.max_results = static_cast<int>(*max);
  r.next_token = request.GetOr("NextToken");
  EUCA_ASSIGN_OR_RETURN(DescribeInstancesResult result, compute.DescribeInstances(caller, r));
  auto set = response.append_child("reservationSet");
  for (const auto& res : result.reservations) {
    auto item = AddItem(set);
    AddText(item, "reservationId", res.id);
    AddText(item, "ownerId", res.owner_id);
    AddGroups(item, res.groups);
    auto instances = item.append_child("instancesSet");
    for (const auto& i : res.instances) AddInstance(instances, i);
  }
  if (!result.next_token.empty()) AddText(response, "nextToken", result.next_token);
  return Status::Ok();
}

Status TerminateInstances(Compute& compute, const model::Principal& caller, const api::Ec2Request& request,
                          pugi::xml_node response) {
  EUCA_ASSIGN_OR_RETURN(auto ids, InstanceIds(request));
  EUCA_ASSIGN_OR_RETURN(auto changes, compute.TerminateInstances(caller, ids, request.request_id()));
  auto set = response.append_child("instancesSet");
  for (const auto& c : changes) {
    auto item = AddItem(set);
    AddText(item, "instanceId", c.instance_id);
    AddState(item, "currentState", c.current_state);
    AddState(item, "previousState", c.previous_state);
  }
  return Status::Ok();
}

Status RebootInstances(Compute& compute, const model::Principal& caller, const api::Ec2Request& request,
                       pugi::xml_node response) {
  EUCA_ASSIGN_OR_RETURN(auto ids, InstanceIds(request));
  EUCA_RETURN_IF_ERROR(compute.RebootInstances(caller, ids));
  api::AddBool(response, "return", true);
  return Status::Ok();
}

Status GetConsoleOutput(Compute& compute, const model::Principal& caller, const api::Ec2Request& request,
                        pugi::xml_node response) {
  EUCA_ASSIGN_OR_RETURN(std::string id, request.Required("InstanceId"));
  EUCA_ASSIGN_OR_RETURN(ConsoleOutput out, compute.GetConsoleOutput(caller, id));
  AddText(response, "instanceId", out.instance_id);
  AddText(response, "timestamp", api::Ec2Timestamp(out.timestamp_ms));
  AddText(response, "output", api::Base64Encode(out.output));
  return Status::Ok();
}

void AddZoneItem(pugi::xml_node set, const std::string& name, const std::string& state, const std::string& region,
                 const std::string& message) {
  auto item = AddItem(set);
  AddText(item, "zoneName", name);
  AddText(item, "zoneState", state);
  AddText(item, "regionName", region);
  auto messages = item.append_child("messageSet");
  if (!message.empty()) AddText(AddItem(messages), "message", message);
}

Status DescribeAvailabilityZones(Compute& compute, const model::Principal& caller, const api::Ec2Request& request,
                                 pugi::xml_node response) {
  std::vector<std::string> names = request.List("ZoneName");
  EUCA_ASSIGN_OR_RETURN(auto filters, request.Filters());
  for (const auto& f : filters)
    if (f.name != "zone-name" && f.name != "state" && f.name != "region-name")
      return Status(Code::kInvalidArgument, "the filter '" + f.name + "' is invalid for DescribeAvailabilityZones",
                    "InvalidParameterValue");
  EUCA_ASSIGN_OR_RETURN(std::string region, compute.Region());
  EUCA_ASSIGN_OR_RETURN(auto zones, compute.DescribeAvailabilityZones(caller, names));
  auto set = response.append_child("availabilityZoneInfo");
  for (const auto& z : zones) {
    bool keep = true;
    for (const auto& f : filters) {
      if (f.name == "zone-name") keep = keep && api::FilterMatches(f, z.name);
      if (f.name == "state") keep = keep && api::FilterMatches(f, z.state);
      if (f.name == "region-name") keep = keep && api::FilterMatches(f, region);
    }
    if (!keep) continue;
    AddZoneItem(set, z.name, z.state, region, z.message);
    if (z.resources.empty()) continue;
    // Eucalyptus' verbose listing: pseudo-zones, one per VM type (reference/euca2ools-cli.md §1.4).
    AddZoneItem(set, "|- vm types", "free / max   cpu   ram  disk", region, "");
    for (const auto& a : z.resources) {
      char line[96];
      std::snprintf(line, sizeof line, "%04d / %04d  %2d   %4llu  %4llu", a.available, a.max, a.type.cores,
                    static_cast<unsigned long long>(a.type.memory_mib),
                    static_cast<unsigned long long>(a.type.disk_gib));
      AddZoneItem(set, "|- " + a.type.name, line, region, "");
    }
  }
  return Status::Ok();
}

}  // namespace

int InstanceStateCode(const std::string& state) {
  if (state == model::kPending) return 0;
  if (state == model::kRunning) return 16;
  if (state == model::kShuttingDown) return 32;
  if (state == model::kTerminated) return 48;
  if (state == "stopping") return 64;
  if (state == "stopped") return 80;
  return 0;
}

void AddInstanceActions(Ec2Actions& actions, Compute& compute) {
  using Fn = Status (*)(Compute&, const model::Principal&, const api::Ec2Request&, pugi::xml_node);
  const std::pair<const char*, Fn> kActions[] = {
      {"RunInstances", &RunInstances},
      {"DescribeInstances", &DescribeInstances},
      {"TerminateInstances", &TerminateInstances},
      {"RebootInstances", &RebootInstances},
      {"GetConsoleOutput", &GetConsoleOutput},
      {"DescribeAvailabilityZones", &DescribeAvailabilityZones},
  };
  for (const auto& [name, fn] : kActions) {
    actions.Add(name, [&compute, fn = fn](const model::Principal& caller, const api::Ec2Request& request,
                                          pugi::xml_node response) { return fn(compute, caller, request, response); });
  }
}

}  // namespace euca::clc
