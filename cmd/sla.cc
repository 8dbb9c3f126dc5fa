// SLA rules, leases and cleanup (docs/sla.md): euca admin describe-rules, put-rule,
// delete-rule, modify-account (lease defaults), cleanup; euca describe-leases, renew-lease.
// Rules and account defaults are admin commands on EUCA_HOME like the other admin commands;
// cleanup and the lease commands go through EC2 Query (cmd::CallEc2), so they work embedded
// and against `euca serve clc`.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <ostream>

#include "cmd/common.h"
#include "cmd/ec2_call.h"
#include "core/api/ec2_query.h"
#include "core/clc/properties.h"
#include "core/sla/rules.h"
#include "core/sla/store.h"

namespace euca::cmd {
namespace {

using api::ChildText;

std::string DurationText(const std::optional<int64_t>& s) {
  if (!s) return "none";
  int64_t v = *s;
  if (v != 0 && v % 86400 == 0) return std::to_string(v / 86400) + "d";
  if (v != 0 && v % 3600 == 0) return std::to_string(v / 3600) + "h";
  if (v != 0 && v % 60 == 0) return std::to_string(v / 60) + "m";
  return std::to_string(v) + "s";
}

std::string Parameters(const sla::Rule& r) {
  std::string out;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) out += (out.empty() ? "" : " ") + k + "=" + v;
  };
  if (r.kind == sla::kMaxRuntime) {
    add("duration", DurationText(r.duration_s));
  } else if (r.kind == sla::kZonePolicy) {
    add("policy", r.policy);
    add("zone", r.zone);
  } else if (r.kind == sla::kReleaseOnTerminate || r.kind == sla::kNetworkGuard) {
    // no parameters
  } else {
    add("scope", r.scope);
    add("limit", std::to_string(r.limit));
  }
  return out;
}

Record RuleRecord(const sla::Rule& r) {
  auto any = [](const std::string& v) { return v.empty() ? std::string("*") : v; };
  return {"RULE",
          {{"name", r.name},
           {"kind", r.kind},
           {"account", any(r.match.account)},
           {"user", any(r.match.user)},
           {"zone", any(r.match.zone)},
           {"type", any(r.match.type)},
           {"parameters", Parameters(r)},
           {"action", r.action}}};
}

Record LeaseRecord(pugi::xml_node item) {
  return {"LEASE",
          {{"id", ChildText(item, "resourceId")},
           {"type", ChildText(item, "resourceType")},
           {"owner", ChildText(item, "ownerId")},
           {"state", ChildText(item, "state")},
           {"expires", ChildText(item, "expires")}}};
}

Result<std::optional<std::optional<int64_t>>> DurationOption(const std::string& flag, const std::string& text) {
  if (text.empty()) return std::optional<std::optional<int64_t>>();
  auto d = clc::ParseDuration(text);
  if (!d.ok()) return InvalidArgument(flag + ": " + d.status().message());
  return std::optional<std::optional<int64_t>>(*d);
}

}  // namespace

Handler SetupDescribeRules(CLI::App& app) {
  struct Options {
    std::vector<std::string> names;
    bool as_file = false;
  };
  auto o = std::make_shared<Options>();
  app.add_option("NAME", o->names, "rules to show (default: all)")->type_name("NAME");
  app.add_flag("--as-file", o->as_file, "print the rules in the rule file format (for put-rule)");
  return WithAdminSession([o](Context& ctx, Session& s) -> Status {
    EUCA_ASSIGN_OR_RETURN(std::vector<sla::Rule> rules, sla::ListRules(*s.store));
    for (const auto& n : o->names)
      if (std::none_of(rules.begin(), rules.end(), [&](const sla::Rule& r) { return r.name == n; }))
        return NotFound("rule '" + n + "' does not exist; 'euca admin describe-rules' lists them");
    std::vector<sla::Rule> shown;
    for (const auto& r : rules)
      if (o->names.empty() || std::find(o->names.begin(), o->names.end(), r.name) != o->names.end())
        shown.push_back(r);
    if (o->as_file && ctx.output == OutputFormat::kText) {
      for (size_t i = 0; i < shown.size(); ++i) *ctx.out << (i ? "\n" : "") << sla::FormatRule(shown[i]);
      return Status::Ok();
    }
    std::vector<Record> records;
    for (const auto& r : shown) records.push_back(RuleRecord(r));
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

Handler SetupPutRule(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  AddRequiredArg(app, "FILE", *file, "rule file ('-' = standard input is not supported; docs/sla.md)");
  return WithAdminSession([file](Context& ctx, Session& s) -> Status {
    EUCA_ASSIGN_OR_RETURN(std::string text, ctx.env->ReadFile(*file));
    auto rules = sla::ParseRules(text);
    if (!rules.ok()) return InvalidArgument("'" + *file + "' " + rules.status().message() + "; nothing was changed");
    EUCA_RETURN_IF_ERROR(sla::PutRules(*s.store, s.principal, *rules));
    std::vector<Record> records;
    for (const auto& r : *rules) records.push_back(RuleRecord(r));
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

Handler SetupDeleteRule(CLI::App& app) {
  auto name = std::make_shared<std::string>();
  AddRequiredArg(app, "NAME", *name, "rule to delete");
  return WithAdminSession([name](Context& ctx, Session& s) -> Status {
    EUCA_RETURN_IF_ERROR(sla::DeleteRule(*s.store, s.principal, *name));
    PrintRecords(ctx, {{"RULE", {{"name", *name}, {"deleted", "deleted"}}}});
    return Status::Ok();
  });
}

Handler SetupModifyAccount(CLI::App& app) {
  struct Options {
    std::string name, runtime, storage, address;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "NAME", o->name, "account");
  app.add_option("--runtime-lease", o->runtime, "default runtime lease of new instances (30m, 6h, 7d or none)")
      ->type_name("DURATION");
  app.add_option("--storage-lease", o->storage, "default storage lease of new images (30m, 6h, 7d or none)")
      ->type_name("DURATION");
  app.add_option("--address-lease", o->address,
                 "default lease of newly allocated public addresses (30m, 6h, 7d or none)")
      ->type_name("DURATION");
  return WithAdminSession([o](Context& ctx, Session& s) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto runtime, DurationOption("--runtime-lease", o->runtime));
    EUCA_ASSIGN_OR_RETURN(auto storage, DurationOption("--storage-lease", o->storage));
    EUCA_ASSIGN_OR_RETURN(auto address, DurationOption("--address-lease", o->address));
    EUCA_ASSIGN_OR_RETURN(sla::LeaseDefaults d,
                          sla::SetLeaseDefaults(*s.store, s.principal, o->name, runtime, storage, address));
    Record record{"ACCOUNT",
                  {{"name", o->name},
                   {"id", d.account_id},
                   {"runtime_lease", DurationText(d.runtime_s), "runtime-lease: "},
                   {"storage_lease", DurationText(d.storage_s), "storage-lease: "}}};
    // The address lease (added later) is printed only when set, so the line stays as it was.
    if (d.address_s) record.fields.push_back({"address_lease", DurationText(d.address_s), "address-lease: "});
    PrintRecords(ctx, {record});
    return Status::Ok();
  });
}

Handler SetupCleanup(CLI::App& app) {
  struct Options {
    bool dry_run = false, verbose = false;
    std::string now;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_flag("--dry-run", o->dry_run, "report what is due; change nothing");
  app.add_option("--now", o->now, "act as if it were TIME (ISO 8601, e.g. 2026-12-03T10:00:00Z)")->type_name("TIME");
  app.add_flag("--verbose", o->verbose, "print each action before the summary");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    Ec2Params params;
    if (o->dry_run) params.emplace_back("DryRun", "true");
    if (!o->now.empty()) {
      if (!ParseIso8601(o->now).ok())
        return InvalidArgument("--now '" + o->now + "' is not an ISO 8601 time such as 2026-12-03T10:00:00Z");
      params.emplace_back("Now", o->now);
    }
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "EucaCleanup", params));
    pugi::xml_node root = Ec2Root(doc);
    std::vector<Record> records;
    int failed = 0, total = 0;
    for (auto item : root.child("actionSet").children("item")) {
      ++total;
      bool bad = ChildText(item, "result") == "failed";
      failed += bad;
      if (!o->verbose && !bad && ctx.output == OutputFormat::kText) continue;
      records.push_back({"ACTION",
                         {{"action", ChildText(item, "action")},
                          {"id", ChildText(item, "resourceId")},
                          {"owner", ChildText(item, "ownerId")},
                          {"result", ChildText(item, "result")},
                          {"reason", ChildText(item, "reason")},
                          {"error", ChildText(item, "error")}}});
    }
    const std::string summary = ChildText(root, "summary");
    if (ctx.output == OutputFormat::kText) {
      PrintRecords(ctx, records);
      *ctx.out << summary << "\n";
    } else {
      records.push_back({"SUMMARY",
                         {{"summary", summary},
                          {"busy", ChildText(root, "busy") == "true"},
                          {"dry_run", ChildText(root, "dryRun") == "true"},
                          {"failed", failed}}});
      PrintRecords(ctx, records);
    }
    if (failed > 0)
      return Unavailable(std::to_string(failed) + " of " + std::to_string(total) +
                         " cleanup actions failed; the next run retries them");
    return Status::Ok();
  };
}

Handler SetupDescribeLeases(CLI::App& app) {
  struct Options {
    std::vector<std::string> ids;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("ID", o->ids,
                 "instances (i-...), images (emi-/eki-/eri-...) and public addresses to show (default: all yours)")
      ->type_name("ID");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    Ec2Params params;
    for (size_t i = 0; i < o->ids.size(); ++i) params.emplace_back("ResourceId." + std::to_string(i + 1), o->ids[i]);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "EucaDescribeLeases", params));
    std::vector<Record> records;
    for (auto item : Ec2Root(doc).child("leaseSet").children("item")) records.push_back(LeaseRecord(item));
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupRenewLease(CLI::App& app) {
  struct Options {
    std::string id, duration;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "ID", o->id, "instance (i-...), image (emi-/eki-/eri-...) or public address");
  app.add_option("--for", o->duration, "new lease from now (30m, 6h, 7d or none; default: the account's default)")
      ->type_name("DURATION");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    if (!o->duration.empty()) EUCA_RETURN_IF_ERROR(DurationOption("--for", o->duration).status());
    Ec2Params params{{"ResourceId", o->id}};
    if (!o->duration.empty()) params.emplace_back("Duration", o->duration);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "EucaRenewLease", params));
    std::vector<Record> records;
    for (auto item : Ec2Root(doc).child("leaseSet").children("item")) records.push_back(LeaseRecord(item));
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

}  // namespace euca::cmd
