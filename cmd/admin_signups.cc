// Account requests: euca signup, euca admin describe-signups, approve-signup,
// reject-signup.

#include <CLI/CLI.hpp>

#include "cmd/common.h"

namespace euca::cmd {
namespace {

/// approve-signup and reject-signup differ only in the Admin call.
using Decision = Result<model::Signup> (clc::Admin::*)(const clc::Principal&, const std::string&);

Handler SetupDecision(CLI::App& app, Decision decide) {
  auto id = std::make_shared<std::string>();
  AddRequiredArg(app, "ID", *id, "sign-up request id (signup-...)");
  return WithSession([id, decide](Context& ctx, Session& s) -> Status {
    EUCA_ASSIGN_OR_RETURN(model::Signup signup, ((*s.admin).*decide)(s.principal, *id));
    PrintRecords(ctx, {SignupRecord(signup)});
    return Status::Ok();
  });
}

}  // namespace

Handler SetupSignup(CLI::App& app) {
  struct Options {
    std::string account, email, user = model::kAccountAdminUser;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "ACCOUNT", o->account, "name of the account to create");
  app.add_option("-e,--email", o->email, "contact address of the account")->required()->type_name("EMAIL");
  app.add_option("-u,--user", o->user, "name of the account's first user (default: admin)")->type_name("NAME");
  return [o](Context& ctx) -> Status {
    // Anybody may ask for an account: no principal.
    EUCA_ASSIGN_OR_RETURN(Session s, OpenSession(ctx, /*authenticate=*/false));
    EUCA_ASSIGN_OR_RETURN(model::Signup signup, s.admin->RequestSignup(o->account, o->email, o->user));
    PrintRecords(ctx, {SignupRecord(signup)});
    return Status::Ok();
  };
}

Handler SetupDescribeSignups(CLI::App&) {
  return WithSession([](Context& ctx, Session& s) -> Status {
    EUCA_ASSIGN_OR_RETURN(std::vector<model::Signup> signups, s.admin->DescribeSignups(s.principal));
    std::vector<Record> records;
    for (const auto& signup : signups) records.push_back(SignupRecord(signup));
    PrintRecords(ctx, records);
    return Status::Ok();
  });
}

Handler SetupApproveSignup(CLI::App& app) { return SetupDecision(app, &clc::Admin::ApproveSignup); }

Handler SetupRejectSignup(CLI::App& app) { return SetupDecision(app, &clc::Admin::RejectSignup); }

}  // namespace euca::cmd
