// Programs start through vfork, not fork. fork copies this process's page tables and, once
// it has threads, makes both sides fault their pages back in; on a 2-core virtual machine the
// node controller spent more CPU starting its disk tools than they ran. Boost.Process has a
// vfork executor but enables it only under an old POSIX feature level (vfork left POSIX in
// 2008; Linux keeps it): this turns it on. The child runs only the setup below (dup2, chdir,
// signal mask and SIGPIPE, all its own kernel state) before execve, as vfork requires.
#define BOOST_POSIX_HAS_VFORK 1

#include "core/base/command.h"

#include <fcntl.h>

#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string_view>
#include <system_error>

#include "core/base/strings.h"

namespace euca {
namespace {

namespace bp = boost::process;
namespace asio = boost::asio;

// The last `max_lines` non-empty lines of `text`, for error messages.
std::string Tail(const std::string& text, size_t max_lines) {
  std::string_view t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.remove_suffix(1);
  size_t pos = t.size();
  for (size_t lines = 0; lines < max_lines && pos != std::string_view::npos && pos > 0; ++lines) {
    pos = t.rfind('\n', pos - 1);
  }
  if (pos != std::string_view::npos && pos < t.size() && t[pos] == '\n') ++pos;
  if (pos == std::string_view::npos) pos = 0;
  std::string tail(t.substr(pos));
  for (char& c : tail) {
    if (c == '\n') c = ' ';
  }
  return tail;
}

std::string ProgramName(const Command& cmd) { return cmd.argv.empty() ? std::string() : cmd.argv[0]; }

// Reads one pipe to EOF into `sink`, keeping the head (keep_tail = false) or the tail.
class PipeReader {
 public:
  PipeReader(bp::async_pipe& pipe, std::string& sink, bool& truncated, size_t max, bool keep_tail,
             std::function<void()> on_eof)
      : pipe_(pipe), sink_(sink), truncated_(truncated), max_(max), keep_tail_(keep_tail), on_eof_(std::move(on_eof)) {}

  void Start() {
    pipe_.async_read_some(asio::buffer(buf_), [this](const boost::system::error_code& ec, size_t n) {
      Append(n);
      if (!ec) {
        Start();
      } else {
        on_eof_();
      }
    });
  }

 private:
  void Append(size_t n) {
    if (n == 0) return;
    std::string_view chunk(buf_.data(), n);
    if (!keep_tail_) {
      size_t room = sink_.size() < max_ ? max_ - sink_.size() : 0;
      if (chunk.size() > room) truncated_ = true;
      sink_.append(chunk.substr(0, room));
      return;
    }
    sink_.append(chunk);
    if (sink_.size() > max_) {
      sink_.erase(0, sink_.size() - max_);
      truncated_ = true;
    }
  }

  bp::async_pipe& pipe_;
  std::string& sink_;
  bool& truncated_;
  size_t max_;
  bool keep_tail_;
  std::function<void()> on_eof_;
  std::array<char, 64 * 1024> buf_{};
};

// In the child, between fork and exec: programs start with every signal unblocked and
// SIGPIPE at its default. Both are inherited across exec, and `euca serve` blocks SIGTERM
// (it waits for it with sigwait) while this process ignores SIGPIPE: a daemon started from a
// server (dnsmasq) would otherwise never stop on SIGTERM.
struct DefaultSignals : bp::extend::handler {
  template <typename Executor>
  void on_exec_setup(Executor&) const {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
  }
};

class BoostCommandRunner final : public CommandRunner {
 public:
  BoostCommandRunner() {
    // Writing stdin to a program that exits without reading it must be an error (EPIPE),
    // not the death of this process.
    ::signal(SIGPIPE, SIG_IGN);
  }

  Result<CommandResult> Run(const Command& cmd) override {
    if (cmd.argv.empty() || cmd.argv[0].empty()) return InvalidArgument("command has no program");
    const std::string& program = cmd.argv[0];
    boost::filesystem::path exe;
    if (program.find('/') != std::string::npos) {
      exe = program;
      if (::access(program.c_str(), X_OK) != 0) return NotFound("program '" + program + "' is not executable");
    } else {
      exe = bp::search_path(program);
      if (exe.empty()) return NotFound("program '" + program + "' not found in PATH");
    }
    std::vector<std::string> args(cmd.argv.begin() + 1, cmd.argv.end());
    bp::environment env = boost::this_process::environment();
    for (const auto& [name, value] : cmd.env) env[name] = value;
    std::string dir = cmd.working_dir;
    if (dir.empty()) {
      std::error_code ec;
      dir = std::filesystem::current_path(ec).string();
      if (ec) return Internal("current directory: " + ec.message());
    }

    asio::io_context io;
    // Boost.Process makes its pipes without close-on-exec. Were another thread to start a
    // program meanwhile, that program would inherit our pipes, and ours would never see the
    // end of its input while the other lives (seen: `ip -batch` and `iptables-restore` fed
    // from two threads, one hung). So pipes are made, marked close-on-exec (dup2 onto the
    // child's 0, 1, 2 clears the mark there) and the child started under one lock that every
    // start takes.
    static std::mutex start_mu;
    std::unique_lock start_lock(start_mu);
    bp::async_pipe in_pipe(io), out_pipe(io), err_pipe(io);
    for (bp::async_pipe* p : {&in_pipe, &out_pipe, &err_pipe}) {
      for (int fd : {p->native_source(), p->native_sink()}) ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
    }
    std::error_code launch_error;
    bp::child child(exe, bp::args(args), bp::std_in<in_pipe, bp::std_out> out_pipe, bp::std_err > err_pipe, env,
                    bp::start_dir(dir), DefaultSignals(), bp::posix::use_vfork, launch_error);
    start_lock.unlock();
    if (launch_error) {
      return Internal("run '" + program + "': " + launch_error.message());
    }

    CommandResult result;
    asio::steady_timer timer(io);
    int open_outputs = 2;
    auto on_eof = [&] {
      if (--open_outputs > 0) return;
      // Both outputs closed: the program is done (or its children hold nothing of ours).
      timer.cancel();
      boost::system::error_code ignored;
      in_pipe.close(ignored);
    };
    PipeReader out_reader(out_pipe, result.out, result.out_truncated, cmd.max_output_bytes, false, on_eof);
    PipeReader err_reader(err_pipe, result.err, result.err_truncated, cmd.max_output_bytes, true, on_eof);
    out_reader.Start();
    err_reader.Start();
    if (cmd.stdin_data && !cmd.stdin_data->empty()) {
      asio::async_write(in_pipe, asio::buffer(*cmd.stdin_data), [&in_pipe](const boost::system::error_code&, size_t) {
        boost::system::error_code ignored;
        in_pipe.close(ignored);
      });
    } else {
      in_pipe.close();
    }

    bool timed_out = false;
    if (cmd.timeout.count() > 0) {
      timer.expires_after(cmd.timeout);
      timer.async_wait([&](const boost::system::error_code& ec) {
        if (ec) return;  // cancelled: the program finished first
        timed_out = true;
        std::error_code ignored;
        child.terminate(ignored);  // SIGKILL; its pipes close with it (unless it left children)
        boost::system::error_code ignored2;
        out_pipe.close(ignored2);
        err_pipe.close(ignored2);
        in_pipe.close(ignored2);
      });
    }
    // Runs until both output pipes reached EOF (or the timer killed the program).
    io.run();
    std::error_code wait_error;
    child.wait(wait_error);
    if (timed_out) {
      return Unavailable("'" + program + "' timed out after " + std::to_string(cmd.timeout.count()) +
                         " ms and was killed");
    }
    int status = child.native_exit_code();
    if (WIFSIGNALED(status)) {
      result.exit_code = 128 + WTERMSIG(status);
    } else {
      result.exit_code = WEXITSTATUS(status);
    }
    EUCA_RETURN_IF_ERROR(CheckExit(cmd, result));
    return result;
  }
};

}  // namespace

std::string Command::ToString() const {
  std::string line;
  for (const auto& [name, value] : env) {
    if (!line.empty()) line += ' ';
    line += name + "=" + ShellQuoteIfNeeded(value);
  }
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    line += ShellQuoteIfNeeded(arg);
  }
  return line;
}

Status CheckExit(const Command& cmd, const CommandResult& result) {
  if (result.exit_code == 0 || cmd.accept_failure) return Status::Ok();
  std::string message = "'" + ProgramName(cmd) + "' ";
  if (result.exit_code > 128) {
    message += "was killed by signal " + std::to_string(result.exit_code - 128);
  } else {
    message += "exited with status " + std::to_string(result.exit_code);
  }
  std::string tail = Tail(result.err, 3);
  if (!tail.empty()) message += ": " + tail;
  return Internal(std::move(message));
}

CommandRunner& RealCommandRunner() {
  static BoostCommandRunner* runner = new BoostCommandRunner();
  return *runner;
}

Result<CommandResult> RecordingCommandRunner::Run(const Command& cmd) {
  if (cmd.argv.empty() || cmd.argv[0].empty()) return InvalidArgument("command has no program");
  std::lock_guard<std::mutex> lock(mu_);
  commands_.push_back(cmd);
  const std::string& program = cmd.argv[0];
  auto it = scripted_.find(program);
  if (it == scripted_.end()) it = scripted_.find(std::filesystem::path(program).filename().string());
  if (it == scripted_.end()) return CommandResult{};
  if (!it->second.ok()) return it->second.status();
  EUCA_RETURN_IF_ERROR(CheckExit(cmd, *it->second));
  return *it->second;
}

void RecordingCommandRunner::SetResult(const std::string& program, CommandResult result) {
  std::lock_guard<std::mutex> lock(mu_);
  scripted_.insert_or_assign(program, std::move(result));
}

void RecordingCommandRunner::SetError(const std::string& program, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  scripted_.insert_or_assign(program, std::move(status));
}

std::vector<Command> RecordingCommandRunner::commands() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commands_;
}

std::string RecordingCommandRunner::Transcript() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string text;
  for (const Command& cmd : commands_) text += cmd.ToString() + "\n";
  return text;
}

void RecordingCommandRunner::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  commands_.clear();
}

}  // namespace euca
