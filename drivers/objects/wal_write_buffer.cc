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

sqlite3_vfs* g_real = nullptr;  // the default VFS this one wraps
sqlite3_vfs g_vfs;

// A WAL file: our header, then the default VFS's file object (`real`), in the memory SQLite
// allocated for one file (szOsFile). Files other than WALs are the default VFS's own objects,
// opened in place at the start of that memory.
struct WalFile {
  sqlite3_file base;     // pMethods = &kWalMethods
  sqlite3_file* real;    // the wrapped file, right after this struct
  std::string* pending;  // consecutive bytes not yet written, starting at `offset`
  sqlite3_int64 offset;
};
constexpr size_t kHeaderBytes = (sizeof(WalFile) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
                                alignof(std::max_align_t);

WalFile* Wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Wal(f)->real; }

// Writes out what is pending. On failure the bytes are dropped: the sync or commit that asked
// fails, and SQLite rolls the transaction back (the frames were never published).
int Issue(WalFile* w, const char* data, size_t n, sqlite3_int64 off) {
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

int Flush(WalFile* w) {
  if (w->pending->empty()) return SQLITE_OK;
  int rc = Issue(w, w->pending->data(), w->pending->size(), w->offset);
  w->pending->clear();
  return rc;
}

int WalClose(sqlite3_file* f) {
  WalFile* w = Wal(f);
  int rc = Flush(w);
  int rc2 = w->real->pMethods ? w->real->pMethods->xClose(w->real) : SQLITE_OK;
  delete w->pending;
  w->pending = nullptr;
  return rc != SQLITE_OK ? rc : rc2;
}

int WalRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  WalFile* w = Wal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xRead(w->real, buf, n, off);
}

int WalWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  WalFile* w = Wal(f);
  g_writes_asked.fetch_add(1, std::memory_order_relaxed);
  std::string& p = *w->pending;
  const size_t len = static_cast<size_t>(n);
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
  WalFile* w = Wal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xTruncate(w->real, size);
}

int WalSync(sqlite3_file* f, int flags) {
  WalFile* w = Wal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xSync(w->real, flags);
}

int WalFileSize(sqlite3_file* f, sqlite3_int64* size) {
  WalFile* w = Wal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileSize(w->real, size);
}

// The rest passes straight through (SQLite locks, maps and shares memory through the
// database file, not the WAL, but the methods must exist).
int WalLock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int WalUnlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int WalCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int WalFileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int WalSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int WalDeviceCharacteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }
int WalShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int WalShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void WalShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int WalShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }
int WalFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  WalFile* w = Wal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFetch(w->real, off, n, out);
}
int WalUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return Real(f)->pMethods->xUnfetch(Real(f), off, p); }

const sqlite3_io_methods kWalMethods = {
    3,           WalClose,      WalRead,     WalWrite,        WalTruncate,
    WalSync,     WalFileSize,   WalLock,     WalUnlock,       WalCheckReservedLock,
    WalFileControl, WalSectorSize, WalDeviceCharacteristics, WalShmMap, WalShmLock,
    WalShmBarrier, WalShmUnmap, WalFetch, WalUnfetch,
};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  if (!(flags & SQLITE_OPEN_WAL)) return g_real->xOpen(g_real, name, f, flags, out_flags);
  WalFile* w = Wal(f);
  w->base.pMethods = nullptr;  // SQLite's rule: a file whose open failed has no methods
  w->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kHeaderBytes);
  int rc = g_real->xOpen(g_real, name, w->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // The wrapped file may have been half opened; its own methods (if set) close it.
    if (w->real->pMethods) w->real->pMethods->xClose(w->real);
    return rc;
  }
  // The default VFS's file methods must be version 3 for ours to pass everything on.
  if (w->real->pMethods->iVersion < 3) {
    w->real->pMethods->xClose(w->real);
    return SQLITE_CANTOPEN;
  }
  w->pending = new (std::nothrow) std::string;
  if (!w->pending) {
    w->real->pMethods->xClose(w->real);
    return SQLITE_NOMEM;
  }
  w->offset = 0;
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
    g_vfs.szOsFile = static_cast<int>(std::max<size_t>(kHeaderBytes + g_real->szOsFile, g_real->szOsFile));
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
  return {g_writes_asked.load(std::memory_order_relaxed), g_writes_issued.load(std::memory_order_relaxed)};
}

}  // namespace euca::objects
