// Commands about the binary itself: help and version.

#include <ostream>

#include <CLI/CLI.hpp>

#include "cmd/app.h"
#include "cmd/common.h"

namespace euca::cmd {

Handler SetupHelp(CLI::App& app) {
  auto words = std::make_shared<std::vector<std::string>>();
  app.add_option("COMMAND", *words, "command to describe, e.g. \"admin init\" or \"euca-admin-init\"")
      ->type_name("COMMAND");
  return [words](Context& ctx) -> Status {
    std::string typed;
    for (const auto& w : *words) typed += (typed.empty() ? "" : " ") + w;
    if (typed.empty()) {
      *ctx.out << OverviewHelp(*ctx.tree);
      return Status::Ok();
    }
    if (FindGroup(typed) != nullptr) {
      *ctx.out << OverviewHelp(*ctx.tree, typed);
      return Status::Ok();
    }
    const CommandSpec* spec = ResolveCommandName(typed);
    if (spec == nullptr) {
      if (auto suggestion = SuggestCommand(typed))
        return InvalidArgument("unknown command '" + typed + "'; did you mean '" + *suggestion + "'?");
      return InvalidArgument("unknown command '" + typed + "'; run 'euca help' for the list");
    }
    *ctx.out << CommandHelp(*ctx.tree, *spec);
    return Status::Ok();
  };
}

Handler SetupVersion(CLI::App&) {
  return [](Context& ctx) -> Status {
    if (ctx.output == OutputFormat::kJson) {
      PrintRecords(ctx, {{"VERSION", {{"name", "euca"}, {"version", EUCA_VERSION}}}});
    } else {
      *ctx.out << VersionString() << "\n";
    }
    return Status::Ok();
  };
}

}  // namespace euca::cmd
