#pragma once
// Helpers shared by the image delivery tests (header-only; test binaries only).

#include <string>

#include "core/walrus/image_cache.h"

namespace euca::walrus::test_support {

/// The whole content of a leased cache entry, or "<short read>".
inline std::string ReadLease(const ImageLease& lease) {
  std::string out(lease.size(), '\0');
  size_t done = 0;
  while (done < out.size()) {
    auto n = lease.ReadAt(done, out.data() + done, out.size() - done);
    if (!n.ok() || *n == 0) return "<short read>";
    done += *n;
  }
  return out;
}

}  // namespace euca::walrus::test_support
