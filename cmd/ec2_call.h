#pragma once
// How every euca-* compute command reaches the cloud controller (DESIGN.md §2): one call,
// CallEc2, that runs an EC2 action either in this process (no EC2_URL: the cloud of
// EUCA_HOME, clc::Cloud, called as the context's access key or the local admin) or over HTTP
// (EC2_URL or -U: a form POST signed with SigV4, service "ec2"). Either way the result is the
// action's XML reply document and errors are Status values with the EC2 code as wire code
// and the server's message, so commands print the same from the same XML.

#include <pugixml.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cmd/context.h"
#include "core/base/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace euca::cmd {

using Ec2Params = std::vector<std::pair<std::string, std::string>>;

/// Runs `action` with `params` and returns its <ActionResponse> document. Embedded:
/// NotFound when EUCA_HOME holds no cloud, Unauthenticated for an unknown key or a wrong
/// secret. Remote: Unavailable when the endpoint cannot be reached, Unauthenticated when no
/// access key is known (environment, -I/-S, EUCA_HOME/eucarc), else the server's error.
Result<pugi::xml_document> CallEc2(const Context& ctx, const std::string& action, const Ec2Params& params);

/// The -I/-S flags of the compute commands (euca2ools 3), with 1.x's -a/-s when
/// `old_letters`, else with 1.x's "compat" -A (commands whose -a means something else:
/// register, describe-images).
struct Ec2KeyFlags {
  std::string access_key;
  std::string secret_key;
};
void AddEc2KeyFlags(CLI::App& app, Ec2KeyFlags& flags, bool old_letters = true);
/// `ctx` with the keys of the flags, when given. InvalidArgument when only one of them is.
Result<Context> WithEc2Keys(const Context& ctx, const Ec2KeyFlags& flags);

/// --filter NAME=VALUE (euca2ools 3), repeatable; several values of one name are OR-ed.
void AddFilterOption(CLI::App& app, std::vector<std::string>& filters);
/// Filter.N.Name / Filter.N.Value.M parameters of --filter options; InvalidArgument for one
/// without '='.
Result<Ec2Params> FilterParams(const std::vector<std::string>& filters);

/// The <ActionResponse> element of a reply document.
pugi::xml_node Ec2Root(const pugi::xml_document& doc);

}  // namespace euca::cmd
