#pragma once
// An in-memory StateStore without history, for unit tests of the layers above.
// Transactions are serialized by a mutex and applied to a copy, so a failed callback
// leaves nothing behind. History calls answer Unsupported.

#include <map>
#include <memory>
#include <mutex>

#include "state/store.h"

namespace euca::state {

class MemoryStateStore final : public StateStore {
 public:
  Result<uint64_t> Transact(const TxnContext& ctx, const TxnFn& fn) override;
  Status Read(const TxnFn& fn) override;
  std::optional<uint64_t> ChangeCounter() override;
  Result<std::vector<CommitInfo>> Log(const std::optional<std::string>& object, size_t limit) override;
  Result<std::pair<CommitInfo, std::string>> Show(const std::string& rev) override;
  Result<std::string> Diff(const std::string& from, const std::optional<std::string>& to) override;
  Result<RollbackResult> Rollback(const TxnContext& ctx, const std::string& rev,
                                  const std::vector<std::string>& objects, bool dry_run) override;

  /// The contexts of committed transactions, oldest first (for tests).
  const std::vector<TxnContext>& CommittedForTest() const { return committed_; }

  struct Data {
    std::map<std::pair<std::string, std::string>, Object> objects;
    std::map<std::pair<std::string, std::string>, Json> graveyard;
  };

 private:
  std::mutex mu_;
  Data data_;
  uint64_t seq_ = 0;
  std::vector<TxnContext> committed_;
};

}  // namespace euca::state
