#include "core/sla/rules.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "core/clc/properties.h"

namespace euca::sla {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '.' || c == '_' || c == '-';
  });
}

std::optional<int64_t> ParseCount(const std::string& v) {
  if (v.empty() || v.size() > 15 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  return std::stoll(v);
}

std::string FormatDuration(int64_t s) {
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

bool IsLimit(const std::string& kind) { return kind == kInstanceLimit || kind == kCoreLimit || kind == kMemoryLimit; }
bool IsQuota(const std::string& kind) { return kind == kStorageQuota || kind == kAddressQuota; }

const char* DefaultAction(const std::string& kind) {
  if (kind == kMaxRuntime) return "terminate";
  if (kind == kZonePolicy) return "set-zone";
  if (kind == kReleaseOnTerminate) return "release";
  return "reject";
}

// Where a key was given, for messages.
struct Given {
  int line = 0;
  std::string value;
};

struct Section {
  int line = 0;
  std::string name;
  std::map<std::string, Given> keys;
};

Status Bad(int line, const std::string& what) {
  return InvalidArgument("line " + std::to_string(line) + ": " + what);
}

Result<Rule> Build(const Section& s) {
  static const std::set<std::string> kKnown = {"kind",        "action",        "scope",      "limit",
                                               "duration",    "policy",        "zone",       "description",
                                               "match.account", "match.user", "match.zone", "match.type"};
  for (const auto& [key, given] : s.keys)
    if (!kKnown.count(key)) return Bad(given.line, "unknown key '" + key + "' in rule '" + s.name + "'");
  auto get = [&](const std::string& key) -> const Given* {
    auto it = s.keys.find(key);
    return it == s.keys.end() ? nullptr : &it->second;
  };
  auto forbid = [&](const std::string& key, const std::string& kind) -> Status {
    if (const Given* g = get(key))
      return Bad(g->line, "key '" + key + "' does not apply to rule '" + s.name + "' of kind " + kind);
    return Status::Ok();
  };
  Rule r;
  r.name = s.name;
  const Given* kind = get("kind");
  if (!kind) return Bad(s.line, "rule '" + s.name + "' has no 'kind'");
  r.kind = kind->value;
  static const std::set<std::string> kKinds = {kInstanceLimit, kCoreLimit,    kMemoryLimit,        kMaxRuntime,
                                               kZonePolicy,    kStorageQuota, kAddressQuota,       kReleaseOnTerminate,
                                               kNetworkGuard};
  if (!kKinds.count(r.kind))
    return Bad(kind->line, "unknown kind '" + r.kind +
                               "' (instance-limit, core-limit, memory-limit, max-runtime, zone-policy, "
                               "storage-quota, address-quota, release-on-terminate, network-guard)");
  if (const Given* g = get("match.account")) r.match.account = g->value;
  if (const Given* g = get("match.user")) r.match.user = g->value;
  if (const Given* g = get("match.zone")) r.match.zone = g->value;
  if (const Given* g = get("match.type")) r.match.type = g->value;
  if (const Given* g = get("description")) r.description = g->value;

  r.action = DefaultAction(r.kind);
  if (const Given* g = get("action"); g && g->value != r.action)
    return Bad(g->line, "the action of kind " + r.kind + " is '" + r.action + "', not '" + g->value + "'");

  if (IsLimit(r.kind) || IsQuota(r.kind)) {
    EUCA_RETURN_IF_ERROR(forbid("duration", r.kind));
    EUCA_RETURN_IF_ERROR(forbid("policy", r.kind));
    EUCA_RETURN_IF_ERROR(forbid("zone", r.kind));
    r.scope = IsQuota(r.kind) ? "account" : "user";
    if (const Given* g = get("scope")) {
      if (g->value != "user" && g->value != "account")
        return Bad(g->line, "scope '" + g->value + "' must be 'user' or 'account'");
      if (IsQuota(r.kind) && g->value != "account")
        return Bad(g->line, "kind " + r.kind + " counts per account: scope must be 'account'");
      r.scope = g->value;
    }
    if (IsQuota(r.kind)) {
      EUCA_RETURN_IF_ERROR(forbid("match.user", r.kind));
      EUCA_RETURN_IF_ERROR(forbid("match.zone", r.kind));
      EUCA_RETURN_IF_ERROR(forbid("match.type", r.kind));
    }
    const Given* limit = get("limit");
    if (!limit) return Bad(s.line, "rule '" + s.name + "' has no 'limit'");
    std::optional<int64_t> n;
    if (r.kind == kMemoryLimit) {
      n = ParseSize(limit->value, int64_t{1} << 20);
      if (!n) return Bad(limit->line, "limit '" + limit->value + "' is not a memory size such as 4096 (MiB) or 8G");
    } else if (r.kind == kStorageQuota) {
      n = ParseSize(limit->value, 1);
      if (!n) return Bad(limit->line, "limit '" + limit->value + "' is not a size such as 1073741824 or 10G");
    } else {
      n = ParseCount(limit->value);
      if (!n) return Bad(limit->line, "limit '" + limit->value + "' is not a whole number");
    }
    r.limit = *n;
  } else if (r.kind == kMaxRuntime) {
    for (const char* k : {"scope", "limit", "policy", "zone"}) EUCA_RETURN_IF_ERROR(forbid(k, r.kind));
    const Given* d = get("duration");
    if (!d) return Bad(s.line, "rule '" + s.name + "' has no 'duration'");
    auto parsed = clc::ParseDuration(d->value);
    if (!parsed.ok() || !*parsed || **parsed <= 0)
      return Bad(d->line, "duration '" + d->value + "' is not of the form 30m, 6h or 7d");
    r.duration_s = **parsed;
  } else if (r.kind == kReleaseOnTerminate || r.kind == kNetworkGuard) {
    // Events with no parameters: the match keys say which instances.
    for (const char* k : {"scope", "limit", "duration", "policy", "zone"}) EUCA_RETURN_IF_ERROR(forbid(k, r.kind));
  } else {  // zone-policy
    for (const char* k : {"scope", "limit", "duration", "match.zone"}) EUCA_RETURN_IF_ERROR(forbid(k, r.kind));
    const Given* p = get("policy");
    if (!p) return Bad(s.line, "rule '" + s.name + "' has no 'policy'");
    if (p->value != "any" && p->value != "emptiest" && p->value != "single" && p->value != "spread")
      return Bad(p->line, "policy '" + p->value + "' must be any, emptiest, single or spread");
    r.policy = p->value;
    const Given* z = get("zone");
    if (r.policy == "single" && !z) return Bad(p->line, "policy 'single' needs 'zone = NAME'");
    if (r.policy != "single" && z) return Bad(z->line, "'zone' goes only with policy 'single'");
    if (z) r.zone = z->value;
  }
  return r;
}

}  // namespace

std::optional<int64_t> ParseSize(const std::string& text, int64_t unit_bytes) {
  std::string v = Trim(text);
  size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  int64_t n = std::stoll(v.substr(0, digits));
  std::string suffix = v.substr(digits);
  for (auto& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.empty()) return n;
  if (suffix.size() > 1 && (suffix.substr(1) == "IB" || suffix.substr(1) == "B")) suffix = suffix.substr(0, 1);
  int shift = 0;
  if (suffix == "K") shift = 10;
  else if (suffix == "M") shift = 20;
  else if (suffix == "G") shift = 30;
  else if (suffix == "T") shift = 40;
  else return std::nullopt;
  int64_t bytes = n << shift;
  if (n > (INT64_MAX >> shift)) return std::nullopt;
  if (bytes % unit_bytes != 0) return std::nullopt;
  return bytes / unit_bytes;
}

Result<std::vector<Rule>> ParseRules(const std::string& text) {
  std::vector<Section> sections;
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    std::string l = raw;
    if (auto hash = l.find('#'); hash != std::string::npos) l.erase(hash);
    l = Trim(l);
    if (l.empty()) continue;
    if (l.front() == '[') {
      if (l.back() != ']') return Bad(line, "expected '[rule NAME]'");
      std::string inner = Trim(std::string_view(l).substr(1, l.size() - 2));
      if (inner.rfind("rule", 0) != 0 || inner.size() < 5 || !std::isspace(static_cast<unsigned char>(inner[4])))
        return Bad(line, "expected '[rule NAME]'");
      std::string name = Trim(std::string_view(inner).substr(4));
      if (!ValidName(name))
        return Bad(line, "invalid rule name '" + name +
                             "': at most 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit");
      for (const auto& s : sections)
        if (s.name == name) return Bad(line, "rule '" + name + "' is given twice (first on line " + std::to_string(s.line) + ")");
      sections.push_back({line, name, {}});
      continue;
    }
    auto eq = l.find('=');
    if (eq == std::string::npos) return Bad(line, "expected 'key = value'");
    std::string key = Trim(std::string_view(l).substr(0, eq)), value = Trim(std::string_view(l).substr(eq + 1));
    if (sections.empty()) return Bad(line, "key '" + key + "' before the first '[rule NAME]'");
    if (value.empty()) return Bad(line, "key '" + key + "' has no value");
    auto& keys = sections.back().keys;
    if (keys.count(key))
      return Bad(line, "key '" + key + "' is given twice (first on line " + std::to_string(keys[key].line) + ")");
    keys[key] = {line, value};
  }
  if (sections.empty()) return InvalidArgument("no rule: a rule file holds '[rule NAME]' sections (docs/sla.md)");
  std::vector<Rule> out;
  for (const auto& s : sections) {
    EUCA_ASSIGN_OR_RETURN(Rule r, Build(s));
    out.push_back(std::move(r));
  }
  return out;
}

std::string FormatRule(const Rule& r) {
  std::string out = "[rule " + r.name + "]\n";
  auto kv = [&](const char* k, const std::string& v) {
    if (!v.empty()) out += std::string(k) + " = " + v + "\n";
  };
  kv("kind", r.kind);
  kv("description", r.description);
  kv("match.account", r.match.account);
  kv("match.user", r.match.user);
  kv("match.zone", r.match.zone);
  kv("match.type", r.match.type);
  if (IsLimit(r.kind) || IsQuota(r.kind)) {
    kv("scope", r.scope);
    kv("limit", std::to_string(r.limit));
  }
  if (r.kind == kMaxRuntime) kv("duration", FormatDuration(r.duration_s));
  if (r.kind == kZonePolicy) {
    kv("policy", r.policy);
    kv("zone", r.zone);
  }
  kv("action", r.action);
  return out;
}

Json ToJson(const Rule& r) {
  Json j = {{"name", r.name}, {"kind", r.kind}};
  Json m = Json::object();
  if (!r.match.account.empty()) m["account"] = r.match.account;
  if (!r.match.user.empty()) m["user"] = r.match.user;
  if (!r.match.zone.empty()) m["zone"] = r.match.zone;
  if (!r.match.type.empty()) m["type"] = r.match.type;
  j["match"] = m;
  j["action"] = r.action;
  if (!r.scope.empty()) j["scope"] = r.scope;
  if (IsLimit(r.kind) || IsQuota(r.kind)) j["limit"] = r.limit;
  if (r.kind == kMaxRuntime) j["duration_seconds"] = r.duration_s;
  if (!r.policy.empty()) j["policy"] = r.policy;
  if (!r.zone.empty()) j["zone"] = r.zone;
  if (!r.description.empty()) j["description"] = r.description;
  return j;
}

Rule RuleFromJson(const Json& j) {
  Rule r;
  r.name = j.value("name", "");
  r.kind = j.value("kind", "");
  if (j.contains("match")) {
    const Json& m = j.at("match");
    r.match = {m.value("account", ""), m.value("user", ""), m.value("zone", ""), m.value("type", "")};
  }
  r.action = j.value("action", std::string(DefaultAction(r.kind)));
  r.scope = j.value("scope", "");
  r.limit = j.value("limit", int64_t{0});
  r.duration_s = j.value("duration_seconds", int64_t{0});
  r.policy = j.value("policy", "");
  r.zone = j.value("zone", "");
  r.description = j.value("description", "");
  return r;
}

bool Matches(const Match& m, const std::string& account, const std::string& user, const std::string& zone,
             const std::string& type) {
  return (m.account.empty() || m.account == account) && (m.user.empty() || m.user == user) &&
         (m.zone.empty() || m.zone == zone) && (m.type.empty() || m.type == type);
}

}  // namespace euca::sla
