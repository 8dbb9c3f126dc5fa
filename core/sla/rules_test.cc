#include "core/sla/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace euca::sla {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const std::string& text) {
  auto r = ParseRules(text);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

TEST(SlaRulesTest, ParsesEveryKind) {
  auto rules = ParseRules(R"(# the seeds
[rule four]
kind = instance-limit   # per user by default
limit = 4

[rule cores]
kind = core-limit
scope = account
limit = 16
match.account = students
match.zone = zone-a
match.type = c1.medium

[rule mem]
kind = memory-limit
limit = 8G

[rule six-hours]
kind = max-runtime
duration = 6h
action = terminate

[rule pin]
kind = zone-policy
policy = single
zone = zone-b

[rule bytes]
kind = storage-quota
limit = 10G

[rule ips]
kind = address-quota
limit = 5
description = five public addresses
)");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  ASSERT_EQ(rules->size(), 7u);
  const auto& r = *rules;
  EXPECT_EQ(r[0].kind, kInstanceLimit);
  EXPECT_EQ(r[0].scope, "user");
  EXPECT_EQ(r[0].limit, 4);
  EXPECT_EQ(r[0].action, "reject");
  EXPECT_EQ(r[1].scope, "account");
  EXPECT_EQ(r[1].match.account, "students");
  EXPECT_EQ(r[1].match.zone, "zone-a");
  EXPECT_EQ(r[1].match.type, "c1.medium");
  EXPECT_EQ(r[2].limit, 8192);  // MiB
  EXPECT_EQ(r[3].duration_s, 6 * 3600);
  EXPECT_EQ(r[3].action, "terminate");
  EXPECT_EQ(r[4].policy, "single");
  EXPECT_EQ(r[4].zone, "zone-b");
  EXPECT_EQ(r[4].action, "set-zone");
  EXPECT_EQ(r[5].limit, int64_t{10} << 30);  // bytes
  EXPECT_EQ(r[5].scope, "account");
  EXPECT_EQ(r[6].description, "five public addresses");
}

TEST(SlaRulesTest, FormatAndJsonRoundTrip) {
  auto rules = ParseRules(
      "[rule a]\nkind = memory-limit\nscope = account\nlimit = 2048\nmatch.user = bob\n"
      "[rule b]\nkind = max-runtime\nduration = 90m\n[rule c]\nkind = zone-policy\npolicy = spread\n");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  for (const auto& r : *rules) {
    auto again = ParseRules(FormatRule(r));
    ASSERT_TRUE(again.ok()) << FormatRule(r) << again.status().ToString();
    EXPECT_EQ(ToJson((*again)[0]), ToJson(r));
    EXPECT_EQ(ToJson(RuleFromJson(ToJson(r))), ToJson(r));
  }
  EXPECT_THAT(FormatRule((*rules)[1]), HasSubstr("duration = 90m"));
}

TEST(SlaRulesTest, ErrorsNameTheLineAndKey) {
  EXPECT_EQ(ErrorOf("[rule a]\nkind = instance-limit\nlimit = 2\n\n[rule b]\nkind = instance-limit\nsize = 3\n"),
            "line 7: unknown key 'size' in rule 'b'");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = instance-limit\nlimit = x\n"), "line 3: limit 'x' is not a whole number");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = instance-limit\n"), "line 1: rule 'a' has no 'limit'");
  EXPECT_EQ(ErrorOf("[rule a]\nlimit = 1\n"), "line 1: rule 'a' has no 'kind'");
  EXPECT_THAT(ErrorOf("[rule a]\nkind = nope\n"), HasSubstr("line 2: unknown kind 'nope'"));
  EXPECT_EQ(ErrorOf("[rule a]\nkind = instance-limit\nlimit = 1\nlimit = 2\n"),
            "line 4: key 'limit' is given twice (first on line 3)");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = max-runtime\nduration = 1h\n[rule a]\n"),
            "line 4: rule 'a' is given twice (first on line 1)");
  EXPECT_EQ(ErrorOf("limit = 1\n"), "line 1: key 'limit' before the first '[rule NAME]'");
  EXPECT_EQ(ErrorOf("[rule A!]\n"),
            "line 1: invalid rule name 'A!': at most 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit");
  EXPECT_EQ(ErrorOf("[rules a]\n"), "line 1: expected '[rule NAME]'");
  EXPECT_EQ(ErrorOf("[rule a]\nkind\n"), "line 2: expected 'key = value'");
  EXPECT_EQ(ErrorOf("[rule a]\nkind =\n"), "line 2: key 'kind' has no value");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = max-runtime\nduration = none\n"),
            "line 3: duration 'none' is not of the form 30m, 6h or 7d");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = max-runtime\nduration = 1h\nlimit = 3\n"),
            "line 4: key 'limit' does not apply to rule 'a' of kind max-runtime");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = zone-policy\npolicy = single\n"), "line 3: policy 'single' needs 'zone = NAME'");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = zone-policy\npolicy = spread\nzone = z\n"),
            "line 4: 'zone' goes only with policy 'single'");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = zone-policy\npolicy = any\nmatch.zone = z\n"),
            "line 4: key 'match.zone' does not apply to rule 'a' of kind zone-policy");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = address-quota\nlimit = 1\nscope = user\n"),
            "line 4: kind address-quota counts per account: scope must be 'account'");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = instance-limit\nlimit = 1\naction = terminate\n"),
            "line 4: the action of kind instance-limit is 'reject', not 'terminate'");
  EXPECT_EQ(ErrorOf("[rule a]\nkind = memory-limit\nlimit = 100K\n"),
            "line 3: limit '100K' is not a memory size such as 4096 (MiB) or 8G");
  EXPECT_THAT(ErrorOf("# nothing\n"), HasSubstr("no rule"));
}

TEST(SlaRulesTest, ParseSize) {
  EXPECT_EQ(ParseSize("4096", 1), 4096);
  EXPECT_EQ(ParseSize("8G", int64_t{1} << 20), 8192);
  EXPECT_EQ(ParseSize("8GiB", 1), int64_t{8} << 30);
  EXPECT_EQ(ParseSize("1T", 1), int64_t{1} << 40);
  EXPECT_EQ(ParseSize("3k", 1), 3072);
  EXPECT_FALSE(ParseSize("", 1));
  EXPECT_FALSE(ParseSize("G", 1));
  EXPECT_FALSE(ParseSize("5X", 1));
  EXPECT_FALSE(ParseSize("1K", int64_t{1} << 20));  // not a whole MiB
}

TEST(SlaRulesTest, Matches) {
  Match any;
  EXPECT_TRUE(Matches(any, "a", "u", "z", "t"));
  Match m{"students", "", "zone-a", ""};
  EXPECT_TRUE(Matches(m, "students", "bob", "zone-a", "m1.small"));
  EXPECT_FALSE(Matches(m, "staff", "bob", "zone-a", "m1.small"));
  EXPECT_FALSE(Matches(m, "students", "bob", "zone-b", "m1.small"));
}

}  // namespace
}  // namespace euca::sla
