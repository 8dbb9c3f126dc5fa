#include "core/base/random.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>

namespace euca {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) std::abort();
  return out;
}

namespace {
std::string FromAlphabet(size_t n, std::string_view alphabet) {
  std::string out;
  out.reserve(n);
  // Rejection sampling keeps the distribution uniform.
  const unsigned limit = 256 - (256 % alphabet.size());
  while (out.size() < n) {
    for (unsigned char c : RandomBytes(n)) {
      if (c >= limit) continue;
      out.push_back(alphabet[c % alphabet.size()]);
      if (out.size() == n) break;
    }
  }
  return out;
}
}  // namespace

std::string RandomHex(size_t n_hex) { return HexEncode(RandomBytes((n_hex + 1) / 2)).substr(0, n_hex); }
std::string RandomUpperAlnum(size_t n) { return FromAlphabet(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"); }
std::string RandomSecret(size_t n) {
  return FromAlphabet(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+");
}
std::string RandomDigits(size_t n) {
  if (n == 0) return {};
  return FromAlphabet(1, "123456789") + FromAlphabet(n - 1, "0123456789");
}

std::string HexEncode(const std::string& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Sha1Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  return HexEncode(std::string(reinterpret_cast<char*>(md), len));
}

}  // namespace euca
