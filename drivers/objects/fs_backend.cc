#include "drivers/objects/fs_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/base/random.h"
#include "drivers/objects/wal_write_buffer.h"

namespace euca::objects {
namespace {

constexpr char kFormat[] = "euca-walrus";
constexpr int kOpenRetries = 20;  // reads racing a replace of the same key

// The schema of version 1 (docs/walrus-format.md). Keys are BLOBs so that NULs survive and
// ordering is memcmp, S3's byte order.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE buckets(
  name TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  owner_name TEXT NOT NULL,
  location TEXT NOT NULL,
  acl TEXT NOT NULL,
  created_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE objects(
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  content_type BLOB NOT NULL,
  metadata BLOB NOT NULL,
  headers BLOB NOT NULL,
  owner_id TEXT NOT NULL,
  owner_name TEXT NOT NULL,
  acl TEXT NOT NULL,
  modified_ms INTEGER NOT NULL,
  generation TEXT NOT NULL,
  parts INTEGER NOT NULL,
  blobs TEXT NOT NULL,
  UNIQUE (bucket, key));
CREATE TABLE uploads(
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  owner_id TEXT NOT NULL,
  owner_name TEXT NOT NULL,
  initiator_id TEXT NOT NULL,
  initiator_name TEXT NOT NULL,
  content_type BLOB NOT NULL,
  metadata BLOB NOT NULL,
  headers BLOB NOT NULL,
  acl TEXT NOT NULL,
  initiated_ms INTEGER NOT NULL);
CREATE INDEX uploads_by_key ON uploads(bucket, key, upload_id);
CREATE TABLE parts(
  upload_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  modified_ms INTEGER NOT NULL,
  PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
)sql";

// Version 2 adds small blobs kept in the database (kInlineBlobMax).
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE inline_blobs(id TEXT PRIMARY KEY, data BLOB NOT NULL);
)sql";

// Version 3 adds the additional checksums (x-amz-checksum-*) of objects, uploads and parts;
// rows written before hold none ('').
constexpr char kSchemaV3[] = R"sql(
ALTER TABLE objects ADD COLUMN checksum TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN part_checksums TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN checksum_algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN checksum_type TEXT NOT NULL DEFAULT '';
ALTER TABLE parts ADD COLUMN checksum TEXT NOT NULL DEFAULT '';
)sql";

constexpr char kObjectColumns[] =
    "bucket, key, size, etag, content_type, metadata, headers, owner_id, owner_name, acl, modified_ms, "
    "generation, parts, blobs, checksum, part_checksums";
constexpr char kUploadColumns[] =
    "upload_id, bucket, key, owner_id, owner_name, initiator_id, initiator_name, content_type, metadata, "
    "headers, acl, initiated_ms, checksum_algorithm, checksum_type";

// Words (base64 values, which hold no space) joined by single spaces, and split again.
std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}
std::vector<std::string> SplitWords(const std::string& text) {
  std::vector<std::string> out;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find(' ', at);
    if (end == std::string::npos) end = text.size();
    if (end > at) out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

// Pairs as netstrings: "<len>:<bytes>," for name then value, repeated. Binary-safe.
std::string EncodePairs(const Pairs& pairs) {
  std::string out;
  for (const auto& [n, v] : pairs) {
    for (const std::string* s : {&n, &v}) {
      out += std::to_string(s->size());
      out += ':';
      out += *s;
      out += ',';
    }
  }
  return out;
}

Result<Pairs> DecodePairs(std::string_view in) {
  Pairs out;
  std::vector<std::string> items;
  size_t i = 0;
  while (i < in.size()) {
    size_t colon = in.find(':', i);
    if (colon == std::string_view::npos || colon == i || colon - i > 10) return Internal("corrupt metadata column");
    size_t len = 0;
    for (size_t j = i; j < colon; ++j) {
      if (in[j] < '0' || in[j] > '9') return Internal("corrupt metadata column");
      len = len * 10 + static_cast<size_t>(in[j] - '0');
    }
    if (colon + 1 + len >= in.size() || in[colon + 1 + len] != ',') return Internal("corrupt metadata column");
    items.emplace_back(in.substr(colon + 1, len));
    i = colon + 2 + len;
  }
  if (items.size() % 2) return Internal("corrupt metadata column");
  for (size_t k = 0; k < items.size(); k += 2) out.emplace_back(std::move(items[k]), std::move(items[k + 1]));
  return out;
}

// Blob lists as "id:size id:size".
std::string EncodeBlobs(const std::vector<BlobRef>& blobs) {
  std::string out;
  for (const auto& b : blobs) {
    if (!out.empty()) out += ' ';
    out += b.id + ":" + std::to_string(b.size);
    if (b.in_db) out += ":db";
  }
  return out;
}

Result<std::vector<BlobRef>> DecodeBlobs(std::string_view in) {
  std::vector<BlobRef> out;
  size_t i = 0;
  while (i < in.size()) {
    size_t end = in.find(' ', i);
    if (end == std::string_view::npos) end = in.size();
    std::string_view item = in.substr(i, end - i);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos || !IsBlobId(item.substr(0, colon))) return Internal("corrupt blobs column");
    BlobRef ref{std::string(item.substr(0, colon)), 0};
    std::string_view size_text = item.substr(colon + 1);
    if (size_text.size() > 3 && size_text.substr(size_text.size() - 3) == ":db") {
      ref.in_db = true;
      size_text.remove_suffix(3);
    }
    if (size_text.empty()) return Internal("corrupt blobs column");
    for (char c : size_text) {
      if (c < '0' || c > '9') return Internal("corrupt blobs column");
      ref.size = ref.size * 10 + static_cast<uint64_t>(c - '0');
    }
    out.push_back(std::move(ref));
    i = end + 1;
  }
  return out;
}

Status SqliteError(sqlite3* db, const std::string& path, int rc) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  Code code = Code::kInternal;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) code = Code::kUnavailable;
  if (primary == SQLITE_FULL) code = Code::kResourceExhausted;
  if (primary == SQLITE_READONLY || primary == SQLITE_PERM) code = Code::kPermissionDenied;
  return Status(code, "'" + path + "': " + msg);
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open directory '" + dir + "'", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("sync directory '" + dir + "'", err);
  return Status::Ok();
}

Result<std::vector<std::string>> ListNames(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return ErrnoStatus("open directory '" + dir + "'", errno);
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(d);
  return out;
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus("mkdir '" + path + "'", errno);
  return Status::Ok();
}

}  // namespace

// One SQLite connection and its prepared-statement helper. REQUIRES: the backend's mu_ (for db_),
// or a ReadLease of it (a read connection).
struct FsBackend::Db {
  sqlite3* db = nullptr;
  std::string path;
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // Statements done with, reset, by SQL text: every request runs the same few queries, and
  // compiling one costs more than running it.
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> idle;
  static constexpr size_t kMaxIdle = 64;

  ~Db() {
    for (auto& [sql, st] : idle) sqlite3_finalize(st);
    if (db) sqlite3_close_v2(db);
  }

  void Recycle(sqlite3_stmt* st) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    const char* sql = sqlite3_sql(st);
    if (!sql || idle.size() >= kMaxIdle || !idle.emplace(sql, st).second) sqlite3_finalize(st);
  }

  Status Error(int rc) const { return SqliteError(db, path, rc); }

  Status Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      Status s = Error(rc);
      if (err) s = Status(s.code(), "'" + path + "': " + err);
      sqlite3_free(err);
      return s;
    }
    return Status::Ok();
  }

  class Stmt {
   public:
    Stmt(Db* db, sqlite3_stmt* st) : db_(db), st_(st) {}
    Stmt(Stmt&& o) noexcept : db_(o.db_), st_(o.st_) { o.st_ = nullptr; }
    Stmt& operator=(Stmt&&) = delete;
    ~Stmt() {
      if (st_) db_->Recycle(st_);
    }
    Stmt& Text(int i, std::string_view v) {
      sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      return *this;
    }
    Stmt& Blob(int i, std::string_view v) {
      // A non-null pointer, so that an empty value is a zero-length blob, not NULL.
      sqlite3_bind_blob(st_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      return *this;
    }
    Stmt& Int(int i, int64_t v) {
      sqlite3_bind_int64(st_, i, v);
      return *this;
    }
    Result<bool> Step() {
      int rc = sqlite3_step(st_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      return db_->Error(rc);
    }
    Status Run() {
      auto r = Step();
      return r.ok() ? Status::Ok() : r.status();
    }
    std::string Col(int c) const {
      const void* p = sqlite3_column_blob(st_, c);
      int n = sqlite3_column_bytes(st_, c);
      return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
    }
    int64_t ColInt(int c) const { return sqlite3_column_int64(st_, c); }

   private:
    Db* db_;
    sqlite3_stmt* st_;
  };

  /// Runs one statement without results through the statement cache (BEGIN, COMMIT, ...).
  Status Run(std::string_view sql) {
    EUCA_ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
    return st.Run();
  }

  Result<Stmt> Prepare(std::string_view sql) {
    if (auto it = idle.find(sql); it != idle.end()) {
      sqlite3_stmt* st = it->second;
      idle.erase(it);  // in use now: a second Prepare of the same text meanwhile gets its own
      return Stmt(this, st);
    }
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &st, nullptr);
    if (rc != SQLITE_OK) return Error(rc);
    return Stmt(this, st);
  }


  /// Every remaining row of `st`, each read by `read` (returning Result<T>).
  template <typename T>
  static Result<std::vector<T>> ReadRows(Stmt& st, Result<T> (*read)(const Stmt&)) {
    std::vector<T> out;
    for (;;) {
      EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      EUCA_ASSIGN_OR_RETURN(T item, read(st));
      out.push_back(std::move(item));
    }
    return out;
  }

  static Result<ObjectRecord> ReadObject(const Stmt& st) {
    ObjectRecord r;
    r.bucket = st.Col(0);
    r.key = st.Col(1);
    r.size = static_cast<uint64_t>(st.ColInt(2));
    r.etag = st.Col(3);
    r.content_type = st.Col(4);
    EUCA_ASSIGN_OR_RETURN(r.metadata, DecodePairs(st.Col(5)));
    EUCA_ASSIGN_OR_RETURN(r.headers, DecodePairs(st.Col(6)));
    r.owner_id = st.Col(7);
    r.owner_name = st.Col(8);
    r.acl = st.Col(9);
    r.modified_ms = st.ColInt(10);
    r.generation = st.Col(11);
    r.parts = static_cast<uint32_t>(st.ColInt(12));
    EUCA_ASSIGN_OR_RETURN(r.blobs, DecodeBlobs(st.Col(13)));
    r.checksum = st.Col(14);
    r.part_checksums = SplitWords(st.Col(15));
    return r;
  }

  static Result<UploadRecord> ReadUpload(const Stmt& st) {
    UploadRecord u;
    u.upload_id = st.Col(0);
    u.bucket = st.Col(1);
    u.key = st.Col(2);
    u.owner_id = st.Col(3);
    u.owner_name = st.Col(4);
    u.initiator_id = st.Col(5);
    u.initiator_name = st.Col(6);
    u.content_type = st.Col(7);
    EUCA_ASSIGN_OR_RETURN(u.metadata, DecodePairs(st.Col(8)));
    EUCA_ASSIGN_OR_RETURN(u.headers, DecodePairs(st.Col(9)));
    u.acl = st.Col(10);
    u.initiated_ms = st.ColInt(11);
    u.checksum_algorithm = st.Col(12);
    u.checksum_type = st.Col(13);
    return u;
  }

  Result<bool> BucketExists(const std::string& name) {
    EUCA_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT 1 FROM buckets WHERE name = ?1"));
    st.Text(1, name);
    return st.Step();
  }

  Result<std::optional<ObjectRecord>> FindObject(const std::string& bucket, const std::string& key) {
    EUCA_ASSIGN_OR_RETURN(
        Stmt st, Prepare(std::string("SELECT ") + kObjectColumns + " FROM objects WHERE bucket = ?1 AND key = ?2"));
    st.Text(1, bucket).Blob(2, key);
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<ObjectRecord>();
    EUCA_ASSIGN_OR_RETURN(ObjectRecord r, ReadObject(st));
    return std::optional<ObjectRecord>(std::move(r));
  }

  // In-database blobs (kInlineBlobMax): stored with the row that references them, dropped
  // with the row that stops referencing them, in the same transaction.
  Status InsertInlineBlobs(const std::vector<BlobRef>& blobs) {
    for (const auto& b : blobs) {
      if (!b.in_db) continue;
      if (!b.data) return Internal("in-database blob '" + b.id + "' has no bytes to store");
      EUCA_ASSIGN_OR_RETURN(Stmt st, Prepare("INSERT INTO inline_blobs(id, data) VALUES(?1, ?2)"));
      st.Text(1, b.id).Blob(2, *b.data);
      EUCA_RETURN_IF_ERROR(st.Run());
    }
    return Status::Ok();
  }
  Status DeleteInlineBlobs(const std::vector<BlobRef>& blobs) {
    for (const auto& b : blobs) {
      if (!b.in_db) continue;
      EUCA_ASSIGN_OR_RETURN(Stmt st, Prepare("DELETE FROM inline_blobs WHERE id = ?1"));
      st.Text(1, b.id);
      EUCA_RETURN_IF_ERROR(st.Run());
    }
    return Status::Ok();
  }
  Result<std::shared_ptr<const std::string>> LoadInlineBlob(const BlobRef& b) {
    EUCA_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT data FROM inline_blobs WHERE id = ?1"));
    st.Text(1, b.id);
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Internal("in-database blob '" + b.id + "' is missing from '" + path + "'");
    auto data = std::make_shared<const std::string>(st.Col(0));
    if (data->size() != b.size) return Internal("in-database blob '" + b.id + "' is shorter than recorded");
    return data;
  }

  Status InsertObject(const ObjectRecord& r) {
    EUCA_ASSIGN_OR_RETURN(Stmt st, Prepare(std::string("INSERT OR REPLACE INTO objects(") + kObjectColumns +
                                           ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"));
    st.Text(1, r.bucket).Blob(2, r.key).Int(3, static_cast<int64_t>(r.size)).Text(4, r.etag);
    st.Blob(5, r.content_type).Blob(6, EncodePairs(r.metadata)).Blob(7, EncodePairs(r.headers));
    st.Text(8, r.owner_id).Text(9, r.owner_name).Text(10, r.acl).Int(11, r.modified_ms).Text(12, r.generation);
    st.Int(13, r.parts).Text(14, EncodeBlobs(r.blobs)).Text(15, r.checksum).Text(16, JoinWords(r.part_checksums));
    return st.Run();
  }

  Result<std::vector<PartRecord>> Parts(const std::string& upload_id) {
    EUCA_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT part_number, blob, size, etag, modified_ms, checksum FROM parts "
                                           "WHERE upload_id = ?1 ORDER BY part_number"));
    st.Text(1, upload_id);
    std::vector<PartRecord> out;
    for (;;) {
      EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      PartRecord p;
      p.part_number = static_cast<int>(st.ColInt(0));
      p.blob = {st.Col(1), static_cast<uint64_t>(st.ColInt(2))};
      p.etag = st.Col(3);
      p.modified_ms = st.ColInt(4);
      p.checksum = st.Col(5);
      out.push_back(std::move(p));
    }
    return out;
  }

  Result<std::optional<UploadRecord>> FindUpload(const std::string& upload_id) {
    EUCA_ASSIGN_OR_RETURN(Stmt st,
                          Prepare(std::string("SELECT ") + kUploadColumns + " FROM uploads WHERE upload_id = ?1"));
    st.Text(1, upload_id);
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<UploadRecord>();
    EUCA_ASSIGN_OR_RETURN(UploadRecord u, ReadUpload(st));
    return std::optional<UploadRecord>(std::move(u));
  }

  Status DropUpload(const std::string& upload_id) {
    EUCA_ASSIGN_OR_RETURN(Stmt a, Prepare("DELETE FROM parts WHERE upload_id = ?1"));
    a.Text(1, upload_id);
    EUCA_RETURN_IF_ERROR(a.Run());
    EUCA_ASSIGN_OR_RETURN(Stmt b, Prepare("DELETE FROM uploads WHERE upload_id = ?1"));
    b.Text(1, upload_id);
    return b.Run();
  }
};

// Keeps up to kInlineBlobMax bytes in memory; past that, writes into tmp/<id>.tmp and Commit
// renames it to blobs/<id[0:2]>/<id>. A blob that stayed small commits as an in-database
// blob: PutObject stores its bytes in the same transaction as the object's row.
//
// With sync and direct_io on, the file is written with O_DIRECT: a chunk whose address is
// kDirectIoAlign-aligned goes to the disk from the caller's buffer (its aligned length, when
// nothing is staged); other bytes are staged in an aligned buffer of kStageBytes and written
// when it fills. Commit writes the staged rest padded to a block and truncates the padding.
// Where the filesystem refuses O_DIRECT the writes are buffered, as with direct_io off.
class FsBlobWriter final : public BlobWriter {
 public:
  FsBlobWriter(FsBackend* backend, std::string id, std::string tmp)
      : backend_(backend), id_(std::move(id)), tmp_(std::move(tmp)) {}
  ~FsBlobWriter() override { Abort(); }

  Status Write(std::string_view chunk) override {
    if (done_) return Internal("write to a finished blob writer");
    if (fd_ < 0 && pending_.size() + chunk.size() <= backend_->options_.inline_max_bytes) {
      pending_.append(chunk);
      size_ += chunk.size();
      return Status::Ok();
    }
    if (fd_ < 0) {
      EUCA_RETURN_IF_ERROR(Open());
      std::string spilled = std::move(pending_);
      pending_.clear();
      EUCA_RETURN_IF_ERROR(WriteData(spilled));
    }
    EUCA_RETURN_IF_ERROR(WriteData(chunk));
    size_ += chunk.size();
    StartWriteback();
    return Status::Ok();
  }

  uint64_t size() const override { return size_; }

  Result<BlobRef> Commit() override {
    if (done_) return Internal("commit of a finished blob writer");
    if (fd_ < 0) {
      done_ = true;
      BlobRef ref{backend_->NextInlineBlobId(), size_};
      ref.in_db = true;
      ref.data = std::make_shared<const std::string>(std::move(pending_));
      return ref;
    }
    if (Status s = FlushStage(); !s.ok()) {
      Abort();
      return s;
    }
    if (Status s = StopFlusher(); !s.ok()) {
      Abort();
      return s;
    }
    if (backend_->options_.sync && ::fsync(fd_) != 0) {
      Status s = ErrnoStatus("sync '" + tmp_ + "'", errno);
      Abort();
      return s;
    }
    done_ = true;
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      Status s = ErrnoStatus("close '" + tmp_ + "'", errno);
      ::unlink(tmp_.c_str());
      return s;
    }
    std::string final_path = backend_->BlobPath(id_);
    if (::rename(tmp_.c_str(), final_path.c_str()) != 0) {
      Status s = ErrnoStatus("rename '" + tmp_ + "' to '" + final_path + "'", errno);
      ::unlink(tmp_.c_str());
      return s;
    }
    if (backend_->options_.sync) {
      Status s = FsyncDir(final_path.substr(0, final_path.rfind('/')));
      if (!s.ok()) {
        ::unlink(final_path.c_str());
        return s;
      }
    }
    return BlobRef{id_, size_};
  }

  void Abort() override {
    done_ = true;
    pending_.clear();
    if (fd_ < 0) return;
    (void)StopFlusher();
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_.c_str());
  }

 private:
  static constexpr size_t kStageBytes = size_t{1} << 20;
  static_assert(kStageBytes % kDirectIoAlign == 0);

  struct FreeAligned {
    void operator()(char* p) const { std::free(p); }
  };

  Status Open() {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      done_ = true;
      return ErrnoStatus("create '" + tmp_ + "'", errno);
    }
    // Set after the open: an open with O_DIRECT that the filesystem refuses may already have
    // created the file. EINVAL here means no O_DIRECT on this filesystem: buffered, then.
    if (backend_->options_.sync && backend_->options_.direct_io) {
      int flags = ::fcntl(fd_, F_GETFL);
      direct_ = flags >= 0 && ::fcntl(fd_, F_SETFL, flags | O_DIRECT) == 0;
    }
    return Status::Ok();
  }

  static bool Aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kDirectIoAlign == 0; }

  Status WriteData(std::string_view chunk) {
    while (!chunk.empty()) {
      if (!direct_) {  // from the start, or since a write fell back to buffered
        EUCA_RETURN_IF_ERROR(FlushStage());
        return WriteFd(chunk);
      }
      // From the caller's buffer: only when nothing is staged (the file offset stays aligned).
      if (staged_ == 0 && Aligned(chunk.data()) && chunk.size() >= kDirectIoAlign) {
        size_t whole = chunk.size() - chunk.size() % kDirectIoAlign;
        EUCA_RETURN_IF_ERROR(WriteFd(chunk.substr(0, whole)));
        chunk.remove_prefix(whole);
        continue;
      }
      if (!stage_) {
        stage_.reset(static_cast<char*>(std::aligned_alloc(kDirectIoAlign, kStageBytes)));
        if (!stage_) return ResourceExhausted("no memory for a write buffer of '" + tmp_ + "'");
      }
      size_t k = std::min(chunk.size(), kStageBytes - staged_);
      std::memcpy(stage_.get() + staged_, chunk.data(), k);
      staged_ += k;
      chunk.remove_prefix(k);
      if (staged_ == kStageBytes) {
        EUCA_RETURN_IF_ERROR(WriteFd(std::string_view(stage_.get(), kStageBytes)));
        staged_ = 0;
      }
    }
    return Status::Ok();
  }

  // Writes what is staged; with O_DIRECT zero-padded to a whole block, and then (at Commit,
  // the only time a direct write is short of a block) the file is cut to the blob's size.
  Status FlushStage() {
    if (staged_ == 0) return Status::Ok();
    size_t len = staged_;
    if (direct_) {
      len = (staged_ + kDirectIoAlign - 1) / kDirectIoAlign * kDirectIoAlign;
      std::memset(stage_.get() + staged_, 0, len - staged_);
    }
    const bool padded = len != staged_;
    EUCA_RETURN_IF_ERROR(WriteFd(std::string_view(stage_.get(), len)));
    staged_ = 0;
    if (padded && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0)
      return ErrnoStatus("truncate '" + tmp_ + "'", errno);
    return Status::Ok();
  }

  // With sync on, gets the bytes written so far on their way to stable storage while the body
  // is still arriving, so that the fsync at Commit finds little left to flush. Durability
  // still rests on that fsync.
  //  - Buffered writes: asks the kernel to start writing each full window back
  //    (sync_file_range, no waiting).
  //  - O_DIRECT writes have nothing to write back, but they may sit in the disk's volatile
  //    cache (here: a virtual disk whose host caches writes), and the final fsync's cache
  //    flush then waits for all of them: 0.3-0.6 s for 1 GiB. So after each
  //    flush_window_bytes of direct writes a flusher thread of this writer runs fdatasync,
  //    one at a time, while the writes go on.
  void StartWriteback() {
    if (!backend_->options_.sync) return;
    if (direct_) {
      const uint64_t window = backend_->options_.flush_window_bytes;
      if (window == 0 || size_ - flush_requested_ < window) return;
      flush_requested_ = size_;
      std::lock_guard<std::mutex> lock(flush_mu_);
      if (!flusher_.joinable()) flusher_ = std::thread([this] { Flusher(); });
      flush_wanted_ = true;
      flush_cv_.notify_one();
      return;
    }
#ifdef SYNC_FILE_RANGE_WRITE
    while (size_ - written_back_ >= kWritebackWindow) {
      (void)::sync_file_range(fd_, static_cast<off_t>(written_back_), static_cast<off_t>(kWritebackWindow),
                              SYNC_FILE_RANGE_WRITE);
      written_back_ += kWritebackWindow;
    }
#endif
  }

  // The flusher thread: an fdatasync each time one is wanted, until told to stop.
  void Flusher() {
    std::unique_lock<std::mutex> lock(flush_mu_);
    for (;;) {
      flush_cv_.wait(lock, [this] { return flush_wanted_ || flush_stop_; });
      if (flush_stop_) return;
      flush_wanted_ = false;
      lock.unlock();
      const auto& hook = backend_->options_.datasync_for_test;
      int rc = hook ? hook(fd_) : ::fdatasync(fd_);
      int err = errno;
      lock.lock();
      // A write error is reported once per open file: keep it for Commit, which must fail.
      if (rc != 0 && err != EINTR && flush_error_.ok()) flush_error_ = ErrnoStatus("sync '" + tmp_ + "'", err);
    }
  }

  // Stops and joins the flusher (a flush in progress finishes first); the error of any
  // background flush.
  Status StopFlusher() {
    {
      std::lock_guard<std::mutex> lock(flush_mu_);
      if (!flusher_.joinable()) return flush_error_;
      flush_stop_ = true;
      flush_cv_.notify_one();
    }
    flusher_.join();
    return flush_error_;
  }

  static constexpr uint64_t kWritebackWindow = 8u << 20;

  Status WriteFd(std::string_view chunk) {
    while (!chunk.empty()) {
      const auto& hook = backend_->options_.write_for_test;
      ssize_t n = hook ? hook(fd_, chunk.data(), chunk.size(), direct_) : ::write(fd_, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        // A device whose direct I/O wants larger blocks than kDirectIoAlign: buffered, then.
        if (errno == EINVAL && direct_ && DropDirect()) continue;
        return ErrnoStatus("write '" + tmp_ + "'", errno);
      }
      chunk.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  bool DropDirect() {
    int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) return false;
    direct_ = false;
    return true;
  }

  FsBackend* backend_;
  std::string id_;
  std::string tmp_;
  int fd_ = -1;
  bool done_ = false;
  bool direct_ = false;  // fd_ has O_DIRECT
  std::string pending_;  // the bytes while the blob is small enough to stay in memory
  uint64_t size_ = 0;
  uint64_t written_back_ = 0;  // bytes whose writeback was started
  uint64_t flush_requested_ = 0;  // O_DIRECT: size_ when the last background flush was asked for
  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  std::thread flusher_;       // started by the first flush_window_bytes of direct writes
  bool flush_wanted_ = false;  // guarded by flush_mu_, as are the two below
  bool flush_stop_ = false;
  Status flush_error_;
  std::unique_ptr<char, FreeAligned> stage_;  // O_DIRECT: bytes not yet written, kStageBytes
  size_t staged_ = 0;
};

namespace {

class FsReader final : public ObjectReader {
 public:
  FsReader(ObjectRecord record, std::vector<int> fds) : record_(std::move(record)), fds_(std::move(fds)) {}
  ~FsReader() override {
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  const ObjectRecord& record() const override { return record_; }

  Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
    size_t done = 0;
    uint64_t base = 0;
    for (size_t i = 0; i < fds_.size() && done < n; ++i) {
      uint64_t size = record_.blobs[i].size;
      uint64_t end = base + size;
      if (fds_[i] < 0 && done < n && offset + done < end) {  // an in-database blob
        uint64_t in = offset + done - base;
        size_t want = static_cast<size_t>(std::min<uint64_t>(n - done, size - in));
        std::memcpy(buf + done, record_.blobs[i].data->data() + in, want);
        done += want;
      }
      while (fds_[i] >= 0 && done < n && offset + done < end) {
        uint64_t in = offset + done - base;
        size_t want = static_cast<size_t>(std::min<uint64_t>(n - done, size - in));
        ssize_t got = ::pread(fds_[i], buf + done, want, static_cast<off_t>(in));
        if (got < 0) {
          if (errno == EINTR) continue;
          return ErrnoStatus("read blob '" + record_.blobs[i].id + "'", errno);
        }
        if (got == 0) return Internal("blob '" + record_.blobs[i].id + "' is shorter than recorded");
        done += static_cast<size_t>(got);
      }
      base = end;
    }
    return done;
  }

  std::vector<FileRange> FileRanges(uint64_t offset, uint64_t length) const override {
    std::vector<FileRange> out;
    uint64_t base = 0;
    for (size_t i = 0; i < fds_.size() && length > 0; ++i) {
      uint64_t size = record_.blobs[i].size;
      if (offset < base + size) {
        if (fds_[i] < 0) return {};  // bytes in memory: the caller reads them with ReadAt
        uint64_t in = offset - base;
        uint64_t take = std::min(length, size - in);
        out.push_back({fds_[i], in, take});
        offset += take;
        length -= take;
      }
      base += size;
    }
    return out;
  }

 private:
  ObjectRecord record_;
  std::vector<int> fds_;
};

}  // namespace

Result<std::unique_ptr<FsBackend>> OpenFsBackend(const std::string& dir, const FsBackendOptions& options) {
  std::unique_ptr<FsBackend> backend(new FsBackend(dir, options));
  EUCA_RETURN_IF_ERROR(backend->Open());
  return backend;
}

FsBackend::FsBackend(std::string dir, FsBackendOptions options) : dir_(std::move(dir)), options_(options) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

FsBackend::~FsBackend() {
  {
    std::lock_guard lock(committer_mu_);
    committer_stop_ = true;
    committer_cv_.notify_one();
  }
  if (committer_.joinable()) committer_.join();
  {
    std::lock_guard lock(replier_mu_);
    replier_stop_ = true;
  }
  replier_cv_.notify_one();
  if (replier_.joinable()) replier_.join();  // after the last replies
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_stop_ = true;
  }
  checkpoint_cv_.notify_one();
  if (checkpointer_.joinable()) checkpointer_.join();
  checkpoint_db_.reset();
  readers_.clear();
  db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the shared lock
}

std::string FsBackend::BlobPath(const std::string& id) const { return dir_ + "/blobs/" + id.substr(0, 2) + "/" + id; }

Status FsBackend::Open() {
  // Directories: the data dir itself, tmp/ and the 256 blob shards, all 0700.
  {
    std::string partial;
    for (size_t i = 0; i <= dir_.size(); ++i) {
      if (i == dir_.size() || (dir_[i] == '/' && i > 0)) {
        partial = dir_.substr(0, i);
        EUCA_RETURN_IF_ERROR(MakeDir(partial));
      }
    }
  }
  EUCA_RETURN_IF_ERROR(MakeDir(dir_ + "/tmp"));
  EUCA_RETURN_IF_ERROR(MakeDir(dir_ + "/blobs"));
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    std::string shard = {kHex[i >> 4], kHex[i & 15]};
    EUCA_RETURN_IF_ERROR(MakeDir(dir_ + "/blobs/" + shard));
  }

  std::string lock_path = dir_ + "/LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return ErrnoStatus("open '" + lock_path + "'", errno);
  bool exclusive = ::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0;

  db_ = std::make_unique<Db>();
  db_->path = dir_ + "/walrus.db";
  // The one writer connection gathers each commit's WAL writes into one write(2)
  // (wal_write_buffer.h), which needs synchronous=FULL: only with sync on.
  int rc = sqlite3_open_v2(db_->path.c_str(), &db_->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           options_.sync ? WalWriteBufferVfs() : nullptr);
  if (rc != SQLITE_OK) return db_->Error(rc);
  ::chmod(db_->path.c_str(), 0600);
  sqlite3_extended_result_codes(db_->db, 1);
  sqlite3_busy_timeout(db_->db, 30000);
  EUCA_RETURN_IF_ERROR(db_->Exec("PRAGMA journal_mode=WAL"));
  EUCA_RETURN_IF_ERROR(db_->Exec(options_.sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF"));
  // No checkpoint inside a commit (SQLite's default runs one every 1,000 WAL pages, on the
  // committing thread, holding every writer of the group commit up): the WAL hook hands it
  // to the checkpointer thread instead, and bounds the WAL (OnWalCommit).
  EUCA_RETURN_IF_ERROR(db_->Exec("PRAGMA wal_autocheckpoint=0"));
  sqlite3_wal_hook(db_->db, &FsBackend::WalHook, this);

  {
    std::lock_guard lock(mu_);
    Status s = InTxnLocked([&]() -> Status {
      EUCA_ASSIGN_OR_RETURN(Db::Stmt v, db_->Prepare("PRAGMA user_version"));
      EUCA_ASSIGN_OR_RETURN(bool row, v.Step());
      int64_t version = row ? v.ColInt(0) : 0;
      if (version > kWalrusSchemaVersion)
        return Unsupported("'" + db_->path + "' has schema version " + std::to_string(version) +
                           ", newer than this euca understands (" + std::to_string(kWalrusSchemaVersion) +
                           "); use a newer euca");
      if (version == 0) {
        EUCA_ASSIGN_OR_RETURN(Db::Stmt t, db_->Prepare("SELECT count(*) FROM sqlite_master"));
        EUCA_ASSIGN_OR_RETURN(bool has, t.Step());
        if (has && t.ColInt(0) != 0)
          return Internal("'" + db_->path + "' is not a Walrus store (unknown tables); move it away");
        EUCA_RETURN_IF_ERROR(db_->Exec(kSchemaV1));
        EUCA_RETURN_IF_ERROR(db_->Exec(kSchemaV2));
        EUCA_RETURN_IF_ERROR(db_->Exec(kSchemaV3));
        EUCA_ASSIGN_OR_RETURN(Db::Stmt m, db_->Prepare("INSERT INTO meta(key, value) VALUES('format', ?1)"));
        m.Text(1, kFormat);
        EUCA_RETURN_IF_ERROR(m.Run());
        return db_->Exec("PRAGMA user_version=" + std::to_string(kWalrusSchemaVersion));
      }
      EUCA_ASSIGN_OR_RETURN(Db::Stmt f, db_->Prepare("SELECT value FROM meta WHERE key = 'format'"));
      auto row2 = f.Step();
      if (!row2.ok() || !*row2 || f.Col(0) != kFormat)
        return Internal("'" + db_->path + "' is not a Walrus store (no format marker); move it away");
      // Upgrades in place, in this transaction: version 2 only adds a table, version 3 only
      // columns with defaults.
      if (version == kWalrusSchemaVersion) return Status::Ok();
      if (version < 2) EUCA_RETURN_IF_ERROR(db_->Exec(kSchemaV2));
      if (version < 3) EUCA_RETURN_IF_ERROR(db_->Exec(kSchemaV3));
      return db_->Exec("PRAGMA user_version=" + std::to_string(kWalrusSchemaVersion));
    });
    EUCA_RETURN_IF_ERROR(s);
  }

  {
    // NextInlineBlobId goes on after the greatest id stored (stores of earlier versions hold
    // random ids: their counter may wrap, which costs locality, never uniqueness).
    std::lock_guard lock(mu_);
    EUCA_ASSIGN_OR_RETURN(Db::Stmt last, db_->Prepare("SELECT id FROM inline_blobs ORDER BY id DESC LIMIT 1"));
    EUCA_ASSIGN_OR_RETURN(bool row, last.Step());
    if (row) inline_seq_.store(std::strtoull(last.Col(0).substr(0, 16).c_str(), nullptr, 16) + 1);
  }

  // The checkpointer's connection (the database exists and is in WAL mode by now).
  checkpoint_db_ = std::make_unique<Db>();
  checkpoint_db_->path = db_->path;
  rc = sqlite3_open_v2(checkpoint_db_->path.c_str(), &checkpoint_db_->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                       nullptr);
  if (rc != SQLITE_OK) return checkpoint_db_->Error(rc);
  sqlite3_extended_result_codes(checkpoint_db_->db, 1);
  sqlite3_busy_timeout(checkpoint_db_->db, 30000);
  // Its synchronous setting decides whether a checkpoint fsyncs (the WAL before copying, the
  // database after): as the writer's.
  EUCA_RETURN_IF_ERROR(
      checkpoint_db_->Exec(options_.sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF"));
  EUCA_RETURN_IF_ERROR(checkpoint_db_->Exec("PRAGMA wal_autocheckpoint=0"));
  EUCA_RETURN_IF_ERROR(checkpoint_db_->Exec("SELECT count(*) FROM sqlite_master"));  // opens the WAL
  checkpointer_ = std::thread([this] { CheckpointerLoop(); });

  if (exclusive) {
    EUCA_RETURN_IF_ERROR(Reap());
    reap_.reaped = true;
  }
  // Stay open with a shared lock: the next opener will not reap while we live.
  while (::flock(lock_fd_, LOCK_SH) != 0) {
    if (errno != EINTR) return ErrnoStatus("lock '" + lock_path + "'", errno);
  }
  return Status::Ok();
}

Status FsBackend::Reap() {
  // Unfinished writes: every *.tmp in tmp/ (nobody else has the directory open).
  std::string tmp = dir_ + "/tmp";
  EUCA_ASSIGN_OR_RETURN(auto names, ListNames(tmp));
  for (const auto& name : names) {
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".tmp") != 0) continue;
    std::string path = tmp + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("remove '" + path + "'", errno);
    ++reap_.temp_files;
  }
  // Orphans: committed blobs that no object or part references (the process died between
  // the rename and the metadata commit, or before deleting a replaced version).
  std::unordered_set<std::string> referenced;
  {
    std::lock_guard lock(mu_);
    EUCA_ASSIGN_OR_RETURN(Db::Stmt o, db_->Prepare("SELECT blobs FROM objects"));
    for (;;) {
      EUCA_ASSIGN_OR_RETURN(bool row, o.Step());
      if (!row) break;
      EUCA_ASSIGN_OR_RETURN(auto blobs, DecodeBlobs(o.Col(0)));
      for (auto& b : blobs) referenced.insert(std::move(b.id));
    }
    EUCA_ASSIGN_OR_RETURN(Db::Stmt p, db_->Prepare("SELECT blob FROM parts"));
    for (;;) {
      EUCA_ASSIGN_OR_RETURN(bool row, p.Step());
      if (!row) break;
      referenced.insert(p.Col(0));
    }
  }
  {
    // In-database blobs die with their rows; any left unreferenced (none should be) go too.
    std::lock_guard lock(mu_);
    EUCA_ASSIGN_OR_RETURN(Db::Stmt q, db_->Prepare("SELECT id FROM inline_blobs"));
    std::vector<BlobRef> unreferenced;
    for (;;) {
      EUCA_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      std::string id = q.Col(0);
      if (!referenced.count(id)) unreferenced.push_back(BlobRef{id, 0, true, nullptr});
    }
    if (!unreferenced.empty()) {
      EUCA_RETURN_IF_ERROR(InTxnLocked([&] { return db_->DeleteInlineBlobs(unreferenced); }));
      reap_.orphan_blobs += unreferenced.size();
    }
  }
  EUCA_ASSIGN_OR_RETURN(auto shards, ListNames(dir_ + "/blobs"));
  for (const auto& shard : shards) {
    std::string sdir = dir_ + "/blobs/" + shard;
    auto files = ListNames(sdir);
    if (!files.ok()) continue;  // not a directory: not ours
    for (const auto& name : *files) {
      if (!IsBlobId(name) || name.compare(0, 2, shard) != 0 || referenced.count(name)) continue;
      std::string path = sdir + "/" + name;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("remove '" + path + "'", errno);
      ++reap_.orphan_blobs;
    }
  }
  return Status::Ok();
}

// Group commit (as LevelDB's writer queue): a writer queues itself; the one at the front
// leads, running every queued writer's function in one transaction, each under a savepoint
// of its own (a failing one is rolled back alone), then commits once: concurrent writers
// share one WAL fsync instead of taking turns at one each. The others wait to be told their
// result; when a batch is done the next writer in the queue leads the next batch.
//
// Asynchronous writers (TransactAsync, the PUTs of the S3 server) do not wait: their
// `done` is called by the leader of their batch. A batch whose front writer is asynchronous
// has no thread waiting to lead it, so the lead goes to the committer thread, which leads
// batch after batch while the queue has writers (under load, no hand-over at all) and
// sleeps when it empties. A writer that finds the queue empty leads on its own thread.
//
// Waking: a waiter sleeps on its own Writer's condition variable and mutex, not on
// queue_mu_: waiters woken under one shared mutex must all take it again, and with a batch
// woken at once (and new writers queueing) they collided on it, a second sleep and wake for
// many of them (on a 2-core machine a context switch costs more than a 4 KiB PUT's SQLite
// work). The leader sets each result, then the state under the writer's own mutex, then
// wakes it, outside queue_mu_. (Not std::atomic::wait: libstdc++ spins and yields before it
// sleeps, CPU that 16 waiting writers on 2 cores cannot spare.) Writers are shared between
// the queue and their thread, so a Writer outlives the leader's wake even if its thread has
// returned.
bool FsBackend::Enqueue(const std::shared_ptr<Writer>& w) {
  std::lock_guard queue_lock(queue_mu_);
  writers_.push_back(w);
  // At the front of an empty queue: no batch is running or about to, so this one leads.
  return writers_.size() == 1;
}

Status FsBackend::Transact(const std::function<Status()>& fn) {
  auto self = std::make_shared<Writer>();
  self->fn = &fn;
  if (!Enqueue(self)) {
    std::unique_lock own(self->mu);
    self->cv.wait(own, [&] { return self->state != Writer::kWaiting; });
    if (self->state == Writer::kDone) return self->status;
  }
  // The leader is at the front of the queue, so its batch holds it.
  LeadBatch(self.get(), /*committer=*/false);
  return self->status;
}

void FsBackend::TransactAsync(std::function<Status()> fn, std::function<void(Status)> done) {
  auto self = std::make_shared<Writer>();
  self->owned_fn = std::move(fn);
  self->fn = &self->owned_fn;
  self->done = std::move(done);
  // At the front of an empty queue it would lead, but its caller does not wait for the
  // commit (it may be a server's I/O thread, docs/http.md): the committer thread leads.
  if (Enqueue(self)) WakeCommitter();
}

void FsBackend::WakeCommitter() {
  std::lock_guard lock(committer_mu_);
  committer_wanted_ = true;
  if (!committer_.joinable()) committer_ = std::thread([this] { CommitterLoop(); });
  committer_cv_.notify_one();
}

bool FsBackend::LeadBatch(Writer* self, bool committer) {
  // This batch is everyone queued now (at most kMaxBatch).
  constexpr size_t kMaxBatch = 256;
  std::vector<std::shared_ptr<Writer>> batch;
  {
    std::lock_guard queue_lock(queue_mu_);
    for (const auto& w : writers_) {
      if (batch.size() == kMaxBatch) break;
      batch.push_back(w);
    }
  }
  {
    std::lock_guard lock(mu_);
    Status begun = db_->Run("BEGIN IMMEDIATE");
    bool any_ok = false;
    for (const auto& w : batch) {
      if (!begun.ok()) {
        w->status = begun;
        continue;
      }
      if (batch.size() == 1) {
        w->status = (*w->fn)();
      } else {
        Status s = db_->Run("SAVEPOINT w");
        if (s.ok()) s = (*w->fn)();
        if (s.ok()) {
          s = db_->Run("RELEASE w");
        } else {
          (void)db_->Run("ROLLBACK TO w");
          (void)db_->Run("RELEASE w");
        }
        w->status = s;
      }
      any_ok = any_ok || w->status.ok();
    }
    if (begun.ok()) {
      Status committed = Status::Ok();
      if (any_ok && options_.before_commit_for_test) committed = options_.before_commit_for_test();
      if (committed.ok()) committed = any_ok ? db_->Run("COMMIT") : db_->Run("ROLLBACK");
      if (any_ok && !committed.ok()) {
        (void)db_->Run("ROLLBACK");
        for (const auto& w : batch) {
          if (w->status.ok()) w->status = committed;
        }
      }
    }
  }
  std::shared_ptr<Writer> next;
  {
    std::lock_guard queue_lock(queue_mu_);
    for (size_t i = 0; i < batch.size(); ++i) writers_.pop_front();
    // Writers queued meanwhile waited (the queue was not empty); the first of them leads next.
    if (!writers_.empty()) next = writers_.front();
  }
  auto wake = [](Writer& w, Writer::State state) {
    {
      std::lock_guard own(w.mu);
      w.state = state;
    }
    w.cv.notify_one();
  };
  // The next batch first: its fsync need not wait for this batch's replies.
  bool again = false;
  if (next && !next->done) {
    wake(*next, Writer::kLead);
  } else if (next && committer) {
    again = true;
  } else if (next) {
    WakeCommitter();
  }
  std::vector<std::shared_ptr<Writer>> replies;
  for (const auto& w : batch) {
    if (w.get() == self) continue;
    if (!w->done) {
      wake(*w, Writer::kDone);
    } else if (again) {
      replies.push_back(w);  // the replier's: this thread leads the next batch now
    } else {
      w->done(w->status);
      w->done = nullptr;  // what it holds (a reply to send) goes now
    }
  }
  if (!replies.empty()) {
    bool wake_replier = false;
    {
      std::lock_guard lock(replier_mu_);
      replies_.insert(replies_.end(), replies.begin(), replies.end());
      if (!replier_.joinable()) replier_ = std::thread([this] { ReplierLoop(); });
      wake_replier = replier_sleeping_;
    }
    if (wake_replier) replier_cv_.notify_one();
  }
  return again;
}

void FsBackend::ReplierLoop() {
  std::unique_lock lock(replier_mu_);
  for (;;) {
    while (replies_.empty() && !replier_stop_) {
      replier_sleeping_ = true;
      replier_cv_.wait(lock);
      replier_sleeping_ = false;
    }
    if (replies_.empty()) return;
    std::shared_ptr<Writer> w = std::move(replies_.front());
    replies_.pop_front();
    lock.unlock();
    w->done(w->status);
    w->done = nullptr;
    w.reset();
    lock.lock();
  }
}

void FsBackend::CommitterLoop() {
  for (;;) {
    {
      std::unique_lock lock(committer_mu_);
      committer_cv_.wait(lock, [&] { return committer_wanted_ || committer_stop_; });
      if (!committer_wanted_) return;  // stopping, and nothing was handed over
      committer_wanted_ = false;
    }
    while (LeadBatch(nullptr, /*committer=*/true)) {
    }
  }
}

// Checkpoints. SQLite calls WalHook after every commit of db_ (the write connection), with
// the WAL's size in pages: the frames written since the WAL was last started over, whether
// checkpointed already or not, so it is the size of the WAL file in use. The WAL starts over
// at a write once a checkpoint has copied all of it and no reader still reads from it.
//
// - Every wal_checkpoint_pages of growth, the commit wakes the checkpointer thread (a flag
//   and a notify; nothing else happens on the commit's path). The checkpointer runs a
//   PASSIVE checkpoint on its own connection: it copies what no reader still needs into
//   walrus.db while writers keep committing (it takes no lock writers wait for), and it
//   never waits for a reader.
// - If the WAL still reaches wal_limit_pages (the checkpointer could not keep up, or readers
//   kept the WAL from starting over), the commit that found it so runs a RESTART checkpoint
//   itself, holding mu_, so no write of this backend starts meanwhile: it copies everything,
//   waits (busy timeout) for readers of the old WAL to finish, and the next write starts the
//   WAL over. The WAL file thus stays near wal_limit_pages pages plus one group commit.
//
// Durability does not depend on any of this: a commit is durable once its WAL frames are
// fsynced (synchronous=FULL); a checkpoint only moves committed pages into the database file.
int FsBackend::WalHook(void* self, ::sqlite3*, const char*, int pages) {
  static_cast<FsBackend*>(self)->OnWalCommit(pages);
  return SQLITE_OK;  // the commit has happened; an error here would report it failed
}

void FsBackend::OnWalCommit(int pages) {
  const int every = std::max(1, options_.wal_checkpoint_pages);
  if (pages < wal_last_pages_ || wal_next_checkpoint_ == 0) wal_next_checkpoint_ = every;  // started over
  wal_last_pages_ = pages;
  if (pages >= std::max(1, options_.wal_limit_pages)) {
    int log = 0, copied = 0;
    (void)sqlite3_wal_checkpoint_v2(db_->db, nullptr, SQLITE_CHECKPOINT_RESTART, &log, &copied);
    std::lock_guard lock(checkpoint_mu_);
    ++checkpoints_.blocking;
    return;  // if it failed (a reader past the busy timeout), the next commit tries again
  }
  if (pages < wal_next_checkpoint_) return;
  wal_next_checkpoint_ = pages + every;
  {
    std::lock_guard lock(checkpoint_mu_);
    if (checkpoint_wanted_) return;
    checkpoint_wanted_ = true;
  }
  checkpoint_cv_.notify_one();
}

void FsBackend::CheckpointerLoop() {
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mu_);
      checkpoint_cv_.wait(lock, [&] { return checkpoint_wanted_ || checkpoint_stop_; });
      if (checkpoint_stop_) return;
      checkpoint_wanted_ = false;
    }
    int log = 0, copied = 0;
    // SQLITE_BUSY (another checkpoint running, e.g. a RESTART of the WAL bound, or another
    // process's) is fine: the next wake-up tries again.
    (void)sqlite3_wal_checkpoint_v2(checkpoint_db_->db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    std::lock_guard lock(checkpoint_mu_);
    ++checkpoints_.background;
  }
}

FsBackend::CheckpointCounts FsBackend::CheckpointCountsForTest() {
  std::lock_guard lock(checkpoint_mu_);
  return checkpoints_;
}

template <typename Fn>
Status FsBackend::InTxnLocked(Fn&& fn) {
  EUCA_RETURN_IF_ERROR(db_->Run("BEGIN IMMEDIATE"));
  Status s = fn();
  if (s.ok()) s = db_->Run("COMMIT");
  if (!s.ok()) (void)db_->Run("ROLLBACK");
  return s;
}

class FsBackend::ReadLease {
 public:
  ReadLease(FsBackend* backend, std::unique_ptr<Db> db) : backend_(backend), db_(std::move(db)) {}
  ReadLease(ReadLease&&) noexcept = default;
  ReadLease& operator=(ReadLease&&) = delete;
  ~ReadLease() {
    if (!db_) return;
    std::lock_guard lock(backend_->readers_mu_);
    backend_->readers_.push_back(std::move(db_));
  }
  Db& operator*() { return *db_; }
  Db* operator->() { return db_.get(); }

 private:
  FsBackend* backend_;
  std::unique_ptr<Db> db_;
};

Result<FsBackend::ReadLease> FsBackend::LeaseReader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      std::unique_ptr<Db> db = std::move(readers_.back());
      readers_.pop_back();
      return ReadLease(this, std::move(db));
    }
  }
  auto db = std::make_unique<Db>();
  db->path = db_->path;
  int rc = sqlite3_open_v2(db->path.c_str(), &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return db->Error(rc);
  sqlite3_extended_result_codes(db->db, 1);
  sqlite3_busy_timeout(db->db, 30000);
  EUCA_RETURN_IF_ERROR(db->Exec("PRAGMA query_only=1"));
  // A lookup reads a handful of pages, and any commit by another connection empties a
  // connection's page cache anyway: a small cache keeps a pool of them from costing 2 MiB
  // (SQLite's default) each.
  EUCA_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-128"));
  return ReadLease(this, std::move(db));
}

size_t FsBackend::QueuedWritersForTest() {
  std::lock_guard lock(queue_mu_);
  return writers_.size();
}

size_t FsBackend::InlineBlobCountForTest() {
  std::lock_guard lock(mu_);
  auto st = db_->Prepare("SELECT count(*) FROM inline_blobs");
  if (!st.ok() || !st->Step().value_or(false)) return 0;
  return static_cast<size_t>(st->ColInt(0));
}

Result<BlobRef> FsBackend::WriteBlobFile(const BlobRef& blob) {
  if (!blob.data) return Internal("in-database blob '" + blob.id + "' has no bytes to store");
  // A random id of its own: in-database ids count up (NextInlineBlobId), and files named by
  // them would all land in one of the 256 shard directories.
  const std::string id = NewBlobId();
  const std::string tmp = dir_ + "/tmp/" + id + ".tmp";
  const std::string final_path = BlobPath(id);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("create '" + tmp + "'", errno);
  std::string_view rest(*blob.data);
  Status s;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      s = ErrnoStatus("write '" + tmp + "'", errno);
      break;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (s.ok() && options_.sync && ::fsync(fd) != 0) s = ErrnoStatus("sync '" + tmp + "'", errno);
  if (::close(fd) != 0 && s.ok()) s = ErrnoStatus("close '" + tmp + "'", errno);
  if (s.ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0)
    s = ErrnoStatus("rename '" + tmp + "' to '" + final_path + "'", errno);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (options_.sync) {
    s = FsyncDir(final_path.substr(0, final_path.rfind('/')));
    if (!s.ok()) {
      ::unlink(final_path.c_str());
      return s;
    }
  }
  return BlobRef{id, blob.size};
}

void FsBackend::DeleteBlobs(const std::vector<BlobRef>& blobs) {
  for (const auto& b : blobs)
    if (!b.in_db) ::unlink(BlobPath(b.id).c_str());
}

// Buckets.

Status FsBackend::CreateBucket(const BucketRecord& b) {
  return Transact([&]() -> Status {
    EUCA_ASSIGN_OR_RETURN(bool exists, db_->BucketExists(b.name));
    if (exists) return Status(Code::kAlreadyExists, "bucket '" + b.name + "' already exists", "BucketAlreadyExists");
    EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db_->Prepare("INSERT INTO buckets(name, owner_id, owner_name, location, acl, "
                                                    "created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
    st.Text(1, b.name).Text(2, b.owner_id).Text(3, b.owner_name).Text(4, b.location).Text(5, b.acl);
    st.Int(6, b.created_ms);
    return st.Run();
  });
}

Result<BucketRecord> FsBackend::GetBucket(const std::string& name) {
  EUCA_ASSIGN_OR_RETURN(ReadLease db, LeaseReader());
  EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db->Prepare("SELECT name, owner_id, owner_name, location, acl, created_ms "
                                                  "FROM buckets WHERE name = ?1"));
  st.Text(1, name);
  EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NoSuchBucket(name);
  return BucketRecord{st.Col(0), st.Col(1), st.Col(2), st.Col(3), st.Col(4), st.ColInt(5)};
}

Result<std::vector<BucketRecord>> FsBackend::ListBuckets() {
  std::lock_guard lock(mu_);
  EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db_->Prepare("SELECT name, owner_id, owner_name, location, acl, created_ms "
                                                  "FROM buckets ORDER BY name"));
  std::vector<BucketRecord> out;
  for (;;) {
    EUCA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.Col(0), st.Col(1), st.Col(2), st.Col(3), st.Col(4), st.ColInt(5)});
  }
  return out;
}

Status FsBackend::SetBucketAcl(const std::string& name, const std::string& acl) {
  std::lock_guard lock(mu_);
  EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db_->Prepare("UPDATE buckets SET acl = ?2 WHERE name = ?1"));
  st.Text(1, name).Text(2, acl);
  EUCA_RETURN_IF_ERROR(st.Run());
  if (sqlite3_changes(db_->db) == 0) return NoSuchBucket(name);
  return Status::Ok();
}

Status FsBackend::DeleteBucket(const std::string& name) {
  std::vector<BlobRef> dropped;
  EUCA_RETURN_IF_ERROR(Transact([&]() -> Status {
    dropped.clear();
    EUCA_ASSIGN_OR_RETURN(bool exists, db_->BucketExists(name));
    if (!exists) return NoSuchBucket(name);
    EUCA_ASSIGN_OR_RETURN(Db::Stmt any, db_->Prepare("SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1"));
    any.Text(1, name);
    EUCA_ASSIGN_OR_RETURN(bool nonempty, any.Step());
    if (nonempty)
      return Status(Code::kConflict, "bucket '" + name + "' is not empty; delete its objects first", "BucketNotEmpty");
    EUCA_ASSIGN_OR_RETURN(Db::Stmt ups, db_->Prepare("SELECT upload_id FROM uploads WHERE bucket = ?1"));
    ups.Text(1, name);
    std::vector<std::string> ids;
    for (;;) {
      EUCA_ASSIGN_OR_RETURN(bool row, ups.Step());
      if (!row) break;
      ids.push_back(ups.Col(0));
    }
    for (const auto& id : ids) {
      EUCA_ASSIGN_OR_RETURN(auto parts, db_->Parts(id));
      for (auto& p : parts) dropped.push_back(p.blob);
      EUCA_RETURN_IF_ERROR(db_->DropUpload(id));
    }
    EUCA_ASSIGN_OR_RETURN(Db::Stmt del, db_->Prepare("DELETE FROM buckets WHERE name = ?1"));
    del.Text(1, name);
    return del.Run();
  }));
  DeleteBlobs(dropped);
  return Status::Ok();
}

// Objects.

std::string FsBackend::NextInlineBlobId() {
  char seq[17];
  std::snprintf(seq, sizeof seq, "%016" PRIx64, inline_seq_.fetch_add(1, std::memory_order_relaxed));
  return seq + RandomHex(16);
}

Result<std::unique_ptr<BlobWriter>> FsBackend::NewBlob() {
  std::string id = NewBlobId();
  std::string tmp = dir_ + "/tmp/" + id + ".tmp";
  return std::unique_ptr<BlobWriter>(new FsBlobWriter(this, std::move(id), std::move(tmp)));
}

Status FsBackend::PutObjectLocked(const ObjectRecord& record, std::optional<ObjectRecord>& old) {
  old.reset();
  EUCA_ASSIGN_OR_RETURN(bool exists, db_->BucketExists(record.bucket));
  if (!exists) return NoSuchBucket(record.bucket);
  EUCA_ASSIGN_OR_RETURN(old, db_->FindObject(record.bucket, record.key));
  EUCA_RETURN_IF_ERROR(CheckWriteCondition(record.condition, old, record.bucket, record.key));
  if (old) EUCA_RETURN_IF_ERROR(db_->DeleteInlineBlobs(old->blobs));
  EUCA_RETURN_IF_ERROR(db_->InsertInlineBlobs(record.blobs));
  return db_->InsertObject(record);
}

Result<ObjectRecord> FsBackend::FinishPut(ObjectRecord record, const std::optional<ObjectRecord>& old,
                                          const Status& s) {
  if (!s.ok()) {
    DeleteBlobs(record.blobs);
    return s;
  }
  if (old) DeleteBlobs(old->blobs);
  for (auto& b : record.blobs) b.data.reset();  // stored; the record names them only
  record.condition = {};
  return record;
}

namespace {
void PrepareRecord(ObjectRecord& record) {
  record.size = 0;
  for (const auto& b : record.blobs) record.size += b.size;
  record.generation = RandomHex(16);
}
}  // namespace

Result<ObjectRecord> FsBackend::PutObject(ObjectRecord record) {
  PrepareRecord(record);
  std::optional<ObjectRecord> old;
  Status s = Transact([&] { return PutObjectLocked(record, old); });
  return FinishPut(std::move(record), old, s);
}

void FsBackend::PutObjectAsync(ObjectRecord record, std::function<void(Result<ObjectRecord>)> done) {
  PrepareRecord(record);
  struct Put {
    ObjectRecord record;
    std::optional<ObjectRecord> old;
  };
  auto put = std::make_shared<Put>(Put{std::move(record), std::nullopt});
  TransactAsync([this, put] { return PutObjectLocked(put->record, put->old); },
                [this, put, done = std::move(done)](Status s) {
                  done(FinishPut(std::move(put->record), put->old, s));
                });
}

Result<ObjectRecord> FsBackend::GetObject(const std::string& bucket, const std::string& key) {
  EUCA_ASSIGN_OR_RETURN(ReadLease db, LeaseReader());
  EUCA_ASSIGN_OR_RETURN(auto rec, db->FindObject(bucket, key));
  if (rec) return *std::move(rec);
  EUCA_ASSIGN_OR_RETURN(bool exists, db->BucketExists(bucket));
  return exists ? NoSuchKey(bucket, key) : NoSuchBucket(bucket);
}

Result<std::unique_ptr<ObjectReader>> FsBackend::OpenObject(const std::string& bucket, const std::string& key) {
  EUCA_ASSIGN_OR_RETURN(ReadLease db, LeaseReader());
  for (int attempt = 0;; ++attempt) {
    // Row and in-database bytes are read in one read transaction (one snapshot: a
    // replacement commits the row and drops the old bytes together). Blob files are opened
    // after the row was read, and a replacement (by this process or another) deletes the
    // old files once its commit is done, so a file can be gone by then: the row has
    // changed, read it again.
    EUCA_RETURN_IF_ERROR(db->Run("BEGIN"));
    struct EndRead {
      Db& db;
      ~EndRead() { (void)db.Run("COMMIT"); }
    } end_read{*db};
    EUCA_ASSIGN_OR_RETURN(auto rec, db->FindObject(bucket, key));
    if (!rec) {
      EUCA_ASSIGN_OR_RETURN(bool exists, db->BucketExists(bucket));
      return exists ? NoSuchKey(bucket, key) : NoSuchBucket(bucket);
    }
    std::vector<int> fds;
    int err = 0;
    for (auto& b : rec->blobs) {
      if (b.in_db) {
        auto data = db->LoadInlineBlob(b);
        if (!data.ok()) {
          for (int fd : fds)
            if (fd >= 0) ::close(fd);
          return data.status();
        }
        b.data = *std::move(data);
        fds.push_back(-1);
        continue;
      }
      int fd = ::open(BlobPath(b.id).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        err = errno;
        break;
      }
      fds.push_back(fd);
    }
    if (fds.size() == rec->blobs.size()) return std::unique_ptr<ObjectReader>(new FsReader(*std::move(rec), fds));
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
    if (err != ENOENT || attempt >= kOpenRetries)
      return ErrnoStatus("open blob of '" + PrintableKey(key) + "' in bucket '" + bucket + "'", err);
  }
}

Status FsBackend::SetObjectAcl(const std::string& bucket, const std::string& key, const std::string& acl,
                               const std::optional<std::string>& generation) {
  return Transact([&]() -> Status {
    EUCA_ASSIGN_OR_RETURN(auto rec, db_->FindObject(bucket, key));
    if (!rec) {
      EUCA_ASSIGN_OR_RETURN(bool exists, db_->BucketExists(bucket));
      return exists ? NoSuchKey(bucket, key) : NoSuchBucket(bucket);
    }
    if (generation && rec->generation != *generation)
      return Status(Code::kConflict, "object '" + PrintableKey(key) + "' changed meanwhile; retry", "OperationAborted");
    EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db_->Prepare("UPDATE objects SET acl = ?3 WHERE bucket = ?1 AND key = ?2"));
    st.Text(1, bucket).Blob(2, key).Text(3, acl);
    return st.Run();
  });
}

Result<std::vector<ObjectRecord>> FsBackend::ListObjects(const std::string& bucket, const ListRange& range) {
  // Lower bound: the later of prefix (inclusive) and start; upper: the prefix's successor.
  std::string from = range.prefix;
  bool inclusive = true;
  if (range.start > range.prefix || (range.start == range.prefix && !range.start_inclusive)) {
    from = range.start;
    inclusive = range.start_inclusive;
  }
  std::optional<std::string> upper = PrefixSuccessor(range.prefix);
  std::string sql = std::string("SELECT ") + kObjectColumns + " FROM objects WHERE bucket = ?1 AND key " +
                    (inclusive ? ">=" : ">") + " ?2" + (upper ? " AND key < ?3" : "") + " ORDER BY key LIMIT ?4";
  std::lock_guard lock(mu_);
  EUCA_ASSIGN_OR_RETURN(bool exists, db_->BucketExists(bucket));
  if (!exists) return NoSuchBucket(bucket);
  EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db_->Prepare(sql));
  st.Text(1, bucket).Blob(2, from).Int(4, static_cast<int64_t>(range.limit));
  if (upper) st.Blob(3, *upper);
  return Db::ReadRows<ObjectRecord>(st, &Db::ReadObject);
}

Result<bool> FsBackend::DeleteObject(const std::string& bucket, const std::string& key) {
  std::optional<ObjectRecord> old;
  {
    EUCA_RETURN_IF_ERROR(Transact([&]() -> Status {
      EUCA_ASSIGN_OR_RETURN(bool exists, db_->BucketExists(bucket));
      if (!exists) return NoSuchBucket(bucket);
      EUCA_ASSIGN_OR_RETURN(old, db_->FindObject(bucket, key));
      if (!old) return Status::Ok();
      EUCA_RETURN_IF_ERROR(db_->DeleteInlineBlobs(old->blobs));
      EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db_->Prepare("DELETE FROM objects WHERE bucket = ?1 AND key = ?2"));
      st.Text(1, bucket).Blob(2, key);
      return st.Run();
    }));
  }
  if (!old) return false;
  DeleteBlobs(old->blobs);
  return true;
}

// Multipart uploads.

Status FsBackend::CreateUpload(const UploadRecord& u) {
  return Transact([&]() -> Status {
    EUCA_ASSIGN_OR_RETURN(bool exists, db_->BucketExists(u.bucket));
    if (!exists) return NoSuchBucket(u.bucket);
    EUCA_ASSIGN_OR_RETURN(auto taken, db_->FindUpload(u.upload_id));
    if (taken) return AlreadyExists("upload id '" + u.upload_id + "' is taken");
    EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db_->Prepare(std::string("INSERT INTO uploads(") + kUploadColumns +
                                                    ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"));
    st.Text(1, u.upload_id).Text(2, u.bucket).Blob(3, u.key).Text(4, u.owner_id).Text(5, u.owner_name);
    st.Text(6, u.initiator_id).Text(7, u.initiator_name).Blob(8, u.content_type).Blob(9, EncodePairs(u.metadata));
    st.Blob(10, EncodePairs(u.headers)).Text(11, u.acl).Int(12, u.initiated_ms);
    st.Text(13, u.checksum_algorithm).Text(14, u.checksum_type);
    return st.Run();
  });
}

Result<UploadRecord> FsBackend::GetUpload(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  EUCA_ASSIGN_OR_RETURN(auto u, db_->FindUpload(upload_id));
  if (!u) return NoSuchUpload(upload_id);
  return *std::move(u);
}

Result<std::vector<UploadRecord>> FsBackend::ListUploads(const std::string& bucket, const std::string& prefix) {
  std::optional<std::string> upper = PrefixSuccessor(prefix);
  std::string sql = std::string("SELECT ") + kUploadColumns + " FROM uploads WHERE bucket = ?1 AND key >= ?2" +
                    (upper ? " AND key < ?3" : "") + " ORDER BY key, upload_id";
  std::lock_guard lock(mu_);
  EUCA_ASSIGN_OR_RETURN(bool exists, db_->BucketExists(bucket));
  if (!exists) return NoSuchBucket(bucket);
  EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db_->Prepare(sql));
  st.Text(1, bucket).Blob(2, prefix);
  if (upper) st.Blob(3, *upper);
  return Db::ReadRows<UploadRecord>(st, &Db::ReadUpload);
}

Status FsBackend::PutPart(const std::string& upload_id, PartRecord part) {
  if (part.blob.in_db) {  // parts always live in files: completion takes them as they are
    EUCA_ASSIGN_OR_RETURN(part.blob, WriteBlobFile(part.blob));
  }
  std::optional<BlobRef> old;
  Status s;
  {
    s = Transact([&]() -> Status {
      old.reset();
      EUCA_ASSIGN_OR_RETURN(auto u, db_->FindUpload(upload_id));
      if (!u) return NoSuchUpload(upload_id);
      EUCA_ASSIGN_OR_RETURN(Db::Stmt prev,
                            db_->Prepare("SELECT blob, size FROM parts WHERE upload_id = ?1 AND part_number = ?2"));
      prev.Text(1, upload_id).Int(2, part.part_number);
      EUCA_ASSIGN_OR_RETURN(bool row, prev.Step());
      if (row) old = BlobRef{prev.Col(0), static_cast<uint64_t>(prev.ColInt(1))};
      EUCA_ASSIGN_OR_RETURN(Db::Stmt st, db_->Prepare("INSERT OR REPLACE INTO parts(upload_id, part_number, blob, "
                                                      "size, etag, modified_ms, checksum) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
      st.Text(1, upload_id).Int(2, part.part_number).Text(3, part.blob.id);
      st.Int(4, static_cast<int64_t>(part.blob.size)).Text(5, part.etag).Int(6, part.modified_ms);
      st.Text(7, part.checksum);
      return st.Run();
    });
  }
  if (!s.ok()) {
    DeleteBlobs({part.blob});
    return s;
  }
  if (old) DeleteBlobs({*old});
  return Status::Ok();
}

Result<std::vector<PartRecord>> FsBackend::ListParts(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  EUCA_ASSIGN_OR_RETURN(auto u, db_->FindUpload(upload_id));
  if (!u) return NoSuchUpload(upload_id);
  return db_->Parts(upload_id);
}

Result<ObjectRecord> FsBackend::CompleteUpload(const std::string& upload_id, ObjectRecord record) {
  for (auto& b : record.blobs) b = BlobRef{b.id, b.size};  // parts are always files (PutPart)
  record.size = 0;
  for (const auto& b : record.blobs) record.size += b.size;
  record.generation = RandomHex(16);
  std::vector<BlobRef> dropped;
  {
    EUCA_RETURN_IF_ERROR(Transact([&]() -> Status {
      dropped.clear();
      EUCA_ASSIGN_OR_RETURN(auto u, db_->FindUpload(upload_id));
      if (!u) return NoSuchUpload(upload_id);
      EUCA_ASSIGN_OR_RETURN(bool exists, db_->BucketExists(u->bucket));
      if (!exists) return NoSuchBucket(u->bucket);
      record.bucket = u->bucket;
      record.key = u->key;
      EUCA_ASSIGN_OR_RETURN(auto parts, db_->Parts(upload_id));
      std::unordered_set<std::string> chosen;
      for (const auto& b : record.blobs) chosen.insert(b.id);
      size_t matched = 0;
      for (const auto& p : parts) {
        if (chosen.count(p.blob.id)) {
          ++matched;
        } else {
          dropped.push_back(p.blob);
        }
      }
      if (matched != record.blobs.size() || chosen.size() != record.blobs.size())
        return Status(Code::kConflict, "a part of upload '" + upload_id + "' was replaced meanwhile; retry",
                      "OperationAborted");
      EUCA_ASSIGN_OR_RETURN(auto old, db_->FindObject(record.bucket, record.key));
      EUCA_RETURN_IF_ERROR(CheckWriteCondition(record.condition, old, record.bucket, record.key));
      if (old) {
        EUCA_RETURN_IF_ERROR(db_->DeleteInlineBlobs(old->blobs));
        dropped.insert(dropped.end(), old->blobs.begin(), old->blobs.end());
      }
      EUCA_RETURN_IF_ERROR(db_->InsertObject(record));
      return db_->DropUpload(upload_id);
    }));
  }
  DeleteBlobs(dropped);
  record.condition = {};
  return record;
}

Status FsBackend::AbortUpload(const std::string& upload_id) {
  std::vector<BlobRef> dropped;
  {
    EUCA_RETURN_IF_ERROR(Transact([&]() -> Status {
      dropped.clear();
      EUCA_ASSIGN_OR_RETURN(auto u, db_->FindUpload(upload_id));
      if (!u) return NoSuchUpload(upload_id);
      EUCA_ASSIGN_OR_RETURN(auto parts, db_->Parts(upload_id));
      for (auto& p : parts) dropped.push_back(p.blob);
      return db_->DropUpload(upload_id);
    }));
  }
  DeleteBlobs(dropped);
  return Status::Ok();
}

}  // namespace euca::objects
