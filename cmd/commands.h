#pragma once
// The command table: the one source from which the CLI11 parser, `euca help`, "did you
// mean" suggestions, argv[0] dispatch, the euca-* symlinks, the man pages and the shell
// completions are all derived. Adding a command = one row here plus its Setup function in
// the file of its family (cmd/handlers.h).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace euca::cmd {

struct Context;

/// Runs a parsed command. The options it reads were bound by its Setup function.
using Handler = std::function<Status(Context& ctx)>;

/// Registers a command's options and positionals on `app` (its CLI11 subcommand) and
/// returns the handler that runs it with the parsed values.
using SetupFn = Handler (*)(CLI::App& app);

/// One row of the command table.
struct CommandSpec {
  std::string_view name;                  ///< "admin init" (words separated by one space) or "help"
  std::string_view summary;               ///< one line, lower case, no final period: NAME section and help
  std::string_view description;           ///< man page DESCRIPTION: paragraphs separated by "\n\n"
  std::vector<std::string_view> aliases;  ///< extra program names, e.g. "euca-modify-property"
  SetupFn setup = nullptr;
  bool hidden = false;  ///< build tooling (__man ...): no help, man page, symlink or completion
};

/// A word that groups commands ("admin"): it has no handler of its own.
struct GroupSpec {
  std::string_view name;
  std::string_view summary;
};

/// The command table, in the order help and man pages list it.
const std::vector<CommandSpec>& Commands();
/// The command groups ("admin").
const std::vector<GroupSpec>& Groups();

/// The command named `name` ("admin init"), or nullptr.
const CommandSpec* FindCommand(std::string_view name);
/// The group named `name` ("admin"), or nullptr.
const GroupSpec* FindGroup(std::string_view name);

/// The words of a command name: "admin init" -> {"admin", "init"}.
std::vector<std::string> CommandWords(std::string_view name);

/// The program name of a command: "admin init" -> "euca-admin-init".
std::string ProgramName(std::string_view command_name);
/// The man page name of a command: "admin init" -> "euca-admin-init" (same as ProgramName).
inline std::string ManPageName(std::string_view command_name) { return ProgramName(command_name); }

/// The command words that `program` (a basename such as "euca-admin-init" or an alias such
/// as "euca-modify-property") stands for, or nullopt if it names no visible command.
/// "euca" itself is not a command program: nullopt.
std::optional<std::vector<std::string>> CommandWordsForProgram(std::string_view program);

/// Resolves what a user typed after `euca help` or in a man lookup: "admin init",
/// "admin-init", "euca-admin-init" or an alias. nullptr if nothing matches.
const CommandSpec* ResolveCommandName(std::string_view typed);

/// Edit distance between two strings: insert, delete, substitute or swap two adjacent
/// characters, cost 1 each (optimal string alignment).
size_t EditDistance(std::string_view a, std::string_view b);

/// The visible command name closest to `typed` (a full "admin inti" or a single word such
/// as "create-usr", which is also compared with the last word of grouped commands), if it
/// is close enough to be a plausible typo.
std::optional<std::string> SuggestCommand(std::string_view typed);

/// Words that may follow `prefix` ("" -> top-level words incl. groups; "admin" -> the admin
/// commands' second words). Visible commands only, in table order.
std::vector<std::string> NextWords(std::string_view prefix);

}  // namespace euca::cmd
