// Image delivery on the real thing: a cloud made by InitCloud, a bundle made by BundleImage
// with its administrator's credentials, uploaded into the filesystem object store, served by
// the HTTP server on loopback and fetched by HttpImageSource with the node controller's keys.

#include "core/walrus/image_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "bundles/bundle.h"
#include "bundles/test_support.h"
#include "core/base/env.h"
#include "core/base/random.h"
#include "core/clc/admin.h"
#include "core/http/server.h"
#include "core/walrus/image_cache.h"
#include "core/walrus/image_delivery.h"
#include "core/walrus/image_rest.h"
#include "core/nc/image_fetchers.h"
#include "core/nc/node.h"
#include "drivers/hypervisor/fake_hypervisor.h"
#include "drivers/objects/fs_backend.h"
#include "state/sqlite_store.h"

namespace euca::walrus {
namespace {

using bundles::test_support::MixedBytes;
using bundles::test_support::ReadFile;
using bundles::test_support::TempDir;
using bundles::test_support::WriteFile;

// The file of credentials/admin/ whose name ends with `suffix` (other than cloud-cert.pem).
std::string AdminFile(const std::string& home, const std::string& suffix) {
  for (const auto& e : std::filesystem::directory_iterator(home + "/credentials/admin")) {
    std::string name = e.path().filename().string();
    if (name != "cloud-cert.pem" && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return ReadFile(e.path().string());
  }
  return "";
}

class ImageClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    home_ = new TempDir;
    auto init = clc::InitCloud({.home = (*home_) / "cloud"}, PosixEnv(), RealClock());
    ASSERT_TRUE(init.ok()) << init.status().ToString();
    account_ = new std::string(init->account.id);
  }
  static void TearDownTestSuite() {
    delete home_;
    delete account_;
  }

  void SetUp() override {
    const clc::HomePaths paths(home());
    std::filesystem::remove_all(paths.Walrus());
    auto backend = objects::OpenFsBackend(paths.Walrus());
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    backend_ = std::move(backend).value();
    objects::BucketRecord bucket;
    bucket.name = "images";
    bucket.owner_id = *account_;
    ASSERT_TRUE(backend_->CreateBucket(bucket).ok());
    auto store = state::OpenSqliteStore(home(), RealClock());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto cache = ImageCache::Open({.dir = paths.Walrus() + "/image-cache", .max_bytes = 1 << 30, .clock = nullptr});
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    cache_ = std::move(cache).value();
    delivery_ = std::make_unique<ImageDelivery>(*backend_, *cache_, SignerCertificatesFromStore(*store_),
                                                ImageDeliveryOptions{.cloud_key_pem = ReadFile(paths.CloudKey())});
    http::Handler s3 = [](const http::RequestHead&, http::BodyReader&) {
      return http::Response::Text(404, "not this test");
    };
    auto server = http::Server::Start(
        {},
        RouteWalrus(MakeInternalHandler(
                        *delivery_, {.ca_cert_pem = ReadFile(paths.CloudCaCert()), .allowed = {}, .clock = nullptr}),
                    s3, {}));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    server_->Stop();
    server_.reset();
  }

  static std::string home() { return (*home_) / "cloud"; }
  std::string url() const { return "http://" + server_->address(); }
  HttpImageSource Source(const std::string& component) const {
    const clc::HomePaths paths(home());
    return HttpImageSource(
        {.walrus_url = url() + "/services/objectstorage",
         .credentials = {ReadFile(paths.ComponentCert(component)), ReadFile(paths.ComponentKey(component))},
         .clock = nullptr,
         .client = {}});
  }
  // Bundles `image` as the cloud's administrator and uploads it under `prefix`.
  void BundleAndUpload(const std::string& image, const std::string& prefix) {
    std::string dir = work_ / ("bundle-" + prefix);
    std::filesystem::create_directories(dir);
    bundles::BundleOptions o;
    o.image_path = image;
    o.destination_dir = dir;
    o.prefix = prefix;
    o.account_id = *account_;
    o.user_cert_pem = AdminFile(home(), "-cert.pem");
    o.user_private_key_pem = AdminFile(home(), "-pk.pem");
    o.cloud_cert_pem = ReadFile(clc::HomePaths(home()).CloudCert());
    o.part_size = 1 << 20;
    auto b = bundles::BundleImage(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      auto writer = backend_->NewBlob();
      ASSERT_TRUE(writer.ok());
      ASSERT_TRUE((*writer)->Write(ReadFile(e.path().string())).ok());
      auto blob = (*writer)->Commit();
      ASSERT_TRUE(blob.ok());
      objects::ObjectRecord r;
      r.bucket = "images";
      r.key = e.path().filename().string();
      r.etag = "\"" + Sha1Hex(ReadFile(e.path().string())) + "\"";
      r.blobs = {*blob};
      ASSERT_TRUE(backend_->PutObject(std::move(r)).ok());
    }
  }

  static TempDir* home_;
  static std::string* account_;
  TempDir work_;
  std::unique_ptr<objects::FsBackend> backend_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<ImageCache> cache_;
  std::unique_ptr<ImageDelivery> delivery_;
  std::unique_ptr<http::Server> server_;
};

TempDir* ImageClientTest::home_ = nullptr;
std::string* ImageClientTest::account_ = nullptr;

TEST_F(ImageClientTest, NodeControllerFetchesTheRawImage) {
  std::string data = MixedBytes(5 * 1024 * 1024 + 77, 21);
  data.replace(1 << 20, 1 << 20, std::string(1 << 20, '\0'));  // a zero run: a hole once fetched
  WriteFile(work_ / "debian.img", data);
  BundleAndUpload(work_ / "debian.img", "debian.img");

  HttpImageSource nc = Source("nc");
  auto got = nc.Fetch("images/debian.img.manifest.xml", work_ / "fetched.img");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size, data.size());
  EXPECT_TRUE(ReadFile(work_ / "fetched.img") == data);
  EXPECT_EQ(got->etag.size(), 32u);
  EXPECT_EQ(delivery_->decryptions(), 1u);

  auto again = Source("cc").Fetch("images/debian.img.manifest.xml", work_ / "again.img");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->sha256, got->sha256);
  EXPECT_EQ(delivery_->decryptions(), 1u) << "the second fetch comes from the cache";
}

TEST_F(ImageClientTest, EtagComesFromAHeadAndChangesWhenTheManifestIsOverwritten) {
  WriteFile(work_ / "a.img", MixedBytes(300000, 1));
  BundleAndUpload(work_ / "a.img", "a.img");
  HttpImageSource nc = Source("nc");
  auto etag = nc.Etag("images/a.img.manifest.xml");
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_EQ(delivery_->decryptions(), 0u) << "a HEAD is answered from the manifest";
  auto got = nc.Fetch("images/a.img.manifest.xml", work_ / "a.fetched");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->etag, *etag);
  EXPECT_EQ(delivery_->decryptions(), 1u);
  // The same name bundled again from other bytes: a new ETag.
  WriteFile(work_ / "a.img", MixedBytes(300000, 2));
  std::filesystem::remove_all(work_ / "bundle-a.img");
  BundleAndUpload(work_ / "a.img", "a.img");
  auto changed = nc.Etag("images/a.img.manifest.xml");
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(*changed, *etag);
  EXPECT_EQ(nc.Etag("images/none.manifest.xml").status().code(), Code::kNotFound);
}

TEST_F(ImageClientTest, InProcessDeliveryGivesTheSameImageAndEtagAsHttp) {
  std::string data = MixedBytes(2 * 1024 * 1024 + 5, 9);
  data.replace(1 << 20, 1 << 20, std::string(1 << 20, '\0'));
  WriteFile(work_ / "local.img", data);
  BundleAndUpload(work_ / "local.img", "local.img");
  DeliveryImageSource local(*delivery_);
  auto got = local.Fetch("images/local.img.manifest.xml", work_ / "local.fetched");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size, data.size());
  EXPECT_TRUE(ReadFile(work_ / "local.fetched") == data);
  auto etag = local.Etag("images/local.img.manifest.xml");
  ASSERT_TRUE(etag.ok());
  EXPECT_EQ(got->etag, *etag);
  EXPECT_EQ(Source("nc").Etag("images/local.img.manifest.xml").value(), *etag);
  EXPECT_EQ(local.Fetch("images/none.manifest.xml", work_ / "none").status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(work_ / "none"));
}

// The node controller's side of the seam: a Node whose images come from this Walrus.
TEST_F(ImageClientTest, ANodeControllerStartsAnInstanceFromAWalrusImage) {
  std::string data = MixedBytes(2 * 1024 * 1024, 5);
  WriteFile(work_ / "root.img", data);
  BundleAndUpload(work_ / "root.img", "root.img");
  HttpImageSource source = Source("nc");
  auto walrus_fetcher = nc::NewWalrusImageFetcher(source);
  auto local = nc::NewLocalFileFetcher();
  auto fetcher = nc::NewImageFetcher(*local, walrus_fetcher.get());
  FakeClock clock;
  RecordingCommandRunner runner;
  hypervisor::FakeHypervisor hv;
  nc::NodeOptions o;
  o.root = work_ / "nc";
  nc::Node node(PosixEnv(), runner, clock, hv, *fetcher, o);
  ASSERT_TRUE(node.Open().ok());
  nc::RunInstanceRequest r;
  r.instance_id = "i-00c0ffee";
  r.image = {"emi-00000001", "images/root.img.manifest.xml"};
  r.vm_type = {"m1.small", 1, 128, 1};
  ASSERT_TRUE(node.RunInstance(r).ok());
  r.instance_id = "i-00c0ffef";  // a second instance of the image: no second download
  ASSERT_TRUE(node.RunInstance(r).ok());
  node.WaitIdleForTest();
  auto described = node.DescribeInstances({});
  ASSERT_TRUE(described.ok());
  ASSERT_EQ(described->size(), 2u);
  for (const nc::Instance& i : *described) EXPECT_EQ(i.state, nc::InstanceState::kExtant) << i.reason;
  auto spec = hv.SpecForTest("i-00c0ffee");
  ASSERT_TRUE(spec.ok());
  // The overlay names its backing file (the cached image) in its qcow2 header: offset at
  // bytes 8-15, length at 16-19, big-endian.
  std::string overlay = ReadFile(node.InstanceDir("i-00c0ffee") + "/root.qcow2");
  ASSERT_GE(overlay.size(), 20u);
  auto be = [&](size_t at, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | static_cast<unsigned char>(overlay[at + i]);
    return v;
  };
  std::string backing = overlay.substr(be(8, 8), be(16, 4));
  ASSERT_FALSE(backing.empty());
  EXPECT_TRUE(ReadFile(backing) == data);
  EXPECT_EQ(delivery_->decryptions(), 1u);
  // A location in Walrus with no Walrus configured is refused clearly.
  auto no_walrus = nc::NewImageFetcher(*local, nullptr);
  EXPECT_EQ(no_walrus->Digest(r.image).status().code(), Code::kInvalidArgument);
}

TEST_F(ImageClientTest, ErrorsKeepTheirCodeAndLeaveNothing) {
  WriteFile(work_ / "small.img", MixedBytes(300000, 5));
  BundleAndUpload(work_ / "small.img", "small.img");

  auto missing = Source("nc").Fetch("images/none.manifest.xml", work_ / "out.img");
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  auto walrus = Source("walrus").Fetch("images/small.img.manifest.xml", work_ / "out.img");
  EXPECT_EQ(walrus.status().code(), Code::kPermissionDenied) << walrus.status().ToString();
  EXPECT_NE(walrus.status().message().find("component 'walrus' may not call"), std::string::npos);

  // The parts of an image whose part 00 was replaced.
  auto writer = backend_->NewBlob();
  ASSERT_TRUE((*writer)->Write("not the part").ok());
  objects::ObjectRecord r;
  r.bucket = "images";
  r.key = "small.img.part.00";
  r.etag = "\"x\"";
  r.blobs = {*(*writer)->Commit()};
  ASSERT_TRUE(backend_->PutObject(std::move(r)).ok());
  auto corrupt = Source("nc").Fetch("images/small.img.manifest.xml", work_ / "out.img");
  EXPECT_EQ(corrupt.status().code(), Code::kInvalidArgument) << corrupt.status().ToString();
  EXPECT_NE(corrupt.status().message().find("part 'small.img.part.00' is corrupt"), std::string::npos);

  // Unsigned requests never reach delivery.
  http::Client client;
  auto bare = client.Do({.method = "GET", .url = url() + "/_euca/image?manifest=images/small.img.manifest.xml"});
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->status, 401);
  EXPECT_NE(bare->body.find("\"code\":\"Unauthenticated\""), std::string::npos) << bare->body;
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(work_.path()), {}), 2)
      << "only the image and its bundle folder: no fetch left a file";
}

TEST(FakeImageSourceTest, ServesWhatItHoldsAndCounts) {
  TempDir dir;
  FakeImageSource fake;
  fake.Add("b/m.manifest.xml", "raw bytes");
  auto got = fake.Fetch("b/m.manifest.xml", dir / "x.img");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(ReadFile(dir / "x.img"), "raw bytes");
  EXPECT_EQ(fake.Fetch("b/other", dir / "y.img").status().code(), Code::kNotFound);
  fake.Fail("b/m.manifest.xml", Unavailable("walrus is down"));
  EXPECT_EQ(fake.Fetch("b/m.manifest.xml", dir / "z.img").status().code(), Code::kUnavailable);
  EXPECT_EQ(fake.fetches("b/m.manifest.xml"), 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "z.img"));
}

}  // namespace
}  // namespace euca::walrus
