#include "state/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <set>

#include "core/base/random.h"
#include "state/git_history.h"
#include "state/history_format.h"
#include "state/kinds.h"
#include "state/sqlite_db.h"

namespace euca::state {
namespace {

// Schema migrations, applied in order; migration i brings user_version from i to i + 1.
// Append only: never edit a migration that has shipped. Documented in docs/state-format.md.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 0 -> 1: objects, journal, graveyard, meta.
      R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('format', 'euca-state');
CREATE TABLE objects(
  kind TEXT NOT NULL, id TEXT NOT NULL, parent TEXT NOT NULL, name TEXT NOT NULL,
  body TEXT NOT NULL, secret TEXT,
  PRIMARY KEY (kind, id)) WITHOUT ROWID;
CREATE UNIQUE INDEX objects_by_name ON objects(kind, parent, name) WHERE name <> '';
CREATE INDEX objects_by_parent ON objects(kind, parent, id);
CREATE TABLE journal(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, principal TEXT NOT NULL,
  action TEXT NOT NULL, request_id TEXT NOT NULL, changes TEXT NOT NULL);
CREATE TABLE graveyard(
  kind TEXT NOT NULL, id TEXT NOT NULL, secret TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (kind, id)) WITHOUT ROWID;
)sql",
  };
  return kMigrations;
}
static_assert(kSchemaVersion == 1, "add a migration when raising kSchemaVersion");

// History rows kept in the journal after they reached git (for inspection); older rows go.
constexpr int64_t kJournalKeep = 1000;

std::string NewRequestId() {
  std::string h = RandomHex(32);
  h[12] = '4';
  h[16] = "89ab"[h[16] % 4];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

Result<Object> ReadObjectRow(Stmt& st, const std::string& kind, const std::string& id, int first_col) {
  Object o;
  o.kind = kind;
  o.id = id;
  o.parent = st.Text(first_col);
  o.name = st.Text(first_col + 1);
  o.body = Json::parse(st.Text(first_col + 2), nullptr, false);
  if (o.body.is_discarded()) return Internal("corrupt object " + kind + "/" + id + " in state store");
  if (!st.IsNull(first_col + 3)) {
    Json secret = Json::parse(st.Text(first_col + 3), nullptr, false);
    if (secret.is_discarded()) return Internal("corrupt secret of " + kind + "/" + id + " in state store");
    o.secret = std::move(secret);
  }
  return o;
}

class SqliteTxn final : public Txn {
 public:
  SqliteTxn(Db& db, bool writable) : db_(db), writable_(writable) {}

  Result<std::optional<Object>> Get(const std::string& kind, const std::string& id) override {
    EUCA_ASSIGN_OR_RETURN(Stmt st, db_.Prepare("SELECT parent, name, body, secret FROM objects WHERE kind=?1 AND id=?2"));
    st.Bind(1, kind).Bind(2, id);
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<Object>();
    EUCA_ASSIGN_OR_RETURN(Object o, ReadObjectRow(st, kind, id, 0));
    return std::optional<Object>(std::move(o));
  }

  Result<std::optional<Object>> GetByName(const std::string& kind, const std::string& parent,
                                          const std::string& name) override {
    EUCA_ASSIGN_OR_RETURN(
        Stmt st, db_.Prepare("SELECT id, parent, name, body, secret FROM objects WHERE kind=?1 AND parent=?2 AND name=?3"));
    st.Bind(1, kind).Bind(2, parent).Bind(3, name);
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || name.empty()) return std::optional<Object>();
    EUCA_ASSIGN_OR_RETURN(Object o, ReadObjectRow(st, kind, st.Text(0), 1));
    return std::optional<Object>(std::move(o));
  }

  Result<std::vector<Object>> List(const std::string& kind, const std::optional<std::string>& parent) override {
    EUCA_ASSIGN_OR_RETURN(Stmt st, db_.Prepare(parent ? "SELECT id, parent, name, body, secret FROM objects "
                                                        "WHERE kind=?1 AND parent=?2 ORDER BY id"
                                                      : "SELECT id, parent, name, body, secret FROM objects "
                                                        "WHERE kind=?1 ORDER BY id"));
    st.Bind(1, kind);
    if (parent) st.Bind(2, *parent);
    std::vector<Object> out;
    for (;;) {
      EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      EUCA_ASSIGN_OR_RETURN(Object o, ReadObjectRow(st, kind, st.Text(0), 1));
      out.push_back(std::move(o));
    }
    return out;
  }

  Status Put(const Object& o) override {
    if (!writable_) return Internal("write in a read-only transaction");
    if (!FindKind(o.kind)) return InvalidArgument("unknown object kind '" + o.kind + "'");
    if (o.id.empty()) return InvalidArgument("object of kind '" + o.kind + "' has an empty id");
    EUCA_ASSIGN_OR_RETURN(Stmt st, db_.Prepare(
                                       "INSERT INTO objects(kind, id, parent, name, body, secret) "
                                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(kind, id) DO UPDATE SET "
                                       "parent=excluded.parent, name=excluded.name, body=excluded.body, "
                                       "secret=excluded.secret"));
    std::string body = o.body.dump();
    st.Bind(1, o.kind).Bind(2, o.id).Bind(3, o.parent).Bind(4, o.name).Bind(5, body);
    if (o.secret) {
      st.Bind(6, o.secret->dump());
    } else {
      st.BindNull(6);
    }
    Status s = st.Run();
    if (s.code() == Code::kAlreadyExists)
      return AlreadyExists("'" + o.name + "' already exists among " + o.kind +
                           (o.parent.empty() ? std::string() : " of '" + o.parent + "'"));
    EUCA_RETURN_IF_ERROR(s);
    EUCA_ASSIGN_OR_RETURN(Stmt unbury, db_.Prepare("DELETE FROM graveyard WHERE kind=?1 AND id=?2"));
    unbury.Bind(1, o.kind).Bind(2, o.id);
    EUCA_RETURN_IF_ERROR(unbury.Run());
    changes_[HistoryPath(o.kind, o.id)] = HistoryFile(o);
    return Status::Ok();
  }

  Status Delete(const std::string& kind, const std::string& id) override {
    if (!writable_) return Internal("write in a read-only transaction");
    EUCA_ASSIGN_OR_RETURN(std::optional<Object> old, Get(kind, id));
    if (!old) return NotFound("no " + kind + " object '" + id + "'");
    EUCA_ASSIGN_OR_RETURN(Stmt st, db_.Prepare("DELETE FROM objects WHERE kind=?1 AND id=?2"));
    st.Bind(1, kind).Bind(2, id);
    EUCA_RETURN_IF_ERROR(st.Run());
    if (old->secret) {
      EUCA_ASSIGN_OR_RETURN(Stmt bury, db_.Prepare("INSERT OR REPLACE INTO graveyard(kind, id, secret, seq) "
                                                   "VALUES (?1, ?2, ?3, (SELECT IFNULL(MAX(seq), 0) + 1 FROM journal))"));
      bury.Bind(1, kind).Bind(2, id).Bind(3, old->secret->dump());
      EUCA_RETURN_IF_ERROR(bury.Run());
    }
    changes_[HistoryPath(kind, id)] = std::nullopt;
    return Status::Ok();
  }

  Result<std::optional<Json>> BuriedSecret(const std::string& kind, const std::string& id) override {
    EUCA_ASSIGN_OR_RETURN(Stmt st, db_.Prepare("SELECT secret FROM graveyard WHERE kind=?1 AND id=?2"));
    st.Bind(1, kind).Bind(2, id);
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<Json>();
    Json j = Json::parse(st.Text(0), nullptr, false);
    if (j.is_discarded()) return Internal("corrupt buried secret of " + kind + "/" + id);
    return std::optional<Json>(std::move(j));
  }

  /// path -> new history file content (nullopt = removed), sorted by path.
  const std::map<std::string, std::optional<std::string>>& changes() const { return changes_; }

 private:
  Db& db_;
  bool writable_;
  std::map<std::string, std::optional<std::string>> changes_;
};

class SqliteStore final : public StateStore {
 public:
  SqliteStore(std::string home, Clock& clock, OpenOptions options)
      : home_(std::move(home)), clock_(clock), options_(std::move(options)) {}
  ~SqliteStore() override {
    if (flusher_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(flush_mu_);
        stop_ = true;
      }
      flush_cv_.notify_all();
      flusher_.join();
    }
    // Best effort; the next open catches up otherwise. A test hook may veto it to play a crash.
    if (git_ && Hook("close").ok()) (void)SyncHistory();
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  Status Open();

  Result<uint64_t> Transact(const TxnContext& ctx, const TxnFn& fn) override;
  Status Read(const TxnFn& fn) override;
  std::optional<uint64_t> ChangeCounter() override;
  Result<std::vector<CommitInfo>> Log(const std::optional<std::string>& object, size_t limit) override;
  Result<std::pair<CommitInfo, std::string>> Show(const std::string& rev) override;
  Result<std::string> Diff(const std::string& from, const std::optional<std::string>& to) override;
  Result<RollbackResult> Rollback(const TxnContext& ctx, const std::string& rev,
                                  const std::vector<std::string>& objects, bool dry_run) override;

 private:
  Status CheckAndMigrate();
  /// Writes every journal row newer than history's head as a commit (in batches, each one
  /// packfile). Takes git_mu_ and the cross-process history lock; never mu_.
  Status SyncHistory();
  void FlusherLoop();
  Status WriteSnapshotCommit(uint64_t seq);
  Result<int64_t> LastSeq();
  Status Hook(std::string_view point) {
    return options_.fault_hook_for_test ? options_.fault_hook_for_test(point) : Status::Ok();
  }
  Status RunTxn(bool writable, const TxnFn& fn, SqliteTxn* txn);

  std::string home_;
  Clock& clock_;
  OpenOptions options_;
  // Lock order: mu_ before git_mu_.
  std::mutex mu_;          // guards db_, changes_ and data_version_
  Db db_;
  uint64_t changes_ = 0;       // ChangeCounter(): commits of ours plus changes seen of others
  int64_t data_version_ = -1;  // PRAGMA data_version when ChangeCounter last looked
  std::mutex git_mu_;      // guards git_ and journal_db_
  Db journal_db_;          // second connection: history catch-up reads without blocking writers
  std::unique_ptr<GitHistory> git_;
  int lock_fd_ = -1;
  // Background history (HistoryMode::kBackground).
  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread flusher_;
};

Status SqliteStore::Open() {
  std::string db_path = home_ + "/state.db";
  struct stat st {};
  if (::stat(db_path.c_str(), &st) != 0) {
    if (!options_.create) return NotFound("no cloud in '" + home_ + "'; run 'euca admin init' first");
  } else if (st.st_size == 0 && !options_.create) {
    return Internal("'" + db_path + "' is empty: not a euca state store");
  }
  EUCA_RETURN_IF_ERROR(db_.Open(db_path, options_.create));
  sqlite3_busy_timeout(db_.raw(), 30000);
  ::chmod(db_path.c_str(), 0600);
  EUCA_RETURN_IF_ERROR(CheckAndMigrate());

  EUCA_ASSIGN_OR_RETURN(git_, GitHistory::Open(home_ + "/history.git", /*create=*/true));
  std::string lock_path = home_ + "/history.git/euca.lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return ErrnoStatus("open '" + lock_path + "'", errno);
  EUCA_RETURN_IF_ERROR(journal_db_.Open(db_path, false));
  sqlite3_busy_timeout(journal_db_.raw(), 30000);
  EUCA_RETURN_IF_ERROR(SyncHistory());
  {
    // Trim journal rows long since in history; at open, so no write per commit.
    std::lock_guard<std::mutex> lock(mu_);
    int64_t head = 0;
    {
      std::lock_guard<std::mutex> git_lock(git_mu_);
      EUCA_ASSIGN_OR_RETURN(uint64_t h, git_->HeadSeq());
      head = static_cast<int64_t>(h);
    }
    if (head > 2 * kJournalKeep) {
      // Only rows history already holds; bounded work per open (kJournalKeep rows).
      EUCA_ASSIGN_OR_RETURN(Stmt trim, db_.Prepare("DELETE FROM journal WHERE seq < ?1 AND seq <= "
                                                   "(SELECT IFNULL(MIN(seq), 0) FROM journal) + ?2"));
      trim.Bind(1, head - kJournalKeep).Bind(2, kJournalKeep);
      Status s = trim.Run();
      if (!s.ok() && s.code() != Code::kUnavailable) return s;
    }
  }
  if (options_.history_mode == HistoryMode::kBackground) flusher_ = std::thread([this] { FlusherLoop(); });
  return Status::Ok();
}

void SqliteStore::FlusherLoop() {
  std::unique_lock<std::mutex> lock(flush_mu_);
  while (!stop_) {
    flush_cv_.wait(lock, [this] { return pending_ || stop_; });
    if (stop_) break;
    // Let a burst gather into one batch (one packfile).
    flush_cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stop_; });
    pending_ = false;
    lock.unlock();
    (void)SyncHistory();  // a failure is retried on the next change, read or close
    lock.lock();
  }
}

Status SqliteStore::CheckAndMigrate() {
  const std::string& path = db_.path();
  auto not_euca = [&](const std::string& why) {
    return Internal("'" + path + "' is not a euca state store (" + why + "); restore it from a backup or move it away");
  };
  int64_t version = 0;
  {
    auto st = db_.Prepare("PRAGMA user_version");
    if (!st.ok()) return not_euca(st.status().message().substr(st.status().message().rfind(": ") + 2));
    auto row = st->Step();
    if (!row.ok()) return not_euca(row.status().message().substr(row.status().message().rfind(": ") + 2));
    version = st->Int(0);
  }
  std::vector<std::string> migrations(Migrations().begin(), Migrations().end());
  for (const auto& m : options_.extra_migrations_for_test) migrations.push_back(m);
  const int64_t target = static_cast<int64_t>(migrations.size());
  if (version > target)
    return Unsupported("'" + path + "' has schema version " + std::to_string(version) +
                       ", newer than this euca understands (" + std::to_string(target) +
                       "); use a newer euca");
  if (version == 0) {
    EUCA_ASSIGN_OR_RETURN(Stmt st, db_.Prepare("SELECT COUNT(*) FROM sqlite_master"));
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    (void)row;
    if (st.Int(0) != 0) return not_euca("unknown tables, no euca schema version");
    if (!options_.create) return not_euca("no schema");
  } else {
    auto st = db_.Prepare("SELECT value FROM meta WHERE key='format'");
    if (!st.ok()) return not_euca("no meta table");
    EUCA_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row || st->Text(0) != "euca-state") return not_euca("wrong format marker");
  }
  EUCA_RETURN_IF_ERROR(db_.Exec("PRAGMA journal_mode=WAL"));
  // FULL: a transaction is on disk before its history commit is written, so history can
  // never claim a state the database did not reach, even across power loss.
  EUCA_RETURN_IF_ERROR(db_.Exec("PRAGMA synchronous=FULL"));
  for (int64_t v = version; v < target; ++v) {
    EUCA_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
    // Another process may have migrated while we waited for the write lock.
    int64_t now = -1;
    {
      auto st = db_.Prepare("PRAGMA user_version");
      if (st.ok() && st->Step().ok()) now = st->Int(0);
    }
    if (now < 0) {
      (void)db_.Exec("ROLLBACK");
      return Internal("'" + path + "': cannot read schema version");
    }
    if (now > v) {
      v = now - 1;
      (void)db_.Exec("COMMIT");
      continue;
    }
    Status s = db_.Exec(migrations[static_cast<size_t>(v)]);
    if (s.ok()) s = db_.Exec("PRAGMA user_version=" + std::to_string(v + 1));
    if (s.ok()) s = db_.Exec("COMMIT");
    if (!s.ok()) {
      (void)db_.Exec("ROLLBACK");
      return s.WithContext("migrate state store to schema " + std::to_string(v + 1));
    }
  }
  return Status::Ok();
}

Result<int64_t> SqliteStore::LastSeq() {
  EUCA_ASSIGN_OR_RETURN(Stmt st, db_.Prepare("SELECT IFNULL((SELECT seq FROM sqlite_sequence WHERE name='journal'), 0)"));
  EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
  (void)row;
  return st.Int(0);
}

// Holds an exclusive flock for its lifetime.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~FileLock() { ::flock(fd_, LOCK_UN); }

 private:
  int fd_;
};

Status SqliteStore::SyncHistory() {
  std::lock_guard<std::mutex> git_lock(git_mu_);
  FileLock lock(lock_fd_);
  git_->BreakStaleLocks();
  EUCA_ASSIGN_OR_RETURN(uint64_t head, git_->HeadSeq());
  EUCA_ASSIGN_OR_RETURN(Stmt first, journal_db_.Prepare("SELECT MIN(seq) FROM journal WHERE seq > ?1"));
  first.Bind(1, static_cast<int64_t>(head));
  EUCA_ASSIGN_OR_RETURN(bool any, first.Step());
  if (!any || first.IsNull(0)) return Status::Ok();
  uint64_t min_seq = static_cast<uint64_t>(first.Int(0));
  first.Reset();
  if (min_seq > head + 1) {
    // The journal no longer holds the rows history misses (history.git was lost or
    // replaced): record the current state whole, as one snapshot commit.
    EUCA_ASSIGN_OR_RETURN(Stmt last, journal_db_.Prepare("SELECT MAX(seq) FROM journal"));
    EUCA_RETURN_IF_ERROR(last.Step().status());
    return WriteSnapshotCommit(static_cast<uint64_t>(last.Int(0)));
  }
  EUCA_ASSIGN_OR_RETURN(Stmt st, journal_db_.Prepare("SELECT seq, time_ms, principal, action, request_id, changes "
                                                     "FROM journal WHERE seq > ?1 ORDER BY seq"));
  st.Bind(1, static_cast<int64_t>(head));
  std::vector<GitHistory::PendingCommit> batch;
  size_t batch_bytes = 0;
  constexpr size_t kMaxBatchBytes = 64 << 20;
  for (;;) {
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    GitHistory::PendingCommit pc;
    pc.info.seq = static_cast<uint64_t>(st.Int(0));
    pc.info.time_ms = st.Int(1);
    pc.info.principal = st.Text(2);
    pc.info.action = st.Text(3);
    pc.info.request_id = st.Text(4);
    std::string text = st.Text(5);
    batch_bytes += text.size();
    Json changes = Json::parse(text, nullptr, false);
    if (changes.is_discarded() || !changes.is_array())
      return Internal("corrupt journal row " + std::to_string(pc.info.seq) + " in state store");
    pc.changes.reserve(changes.size());
    for (const auto& c : changes) {
      GitHistory::Change ch;
      ch.path = c.value("path", "");
      if (c.contains("content") && c["content"].is_string()) ch.content = c["content"].get<std::string>();
      pc.changes.push_back(std::move(ch));
    }
    batch.push_back(std::move(pc));
    if (batch_bytes > kMaxBatchBytes) {
      EUCA_RETURN_IF_ERROR(git_->AppendBatch(batch));
      batch.clear();
      batch_bytes = 0;
    }
  }
  return git_->AppendBatch(batch);
}

Status SqliteStore::WriteSnapshotCommit(uint64_t seq) {
  std::vector<GitHistory::Change> files;
  EUCA_ASSIGN_OR_RETURN(Stmt st, db_.Prepare("SELECT kind, id, parent, name, body, secret FROM objects"));
  for (;;) {
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    EUCA_ASSIGN_OR_RETURN(Object o, ReadObjectRow(st, st.Text(0), st.Text(1), 2));
    files.push_back({HistoryPath(o.kind, o.id), HistoryFile(o)});
  }
  CommitInfo info;
  info.seq = seq;
  info.time_ms = clock_.NowMillis();
  info.principal = "system";
  info.action = "RebuildHistory";
  info.request_id = NewRequestId();
  return git_->Append(info, files);
}

Status SqliteStore::RunTxn(bool writable, const TxnFn& fn, SqliteTxn* txn) {
  (void)writable;
  try {
    return fn(*txn);
  } catch (const std::exception& e) {
    return Internal(std::string("unexpected error in transaction: ") + e.what());
  }
}

Result<uint64_t> SqliteStore::Transact(const TxnContext& ctx, const TxnFn& fn) {
  std::unique_lock<std::mutex> lock(mu_);
  EUCA_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  SqliteTxn txn(db_, true);
  Status s = RunTxn(true, fn, &txn);
  if (!s.ok() || txn.changes().empty()) {
    (void)db_.Exec("ROLLBACK");
    if (!s.ok()) return s;
    EUCA_ASSIGN_OR_RETURN(int64_t last, LastSeq());
    return static_cast<uint64_t>(last);
  }
  Json changes = Json::array();
  for (const auto& [path, content] : txn.changes()) {
    Json c = {{"path", path}};
    c["content"] = content ? Json(*content) : Json(nullptr);
    changes.push_back(std::move(c));
  }
  uint64_t seq = 0;
  {
    // Scoped: the statement goes back to db_'s cache while mu_ is held.
    auto journal = db_.Prepare("INSERT INTO journal(time_ms, principal, action, request_id, changes) "
                               "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!journal.ok()) {
      (void)db_.Exec("ROLLBACK");
      return journal.status();
    }
    std::string request_id = ctx.request_id.empty() ? NewRequestId() : ctx.request_id;
    journal->Bind(1, clock_.NowMillis())
        .Bind(2, ctx.principal.empty() ? std::string("system") : ctx.principal)
        .Bind(3, ctx.action.empty() ? std::string("Change") : ctx.action)
        .Bind(4, request_id)
        .Bind(5, changes.dump());
    s = journal->Run();
    seq = static_cast<uint64_t>(db_.LastInsertRowid());
  }
  if (s.ok()) s = db_.Exec("COMMIT");
  ++changes_;  // even after a failed COMMIT: caches then read again, which is always safe
  if (!s.ok()) {
    (void)db_.Exec("ROLLBACK");
    return s;
  }
  lock.unlock();
  // The change is durable. A crash from here on leaves history behind the journal; the
  // next SyncHistory (any open, write, history read or close) catches it up.
  EUCA_RETURN_IF_ERROR(Hook("after-sqlite-commit"));
  if (options_.history_mode == HistoryMode::kBackground) {
    {
      std::lock_guard<std::mutex> flush_lock(flush_mu_);
      pending_ = true;
    }
    flush_cv_.notify_one();
    return seq;
  }
  s = SyncHistory();
  if (!s.ok()) return s.WithContext("change " + std::to_string(seq) + " is saved but its history commit is not");
  return seq;
}

Status SqliteStore::Read(const TxnFn& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  EUCA_RETURN_IF_ERROR(db_.Exec("BEGIN"));
  SqliteTxn txn(db_, false);
  Status s = RunTxn(false, fn, &txn);
  (void)db_.Exec("COMMIT");
  return s;
}

// PRAGMA data_version changes when another connection (of this process or another) has
// committed since this connection last asked; our own commits count in Transact.
std::optional<uint64_t> SqliteStore::ChangeCounter() {
  ChangeCounterScope::Memo* memo = ChangeCounterScope::Find(this);
  std::lock_guard<std::mutex> lock(mu_);
  // In a request's scope, one look (a read transaction) serves the request; a commit of
  // ours since moved changes_, and then we look again.
  if (memo && memo->store == this && memo->value == changes_) return changes_;
  auto st = db_.Prepare("PRAGMA data_version");
  if (!st.ok()) return std::nullopt;
  auto row = st->Step();
  if (!row.ok() || !*row) return std::nullopt;
  int64_t v = st->Int(0);
  if (v != data_version_) {
    data_version_ = v;
    ++changes_;
  }
  if (memo) *memo = {this, changes_};
  return changes_;
}

Result<std::vector<CommitInfo>> SqliteStore::Log(const std::optional<std::string>& object, size_t limit) {
  std::optional<std::string> path;
  if (object) {
    auto ref = ParseObjectRef(*object);
    if (!ref) return InvalidArgument("'" + *object + "' names no object; use KIND/ID, e.g. users/AIDA...");
    path = HistoryPath(ref->first, ref->second);
  }
  EUCA_RETURN_IF_ERROR(SyncHistory());
  std::lock_guard<std::mutex> lock(git_mu_);
  return git_->Log(path, limit);
}

Result<std::pair<CommitInfo, std::string>> SqliteStore::Show(const std::string& rev) {
  EUCA_RETURN_IF_ERROR(SyncHistory());
  std::lock_guard<std::mutex> lock(git_mu_);
  return git_->Show(rev);
}

Result<std::string> SqliteStore::Diff(const std::string& from, const std::optional<std::string>& to) {
  EUCA_RETURN_IF_ERROR(SyncHistory());
  std::lock_guard<std::mutex> lock(git_mu_);
  return git_->Diff(from, to);
}

Result<RollbackResult> SqliteStore::Rollback(const TxnContext& ctx, const std::string& rev,
                                             const std::vector<std::string>& objects, bool dry_run) {
  // Which paths to consider: the named objects, or everything.
  std::set<std::string> only;
  for (const auto& ref_text : objects) {
    auto ref = ParseObjectRef(ref_text);
    if (!ref) return InvalidArgument("'" + ref_text + "' names no object; use KIND/ID, e.g. users/AIDA...");
    only.insert(HistoryPath(ref->first, ref->second));
  }
  std::string target;
  std::map<std::string, std::string> target_files;
  EUCA_RETURN_IF_ERROR(SyncHistory());
  {
    std::lock_guard<std::mutex> lock(git_mu_);
    EUCA_ASSIGN_OR_RETURN(target, git_->ResolveCommit(rev));
    EUCA_ASSIGN_OR_RETURN(target_files, git_->ListFiles(target));
  }
  RollbackResult result;
  result.target_rev = target;

  struct Planned {
    std::string path;
    std::optional<Object> restore;  // nullopt: delete
    std::string kind, id;
  };
  auto plan = [&](Txn& txn, std::vector<Planned>* deletes, std::vector<Planned>* puts) -> Status {
    result.changes.clear();
    // Current objects by path.
    std::map<std::string, Object> current;
    if (only.empty()) {
      for (const auto& k : Kinds()) {
        EUCA_ASSIGN_OR_RETURN(std::vector<Object> list, txn.List(std::string(k.name)));
        for (auto& o : list) current.emplace(HistoryPath(o.kind, o.id), std::move(o));
      }
    } else {
      for (const auto& path : only) {
        auto ref = ParseObjectRef(path);
        EUCA_ASSIGN_OR_RETURN(std::optional<Object> o, txn.Get(ref->first, ref->second));
        if (o) current.emplace(path, std::move(*o));
        else if (!target_files.count(path))
          return NotFound("object '" + ref->first + "/" + ref->second + "' exists neither at '" + rev + "' nor now");
      }
    }
    std::set<std::string> paths;
    for (const auto& [p, _] : current) paths.insert(p);
    for (const auto& [p, _] : target_files)
      if (only.empty() || only.count(p)) paths.insert(p);
    for (const auto& path : paths) {
      auto cur = current.find(path);
      auto tgt = target_files.find(path);
      std::optional<std::string> cur_blob;
      if (cur != current.end()) cur_blob = GitHistory::HashBlob(HistoryFile(cur->second));
      if (tgt != target_files.end() && cur_blob && *cur_blob == tgt->second) continue;
      auto ref = ParseObjectRef(path);
      if (!ref) continue;  // a file that is not an object (none today)
      const KindInfo* kind = FindKind(ref->first);
      Planned p{path, std::nullopt, ref->first, ref->second};
      if (!kind || !kind->declarative) {
        result.changes.push_back({ref->first, ref->second, "not-restorable"});
        continue;
      }
      if (tgt == target_files.end()) {
        result.changes.push_back({ref->first, ref->second, "delete"});
        deletes->push_back(std::move(p));
        continue;
      }
      std::string text;
      {
        std::lock_guard<std::mutex> git_lock(git_mu_);
        auto blob = git_->ReadBlob(tgt->second);
        if (!blob.ok()) return blob.status();
        text = std::move(blob).value();
      }
      bool had_secret = false;
      EUCA_ASSIGN_OR_RETURN(Object restored, ParseHistoryFile(text, &had_secret));
      if (had_secret) {
        if (cur != current.end() && cur->second.secret) {
          restored.secret = cur->second.secret;
        } else {
          EUCA_ASSIGN_OR_RETURN(std::optional<Json> buried, txn.BuriedSecret(restored.kind, restored.id));
          if (!buried)
            return Conflict("cannot restore " + restored.kind + "/" + restored.id +
                            ": its secret is gone from the state store");
          restored.secret = std::move(buried);
        }
      }
      result.changes.push_back({ref->first, ref->second, cur == current.end() ? "recreate" : "restore"});
      p.restore = std::move(restored);
      puts->push_back(std::move(p));
    }
    return Status::Ok();
  };

  std::vector<Planned> deletes, puts;
  if (dry_run) {
    EUCA_RETURN_IF_ERROR(Read([&](Txn& txn) { return plan(txn, &deletes, &puts); }));
    return result;
  }
  TxnContext rctx = ctx;
  if (rctx.action.empty()) rctx.action = "Rollback to " + target.substr(0, 12);
  uint64_t before = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    EUCA_ASSIGN_OR_RETURN(int64_t last, LastSeq());
    before = static_cast<uint64_t>(last);
  }
  auto seq = Transact(rctx, [&](Txn& txn) -> Status {
    deletes.clear();
    puts.clear();
    EUCA_RETURN_IF_ERROR(plan(txn, &deletes, &puts));
    // Deletes first, so that a restored object may take back a name a newer one holds.
    for (const auto& d : deletes) EUCA_RETURN_IF_ERROR(txn.Delete(d.kind, d.id));
    for (const auto& p : puts) EUCA_RETURN_IF_ERROR(txn.Put(*p.restore));
    return Status::Ok();
  });
  if (!seq.ok()) return seq.status().WithContext("rollback to '" + rev + "'");
  if (*seq != before) result.seq = *seq;
  return result;
}

}  // namespace

Result<std::unique_ptr<StateStore>> OpenSqliteStore(const std::string& home, Clock& clock,
                                                    const OpenOptions& options) {
  auto store = std::make_unique<SqliteStore>(home, clock, options);
  EUCA_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<StateStore>(std::move(store));
}

}  // namespace euca::state
