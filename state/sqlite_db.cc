#include "state/sqlite_db.h"

namespace euca::state {

namespace {
constexpr size_t kMaxIdleStatements = 64;
}  // namespace

Db::~Db() {
  for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  if (db_) sqlite3_close_v2(db_);
}

void Db::Recycle(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  const char* sql = sqlite3_sql(stmt);
  if (!sql || idle_.size() >= kMaxIdleStatements || !idle_.emplace(sql, stmt).second) sqlite3_finalize(stmt);
}

Status Db::Open(const std::string& path, bool create) {
  path_ = path;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Error("open '" + path + "'", rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return s;
  }
  sqlite3_extended_result_codes(db_, 1);
  return Status::Ok();
}

Status Db::Error(std::string_view what, int rc) const {
  std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  Code code = Code::kInternal;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) code = Code::kUnavailable;
  if (primary == SQLITE_CONSTRAINT) code = Code::kAlreadyExists;
  if (primary == SQLITE_FULL) code = Code::kResourceExhausted;
  if (primary == SQLITE_READONLY || primary == SQLITE_PERM || primary == SQLITE_AUTH) code = Code::kPermissionDenied;
  if (primary == SQLITE_CANTOPEN) code = Code::kNotFound;
  return Status(code, std::string(what) + ": " + msg);
}

Status Db::Exec(std::string_view sql) {
  if (sql.find(';') == std::string_view::npos) {  // one statement: through the cache
    EUCA_ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
    return st.Run();
  }
  char* err = nullptr;
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status s = Error("sqlite", rc);
    return Status(s.code(), "'" + path_ + "': " + msg);
  }
  return Status::Ok();
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  if (auto it = idle_.find(sql); it != idle_.end()) {
    sqlite3_stmt* stmt = it->second;
    idle_.erase(it);  // in use now: a second Prepare of the same text meanwhile gets its own
    return Stmt(this, stmt);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Error("'" + path_ + "'", rc);
  return Stmt(this, stmt);
}

Stmt::~Stmt() {
  if (stmt_) db_->Recycle(stmt_);
}

Stmt& Stmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error("'" + db_->path() + "'", rc);
}

Status Stmt::Run() {
  for (;;) {
    EUCA_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

}  // namespace euca::state
