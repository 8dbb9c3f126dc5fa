#include "drivers/hypervisor/libvirt/libvirt_hypervisor.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <mutex>

#include "drivers/hypervisor/libvirt/accel.h"
#include "drivers/hypervisor/libvirt/domain_xml.h"

namespace euca::hypervisor {
namespace {

// libvirt prints every error on stderr unless told otherwise; we report them as Status.
void IgnoreError(void* /*data*/, virErrorPtr /*error*/) {}

void InitLibvirtOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    virInitialize();
    virSetErrorFunc(nullptr, IgnoreError);
  });
}

// The last libvirt error of this thread as a Status: "<context>: <libvirt message>".
Status LibvirtError(const std::string& context) {
  virErrorPtr e = virGetLastError();
  if (e == nullptr) return Internal(context + ": unknown libvirt error");
  std::string message = context + ": " + (e->message != nullptr ? e->message : "libvirt error");
  int code = e->code;
  int domain = e->domain;
  virResetLastError();
  switch (code) {
    case VIR_ERR_NO_DOMAIN:
      return NotFound(std::move(message));
    case VIR_ERR_DOM_EXIST:
      return AlreadyExists(std::move(message));
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_OPERATION_DENIED:
      return PermissionDenied(std::move(message));
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_OPERATION_TIMEOUT:
      return Unavailable(std::move(message));
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
      return Unsupported(std::move(message));
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      return InvalidArgument(std::move(message));
    case VIR_ERR_OPERATION_INVALID:
      return Conflict(std::move(message));
    default:
      break;
  }
  if (message.find("already exists") != std::string::npos) return AlreadyExists(std::move(message));
  if (domain == VIR_FROM_RPC || domain == VIR_FROM_REMOTE) return Unavailable(std::move(message));
  return Internal(std::move(message));
}

DomainState StateOf(unsigned char state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING:
      return DomainState::kRunning;
    case VIR_DOMAIN_BLOCKED:
      return DomainState::kBlocked;
    case VIR_DOMAIN_PAUSED:
      return DomainState::kPaused;
    case VIR_DOMAIN_SHUTDOWN:
      return DomainState::kShutdown;
    case VIR_DOMAIN_SHUTOFF:
      return DomainState::kShutoff;
    case VIR_DOMAIN_CRASHED:
      return DomainState::kCrashed;
    case VIR_DOMAIN_PMSUSPENDED:
      return DomainState::kPmSuspended;
    default:
      return DomainState::kNoState;
  }
}

// Owns a virDomainPtr.
struct DomainDeleter {
  void operator()(virDomainPtr d) const {
    if (d != nullptr) virDomainFree(d);
  }
};
using DomainRef = std::unique_ptr<virDomain, DomainDeleter>;

class LibvirtHypervisor final : public Hypervisor {
 public:
  LibvirtHypervisor(std::string uri, std::string domain_type, virConnectPtr conn)
      : uri_(std::move(uri)), domain_type_(std::move(domain_type)), conn_(conn) {}
  ~LibvirtHypervisor() override {
    if (conn_ != nullptr) virConnectClose(conn_);
    for (virConnectPtr dead : dead_) virConnectClose(dead);
    for (virConnectPtr idle : idle_start_conns_) virConnectClose(idle);
  }

  Result<HostInfo> GetHostInfo() override {
    EUCA_ASSIGN_OR_RETURN(virConnectPtr conn, Conn());
    virNodeInfo node;
    if (virNodeGetInfo(conn, &node) < 0) return LibvirtError("host info of '" + uri_ + "'");
    HostInfo host;
    host.cores = static_cast<int>(node.cpus);
    host.memory_mib = static_cast<int64_t>(node.memory / 1024);
    host.model = node.model;
    host.uri = uri_;
    host.domain_type = domain_type_;
    unsigned long long free_bytes = virNodeGetFreeMemory(conn);
    if (free_bytes == 0 && virGetLastError() != nullptr) {
      // Drivers without free-memory accounting: count the memory of running domains.
      virResetLastError();
      int64_t used = 0;
      EUCA_ASSIGN_OR_RETURN(auto all, AllDomains(conn));
      for (const DomainRef& d : all) {
        virDomainInfo info;
        if (virDomainGetInfo(d.get(), &info) == 0) used += static_cast<int64_t>(info.memory / 1024);
      }
      host.free_memory_mib = std::max<int64_t>(0, host.memory_mib - used);
    } else {
      host.free_memory_mib = static_cast<int64_t>(free_bytes / (1024 * 1024));
    }
    return host;
  }

  Result<DomainInfo> Start(const DomainSpec& spec) override {
    EUCA_RETURN_IF_ERROR(ValidateDomainSpec(spec));
    // A connection of its own: libvirtd serves at most max_client_requests (default 5) calls
    // of one connection at once, and a start is a long call (QEMU's start, then hundreds of
    // monitor commands checking the guest CPU), so a burst of starts on one connection queued
    // behind each other, and behind every describe.
    EUCA_ASSIGN_OR_RETURN(virConnectPtr conn, TakeStartConn());
    struct Give {
      LibvirtHypervisor* self;
      virConnectPtr conn;
      ~Give() { self->GiveStartConn(conn); }
    } give{this, conn};
    if (DomainRef existing{virDomainLookupByName(conn, spec.name.c_str())}) {
      return AlreadyExists("domain '" + spec.name + "' already exists");
    }
    virResetLastError();
    std::string xml = RenderDomainXml(spec, domain_type_);
    // libvirt's test driver has no paused start: it starts, then suspends.
    const bool test = uri_.starts_with("test:");
    unsigned int flags = spec.start_paused && !test ? VIR_DOMAIN_START_PAUSED : VIR_DOMAIN_NONE;
    DomainRef dom{virDomainCreateXML(conn, xml.c_str(), flags)};
    if (!dom) return LibvirtError("start domain '" + spec.name + "'");
    if (spec.start_paused && test && virDomainSuspend(dom.get()) < 0) {
      Status s = LibvirtError("pause domain '" + spec.name + "'");
      (void)virDomainDestroy(dom.get());
      return s;
    }
    EUCA_ASSIGN_OR_RETURN(std::optional<DomainInfo> info, Describe(dom.get()));
    if (!info) return Internal("domain '" + spec.name + "' started without its euca metadata");
    return *info;
  }

  Result<std::vector<DomainInfo>> ListDomains() override {
    EUCA_ASSIGN_OR_RETURN(virConnectPtr conn, Conn());
    EUCA_ASSIGN_OR_RETURN(auto all, AllDomains(conn));
    std::vector<DomainInfo> list;
    for (const DomainRef& d : all) {
      auto info = Describe(d.get());
      if (!info.ok()) {
        if (info.status().code() == Code::kNotFound) continue;  // gone since it was listed
        return info.status();
      }
      if (*info) list.push_back(std::move(**info));
    }
    std::sort(list.begin(), list.end(), [](const DomainInfo& a, const DomainInfo& b) { return a.name < b.name; });
    return list;
  }

  Result<DomainInfo> GetDomain(const std::string& name) override {
    EUCA_ASSIGN_OR_RETURN(DomainRef dom, Lookup(name));
    EUCA_ASSIGN_OR_RETURN(std::optional<DomainInfo> info, Describe(dom.get()));
    if (!info) return NotFound("domain '" + name + "' is not managed by euca");
    return *info;
  }

  Status Destroy(const std::string& name) override {
    EUCA_ASSIGN_OR_RETURN(DomainRef dom, LookupOurs(name));
    if (virDomainDestroy(dom.get()) < 0) return LibvirtError("destroy domain '" + name + "'");
    return Status::Ok();
  }

  Status Reboot(const std::string& name) override {
    EUCA_ASSIGN_OR_RETURN(DomainRef dom, LookupOurs(name));
    // A reset (the reset button) works with every guest; an ACPI reboot needs the guest's
    // cooperation, which the NC cannot count on.
    if (virDomainReset(dom.get(), 0) < 0) return LibvirtError("reboot domain '" + name + "'");
    return Status::Ok();
  }

  Status Resume(const std::string& name) override {
    EUCA_ASSIGN_OR_RETURN(DomainRef dom, LookupOurs(name));
    int state = 0;
    int reason = 0;
    if (virDomainGetState(dom.get(), &state, &reason, 0) < 0) return LibvirtError("state of domain '" + name + "'");
    if (state == VIR_DOMAIN_RUNNING) return Status::Ok();
    if (state != VIR_DOMAIN_PAUSED) {
      return Conflict("domain '" + name + "' is " + std::string(DomainStateName(StateOf(static_cast<unsigned char>(state)))) +
                      ", not paused");
    }
    if (virDomainResume(dom.get()) < 0) return LibvirtError("resume domain '" + name + "'");
    return Status::Ok();
  }

 private:
  // The connection, reopened when it died. The returned pointer stays valid while `this`
  // lives: a replaced connection is kept referenced (virConnectRef) until destruction.
  Result<virConnectPtr> Conn() {
    std::lock_guard<std::mutex> lock(mu_);
    if (conn_ != nullptr && virConnectIsAlive(conn_) == 1) return conn_;
    virConnectPtr fresh = virConnectOpen(uri_.c_str());
    if (fresh == nullptr) {
      Status s = LibvirtError("connect to '" + uri_ + "'");
      return Unavailable(s.message());
    }
    if (conn_ != nullptr) dead_.push_back(conn_);
    conn_ = fresh;
    return conn_;
  }

  // A connection for one Start: an idle one of the pool, else a new one. libvirt's test
  // driver may keep its domains per connection (test:///FILE), so test:// URIs share the
  // main connection.
  Result<virConnectPtr> TakeStartConn() {
    if (uri_.starts_with("test:")) return Conn();
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (!idle_start_conns_.empty()) {
        virConnectPtr conn = idle_start_conns_.back();
        idle_start_conns_.pop_back();
        if (virConnectIsAlive(conn) == 1) return conn;
        virConnectClose(conn);
      }
    }
    virConnectPtr fresh = virConnectOpen(uri_.c_str());
    if (fresh == nullptr) {
      Status s = LibvirtError("connect to '" + uri_ + "'");
      return Unavailable(s.message());
    }
    return fresh;
  }

  // Back to the pool, which keeps as many as were ever in use at once (a node's burst size).
  void GiveStartConn(virConnectPtr conn) {
    if (uri_.starts_with("test:")) return;
    std::lock_guard<std::mutex> lock(mu_);
    idle_start_conns_.push_back(conn);
  }

  Result<std::vector<DomainRef>> AllDomains(virConnectPtr conn) {
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn, &doms, 0);
    if (n < 0) return LibvirtError("list domains of '" + uri_ + "'");
    std::vector<DomainRef> all;
    for (int i = 0; i < n; ++i) all.emplace_back(doms[i]);
    free(doms);  // NOLINT: allocated by libvirt
    return all;
  }

  Result<DomainRef> Lookup(const std::string& name) {
    EUCA_ASSIGN_OR_RETURN(virConnectPtr conn, Conn());
    DomainRef dom{virDomainLookupByName(conn, name.c_str())};
    if (!dom) {
      Status s = LibvirtError("domain '" + name + "'");
      if (s.code() == Code::kNotFound) return NotFound("domain '" + name + "' not found");
      return s;
    }
    return dom;
  }

  // Lookup, refusing domains that are not ours (never destroy or reset someone else's VM).
  Result<DomainRef> LookupOurs(const std::string& name) {
    EUCA_ASSIGN_OR_RETURN(DomainRef dom, Lookup(name));
    EUCA_ASSIGN_OR_RETURN(std::optional<DomainInfo> info, Describe(dom.get()));
    if (!info) return NotFound("domain '" + name + "' is not managed by euca");
    return dom;
  }

  // The domain's info, or nullopt when it carries no euca metadata. NotFound when it
  // vanished meanwhile.
  Result<std::optional<DomainInfo>> Describe(virDomainPtr dom) {
    const char* raw_name = virDomainGetName(dom);
    std::string name = raw_name != nullptr ? raw_name : "";
    std::string ns(kMetadataNamespace);
    char* md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, ns.c_str(), 0);
    if (md == nullptr) {
      virErrorPtr e = virGetLastError();
      if (e != nullptr && e->code == VIR_ERR_NO_DOMAIN_METADATA) {
        virResetLastError();
        return std::optional<DomainInfo>();  // not ours
      }
      return LibvirtError("metadata of domain '" + name + "'");
    }
    std::string md_xml(md);
    free(md);  // NOLINT: allocated by libvirt
    auto parsed = ParseMetadataXml(md_xml);
    if (!parsed.ok()) return std::optional<DomainInfo>();
    DomainInfo info;
    info.name = name;
    info.metadata = std::move(parsed->entries);
    info.console_log = std::move(parsed->console_log);
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(dom, uuid) == 0) info.uuid = uuid;
    virDomainInfo vinfo;
    if (virDomainGetInfo(dom, &vinfo) < 0) return LibvirtError("info of domain '" + name + "'");
    info.state = StateOf(vinfo.state);
    info.vcpus = vinfo.nrVirtCpu;
    info.memory_mib = static_cast<int64_t>(vinfo.maxMem / 1024);
    return std::optional<DomainInfo>(std::move(info));
  }

  const std::string uri_;
  const std::string domain_type_;
  std::mutex mu_;
  virConnectPtr conn_;
  std::vector<virConnectPtr> dead_;
  std::vector<virConnectPtr> idle_start_conns_;  // see TakeStartConn
};

}  // namespace

Result<std::unique_ptr<Hypervisor>> OpenLibvirtHypervisorWithType(const std::string& uri,
                                                                  const std::string& domain_type) {
  InitLibvirtOnce();
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) {
    Status s = LibvirtError("connect to '" + uri + "'");
    return Unavailable(s.message() + " (is libvirtd running? tests/setup/libvirtd.sh starts one)");
  }
  return std::unique_ptr<Hypervisor>(std::make_unique<LibvirtHypervisor>(uri, domain_type, conn));
}

Result<std::unique_ptr<Hypervisor>> OpenLibvirtHypervisor(const std::string& uri, Accel accel,
                                                          const std::string& accel_cache) {
  std::string type = uri.starts_with("test:") ? "test" : ResolveDomainType(accel, accel_cache);
  return OpenLibvirtHypervisorWithType(uri, type);
}

}  // namespace euca::hypervisor
