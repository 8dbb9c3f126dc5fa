#include "cmd/cli.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cmd/app.h"
#include "cmd/commands.h"
#include "core/base/error_map.h"

namespace euca::cmd {
namespace {

std::string_view Basename(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

/// The global options that take a value ("--home", "-U", ...), so that a scan of the
/// arguments can skip their values.
std::vector<std::string> ValuedGlobalOptions(const CommandTree& tree) {
  std::vector<std::string> names;
  for (const CLI::Option* o : NamedOptions(tree.root(), /*globals=*/true)) {
    if (OptionValueName(*o).empty()) continue;
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  }
  return names;
}

/// The first command words of `args` (one, or two when the first is a group), skipping
/// global options before and between them.
std::vector<std::string> ScanCommandWords(const CommandTree& tree, const std::vector<std::string>& args) {
  const std::vector<std::string> valued = ValuedGlobalOptions(tree);
  std::vector<std::string> words;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() > 1 && a[0] == '-') {
      if (std::find(valued.begin(), valued.end(), a) != valued.end()) ++i;
      continue;
    }
    words.push_back(a);
    if (words.size() == 2 || FindGroup(a) == nullptr) break;
  }
  return words;
}

Status UnknownCommand(const std::string& typed, std::string_view group) {
  if (auto suggestion = SuggestCommand(typed))
    return InvalidArgument("unknown command '" + typed + "'; did you mean 'euca " + *suggestion + "'?");
  std::string help = group.empty() ? "euca help" : "euca help " + std::string(group);
  return InvalidArgument("unknown command '" + typed + "'; run '" + help + "' for the list");
}

/// Rejects unknown command words before CLI11 does, so that the message can suggest the
/// command the user probably meant.
Status CheckCommandWords(const std::vector<std::string>& words) {
  if (words.empty()) return Status::Ok();
  const std::string& first = words[0];
  if (FindGroup(first) != nullptr) {
    if (words.size() == 2 && FindCommand(first + " " + words[1]) == nullptr)
      return UnknownCommand(first + " " + words[1], first);
    return Status::Ok();
  }
  if (FindCommand(first) == nullptr) return UnknownCommand(first, "");
  return Status::Ok();
}

int Fail(std::ostream& err, const std::string& program, const Status& status) {
  err << program << ": error: " << status.message() << "\n";
  return MapError(status.code()).exit_status;
}

/// "euca admin init": the command a usage hint refers to.
std::string SelectedName(const CommandTree& tree) {
  std::string name;
  for (const CLI::App* app = tree.Selected(); app != nullptr && app->get_parent() != nullptr; app = app->get_parent())
    name = app->get_name() + (name.empty() ? "" : " " + name);
  return name.empty() ? "euca" : "euca " + name;
}

std::string HelpFor(const CommandTree& tree) {
  const CLI::App* selected = tree.Selected();
  if (const Leaf* leaf = tree.LeafOf(selected)) return CommandHelp(tree, *leaf->spec);
  if (selected != &tree.root()) return OverviewHelp(tree, selected->get_name());
  return OverviewHelp(tree);
}

}  // namespace

int Run(std::string_view argv0, const std::vector<std::string>& args_in, std::ostream& out, std::ostream& err,
        const GetenvFn& getenv, Env& env, Clock& clock, bool err_is_tty) {
  std::string program(Basename(argv0));
  std::vector<std::string> args = args_in;
  // argv[0] dispatch: euca-admin-init == euca admin init; euca2ools aliases likewise.
  if (program.rfind("euca-", 0) == 0) {
    auto words = CommandWordsForProgram(program);
    if (!words) {
      std::string message = "unknown program name '" + program + "'";
      if (auto suggestion = SuggestCommand(program.substr(5)))
        message += "; did you mean '" + ProgramName(*suggestion) + "'?";
      return Fail(err, program, InvalidArgument(message));
    }
    args.insert(args.begin(), words->begin(), words->end());
  } else {
    program = "euca";
  }

  CommandTree tree;
  if (Status s = CheckCommandWords(ScanCommandWords(tree, args)); !s.ok()) return Fail(err, program, s);

  std::vector<const char*> argv = {"euca"};
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    tree.root().parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    out << HelpFor(tree);
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << HelpFor(tree);
    return 0;
  } catch (const CLI::CallForVersion&) {
    out << VersionString() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string name = SelectedName(tree);
    err << program << ": error: " << e.what() << "\n"
        << "Run '" << name << " --help' for usage.\n";
    return kUsageExitStatus;
  }

  const CLI::App* selected = tree.Selected();
  const Leaf* leaf = tree.LeafOf(selected);
  if (leaf == nullptr) {
    std::string group = selected == &tree.root() ? "" : selected->get_name();
    std::string help = group.empty() ? "euca help" : "euca help " + group;
    err << program << ": error: missing " << (group.empty() ? "" : group + " ") << "command; run '" << help
        << "' for the list\n";
    return kUsageExitStatus;
  }

  Result<Context> made = MakeContext(tree.globals(), getenv);
  if (!made.ok()) return Fail(err, program, made.status());
  Context& ctx = *made;
  ctx.program = program;
  ctx.out = &out;
  ctx.err = &err;
  ctx.env = &env;
  ctx.clock = &clock;
  ctx.tree = &tree;
  ctx.err_is_tty = ctx.err_is_tty || err_is_tty;

  Status status;
  try {
    status = leaf->handler(ctx);
  } catch (const std::exception& e) {
    // Library code reports errors as Status; an exception here is a bug, not a crash.
    status = Internal(std::string("unexpected error: ") + e.what());
  }
  out.flush();
  if (!status.ok()) {
    ctx.Debug(std::string("status ") + std::string(CodeName(status.code())));
    return Fail(err, program, status);
  }
  return 0;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return Run(argc > 0 ? argv[0] : "euca", args, std::cout, std::cerr, ProcessGetenv, PosixEnv(), RealClock(),
             ::isatty(STDERR_FILENO) == 1);
}

}  // namespace euca::cmd
