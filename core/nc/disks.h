#pragma once
// An instance's disks (Eucalyptus' disk preparation, reference §3.4, seed 003 §4.3): a qcow2
// overlay backed by the cached raw image (a warm start copies nothing), an ext4 ephemeral
// disk and a swap disk filling the VM type's disk, and a NoCloud seed (ISO 9660 labelled
// `cidata` with `meta-data` and `user-data`, as cloud-init reads it). The overlay, the raw
// files, the swap header and the seed are written here; mkfs.ext4 runs through the
// CommandRunner.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/base/command.h"
#include "core/base/env.h"
#include "core/nc/nc_types.h"

namespace euca::nc {

/// The files of one instance, all inside its folder.
struct InstanceDisks {
  std::string root;       ///< root.qcow2, backed by the cached image
  std::string ephemeral;  ///< ephemeral.img (ext4, label ephemeral0); empty when no room
  std::string swap;       ///< swap.img (label swap); empty when no room
  std::string seed;       ///< seed.iso (cidata)
};

struct DiskSizes {
  uint64_t root_bytes = 0;       ///< the image's size
  uint64_t ephemeral_bytes = 0;  ///< what is left of the VM type's disk
  uint64_t swap_bytes = 0;
};

/// Splits the VM type's disk: the image, then swap (`swap_mib`, less when short), then the
/// rest as ephemeral. InvalidArgument when the image does not fit the VM type's disk.
Result<DiskSizes> PlanDisks(const RunInstanceRequest& r, uint64_t image_bytes, uint64_t swap_mib);

/// The NoCloud meta-data (YAML): instance-id, local-hostname and the public key.
std::string NoCloudMetaData(const RunInstanceRequest& r);

/// The bytes of a qcow2 (version 3, 64 KiB clusters, 16-bit refcounts) copy-on-write overlay
/// of `virtual_size` bytes backed by the raw image at `backing_path` (absolute), with no
/// cluster of its own allocated: what `qemu-img create -f qcow2 -F raw -b BACKING` writes,
/// without a qemu-img process. Layout (docs/nc.md): header and extensions in cluster 0,
/// refcount table in cluster 1, refcount block in cluster 2, L1 table in cluster 3.
/// InvalidArgument for a relative or over-long backing path or a size beyond 4 TiB.
Result<std::string> Qcow2Overlay(const std::string& backing_path, uint64_t virtual_size);

/// The first 4 KiB page of a Linux swap area of `size` bytes (version 1, for 4 KiB pages)
/// with the 16-byte `uuid` and `label`: what `mkswap -L LABEL -U UUID` writes on a zeroed
/// file, without a mkswap process. InvalidArgument for a size under 10 pages or beyond
/// 2^32 pages, a uuid that is not 16 bytes or a label over 16 bytes.
Result<std::string> SwapHeader(uint64_t size, const std::string& uuid, const std::string& label);

/// The bytes of a NoCloud seed: an ISO 9660 image with volume id `cidata` holding the files
/// `meta-data` and `user-data`, as `genisoimage -volid cidata -joliet` writes it, without a
/// genisoimage process. Layout (docs/nc.md): the primary volume descriptor (8.3 names
/// META_DAT.;1 and USER_DAT.;1) and a Joliet one (UCS-2 names meta-data and user-data,
/// what Linux and cloud-init read), their path tables and root directories, the data, and
/// genisoimage's 150 sectors of padding.
/// `unix_seconds` dates the volume and its files. InvalidArgument for a file over 16 MiB.
Result<std::string> NoCloudSeedIso(const std::string& meta_data, const std::string& user_data, int64_t unix_seconds);

/// Runs the steps at once (the first on the calling thread, the others on threads of their
/// own), waits for all and returns the first error in the steps' order.
Status RunConcurrently(std::vector<std::function<Status()>> steps);

/// Creates the disks of `r` in `dir` (an existing, empty instance folder) from the cached
/// image at `image_path`, the seed dated `unix_seconds`: the overlay, the ephemeral disk, the
/// swap disk and the seed at once (independent of each other). On failure the caller removes
/// the folder.
Result<InstanceDisks> PrepareDisks(Env& env, CommandRunner& runner, const RunInstanceRequest& r,
                                   const std::string& dir, const std::string& image_path, uint64_t swap_mib,
                                   int64_t unix_seconds);

}  // namespace euca::nc
