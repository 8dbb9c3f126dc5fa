#include "drivers/hypervisor/libvirt/domain_xml.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace euca::hypervisor {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

DomainSpec SpecFromJson(const nlohmann::json& j) {
  DomainSpec spec;
  spec.name = j.value("name", "");
  spec.vcpus = j.value("vcpus", 1);
  spec.memory_mib = j.value("memory_mib", int64_t{256});
  spec.kernel = j.value("kernel", "");
  spec.ramdisk = j.value("ramdisk", "");
  spec.cmdline = j.value("cmdline", "");
  spec.firmware = j.value("firmware", "");
  spec.console_log = j.value("console_log", "");
  const nlohmann::json none = nlohmann::json::array();
  for (const auto& d : j.contains("disks") ? j.at("disks") : none) {
    DiskSpec disk;
    disk.path = d.value("path", "");
    disk.format = d.value("format", "qcow2");
    disk.target = d.value("target", "");
    disk.bus = d.value("bus", "virtio");
    disk.device = d.value("device", "disk");
    disk.readonly = d.value("readonly", false);
    spec.disks.push_back(disk);
  }
  for (const auto& n : j.contains("nics") ? j.at("nics") : none) {
    NicSpec nic;
    nic.bridge = n.value("bridge", "");
    nic.mac = n.value("mac", "");
    nic.model = n.value("model", "virtio");
    spec.nics.push_back(nic);
  }
  if (j.contains("metadata")) {
    for (const auto& [k, v] : j.at("metadata").items()) spec.metadata[k] = v.get<std::string>();
  }
  return spec;
}

// tests/data/hypervisor/<case>.in (JSON: domain_type, spec) -> <case>.out (domain XML).
// EUCA_TEST_REGENERATE=1 rewrites the .out files.
TEST(DomainXmlTest, GoldenFiles) {
  fs::path dir = fs::path(EUCA_SOURCE_DIR) / "tests/data/hypervisor";
  const char* regen = std::getenv("EUCA_TEST_REGENERATE");
  bool regenerate = regen != nullptr && std::string(regen) == "1";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".in") continue;
    ++cases;
    SCOPED_TRACE(entry.path().filename().string());
    nlohmann::json in = nlohmann::json::parse(ReadAll(entry.path()));
    DomainSpec spec = SpecFromJson(in.at("spec"));
    ASSERT_TRUE(ValidateDomainSpec(spec).ok()) << ValidateDomainSpec(spec).ToString();
    std::string xml = RenderDomainXml(spec, in.at("domain_type").get<std::string>());
    fs::path out = entry.path();
    out.replace_extension(".out");
    if (regenerate) {
      std::ofstream(out, std::ios::binary) << xml;
      continue;
    }
    ASSERT_TRUE(fs::exists(out)) << out << " is missing; run with EUCA_TEST_REGENERATE=1";
    EXPECT_EQ(xml, ReadAll(out));

    // Whatever we render, the metadata reads back as given.
    auto md = ParseMetadataXml(RenderMetadataXml(spec));
    ASSERT_TRUE(md.ok()) << md.status().ToString();
    EXPECT_EQ(md->entries, spec.metadata);
    EXPECT_EQ(md->console_log, spec.console_log);
  }
  EXPECT_GE(cases, 4);
}

TEST(DomainXmlTest, MetadataParsesWhateverPrefixLibvirtKept) {
  auto md = ParseMetadataXml(
      "<x:instance xmlns:x=\"urn:euca:instance:1\"><x:console-log>/c.log</x:console-log>"
      "<x:entry key=\"a\">1</x:entry></x:instance>");
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->console_log, "/c.log");
  EXPECT_EQ(md->entries.at("a"), "1");
}

TEST(DomainXmlTest, MetadataAsVirDomainGetMetadataReturnsIt) {
  auto md = ParseMetadataXml("<instance>\n  <entry key=\"instance-id\">i-1</entry>\n</instance>\n");
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->entries.at("instance-id"), "i-1");
}

TEST(DomainXmlTest, ForeignMetadataIsRefused) {
  EXPECT_EQ(
      ParseMetadataXml("<nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\"/>").status().code(),
      Code::kInvalidArgument);
  EXPECT_EQ(ParseMetadataXml("not xml <").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace euca::hypervisor
