#include "drivers/network/state_json.h"

#include <string>
#include <utility>
#include <vector>

namespace euca::network {
namespace {

// Reads members of one JSON object, remembering the first error with the field's path.
class Reader final {
 public:
  Reader(const Json& json, std::string where, Status* error) : json_(json), where_(std::move(where)), error_(error) {
    if (!json_.is_object()) Fail("is not an object");
  }

  std::string String(const char* key) {
    const Json* v = Find(key);
    if (!v) return "";
    if (!v->is_string()) return Fail(std::string(".") + key + " is not a string"), "";
    return v->get<std::string>();
  }
  int Int(const char* key, int absent) {
    const Json* v = Find(key);
    if (!v) return absent;
    if (!v->is_number_integer()) return Fail(std::string(".") + key + " is not an integer"), absent;
    return v->get<int>();
  }
  bool Bool(const char* key) {
    const Json* v = Find(key);
    if (!v) return false;
    if (!v->is_boolean()) return Fail(std::string(".") + key + " is not true or false"), false;
    return v->get<bool>();
  }
  std::vector<std::string> Strings(const char* key) {
    std::vector<std::string> out;
    const Json* v = Find(key);
    if (!v) return out;
    if (!v->is_array()) return Fail(std::string(".") + key + " is not an array"), out;
    for (const Json& s : *v) {
      if (!s.is_string()) return Fail(std::string(".") + key + " holds a non-string"), out;
      out.push_back(s.get<std::string>());
    }
    return out;
  }
  /// The array `key` (empty when absent), each element handed to `each` with its path.
  template <typename F>
  void Array(const char* key, F each) {
    const Json* v = Find(key);
    if (!v) return;
    if (!v->is_array()) return Fail(std::string(".") + key + " is not an array");
    for (size_t i = 0; i < v->size() && error_->ok(); ++i)
      each((*v)[i], where_ + "." + key + "[" + std::to_string(i) + "]");
  }

 private:
  const Json* Find(const char* key) {
    if (!error_->ok() || !json_.is_object()) return nullptr;
    auto it = json_.find(key);
    return it == json_.end() || it->is_null() ? nullptr : &*it;
  }
  void Fail(const std::string& what) {
    if (error_->ok())
      *error_ = InvalidArgument("desired network state: " + where_ + (what.front() == '.' ? "" : " ") + what);
  }

  const Json& json_;
  std::string where_;
  Status* error_;
};

}  // namespace

Json ToJson(const DesiredState& s) {
  Json groups = Json::array();
  for (const Group& g : s.groups) {
    Json rules = Json::array();
    for (const IngressRule& r : g.ingress) {
      Json j = {{"protocol", r.protocol}, {"from_port", r.from_port}, {"to_port", r.to_port}};
      if (!r.cidr.empty()) j["cidr"] = r.cidr;
      if (!r.source_group.empty()) j["source_group"] = r.source_group;
      rules.push_back(std::move(j));
    }
    groups.push_back({{"id", g.id},
                      {"account_id", g.account_id},
                      {"name", g.name},
                      {"index", g.index},
                      {"subnet", g.subnet},
                      {"vlan", g.vlan},
                      {"ingress", std::move(rules)}});
  }
  Json endpoints = Json::array();
  for (const Endpoint& e : s.endpoints) {
    Json j = {{"instance_id", e.instance_id}, {"group_id", e.group_id}, {"groups", e.groups},
              {"mac", e.mac},                 {"private_ip", e.private_ip}, {"public_ip", e.public_ip}};
    if (e.elsewhere) j["elsewhere"] = true;
    endpoints.push_back(std::move(j));
  }
  return {{"mode", ModeName(s.mode)},
          {"bridge", s.bridge},
          {"subnet", s.subnet},
          {"gateway", s.gateway},
          {"public_interface", s.public_interface},
          {"private_interface", s.private_interface},
          {"dns", s.dns},
          {"metadata_target", s.metadata_target},
          {"groups", std::move(groups)},
          {"endpoints", std::move(endpoints)}};
}

Result<DesiredState> DesiredStateFromJson(const Json& json) {
  Status error = Status::Ok();
  DesiredState s;
  Reader top(json, "state", &error);
  std::string mode = top.String("mode");
  s.bridge = top.String("bridge");
  s.subnet = top.String("subnet");
  s.gateway = top.String("gateway");
  s.public_interface = top.String("public_interface");
  s.private_interface = top.String("private_interface");
  s.dns = top.Strings("dns");
  s.metadata_target = top.String("metadata_target");
  top.Array("groups", [&](const Json& j, const std::string& where) {
    Reader r(j, where, &error);
    Group g;
    g.id = r.String("id");
    g.account_id = r.String("account_id");
    g.name = r.String("name");
    g.index = r.Int("index", 0);
    g.subnet = r.String("subnet");
    g.vlan = r.Int("vlan", -1);
    r.Array("ingress", [&](const Json& rj, const std::string& rwhere) {
      Reader rr(rj, rwhere, &error);
      IngressRule rule;
      rule.protocol = rr.String("protocol");
      rule.from_port = rr.Int("from_port", -1);
      rule.to_port = rr.Int("to_port", -1);
      rule.cidr = rr.String("cidr");
      rule.source_group = rr.String("source_group");
      g.ingress.push_back(std::move(rule));
    });
    s.groups.push_back(std::move(g));
  });
  top.Array("endpoints", [&](const Json& j, const std::string& where) {
    Reader r(j, where, &error);
    Endpoint e;
    e.instance_id = r.String("instance_id");
    e.group_id = r.String("group_id");
    e.groups = r.Strings("groups");
    e.mac = r.String("mac");
    e.private_ip = r.String("private_ip");
    e.public_ip = r.String("public_ip");
    e.elsewhere = r.Bool("elsewhere");
    s.endpoints.push_back(std::move(e));
  });
  if (!error.ok()) return error;
  if (mode.empty()) return InvalidArgument("desired network state: state has no mode");
  Result<Mode> parsed = ParseMode(mode);
  if (!parsed.ok()) return InvalidArgument("desired network state: " + parsed.status().message());
  s.mode = *parsed;
  return s;
}

}  // namespace euca::network
