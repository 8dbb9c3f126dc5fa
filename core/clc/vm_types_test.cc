#include "core/clc/vm_types.h"

#include <gtest/gtest.h>

#include "state/memory_store.h"

namespace euca::clc {
namespace {

const model::Principal kAdmin{"eucalyptus", "100000000001", "admin", "AIDAADMIN"};
const model::Principal kAlice{"alice", "200000000002", "admin", "AIDAALICE"};

TEST(VmTypesTest, DefaultsWhenNoneStored) {
  state::MemoryStateStore store;
  VmTypes types(store);
  auto list = types.Describe();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 5u);
  EXPECT_EQ((*list)[0].name, "m1.small");
  EXPECT_EQ((*list)[4].name, "c1.xlarge");
  auto small = types.Find("m1.small");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->memory_mib, 256u);
  auto missing = types.Find("t9.huge");
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("'t9.huge'"), std::string::npos);
}

TEST(VmTypesTest, ModifyWritesAllTypesInOneCommit) {
  state::MemoryStateStore store;
  VmTypes types(store);
  auto changed = types.Modify(kAdmin, "c1.medium", {.cores = 4, .memory_mib = 1024, .disk_gib = std::nullopt});
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(changed->first.cores, 2);
  EXPECT_EQ(changed->second.cores, 4);
  EXPECT_EQ(changed->second.memory_mib, 1024u);
  EXPECT_EQ(changed->second.disk_gib, 10u);
  ASSERT_EQ(store.CommittedForTest().size(), 1u);
  EXPECT_EQ(store.CommittedForTest()[0].action, "ModifyVmType c1.medium");
  auto list = types.Describe();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 5u);
  EXPECT_EQ((*list)[0].name, "m1.small");
  EXPECT_EQ((*list)[1].cores, 4);
  EXPECT_EQ(types.Find("m1.large")->cores, 2);
}

TEST(VmTypesTest, ModifyRejectsBadInputAndChangesNothing) {
  state::MemoryStateStore store;
  VmTypes types(store);
  EXPECT_EQ(types.Modify(kAlice, "m1.small", {.cores = 2}).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(types.Modify(kAdmin, "m9.none", {.cores = 2}).status().code(), Code::kNotFound);
  EXPECT_EQ(types.Modify(kAdmin, "m1.small", {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(types.Modify(kAdmin, "m1.small", {.cores = 0}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(types.Modify(kAdmin, "m1.small", {.memory_mib = 1}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(types.Modify(kAdmin, "m1.small", {.disk_gib = -3}).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(store.CommittedForTest().empty());
}

}  // namespace
}  // namespace euca::clc
