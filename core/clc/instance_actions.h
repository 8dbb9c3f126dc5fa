#pragma once
// The EC2 actions of instances and zones over clc::Compute (docs/clc.md, docs/ec2-api.md):
// RunInstances, DescribeInstances, TerminateInstances, RebootInstances, GetConsoleOutput and
// DescribeAvailabilityZones, with their EC2 XML replies.

#include <string>

#include "core/clc/compute.h"
#include "core/clc/ec2_actions.h"

namespace euca::clc {

/// EC2's numeric code of an instance state: pending 0, running 16, shutting-down 32,
/// terminated 48 (stopping 64, stopped 80).
int InstanceStateCode(const std::string& state);

/// Registers the six actions on `actions`. REQUIRES: `compute` outlives `actions`' use.
void AddInstanceActions(Ec2Actions& actions, Compute& compute);

}  // namespace euca::clc
