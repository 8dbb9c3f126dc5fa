#pragma once
// Helpers shared by the command families: the options several commands take, and handler
// wrappers that open the cloud first. Keeps option parsing in one place.

#include <memory>
#include <string>
#include <vector>

#include "cmd/commands.h"
#include "cmd/context.h"
#include "cmd/output.h"
#include "cmd/session.h"
#include "core/model/account.h"

namespace CLI {
class Option;
class Validator;
}  // namespace CLI

namespace euca::cmd {

/// Adds a required positional argument `name` (e.g. "NAME") bound to `value`.
CLI::Option* AddRequiredArg(CLI::App& app, const std::string& name, std::string& value, const std::string& help);

/// Adds "-a,--account ACCOUNT" bound to `account`, defaulting to "eucalyptus".
CLI::Option* AddAccountOption(CLI::App& app, std::string& account, const std::string& help);

/// Checks that a numeric option is at least 1: "must be at least 1, got '0'".
CLI::Validator AtLeastOne();

/// NAME and --account: the way commands name one user.
struct UserRef {
  std::string name;
  std::string account = model::kSystemAccount;
};
/// Adds the positional NAME and --account of a user command.
void AddUserRef(CLI::App& app, UserRef& ref);

/// A handler that opens the cloud of the context as its principal, then runs `fn`.
template <typename Fn>
Handler WithSession(Fn fn) {
  return [fn = std::move(fn)](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Session session, OpenSession(ctx));
    return fn(ctx, session);
  };
}

/// Like WithSession, but the principal must be a cloud administrator.
template <typename Fn>
Handler WithAdminSession(Fn fn) {
  return [fn = std::move(fn)](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Session session, OpenAdminSession(ctx));
    return fn(ctx, session);
  };
}

// Records shared by several commands.
Record AccountRecord(const model::Account& account);
Record UserRecord(const std::string& account_name, const model::User& user);
Record SignupRecord(const model::Signup& signup);

}  // namespace euca::cmd
