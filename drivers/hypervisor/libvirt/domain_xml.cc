#include "drivers/hypervisor/libvirt/domain_xml.h"

#include <pugixml.hpp>
#include <sstream>

namespace euca::hypervisor {
namespace {

const std::string kPrefix(kMetadataPrefix);

pugi::xml_node Child(pugi::xml_node parent, const char* name, const std::string& text = {}) {
  pugi::xml_node node = parent.append_child(name);
  if (!text.empty()) node.text().set(text.c_str());
  return node;
}

void Attr(pugi::xml_node node, const char* name, const std::string& value) {
  node.append_attribute(name).set_value(value.c_str());
}

void AppendMetadata(pugi::xml_node parent, const DomainSpec& spec) {
  pugi::xml_node inst = parent.append_child((kPrefix + ":" + std::string(kMetadataElement)).c_str());
  Attr(inst, ("xmlns:" + kPrefix).c_str(), std::string(kMetadataNamespace));
  if (!spec.console_log.empty()) Child(inst, (kPrefix + ":console-log").c_str(), spec.console_log);
  for (const auto& [key, value] : spec.metadata) {
    pugi::xml_node entry = Child(inst, (kPrefix + ":entry").c_str(), value);
    Attr(entry, "key", key);
  }
}

std::string Print(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_indent | pugi::format_no_declaration, pugi::encoding_utf8);
  return out.str();
}

// The local part of a possibly prefixed element name.
std::string_view LocalName(std::string_view name) {
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

}  // namespace

std::string RenderDomainXml(const DomainSpec& spec, std::string_view domain_type) {
  pugi::xml_document doc;
  pugi::xml_node domain = doc.append_child("domain");
  Attr(domain, "type", std::string(domain_type));
  Child(domain, "name", spec.name);
  Attr(Child(domain, "memory", std::to_string(spec.memory_mib)), "unit", "MiB");
  Child(domain, "vcpu", std::to_string(spec.vcpus));
  AppendMetadata(Child(domain, "metadata"), spec);

  pugi::xml_node os = Child(domain, "os");
  pugi::xml_node type = Child(os, "type", "hvm");
  Attr(type, "arch", "x86_64");
  Attr(type, "machine", "pc");
  if (!spec.firmware.empty()) Attr(Child(os, "loader", spec.firmware), "type", "rom");
  if (!spec.kernel.empty()) {
    Child(os, "kernel", spec.kernel);
    if (!spec.ramdisk.empty()) Child(os, "initrd", spec.ramdisk);
    if (!spec.cmdline.empty()) Child(os, "cmdline", spec.cmdline);
  } else {
    Attr(Child(os, "boot"), "dev", "hd");
  }
  pugi::xml_node features = Child(domain, "features");
  Child(features, "acpi");
  Child(features, "apic");
  if (domain_type == "qemu") {
    // TCG translates guest code into a buffer of 1 GiB by default; setting that up took QEMU
    // about 0.2 s of CPU per start here, a third of a start. A small guest's boot translates
    // far less than 128 MiB (and a full buffer is only flushed and refilled).
    Attr(Child(Child(features, "tcg"), "tb-cache", "128"), "unit", "MiB");
  }
  Attr(Child(domain, "clock"), "offset", "utc");
  Child(domain, "on_poweroff", "destroy");
  Child(domain, "on_reboot", "restart");
  Child(domain, "on_crash", "preserve");

  pugi::xml_node devices = Child(domain, "devices");
  for (const DiskSpec& d : spec.disks) {
    pugi::xml_node disk = Child(devices, "disk");
    Attr(disk, "type", "file");
    Attr(disk, "device", d.device);
    pugi::xml_node driver = Child(disk, "driver");
    Attr(driver, "name", "qemu");
    Attr(driver, "type", d.format);
    Attr(Child(disk, "source"), "file", d.path);
    pugi::xml_node target = Child(disk, "target");
    Attr(target, "dev", d.target);
    Attr(target, "bus", d.bus);
    if (d.readonly || d.device == "cdrom") Child(disk, "readonly");
  }
  for (const NicSpec& n : spec.nics) {
    pugi::xml_node nic = Child(devices, "interface");
    Attr(nic, "type", "bridge");
    Attr(Child(nic, "source"), "bridge", n.bridge);
    if (!n.mac.empty()) Attr(Child(nic, "mac"), "address", n.mac);
    Attr(Child(nic, "model"), "type", n.model);
  }
  if (!spec.console_log.empty()) {
    pugi::xml_node serial = Child(devices, "serial");
    Attr(serial, "type", "file");
    Attr(Child(serial, "source"), "path", spec.console_log);
    Attr(Child(serial, "target"), "port", "0");
    pugi::xml_node console = Child(devices, "console");
    Attr(console, "type", "file");
    Attr(Child(console, "source"), "path", spec.console_log);
    pugi::xml_node target = Child(console, "target");
    Attr(target, "type", "serial");
    Attr(target, "port", "0");
  }
  // Fewer emulated devices: a faster boot and nothing the NC does not use.
  pugi::xml_node usb = Child(devices, "controller");
  Attr(usb, "type", "usb");
  Attr(usb, "model", "none");
  Attr(Child(devices, "memballoon"), "model", "none");
  if (domain_type == "qemu" || domain_type == "kvm") {
    // After every start libvirt 9 reads the guest CPU's features from QEMU, one `qom-get`
    // monitor command per feature (about 400) when QEMU has the "unavailable-features" CPU
    // property. QEMU reads its monitor a byte per read(): here that was 0.9 s of a 1.3 s
    // start. Without the capability libvirt reads the same CPUID bits in two commands
    // (feature-words, filtered-features) and checks and records the same live <cpu>.
    // libvirt marks such a domain "custom-hypervisor-feature" in its log. docs/hypervisor.md.
    Attr(domain, "xmlns:qemu", std::string(kQemuNamespace));
    Attr(Child(Child(domain, "qemu:capabilities"), "qemu:del"), "capability", "cpu-unavailable-features");
  }
  return Print(doc);
}

std::string RenderMetadataXml(const DomainSpec& spec) {
  pugi::xml_document doc;
  AppendMetadata(doc, spec);
  return Print(doc);
}

Result<EucaMetadata> ParseMetadataXml(std::string_view xml) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size());
  if (!parsed) return InvalidArgument(std::string("euca metadata is not XML: ") + parsed.description());
  pugi::xml_node root = doc.document_element();
  // virDomainGetMetadata selects the element by our namespace and returns it without the
  // declaration; the element as it appears in the domain XML declares it (any prefix).
  bool ours = LocalName(root.name()) == kMetadataElement;
  for (pugi::xml_attribute a : root.attributes()) {
    std::string_view name = a.name();
    if ((name == "xmlns" || name.starts_with("xmlns:")) && a.value() != kMetadataNamespace) ours = false;
  }
  if (!ours) return InvalidArgument("element '" + std::string(root.name()) + "' is not euca metadata");
  EucaMetadata md;
  for (pugi::xml_node child : root.children()) {
    if (child.type() != pugi::node_element) continue;
    std::string_view local = LocalName(child.name());
    if (local == "console-log") {
      md.console_log = child.text().as_string();
    } else if (local == "entry") {
      md.entries[child.attribute("key").as_string()] = child.text().as_string();
    }
  }
  return md;
}

}  // namespace euca::hypervisor
