#include "core/cc/cluster.h"

#include <algorithm>
#include <chrono>
#include <tuple>

namespace euca::cc {
namespace {

bool Live(const nc::Instance& i) { return i.state != nc::InstanceState::kTeardown; }

Status NoRoom(const nc::RunInstanceRequest& r, const std::string& where) {
  const model::VmType& t = r.vm_type;
  return Status(Code::kResourceExhausted,
                "not enough room " + where + " for '" + r.instance_id + "' (" + t.name + ": " +
                    std::to_string(t.cores) + " cores, " + std::to_string(t.memory_mib) + " MiB, " +
                    std::to_string(t.disk_gib) + " GiB)",
                "InsufficientInstanceCapacity");
}

Status UnknownInstance(const std::string& id) {
  return Status(Code::kNotFound, "no instance '" + id + "' in this cluster", "InvalidInstanceID.NotFound");
}

// Runs work(0..n-1) on up to `parallelism` threads (on this one when a single thread does).
void ParallelFor(size_t n, int parallelism, const std::function<void(size_t)>& work) {
  const size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, parallelism)));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) work(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) work(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

// How many whole copies of `t` fit in (cores, memory, disk): Eucalyptus' repeated subtraction.
int Fits(int64_t cores, int64_t memory_mib, int64_t disk_gib, const model::VmType& t) {
  int64_t n = cores / std::max(1, t.cores);
  n = std::min<int64_t>(n, memory_mib / static_cast<int64_t>(std::max<uint64_t>(1, t.memory_mib)));
  if (t.disk_gib > 0) n = std::min<int64_t>(n, disk_gib / static_cast<int64_t>(t.disk_gib));
  return static_cast<int>(std::max<int64_t>(0, n));
}

}  // namespace

Cluster::Capacity Cluster::Node::Free() const {
  Capacity c;
  if (status.state != "up") return c;
  c.cores = status.resource.cores_available;
  c.memory_mib = static_cast<int64_t>(status.resource.memory_available_mib);
  c.disk_gib = static_cast<int64_t>(status.resource.disk_available_gib);
  for (const auto& [id, f] : in_flight) {
    c.cores -= f.type.cores;
    c.memory_mib -= static_cast<int64_t>(f.type.memory_mib);
    c.disk_gib -= static_cast<int64_t>(f.type.disk_gib);
  }
  return c;
}

Cluster::Cluster(NodeConnector connect, SchedulePolicy policy, Clock& clock, ClusterOptions options)
    : connect_(std::move(connect)), policy_(policy), clock_(clock), options_(options) {}

Cluster::~Cluster() { Stop(); }

// --- nodes and polling ---------------------------------------------------------------------

Status Cluster::SetNodes(const std::vector<std::string>& node_urls) {
  std::set<std::string> seen;
  for (const std::string& url : node_urls) {
    if (url.empty()) return InvalidArgument("a node URL is empty");
    if (!seen.insert(url).second) return InvalidArgument("node '" + url + "' is listed twice");
  }
  std::vector<std::shared_ptr<Node>> added;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<Node>> nodes;
    std::unordered_map<std::string, std::shared_ptr<Node>> by_url;
    for (const std::string& url : node_urls) {
      std::shared_ptr<Node> node;
      if (auto it = by_url_.find(url); it != by_url_.end()) {
        node = it->second;
      } else {
        node = std::make_shared<Node>();
        node->url = url;
        node->status.url = url;
        node->status.error = "not polled yet";
        added.push_back(node);
      }
      node->order = nodes.size();
      nodes.push_back(node);
      by_url[url] = node;
    }
    // The instances of nodes that left are no longer this cluster's.
    for (const auto& [url, node] : by_url_) {
      if (by_url.count(url)) continue;
      for (const std::string& id : node->instances) instances_.erase(id);
    }
    nodes_ = std::move(nodes);
    by_url_ = std::move(by_url);
    if (next_rr_ >= nodes_.size()) next_rr_ = 0;
  }
  // New nodes are polled at once, so that they can take instances right away.
  PollAll(added);
  return Status::Ok();
}

Status Cluster::ApplyNetwork(const std::string& driver, const network::DesiredState& state) {
  if (!options_.network) return ClusterController::ApplyNetwork(driver, state);
  return options_.network->Apply(driver, state);
}

Status Cluster::Poll() {
  std::vector<std::shared_ptr<Node>> nodes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    nodes = nodes_;
  }
  PollAll(nodes);
  return Status::Ok();
}

void Cluster::PollAll(const std::vector<std::shared_ptr<Node>>& nodes) {
  ParallelFor(nodes.size(), options_.poll_parallelism, [&](size_t i) { PollNode(nodes[i]); });
}

void Cluster::MarkDownLocked(Node& node, const Status& why) {
  node.status.state = "down";
  node.status.resource = nc::NodeResource{};
  node.status.resource.status = "down";
  node.status.error = why.message();
}

void Cluster::PollNode(const std::shared_ptr<Node>& node) {
  std::shared_ptr<nc::NodeController> nc;
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    nc = node->nc;
    gen = ++node->poll_gen;
  }
  Status connected = Status::Ok();
  if (!nc) {
    Result<std::shared_ptr<nc::NodeController>> c = connect_(node->url);
    if (c.ok() && c.value()) {
      nc = c.value();
    } else {
      connected = c.ok() ? Internal("no node controller for '" + node->url + "'") : c.status();
    }
  }
  // Instances first, then resources: every instance listed is counted in the resources that
  // follow, so an instance is never missing from both (see InFlight).
  PollAnswer answer;
  if (connected.ok()) {
    answer.instances = nc->DescribeInstances({});
    if (answer.instances.ok()) answer.resource = nc->DescribeResource();
  }
  const int64_t now = clock_.NowMillis();
  std::lock_guard<std::mutex> lock(mu_);
  if (!node->nc && nc) node->nc = nc;
  if (gen < node->applied_gen) return;  // a newer poll answered first
  node->applied_gen = gen;
  node->status.last_poll_ms = now;
  Status failed = !connected.ok()          ? connected
                  : !answer.instances.ok() ? answer.instances.status()
                  : !answer.resource.ok()  ? answer.resource.status()
                                           : Status::Ok();
  if (!failed.ok()) {
    MarkDownLocked(*node, failed);
    return;  // the instances stay as last seen
  }
  node->status.state = "up";
  node->status.error.clear();
  node->status.resource = answer.resource.value();
  std::set<std::string> listed;
  for (nc::Instance& i : answer.instances.value()) {
    const std::string id = i.request.instance_id;
    listed.insert(id);
    node->in_flight.erase(id);
    auto it = instances_.find(id);
    if (it != instances_.end() && it->second.cc.node != node->url) {
      // Reported by another node too: the newer record wins; the old node forgets it.
      if (auto other = by_url_.find(it->second.cc.node); other != by_url_.end()) other->second->instances.erase(id);
    }
    Known& k = instances_[id];
    k.cc.instance = std::move(i);
    k.cc.node = node->url;
    k.seen_gen = gen;
    node->instances.insert(id);
  }
  // Started before this poll began yet not listed: the node lost or forgot them.
  for (auto it = node->in_flight.begin(); it != node->in_flight.end();) {
    if (it->second.started && it->second.started_gen < gen) {
      it = node->in_flight.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = node->instances.begin(); it != node->instances.end();) {
    auto k = instances_.find(*it);
    if (listed.count(*it) == 0 && (k == instances_.end() || k->second.seen_gen < gen)) {
      if (k != instances_.end() && k->second.cc.node == node->url) instances_.erase(k);
      it = node->instances.erase(it);
    } else {
      ++it;
    }
  }
}

void Cluster::Start() {
  std::lock_guard<std::mutex> lock(loop_mu_);
  stopping_ = false;
  loop_ = std::thread([this] { Loop(); });
}

void Cluster::Stop() {
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

void Cluster::Loop() {
  std::unique_lock<std::mutex> lock(loop_mu_);
  while (!stopping_) {
    lock.unlock();
    (void)Poll();
    lock.lock();
    loop_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, options_.poll_period_ms)),
                      [this] { return stopping_; });
  }
}

Result<std::vector<NodeStatus>> Cluster::DescribeNodes() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<NodeStatus> out;
  out.reserve(nodes_.size());
  for (const auto& node : nodes_) {
    NodeStatus s = node->status;
    if (s.state == "up") {
      // Free capacity as the scheduler sees it: the last poll less what was placed since.
      Capacity free = node->Free();
      s.resource.cores_available = static_cast<int>(std::max<int64_t>(0, free.cores));
      s.resource.memory_available_mib = static_cast<uint64_t>(std::max<int64_t>(0, free.memory_mib));
      s.resource.disk_available_gib = static_cast<uint64_t>(std::max<int64_t>(0, free.disk_gib));
    }
    s.instances = static_cast<int>(node->in_flight.size());
    for (const std::string& id : node->instances) {
      auto k = instances_.find(id);
      if (k != instances_.end() && Live(k->second.cc.instance) && !node->in_flight.count(id)) ++s.instances;
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<VmTypeAvailability>> Cluster::DescribeResources(const std::vector<model::VmType>& types) {
  for (const model::VmType& t : types) {
    if (t.cores < 1 || t.memory_mib < 1) {
      return InvalidArgument("VM type '" + t.name + "' needs at least 1 core and 1 MiB of memory");
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<VmTypeAvailability> out;
  out.reserve(types.size());
  for (const model::VmType& t : types) {
    VmTypeAvailability a;
    a.type = t;
    for (const auto& node : nodes_) {
      if (node->status.state != "up") continue;
      const nc::NodeResource& r = node->status.resource;
      Capacity free = node->Free();
      a.available += Fits(free.cores, free.memory_mib, free.disk_gib, t);
      a.max += Fits(r.cores_max, static_cast<int64_t>(r.memory_max_mib), static_cast<int64_t>(r.disk_max_gib), t);
    }
    out.push_back(std::move(a));
  }
  return out;
}

// --- scheduling ----------------------------------------------------------------------------

std::shared_ptr<Cluster::Node> Cluster::PickLocked(const model::VmType& type, const std::string& target,
                                                   const std::set<std::string>& tried, Status* why) {
  auto fits = [&](const Node& n) {
    if (n.status.state != "up" || tried.count(n.url)) return false;
    Capacity c = n.Free();
    return c.cores >= type.cores && c.memory_mib >= static_cast<int64_t>(type.memory_mib) &&
           c.disk_gib >= static_cast<int64_t>(type.disk_gib);
  };
  if (!target.empty()) {
    auto it = by_url_.find(target);
    if (it == by_url_.end()) {
      *why = NotFound("no node '" + target + "' in this cluster");
      return nullptr;
    }
    if (!fits(*it->second)) {
      *why = ResourceExhausted("on node '" + target + "'");
      return nullptr;
    }
    return it->second;
  }
  std::shared_ptr<Node> best;
  auto key = [](const Node& n) {
    Capacity c = n.Free();
    return std::make_tuple(c.cores, c.memory_mib, c.disk_gib);
  };
  const size_t n = nodes_.size();
  switch (policy_) {
    case SchedulePolicy::kGreedy:
      for (const auto& node : nodes_) {
        if (fits(*node)) return node;
      }
      break;
    case SchedulePolicy::kRoundRobin:
      for (size_t k = 0; k < n; ++k) {
        const auto& node = nodes_[(next_rr_ + k) % n];
        if (fits(*node)) {
          next_rr_ = (node->order + 1) % n;
          return node;
        }
      }
      break;
    case SchedulePolicy::kPack:
      for (const auto& node : nodes_) {
        if (fits(*node) && (!best || key(*node) < key(*best))) best = node;
      }
      break;
    case SchedulePolicy::kSpread:
      for (const auto& node : nodes_) {
        if (fits(*node) && (!best || key(*node) > key(*best))) best = node;
      }
      break;
  }
  if (!best) {
    bool any_up = std::any_of(nodes_.begin(), nodes_.end(), [](const auto& nd) { return nd->status.state == "up"; });
    *why = ResourceExhausted(nodes_.empty() ? "in this cluster (it has no nodes)"
                             : any_up       ? "on any node of this cluster"
                                            : "in this cluster (no node is up)");
  }
  return best;
}

Placement Cluster::StartOne(const nc::RunInstanceRequest& request, const std::string& target,
                            std::shared_ptr<Node> node) {
  const std::string& id = request.instance_id;
  std::set<std::string> tried;
  Status last;  // why the last node tried refused
  while (true) {
    if (!node) {
      std::lock_guard<std::mutex> lock(mu_);
      Status why;
      node = PickLocked(request.vm_type, target, tried, &why);
      if (!node) {
        placing_.erase(id);
        if (why.code() != Code::kResourceExhausted) return {id, "", why};
        if (!last.ok() && last.code() != Code::kResourceExhausted) return {id, "", last};  // e.g. unreachable
        return {id, "", NoRoom(request, tried.empty() ? why.message() : "on any node of this cluster")};
      }
      node->in_flight[id] = InFlight{request.vm_type, false, 0};
      placing_[id] = node->url;
    }
    std::shared_ptr<nc::NodeController> nc;
    {
      std::lock_guard<std::mutex> lock(mu_);
      nc = node->nc;
    }
    Result<nc::Instance> started =
        nc ? nc->RunInstance(request) : Result<nc::Instance>(Unavailable("node '" + node->url + "' is not connected"));
    std::lock_guard<std::mutex> lock(mu_);
    if (started.ok()) {
      placing_.erase(id);
      auto current = by_url_.find(node->url);
      if (current == by_url_.end() || current->second != node) {
        // The node left the cluster while the instance started on it.
        node->in_flight.erase(id);
        return {id, node->url, Status::Ok()};
      }
      if (auto f = node->in_flight.find(id); f != node->in_flight.end()) {
        f->second.started = true;
        f->second.started_gen = node->poll_gen;
      }
      Known& k = instances_[id];
      k.cc.instance = std::move(started.value());
      k.cc.node = node->url;
      k.seen_gen = node->poll_gen;
      node->instances.insert(id);
      return {id, node->url, Status::Ok()};
    }
    node->in_flight.erase(id);
    last = started.status().WithContext("node '" + node->url + "'");
    const Code code = started.status().code();
    if (code == Code::kUnavailable) MarkDownLocked(*node, started.status());
    if (code != Code::kResourceExhausted && code != Code::kUnavailable) {
      placing_.erase(id);
      return {id, "", last};
    }
    // Full after all (or unreachable): try the next node that fits.
    tried.insert(node->url);
    node.reset();
  }
}

Result<std::vector<Placement>> Cluster::RunInstances(const RunInstancesRequest& request) {
  if (request.instances.empty()) return InvalidArgument("no instances to run");
  const size_t n = request.instances.size();
  std::vector<Placement> out(n);
  std::vector<std::shared_ptr<Node>> reserved(n);
  std::vector<bool> todo(n, false);
  std::set<std::string> listed;
  {
    // Every instance is placed here, in order, so that a policy's choices are deterministic;
    // the nodes are then called in parallel outside the lock.
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < n; ++i) {
      const nc::RunInstanceRequest& r = request.instances[i];
      out[i].instance_id = r.instance_id;
      if (Status valid = nc::ValidateRunInstanceRequest(r); !valid.ok()) {
        out[i].status = valid;
        continue;
      }
      if (!listed.insert(r.instance_id).second) {
        out[i].status = InvalidArgument("instance '" + r.instance_id + "' is listed twice");
        continue;
      }
      if (auto k = instances_.find(r.instance_id); k != instances_.end()) {
        out[i].node = k->second.cc.node;  // placed already: nothing new starts
        continue;
      }
      if (auto p = placing_.find(r.instance_id); p != placing_.end()) {
        // Being placed by another request: its node once chosen.
        out[i].node = p->second;
        if (p->second.empty()) out[i].status = Conflict("instance '" + r.instance_id + "' is being placed; try again");
        continue;
      }
      Status why;
      std::shared_ptr<Node> node = PickLocked(r.vm_type, request.target_node, {}, &why);
      if (!node && why.code() != Code::kResourceExhausted) {
        out[i].status = why;
        continue;
      }
      // The id is claimed until StartOne is done with it, so a concurrent repeat starts nothing.
      if (node) node->in_flight[r.instance_id] = InFlight{r.vm_type, false, 0};
      placing_[r.instance_id] = node ? node->url : "";
      reserved[i] = node;
      todo[i] = true;
    }
  }
  std::vector<size_t> work;
  for (size_t i = 0; i < n; ++i) {
    if (todo[i]) work.push_back(i);
  }
  ParallelFor(work.size(), options_.run_parallelism, [&](size_t w) {
    const size_t i = work[w];
    out[i] = StartOne(request.instances[i], request.target_node, reserved[i]);
  });
  return out;
}

// --- pass-through --------------------------------------------------------------------------

std::shared_ptr<Cluster::Node> Cluster::NodeOfLocked(const std::string& instance_id) {
  auto k = instances_.find(instance_id);
  if (k == instances_.end()) return nullptr;
  auto n = by_url_.find(k->second.cc.node);
  return n == by_url_.end() ? nullptr : n->second;
}

Result<std::vector<CcInstance>> Cluster::DescribeInstances(const std::vector<std::string>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CcInstance> out;
  if (ids.empty()) {
    out.reserve(instances_.size());
    for (const auto& [id, k] : instances_) out.push_back(k.cc);
    return out;
  }
  for (const std::string& id : ids) {
    if (auto k = instances_.find(id); k != instances_.end()) out.push_back(k->second.cc);
  }
  return out;
}

Result<std::vector<nc::TerminateResult>> Cluster::TerminateInstances(const std::vector<std::string>& ids) {
  std::vector<nc::TerminateResult> out;
  Status first_error;
  for (const std::string& id : ids) {
    EUCA_RETURN_IF_ERROR(nc::ValidateInstanceId(id));
  }
  for (const std::string& id : ids) {
    std::shared_ptr<Node> node;
    std::shared_ptr<nc::NodeController> nc;
    {
      std::lock_guard<std::mutex> lock(mu_);
      node = NodeOfLocked(id);
      if (node) nc = node->nc;
    }
    if (!node) {
      out.push_back({id, "Teardown", "Teardown"});
      continue;
    }
    Result<nc::TerminateResult> r =
        nc ? nc->TerminateInstance(id)
           : Result<nc::TerminateResult>(Unavailable("node '" + node->url + "' is not connected"));
    if (!r.ok()) {
      if (first_error.ok()) first_error = r.status().WithContext("terminate '" + id + "' on node '" + node->url + "'");
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto k = instances_.find(id);
    if (k != instances_.end() && Live(k->second.cc.instance) && r.value().previous_state != "Teardown") {
      // Give the capacity back now instead of at the next poll: an instance still in flight
      // was never in the node's report; any other was.
      const model::VmType& t = k->second.cc.instance.request.vm_type;
      if (node->in_flight.erase(id) == 0 && node->status.state == "up") {
        nc::NodeResource& res = node->status.resource;
        res.cores_available = std::min(res.cores_max, res.cores_available + t.cores);
        res.memory_available_mib = std::min(res.memory_max_mib, res.memory_available_mib + t.memory_mib);
        res.disk_available_gib = std::min(res.disk_max_gib, res.disk_available_gib + t.disk_gib);
      }
      k->second.cc.instance.state = nc::InstanceState::kTeardown;
      k->second.cc.instance.state_change_ms = clock_.NowMillis();
      k->second.cc.instance.reason = "terminated";
    }
    out.push_back(std::move(r.value()));
  }
  if (!first_error.ok()) return first_error;
  return out;
}

Status Cluster::RebootInstances(const std::vector<std::string>& ids) {
  std::vector<std::pair<std::string, std::shared_ptr<nc::NodeController>>> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : ids) {
      std::shared_ptr<Node> node = NodeOfLocked(id);
      if (!node) return UnknownInstance(id);
      if (!node->nc) return Unavailable("node '" + node->url + "' of instance '" + id + "' is not connected");
      calls.emplace_back(id, node->nc);
    }
  }
  Status first_error;
  for (const auto& [id, nc] : calls) {
    Status s = nc->RebootInstance(id);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

Result<std::string> Cluster::GetConsoleOutput(const std::string& instance_id) {
  std::shared_ptr<nc::NodeController> nc;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Node> node = NodeOfLocked(instance_id);
    if (!node) return UnknownInstance(instance_id);
    if (!node->nc) return Unavailable("node '" + node->url + "' of instance '" + instance_id + "' is not connected");
    nc = node->nc;
  }
  return nc->GetConsoleOutput(instance_id);
}

}  // namespace euca::cc
