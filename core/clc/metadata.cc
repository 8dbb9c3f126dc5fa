#include "core/clc/metadata.h"

#include <algorithm>
#include <regex>
#include <vector>

#include "core/api/digest.h"

namespace euca::clc {
namespace {

// "/<version>/<rest>": version latest, 1.0 or YYYY-MM-DD.
const std::regex& PathPattern() {
  static const std::regex re(R"(^/(latest|1\.0|\d{4}-\d{2}-\d{2})/(meta-data(/.*)?|user-data/?)$)");
  return re;
}

// The address of a peer "ADDR:PORT", "[V6]:PORT" or "::ffff:V4" form.
std::string PeerAddress(const std::string& remote) {
  std::string host = remote;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    host = host.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  const std::string mapped = "::ffff:";
  if (host.rfind(mapped, 0) == 0 && host.find('.') != std::string::npos) host = host.substr(mapped.size());
  return host;
}

std::string Dashed(std::string ip) {
  for (char& c : ip) {
    if (c == '.' || c == ':') c = '-';
  }
  return ip;
}

http::Response NotFoundReply() { return http::Response::Text(404, "Not Found\n"); }

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  return out;
}

// The answer for `key` ("" = the listing) of the meta-data tree of `i`; nullopt = 404.
std::optional<std::string> MetaData(state::StateStore& store, const model::Instance& i, std::string key) {
  while (!key.empty() && key.back() == '/') key.pop_back();
  const std::string hostname = "euca-" + Dashed(i.private_ip) + ".eucalyptus.internal";
  std::optional<std::string> openssh_key;
  if (!i.key_name.empty()) {
    (void)store.Read([&](state::Txn& t) -> Status {
      EUCA_ASSIGN_OR_RETURN(auto o, t.GetByName("key-pairs", i.account_id, i.key_name));
      if (o) openssh_key = model::KeyPairFromJson(o->body).public_key + "\n";
      return Status::Ok();
    });
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> leaves = {
      {"ami-id", i.image_id},
      {"ami-launch-index", std::to_string(i.launch_index)},
      {"hostname", i.private_ip.empty() ? std::nullopt : std::optional(hostname)},
      {"instance-id", i.id},
      {"instance-type", i.vm_type},
      {"kernel-id", i.kernel_id.empty() ? std::nullopt : std::optional(i.kernel_id)},
      {"local-hostname", i.private_ip.empty() ? std::nullopt : std::optional(hostname)},
      {"local-ipv4", i.private_ip.empty() ? std::nullopt : std::optional(i.private_ip)},
      {"mac", i.private_mac.empty() ? std::nullopt : std::optional(i.private_mac)},
      {"public-ipv4", i.public_ip.empty() ? std::nullopt : std::optional(i.public_ip)},
      {"ramdisk-id", i.ramdisk_id.empty() ? std::nullopt : std::optional(i.ramdisk_id)},
      {"reservation-id", i.reservation_id},
      {"security-groups", Join(i.groups.empty() ? std::vector<std::string>{"default"} : i.groups)},
  };
  if (key.empty()) {
    std::vector<std::string> names;
    for (const auto& [name, value] : leaves) {
      if (value) names.push_back(name);
    }
    names.push_back("placement/");
    if (openssh_key) names.push_back("public-keys/");
    std::sort(names.begin(), names.end());
    return Join(names);
  }
  for (const auto& [name, value] : leaves) {
    if (name == key) return value;
  }
  if (key == "placement") return "availability-zone";
  if (key == "placement/availability-zone") return i.zone;
  if (!openssh_key) return std::nullopt;
  if (key == "public-keys") return "0=" + i.key_name;
  if (key == "public-keys/0") return "openssh-key";
  if (key == "public-keys/0/openssh-key") return openssh_key;
  return std::nullopt;
}

}  // namespace

bool IsMetadataPath(const std::string& path) { return std::regex_match(path, PathPattern()); }

Result<std::optional<model::Instance>> FindInstanceByAddress(state::StateStore& store, const std::string& ip) {
  std::optional<model::Instance> found;
  if (ip.empty()) return found;
  EUCA_RETURN_IF_ERROR(store.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto all, t.List("instances"));
    for (const auto& o : all) {
      model::Instance i = model::InstanceFromJson(o.body);
      if (i.state == model::kTerminated) continue;
      if (i.private_ip == ip || i.public_ip == ip) {
        found = std::move(i);
        break;
      }
    }
    return Status::Ok();
  }));
  return found;
}

Result<std::optional<model::Instance>> InstanceAddressIndex::Find(const std::string& ip) {
  std::optional<model::Instance> found;
  if (ip.empty()) return found;
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<uint64_t> now = store_.ChangeCounter();
    if (!now || now != counter_) {
      ids_.clear();
      counter_.reset();
      EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
        EUCA_ASSIGN_OR_RETURN(auto all, t.List("instances"));
        for (const auto& o : all) {
          if (o.body.value("state", "") == model::kTerminated) continue;
          for (const char* field : {"private_ip", "public_ip"}) {
            std::string address = o.body.value(field, "");
            if (!address.empty()) ids_.emplace(std::move(address), o.id);
          }
        }
        return Status::Ok();
      }));
      ++scans_;
      counter_ = now;
    }
    auto it = ids_.find(ip);
    if (it == ids_.end()) return found;
    id = it->second;
  }
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto o, t.Get("instances", id));
    if (!o) return Status::Ok();
    model::Instance i = model::InstanceFromJson(o->body);
    if (i.state != model::kTerminated && (i.private_ip == ip || i.public_ip == ip)) found = std::move(i);
    return Status::Ok();
  }));
  return found;
}

uint64_t InstanceAddressIndex::scans() const {
  std::lock_guard<std::mutex> lock(mu_);
  return scans_;
}

http::Handler MakeMetadataHandler(state::StateStore& store) {
  auto index = std::make_shared<InstanceAddressIndex>(store);
  return [&store, index](const http::RequestHead& head, http::BodyReader&) -> http::Response {
    if (head.method != "GET" && head.method != "HEAD") {
      http::Response r = http::Response::Text(405, "Method Not Allowed\n");
      r.headers.Set("Allow", "GET, HEAD");
      return r;
    }
    std::smatch m;
    if (!std::regex_match(head.path, m, PathPattern())) return NotFoundReply();
    auto instance = index->Find(PeerAddress(head.remote));
    if (!instance.ok()) return http::Response::Text(500, "Internal Server Error\n");
    if (!*instance) return NotFoundReply();
    const model::Instance& i = **instance;
    std::string rest = m[2].str();
    if (rest.rfind("user-data", 0) == 0) {
      if (i.user_data.empty()) return NotFoundReply();
      auto raw = api::Base64Decode(i.user_data);
      if (!raw.ok()) return http::Response::Text(500, "Internal Server Error\n");
      return http::Response::Text(200, *raw, "application/octet-stream");
    }
    std::string key = rest == "meta-data" ? "" : rest.substr(std::string("meta-data/").size());
    auto answer = MetaData(store, i, key);
    if (!answer) return NotFoundReply();
    return http::Response::Text(200, *answer);
  };
}

}  // namespace euca::clc
