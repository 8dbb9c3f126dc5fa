#include "core/clc/ec2_actions.h"

namespace euca::clc {

void Ec2Actions::Add(const std::string& name, Ec2Action fn) { actions_[name] = std::move(fn); }

const Ec2Action* Ec2Actions::Find(const std::string& name) const {
  auto it = actions_.find(name);
  return it == actions_.end() ? nullptr : &it->second;
}

Status DispatchEc2(const Ec2Actions& actions, const model::Principal& caller, const api::Ec2Request& request,
                   api::Ec2Response& response) {
  const Ec2Action* action = actions.Find(request.action());
  if (!action)
    return Status(Code::kInvalidArgument, "the action '" + request.action() + "' is not valid for this web service",
                  "InvalidAction");
  return (*action)(caller, request, response.root());
}

}  // namespace euca::clc
