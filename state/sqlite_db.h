#pragma once
// A thin RAII layer over the SQLite C API: the one place SQLite errors are translated to
// Status. Not thread-safe; the store serializes access.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/base/status.h"

namespace euca::state {

class Stmt;

class Db final {
 public:
  Db() = default;
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  /// Opens `path` read-write; creates it only if `create`.
  Status Open(const std::string& path, bool create);
  /// Runs one or more statements without results.
  Status Exec(std::string_view sql);
  /// A statement for `sql`: a cached one reset for reuse if this text was prepared before
  /// (compiling costs more than running for the store's short queries), else a new one.
  Result<Stmt> Prepare(std::string_view sql);
  /// Translates the connection's last error: "<what>: <sqlite message>".
  Status Error(std::string_view what, int rc) const;
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* raw() { return db_; }
  const std::string& path() const { return path_; }

 private:
  friend class Stmt;
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  /// Takes back a statement its Stmt is done with: reset, and kept for the next Prepare of
  /// its text (or finalized if one is kept already).
  void Recycle(sqlite3_stmt* stmt);

  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> idle_;  // by SQL text
};

/// A prepared statement. Bind indexes start at 1, column indexes at 0.
class Stmt final {
 public:
  Stmt(Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Stmt();
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;

  Stmt& Bind(int i, std::string_view v);
  Stmt& Bind(int i, int64_t v);
  Stmt& BindNull(int i);
  /// Steps once: true = a row is ready, false = done.
  Result<bool> Step();
  /// Steps to completion (for statements without rows).
  Status Run();
  void Reset();

  std::string Text(int col) const;
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  Db* db_;
  sqlite3_stmt* stmt_;
};

}  // namespace euca::state
