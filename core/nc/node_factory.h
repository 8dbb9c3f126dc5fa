#pragma once
// Building a whole node controller: the hypervisor of a URI, the image fetchers (local files,
// and Walrus image delivery through an ImageSource) and the Node over them, opened. Shared by
// `euca serve nc` and the embedded zone of a one-machine cloud (core/clc/topology.h).

#include <memory>
#include <string>

#include "core/base/clock.h"
#include "core/base/command.h"
#include "core/base/env.h"
#include "core/nc/node.h"
#include "core/walrus/image_client.h"

namespace euca::nc {

struct NodeSetup {
  std::string hypervisor_uri = "qemu:///system";
  std::string accel = "auto";  ///< "auto", "kvm" or "tcg"
  /// Where "BUCKET/KEY" images come from (an HttpImageSource, or Walrus in-process); owned by
  /// the node. Null: only file:// images.
  std::unique_ptr<walrus::ImageSource> image_source;
  NodeOptions options;  ///< root required
};

/// Opens the hypervisor, builds the fetchers and opens the Node (Node::Open). The Node owns
/// everything it was built with; `env`, `runner` and `clock` must outlive it.
Result<std::shared_ptr<Node>> OpenNode(Env& env, CommandRunner& runner, Clock& clock, NodeSetup setup);

}  // namespace euca::nc
