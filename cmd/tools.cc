// Hidden build tooling: euca __symlinks DIR, __man DIR, __completions SHELL. Driven by the
// command table like everything else, so the links, pages and scripts never drift from it.

#include <unistd.h>

#include <filesystem>
#include <ostream>
#include <set>

#include <CLI/CLI.hpp>

#include "cmd/common.h"
#include "cmd/generate.h"

namespace euca::cmd {
namespace {

namespace fs = std::filesystem;

Status FsError(const std::string& what, const std::error_code& ec) { return Internal(what + ": " + ec.message()); }

/// Points `link` at `target`, replacing an older link atomically; refuses to replace a file
/// that is not a link.
Status ReplaceSymlink(const fs::path& target, const fs::path& link) {
  std::error_code ec;
  fs::file_status st = fs::symlink_status(link, ec);
  if (fs::exists(st) && !fs::is_symlink(st))
    return AlreadyExists("'" + link.string() + "' exists and is not a link; remove it first");
  fs::path tmp = link;
  tmp += ".tmp-" + std::to_string(getpid());
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (ec) return FsError("link '" + tmp.string() + "'", ec);
  fs::rename(tmp, link, ec);
  if (ec) {
    fs::remove(tmp);
    return FsError("rename '" + tmp.string() + "'", ec);
  }
  return Status::Ok();
}

}  // namespace

Handler SetupSymlinks(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto link_to = std::make_shared<std::string>();
  AddRequiredArg(app, "DIR", *dir, "folder to create the euca-* links in");
  // Install links the bash completion file too, so bash-completion finds it by program name.
  app.add_option("--target", *link_to, "link to this name in DIR instead of to the binary");
  return [dir, link_to](Context& ctx) -> Status {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return FsError("find the euca binary", ec);
    fs::path where = fs::weakly_canonical(*dir, ec);
    if (ec || !fs::is_directory(where)) return NotFound("no folder '" + *dir + "'");
    // Beside the binary, link by name so that the folder can move; elsewhere, absolutely.
    fs::path target = self.parent_path() == where ? self.filename() : self;
    if (!link_to->empty()) {
      if (link_to->find('/') != std::string::npos) return InvalidArgument("--target '" + *link_to + "' must be a plain name");
      target = *link_to;
    }
    for (const auto& c : Commands()) {
      if (c.hidden) continue;
      EUCA_RETURN_IF_ERROR(ReplaceSymlink(target, where / ProgramName(c.name)));
      for (auto alias : c.aliases) EUCA_RETURN_IF_ERROR(ReplaceSymlink(target, where / std::string(alias)));
    }
    ctx.Debug("linked euca-* in '" + where.string() + "' to '" + target.string() + "'");
    return Status::Ok();
  };
}

Handler SetupManPages(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  AddRequiredArg(app, "DIR", *dir, "folder to write the man pages to");
  return [dir](Context& ctx) -> Status {
    EUCA_RETURN_IF_ERROR(ctx.env->CreateDirs(*dir, 0755));
    std::map<std::string, std::string> pages = GenerateManPages(*ctx.tree);
    for (const auto& [name, text] : pages)
      EUCA_RETURN_IF_ERROR(ctx.env->WriteFileAtomic(JoinPath(*dir, name), text, 0644));
    // Pages of commands that no longer exist go too.
    EUCA_ASSIGN_OR_RETURN(std::vector<std::string> present, ctx.env->ListDir(*dir));
    for (const auto& name : present) {
      bool ours = name.rfind("euca", 0) == 0 && name.size() > 2 && name.substr(name.size() - 2) == ".1";
      if (ours && pages.count(name) == 0) EUCA_RETURN_IF_ERROR(ctx.env->RemoveAll(JoinPath(*dir, name)));
    }
    return Status::Ok();
  };
}

Handler SetupCompletions(CLI::App& app) {
  auto shell = std::make_shared<std::string>();
  AddRequiredArg(app, "SHELL", *shell, "bash or zsh");
  return [shell](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(std::string script, GenerateCompletion(*ctx.tree, *shell));
    *ctx.out << script;
    return Status::Ok();
  };
}

}  // namespace euca::cmd
