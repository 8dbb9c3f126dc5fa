#pragma once
// The S3 listing walk: keys under a prefix, rolled up into CommonPrefixes at a delimiter,
// resumed after a marker, cut at max-keys. Shared by ListObjects v1, v2 and
// ListObjectVersions; fed by any ordered source of records, so it is tested alone.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "drivers/objects/backend.h"

namespace euca::walrus {

/// Returns records in key byte order within `range` (ObjectBackend::ListObjects).
using FetchFn = std::function<Result<std::vector<objects::ObjectRecord>>(const objects::ListRange&)>;

struct ListPage {
  std::vector<objects::ObjectRecord> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  /// The last key or common prefix returned (empty if none): where the next page resumes.
  std::string last;
};

/// Lists entries (keys and common prefixes, each counting one) that come after `after` in
/// byte order, at most `max_entries`. A key whose rest after `prefix` holds `delimiter` is
/// rolled into the common prefix ending at the first delimiter; a common prefix that sorts
/// at or before `after` is skipped whole, so a page that ended on a common prefix resumes
/// past all of its keys. `truncated` says whether another entry follows. `batch` bounds
/// each fetch.
Result<ListPage> ListEntries(const FetchFn& fetch, std::string_view prefix, std::string_view delimiter,
                             std::string_view after, size_t max_entries, size_t batch = 1000);

/// The opaque continuation token of a resume point, and back (InvalidArgument if the token
/// is not one of ours).
std::string EncodeContinuationToken(std::string_view last);
Result<std::string> DecodeContinuationToken(std::string_view token);

}  // namespace euca::walrus
