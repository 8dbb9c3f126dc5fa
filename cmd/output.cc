#include "cmd/output.h"

#include <ostream>

namespace euca::cmd {

std::string FieldText(const Field& field) {
  std::string text;
  const Json& v = field.value;
  if (v.is_null()) {
    text = "";
  } else if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_boolean()) {
    text = v.get<bool>() ? "true" : "false";
  } else {
    text = v.dump();
  }
  for (char& c : text)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return field.text_prefix + text;
}

Json RecordToJson(const Record& record) {
  Json j = Json::object();
  j["record"] = record.tag;
  for (const auto& f : record.fields) j[f.name] = f.value;
  return j;
}

void PrintRecords(const Context& ctx, const std::vector<Record>& records, TextStyle style) {
  std::ostream& out = *ctx.out;
  if (ctx.output == OutputFormat::kJson) {
    Json array = Json::array();
    for (const auto& r : records) array.push_back(RecordToJson(r));
    out << array.dump(2) << "\n";
    return;
  }
  for (const auto& r : records) {
    if (style == TextStyle::kKeyValue) {
      for (const auto& f : r.fields)
        if (!f.value.is_null()) out << f.name << ": " << FieldText(f) << "\n";
      continue;
    }
    out << r.tag;
    for (const auto& f : r.fields) out << '\t' << FieldText(f);
    out << "\n";
  }
}

}  // namespace euca::cmd
