#include "bundles/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <vector>

#include "bundles/crypto.h"
#include "bundles/file_io.h"
#include "bundles/tar.h"
#include "bundles/test_support.h"
#include "core/base/random.h"

namespace euca::bundles {
namespace {

using test_support::MixedBytes;
using test_support::Quote;
using test_support::ReadFile;
using test_support::Shell;
using test_support::TempDir;
using test_support::TestPki;
using test_support::WriteFile;

const std::string kScripts = std::string(EUCA_SOURCE_DIR) + "/tests/bundle";

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string Sha256Of(const std::string& data) {
  Sha256 sha;
  sha.Update(data.data(), data.size());
  return sha.FinishHex();
}

class RecordingProgress final : public Progress {
 public:
  void Update(uint64_t done, uint64_t total) override {
    if (!calls.empty()) {
      EXPECT_GE(done, calls.back().first) << "progress went backwards";
    }
    calls.emplace_back(done, total);
  }
  std::vector<std::pair<uint64_t, uint64_t>> calls;
};

class BundleTest : public ::testing::Test {
 protected:
  BundleTest() : pki_(TestPki::Get()) {
    std::filesystem::create_directories(bundle_dir());
    std::filesystem::create_directories(out_dir());
  }
  std::string bundle_dir() const { return dir_ / "bundle"; }
  std::string out_dir() const { return dir_ / "out"; }

  BundleOptions Options(const std::string& image) const {
    BundleOptions o;
    o.image_path = image;
    o.destination_dir = bundle_dir();
    o.account_id = "1234-5678-9012";
    o.user_cert_pem = pki_.user_cert;
    o.user_private_key_pem = pki_.user_key;
    o.cloud_cert_pem = pki_.ca_cert;
    o.block_size = 64 * 1024;
    o.part_size = 30000;
    return o;
  }
  UnbundleOptions UnOptions(const std::string& manifest) const {
    UnbundleOptions o;
    o.manifest_path = manifest;
    o.destination_dir = out_dir();
    o.private_key_pem = pki_.user_key;
    o.cert_pem = pki_.user_cert;
    return o;
  }
  // Bundles `data` as image "img" and returns the result.
  BundleResult Bundle(const std::string& data, BundleOptions* opts = nullptr) {
    WriteFile(dir_ / "img", data);
    BundleOptions o = opts != nullptr ? *opts : Options(dir_ / "img");
    o.image_path = dir_ / "img";
    auto r = BundleImage(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BundleResult{};
  }

  const TestPki& pki_;
  TempDir dir_;
};

TEST_F(BundleTest, RoundTripsAcrossManyPartsAndBlocks) {
  std::string data = MixedBytes(3 * 1024 * 1024 + 333, 11);
  RecordingProgress bp;
  WriteFile(dir_ / "img", data);
  auto b = BundleImage(Options(dir_ / "img"), &bp);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->manifest_path, bundle_dir() + "/img.manifest.xml");
  ASSERT_GT(b->manifest.parts.size(), 3u);
  EXPECT_EQ(b->manifest.parts.size(), (b->manifest.bundled_size + 29999) / 30000);
  EXPECT_EQ(b->manifest.parts[0].filename, "img.part.00");
  EXPECT_EQ(b->manifest.size, data.size());
  EXPECT_EQ(b->manifest.user, "123456789012");
  ASSERT_FALSE(bp.calls.empty());
  EXPECT_EQ(bp.calls.back(), std::make_pair(uint64_t{data.size()}, uint64_t{data.size()}));
  // Only the parts and the manifest: no temporary left behind.
  std::vector<std::string> want;
  for (const auto& p : b->manifest.parts) want.push_back(p.filename);
  want.push_back("img.manifest.xml");
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Entries(bundle_dir()), want);

  RecordingProgress up;
  auto u = Unbundle(UnOptions(b->manifest_path), &up);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->image_path, out_dir() + "/img");
  EXPECT_EQ(u->size, data.size());
  EXPECT_TRUE(ReadFile(u->image_path) == data);
  EXPECT_EQ(Entries(out_dir()), std::vector<std::string>{"img"});
  ASSERT_FALSE(up.calls.empty());
  EXPECT_EQ(up.calls.back().first, up.calls.back().second);
}

TEST_F(BundleTest, RoundTripsEdgeSizes) {
  // Empty, one byte, tar data ending exactly on a block, and a few blocks of zeros.
  for (size_t size : {size_t{0}, size_t{1}, size_t{64 * 1024 - 512}, size_t{5 * 64 * 1024}}) {
    std::string data = size == 5 * 64 * 1024 ? std::string(size, '\0') : MixedBytes(size, 3);
    BundleOptions o = Options(dir_ / "img");
    o.prefix = "edge" + std::to_string(size);
    auto b = Bundle(data, &o);
    auto u = Unbundle(UnOptions(b.manifest_path));
    ASSERT_TRUE(u.ok()) << size << ": " << u.status().ToString();
    EXPECT_EQ(u->image_path, out_dir() + "/" + o.prefix);
    EXPECT_TRUE(ReadFile(u->image_path) == data) << size;
  }
}

TEST_F(BundleTest, ZeroRunsBecomeHolesWhenUnbundled) {
  std::string data = MixedBytes(100000, 1) + std::string(4 << 20, '\0') + "end";
  auto b = Bundle(data);
  EXPECT_LT(b.manifest.bundled_size, 200000u) << "4 MiB of zeros compress to almost nothing";
  auto u = Unbundle(UnOptions(b.manifest_path));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(ReadFile(u->image_path) == data);
  struct stat st;
  ASSERT_EQ(::stat(u->image_path.c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{2} << 20) << "the zero run is a hole";
}

// Seams for the image writer (ImageWriterOptions): a file system that refuses to set
// O_DIRECT, one whose direct writes fail with EINVAL (each counting its refusals), and a
// full disk.
std::atomic<int> direct_refusals{0};
int RefuseDirectFlag(int fd, int flags) {
  if ((flags & O_DIRECT) != 0) {
    ++direct_refusals;
    errno = EINVAL;
    return -1;
  }
  return ::fcntl(fd, F_SETFL, flags);
}
ssize_t RefuseDirectWrite(int fd, const void* buf, size_t n, off_t offset) {
  if ((::fcntl(fd, F_GETFL) & O_DIRECT) != 0) {
    ++direct_refusals;
    errno = EINVAL;
    return -1;
  }
  return ::pwrite(fd, buf, n, offset);
}
ssize_t DiskFull(int, const void*, size_t, off_t) {
  errno = ENOSPC;
  return -1;
}

// O_DIRECT, buffered, and the two fallbacks from O_DIRECT to buffered writes: the same
// image, as sparse, on both paths.
TEST_F(BundleTest, TheImageIsTheSameAndAsSparseWhetherWrittenDirectOrBuffered) {
  const std::string data = MixedBytes(300000, 1) + std::string(1 << 20, '\0') + MixedBytes(70000, 2) +
                           std::string(3 * 4096, '\0') + "end";
  const int probe = ::open((out_dir() + "/probe").c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  const bool direct_works = probe >= 0;
  if (probe >= 0) ::close(probe);
  RemoveQuietly(out_dir() + "/probe");
  for (bool index : {true, false}) {
    BundleOptions bo = Options(dir_ / "img");
    bo.deflate_index = index;
    BundleResult b = Bundle(data, &bo);
    const std::pair<const char*, ImageWriterOptions> ways[] = {
        {"direct", {}},
        {"buffered", {.direct_io = false}},
        {"O_DIRECT refused", {.set_fl_for_test = &RefuseDirectFlag}},
        {"direct write refused", {.pwrite_for_test = &RefuseDirectWrite}},
    };
    for (const auto& [name, writer] : ways) {
      SCOPED_TRACE(std::string(name) + (index ? ", parallel" : ", serial"));
      RemoveQuietly(out_dir() + "/img");
      direct_refusals = 0;
      UnbundleOptions o = UnOptions(b.manifest_path);
      o.image_writer = writer;
      auto u = Unbundle(o);
      ASSERT_TRUE(u.ok()) << u.status().ToString();
      EXPECT_EQ(u->parallel_inflate, index);
      EXPECT_TRUE(ReadFile(u->image_path) == data);
      struct stat st;
      ASSERT_EQ(::stat(u->image_path.c_str(), &st), 0);
      EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{600} << 10) << "the zero runs are holes";
      // The fallback was taken: at the open, or at the first writes (where the folder's file
      // system lets O_DIRECT be set at all; each writer thread may see one refusal).
      if (writer.set_fl_for_test != nullptr) {
        EXPECT_EQ(direct_refusals, 1);
      } else if (writer.pwrite_for_test != nullptr && direct_works) {
        EXPECT_GE(direct_refusals, 1);
        EXPECT_LE(direct_refusals, static_cast<int>(ImageWriter::kWriterThreads));
      } else if (writer.pwrite_for_test != nullptr) {
        EXPECT_EQ(direct_refusals, 0);
      }
      EXPECT_EQ(Entries(out_dir()), std::vector<std::string>{"img"});
    }
  }
}

TEST_F(BundleTest, AFailedWriteOfTheImageLeavesNothing) {
  const std::string data = MixedBytes(3 << 20, 3);
  BundleResult b = Bundle(data);
  for (bool index : {true, false}) {
    UnbundleOptions o = UnOptions(b.manifest_path);
    o.image_writer.pwrite_for_test = &DiskFull;
    if (!index) {
      BundleOptions bo = Options(dir_ / "img");
      bo.deflate_index = false;
      b = Bundle(data, &bo);
      o.manifest_path = b.manifest_path;
    }
    Status s = Unbundle(o).status();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("No space left"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("unbundle '" + b.manifest_path + "'"), std::string::npos) << s.ToString();
    EXPECT_TRUE(Entries(out_dir()).empty());
  }
}

// What reached pwrite(2), to show a refused bundle wrote nothing: the bytes, and the end of
// the furthest write (writes past 64 MiB are counted but not made).
std::atomic<uint64_t> written_bytes{0};
std::atomic<uint64_t> written_end{0};
ssize_t CountingWrite(int fd, const void* buf, size_t n, off_t offset) {
  written_bytes += n;
  uint64_t end = static_cast<uint64_t>(offset) + n;
  for (uint64_t seen = written_end.load(); end > seen && !written_end.compare_exchange_weak(seen, end);) {
  }
  if (end > (uint64_t{64} << 20)) return static_cast<ssize_t>(n);
  return ::pwrite(fd, buf, n, offset);
}

// Unbundles `manifest` through CountingWrite (its counts reset first), expecting a refusal
// that leaves nothing at the destination; its message.
std::string RefusalWithCountedWrites(const UnbundleOptions& base, bool image_sha256 = false) {
  written_bytes = 0;
  written_end = 0;
  UnbundleOptions o = base;
  o.image_writer = {.direct_io = false, .pwrite_for_test = &CountingWrite};
  o.image_sha256 = image_sha256;
  Status s = Unbundle(o).status();
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(std::filesystem::is_empty(o.destination_dir));
  return s.message();
}

// A signed bundle whose tar member is bigger than the manifest's image size was unpacked in
// full (filling the disk) and refused only at the end; now its header is refused.
TEST_F(BundleTest, TarMemberLargerThanTheManifestSizeIsRefusedBeforeAnyWrite) {
  const std::string data = MixedBytes(8 << 20, 21);
  for (size_t block : {size_t{0}, size_t{64} << 10}) {  // serial and parallel paths
    SCOPED_TRACE(block == 0 ? "serial" : "parallel");
    std::string manifest = test_support::BundleOfTar(test_support::RawTar("img", data), bundle_dir(), "img",
                                                     uint64_t{1} << 20, {}, block);
    std::string message = RefusalWithCountedWrites(UnOptions(manifest), /*image_sha256=*/true);
    EXPECT_NE(message.find("tar member 'img' is 8388608 bytes but the manifest says the image is 1048576"),
              std::string::npos)
        << message;
    EXPECT_EQ(written_bytes.load(), 0u);
  }
}

// A sparse member claiming 1 TiB in a bundle of a few KiB: its data at the end would have been
// written at offset 1 TiB (and, with the image SHA-256, 1 TiB of zeros hashed for hours).
TEST_F(BundleTest, SparseMemberLargerThanTheManifestSizeIsRefusedBeforeAnyWrite) {
  const uint64_t tib = uint64_t{1} << 40;
  const std::string data(4096, 'x');
  std::string manifest = test_support::BundleOfTar(test_support::GnuSparseTar("img", tib, tib - 4096, data),
                                                   bundle_dir(), "img", uint64_t{1} << 20);
  std::string message = RefusalWithCountedWrites(UnOptions(manifest));
  EXPECT_NE(message.find("tar member 'img' is " + std::to_string(tib) + " bytes but the manifest says the image is "
                         "1048576"),
            std::string::npos)
      << message;
  EXPECT_EQ(written_end.load(), 0u);
}

// A sparse member of the right logical size whose map puts data past that size.
TEST_F(BundleTest, SparseDataPastTheMemberSizeIsRefused) {
  const uint64_t size = uint64_t{1} << 20;
  const std::string data(4096, 'x');
  std::string manifest = test_support::BundleOfTar(test_support::GnuSparseTar("img", size, uint64_t{1} << 30, data),
                                                   bundle_dir(), "img", size);
  std::string message = RefusalWithCountedWrites(UnOptions(manifest));
  EXPECT_NE(message.find("tar member 'img' has data at bytes 1073741824 to 1073745920, past its size 1048576"),
            std::string::npos)
      << message;
  EXPECT_LE(written_end.load(), size);
  // The same map inside the size unpacks.
  manifest = test_support::BundleOfTar(test_support::GnuSparseTar("img", size, size - 4096, data), bundle_dir(),
                                       "img", size);
  auto u = Unbundle(UnOptions(manifest));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(ReadFile(u->image_path) == std::string(size - 4096, '\0') + data);
}

TEST_F(BundleTest, ManifestIsSignedAndKeyWrappedForBothCertificates) {
  auto b = Bundle(MixedBytes(200000, 2));
  std::string xml = ReadFile(b.manifest_path);
  EXPECT_EQ(xml.rfind("<?xml version='1.0' encoding='ASCII'?><manifest><version>2007-10-10</version>", 0), 0u);
  EXPECT_EQ(xml.find('\n'), std::string::npos);
  EXPECT_TRUE(VerifyManifestSignature(xml, pki_.user_cert).ok());
  EXPECT_EQ(b.manifest.ec2_encrypted_key.size(), 512u);
  EXPECT_EQ(b.manifest.user_encrypted_key.size(), 512u);
  // The cloud unbundles with its own key through ec2_encrypted_key.
  UnbundleOptions o = UnOptions(b.manifest_path);
  o.private_key_pem = pki_.ca_key;
  auto u = Unbundle(o);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(ReadFile(u->image_path) == MixedBytes(200000, 2));
}

TEST_F(BundleTest, WithoutUserCertAndKeyTheManifestIsUnsignedWithEmptyUserKeys) {
  BundleOptions o = Options(dir_ / "img");
  o.user_cert_pem.clear();
  o.user_private_key_pem.clear();
  o.image_type = "kernel";
  auto b = Bundle("kernel bytes", &o);
  std::string xml = ReadFile(b.manifest_path);
  EXPECT_NE(xml.find("<signature>UNSIGNED</signature>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<user_encrypted_key algorithm=\"AES-128-CBC\"></user_encrypted_key>"), std::string::npos);
  EXPECT_NE(xml.find("<user_encrypted_iv></user_encrypted_iv>"), std::string::npos);
  EXPECT_NE(xml.find("<kernel_id>true</kernel_id>"), std::string::npos);
  EXPECT_NE(xml.find("<type>kernel</type>"), std::string::npos);
  // The user's key cannot open it; the cloud's can.
  UnbundleOptions uo = UnOptions(b.manifest_path);
  uo.cert_pem.clear();
  EXPECT_FALSE(Unbundle(uo).ok());
  uo.private_key_pem = pki_.ca_key;
  auto u = Unbundle(uo);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  // A certificate to check against, but nothing signed: an error.
  uo.cert_pem = pki_.user_cert;
  auto signed_check = Unbundle(uo);
  ASSERT_FALSE(signed_check.ok());
  EXPECT_NE(signed_check.status().message().find("unsigned"), std::string::npos);
}

// Interop (a): a bundle of ours unpacked by openssl, gunzip and tar alone.
TEST_F(BundleTest, ShellScriptUnpacksOurBundle) {
  std::string data = MixedBytes(1024 * 1024 + 17, 21);
  auto b = Bundle(data);
  WriteFile(dir_ / "user.key", pki_.user_key);
  WriteFile(dir_ / "cloud.key", pki_.ca_key);
  std::string out;
  ASSERT_EQ(Shell("bash " + Quote(kScripts + "/unbundle.sh") + " " + Quote(b.manifest_path) + " " +
                      Quote(dir_ / "user.key") + " " + Quote(out_dir()),
                  &out),
            0)
      << out;
  EXPECT_TRUE(ReadFile(out_dir() + "/img") == data);
  std::filesystem::remove(out_dir() + "/img");
  ASSERT_EQ(Shell("bash " + Quote(kScripts + "/unbundle.sh") + " " + Quote(b.manifest_path) + " " +
                      Quote(dir_ / "cloud.key") + " " + Quote(out_dir()) + " ec2",
                  &out),
            0)
      << out;
  EXPECT_TRUE(ReadFile(out_dir() + "/img") == data);
}

// Interop (b): a bundle made by openssl, gzip, tar and split unpacked by Unbundle, with its
// signature checked; compact, pretty-printed, and GNU sparse (euca2ools 1.x) variants.
TEST_F(BundleTest, UnbundlesAShellScriptBundle) {
  std::string data = MixedBytes(700000, 31) + std::string(300000, '\0') + MixedBytes(5000, 32);
  WriteFile(dir_ / "disk.img", data);
  WriteFile(dir_ / "user.crt", pki_.user_cert);
  WriteFile(dir_ / "user.key", pki_.user_key);
  WriteFile(dir_ / "cloud.crt", pki_.ca_cert);
  for (const char* env : {"PRETTY=0 SPARSE=0", "PRETTY=1 SPARSE=0", "PRETTY=0 SPARSE=1"}) {
    SCOPED_TRACE(env);
    TempDir src;
    std::string out;
    ASSERT_EQ(Shell(std::string(env) + " bash " + Quote(kScripts + "/bundle.sh") + " " + Quote(dir_ / "disk.img") +
                        " scripted " + Quote(src.path()) + " " + Quote(dir_ / "user.crt") + " " +
                        Quote(dir_ / "user.key") + " " + Quote(dir_ / "cloud.crt") + " 123456789012 50000",
                    &out),
              0)
        << out;
    auto u = Unbundle(UnOptions(src / "scripted.manifest.xml"));
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    EXPECT_EQ(u->image_path, out_dir() + "/scripted");
    EXPECT_TRUE(ReadFile(u->image_path) == data);
    EXPECT_GE(u->manifest.parts.size(), 2u);
    std::filesystem::remove(u->image_path);
  }
}

// --- The deflate index: parallel inflate, and an index that lies is an error.

TEST_F(BundleTest, DeflateIndexListsEveryBlockAndUnbundlesInParallel) {
  // Mixed data, whole blocks of zeros (inflated once, then recognized), and a short last block.
  std::string data = MixedBytes(700000, 12) + std::string(10 * 64 * 1024, '\0') + MixedBytes(90001, 13);
  BundleResult b = Bundle(data);
  const DeflateIndex& index = b.manifest.deflate_index;
  EXPECT_EQ(index.block_size, 64u * 1024);
  const uint64_t tar_size = 512 + (data.size() + 511) / 512 * 512 + 1024;
  const uint64_t tar_padded = (tar_size + kTarRecord - 1) / kTarRecord * kTarRecord;
  EXPECT_EQ(index.sizes.size(), (tar_padded + index.block_size - 1) / index.block_size);
  uint64_t gzip_size = 10 + 10;
  for (uint32_t size : index.sizes) gzip_size += size;
  EXPECT_EQ(b.manifest.bundled_size, gzip_size / 16 * 16 + 16);  // PKCS#7 pads 1..16 bytes
  EXPECT_NE(ReadFile(b.manifest_path).find("<deflate_index block_size=\"65536\""), std::string::npos);

  auto u = Unbundle(UnOptions(b.manifest_path));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(u->parallel_inflate);
  EXPECT_FALSE(u->tar_digest_checked);
  EXPECT_TRUE(ReadFile(u->image_path) == data);
  struct stat st;
  ASSERT_EQ(::stat(u->image_path.c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, data.size() - 8 * 64 * 1024) << "zero blocks were written";
  std::filesystem::remove(u->image_path);

  // Unsigned (the tar SHA-1 recomputed) and with the image's SHA-256: the same path.
  UnbundleOptions o = UnOptions(b.manifest_path);
  o.cert_pem.clear();
  o.image_sha256 = true;
  auto v = Unbundle(o);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->parallel_inflate);
  EXPECT_TRUE(v->tar_digest_checked);
  EXPECT_TRUE(ReadFile(v->image_path) == data);
  EXPECT_EQ(v->image_sha256, Sha256Of(data));
}

TEST_F(BundleTest, WithoutADeflateIndexTheSerialPathUnbundles) {
  std::string data = MixedBytes(500000, 14) + std::string(200000, '\0');
  BundleOptions o = Options(dir_ / "img");
  o.deflate_index = false;
  BundleResult b = Bundle(data, &o);
  EXPECT_TRUE(b.manifest.deflate_index.empty());
  EXPECT_EQ(ReadFile(b.manifest_path).find("deflate_index"), std::string::npos);
  auto u = Unbundle(UnOptions(b.manifest_path));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->parallel_inflate);
  EXPECT_TRUE(ReadFile(u->image_path) == data);
}

TEST_F(BundleTest, LargeBlocksGoTheSerialWay) {
  // A deflate index of 8 MiB blocks would not fit the memory bound of the parallel path.
  std::string data = MixedBytes(300000, 15);
  BundleOptions o = Options(dir_ / "img");
  o.block_size = 8 << 20;
  BundleResult b = Bundle(data, &o);
  EXPECT_EQ(b.manifest.deflate_index.block_size, 8u << 20);
  auto u = Unbundle(UnOptions(b.manifest_path));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->parallel_inflate);
  EXPECT_TRUE(ReadFile(u->image_path) == data);
}

// A signed manifest whose deflate index is wrong (its signer lied, or erred): the tar
// SHA-1 is not recomputed, so the parallel path itself must refuse every such index.
TEST_F(BundleTest, AWrongDeflateIndexIsAnErrorNeverOtherBytes) {
  std::string data = MixedBytes(400000, 16) + std::string(4 * 64 * 1024, '\0') + MixedBytes(100000, 17);
  BundleResult b = Bundle(data);
  const Manifest good = b.manifest;
  const size_t n = good.deflate_index.sizes.size();
  ASSERT_GE(n, 8u);
  ASSERT_NE(good.deflate_index.sizes[0], good.deflate_index.sizes[1]);
  struct Case {
    std::string what;
    std::function<void(DeflateIndex&)> change;
  };
  std::vector<Case> cases = {
      {"first boundary one byte early", [](DeflateIndex& i) { --i.sizes[0], ++i.sizes[1]; }},
      {"first boundary one byte late", [](DeflateIndex& i) { ++i.sizes[0], --i.sizes[1]; }},
      {"boundary after a zero block moved", [](DeflateIndex& i) { i.sizes[7] += 4, i.sizes[8] -= 4; }},
      {"two sizes swapped", [](DeflateIndex& i) { std::swap(i.sizes[0], i.sizes[1]); }},
      {"half the block size", [](DeflateIndex& i) { i.block_size /= 2; }},
      {"twice the block size", [](DeflateIndex& i) { i.block_size *= 2; }},
      {"last two blocks as one", [](DeflateIndex& i) { i.sizes[i.sizes.size() - 2] += i.sizes.back(), i.sizes.pop_back(); }},
      {"last block missing", [](DeflateIndex& i) { i.sizes.pop_back(); }},
      {"a block too many", [](DeflateIndex& i) { i.sizes.push_back(5); }},
      {"first block split in two", [](DeflateIndex& i) { i.sizes.insert(i.sizes.begin(), 100), i.sizes[1] -= 100; }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Manifest m = good;
    c.change(m.deflate_index);
    WriteFile(b.manifest_path, *SignedManifestXml(m, pki_.user_key));
    auto u = Unbundle(UnOptions(b.manifest_path));
    ASSERT_FALSE(u.ok()) << "a wrong index unbundled";
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument);
    // Refused while inflating, or (a size no block of that size compresses to) before.
    const std::string message = u.status().message();
    EXPECT_TRUE(message.find("cannot gunzip the bundle") != std::string::npos ||
                message.find("its deflate index gives block") != std::string::npos)
        << message;
    EXPECT_TRUE(Entries(out_dir()).empty());
  }
  // A size no block of that size can compress to is refused before anything is read.
  Manifest m = good;
  m.deflate_index.sizes[3] = 1 << 30;
  WriteFile(b.manifest_path, *SignedManifestXml(m, pki_.user_key));
  Status s = Unbundle(UnOptions(b.manifest_path)).status();
  EXPECT_NE(s.message().find("deflate index gives block 3"), std::string::npos) << s.message();
  // And the good index still unbundles.
  WriteFile(b.manifest_path, *SignedManifestXml(good, pki_.user_key));
  auto u = Unbundle(UnOptions(b.manifest_path));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(ReadFile(u->image_path) == data);
}

TEST_F(BundleTest, ParallelPathChecksTheGzipTrailer) {
  std::string data = MixedBytes(300000, 18);
  std::string tar = test_support::RawTar("img", data);
  std::string manifest =
      test_support::BundleOfTar(tar, bundle_dir(), "img", data.size(), {}, 64 * 1024, /*crc_xor=*/1);
  auto u = Unbundle(UnOptions(manifest));
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("cannot gunzip the bundle: gzip CRC-32 or length mismatch"), std::string::npos)
      << u.status().message();
  EXPECT_TRUE(Entries(out_dir()).empty());
  manifest = test_support::BundleOfTar(tar, bundle_dir(), "img", data.size(), {}, 64 * 1024);
  u = Unbundle(UnOptions(manifest));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(u->parallel_inflate);
  EXPECT_TRUE(ReadFile(u->image_path) == data);
}

TEST_F(BundleTest, ParallelPathStopsCleanlyWhenTheTarIsRefused) {
  // The untar thread fails at the first header while the reader and the workers are busy
  // with the blocks after it: everything stops, the tar error is the one reported.
  std::string data = MixedBytes(2 * 1024 * 1024, 19);
  std::string manifest = test_support::BundleOfTar(test_support::RawTar("../evil", data), bundle_dir(), "evil",
                                                   data.size(), {}, 64 * 1024);
  auto u = Unbundle(UnOptions(manifest));
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("'../evil' is not a plain file name"), std::string::npos)
      << u.status().message();
  EXPECT_TRUE(Entries(out_dir()).empty());
}

// --- Integrity: each failure gives its documented error and leaves nothing behind.

class BundleIntegrityTest : public BundleTest {
 protected:
  void SetUp() override {
    data_ = MixedBytes(600000, 41);
    result_ = Bundle(data_);
    ASSERT_GE(result_.manifest.parts.size(), 4u);
  }
  Status UnbundleStatus(const UnbundleOptions& o) {
    auto u = Unbundle(o);
    EXPECT_TRUE(Entries(out_dir()).empty()) << "something was left at the destination";
    return u.status();
  }
  std::string data_;
  BundleResult result_;
};

TEST_F(BundleIntegrityTest, TamperedPartNamesThePartAndBothDigests) {
  const ManifestPart& part = result_.manifest.parts[3];
  std::string path = bundle_dir() + "/" + part.filename;
  std::string bytes = ReadFile(path);
  bytes[bytes.size() / 2] ^= 0x20;
  WriteFile(path, bytes);
  Status s = UnbundleStatus(UnOptions(result_.manifest_path));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  std::string want = "part 'img.part.03' is corrupt: SHA-1 expected " + part.sha1 + " got " + Sha1Hex(bytes);
  EXPECT_NE(s.message().find(want), std::string::npos) << s.message();
}

TEST_F(BundleIntegrityTest, TamperedFirstPartIsReportedAsTheCorruptPart) {
  // Corruption early in the stream makes gunzip fail at once; the part digest still wins.
  std::string path = bundle_dir() + "/img.part.00";
  std::string bytes = ReadFile(path);
  bytes[40] ^= 0xff;
  WriteFile(path, bytes);
  Status s = UnbundleStatus(UnOptions(result_.manifest_path));
  EXPECT_NE(s.message().find("part 'img.part.00' is corrupt"), std::string::npos) << s.message();
}

TEST_F(BundleIntegrityTest, TamperedManifestFailsTheSignature) {
  std::string xml = ReadFile(result_.manifest_path);
  size_t at = xml.find("<architecture>x86_64</architecture>");
  ASSERT_NE(at, std::string::npos);
  xml.replace(at, 35, "<architecture>i386</architecture>");
  WriteFile(result_.manifest_path, xml);
  Status s = UnbundleStatus(UnOptions(result_.manifest_path));
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("manifest signature does not match certificate 'alice'"), std::string::npos)
      << s.message();
}

TEST_F(BundleIntegrityTest, WrongPrivateKeyIsAClearError) {
  UnbundleOptions o = UnOptions(result_.manifest_path);
  o.private_key_pem = pki_.other_key;
  Status s = UnbundleStatus(o);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("cannot decrypt the bundle key with this private key", 0), 0u) << s.message();
}

TEST_F(BundleIntegrityTest, MissingPartIsNamed) {
  std::filesystem::remove(bundle_dir() + "/img.part.02");
  Status s = UnbundleStatus(UnOptions(result_.manifest_path));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("part 'img.part.02'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("missing"), std::string::npos) << s.message();
}

TEST_F(BundleIntegrityTest, TruncatedLastPartIsCorrupt) {
  std::string path = bundle_dir() + "/" + result_.manifest.parts.back().filename;
  std::string bytes = ReadFile(path);
  WriteFile(path, bytes.substr(0, bytes.size() - 16));
  Status s = UnbundleStatus(UnOptions(result_.manifest_path));
  EXPECT_NE(s.message().find("is corrupt: SHA-1 expected"), std::string::npos) << s.message();
}

TEST_F(BundleIntegrityTest, ConsistentlyForgedUnsignedBundleFailsTheImageDigest) {
  // Someone re-makes part 0 and its digest in an unsigned manifest: the tar digest catches it.
  std::string xml = ReadFile(result_.manifest_path);
  auto m = ParseManifest(xml);
  ASSERT_TRUE(m.ok());
  std::string image_digest = m->digest;
  m->digest = std::string(40, '0');
  WriteFile(result_.manifest_path, ManifestToXml(*m));
  UnbundleOptions o = UnOptions(result_.manifest_path);
  o.cert_pem.clear();
  Status s = UnbundleStatus(o);
  EXPECT_NE(s.message().find("SHA-1 " + image_digest + " but the manifest says 0000"), std::string::npos)
      << s.message();
}

// --- Sources and destinations other than folders.

// Parts held in memory, as Walrus streams them out of its object store.
class MemoryParts final : public PartSource {
 public:
  std::string Where() const override { return "memory"; }
  Result<uint64_t> Size(const ManifestPart& part) override {
    auto it = parts.find(part.filename);
    if (it == parts.end()) return NotFound(part.filename);
    return uint64_t{it->second.size()};
  }
  Result<std::unique_ptr<PartReader>> Open(const ManifestPart& part) override {
    struct Reader final : PartReader {
      explicit Reader(const std::string& d) : data(d) {}
      Result<size_t> Read(uint8_t* buf, size_t n) override {
        size_t take = std::min(n, data.size() - pos);
        std::memcpy(buf, data.data() + pos, take);
        pos += take;
        return take;
      }
      const std::string& data;
      size_t pos = 0;
    };
    ++opened;
    return std::unique_ptr<PartReader>(new Reader(parts.at(part.filename)));
  }
  std::map<std::string, std::string> parts;
  int opened = 0;
};

TEST_F(BundleTest, UnbundlesFromAnyPartSourceToAnExactPath) {
  std::string data = MixedBytes(700000, 3);
  BundleResult b = Bundle(data);
  MemoryParts parts;
  for (const auto& p : b.manifest.parts) parts.parts[p.filename] = ReadFile(bundle_dir() + "/" + p.filename);
  std::string xml = ReadFile(b.manifest_path);
  std::filesystem::remove_all(bundle_dir());  // nothing is read from files

  UnbundleOptions o = UnOptions("bucket/img.manifest.xml");
  o.manifest_xml = xml;
  o.parts = &parts;
  o.destination_path = out_dir() + "/entry.img";
  o.image_sha256 = true;
  auto u = Unbundle(o);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->image_path, out_dir() + "/entry.img");
  EXPECT_TRUE(ReadFile(u->image_path) == data);
  EXPECT_EQ(u->image_sha256, Sha256Of(data));
  EXPECT_FALSE(u->tar_digest_checked) << "the signature was verified";
  EXPECT_EQ(parts.opened, static_cast<int>(b.manifest.parts.size()));
  EXPECT_EQ(Entries(out_dir()), std::vector<std::string>{"entry.img"});

  parts.parts.erase(b.manifest.parts[1].filename);
  o.destination_path = out_dir() + "/again.img";
  Status missing = Unbundle(o).status();
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_NE(missing.message().find("part 'img.part.01' listed in manifest 'bucket/img.manifest.xml' is missing from "
                                   "memory"),
            std::string::npos)
      << missing.message();
}

TEST_F(BundleTest, TarDigestIsRecomputedUnlessTheSignatureWasVerified) {
  BundleResult b = Bundle(MixedBytes(200000, 8));
  UnbundleOptions o = UnOptions(b.manifest_path);
  o.cert_pem.clear();
  auto unsigned_check = Unbundle(o);
  ASSERT_TRUE(unsigned_check.ok()) << unsigned_check.status().ToString();
  EXPECT_TRUE(unsigned_check->tar_digest_checked);
  std::filesystem::remove(unsigned_check->image_path);
  o = UnOptions(b.manifest_path);
  o.always_check_tar_digest = true;
  auto forced = Unbundle(o);
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_TRUE(forced->tar_digest_checked);
}

// The trade-off of skipping the tar digest, pinned down: only the signer can make a bundle
// whose signed tar digest disagrees with its signed parts, and such a bundle is refused only
// when the digest is recomputed.
TEST_F(BundleTest, SelfInconsistentSignedBundleIsCaughtOnlyByTheTarDigest) {
  std::string data = MixedBytes(50000, 4);
  std::string manifest = test_support::BundleOfTar(test_support::RawTar("img", data), bundle_dir(), "img",
                                                   data.size(), std::string(40, 'a'));
  UnbundleOptions o = UnOptions(manifest);
  auto u = Unbundle(o);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(ReadFile(u->image_path) == data);
  std::filesystem::remove(u->image_path);
  o.always_check_tar_digest = true;
  Status s = Unbundle(o).status();
  EXPECT_NE(s.message().find("but the manifest says aaaa"), std::string::npos) << s.message();
  EXPECT_TRUE(Entries(out_dir()).empty());
}

TEST_F(BundleTest, PathTraversalAndNonFileMembersAreRefused) {
  const std::string data = "root:x:0:0::/root:/bin/sh\n";
  struct Case {
    std::string name;
    char type;
    std::string want;
  };
  for (const Case& c : {Case{"../evil", '0', "tar member '../evil' is not a plain file name"},
                        Case{"/etc/passwd", '0', "tar member '/etc/passwd' is not a plain file name"},
                        Case{"a/../../b", '0', "tar member 'a/../../b' is not a plain file name"},
                        Case{"link", '2', "tar member 'link' is not a regular file"},
                        Case{"dir", '5', "tar member 'dir' is not a regular file"}}) {
    std::string manifest =
        test_support::BundleOfTar(test_support::RawTar(c.name, data, c.type), bundle_dir(), "img", data.size());
    Status s = Unbundle(UnOptions(manifest)).status();
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.name;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << c.name << ": " << s.message();
    EXPECT_TRUE(Entries(out_dir()).empty()) << c.name;
  }
  // A harmless folder in the name is dropped, as before.
  std::string manifest =
      test_support::BundleOfTar(test_support::RawTar("./sub/img", data), bundle_dir(), "img", data.size());
  auto u = Unbundle(UnOptions(manifest));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->image_path, out_dir() + "/img");
}

TEST_F(BundleTest, FailureWhileBundlingLeavesNothing) {
  WriteFile(dir_ / "img", MixedBytes(500000, 5));
  for (const char* step : {"part 02", "rename", "manifest"}) {
    BundleOptions o = Options(dir_ / "img");
    o.fault_for_test = [step](std::string_view s) {
      return s == step ? Status(Code::kResourceExhausted, "injected at " + std::string(s)) : Status::Ok();
    };
    auto b = BundleImage(o);
    ASSERT_FALSE(b.ok()) << step;
    EXPECT_EQ(b.status().message(), "injected at " + std::string(step));
    EXPECT_TRUE(Entries(bundle_dir()).empty()) << step;
  }
}

TEST_F(BundleTest, RefusesBadOptions) {
  WriteFile(dir_ / "img", "x");
  BundleOptions o = Options(dir_ / "img");
  o.cloud_cert_pem.clear();
  EXPECT_EQ(BundleImage(o).status().code(), Code::kInvalidArgument);
  o = Options(dir_ / "img");
  o.account_id = "acct";
  EXPECT_NE(BundleImage(o).status().message().find("'acct'"), std::string::npos);
  o = Options(dir_ / "img");
  o.destination_dir = dir_ / "nope";
  EXPECT_EQ(BundleImage(o).status().code(), Code::kNotFound);
  o = Options(dir_ / "img");
  o.user_private_key_pem = pki_.other_key;
  EXPECT_EQ(BundleImage(o).status().code(), Code::kInvalidArgument) << "the key must match the user certificate";
  o = Options(dir_ / "missing-image");
  EXPECT_EQ(BundleImage(o).status().code(), Code::kNotFound);
  o = Options(dir_.path());
  EXPECT_NE(BundleImage(o).status().message().find("not a regular file"), std::string::npos);
  EXPECT_TRUE(Entries(bundle_dir()).empty());
}

// Compares two (sparse) files by their data extents; holes read as zeros.
bool SparseFilesEqual(const std::string& a, const std::string& b) {
  auto fa = File::OpenRead(a);
  auto fb = File::OpenRead(b);
  if (!fa.ok() || !fb.ok() || *fa->Size() != *fb->Size()) return false;
  uint64_t size = *fa->Size();
  std::vector<std::pair<uint64_t, uint64_t>> extents;
  for (const File* f : {&*fa, &*fb}) {
    off_t pos = 0;
    while (static_cast<uint64_t>(pos) < size) {
      off_t data = ::lseek(f->fd(), pos, SEEK_DATA);
      if (data < 0) break;
      off_t hole = ::lseek(f->fd(), data, SEEK_HOLE);
      extents.emplace_back(data, hole);
      pos = hole;
    }
  }
  std::vector<uint8_t> x(1 << 20), y(1 << 20);
  for (auto [begin, end] : extents) {
    for (uint64_t off = begin; off < end; off += x.size()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(x.size(), end - off));
      if (*fa->ReadAt(off, x.data(), n) != n || *fb->ReadAt(off, y.data(), n) != n) return false;
      if (std::memcmp(x.data(), y.data(), n) != 0) return false;
    }
  }
  return true;
}

// Interop (c), and the slow one: a sparse image over 4 GiB (ISIZE wraps, tar sizes pass
// 32 bits) round-trips fast because holes are neither read nor written.
TEST_F(BundleTest, SlowSparseImageOver4GiBRoundTrips) {
  uint64_t size = (4ull << 30) + (512ull << 20) + 12345;  // 4.5 GiB and change
  // EUCA_TEST_BIG_IMAGE_BYTES overrides, e.g. 9 GiB to take the pax path (size > 8 GiB - 1).
  if (const char* env = std::getenv("EUCA_TEST_BIG_IMAGE_BYTES")) size = std::stoull(env);
  std::string image = dir_ / "big.img";
  {
    int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
    for (uint64_t at : {uint64_t{0}, uint64_t{1} << 30, (uint64_t{4} << 30) - 1000, size - 5000}) {
      std::string chunk = MixedBytes(std::min<uint64_t>(200000, size - at), static_cast<uint32_t>(at));
      ASSERT_EQ(::pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(at)), static_cast<ssize_t>(chunk.size()));
    }
    ::close(fd);
  }
  BundleOptions o = Options(image);
  o.block_size = kDefaultBlockSize;
  o.part_size = kDefaultPartSize;
  auto t0 = std::chrono::steady_clock::now();
  auto b = BundleImage(o);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->manifest.size, size);
  auto u = Unbundle(UnOptions(b->manifest_path));
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->size, size);
  EXPECT_TRUE(u->parallel_inflate);  // ISIZE is the length mod 2^32 there too
  EXPECT_TRUE(SparseFilesEqual(image, u->image_path));
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::printf("[ timing   ] sparse %.2f GiB image: bundle %lld ms (%zu parts, %llu bytes), unbundle %lld ms\n",
              static_cast<double>(size) / (1 << 30), static_cast<long long>(ms(t1 - t0)), b->manifest.parts.size(),
              static_cast<unsigned long long>(b->manifest.bundled_size), static_cast<long long>(ms(t2 - t1)));
}

}  // namespace
}  // namespace euca::bundles
