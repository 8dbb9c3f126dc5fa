#pragma once
// VM types in the state store (kind "vm-types", id = type name): the sizes instances come
// in. Until an administrator changes one, the store holds none and the defaults
// (model::DefaultVmTypes()) apply; the first change writes all five, so the stored list is
// always complete. Thread-safe (the store serializes).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/model/account.h"
#include "core/model/compute.h"
#include "state/store.h"

namespace euca::clc {

/// Limits of a VM type's sizes (inclusive), those the node controller accepts.
inline constexpr int kMaxVmCores = 256;
inline constexpr int64_t kMinVmMemoryMib = 32;
inline constexpr int64_t kMaxVmMemoryMib = 4 * 1024 * 1024;  // 4 TiB
inline constexpr int64_t kMaxVmDiskGib = 64 * 1024;          // 64 TiB

/// What modify-vm-type changes; unset fields keep their value.
struct VmTypeChange {
  std::optional<int64_t> cores = {};
  std::optional<int64_t> memory_mib = {};
  std::optional<int64_t> disk_gib = {};
};

/// The VM types, in the order of model::DefaultVmTypes() (types not among the defaults
/// follow by name).
Result<std::vector<model::VmType>> ListVmTypes(state::Txn& txn);
/// The type `name`; InvalidArgument "unknown instance type 'NAME'" otherwise (EC2 answers
/// InvalidParameterValue for an unknown InstanceType).
Result<model::VmType> FindVmType(state::Txn& txn, const std::string& name);

class VmTypes final {
 public:
  /// REQUIRES: `store` outlives this object.
  explicit VmTypes(state::StateStore& store) : store_(store) {}

  Result<std::vector<model::VmType>> Describe();
  Result<model::VmType> Find(const std::string& name);
  /// Changes one type, as one history commit. PermissionDenied unless `caller` is a cloud
  /// administrator; NotFound for an unknown type; InvalidArgument for a size out of range
  /// (cores 1..256, memory 32 MiB..4 TiB, disk 1 GiB..64 TiB) or no change given. Returns
  /// the type before and after.
  Result<std::pair<model::VmType, model::VmType>> Modify(const model::Principal& caller, const std::string& name,
                                                          const VmTypeChange& change);

 private:
  state::StateStore& store_;
};

}  // namespace euca::clc
