#pragma once
// The history repository: a bare git repository written and read with libgit2
// (docs/history-format.md). One commit per committed transaction on refs/heads/main,
// author = principal, message = action with Request-Id and Euca-Seq trailers. Each commit
// rewrites only the trees on the paths it touches. Not thread-safe; callers serialize
// writers (the store holds a file lock around Append).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "state/store.h"

struct git_repository;
struct git_odb_backend;

namespace euca::state {

class GitHistory final {
 public:
  ~GitHistory();
  GitHistory(const GitHistory&) = delete;
  GitHistory& operator=(const GitHistory&) = delete;

  /// Opens the bare repository at `path`; with `create`, makes it if missing.
  static Result<std::unique_ptr<GitHistory>> Open(const std::string& path, bool create);

  /// Removes ref lock files a killed writer left behind.
  /// REQUIRES: the caller holds the store's exclusive history lock, so no live writer owns them.
  void BreakStaleLocks();

  /// Euca-Seq of the newest commit; 0 when history is empty.
  Result<uint64_t> HeadSeq();

  /// One file change: content, or nullopt to remove the path.
  struct Change {
    std::string path;
    std::optional<std::string> content;
  };
  /// Appends one commit on top of main. REQUIRES: seq > HeadSeq().
  Status Append(const CommitInfo& info, const std::vector<Change>& changes);

  /// Appends several commits in order. Two or more commits, or one with more than
  /// kMaxLooseChanges files, are written as ONE packfile (objects gathered in memory, then
  /// indexed) and main moves only after the pack is on disk, so a crash leaves main at a
  /// complete commit. Creating files is the dominant cost of a commit on ext4; a pack makes
  /// it a few files per batch instead of several per commit.
  struct PendingCommit {
    CommitInfo info;
    std::vector<Change> changes;
  };
  Status AppendBatch(const std::vector<PendingCommit>& batch);

  /// Number of packfiles; above kMaxPacks, AppendBatch repacks everything into one.
  Result<size_t> PackCount();
  static constexpr size_t kMaxPacks = 48;
  static constexpr size_t kMaxLooseChanges = 16;

  Result<std::vector<CommitInfo>> Log(const std::optional<std::string>& path, size_t limit);
  Result<std::pair<CommitInfo, std::string>> Show(const std::string& rev);
  Result<std::string> Diff(const std::string& from, const std::optional<std::string>& to);

  /// Full commit id of `rev` (any git revision syntax). NotFound if it names no commit.
  Result<std::string> ResolveCommit(const std::string& rev);
  /// Every file of the tree at commit `rev`: path -> blob id (hex).
  Result<std::map<std::string, std::string>> ListFiles(const std::string& rev);
  Result<std::string> ReadBlob(const std::string& blob_id);
  /// The blob id git would give `content` (nothing is written).
  static std::string HashBlob(const std::string& content);

 private:
  explicit GitHistory(git_repository* repo) : repo_(repo) {}
  Status Repack();
  git_repository* repo_;
  // A second handle on the same objects, for batches, created on first use: writes land in
  // memory (mempack); the packs and loose objects on disk are read through read-only
  // wrappers that never rescan the disk on their own (libgit2 rescans the pack folder on
  // every miss, i.e. for every new object written). AppendBatch rescans once per batch
  // (disk_pack_->refresh). The backends are owned by batch_repo_'s odb.
  git_repository* batch_repo_ = nullptr;
  git_odb_backend* mempack_ = nullptr;
  git_odb_backend* disk_pack_ = nullptr;  // the wrapped pack backend
  std::string cached_head_;      // commit id whose seq is cached
  uint64_t cached_head_seq_ = 0;
};

}  // namespace euca::state
