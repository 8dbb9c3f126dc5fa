// The history of the state store: euca admin history, show, diff, rollback.

#include <algorithm>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cmd/common.h"
#include "core/clc/networking.h"
#include "core/clc/topology.h"
#include "state/kinds.h"

namespace euca::cmd {
namespace {

Record CommitRecord(const state::CommitInfo& c) {
  return {"COMMIT",
          {{"rev", c.rev},
           {"time", FormatIso8601(c.time_ms)},
           {"principal", c.principal},
           {"action", c.action},
           {"request_id", c.request_id}}};
}

/// InvalidArgument unless `ref` names an object ("KIND/ID" or an id with a known prefix).
Status CheckObjectRef(const std::string& ref) {
  if (!state::ParseObjectRef(ref))
    return InvalidArgument("'" + ref + "' names no object; use KIND/ID, e.g. 'users/AIDA...'");
  return Status::Ok();
}

void PrintText(const Context& ctx, const std::string& text) {
  *ctx.out << text;
  if (!text.empty() && text.back() != '\n') *ctx.out << "\n";
}

}  // namespace

Handler SetupHistory(CLI::App& app) {
  struct Options {
    std::string object;
    size_t limit = 0;
  };
  auto o = std::make_shared<Options>();
  app.add_option("--object", o->object, "only commits that changed this object (KIND/ID or an id)")
      ->type_name("OBJECT");
  app.add_option("-n,--max-count", o->limit, "only the newest N commits")->type_name("N")->check(AtLeastOne());
  return WithAdminSession([o](Context& ctx, Session& s) -> Status {
    std::optional<std::string> object;
    if (!o->object.empty()) {
      EUCA_RETURN_IF_ERROR(CheckObjectRef(o->object));
      object = o->object;
    }
    EUCA_ASSIGN_OR_RETURN(std::vector<state::CommitInfo> commits, s.store->Log(object, o->limit));
    std::vector<Record> records;
    for (const auto& c : commits) records.push_back(CommitRecord(c));
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

Handler SetupShow(CLI::App& app) {
  auto rev = std::make_shared<std::string>();
  AddRequiredArg(app, "REV", *rev, "revision (commit id or a unique prefix of one)");
  return WithAdminSession([rev](Context& ctx, Session& s) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto shown, s.store->Show(*rev));
    const auto& [commit, diff] = shown;
    Record r = CommitRecord(commit);
    if (ctx.output == OutputFormat::kJson) {
      r.fields.push_back({"diff", diff});
      PrintRecords(ctx, {r});
    } else {
      PrintRecords(ctx, {r});
      PrintText(ctx, diff);
    }
    return Status::Ok();
  });
}

Handler SetupDiff(CLI::App& app) {
  struct Options {
    std::string from, to;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "REV", o->from, "older revision");
  app.add_option("REV2", o->to, "newer revision (default: the newest commit)")->type_name("REV2");
  return WithAdminSession([o](Context& ctx, Session& s) -> Status {
    std::optional<std::string> to;
    if (!o->to.empty()) to = o->to;
    EUCA_ASSIGN_OR_RETURN(std::string diff, s.store->Diff(o->from, to));
    if (ctx.output == OutputFormat::kJson) {
      PrintRecords(ctx, {{"DIFF", {{"from", o->from}, {"to", to ? Json(*to) : Json()}, {"diff", diff}}}});
    } else {
      PrintText(ctx, diff);
    }
    return Status::Ok();
  });
}

Handler SetupRollback(CLI::App& app) {
  struct Options {
    std::string rev;
    std::vector<std::string> objects;
    bool dry_run = false;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "REV", o->rev, "revision to restore");
  app.add_option("--object", o->objects, "restore only this object (KIND/ID or an id; repeatable)")
      ->type_name("OBJECT")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--dry-run", o->dry_run, "print what would change and change nothing");
  return WithAdminSession([o](Context& ctx, Session& s) -> Status {
    for (const auto& ref : o->objects) EUCA_RETURN_IF_ERROR(CheckObjectRef(ref));
    state::TxnContext txn{s.principal.ToString(), "Rollback " + o->rev, ""};
    EUCA_ASSIGN_OR_RETURN(state::RollbackResult result, s.store->Rollback(txn, o->rev, o->objects, o->dry_run));
    std::vector<Record> records;
    for (const auto& c : result.changes)
      records.push_back({"ROLLBACK", {{"kind", c.kind}, {"id", c.id}, {"what", c.what}}});
    PrintRecords(ctx, records);
    if (result.changes.empty()) ctx.Debug("nothing to roll back: the objects are as they were at " + o->rev);
    // Groups, rules, addresses and network properties that came back (or went) must reach
    // the host's networking as an EC2 change would; a failure is reported and the next
    // network change applies again (the rollback itself stands).
    bool network = std::any_of(result.changes.begin(), result.changes.end(), [](const auto& c) {
      return c.kind == "security-groups" || c.kind == "addresses" || c.kind == "instances" ||
             (c.kind == "properties" && c.id.rfind("network.", 0) == 0);
    });
    if (network && !o->dry_run) ApplyNetworkAfterAdminChange(ctx, s);
    return Status::Ok();
  });
}

}  // namespace euca::cmd
