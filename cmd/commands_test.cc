#include "cmd/commands.h"

#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "cmd/app.h"
#include "cmd/cli.h"
#include "cmd/output.h"
#include "core/base/error_map.h"

namespace euca::cmd {
namespace {

TEST(CommandsTest, TableNamesAreUniqueAndWellFormed) {
  std::set<std::string> names, programs;
  for (const auto& c : Commands()) {
    EXPECT_TRUE(names.insert(std::string(c.name)).second) << c.name;
    EXPECT_NE(c.setup, nullptr) << c.name;
    EXPECT_FALSE(c.summary.empty()) << c.name;
    EXPECT_EQ(c.name.find("  "), std::string_view::npos) << c.name;
    if (c.hidden) continue;
    EXPECT_FALSE(c.description.empty()) << c.name;
    EXPECT_TRUE(programs.insert(ProgramName(c.name)).second) << c.name;
    for (auto alias : c.aliases) EXPECT_TRUE(programs.insert(std::string(alias)).second) << alias;
  }
}

TEST(CommandsTest, ProgramNames) {
  EXPECT_EQ(ProgramName("admin init"), "euca-admin-init");
  EXPECT_EQ(ProgramName("signup"), "euca-signup");
  EXPECT_EQ(CommandWordsForProgram("euca-admin-init"), (std::vector<std::string>{"admin", "init"}));
  EXPECT_EQ(CommandWordsForProgram("euca-describe-properties"),
            (std::vector<std::string>{"admin", "describe-properties"}));
  EXPECT_EQ(CommandWordsForProgram("euca-modify-property"), (std::vector<std::string>{"admin", "modify-property"}));
  EXPECT_EQ(CommandWordsForProgram("euca-version"), (std::vector<std::string>{"version"}));
  EXPECT_FALSE(CommandWordsForProgram("euca"));
  EXPECT_FALSE(CommandWordsForProgram("euca-admin"));
  EXPECT_FALSE(CommandWordsForProgram("euca-__man"));
}

TEST(CommandsTest, ResolveCommandNameAcceptsEveryForm) {
  const CommandSpec* init = FindCommand("admin init");
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(ResolveCommandName("admin init"), init);
  EXPECT_EQ(ResolveCommandName("admin-init"), init);
  EXPECT_EQ(ResolveCommandName("euca-admin-init"), init);
  EXPECT_EQ(ResolveCommandName("euca-modify-property"), FindCommand("admin modify-property"));
  EXPECT_EQ(ResolveCommandName("__man"), nullptr);
  EXPECT_EQ(ResolveCommandName("admin"), nullptr);
}

TEST(CommandsTest, EditDistanceCountsSwapsAsOne) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("init", "init"), 0u);
  EXPECT_EQ(EditDistance("inti", "init"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
}

TEST(CommandsTest, SuggestCommandFindsPlausibleTypos) {
  EXPECT_EQ(SuggestCommand("admin inti"), "admin init");
  EXPECT_EQ(SuggestCommand("admin describe-user"), "admin describe-users");
  EXPECT_EQ(SuggestCommand("create-user"), "admin create-user");
  EXPECT_EQ(SuggestCommand("describe-acc"), "admin describe-accounts");
  EXPECT_EQ(SuggestCommand("admn"), "admin");
  EXPECT_EQ(SuggestCommand("hepl"), "help");
  EXPECT_FALSE(SuggestCommand("frobnicate"));
  EXPECT_FALSE(SuggestCommand("x"));
  EXPECT_FALSE(SuggestCommand(""));
  EXPECT_FALSE(SuggestCommand("__ma"));  // hidden commands are never suggested
}

TEST(CommandsTest, NextWords) {
  EXPECT_EQ(NextWords(""),
            (std::vector<std::string>{"help", "version", "signup", "bundle-image", "unbundle", "upload-bundle",
                                      "download-bundle", "delete-bundle", "admin", "create-keypair",
                                      "import-keypair", "describe-keypairs", "delete-keypair", "describe-regions",
                                      "create-group", "delete-group", "describe-groups", "authorize", "revoke",
                                      "allocate-address", "associate-address", "disassociate-address",
                                      "release-address", "describe-addresses", "run-instances", "describe-instances", "terminate-instances",
                                      "reboot-instances", "get-console-output", "describe-availability-zones",
                                      "register", "deregister", "describe-images", "describe-image-attribute",
                                      "modify-image-attribute", "serve", "describe-leases", "renew-lease",
                                      "create-capacity-reservation", "describe-capacity-reservations",
                                      "cancel-capacity-reservation"}));
  auto admin = NextWords("admin");
  EXPECT_EQ(admin.front(), "init");
  EXPECT_EQ(admin.size(), 31u);
  EXPECT_TRUE(NextWords("admin init").empty());
}

TEST(OutputTest, TextFieldsStayOnOneLine) {
  EXPECT_EQ(FieldText({"a", "x\ty\nz"}), "x y z");
  EXPECT_EQ(FieldText({"a", true}), "true");
  EXPECT_EQ(FieldText({"a", nullptr}), "");
  EXPECT_EQ(FieldText({"a", 42}), "42");
  EXPECT_EQ(FieldText({"was", "old", "was: "}), "was: old");
}

TEST(OutputTest, PrintRecordsTextAndJson) {
  std::ostringstream out;
  Context ctx;
  ctx.out = &out;
  std::vector<Record> records = {{"USER", {{"account", "acme"}, {"name", "bob"}, {"enabled", false}}}};
  PrintRecords(ctx, records);
  EXPECT_EQ(out.str(), "USER\tacme\tbob\tfalse\n");
  out.str("");
  ctx.output = OutputFormat::kJson;
  PrintRecords(ctx, records);
  EXPECT_EQ(Json::parse(out.str()),
            Json::parse(R"([{"record":"USER","account":"acme","name":"bob","enabled":false}])"));
  out.str("");
  PrintRecords(ctx, {});
  EXPECT_EQ(out.str(), "[]\n");
}

GetenvFn FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

TEST(ContextTest, HomeComesFromFlagThenEnvironmentThenHome) {
  GlobalOptions g;
  auto ctx = MakeContext(g, FakeEnv({{"HOME", "/var/lib/u"}}));
  ASSERT_TRUE(ctx.ok());
  EXPECT_EQ(ctx->home, "/var/lib/u/.euca");
  ctx = MakeContext(g, FakeEnv({{"HOME", "/var/lib/u"}, {"EUCA_HOME", "/srv/euca/"}}));
  EXPECT_EQ(ctx->home, "/srv/euca");
  g.home = "/opt/c";
  ctx = MakeContext(g, FakeEnv({{"EUCA_HOME", "/srv/euca"}}));
  EXPECT_EQ(ctx->home, "/opt/c");
}

TEST(ContextTest, KeysComeInPairsAwsFirst) {
  GlobalOptions g;
  g.home = "/h";
  auto ctx = MakeContext(g, FakeEnv({{"EC2_ACCESS_KEY", "AKIAEC2"}, {"EC2_SECRET_KEY", "s1"}}));
  EXPECT_EQ(ctx->access_key_id, "AKIAEC2");
  EXPECT_EQ(ctx->secret_key, "s1");
  ctx = MakeContext(
      g, FakeEnv({{"EC2_ACCESS_KEY", "AKIAEC2"}, {"EC2_SECRET_KEY", "s1"}, {"AWS_ACCESS_KEY_ID", "AKIAAWS"}}));
  EXPECT_EQ(ctx->access_key_id, "AKIAAWS");
  EXPECT_EQ(ctx->secret_key, "");  // never the secret of another pair
}

TEST(ContextTest, UrlFlagOverridesEnvironment) {
  GlobalOptions g;
  g.home = "/h";
  auto ctx = MakeContext(g, FakeEnv({{"EC2_URL", "http://a/"}, {"S3_URL", "http://s3/"}}));
  EXPECT_EQ(ctx->ec2_url, "http://a/");
  EXPECT_FALSE(ctx->embedded());
  EXPECT_EQ(ctx->s3_url, "http://s3/");
  EXPECT_EQ(ctx->url_option, "");
  g.url = "http://b/";
  ctx = MakeContext(g, FakeEnv({{"EC2_URL", "http://a/"}}));
  EXPECT_EQ(ctx->ec2_url, "http://b/");
  EXPECT_EQ(ctx->url_option, "http://b/");  // the S3 commands' endpoint when given
  g.url.clear();
  ctx = MakeContext(g, FakeEnv({}));
  EXPECT_TRUE(ctx->embedded());
}

TEST(ContextTest, NoHomeAtAllIsAnError) {
  auto ctx = MakeContext(GlobalOptions{}, FakeEnv({}));
  // getpwuid may still find one; if not, the error names what to set.
  if (!ctx.ok()) {
    EXPECT_NE(ctx.status().message().find("EUCA_HOME"), std::string::npos);
  }
}

struct RunResult {
  int status;
  std::string out, err;
};

RunResult RunEuca(std::string_view argv0, std::vector<std::string> args) {
  std::ostringstream out, err;
  FakeClock clock;
  int status = Run(argv0, args, out, err, FakeEnv({{"EUCA_HOME", "/nonexistent/euca-test-home"}}), PosixEnv(), clock);
  return {status, out.str(), err.str()};
}

TEST(RunTest, UsageErrorsExitWithTheUsageStatus) {
  auto r = RunEuca("euca", {"admin", "inti"});
  EXPECT_EQ(r.status, kUsageExitStatus);
  EXPECT_EQ(r.err, "euca: error: unknown command 'admin inti'; did you mean 'euca admin init'?\n");
  r = RunEuca("euca", {"admin", "create-user"});
  EXPECT_EQ(r.status, kUsageExitStatus);
  EXPECT_EQ(r.err, "euca: error: NAME is required\nRun 'euca admin create-user --help' for usage.\n");
  r = RunEuca("/usr/bin/euca-admin-intt", {});
  EXPECT_EQ(r.status, kUsageExitStatus);
}

TEST(RunTest, StatusIsMappedOnceThroughTheErrorMap) {
  auto r = RunEuca("/usr/bin/euca-admin-describe-users", {});
  EXPECT_EQ(r.status, MapError(Code::kNotFound).exit_status);
  EXPECT_EQ(r.err,
            "euca-admin-describe-users: error: no cloud in '/nonexistent/euca-test-home'; run 'euca admin init' "
            "first\n");
  EXPECT_EQ(r.out, "");
}

TEST(RunTest, ProgramNameDispatchEqualsCommandWords) {
  auto a = RunEuca("euca-admin-history", {"--help"});
  auto b = RunEuca("euca", {"admin", "history", "--help"});
  EXPECT_EQ(a.status, 0);
  EXPECT_EQ(a.out, b.out);
  auto c = RunEuca("euca-describe-properties", {"--help"});
  auto d = RunEuca("euca", {"help", "admin", "describe-properties"});
  EXPECT_EQ(c.out, d.out);
  EXPECT_NE(c.out.find("euca-describe-properties [OPTIONS] [PREFIX...]"), std::string::npos);
}

TEST(RunTest, VersionAndHelp) {
  auto r = RunEuca("euca", {"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, VersionString() + "\n");
  EXPECT_EQ(r.out.rfind("euca ", 0), 0u);
  r = RunEuca("euca", {"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("admin rollback"), std::string::npos);
}

}  // namespace
}  // namespace euca::cmd
