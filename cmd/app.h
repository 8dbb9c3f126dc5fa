#pragma once
// The CLI11 command tree built from the command table (commands.h): one subcommand per
// table word, the global options on every node, and each leaf's handler. Main parses
// with it; `euca help`, the man pages and the completions read it.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/commands.h"
#include "cmd/context.h"

namespace CLI {
class Option;
}  // namespace CLI

namespace euca::cmd {

/// A leaf of the tree: its table row and the handler its Setup returned.
struct Leaf {
  const CommandSpec* spec = nullptr;
  Handler handler;
};

class CommandTree final {
 public:
  /// Builds the tree of every command of the table, hidden ones included.
  CommandTree();
  ~CommandTree();
  CommandTree(const CommandTree&) = delete;
  CommandTree& operator=(const CommandTree&) = delete;

  CLI::App& root() { return *root_; }
  const CLI::App& root() const { return *root_; }
  /// The values the global options were parsed into.
  const GlobalOptions& globals() const { return globals_; }

  /// The subcommand of `spec`, or of the group `group` ("admin"). Never null for a table row.
  const CLI::App* AppFor(const CommandSpec& spec) const;
  const CLI::App* GroupApp(std::string_view group) const;

  /// After parsing: the deepest selected subcommand (the root if none was given).
  const CLI::App* Selected() const;
  /// The leaf of a parsed subcommand, or nullptr for the root and groups.
  const Leaf* LeafOf(const CLI::App* app) const;

 private:
  GlobalOptions globals_;
  std::unique_ptr<CLI::App> root_;
  std::map<const CLI::App*, Leaf> leaves_;
  std::map<std::string, CLI::App*, std::less<>> by_name_;  // "admin", "admin init", ...
};

/// The overview of `euca help` (group empty) or `euca help admin`: usage, the visible
/// commands with their summaries, the global options.
std::string OverviewHelp(const CommandTree& tree, std::string_view group = {});

/// The usage of one command (`euca COMMAND --help`): usage lines, arguments, options and
/// global options, from the CLI11 definitions.
std::string CommandHelp(const CommandTree& tree, const CommandSpec& spec);

/// The arguments part of a usage line: " [OPTIONS] NAME [REV2] [PREFIX...]".
std::string UsageArgs(const CLI::App& app);

/// "euca VERSION".
std::string VersionString();

/// How help and man pages show an option: "-U, --url URL", "--debug", "NAME".
std::string OptionLabel(const CLI::Option& opt);
/// The value placeholder of an option without CLI11's validator suffix ("FORMAT" for
/// "FORMAT:{text,json}"); empty for a flag.
std::string OptionValueName(const CLI::Option& opt);
/// The fixed choices of an option checked with CLI::IsMember ({"text", "json"}), else empty.
std::vector<std::string> OptionChoices(const CLI::Option& opt);
/// The options of `app` that are not positionals, hidden or in `kGlobalGroup` unless
/// `globals`; the help flag included.
std::vector<const CLI::Option*> NamedOptions(const CLI::App& app, bool globals);
/// The positionals of `app`, in order.
std::vector<const CLI::Option*> Positionals(const CLI::App& app);

}  // namespace euca::cmd
