#pragma once
// The EC2 Query front of the cloud controller: an http::Handler that takes GET and POST
// requests at "/", "/services/compute" and "/services/Eucalyptus" (with or without a
// trailing slash), checks their signature (SigV4 header or presigned query, SigV2 Query
// params) against the cloud's access keys, parses them into an api::Ec2Request and runs them
// through the cloud's actions. Replies are EC2 XML (text/xml) or EC2 error documents with the
// HTTP status of the error map (docs/ec2-api.md). Thread-safe.

#include <string>

#include "core/base/clock.h"
#include "core/http/message.h"

namespace euca::clc {

class Cloud;

struct Ec2RestOptions {
  /// SigV4 scope region to insist on; empty accepts any.
  std::string region = {};
  /// Now, for signature times; nullptr = RealClock(). Must outlive the handler.
  Clock* clock = nullptr;
};

/// The largest form body accepted (ImportKeyPair, RunInstances UserData: 16 KiB base64 ...).
inline constexpr size_t kMaxEc2Body = 1 << 20;

/// The handler over `cloud`. REQUIRES: `cloud` outlives the handler.
http::Handler MakeEc2Handler(Cloud& cloud, Ec2RestOptions options = {});

}  // namespace euca::clc
