#pragma once
// The filesystem ObjectBackend: blobs are files named by random ids under the data
// directory, metadata is a SQLite database beside them (WAL). Layout, schema and the crash
// rules: docs/walrus-format.md.
//
// Several processes may open one data directory: SQLite serializes their metadata writes,
// and a file lock (`LOCK`, shared while open) lets only a process that finds the directory
// unused reap leftovers, so no one deletes another process's write in progress.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "drivers/objects/backend.h"

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
inline constexpr int kWalrusSchemaVersion = 2;

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
  /// Writes an in-database blob (`data` set) to a blob file of the same id: temp, fsync,
  /// rename. Returns the file blob.
  Result<BlobRef> WriteBlobFile(const BlobRef& blob);
  /// Deletes blob files (after the metadata that referenced them is gone). Best effort:
  /// a blob left behind is an orphan the next exclusive open reaps.
  void DeleteBlobs(const std::vector<BlobRef>& blobs);
  /// Runs `fn` inside BEGIN IMMEDIATE ... COMMIT; rolls back if it fails. REQUIRES: mu_ held.
  template <typename Fn>
  Status InTxnLocked(Fn&& fn);
  /// Runs `fn` in a transaction, committed together with those of concurrent callers (group
  /// commit: one fsync for all); `fn`'s changes are rolled back alone if it fails, and all
  /// are if the commit fails. Returns `fn`'s status (or the commit's). `fn` runs on another
  /// caller's thread, under mu_. REQUIRES: mu_ not held.
  Status Transact(const std::function<Status()>& fn);

  /// A read connection leased from the pool (opened when none is idle), handed back when the
  /// lease ends. Lookups on the request path (GetBucket, GetObject, OpenObject) use these,
  /// not db_: db_'s mutex is held through a commit's fsync, and WAL readers need not wait
  /// for it. A reader sees every transaction committed before its statement (or BEGIN).
  class ReadLease;
  Result<ReadLease> LeaseReader();

  // A caller queued for Transact.
  struct Writer {
    enum State { kWaiting, kLead, kDone };
    const std::function<Status()>* fn = nullptr;
    Status status = Status::Ok();  // written by the leader before `state` becomes kDone
    std::mutex mu;                 // guards `state`: the writer's own, not the queue's
    std::condition_variable cv;
    State state = kWaiting;
  };

  std::string dir_;
  FsBackendOptions options_;
  int lock_fd_ = -1;
  ReapReport reap_;
  std::mutex mu_;  // guards db_ (one SQLite connection)
  std::mutex queue_mu_;  // guards writers_; never held with mu_
  std::deque<std::shared_ptr<Writer>> writers_;
  std::unique_ptr<Db> db_;
  std::mutex readers_mu_;                      // guards readers_
  std::vector<std::unique_ptr<Db>> readers_;  // idle read connections (query_only)
};

}  // namespace euca::objects
