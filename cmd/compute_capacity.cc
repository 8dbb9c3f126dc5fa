// Capacity reservations (docs/sla.md "Capacity reservations"), in the euca2ools style of the
// other compute commands: euca create-capacity-reservation, describe-capacity-reservations,
// cancel-capacity-reservation. Each is one EC2 action through CallEc2 (in process, or
// EC2_URL); the records come from the reply XML.

#include <CLI/CLI.hpp>

#include "cmd/common.h"
#include "cmd/ec2_call.h"
#include "core/api/ec2_query.h"

namespace euca::cmd {
namespace {

using api::ChildText;

Record CapacityRecord(pugi::xml_node item) {
  std::string end = ChildText(item, "endDate");
  return {"CAPACITYRESERVATION",
          {{"id", ChildText(item, "capacityReservationId")},
           {"owner", ChildText(item, "ownerId")},
           {"type", ChildText(item, "instanceType")},
           {"zone", ChildText(item, "availabilityZone")},
           {"total", ChildText(item, "totalInstanceCount")},
           {"available", ChildText(item, "availableInstanceCount")},
           {"state", ChildText(item, "state")},
           {"end_date_type", ChildText(item, "endDateType")},
           {"end_date", end.empty() ? std::string("none") : end},
           {"match_criteria", ChildText(item, "instanceMatchCriteria")},
           {"created", ChildText(item, "createDate")}}};
}

}  // namespace

Handler SetupCreateCapacityReservation(CLI::App& app) {
  struct Options {
    std::string type, zone, end_date, end_date_type, match;
    int count = 0;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("-t,--instance-type", o->type, "VM type to reserve")->type_name("TYPE")->required();
  app.add_option("-z,--availability-zone", o->zone, "zone to reserve in")->type_name("ZONE")->required();
  app.add_option("-n,--instance-count", o->count, "how many instances to reserve room for")
      ->type_name("COUNT")
      ->required();
  app.add_option("--end-date", o->end_date, "when the reservation ends (ISO 8601; implies --end-date-type limited)")
      ->type_name("TIME");
  app.add_option("--end-date-type", o->end_date_type, "unlimited (the default) or limited (needs --end-date)")
      ->type_name("unlimited|limited");
  app.add_option("--instance-match-criteria", o->match, "open (the default; targeted is not supported)")
      ->type_name("open");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    if (o->count < 1) return InvalidArgument("--instance-count must be at least 1");
    if (!o->end_date.empty() && !ParseIso8601(o->end_date).ok())
      return InvalidArgument("--end-date '" + o->end_date + "' is not an ISO 8601 time such as 2026-12-03T10:00:00Z");
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    Ec2Params params{{"InstanceType", o->type},
                     {"AvailabilityZone", o->zone},
                     {"InstanceCount", std::to_string(o->count)},
                     {"InstancePlatform", "Linux/UNIX"}};
    std::string end_type = o->end_date_type;
    if (end_type.empty() && !o->end_date.empty()) end_type = "limited";
    if (!end_type.empty()) params.emplace_back("EndDateType", end_type);
    if (!o->end_date.empty()) params.emplace_back("EndDate", o->end_date);
    if (!o->match.empty()) params.emplace_back("InstanceMatchCriteria", o->match);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "CreateCapacityReservation", params));
    PrintRecords(ctx, {CapacityRecord(Ec2Root(doc).child("capacityReservation"))});
    return Status::Ok();
  };
}

Handler SetupDescribeCapacityReservations(CLI::App& app) {
  struct Options {
    std::vector<std::string> ids;
    std::vector<std::string> filters;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("ID", o->ids, "reservations to show (default: all of the account's; verbose: everyone's, admin)")
      ->type_name("ID");
  AddFilterOption(app, o->filters);
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(Ec2Params params, FilterParams(o->filters));
    for (size_t i = 0; i < o->ids.size(); ++i)
      params.emplace_back("CapacityReservationId." + std::to_string(i + 1), o->ids[i]);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DescribeCapacityReservations", params));
    std::vector<Record> records;
    for (auto item : Ec2Root(doc).child("capacityReservationSet").children("item"))
      records.push_back(CapacityRecord(item));
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupCancelCapacityReservation(CLI::App& app) {
  struct Options {
    std::string id;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "ID", o->id, "the reservation to cancel (cr-...)");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc,
                          CallEc2(c, "CancelCapacityReservation", {{"CapacityReservationId", o->id}}));
    (void)doc;
    PrintRecords(ctx, {{"CAPACITYRESERVATION", {{"id", o->id}, {"state", "cancelled"}}}});
    return Status::Ok();
  };
}

}  // namespace euca::cmd
