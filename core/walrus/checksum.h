#pragma once
// The additional checksums of S3 (x-amz-checksum-ALGORITHM): CRC32, CRC32C, CRC64NVME, SHA1
// and SHA256 of a request body, sent base64-encoded (big-endian for the CRCs) in a header or
// in an aws-chunked trailer. Walrus checks a body against the one its client sent before the
// write commits (BadDigest otherwise) and echoes it in the reply; it does not store it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

/// BadDigest unless `computed` equals `expected` (both base64).
Status CheckChecksum(ChecksumAlgorithm algorithm, const std::string& expected, const std::string& computed);

}  // namespace euca::walrus
