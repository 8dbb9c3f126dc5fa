#include "bundles/manifest.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "bundles/test_support.h"
#include "core/base/pki.h"
#include "core/base/random.h"

namespace euca::bundles {
namespace {

using test_support::ReadFile;
using test_support::TestPki;
using test_support::WriteFile;

const std::string kData = std::string(EUCA_SOURCE_DIR) + "/tests/data/bundles";

// Golden files: tests/data/bundles/<case>.in is a manifest as some bundler wrote it; <case>.out
// is how we write what we read from it. EUCA_TEST_REGENERATE=1 rewrites the .out files.
TEST(ManifestGoldenTest, ReadThenWrite) {
  const bool regenerate = std::getenv("EUCA_TEST_REGENERATE") != nullptr;
  int cases = 0;
  for (const auto& e : std::filesystem::directory_iterator(kData)) {
    if (e.path().extension() != ".in") continue;
    ++cases;
    std::string name = e.path().stem().string();
    SCOPED_TRACE(name);
    auto m = ParseManifest(ReadFile(e.path().string()));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    std::string xml = ManifestToXml(*m);
    std::string out_path = kData + "/" + name + ".out";
    if (regenerate) WriteFile(out_path, xml);
    EXPECT_EQ(xml, ReadFile(out_path)) << "run with EUCA_TEST_REGENERATE=1 and review the diff";
    // Our own output reads back to the same manifest.
    auto again = ParseManifest(xml);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(ManifestToXml(*again), xml);
  }
  EXPECT_GE(cases, 3);
}

TEST(ManifestTest, ReadsEuca2ools1xManifests) {
  auto m = ParseManifest(ReadFile(kData + "/euca2ools-1x.in"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->type, "kernel") << "no <type>: kernel_id 'true' marks a kernel";
  EXPECT_EQ(m->bundler_name, "euca-tools");
  ASSERT_EQ(m->parts.size(), 2u);
  EXPECT_EQ(m->parts[0].filename, "vmlinuz-2.6.28-11-generic.part.0") << "parts are ordered by index";
  EXPECT_EQ(m->parts[0].sha1.find_first_of("ABCDEF"), std::string::npos) << "digests are lower-cased";
  EXPECT_EQ(m->size, 3610176u);
}

TEST(ManifestTest, WritesElementsInOrderAndEscapes) {
  auto m = ParseManifest(ReadFile(kData + "/full.in"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->name, "caf\xc3\xa9 & <r>.img");
  std::string xml = ManifestToXml(*m);
  EXPECT_NE(xml.find("<name>caf&#233; &amp; &lt;r&gt;.img</name>"), std::string::npos) << xml;
  // Mappings sorted by virtual name, as euca2ools 3 writes them.
  size_t ami = xml.find("<virtual>ami</virtual>"), eph = xml.find("<virtual>ephemeral0</virtual>"),
         root = xml.find("<virtual>root</virtual>");
  EXPECT_LT(ami, eph);
  EXPECT_LT(eph, root);
  // <type> directly follows <user>.
  EXPECT_NE(xml.find("<user>000011112222</user><type>machine</type>"), std::string::npos);
  for (unsigned char c : xml) EXPECT_LT(c, 0x80) << "the document is ASCII";
}

Manifest Sample() {
  auto m = ParseManifest(ReadFile(kData + "/minimal.in"));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

TEST(ManifestSignatureTest, SignsMachineConfigurationThenImageAndVerifies) {
  const TestPki& pki = TestPki::Get();
  auto xml = SignedManifestXml(Sample(), pki.user_key);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  auto text = ExtractSignedText(*xml);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, ManifestSignedText(Sample()));
  EXPECT_EQ(text->rfind("<machine_configuration>", 0), 0u);
  EXPECT_EQ(text->find("</machine_configuration><image>"), text->find("</machine_configuration>"));
  EXPECT_TRUE(VerifyManifestSignature(*xml, pki.user_cert).ok());
  auto parsed = ParseManifest(*xml);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->signature.size(), 512u);
}

TEST(ManifestSignatureTest, MismatchNamesTheCertificate) {
  const TestPki& pki = TestPki::Get();
  std::string xml = *SignedManifestXml(Sample(), pki.user_key);
  Status other = VerifyManifestSignature(xml, pki.other_cert);
  EXPECT_EQ(other.code(), Code::kUnauthenticated);
  EXPECT_EQ(other.message().rfind("manifest signature does not match certificate 'mallory'", 0), 0u) << other.message();
  EXPECT_EQ(other.wire_code(), "InvalidManifest");
  std::string tampered = xml;
  tampered.replace(tampered.find("<size>10737418240</size>"), 24, "<size>10737418241</size>");
  Status t = VerifyManifestSignature(tampered, pki.user_cert);
  EXPECT_NE(t.message().find("does not match certificate 'alice'"), std::string::npos) << t.message();
  Status u = VerifyManifestSignature(ManifestToXml(Sample()), pki.user_cert);
  EXPECT_NE(u.message().find("unsigned"), std::string::npos) << u.message();
}

TEST(ManifestSignatureTest, ChecksTheBytesInTheFileNotAReserialization) {
  // A signature made over indented elements verifies against those exact bytes only.
  const TestPki& pki = TestPki::Get();
  std::string mc = "<machine_configuration>\n  <architecture>x86_64</architecture>\n</machine_configuration>";
  std::string compact = ManifestToXml(Sample());
  size_t i0 = compact.find("<image>"), i1 = compact.find("</image>") + 8;
  std::string image = compact.substr(i0, i1 - i0);
  auto sig = SignRsaSha1(pki.user_key, mc + image);
  ASSERT_TRUE(sig.ok());
  std::string xml = "<?xml version=\"1.0\" ?>\n<manifest>\n <version>2007-10-10</version>\n " + mc + "\n " + image +
                    "\n <signature>" + HexEncode(*sig) + "</signature>\n</manifest>\n";
  EXPECT_TRUE(VerifyManifestSignature(xml, pki.user_cert).ok());
  auto m = ParseManifest(xml);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  // Re-serialized compactly, the same content no longer matches that signature.
  EXPECT_FALSE(VerifyManifestSignature(ManifestToXml(*m), pki.user_cert).ok());
}

TEST(ManifestTest, RefusesMalformedManifests) {
  std::string good = ManifestToXml(Sample());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string x = good;
    size_t at = x.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    x.replace(at, from.size(), to);
    return ParseManifest(x).status();
  };
  EXPECT_EQ(with("<version>2007-10-10</version>", "<version>2014-01-14</version>").code(), Code::kUnsupported);
  EXPECT_NE(with("<parts count=\"4\">", "<parts count=\"5\">").message().find("count '5'"), std::string::npos);
  EXPECT_NE(with("<part index=\"2\">", "<part index=\"1\">").message().find("twice"), std::string::npos);
  EXPECT_NE(with("<filename>disk.img.part.00</filename>", "<filename>../../etc/passwd</filename>")
                .message()
                .find("not a plain file name"),
            std::string::npos);
  EXPECT_NE(with("<size>10737418240</size>", "<size>ten</size>").message().find("'ten'"), std::string::npos);
  Status bad_xml = ParseManifest("<manifest><version>").status();
  EXPECT_EQ(bad_xml.code(), Code::kInvalidArgument);
  EXPECT_NE(bad_xml.message().find("not valid XML"), std::string::npos);
  EXPECT_EQ(bad_xml.wire_code(), "InvalidManifest");
  EXPECT_FALSE(ParseManifest("<other/>").ok());
}

}  // namespace
}  // namespace euca::bundles
