#include "drivers/objects/backend.h"

#include "core/base/random.h"

namespace euca::objects {

Status NoSuchBucket(const std::string& bucket) {
  return Status(Code::kNotFound, "bucket '" + bucket + "' does not exist", "NoSuchBucket");
}

Status NoSuchKey(const std::string& bucket, const std::string& key) {
  return Status(Code::kNotFound, "no object '" + PrintableKey(key) + "' in bucket '" + bucket + "'", "NoSuchKey");
}

Status NoSuchUpload(const std::string& upload_id) {
  return Status(Code::kNotFound, "multipart upload '" + upload_id + "' does not exist (completed or aborted?)",
                "NoSuchUpload");
}

Status CheckWriteCondition(const WriteCondition& condition, const std::optional<ObjectRecord>& current,
                           const std::string& bucket, const std::string& key) {
  auto failed = [&](const std::string& why) {
    return Status(Code::kConflict,
                  "the write's precondition failed: object '" + PrintableKey(key) + "' in bucket '" + bucket + "' " + why,
                  "PreconditionFailed");
  };
  if (condition.if_absent && current) return failed("exists (ETag " + current->etag + ")");
  if (condition.if_etag) {
    if (!current) return NoSuchKey(bucket, key);
    if (*condition.if_etag != "*" && *condition.if_etag != current->etag) {
      return failed("has ETag " + current->etag + ", not " + *condition.if_etag);
    }
  }
  return Status::Ok();
}

std::string NewBlobId() { return RandomHex(32); }

bool IsBlobId(std::string_view name) {
  if (name.size() != 32) return false;
  for (char c : name)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::optional<std::string> PrefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto last = static_cast<unsigned char>(s.back());
    if (last != 0xff) {
      s.back() = static_cast<char>(last + 1);
      return s;
    }
    s.pop_back();
  }
  return std::nullopt;
}

std::string PrintableKey(std::string_view key) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  size_t n = 0;
  for (unsigned char c : key) {
    if (++n > 100) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace euca::objects
