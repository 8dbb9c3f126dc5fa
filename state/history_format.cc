#include "state/history_format.h"

namespace euca::state {

std::string HistoryFile(const Object& object) {
  Json j = Json::object();
  j["kind"] = object.kind;
  j["id"] = object.id;
  j["parent"] = object.parent;
  j["name"] = object.name;
  j["body"] = object.body;
  if (object.secret) j["secret"] = kRedactedMarker;
  return j.dump(2) + "\n";
}

Result<Object> ParseHistoryFile(const std::string& text, bool* had_secret) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("kind") || !j.contains("id") || !j["kind"].is_string() ||
      !j["id"].is_string())
    return Internal("corrupt history file: not an object envelope");
  Object o;
  o.kind = j["kind"].get<std::string>();
  o.id = j["id"].get<std::string>();
  o.parent = j.value("parent", "");
  o.name = j.value("name", "");
  o.body = j.contains("body") ? j["body"] : Json::object();
  if (had_secret) *had_secret = j.contains("secret");
  return o;
}

}  // namespace euca::state
