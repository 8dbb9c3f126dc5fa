#pragma once
// The libvirt driver of Hypervisor, over the libvirt C API: test:///default (libvirt's
// in-process fake) and qemu:///system or qemu:///session (QEMU through the libvirt daemon).

#include <memory>
#include <string>

#include "drivers/hypervisor/hypervisor.h"

namespace euca::hypervisor {

/// Connects to `uri`. Unavailable when the daemon does not answer.
Result<std::unique_ptr<Hypervisor>> OpenLibvirtHypervisor(const std::string& uri, Accel accel);

}  // namespace euca::hypervisor
