#pragma once
// The additional checksums of S3 (x-amz-checksum-ALGORITHM): CRC32, CRC32C, CRC64NVME, SHA1
// and SHA256 of a request body, sent base64-encoded (big-endian for the CRCs) in a header or
// in an aws-chunked trailer. Walrus checks a body against the one its client sent before the
// write commits (BadDigest otherwise), echoes it in the reply and stores it with the object or
// part; a multipart object's checksum is derived from its parts' (COMPOSITE or FULL_OBJECT).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/headers.h"
#include "core/base/status.h"

namespace euca::walrus {

enum class ChecksumAlgorithm { kCrc32, kCrc32c, kCrc64Nvme, kSha1, kSha256 };

/// "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" (any case), or nullopt.
std::optional<ChecksumAlgorithm> ParseChecksumAlgorithm(std::string_view name);
/// "CRC32" ... as S3 spells it in messages and XML.
std::string_view ChecksumName(ChecksumAlgorithm algorithm);
/// "x-amz-checksum-crc32" ...
std::string ChecksumHeader(ChecksumAlgorithm algorithm);

/// A streaming checksum of one algorithm. Not thread-safe.
class Checksummer final {
 public:
  explicit Checksummer(ChecksumAlgorithm algorithm);
  ~Checksummer();
  Checksummer(const Checksummer&) = delete;
  Checksummer& operator=(const Checksummer&) = delete;

  ChecksumAlgorithm algorithm() const { return algorithm_; }
  void Update(std::string_view data);
  /// The checksum of everything given, base64-encoded as S3 sends it. Call once.
  std::string FinalBase64();

 private:
  struct Digest;
  ChecksumAlgorithm algorithm_;
  uint64_t crc_ = 0;
  std::unique_ptr<Digest> digest_;  // SHA1, SHA256
};

/// What a request says it sends: an algorithm, and the value when a header carries it (an
/// aws-chunked body may declare it in x-amz-trailer and send the value after the data).
struct ExpectedChecksum {
  ChecksumAlgorithm algorithm;
  std::optional<std::string> value;  ///< base64
};

/// The checksum a request's headers announce: one x-amz-checksum-ALGORITHM header, or a
/// declared trailer of that name. nullopt: none. InvalidRequest for two of them, an unknown
/// algorithm in x-amz-trailer, or a value that is not base64 of the algorithm's size.
Result<std::optional<ExpectedChecksum>> ExpectedChecksumOf(const Headers& headers);

/// Whether `algorithm` is a CRC (a multipart object may have a FULL_OBJECT checksum of it).
bool IsCrc(ChecksumAlgorithm algorithm);
/// The x-amz-checksum-type a multipart upload of `algorithm` gets when `requested` is ""
/// (FULL_OBJECT for CRC64NVME, else COMPOSITE), else `requested`.
std::string_view MultipartChecksumType(ChecksumAlgorithm algorithm, std::string_view requested);

/// A checksum as stored with an object or part: the value is base64, with "-N" appended for a
/// COMPOSITE checksum of N parts (a FULL_OBJECT one has none).
struct StoredChecksum {
  ChecksumAlgorithm algorithm;
  std::string value;
  bool composite() const { return value.find('-') != std::string::npos; }
  /// "COMPOSITE" or "FULL_OBJECT" (x-amz-checksum-type).
  std::string_view type() const { return composite() ? "COMPOSITE" : "FULL_OBJECT"; }
};
/// The checksum CompleteMultipartUpload's headers announce for the whole object: one
/// x-amz-checksum-ALGORITHM header, its value base64 of the algorithm's size with "-N" appended
/// for a COMPOSITE checksum of N parts. nullopt: none. InvalidRequest for two algorithms or a
/// malformed value, NotImplemented for an algorithm not known here (as ExpectedChecksumOf).
Result<std::optional<StoredChecksum>> ObjectChecksumOf(const Headers& headers);

/// "ALGORITHM:value", the form the backend stores (docs/walrus-format.md).
std::string FormatStoredChecksum(const StoredChecksum& checksum);
/// The stored form read back; nullopt for "" (none) or anything unknown.
std::optional<StoredChecksum> ParseStoredChecksum(std::string_view text);

/// The COMPOSITE checksum of a multipart object: the checksum of the parts' raw checksums
/// concatenated, base64, with "-N" appended. InvalidArgument if a part value is not base64 of
/// the algorithm's size.
Result<std::string> CompositeChecksum(ChecksumAlgorithm algorithm, const std::vector<std::string>& parts);
/// The FULL_OBJECT checksum of a multipart object of a CRC algorithm: the CRC of the parts'
/// bytes concatenated, combined from each part's CRC (base64) and size without reading them.
Result<std::string> CombineCrcs(ChecksumAlgorithm algorithm,
                                const std::vector<std::pair<std::string, uint64_t>>& parts);

/// BadDigest unless `computed` equals `expected` (both base64).
Status CheckChecksum(ChecksumAlgorithm algorithm, const std::string& expected, const std::string& computed);

}  // namespace euca::walrus
