#include "core/base/strings.h"

#include <gtest/gtest.h>

namespace euca {
namespace {

TEST(StringsTest, ShellQuoteAlwaysQuotesAndEscapesSingleQuotes) {
  EXPECT_EQ(ShellQuote("abc"), "'abc'");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

TEST(StringsTest, ShellQuoteIfNeededLeavesPlainWords) {
  EXPECT_EQ(ShellQuoteIfNeeded("/tmp/h/eucarc"), "/tmp/h/eucarc");
  EXPECT_EQ(ShellQuoteIfNeeded("/a b/eucarc"), "'/a b/eucarc'");
  EXPECT_EQ(ShellQuoteIfNeeded("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuoteIfNeeded(""), "''");
  EXPECT_EQ(ShellQuoteIfNeeded("$HOME"), "'$HOME'");
}

}  // namespace
}  // namespace euca
