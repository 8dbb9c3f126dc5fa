#pragma once
// The EC2 action registry the whole cloud controller plugs into: each EC2 action is a function
// from the authenticated caller and the parsed request to the elements it appends to the
// <ActionResponse> node. The HTTP front (ec2_rest.h) and the in-process client of the commands
// (cmd/ec2_call.h) both dispatch through it, so an action runs the same either way.

#include <functional>
#include <map>
#include <pugixml.hpp>
#include <string>

#include "core/api/ec2_query.h"
#include "core/base/status.h"
#include "core/model/account.h"

namespace euca::clc {

/// One EC2 action. On success it has appended its result elements to `response` (the
/// <ActionResponse> element, which already holds <requestId>); on failure what it appended is
/// discarded and the Status becomes the EC2 error document. Must be thread-safe: the server
/// runs requests concurrently.
using Ec2Action =
    std::function<Status(const model::Principal& caller, const api::Ec2Request& request, pugi::xml_node response)>;

/// Actions by name. Filled once when the cloud is assembled, then only read (reads are
/// thread-safe).
class Ec2Actions final {
 public:
  /// Registers (or replaces) the action `name` ("CreateKeyPair").
  void Add(const std::string& name, Ec2Action fn);
  /// The action `name`, or nullptr.
  const Ec2Action* Find(const std::string& name) const;

 private:
  std::map<std::string, Ec2Action> actions_;
};

/// Runs `request` through `actions` as `caller` into `response`. InvalidAction (400) "the
/// action 'X' is not valid for this web service" when no action has the request's name.
Status DispatchEc2(const Ec2Actions& actions, const model::Principal& caller, const api::Ec2Request& request,
                   api::Ec2Response& response);

}  // namespace euca::clc
