// Accounts, users and credentials: euca admin create-account, describe-accounts,
// create-user, disable-user, enable-user, delete-user, describe-users, get-credentials.

#include <CLI/CLI.hpp>

#include "cmd/common.h"

namespace euca::cmd {
namespace {

/// enable-user, disable-user and delete-user differ only in the Admin call.
using UserAction = Status (*)(Session& session, const UserRef& ref);

Handler SetupUserAction(CLI::App& app, UserAction action) {
  auto ref = std::make_shared<UserRef>();
  AddUserRef(app, *ref);
  return WithSession([ref, action](Context&, Session& session) { return action(session, *ref); });
}

}  // namespace

Handler SetupCreateAccount(CLI::App& app) {
  auto name = std::make_shared<std::string>();
  AddRequiredArg(app, "NAME", *name, "account name");
  return WithSession([name](Context& ctx, Session& s) -> Status {
    EUCA_ASSIGN_OR_RETURN(model::Account account, s.admin->CreateAccount(s.principal, *name));
    PrintRecords(ctx, {AccountRecord(account)});
    return Status::Ok();
  });
}

Handler SetupDescribeAccounts(CLI::App&) {
  return WithSession([](Context& ctx, Session& s) -> Status {
    EUCA_ASSIGN_OR_RETURN(std::vector<model::Account> accounts, s.admin->DescribeAccounts(s.principal));
    std::vector<Record> records;
    for (const auto& a : accounts) records.push_back(AccountRecord(a));
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

Handler SetupCreateUser(CLI::App& app) {
  auto ref = std::make_shared<UserRef>();
  AddUserRef(app, *ref);
  return WithSession([ref](Context& ctx, Session& s) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto created, s.admin->CreateUser(s.principal, ref->account, ref->name));
    const auto& [user, key] = created;
    PrintRecords(ctx, {UserRecord(ref->account, user), {"ACCESSKEY", {{"id", key.id}, {"secret", key.secret}}}});
    return Status::Ok();
  });
}

Handler SetupDisableUser(CLI::App& app) {
  return SetupUserAction(app, [](Session& s, const UserRef& ref) {
    return s.admin->SetUserEnabled(s.principal, ref.account, ref.name, false);
  });
}

Handler SetupEnableUser(CLI::App& app) {
  return SetupUserAction(app, [](Session& s, const UserRef& ref) {
    return s.admin->SetUserEnabled(s.principal, ref.account, ref.name, true);
  });
}

Handler SetupDeleteUser(CLI::App& app) {
  return SetupUserAction(
      app, [](Session& s, const UserRef& ref) { return s.admin->DeleteUser(s.principal, ref.account, ref.name); });
}

Handler SetupDescribeUsers(CLI::App& app) {
  auto account = std::make_shared<std::string>();
  AddAccountOption(app, *account, "list only the users of this account (default: all accounts)");
  return WithSession([account](Context& ctx, Session& s) -> Status {
    std::optional<std::string> filter;
    if (!account->empty()) filter = *account;
    EUCA_ASSIGN_OR_RETURN(std::vector<clc::UserView> users, s.admin->DescribeUsers(s.principal, filter));
    std::vector<Record> records;
    for (const auto& view : users) {
      records.push_back(UserRecord(view.account.name, view.user));
      for (const auto& key : view.keys)
        records.push_back({"ACCESSKEY", {{"id", key.id}, {"status", key.active ? "Active" : "Inactive"}}});
    }
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

Handler SetupGetCredentials(CLI::App& app) {
  struct Options {
    UserRef ref;
    std::string file;
  };
  auto o = std::make_shared<Options>();
  AddUserRef(app, o->ref);
  app.add_option("-f,--file", o->file, "zip file to write (mode 0600; replaced if it exists)")
      ->required()
      ->type_name("FILE");
  return WithSession([o](Context& ctx, Session& s) -> Status {
    EUCA_RETURN_IF_ERROR(s.admin->GetCredentials(s.principal, o->ref.account, o->ref.name, o->file));
    PrintRecords(ctx, {{"CREDENTIALS", {{"account", o->ref.account}, {"user", o->ref.name}, {"file", o->file}}}});
    return Status::Ok();
  });
}

}  // namespace euca::cmd
