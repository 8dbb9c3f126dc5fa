#pragma once
// The real StateStore: SQLite (WAL) for live truth at `<home>/state.db` plus a bare git
// history at `<home>/history.git` written with libgit2. Formats: docs/state-format.md,
// docs/history-format.md.
//
// Write path: (1) one SQLite transaction updates the objects and appends a journal row
// holding the after-image of every changed object (secrets redacted); (2) under an
// exclusive file lock, every journal row newer than the history's head becomes one git
// commit. A crash between (1) and (2) is repaired by step (2) of the next open or write, so
// history never lags for long and never claims a state the database did not reach.
//
// Several processes may share one home: SQLite serializes writers (busy timeout), the
// history lock serializes git writers. A StateStore object itself is thread-safe.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "state/store.h"

namespace euca::state {

/// The newest schema this binary understands (PRAGMA user_version of state.db).
inline constexpr int kSchemaVersion = 1;

/// When a committed transaction's history commit is written.
enum class HistoryMode {
  /// Before Transact returns (commands: one change per process, nothing to batch).
  kSynchronous,
  /// By a background thread, in batches written as one packfile each (servers). History
  /// reads (Log, Show, Diff, Rollback) and closing the store flush first, so no reader in
  /// any process sees history lag: any process can catch history up from the journal.
  kBackground,
};

struct OpenOptions {
  /// Create state.db and history.git if missing (init); otherwise NotFound.
  bool create = false;
  HistoryMode history_mode = HistoryMode::kSynchronous;
  /// Called at named points ("after-sqlite-commit", "close"); a non-OK Status stops the
  /// work there, as a crash would (at "close": no final history catch-up). Tests only.
  std::function<Status(std::string_view point)> fault_hook_for_test;
  /// Migrations appended after the built-in ones, as a newer binary would have them
  /// (tests of upgrade and of refusing a newer store).
  std::vector<std::string> extra_migrations_for_test;
};

/// Opens (or with `create`, creates) the store of `home`, migrates an older schema, refuses
/// a newer one (Unsupported) and a file that is not a euca store (Internal), and writes
/// catch-up history commits for transactions a crash left out.
Result<std::unique_ptr<StateStore>> OpenSqliteStore(const std::string& home, Clock& clock,
                                                    const OpenOptions& options = {});

}  // namespace euca::state
