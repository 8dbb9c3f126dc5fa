#pragma once
// The one place the bundle pipeline touches POSIX files. The pipeline streams gigabytes
// through file descriptors, which core/base/env.h (whole-file strings) cannot carry, so
// bundles keeps its own small seam; errno becomes a Status here, once, with the path.
// Used by bundles/ and, for the image files it streams, by Walrus' image cache and client.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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

/// The unit of the holes WriteSparse leaves: a file system block.
inline constexpr size_t kHoleGranule = 4096;

/// Writes [p, p + n) at `offset` into a file written once, front to back, from empty (each
/// call's offset at or past the previous call's end), except its zero bytes in
/// kHoleGranule-aligned blocks, whole or cut by the call's edges: unwritten, they read back
/// as zeros, and a block whose bytes are all zero stays a hole even when it spans two calls
/// (as `cp --sparse=always` and `tar -S` make them). The caller sets the final size
/// (File::Truncate), so a file that ends in zeros comes out right.
Status WriteSparse(const File& f, uint64_t offset, const uint8_t* p, size_t n);

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
