#pragma once
// S3's small rules, each testable alone: bucket names, key limits, ETags and digests, byte
// ranges and conditional requests. HTTP-free: callers pass header values as text and dates as
// milliseconds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace euca::walrus {

/// An S3 error: `code` for the caller (and exit status), `message`, and `wire` the S3 error
/// code of the reply ("NoSuchKey"); the arguments in the order of Status's own.
inline Status S3Error(Code code, std::string message, std::string wire) {
  return Status(code, std::move(message), std::move(wire));
}

/// Longest key S3 accepts, in bytes.
inline constexpr size_t kMaxKeyBytes = 1024;

/// S3 bucket naming rules: 3-63 characters of [a-z0-9.-], starting and ending with a letter
/// or digit, no "..", ".-" or "-.", not an IP address, no "xn--" / "sthree-" prefix nor
/// "-s3alias" / "--ol-s3" suffix. InvalidBucketName otherwise.
Status ValidateBucketName(std::string_view name);
/// A key is 1 to 1,024 bytes, any bytes. KeyTooLongError / InvalidArgument otherwise.
Status ValidateKey(std::string_view key);

/// Streaming MD5 (OpenSSL). Not thread-safe.
class Md5 final {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void Update(std::string_view data);
  /// The 16-byte digest. Call once.
  std::string Final();

 private:
  void* ctx_;
};

/// Standard base64 (RFC 4648 §4, padded). nullopt if `text` is not valid base64.
std::optional<std::string> Base64Decode(std::string_view text);
std::string Base64Encode(std::string_view bytes);

/// `"<hex md5>"`: the ETag of a single-part object.
std::string SinglePartEtag(const std::string& md5);
/// `"<hex md5 of the concatenated part md5s>-N"`: the ETag of a multipart object.
std::string MultipartEtag(const std::vector<std::string>& part_md5s);
/// An ETag without surrounding quotes (and without a weak "W/" marker).
std::string_view BareEtag(std::string_view etag);
/// The raw 16-byte MD5 in a single-part ETag, or nullopt.
std::optional<std::string> EtagMd5(std::string_view etag);

/// The raw 16 bytes of a Content-MD5 header value; InvalidDigest when it is not the base64 of
/// 16 bytes.
Result<std::string> DecodeContentMd5(std::string_view header);

/// An inclusive byte range of an object.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t length() const { return last - first + 1; }
  bool operator==(const ByteRange&) const = default;
};

/// Resolves a Range header value against an object of `size` bytes (RFC 9110 §14.1.2).
/// nullopt: serve the whole object (header malformed, another unit, or several ranges, which
/// S3 ignores too). InvalidRange if the range is well formed but unsatisfiable.
Result<std::optional<ByteRange>> ResolveRange(std::string_view header, uint64_t size);

/// Conditional request headers (dates already parsed, milliseconds since the epoch).
struct Conditions {
  std::optional<std::string> if_match = {};       ///< ETag list or "*"
  std::optional<std::string> if_none_match = {};  ///< ETag list or "*"
  std::optional<int64_t> if_modified_since_ms = {};
  std::optional<int64_t> if_unmodified_since_ms = {};
  bool empty() const { return !if_match && !if_none_match && !if_modified_since_ms && !if_unmodified_since_ms; }
};

enum class Precondition {
  kProceed,      ///< serve the object
  kNotModified,  ///< 304 (GET/HEAD)
  kFailed,       ///< 412 PreconditionFailed
};

/// RFC 9110 §13.2.2 order, as S3 applies it: If-Match (else If-Unmodified-Since) may fail
/// with 412; then If-None-Match (else If-Modified-Since) may answer 304. Dates compare at
/// second precision; an If-Modified-Since later than `now_ms` is ignored.
Precondition EvaluateConditions(const Conditions& c, std::string_view etag, int64_t modified_ms, int64_t now_ms);

/// True if the ETag list (comma-separated, quoted or not, or "*") holds `etag`.
bool EtagListMatches(std::string_view list, std::string_view etag);

/// The status of a failed precondition: Conflict with wire code PreconditionFailed (412).
Status PreconditionFailed(std::string message);

}  // namespace euca::walrus
