// VM types: euca admin describe-vm-types, modify-vm-type (also reachable as Eucalyptus'
// euca-describe-instance-types and euca-modify-instance-type).

#include <algorithm>
#include <optional>

#include <CLI/CLI.hpp>

#include "cmd/common.h"
#include "core/clc/vm_types.h"

namespace euca::cmd {
namespace {

Record VmTypeRecord(const model::VmType& t) {
  return {"VMTYPE",
          {{"name", t.name}, {"cores", t.cores}, {"memory_mib", t.memory_mib}, {"disk_gib", t.disk_gib}}};
}

}  // namespace

Handler SetupDescribeVmTypes(CLI::App& app) {
  auto names = std::make_shared<std::vector<std::string>>();
  app.add_option("NAME", *names, "show only these types")->type_name("NAME");
  return WithSession([names](Context& ctx, Session& s) -> Status {
    clc::VmTypes types(*s.store);
    EUCA_ASSIGN_OR_RETURN(std::vector<model::VmType> all, types.Describe());
    std::vector<Record> records;
    for (const auto& name : *names)
      if (std::none_of(all.begin(), all.end(), [&](const model::VmType& t) { return t.name == name; }))
        return NotFound("unknown VM type '" + name + "'; 'euca admin describe-vm-types' lists them");
    for (const auto& t : all)
      if (names->empty() || std::find(names->begin(), names->end(), t.name) != names->end())
        records.push_back(VmTypeRecord(t));
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

Handler SetupModifyVmType(CLI::App& app) {
  struct Options {
    std::string name;
    std::optional<int64_t> cores, memory, disk;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "NAME", o->name, "the VM type to change, e.g. m1.small");
  app.add_option("-c,--cores,--cpus", o->cores, "virtual CPUs (1..256)")->type_name("N");
  app.add_option("-m,--memory", o->memory, "memory in MiB (32..4194304)")->type_name("MIB");
  app.add_option("-d,--disk", o->disk, "local disk in GiB (1..65536)")->type_name("GIB");
  return WithSession([o](Context& ctx, Session& s) -> Status {
    clc::VmTypes types(*s.store);
    EUCA_ASSIGN_OR_RETURN(auto changed, types.Modify(s.principal, o->name, {o->cores, o->memory, o->disk}));
    Record r = VmTypeRecord(changed.second);
    const model::VmType& was = changed.first;
    r.fields.push_back({"was", std::to_string(was.cores) + "/" + std::to_string(was.memory_mib) + "/" +
                                   std::to_string(was.disk_gib),
                        "was: "});
    PrintRecords(ctx, {r});
    return Status::Ok();
  });
}

}  // namespace euca::cmd
