#pragma once
// VM types: the sizes instances come in (EC2's instance types, Eucalyptus' VmType).

#include <cstdint>
#include <string>

namespace euca::model {

/// One instance size. Cores and memory go to the hypervisor; disk_gib is the instance's whole
/// local disk (root overlay + ephemeral + swap), as in Eucalyptus.
struct VmType {
  std::string name;         ///< e.g. "m1.small"
  int cores = 1;
  uint64_t memory_mib = 256;
  uint64_t disk_gib = 5;
  bool operator==(const VmType&) const = default;
};

}  // namespace euca::model
