// bench/nc: how fast the node controller turns a request into a running VM and a booted
// guest (the seeds' Figure 6 experiment), on the real libvirt daemon (qemu:///system) with
// the test guest (tests/fixtures/guest), its images bundled, uploaded to and delivered by a
// real `euca serve walrus` on loopback.
//
// For each cache state (cold: the node's image cache empty, so the images come from Walrus;
// warm: cached) and each burst size (1 and 8 instances asked for at once), --trials trials
// (default 20). Per instance: request -> running (the NC reports Extant: disks prepared and
// the domain started) and, for bursts of one, request -> ready marker (the guest printed
// EUCA-GUEST-READY on its serial console). Prints p50/p98 beside the goals and writes
// the CDFs as CSV (--csv, default bench_nc.csv). Every instance is terminated after its trial.
//
// Goals (issue 5): warm request -> running p98 <= 1 s for 1 instance and <= 3 s for 8;
// request -> ready marker p98 <= 3 s under TCG for 1.
//
// Needs root (the system libvirt daemon); started through tests/setup/libvirtd.sh when none
// answers. Usage: bench_nc [--trials N] [--cache cold|warm|both] [--instances 1|8|1,8]
// [--csv FILE] [--guest DIR] [--euca PATH] [--firmware auto|bios|PATH] [--cmdline TEXT]
// (--cache and --instances pick a part of the experiment, e.g. for a quick look on a busy
// machine; default: all of it; --firmware and --cmdline are for comparisons).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/base/command.h"
#include "core/base/env.h"
#include "core/nc/image_fetchers.h"
#include "core/nc/node.h"
#include "core/walrus/image_client.h"
#include "drivers/hypervisor/hypervisor.h"

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using namespace euca;

// Set by SIGINT/SIGTERM: the trial in progress stops, its instances are terminated, the
// work folder removed, and the benchmark exits 130 (a killed run leaves no domain behind).
std::atomic<bool> g_stop{false};

void WatchSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread started after this
  std::thread([set] {
    int sig = 0;
    sigwait(&set, &sig);
    g_stop = true;
  }).detach();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_nc: %s\n", what.c_str());
  std::exit(1);
}

std::string Run(std::vector<std::string> argv, std::vector<std::pair<std::string, std::string>> env = {}) {
  Command c{.argv = std::move(argv)};
  c.env = std::move(env);
  c.timeout = std::chrono::minutes(10);
  auto r = RealCommandRunner().Run(c);
  if (!r.ok()) Die(r.status().ToString());
  return r->out;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The libvirt daemon's settings that change what a start costs (docs/hypervisor.md, "Host
// settings for fast starts"), as /etc/libvirt/qemu.conf spells them; "default" when unset.
// The daemon read the file when it started, so this is what it runs with unless the file
// changed since.
std::string StartSettings() {
  std::map<std::string, std::string> found = {{"namespaces", "default"}, {"cgroup_controllers", "default"}};
  std::istringstream conf(fs::exists("/etc/libvirt/qemu.conf") ? ReadFile("/etc/libvirt/qemu.conf") : "");
  for (std::string line; std::getline(conf, line);) {
    auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    auto trim = [](std::string t) {
      t.erase(0, t.find_first_not_of(" \t"));
      t.erase(t.find_last_not_of(" \t") + 1);
      return t;
    };
    std::string key = trim(line.substr(0, eq));
    if (found.count(key)) found[key] = trim(line.substr(eq + 1));
  }
  return "namespaces = " + found["namespaces"] + ", cgroup_controllers = " + found["cgroup_controllers"];
}

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct Series {
  std::string name;
  std::vector<double> seconds;
};

// `euca serve walrus` on a free loopback port, for the life of this object.
class WalrusProcess {
 public:
  WalrusProcess(const std::string& euca, const std::string& home, const fs::path& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* out = std::freopen(log.c_str(), "w", stdout);
      (void)out;
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
      ::setenv("EUCA_HOME", home.c_str(), 1);
      ::execl(euca.c_str(), euca.c_str(), "serve", "walrus", "--listen", "127.0.0.1:0", nullptr);
      std::_Exit(127);
    }
    for (int i = 0; i < 200 && url_.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::string text = ReadFile(log);
      size_t at = text.find("walrus listening on ");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        url_ = text.substr(at + 20, text.find('\n', at) - at - 20);
      }
    }
    if (url_.empty()) Die("euca serve walrus did not start: " + ReadFile(log));
  }
  ~WalrusProcess() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  std::string url_;
};

}  // namespace

int main(int argc, char** argv) {
  int trials = 20;
  std::string csv = "bench_nc.csv";
  std::string guest = EUCA_GUEST_DIR;
  std::string euca = (fs::path(argv[0]).parent_path() / "euca").string();
  std::string cache_modes = "both";  // --cache: which cache states to measure
  std::string bursts = "1,8";        // --instances: which burst sizes to measure
  std::string firmware = "auto";     // --firmware: the NC's nc.firmware
  std::string cmdline;               // --cmdline: instead of the test guest's (below)
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--trials") trials = std::stoi(next());
    else if (a == "--csv") csv = next();
    else if (a == "--guest") guest = next();
    else if (a == "--euca") euca = next();
    else if (a == "--cache") cache_modes = next();
    else if (a == "--instances") bursts = next();
    else if (a == "--firmware") firmware = next();
    else if (a == "--cmdline") cmdline = next();
    else Die("usage: bench_nc [--trials N] [--cache cold|warm|both] [--instances 1|8|1,8] [--csv FILE] [--guest DIR] [--euca PATH] [--firmware auto|bios|PATH] [--cmdline TEXT]");
  }
  if (::geteuid() != 0) {
    std::printf("bench_nc: skipped: needs root (the system libvirt daemon)\n");
    return 0;
  }
  for (const char* f : {"kernel", "initramfs.cpio", "root.ext2"}) {
    if (!fs::exists(fs::path(guest) / f)) Die("no test guest in '" + guest + "' (make guest)");
  }
  Run({std::string(EUCA_SOURCE_DIR) + "/tests/setup/libvirtd.sh"});
  WatchSignals();

  // A cloud, the guest's three images bundled and uploaded, Walrus serving them.
  fs::path work = fs::temp_directory_path() / ("euca-bench-nc-" + std::to_string(::getpid()));
  fs::create_directories(work);
  const std::string home = (work / "home").string();
  const std::vector<std::pair<std::string, std::string>> env = {{"EUCA_HOME", home}};
  Run({euca, "admin", "init"}, env);
  struct Img {
    std::string file, type, id;
  };
  const std::vector<Img> images = {{"kernel", "kernel", "eki-0000be01"},
                                   {"initramfs.cpio", "ramdisk", "eri-0000be02"},
                                   {"root.ext2", "machine", "emi-0000be03"}};
  for (const Img& img : images) {
    fs::path dir = work / ("bundle-" + img.type);
    fs::create_directories(dir);
    Run({euca, "bundle-image", "-i", guest + "/" + img.file, "-d", dir.string(), "--image-type", img.type}, env);
    Run({euca, "upload-bundle", "-b", "bench", "-m", (dir / (img.file + ".manifest.xml")).string()}, env);
  }
  WalrusProcess walrus(euca, home, work / "walrus.log");
  walrus::HttpImageSource source(
      {.walrus_url = walrus.url(),
       .credentials = {ReadFile(home + "/keys/nc-cert.pem"), ReadFile(home + "/keys/nc-pk.pem")},
       .clock = nullptr,
       .client = {}});
  auto walrus_fetcher = nc::NewWalrusImageFetcher(source);
  auto local = nc::NewLocalFileFetcher();
  auto fetcher = nc::NewImageFetcher(*local, walrus_fetcher.get());

  auto hv = hypervisor::OpenHypervisor("qemu:///system", hypervisor::Accel::kAuto);
  if (!hv.ok()) Die(hv.status().ToString());
  auto host = (*hv)->GetHostInfo();
  if (!host.ok()) Die(host.status().ToString());
  // Domains an earlier run left behind (killed by SIGKILL) would skew this one: destroyed.
  if (auto all = (*hv)->ListDomains(); all.ok())
    for (const auto& d : *all)
      if (d.name.rfind("i-be", 0) == 0) (void)(*hv)->Destroy(d.name);

  auto request = [&](const std::string& id) {
    nc::RunInstanceRequest r;
    r.instance_id = id;
    r.kernel = {images[0].id, "bench/kernel.manifest.xml"};
    r.ramdisk = {images[1].id, "bench/initramfs.cpio.manifest.xml"};
    r.image = {images[2].id, "bench/root.ext2.manifest.xml"};
    r.vm_type = {"m1.small", 1, 128, 1};
    r.public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIbench bench";
    return r;
  };
  auto make_node = [&](const std::string& root) {
    nc::NodeOptions o;
    o.root = root;
    o.node_id = "nc-bench-" + std::to_string(::getpid());
    // The NC's default plus what suits the test guest only: quiet (the serial console is
    // slow per byte under TCG) and rodata=off (the kernel then skips its walk of the page
    // tables for writable+executable mappings, about a tenth of the guest's instructions up
    // to the ready marker), and acpi=off (no ACPI tables to parse and no AML to interpret: 14%
    // of the instructions up to the mounted root; the NC resets and destroys its domains and
    // never asks a guest to shut down by ACPI), and noapictimer (the kernel otherwise
    // calibrates its local APIC timer against the PIT for a quarter of a second of real time;
    // this single-CPU guest ticks from the PIT instead). Not for users' guests: rodata=off drops a
    // kernel hardening, and a guest without ACPI cannot be shut down gracefully.
    o.kernel_cmdline =
        "console=ttyS0 quiet rodata=off acpi=off noapictimer no_timer_check cryptomgr.notests root=/dev/vda";
    if (!cmdline.empty()) o.kernel_cmdline = cmdline;
    o.firmware = firmware;
    o.swap_mib = 64;
    o.max_cores = 64;
    auto node = std::make_unique<nc::Node>(PosixEnv(), RealCommandRunner(), RealClock(), **hv, *fetcher, o);
    Status s = node->Open();
    if (!s.ok()) Die(s.ToString());
    return node;
  };

  std::vector<Series> series;
  int serial = 0;
  // One trial: `n` instances at once on `node`; appends request -> running (and -> ready for
  // n == 1) per instance.
  auto trial = [&](nc::Node& node, int n, Series& running, Series* ready) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "i-be%05x%03x", ::getpid() & 0xfffff, serial++ & 0xfff);
      ids.push_back(id);
    }
    // Every way out of a trial terminates what it started.
    auto fail = [&](const std::string& what) {
      for (const std::string& id : ids) (void)node.TerminateInstance(id);
      Die(what);
    };
    std::map<std::string, Steady::time_point> asked;
    for (const std::string& id : ids) {
      asked[id] = Steady::now();
      auto r = node.RunInstance(request(id));
      if (!r.ok()) fail(r.status().ToString());
    }
    std::map<std::string, bool> is_running, is_ready;
    auto deadline = Steady::now() + std::chrono::minutes(5);
    while (Steady::now() < deadline && !g_stop) {
      auto d = node.DescribeInstances(ids);
      if (!d.ok()) fail(d.status().ToString());
      for (const nc::Instance& i : *d) {
        const std::string& id = i.request.instance_id;
        if (i.state == nc::InstanceState::kTeardown) fail(id + " failed: " + i.reason);
        if (i.state == nc::InstanceState::kExtant && !is_running[id]) {
          is_running[id] = true;
          running.seconds.push_back(Seconds(Steady::now() - asked[id]));
        }
        if (ready != nullptr && is_running[id] && !is_ready[id]) {
          auto out = node.GetConsoleOutput(id);
          if (out.ok() && out->find("EUCA-GUEST-READY " + id) != std::string::npos) {
            is_ready[id] = true;
            ready->seconds.push_back(Seconds(Steady::now() - asked[id]));
          }
        }
      }
      bool done = std::all_of(ids.begin(), ids.end(), [&](const std::string& id) {
        return is_running[id] && (ready == nullptr || is_ready[id]);
      });
      if (done) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (const std::string& id : ids) (void)node.TerminateInstance(id);
  };
  // After a signal: the trial's instances are terminated; the nodes and Walrus stop as main
  // returns.
  auto stopped = [&] {
    if (!g_stop) return false;
    std::fprintf(stderr, "bench_nc: stopped by a signal; its instances are terminated\n");
    return true;
  };

  std::printf("bench_nc: %d trials; host %d cores, domain type %s; images from %s\n", trials, host->cores,
              host->domain_type.c_str(), walrus.url().c_str());
  std::printf("bench_nc: libvirt qemu.conf: %s\n", StartSettings().c_str());
  std::fflush(stdout);  // before the progress lines on stderr, also when stdout is a pipe
  std::vector<std::string> modes;
  for (const char* m : {"cold", "warm"})
    if (cache_modes == "both" || cache_modes == m) modes.push_back(m);
  std::vector<int> sizes;
  for (int n : {1, 8})
    if (("," + bursts + ",").find("," + std::to_string(n) + ",") != std::string::npos) sizes.push_back(n);
  if (modes.empty() || sizes.empty()) Die("--cache takes cold, warm or both; --instances takes 1, 8 or 1,8");
  for (const std::string& mode : modes) {
    if (g_stop) break;
    for (int n : sizes) {
      Series running{mode + " running n=" + std::to_string(n), {}};
      Series ready{mode + " ready n=" + std::to_string(n), {}};
      std::unique_ptr<nc::Node> warm_node;
      if (mode == "warm") {
        warm_node = make_node((work / "nc-warm").string());
        Series ignored;
        trial(*warm_node, 1, ignored, nullptr);  // fills the cache
        if (stopped()) break;
      }
      for (int t = 0; t < trials; ++t) {
        std::unique_ptr<nc::Node> cold_node;
        if (warm_node == nullptr) {
          std::error_code ec;
          fs::remove_all(work / "nc-cold", ec);
          cold_node = make_node((work / "nc-cold").string());
        }
        trial(warm_node ? *warm_node : *cold_node, n, running, n == 1 ? &ready : nullptr);
        if (stopped()) break;
      }
      if (g_stop) break;
      series.push_back(running);
      if (n == 1) series.push_back(ready);
      std::fprintf(stderr, "  %s done\n", running.name.c_str());
    }
  }

  if (g_stop) {
    std::error_code ec;
    fs::remove_all(work, ec);
    return 130;
  }
  std::printf("\n| measure | instances at once | cache | p50 s | p98 s | goal (p98) | met |\n|---|---|---|---|---|---|---|\n");
  for (const Series& s : series) {
    std::istringstream words(s.name);
    std::string mode, what, n;
    words >> mode >> what >> n;
    n = n.substr(2);
    double p98 = Percentile(s.seconds, 0.98);
    std::string goal = "-", met = "-";
    if (mode == "warm" && what == "running") goal = n == "1" ? "1" : "3";
    if (what == "ready") goal = "3";
    if (goal != "-") met = p98 <= std::stod(goal) ? "yes" : "no";
    std::printf("| request -> %s | %s | %s | %.2f | %.2f | %s | %s |\n", what == "running" ? "running" : "ready marker",
                n.c_str(), mode.c_str(), Percentile(s.seconds, 0.5), p98, goal.c_str(), met.c_str());
  }
  std::ofstream out(csv);
  out << "series,seconds,cdf\n";
  for (const Series& s : series) {
    std::vector<double> v = s.seconds;
    std::sort(v.begin(), v.end());
    for (size_t i = 0; i < v.size(); ++i) out << s.name << "," << v[i] << "," << double(i + 1) / v.size() << "\n";
  }
  std::printf("\nCDFs written to %s\n", csv.c_str());
  std::error_code ec;
  fs::remove_all(work, ec);
  return 0;
}
