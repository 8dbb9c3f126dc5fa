#include "cmd/common.h"

#include <CLI/CLI.hpp>

namespace euca::cmd {

CLI::Option* AddRequiredArg(CLI::App& app, const std::string& name, std::string& value, const std::string& help) {
  return app.add_option(name, value, help)->required();
}

CLI::Option* AddAccountOption(CLI::App& app, std::string& account, const std::string& help) {
  return app.add_option("-a,--account", account, help)->type_name("ACCOUNT");
}

CLI::Validator AtLeastOne() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        size_t used = 0;
        long long n = 0;
        try {
          n = std::stoll(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != value.size() || used == 0 || n < 1) return "must be a number of at least 1, got '" + value + "'";
        return "";
      },
      "");
}

void AddUserRef(CLI::App& app, UserRef& ref) {
  AddRequiredArg(app, "NAME", ref.name, "user name");
  AddAccountOption(app, ref.account, "account of the user (default: eucalyptus)");
}

Record AccountRecord(const model::Account& account) {
  return {"ACCOUNT", {{"name", account.name}, {"id", account.id}}};
}

Record UserRecord(const std::string& account_name, const model::User& user) {
  return {"USER", {{"account", account_name}, {"name", user.name}, {"id", user.id}, {"enabled", user.enabled}}};
}

Record SignupRecord(const model::Signup& s) {
  return {"SIGNUP",
          {{"id", s.id}, {"account", s.account_name}, {"user", s.user_name}, {"email", s.email}, {"status", s.status}}};
}

}  // namespace euca::cmd
