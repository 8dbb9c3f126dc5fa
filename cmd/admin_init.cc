// euca admin init: create a cloud in EUCA_HOME.

#include <ostream>

#include <CLI/CLI.hpp>

#include "core/base/strings.h"
#include "cmd/common.h"

namespace euca::cmd {

Handler SetupAdminInit(CLI::App& app) {
  auto force = std::make_shared<bool>(false);
  app.add_flag("--force", *force, "move an existing cloud aside into a backup folder and create a new one");
  return [force](Context& ctx) -> Status {
    clc::InitOptions options;
    options.home = ctx.home;
    options.force = *force;
    ctx.Debug("creating a cloud in '" + ctx.home + "'");
    EUCA_ASSIGN_OR_RETURN(clc::InitReport report, clc::InitCloud(options, *ctx.env, *ctx.clock));
    Record r{"INIT",
             {{"home", report.home},
              {"account", report.account.name},
              {"account_id", report.account.id},
              {"user", report.user.name},
              {"user_id", report.user.id},
              {"access_key_id", report.key.id},
              {"eucarc", report.eucarc_path}}};
    if (!report.backup_dir.empty()) r.fields.push_back({"backup", report.backup_dir});
    PrintRecords(ctx, {r}, TextStyle::kKeyValue);
    if (ctx.output == OutputFormat::kText)
      *ctx.out << "\nTo use this cloud from a shell, run: source " << ShellQuoteIfNeeded(report.eucarc_path) << "\n";
    return Status::Ok();
  };
}

}  // namespace euca::cmd
