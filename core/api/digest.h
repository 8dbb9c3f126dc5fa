#pragma once
// The hashes, MACs and encodings AWS request signing is built from, on OpenSSL. Pure
// functions; thread-safe.

#include <string>
#include <string_view>

#include "core/base/status.h"

namespace euca::api {

/// SHA-256 of `data`: 32 raw bytes.
std::string Sha256(std::string_view data);
/// SHA-256 of `data` as 64 lower-case hex digits.
std::string Sha256Hex(std::string_view data);
/// SHA-1 of `data`: 20 raw bytes (EC2 key pair fingerprints, not for security).
std::string Sha1(std::string_view data);
/// MD5 of `data`: 16 raw bytes (EC2 fingerprints of imported keys, not for security).
std::string Md5(std::string_view data);
/// HMAC-SHA256 of `data` under `key`: 32 raw bytes.
std::string HmacSha256(std::string_view key, std::string_view data);
/// HMAC-SHA1 of `data` under `key`: 20 raw bytes.
std::string HmacSha1(std::string_view key, std::string_view data);

/// Lower-case hex of raw bytes.
std::string Hex(std::string_view bytes);
/// Standard base64 (RFC 4648 §4) with padding, no line breaks.
std::string Base64Encode(std::string_view bytes);
/// Decodes standard base64 (padding required, no whitespace); InvalidArgument otherwise.
Result<std::string> Base64Decode(std::string_view text);

/// Equality that takes the same time wherever the first difference is (signature compares).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

/// Incremental SHA-256 for bodies that stream. Not copyable; thread-compatible.
class Sha256Hasher final {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view data);
  /// The digest as lower-case hex; the hasher then starts over.
  std::string FinishHex();

 private:
  struct Ctx;
  Ctx* ctx_;
};

}  // namespace euca::api
