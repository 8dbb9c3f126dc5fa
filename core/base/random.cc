#include "core/base/random.h"

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace euca {

namespace {

// RAND_bytes costs microseconds a call in OpenSSL 3 (parameter lookups, locks), and a server
// asks for a few small ids per request, so small requests are served from a per-thread
// block of CSPRNG output. Bytes handed out are wiped from the block. A forked child must not
// hand out what its parent will (or did): fork bumps a generation, and a block of an older
// generation is thrown away.
constexpr size_t kPoolBytes = 4096;
constexpr size_t kPooledRequestMax = 256;
std::atomic<uint64_t> fork_generation{0};

struct Pool {
  unsigned char bytes[kPoolBytes];
  size_t pos = kPoolBytes;  // bytes[pos..] are unused
  uint64_t generation = 0;
  ~Pool() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

void Fill(unsigned char* out, size_t n) {
  if (n > 0 && RAND_bytes(out, static_cast<int>(n)) != 1) std::abort();
}

}  // namespace

std::string RandomBytes(size_t n) {
  static const bool fork_handler = [] {
    ::pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
    return true;
  }();
  (void)fork_handler;
  std::string out(n, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  if (n > kPooledRequestMax) {
    Fill(dst, n);
    return out;
  }
  thread_local Pool pool;
  uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (pool.generation != generation) {
    OPENSSL_cleanse(pool.bytes, sizeof pool.bytes);
    pool.pos = kPoolBytes;
    pool.generation = generation;
  }
  size_t done = 0;
  while (done < n) {
    if (pool.pos == kPoolBytes) {
      Fill(pool.bytes, kPoolBytes);
      pool.pos = 0;
    }
    size_t k = std::min(n - done, kPoolBytes - pool.pos);
    std::memcpy(dst + done, pool.bytes + pool.pos, k);
    OPENSSL_cleanse(pool.bytes + pool.pos, k);
    pool.pos += k;
    done += k;
  }
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
