#pragma once
// The filesystem ObjectBackend: blobs are files named by random ids under the data
// directory, metadata is a SQLite database beside them (WAL). Layout, schema and the crash
// rules: docs/walrus-format.md.
//
// Several processes may open one data directory: SQLite serializes their metadata writes,
// and a file lock (`LOCK`, shared while open) lets only a process that finds the directory
// unused reap leftovers, so no one deletes another process's write in progress.

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "drivers/objects/backend.h"

struct sqlite3;

namespace euca::objects {

/// Single-PUT objects up to this size live in walrus.db (table inline_blobs) rather than in
/// a file of their own: creating a file costs more than the write itself for small objects.
inline constexpr size_t kInlineBlobMax = 64 * 1024;

struct FsBackendOptions {
  /// fsync blobs and their directories, and SQLite synchronous=FULL. Turn off only for
  /// tests and benchmarks that measure without durability.
  bool sync = true;
  /// Blobs up to this many bytes are kept in the database (0: every blob is a file).
  size_t inline_max_bytes = kInlineBlobMax;
  /// With sync on, write blob files with O_DIRECT (where the filesystem allows it): the disk
  /// reads the writer's buffers, and no page cache is filled and written back at the fsync.
  /// Filling fresh page cache is what a big buffered write spends most of its time on where
  /// memory is slow to hand out (a VM whose host reclaims free pages). Off: buffered writes.
  bool direct_io = true;
  /// With sync and O_DIRECT, a blob file's writer runs fdatasync on a thread of its own after
  /// each this many bytes while the body still arrives (0: never), so that the fsync before
  /// the PUT's reply finds little in the disk's write cache to wait for.
  uint64_t flush_window_bytes = uint64_t{64} << 20;
  /// SQLite's WAL is checkpointed (copied into walrus.db) by a background thread of the
  /// backend, never inside a commit: once the WAL holds this many pages a commit wakes it for
  /// a PASSIVE checkpoint (which waits for no one and is waited for by no one).
  int wal_checkpoint_pages = 2000;
  /// The WAL's bound: a commit that leaves the WAL at this many pages or more (the
  /// background checkpoints fell behind, or readers kept it from being restarted) runs a
  /// RESTART checkpoint itself before the next commit can start, so that the WAL is reused
  /// from its start and never grows past about this size (plus one group commit).
  int wal_limit_pages = 20000;

  // Seams for tests (unset in production).
  /// Called before each group commit's COMMIT; an error fails the commit as a failed COMMIT
  /// would (the batch is rolled back, every writer of it gets the error).
  std::function<Status()> before_commit_for_test = {};
  /// Replaces write(2) for blob files; `direct` tells whether the descriptor has O_DIRECT.
  std::function<ssize_t(int fd, const char* data, size_t n, bool direct)> write_for_test = {};
  /// Replaces the background fdatasync(2) of blob files (flush_window_bytes).
  std::function<int(int fd)> datasync_for_test = {};
};

/// Alignment (address, size and file offset) of the writes FsBlobWriter makes with O_DIRECT;
/// a caller whose buffers have it spares the writer a copy into its own.
inline constexpr size_t kDirectIoAlign = 4096;

/// What opening found and removed (when the directory was not in use by anyone else).
struct ReapReport {
  bool reaped = false;      ///< false if another opener held the directory
  size_t temp_files = 0;    ///< unfinished writes removed from tmp/
  size_t orphan_blobs = 0;  ///< committed blobs nothing referenced
};

class FsBackend;

/// Opens (creating if needed, mode 0700) the Walrus data directory `dir`. Refuses a
/// database of a newer schema (Unsupported) or one that is not a Walrus store (Internal).
Result<std::unique_ptr<FsBackend>> OpenFsBackend(const std::string& dir, const FsBackendOptions& options = {});

/// Current schema version (PRAGMA user_version of walrus.db).
inline constexpr int kWalrusSchemaVersion = 3;

class FsBackend final : public ObjectBackend {
 public:
  ~FsBackend() override;

  Status CreateBucket(const BucketRecord& bucket) override;
  Result<BucketRecord> GetBucket(const std::string& name) override;
  Result<std::vector<BucketRecord>> ListBuckets() override;
  Status SetBucketAcl(const std::string& name, const std::string& acl) override;
  Status DeleteBucket(const std::string& name) override;

  Result<std::unique_ptr<BlobWriter>> NewBlob() override;
  Result<ObjectRecord> PutObject(ObjectRecord record) override;
  void PutObjectAsync(ObjectRecord record, std::function<void(Result<ObjectRecord>)> done) override;
  Result<ObjectRecord> GetObject(const std::string& bucket, const std::string& key) override;
  Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& bucket, const std::string& key) override;
  Status SetObjectAcl(const std::string& bucket, const std::string& key, const std::string& acl,
                      const std::optional<std::string>& generation) override;
  Result<std::vector<ObjectRecord>> ListObjects(const std::string& bucket, const ListRange& range) override;
  Result<bool> DeleteObject(const std::string& bucket, const std::string& key) override;

  Status CreateUpload(const UploadRecord& upload) override;
  Result<UploadRecord> GetUpload(const std::string& upload_id) override;
  Result<std::vector<UploadRecord>> ListUploads(const std::string& bucket, const std::string& prefix) override;
  Status PutPart(const std::string& upload_id, PartRecord part) override;
  Result<std::vector<PartRecord>> ListParts(const std::string& upload_id) override;
  Result<ObjectRecord> CompleteUpload(const std::string& upload_id, ObjectRecord record) override;
  Status AbortUpload(const std::string& upload_id) override;

  const ReapReport& reap_report() const { return reap_; }
  /// Rows of the in-database blob table.
  size_t InlineBlobCountForTest();
  /// Writers queued for the group commit (running or waiting).
  size_t QueuedWritersForTest();
  /// Checkpoints run so far by the background checkpointer and by commits (the WAL bound).
  struct CheckpointCounts {
    size_t background = 0;
    size_t blocking = 0;
  };
  CheckpointCounts CheckpointCountsForTest();
  const std::string& dir() const { return dir_; }
  /// The file holding blob `id`.
  std::string BlobPath(const std::string& id) const;

 private:
  friend Result<std::unique_ptr<FsBackend>> OpenFsBackend(const std::string&, const FsBackendOptions&);
  friend class FsBlobWriter;
  struct Db;

  FsBackend(std::string dir, FsBackendOptions options);
  Status Open();
  Status Reap();
  /// Writes an in-database blob (`data` set) to a blob file of a new random id: temp, fsync,
  /// rename. Returns the file blob.
  Result<BlobRef> WriteBlobFile(const BlobRef& blob);
  /// Deletes blob files (after the metadata that referenced them is gone). Best effort:
  /// a blob left behind is an orphan the next exclusive open reaps.
  void DeleteBlobs(const std::vector<BlobRef>& blobs);
  /// The id for a blob kept in the database: 16 hex digits of a counter (continued from the
  /// greatest id stored when the store was opened) and 16 random ones. Successive ids sort
  /// after each other, so the inline_blobs index grows at its right edge: a group commit
  /// writes one leaf of it, not one random leaf per PUT. Thread-safe.
  std::string NextInlineBlobId();
  /// Runs `fn` inside BEGIN IMMEDIATE ... COMMIT; rolls back if it fails. REQUIRES: mu_ held.
  template <typename Fn>
  Status InTxnLocked(Fn&& fn);
  /// Runs `fn` in a transaction, committed together with those of concurrent callers (group
  /// commit: one fsync for all); `fn`'s changes are rolled back alone if it fails, and all
  /// are if the commit fails. Returns `fn`'s status (or the commit's). `fn` runs on another
  /// caller's thread, under mu_. REQUIRES: mu_ not held.
  Status Transact(const std::function<Status()>& fn);
  /// Transact without waiting: queues `fn` and returns at once; `done` gets its status once its
  /// batch has committed (or failed), on the thread that led the batch: the committer thread,
  /// or a Transact caller's (never this one: the caller may be a server's I/O thread, which
  /// must not wait for an fsync). `done` must not block.
  void TransactAsync(std::function<Status()> fn, std::function<void(Status)> done);

  // A caller queued for Transact or TransactAsync.
  struct Writer;
  /// Queues `w`; true if the queue was empty (then the caller leads).
  bool Enqueue(const std::shared_ptr<Writer>& w);
  /// Runs one batch from the front of the queue, completes its writers (except `self`, whose
  /// status is set) and passes the lead on: to the next synchronous writer at the front, or
  /// to the committer thread if the front is an asynchronous one (a writer with no thread).
  /// Returns true if the caller is the committer thread and should lead again.
  bool LeadBatch(Writer* self, bool committer);
  /// Asks the committer thread (started on first use) to lead the batch at the queue's front.
  void WakeCommitter();
  void CommitterLoop();
  /// A PUT's metadata change (in a transaction): `old` gets the version it replaces.
  Status PutObjectLocked(const ObjectRecord& record, std::optional<ObjectRecord>& old);
  /// After a PUT's commit (status `s`): deletes the blobs that lost (the new ones on failure,
  /// the replaced version's on success).
  Result<ObjectRecord> FinishPut(ObjectRecord record, const std::optional<ObjectRecord>& old, const Status& s);

  /// A read connection leased from the pool (opened when none is idle), handed back when the
  /// lease ends. Lookups on the request path (GetBucket, GetObject, OpenObject) use these,
  /// not db_: db_'s mutex is held through a commit's fsync, and WAL readers need not wait
  /// for it. A reader sees every transaction committed before its statement (or BEGIN).
  class ReadLease;
  Result<ReadLease> LeaseReader();

  struct Writer {
    enum State { kWaiting, kLead, kDone };
    const std::function<Status()>* fn = nullptr;
    std::function<Status()> owned_fn;   // TransactAsync's function (`fn` points to it)
    std::function<void(Status)> done;   // TransactAsync: called instead of a wake
    Status status = Status::Ok();  // written by the leader before `state` becomes kDone
    std::mutex mu;                 // guards `state`: the writer's own, not the queue's
    std::condition_variable cv;
    State state = kWaiting;
  };

  std::string dir_;
  FsBackendOptions options_;
  int lock_fd_ = -1;
  ReapReport reap_;
  std::atomic<uint64_t> inline_seq_{0};  // NextInlineBlobId's counter
  std::mutex mu_;  // guards db_ (one SQLite connection)
  std::mutex queue_mu_;  // guards writers_; never held with mu_
  std::deque<std::shared_ptr<Writer>> writers_;
  // The committer thread: leads batches whose front writer is asynchronous (no thread of
  // its own waits for it). Started at the first such hand-over.
  std::mutex committer_mu_;  // guards the three below; never held with mu_ or queue_mu_
  std::condition_variable committer_cv_;
  bool committer_wanted_ = false;
  bool committer_stop_ = false;
  std::thread committer_;
  // The replier thread: calls the `done` of the asynchronous writers of the batches the
  // committer led, so that the committer starts the next batch at once.
  void ReplierLoop();
  std::mutex replier_mu_;  // guards the three below; taken alone
  std::condition_variable replier_cv_;
  std::deque<std::shared_ptr<Writer>> replies_;
  bool replier_stop_ = false;
  bool replier_sleeping_ = false;
  std::thread replier_;
  // The checkpointer thread (started at open): runs PASSIVE checkpoints on a connection of
  // its own when a commit tells it the WAL has grown (OnWalCommit, SQLite's WAL hook on db_).
  static int WalHook(void* self, ::sqlite3* db, const char* name, int pages);
  void OnWalCommit(int pages);  // REQUIRES: mu_ held (it runs at the end of a db_ commit)
  void CheckpointerLoop();
  int wal_next_checkpoint_ = 0;  // guarded by mu_: WAL size at which to wake the checkpointer
  int wal_last_pages_ = 0;       // guarded by mu_: the WAL's size at the last commit
  std::mutex checkpoint_mu_;     // guards the four below; taken alone (or under mu_)
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;
  bool checkpoint_stop_ = false;
  CheckpointCounts checkpoints_;
  std::unique_ptr<Db> checkpoint_db_;  // the checkpointer's connection
  std::thread checkpointer_;
  std::unique_ptr<Db> db_;
  std::mutex readers_mu_;                      // guards readers_
  std::vector<std::unique_ptr<Db>> readers_;  // idle read connections (query_only)
};

}  // namespace euca::objects
