#include "core/base/headers.h"

#include <gtest/gtest.h>

#include "core/base/strings.h"

namespace euca {
namespace {

TEST(HeadersTest, LookupsIgnoreCaseAndKeepOrderAndSpelling) {
  Headers h{{"Content-Type", "text/plain"}, {"X-Amz-Meta-A", "1"}, {"x-amz-meta-a", "2"}};
  EXPECT_EQ(h.Get("content-type"), "text/plain");
  EXPECT_EQ(*h.Find("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(h.Find("range"), nullptr);
  EXPECT_EQ(h.Get("range"), "");
  EXPECT_EQ(h.GetAll("X-AMZ-META-A"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(h.fields()[1].name, "X-Amz-Meta-A");
  h.Set("x-amz-meta-a", "3");
  EXPECT_EQ(h.GetAll("x-amz-meta-a"), (std::vector<std::string>{"3"}));
  EXPECT_EQ(h.size(), 2u);
  h.Remove("Content-type");
  EXPECT_FALSE(h.Has("content-type"));
  h.Add("Host", "h");
  EXPECT_EQ(h.fields().back().name, "Host");
}

TEST(StringsTest, AsciiCaseHelpers) {
  EXPECT_EQ(AsciiLower("X-Amz-Date\xc3\x89"), "x-amz-date\xc3\x89");
  EXPECT_EQ(AsciiUpper("composite\xc3\xa9-1"), "COMPOSITE\xc3\xa9-1");
  EXPECT_TRUE(EqualsIgnoreCase("Content-MD5", "content-md5"));
  EXPECT_FALSE(EqualsIgnoreCase("content-md5", "content-md"));
  EXPECT_FALSE(EqualsIgnoreCase("a", "b"));
}

}  // namespace
}  // namespace euca
