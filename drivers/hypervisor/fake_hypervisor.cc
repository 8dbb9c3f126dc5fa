#include "drivers/hypervisor/fake_hypervisor.h"

#include <cstdio>

namespace euca::hypervisor {

FakeHypervisor::FakeHypervisor(HostInfo host) : host_(std::move(host)) {}

HostInfo FakeHypervisor::DefaultHost() {
  HostInfo host;
  host.cores = 4;
  host.memory_mib = 8192;
  host.free_memory_mib = 8192;
  host.model = "x86_64";
  host.uri = "fake:///";
  host.domain_type = "fake";
  return host;
}

DomainInfo FakeHypervisor::Info(const Domain& d) {
  DomainInfo info;
  info.name = d.spec.name;
  info.uuid = d.uuid;
  info.state = d.state;
  info.vcpus = d.spec.vcpus;
  info.memory_mib = d.spec.memory_mib;
  info.metadata = d.spec.metadata;
  info.console_log = d.spec.console_log;
  return info;
}

Result<HostInfo> FakeHypervisor::GetHostInfo() {
  std::lock_guard<std::mutex> lock(mu_);
  HostInfo host = host_;
  int64_t used = 0;
  for (const auto& [name, d] : domains_) used += d.spec.memory_mib;
  host.free_memory_mib = used >= host.memory_mib ? 0 : host.memory_mib - used;
  return host;
}

Result<DomainInfo> FakeHypervisor::Start(const DomainSpec& spec) {
  EUCA_RETURN_IF_ERROR(ValidateDomainSpec(spec));
  std::unique_lock<std::mutex> lock(mu_);
  if (auto held = held_.find(spec.name); held != held_.end()) {
    held->second = true;
    released_.wait(lock, [&] { return held_.count(spec.name) == 0; });
  }
  if (!start_faults_.empty()) {
    Status fault = std::move(start_faults_.front());
    start_faults_.pop_front();
    return fault;
  }
  if (domains_.count(spec.name) != 0) return AlreadyExists("domain '" + spec.name + "' already exists");
  Domain d;
  d.spec = spec;
  char uuid[40];
  std::snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012x", next_uuid_++);
  d.uuid = uuid;
  if (spec.start_paused) d.state = DomainState::kPaused;
  ++starts_;
  return Info(domains_.emplace(spec.name, std::move(d)).first->second);
}

Result<std::vector<DomainInfo>> FakeHypervisor::ListDomains() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DomainInfo> list;
  for (const auto& [name, d] : domains_) list.push_back(Info(d));
  return list;
}

Result<DomainInfo> FakeHypervisor::GetDomain(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = domains_.find(name);
  if (it == domains_.end()) return NotFound("domain '" + name + "' not found");
  return Info(it->second);
}

Status FakeHypervisor::Destroy(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (domains_.erase(name) == 0) return NotFound("domain '" + name + "' not found");
  return Status::Ok();
}

Status FakeHypervisor::Reboot(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = domains_.find(name);
  if (it == domains_.end()) return NotFound("domain '" + name + "' not found");
  if (it->second.state != DomainState::kRunning) {
    return Conflict("domain '" + name + "' is " + std::string(DomainStateName(it->second.state)) + ", not running");
  }
  ++it->second.reboots;
  return Status::Ok();
}

Status FakeHypervisor::Resume(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = domains_.find(name);
  if (it == domains_.end()) return NotFound("domain '" + name + "' not found");
  if (!resume_faults_.empty()) {
    Status fault = std::move(resume_faults_.front());
    resume_faults_.pop_front();
    return fault;
  }
  DomainState& state = it->second.state;
  if (state == DomainState::kRunning) return Status::Ok();
  if (state != DomainState::kPaused) {
    return Conflict("domain '" + name + "' is " + std::string(DomainStateName(state)) + ", not paused");
  }
  state = DomainState::kRunning;
  return Status::Ok();
}

void FakeHypervisor::HoldStartForTest(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  held_[name] = false;
}

void FakeHypervisor::ReleaseStartForTest(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  held_.erase(name);
  released_.notify_all();
}

bool FakeHypervisor::StartHeldForTest(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = held_.find(name);
  return it != held_.end() && it->second;
}

void FakeHypervisor::FailResumeForTest(Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  resume_faults_.push_back(std::move(status));
}

Status FakeHypervisor::KillForTest(const std::string& name) { return Destroy(name); }

Status FakeHypervisor::CrashForTest(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = domains_.find(name);
  if (it == domains_.end()) return NotFound("domain '" + name + "' not found");
  it->second.state = DomainState::kCrashed;
  return Status::Ok();
}

void FakeHypervisor::FailStartForTest(Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  start_faults_.push_back(std::move(status));
}

Result<DomainSpec> FakeHypervisor::SpecForTest(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = domains_.find(name);
  if (it == domains_.end()) return NotFound("domain '" + name + "' not found");
  return it->second.spec;
}

int FakeHypervisor::starts_for_test() const {
  std::lock_guard<std::mutex> lock(mu_);
  return starts_;
}

int FakeHypervisor::reboots_for_test(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = domains_.find(name);
  return it == domains_.end() ? 0 : it->second.reboots;
}

}  // namespace euca::hypervisor
