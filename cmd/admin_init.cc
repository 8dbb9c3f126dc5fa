// euca admin init: create a cloud in EUCA_HOME.

#include <ostream>

#include <CLI/CLI.hpp>

#include "core/base/strings.h"
#include "cmd/common.h"

namespace euca::cmd {

Handler SetupAdminInit(CLI::App& app) {
  struct Options {
    bool force = false;
    std::string hypervisor;
    std::string accel;
  };
  auto o = std::make_shared<Options>();
  app.add_flag("--force", o->force, "move an existing cloud aside into a backup folder and create a new one");
  app.add_option("--hypervisor", o->hypervisor,
                 "hypervisor URI of the embedded node controller (default qemu:///system; test:///default "
                 "or fake:// run no real VMs); sets nc.hypervisor")
      ->type_name("URI");
  app.add_option("--accel", o->accel, "CPU acceleration of its VMs: auto (default), kvm or tcg; sets nc.accel")
      ->type_name("auto|kvm|tcg");
  return [o](Context& ctx) -> Status {
    clc::InitOptions options;
    options.home = ctx.home;
    options.force = o->force;
    if (!o->hypervisor.empty()) options.properties.push_back({"nc.hypervisor", o->hypervisor});
    if (!o->accel.empty()) options.properties.push_back({"nc.accel", o->accel});
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
