#include "core/walrus/checksum.h"

#include <isa-l/crc.h>
#include <openssl/evp.h>

#include <array>
#include <cstdlib>

#include "core/api/digest.h"
#include "core/base/strings.h"

namespace euca::walrus {
namespace {

struct AlgorithmRow {
  ChecksumAlgorithm algorithm;
  std::string_view name;
  size_t bytes;  // of the raw checksum
};
constexpr AlgorithmRow kAlgorithms[] = {
    {ChecksumAlgorithm::kCrc32, "CRC32", 4},         {ChecksumAlgorithm::kCrc32c, "CRC32C", 4},
    {ChecksumAlgorithm::kCrc64Nvme, "CRC64NVME", 8}, {ChecksumAlgorithm::kSha1, "SHA1", 20},
    {ChecksumAlgorithm::kSha256, "SHA256", 32},
};

const AlgorithmRow& RowOf(ChecksumAlgorithm a) {
  for (const auto& row : kAlgorithms)
    if (row.algorithm == a) return row;
  abort();
}

// CRC-64/NVME (polynomial 0xad93d23594c93659, reflected, init and final xor all ones), by
// slicing eight bytes at a time; ISA-L of Debian 12 has no such function.
struct Crc64NvmeTables {
  std::array<std::array<uint64_t, 256>, 8> t{};
  Crc64NvmeTables() {
    constexpr uint64_t kReflectedPoly = 0x9a6c9329ac4bc9b5ULL;
    for (uint64_t i = 0; i < 256; ++i) {
      uint64_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kReflectedPoly : c >> 1;
      t[0][i] = c;
    }
    for (size_t i = 0; i < 256; ++i)
      for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
};

uint64_t Crc64Nvme(uint64_t crc, std::string_view data) {
  static const Crc64NvmeTables tables;
  const auto& t = tables.t;
  auto p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  crc = ~crc;
  while (n >= 8) {
    uint64_t v = crc;
    for (int i = 0; i < 8; ++i) v ^= static_cast<uint64_t>(p[i]) << (8 * i);
    crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^ t[4][(v >> 24) & 0xff] ^
          t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^ t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

// CRC combination (zlib's crc32_combine, for any reflected CRC of up to 64 bits whose initial
// value and final xor are equal): the CRC of A then B is the CRC of A advanced over len(B)
// zero bytes, xor the CRC of B. Advancing by 2^k zero bits is a linear map over GF(2), kept as
// a matrix of `width` columns and squared for each k.
uint64_t Gf2Times(const uint64_t* mat, uint64_t vec) {
  uint64_t sum = 0;
  for (; vec; vec >>= 1, ++mat)
    if (vec & 1) sum ^= *mat;
  return sum;
}

void Gf2Square(uint64_t* square, const uint64_t* mat, int width) {
  for (int n = 0; n < width; ++n) square[n] = Gf2Times(mat, mat[n]);
}

uint64_t CrcCombine(uint64_t crc1, uint64_t crc2, uint64_t len2, uint64_t reflected_poly, int width) {
  if (len2 == 0) return crc1;
  uint64_t even[64];
  uint64_t odd[64];
  odd[0] = reflected_poly;  // one zero bit
  uint64_t row = 1;
  for (int n = 1; n < width; ++n, row <<= 1) odd[n] = row;
  Gf2Square(even, odd, width);  // two zero bits
  Gf2Square(odd, even, width);  // four
  do {  // the first square gives one zero byte
    Gf2Square(even, odd, width);
    if (len2 & 1) crc1 = Gf2Times(even, crc1);
    len2 >>= 1;
    if (len2 == 0) break;
    Gf2Square(odd, even, width);
    if (len2 & 1) crc1 = Gf2Times(odd, crc1);
    len2 >>= 1;
  } while (len2 != 0);
  return crc1 ^ crc2;
}

/// The prefix of every x-amz-checksum-* header name.
constexpr std::string_view kChecksumPrefix = "x-amz-checksum-";

Status InvalidRequest(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message), "InvalidRequest");
}

}  // namespace

std::optional<ChecksumAlgorithm> ParseChecksumAlgorithm(std::string_view name) {
  for (const auto& row : kAlgorithms)
    if (EqualsIgnoreCase(row.name, name)) return row.algorithm;
  return std::nullopt;
}

std::string_view ChecksumName(ChecksumAlgorithm algorithm) { return RowOf(algorithm).name; }

std::string ChecksumHeader(ChecksumAlgorithm algorithm) {
  return std::string(kChecksumPrefix) + AsciiLower(RowOf(algorithm).name);
}

struct Checksummer::Digest {
  EVP_MD_CTX* md = nullptr;
  ~Digest() { EVP_MD_CTX_free(md); }
};

Checksummer::Checksummer(ChecksumAlgorithm algorithm) : algorithm_(algorithm) {
  if (algorithm == ChecksumAlgorithm::kSha1 || algorithm == ChecksumAlgorithm::kSha256) {
    digest_ = std::make_unique<Digest>();
    digest_->md = EVP_MD_CTX_new();
    const EVP_MD* md = algorithm == ChecksumAlgorithm::kSha1 ? EVP_sha1() : EVP_sha256();
    if (digest_->md == nullptr || EVP_DigestInit_ex(digest_->md, md, nullptr) != 1) abort();
  } else if (algorithm == ChecksumAlgorithm::kCrc32c) {
    crc_ = 0xffffffffu;
  }
}

Checksummer::~Checksummer() = default;

void Checksummer::Update(std::string_view data) {
  if (data.empty()) return;
  auto p = reinterpret_cast<const unsigned char*>(data.data());
  switch (algorithm_) {
    case ChecksumAlgorithm::kCrc32:
      crc_ = crc32_gzip_refl(static_cast<uint32_t>(crc_), p, data.size());
      break;
    case ChecksumAlgorithm::kCrc32c:
      crc_ = crc32_iscsi(const_cast<unsigned char*>(p), static_cast<int>(data.size()), static_cast<unsigned>(crc_));
      break;
    case ChecksumAlgorithm::kCrc64Nvme:
      crc_ = Crc64Nvme(crc_, data);
      break;
    case ChecksumAlgorithm::kSha1:
    case ChecksumAlgorithm::kSha256:
      if (EVP_DigestUpdate(digest_->md, data.data(), data.size()) != 1) abort();
      break;
  }
}

std::string Checksummer::FinalBase64() {
  std::string raw;
  auto big_endian = [&](uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) raw.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  switch (algorithm_) {
    case ChecksumAlgorithm::kCrc32:
      big_endian(crc_, 4);
      break;
    case ChecksumAlgorithm::kCrc32c:
      big_endian(crc_ ^ 0xffffffffu, 4);
      break;
    case ChecksumAlgorithm::kCrc64Nvme:
      big_endian(crc_, 8);
      break;
    case ChecksumAlgorithm::kSha1:
    case ChecksumAlgorithm::kSha256: {
      unsigned char out[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      if (EVP_DigestFinal_ex(digest_->md, out, &len) != 1) abort();
      raw.assign(reinterpret_cast<char*>(out), len);
      break;
    }
  }
  return api::Base64Encode(raw);
}

namespace {
// Calls `take` with each x-amz-checksum-ALGORITHM header's algorithm and value, in order;
// skips x-amz-checksum-type, -mode and -algorithm. NotImplemented for an algorithm not known
// here (S3's newer SHA512, MD5, XXHASH*), since it would not be checked.
template <typename Take>
Status ForEachChecksumHeader(const Headers& headers, Take&& take) {
  for (const auto& f : headers) {
    std::string name = AsciiLower(f.name);
    if (name.compare(0, kChecksumPrefix.size(), kChecksumPrefix) != 0) continue;
    const std::string_view rest = std::string_view(name).substr(kChecksumPrefix.size());
    auto a = ParseChecksumAlgorithm(rest);
    if (!a) {
      if (rest == "type" || rest == "mode" || rest == "algorithm") continue;
      return Status(Code::kUnsupported,
                    "the checksum '" + f.name +
                        "' is not implemented here; use x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 or -sha256",
                    "NotImplemented");
    }
    EUCA_RETURN_IF_ERROR(take(*a, f.value));
  }
  return Status::Ok();
}

Status OneAlgorithm(std::optional<ChecksumAlgorithm> first, ChecksumAlgorithm a) {
  if (first && *first != a) {
    return InvalidRequest("a request may carry one x-amz-checksum-* value, not " + std::string(ChecksumName(*first)) +
                          " and " + std::string(ChecksumName(a)));
  }
  return Status::Ok();
}

bool IsValueOf(ChecksumAlgorithm a, std::string_view base64) {
  auto raw = api::Base64Decode(base64);
  return raw.ok() && raw->size() == RowOf(a).bytes;
}
}  // namespace

Result<std::optional<ExpectedChecksum>> ExpectedChecksumOf(const Headers& headers) {
  std::optional<ExpectedChecksum> found;
  auto take = [&](ChecksumAlgorithm a, std::optional<std::string> value) -> Status {
    EUCA_RETURN_IF_ERROR(OneAlgorithm(found ? std::optional(found->algorithm) : std::nullopt, a));
    if (found && !value) return Status::Ok();  // a trailer declared beside its header
    if (value && !IsValueOf(a, *value)) {
      return InvalidRequest("value for " + ChecksumHeader(a) + " header is invalid: '" + *value + "'");
    }
    found = ExpectedChecksum{a, std::move(value)};
    return Status::Ok();
  };
  EUCA_RETURN_IF_ERROR(
      ForEachChecksumHeader(headers, [&](ChecksumAlgorithm a, const std::string& value) { return take(a, value); }));
  if (const std::string* trailer = headers.Find("x-amz-trailer")) {
    std::string name = AsciiLower(*trailer);
    std::optional<ChecksumAlgorithm> a;
    if (name.compare(0, kChecksumPrefix.size(), kChecksumPrefix) == 0)
      a = ParseChecksumAlgorithm(std::string_view(name).substr(kChecksumPrefix.size()));
    if (!a) return InvalidRequest("the trailer '" + *trailer + "' is not an x-amz-checksum-* this server knows");
    EUCA_RETURN_IF_ERROR(take(*a, std::nullopt));
  }
  return found;
}

Result<std::optional<StoredChecksum>> ObjectChecksumOf(const Headers& headers) {
  std::optional<StoredChecksum> found;
  EUCA_RETURN_IF_ERROR(ForEachChecksumHeader(headers, [&](ChecksumAlgorithm a, const std::string& value) -> Status {
    EUCA_RETURN_IF_ERROR(OneAlgorithm(found ? std::optional(found->algorithm) : std::nullopt, a));
    // base64 of the algorithm's size, then "-N" (1 <= N <= 10000) for a COMPOSITE checksum.
    std::string_view v = value;
    size_t dash = v.find('-');
    bool ok = IsValueOf(a, v.substr(0, dash));
    if (ok && dash != std::string_view::npos) {
      std::string_view n = v.substr(dash + 1);
      ok = !n.empty() && n.size() <= 5 && n[0] != '0' &&
           n.find_first_not_of("0123456789") == std::string_view::npos && std::stoi(std::string(n)) <= 10000;
    }
    if (!ok) return InvalidRequest("value for " + ChecksumHeader(a) + " header is invalid: '" + value + "'");
    found = StoredChecksum{a, value};
    return Status::Ok();
  }));
  return found;
}

bool IsCrc(ChecksumAlgorithm a) {
  return a == ChecksumAlgorithm::kCrc32 || a == ChecksumAlgorithm::kCrc32c || a == ChecksumAlgorithm::kCrc64Nvme;
}

std::string_view MultipartChecksumType(ChecksumAlgorithm algorithm, std::string_view requested) {
  if (!requested.empty()) return requested;
  return algorithm == ChecksumAlgorithm::kCrc64Nvme ? "FULL_OBJECT" : "COMPOSITE";
}

std::string FormatStoredChecksum(const StoredChecksum& c) { return std::string(ChecksumName(c.algorithm)) + ":" + c.value; }

std::optional<StoredChecksum> ParseStoredChecksum(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return std::nullopt;
  auto a = ParseChecksumAlgorithm(text.substr(0, colon));
  if (!a) return std::nullopt;
  return StoredChecksum{*a, std::string(text.substr(colon + 1))};
}

namespace {
Result<std::string> RawChecksum(ChecksumAlgorithm a, const std::string& value) {
  auto raw = api::Base64Decode(value);
  if (!raw.ok() || raw->size() != RowOf(a).bytes) {
    return InvalidRequest("'" + value + "' is not a " + std::string(ChecksumName(a)) + " checksum (base64)");
  }
  return *std::move(raw);
}
}  // namespace

Result<std::string> CompositeChecksum(ChecksumAlgorithm a, const std::vector<std::string>& parts) {
  Checksummer sum(a);
  for (const auto& p : parts) {
    EUCA_ASSIGN_OR_RETURN(std::string raw, RawChecksum(a, p));
    sum.Update(raw);
  }
  return sum.FinalBase64() + "-" + std::to_string(parts.size());
}

Result<std::string> CombineCrcs(ChecksumAlgorithm a, const std::vector<std::pair<std::string, uint64_t>>& parts) {
  if (!IsCrc(a)) return InvalidRequest("a full-object checksum of a multipart upload needs a CRC, not " + std::string(ChecksumName(a)));
  const int width = a == ChecksumAlgorithm::kCrc64Nvme ? 64 : 32;
  const uint64_t poly = a == ChecksumAlgorithm::kCrc32    ? 0xedb88320ULL
                        : a == ChecksumAlgorithm::kCrc32c ? 0x82f63b78ULL
                                                          : 0x9a6c9329ac4bc9b5ULL;
  uint64_t crc = 0;
  bool first = true;
  for (const auto& [value, size] : parts) {
    EUCA_ASSIGN_OR_RETURN(std::string raw, RawChecksum(a, value));
    uint64_t v = 0;
    for (unsigned char c : raw) v = (v << 8) | c;
    crc = first ? v : CrcCombine(crc, v, size, poly, width);
    first = false;
  }
  std::string out;
  for (int i = width / 8 - 1; i >= 0; --i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return api::Base64Encode(out);
}

Status CheckChecksum(ChecksumAlgorithm algorithm, const std::string& expected, const std::string& computed) {
  if (expected == computed) return Status::Ok();
  return Status(Code::kInvalidArgument,
                "the " + std::string(ChecksumName(algorithm)) + " you specified (" + expected +
                    ") did not match the calculated checksum (" + computed + ")",
                "BadDigest");
}

}  // namespace euca::walrus
