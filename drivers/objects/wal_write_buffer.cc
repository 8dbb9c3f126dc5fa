#include "drivers/objects/wal_write_buffer.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

namespace euca::objects {
namespace {

constexpr char kVfsName[] = "euca-wal-write-buffer";
// A buffer holds at most this much; a commit bigger than that is written in pieces this big.
constexpr size_t kBufferCap = size_t{1} << 20;
// The most one write passed on may carry. The default VFS masks a write's length with
// 0x1ffff (os_unix.c, seekAndWriteFd) and loops over short writes: a write of exactly 128 KiB
// would write nothing and report the disk full. Below 128 KiB, the length stays whole.
constexpr size_t kMaxIssue = 124 * 1024;

std::atomic<uint64_t> g_writes_asked{0};
std::atomic<uint64_t> g_writes_issued{0};

std::atomic<uint64_t> g_syncs{0};

sqlite3_vfs* g_real = nullptr;  // the default VFS this one wraps
sqlite3_vfs g_vfs;

// A wrapped file: our header, then the default VFS's file object (`real`), in the memory
// SQLite allocated for one file (szOsFile). Main database files and WAL files are wrapped
// (a WAL with kWalMethods, its database with kDbMethods, each pointing at the other); every
// other file is the default VFS's own object, opened in place at the start of that memory.
struct File {
  sqlite3_file base;      // pMethods = &kWalMethods or &kDbMethods
  sqlite3_file* real;     // the wrapped file, right after this struct
  std::string* pending;   // WAL: consecutive bytes not yet written, starting at `offset`
  sqlite3_int64 offset;
  File* peer;             // the connection's WAL for its database file, and back
  bool buffering;         // WAL: gather writes (false: pass each on, see Open)
};
constexpr size_t kHeaderBytes = (sizeof(File) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
                                alignof(std::max_align_t);

File* F(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return F(f)->real; }

int Issue(File* w, const char* data, size_t n, sqlite3_int64 off) {
  for (size_t done = 0; done < n;) {
    const size_t piece = std::min(n - done, kMaxIssue);
    g_writes_issued.fetch_add(1, std::memory_order_relaxed);
    int rc = w->real->pMethods->xWrite(w->real, data + done, static_cast<int>(piece),
                                       off + static_cast<sqlite3_int64>(done));
    if (rc != SQLITE_OK) return rc;
    done += piece;
  }
  return SQLITE_OK;
}

// Writes out what is pending. On failure the bytes are dropped: the sync or commit that asked
// fails, and SQLite rolls the transaction back (the frames were never published).
int Flush(File* w) {
  if (!w->pending || w->pending->empty()) return SQLITE_OK;
  int rc = Issue(w, w->pending->data(), w->pending->size(), w->offset);
  w->pending->clear();
  return rc;
}

// Methods that pass straight on to the wrapped file.
int PassRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) { return Real(f)->pMethods->xRead(Real(f), buf, n, off); }
int PassWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int PassTruncate(sqlite3_file* f, sqlite3_int64 size) { return Real(f)->pMethods->xTruncate(Real(f), size); }
int PassSync(sqlite3_file* f, int flags) { return Real(f)->pMethods->xSync(Real(f), flags); }
int PassFileSize(sqlite3_file* f, sqlite3_int64* size) { return Real(f)->pMethods->xFileSize(Real(f), size); }
int PassLock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int PassUnlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int PassCheckReservedLock(sqlite3_file* f, int* out) { return Real(f)->pMethods->xCheckReservedLock(Real(f), out); }
int PassFileControl(sqlite3_file* f, int op, void* arg) { return Real(f)->pMethods->xFileControl(Real(f), op, arg); }
int PassSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int PassDeviceCharacteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }
int PassShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int PassShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void PassShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int PassShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }
int PassFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return Real(f)->pMethods->xFetch(Real(f), off, n, out);
}
int PassUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return Real(f)->pMethods->xUnfetch(Real(f), off, p); }

// The WAL file.
int WalClose(sqlite3_file* f) {
  File* w = F(f);
  int rc = Flush(w);
  if (w->peer) w->peer->peer = nullptr;
  int rc2 = w->real->pMethods->xClose(w->real);
  delete w->pending;
  w->pending = nullptr;
  return rc != SQLITE_OK ? rc : rc2;
}

int WalRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  if (int rc = Flush(F(f)); rc != SQLITE_OK) return rc;
  return PassRead(f, buf, n, off);
}

int WalWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  File* w = F(f);
  g_writes_asked.fetch_add(1, std::memory_order_relaxed);
  const size_t len = static_cast<size_t>(n);
  if (!w->buffering) return Issue(w, static_cast<const char*>(buf), len, off);
  std::string& p = *w->pending;
  if (!p.empty() && off == w->offset + static_cast<sqlite3_int64>(p.size()) && p.size() + len <= kBufferCap) {
    p.append(static_cast<const char*>(buf), len);
    return SQLITE_OK;
  }
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  if (len >= kBufferCap) return Issue(w, static_cast<const char*>(buf), len, off);
  w->offset = off;
  p.assign(static_cast<const char*>(buf), len);
  return SQLITE_OK;
}

int WalTruncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = Flush(F(f)); rc != SQLITE_OK) return rc;
  return PassTruncate(f, size);
}

int WalSync(sqlite3_file* f, int flags) {
  if (int rc = Flush(F(f)); rc != SQLITE_OK) return rc;
  g_syncs.fetch_add(1, std::memory_order_relaxed);
  return PassSync(f, flags);
}

int WalFileSize(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = Flush(F(f)); rc != SQLITE_OK) return rc;
  return PassFileSize(f, size);
}

int WalFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  if (int rc = Flush(F(f)); rc != SQLITE_OK) return rc;
  return PassFetch(f, off, n, out);
}

const sqlite3_io_methods kWalMethods = {
    3,           WalClose,      WalRead,     WalWrite,        WalTruncate,
    WalSync,     WalFileSize,   PassLock,    PassUnlock,      PassCheckReservedLock,
    PassFileControl, PassSectorSize, PassDeviceCharacteristics, PassShmMap, PassShmLock,
    PassShmBarrier, PassShmUnmap, WalFetch, PassUnfetch,
};

// The database file: everything passes on, but when the connection lets go of the WAL's
// write lock (shared-memory lock 0, WAL_WRITE_LOCK in wal.c), what its WAL still buffers is
// written out first. After a commit nothing is (the commit's sync wrote it); after a
// rollback, frames the transaction spilled may be: SQLite leaves them past the end of the
// WAL, and they must reach the file while this connection still holds the lock, never later
// over frames that another writer (another process) appended meanwhile.
int DbShmLock(sqlite3_file* f, int offset, int n, int flags) {
  File* db = F(f);
  if (offset == 0 && (flags & SQLITE_SHM_UNLOCK) && (flags & SQLITE_SHM_EXCLUSIVE) && db->peer)
    (void)Flush(db->peer);  // junk of a rolled-back transaction: a failure loses nothing
  return PassShmLock(f, offset, n, flags);
}

int DbClose(sqlite3_file* f) {
  File* db = F(f);
  if (db->peer) db->peer->peer = nullptr;
  return db->real->pMethods->xClose(db->real);
}

const sqlite3_io_methods kDbMethods = {
    3,           DbClose,       PassRead,    PassWrite,       PassTruncate,
    PassSync,    PassFileSize,  PassLock,    PassUnlock,      PassCheckReservedLock,
    PassFileControl, PassSectorSize, PassDeviceCharacteristics, PassShmMap, DbShmLock,
    PassShmBarrier, PassShmUnmap, PassFetch, PassUnfetch,
};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  const bool wal = flags & SQLITE_OPEN_WAL;
  if (!wal && !(flags & SQLITE_OPEN_MAIN_DB)) return g_real->xOpen(g_real, name, f, flags, out_flags);
  File* w = F(f);
  w->base.pMethods = nullptr;  // SQLite's rule: a file whose open failed has no methods
  w->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kHeaderBytes);
  int rc = g_real->xOpen(g_real, name, w->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (w->real->pMethods) w->real->pMethods->xClose(w->real);
    return rc;
  }
  // The default VFS's file methods must be version 3 for ours to pass everything on.
  if (w->real->pMethods->iVersion < 3) {
    w->real->pMethods->xClose(w->real);
    return SQLITE_CANTOPEN;
  }
  w->pending = nullptr;
  w->offset = 0;
  w->peer = nullptr;
  w->buffering = false;
  if (!wal) {
    w->base.pMethods = &kDbMethods;
    return SQLITE_OK;
  }
  w->pending = new (std::nothrow) std::string;
  if (!w->pending) {
    w->real->pMethods->xClose(w->real);
    return SQLITE_NOMEM;
  }
  // Buffer only beside a database file of ours (whose lock release flushes, above) and
  // only with powersafe overwrite: without it SQLite pads a commit to a sector boundary and
  // writes the part of the last frame past the boundary after the sync, which a buffer
  // would hold back from readers of a published frame.
  sqlite3_file* db_file = sqlite3_database_file_object(name);
  if (db_file && db_file->pMethods == &kDbMethods) {
    File* db = F(db_file);
    w->peer = db;
    db->peer = w;
    w->buffering = (PassDeviceCharacteristics(db_file) & SQLITE_IOCAP_POWERSAFE_OVERWRITE) != 0;
  }
  w->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

// Everything but xOpen is the default VFS's.
int Delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_real->xDelete(g_real, name, sync_dir); }
int Access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_real->xAccess(g_real, name, flags, out); }
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void DlError(sqlite3_vfs*, int n, char* out) { g_real->xDlError(g_real, n, out); }
void (*DlSym(sqlite3_vfs*, void* h, const char* sym))(void) { return g_real->xDlSym(g_real, h, sym); }
void DlClose(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int Randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int Sleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int CurrentTime(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int GetLastError(sqlite3_vfs*, int n, char* out) { return g_real->xGetLastError(g_real, n, out); }
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) { return g_real->xCurrentTimeInt64(g_real, out); }

}  // namespace

const char* WalWriteBufferVfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_initialize();
    g_real = sqlite3_vfs_find(nullptr);
    std::memset(&g_vfs, 0, sizeof g_vfs);
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(kHeaderBytes) + g_real->szOsFile;
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = kVfsName;
    g_vfs.xOpen = Open;
    g_vfs.xDelete = Delete;
    g_vfs.xAccess = Access;
    g_vfs.xFullPathname = FullPathname;
    g_vfs.xDlOpen = DlOpen;
    g_vfs.xDlError = DlError;
    g_vfs.xDlSym = DlSym;
    g_vfs.xDlClose = DlClose;
    g_vfs.xRandomness = Randomness;
    g_vfs.xSleep = Sleep;
    g_vfs.xCurrentTime = CurrentTime;
    g_vfs.xGetLastError = GetLastError;
    g_vfs.xCurrentTimeInt64 = g_real->iVersion >= 2 && g_real->xCurrentTimeInt64 ? CurrentTimeInt64 : nullptr;
    sqlite3_vfs_register(&g_vfs, 0);
  });
  return kVfsName;
}

WalWriteBufferStats WalWriteBufferStatsNow() {
  return {g_writes_asked.load(std::memory_order_relaxed), g_writes_issued.load(std::memory_order_relaxed),
          g_syncs.load(std::memory_order_relaxed)};
}

}  // namespace euca::objects
