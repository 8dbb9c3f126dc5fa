#include "core/walrus/listing.h"

#include "core/walrus/rules.h"

namespace euca::walrus {

Result<ListPage> ListEntries(const FetchFn& fetch, std::string_view prefix, std::string_view delimiter,
                             std::string_view after, size_t max_entries, size_t batch) {
  ListPage page;
  if (max_entries == 0) return page;
  if (batch == 0) batch = 1;
  objects::ListRange range;
  range.prefix = std::string(prefix);
  range.start = std::string(after);
  range.start_inclusive = false;
  range.limit = batch;
  size_t count = 0;
  for (;;) {
    EUCA_ASSIGN_OR_RETURN(auto records, fetch(range));
    bool reseek = false;
    for (auto& rec : records) {
      if (!delimiter.empty()) {
        size_t d = rec.key.find(delimiter, prefix.size());
        if (d != std::string::npos) {
          std::string cp = rec.key.substr(0, d + delimiter.size());
          if (cp > after) {  // else a group the caller has already seen (the marker is in it)
            if (count == max_entries) {
              page.truncated = true;
              return page;
            }
            page.common_prefixes.push_back(cp);
            page.last = cp;
            ++count;
          }
          // Skip every other key of the group: continue at the first key past it.
          auto next = objects::PrefixSuccessor(cp);
          if (!next) return page;
          range.start = *std::move(next);
          range.start_inclusive = true;
          reseek = true;
          break;
        }
      }
      if (count == max_entries) {
        page.truncated = true;
        return page;
      }
      range.start = rec.key;
      range.start_inclusive = false;
      page.last = rec.key;
      page.objects.push_back(std::move(rec));
      ++count;
    }
    if (!reseek && records.size() < batch) return page;
  }
}

std::string EncodeContinuationToken(std::string_view last) { return Base64Encode("euca1:" + std::string(last)); }

Result<std::string> DecodeContinuationToken(std::string_view token) {
  auto raw = Base64Decode(token);
  if (!raw || raw->compare(0, 6, "euca1:") != 0)
    return Status(Code::kInvalidArgument, "the continuation token provided is incorrect", "InvalidArgument");
  return raw->substr(6);
}

}  // namespace euca::walrus
