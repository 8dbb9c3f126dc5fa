#include "cmd/context.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <ostream>

#include <CLI/CLI.hpp>

namespace euca::cmd {
namespace {

// Access key pairs in the order euca2ools 3.4 prefers them; the secret always comes from
// the same pair as the key id.
constexpr std::pair<const char*, const char*> kKeyPairs[] = {
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
    {"AWS_ACCESS_KEY", "AWS_SECRET_KEY"},
    {"EC2_ACCESS_KEY", "EC2_SECRET_KEY"},
};

const std::vector<EnvVarDoc> kEnvironment = {
    {"EUCA_HOME",
     "The cloud home: state database, history, keys, eucarc. Default ~/.euca. "
     "--home overrides it."},
    {"EC2_URL",
     "EC2 endpoint of the cloud controller. Unset: embedded mode, the cloud runs "
     "inside the command on EUCA_HOME. -U/--url overrides it. Admin commands use "
     "EUCA_HOME even when it is set (remote administration comes later)."},
    {"S3_URL",
     "S3 endpoint of Walrus (http://HOST:PORT, optionally with a path such as /services/objectstorage). "
     "Set: upload-bundle, download-bundle and delete-bundle talk to it; unset: they use the object store "
     "of EUCA_HOME. -U/--url overrides it for those commands."},
    {"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, EC2_ACCESS_KEY, EC2_SECRET_KEY",
     "Access key id and secret key of the caller. The first of these pairs that is set wins: "
     "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_ACCESS_KEY/AWS_SECRET_KEY, "
     "EC2_ACCESS_KEY/EC2_SECRET_KEY (as eucarc sets them). When a key is set and EUCA_HOME "
     "holds a cloud, commands act as the key's user: an unknown key, a wrong secret or a "
     "disabled user fails with exit status 7. Without a key, commands act as the local "
     "administrator admin@eucalyptus."},
    {"EC2_CERT, EC2_PRIVATE_KEY", "The user's X.509 certificate and private key (bundling)."},
    {"EUCALYPTUS_CERT", "The cloud's certificate (bundling)."},
    {"EC2_USER_ID", "The user's account number (bundling); hyphens are ignored."},
    {"TMPDIR", "Where euca-bundle-image makes its bundle-XXXXXX folder when -d is not given (default /var/tmp)."},
    {"EUCA_FORCE_PROGRESS", "For tests only: 1 draws progress bars on stderr even when it is not a terminal."},
    {"EUCA_DEFAULT_REGION, AWS_DEFAULT_REGION", "Region when --region is not given."},
};

std::optional<std::string> FirstSet(const GetenvFn& getenv, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (auto v = getenv(name)) return v;
  return std::nullopt;
}

Result<std::string> ResolveHome(const GlobalOptions& globals, const GetenvFn& getenv) {
  std::string home = globals.home;
  if (home.empty()) home = getenv("EUCA_HOME").value_or("");
  if (home.empty()) {
    std::string user_home = getenv("HOME").value_or("");
    if (user_home.empty()) {
      if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) user_home = pw->pw_dir;
    }
    if (user_home.empty()) return InvalidArgument("cannot find the cloud home; set EUCA_HOME or use --home");
    home = user_home + "/.euca";
  }
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(home, ec);
  if (ec) return InvalidArgument("bad home '" + home + "': " + ec.message());
  std::string out = abs.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

void AddGlobalOptions(CLI::App& app, GlobalOptions& globals) {
  const std::string group(kGlobalGroup);
  app.add_option("--output", globals.output, "output format: text (tab-separated records) or json")
      ->type_name("FORMAT")
      // Described as "{text,json}" like CLI::IsMember, so completions offer the choices.
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            if (value == "text" || value == "json") return "";
            return "unknown output format '" + value + "'; use text or json";
          },
          "{text,json}"))
      ->group(group);
  app.add_flag("--debug", globals.debug, "print debugging information to stderr")->group(group);
  app.add_option("-U,--url", globals.url, "EC2 endpoint URL (default: EC2_URL; none: embedded mode)")
      ->type_name("URL")
      ->group(group);
  app.add_option("--region", globals.region, "region name (default: EUCA_DEFAULT_REGION)")
      ->type_name("REGION")
      ->group(group);
  app.add_option("--home", globals.home, "cloud home (default: EUCA_HOME, else ~/.euca)")
      ->type_name("DIR")
      ->group(group);
}

std::optional<std::string> ProcessGetenv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

void Context::Debug(std::string_view message) const {
  if (debug && err != nullptr) *err << "debug: " << message << "\n";
}

Result<Context> MakeContext(const GlobalOptions& globals, const GetenvFn& getenv) {
  Context ctx;
  if (globals.output == "text") {
    ctx.output = OutputFormat::kText;
  } else if (globals.output == "json") {
    ctx.output = OutputFormat::kJson;
  } else {
    return InvalidArgument("unknown output format '" + globals.output + "'; use text or json");
  }
  ctx.debug = globals.debug;
  EUCA_ASSIGN_OR_RETURN(ctx.home, ResolveHome(globals, getenv));
  ctx.ec2_url = !globals.url.empty() ? globals.url : getenv("EC2_URL").value_or("");
  ctx.s3_url = getenv("S3_URL").value_or("");
  ctx.url_option = globals.url;
  ctx.region = !globals.region.empty() ? globals.region
                                       : FirstSet(getenv, {"EUCA_DEFAULT_REGION", "AWS_DEFAULT_REGION"}).value_or("");
  for (const auto& [key_var, secret_var] : kKeyPairs) {
    if (auto key = getenv(key_var)) {
      ctx.access_key_id = *key;
      ctx.secret_key = getenv(secret_var).value_or("");
      break;
    }
  }
  ctx.ec2_cert = getenv("EC2_CERT").value_or("");
  ctx.ec2_private_key = getenv("EC2_PRIVATE_KEY").value_or("");
  ctx.eucalyptus_cert = getenv("EUCALYPTUS_CERT").value_or("");
  ctx.ec2_user_id = getenv("EC2_USER_ID").value_or("");
  ctx.tmpdir = getenv("TMPDIR").value_or("");
  ctx.err_is_tty = getenv("EUCA_FORCE_PROGRESS").value_or("") == "1";
  return ctx;
}

const std::vector<EnvVarDoc>& EnvironmentDocs() { return kEnvironment; }

}  // namespace euca::cmd
