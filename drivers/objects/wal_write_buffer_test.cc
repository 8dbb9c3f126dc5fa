// Tests of the WAL write-gathering VFS: a commit reaches the WAL in one write, and what is
// written is what SQLite meant, as other connections (through the default VFS) and a fresh
// open after a crash see it.

#include "drivers/objects/wal_write_buffer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "drivers/objects/test_support.h"

namespace euca::objects {
namespace {

using testing::TempDir;

// A connection, through the buffering VFS or the default one; asserts each statement works.
class Conn {
 public:
  Conn(const std::string& path, const char* vfs, int extra_flags = 0) {
    rc_ = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | extra_flags, vfs);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~Conn() { sqlite3_close_v2(db_); }
  int open_rc() const { return rc_; }
  // Runs `sql`; returns SQLite's code, with its message in `error()`.
  int Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    error_ = err ? err : "";
    sqlite3_free(err);
    return rc;
  }
  // The first column of the first row of `sql`, as text ("" if none).
  std::string One(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out = t ? reinterpret_cast<const char*>(t) : "";
    }
    sqlite3_finalize(st);
    return out;
  }
  const std::string& error() const { return error_; }

 private:
  sqlite3* db_ = nullptr;
  int rc_ = SQLITE_ERROR;
  std::string error_;
};

constexpr char kSetup[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0;"
    "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL);";

// Inserts rows [from, to), each 4,096 '0's and its number (a leaf cell and an overflow page),
// in one transaction.
std::string InsertRows(int from, int to) {
  return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(from) + " UNION ALL SELECT i + 1 FROM n WHERE i + 1 < " +
         std::to_string(to) + ") INSERT INTO t SELECT i, hex(zeroblob(2048)) || i FROM n;";
}

// What a crash would leave: the database at `path` and its WAL copied (no -shm) into `dir`;
// returns the copy's path. Opening it makes SQLite recover from the WAL, checking every
// frame's checksum.
std::string CopyForRecovery(const TempDir& dir, const std::string& path) {
  const std::string copy = dir.path() + "/copy";
  std::filesystem::create_directory(copy);
  std::filesystem::copy_file(path, copy + "/db");
  std::filesystem::copy_file(path + "-wal", copy + "/db-wal");
  return copy + "/db";
}

TEST(WalWriteBufferTest, ACommitReachesTheWalInOneWrite) {
  TempDir dir;
  const std::string path = dir.path() + "/db";
  Conn w(path, WalWriteBufferVfs());
  ASSERT_EQ(w.open_rc(), SQLITE_OK);
  ASSERT_EQ(w.Exec(kSetup), SQLITE_OK) << w.error();

  const WalWriteBufferStats before = WalWriteBufferStatsNow();
  ASSERT_EQ(w.Exec(InsertRows(0, 20)), SQLITE_OK) << w.error();
  const WalWriteBufferStats after = WalWriteBufferStatsNow();
  const uint64_t asked = after.writes_asked - before.writes_asked;
  const uint64_t issued = after.writes_issued - before.writes_issued;
  // SQLite asked for two writes per page (frame header, page) for 20-odd pages (under 124 KiB).
  EXPECT_GE(asked, 40u);
  EXPECT_EQ(issued, 1u) << "of " << asked << " writes asked";
  EXPECT_GE(after.syncs - before.syncs, 1u) << "the commit's sync must reach the file";

  // Another connection, through the default VFS, sees every byte of it.
  Conn r(path, nullptr);
  ASSERT_EQ(r.open_rc(), SQLITE_OK);
  EXPECT_EQ(r.One("SELECT count(*) FROM t"), "20");
  EXPECT_EQ(r.One("SELECT count(*) FROM t WHERE v = hex(zeroblob(2048)) || k"), "20");
  EXPECT_EQ(r.One("PRAGMA integrity_check"), "ok");
}

// A transaction bigger than SQLite's page cache spills frames into the WAL before its commit
// and may rewrite them in place and read them back (checksums); a rollback leaves frames that
// the next commit overwrites; a checkpoint copies and restarts the WAL. Through all of that
// the data stays whole.
TEST(WalWriteBufferTest, SpillsRewritesRollbacksAndCheckpointsKeepTheDataWhole) {
  TempDir dir;
  const std::string path = dir.path() + "/db";
  Conn w(path, WalWriteBufferVfs());
  ASSERT_EQ(w.Exec(kSetup), SQLITE_OK) << w.error();
  ASSERT_EQ(w.Exec("PRAGMA cache_size=10"), SQLITE_OK);  // pages: forces spills
  ASSERT_EQ(w.Exec("BEGIN; " + InsertRows(0, 300) + " UPDATE t SET v = v || 'x' WHERE k % 3 = 0; COMMIT;"),
            SQLITE_OK)
      << w.error();
  ASSERT_EQ(w.Exec("BEGIN; " + InsertRows(300, 600) + " ROLLBACK;"), SQLITE_OK) << w.error();
  ASSERT_EQ(w.Exec(InsertRows(300, 400)), SQLITE_OK) << w.error();
  ASSERT_EQ(w.Exec("PRAGMA wal_checkpoint(RESTART)"), SQLITE_OK) << w.error();
  ASSERT_EQ(w.Exec(InsertRows(400, 450)), SQLITE_OK) << w.error();  // into the restarted WAL

  Conn recovered(CopyForRecovery(dir, path), nullptr);
  EXPECT_EQ(recovered.One("SELECT count(*) FROM t"), "450");
  EXPECT_EQ(recovered.One("PRAGMA integrity_check"), "ok");

  Conn r(path, nullptr);
  EXPECT_EQ(r.One("SELECT count(*) FROM t"), "450");
  EXPECT_EQ(r.One("SELECT count(*) FROM t WHERE v = hex(zeroblob(2048)) || k || CASE WHEN k < 300 AND k % 3 = 0 "
                  "THEN 'x' ELSE '' END"),
            "450");
  EXPECT_EQ(r.One("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(w.One("PRAGMA integrity_check"), "ok");
}

// A transaction that spilled frames into the buffer and rolled back must not write them
// later: another writer (here another connection; in production another process) appends its
// commit at the same place in the WAL meanwhile, and the writer's next read would have
// flushed the stale frames over it. (SQLite's rollback usually reads a page back and so
// flushes on its own while it still holds the lock; this test guards the outcome, and the
// flush at the lock's release in wal_write_buffer.cc is what makes it certain. Removing that
// flush does not make this test fail.)
TEST(WalWriteBufferTest, ARolledBackSpillNeverLandsOverAnotherWritersCommit) {
  TempDir dir;
  const std::string path = dir.path() + "/db";
  Conn w(path, WalWriteBufferVfs());
  ASSERT_EQ(w.Exec(kSetup), SQLITE_OK) << w.error();
  ASSERT_EQ(w.Exec(InsertRows(0, 10)), SQLITE_OK) << w.error();
  ASSERT_EQ(w.Exec("PRAGMA cache_size=10"), SQLITE_OK);
  const WalWriteBufferStats before = WalWriteBufferStatsNow();
  ASSERT_EQ(w.Exec("BEGIN; " + InsertRows(1000, 1030) + " ROLLBACK;"), SQLITE_OK) << w.error();
  EXPECT_GT(WalWriteBufferStatsNow().writes_asked - before.writes_asked, 10u) << "the transaction did not spill";

  Conn other(path, nullptr);
  // More frames than the spill, so they cover all of it.
  ASSERT_EQ(other.Exec("PRAGMA synchronous=FULL; " + InsertRows(10, 200)), SQLITE_OK) << other.error();
  EXPECT_EQ(w.One("SELECT count(*) FROM t"), "200");  // the writer reads (a stale buffer would flush)
  EXPECT_EQ(w.One("SELECT count(*) FROM t WHERE v = hex(zeroblob(2048)) || k"), "200");

  Conn r(path, nullptr);
  EXPECT_EQ(r.One("SELECT count(*) FROM t WHERE v = hex(zeroblob(2048)) || k"), "200");
  EXPECT_EQ(r.One("PRAGMA integrity_check"), "ok");
  Conn recovered(CopyForRecovery(dir, path), nullptr);
  EXPECT_EQ(recovered.One("SELECT count(*) FROM t WHERE v = hex(zeroblob(2048)) || k"), "200");
  EXPECT_EQ(recovered.One("PRAGMA integrity_check"), "ok");
}

// Without powersafe overwrite SQLite pads a commit and writes part of it after the sync: such
// a database's WAL is not buffered.
TEST(WalWriteBufferTest, ADatabaseWithoutPowersafeOverwriteIsNotBuffered) {
  TempDir dir;
  Conn w("file:" + dir.path() + "/db?psow=0", WalWriteBufferVfs(), SQLITE_OPEN_URI);
  ASSERT_EQ(w.open_rc(), SQLITE_OK);
  ASSERT_EQ(w.Exec(kSetup), SQLITE_OK) << w.error();
  const WalWriteBufferStats before = WalWriteBufferStatsNow();
  ASSERT_EQ(w.Exec(InsertRows(0, 20)), SQLITE_OK) << w.error();
  const WalWriteBufferStats after = WalWriteBufferStatsNow();
  EXPECT_EQ(after.writes_issued - before.writes_issued, after.writes_asked - before.writes_asked);
  Conn r(dir.path() + "/db", nullptr);
  EXPECT_EQ(r.One("SELECT count(*) FROM t WHERE v = hex(zeroblob(2048)) || k"), "20");
}

// A process killed right after its commits returned leaves a database that a fresh open
// recovers whole: a commit returns only after its frames were written and synced.
TEST(WalWriteBufferTest, CommitsSurviveTheWriterBeingKilled) {
  TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    Conn w(path, WalWriteBufferVfs());
    ASSERT_EQ(w.Exec(kSetup), SQLITE_OK) << w.error();
  }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Conn w(path, WalWriteBufferVfs());
    for (int i = 0; i < 10; ++i)
      if (w.Exec(InsertRows(i * 10, i * 10 + 10)) != SQLITE_OK) _exit(1);
    _exit(0);  // no close: no checkpoint, the WAL alone holds the rows
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  Conn r(path, nullptr);
  EXPECT_EQ(r.One("SELECT count(*) FROM t"), "100");
  EXPECT_EQ(r.One("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace euca::objects
