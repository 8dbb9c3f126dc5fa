#pragma once
// Helpers shared by the bundles tests (header-only; test binaries only).

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include "bundles/crypto.h"
#include "bundles/gzip.h"
#include "bundles/manifest.h"
#include "bundles/tar.h"
#include "core/base/pki.h"
#include "core/base/strings.h"

namespace euca::bundles::test_support {

/// Keys and certificates for the tests, made once per process with core/base/pki.h: a cloud
/// CA, a user certificate it issued, and a stranger's key and certificate.
struct TestPki {
  std::string ca_key, ca_cert;      // the cloud's key and certificate
  std::string user_key, user_cert;  // issued by the cloud CA
  std::string other_key, other_cert;

  static const TestPki& Get() {
    static const TestPki* pki = [] {
      auto* p = new TestPki;
      p->ca_key = *GenerateRsaKeyPem(2048);
      p->ca_cert = *CreateCaCertificatePem(p->ca_key, {.common_name = "euca cloud", .days = 3650});
      p->user_key = *GenerateRsaKeyPem(2048);
      p->user_cert = *IssueCertificatePem(p->user_key, p->ca_cert, p->ca_key, {.common_name = "alice"});
      p->other_key = *GenerateRsaKeyPem(2048);
      p->other_cert = *IssueCertificatePem(p->other_key, p->ca_cert, p->ca_key, {.common_name = "mallory"});
      return p;
    }();
    return *pki;
  }
};

/// A fresh temporary folder, removed with everything in it at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "euca-bundles-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// Bytes that look like an image: text, binary-ish structure, random runs and zero runs.
inline std::string MixedBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out;
  out.reserve(n);
  static const char* words[] = {"kernel ", "euca ", "instance ", "volume ", "bundle ", "\n", "0x7fff ", "root "};
  while (out.size() < n) {
    switch (rng() % 4) {
      case 0:
        for (int i = 0; i < 200; ++i) out += words[rng() % 8];
        break;
      case 1:
        for (int i = 0; i < 20000; ++i) out.push_back(static_cast<char>(rng()));
        break;
      case 2:
        out.append(4096 + rng() % 70000, '\0');
        break;
      default:
        for (int i = 0; i < 2000; ++i) out.push_back(static_cast<char>(i % 251));
    }
  }
  out.resize(n);
  return out;
}

/// Runs a shell command; returns its exit status and puts stdout+stderr in *output.
inline int Shell(const std::string& command, std::string* output = nullptr) {
  std::string cmd = "(" + command + ") 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  if (output != nullptr) *output = out;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/// Single-quoted for the shell.
inline std::string Quote(const std::string& s) { return ShellQuote(s); }

/// A tar stream of the member header `h` (its checksum filled in here) and `data`.
inline std::string OneMemberTar(std::string h, const std::string& data) {
  std::fill(h.begin() + 148, h.begin() + 156, ' ');
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(&h[148], 8, "%06o", sum);
  h[155] = ' ';
  std::string tar = h + data;
  tar.append((kTarBlock - data.size() % kTarBlock) % kTarBlock, '\0');
  tar.append(TarTrailerSize(tar.size()), '\0');
  return tar;
}

/// A tar stream of one member named `name` (any bytes, even "../x") of type `type` ('0'
/// regular, '2' symlink, ...) holding `data`: what a hostile bundler could make.
inline std::string RawTar(const std::string& name, const std::string& data, char type = '0') {
  std::string h = *TarMemberHeader("placeholder", data.size(), 0);
  std::fill(h.begin(), h.begin() + 100, '\0');
  std::copy(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(name.size(), 100)), h.begin());
  h[156] = type;
  return OneMemberTar(std::move(h), data);
}

/// A tar stream of one old-GNU sparse member ('S') named `name` whose header claims the
/// logical size `real_size` and whose sparse map puts `data` at `offset`: how a small bundle
/// can claim a huge (or inconsistent) image.
inline std::string GnuSparseTar(const std::string& name, uint64_t real_size, uint64_t offset,
                                const std::string& data) {
  // A 12-byte number field: octal, or base-256 (GNU) when it needs more than 11 digits.
  auto number = [](std::string& h, size_t at, uint64_t v) {
    if (v < (uint64_t{1} << 33)) {
      std::snprintf(&h[at], 12, "%011llo", static_cast<unsigned long long>(v));
      return;
    }
    h[at] = static_cast<char>(0x80);
    for (int i = 11; i >= 1; --i, v >>= 8) h[at + i] = static_cast<char>(v & 0xff);
  };
  std::string h(kTarBlock, '\0');
  std::copy(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(name.size(), 99)), h.begin());
  std::snprintf(&h[100], 8, "%07o", 0644);
  std::snprintf(&h[108], 8, "%07o", 0);
  std::snprintf(&h[116], 8, "%07o", 0);
  number(h, 124, data.size());  // the bytes stored
  number(h, 136, 0);            // mtime
  h[156] = 'S';
  std::memcpy(&h[257], "ustar  ", 8);  // GNU magic and version
  number(h, 386, offset);               // sparse[0].offset
  number(h, 398, data.size());          // sparse[0].numbytes
  h[482] = 0;                           // no extension block
  number(h, 483, real_size);
  return OneMemberTar(std::move(h), data);
}

/// A one-part bundle PREFIX.part.00 + PREFIX.manifest.xml in `dir` of an arbitrary tar stream,
/// gzipped, encrypted for the test cloud and user, and signed by the test user (as
/// BundleImage would, but with no check of the tar). `digest` overrides the tar SHA-1 the
/// manifest states. Returns the manifest path.
/// With `block_size` > 0 the tar is compressed in blocks of that size and the manifest gets
/// their deflate index; `crc_xor` spoils the gzip trailer's CRC-32.
inline std::string BundleOfTar(const std::string& tar, const std::string& dir, const std::string& prefix,
                               uint64_t image_size, const std::string& digest = {}, size_t block_size = 0,
                               uint32_t crc_xor = 0) {
  const TestPki& pki = TestPki::Get();
  DeflateBlockCompressor deflate(1);
  std::string gz = GzipHeader();
  DeflateIndex index;
  const size_t step = block_size > 0 ? block_size : std::max<size_t>(tar.size(), 1);
  for (size_t at = 0; at < tar.size() || at == 0; at += step) {
    const size_t len = std::min(step, tar.size() - at);
    std::string block(DeflateBlockCompressor::Bound(len), '\0');
    size_t n = *deflate.Compress(reinterpret_cast<const uint8_t*>(tar.data()) + at, len,
                                 reinterpret_cast<uint8_t*>(block.data()), block.size());
    gz += block.substr(0, n);
    index.sizes.push_back(static_cast<uint32_t>(n));
    if (len == 0) break;
  }
  if (block_size > 0) {
    index.block_size = block_size;
  } else {
    index.sizes.clear();
  }
  gz += GzipTrailer(Crc32(0, reinterpret_cast<const uint8_t*>(tar.data()), tar.size()) ^ crc_xor, tar.size());
  BundleKey key = NewBundleKey();
  auto aes = std::move(AesCbc::Create(AesCbc::Direction::kEncrypt, key)).value();
  std::string cipher(gz.size() + 32, '\0');
  size_t c = *aes->Update(reinterpret_cast<const uint8_t*>(gz.data()), gz.size(), reinterpret_cast<uint8_t*>(cipher.data()));
  c += *aes->Finish(reinterpret_cast<uint8_t*>(cipher.data()) + c);
  cipher.resize(c);
  Manifest m;
  m.name = prefix;
  m.user = "123456789012";
  Sha1 tar_sha;
  tar_sha.Update(tar.data(), tar.size());
  m.digest = digest.empty() ? tar_sha.FinishHex() : digest;
  m.size = image_size;
  m.deflate_index = index;
  m.bundled_size = cipher.size();
  m.ec2_encrypted_key = *WrapForCertificate(pki.ca_cert, key.key_hex);
  m.ec2_encrypted_iv = *WrapForCertificate(pki.ca_cert, key.iv_hex);
  m.user_encrypted_key = *WrapForCertificate(pki.user_cert, key.key_hex);
  m.user_encrypted_iv = *WrapForCertificate(pki.user_cert, key.iv_hex);
  Sha1 part_sha;
  part_sha.Update(cipher.data(), cipher.size());
  m.parts.push_back({prefix + ".part.00", part_sha.FinishHex()});
  WriteFile(dir + "/" + prefix + ".part.00", cipher);
  std::string manifest = dir + "/" + prefix + ".manifest.xml";
  WriteFile(manifest, *SignedManifestXml(m, pki.user_key));
  return manifest;
}

}  // namespace euca::bundles::test_support
