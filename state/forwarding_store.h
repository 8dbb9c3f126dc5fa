#pragma once
// A StateStore that passes every call to another one, for tests that watch or interleave
// calls: derive and override what the test is about (e.g. count reads, run a hook after the
// first read, hide the change counter).

#include "state/store.h"

namespace euca::state {

class ForwardingStateStore : public StateStore {
 public:
  /// REQUIRES: `inner` outlives this object.
  explicit ForwardingStateStore(StateStore& inner) : inner_(inner) {}
  Result<uint64_t> Transact(const TxnContext& ctx, const TxnFn& fn) override { return inner_.Transact(ctx, fn); }
  Status Read(const TxnFn& fn) override { return inner_.Read(fn); }
  std::optional<uint64_t> ChangeCounter() override { return inner_.ChangeCounter(); }
  Result<std::vector<CommitInfo>> Log(const std::optional<std::string>& object, size_t limit) override {
    return inner_.Log(object, limit);
  }
  Result<std::pair<CommitInfo, std::string>> Show(const std::string& rev) override { return inner_.Show(rev); }
  Result<std::string> Diff(const std::string& from, const std::optional<std::string>& to) override {
    return inner_.Diff(from, to);
  }
  Result<RollbackResult> Rollback(const TxnContext& ctx, const std::string& rev, const std::vector<std::string>& objects,
                                  bool dry_run) override {
    return inner_.Rollback(ctx, rev, objects, dry_run);
  }

 protected:
  StateStore& inner_;
};

}  // namespace euca::state
