#include "core/nc/disks.h"

#include <algorithm>
#include <thread>

namespace euca::nc {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// YAML double-quoted scalar.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      continue;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Status Run(CommandRunner& runner, std::vector<std::string> argv) {
  Command cmd;
  cmd.argv = std::move(argv);
  cmd.timeout = std::chrono::minutes(10);
  return runner.Run(cmd).status();
}

}  // namespace

Status RunConcurrently(std::vector<std::function<Status()>> steps) {
  if (steps.empty()) return Status::Ok();
  std::vector<Status> results(steps.size());
  std::vector<std::thread> threads;
  threads.reserve(steps.size() - 1);
  for (size_t i = 1; i < steps.size(); ++i) threads.emplace_back([&, i] { results[i] = steps[i](); });
  results[0] = steps[0]();
  for (std::thread& t : threads) t.join();
  for (Status& s : results) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Result<DiskSizes> PlanDisks(const RunInstanceRequest& r, uint64_t image_bytes, uint64_t swap_mib) {
  const uint64_t disk = r.vm_type.disk_gib * kGiB;
  if (image_bytes > disk) {
    return InvalidArgument("image '" + r.image.id + "' is " + std::to_string((image_bytes + kMiB - 1) / kMiB) +
                           " MiB, larger than the " + std::to_string(r.vm_type.disk_gib) + " GiB disk of VM type '" +
                           r.vm_type.name + "'");
  }
  DiskSizes s;
  s.root_bytes = image_bytes;
  uint64_t left = disk - image_bytes;
  s.swap_bytes = std::min(swap_mib * kMiB, left) / kMiB * kMiB;
  if (s.swap_bytes < 16 * kMiB) s.swap_bytes = 0;  // mkswap wants some room; none is better than a sliver
  left -= s.swap_bytes;
  s.ephemeral_bytes = left / kMiB * kMiB;
  if (s.ephemeral_bytes < 16 * kMiB) s.ephemeral_bytes = 0;
  return s;
}

std::string NoCloudMetaData(const RunInstanceRequest& r) {
  std::string m = "instance-id: " + r.instance_id + "\nlocal-hostname: " + r.instance_id + "\n";
  if (!r.public_key.empty()) {
    std::string key = r.public_key.substr(0, r.public_key.find('\n'));
    m += "public-keys:\n  - " + Quote(key) + "\n";
  }
  return m;
}

Result<InstanceDisks> PrepareDisks(Env& env, CommandRunner& runner, const RunInstanceRequest& r,
                                   const std::string& dir, const std::string& image_path, uint64_t swap_mib) {
  EUCA_ASSIGN_OR_RETURN(uint64_t image_bytes, env.FileSize(image_path));
  EUCA_ASSIGN_OR_RETURN(DiskSizes sizes, PlanDisks(r, image_bytes, swap_mib));
  InstanceDisks d;
  d.root = JoinPath(dir, "root.qcow2");
  if (sizes.ephemeral_bytes > 0) d.ephemeral = JoinPath(dir, "ephemeral.img");
  if (sizes.swap_bytes > 0) d.swap = JoinPath(dir, "swap.img");
  d.seed = JoinPath(dir, "seed.iso");
  std::vector<std::function<Status()>> steps;
  steps.push_back([&] {
    return Run(runner, {"qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", image_path, d.root});
  });
  if (!d.ephemeral.empty()) {
    steps.push_back([&] {
      // A raw disk is a sparse file of its size: made here, not by a qemu-img process (whose
      // start alone, mostly dynamic linking, was a visible part of starting 8 at once).
      EUCA_RETURN_IF_ERROR(env.CreateSparseFile(d.ephemeral, sizes.ephemeral_bytes, 0600));
      // Lazy init keeps formatting cheap whatever the size; no journal on a scratch disk.
      return Run(runner, {"mkfs.ext4", "-q", "-F", "-L", "ephemeral0", "-O", "^has_journal", "-E",
                          "lazy_itable_init=1,nodiscard", d.ephemeral});
    });
  }
  if (!d.swap.empty()) {
    steps.push_back([&] {
      EUCA_RETURN_IF_ERROR(env.CreateSparseFile(d.swap, sizes.swap_bytes, 0600));
      return Run(runner, {"mkswap", "-L", "swap", d.swap});
    });
  }
  steps.push_back([&]() -> Status {
    const std::string seed_dir = JoinPath(dir, "seed");
    EUCA_RETURN_IF_ERROR(env.CreateDirs(seed_dir, 0700));
    EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(JoinPath(seed_dir, "meta-data"), NoCloudMetaData(r), 0600));
    EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(JoinPath(seed_dir, "user-data"), r.user_data, 0600));
    EUCA_RETURN_IF_ERROR(Run(runner, {"genisoimage", "-quiet", "-output", d.seed, "-volid", "cidata", "-joliet",
                                      "-rock", JoinPath(seed_dir, "meta-data"), JoinPath(seed_dir, "user-data")}));
    return env.RemoveAll(seed_dir);
  });
  EUCA_RETURN_IF_ERROR(RunConcurrently(std::move(steps)));
  return d;
}

}  // namespace euca::nc
