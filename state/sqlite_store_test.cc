#include "state/sqlite_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/base/clock.h"
#include "state/git_history.h"
#include "state/history_format.h"
#include "state/kinds.h"

namespace euca::state {
namespace {

class TempHome {
 public:
  TempHome() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "euca-state-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempHome() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<StateStore> MustOpen(const std::string& home, Clock& clock, OpenOptions opts = {}) {
  auto s = OpenSqliteStore(home, clock, opts);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

OpenOptions CreateOpts() {
  OpenOptions o;
  o.create = true;
  return o;
}

Object User(const std::string& id, const std::string& name, const std::string& secret = "") {
  Object o;
  o.kind = "users";
  o.id = id;
  o.parent = "123456789012";
  o.name = name;
  o.body = {{"id", id}, {"name", name}, {"enabled", true}};
  if (!secret.empty()) o.secret = Json{{"secret_key", secret}};
  return o;
}

Status PutOne(StateStore& store, const Object& o, const std::string& principal = "admin@eucalyptus") {
  auto r = store.Transact({principal, "Put " + o.id, ""}, [&](Txn& t) { return t.Put(o); });
  return r.status();
}

int64_t SqlInt(const std::string& home, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2((home + "/state.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  int64_t v = -1;
  if (st && sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

// Asserts that history's newest tree is exactly the database's objects and that its head
// is the database's newest transaction.
void ExpectHistoryMatchesDatabase(const std::string& home, StateStore& store) {
  std::map<std::string, std::string> want;
  ASSERT_TRUE(store
                  .Read([&](Txn& t) -> Status {
                    for (const auto& k : Kinds()) {
                      EUCA_ASSIGN_OR_RETURN(auto list, t.List(std::string(k.name)));
                      for (const auto& o : list) want[HistoryPath(o.kind, o.id)] = GitHistory::HashBlob(HistoryFile(o));
                    }
                    return Status::Ok();
                  })
                  .ok());
  auto git = GitHistory::Open(home + "/history.git", false);
  ASSERT_TRUE(git.ok());
  auto head = (*git)->HeadSeq();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(static_cast<int64_t>(*head), SqlInt(home, "SELECT IFNULL((SELECT seq FROM sqlite_sequence), 0)"));
  if (*head == 0) {
    EXPECT_TRUE(want.empty());
    return;
  }
  auto files = (*git)->ListFiles("refs/heads/main");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(*files, want);
}

TEST(SqliteStoreTest, OpenWithoutCloudIsNotFound) {
  TempHome home;
  FakeClock clock;
  auto s = OpenSqliteStore(home.path(), clock);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kNotFound);
  EXPECT_NE(s.status().message().find("euca admin init"), std::string::npos);
}

TEST(SqliteStoreTest, PutGetListAndOneCommitPerTransaction) {
  TempHome home;
  FakeClock clock;
  auto store = MustOpen(home.path(), clock, CreateOpts());
  ASSERT_TRUE(PutOne(*store, User("AIDA1", "alice", "s3cret-alice")).ok());
  ASSERT_TRUE(PutOne(*store, User("AIDA2", "bob"), "carol@acme").ok());

  ASSERT_TRUE(store
                  ->Read([](Txn& t) -> Status {
                    EUCA_ASSIGN_OR_RETURN(auto a, t.Get("users", "AIDA1"));
                    EXPECT_TRUE(a.has_value());
                    EXPECT_EQ(a->secret.value()["secret_key"], "s3cret-alice");
                    EUCA_ASSIGN_OR_RETURN(auto b, t.GetByName("users", "123456789012", "bob"));
                    EXPECT_TRUE(b.has_value());
                    EUCA_ASSIGN_OR_RETURN(auto all, t.List("users", std::string("123456789012")));
                    EXPECT_EQ(all.size(), 2u);
                    return Status::Ok();
                  })
                  .ok());

  auto log = store->Log(std::nullopt, 0);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].principal, "carol@acme");
  EXPECT_EQ((*log)[0].action, "Put AIDA2");
  EXPECT_EQ((*log)[0].seq, 2u);
  EXPECT_EQ((*log)[1].principal, "admin@eucalyptus");
  EXPECT_EQ((*log)[0].paths, std::vector<std::string>{HistoryPath("users", "AIDA2")});
  EXPECT_FALSE((*log)[0].request_id.empty());
  ExpectHistoryMatchesDatabase(home.path(), *store);
}

TEST(SqliteStoreTest, SecretsNeverReachHistory) {
  TempHome home;
  FakeClock clock;
  auto store = MustOpen(home.path(), clock, CreateOpts());
  ASSERT_TRUE(PutOne(*store, User("AIDA1", "alice", "TOPSECRETVALUE")).ok());
  auto git = GitHistory::Open(home.path() + "/history.git", false);
  ASSERT_TRUE(git.ok());
  auto files = (*git)->ListFiles("refs/heads/main");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  auto text = (*git)->ReadBlob(files->begin()->second);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("TOPSECRETVALUE"), std::string::npos);
  EXPECT_NE(text->find(kRedactedMarker), std::string::npos);
  auto shown = store->Show("HEAD");
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->second.find("TOPSECRETVALUE"), std::string::npos);
  // Nor the journal (history's source).
  EXPECT_EQ(SqlInt(home.path(), "SELECT COUNT(*) FROM journal WHERE changes LIKE '%TOPSECRETVALUE%'"), 0);
}

TEST(SqliteStoreTest, FailedTransactionWritesNothing) {
  TempHome home;
  FakeClock clock;
  auto store = MustOpen(home.path(), clock, CreateOpts());
  auto r = store->Transact({"admin@eucalyptus", "Broken", ""}, [](Txn& t) -> Status {
    EUCA_RETURN_IF_ERROR(t.Put(User("AIDA1", "alice")));
    return InvalidArgument("no");
  });
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(store->Read([](Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto a, t.Get("users", "AIDA1"));
    EXPECT_FALSE(a.has_value());
    return Status::Ok();
  }).ok());
  EXPECT_TRUE(store->Log(std::nullopt, 0)->empty());
}

TEST(SqliteStoreTest, DuplicateNameIsAlreadyExistsAndUnknownKindRefused) {
  TempHome home;
  FakeClock clock;
  auto store = MustOpen(home.path(), clock, CreateOpts());
  ASSERT_TRUE(PutOne(*store, User("AIDA1", "alice")).ok());
  EXPECT_EQ(PutOne(*store, User("AIDA2", "alice")).code(), Code::kAlreadyExists);
  Object bad = User("x", "y");
  bad.kind = "nonsense";
  EXPECT_EQ(PutOne(*store, bad).code(), Code::kInvalidArgument);
  EXPECT_EQ(store->Log(std::nullopt, 0)->size(), 1u);
}

TEST(SqliteStoreTest, EmptyTransactionWritesNoCommit) {
  TempHome home;
  FakeClock clock;
  auto store = MustOpen(home.path(), clock, CreateOpts());
  ASSERT_TRUE(PutOne(*store, User("AIDA1", "alice")).ok());
  auto r = store->Transact({"a", "Nothing", ""}, [](Txn&) { return Status::Ok(); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1u);
  EXPECT_EQ(store->Log(std::nullopt, 0)->size(), 1u);
}

TEST(SqliteStoreTest, CorruptFileIsRefusedAndLeftAlone) {
  TempHome home;
  FakeClock clock;
  std::string db = home.path() + "/state.db";
  { std::ofstream(db) << "this is not a database, just some text that is long enough to be a header........."; }
  auto s = OpenSqliteStore(home.path(), clock);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInternal);
  EXPECT_NE(s.status().message().find("not a euca state store"), std::string::npos) << s.status().message();
  std::ifstream in(db);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content.substr(0, 16), "this is not a da");
}

TEST(SqliteStoreTest, NewerSchemaIsRefusedOlderIsUpgraded) {
  TempHome home;
  FakeClock clock;
  {
    auto store = MustOpen(home.path(), clock, CreateOpts());
    ASSERT_TRUE(PutOne(*store, User("AIDA1", "alice")).ok());
  }
  // A newer binary (one more migration) upgrades the store and keeps the data...
  {
    OpenOptions newer;
    newer.extra_migrations_for_test = {"CREATE TABLE leases(id TEXT PRIMARY KEY);"};
    auto store = MustOpen(home.path(), clock, newer);
    EXPECT_EQ(SqlInt(home.path(), "PRAGMA user_version"), kSchemaVersion + 1);
    EXPECT_EQ(SqlInt(home.path(), "SELECT COUNT(*) FROM leases"), 0);
    ASSERT_TRUE(store->Read([](Txn& t) -> Status {
      EXPECT_TRUE(t.Get("users", "AIDA1")->has_value());
      return Status::Ok();
    }).ok());
  }
  // ...and this binary refuses the upgraded store, changing nothing.
  auto s = OpenSqliteStore(home.path(), clock);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kUnsupported);
  EXPECT_NE(s.status().message().find("newer than this euca"), std::string::npos);
  EXPECT_EQ(SqlInt(home.path(), "PRAGMA user_version"), kSchemaVersion + 1);
}

TEST(SqliteStoreTest, CrashAfterSqliteCommitIsCaughtUpOnNextOpen) {
  TempHome home;
  FakeClock clock;
  {
    auto store = MustOpen(home.path(), clock, CreateOpts());
    ASSERT_TRUE(PutOne(*store, User("AIDA1", "alice")).ok());
  }
  {
    OpenOptions faulty;
    faulty.fault_hook_for_test = [](std::string_view point) {
      return point == "after-sqlite-commit" || point == "close" ? Unavailable("simulated crash") : Status::Ok();
    };
    auto store = MustOpen(home.path(), clock, faulty);
    EXPECT_EQ(PutOne(*store, User("AIDA2", "bob"), "dave@acme").code(), Code::kUnavailable);
    EXPECT_EQ(PutOne(*store, User("AIDA3", "eve"), "erin@acme").code(), Code::kUnavailable);
  }
  {
    auto git = GitHistory::Open(home.path() + "/history.git", false);
    EXPECT_EQ(*(*git)->HeadSeq(), 1u);  // history lags: the state the crash leaves behind
  }
  auto store = MustOpen(home.path(), clock);
  auto log = store->Log(std::nullopt, 0);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ((*log)[0].principal, "erin@acme");
  EXPECT_EQ((*log)[1].principal, "dave@acme");
  ExpectHistoryMatchesDatabase(home.path(), *store);
}

TEST(SqliteStoreTest, KillDashNineMidWriteLeavesDatabaseAndHistoryAgreeing) {
  TempHome home;
  FakeClock clock;
  { MustOpen(home.path(), clock, CreateOpts()); }
  std::mt19937 rng(42);
  int rounds = 12;
  for (int round = 0; round < rounds; ++round) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto s = OpenSqliteStore(home.path(), RealClock());
      if (!s.ok()) _exit(3);
      for (int i = 0;; ++i) {
        std::string id = "i-" + std::to_string(round) + "x" + std::to_string(i);
        Object o;
        o.kind = "instances";
        o.id = id;
        o.body = {{"round", round}, {"i", i}};
        (void)(*s)->Transact({"killer", "Put " + id, ""}, [&](Txn& t) -> Status {
          EUCA_RETURN_IF_ERROR(t.Put(o));
          if (i > 0 && i % 3 == 0) {
            std::string old = "i-" + std::to_string(round) + "x" + std::to_string(i - 2);
            return t.Delete("instances", old);
          }
          return Status::Ok();
        });
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(2000, 40000)(rng)));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    auto store = MustOpen(home.path(), clock);
    ASSERT_NE(store, nullptr);
    ExpectHistoryMatchesDatabase(home.path(), *store);
  }
  EXPECT_GT(SqlInt(home.path(), "SELECT IFNULL((SELECT seq FROM sqlite_sequence), 0)"), 0);
}

TEST(SqliteStoreTest, ConcurrentWritersFromTwoStoresAllReachHistoryInOrder) {
  TempHome home;
  FakeClock clock;
  { MustOpen(home.path(), clock, CreateOpts()); }
  auto a = MustOpen(home.path(), clock);
  auto b = MustOpen(home.path(), clock);
  std::atomic<int> failures{0};
  auto writer = [&](StateStore* s, const std::string& tag) {
    for (int i = 0; i < 40; ++i) {
      Object o;
      o.kind = "instances";
      o.id = "i-" + tag + std::to_string(i);
      if (!PutOne(*s, o).ok()) ++failures;
    }
  };
  std::thread t1(writer, a.get(), "a"), t2(writer, b.get(), "b");
  t1.join();
  t2.join();
  EXPECT_EQ(failures, 0);
  auto log = a->Log(std::nullopt, 0);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 80u);
  for (size_t i = 0; i < log->size(); ++i) EXPECT_EQ((*log)[i].seq, 80 - i);
  ExpectHistoryMatchesDatabase(home.path(), *a);
}

TEST(SqliteStoreTest, ChangeCounterSeesCommitsOfThisAndOtherConnections) {
  TempHome home;
  FakeClock clock;
  { MustOpen(home.path(), clock, CreateOpts()); }
  auto a = MustOpen(home.path(), clock);
  auto b = MustOpen(home.path(), clock);  // as another process would
  std::optional<uint64_t> first = a->ChangeCounter();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(a->ChangeCounter(), first);  // nothing changed: the same
  ASSERT_TRUE(a->Read([](Txn& t) { return t.Get("users", "AIDA1").status(); }).ok());
  EXPECT_EQ(a->ChangeCounter(), first);  // reads change nothing

  ASSERT_TRUE(PutOne(*a, User("AIDA1", "alice")).ok());  // ours
  std::optional<uint64_t> second = a->ChangeCounter();
  ASSERT_TRUE(second.has_value());
  EXPECT_GT(*second, *first);

  ASSERT_TRUE(PutOne(*b, User("AIDA2", "bob")).ok());  // another connection's
  std::optional<uint64_t> third = a->ChangeCounter();
  ASSERT_TRUE(third.has_value());
  EXPECT_GT(*third, *second);
  EXPECT_EQ(a->ChangeCounter(), third);
}

// Within a ChangeCounterScope the counter looks once: another connection's commit shows after
// the scope, a commit of its own at once; nested scopes are one scope.
TEST(SqliteStoreTest, ChangeCounterLooksOncePerScope) {
  TempHome home;
  FakeClock clock;
  { MustOpen(home.path(), clock, CreateOpts()); }
  auto a = MustOpen(home.path(), clock);
  auto b = MustOpen(home.path(), clock);  // as another process would
  std::optional<uint64_t> before = a->ChangeCounter();
  ASSERT_TRUE(before.has_value());
  {
    ChangeCounterScope scope;
    EXPECT_EQ(a->ChangeCounter(), before);
    ASSERT_TRUE(PutOne(*b, User("AIDA2", "bob")).ok());
    EXPECT_EQ(a->ChangeCounter(), before) << "looked again within the scope";
    {
      ChangeCounterScope inner;
      EXPECT_EQ(a->ChangeCounter(), before) << "an inner scope is the outer one";
    }
    EXPECT_EQ(a->ChangeCounter(), before);
  }
  std::optional<uint64_t> after = a->ChangeCounter();
  ASSERT_TRUE(after.has_value());
  EXPECT_GT(*after, *before) << "the other connection's commit did not show after the scope";
  {
    ChangeCounterScope scope;
    EXPECT_EQ(a->ChangeCounter(), after);
    ASSERT_TRUE(PutOne(*a, User("AIDA1", "alice")).ok());
    std::optional<uint64_t> own = a->ChangeCounter();
    ASSERT_TRUE(own.has_value());
    EXPECT_GT(*own, *after) << "a commit of its own must show at once";
    EXPECT_EQ(a->ChangeCounter(), own);
  }
}

TEST(SqliteStoreTest, RollbackPastDeleteRestoresObjectWithItsSecret) {
  TempHome home;
  FakeClock clock;
  auto store = MustOpen(home.path(), clock, CreateOpts());
  ASSERT_TRUE(PutOne(*store, User("AIDA1", "alice", "alice-secret")).ok());
  Object inst;
  inst.kind = "instances";
  inst.id = "i-0a0b0c0d";
  ASSERT_TRUE(PutOne(*store, inst).ok());
  std::string before_delete = (*store->Log(std::nullopt, 1))[0].rev;
  ASSERT_TRUE(store->Transact({"admin@eucalyptus", "DeleteUser alice", ""}, [](Txn& t) -> Status {
    EUCA_RETURN_IF_ERROR(t.Delete("users", "AIDA1"));
    return t.Delete("instances", "i-0a0b0c0d");
  }).ok());
  ASSERT_TRUE(PutOne(*store, User("AIDA2", "bob")).ok());

  auto dry = store->Rollback({"root@eucalyptus", "", ""}, before_delete, {}, /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_FALSE(dry->seq.has_value());
  EXPECT_EQ(store->Log(std::nullopt, 0)->size(), 4u);  // dry run wrote nothing

  auto r = store->Rollback({"root@eucalyptus", "", ""}, before_delete, {}, /*dry_run=*/false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->seq.has_value());
  std::map<std::string, std::string> what;
  for (const auto& c : r->changes) what[c.kind + "/" + c.id] = c.what;
  EXPECT_EQ(what["users/AIDA1"], "recreate");
  EXPECT_EQ(what["users/AIDA2"], "delete");
  EXPECT_EQ(what["instances/i-0a0b0c0d"], "not-restorable");
  EXPECT_EQ(dry->changes.size(), r->changes.size());

  ASSERT_TRUE(store->Read([](Txn& t) -> Status {
    auto alice = t.Get("users", "AIDA1");
    EXPECT_TRUE(alice->has_value());
    EXPECT_EQ((*alice)->secret.value()["secret_key"], "alice-secret");
    EXPECT_FALSE(t.Get("users", "AIDA2")->has_value());
    EXPECT_FALSE(t.Get("instances", "i-0a0b0c0d")->has_value());  // never resurrected
    return Status::Ok();
  }).ok());
  auto head = (*store->Log(std::nullopt, 1))[0];
  EXPECT_EQ(head.principal, "root@eucalyptus");
  EXPECT_NE(head.action.find("Rollback"), std::string::npos);
  ExpectHistoryMatchesDatabase(home.path(), *store);
}

TEST(SqliteStoreTest, RollbackOfOneObjectLeavesOthers) {
  TempHome home;
  FakeClock clock;
  auto store = MustOpen(home.path(), clock, CreateOpts());
  ASSERT_TRUE(PutOne(*store, User("AIDA1", "alice")).ok());
  ASSERT_TRUE(PutOne(*store, User("AIDA2", "bob")).ok());
  std::string rev = (*store->Log(std::nullopt, 1))[0].rev;
  Object alice2 = User("AIDA1", "alice");
  alice2.body["enabled"] = false;
  Object bob2 = User("AIDA2", "bob");
  bob2.body["enabled"] = false;
  ASSERT_TRUE(PutOne(*store, alice2).ok());
  ASSERT_TRUE(PutOne(*store, bob2).ok());
  auto r = store->Rollback({"root", "", ""}, rev, {"users/AIDA1"}, false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(r->changes[0].what, "restore");
  ASSERT_TRUE(store->Read([](Txn& t) -> Status {
    EXPECT_EQ((*t.Get("users", "AIDA1"))->body["enabled"], true);
    EXPECT_EQ((*t.Get("users", "AIDA2"))->body["enabled"], false);
    return Status::Ok();
  }).ok());
  // Object history: alice has 3 commits (create, disable, rollback).
  auto hist = store->Log(std::string("users/AIDA1"), 0);
  ASSERT_TRUE(hist.ok());
  EXPECT_EQ(hist->size(), 3u);
  EXPECT_EQ(store->Rollback({"root", "", ""}, "nope", {}, false).status().code(), Code::kNotFound);
  EXPECT_EQ(store->Rollback({"root", "", ""}, rev, {"???"}, false).status().code(), Code::kInvalidArgument);
}

TEST(SqliteStoreTest, ShowAndDiffGivePatches) {
  TempHome home;
  FakeClock clock;
  auto store = MustOpen(home.path(), clock, CreateOpts());
  ASSERT_TRUE(PutOne(*store, User("AIDA1", "alice")).ok());
  Object changed = User("AIDA1", "alice");
  changed.body["enabled"] = false;
  ASSERT_TRUE(PutOne(*store, changed).ok());
  auto shown = store->Show("HEAD");
  ASSERT_TRUE(shown.ok());
  EXPECT_NE(shown->second.find("-    \"enabled\": true"), std::string::npos) << shown->second;
  EXPECT_NE(shown->second.find("+    \"enabled\": false"), std::string::npos);
  auto diff = store->Diff("HEAD~1", std::nullopt);
  ASSERT_TRUE(diff.ok());
  EXPECT_EQ(*diff, shown->second);
  EXPECT_EQ(store->Show("deadbeef").status().code(), Code::kNotFound);
}

TEST(SqliteStoreTest, CatchUpOfManyCommitsIsOnePackAndExact) {
  TempHome home;
  FakeClock clock;
  { MustOpen(home.path(), clock, CreateOpts()); }
  {
    OpenOptions faulty;
    faulty.fault_hook_for_test = [](std::string_view) { return Unavailable("simulated crash"); };
    auto store = MustOpen(home.path(), clock, faulty);
    for (int i = 0; i < 20; ++i) {
      Object o;
      o.kind = "instances";
      o.id = "i-" + std::to_string(1000 + i);
      EXPECT_EQ(PutOne(*store, o, "p" + std::to_string(i)).code(), Code::kUnavailable);
    }
  }
  auto git = GitHistory::Open(home.path() + "/history.git", false);
  EXPECT_EQ(*(*git)->HeadSeq(), 0u);
  EXPECT_EQ(*(*git)->PackCount(), 0u);
  auto store = MustOpen(home.path(), clock);
  EXPECT_EQ(*(*git)->PackCount(), 1u);
  auto log = store->Log(std::nullopt, 0);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ((*log)[19 - i].principal, "p" + std::to_string(i));
    EXPECT_EQ((*log)[19 - i].paths.size(), 1u);
  }
  ExpectHistoryMatchesDatabase(home.path(), *store);
}

TEST(SqliteStoreTest, BackgroundHistoryIsCompleteForEveryReader) {
  TempHome home;
  FakeClock clock;
  { MustOpen(home.path(), clock, CreateOpts()); }
  OpenOptions bg;
  bg.history_mode = HistoryMode::kBackground;
  auto store = MustOpen(home.path(), clock, bg);
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(PutOne(*store, User("AIDA" + std::to_string(i), "u" + std::to_string(i))).ok());
  // Another process's view (a second store without a flusher) is complete too: reads
  // catch history up from the journal.
  auto other = MustOpen(home.path(), clock);
  auto log = other->Log(std::nullopt, 0);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 60u);
  for (size_t i = 0; i < log->size(); ++i) EXPECT_EQ((*log)[i].seq, 60 - i);
  ExpectHistoryMatchesDatabase(home.path(), *store);
}

TEST(GitHistoryTest, ManyBatchesAreRepackedAndStayReadable) {
  TempHome home;
  auto git = GitHistory::Open(home.path() + "/h.git", true);
  ASSERT_TRUE(git.ok());
  uint64_t seq = 0;
  for (size_t b = 0; b < GitHistory::kMaxPacks + 5; ++b) {
    std::vector<GitHistory::PendingCommit> batch(2);
    for (auto& c : batch) {
      c.info.seq = ++seq;
      c.info.principal = "t";
      c.info.action = "A" + std::to_string(seq);
      c.changes.push_back({"instances/00/i-" + std::to_string(seq) + ".json", std::string("{}\n") + std::to_string(seq)});
    }
    ASSERT_TRUE((*git)->AppendBatch(batch).ok());
  }
  EXPECT_LE(*(*git)->PackCount(), GitHistory::kMaxPacks);
  EXPECT_EQ(*(*git)->HeadSeq(), seq);
  auto files = (*git)->ListFiles("refs/heads/main");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), seq);
  auto log = (*git)->Log(std::nullopt, 0);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), seq);
}

TEST(GitHistoryTest, BatchesOfTwoHandlesSeeEachOthersPacks) {
  // Two processes' handles on one history (a server's flusher and a command): each batch
  // builds on a head whose objects the other wrote into a pack after this handle last looked.
  TempHome home;
  auto a = GitHistory::Open(home.path() + "/h.git", true);
  auto b = GitHistory::Open(home.path() + "/h.git", false);
  ASSERT_TRUE(a.ok() && b.ok());
  uint64_t seq = 0;
  auto batch = [&](GitHistory& h) {
    std::vector<GitHistory::PendingCommit> commits(2);
    for (auto& c : commits) {
      c.info.seq = ++seq;
      c.info.principal = "t";
      c.info.action = "A" + std::to_string(seq);
      c.changes.push_back({"instances/00/i-" + std::to_string(seq) + ".json", "{}\n"});
    }
    return h.AppendBatch(commits);
  };
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(batch(**a).ok()) << round;
    ASSERT_TRUE(batch(**b).ok()) << round;
  }
  EXPECT_EQ(*(*a)->HeadSeq(), seq);
  auto files = (*a)->ListFiles("refs/heads/main");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), seq);
}

TEST(KindsTest, HistoryPathShardsAndEncodes) {
  EXPECT_EQ(HistoryPath("instances", "i-3f9c0a12"), "instances/3f/i-3f9c0a12.json");
  std::string p = HistoryPath("properties", "../../etc/passwd");
  // Exactly kind/shard/file: the id cannot add or climb folders.
  EXPECT_EQ(std::count(p.begin(), p.end(), '/'), 2);
  EXPECT_EQ(p.substr(0, 14), "properties/" + p.substr(11, 2) + "/");
  EXPECT_EQ(HistoryPath("properties", ".."), "properties/" + HistoryPath("properties", "..").substr(11, 2) + "/%2E%2E.json");
  auto ref = ParseObjectRef(p);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->second, "../../etc/passwd");
  EXPECT_EQ(ParseObjectRef("AIDAXYZ")->first, "users");
  EXPECT_EQ(ParseObjectRef("123456789012")->first, "accounts");
  EXPECT_EQ(ParseObjectRef("cloud.region")->first, "properties");
  EXPECT_FALSE(ParseObjectRef("bogus/x").has_value());
}

}  // namespace
}  // namespace euca::state
