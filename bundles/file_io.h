#pragma once
// The one place the bundle pipeline touches POSIX files. The pipeline streams gigabytes
// through file descriptors, which core/base/env.h (whole-file strings) cannot carry, so
// bundles keeps its own small seam; errno becomes a Status here, once, with the path.
// Used by bundles/ and, for the image files it streams, by Walrus' image cache and client.

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/base/status.h"

namespace euca::bundles {

/// An open file descriptor, closed on destruction. Move-only. Not thread-safe.
class File final {
 public:
  File() = default;
  ~File();
  File(File&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  /// Opens an existing file for reading.
  static Result<File> OpenRead(const std::string& path);
  /// Creates a new file (O_EXCL) for writing with permission bits `mode`.
  static Result<File> Create(const std::string& path, uint32_t mode);
  /// Creates a new uniquely named file in `dir` whose name starts with `stem`.
  static Result<File> CreateTemp(const std::string& dir, const std::string& stem, uint32_t mode);

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  /// Size in bytes (fstat).
  Result<uint64_t> Size() const;
  /// Reads up to `n` bytes at `offset`; fewer only at end of file. Retries EINTR.
  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) const;
  /// Reads up to `n` bytes from the current position; fewer only at end of file.
  Result<size_t> Read(void* buf, size_t n) const;
  /// Writes all `n` bytes at the current position.
  Status Write(const void* buf, size_t n) const;
  /// Writes all `n` bytes at `offset`.
  Status WriteAt(uint64_t offset, const void* buf, size_t n) const;
  /// Sets the size (a longer size makes a hole).
  Status Truncate(uint64_t size) const;
  Status Sync() const;
  /// Closes now, reporting the error close() gives (deferred write errors).
  Status Close();

 private:
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

/// Reads a file sequentially, answering holes with zeros without reading them
/// (SEEK_DATA/SEEK_HOLE; a file system without them is read as all data). Not thread-safe.
class SparseReader final {
 public:
  /// REQUIRES: `file` outlives the reader.
  SparseReader(const File& file, uint64_t size) : file_(file), size_(size) {}

  /// Fills `buf` with `n` bytes at `offset` (offsets must not decrease between calls).
  /// Sets *all_zero when every byte is zero (holes are zero without reading them).
  /// An error if the file ends before offset + n (it shrank while being read).
  Status ReadAt(uint64_t offset, uint8_t* buf, size_t n, bool* all_zero);

 private:
  Status FindSegment(uint64_t pos);
  const File& file_;
  uint64_t size_;
  uint64_t seg_end_ = 0;   // end of the segment holding the current position
  bool seg_hole_ = false;  // whether that segment is a hole
  bool seek_data_ok_ = true;
};

/// True if all `n` bytes are zero.
bool IsAllZero(const uint8_t* p, size_t n);

/// The unit of the holes ImageWriter leaves, and of its O_DIRECT writes (address, length
/// and file offset): a file system block.
inline constexpr size_t kHoleGranule = 4096;

/// How an ImageWriter writes. The seams stand in for system calls in tests (nullptr: the
/// real ones), to see the fallback to buffered writes on a file system that has O_DIRECT.
struct ImageWriterOptions {
  /// Write with O_DIRECT where the file system allows it (else, or when false: buffered).
  bool direct_io = true;
  /// Stands in for fcntl(fd, F_SETFL, flags): 0, or -1 with errno set.
  int (*set_fl_for_test)(int fd, int flags) = nullptr;
  /// Stands in for pwrite(2).
  ssize_t (*pwrite_for_test)(int fd, const void* buf, size_t n, off_t offset) = nullptr;
};

/// Writes a file once, front to back, from empty, on threads of its own, with O_DIRECT
/// where the file system allows it; every kHoleGranule-aligned block whose bytes are all zero
/// is left unwritten, a hole (as `cp --sparse=always` and `tar -S` leave them), also when it
/// spans two calls; unwritten bytes read back as zeros.
///
/// The bytes are staged in kStageBytes windows of aligned memory (a small pool); a full
/// window goes to a writer thread, which writes each run of its blocks holding data with
/// one pwrite of whole blocks, so a block that is only partly data goes to disk padded with
/// zeros. Finish() writes the last window and cuts the file to its size. With O_DIRECT the
/// disk reads the windows and the page cache is not filled (where memory is slow to hand
/// out, filling fresh page cache is what a big buffered write spends most of its time on).
/// If the file system refuses O_DIRECT (setting the flag, or a write, fails with EINVAL:
/// a device whose direct I/O wants bigger blocks), the writes are buffered from then on.
/// Nothing is made durable: the caller decides whether to File::Sync (O_DIRECT does not
/// make the file's metadata durable, nor the disk's write cache). Not thread-safe.
class ImageWriter final {
 public:
  /// Bytes of one staging window: what one O_DIRECT write takes at most.
  static constexpr size_t kStageBytes = size_t{1} << 20;
  /// Writer threads: each write waits for the disk (O_DIRECT), and two at once keep it
  /// busier than one (about twice the throughput of one `dd oflag=direct` here).
  static constexpr size_t kWriterThreads = 2;
  /// Windows in the pool: one per writer, the one the caller fills, and some queued.
  static constexpr size_t kStageSlots = 6;

  /// Starts the writer threads. REQUIRES: `file` is open for writing, empty, and outlives the
  /// writer; nothing else writes to it meanwhile.
  ImageWriter(const File& file, ImageWriterOptions options = {});
  /// Stops the writer threads; what was not written by Finish() is dropped.
  ~ImageWriter();
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;

  /// Takes [p, p + n) for file `offset`, at or past the end of the previous call (a gap
  /// between calls reads back as zeros). A writer thread's error once one failed;
  /// InvalidArgument for an offset before the previous call's end.
  Status Write(uint64_t offset, const uint8_t* p, size_t n);
  /// Writes what is staged, waits for the writer threads and sets the file's size to `size`
  /// (at or past the end of the data; a longer size ends in a hole). Once; no Write after.
  Status Finish(uint64_t size);
  /// Whether the file is being written with O_DIRECT (false once it fell back). Any thread.
  bool direct() const { return direct_.load(std::memory_order_relaxed); }

 private:
  struct Stage;
  struct Shared;
  // Copies a run of bytes that holds data into the windows.
  Status Place(uint64_t offset, const uint8_t* p, size_t n);
  // Hands the window being filled to the writer threads, if it holds data.
  Status Ship();
  // A writer thread: writes windows (disjoint ranges, in any order) until the queue ends.
  void WriteStages();
  Status WriteRun(const uint8_t* p, size_t n, uint64_t offset);
  bool DropDirect();

  const File& file_;
  const ImageWriterOptions options_;
  std::atomic<bool> direct_{false};
  std::unique_ptr<Shared> shared_;  // the pool and the queues
  std::unique_ptr<Stage> current_;  // the window being filled (the caller's)
  uint64_t end_ = 0;                // end of the previous Write
  bool finished_ = false;
  std::vector<std::thread> threads_;
};

/// Creates a uniquely named directory in `dir`, starting with `stem`.
Result<std::string> MakeTempDir(const std::string& dir, const std::string& stem);
/// rename(2) with a Status.
Status RenamePath(const std::string& from, const std::string& to);
/// unlink(2) or rmdir of a tree; ok if absent. Best effort for cleanup paths.
void RemoveQuietly(const std::string& path);
/// Size of `path` (stat), NotFound if it does not exist.
Result<uint64_t> FileSize(const std::string& path);
/// Whether `path` is an existing directory.
bool IsDirectory(const std::string& path);
/// Whole file as a string (manifests, keys).
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

/// A fixed-capacity byte buffer that is not zeroed on allocation; the pipeline's unit of
/// memory (pools of these bound its footprint). Move-only.
struct Buffer {
  Buffer() = default;
  explicit Buffer(size_t capacity) : data(new uint8_t[capacity]), cap(capacity) {}
  std::unique_ptr<uint8_t[]> data;
  size_t cap = 0;  ///< bytes allocated
  size_t len = 0;  ///< bytes in use
};

}  // namespace euca::bundles
