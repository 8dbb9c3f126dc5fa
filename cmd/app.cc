#include "cmd/app.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <CLI/CLI.hpp>

namespace euca::cmd {
namespace {

void AppendOptionLines(std::ostringstream& out, const std::vector<const CLI::Option*>& options) {
  size_t width = 0;
  for (const auto* o : options) width = std::max(width, OptionLabel(*o).size());
  for (const auto* o : options) {
    std::string label = OptionLabel(*o);
    out << "  " << label << std::string(width - label.size() + 2, ' ') << o->get_description() << "\n";
  }
}

}  // namespace

std::string VersionString() { return std::string("euca ") + EUCA_VERSION; }

CommandTree::CommandTree()
    : root_(std::make_unique<CLI::App>("Run and administer an EC2/S3-compatible private cloud.", "euca")) {
  root_->set_help_flag("-h,--help", "print this help and exit");
  root_->set_version_flag("--version", VersionString(), "print the version and exit");
  AddGlobalOptions(*root_, globals_);
  // At most one subcommand per node: once one is chosen, later words are its arguments and
  // never a sibling command (an account named "init" stays an account name).
  root_->require_subcommand(-1);
  for (const CommandSpec& spec : Commands()) {
    std::vector<std::string> words = CommandWords(spec.name);
    CLI::App* parent = root_.get();
    std::string path;
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      path += (path.empty() ? "" : " ") + words[i];
      auto it = by_name_.find(path);
      if (it == by_name_.end()) {
        const GroupSpec* group = FindGroup(path);
        CLI::App* sub = parent->add_subcommand(words[i], group != nullptr ? std::string(group->summary) : "");
        AddGlobalOptions(*sub, globals_);
        sub->require_subcommand(-1);
        it = by_name_.emplace(path, sub).first;
      }
      parent = it->second;
    }
    CLI::App* leaf = parent->add_subcommand(words.back(), std::string(spec.summary));
    Handler handler = spec.setup(*leaf);
    AddGlobalOptions(*leaf, globals_);
    if (spec.hidden) leaf->group("");
    by_name_.emplace(std::string(spec.name), leaf);
    leaves_.emplace(leaf, Leaf{&spec, std::move(handler)});
  }
}

CommandTree::~CommandTree() = default;

const CLI::App* CommandTree::AppFor(const CommandSpec& spec) const {
  auto it = by_name_.find(spec.name);
  return it == by_name_.end() ? nullptr : it->second;
}

const CLI::App* CommandTree::GroupApp(std::string_view group) const {
  auto it = by_name_.find(group);
  return it == by_name_.end() ? nullptr : it->second;
}

const CLI::App* CommandTree::Selected() const {
  const CLI::App* app = root_.get();
  while (!app->get_subcommands().empty()) app = app->get_subcommands().front();
  return app;
}

const Leaf* CommandTree::LeafOf(const CLI::App* app) const {
  auto it = leaves_.find(app);
  return it == leaves_.end() ? nullptr : &it->second;
}

std::string OverviewHelp(const CommandTree& tree, std::string_view group) {
  std::ostringstream out;
  std::string prefix = group.empty() ? "" : std::string(group) + " ";
  out << "Usage: euca [OPTIONS] " << prefix << "COMMAND [ARGS]...\n"
      << "       euca-" << (group.empty() ? "" : std::string(group) + "-") << "COMMAND [ARGS]...\n\n";
  if (group.empty()) {
    out << tree.root().get_description() << "\n\n";
  } else if (const GroupSpec* g = FindGroup(group)) {
    out << "euca " << group << ": " << g->summary << ".\n\n";
  }
  std::vector<const CommandSpec*> shown;
  size_t width = 0;
  for (const auto& c : Commands()) {
    if (c.hidden || c.name.substr(0, prefix.size()) != prefix) continue;
    shown.push_back(&c);
    width = std::max(width, c.name.size());
  }
  out << "Commands:\n";
  for (const auto* c : shown)
    out << "  " << c->name << std::string(width - c->name.size() + 2, ' ') << c->summary << "\n";
  out << "\n" << kGlobalGroup << ":\n";
  std::vector<const CLI::Option*> options = NamedOptions(tree.root(), /*globals=*/true);
  for (const auto* o : NamedOptions(tree.root(), /*globals=*/false)) options.push_back(o);  // --help, --version
  AppendOptionLines(out, options);
  out << "\nRun 'euca help COMMAND' or 'euca COMMAND --help' for the options of a command.\n";
  return out.str();
}

std::string UsageArgs(const CLI::App& app) {
  std::string s;
  if (!NamedOptions(app, false).empty()) s += " [OPTIONS]";
  for (const auto* p : Positionals(app)) {
    std::string name = p->get_name(/*positional=*/true);
    if (p->get_items_expected_max() > 1) name += "...";
    s += " " + (p->get_required() ? name : "[" + name + "]");
  }
  return s;
}

std::string CommandHelp(const CommandTree& tree, const CommandSpec& spec) {
  const CLI::App& app = *tree.AppFor(spec);
  const std::string args = UsageArgs(app);
  std::ostringstream out;
  out << "Usage: euca " << spec.name << args << "\n";
  out << "       " << ProgramName(spec.name) << args << "\n";
  for (auto alias : spec.aliases) out << "       " << alias << args << "\n";
  std::string summary(spec.summary);
  if (!summary.empty()) summary[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(summary[0])));
  out << "\n" << summary << ".\n";
  if (auto positionals = Positionals(app); !positionals.empty()) {
    out << "\nArguments:\n";
    AppendOptionLines(out, positionals);
  }
  out << "\nOptions:\n";
  AppendOptionLines(out, NamedOptions(app, /*globals=*/false));
  out << "\n" << kGlobalGroup << ":\n";
  AppendOptionLines(out, NamedOptions(app, /*globals=*/true));
  out << "\nSee " << ManPageName(spec.name) << "(1) for details and euca(1) for the environment and exit status.\n";
  return out.str();
}

std::string OptionValueName(const CLI::Option& opt) {
  if (opt.get_type_size() == 0) return "";
  std::string type = opt.get_type_name();
  if (auto colon = type.find(':'); colon != std::string::npos) type.resize(colon);
  return type;
}

std::string OptionLabel(const CLI::Option& opt) {
  if (opt.get_positional() && opt.get_snames().empty() && opt.get_lnames().empty())
    return opt.get_name(/*positional=*/true);
  std::string label;
  for (const auto& s : opt.get_snames()) label += (label.empty() ? "-" : ", -") + s;
  for (const auto& l : opt.get_lnames()) label += (label.empty() ? "--" : ", --") + l;
  std::string value = OptionValueName(opt);
  if (!value.empty()) label += " " + value;
  return label;
}

std::vector<std::string> OptionChoices(const CLI::Option& opt) {
  std::string type = opt.get_type_name();
  auto open = type.find('{');
  auto close = type.find('}', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  std::vector<std::string> out;
  std::istringstream in(type.substr(open + 1, close - open - 1));
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

std::vector<const CLI::Option*> NamedOptions(const CLI::App& app, bool globals) {
  return app.get_options([&](const CLI::Option* o) {
    if (o->get_group().empty()) return false;
    if (o->get_snames().empty() && o->get_lnames().empty()) return false;
    return (o->get_group() == kGlobalGroup) == globals;
  });
}

std::vector<const CLI::Option*> Positionals(const CLI::App& app) {
  return app.get_options(
      [](const CLI::Option* o) { return o->get_positional() && o->get_snames().empty() && o->get_lnames().empty(); });
}

}  // namespace euca::cmd
