// Cloud properties: euca admin describe-properties, modify-property (also reachable as
// euca2ools' euca-describe-properties and euca-modify-property).

#include <algorithm>
#include <map>

#include <CLI/CLI.hpp>

#include "cmd/common.h"

namespace euca::cmd {
namespace {

Record PropertyRecord(const std::string& name, const std::string& value) {
  return {"PROPERTY", {{"name", name}, {"value", value}}};
}

/// "NAME=VALUE" -> (NAME, VALUE); the value may be empty or hold '='.
Result<std::pair<std::string, std::string>> ParseAssignment(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return InvalidArgument("expected NAME=VALUE, got '" + text + "'");
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

}  // namespace

Handler SetupDescribeProperties(CLI::App& app) {
  auto prefixes = std::make_shared<std::vector<std::string>>();
  app.add_option("PREFIX", *prefixes, "show only properties whose names start with PREFIX")->type_name("PREFIX");
  return WithSession([prefixes](Context& ctx, Session& s) -> Status {
    std::vector<std::string> wanted = *prefixes;
    if (wanted.empty()) wanted.push_back("");
    std::map<std::string, std::string> found;  // sorted by name, each once
    for (const auto& prefix : wanted) {
      EUCA_ASSIGN_OR_RETURN(std::vector<clc::PropertyView> views, s.admin->DescribeProperties(s.principal, prefix));
      if (views.empty() && !prefix.empty()) return NotFound("no property matches '" + prefix + "'");
      for (const auto& v : views) found.emplace(v.name, v.value);
    }
    std::vector<Record> records;
    for (const auto& [name, value] : found) records.push_back(PropertyRecord(name, value));
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

Handler SetupModifyProperty(CLI::App& app) {
  struct Options {
    std::vector<std::string> positional, flagged, reset;
  };
  auto o = std::make_shared<Options>();
  app.add_option("ASSIGNMENT", o->positional, "NAME=VALUE to set")->type_name("NAME=VALUE");
  app.add_option("-p,--property", o->flagged, "NAME=VALUE to set (euca2ools form; repeatable)")
      ->type_name("NAME=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-r,--reset", o->reset, "set NAME back to its default (repeatable)")
      ->type_name("NAME")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  return WithSession([o](Context& ctx, Session& s) -> Status {
    // Admin::ModifyProperties checks names, values and duplicates, all before any change.
    std::vector<std::pair<std::string, std::string>> assignments;
    for (const auto* list : {&o->positional, &o->flagged}) {
      for (const auto& text : *list) {
        EUCA_ASSIGN_OR_RETURN(auto assignment, ParseAssignment(text));
        assignments.push_back(std::move(assignment));
      }
    }
    for (const auto& name : o->reset) {
      EUCA_ASSIGN_OR_RETURN(std::vector<clc::PropertyView> views, s.admin->DescribeProperties(s.principal, name));
      auto it = std::find_if(views.begin(), views.end(), [&](const auto& v) { return v.name == name; });
      if (it == views.end()) return InvalidArgument("unknown property '" + name + "'");
      assignments.emplace_back(name, it->default_value);
    }
    EUCA_ASSIGN_OR_RETURN(auto changed, s.admin->ModifyProperties(s.principal, assignments));
    std::vector<Record> records;
    bool network = false;
    for (const auto& [old_view, new_value] : changed) {
      Record r = PropertyRecord(old_view.name, new_value);
      r.fields.push_back({"was", old_view.value, "was: "});
      records.push_back(std::move(r));
      // network.driver is read when a cloud process starts; every other network property
      // changes what the host should look like now (DNS servers, interfaces, pools ...).
      if (old_view.name.rfind("network.", 0) == 0 && old_view.name != "network.driver" && old_view.value != new_value)
        network = true;
    }
    PrintRecords(ctx, records);
    if (network) ApplyNetworkAfterAdminChange(ctx, s);
    return Status::Ok();
  });
}

}  // namespace euca::cmd
