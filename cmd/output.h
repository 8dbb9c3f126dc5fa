#pragma once
// Output records: euca2ools-style tab-separated lines with a record tag first
// ("USER\teucalyptus\tadmin\tAIDA...\ttrue"), or with --output json the same data as one
// JSON array of objects ({"record": "USER", "account": "eucalyptus", ...}).

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cmd/context.h"

namespace euca::cmd {

using Json = nlohmann::ordered_json;

/// One named value of a record. In text, strings print as they are (tabs and newlines
/// become spaces so a record stays one line), booleans as true/false, null as an empty
/// field; `text_prefix` is put before the value in text only ("was: ").
struct Field {
  std::string name;
  Json value;
  std::string text_prefix = {};
};

/// One output record: a tag and its fields in order.
struct Record {
  std::string tag;
  std::vector<Field> fields;
};

/// Text layout of records.
enum class TextStyle {
  kTabs,      ///< "TAG\tv1\tv2" per record
  kKeyValue,  ///< "name: value" per field (human reports such as admin init)
};

/// Writes `records` to ctx.out in ctx.output format. JSON is always one array (possibly
/// empty), pretty-printed with two spaces and a final newline.
void PrintRecords(const Context& ctx, const std::vector<Record>& records, TextStyle style = TextStyle::kTabs);

/// A record's JSON object: {"record": tag, fields...}.
Json RecordToJson(const Record& record);
/// A field value as text (see Field).
std::string FieldText(const Field& field);



}  // namespace euca::cmd
