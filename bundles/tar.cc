#include "bundles/tar.h"

#include <cstdio>
#include <cstring>

namespace euca::bundles {
namespace {

constexpr uint64_t kMaxOctal11 = 077777777777ull;  // 8 GiB - 1

// `value` as `width - 1` zero-padded octal digits and a NUL.
void PutOctal(char* field, size_t width, uint64_t value) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
}

std::string UstarBlock(const std::string& name, uint64_t size, int64_t mtime, char type) {
  char h[kTarBlock];
  std::memset(h, 0, sizeof h);
  std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
  PutOctal(h + 100, 8, 0644);
  PutOctal(h + 108, 8, 0);
  PutOctal(h + 116, 8, 0);
  PutOctal(h + 124, 12, size);
  PutOctal(h + 136, 12, static_cast<uint64_t>(mtime < 0 ? 0 : std::min<int64_t>(mtime, kMaxOctal11)));
  std::memset(h + 148, ' ', 8);  // checksum is computed with its own field as spaces
  h[156] = type;
  std::memcpy(h + 257, "ustar", 6);  // magic "ustar\0"
  std::memcpy(h + 263, "00", 2);     // version
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);  // six digits, NUL, and the space already there
  h[155] = ' ';
  return std::string(h, sizeof h);
}

// One pax record: "<len> <key>=<value>\n" where <len> counts the whole record.
std::string PaxRecord(const std::string& key, const std::string& value) {
  size_t body = 1 + key.size() + 1 + value.size() + 1;  // " key=value\n"
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + key + "=" + value + "\n";
}

}  // namespace

Result<std::string> TarMemberHeader(const std::string& name, uint64_t size, int64_t mtime) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    return InvalidArgument("tar member name '" + name + "' must be a plain file name");
  std::string pax;
  if (name.size() > 100) pax += PaxRecord("path", name);
  if (size > kMaxOctal11) pax += PaxRecord("size", std::to_string(size));
  std::string out;
  if (!pax.empty()) {
    std::string pax_name = "PaxHeaders/" + name.substr(0, 89);
    out += UstarBlock(pax_name, pax.size(), mtime, 'x');
    out += pax;
    out.append((kTarBlock - pax.size() % kTarBlock) % kTarBlock, '\0');
  }
  // With a pax size record, the ustar size field holds 0 (Python's tarfile does the same).
  out += UstarBlock(name, size > kMaxOctal11 ? 0 : size, mtime, '0');
  return out;
}

uint64_t TarTrailerSize(uint64_t stream_bytes) {
  uint64_t pad = (kTarBlock - stream_bytes % kTarBlock) % kTarBlock;
  uint64_t end = stream_bytes + pad + 2 * kTarBlock;
  return pad + 2 * kTarBlock + (kTarRecord - end % kTarRecord) % kTarRecord;
}

}  // namespace euca::bundles
