#pragma once
// Entry point of the multi-call binary: argv[0] dispatch, global options, the command
// table, error-to-exit-status mapping. Library code never exits; only Main returns a status.

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/context.h"
#include "core/base/clock.h"
#include "core/base/env.h"

namespace euca::cmd {

/// Runs the command line and returns the process exit status (see man/euca.1).
int Main(int argc, char** argv);

/// Main with its seams: `argv0` as invoked ("euca", "/usr/bin/euca-admin-init"), the
/// arguments after it, the streams, the environment, filesystem and clock, and whether `err`
/// is a terminal (progress bars). Messages go to `err` as "<program>: error: <message>"; the
/// result is the exit status.
int Run(std::string_view argv0, const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const GetenvFn& getenv, Env& env, Clock& clock, bool err_is_tty = false);

}  // namespace euca::cmd
