#pragma once
// The state store: the live truth of the control plane (DESIGN.md §4).
//
// Every change goes through StateStore::Transact, which carries the principal (who) and the
// action (what) so nothing writes behind the history's back. Objects are JSON documents
// grouped by kind; the real implementation (sqlite_store.h) keeps them in SQLite and records
// every committed transaction as one commit of a bare git repository. Formats:
// docs/state-format.md and docs/history-format.md.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/status.h"

namespace euca::state {

using Json = nlohmann::ordered_json;

/// One stored object. `body` is public and goes to history; `secret` (secret keys, private
/// keys) never leaves the database: history shows only a redacted marker.
struct Object {
  std::string kind;            ///< a registered kind (kinds.h), e.g. "users"
  std::string id;              ///< unique within the kind; names the history file
  std::string parent;          ///< owning object's id (a user's account) or ""
  std::string name;            ///< if non-empty, unique within (kind, parent)
  Json body = Json::object();
  std::optional<Json> secret;  ///< secret fields, or nullopt
};

/// Who does what: becomes the history commit's author and message.
struct TxnContext {
  std::string principal;   ///< e.g. "admin@eucalyptus", "cleanup", "system"
  std::string action;      ///< e.g. "CreateUser alice"
  std::string request_id;  ///< empty: the store makes one
};

/// Reads and writes inside one transaction. Not thread-safe; lives only during the callback.
class Txn {
 public:
  virtual ~Txn() = default;
  virtual Result<std::optional<Object>> Get(const std::string& kind, const std::string& id) = 0;
  virtual Result<std::optional<Object>> GetByName(const std::string& kind, const std::string& parent,
                                                  const std::string& name) = 0;
  /// All objects of `kind` (only those with `parent`, if given), ordered by id.
  virtual Result<std::vector<Object>> List(const std::string& kind,
                                           const std::optional<std::string>& parent = std::nullopt) = 0;
  /// Inserts or replaces. AlreadyExists if another object of the kind holds (parent, name);
  /// InvalidArgument for an unknown kind or an empty id.
  virtual Status Put(const Object& object) = 0;
  /// Removes. NotFound if absent. The secret of a deleted object is kept aside so that a
  /// rollback that restores the object restores its secret too.
  virtual Status Delete(const std::string& kind, const std::string& id) = 0;
  /// A secret kept aside by Delete, if any (used by rollback).
  virtual Result<std::optional<Json>> BuriedSecret(const std::string& kind, const std::string& id) = 0;
};

/// One history commit.
struct CommitInfo {
  std::string rev;         ///< full commit id (40 hex)
  uint64_t seq = 0;        ///< transaction sequence number
  int64_t time_ms = 0;
  std::string principal;
  std::string action;
  std::string request_id;
  std::vector<std::string> paths;  ///< object files the commit changed (filled by Log)
};

/// What a rollback did (or, with dry_run, would do).
struct RollbackChange {
  std::string kind, id;
  std::string what;  ///< "restore", "delete", "recreate", "not-restorable"
};
struct RollbackResult {
  std::string target_rev;
  std::vector<RollbackChange> changes;
  std::optional<uint64_t> seq;  ///< the new transaction, unless dry run or nothing to do
};

/// One request's view of "has the state changed": while a scope lives on a thread, a store's
/// ChangeCounter() looks at the database once; later calls on that thread answer the same,
/// unless the store committed meanwhile. A server opens one per request, so that the caches
/// a request consults (credentials, quota rules) cost one look between them, not one each.
/// Another process's commit during the request shows from the next request on. Scopes nest
/// (an inner one changes nothing). Not copyable; lives on one thread.
class ChangeCounterScope {
 public:
  ChangeCounterScope() : outer_(current_) {
    if (!outer_) current_ = this;
  }
  ~ChangeCounterScope() {
    if (!outer_) current_ = nullptr;
  }
  ChangeCounterScope(const ChangeCounterScope&) = delete;
  ChangeCounterScope& operator=(const ChangeCounterScope&) = delete;

  /// A store's answer kept for the request.
  struct Memo {
    const void* store = nullptr;
    uint64_t value = 0;
  };
  /// The memo slot of `store` in this thread's open scope (store == nullptr: not filled yet),
  /// or nullptr when no scope is open (or it keeps no more stores).
  static Memo* Find(const void* store) {
    if (!current_) return nullptr;
    for (Memo& m : current_->memos_) {
      if (m.store == store) return &m;
      if (!m.store) return &m;
    }
    return nullptr;
  }

 private:
  static inline thread_local ChangeCounterScope* current_ = nullptr;
  ChangeCounterScope* outer_;
  Memo memos_[4];
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  using TxnFn = std::function<Status(Txn&)>;
  /// Runs `fn` in one serializable transaction. If `fn` fails, nothing is written and its
  /// Status is returned. On success returns the transaction's sequence number; a
  /// transaction that changed nothing writes no history and returns the last number.
  virtual Result<uint64_t> Transact(const TxnContext& ctx, const TxnFn& fn) = 0;
  /// Runs `fn` on a consistent read-only snapshot; writes fail with Internal.
  virtual Status Read(const TxnFn& fn) = 0;
  /// A number that grows whenever stored objects may have changed since the last call, by
  /// this process or another one, for caches of what was read (e.g. the S3 server's
  /// credentials). Cheap compared with a Read. nullopt: the store cannot tell; cache nothing.
  /// Within a ChangeCounterScope, another process's commit may show only after the scope.
  virtual std::optional<uint64_t> ChangeCounter() { return std::nullopt; }

  // History. Implementations without history answer Unsupported.

  /// Newest first, at most `limit` (0 = all); only commits touching `object` if given
  /// ("KIND/ID" or a bare id, see ResolveObject).
  virtual Result<std::vector<CommitInfo>> Log(const std::optional<std::string>& object, size_t limit) = 0;
  /// The commit and its changes as a unified diff against its parent.
  virtual Result<std::pair<CommitInfo, std::string>> Show(const std::string& rev) = 0;
  /// Unified diff of the object trees from `from` to `to` (default: the newest commit).
  virtual Result<std::string> Diff(const std::string& from, const std::optional<std::string>& to) = 0;
  /// Restores declarative objects (all, or only `objects`) to their state at `rev` as one new
  /// transaction of `ctx`; runtime objects are reported "not-restorable" and left alone.
  virtual Result<RollbackResult> Rollback(const TxnContext& ctx, const std::string& rev,
                                          const std::vector<std::string>& objects, bool dry_run) = 0;
};

}  // namespace euca::state
