#include "core/clc/vm_types.h"

#include <algorithm>

namespace euca::clc {
namespace {

constexpr char kKind[] = "vm-types";

state::Object ToObject(const model::VmType& t) { return {kKind, t.name, "", "", model::ToJson(t), std::nullopt}; }

Result<model::VmType> Decode(const state::Object& o) {
  try {
    return model::VmTypeFromJson(o.body);
  } catch (const std::exception& e) {
    return Internal("corrupt VM type '" + o.id + "': " + e.what());
  }
}

size_t DefaultRank(const std::string& name) {
  const auto& defaults = model::DefaultVmTypes();
  for (size_t i = 0; i < defaults.size(); ++i)
    if (defaults[i].name == name) return i;
  return defaults.size();
}

Status CheckRange(const char* what, int64_t value, int64_t min, int64_t max, const char* unit) {
  if (value >= min && value <= max) return Status::Ok();
  return InvalidArgument(std::string(what) + " must be from " + std::to_string(min) + " to " + std::to_string(max) +
                         unit + ", got '" + std::to_string(value) + "'");
}

}  // namespace

Result<std::vector<model::VmType>> ListVmTypes(state::Txn& txn) {
  EUCA_ASSIGN_OR_RETURN(auto objects, txn.List(kKind));
  if (objects.empty()) return model::DefaultVmTypes();
  std::vector<model::VmType> types;
  for (const auto& o : objects) {
    EUCA_ASSIGN_OR_RETURN(auto t, Decode(o));
    types.push_back(std::move(t));
  }
  std::stable_sort(types.begin(), types.end(), [](const model::VmType& a, const model::VmType& b) {
    size_t ra = DefaultRank(a.name), rb = DefaultRank(b.name);
    return ra != rb ? ra < rb : a.name < b.name;
  });
  return types;
}

Result<model::VmType> FindVmType(state::Txn& txn, const std::string& name) {
  EUCA_ASSIGN_OR_RETURN(auto obj, txn.Get(kKind, name));
  if (obj) return Decode(*obj);
  EUCA_ASSIGN_OR_RETURN(auto any, txn.List(kKind));
  if (any.empty()) {
    for (const auto& t : model::DefaultVmTypes())
      if (t.name == name) return t;
  }
  return InvalidArgument("unknown instance type '" + name + "'; 'euca admin describe-vm-types' lists them");
}

Result<std::vector<model::VmType>> VmTypes::Describe() {
  std::vector<model::VmType> types;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(types, ListVmTypes(t));
    return Status::Ok();
  }));
  return types;
}

Result<model::VmType> VmTypes::Find(const std::string& name) {
  model::VmType type;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(type, FindVmType(t, name));
    return Status::Ok();
  }));
  return type;
}

Result<std::pair<model::VmType, model::VmType>> VmTypes::Modify(const model::Principal& caller,
                                                                 const std::string& name,
                                                                 const VmTypeChange& change) {
  if (!caller.IsCloudAdmin()) return PermissionDenied("only a cloud administrator may change VM types");
  if (!change.cores && !change.memory_mib && !change.disk_gib)
    return InvalidArgument("nothing to change: give --cores, --memory or --disk");
  if (change.cores) EUCA_RETURN_IF_ERROR(CheckRange("cores", *change.cores, 1, kMaxVmCores, ""));
  if (change.memory_mib)
    EUCA_RETURN_IF_ERROR(CheckRange("memory", *change.memory_mib, kMinVmMemoryMib, kMaxVmMemoryMib, " MiB"));
  if (change.disk_gib) EUCA_RETURN_IF_ERROR(CheckRange("disk", *change.disk_gib, 1, kMaxVmDiskGib, " GiB"));

  std::pair<model::VmType, model::VmType> result;
  auto seq = store_.Transact({caller.ToString(), "ModifyVmType " + name, ""}, [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto types, ListVmTypes(t));
    auto it = std::find_if(types.begin(), types.end(), [&](const model::VmType& v) { return v.name == name; });
    if (it == types.end())
      return Status(Code::kNotFound, "unknown VM type '" + name + "'; 'euca admin describe-vm-types' lists them",
                    "InvalidParameterValue");
    result.first = *it;
    if (change.cores) it->cores = static_cast<int>(*change.cores);
    if (change.memory_mib) it->memory_mib = static_cast<uint64_t>(*change.memory_mib);
    if (change.disk_gib) it->disk_gib = static_cast<uint64_t>(*change.disk_gib);
    result.second = *it;
    // Writing every type keeps the stored list complete once anything is stored; unchanged
    // types rewrite identical files, so the commit's diff shows only the change.
    for (const auto& v : types) EUCA_RETURN_IF_ERROR(t.Put(ToObject(v)));
    return Status::Ok();
  });
  if (!seq.ok()) return seq.status();
  return result;
}

}  // namespace euca::clc
