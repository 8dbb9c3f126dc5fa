#pragma once
// Env: the filesystem seam (LevelDB's Env). Core code writes files only through an Env so
// that tests can inject faults (EnvWrapper overrides one call) and so that every write is
// atomic: a file appears whole under its final name or not at all.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace euca {

class Env {
 public:
  virtual ~Env() = default;
  /// Writes `data` to `path` atomically (temporary file in the same folder, fsync,
  /// rename) with permission bits `mode`. On failure nothing appears at `path`.
  virtual Status WriteFileAtomic(const std::string& path, const std::string& data, uint32_t mode) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  /// Creates `path` and missing parents with `mode`; ok if it already is a directory.
  virtual Status CreateDirs(const std::string& path, uint32_t mode) = 0;
  /// Creates a new file of `size` bytes with permission bits `mode` whose first bytes are
  /// `head` (a disk's header; may be empty) and the rest zeros, sparse where the filesystem
  /// allows (a raw disk image); AlreadyExists if `path` exists, InvalidArgument if `head` is
  /// longer than `size`. Not fsynced (a new instance's scratch disk). On failure nothing is
  /// left at `path`.
  virtual Status CreateSparseFile(const std::string& path, uint64_t size, uint32_t mode, const std::string& head) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  /// Removes a file or a whole tree; ok if absent.
  virtual Status RemoveAll(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  /// Permission bits of `path` (e.g. 0600).
  virtual Result<uint32_t> Mode(const std::string& path) = 0;
  /// Size of the file at `path` in bytes (its length, holes included).
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  /// Bytes `path` occupies on disk (allocated blocks: a sparse file counts what it holds).
  virtual Result<uint64_t> AllocatedBytes(const std::string& path) = 0;
  /// Size and free space of the filesystem holding `path` (statvfs), in bytes.
  struct Space {
    uint64_t total = 0;
    uint64_t available = 0;  ///< to unprivileged users
  };
  virtual Result<Space> FilesystemSpace(const std::string& path) = 0;
};

/// The process-wide POSIX Env.
Env& PosixEnv();

/// Forwards every call to a target Env; subclass and override one call to inject a fault.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env& target) : target_(target) {}
  Status WriteFileAtomic(const std::string& p, const std::string& d, uint32_t m) override {
    return target_.WriteFileAtomic(p, d, m);
  }
  Result<std::string> ReadFile(const std::string& p) override { return target_.ReadFile(p); }
  Status CreateDirs(const std::string& p, uint32_t m) override { return target_.CreateDirs(p, m); }
  Status CreateSparseFile(const std::string& p, uint64_t n, uint32_t m, const std::string& h) override {
    return target_.CreateSparseFile(p, n, m, h);
  }
  bool Exists(const std::string& p) override { return target_.Exists(p); }
  Result<std::vector<std::string>> ListDir(const std::string& p) override { return target_.ListDir(p); }
  Status RemoveAll(const std::string& p) override { return target_.RemoveAll(p); }
  Status Rename(const std::string& f, const std::string& t) override { return target_.Rename(f, t); }
  Result<uint32_t> Mode(const std::string& p) override { return target_.Mode(p); }
  Result<uint64_t> FileSize(const std::string& p) override { return target_.FileSize(p); }
  Result<uint64_t> AllocatedBytes(const std::string& p) override { return target_.AllocatedBytes(p); }
  Result<Space> FilesystemSpace(const std::string& p) override { return target_.FilesystemSpace(p); }

 private:
  Env& target_;
};

/// Joins path components with '/'.
std::string JoinPath(const std::string& a, const std::string& b);

}  // namespace euca
