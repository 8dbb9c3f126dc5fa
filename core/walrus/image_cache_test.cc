#include "core/walrus/image_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "bundles/test_support.h"
#include "core/walrus/image_test_support.h"

namespace euca::walrus {
namespace {

using bundles::test_support::ReadFile;
using bundles::test_support::TempDir;
using bundles::test_support::WriteFile;
using test_support::ReadLease;

class ImageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(1000); }
  void Reopen(uint64_t max_bytes) {
    cache_.reset();
    auto c = ImageCache::Open({.dir = dir(), .max_bytes = max_bytes, .clock = &clock_});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cache_ = std::move(c).value();
  }
  std::string dir() const { return tmp_ / "image-cache"; }
  // Gets `name` (etag "1"), filling it with `size` bytes of `name`'s first letter.
  std::shared_ptr<const ImageLease> Get(const std::string& name, uint64_t size, const std::string& etag = "1") {
    auto lease = cache_->Get({"b", name, etag}, [&](const std::string& path) -> Result<FilledImage> {
      ++fills_;
      cache_->MakeRoom(path, size);
      WriteFile(path, std::string(size, name[0]));
      return FilledImage{size, "sha-" + name};
    });
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    clock_.Advance(1000);
    return lease.ok() ? *lease : nullptr;
  }
  std::string Id(const std::string& name, const std::string& etag = "1") {
    return ImageCache::EntryId({"b", name, etag});
  }

  TempDir tmp_;
  FakeClock clock_;
  std::unique_ptr<ImageCache> cache_;
  int fills_ = 0;
};

TEST_F(ImageCacheTest, FillsOnceThenHits) {
  auto a = Get("alpha", 300);
  EXPECT_EQ(ReadLease(*a), std::string(300, 'a'));
  EXPECT_EQ(a->sha256(), "sha-alpha");
  EXPECT_EQ(a->id(), Id("alpha"));
  a.reset();
  auto again = Get("alpha", 300);
  EXPECT_EQ(fills_, 1);
  EXPECT_EQ(ReadLease(*again), std::string(300, 'a'));
  EXPECT_EQ(cache_->bytes(), 300u);
  EXPECT_TRUE(std::filesystem::exists(dir() + "/" + Id("alpha") + ".img"));
  EXPECT_TRUE(std::filesystem::exists(dir() + "/" + Id("alpha") + ".json"));
}

TEST_F(ImageCacheTest, EvictsLeastRecentlyUsedWholeEntriesWithinTheBound) {
  Get("alpha", 400);
  Get("bravo", 400);
  Get("alpha", 400);  // alpha is now more recent than bravo
  EXPECT_EQ(cache_->EntriesForTest(), (std::vector<std::string>{Id("bravo"), Id("alpha")}));
  Get("charlie", 400);  // 1200 > 1000: bravo goes
  EXPECT_EQ(cache_->EntriesForTest(), (std::vector<std::string>{Id("alpha"), Id("charlie")}));
  EXPECT_EQ(cache_->bytes(), 800u);
  EXPECT_FALSE(std::filesystem::exists(dir() + "/" + Id("bravo") + ".img"));
  Get("delta", 300);  // 1100 > 1000: alpha goes, room is made before the fill
  EXPECT_EQ(cache_->EntriesForTest(), (std::vector<std::string>{Id("charlie"), Id("delta")}));
  EXPECT_LE(cache_->bytes(), 1000u);
  EXPECT_EQ(fills_, 4);
}

TEST_F(ImageCacheTest, EntriesBeingReadAreNeverEvicted) {
  auto a = Get("alpha", 600);
  auto b = Get("bravo", 600);  // over the bound, but alpha is pinned
  EXPECT_EQ(cache_->EntriesForTest().size(), 2u);
  EXPECT_EQ(ReadLease(*a), std::string(600, 'a'));
  a.reset();  // released: now alpha can go
  EXPECT_EQ(cache_->EntriesForTest(), std::vector<std::string>{Id("bravo")});
  b.reset();
  EXPECT_EQ(cache_->EntriesForTest(), std::vector<std::string>{Id("bravo")});
}

TEST_F(ImageCacheTest, AnImageLargerThanTheBoundIsServedThenDropped) {
  auto big = Get("huge", 5000);
  EXPECT_EQ(ReadLease(*big), std::string(5000, 'h'));
  Get("alpha", 100);
  big.reset();
  EXPECT_EQ(cache_->EntriesForTest(), std::vector<std::string>{Id("alpha")});
  EXPECT_EQ(cache_->bytes(), 100u);
}

TEST_F(ImageCacheTest, NewEtagRemovesTheOldImageButNotItsOpenReaders) {
  auto old_reader = Get("alpha", 100, "v1");
  auto fresh = cache_->Get({"b", "alpha", "v2"}, [](const std::string& path) -> Result<FilledImage> {
    WriteFile(path, std::string(100, 'A'));
    return FilledImage{100, "sha-v2"};
  });
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(cache_->EntriesForTest(), std::vector<std::string>{Id("alpha", "v2")});
  EXPECT_FALSE(std::filesystem::exists(dir() + "/" + Id("alpha", "v1") + ".img"));
  EXPECT_EQ(ReadLease(*old_reader), std::string(100, 'a')) << "an open reader keeps its version";
  EXPECT_EQ(ReadLease(**fresh), std::string(100, 'A'));
  EXPECT_EQ(cache_->bytes(), 100u);
}

TEST_F(ImageCacheTest, FailedFillLeavesNothingAndIsRetried) {
  auto bad = cache_->Get({"b", "alpha", "1"}, [](const std::string& path) -> Result<FilledImage> {
    WriteFile(path, "partial");
    return InvalidArgument("part 'alpha.part.00' is corrupt");
  });
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(cache_->EntriesForTest().empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir() + "/tmp"));
  Get("alpha", 100);
  EXPECT_EQ(fills_, 1);
}

TEST_F(ImageCacheTest, ConcurrentMissesFillOnce) {
  constexpr int kThreads = 8;
  const ImageKey key{"b", "alpha", "1"};
  std::atomic<int> fills{0};
  std::vector<std::string> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto lease = cache_->Get(key, [&](const std::string& path) -> Result<FilledImage> {
        ++fills;
        // Hold the fill until every other caller waits for it.
        while (cache_->WaitersForTest(key) < kThreads - 1) std::this_thread::yield();
        WriteFile(path, std::string(100, 'z'));
        return FilledImage{100, "sha"};
      });
      if (lease.ok()) got[i] = ReadLease(**lease);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fills.load(), 1);
  for (const auto& g : got) EXPECT_EQ(g, std::string(100, 'z'));
}

TEST_F(ImageCacheTest, SurvivesRestartInLruOrderAndReapsLeftovers) {
  Get("alpha", 300);
  Get("bravo", 300);
  Get("alpha", 300);
  WriteFile(dir() + "/tmp/" + Id("charlie") + ".img", "half-written");
  WriteFile(dir() + "/" + Id("delta") + ".img", "renamed in, never described");
  WriteFile(dir() + "/" + Id("echo") + ".json", "{\"format\":1}");
  WriteFile(dir() + "/" + Id("golf") + ".json.tmp-1-2", "{");
  WriteFile(dir() + "/README", "not ours");
  Reopen(1000);
  EXPECT_EQ(cache_->EntriesForTest(), (std::vector<std::string>{Id("bravo"), Id("alpha")}));
  EXPECT_EQ(cache_->bytes(), 600u);
  EXPECT_TRUE(std::filesystem::is_empty(dir() + "/tmp"));
  EXPECT_FALSE(std::filesystem::exists(dir() + "/" + Id("delta") + ".img"));
  EXPECT_FALSE(std::filesystem::exists(dir() + "/" + Id("echo") + ".json"));
  EXPECT_FALSE(std::filesystem::exists(dir() + "/" + Id("golf") + ".json.tmp-1-2"));
  EXPECT_TRUE(std::filesystem::exists(dir() + "/README"));
  auto a = Get("alpha", 300);
  EXPECT_EQ(ReadLease(*a), std::string(300, 'a'));
  EXPECT_EQ(fills_, 2) << "served from disk after the restart";
  a.reset();
  Reopen(400);  // a smaller bound evicts at open, least recently used first
  EXPECT_EQ(cache_->EntriesForTest(), std::vector<std::string>{Id("alpha")});
}

// Fills in progress were not counted: a second image filled during the first evicted only
// for itself, and the cache ended over its bound on disk.
TEST_F(ImageCacheTest, FillsInProgressCountAgainstTheBound) {
  Get("alpha", 300);
  std::vector<std::string> during;
  auto bravo = cache_->Get({"b", "bravo", "1"}, [&](const std::string& path) -> Result<FilledImage> {
    cache_->MakeRoom(path, 600);
    EXPECT_EQ(cache_->reserved_bytes(), 600u);
    Get("charlie", 300);  // 300 + 600 reserved + 300 > 1000: alpha goes now
    during = cache_->EntriesForTest();
    WriteFile(path, std::string(600, 'b'));
    return FilledImage{600, "sha-bravo"};
  });
  ASSERT_TRUE(bravo.ok()) << bravo.status().ToString();
  EXPECT_EQ(during, std::vector<std::string>{Id("charlie")});
  EXPECT_EQ(cache_->EntriesForTest(), (std::vector<std::string>{Id("charlie"), Id("bravo")}));
  EXPECT_EQ(cache_->reserved_bytes(), 0u);
  EXPECT_EQ(cache_->bytes(), 900u);
  // A failed fill's reservation ends with it.
  auto bad = cache_->Get({"b", "delta", "1"}, [&](const std::string& path) -> Result<FilledImage> {
    cache_->MakeRoom(path, 100);
    return InvalidArgument("part 'delta.part.00' is corrupt");
  });
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(cache_->reserved_bytes(), 0u);
  bravo->reset();
  Get("echo", 100);  // 900 + 100 fit: nothing goes
  EXPECT_EQ(cache_->EntriesForTest(), (std::vector<std::string>{Id("charlie"), Id("bravo"), Id("echo")}));
}

// A slow fill of an old manifest version that ended after the new version's fill removed
// the new entry and kept the stale one.
TEST_F(ImageCacheTest, ASlowFillOfAnOlderManifestVersionDoesNotEvictTheNewer) {
  const ImageKey v1{"b", "alpha", "v1", 1000}, v2{"b", "alpha", "v2", 2000};
  std::shared_ptr<const ImageLease> newer;
  auto older = cache_->Get(v1, [&](const std::string& path) -> Result<FilledImage> {
    WriteFile(path, std::string(100, 'o'));
    // Meanwhile the manifest was overwritten and its new image filled.
    auto n = cache_->Get(v2, [&](const std::string& p) -> Result<FilledImage> {
      WriteFile(p, std::string(100, 'n'));
      return FilledImage{100, "sha-v2"};
    });
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (n.ok()) newer = *n;
    return FilledImage{100, "sha-v1"};
  });
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  EXPECT_EQ(ReadLease(**older), std::string(100, 'o')) << "the old version's callers are served";
  EXPECT_EQ(cache_->EntriesForTest(), std::vector<std::string>{Id("alpha", "v2")});
  EXPECT_FALSE(std::filesystem::exists(dir() + "/" + Id("alpha", "v1") + ".img"));
  EXPECT_EQ(cache_->bytes(), 100u);
  older->reset();
  newer.reset();
  // The versions' times survive a restart: the old version is still not kept.
  Reopen(1000);
  auto again = cache_->Get(v1, [](const std::string& path) -> Result<FilledImage> {
    WriteFile(path, std::string(100, 'o'));
    return FilledImage{100, "sha-v1"};
  });
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(cache_->EntriesForTest(), std::vector<std::string>{Id("alpha", "v2")});
  auto current = cache_->Get(v2, [](const std::string&) -> Result<FilledImage> { return Internal("not a hit"); });
  ASSERT_TRUE(current.ok()) << current.status().ToString();
  EXPECT_EQ(ReadLease(**current), std::string(100, 'n'));
}

// A second opener of the same folder (another Walrus process: flock locks are per open
// file, so one process stands in for two).
std::unique_ptr<ImageCache> OpenAnother(const std::string& dir, uint64_t max_bytes = 1000) {
  auto c = ImageCache::Open({.dir = dir, .max_bytes = max_bytes});
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// Only the first opener held the lock, so once it closed, a third opener found itself sole
// and reaped the second's fills in progress.
TEST_F(ImageCacheTest, AnOpenerDoesNotReapWhileAnotherStillHasTheCacheOpen) {
  auto second = OpenAnother(dir());
  ASSERT_NE(second, nullptr);
  cache_.reset();  // the first opener goes; the second is filling
  const std::string staging = dir() + "/tmp/" + Id("charlie") + "-0123456789abcdef.img";
  WriteFile(staging, "half-written");
  WriteFile(dir() + "/" + Id("delta") + ".img", "renamed in, not described yet");
  auto third = OpenAnother(dir());
  ASSERT_NE(third, nullptr);
  EXPECT_TRUE(std::filesystem::exists(staging));
  EXPECT_TRUE(std::filesystem::exists(dir() + "/" + Id("delta") + ".img"));
  second.reset();
  third.reset();
  Reopen(1000);  // sole again: reaps
  EXPECT_TRUE(std::filesystem::is_empty(dir() + "/tmp"));
  EXPECT_FALSE(std::filesystem::exists(dir() + "/" + Id("delta") + ".img"));
}

// Two processes filling one image shared tmp/<id>.img: the second removed the first's file
// under it, and the first fill failed.
TEST_F(ImageCacheTest, TwoProcessesFillingOneImageStageInFilesOfTheirOwn) {
  auto second = OpenAnother(dir());
  ASSERT_NE(second, nullptr);
  const ImageKey key{"b", "alpha", "1"};
  std::string first_path, second_path;
  auto first = cache_->Get(key, [&](const std::string& path) -> Result<FilledImage> {
    first_path = path;
    std::ofstream f(path, std::ios::binary);
    f << std::string(50, 'a') << std::flush;
    auto other = second->Get(key, [&](const std::string& p) -> Result<FilledImage> {
      second_path = p;
      WriteFile(p, std::string(100, 'a'));
      return FilledImage{100, "sha"};
    });
    EXPECT_TRUE(other.ok()) << other.status().ToString();
    f << std::string(50, 'a');
    return FilledImage{100, "sha"};
  });
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_NE(first_path, second_path);
  EXPECT_EQ(ReadLease(**first), std::string(100, 'a'));
  EXPECT_TRUE(std::filesystem::is_empty(dir() + "/tmp"));
}

// An entry whose files another process evicted answered NotFound on every request.
TEST_F(ImageCacheTest, AnEntryEvictedByAnotherProcessIsFilledAgain) {
  Get("alpha", 300);
  auto second = OpenAnother(dir());
  ASSERT_NE(second, nullptr);
  second->SetMaxBytes(0);  // evicts alpha, files and all
  ASSERT_FALSE(std::filesystem::exists(dir() + "/" + Id("alpha") + ".img"));
  auto a = Get("alpha", 300);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(ReadLease(*a), std::string(300, 'a'));
  EXPECT_EQ(fills_, 2);
  EXPECT_EQ(cache_->bytes(), 300u);
}

}  // namespace
}  // namespace euca::walrus
