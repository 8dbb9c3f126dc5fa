#pragma once
// Helpers shared by the bundles tests (header-only; test binaries only).

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

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

}  // namespace euca::bundles::test_support
