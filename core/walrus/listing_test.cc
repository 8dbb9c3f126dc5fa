#include "core/walrus/listing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace euca::walrus {
namespace {

using ::testing::ElementsAre;

// A sorted key set served like ObjectBackend::ListObjects; counts fetches.
class KeySource {
 public:
  explicit KeySource(std::vector<std::string> keys) {
    std::set<std::string> s(keys.begin(), keys.end());
    keys_.assign(s.begin(), s.end());
  }
  FetchFn Fetch() {
    return [this](const objects::ListRange& r) -> Result<std::vector<objects::ObjectRecord>> {
      ++fetches_;
      std::vector<objects::ObjectRecord> out;
      for (const auto& k : keys_) {
        if (out.size() == r.limit) break;
        if (k.compare(0, r.prefix.size(), r.prefix) != 0) continue;
        if (r.start_inclusive ? k < r.start : k <= r.start) continue;
        objects::ObjectRecord rec;
        rec.key = k;
        out.push_back(std::move(rec));
      }
      return out;
    };
  }
  const std::vector<std::string>& keys() const { return keys_; }
  int fetches() const { return fetches_; }

 private:
  std::vector<std::string> keys_;
  int fetches_ = 0;
};

// An entry of a listing: a key, or a common prefix marked with a leading "P:".
std::vector<std::string> Entries(const ListPage& page) {
  // Keys and prefixes interleave in byte order; rebuild that order.
  std::vector<std::string> out;
  for (const auto& o : page.objects) out.push_back("K:" + o.key);
  for (const auto& p : page.common_prefixes) out.push_back("P:" + p);
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.substr(2) < b.substr(2); });
  return out;
}

// The reference: every entry of the whole listing, computed the obvious way.
std::vector<std::string> Reference(const std::vector<std::string>& sorted_keys, const std::string& prefix,
                                   const std::string& delimiter, const std::string& after) {
  std::vector<std::string> out;
  for (const auto& k : sorted_keys) {
    if (k.compare(0, prefix.size(), prefix) != 0) continue;
    size_t d = delimiter.empty() ? std::string::npos : k.find(delimiter, prefix.size());
    std::string entry = d == std::string::npos ? "K:" + k : "P:" + k.substr(0, d + delimiter.size());
    if (entry.substr(2) <= after) continue;
    if (out.empty() || out.back() != entry) out.push_back(entry);
  }
  return out;
}

ListPage MustList(KeySource& src, std::string_view prefix, std::string_view delimiter, std::string_view after,
                  size_t max, size_t batch = 1000) {
  auto page = ListEntries(src.Fetch(), prefix, delimiter, after, max, batch);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  return page.ok() ? *page : ListPage{};
}

TEST(ListingTest, PlainKeysInByteOrder) {
  KeySource src({"b", "a", "c/d", "\xc3\xa9", std::string("a\0", 2)});
  ListPage page = MustList(src, "", "", "", 1000);
  EXPECT_THAT(Entries(page), ElementsAre("K:a", std::string("K:a\0", 4), "K:b", "K:c/d", "K:\xc3\xa9"));
  EXPECT_FALSE(page.truncated);
  EXPECT_EQ(page.last, "\xc3\xa9");
}

TEST(ListingTest, PrefixAndDelimiterRollUpCommonPrefixes) {
  KeySource src({"photos/2006/jan/1.jpg", "photos/2006/feb/2.jpg", "photos/2007/x.jpg", "photos/index.html", "photos",
                 "readme", "photosx/1"});
  ListPage page = MustList(src, "photos/", "/", "", 1000);
  EXPECT_THAT(page.common_prefixes, ElementsAre("photos/2006/", "photos/2007/"));
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, "photos/index.html");
  // Without a prefix: top-level roll-up.
  ListPage top = MustList(src, "", "/", "", 1000);
  EXPECT_THAT(Entries(top), ElementsAre("K:photos", "P:photos/", "P:photosx/", "K:readme"));
}

TEST(ListingTest, MultiCharacterDelimiter) {
  KeySource src({"a--b--c", "a--d", "a-e", "f"});
  EXPECT_THAT(Entries(MustList(src, "", "--", "", 1000)), ElementsAre("P:a--", "K:a-e", "K:f"));
  EXPECT_THAT(Entries(MustList(src, "a--", "--", "", 1000)), ElementsAre("P:a--b--", "K:a--d"));
}

TEST(ListingTest, DelimiterOnlyCountsAfterThePrefix) {
  KeySource src({"a/b/c", "a/d"});
  // The prefix itself holds the delimiter; only what follows it rolls up.
  EXPECT_THAT(Entries(MustList(src, "a/", "/", "", 1000)), ElementsAre("P:a/b/", "K:a/d"));
}

TEST(ListingTest, MaxEntriesCountsKeysAndPrefixesAndTruncates) {
  KeySource src({"a/1", "a/2", "b", "c/1", "d"});
  ListPage page = MustList(src, "", "/", "", 3);
  EXPECT_THAT(Entries(page), ElementsAre("P:a/", "K:b", "P:c/"));
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.last, "c/");
  // Exactly filling the page is not truncation when nothing follows.
  ListPage all = MustList(src, "", "/", "", 4);
  EXPECT_FALSE(all.truncated);
  // Truncated only if another *entry* follows, not another key of the last group.
  KeySource grp({"a", "b/1", "b/2", "b/3"});
  ListPage g = MustList(grp, "", "/", "", 2);
  EXPECT_THAT(Entries(g), ElementsAre("K:a", "P:b/"));
  EXPECT_FALSE(g.truncated);
}

TEST(ListingTest, ResumingAfterACommonPrefixSkipsItsKeys) {
  KeySource src({"a/1", "a/2", "a/3", "b"});
  ListPage page = MustList(src, "", "/", "a/", 1000);
  EXPECT_THAT(Entries(page), ElementsAre("K:b"));
  // A marker inside a group skips the group too: it sorts before the marker.
  EXPECT_THAT(Entries(MustList(src, "", "/", "a/2", 1000)), ElementsAre("K:b"));
  // Without a delimiter the marker is just a key position.
  EXPECT_THAT(Entries(MustList(src, "", "", "a/2", 1000)), ElementsAre("K:a/3", "K:b"));
}

TEST(ListingTest, MarkerBeforePrefixAndBeyondEverything) {
  KeySource src({"x/1", "x/2", "y"});
  EXPECT_THAT(Entries(MustList(src, "x/", "", "a", 1000)), ElementsAre("K:x/1", "K:x/2"));
  EXPECT_THAT(Entries(MustList(src, "", "", "z", 1000)), ElementsAre());
  EXPECT_THAT(Entries(MustList(src, "x/", "", "x/2", 1000)), ElementsAre());
}

TEST(ListingTest, ZeroMaxReturnsNothingAndFetchesNothing) {
  KeySource src({"a"});
  ListPage page = MustList(src, "", "", "", 0);
  EXPECT_TRUE(page.objects.empty());
  EXPECT_FALSE(page.truncated);
  EXPECT_EQ(src.fetches(), 0);
}

TEST(ListingTest, GroupOfAll0xffBytesEndsTheListing) {
  KeySource src({"\xff/1", "\xff/2"});
  EXPECT_THAT(Entries(MustList(src, "", "/", "", 1000)), ElementsAre("P:\xff/"));
  KeySource ff({"\xff\xff", "\xff\xff\xff"});
  EXPECT_THAT(Entries(MustList(ff, "", "\xff", "", 1000)), ElementsAre("P:\xff"));
}

TEST(ListingTest, FetchErrorsPropagate) {
  FetchFn broken = [](const objects::ListRange&) -> Result<std::vector<objects::ObjectRecord>> {
    return Internal("disk on fire");
  };
  auto page = ListEntries(broken, "", "", "", 10);
  EXPECT_EQ(page.status().code(), Code::kInternal);
}

TEST(ListingTest, GroupsCostOneFetchEachNotOnePerKey) {
  std::vector<std::string> keys;
  for (int g = 0; g < 3; ++g)
    for (int i = 0; i < 500; ++i) keys.push_back("g" + std::to_string(g) + "/" + std::to_string(1000 + i));
  KeySource src(keys);
  ListPage page = MustList(src, "", "/", "", 1000, 100);
  EXPECT_THAT(page.common_prefixes, ElementsAre("g0/", "g1/", "g2/"));
  EXPECT_LE(src.fetches(), 4);
}

TEST(ListingTest, ContinuationTokensRoundTripAndRejectForgeries) {
  for (std::string last : {std::string(), std::string("a/b"), std::string("\0\xff", 2), std::string(1024, 'k')}) {
    auto back = DecodeContinuationToken(EncodeContinuationToken(last));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, last);
  }
  for (const char* bad : {"", "not base64!", "YWJj" /* "abc" */}) {
    auto r = DecodeContinuationToken(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().wire_code(), "InvalidArgument");
  }
}

// Exhaustive: random key sets over a small alphabet that hits every edge (NUL, 0xff, the
// delimiter, prefixes of each other), every combination of prefix, delimiter, page size and
// fetch batch. Paging through with each page's `last` as the next marker must give exactly
// the reference listing: nothing lost, nothing twice, in order.
TEST(ListingTest, PagingMatchesReferenceForRandomKeySets) {
  std::mt19937 rng(20240611);
  const std::vector<std::string> alphabet = {"a", "b", "/", "-", std::string("\0", 1), "\xff"};
  const std::vector<std::string> prefixes = {"", "a", "a/", "/", "b-", "\xff"};
  const std::vector<std::string> delimiters = {"", "/", "-", "a/", "\xff"};
  int checked = 0;
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<std::string> keys;
    int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      std::string k;
      int len = 1 + static_cast<int>(rng() % 5);
      for (int j = 0; j < len; ++j) k += alphabet[rng() % alphabet.size()];
      keys.push_back(k);
    }
    KeySource src(keys);
    for (const auto& prefix : prefixes) {
      for (const auto& delimiter : delimiters) {
        std::vector<std::string> want = Reference(src.keys(), prefix, delimiter, "");
        for (size_t max : {1u, 2u, 3u, 7u, 1000u}) {
          for (size_t batch : {1u, 2u, 5u, 1000u}) {
            std::vector<std::string> got;
            std::string after;
            for (int pages = 0;; ++pages) {
              ASSERT_LT(pages, 100) << "paging does not end";
              ListPage page = MustList(src, prefix, delimiter, after, max, batch);
              auto entries = Entries(page);
              ASSERT_LE(entries.size(), max);
              got.insert(got.end(), entries.begin(), entries.end());
              if (!page.truncated) break;
              ASSERT_EQ(entries.size(), max) << "a truncated page is full";
              after = page.last;
            }
            ASSERT_EQ(got, want) << "trial " << trial << " prefix '" << prefix << "' delimiter '" << delimiter
                                 << "' max " << max << " batch " << batch;
            ++checked;
          }
        }
        // Starting from any marker matches the reference from that marker.
        for (const auto& marker : src.keys()) {
          ListPage page = MustList(src, prefix, delimiter, marker, 1000, 3);
          ASSERT_EQ(Entries(page), Reference(src.keys(), prefix, delimiter, marker));
        }
      }
    }
  }
  EXPECT_EQ(checked, 40 * 6 * 5 * 5 * 4);
}

}  // namespace
}  // namespace euca::walrus
