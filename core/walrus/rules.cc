#include "core/walrus/rules.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

#include "core/base/random.h"

namespace euca::walrus {
namespace {

Status InvalidBucketName(std::string_view name, std::string_view why) {
  return Status(Code::kInvalidArgument, "invalid bucket name '" + std::string(name) + "': " + std::string(why),
                "InvalidBucketName");
}

bool IsIpAddress(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t dot = s.find('.', i);
    if (dot == std::string_view::npos) dot = s.size();
    std::string_view p = s.substr(i, dot - i);
    if (p.empty() || p.size() > 3) return false;
    for (char c : p)
      if (c < '0' || c > '9') return false;
    ++parts;
    i = dot + 1;
  }
  return parts == 4;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses a decimal uint64; nullopt on anything else (signs, overflow, empty).
std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

Status ValidateBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return InvalidBucketName(name, "use 3 to 63 characters");
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
      return InvalidBucketName(name, "use only lower-case letters, digits, '.' and '-'");
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back()))
    return InvalidBucketName(name, "start and end with a letter or digit");
  if (name.find("..") != std::string_view::npos || name.find(".-") != std::string_view::npos ||
      name.find("-.") != std::string_view::npos)
    return InvalidBucketName(name, "no '..', '.-' or '-.'");
  if (IsIpAddress(name)) return InvalidBucketName(name, "must not look like an IP address");
  if (name.substr(0, 4) == "xn--" || name.substr(0, 7) == "sthree-")
    return InvalidBucketName(name, "the prefixes 'xn--' and 'sthree-' are reserved");
  if (EndsWith(name, "-s3alias") || EndsWith(name, "--ol-s3"))
    return InvalidBucketName(name, "the suffixes '-s3alias' and '--ol-s3' are reserved");
  return Status::Ok();
}

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Status(Code::kInvalidArgument, "an object key must not be empty", "InvalidArgument");
  if (key.size() > kMaxKeyBytes)
    return Status(Code::kInvalidArgument, "object key is " + std::to_string(key.size()) + " bytes; the limit is 1024",
                  "KeyTooLongError");
  return Status::Ok();
}

Md5::Md5() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_md5(), nullptr) != 1) std::abort();
}

Md5::~Md5() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Md5::Update(std::string_view data) { EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()); }

std::string Md5::Final() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::optional<std::string> Base64Decode(std::string_view text) {
  static constexpr std::array<int8_t, 256> kTable = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  if (text.size() % 4) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=') {
        // Padding only in the last group's last one or two places.
        if (i + 4 != text.size() || j < 2) return std::nullopt;
        ++pad;
        v[j] = 0;
        continue;
      }
      if (pad) return std::nullopt;
      v[j] = kTable[static_cast<unsigned char>(c)];
      if (v[j] < 0) return std::nullopt;
    }
    uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                 (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[n & 63] : '=');
  }
  return out;
}

std::string SinglePartEtag(const std::string& md5) { return "\"" + HexEncode(md5) + "\""; }

std::string MultipartEtag(const std::vector<std::string>& part_md5s) {
  Md5 md5;
  for (const auto& m : part_md5s) md5.Update(m);
  return "\"" + HexEncode(md5.Final()) + "-" + std::to_string(part_md5s.size()) + "\"";
}

std::string_view BareEtag(std::string_view etag) {
  etag = Trim(etag);
  if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

std::optional<std::string> EtagMd5(std::string_view etag) {
  std::string_view hex = BareEtag(etag);
  if (hex.size() != 32) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < 32; i += 2) {
    int v = 0;
    for (size_t j = i; j < i + 2; ++j) {
      char c = hex[j];
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    out.push_back(static_cast<char>(v));
  }
  return out;
}

Result<std::optional<ByteRange>> ResolveRange(std::string_view header, uint64_t size) {
  std::string_view spec = Trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (spec.size() < kUnit.size()) return std::optional<ByteRange>();
  for (size_t i = 0; i < kUnit.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(spec[i])) != kUnit[i]) return std::optional<ByteRange>();
  spec = Trim(spec.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return std::optional<ByteRange>();  // several ranges: ignored
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::optional<ByteRange>();
  std::string_view a = Trim(spec.substr(0, dash));
  std::string_view b = Trim(spec.substr(dash + 1));
  auto unsatisfiable = [&] {
    return Status(
        Code::kInvalidArgument,
        "range '" + std::string(header) + "' is not satisfiable for an object of " + std::to_string(size) + " bytes",
        "InvalidRange");
  };
  if (a.empty()) {  // suffix: the last N bytes
    auto n = ParseU64(b);
    if (!n) return std::optional<ByteRange>();
    if (*n == 0 || size == 0) return unsatisfiable();
    uint64_t take = std::min(*n, size);
    return std::optional<ByteRange>(ByteRange{size - take, size - 1});
  }
  auto first = ParseU64(a);
  if (!first) return std::optional<ByteRange>();
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto l = ParseU64(b);
    if (!l || *l < *first) return std::optional<ByteRange>();
    last = std::min(*l, last);
  }
  if (*first >= size) return unsatisfiable();
  return std::optional<ByteRange>(ByteRange{*first, last});
}

bool EtagListMatches(std::string_view list, std::string_view etag) {
  std::string_view want = BareEtag(etag);
  size_t i = 0;
  while (i <= list.size()) {
    size_t comma = list.find(',', i);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = Trim(list.substr(i, comma - i));
    if (item == "*") return true;
    if (!item.empty() && BareEtag(item) == want) return true;
    i = comma + 1;
  }
  return false;
}

Precondition EvaluateConditions(const Conditions& c, std::string_view etag, int64_t modified_ms, int64_t now_ms) {
  int64_t modified_s = modified_ms / 1000;
  if (c.if_match) {
    if (!EtagListMatches(*c.if_match, etag)) return Precondition::kFailed;
  } else if (c.if_unmodified_since_ms && modified_s > *c.if_unmodified_since_ms / 1000) {
    return Precondition::kFailed;
  }
  if (c.if_none_match) {
    if (EtagListMatches(*c.if_none_match, etag)) return Precondition::kNotModified;
  } else if (c.if_modified_since_ms && *c.if_modified_since_ms <= now_ms &&
             modified_s <= *c.if_modified_since_ms / 1000) {
    return Precondition::kNotModified;
  }
  return Precondition::kProceed;
}

Status PreconditionFailed(std::string message) {
  return Status(Code::kConflict, std::move(message), "PreconditionFailed");
}

}  // namespace euca::walrus

namespace euca::walrus {

Result<std::string> DecodeContentMd5(std::string_view header) {
  auto raw = Base64Decode(header);
  if (!raw || raw->size() != 16) {
    return Status(Code::kInvalidArgument,
                  "Content-MD5 '" + std::string(header) + "' is not the base64 of a 16-byte MD5", "InvalidDigest");
  }
  return *std::move(raw);
}

}  // namespace euca::walrus
