#pragma once
// Admin::AuthenticateKey for servers that check a signature on every request: answers
// (identities and refusals) are kept while the state store reports no change
// (StateStore::ChangeCounter), so a request costs one cheap change check, not a store read.
// Any change anywhere (a key made inactive, a user disabled or deleted, by this process or an
// `euca` command in another) drops every answer, so a refusal takes effect at the next request.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clc/admin.h"
#include "state/store.h"

namespace euca::clc {

class KeyCache final {
 public:
  /// `admin` and `store` (the one `admin` reads) must outlive the cache.
  KeyCache(Admin& admin, state::StateStore& store, size_t max_entries = 4096)
      : admin_(admin), store_(store), max_entries_(max_entries) {}

  /// As Admin::AuthenticateKey. Thread-safe (calls to `admin` are serialized).
  Result<KeyIdentity> Authenticate(const std::string& access_key_id);

  /// Answers given from the cache, for tests.
  uint64_t hits() const;

 private:
  Admin& admin_;
  state::StateStore& store_;
  const size_t max_entries_;
  mutable std::mutex mu_;            // guards everything below and calls to admin_
  std::optional<uint64_t> counter_;  // the store's ChangeCounter the entries belong to
  std::unordered_map<std::string, Result<KeyIdentity>> entries_;
  uint64_t hits_ = 0;
};

}  // namespace euca::clc
