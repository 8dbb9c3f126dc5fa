#pragma once
// The libvirt driver of Hypervisor, over the libvirt C API: test:///default (libvirt's
// in-process fake; domain type "test") and qemu:///system or qemu:///session (QEMU through
// the libvirt daemon; domain type "kvm" or "qemu" from the Accel setting, see accel.h).
//
// Thread-safe: one virConnectPtr shared by all calls (libvirt connections are thread-safe;
// errors are per thread). A connection that died (daemon restarted) is reopened on the next
// call. libvirt errors are translated once, here, into Status with the operation and the
// domain named (docs/hypervisor.md "Errors").

#include <memory>
#include <string>

#include "drivers/hypervisor/hypervisor.h"

namespace euca::hypervisor {

/// Connects to `uri`. Unavailable when the daemon does not answer. `accel_cache`: see
/// ResolveDomainType.
Result<std::unique_ptr<Hypervisor>> OpenLibvirtHypervisor(const std::string& uri, Accel accel,
                                                          const std::string& accel_cache = "");

/// As above with the domain type given ("kvm", "qemu", "test"), skipping accelerator
/// resolution (tests, and callers that resolved it already).
Result<std::unique_ptr<Hypervisor>> OpenLibvirtHypervisorWithType(const std::string& uri,
                                                                  const std::string& domain_type);

}  // namespace euca::hypervisor
