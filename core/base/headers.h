#pragma once
// An ordered list of header fields with case-insensitive names (RFC 9110 §5): the value type
// that HTTP plumbing (core/http) and request signing (core/api) both speak, so neither has to
// know the other.

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace euca {

/// Header fields in the order they were added. Names keep their spelling; every lookup
/// ignores ASCII case. A name may repeat. Thread-compatible.
class Headers final {
 public:
  struct Field {
    std::string name;
    std::string value;
  };

  Headers() = default;
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  /// Appends a field (a repeated name adds another value).
  void Add(std::string name, std::string value);
  /// Replaces every field named `name` by one field `name: value` (appended when absent).
  void Set(std::string_view name, std::string value);
  /// Removes every field named `name`.
  void Remove(std::string_view name);

  /// The first value of `name`, or nullptr when absent. Invalidated by any change.
  const std::string* Find(std::string_view name) const;
  /// The first value of `name`, or "" when absent.
  std::string Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  /// Every value of `name`, in order.
  std::vector<std::string> GetAll(std::string_view name) const;

  const std::vector<Field>& fields() const { return fields_; }
  std::vector<Field>::const_iterator begin() const { return fields_.begin(); }
  std::vector<Field>::const_iterator end() const { return fields_.end(); }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

}  // namespace euca
