#pragma once
// A SQLite VFS that gathers the writes SQLite makes to a WAL file into one write(2) per commit.
//
// SQLite appends each page of a commit to the WAL as two writes, a 24-byte frame header and
// the page, so a group commit of a few small PUTs costs some fifty pwrite(2) calls before its
// fsync (on a busy Walrus, 13% of the server's CPU went to them). This VFS wraps the default
// one; a WAL file opened through it keeps consecutive writes in a buffer and writes them out
// in one call when SQLite syncs the file, reads it, asks its size, truncates or closes it, or
// writes elsewhere in it, or when the buffer is full. Its database file passes everything on
// (see the rollback below); every other file is the default VFS's own, untouched.
//
// The contract: a connection may use this VFS only with PRAGMA synchronous=FULL. SQLite then
// syncs the WAL at the end of every commit, before the commit is published to other
// connections in the WAL index, so no connection can look for frames still in a buffer. (With
// NORMAL or OFF it does not sync at a commit, and another connection could read a frame that
// has not reached the file.) A transaction that rolls back may leave frames it spilled in the
// buffer: they are written out when the connection releases the WAL's write lock (the
// database file is wrapped for that), never later over another writer's frames. Connections
// of the same database through other VFSes (readers, the checkpointer, writers of other
// processes) are fine: they never see unpublished frames. A WAL is buffered only beside a
// database file opened through this VFS and with powersafe overwrite (SQLite's default; a
// `psow=0` database pads commits and writes past the sync). A failed write surfaces at the
// sync that flushes it, which fails the commit as a failed write would.

#include <cstdint>

namespace euca::objects {

/// The VFS's name for sqlite3_open_v2, registered (not as the default) on first call.
/// Thread-safe.
const char* WalWriteBufferVfs();

/// Counters of what the VFS passed on to the files (all WAL files, since the process began).
struct WalWriteBufferStats {
  uint64_t writes_asked = 0;   ///< xWrite calls SQLite made on WAL files
  uint64_t writes_issued = 0;  ///< writes passed on to the default VFS
  uint64_t syncs = 0;          ///< syncs of WAL files passed on
};
WalWriteBufferStats WalWriteBufferStatsNow();

}  // namespace euca::objects
