#pragma once
// Domain XML for the libvirt driver: rendering a DomainSpec (a pure function, golden-file
// tested) and reading back the euca metadata of a domain. Format: docs/hypervisor.md.

#include <map>
#include <string>
#include <string_view>

#include "drivers/hypervisor/hypervisor.h"

namespace euca::hypervisor {

/// The XML namespace of the euca metadata element (<metadata><euca:instance xmlns:euca=...>).
inline constexpr std::string_view kMetadataNamespace = "urn:euca:instance:1";
/// libvirt's namespace for QEMU-specific domain XML (<qemu:capabilities>).
inline constexpr std::string_view kQemuNamespace = "http://libvirt.org/schemas/domain/qemu/1.0";
/// Its conventional prefix and element name.
inline constexpr std::string_view kMetadataPrefix = "euca";
inline constexpr std::string_view kMetadataElement = "instance";

/// The domain XML that starts `spec` with libvirt domain type `domain_type` ("kvm", "qemu"
/// or "test"). REQUIRES: ValidateDomainSpec(spec) is ok. Deterministic: equal inputs give
/// equal bytes.
std::string RenderDomainXml(const DomainSpec& spec, std::string_view domain_type);

/// The euca metadata element alone (what virDomainGetMetadata returns for our namespace).
std::string RenderMetadataXml(const DomainSpec& spec);

/// What the metadata element holds.
struct EucaMetadata {
  std::map<std::string, std::string> entries{};
  std::string console_log{};
};

/// Parses the euca metadata element: as virDomainGetMetadata returns it (no namespace
/// declaration) or as it sits in domain XML (declaring kMetadataNamespace under any prefix).
/// InvalidArgument when it is not XML or not our element.
Result<EucaMetadata> ParseMetadataXml(std::string_view xml);

}  // namespace euca::hypervisor
