#pragma once
// The tar stream of a bundle: one regular-file member whose name is the bundle prefix
// (docs/bundle-format.md). Written by hand so the pipeline can stream the image bytes
// straight into compression blocks; read back with libarchive (unbundle.cc), which also
// accepts the GNU sparse members of euca2ools 1.x bundles.

#include <cstdint>
#include <string>

#include "core/base/status.h"

namespace euca::bundles {

inline constexpr uint64_t kTarBlock = 512;
/// GNU tar and Python's tarfile pad the archive to records of 20 blocks.
inline constexpr uint64_t kTarRecord = 20 * kTarBlock;

/// The header block(s) for one regular file `name` of `size` bytes (mode 0644, uid/gid 0,
/// `mtime` in seconds): a POSIX ustar header, preceded by a pax extended header when the
/// name is longer than 100 bytes or the size exceeds 8 GiB - 1 (the largest 11-digit octal
/// number). InvalidArgument if `name` is empty, has a '/' or a NUL, or is "." or "..".
Result<std::string> TarMemberHeader(const std::string& name, uint64_t size, int64_t mtime);

/// Zero bytes that end the stream after `stream_bytes` bytes of headers and member data:
/// padding of the data to a block, two zero blocks, and padding to a whole record.
uint64_t TarTrailerSize(uint64_t stream_bytes);

}  // namespace euca::bundles
