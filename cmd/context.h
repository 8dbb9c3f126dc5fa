#pragma once
// The context a command runs in: global options, the environment variables euca2ools
// reads, the output streams and the OS seams. Built once by Main from the parsed global
// options and the process environment; commands never call getenv themselves.

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/env.h"
#include "core/base/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace euca::cmd {

class CommandTree;

enum class OutputFormat { kText, kJson };

/// The global options as parsed, before the environment fills what they leave unset.
struct GlobalOptions {
  std::string output = "text";
  bool debug = false;
  std::string url;     ///< -U/--url (EC2 endpoint)
  std::string region;  ///< --region
  std::string home;    ///< --home
};

/// Help group of the global options; man pages list them in euca(1) only.
inline constexpr std::string_view kGlobalGroup = "Global options";

/// Adds the global options to `app`, bound to `globals`. Called for every node of the
/// command tree, so that they are accepted before and after the command words.
/// REQUIRES: `globals` outlives `app`.
void AddGlobalOptions(CLI::App& app, GlobalOptions& globals);

/// Reads one environment variable; nullopt if unset. A seam so tests can pass their own.
using GetenvFn = std::function<std::optional<std::string>(const char* name)>;
/// The process environment (::getenv). An empty value counts as unset.
std::optional<std::string> ProcessGetenv(const char* name);

/// Everything a command may look at besides its own options.
struct Context {
  std::string program = "euca";  ///< for messages: "euca", or "euca-admin-init" when so invoked
  std::string home;              ///< absolute cloud home: --home, else EUCA_HOME, else ~/.euca
  OutputFormat output = OutputFormat::kText;
  bool debug = false;
  std::string ec2_url;          ///< -U/--url, else EC2_URL; empty = embedded mode
  std::string s3_url;           ///< S3_URL
  std::string url_option;       ///< -U/--url as given: the S3 commands (upload-bundle, ...) take it as their endpoint
  std::string region;           ///< --region, else EUCA_REGION / AWS_DEFAULT_REGION
  std::string access_key_id;    ///< AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else EC2_ACCESS_KEY/...
  std::string secret_key;       ///< from the same pair as access_key_id
  std::string ec2_cert;         ///< EC2_CERT
  std::string ec2_private_key;  ///< EC2_PRIVATE_KEY
  std::string eucalyptus_cert;  ///< EUCALYPTUS_CERT
  std::string ec2_user_id;      ///< EC2_USER_ID (the user's account number, bundling)
  std::string tmpdir;           ///< TMPDIR
  /// stderr is a terminal, so commands may draw progress bars there. Set by Run from the
  /// real stderr; EUCA_FORCE_PROGRESS=1 sets it too (tests only).
  bool err_is_tty = false;
  std::ostream* out = nullptr;  ///< records and results
  std::ostream* err = nullptr;  ///< diagnostics (--debug, hints)
  Env* env = nullptr;
  Clock* clock = nullptr;
  const CommandTree* tree = nullptr;  ///< the parsed command tree (for `euca help`)

  /// No EC2_URL: commands run the cloud in-process on `home`.
  bool embedded() const { return ec2_url.empty(); }
  /// Writes "debug: <message>" to `err` when --debug is on.
  void Debug(std::string_view message) const;
};

/// Builds the context from the global options and the environment. InvalidArgument for a
/// bad --output value or when no home can be found (neither --home, EUCA_HOME nor HOME).
Result<Context> MakeContext(const GlobalOptions& globals, const GetenvFn& getenv);

/// An environment variable euca reads, for euca(1) ENVIRONMENT.
struct EnvVarDoc {
  std::string_view name;
  std::string_view description;
};
/// Every environment variable MakeContext reads, in the order euca(1) lists them.
const std::vector<EnvVarDoc>& EnvironmentDocs();

}  // namespace euca::cmd
