#pragma once
// Command: the seam for external programs (qemu-img, mkfs, ip, iptables-restore, dnsmasq).
// Core code never forks; it describes a run as a Command and hands it to a CommandRunner.
// The real runner (Boost.Process) runs it; RecordingCommandRunner captures argv instead of
// running it (libvirt's virCommandSetDryRun), so tests compare what would run against golden
// files and script what each program answers.

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace euca {

/// One run of an external program.
struct Command {
  /// argv[0] is the program: a path, or a bare name looked up in PATH. REQUIRES: non-empty.
  std::vector<std::string> argv{};
  /// Bytes written to the program's stdin (then closed); none = stdin is /dev/null.
  std::optional<std::string> stdin_data{};
  /// Variables added to (or replacing in) the inherited environment.
  std::vector<std::pair<std::string, std::string>> env{};
  /// Working directory; "" = the caller's.
  std::string working_dir{};
  /// The program is killed (SIGKILL) after this long; zero = no limit.
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  /// When true a non-zero exit is returned as a CommandResult, not as an error.
  bool accept_failure = false;
  /// At most this many bytes of each stream are kept: the head of stdout, the tail of stderr.
  size_t max_output_bytes = 1 << 20;

  /// The argv as one shell-readable line ("qemu-img create -f qcow2 'a b'"), for logs and
  /// golden files. Environment additions come first as NAME=value words.
  std::string ToString() const;
};

/// What a finished program left behind.
struct CommandResult {
  /// Exit status, or 128 + signal number when it was killed by a signal.
  int exit_code = 0;
  std::string out{};  ///< stdout (head, at most Command::max_output_bytes)
  std::string err{};  ///< stderr (tail, at most Command::max_output_bytes)
  bool out_truncated = false;
  bool err_truncated = false;
};

/// Runs external programs. Every implementation is thread-safe.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  /// Runs `cmd` to completion. Errors: InvalidArgument (empty argv), NotFound (program not
  /// found), Unavailable (timed out; the program was killed), Internal (non-zero exit, unless
  /// cmd.accept_failure; the message names the program, its status and the stderr tail).
  virtual Result<CommandResult> Run(const Command& cmd) = 0;
};

/// The process-wide runner on Boost.Process. Thread-safe.
CommandRunner& RealCommandRunner();

/// The error for a finished run: ok when exit_code is 0 or cmd.accept_failure, otherwise
/// Internal "'qemu-img' exited with status 1: <last line(s) of stderr>". Shared by runners.
Status CheckExit(const Command& cmd, const CommandResult& result);

/// A runner that runs nothing: it records each Command (ToString() lines for golden files)
/// and answers with the result scripted for its program (argv[0] or its base name), or with
/// exit status 0 and no output. A scripted non-zero exit goes through CheckExit like a real
/// one. Thread-safe.
class RecordingCommandRunner final : public CommandRunner {
 public:
  Result<CommandResult> Run(const Command& cmd) override;

  /// Every later run of `program` answers `result`.
  void SetResult(const std::string& program, CommandResult result);
  /// Every later run of `program` fails with `status` (e.g. NotFound, Unavailable).
  void SetError(const std::string& program, Status status);

  /// The commands run so far, in order.
  std::vector<Command> commands() const;
  /// Command::ToString() of each run so far, one per line, each ending in '\n'.
  std::string Transcript() const;
  void Clear();

 private:
  mutable std::mutex mu_;
  std::vector<Command> commands_;
  std::map<std::string, Result<CommandResult>> scripted_;
};

}  // namespace euca
