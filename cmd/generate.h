#pragma once
// Generators of the files derived from the command table and the CLI11 option
// definitions: man pages (man/*.1) and shell completions (completions/). Their output is
// deterministic (no dates, table order) and checked in; tests/cli/generated.bats fails when
// the checked-in files differ from what the binary generates.

#include <map>
#include <string>
#include <string_view>

#include "cmd/app.h"
#include "core/base/status.h"

namespace euca::cmd {

/// Every man page: file name ("euca.1", "euca-admin-init.1", alias pages that source their
/// command's page) -> roff text.
std::map<std::string, std::string> GenerateManPages(const CommandTree& tree);

/// The completion script for `shell` ("bash" or "zsh"); InvalidArgument for another shell.
Result<std::string> GenerateCompletion(const CommandTree& tree, std::string_view shell);

}  // namespace euca::cmd
