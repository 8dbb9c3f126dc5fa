// bench/bundle: bundle and unbundle a 1 GiB image-like file beside the shell pipeline
//   tar | gzip -6 | openssl enc -aes-128-cbc | split -b 10M       (bundle)
//   cat parts | openssl enc -d -aes-128-cbc | gunzip | tar x      (unbundle)
// in one run, and print a markdown table: MB/s of both, the ratio, and the peak RSS of ours.
// Goals (issue 3): >= 8x the shell pipeline both ways; peak RSS <= 64 MiB.
//
// The image is a real ext4 file system (mke2fs -d) filled with a mix of program files from
// /usr/lib and /usr/bin, text from /usr/include and /usr/share, random data (standing in
// for already-compressed files) and free space (zeros), written densely (no holes), so that
// both sides read every byte and gzip -6 compresses it 2-3x. It is built once and kept in
// the work folder between runs.
//
// Each of our operations runs in a child process (this binary re-executed) so that its peak
// RSS (ru_maxrss from wait4) is its own. The shell pipeline runs with bash. Every variant
// runs --runs times (default 2) and the best time counts; the machine is shared and noisy.
//
// Unbundle is measured twice: as euca-unbundle runs (the manifest signature verified, so the
// tar stream's SHA-1 is not recomputed; docs/bundle-format.md) and with the tar SHA-1
// recomputed (UnbundleOptions::always_check_tar_digest), as it was before.
//
// Usage: bench_bundle [--size-mib 1024] [--work DIR] [--runs N] [--no-pigz] [--prepare-only]
// --prepare-only builds the image and the keys and stops, for measuring one child alone:
//   perf stat -e task-clock bench_bundle --child unbundle WORK WORK/ours/image.img.manifest.xml OUT

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bundles/bundle.h"
#include "core/base/pki.h"
#include "core/base/random.h"

namespace {

namespace fs = std::filesystem;
using euca::bundles::BundleImage;
using euca::bundles::BundleOptions;
using euca::bundles::Unbundle;
using euca::bundles::UnbundleOptions;

struct Timing {
  double seconds = 0;
  double cpu_seconds = 0;  // user + system of the child and everything it waited for
  long max_rss_kib = 0;
  int status = 0;
};

void Die(const std::string& what) {
  std::fprintf(stderr, "bench_bundle: %s\n", what.c_str());
  std::exit(1);
}

std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// Runs argv in a child and reports wall time and the child's peak RSS.
Timing RunChild(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    ::execv(args[0], args.data());
    std::_Exit(127);
  }
  int status = 0;
  struct rusage ru {};
  if (::wait4(pid, &status, 0, &ru) < 0) Die("wait4 failed");
  auto t1 = std::chrono::steady_clock::now();
  Timing t;
  t.seconds = std::chrono::duration<double>(t1 - t0).count();
  t.max_rss_kib = ru.ru_maxrss;
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  t.cpu_seconds = secs(ru.ru_utime) + secs(ru.ru_stime);
  t.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return t;
}

Timing Shell(const std::string& script) { return RunChild({"/bin/bash", "-o", "pipefail", "-c", script}); }

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied))
    if (e.is_regular_file() && !e.is_symlink()) n += e.file_size();
  return n;
}

bool LooksCompressed(const fs::path& p) {
  static const char* exts[] = {".gz", ".xz", ".bz2", ".zst", ".lz4", ".png", ".jpg", ".zip", ".jar", ".deb"};
  std::string e = p.extension().string();
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* x) { return e == x; });
}

// Copies regular files under `roots` into `dest` until `budget` bytes; `text` keeps files
// without NUL bytes in their first 4 KiB, otherwise files with them (binaries).
void CopyFiles(const std::vector<std::string>& roots, const std::string& dest, uint64_t budget, bool text) {
  uint64_t copied = 0;
  int n = 0;
  for (const auto& root : roots) {
    if (!fs::exists(root)) continue;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied);
         it != fs::recursive_directory_iterator(); ++it) {
      if (copied >= budget) return;
      std::error_code ec;
      if (!it->is_regular_file(ec) || it->is_symlink(ec) || LooksCompressed(it->path())) continue;
      uint64_t size = it->file_size(ec);
      if (ec || size == 0 || size > 64 << 20) continue;
      std::ifstream f(it->path(), std::ios::binary);
      char head[4096];
      f.read(head, sizeof head);
      bool has_nul = std::memchr(head, 0, static_cast<size_t>(f.gcount())) != nullptr;
      if (has_nul == text) continue;
      fs::path to =
          fs::path(dest) / std::to_string(n / 500) / (std::to_string(n) + "-" + it->path().filename().string());
      fs::create_directories(to.parent_path());
      fs::copy_file(it->path(), to, fs::copy_options::overwrite_existing, ec);
      if (!ec) {
        copied += size;
        ++n;
      }
    }
  }
}

// The image-like file: an ext4 file system with mixed content, written densely.
std::string BuildImage(const std::string& work, uint64_t size_mib) {
  std::string image = work + "/image.img";
  std::error_code ec;
  if (fs::exists(image) && fs::file_size(image) == size_mib << 20) return image;
  std::fprintf(stderr, "building a %llu MiB ext4 image in %s ...\n", static_cast<unsigned long long>(size_mib),
               work.c_str());
  std::string tree = work + "/tree";
  fs::remove_all(tree, ec);
  fs::create_directories(tree);
  const uint64_t mib = 1 << 20;
  // About 78% full: 34% programs, 15% text, 29% random; the rest is file system and zeros.
  CopyFiles({"/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/bin", "/usr/libexec"}, tree + "/bin",
            size_mib * mib * 34 / 100, false);
  CopyFiles({"/usr/include", "/usr/share", "/usr/lib/python3"}, tree + "/text", size_mib * mib * 15 / 100, true);
  fs::create_directories(tree + "/random");
  std::mt19937_64 rng(42);
  uint64_t random_bytes = size_mib * mib * 29 / 100;
  for (uint64_t i = 0; i * 8 * mib < random_bytes; ++i) {
    std::string chunk = euca::RandomBytes(static_cast<size_t>(std::min<uint64_t>(8 * mib, random_bytes - i * 8 * mib)));
    WriteText(tree + "/random/blob" + std::to_string(i), chunk);
  }
  std::fprintf(stderr, "  content: %.0f MiB\n", static_cast<double>(DirBytes(tree)) / mib);
  std::string sparse = work + "/image.sparse";
  std::string cmd = "rm -f " + Quote(sparse) + " && truncate -s " + std::to_string(size_mib) + "M " + Quote(sparse) +
                    " && mke2fs -q -F -t ext4 -b 4096 -d " + Quote(tree) + " " + Quote(sparse) +
                    " && cp --sparse=never " + Quote(sparse) + " " + Quote(image + ".tmp") + " && mv " +
                    Quote(image + ".tmp") + " " + Quote(image) + " && rm -f " + Quote(sparse);
  if (Shell(cmd).status != 0) Die("building the image failed: " + cmd);
  fs::remove_all(tree, ec);
  return image;
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) Die("readlink /proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}

// Child modes: bundle or unbundle with the keys in `work`; exit status 0 on success.
int ChildMain(const std::string& mode, const std::string& work, const std::string& a, const std::string& b) {
  if (mode == "bundle") {
    BundleOptions o;
    o.image_path = a;
    o.destination_dir = b;
    o.prefix = "image.img";
    o.account_id = "123456789012";
    o.user_cert_pem = ReadText(work + "/user.crt");
    o.user_private_key_pem = ReadText(work + "/user.key");
    o.cloud_cert_pem = ReadText(work + "/cloud.crt");
    auto r = BundleImage(o);
    if (!r.ok()) {
      std::fprintf(stderr, "bundle: %s\n", r.status().ToString().c_str());
      return 1;
    }
    return 0;
  }
  UnbundleOptions o;
  o.manifest_path = a;
  o.destination_dir = b;
  o.private_key_pem = ReadText(work + "/user.key");
  o.cert_pem = ReadText(work + "/user.crt");
  o.always_check_tar_digest = mode == "unbundle-tar-sha1";
  auto r = Unbundle(o);
  if (!r.ok()) {
    std::fprintf(stderr, "unbundle: %s\n", r.status().ToString().c_str());
    return 1;
  }
  return 0;
}

uint64_t PartsBytes(const std::string& dir, const std::string& prefix) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix + ".part.", 0) == 0) n += e.file_size();
  return n;
}

Timing Best(int runs, const std::function<void()>& before, const std::function<Timing()>& run, const char* what) {
  Timing best;
  for (int i = 0; i < runs; ++i) {
    before();
    Timing t = run();
    if (t.status != 0) Die(std::string(what) + " failed with status " + std::to_string(t.status));
    std::fprintf(stderr, "  %-28s run %d: %.2f s, %.2f CPU s, max RSS %ld KiB\n", what, i + 1, t.seconds, t.cpu_seconds,
                 t.max_rss_kib);
    if (i == 0 || t.seconds < best.seconds) best = t;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && std::string(argv[1]) == "--child") return ChildMain(argv[2], argv[3], argv[4], argv[5]);
  uint64_t size_mib = 1024;
  std::string work = "/var/tmp/euca-bench-bundle";
  int runs = 2;
  bool pigz = true;
  bool prepare_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--size-mib" && i + 1 < argc)
      size_mib = std::stoull(argv[++i]);
    else if (a == "--work" && i + 1 < argc)
      work = argv[++i];
    else if (a == "--runs" && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--no-pigz")
      pigz = false;
    else if (a == "--prepare-only")
      prepare_only = true;
    else
      Die("usage: bench_bundle [--size-mib N] [--work DIR] [--runs N] [--no-pigz] [--prepare-only]");
  }
  fs::create_directories(work);
  std::string image = BuildImage(work, size_mib);
  const double mb = static_cast<double>(fs::file_size(image)) / 1e6;

  auto ca_key = euca::GenerateRsaKeyPem(2048);
  auto ca_cert = euca::CreateCaCertificatePem(*ca_key, {.common_name = "bench cloud"});
  auto user_key = euca::GenerateRsaKeyPem(2048);
  auto user_cert = euca::IssueCertificatePem(*user_key, *ca_cert, *ca_key, {.common_name = "bench user"});
  WriteText(work + "/cloud.crt", *ca_cert);
  WriteText(work + "/user.crt", *user_cert);
  WriteText(work + "/user.key", *user_key);
  if (prepare_only) {
    // For profiling one side alone: bench_bundle --child bundle|unbundle WORK IN OUT.
    std::printf("%s\n", image.c_str());
    return 0;
  }

  const std::string ours = work + "/ours", shell = work + "/shell", out = work + "/out";
  auto reset = [&](const std::string& dir) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir);
  };
  const std::string key = euca::RandomHex(32), iv = euca::RandomHex(32);
  const std::string img_dir = fs::path(image).parent_path().string();
  const std::string img_name = fs::path(image).filename().string();
  std::string self = SelfExe();
  std::fprintf(stderr, "measuring (%d runs each, best counts) ...\n", runs);

  auto shell_bundle = [&](const std::string& gzip) {
    return Shell("tar -c -C " + Quote(img_dir) + " -f - " + Quote(img_name) + " | " + gzip +
                 " | openssl enc -e -aes-128-cbc -K " + key + " -iv " + iv + " | split -b 10M - " +
                 Quote(shell + "/image.img.part."));
  };
  Timing sb = Best(
      runs, [&] { reset(shell); }, [&] { return shell_bundle("gzip -6"); }, "shell bundle (gzip -6)");
  uint64_t shell_bytes = PartsBytes(shell, "image.img");
  Timing su = Best(
      runs, [&] { reset(out); },
      [&] {
        return Shell("cat " + Quote(shell) + "/image.img.part.* | openssl enc -d -aes-128-cbc -K " + key + " -iv " +
                     iv + " | gunzip | tar -x -C " + Quote(out));
      },
      "shell unbundle (gunzip)");
  Timing pb, pu;
  if (pigz) {
    pb = Best(
        runs, [&] { reset(shell); }, [&] { return shell_bundle("pigz -6"); }, "shell bundle (pigz -6)");
    pu = Best(
        runs, [&] { reset(out); },
        [&] {
          return Shell("cat " + Quote(shell) + "/image.img.part.* | openssl enc -d -aes-128-cbc -K " + key + " -iv " +
                       iv + " | pigz -d | tar -x -C " + Quote(out));
        },
        "shell unbundle (pigz -d)");
  }
  Timing eb = Best(
      runs, [&] { reset(ours); },
      [&] {
        return RunChild({self, "--child", "bundle", work, image, ours});
      },
      "euca bundle");
  uint64_t our_bytes = PartsBytes(ours, "image.img");
  Timing eu = Best(
      runs, [&] { reset(out); },
      [&] {
        return RunChild({self, "--child", "unbundle", work, ours + "/image.img.manifest.xml", out});
      },
      "euca unbundle");
  if (Shell("cmp " + Quote(image) + " " + Quote(out + "/image.img")).status != 0) Die("unbundled image differs");
  Timing ef = Best(
      runs, [&] { reset(out); },
      [&] {
        return RunChild({self, "--child", "unbundle-tar-sha1", work, ours + "/image.img.manifest.xml", out});
      },
      "euca unbundle, tar SHA-1");
  if (Shell("cmp " + Quote(image) + " " + Quote(out + "/image.img")).status != 0) Die("unbundled image differs");

  auto rate = [&](const Timing& t) { return mb / t.seconds; };
  std::printf("\n### bench/bundle: %.0f MiB ext4 image, mixed content (%u cores)\n\n", static_cast<double>(size_mib),
              std::max(1u, std::thread::hardware_concurrency()));
  std::printf("| operation | shell pipeline | euca | ratio |\n|---|---:|---:|---:|\n");
  std::printf("| bundle (tar, gzip, AES, split) | %.2f s, %.0f MB/s | %.2f s, %.0f MB/s | %.1fx |\n", sb.seconds,
              rate(sb), eb.seconds, rate(eb), sb.seconds / eb.seconds);
  std::printf("| unbundle (cat, AES, gunzip, tar x) | %.2f s, %.0f MB/s | %.2f s, %.0f MB/s | %.1fx |\n", su.seconds,
              rate(su), eu.seconds, rate(eu), su.seconds / eu.seconds);
  std::printf("| unbundle, tar SHA-1 recomputed (as before the signed-manifest skip) | %.2f s, %.0f MB/s | %.2f s, "
              "%.0f MB/s | %.1fx |\n",
              su.seconds, rate(su), ef.seconds, rate(ef), su.seconds / ef.seconds);
  if (pigz) {
    std::printf("| bundle, pigz -6 in place of gzip | %.2f s, %.0f MB/s | | %.1fx |\n", pb.seconds, rate(pb),
                pb.seconds / eb.seconds);
    std::printf("| unbundle, pigz -d in place of gunzip | %.2f s, %.0f MB/s | | %.1fx |\n", pu.seconds, rate(pu),
                pu.seconds / eu.seconds);
  }
  std::printf("| CPU seconds (user + system), bundle / unbundle | %.2f / %.2f | %.2f / %.2f | %.1fx / %.1fx |\n",
              sb.cpu_seconds, su.cpu_seconds, eb.cpu_seconds, eu.cpu_seconds, sb.cpu_seconds / eb.cpu_seconds,
              su.cpu_seconds / eu.cpu_seconds);
  std::printf("| CPU seconds, unbundle with the tar SHA-1 recomputed | %.2f | %.2f | %.1fx |\n", su.cpu_seconds,
              ef.cpu_seconds, su.cpu_seconds / ef.cpu_seconds);
  std::printf("| bundled size (compression ratio) | %.0f MB (%.2fx, gzip -6) | %.0f MB (%.2fx) | |\n",
              static_cast<double>(shell_bytes) / 1e6, mb * 1e6 / static_cast<double>(shell_bytes),
              static_cast<double>(our_bytes) / 1e6, mb * 1e6 / static_cast<double>(our_bytes));
  std::printf("| peak RSS, bundle / unbundle | %.1f / %.1f MiB (largest process) | %.1f / %.1f MiB | |\n",
              static_cast<double>(sb.max_rss_kib) / 1024, static_cast<double>(su.max_rss_kib) / 1024,
              static_cast<double>(eb.max_rss_kib) / 1024, static_cast<double>(eu.max_rss_kib) / 1024);
  std::printf(
      "\nGoals: ratio >= 8x both ways; euca peak RSS <= 64 MiB. Euca also computes the tar and part SHA-1s "
      "and RSA-wraps and signs; the shell pipeline does none of that. Times are the best of %d runs on a "
      "shared machine (other builds may hold the cores: compare the ratios, and the CPU seconds, which noise "
      "distorts less).\n",
      runs);
  std::error_code ec;
  fs::remove_all(ours, ec);
  fs::remove_all(shell, ec);
  fs::remove_all(out, ec);
  return 0;
}
