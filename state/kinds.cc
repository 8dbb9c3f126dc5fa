#include "state/kinds.h"

#include <algorithm>
#include <cctype>

#include "core/base/random.h"

namespace euca::state {

const std::vector<KindInfo>& Kinds() {
  // Keep docs/history-format.md in step. Order does not matter.
  static const std::vector<KindInfo> kKinds = {
      {"accounts", true, ""},          // 12-digit account numbers
      {"users", true, "AIDA"},
      {"access-keys", true, "AKIA"},
      {"certificates", true, "cert-"},
      {"signups", true, "signup-"},
      {"properties", true, ""},        // id = property name, e.g. "cloud.region"
      {"instances", false, "i-"},      // runtime: never resurrected by rollback
      {"vm-types", true, ""},          // id = type name, e.g. "m1.small"
      {"key-pairs", true, "key-"},
      {"images", true, ""},            // emi-/eki-/eri- + hex
      {"clusters", true, ""},          // id = cluster (zone) name
      {"nodes", true, "node-"},
      {"sla-rules", true, ""},         // id = rule name (core/sla, docs/sla.md)
      {"lease-defaults", true, ""},    // id = account id: default runtime/storage leases
      {"security-groups", true, "sg-"},
      {"addresses", true, ""},         // id = the public IPv4 address
      {"capacity-reservations", false, "cr-"},  // runtime: capacity held (core/clc, docs/sla.md)
      {"deleted-bundles", false, ""},  // runtime: id = SHA-256 of BUCKET/KEY (core/sla cleanup)
  };
  return kKinds;
}

const KindInfo* FindKind(std::string_view name) {
  for (const auto& k : Kinds())
    if (k.name == name) return &k;
  return nullptr;
}

namespace {

bool IsPlainIdChar(unsigned char c) {
  return std::isalnum(c) || c == '.' || c == '_' || c == '@' || c == '+' || c == '=' || c == '-';
}

std::string EncodeId(std::string_view id) {
  std::string out;
  for (unsigned char c : id) {
    if (IsPlainIdChar(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (out == "." || out == "..") out = (out == "." ? "%2E" : "%2E%2E");
  return out;
}

std::string DecodeId(std::string_view enc) {
  std::string out;
  for (size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] == '%' && i + 2 < enc.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(enc.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(enc[i]);
    }
  }
  return out;
}

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string HistoryPath(std::string_view kind, std::string_view id) {
  std::string shard;
  auto dash = id.find('-');
  if (dash != std::string_view::npos && dash + 2 < id.size() && IsHex(id[dash + 1]) && IsHex(id[dash + 2])) {
    shard = std::string(id.substr(dash + 1, 2));
    std::transform(shard.begin(), shard.end(), shard.begin(), [](unsigned char c) { return std::tolower(c); });
  } else {
    shard = Sha1Hex(std::string(id)).substr(0, 2);
  }
  return std::string(kind) + "/" + shard + "/" + EncodeId(id) + ".json";
}

std::optional<std::pair<std::string, std::string>> ParseObjectRef(std::string_view ref) {
  auto slash = ref.find('/');
  if (slash != std::string_view::npos) {
    std::string kind(ref.substr(0, slash));
    if (!FindKind(kind)) return std::nullopt;
    std::string_view rest = ref.substr(slash + 1);
    // A history path "kind/shard/id.json" or "kind/id".
    auto second = rest.find('/');
    if (second != std::string_view::npos) rest = rest.substr(second + 1);
    if (rest.size() > 5 && rest.substr(rest.size() - 5) == ".json") rest.remove_suffix(5);
    if (rest.empty()) return std::nullopt;
    return std::make_pair(kind, DecodeId(rest));
  }
  if (ref.empty()) return std::nullopt;
  for (const auto& k : Kinds())
    if (!k.id_prefix.empty() && ref.substr(0, k.id_prefix.size()) == k.id_prefix)
      return std::make_pair(std::string(k.name), std::string(ref));
  if (std::all_of(ref.begin(), ref.end(), [](unsigned char c) { return std::isdigit(c); }) && ref.size() == 12)
    return std::make_pair(std::string("accounts"), std::string(ref));
  if (ref.find('.') != std::string_view::npos) return std::make_pair(std::string("properties"), std::string(ref));
  return std::nullopt;
}

}  // namespace euca::state
