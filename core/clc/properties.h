#pragma once
// The registry of cloud properties: typed settings with a default, a description and a
// validator that turns accepted input into one canonical text (so "YES" and "true" store
// the same value). Stored values live in the state store as kind "properties" (id = name);
// an unset property has its default. Later issues register their properties in
// properties.cc. Immutable after start-up; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace euca::clc {

enum class PropertyType {
  kString,    ///< free text without control characters, optionally checked further
  kInt,       ///< decimal integer within [min, max]
  kBool,      ///< true/false (also yes/no, on/off, 1/0), canonical "true"/"false"
  kEnum,      ///< one of `choices` (case-insensitive), canonical as listed
  kDuration,  ///< "<n>s|m|h|d" or "none", canonical lower-case without leading zeros
  kUrl,       ///< empty, or http(s)://host[:port][/path]
};

/// "string", "int", "bool", "enum", "duration", "url".
std::string_view PropertyTypeName(PropertyType type);

struct PropertyDef {
  std::string name = {};
  PropertyType type = PropertyType::kString;
  std::string default_value = {};  ///< canonical
  std::string description = {};
  int64_t min = 0;            ///< kInt only
  int64_t max = 0;            ///< kInt only
  std::vector<std::string> choices = {};  ///< kEnum only
  /// kString only: extra check of the value; returns the canonical value or nullopt.
  std::optional<std::string> (*check)(std::string_view value) = nullptr;
  /// kString with `check`: the accepted form for messages, e.g. "a DNS label".
  std::string form = {};
  /// The accepted form for messages, e.g. "an integer from 1 to 36500".
  std::string ExpectedForm() const;
};

/// Every registered property, sorted by name.
const std::vector<PropertyDef>& Properties();

/// The property `name`, or InvalidArgument "unknown property 'name'".
Result<const PropertyDef*> FindProperty(std::string_view name);

/// The canonical form of `value` for the property, or InvalidArgument naming the property,
/// the value and the expected form. Leading and trailing blanks are ignored.
Result<std::string> CanonicalPropertyValue(const PropertyDef& def, std::string_view value);

/// Parses a canonical or user duration ("30m", "6h", "7d", "45s", "none") into seconds;
/// nullopt for "none". InvalidArgument otherwise.
Result<std::optional<int64_t>> ParseDuration(std::string_view text);

}  // namespace euca::clc
