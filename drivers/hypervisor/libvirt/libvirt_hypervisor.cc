#include "drivers/hypervisor/libvirt/libvirt_hypervisor.h"

namespace euca::hypervisor {

Result<std::unique_ptr<Hypervisor>> OpenLibvirtHypervisor(const std::string& uri, Accel /*accel*/) {
  return Unsupported("the libvirt driver for '" + uri + "' is not built yet");
}

}  // namespace euca::hypervisor
