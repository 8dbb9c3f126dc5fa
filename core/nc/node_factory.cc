#include "core/nc/node_factory.h"

#include "core/nc/image_fetchers.h"
#include "drivers/hypervisor/hypervisor.h"

namespace euca::nc {
namespace {

// A Node and what it was built on, destroyed node first.
struct Assembly {
  std::unique_ptr<hypervisor::Hypervisor> hypervisor;
  std::unique_ptr<walrus::ImageSource> source;
  std::unique_ptr<ImageFetcher> local;
  std::unique_ptr<ImageFetcher> walrus;
  std::unique_ptr<ImageFetcher> fetcher;
  std::unique_ptr<Node> node;
};

}  // namespace

Result<std::shared_ptr<Node>> OpenNode(Env& env, CommandRunner& runner, Clock& clock, NodeSetup setup) {
  EUCA_ASSIGN_OR_RETURN(hypervisor::Accel accel, hypervisor::ParseAccel(setup.accel.empty() ? "auto" : setup.accel));
  auto a = std::make_shared<Assembly>();
  // The auto accelerator's probe (up to 2 s) is remembered beside the node's files, so one-shot
  // commands of an embedded cloud do not each probe again.
  EUCA_ASSIGN_OR_RETURN(a->hypervisor, hypervisor::OpenHypervisor(setup.hypervisor_uri, accel,
                                                                   setup.options.root + "/accel-probe"));
  a->source = std::move(setup.image_source);
  a->local = NewLocalFileFetcher();
  if (a->source) a->walrus = NewWalrusImageFetcher(*a->source);
  a->fetcher = NewImageFetcher(*a->local, a->walrus.get());
  a->node = std::make_unique<Node>(env, runner, clock, *a->hypervisor, *a->fetcher, std::move(setup.options));
  EUCA_RETURN_IF_ERROR(a->node->Open());
  Node* node = a->node.get();
  return std::shared_ptr<Node>(std::move(a), node);
}

}  // namespace euca::nc
