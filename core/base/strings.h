#pragma once
// Small string helpers shared by every layer.

#include <string>
#include <string_view>

namespace euca {

/// `s` in single quotes for a POSIX shell ('it'\''s'); always quoted, "" gives ''.
std::string ShellQuote(std::string_view s);

/// `s` unchanged when a shell would read it as one plain word ([A-Za-z0-9/._+,:@=%-]+),
/// else ShellQuote(s). For messages that show a command to copy.
std::string ShellQuoteIfNeeded(std::string_view s);

/// `s` with ASCII letters in lower case; other bytes unchanged.
std::string AsciiLower(std::string_view s);
/// `s` with ASCII letters in upper case; other bytes unchanged.
std::string AsciiUpper(std::string_view s);

/// True if `a` and `b` are equal ignoring ASCII case (header names, schemes).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace euca
