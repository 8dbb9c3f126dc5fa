#include "core/model/account.h"

namespace euca::model {

Json ToJson(const Account& a) { return {{"id", a.id}, {"name", a.name}, {"created", a.created_ms}}; }
Json ToJson(const User& u) {
  return {{"id", u.id}, {"account", u.account_id}, {"name", u.name}, {"enabled", u.enabled}, {"created", u.created_ms}};
}
Json ToJson(const AccessKey& k) {
  return {{"id", k.id}, {"user", k.user_id}, {"account", k.account_id}, {"active", k.active}, {"created", k.created_ms}};
}
Json ToJson(const Certificate& c) {
  return {{"id", c.id},         {"user", c.user_id}, {"account", c.account_id}, {"fingerprint", c.fingerprint},
          {"active", c.active}, {"created", c.created_ms}, {"pem", c.pem}};
}
Json ToJson(const Signup& s) {
  return {{"id", s.id},         {"account_name", s.account_name}, {"user_name", s.user_name},
          {"email", s.email},   {"status", s.status},             {"created", s.created_ms},
          {"decided", s.decided_ms}, {"decided_by", s.decided_by}};
}
Json ToJson(const Property& p) { return {{"name", p.name}, {"value", p.value}}; }

Account AccountFromJson(const Json& j) {
  return {j.value("id", ""), j.value("name", ""), j.value("created", int64_t{0})};
}
User UserFromJson(const Json& j) {
  return {j.value("id", ""), j.value("account", ""), j.value("name", ""), j.value("enabled", true),
          j.value("created", int64_t{0})};
}
AccessKey AccessKeyFromJson(const Json& j) {
  return {j.value("id", ""), j.value("user", ""), j.value("account", ""), j.value("active", true),
          j.value("created", int64_t{0}), ""};
}
Certificate CertificateFromJson(const Json& j) {
  return {j.value("id", ""),     j.value("user", ""),  j.value("account", ""), j.value("fingerprint", ""),
          j.value("pem", ""),    j.value("active", true), j.value("created", int64_t{0})};
}
Signup SignupFromJson(const Json& j) {
  return {j.value("id", ""),      j.value("account_name", ""), j.value("user_name", ""),
          j.value("email", ""),   j.value("status", ""),       j.value("created", int64_t{0}),
          j.value("decided", int64_t{0}), j.value("decided_by", "")};
}
Property PropertyFromJson(const Json& j) { return {j.value("name", ""), j.value("value", "")}; }

}  // namespace euca::model
