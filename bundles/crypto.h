#pragma once
// The cryptography of an image bundle (docs/bundle-format.md): a random AES-128 key and IV
// per bundle, each carried as 32 lower-case hex digits; those hex strings (not the raw
// bytes) RSA-wrapped (PKCS#1 v1.5) for the cloud's and the user's certificates; AES-128-CBC
// with PKCS#7 padding over the gzip stream; SHA-1 digests in lower-case hex.

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace euca::bundles {

/// A streaming message digest on OpenSSL EVP. Not thread-safe; one per stream.
class Digest {
 public:
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void Update(const void* data, size_t n);
  /// Lower-case hex digest of everything updated so far; the object restarts empty.
  std::string FinishHex();

 protected:
  explicit Digest(const EVP_MD* md);
  ~Digest();

 private:
  const EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

/// Streaming SHA-1 (part and tar stream digests).
class Sha1 final : public Digest {
 public:
  Sha1() : Digest(EVP_sha1()) {}
};

/// Streaming SHA-256 (the digest of an unbundled image that Walrus delivers).
class Sha256 final : public Digest {
 public:
  Sha256() : Digest(EVP_sha256()) {}
};

/// The AES-128 key and IV of one bundle as the 32-digit lower-case hex strings the manifest
/// wraps.
struct BundleKey {
  std::string key_hex;
  std::string iv_hex;
};

/// A new key and IV, each 128 random bits from the CSPRNG.
BundleKey NewBundleKey();

/// Streaming AES-128-CBC with PKCS#7 padding, one direction. Not thread-safe.
class AesCbc final {
 public:
  enum class Direction { kEncrypt, kDecrypt };
  /// InvalidArgument unless key and IV are 32 hex digits each.
  static Result<std::unique_ptr<AesCbc>> Create(Direction direction, const BundleKey& key);
  ~AesCbc();
  AesCbc(const AesCbc&) = delete;
  AesCbc& operator=(const AesCbc&) = delete;

  /// Transforms `n` bytes into `out`, which must have room for n + 16 bytes; returns the
  /// bytes written (CBC holds back up to one block).
  Result<size_t> Update(const uint8_t* in, size_t n, uint8_t* out);
  /// Ends the stream into `out` (room for 32 bytes): the padded last block when encrypting;
  /// when decrypting, the last plaintext bytes, or InvalidArgument if the padding is wrong
  /// (wrong key, truncated or corrupt data).
  Result<size_t> Finish(uint8_t* out);

 private:
  explicit AesCbc(EVP_CIPHER_CTX* ctx, Direction direction) : ctx_(ctx), direction_(direction) {}
  EVP_CIPHER_CTX* ctx_;
  Direction direction_;
};

/// Lower-case hex of the RSA PKCS#1 v1.5 encryption of `text` (a key or IV hex string)
/// for the public key of `cert_pem`.
Result<std::string> WrapForCertificate(const std::string& cert_pem, const std::string& text);

/// The 32-hex-digit key or IV string inside `wrapped_hex`, decrypted with
/// `private_key_pem`. InvalidArgument if it is not hex, the key does not fit, or the
/// plaintext is not 32 hex digits (what a wrong key gives when the padding happens to pass).
Result<std::string> UnwrapWithPrivateKey(const std::string& private_key_pem, const std::string& wrapped_hex);

/// Bytes from hex (either case). InvalidArgument on an odd length or a non-hex digit.
Result<std::string> HexDecode(std::string_view hex);

/// Whether `s` is exactly `n` lower- or upper-case hex digits.
bool IsHex(std::string_view s, size_t n);

}  // namespace euca::bundles
