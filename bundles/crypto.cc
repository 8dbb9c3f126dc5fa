#include "bundles/crypto.h"

#include <openssl/err.h>

#include "core/base/pki.h"
#include "core/base/random.h"

namespace euca::bundles {

Digest::Digest(const EVP_MD* md) : md_(md), ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, md_, nullptr) != 1) std::abort();
}

Digest::~Digest() { EVP_MD_CTX_free(ctx_); }

void Digest::Update(const void* data, size_t n) {
  if (n > 0 && EVP_DigestUpdate(ctx_, data, n) != 1) std::abort();
}

std::string Digest::FinishHex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, md, &len) != 1 || EVP_DigestInit_ex(ctx_, md_, nullptr) != 1) std::abort();
  return HexEncode(std::string(reinterpret_cast<char*>(md), len));
}

BundleKey NewBundleKey() { return {RandomHex(32), RandomHex(32)}; }

bool IsHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

Result<std::string> HexDecode(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return InvalidArgument("hex text of odd length " + std::to_string(hex.size()));
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("'" + std::string(hex.substr(2 * i, 2)) + "' is not a hex byte");
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

Result<std::unique_ptr<AesCbc>> AesCbc::Create(Direction direction, const BundleKey& key) {
  if (!IsHex(key.key_hex, 32)) return InvalidArgument("AES key '" + key.key_hex + "' is not 32 hex digits");
  if (!IsHex(key.iv_hex, 32)) return InvalidArgument("AES IV '" + key.iv_hex + "' is not 32 hex digits");
  EUCA_ASSIGN_OR_RETURN(std::string k, HexDecode(key.key_hex));
  EUCA_ASSIGN_OR_RETURN(std::string iv, HexDecode(key.iv_hex));
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return Internal("allocate an AES context");
  std::unique_ptr<AesCbc> aes(new AesCbc(ctx, direction));
  if (EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), nullptr, reinterpret_cast<const unsigned char*>(k.data()),
                        reinterpret_cast<const unsigned char*>(iv.data()),
                        direction == Direction::kEncrypt ? 1 : 0) != 1) {
    ERR_clear_error();
    return Internal("initialize AES-128-CBC");
  }
  return aes;
}

AesCbc::~AesCbc() { EVP_CIPHER_CTX_free(ctx_); }

Result<size_t> AesCbc::Update(const uint8_t* in, size_t n, uint8_t* out) {
  size_t done = 0;
  // EVP takes int lengths; the pipeline's chunks are far below 2 GiB but stay safe.
  while (n > 0) {
    int chunk = static_cast<int>(std::min<size_t>(n, 1 << 30));
    int outl = 0;
    if (EVP_CipherUpdate(ctx_, out + done, &outl, in, chunk) != 1) {
      ERR_clear_error();
      return Internal("AES-128-CBC update");
    }
    done += static_cast<size_t>(outl);
    in += chunk;
    n -= static_cast<size_t>(chunk);
  }
  return done;
}

Result<size_t> AesCbc::Finish(uint8_t* out) {
  int outl = 0;
  if (EVP_CipherFinal_ex(ctx_, out, &outl) != 1) {
    ERR_clear_error();
    if (direction_ == Direction::kDecrypt)
      return InvalidArgument(
          "AES-128-CBC decryption failed at the end of the data (bad padding): "
          "the data is truncated or corrupt, or the key is wrong");
    return Internal("AES-128-CBC final block");
  }
  return static_cast<size_t>(outl);
}

Result<std::string> WrapForCertificate(const std::string& cert_pem, const std::string& text) {
  EUCA_ASSIGN_OR_RETURN(std::string enc, RsaEncryptPkcs1(cert_pem, text));
  return HexEncode(enc);
}

Result<std::string> UnwrapWithPrivateKey(const std::string& private_key_pem, const std::string& wrapped_hex) {
  EUCA_ASSIGN_OR_RETURN(std::string enc, HexDecode(wrapped_hex));
  EUCA_ASSIGN_OR_RETURN(std::string plain, RsaDecryptPkcs1(private_key_pem, enc));
  if (!IsHex(plain, 32)) return InvalidArgument("the decrypted value is not 32 hex digits");
  return plain;
}

}  // namespace euca::bundles
