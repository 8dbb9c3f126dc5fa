#pragma once
// Entry point of the multi-call binary: argv[0] dispatch, global options, the command
// table, error-to-exit-status mapping. Library code never exits; only Main returns a status.

namespace euca::cmd {

/// Runs the command line and returns the process exit status (see man/euca.1).
int Main(int argc, char** argv);

}  // namespace euca::cmd
