// Durability, crash and key-safety tests of the filesystem backend (real files in temporary
// directories; crashes are real: a forked child killed with SIGKILL).

#include "drivers/objects/fs_backend.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <map>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "drivers/objects/test_support.h"

namespace euca::objects {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using testing::FilesUnder;
using testing::Get;
using ::testing::HasSubstr;
using testing::Put;
using testing::ReadAll;
using testing::Upload;
using testing::TempDir;
using testing::WriteBlob;

// Every blob a file, as the tests of files, reaping and crashes below need; the tests of
// in-database blobs pass their own options.
const FsBackendOptions kFilesOnly{.sync = true, .inline_max_bytes = 0};

std::unique_ptr<FsBackend> MustOpen(const std::string& dir, FsBackendOptions opts = kFilesOnly) {
  auto b = OpenFsBackend(dir, opts);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? std::move(b).value() : nullptr;
}

ObjectRecord Record(std::string bucket, std::string key, std::vector<BlobRef> blobs, std::string etag = "") {
  ObjectRecord r;
  r.bucket = std::move(bucket);
  r.key = std::move(key);
  r.blobs = std::move(blobs);
  r.etag = std::move(etag);
  return r;
}

ListRange Range(std::string prefix, size_t limit = 1000) {
  ListRange r;
  r.prefix = std::move(prefix);
  r.limit = limit;
  return r;
}

std::vector<std::string> TempFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : FilesUnder(dir))
    if (f.rfind("tmp/", 0) == 0) out.push_back(f);
  return out;
}

std::vector<std::string> BlobFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : FilesUnder(dir))
    if (f.rfind("blobs/", 0) == 0) out.push_back(f);
  return out;
}

void Touch(const std::string& path, const std::string& content = "junk") { std::ofstream(path) << content; }

TEST(FsBackendTest, CreatesPrivateLayout) {
  TempDir tmp;
  std::string dir = tmp.path() + "/a/walrus";
  auto b = MustOpen(dir);
  ASSERT_TRUE(b);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir + "/walrus.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(std::filesystem::is_directory(dir + "/tmp"));
  EXPECT_TRUE(std::filesystem::is_directory(dir + "/blobs/00"));
  EXPECT_TRUE(std::filesystem::is_directory(dir + "/blobs/ff"));
  EXPECT_TRUE(b->reap_report().reaped);
}

TEST(FsBackendTest, EverythingSurvivesReopen) {
  TempDir tmp;
  std::string dir = tmp.path() + "/walrus";
  {
    auto b = MustOpen(dir);
    ASSERT_TRUE(b->CreateBucket({"bkt", "111122223333", "acme", "", "acl", 1}).ok());
    ASSERT_TRUE(Put(*b, "bkt", "k", "hello").ok());
    ASSERT_TRUE(b->CreateUpload(Upload("u", "bkt", "m")).ok());
    auto blob = WriteBlob(*b, "part");
    ASSERT_TRUE(blob.ok());
    ASSERT_TRUE(b->PutPart("u", {1, *blob, "\"p\"", 3}).ok());
  }
  auto b = MustOpen(dir);
  EXPECT_EQ(b->reap_report().orphan_blobs, 0u);
  EXPECT_EQ(*Get(*b, "bkt", "k"), "hello");
  auto parts = b->ListParts("u");
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].etag, "\"p\"");
  EXPECT_EQ(BlobFiles(dir).size(), 2u);
}

TEST(FsBackendTest, OpenReapsTempFilesAndOrphanBlobsOnly) {
  TempDir tmp;
  std::string dir = tmp.path() + "/walrus";
  std::string kept_id;
  {
    auto b = MustOpen(dir);
    ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
    auto put = Put(*b, "bkt", "k", "kept");
    ASSERT_TRUE(put.ok());
    kept_id = put->blobs[0].id;
    // A blob committed but never referenced: as if the process died before PutObject.
    ASSERT_TRUE(WriteBlob(*b, "orphan").ok());
  }
  Touch(dir + "/tmp/0123456789abcdef0123456789abcdef.tmp");
  Touch(dir + "/tmp/README");           // not ours: left alone
  Touch(dir + "/blobs/ab/not-a-blob");  // not ours: left alone
  std::string orphan2 = "ab" + std::string(30, '0');
  Touch(dir + "/blobs/ab/" + orphan2);
  auto b = MustOpen(dir);
  EXPECT_TRUE(b->reap_report().reaped);
  EXPECT_EQ(b->reap_report().temp_files, 1u);
  EXPECT_EQ(b->reap_report().orphan_blobs, 2u);
  EXPECT_THAT(TempFiles(dir), ElementsAre("tmp/README"));
  EXPECT_THAT(BlobFiles(dir),
              ::testing::UnorderedElementsAre("blobs/" + kept_id.substr(0, 2) + "/" + kept_id, "blobs/ab/not-a-blob"));
  EXPECT_EQ(*Get(*b, "bkt", "k"), "kept");
}

TEST(FsBackendTest, SecondOpenerDoesNotReapAnotherProcesssWrites) {
  TempDir tmp;
  std::string dir = tmp.path() + "/walrus";
  auto first = MustOpen(dir);
  ASSERT_TRUE(first->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
  auto writer = first->NewBlob();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("in flight").ok());
  auto committed = WriteBlob(*first, "committed, not yet referenced");
  ASSERT_TRUE(committed.ok());

  auto second = MustOpen(dir);
  EXPECT_FALSE(second->reap_report().reaped);
  EXPECT_EQ(TempFiles(dir).size(), 1u);
  // Both writes finish normally.
  auto blob = (*writer)->Commit();
  ASSERT_TRUE(blob.ok());
  ObjectRecord r = Record("bkt", "k", {*blob});
  ASSERT_TRUE(first->PutObject(r).ok());
  ObjectRecord r2 = Record("bkt", "k2", {*committed});
  ASSERT_TRUE(first->PutObject(r2).ok());
  EXPECT_EQ(*Get(*second, "bkt", "k"), "in flight");
  EXPECT_EQ(*Get(*second, "bkt", "k2"), "committed, not yet referenced");
}

TEST(FsBackendTest, RefusesNewerSchemaAndForeignDatabases) {
  TempDir tmp;
  std::string dir = tmp.path() + "/walrus";
  { ASSERT_TRUE(MustOpen(dir)); }
  auto sql = [](const std::string& path, const char* stmt) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, stmt, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  };
  sql(dir + "/walrus.db", "PRAGMA user_version=99");
  auto newer = OpenFsBackend(dir);
  EXPECT_EQ(newer.status().code(), Code::kUnsupported);
  EXPECT_THAT(newer.status().message(), HasSubstr("newer than this euca understands"));

  std::string other = tmp.path() + "/other";
  std::filesystem::create_directories(other);
  sql(other + "/walrus.db", "CREATE TABLE t(x)");
  auto foreign = OpenFsBackend(other);
  EXPECT_EQ(foreign.status().code(), Code::kInternal);
  EXPECT_THAT(foreign.status().message(), HasSubstr("not a Walrus store"));
}

// Keys are opaque bytes: nothing a key holds may reach a path, and every key round-trips.
TEST(FsBackendTest, HostileKeysStayInsideTheDataDirAndRoundTrip) {
  TempDir tmp;
  std::string dir = tmp.path() + "/walrus";
  auto b = MustOpen(dir);
  ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
  std::vector<std::string> keys = {
      "../../etc/passwd",
      "a/../../b",
      "../",
      "/abs/path",
      "..",
      ".",
      std::string("nul\0inside", 10),
      std::string("\0", 1),
      std::string(1024, 'k'),
      std::string(1023, '/') + ".",
      "%2e%2e%2fencoded",
      "\xe2\x80\xae unicode \xf0\x9f\x98\x80 \xc3\xa9",
      "\xff\xfe invalid utf-8",
      "back\\slash\\..\\..",
      "new\nline",
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    auto put = Put(*b, "bkt", keys[i], "value " + std::to_string(i));
    ASSERT_TRUE(put.ok()) << i << ": " << put.status().ToString();
  }
  // Nothing was created beside the data directory, and inside it only the known layout.
  std::set<std::string> top;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) top.insert(e.path().filename().string());
  EXPECT_EQ(top, std::set<std::string>{"walrus"});
  for (const auto& f : FilesUnder(dir)) {
    bool known = f == "LOCK" || f.rfind("walrus.db", 0) == 0 ||
                 (f.rfind("blobs/", 0) == 0 && f.size() == 6 + 3 + 32 && IsBlobId(f.substr(9)));
    EXPECT_TRUE(known) << f;
  }
  EXPECT_EQ(BlobFiles(dir).size(), keys.size());
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/b"));
  // Exact round trip by key, and through a listing.
  for (size_t i = 0; i < keys.size(); ++i) {
    auto got = Get(*b, "bkt", keys[i]);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    EXPECT_EQ(*got, "value " + std::to_string(i)) << i;
  }
  auto listed = b->ListObjects("bkt", Range("", 100));
  ASSERT_TRUE(listed.ok());
  std::set<std::string> names;
  for (const auto& o : *listed) names.insert(o.key);
  EXPECT_EQ(names, std::set<std::string>(keys.begin(), keys.end()));
  // A prefix that is a prefix of the NUL key only.
  auto nul = b->ListObjects("bkt", Range(std::string("nul\0", 4)));
  ASSERT_TRUE(nul.ok());
  ASSERT_EQ(nul->size(), 1u);
  EXPECT_EQ((*nul)[0].key, keys[6]);
}

// Many threads write one key while others read it: every read is one whole version and the
// final content is one of the writes.
TEST(FsBackendTest, ConcurrentWritersOfOneKeyNeverMix) {
  TempDir tmp;
  auto b = MustOpen(tmp.path() + "/walrus", {.sync = false});
  ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
  constexpr int kWriters = 8;
  constexpr int kRounds = 12;
  // Writer w writes (w+1)*20 KiB of byte 'A'+w, in 4 KiB chunks, so a mix shows.
  auto content = [](int w) { return std::string(static_cast<size_t>(w + 1) * 20 * 1024, static_cast<char>('A' + w)); };
  ASSERT_TRUE(Put(*b, "bkt", "k", content(0)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int r = 0; r < kRounds; ++r) {
        std::string data = content(w);
        auto writer = b->NewBlob();
        if (!writer.ok()) {
          ++bad;
          return;
        }
        for (size_t i = 0; i < data.size(); i += 4096) {
          if (!(*writer)->Write(std::string_view(data).substr(i, 4096)).ok()) ++bad;
          if (i % (16 * 4096) == 0) std::this_thread::yield();
        }
        auto blob = (*writer)->Commit();
        if (!blob.ok()) {
          ++bad;
          return;
        }
        ObjectRecord rec = Record("bkt", "k", {*blob}, std::to_string(w));
        if (!b->PutObject(rec).ok()) ++bad;
      }
    });
  }
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      while (!stop) {
        auto reader = b->OpenObject("bkt", "k");
        if (!reader.ok()) {
          ++bad;
          continue;
        }
        auto data = ReadAll(**reader);
        if (!data.ok() || data->empty()) {
          ++bad;
          continue;
        }
        int w = data->front() - 'A';
        if (w < 0 || w >= kWriters || *data != content(w)) ++bad;
        ++reads;
      }
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  auto final_data = Get(*b, "bkt", "k");
  ASSERT_TRUE(final_data.ok());
  int w = final_data->front() - 'A';
  ASSERT_GE(w, 0);
  ASSERT_LT(w, kWriters);
  EXPECT_EQ(*final_data, content(w));
  EXPECT_EQ(b->GetObject("bkt", "k")->etag, std::to_string(w));  // metadata and data agree
  EXPECT_EQ(BlobFiles(tmp.path() + "/walrus").size(), 1u);       // every replaced version deleted
}

// Lookups (GetBucket, GetObject, OpenObject) run on read connections of their own: each
// must see every change committed before it, by this backend or another opener.
TEST(FsBackendReadTest, LookupsSeeEveryCommittedChange) {
  TempDir tmp;
  auto b = MustOpen(tmp.path() + "/walrus", {.sync = false});
  auto other = MustOpen(tmp.path() + "/walrus", {.sync = false});  // as another process
  ASSERT_TRUE(b && other);
  EXPECT_EQ(b->GetBucket("bkt").status().wire_code(), "NoSuchBucket");
  ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "acl-1", 1}).ok());
  ASSERT_TRUE(b->GetBucket("bkt").ok());
  ASSERT_TRUE(other->SetBucketAcl("bkt", "acl-2").ok());
  EXPECT_EQ(b->GetBucket("bkt")->acl, "acl-2");
  for (int i = 0; i < 40; ++i) {
    FsBackend& writer = i % 2 ? *other : *b;
    // Small (in the database) and large (a file) versions in turn.
    std::string data(i % 4 < 2 ? 100 : 70 * 1024, static_cast<char>('a' + i % 26));
    auto blob = WriteBlob(writer, data);
    ASSERT_TRUE(blob.ok()) << blob.status().ToString();
    ASSERT_TRUE(writer.PutObject(Record("bkt", "k", {*blob}, std::to_string(i))).ok());
    auto rec = b->GetObject("bkt", "k");
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    EXPECT_EQ(rec->etag, std::to_string(i));
    auto got = Get(*b, "bkt", "k");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, data) << "version " << i;
  }
  ASSERT_TRUE(other->DeleteObject("bkt", "k").ok());
  EXPECT_EQ(b->GetObject("bkt", "k").status().wire_code(), "NoSuchKey");
  EXPECT_EQ(b->OpenObject("bkt", "k").status().wire_code(), "NoSuchKey");
  ASSERT_TRUE(other->DeleteBucket("bkt").ok());
  EXPECT_EQ(b->GetBucket("bkt").status().wire_code(), "NoSuchBucket");
  EXPECT_EQ(b->OpenObject("bkt", "k").status().wire_code(), "NoSuchBucket");
}

TEST(FsBackendInlineTest, SmallObjectsLiveInTheDatabaseAndLargeOnesInFiles) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  const std::string small(kInlineBlobMax, 's');
  const std::string large(kInlineBlobMax + 1, 'L');
  {
    auto b = MustOpen(dir, {});
    ASSERT_TRUE(b->CreateBucket({"bkt", "1", "o", "", "", 1}).ok());
    auto put = Put(*b, "bkt", "small", small);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    ASSERT_EQ(put->blobs.size(), 1u);
    EXPECT_TRUE(put->blobs[0].in_db);
    EXPECT_EQ(put->blobs[0].data, nullptr);  // the returned record only names the blob
    ASSERT_TRUE(Put(*b, "bkt", "large", large).ok());
    EXPECT_EQ(BlobFiles(dir).size(), 1u);
    EXPECT_EQ(b->InlineBlobCountForTest(), 1u);
    EXPECT_EQ(*Get(*b, "bkt", "small"), small);
    // An in-database blob has no file to send; readers fall back to ReadAt.
    auto reader = b->OpenObject("bkt", "small");
    ASSERT_TRUE(reader.ok());
    EXPECT_TRUE((*reader)->FileRanges(0, small.size()).empty());
    char buf[10];
    auto n = (*reader)->ReadAt(kInlineBlobMax - 4, buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), "ssss");
  }
  auto b = MustOpen(dir, {});  // survives reopen, and reaping keeps referenced rows
  EXPECT_EQ(b->reap_report().orphan_blobs, 0u);
  EXPECT_EQ(*Get(*b, "bkt", "small"), small);
  EXPECT_EQ(*Get(*b, "bkt", "large"), large);
  // Replacing small by large and large by small leaves exactly the current versions.
  ASSERT_TRUE(Put(*b, "bkt", "small", large).ok());
  ASSERT_TRUE(Put(*b, "bkt", "large", "tiny").ok());
  EXPECT_EQ(BlobFiles(dir).size(), 1u);
  EXPECT_EQ(b->InlineBlobCountForTest(), 1u);
  EXPECT_EQ(*Get(*b, "bkt", "small"), large);
  EXPECT_EQ(*Get(*b, "bkt", "large"), "tiny");
  ASSERT_TRUE(b->DeleteObject("bkt", "large").ok());
  ASSERT_TRUE(b->DeleteObject("bkt", "small").ok());
  EXPECT_EQ(BlobFiles(dir).size(), 0u);
  EXPECT_EQ(b->InlineBlobCountForTest(), 0u);
}

// In-database blob ids count up (16 hex digits of counter, 16 random), also across a reopen,
// so that the inline_blobs index grows at its right edge; a small part written to a file gets
// a random id of its own (ids that count up would crowd one shard directory).
TEST(FsBackendInlineTest, InDatabaseBlobIdsCountUpAndFilesFromThemDoNot) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  std::vector<std::string> ids;
  for (int open = 0; open < 2; ++open) {
    auto b = MustOpen(dir, {});
    if (open == 0) {
      ASSERT_TRUE(b->CreateBucket({"bkt", "1", "o", "", "", 1}).ok());
    }
    for (int i = 0; i < 3; ++i) {
      auto put = Put(*b, "bkt", "k" + std::to_string(open) + std::to_string(i), "small");
      ASSERT_TRUE(put.ok()) << put.status().ToString();
      ASSERT_TRUE(put->blobs[0].in_db);
      ids.push_back(put->blobs[0].id);
    }
  }
  for (size_t i = 1; i < ids.size(); ++i) {
    EXPECT_TRUE(IsBlobId(ids[i])) << ids[i];
    EXPECT_EQ(std::stoull(ids[i].substr(0, 16), nullptr, 16), std::stoull(ids[i - 1].substr(0, 16), nullptr, 16) + 1)
        << ids[i - 1] << " then " << ids[i];
  }
  auto b = MustOpen(dir, {});
  ASSERT_TRUE(b->CreateUpload(Upload("u1", "bkt", "k")).ok());
  auto blob = WriteBlob(*b, "part");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(b->PutPart("u1", {1, *blob, "\"e\"", 1}).ok());
  auto parts = b->ListParts("u1");
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_FALSE((*parts)[0].blob.in_db);
  EXPECT_NE((*parts)[0].blob.id.substr(0, 16), blob->id.substr(0, 16));
}

TEST(FsBackendInlineTest, ASmallPartIsWrittenToAFile) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  auto b = MustOpen(dir, {});
  ASSERT_TRUE(b->CreateBucket({"bkt", "1", "o", "", "", 1}).ok());
  ASSERT_TRUE(b->CreateUpload(Upload("u1", "bkt", "k")).ok());
  auto blob = WriteBlob(*b, "part");
  ASSERT_TRUE(blob.ok());
  EXPECT_TRUE(blob->in_db);
  ASSERT_TRUE(b->PutPart("u1", {1, *blob, "\"e\"", 1}).ok());
  EXPECT_EQ(BlobFiles(dir).size(), 1u);
  EXPECT_EQ(b->InlineBlobCountForTest(), 0u);
  auto parts = b->ListParts("u1");  // the part's blob as stored (a file of a new id)
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 1u);
  ObjectRecord r = Record("bkt", "k", {(*parts)[0].blob}, "\"e-1\"");
  r.parts = 1;
  auto done = b->CompleteUpload("u1", r);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  auto got = Get(*b, "bkt", "k");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "part");
}

TEST(FsBackendInlineTest, AVersion1StoreIsUpgradedInPlace) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  {
    auto b = MustOpen(dir);
    ASSERT_TRUE(b->CreateBucket({"bkt", "1", "o", "", "", 1}).ok());
    ASSERT_TRUE(Put(*b, "bkt", "k", "old").ok());
  }
  {  // make it look like a store written by a version-1 euca
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/walrus.db").c_str(), &db), SQLITE_OK);
    const char* v1 =
        "DROP TABLE inline_blobs; ALTER TABLE objects DROP COLUMN checksum;"
        "ALTER TABLE objects DROP COLUMN part_checksums; ALTER TABLE uploads DROP COLUMN checksum_algorithm;"
        "ALTER TABLE uploads DROP COLUMN checksum_type; ALTER TABLE parts DROP COLUMN checksum;"
        "PRAGMA user_version=1;";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto b = MustOpen(dir, {});
  EXPECT_EQ(*Get(*b, "bkt", "k"), "old");
  ASSERT_TRUE(Put(*b, "bkt", "k2", "new").ok());
  EXPECT_EQ(*Get(*b, "bkt", "k2"), "new");
  EXPECT_EQ(b->InlineBlobCountForTest(), 1u);
}

TEST(FsBackendTest, AVersion2StoreIsUpgradedInPlace) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  { ASSERT_TRUE(MustOpen(dir)); }
  {  // a store as a version-2 euca wrote it: no checksum columns
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/walrus.db").c_str(), &db), SQLITE_OK);
    const char* v2 =
        "DROP TABLE objects; DROP TABLE uploads; DROP TABLE parts;"
        "CREATE TABLE objects(bucket TEXT NOT NULL, key BLOB NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
        "  content_type BLOB NOT NULL, metadata BLOB NOT NULL, headers BLOB NOT NULL, owner_id TEXT NOT NULL,"
        "  owner_name TEXT NOT NULL, acl TEXT NOT NULL, modified_ms INTEGER NOT NULL, generation TEXT NOT NULL,"
        "  parts INTEGER NOT NULL, blobs TEXT NOT NULL, UNIQUE (bucket, key));"
        "CREATE TABLE uploads(upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL,"
        "  owner_id TEXT NOT NULL, owner_name TEXT NOT NULL, initiator_id TEXT NOT NULL,"
        "  initiator_name TEXT NOT NULL, content_type BLOB NOT NULL, metadata BLOB NOT NULL,"
        "  headers BLOB NOT NULL, acl TEXT NOT NULL, initiated_ms INTEGER NOT NULL);"
        "CREATE INDEX uploads_by_key ON uploads(bucket, key, upload_id);"
        "CREATE TABLE parts(upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob TEXT NOT NULL,"
        "  size INTEGER NOT NULL, etag TEXT NOT NULL, modified_ms INTEGER NOT NULL,"
        "  PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;"
        "INSERT INTO buckets VALUES('bkt', '1', 'o', '', '', 1);"
        "INSERT INTO objects VALUES('bkt', X'6b', 3, '\"e\"', 'text/plain', '', '', '1', 'o', '', 5, 'g', 0,"
        "  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:3');"
        "INSERT INTO uploads VALUES('u1', 'bkt', X'6b', '1', 'o', '1', 'o', 'text/plain', '', '', '', 7);"
        "PRAGMA user_version=2;";
    ASSERT_EQ(sqlite3_exec(db, v2, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto b = MustOpen(dir, {});
  ASSERT_TRUE(b);
  auto old = b->GetObject("bkt", "k");  // an old row reads back without a checksum
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->etag, "\"e\"");
  EXPECT_EQ(old->checksum, "");
  EXPECT_TRUE(old->part_checksums.empty());
  auto upload = b->GetUpload("u1");
  ASSERT_TRUE(upload.ok()) << upload.status().ToString();
  EXPECT_EQ(upload->checksum_algorithm, "");
  auto blob = WriteBlob(*b, "abc");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(b->PutPart("u1", {1, *blob, "\"p\"", 8, "CRC32:NSRBwg=="}).ok());
  auto parts = b->ListParts("u1");
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].checksum, "CRC32:NSRBwg==");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/walrus.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), kWalrusSchemaVersion);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// The crash tests fork a child that opens the store and writes, then kill -9 it at a chosen
// step. The child reports reaching the step through a pipe and then waits to be killed.
enum class CrashPoint { kMidWrite, kAfterBlobCommit };

void CrashChild(const std::string& dir, CrashPoint point, int notify_fd) {
  auto opened = OpenFsBackend(dir, kFilesOnly);
  if (!opened.ok()) _exit(2);
  auto& b = **opened;
  auto writer = b.NewBlob();
  if (!writer.ok()) _exit(3);
  std::string chunk(256 * 1024, 'N');
  for (int i = 0; i < 8; ++i)
    if (!(*writer)->Write(chunk).ok()) _exit(4);
  if (point == CrashPoint::kAfterBlobCommit && !(*writer)->Commit().ok()) _exit(5);
  char c = 'x';
  if (::write(notify_fd, &c, 1) != 1) _exit(6);
  for (;;) ::pause();
}

void RunCrash(const std::string& dir, CrashPoint point) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    CrashChild(dir, point, fds[1]);
  }
  ::close(fds[1]);
  char c = 0;
  ASSERT_EQ(::read(fds[0], &c, 1), 1) << "child failed before the crash point";
  ::close(fds[0]);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

// --- O_DIRECT blob files ---------------------------------------------------------------------

// Whether files in `dir` can be opened with O_DIRECT (tmpfs before Linux 6.6 cannot).
bool DirectIoWorksIn(const std::string& dir) {
  std::string path = dir + "/probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  ::unlink(path.c_str());
  return fd >= 0;
}

// The status flags (F_GETFL, as /proc shows them) of this process's open file `tmp/*.tmp`
// under `dir`; -1 if none is open.
long OpenTempFileFlags(const std::string& dir) {
  std::error_code ec;
  const std::string want = std::filesystem::canonical(dir + "/tmp", ec).string() + "/";
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (ec || target.rfind(want, 0) != 0) continue;
    std::ifstream info("/proc/self/fdinfo/" + e.path().filename().string());
    std::string line;
    while (std::getline(info, line))
      if (line.rfind("flags:", 0) == 0) return std::stol(line.substr(6), nullptr, 8);
  }
  return -1;
}

struct FreeAligned {
  void operator()(char* p) const { std::free(p); }
};

// Writes `data` in the given chunk sizes; chunks marked aligned come from a
// kDirectIoAlign-aligned buffer (the copy-free path), the others from an odd address.
Result<BlobRef> WriteShaped(ObjectBackend& b, const std::string& data, const std::vector<std::pair<size_t, bool>>& shape) {
  EUCA_ASSIGN_OR_RETURN(auto w, b.NewBlob());
  std::unique_ptr<char, FreeAligned> buf(static_cast<char*>(std::aligned_alloc(kDirectIoAlign, 4 << 20)));
  size_t off = 0;
  for (auto [size, aligned] : shape) {
    char* p = buf.get() + (aligned ? 0 : 1);
    std::memcpy(p, data.data() + off, size);
    EUCA_RETURN_IF_ERROR(w->Write(std::string_view(p, size)));
    off += size;
  }
  EXPECT_EQ(off, data.size());
  return w->Commit();
}

TEST(FsBackendDirectIoTest, BlobsOfEveryShapeRoundTripWithAndWithoutDirectIo) {
  TempDir tmp;
  std::string data;
  for (uint32_t i = 0; i < (3u << 20) + 777; ++i) data.push_back(static_cast<char>((i * 2654435761u) >> 24));
  const size_t M = 1 << 20, A = kDirectIoAlign;
  struct Shape {
    const char* name;
    std::vector<std::pair<size_t, bool>> chunks;
  };
  const std::vector<Shape> shapes = {
      {"aligned whole blocks", {{M, true}, {M, true}, {M, true}}},
      {"aligned with a ragged tail", {{M, true}, {2 * M + 777, true}}},
      {"a block and a bit", {{A + 1, true}}},
      {"less than a block", {{A - 1, true}}},
      {"odd addresses", {{M, false}, {M + 5, false}, {3, false}}},
      {"aligned after staged bytes", {{100, false}, {M, true}, {A, true}, {5, true}}},
      {"small pieces spilling from memory", {{40000, false}, {40000, false}, {A, true}, {M, true}}},
  };
  for (bool direct : {true, false}) {
    const std::string dir = tmp.path() + (direct ? "/direct" : "/buffered");
    auto b = MustOpen(dir, {.sync = true, .direct_io = direct});
    ASSERT_TRUE(b->CreateBucket({"bkt", "1", "o", "", "", 1}).ok());
    for (const auto& shape : shapes) {
      size_t size = 0;
      for (auto [n, unused] : shape.chunks) size += n;
      const std::string body = data.substr(0, size);
      auto blob = WriteShaped(*b, body, shape.chunks);
      ASSERT_TRUE(blob.ok()) << shape.name << ": " << blob.status().ToString();
      EXPECT_EQ(blob->size, size) << shape.name;
      ObjectRecord r = Record("bkt", shape.name, {*blob}, "\"e\"");
      ASSERT_TRUE(b->PutObject(r).ok()) << shape.name;
      auto got = Get(*b, "bkt", shape.name);
      ASSERT_TRUE(got.ok()) << shape.name;
      EXPECT_TRUE(*got == body) << shape.name << (direct ? " (direct)" : " (buffered)") << ": the bytes differ";
    }
    // No padding survives: each blob file is exactly its object's size.
    std::multiset<uintmax_t> sizes;
    for (const auto& f : BlobFiles(dir)) sizes.insert(std::filesystem::file_size(dir + "/" + f));
    std::multiset<uintmax_t> want;
    for (const auto& shape : shapes) {
      size_t size = 0;
      for (auto [n, unused] : shape.chunks) size += n;
      if (size > kInlineBlobMax) want.insert(size);
    }
    EXPECT_EQ(sizes, want) << (direct ? "direct" : "buffered");
    EXPECT_TRUE(TempFiles(dir).empty());
  }
}

TEST(FsBackendDirectIoTest, BlobFilesAreWrittenWithODirectOnlyWhenSyncedAndAsked) {
  TempDir tmp;
  if (!DirectIoWorksIn(tmp.path())) GTEST_SKIP() << "the temporary directory's filesystem has no O_DIRECT";
  struct Case {
    FsBackendOptions options;
    bool want_direct;
  };
  for (const Case& c : {Case{{.sync = true}, true}, Case{{.sync = true, .direct_io = false}, false},
                        Case{{.sync = false}, false}}) {
    const std::string dir = tmp.path() + "/" + std::to_string(c.options.sync) + std::to_string(c.options.direct_io);
    auto b = MustOpen(dir, c.options);
    auto w = b->NewBlob();
    ASSERT_TRUE(w.ok());
    const std::string chunk(kInlineBlobMax + 1, 'x');  // past the in-memory limit: a file
    ASSERT_TRUE((*w)->Write(chunk).ok());
    long flags = OpenTempFileFlags(dir);
    ASSERT_GE(flags, 0) << "no open temporary file under " << dir;
    EXPECT_EQ((flags & O_DIRECT) != 0, c.want_direct) << "sync " << c.options.sync << " direct_io " << c.options.direct_io;
    ASSERT_TRUE((*w)->Commit().ok());
  }
}

// A filesystem (or device) that accepts O_DIRECT at open but refuses the writes with EINVAL
// (larger logical blocks than kDirectIoAlign): the writer drops O_DIRECT and writes the same
// bytes buffered. The refusal is injected (write_for_test): tmpfs and ext4 here take O_DIRECT.
TEST(FsBackendDirectIoTest, ARefusedDirectWriteFallsBackToBufferedWrites) {
  TempDir tmp;
  if (!DirectIoWorksIn(tmp.path())) GTEST_SKIP() << "the temporary directory's filesystem has no O_DIRECT";
  std::atomic<int> refused{0}, buffered{0};
  FsBackendOptions options{.sync = true};
  options.write_for_test = [&](int fd, const char* data, size_t n, bool direct) -> ssize_t {
    if (direct) {
      ++refused;
      errno = EINVAL;
      return -1;
    }
    ++buffered;
    return ::write(fd, data, n);
  };
  const std::string dir = tmp.path() + "/walrus";
  auto b = MustOpen(dir, options);
  ASSERT_TRUE(b->CreateBucket({"bkt", "1", "o", "", "", 1}).ok());
  std::string body;
  for (uint32_t i = 0; i < (1u << 20) + 12345; ++i) body.push_back(static_cast<char>((i * 2654435761u) >> 24));
  auto w = b->NewBlob();
  ASSERT_TRUE(w.ok());
  std::unique_ptr<char, FreeAligned> buf(static_cast<char*>(std::aligned_alloc(kDirectIoAlign, 2 << 20)));
  std::memcpy(buf.get(), body.data(), body.size());
  ASSERT_TRUE((*w)->Write(std::string_view(buf.get(), body.size())).ok());
  EXPECT_EQ(refused.load(), 1) << "one refused direct write, then buffered ones only";
  EXPECT_GE(buffered.load(), 1);
  long flags = OpenTempFileFlags(dir);
  ASSERT_GE(flags, 0);
  EXPECT_EQ(flags & O_DIRECT, 0) << "the descriptor still has O_DIRECT after the refusal";
  auto blob = (*w)->Commit();
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  ASSERT_TRUE(b->PutObject(Record("bkt", "k", {*blob}, "\"e\"")).ok());
  auto got = Get(*b, "bkt", "k");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == body) << "the bytes differ";
  EXPECT_EQ(std::filesystem::file_size(b->BlobPath(blob->id)), body.size());
  EXPECT_EQ(refused.load(), 1);
}

// Polls `done` until it holds, for at most 10 s (a bound for a broken build, not a timing the
// test depends on); whether it held.
bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 10000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return done();
}

// With sync and O_DIRECT a big blob is flushed (fdatasync) in the background every
// flush_window_bytes while it is written, on a thread other than the writer's, and the
// blob's bytes are whole afterwards.
TEST(FsBackendDirectIoTest, ABigDirectBlobIsFlushedInTheBackgroundAsItGrows) {
  TempDir tmp;
  if (!DirectIoWorksIn(tmp.path())) GTEST_SKIP() << "the temporary directory's filesystem has no O_DIRECT";
  std::atomic<int> flushes{0};
  std::atomic<bool> off_thread{true};
  const std::thread::id writer_thread = std::this_thread::get_id();
  FsBackendOptions options{.sync = true};
  options.flush_window_bytes = 1 << 20;
  options.datasync_for_test = [&](int fd) {
    ++flushes;
    if (std::this_thread::get_id() == writer_thread) off_thread = false;
    return ::fdatasync(fd);
  };
  auto b = MustOpen(tmp.path() + "/walrus", options);
  ASSERT_TRUE(b->CreateBucket({"bkt", "1", "o", "", "", 1}).ok());
  constexpr size_t kChunk = 1 << 20;
  std::unique_ptr<char, FreeAligned> buf(static_cast<char*>(std::aligned_alloc(kDirectIoAlign, kChunk)));
  std::string body;
  auto w = b->NewBlob();
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 6; ++i) {
    for (size_t j = 0; j < kChunk; ++j) buf.get()[j] = static_cast<char>((j * 31 + i * 7) >> 3);
    body.append(buf.get(), kChunk);
    ASSERT_TRUE((*w)->Write(std::string_view(buf.get(), kChunk)).ok());
  }
  // Commit stops the flusher, and a flush asked for but not yet begun is then dropped (the
  // final fsync covers it): wait for the first before committing.
  ASSERT_TRUE(WaitFor([&] { return flushes.load() > 0; })) << "no background flush began";
  auto blob = (*w)->Commit();
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  // One flush is asked for per window; while one runs, the next windows' requests merge.
  EXPECT_GE(flushes.load(), 1);
  EXPECT_LE(flushes.load(), 6);
  EXPECT_TRUE(off_thread.load()) << "a background flush ran on the writer's thread";
  ASSERT_TRUE(b->PutObject(Record("bkt", "k", {*blob}, "\"e\"")).ok());
  auto got = Get(*b, "bkt", "k");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == body) << "the bytes differ";
}

// A background flush that fails (an I/O error the final fsync would no longer report: Linux
// reports a write error once per open file) fails the blob's Commit, and no file remains.
TEST(FsBackendDirectIoTest, AFailedBackgroundFlushFailsTheCommit) {
  TempDir tmp;
  if (!DirectIoWorksIn(tmp.path())) GTEST_SKIP() << "the temporary directory's filesystem has no O_DIRECT";
  FsBackendOptions options{.sync = true};
  options.flush_window_bytes = 1 << 20;
  std::atomic<int> failed{0};
  options.datasync_for_test = [&](int) {
    ++failed;
    errno = EIO;
    return -1;
  };
  const std::string dir = tmp.path() + "/walrus";
  auto b = MustOpen(dir, options);
  constexpr size_t kChunk = 1 << 20;
  std::unique_ptr<char, FreeAligned> buf(static_cast<char*>(std::aligned_alloc(kDirectIoAlign, kChunk)));
  std::memset(buf.get(), 'x', kChunk);
  auto w = b->NewBlob();
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*w)->Write(std::string_view(buf.get(), kChunk)).ok());
  ASSERT_TRUE(WaitFor([&] { return failed.load() > 0; })) << "no background flush began";
  auto blob = (*w)->Commit();
  ASSERT_FALSE(blob.ok()) << "a blob whose background flush failed was committed";
  EXPECT_NE(blob.status().message().find("Input/output error"), std::string::npos) << blob.status().ToString();
  EXPECT_TRUE(TempFiles(dir).empty()) << "the failed blob's temporary file remains";
  size_t blobs = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/blobs")) blobs += e.is_regular_file();
  EXPECT_EQ(blobs, 0u);
}

TEST(FsBackendCrashTest, KillDuringPutLeavesOldVersionAndReapsTempFile) {
  TempDir tmp;
  std::string dir = tmp.path() + "/walrus";
  {
    auto b = MustOpen(dir);
    ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
    ASSERT_TRUE(Put(*b, "bkt", "k", "old version").ok());
  }
  RunCrash(dir, CrashPoint::kMidWrite);
  EXPECT_EQ(TempFiles(dir).size(), 1u);  // the crash left its partial write behind
  auto b = MustOpen(dir);
  EXPECT_TRUE(b->reap_report().reaped);
  EXPECT_EQ(b->reap_report().temp_files, 1u);
  EXPECT_TRUE(TempFiles(dir).empty());
  EXPECT_EQ(*Get(*b, "bkt", "k"), "old version");
  auto listed = b->ListObjects("bkt", {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size, 11u);
  EXPECT_EQ(BlobFiles(dir).size(), 1u);
}

TEST(FsBackendCrashTest, KillBetweenRenameAndMetadataReapsTheOrphan) {
  TempDir tmp;
  std::string dir = tmp.path() + "/walrus";
  {
    auto b = MustOpen(dir);
    ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
    ASSERT_TRUE(Put(*b, "bkt", "k", "old version").ok());
  }
  RunCrash(dir, CrashPoint::kAfterBlobCommit);
  EXPECT_EQ(BlobFiles(dir).size(), 2u);
  auto b = MustOpen(dir);
  EXPECT_EQ(b->reap_report().orphan_blobs, 1u);
  EXPECT_EQ(BlobFiles(dir).size(), 1u);
  EXPECT_EQ(*Get(*b, "bkt", "k"), "old version");
}

}  // namespace
}  // namespace euca::objects

namespace euca::objects {
namespace {

// Group commit: writers that commit at once share transactions; each one's outcome is its
// own (a failing writer in a batch neither fails nor loses the others), and what succeeded
// is durable across a reopen.
TEST(FsBackendGroupCommitTest, ConcurrentWritersEachGetTheirOwnOutcome) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  constexpr int kThreads = 16;
  constexpr int kRounds = 30;
  std::atomic<int> unexpected{0};
  {
    auto b = MustOpen(dir, {.sync = true});
    ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int r = 0; r < kRounds; ++r) {
          const std::string key = "t" + std::to_string(t) + "/" + std::to_string(r);
          if (!testing::Put(*b, "bkt", key, key).ok()) ++unexpected;
          // Interleaved failures: into a missing bucket, and a bucket that exists.
          if (testing::Put(*b, "nobucket", key, key).status().code() != Code::kNotFound) ++unexpected;
          if (b->CreateBucket({"bkt", "1", "a", "", "", 1}).code() != Code::kAlreadyExists) ++unexpected;
          // Every third object is deleted again.
          if (r % 3 == 0 && !b->DeleteObject("bkt", key).value_or(false)) ++unexpected;
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(unexpected.load(), 0);
  auto b = MustOpen(dir, {.sync = true});
  auto all = b->ListObjects("bkt", Range(""));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<size_t>(kThreads * (kRounds - kRounds / 3)));
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRounds; ++r) {
      const std::string key = "t" + std::to_string(t) + "/" + std::to_string(r);
      auto got = Get(*b, "bkt", key);
      if (r % 3 == 0) {
        EXPECT_EQ(got.status().code(), Code::kNotFound) << key;
      } else {
        EXPECT_EQ(got.value_or(""), key);
      }
    }
  }
  EXPECT_EQ(b->ListBuckets()->size(), 1u);
}

// Once armed, blocks the next group commit in its before-commit hook until released, so that
// the test can queue writers behind it: they then form the next batch, in the order queued.
// Commits after the blocked one fail if released with `fail_later`.
struct CommitGate {
  std::mutex mu;
  std::condition_variable cv;
  bool armed = false;
  bool entered = false;
  bool released = false;
  bool fail = false;

  std::function<Status()> Hook() {
    return [this]() -> Status {
      std::unique_lock lock(mu);
      if (!armed) return Status::Ok();
      if (!entered) {
        entered = true;
        cv.notify_all();
        cv.wait(lock, [&] { return released; });
        return Status::Ok();
      }
      return fail ? Unavailable("injected commit failure") : Status::Ok();
    };
  }
  void Arm() {
    std::lock_guard lock(mu);
    armed = true;
  }
  bool AwaitEntered() {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return entered; });
  }
  void Release(bool fail_later) {
    std::lock_guard lock(mu);
    released = true;
    fail = fail_later;
    cv.notify_all();
  }
};

// Outcomes of PutObjectAsync calls, by name, and the thread that told each.
struct Outcomes {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Result<ObjectRecord>> got;
  std::map<std::string, std::thread::id> thread;

  std::function<void(Result<ObjectRecord>)> For(const std::string& name) {
    return [this, name](Result<ObjectRecord> r) {
      std::lock_guard lock(mu);
      got.emplace(name, std::move(r));
      thread.emplace(name, std::this_thread::get_id());
      cv.notify_all();
    };
  }
  bool AwaitCount(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return got.size() >= n; });
  }
  Status StatusOf(const std::string& name) {
    std::lock_guard lock(mu);
    auto it = got.find(name);
    return it == got.end() ? Internal("no outcome for " + name) : it->second.status();
  }
};

ObjectRecord NewRecord(FsBackend& b, const std::string& key, const std::string& data) {
  auto blob = testing::WriteBlob(b, data, 4096);
  EXPECT_TRUE(blob.ok()) << blob.status().ToString();
  return Record("bkt", key, {blob.value_or(BlobRef{})}, "\"" + key + "\"");
}

bool AwaitQueued(FsBackend& b, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (b.QueuedWritersForTest() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// An asynchronous PUT never commits on the caller's thread, even into an idle store (the
// caller may be a server's I/O thread, which must not wait for an fsync): the committer
// thread leads its batch and tells it, durable; errors come the same way.
TEST(FsBackendGroupCommitTest, AnAsyncPutIsCommittedByTheCommitterThread) {
  TempDir tmp;
  auto b = MustOpen(tmp.path() + "/walrus", {.sync = true});
  ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
  Outcomes out;
  b->PutObjectAsync(NewRecord(*b, "k", "small"), out.For("k"));
  ASSERT_TRUE(out.AwaitCount(1));
  {
    std::lock_guard lock(out.mu);
    ASSERT_TRUE(out.got.at("k").ok()) << out.got.at("k").status().ToString();
    EXPECT_NE(out.thread.at("k"), std::this_thread::get_id());
  }
  EXPECT_EQ(Get(*b, "bkt", "k").value_or(""), "small");
  ObjectRecord missing = NewRecord(*b, "k", std::string(kInlineBlobMax + 1, 'f'));
  missing.bucket = "nobucket";
  b->PutObjectAsync(missing, out.For("missing"));
  ASSERT_TRUE(out.AwaitCount(2));
  EXPECT_EQ(out.StatusOf("missing").code(), Code::kNotFound);
  EXPECT_TRUE(BlobFiles(tmp.path() + "/walrus").empty()) << "the refused PUT's blob file stayed";
}

// A failed commit fails every writer of its batch, asynchronous and synchronous alike, and
// stores none of them: no row, no in-database blob, no blob file; the batch before it stays.
// The batch behind a busy leader is led by the committer thread (its writers have no thread).
TEST(FsBackendGroupCommitTest, AFailedCommitFailsEveryWriterOfItsBatchAndStoresNothing) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  CommitGate gate;
  FsBackendOptions options{.sync = true};
  options.before_commit_for_test = gate.Hook();
  auto b = MustOpen(dir, options);
  ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
  gate.Arm();
  Outcomes out;
  std::thread first([&] { b->PutObjectAsync(NewRecord(*b, "first", "one"), out.For("first")); });
  ASSERT_TRUE(gate.AwaitEntered());
  b->PutObjectAsync(NewRecord(*b, "small", "two"), out.For("small"));
  b->PutObjectAsync(NewRecord(*b, "large", std::string(kInlineBlobMax + 10, 'L')), out.For("large"));
  EXPECT_EQ(BlobFiles(dir).size(), 1u);  // the large one's, renamed, awaiting its commit
  Status created = Status::Ok();
  std::thread creator([&] { created = b->CreateBucket({"bkt2", "1", "a", "", "", 1}); });
  ASSERT_TRUE(AwaitQueued(*b, 4));
  gate.Release(/*fail_later=*/true);
  first.join();
  creator.join();
  ASSERT_TRUE(out.AwaitCount(3));
  EXPECT_TRUE(out.StatusOf("first").ok()) << out.StatusOf("first").ToString();
  EXPECT_EQ(out.StatusOf("small").code(), Code::kUnavailable) << out.StatusOf("small").ToString();
  EXPECT_EQ(out.StatusOf("large").code(), Code::kUnavailable) << out.StatusOf("large").ToString();
  EXPECT_EQ(created.code(), Code::kUnavailable) << created.ToString();
  EXPECT_NE(out.thread.at("small"), std::this_thread::get_id());
  EXPECT_EQ(out.thread.at("small"), out.thread.at("large"));

  auto listed = b->ListObjects("bkt", Range(""));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "first");
  EXPECT_EQ(b->ListBuckets()->size(), 1u);
  EXPECT_EQ(b->InlineBlobCountForTest(), 1u);
  EXPECT_TRUE(BlobFiles(dir).empty()) << "the failed batch's blob file stayed";
  EXPECT_TRUE(TempFiles(dir).empty());
  b.reset();
  // And so it stays after a reopen (which would reap any orphan: there is none).
  auto again = MustOpen(dir, {.sync = true});
  EXPECT_EQ(again->reap_report().orphan_blobs, 0u);
  EXPECT_EQ(Get(*again, "bkt", "first").value_or(""), "one");
  EXPECT_EQ(Get(*again, "bkt", "small").status().code(), Code::kNotFound);
}

// Concurrent PUTs to one key in one batch: the last to complete (the last queued) wins, and
// every replaced version's bytes are gone, in files and in the database alike.
TEST(FsBackendGroupCommitTest, PutsOfOneKeyInOneBatchLeaveTheLastCompleted) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  CommitGate gate;
  FsBackendOptions options{.sync = true};
  options.before_commit_for_test = gate.Hook();
  auto b = MustOpen(dir, options);
  ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "", 1}).ok());
  gate.Arm();
  Outcomes out;
  std::thread first([&] { b->PutObjectAsync(NewRecord(*b, "other", "one"), out.For("other")); });
  ASSERT_TRUE(gate.AwaitEntered());
  const std::string v1(kInlineBlobMax + 1, '1'), v2 = "version two", v3(kInlineBlobMax + 3, '3');
  b->PutObjectAsync(NewRecord(*b, "k", v1), out.For("v1"));
  b->PutObjectAsync(NewRecord(*b, "k", v2), out.For("v2"));
  b->PutObjectAsync(NewRecord(*b, "k", v3), out.For("v3"));
  gate.Release(/*fail_later=*/false);
  first.join();
  ASSERT_TRUE(out.AwaitCount(4));
  for (const char* name : {"other", "v1", "v2", "v3"}) EXPECT_TRUE(out.StatusOf(name).ok()) << name;
  auto got = Get(*b, "bkt", "k");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == v3) << "the key holds " << got->size() << " bytes, not the last version";
  EXPECT_EQ(BlobFiles(dir).size(), 1u);            // v3's; v1's was deleted
  EXPECT_EQ(b->InlineBlobCountForTest(), 1u);      // "other"; v2's went with its row
  EXPECT_EQ(b->GetObject("bkt", "k")->etag, "\"k\"");
}

// Checkpoints (docs/walrus-format.md): no commit checkpoints on its own thread unless the WAL
// reaches its bound, and then the WAL starts over, so it cannot grow without end.

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::string SmallBody(int i) { return std::string(4096, static_cast<char>('a' + i % 26)) + std::to_string(i); }

// Reopens the store in `dir` and expects keys k0..k<puts-1> of "bkt" to hold SmallBody(i).
void ExpectSmallBodiesAfterReopen(const std::string& dir, int puts) {
  auto b = MustOpen(dir, {.sync = false});
  ASSERT_TRUE(b);
  for (int i = 0; i < puts; ++i) {
    auto got = Get(*b, "bkt", "k" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, SmallBody(i)) << i;
  }
}

TEST(FsBackendCheckpointTest, TheWalStaysWithinItsBoundUnderManyWritesAndReads) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  constexpr int kLimit = 60;  // pages
  constexpr int kPuts = 600;  // several pages each (a 4 KiB in-database blob, the row, indexes)
  {
    // The background checkpointer is never woken: only the bound keeps the WAL small.
    auto b = MustOpen(dir, {.sync = false, .wal_checkpoint_pages = 1 << 30, .wal_limit_pages = kLimit});
    ASSERT_TRUE(b);
    ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "acl", 1}).ok());
    std::atomic<bool> stop{false};
    std::atomic<int> reads{0};
    std::thread reader([&] {  // readers are what keeps a WAL from starting over
      while (!stop) {
        (void)Get(*b, "bkt", "k" + std::to_string(reads % 50));
        ++reads;
      }
    });
    uint64_t largest = 0;
    for (int i = 0; i < kPuts; ++i) {
      auto put = Put(*b, "bkt", "k" + std::to_string(i), SmallBody(i));
      ASSERT_TRUE(put.ok()) << put.status().ToString();
      largest = std::max(largest, FileSize(dir + "/walrus.db-wal"));
    }
    stop = true;
    reader.join();
    // The bound plus the pages of one commit (one PUT here), 4 KiB pages and frame headers.
    EXPECT_LE(largest, uint64_t{kLimit + 16} * (4096 + 24) + 32) << "WAL of " << largest / 4120 << " pages";
    EXPECT_GT(b->CheckpointCountsForTest().blocking, 0u);
    EXPECT_EQ(b->CheckpointCountsForTest().background, 0u);
  }
  ExpectSmallBodiesAfterReopen(dir, kPuts);
}

TEST(FsBackendCheckpointTest, TheCheckpointerCopiesTheWalIntoTheDatabaseOffTheCommitPath) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/walrus";
  constexpr int kPuts = 300;
  {
    auto b = MustOpen(dir, {.sync = true, .wal_checkpoint_pages = 20, .wal_limit_pages = 1 << 30});
    ASSERT_TRUE(b);
    ASSERT_TRUE(b->CreateBucket({"bkt", "1", "a", "", "acl", 1}).ok());
    for (int i = 0; i < kPuts; ++i) ASSERT_TRUE(Put(*b, "bkt", "k" + std::to_string(i), SmallBody(i)).ok());
    // The commits only woke the checkpointer; it runs on its own thread, so wait for it.
    for (int i = 0; i < 3000 && b->CheckpointCountsForTest().background == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_GT(b->CheckpointCountsForTest().background, 0u);
    EXPECT_EQ(b->CheckpointCountsForTest().blocking, 0u);
    // The checkpointed pages are in walrus.db itself (it grew past its empty schema's pages).
    EXPECT_GT(FileSize(dir + "/walrus.db"), uint64_t{20} * 4096);
  }
  ExpectSmallBodiesAfterReopen(dir, kPuts);
}

}  // namespace
}  // namespace euca::objects
