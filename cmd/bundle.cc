// Image bundles, euca2ools style: euca bundle-image, euca unbundle (docs/bundle-format.md).
// The work is bundles::BundleImage / bundles::Unbundle; this file resolves the
// credentials (flags, then the environment, then the administrator of EUCA_HOME), checks
// the flags, draws the progress bar and prints the result.

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <ostream>

#include <CLI/CLI.hpp>

#include "bundles/bundle.h"
#include "cmd/common.h"
#include "cmd/progress.h"
#include "core/base/pki.h"
#include "core/base/strings.h"

namespace euca::cmd {
namespace {

// euca2ools 3's choices for -r.
const std::vector<std::string> kArchitectures = {"i386", "x86_64", "armhf", "ppc", "ppc64", "ppc64le"};
const std::vector<std::string> kImageTypes = {"machine", "kernel", "ramdisk"};
// The largest part one S3 PUT can carry.
constexpr uint64_t kMaxPartSize = 5ull << 30;

/// A validator that accepts one of `choices`, described as "{a,b}" so that completions
/// offer them (like --output).
CLI::Validator OneOf(std::string what, std::vector<std::string> choices) {
  std::string description = "{";
  std::string listed;
  for (size_t i = 0; i < choices.size(); ++i) {
    description += (i ? "," : "") + choices[i];
    listed += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  }
  description += "}";
  return CLI::Validator(
      [what = std::move(what), choices = std::move(choices), listed](std::string& value) -> std::string {
        if (std::find(choices.begin(), choices.end(), value) != choices.end()) return "";
        return "unknown " + what + " '" + value + "'; use " + listed;
      },
      description);
}

/// --part-size: a whole number of bytes from 1 to 5 GiB.
CLI::Validator PartSizeValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        bool digits =
            !value.empty() && value.size() <= 19 && value.find_first_not_of("0123456789") == std::string::npos;
        uint64_t n = digits ? std::stoull(value) : 0;
        if (!digits || n < 1 || n > kMaxPartSize)
          return "part size '" + value + "' must be a number of bytes from 1 to " + std::to_string(kMaxPartSize);
        return "";
      },
      "");
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool IsVirtualName(const std::string& v) {
  if (v == "ami" || v == "root" || v == "swap") return true;
  constexpr std::string_view kEphemeral = "ephemeral";
  return v.size() > kEphemeral.size() && v.compare(0, kEphemeral.size(), kEphemeral) == 0 &&
         v.find_first_not_of("0123456789", kEphemeral.size()) == std::string::npos;
}

bool IsDeviceName(const std::string& d) {
  std::string_view name = d;
  if (name.substr(0, 5) == "/dev/") name.remove_prefix(5);
  if (name.empty() || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

/// -B values: "ami=sda1,root=/dev/sda1,ephemeral0=sdb", each VIRTUAL=DEVICE.
Result<std::vector<bundles::BlockDeviceMapping>> ParseMappings(const std::vector<std::string>& values) {
  std::vector<bundles::BlockDeviceMapping> out;
  for (const auto& value : values) {
    for (const auto& item : SplitCommas(value)) {
      size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == item.size() || item.find('=', eq + 1) != std::string::npos)
        return InvalidArgument("block device mapping '" + item +
                               "' is not VIRTUAL=DEVICE; use for example -B ami=sda1,root=/dev/sda1");
      bundles::BlockDeviceMapping m{item.substr(0, eq), item.substr(eq + 1)};
      if (!IsVirtualName(m.virtual_name))
        return InvalidArgument("block device mapping '" + item +
                               "': the virtual name must be ami, root, swap or ephemeralN");
      if (!IsDeviceName(m.device))
        return InvalidArgument("block device mapping '" + item +
                               "': the device must be a name such as sda1 or /dev/sda1");
      for (const auto& seen : out)
        if (seen.virtual_name == m.virtual_name)
          return InvalidArgument("block device mapping '" + m.virtual_name + "' is given twice");
      out.push_back(std::move(m));
    }
  }
  return out;
}

/// The file holding a credential and where its name came from, for messages.
struct CredentialFile {
  std::string path;
  std::string source;      ///< "-c", "EC2_CERT", "the cloud administrator in EUCA_HOME", ...
  bool from_flag = false;  ///< given on the command line
};

/// The user's certificate, private key and account number. Each comes from its flag, else
/// its environment variable; when none of the three is given either way and EUCA_HOME holds
/// a cloud, all three are the cloud administrator's (credentials/admin/ and the account
/// "eucalyptus"), never a mix of someone's certificate with the administrator's account.
struct UserCredentials {
  CredentialFile cert;
  CredentialFile key;
  std::string account;
  bool from_home = false;
};

/// The administrator's certificate and key in HOME/credentials/admin: the
/// euca2-admin-<fp8>-cert.pem whose -pk.pem is beside it (the first such pair by name).
Result<std::pair<std::string, std::string>> AdminCredentialFiles(const Context& ctx) {
  const std::string dir = clc::HomePaths(ctx.home).Credentials() + "/admin";
  auto names = ctx.env->ListDir(dir);
  if (!names.ok())
    return NotFound("no administrator credentials in '" + dir + "' (" + names.status().message() +
                    "); give the credentials with flags (see --help)");
  std::vector<std::string> sorted = *names;
  std::sort(sorted.begin(), sorted.end());
  const std::string head = "euca2-admin-", tail = "-cert.pem";
  for (const auto& name : sorted) {
    if (name.size() <= head.size() + tail.size() || name.rfind(head, 0) != 0 ||
        name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
      continue;
    std::string key = name.substr(0, name.size() - tail.size()) + "-pk.pem";
    if (std::find(sorted.begin(), sorted.end(), key) == sorted.end()) continue;
    return std::make_pair(dir + "/" + name, dir + "/" + key);
  }
  return NotFound("no administrator certificate and private key in '" + dir +
                  "'; give the credentials with flags (see --help)");
}

/// Fills what none of the flags and variables gave with the cloud administrator's
/// credentials, if EUCA_HOME holds a cloud. `need_account`: bundle-image needs the
/// administrator's account number too (from the state store).
Status FillFromHome(const Context& ctx, UserCredentials& c, bool need_account) {
  if (!HasCloud(ctx)) return Status::Ok();
  EUCA_ASSIGN_OR_RETURN(auto files, AdminCredentialFiles(ctx));
  c.cert = {files.first, "the cloud administrator in EUCA_HOME"};
  c.key = {files.second, "the cloud administrator in EUCA_HOME"};
  if (need_account) {
    EUCA_ASSIGN_OR_RETURN(Session session, OpenSession(ctx, /*authenticate=*/false));
    EUCA_ASSIGN_OR_RETURN(clc::Principal admin, session.admin->LocalAdmin());
    c.account = admin.account_id;
  }
  c.from_home = true;
  return Status::Ok();
}

CredentialFile Pick(const std::string& flag_value, std::string flag, const std::string& env_value, std::string var) {
  if (!flag_value.empty()) return {flag_value, std::move(flag), true};
  if (!env_value.empty()) return {env_value, std::move(var), false};
  return {};
}

/// Reads a PEM file named by a flag or variable; errors say which credential it is.
Result<std::string> ReadCredential(const Context& ctx, const CredentialFile& f, std::string_view what) {
  ctx.Debug(std::string(what) + " '" + f.path + "' (from " + f.source + ")");
  auto text = ctx.env->ReadFile(f.path);
  if (!text.ok()) return text.status().WithContext(std::string(what) + " (from " + f.source + ")");
  return text;
}

/// The cloud certificate: --ec2cert, else EUCALYPTUS_CERT, else HOME/keys/cloud-cert.pem.
Result<CredentialFile> CloudCertFile(const Context& ctx, const std::string& flag_value) {
  CredentialFile f = Pick(flag_value, "--ec2cert", ctx.eucalyptus_cert, "EUCALYPTUS_CERT");
  if (!f.path.empty()) return f;
  std::string home_cert = clc::HomePaths(ctx.home).CloudCert();
  if (ctx.env->Exists(home_cert)) return CredentialFile{home_cert, "EUCA_HOME"};
  return InvalidArgument("no cloud certificate: give --ec2cert CERT or set EUCALYPTUS_CERT ('" + home_cert +
                         "' does not exist)");
}

/// Removes the folder it holds unless released: the default -d of a bundle that failed.
struct RemoveOnFailure {
  RemoveOnFailure() = default;
  RemoveOnFailure(const RemoveOnFailure&) = delete;
  RemoveOnFailure& operator=(const RemoveOnFailure&) = delete;
  Env* env = nullptr;
  std::string path;
  ~RemoveOnFailure() {
    if (env != nullptr && !path.empty()) (void)env->RemoveAll(path);
  }
};

/// A new bundle-XXXXXX folder in TMPDIR, else /var/tmp (what euca2ools 3 does without -d).
Result<std::string> MakeBundleDir(const Context& ctx) {
  std::string parent = ctx.tmpdir.empty() ? "/var/tmp" : ctx.tmpdir;
  while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  std::string templ = parent + "/bundle-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) return ErrnoStatus("create a bundle folder in '" + parent + "'", errno);
  return templ;
}

struct BundleFlags {
  std::string image;
  std::string destination;
  std::string prefix;
  std::string arch = "x86_64";
  std::string kernel;
  std::string ramdisk;
  std::string image_type;
  std::string cert;
  std::string key;
  std::string user;
  std::string ec2cert;
  std::vector<std::string> mappings;
  std::string product_codes;
  uint64_t part_size = bundles::kDefaultPartSize;
  std::string enc_key;
  std::string enc_iv;
  std::string image_size;
  bool quiet = false;
};

/// --enc-key and --enc-iv: both or neither, 32 hex digits each (euca2ools' form), kept lower-case.
Result<std::optional<bundles::BundleKey>> GivenKey(const BundleFlags& f) {
  if (f.enc_key.empty() && f.enc_iv.empty()) return std::optional<bundles::BundleKey>();
  if (f.enc_key.empty() || f.enc_iv.empty()) return InvalidArgument("give --enc-key and --enc-iv together");
  bundles::BundleKey key{AsciiLower(f.enc_key), AsciiLower(f.enc_iv)};
  for (const auto& [flag, hex] : {std::pair<const char*, const std::string*>{"--enc-key", &key.key_hex},
                                  {"--enc-iv", &key.iv_hex}})
    if (hex->size() != 32 || hex->find_first_not_of("0123456789abcdef") != std::string::npos)
      return InvalidArgument(std::string(flag) + " '" + *hex + "' is not 32 hex digits (128 bits)");
  return std::optional<bundles::BundleKey>(std::move(key));
}

/// --kernel, --ramdisk and --image-type together: the image type, or why they disagree.
Result<std::string> ImageType(const BundleFlags& f) {
  const bool kernel_true = f.kernel == "true", ramdisk_true = f.ramdisk == "true";
  if (kernel_true && ramdisk_true)
    return InvalidArgument("--kernel true and --ramdisk true contradict each other: an image is a kernel or a ramdisk");
  std::string type = f.image_type;
  if (type.empty()) type = kernel_true ? "kernel" : ramdisk_true ? "ramdisk" : "machine";
  if (kernel_true && type != "kernel")
    return InvalidArgument("--kernel true marks a kernel image, but --image-type is '" + type + "'");
  if (ramdisk_true && type != "ramdisk")
    return InvalidArgument("--ramdisk true marks a ramdisk image, but --image-type is '" + type + "'");
  if (!f.kernel.empty() && !kernel_true && f.kernel.rfind("eki-", 0) != 0 && f.kernel.rfind("aki-", 0) != 0)
    return InvalidArgument("kernel '" + f.kernel + "' is not a kernel image id (eki-...) nor 'true'");
  if (!f.ramdisk.empty() && !ramdisk_true && f.ramdisk.rfind("eri-", 0) != 0 && f.ramdisk.rfind("ari-", 0) != 0)
    return InvalidArgument("ramdisk '" + f.ramdisk + "' is not a ramdisk image id (eri-...) nor 'true'");
  if (type != "machine" && ((!f.kernel.empty() && !kernel_true) || (!f.ramdisk.empty() && !ramdisk_true)))
    return InvalidArgument("a " + type +
                           " image cannot name a kernel or ramdisk to boot with; only machine images can");
  return type;
}

Status RunBundleImage(Context& ctx, const BundleFlags& f) {
  if (f.image == "-")
    return InvalidArgument("reading the image from standard input is not supported; give a file with -i");
  if (!f.image_size.empty())
    return InvalidArgument("--image-size is for an image read from standard input (-i -), which is not supported; "
                           "leave it out");
  EUCA_ASSIGN_OR_RETURN(std::optional<bundles::BundleKey> given_key, GivenKey(f));
  EUCA_ASSIGN_OR_RETURN(std::string type, ImageType(f));
  EUCA_ASSIGN_OR_RETURN(auto mappings, ParseMappings(f.mappings));
  if (!ctx.env->Exists(f.image)) return NotFound("image file '" + f.image + "' does not exist");

  UserCredentials creds;
  creds.cert = Pick(f.cert, "-c", ctx.ec2_cert, "EC2_CERT");
  creds.key = Pick(f.key, "-k", ctx.ec2_private_key, "EC2_PRIVATE_KEY");
  creds.account = !f.user.empty() ? f.user : ctx.ec2_user_id;
  if (creds.cert.path.empty() && creds.key.path.empty() && creds.account.empty()) {
    EUCA_RETURN_IF_ERROR(FillFromHome(ctx, creds, /*need_account=*/true));
    if (!creds.from_home)
      return InvalidArgument(
          "no credentials to bundle with: give -c CERT, -k KEY and -u ACCOUNT, or set EC2_CERT, "
          "EC2_PRIVATE_KEY and EC2_USER_ID (source a eucarc), or create a cloud in '" +
          ctx.home + "' with 'euca admin init' to use its administrator's");
  }
  if (creds.cert.path.empty()) return InvalidArgument("no user certificate: give -c CERT or set EC2_CERT");
  if (creds.key.path.empty()) return InvalidArgument("no private key: give -k KEY or set EC2_PRIVATE_KEY");
  if (creds.account.empty()) return InvalidArgument("no account number: give -u ACCOUNT or set EC2_USER_ID");
  EUCA_ASSIGN_OR_RETURN(CredentialFile cloud_cert, CloudCertFile(ctx, f.ec2cert));

  bundles::BundleOptions o;
  o.image_path = f.image;
  o.prefix = f.prefix;
  o.architecture = f.arch;
  o.image_type = type;
  o.kernel_id = f.kernel;
  o.ramdisk_id = f.ramdisk;
  o.block_device_mappings = std::move(mappings);
  if (!f.product_codes.empty()) o.product_codes = SplitCommas(f.product_codes);
  o.account_id = creds.account;
  o.part_size = f.part_size;
  o.key = std::move(given_key);
  EUCA_ASSIGN_OR_RETURN(o.user_cert_pem, ReadCredential(ctx, creds.cert, "user certificate"));
  EUCA_ASSIGN_OR_RETURN(o.user_private_key_pem, ReadCredential(ctx, creds.key, "private key"));
  EUCA_ASSIGN_OR_RETURN(o.cloud_cert_pem, ReadCredential(ctx, cloud_cert, "cloud certificate"));
  ctx.Debug("account '" + creds.account + "'");

  RemoveOnFailure made_dir;
  o.destination_dir = f.destination;
  if (o.destination_dir.empty()) {
    EUCA_ASSIGN_OR_RETURN(o.destination_dir, MakeBundleDir(ctx));
    made_dir.env = ctx.env;
    made_dir.path = o.destination_dir;
  }
  ctx.Debug("bundling '" + f.image + "' into '" + o.destination_dir + "'");

  ProgressBar bar(*ctx.err, *ctx.clock, ctx.err_is_tty && !f.quiet);
  auto result = bundles::BundleImage(o, &bar);
  bar.Finish();
  if (!result.ok()) return result.status();
  made_dir.path.clear();  // keep it: it holds the bundle

  for (const auto& part : result->part_paths) ctx.Debug("part " + part);
  if (ctx.output == OutputFormat::kJson) {
    Json parts = Json::array();
    for (const auto& p : result->manifest.parts) parts.push_back(p.filename);
    PrintRecords(ctx, {{"MANIFEST",
                        {{"manifest", result->manifest_path},
                         {"directory", o.destination_dir},
                         {"prefix", result->manifest.name},
                         {"image", f.image},
                         {"architecture", result->manifest.architecture},
                         {"type", result->manifest.type},
                         {"account", result->manifest.user},
                         {"size", result->manifest.size},
                         {"bundled_size", result->manifest.bundled_size},
                         {"parts", parts}}}});
  } else {
    *ctx.out << "Wrote manifest " << result->manifest_path << "\n";
  }
  return Status::Ok();
}

struct UnbundleFlags {
  std::string manifest;
  std::string source;
  std::string destination = ".";
  std::string key;
  std::string cert;
  bool quiet = false;
};

Status RunUnbundle(Context& ctx, const UnbundleFlags& f) {
  if (!ctx.env->Exists(f.manifest)) return NotFound("manifest '" + f.manifest + "' does not exist");

  UserCredentials creds;
  creds.key = Pick(f.key, "-k", ctx.ec2_private_key, "EC2_PRIVATE_KEY");
  creds.cert = Pick(f.cert, "-c", ctx.ec2_cert, "EC2_CERT");
  if (creds.key.path.empty() && creds.cert.path.empty()) {
    EUCA_RETURN_IF_ERROR(FillFromHome(ctx, creds, /*need_account=*/false));
    if (!creds.from_home)
      return InvalidArgument(
          "no private key to unbundle with: give -k KEY or set EC2_PRIVATE_KEY (source a eucarc), or "
          "create a cloud in '" +
          ctx.home + "' with 'euca admin init' to use its administrator's");
  }
  if (creds.key.path.empty()) return InvalidArgument("no private key: give -k KEY or set EC2_PRIVATE_KEY");

  bundles::UnbundleOptions o;
  o.manifest_path = f.manifest;
  o.source_dir = f.source;
  o.destination_dir = f.destination;
  EUCA_ASSIGN_OR_RETURN(o.private_key_pem, ReadCredential(ctx, creds.key, "private key"));
  if (!creds.cert.path.empty()) {
    EUCA_ASSIGN_OR_RETURN(std::string cert, ReadCredential(ctx, creds.cert, "certificate"));
    // A certificate given with -c is always checked against; a default one only when it
    // belongs to the private key (a bundle unpacked with the cloud's key, or with another
    // user's key, was not signed by the default user).
    if (creds.cert.from_flag || VerifyKeyMatchesCertificate(o.private_key_pem, cert).ok()) {
      o.cert_pem = std::move(cert);
      ctx.Debug("checking the manifest signature against '" + creds.cert.path + "'");
    } else {
      ctx.Debug("not checking the manifest signature: '" + creds.cert.path + "' is not the private key's");
    }
  }

  ProgressBar bar(*ctx.err, *ctx.clock, ctx.err_is_tty && !f.quiet);
  auto result = bundles::Unbundle(o, &bar);
  bar.Finish();
  if (!result.ok()) return result.status();

  if (ctx.output == OutputFormat::kJson) {
    PrintRecords(ctx, {{"IMAGE",
                        {{"image", result->image_path},
                         {"manifest", f.manifest},
                         {"name", result->manifest.name},
                         {"size", result->size}}}});
  } else {
    *ctx.out << "Wrote " << result->image_path << "\n";
  }
  return Status::Ok();
}

}  // namespace

Handler SetupBundleImage(CLI::App& app) {
  auto f = std::make_shared<BundleFlags>();
  app.add_option("-i,--image", f->image, "the image file to bundle")->required()->type_name("FILE");
  app.add_option("-d,--destination", f->destination,
                 "existing folder to write the parts and manifest into (default: a new bundle-XXXXXX folder in "
                 "TMPDIR, else /var/tmp)")
      ->type_name("DIR");
  app.add_option("-p,--prefix", f->prefix, "name of the bundle's files (default: the image's file name)")
      ->type_name("PREFIX");
  app.add_option("-r,--arch", f->arch, "the image's architecture (default: x86_64)")
      ->type_name("ARCH")
      ->check(OneOf("architecture", kArchitectures));
  app.add_option("--kernel", f->kernel, "kernel to boot the image with (eki-...), or 'true' if the image is a kernel")
      ->type_name("EKI");
  app.add_option("--ramdisk", f->ramdisk,
                 "ramdisk to boot the image with (eri-...), or 'true' if the image is a ramdisk")
      ->type_name("ERI");
  app.add_option("--image-type", f->image_type,
                 "what the image is (default: machine, or as --kernel/--ramdisk true say)")
      ->type_name("TYPE")
      ->check(OneOf("image type", kImageTypes));
  app.add_option("-c,--cert", f->cert, "the user's X.509 certificate (default: EC2_CERT)")->type_name("FILE");
  app.add_option("-k,--privatekey", f->key, "the user's private key, signs the manifest (default: EC2_PRIVATE_KEY)")
      ->type_name("FILE");
  app.add_option("-u,--user", f->user, "the user's account number, hyphens allowed (default: EC2_USER_ID)")
      ->type_name("ACCOUNT");
  app.add_option("--ec2cert", f->ec2cert,
                 "the cloud's certificate (default: EUCALYPTUS_CERT, else EUCA_HOME/keys/cloud-cert.pem)")
      ->type_name("FILE");
  app.add_option("-B,--block-device-mappings", f->mappings,
                 "block device mappings of a machine image, VIRTUAL=DEVICE,... (e.g. ami=sda1,root=/dev/sda1)")
      ->type_name("MAPPING")
      ->expected(1);
  app.add_option("--productcodes", f->product_codes, "product codes, comma-separated")->type_name("CODES");
  app.add_option("--part-size", f->part_size, "bytes per part (default: 10485760)")
      ->type_name("BYTES")
      ->check(PartSizeValidator());
  app.add_option("--enc-key", f->enc_key, "AES key to encrypt with, 32 hex digits (default: a random one)")
      ->type_name("HEX");
  app.add_option("--enc-iv", f->enc_iv, "AES IV to encrypt with, 32 hex digits (default: a random one)")
      ->type_name("HEX");
  app.add_option("--image-size", f->image_size, "not supported (for -i -, standard input)")->type_name("BYTES");
  app.add_flag("--quiet", f->quiet, "draw no progress bar");
  return [f](Context& ctx) { return RunBundleImage(ctx, *f); };
}

Handler SetupUnbundle(CLI::App& app) {
  auto f = std::make_shared<UnbundleFlags>();
  app.add_option("-m,--manifest", f->manifest, "the bundle's manifest")->required()->type_name("FILE");
  app.add_option("-s,--source", f->source, "folder of the parts (default: the manifest's folder)")->type_name("DIR");
  app.add_option("-d,--destination", f->destination, "existing folder to write the image into (default: .)")
      ->type_name("DIR");
  app.add_option("-k,--privatekey", f->key,
                 "the private key of the user (or of the cloud) the bundle was made for (default: EC2_PRIVATE_KEY)")
      ->type_name("FILE");
  app.add_option("-c,--cert", f->cert,
                 "check the manifest's signature against this certificate (default: EC2_CERT, when it is the "
                 "private key's)")
      ->type_name("FILE");
  app.add_flag("--quiet", f->quiet, "draw no progress bar");
  return [f](Context& ctx) { return RunUnbundle(ctx, *f); };
}

}  // namespace euca::cmd
