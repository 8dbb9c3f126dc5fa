#include "core/nc/image_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "core/nc/test_support.h"

namespace euca::nc {
namespace {

using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(NodeImageCacheTest, FetchesOnceAndServesFromCache) {
  TempDir dir;
  FakeFetcher fetcher;
  fetcher.Put("b/a.manifest.xml", "image-a");
  ImageCache cache(PosixEnv(), fetcher, dir.path() + "/cache", 0);
  ASSERT_TRUE(cache.Open().ok());
  ImageRef ref{"emi-00000001", "b/a.manifest.xml"};
  Result<std::string> p1 = cache.Acquire(ref);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  Result<std::string> p2 = cache.Acquire(ref);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p1.value(), p2.value());
  EXPECT_EQ(Slurp(p1.value()), "image-a");
  EXPECT_EQ(fetcher.fetches.load(), 1);
}

TEST(NodeImageCacheTest, ConcurrentAcquiresOfOneUncachedImageFetchOnce) {
  TempDir dir;
  FakeFetcher fetcher;
  fetcher.Put("b/a.manifest.xml", std::string(100000, 'x'));
  ImageCache cache(PosixEnv(), fetcher, dir.path() + "/cache", 0);
  ASSERT_TRUE(cache.Open().ok());
  fetcher.Hold();
  std::vector<std::thread> threads;
  std::vector<std::string> paths(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      Result<std::string> p = cache.Acquire({"emi-00000001", "b/a.manifest.xml"});
      paths[i] = p.ok() ? p.value() : p.status().ToString();
    });
  }
  while (fetcher.fetches.load() == 0) std::this_thread::yield();
  fetcher.Release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetcher.fetches.load(), 1);
  for (const std::string& p : paths) EXPECT_EQ(Slurp(p).size(), 100000u) << p;
}

TEST(NodeImageCacheTest, AFailedFetchReachesEveryWaiterAndTheNextAcquireRetries) {
  TempDir dir;
  FakeFetcher fetcher;
  fetcher.Put("b/a.manifest.xml", "image-a");
  ImageCache cache(PosixEnv(), fetcher, dir.path() + "/cache", 0);
  ASSERT_TRUE(cache.Open().ok());
  fetcher.FailNext(Unavailable("walrus is down"));
  Result<std::string> p = cache.Acquire({"emi-00000001", "b/a.manifest.xml"});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("walrus is down"));
  EXPECT_THAT(p.status().message(), HasSubstr("emi-00000001"));
  // Nothing half-written stays behind, and a retry works.
  EXPECT_EQ(cache.UsedBytes(), 0u);
  EXPECT_TRUE(cache.Acquire({"emi-00000001", "b/a.manifest.xml"}).ok());
  EXPECT_EQ(fetcher.fetches.load(), 2);
}

TEST(NodeImageCacheTest, AChangedDigestFetchesAnewAndDropsTheStaleEntryWithItsLastUser) {
  TempDir dir;
  FakeFetcher fetcher;
  fetcher.Put("b/a.manifest.xml", "old", "etag-1");
  ImageCache cache(PosixEnv(), fetcher, dir.path() + "/cache", 0);
  ASSERT_TRUE(cache.Open().ok());
  ImageRef ref{"emi-00000001", "b/a.manifest.xml"};
  std::string old_path = cache.Acquire(ref).value();
  fetcher.Put("b/a.manifest.xml", "new", "etag-2");  // the manifest was overwritten
  std::string new_path = cache.Acquire(ref).value();
  EXPECT_NE(old_path, new_path);
  EXPECT_EQ(Slurp(new_path), "new");
  EXPECT_TRUE(std::filesystem::exists(old_path));  // still used by an instance
  cache.Release(old_path);
  EXPECT_FALSE(std::filesystem::exists(old_path));
  EXPECT_EQ(fetcher.fetches.load(), 2);
}

TEST(NodeImageCacheTest, EvictsLeastRecentlyUsedUnpinnedEntriesBeyondTheBound) {
  TempDir dir;
  FakeFetcher fetcher;
  const std::string block(64 * 1024, 'z');
  for (const char* l : {"b/1", "b/2", "b/3"}) fetcher.Put(l, block);
  // Room for two entries (allocated sizes are whole blocks).
  ImageCache cache(PosixEnv(), fetcher, dir.path() + "/cache", 2 * 64 * 1024 + 4096);
  ASSERT_TRUE(cache.Open().ok());
  std::string p1 = cache.Acquire({"emi-00000001", "b/1"}).value();
  std::string p2 = cache.Acquire({"emi-00000002", "b/2"}).value();
  cache.Release(p1);
  cache.Release(p2);
  ASSERT_TRUE(cache.Acquire({"emi-00000001", "b/1"}).ok());  // 1 is now more recent than 2
  cache.Release(p1);
  std::string p3 = cache.Acquire({"emi-00000003", "b/3"}).value();
  EXPECT_TRUE(std::filesystem::exists(p1));
  EXPECT_FALSE(std::filesystem::exists(p2));  // the least recently used went
  EXPECT_TRUE(std::filesystem::exists(p3));
  EXPECT_LE(cache.UsedBytes(), 2 * 64 * 1024 + 4096u);
}

TEST(NodeImageCacheTest, PinnedEntriesAreNeverEvicted) {
  TempDir dir;
  FakeFetcher fetcher;
  const std::string block(64 * 1024, 'z');
  fetcher.Put("b/1", block);
  fetcher.Put("b/2", block);
  ImageCache cache(PosixEnv(), fetcher, dir.path() + "/cache", 64 * 1024);
  ASSERT_TRUE(cache.Open().ok());
  std::string p1 = cache.Acquire({"emi-00000001", "b/1"}).value();
  std::string p2 = cache.Acquire({"emi-00000002", "b/2"}).value();
  EXPECT_TRUE(std::filesystem::exists(p1));
  EXPECT_TRUE(std::filesystem::exists(p2));
  cache.Release(p1);  // now 1 may go
  EXPECT_FALSE(std::filesystem::exists(p1));
  EXPECT_TRUE(std::filesystem::exists(p2));
}

TEST(NodeImageCacheTest, ReopenKeepsEntriesAndReapsStagingFiles) {
  TempDir dir;
  FakeFetcher fetcher;
  fetcher.Put("b/a", "image-a");
  std::string path;
  {
    ImageCache cache(PosixEnv(), fetcher, dir.path() + "/cache", 0);
    ASSERT_TRUE(cache.Open().ok());
    path = cache.Acquire({"emi-00000001", "b/a"}).value();
  }
  // A crash in the middle of another fetch left a staging file in a folder of its own.
  std::string crashed = std::filesystem::path(path).parent_path().parent_path().string() + "/deadbeef";
  std::filesystem::create_directories(crashed);
  std::ofstream(crashed + "/image.staging") << "partial";
  ImageCache cache(PosixEnv(), fetcher, dir.path() + "/cache", 0);
  ASSERT_TRUE(cache.Open().ok());
  EXPECT_FALSE(std::filesystem::exists(crashed));
  EXPECT_TRUE(cache.Pin(path).ok());
  EXPECT_EQ(cache.Acquire({"emi-00000001", "b/a"}).value(), path);
  EXPECT_EQ(fetcher.fetches.load(), 1);
}

TEST(LocalFileFetcherTest, CopiesSparselyAndRefusesOtherSchemes) {
  TempDir dir;
  std::string src = dir.path() + "/disk.raw";
  {
    std::ofstream out(src, std::ios::binary);
    out << "head";
    out.seekp(8 << 20);
    out << "tail";
  }
  auto fetcher = NewLocalFileFetcher();
  ImageRef ref{"emi-00000001", "file://" + src};
  ASSERT_TRUE(fetcher->Digest(ref).ok());
  ASSERT_TRUE(fetcher->Fetch(ref, dir.path() + "/copy").ok());
  EXPECT_EQ(std::filesystem::file_size(dir.path() + "/copy"), (8u << 20) + 4);
  EXPECT_LT(PosixEnv().AllocatedBytes(dir.path() + "/copy").value(), 2u << 20);  // two 1 MiB blocks at most
  EXPECT_EQ(Slurp(dir.path() + "/copy"), Slurp(src));
  EXPECT_EQ(fetcher->Digest({"emi-00000001", "http://x/y"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(fetcher->Digest({"emi-00000001", "file://" + dir.path() + "/none"}).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace euca::nc
