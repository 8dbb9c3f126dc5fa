#include "core/walrus/image_delivery.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "bundles/bundle.h"
#include "bundles/test_support.h"
#include "core/base/random.h"
#include "core/walrus/image_test_support.h"
#include "drivers/objects/memory_backend.h"
#include "drivers/objects/test_support.h"

namespace euca::walrus {
namespace {

using bundles::test_support::MixedBytes;
using bundles::test_support::ReadFile;
using bundles::test_support::TempDir;
using bundles::test_support::TestPki;
using test_support::ReadLease;

constexpr char kAccount[] = "123456789012";
constexpr char kManifest[] = "images/img.manifest.xml";

class ImageDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    objects::BucketRecord bucket;
    bucket.name = "b";
    bucket.owner_id = kAccount;
    ASSERT_TRUE(backend_.CreateBucket(bucket).ok());
    auto c = ImageCache::Open({.dir = tmp_ / "cache", .max_bytes = 64 << 20, .clock = &clock_});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cache_ = std::move(c).value();
    SignerCertificates signers = [this](const std::string& account) -> Result<std::vector<std::string>> {
      ++signer_lookups_;
      if (on_signers_) on_signers_();
      if (account == kAccount) return std::vector<std::string>{pki_.other_cert, pki_.user_cert};
      return std::vector<std::string>{};
    };
    delivery_ =
        std::make_unique<ImageDelivery>(backend_, *cache_, signers, ImageDeliveryOptions{.cloud_key_pem = pki_.ca_key});
  }

  // Puts `data` under `key` with an ETag of its own content (as Walrus gives).
  void Put(const std::string& key, const std::string& data) {
    auto blob = objects::testing::WriteBlob(backend_, data, 1 << 20);
    ASSERT_TRUE(blob.ok());
    objects::ObjectRecord r;
    r.bucket = "b";
    r.key = key;
    r.etag = "\"" + Sha1Hex(data) + "\"";
    r.blobs = {*blob};
    ASSERT_TRUE(backend_.PutObject(std::move(r)).ok());
  }
  // Uploads every file of a bundle folder under images/.
  void UploadFolder(const std::string& dir) {
    for (const auto& e : std::filesystem::directory_iterator(dir))
      Put("images/" + e.path().filename().string(), ReadFile(e.path().string()));
  }
  // Bundles `data` as "img" (signed by the test user, for the test cloud) and uploads it.
  bundles::BundleResult Upload(const std::string& data) {
    std::string dir = tmp_ / ("bundle-" + std::to_string(++bundles_));
    std::filesystem::create_directories(dir);
    bundles::test_support::WriteFile(tmp_ / "img", data);
    bundles::BundleOptions o;
    o.image_path = tmp_ / "img";
    o.destination_dir = dir;
    o.account_id = kAccount;
    o.user_cert_pem = pki_.user_cert;
    o.user_private_key_pem = pki_.user_key;
    o.cloud_cert_pem = pki_.ca_cert;
    o.block_size = 64 * 1024;
    o.part_size = 40000;
    auto b = bundles::BundleImage(o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    UploadFolder(dir);
    return b.ok() ? *b : bundles::BundleResult{};
  }
  Status OpenStatus(const std::string& location = std::string("b/") + kManifest) {
    return delivery_->Open(location).status();
  }
  bool CacheIsEmpty() { return cache_->EntriesForTest().empty() && std::filesystem::is_empty(tmp_ / "cache/tmp"); }

  const TestPki& pki_ = TestPki::Get();
  TempDir tmp_;
  FakeClock clock_;
  objects::MemoryBackend backend_;
  std::unique_ptr<ImageCache> cache_;
  std::unique_ptr<ImageDelivery> delivery_;
  std::function<void()> on_signers_;
  std::atomic<int> signer_lookups_{0};
  int bundles_ = 0;
};

TEST_F(ImageDeliveryTest, DeliversTheRawImageAndCachesIt) {
  std::string data = MixedBytes(300000, 1);
  Upload(data);
  auto lease = delivery_->Open(std::string("b/") + kManifest);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(ReadLease(**lease) == data);
  bundles::Sha256 sha;
  sha.Update(data.data(), data.size());
  EXPECT_EQ((*lease)->sha256(), sha.FinishHex());
  EXPECT_EQ(delivery_->decryptions(), 1u);
  std::string id = (*lease)->id();
  lease->reset();
  auto again = delivery_->Open(std::string("b/") + kManifest);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->id(), id);
  EXPECT_EQ(delivery_->decryptions(), 1u) << "the second request is served from the cache";
}

// A node controller sends a HEAD before each launch; it ran the full Open, so an image
// larger than the cache bound was decrypted for the HEAD and again for the GET every time.
TEST_F(ImageDeliveryTest, DescribeAnswersFromTheVerifiedManifestWithoutDecrypting) {
  std::string data = MixedBytes(300000, 11);
  Upload(data);
  const std::string location = std::string("b/") + kManifest;
  cache_->SetMaxBytes(0);  // nothing stays cached
  for (int i = 0; i < 2; ++i) {
    auto info = delivery_->Describe(location);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->size, data.size());
    EXPECT_EQ(info->sha256, "") << "not known before the image is unbundled";
  }
  EXPECT_EQ(delivery_->decryptions(), 0u);
  // The same id as the image served; once cached, its SHA-256 too.
  cache_->SetMaxBytes(64 << 20);
  auto lease = delivery_->Open(location);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  auto cached = delivery_->Describe(location);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->id, (*lease)->id());
  EXPECT_EQ(cached->size, (*lease)->size());
  EXPECT_EQ(cached->sha256, (*lease)->sha256());
  EXPECT_EQ(delivery_->decryptions(), 1u);
  // A manifest whose signature does not verify is refused as by Open.
  std::string xml = *objects::testing::Get(backend_, "b", kManifest);
  size_t at = xml.find("<architecture>x86_64</architecture>");
  ASSERT_NE(at, std::string::npos);
  xml.replace(at, 35, "<architecture>i386</architecture>");
  Put(kManifest, xml);
  auto bad = delivery_->Describe(location);
  EXPECT_EQ(bad.status().code(), Code::kUnauthenticated) << bad.status().ToString();
  EXPECT_EQ(delivery_->Describe("b/images/none.manifest.xml").status().code(), Code::kNotFound);
}

TEST_F(ImageDeliveryTest, TamperedPartNamesThePartAndBothDigests) {
  bundles::BundleResult b = Upload(MixedBytes(300000, 2));
  ASSERT_GE(b.manifest.parts.size(), 4u);
  const bundles::ManifestPart& part = b.manifest.parts[3];
  std::string bytes = *objects::testing::Get(backend_, "b", "images/" + part.filename);
  bytes[100] ^= 0x01;
  Put("images/" + part.filename, bytes);
  Status s = OpenStatus();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("part 'img.part.03' is corrupt: SHA-1 expected " + part.sha1 + " got " + Sha1Hex(bytes)),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(CacheIsEmpty());
}

TEST_F(ImageDeliveryTest, TamperedManifestFailsTheSignature) {
  bundles::BundleResult b = Upload(MixedBytes(100000, 3));
  std::string xml = ReadFile(b.manifest_path);
  size_t at = xml.find("<architecture>x86_64</architecture>");
  ASSERT_NE(at, std::string::npos);
  xml.replace(at, 35, "<architecture>i386</architecture>");
  Put(kManifest, xml);
  Status s = OpenStatus();
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("not signed by any of the 2 certificates of account '123456789012'"), std::string::npos)
      << s.message();
  EXPECT_EQ(delivery_->decryptions(), 0u) << "nothing is decrypted before the signature checks out";
  EXPECT_TRUE(CacheIsEmpty());
}

TEST_F(ImageDeliveryTest, ManifestOfAnAccountWithoutCertificatesIsRefused) {
  Upload(MixedBytes(1000, 4));
  bundles::Manifest m = *bundles::ParseManifest(*objects::testing::Get(backend_, "b", kManifest));
  m.user = "999999999999";
  Put(kManifest, *bundles::SignedManifestXml(m, pki_.user_key));
  Status s = OpenStatus();
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("names account '999999999999', which has no certificate"), std::string::npos)
      << s.message();
}

TEST_F(ImageDeliveryTest, MissingPartOrManifestIsNotFound) {
  bundles::BundleResult b = Upload(MixedBytes(200000, 5));
  ASSERT_TRUE(*backend_.DeleteObject("b", "images/" + b.manifest.parts[2].filename));
  Status s = OpenStatus();
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("part 'img.part.02' listed in manifest 'b/images/img.manifest.xml' is missing from "
                             "bucket 'b' under 'images/'"),
            std::string::npos)
      << s.message();
  Status no_manifest = OpenStatus("b/images/nope.manifest.xml");
  EXPECT_EQ(no_manifest.code(), Code::kNotFound);
  EXPECT_EQ(no_manifest.wire_code(), "NoSuchKey");
  EXPECT_EQ(OpenStatus("nobucket/x").wire_code(), "NoSuchBucket");
  EXPECT_EQ(OpenStatus("no-slash").code(), Code::kInvalidArgument);
  EXPECT_EQ(OpenStatus("b/").code(), Code::kInvalidArgument);
  EXPECT_TRUE(CacheIsEmpty());
}

TEST_F(ImageDeliveryTest, PathTraversalTarIsRefused) {
  std::string dir = tmp_ / "evil";
  std::filesystem::create_directories(dir);
  std::string data = "#!/bin/sh\necho owned\n";
  bundles::test_support::BundleOfTar(bundles::test_support::RawTar("../../etc/cron.d/evil", data), dir, "img",
                                     data.size());
  UploadFolder(dir);
  Status s = OpenStatus();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("tar member '../../etc/cron.d/evil' is not a plain file name"), std::string::npos)
      << s.message();
  EXPECT_TRUE(CacheIsEmpty());
}

TEST_F(ImageDeliveryTest, SignedBundleWhoseTarDigestIsWrongIsRefused) {
  std::string dir = tmp_ / "inconsistent";
  std::filesystem::create_directories(dir);
  std::string data = MixedBytes(20000, 9);
  bundles::test_support::BundleOfTar(bundles::test_support::RawTar("img", data), dir, "img", data.size(),
                                     std::string(40, 'a'));
  UploadFolder(dir);
  Status s = OpenStatus();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("but the manifest says aaaa"), std::string::npos) << s.message();
  EXPECT_TRUE(CacheIsEmpty());
}

TEST_F(ImageDeliveryTest, OverwrittenManifestServesTheNewImage) {
  std::string first = MixedBytes(150000, 6), second = MixedBytes(170000, 7);
  Upload(first);
  auto old_lease = delivery_->Open(std::string("b/") + kManifest);
  ASSERT_TRUE(old_lease.ok());
  Upload(second);  // same names: manifest and parts overwritten
  auto lease = delivery_->Open(std::string("b/") + kManifest);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(ReadLease(**lease) == second);
  EXPECT_NE((*lease)->id(), (*old_lease)->id());
  EXPECT_EQ(delivery_->decryptions(), 2u);
  EXPECT_EQ(cache_->EntriesForTest(), std::vector<std::string>{(*lease)->id()}) << "the stale entry is gone";
  EXPECT_TRUE(ReadLease(**old_lease) == first) << "a transfer in progress finishes with the old image";
}

TEST_F(ImageDeliveryTest, ConcurrentRequestsForOneUncachedImageDecryptOnce) {
  constexpr int kThreads = 6;
  std::string data = MixedBytes(400000, 8);
  Upload(data);
  auto record = backend_.GetObject("b", kManifest);
  ASSERT_TRUE(record.ok());
  const ImageKey key{"b", kManifest, record->etag};
  // The first fill (it looks the signer up) waits until every other request waits for it.
  on_signers_ = [&] {
    while (cache_->WaitersForTest(key) < kThreads - 1) std::this_thread::yield();
  };
  std::vector<std::string> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto lease = delivery_->Open(std::string("b/") + kManifest);
      got[i] = lease.ok() ? ReadLease(**lease) : lease.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(delivery_->decryptions(), 1u);
  EXPECT_EQ(signer_lookups_.load(), 1);
  for (const auto& g : got) EXPECT_TRUE(g == data) << g.substr(0, 200);
}

}  // namespace
}  // namespace euca::walrus
