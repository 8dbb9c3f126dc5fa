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

// ParseManifest of `good` with its first `from` replaced by `to`.
Status ParseReplaced(std::string good, const std::string& from, const std::string& to) {
  size_t at = good.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) good.replace(at, from.size(), to);
  return ParseManifest(good).status();
}

TEST(ManifestTest, RefusesMalformedManifests) {
  std::string good = ManifestToXml(Sample());
  auto with = [&](const std::string& from, const std::string& to) { return ParseReplaced(good, from, to); };
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

TEST(DeflateIndexTest, TextRoundTripsWithRunsOfEqualSizes) {
  DeflateIndex index{1 << 20, {499210, 1049, 1049, 1049, 1049, 7, 1049, 1}};
  const std::string text = DeflateIndexText(index);
  EXPECT_EQ(text, "499210 1049*4 7 1049 1");
  auto back = ParseDeflateIndexText(text, index.sizes.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, index.sizes);
  // Any whitespace separates; a lone run is fine.
  EXPECT_EQ(*ParseDeflateIndexText("\n 5*3\t9 ", 4), (std::vector<uint32_t>{5, 5, 5, 9}));
}

TEST(DeflateIndexTest, ParseRefusesMalformedText) {
  for (const char* bad : {"", "1 2", "1 2 3 4", "1*4", "0 1 2", "1 x 2", "1,2,3", "1*0 2 3", "1 2 4294967296",
                          "1 2*", "*3", "1 2 3*1*1", "-1 2 3"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(ParseDeflateIndexText(bad, 3).status().code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(ParseDeflateIndexText("1 2 3", 3).ok());
}

TEST(DeflateIndexTest, ManifestCarriesItInsideTheSignedImage) {
  const TestPki& pki = TestPki::Get();
  Manifest m = Sample();
  m.deflate_index = DeflateIndex{65536, {100, 200, 200, 50}};
  std::string xml = *SignedManifestXml(m, pki.user_key);
  EXPECT_NE(xml.find("</parts><deflate_index block_size=\"65536\" count=\"4\">100 200*2 50</deflate_index></image>"),
            std::string::npos)
      << xml;
  EXPECT_NE(ManifestSignedText(m).find("<deflate_index"), std::string::npos);
  auto parsed = ParseManifest(xml);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->deflate_index.block_size, 65536u);
  EXPECT_EQ(parsed->deflate_index.sizes, m.deflate_index.sizes);
  EXPECT_TRUE(VerifyManifestSignature(xml, pki.user_cert).ok());
  // The index is signed: changing it breaks the signature.
  std::string tampered = xml;
  tampered.replace(tampered.find(">100 200*2 50<"), 14, ">100 201*2 49<");
  EXPECT_EQ(VerifyManifestSignature(tampered, pki.user_cert).code(), Code::kUnauthenticated);
  // A manifest without one parses with an empty index.
  EXPECT_TRUE(Sample().deflate_index.empty());
}

TEST(DeflateIndexTest, ManifestRefusesAMalformedIndex) {
  Manifest m = Sample();
  m.deflate_index = DeflateIndex{65536, {100, 200, 200, 50}};
  const std::string good = ManifestToXml(m);
  auto with = [&](const std::string& from, const std::string& to) { return ParseReplaced(good, from, to); };
  EXPECT_NE(with("count=\"4\">100", "count=\"5\">100").message().find("deflate_index"), std::string::npos);
  EXPECT_NE(with("block_size=\"65536\"", "block_size=\"0\"").message().find("out of range"), std::string::npos);
  EXPECT_NE(with("block_size=\"65536\"", "block_size=\"134217728\"").message().find("out of range"),
            std::string::npos);
  EXPECT_NE(with("65536\" count=\"4\">", "65536\">").message().find("deflate_index count"), std::string::npos);
  EXPECT_NE(with("100 200*2 50", "100 200*2 fifty").message().find("deflate_index"), std::string::npos);
}

}  // namespace
}  // namespace euca::bundles
