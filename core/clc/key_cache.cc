#include "core/clc/key_cache.h"

namespace euca::clc {

Result<KeyIdentity> KeyCache::Authenticate(const std::string& access_key_id) {
  std::lock_guard<std::mutex> lock(mu_);
  // Asked before the read below: a change that lands during the read makes the next call
  // see a new counter and read again.
  std::optional<uint64_t> now = store_.ChangeCounter();
  if (!now || now != counter_) {
    entries_.clear();
    counter_ = now;
  }
  if (now) {
    if (auto it = entries_.find(access_key_id); it != entries_.end()) {
      ++hits_;
      return it->second;
    }
  }
  Result<KeyIdentity> id = admin_.AuthenticateKey(access_key_id);
  // Identities and refusals are kept; other failures (a busy or broken store) are not.
  if (now && (id.ok() || id.status().code() == Code::kUnauthenticated)) {
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_.emplace(access_key_id, id);
  }
  return id;
}

uint64_t KeyCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

}  // namespace euca::clc
