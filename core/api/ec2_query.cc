#include "core/api/ec2_query.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <sstream>

#include "core/base/error_map.h"

namespace euca::api {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Parameters that belong to the signature, not to the action.
bool IsAuthParam(std::string_view name) {
  return name == "AWSAccessKeyId" || name == "Signature" || name == "SignatureMethod" || name == "SignatureVersion" ||
         name == "Timestamp" || name == "Expires" || name == "SecurityToken" || StartsWith(name, "X-Amz-");
}

bool IsVersion(std::string_view v) {
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!std::isdigit(static_cast<unsigned char>(v[i]))) return false;
  return true;
}

// A positive decimal member number ("12"), else nullopt.
std::optional<int> MemberNumber(std::string_view s) {
  if (s.empty() || s.size() > 9 || s[0] == '0') return std::nullopt;
  int n = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

Status Ec2Error(Code code, std::string message, std::string wire) {
  return Status(code, std::move(message), std::move(wire));
}

// EC2 wildcard match: '*' any run, '?' one character, '\' escapes the next one.
bool WildcardMatch(std::string_view pattern, std::string_view value) {
  size_t p = 0, v = 0, star_p = std::string_view::npos, star_v = 0;
  while (v < value.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = ++p;
      star_v = v;
      continue;
    }
    if (p < pattern.size()) {
      char want = pattern[p];
      size_t width = 1;
      bool any = false;
      if (want == '\\' && p + 1 < pattern.size()) {
        want = pattern[p + 1];
        width = 2;
      } else if (want == '?') {
        any = true;
      }
      if (any || want == value[v]) {
        p += width;
        ++v;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    v = ++star_v;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

std::string Ec2Namespace(std::string_view version) {
  return "http://ec2.amazonaws.com/doc/" + std::string(version) + "/";
}

std::string Ec2Timestamp(int64_t ms) {
  if (ms < 0) ms = 0;
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

bool FilterMatches(const Ec2Filter& filter, std::string_view value) {
  return std::any_of(filter.values.begin(), filter.values.end(),
                     [&](const std::string& pattern) { return WildcardMatch(pattern, value); });
}

// --- Ec2Request ---------------------------------------------------------------------------

Ec2Request::Ec2Request(std::string action, std::string version, std::string request_id, Params params)
    : action_(std::move(action)),
      version_(version.empty() ? std::string(kEc2Version) : std::move(version)),
      request_id_(std::move(request_id)),
      params_(std::move(params)) {}

Result<Ec2Request> Ec2Request::FromParams(const QueryParams& raw, std::string request_id) {
  std::string action, version;
  Params params;
  for (const auto& [raw_name, raw_value] : raw) {
    std::string name = PercentDecode(raw_name, true);
    std::string value = PercentDecode(raw_value, true);
    if (name == "Action") {
      if (action.empty()) action = value;
    } else if (name == "Version") {
      if (version.empty()) version = value;
    } else if (!IsAuthParam(name)) {
      params.emplace_back(std::move(name), std::move(value));
    }
  }
  if (action.empty())
    return Ec2Error(Code::kInvalidArgument, "the request must contain the parameter 'Action'", "MissingAction");
  if (!version.empty() && !IsVersion(version))
    return Ec2Error(Code::kInvalidArgument, "invalid API version '" + version + "': expected YYYY-MM-DD",
                    "InvalidParameterValue");
  return Ec2Request(std::move(action), std::move(version), std::move(request_id), std::move(params));
}

Result<Ec2Request> Ec2Request::FromHttp(std::string_view method, std::string_view raw_query,
                                        std::string_view content_type, std::string_view body, std::string request_id) {
  QueryParams raw = SplitQuery(raw_query);
  if (method == "POST" && !body.empty()) {
    std::string type(content_type.substr(0, content_type.find(';')));
    type = std::string(TrimSpace(type));
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (type != "application/x-www-form-urlencoded")
      return Ec2Error(Code::kInvalidArgument,
                      "a POST body must be application/x-www-form-urlencoded, got '" + std::string(content_type) + "'",
                      "InvalidParameterValue");
    for (auto& p : SplitQuery(body)) raw.push_back(std::move(p));
  }
  return FromParams(raw, std::move(request_id));
}

std::optional<std::string> Ec2Request::Get(std::string_view name) const {
  for (const auto& [n, v] : params_)
    if (n == name) return v;
  return std::nullopt;
}

std::string Ec2Request::GetOr(std::string_view name, std::string fallback) const {
  auto v = Get(name);
  return v ? *v : std::move(fallback);
}

Result<std::string> Ec2Request::Required(std::string_view name) const {
  auto v = Get(name);
  if (!v || v->empty())
    return Ec2Error(Code::kInvalidArgument, "the request must contain the parameter '" + std::string(name) + "'",
                    "MissingParameter");
  return *v;
}

Result<std::optional<int64_t>> Ec2Request::GetInt(std::string_view name, int64_t min, int64_t max) const {
  auto v = Get(name);
  if (!v) return std::optional<int64_t>();
  auto bad = [&] {
    return Ec2Error(Code::kInvalidArgument,
                    "invalid value '" + *v + "' for '" + std::string(name) + "': expected an integer from " +
                        std::to_string(min) + " to " + std::to_string(max),
                    "InvalidParameterValue");
  };
  try {
    size_t pos = 0;
    long long n = std::stoll(*v, &pos);
    if (pos != v->size() || n < min || n > max) return bad();
    return std::optional<int64_t>(n);
  } catch (const std::exception&) {
    return bad();
  }
}

Result<std::optional<bool>> Ec2Request::GetBool(std::string_view name) const {
  auto v = Get(name);
  if (!v) return std::optional<bool>();
  std::string lower = *v;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true") return std::optional<bool>(true);
  if (lower == "false") return std::optional<bool>(false);
  return Ec2Error(Code::kInvalidArgument,
                  "invalid value '" + *v + "' for '" + std::string(name) + "': expected true or false",
                  "InvalidParameterValue");
}

std::vector<int> Ec2Request::Indices(std::string_view prefix) const {
  std::vector<int> out;
  const std::string p = std::string(prefix) + ".";
  for (const auto& [n, v] : params_) {
    if (!StartsWith(n, p)) continue;
    std::string_view rest = std::string_view(n).substr(p.size());
    auto dot = rest.find('.');
    if (auto k = MemberNumber(rest.substr(0, dot))) out.push_back(*k);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> Ec2Request::List(std::string_view prefix) const {
  std::map<int, std::string> members;
  const std::string p = std::string(prefix) + ".";
  for (const auto& [n, v] : params_) {
    if (!StartsWith(n, p)) continue;
    if (auto k = MemberNumber(std::string_view(n).substr(p.size()))) members.emplace(*k, v);
  }
  std::vector<std::string> out;
  for (auto& [k, v] : members) out.push_back(std::move(v));
  return out;
}

Result<std::vector<Ec2Filter>> Ec2Request::Filters() const {
  std::vector<Ec2Filter> out;
  for (int n : Indices("Filter")) {
    const std::string base = "Filter." + std::to_string(n);
    Ec2Filter f;
    f.name = GetOr(base + ".Name");
    f.values = List(base + ".Value");
    if (f.name.empty())
      return Ec2Error(Code::kInvalidArgument, "the parameter '" + base + ".Name' is missing or empty",
                      "InvalidParameterValue");
    if (f.values.empty())
      return Ec2Error(Code::kInvalidArgument, "the filter '" + f.name + "' has no values ('" + base + ".Value.1')",
                      "InvalidParameterValue");
    out.push_back(std::move(f));
  }
  return out;
}

std::string Ec2FormBody(std::string_view action, std::string_view version, const Params& params) {
  std::string body = "Action=" + UriEncode(action, false) + "&Version=" + UriEncode(version, false);
  for (const auto& [n, v] : params) body += "&" + UriEncode(n, false) + "=" + UriEncode(v, false);
  return body;
}

// --- Responses -------------------------------------------------------------------------------

Ec2Response::Ec2Response(std::string_view action, std::string_view version, std::string_view request_id) {
  auto decl = doc_.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  root_ = doc_.append_child((std::string(action) + "Response").c_str());
  root_.append_attribute("xmlns") = Ec2Namespace(version).c_str();
  AddText(root_, "requestId", request_id);
}

std::string Ec2Response::ToString() const {
  std::ostringstream out;
  doc_.save(out, "", pugi::format_raw);
  return out.str();
}

std::string Ec2ErrorCode(const Status& status) {
  if (!status.wire_code().empty()) return status.wire_code();
  return std::string(MapError(status.code()).ec2);
}

std::string Ec2ErrorXml(const Status& status, std::string_view request_id) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto response = doc.append_child("Response");
  auto error = response.append_child("Errors").append_child("Error");
  AddText(error, "Code", Ec2ErrorCode(status));
  AddText(error, "Message", status.message());
  AddText(response, "RequestID", request_id);
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

Status ParseEc2Error(std::string_view body, int http_status) {
  pugi::xml_document doc;
  std::string code, message;
  if (!body.empty() && doc.load_buffer(body.data(), body.size())) {
    pugi::xml_node error = doc.child("Response").child("Errors").child("Error");
    if (!error) error = doc.child("ErrorResponse").child("Error");
    code = ChildText(error, "Code");
    message = ChildText(error, "Message");
  }
  if (code.empty()) {
    Code c = CodeOfEc2Error("", http_status);
    return Status(c, "the server answered HTTP " + std::to_string(http_status) + " without an EC2 error document");
  }
  if (message.empty()) message = code;
  return Status(CodeOfEc2Error(code, http_status), message, code);
}

pugi::xml_node AddText(pugi::xml_node parent, const char* name, std::string_view text) {
  auto n = parent.append_child(name);
  n.text().set(std::string(text).c_str());
  return n;
}

pugi::xml_node AddBool(pugi::xml_node parent, const char* name, bool value) {
  return AddText(parent, name, value ? "true" : "false");
}

pugi::xml_node AddInt(pugi::xml_node parent, const char* name, int64_t value) {
  return AddText(parent, name, std::to_string(value));
}

std::string ChildText(pugi::xml_node node, const char* name) { return node.child(name).text().get(); }

}  // namespace euca::api
