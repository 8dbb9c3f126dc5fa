#include "core/clc/key_cache.h"

#include <gtest/gtest.h>

#include "state/forwarding_store.h"
#include "state/memory_store.h"

namespace euca::clc {
namespace {

constexpr char kSysId[] = "100000000001";
constexpr char kAdminId[] = "AIDAADMIN000000000001";

// A store that cannot tell changes (the StateStore default): nothing may be cached.
class BlindStore final : public state::ForwardingStateStore {
 public:
  using ForwardingStateStore::ForwardingStateStore;
  Status Read(const TxnFn& fn) override {
    ++reads;
    return inner_.Read(fn);
  }
  std::optional<uint64_t> ChangeCounter() override { return std::nullopt; }
  int reads = 0;
};

class KeyCacheTest : public ::testing::Test {
 protected:
  KeyCacheTest() : admin_(store_, PosixEnv(), clock_, "/nonexistent/home") {
    model::Account sys{kSysId, "eucalyptus", clock_.NowMillis()};
    model::User adm{kAdminId, kSysId, "admin", true, clock_.NowMillis()};
    EXPECT_TRUE(
        store_
            .Transact(
                {"system", "InitCloud", ""},
                [&](state::Txn& t) {
                  EUCA_RETURN_IF_ERROR(t.Put({"accounts", sys.id, "", sys.name, model::ToJson(sys), std::nullopt}));
                  return t.Put({"users", adm.id, sys.id, adm.name, model::ToJson(adm), std::nullopt});
                })
            .ok());
    root_ = {"eucalyptus", kSysId, "admin", kAdminId};
    EXPECT_TRUE(admin_.CreateAccount(root_, "acme").ok());
    auto bob = admin_.CreateUser(root_, "acme", "bob");
    EXPECT_TRUE(bob.ok());
    bob_key_ = bob->second;
  }

  state::MemoryStateStore store_;
  FakeClock clock_;
  Admin admin_;
  Principal root_;
  model::AccessKey bob_key_;
};

TEST_F(KeyCacheTest, AnswersFromTheCacheWhileTheStoreIsUnchanged) {
  KeyCache cache(admin_, store_);
  auto first = cache.Authenticate(bob_key_.id);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->principal.ToString(), "bob@acme");
  EXPECT_EQ(first->secret, bob_key_.secret);
  EXPECT_EQ(cache.hits(), 0u);
  auto again = cache.Authenticate(bob_key_.id);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->secret, bob_key_.secret);
  EXPECT_EQ(cache.hits(), 1u);

  // Unknown keys are refused, from the cache too.
  EXPECT_EQ(cache.Authenticate("AKIANOPENOPENOPENOPE").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(cache.Authenticate("AKIANOPENOPENOPENOPE").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(cache.hits(), 2u);
}

TEST_F(KeyCacheTest, ADisabledUserIsRefusedAtTheNextRequestAndAcceptedOnceReenabled) {
  KeyCache cache(admin_, store_);
  ASSERT_TRUE(cache.Authenticate(bob_key_.id).ok());
  ASSERT_TRUE(cache.Authenticate(bob_key_.id).ok());
  ASSERT_TRUE(admin_.SetUserEnabled(root_, "acme", "bob", false).ok());
  auto refused = cache.Authenticate(bob_key_.id);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(cache.Authenticate(bob_key_.id).status().code(), Code::kUnauthenticated);  // cached refusal
  ASSERT_TRUE(admin_.SetUserEnabled(root_, "acme", "bob", true).ok());
  EXPECT_TRUE(cache.Authenticate(bob_key_.id).ok());
}

TEST_F(KeyCacheTest, ADeletedUsersKeyIsRefusedAtTheNextRequest) {
  KeyCache cache(admin_, store_);
  ASSERT_TRUE(cache.Authenticate(bob_key_.id).ok());
  ASSERT_TRUE(admin_.DeleteUser(root_, "acme", "bob").ok());
  EXPECT_EQ(cache.Authenticate(bob_key_.id).status().code(), Code::kUnauthenticated);
}

TEST_F(KeyCacheTest, AStoreThatCannotTellChangesIsReadEveryTime) {
  BlindStore blind(store_);
  Admin admin(blind, PosixEnv(), clock_, "/nonexistent/home");
  KeyCache cache(admin, blind);
  ASSERT_TRUE(cache.Authenticate(bob_key_.id).ok());
  ASSERT_TRUE(cache.Authenticate(bob_key_.id).ok());
  EXPECT_EQ(blind.reads, 2);
  EXPECT_EQ(cache.hits(), 0u);
}

TEST_F(KeyCacheTest, TheCacheIsBounded) {
  KeyCache cache(admin_, store_, /*max_entries=*/2);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(cache.Authenticate("AKIAUNKNOWN" + std::to_string(i)).ok());
  ASSERT_TRUE(cache.Authenticate(bob_key_.id).ok());
  EXPECT_TRUE(cache.Authenticate(bob_key_.id).ok());
  EXPECT_EQ(cache.hits(), 1u);
}

}  // namespace
}  // namespace euca::clc
