#include "core/nc/node.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>

#include "core/api/digest.h"

namespace euca::nc {
namespace {

namespace hv = euca::hypervisor;

constexpr const char* kRecordFile = "instance.json";
constexpr const char* kConsoleFile = "console.log";
constexpr size_t kConsoleTail = 64 * 1024;
constexpr uint64_t kGiB = 1ull << 30;
// Metadata keys on our domains (docs/nc.md).
constexpr const char* kMetaNode = "node";
constexpr const char* kMetaOwner = "owner";

std::string InstancesDir(const NodeOptions& o) { return JoinPath(o.root, "instances"); }
std::string CacheDir(const NodeOptions& o) { return JoinPath(o.root, "cache"); }

NodeOptions WithDefaults(NodeOptions o) {
  if (o.node_id.empty()) o.node_id = "nc-" + api::Sha256Hex(o.root).substr(0, 12);
  return o;
}

bool Live(const Instance& i) { return i.state != InstanceState::kTeardown; }

}  // namespace

Node::Node(Env& env, CommandRunner& runner, Clock& clock, hv::Hypervisor& hypervisor, ImageFetcher& fetcher,
           NodeOptions options)
    : env_(env),
      runner_(runner),
      clock_(clock),
      hypervisor_(hypervisor),
      options_(WithDefaults(std::move(options))),
      cache_(env, fetcher, CacheDir(options_), options_.cache_max_bytes) {}

Node::~Node() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!options_.finish_starts_on_close)
      for (auto& [id, r] : records_) r.cancel = r.cancel || r.instance.state == InstanceState::kPending;
    started_.notify_all();
    idle_.wait(lock, [&] { return in_flight_ == 0; });
  }
  for (std::thread& t : threads_) t.join();
}

std::string Node::InstanceDir(const std::string& instance_id) const {
  return JoinPath(InstancesDir(options_), instance_id);
}

Status Node::Open() {
  if (options_.firmware == "auto") {
    firmware_ = env_.Exists(kQbootRom) ? kQbootRom : "";
  } else if (options_.firmware != "bios") {
    if (options_.firmware.empty() || options_.firmware[0] != '/')
      return InvalidArgument("firmware '" + options_.firmware + "' is not auto, bios or the absolute path of a BIOS ROM");
    if (!env_.Exists(options_.firmware))
      return InvalidArgument("firmware '" + options_.firmware + "' does not exist on this node");
    firmware_ = options_.firmware;
  }
  EUCA_RETURN_IF_ERROR(env_.CreateDirs(InstancesDir(options_), 0700));
  EUCA_RETURN_IF_ERROR(cache_.Open());
  EUCA_ASSIGN_OR_RETURN(host_, hypervisor_.GetHostInfo());
  EUCA_ASSIGN_OR_RETURN(std::vector<hv::DomainInfo> domains, hypervisor_.ListDomains());
  std::map<std::string, hv::DomainInfo> ours;
  for (hv::DomainInfo& d : domains) {
    auto node = d.metadata.find(kMetaNode);
    if (node != d.metadata.end() && node->second == options_.node_id) ours[d.name] = std::move(d);
  }
  EUCA_ASSIGN_OR_RETURN(std::vector<std::string> dirs, env_.ListDir(InstancesDir(options_)));
  const int64_t now = clock_.NowMillis();
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : dirs) {
    const std::string dir = InstanceDir(id);
    Result<std::string> text = env_.ReadFile(JoinPath(dir, kRecordFile));
    Result<Instance> instance = InvalidArgument("unreadable");
    std::vector<std::string> pinned;
    if (text.ok()) {
      Json j = Json::parse(text.value(), nullptr, /*allow_exceptions=*/false);
      instance = InstanceFromJson(j);
      if (j.is_object() && j.contains("pinned") && j["pinned"].is_array()) {
        for (const auto& p : j["pinned"]) {
          if (p.is_string()) pinned.push_back(p.get<std::string>());
        }
      }
    }
    auto domain = ours.find(id);
    if (!instance.ok() || domain == ours.end() || !ValidateInstanceId(id).ok()) {
      // Its domain died while the node controller was down (or the folder is not ours to read).
      if (domain != ours.end()) (void)hypervisor_.Destroy(id);
      EUCA_RETURN_IF_ERROR(env_.RemoveAll(dir));
      if (instance.ok() && ValidateInstanceId(id).ok()) {
        Record r;
        r.instance = std::move(instance.value());
        SetStateLocked(r, InstanceState::kTeardown, "the domain was gone when the node controller started");
        records_[id] = std::move(r);
      }
      continue;
    }
    Record r;
    r.instance = std::move(instance.value());
    if (domain->second.state == hv::DomainState::kPaused && r.instance.state != InstanceState::kExtant &&
        hypervisor_.Resume(id).ok()) {
      domain->second.state = hv::DomainState::kRunning;  // the node controller stopped between start and resume
    }
    r.instance.hypervisor_state = std::string(hv::DomainStateName(domain->second.state));
    if (r.instance.state != InstanceState::kExtant) SetStateLocked(r, InstanceState::kExtant, "");
    r.extant_seq = ++seq_;
    for (const std::string& p : pinned) {
      if (cache_.Pin(p).ok()) r.pinned.push_back(p);
    }
    records_[id] = std::move(r);
    ours.erase(domain);
  }
  // Our domains without a folder cannot be described or cleaned up: destroy them (Eucalyptus'
  // "prodigal" instances).
  for (const auto& [name, d] : ours) (void)hypervisor_.Destroy(name);
  (void)now;
  return Status::Ok();
}

void Node::SetStateLocked(Record& r, InstanceState state, std::string reason) {
  r.instance.state = state;
  r.instance.state_change_ms = clock_.NowMillis();
  if (!reason.empty()) r.instance.reason = std::move(reason);
}

std::string Node::RecordText(const Record& r) {
  Json j = ToJson(r.instance);
  j["pinned"] = r.pinned;
  return j.dump(2) + "\n";
}

Status Node::Persist(const std::string& id) {
  std::string text;
  {
    std::lock_guard<std::mutex> lock(mu_);
    text = RecordText(records_[id]);
  }
  // Outside the lock: the write ends with an fsync, which on a busy disk takes long enough
  // to hold up every other start and describe.
  return env_.WriteFileAtomic(JoinPath(InstanceDir(id), kRecordFile), text, 0600);
}

void Node::ForgetOldLocked() {
  const int64_t now = clock_.NowMillis();
  for (auto it = records_.begin(); it != records_.end();) {
    const Record& r = it->second;
    if (!r.busy && r.instance.state == InstanceState::kTeardown &&
        now - r.instance.state_change_ms > options_.teardown_keep_ms) {
      it = records_.erase(it);
    } else {
      ++it;
    }
  }
}

void Node::JoinFinishedLocked() {
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (finished_.erase(it->get_id()) > 0) {
      it->join();  // it has released mu_ and only returns
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
}

void Node::Spawn(std::function<void()> work) {
  // REQUIRES: mu_ held. Finished threads are joined here and by each thread that finishes
  // after them, so a node keeps at most one finished thread besides the starts in flight
  // (a node that fills up in one burst gets no further Spawn to join its threads: their
  // stacks would stay mapped, and 1,000 such nodes ran out of mappings).
  JoinFinishedLocked();
  ++in_flight_;
  threads_.emplace_back([this, work = std::move(work)] {
    work();
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    JoinFinishedLocked();
    finished_.insert(std::this_thread::get_id());
    idle_.notify_all();
  });
}

size_t Node::ThreadsForTest() {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}

uint64_t Node::UsedBytes() {
  uint64_t used = cache_.UsedBytes();
  Result<std::vector<std::string>> dirs = env_.ListDir(InstancesDir(options_));
  if (!dirs.ok()) return used;
  for (const std::string& id : dirs.value()) {
    Result<std::vector<std::string>> files = env_.ListDir(InstanceDir(id));
    if (!files.ok()) continue;
    for (const std::string& f : files.value()) used += env_.AllocatedBytes(JoinPath(InstanceDir(id), f)).value_or(0);
  }
  return used;
}

Result<NodeResource> Node::ResourceLocked(const Env::Space& space, uint64_t used_bytes) {
  NodeResource n;
  n.cores_max = options_.max_cores > 0 ? options_.max_cores : host_.cores;  // may over-commit, as MAX_CORES
  int64_t memory = host_.memory_mib - options_.reserved_memory_mib;
  if (options_.max_memory_mib > 0) memory = std::min(memory, options_.max_memory_mib);
  n.memory_max_mib = static_cast<uint64_t>(std::max<int64_t>(0, memory));
  n.disk_max_gib = (space.available + used_bytes) / kGiB;
  if (options_.max_disk_gib > 0) n.disk_max_gib = std::min(n.disk_max_gib, options_.max_disk_gib);
  int64_t cores = n.cores_max;
  int64_t mem = static_cast<int64_t>(n.memory_max_mib);
  int64_t disk = static_cast<int64_t>(n.disk_max_gib);
  for (const auto& [id, r] : records_) {
    if (!Live(r.instance)) continue;
    cores -= r.instance.request.vm_type.cores;
    mem -= static_cast<int64_t>(r.instance.request.vm_type.memory_mib);
    disk -= static_cast<int64_t>(r.instance.request.vm_type.disk_gib);
  }
  n.cores_available = static_cast<int>(std::max<int64_t>(0, cores));
  n.memory_available_mib = static_cast<uint64_t>(std::max<int64_t>(0, mem));
  n.disk_available_gib = static_cast<uint64_t>(std::max<int64_t>(0, disk));
  return n;
}

Result<NodeResource> Node::DescribeResource() {
  EUCA_ASSIGN_OR_RETURN(Env::Space space, env_.FilesystemSpace(options_.root));
  uint64_t used = UsedBytes();
  std::lock_guard<std::mutex> lock(mu_);
  return ResourceLocked(space, used);
}

Result<Instance> Node::RunInstance(const RunInstanceRequest& request) {
  EUCA_RETURN_IF_ERROR(ValidateRunInstanceRequest(request));
  EUCA_ASSIGN_OR_RETURN(Env::Space space, env_.FilesystemSpace(options_.root));
  uint64_t used = UsedBytes();
  std::unique_lock<std::mutex> lock(mu_);
  ForgetOldLocked();
  if (auto it = records_.find(request.instance_id); it != records_.end()) return it->second.instance;
  EUCA_ASSIGN_OR_RETURN(NodeResource free, ResourceLocked(space, used));
  const model::VmType& t = request.vm_type;
  if (t.cores > free.cores_available || t.memory_mib > free.memory_available_mib ||
      t.disk_gib > free.disk_available_gib) {
    return Status(Code::kResourceExhausted,
                  "not enough room on this node for '" + request.instance_id + "' (" + std::to_string(t.cores) +
                      " cores, " + std::to_string(t.memory_mib) + " MiB, " + std::to_string(t.disk_gib) +
                      " GiB): " + std::to_string(free.cores_available) + " cores, " +
                      std::to_string(free.memory_available_mib) + " MiB, " + std::to_string(free.disk_available_gib) +
                      " GiB free",
                  "InsufficientInstanceCapacity");
  }
  Record r;
  r.instance.request = request;
  if (r.instance.request.net.bridge.empty()) r.instance.request.net.bridge = bridge_;
  if (r.instance.request.net.private_mac.empty()) r.instance.request.net.private_mac = DefaultMac(request.instance_id);
  r.instance.launch_time_ms = clock_.NowMillis();
  SetStateLocked(r, InstanceState::kPending, "");
  r.busy = true;  // this call owns it until Boot takes over: a repeated request answers it as it is
  Instance answer = r.instance;
  records_[request.instance_id] = std::move(r);
  lock.unlock();

  const std::string& id = request.instance_id;
  Status made = env_.CreateDirs(InstanceDir(id), 0700);
  if (made.ok()) made = Persist(id);
  lock.lock();
  if (!made.ok()) {
    (void)env_.RemoveAll(InstanceDir(id));
    records_.erase(id);
    return made;
  }
  Spawn([this, id] { Boot(id); });
  return answer;
}

Status Node::Prepare(const std::string& id, const RunInstanceRequest& request, hv::DomainSpec* spec) {
  const std::string dir = InstanceDir(id);
  // Kernel, ramdisk and root image at once: each is a digest round trip to Walrus when
  // cached, a download when not. Pinned in that order (Eucalyptus' order).
  std::vector<const ImageRef*> refs;
  std::vector<std::string*> paths;
  std::string image;
  if (!request.kernel.empty()) {
    refs.push_back(&request.kernel);
    paths.push_back(&spec->kernel);
    spec->cmdline = options_.kernel_cmdline;
    spec->firmware = firmware_;
  }
  if (!request.ramdisk.empty()) {
    refs.push_back(&request.ramdisk);
    paths.push_back(&spec->ramdisk);
  }
  refs.push_back(&request.image);
  paths.push_back(&image);
  std::vector<Result<std::string>> got(refs.size(), Result<std::string>(Internal("not fetched")));
  std::vector<std::function<Status()>> steps;
  for (size_t i = 0; i < refs.size(); ++i) {
    steps.push_back([&, i] {
      got[i] = cache_.Acquire(*refs[i]);
      return got[i].status();
    });
  }
  Status acquired = RunConcurrently(std::move(steps));
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < refs.size(); ++i) {
      if (!got[i].ok()) continue;
      *paths[i] = got[i].value();
      records_[id].pinned.push_back(got[i].value());
    }
    EUCA_RETURN_IF_ERROR(acquired);
    if (records_[id].cancel) return Status(Code::kConflict, "terminated while starting");
  }
  EUCA_RETURN_IF_ERROR(Persist(id));  // the pinned entries, for a restarted node
  EUCA_ASSIGN_OR_RETURN(InstanceDisks disks, PrepareDisks(env_, runner_, request, dir, image, options_.swap_mib,
                                                                clock_.NowMillis() / 1000));
  spec->name = id;
  spec->vcpus = request.vm_type.cores;
  spec->memory_mib = static_cast<int64_t>(request.vm_type.memory_mib);
  spec->disks.push_back({disks.root, "qcow2", "vda"});
  if (!disks.ephemeral.empty()) spec->disks.push_back({disks.ephemeral, "raw", "vdb"});
  if (!disks.swap.empty()) spec->disks.push_back({disks.swap, "raw", "vdc"});
  spec->disks.push_back({disks.seed, "raw", "vdd", "virtio", "disk", /*readonly=*/true});
  if (!request.net.bridge.empty()) spec->nics.push_back({request.net.bridge, request.net.private_mac});
  spec->console_log = JoinPath(dir, kConsoleFile);
  spec->metadata[kMetaNode] = options_.node_id;
  spec->metadata[kMetaOwner] = request.owner_id;
  return Status::Ok();
}

Status Node::StartDomain(const std::string& id, hv::DomainSpec spec, bool* started) {
  const bool batch = options_.start_batch_ms > 0;
  spec.start_paused = batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++creating_;
  }
  Result<hv::DomainInfo> domain = hypervisor_.Start(spec);
  {
    std::unique_lock<std::mutex> lock(mu_);
    --creating_;
    started_.notify_all();
    if (domain.ok() && batch) {
      started_.wait_for(lock, std::chrono::milliseconds(options_.start_batch_ms),
                        [&] { return creating_ == 0 || records_[id].cancel; });
    }
  }
  EUCA_RETURN_IF_ERROR(domain.status());
  *started = true;
  if (batch) EUCA_RETURN_IF_ERROR(hypervisor_.Resume(id));
  return Status::Ok();
}

void Node::Boot(const std::string& id) {
  RunInstanceRequest request;
  {
    std::lock_guard<std::mutex> lock(mu_);
    request = records_[id].instance.request;
  }
  hv::DomainSpec spec;
  Status s = Prepare(id, request, &spec);
  bool started = false;
  if (s.ok()) s = StartDomain(id, std::move(spec), &started);
  if (s.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Record& r = records_[id];
      if (!r.cancel) {
        SetStateLocked(r, InstanceState::kExtant, "");
        r.instance.hypervisor_state = "running";
      }
    }
    s = Persist(id);
  }
  std::vector<std::string> pinned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Record& r = records_[id];
    if (s.ok() && !r.cancel) {
      r.extant_seq = ++seq_;
      r.busy = false;
      return;
    }
    if (!r.cancel) SetStateLocked(r, InstanceState::kTeardown, "start failed: " + s.message());
    pinned = std::move(r.pinned);
    r.pinned.clear();
  }
  Cleanup(id, pinned, started);
  std::lock_guard<std::mutex> lock(mu_);
  records_[id].busy = false;
}

void Node::Cleanup(const std::string& id, const std::vector<std::string>& pinned, bool destroy) {
  if (destroy) (void)hypervisor_.Destroy(id);  // NotFound is fine: it is gone either way
  (void)env_.RemoveAll(InstanceDir(id));
  for (const std::string& p : pinned) cache_.Release(p);
}

Result<std::vector<Instance>> Node::DescribeInstances(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) EUCA_RETURN_IF_ERROR(ValidateInstanceId(id));
  uint64_t snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot = seq_;
  }
  EUCA_ASSIGN_OR_RETURN(std::vector<hv::DomainInfo> domains, hypervisor_.ListDomains());
  std::map<std::string, const hv::DomainInfo*> by_name;
  for (const hv::DomainInfo& d : domains) by_name[d.name] = &d;

  std::vector<std::pair<std::string, std::vector<std::string>>> vanished;
  std::vector<Instance> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, r] : records_) {
      if (r.busy || r.instance.state != InstanceState::kExtant || r.extant_seq > snapshot) continue;
      auto d = by_name.find(id);
      if (d == by_name.end()) {
        // Destroyed or shut down behind our back (a transient domain vanishes when it stops).
        SetStateLocked(r, InstanceState::kTeardown, "the domain is gone (shut down or destroyed outside the node controller)");
        r.instance.hypervisor_state = "shutoff";
        r.busy = true;
        vanished.emplace_back(id, std::move(r.pinned));
        r.pinned.clear();
      } else {
        r.instance.hypervisor_state = std::string(hv::DomainStateName(d->second->state));
      }
    }
    ForgetOldLocked();
    std::set<std::string> wanted(ids.begin(), ids.end());
    for (const auto& [id, r] : records_) {
      if (wanted.empty() || wanted.count(id)) out.push_back(r.instance);
    }
  }
  for (const auto& [id, pinned] : vanished) {
    Cleanup(id, pinned, /*destroy=*/false);
    std::lock_guard<std::mutex> lock(mu_);
    records_[id].busy = false;
  }
  return out;
}

Result<TerminateResult> Node::TerminateInstance(const std::string& id) {
  EUCA_RETURN_IF_ERROR(ValidateInstanceId(id));
  std::vector<std::string> pinned;
  TerminateResult result{id, "Teardown", "Teardown"};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end() || it->second.instance.state == InstanceState::kTeardown) {
      if (it != records_.end()) result.previous_state = InstanceStateName(it->second.instance.state);
      return result;
    }
    Record& r = it->second;
    result.previous_state = InstanceStateName(r.instance.state);
    SetStateLocked(r, InstanceState::kTeardown, "terminated");
    r.instance.hypervisor_state = "shutoff";
    if (r.busy) {
      r.cancel = true;  // the thread that owns it cleans up
      started_.notify_all();
      return result;
    }
    r.busy = true;
    pinned = std::move(r.pinned);
    r.pinned.clear();
  }
  Cleanup(id, pinned, /*destroy=*/true);
  std::lock_guard<std::mutex> lock(mu_);
  records_[id].busy = false;
  return result;
}

Status Node::RebootInstance(const std::string& id) {
  EUCA_RETURN_IF_ERROR(ValidateInstanceId(id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return Status(Code::kNotFound, "no instance '" + id + "' on this node", "InvalidInstanceID.NotFound");
    if (it->second.instance.state != InstanceState::kExtant || it->second.busy) {
      return Conflict("instance '" + id + "' is " + InstanceStateName(it->second.instance.state) + ", not running");
    }
  }
  return hypervisor_.Reboot(id);
}

Result<std::string> Node::GetConsoleOutput(const std::string& id) {
  EUCA_RETURN_IF_ERROR(ValidateInstanceId(id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!records_.count(id)) {
      return Status(Code::kNotFound, "no instance '" + id + "' on this node", "InvalidInstanceID.NotFound");
    }
  }
  const std::string path = JoinPath(InstanceDir(id), kConsoleFile);
  if (!env_.Exists(path)) return std::string();
  EUCA_ASSIGN_OR_RETURN(std::string text, env_.ReadFile(path));
  if (text.size() > kConsoleTail) text.erase(0, text.size() - kConsoleTail);
  return text;
}

Status Node::StartNetwork(const StartNetworkRequest& request) {
  if (request.bridge.empty() || request.bridge.size() > 15 ||
      request.bridge.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
          std::string::npos) {
    return InvalidArgument("bridge '" + request.bridge + "' is not a network interface name");
  }
  std::lock_guard<std::mutex> lock(mu_);
  bridge_ = request.bridge;
  return Status::Ok();
}

void Node::WaitIdleForTest() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return in_flight_ == 0; });
}

}  // namespace euca::nc
