#include "state/memory_store.h"

#include "state/kinds.h"

namespace euca::state {
namespace {

class MemoryTxn final : public Txn {
 public:
  MemoryTxn(MemoryStateStore::Data& data, bool writable) : data_(data), writable_(writable) {}

  Result<std::optional<Object>> Get(const std::string& kind, const std::string& id) override {
    auto it = data_.objects.find({kind, id});
    if (it == data_.objects.end()) return std::optional<Object>();
    return std::optional<Object>(it->second);
  }
  Result<std::optional<Object>> GetByName(const std::string& kind, const std::string& parent,
                                          const std::string& name) override {
    for (const auto& [key, obj] : data_.objects)
      if (key.first == kind && obj.parent == parent && obj.name == name) return std::optional<Object>(obj);
    return std::optional<Object>();
  }
  Result<std::vector<Object>> List(const std::string& kind, const std::optional<std::string>& parent) override {
    std::vector<Object> out;
    for (const auto& [key, obj] : data_.objects)
      if (key.first == kind && (!parent || obj.parent == *parent)) out.push_back(obj);
    return out;
  }
  Status Put(const Object& object) override {
    if (!writable_) return Internal("write in a read-only transaction");
    if (!FindKind(object.kind)) return InvalidArgument("unknown object kind '" + object.kind + "'");
    if (object.id.empty()) return InvalidArgument("object of kind '" + object.kind + "' has an empty id");
    if (!object.name.empty()) {
      for (const auto& [key, obj] : data_.objects)
        if (key.first == object.kind && key.second != object.id && obj.parent == object.parent &&
            obj.name == object.name)
          return AlreadyExists("'" + object.name + "' already exists");
    }
    data_.objects[{object.kind, object.id}] = object;
    changed_ = true;
    return Status::Ok();
  }
  Status Delete(const std::string& kind, const std::string& id) override {
    if (!writable_) return Internal("write in a read-only transaction");
    auto it = data_.objects.find({kind, id});
    if (it == data_.objects.end()) return NotFound("no " + kind + " object '" + id + "'");
    if (it->second.secret) data_.graveyard[{kind, id}] = *it->second.secret;
    data_.objects.erase(it);
    changed_ = true;
    return Status::Ok();
  }
  Result<std::optional<Json>> BuriedSecret(const std::string& kind, const std::string& id) override {
    auto it = data_.graveyard.find({kind, id});
    if (it == data_.graveyard.end()) return std::optional<Json>();
    return std::optional<Json>(it->second);
  }
  bool changed() const { return changed_; }

 private:
  MemoryStateStore::Data& data_;
  bool writable_;
  bool changed_ = false;
};

}  // namespace

Result<uint64_t> MemoryStateStore::Transact(const TxnContext& ctx, const TxnFn& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  Data copy = data_;
  MemoryTxn txn(copy, true);
  EUCA_RETURN_IF_ERROR(fn(txn));
  if (!txn.changed()) return seq_;
  data_ = std::move(copy);
  committed_.push_back(ctx);
  return ++seq_;
}

Status MemoryStateStore::Read(const TxnFn& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  MemoryTxn txn(data_, false);
  return fn(txn);
}

std::optional<uint64_t> MemoryStateStore::ChangeCounter() {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

Result<std::vector<CommitInfo>> MemoryStateStore::Log(const std::optional<std::string>&, size_t) {
  return Unsupported("the in-memory store keeps no history");
}
Result<std::pair<CommitInfo, std::string>> MemoryStateStore::Show(const std::string&) {
  return Unsupported("the in-memory store keeps no history");
}
Result<std::string> MemoryStateStore::Diff(const std::string&, const std::optional<std::string>&) {
  return Unsupported("the in-memory store keeps no history");
}
Result<RollbackResult> MemoryStateStore::Rollback(const TxnContext&, const std::string&,
                                                  const std::vector<std::string>&, bool) {
  return Unsupported("the in-memory store keeps no history");
}

}  // namespace euca::state
