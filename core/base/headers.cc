#include "core/base/headers.h"

#include "core/base/strings.h"

namespace euca {

void Headers::Add(std::string name, std::string value) { fields_.push_back({std::move(name), std::move(value)}); }

void Headers::Set(std::string_view name, std::string value) {
  Remove(name);
  fields_.push_back({std::string(name), std::move(value)});
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return EqualsIgnoreCase(f.name, name); });
}

const std::string* Headers::Find(std::string_view name) const {
  for (const auto& f : fields_)
    if (EqualsIgnoreCase(f.name, name)) return &f.value;
  return nullptr;
}

std::string Headers::Get(std::string_view name) const {
  const std::string* v = Find(name);
  return v ? *v : std::string();
}

std::vector<std::string> Headers::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& f : fields_)
    if (EqualsIgnoreCase(f.name, name)) out.push_back(f.value);
  return out;
}

}  // namespace euca
