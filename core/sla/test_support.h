#pragma once
// Helpers of the core/sla tests: the principals they act as, and a store seeded with their
// accounts (and users) and one public image of alice's, "emi-00000001".

#include <gtest/gtest.h>

#include "core/clc/fake_cluster.h"
#include "core/model/compute.h"
#include "core/model/account.h"
#include "state/store.h"

namespace euca::sla::sla_test {

inline const model::Principal kAdmin{"eucalyptus", "100000000001", "admin", "AIDAADMIN"};
inline const model::Principal kAlice{"alice", "200000000002", "admin", "AIDAALICE"};
inline const model::Principal kBob{"bob", "300000000003", "admin", "AIDABOB"};

inline void Put(state::StateStore& store, const state::Object& o) {
  ASSERT_TRUE(store.Transact({"test", "seed", ""}, [&](state::Txn& t) { return t.Put(o); }).ok());
}

/// The accounts of kAdmin, kAlice and kBob (with their users when `users`), and alice's
/// public image emi-00000001.
inline void SeedAccountsAndImage(state::StateStore& store, bool users) {
  for (const auto* p : {&kAdmin, &kAlice, &kBob}) {
    model::Account a{p->account_id, p->account_name, 0};
    Put(store, {"accounts", a.id, "", a.name, model::ToJson(a), std::nullopt});
    if (users) {
      model::User u{p->user_id, p->account_id, p->user_name, true, 0};
      Put(store, {"users", u.id, a.id, u.name, model::ToJson(u), std::nullopt});
    }
  }
  Put(store, clc::PublicTestImage(kAlice.account_id));
}

}  // namespace euca::sla::sla_test
