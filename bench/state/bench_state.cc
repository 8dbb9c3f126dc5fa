// bench/state: commit latency (p50/p99) and transactions per second of the state store
// with history on, at 1k, 10k and 100k objects, beside its peer: the same single-row
// upsert in plain SQLite (same WAL mode and synchronous=FULL, no journal, no history).
// The ratio says what the audit history costs. Goal (issue 2): p50 <= 2 ms at 100k.
//
// Two history modes are measured: "sync" (each Transact writes its git commit before
// returning, as commands do) and "background" (servers: Transact returns once SQLite has
// committed; a flusher writes batches of commits as one packfile). tx/s always counts
// until every commit is in history (the background run ends with a history read, which
// flushes).
//
// Usage: bench_state [--sizes 1000,10000,100000] [--commits N]

#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "state/sqlite_store.h"

namespace {

using euca::state::Json;
using euca::state::Object;

struct Stats {
  double p50_ms, p99_ms, tps;
};

Stats Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  double total = 0;
  for (double m : ms) total += m;
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], 1000.0 * ms.size() / total};
}

std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "euca-bench-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

Object MakeUser(size_t i, int version) {
  Object o;
  o.kind = "users";
  char id[32];
  std::snprintf(id, sizeof id, "AIDA%017zu", i);
  o.id = id;
  o.parent = "123456789012";
  o.name = "user" + std::to_string(i);
  o.body = {{"id", o.id}, {"account", o.parent}, {"name", o.name}, {"enabled", true}, {"version", version}};
  return o;
}

double NowMs(euca::Clock& c) { return c.MonotonicNanos() / 1e6; }

Stats BenchEuca(size_t n, int commits, euca::state::HistoryMode mode) {
  std::string home = TempDir();
  euca::Clock& clock = euca::RealClock();
  euca::state::OpenOptions opts;
  opts.create = true;
  opts.history_mode = mode;
  auto store = euca::state::OpenSqliteStore(home, clock, opts);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  const size_t batch = 5000;
  for (size_t start = 0; start < n; start += batch) {
    auto r = (*store)->Transact({"bench", "Populate", ""}, [&](euca::state::Txn& t) -> euca::Status {
      for (size_t i = start; i < std::min(n, start + batch); ++i) EUCA_RETURN_IF_ERROR(t.Put(MakeUser(i, 0)));
      return euca::Status::Ok();
    });
    if (!r.ok()) std::exit(1);
  }
  (void)(*store)->Log(std::nullopt, 1);  // population fully in history before timing
  std::mt19937 rng(7);
  std::vector<double> ms;
  double start = NowMs(clock);
  for (int c = 0; c < commits; ++c) {
    Object o = MakeUser(std::uniform_int_distribution<size_t>(0, n - 1)(rng), c + 1);
    double t0 = NowMs(clock);
    auto r = (*store)->Transact({"bench", "Update", ""}, [&](euca::state::Txn& t) { return t.Put(o); });
    ms.push_back(NowMs(clock) - t0);
    if (!r.ok()) std::exit(1);
  }
  auto log = (*store)->Log(std::nullopt, 1);  // flushes pending history
  double total = NowMs(clock) - start;
  if (!log.ok() || log->empty() || log->front().seq < static_cast<uint64_t>(commits)) {
    std::fprintf(stderr, "history incomplete\n");
    std::exit(1);
  }
  store->reset();
  std::filesystem::remove_all(home);
  Stats st = Summarize(ms);
  st.tps = 1000.0 * commits / total;
  return st;
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s\n", err);
    std::exit(1);
  }
}

Stats BenchPlainSqlite(size_t n, int commits) {
  std::string dir = TempDir();
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/plain.db").c_str(), &db);
  Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  Exec(db, "CREATE TABLE objects(kind TEXT NOT NULL, id TEXT NOT NULL, parent TEXT NOT NULL, name TEXT NOT NULL, "
           "body TEXT NOT NULL, secret TEXT, PRIMARY KEY (kind, id)) WITHOUT ROWID;"
           "CREATE UNIQUE INDEX objects_by_name ON objects(kind, parent, name) WHERE name <> '';");
  sqlite3_stmt* put = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO objects(kind, id, parent, name, body) VALUES (?1, ?2, ?3, ?4, ?5) "
                     "ON CONFLICT(kind, id) DO UPDATE SET body=excluded.body",
                     -1, &put, nullptr);
  auto do_put = [&](const Object& o) {
    std::string body = o.body.dump();
    sqlite3_bind_text(put, 1, o.kind.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(put, 2, o.id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(put, 3, o.parent.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(put, 4, o.name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(put, 5, body.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(put);
    sqlite3_reset(put);
  };
  Exec(db, "BEGIN");
  for (size_t i = 0; i < n; ++i) do_put(MakeUser(i, 0));
  Exec(db, "COMMIT");
  euca::Clock& clock = euca::RealClock();
  std::mt19937 rng(7);
  std::vector<double> ms;
  for (int c = 0; c < commits; ++c) {
    Object o = MakeUser(std::uniform_int_distribution<size_t>(0, n - 1)(rng), c + 1);
    double t0 = NowMs(clock);
    Exec(db, "BEGIN IMMEDIATE");
    do_put(o);
    Exec(db, "COMMIT");
    ms.push_back(NowMs(clock) - t0);
  }
  sqlite3_finalize(put);
  sqlite3_close(db);
  std::filesystem::remove_all(dir);
  return Summarize(ms);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {1000, 10000, 100000};
  int commits = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--commits") == 0) commits = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--sizes") == 0) {
      sizes.clear();
      for (char* tok = std::strtok(argv[i + 1], ","); tok; tok = std::strtok(nullptr, ",")) sizes.push_back(std::strtoull(tok, nullptr, 10));
    }
  }
  std::printf("bench/state: %d single-object update commits per row; peer = plain SQLite upsert, same WAL/FULL settings\n\n", commits);
  std::printf("| objects | history | euca p50 ms | euca p99 ms | euca tx/s | sqlite p50 ms | sqlite p99 ms | sqlite tx/s | p50 ratio euca/sqlite | goal p50 <= 2 ms |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|:---:|\n");
  for (size_t n : sizes) {
    Stats p = BenchPlainSqlite(n, commits);
    for (auto mode : {euca::state::HistoryMode::kSynchronous, euca::state::HistoryMode::kBackground}) {
      Stats e = BenchEuca(n, commits, mode);
      std::printf("| %zu | %s | %.3f | %.3f | %.0f | %.3f | %.3f | %.0f | %.1fx | %s |\n", n,
                  mode == euca::state::HistoryMode::kSynchronous ? "sync" : "background", e.p50_ms, e.p99_ms, e.tps,
                  p.p50_ms, p.p99_ms, p.tps, e.p50_ms / p.p50_ms, e.p50_ms <= 2.0 ? "met" : "missed");
      std::fflush(stdout);
    }
  }
  return 0;
}
