#include "core/clc/credentials.h"

#include "core/base/strings.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>

#include "core/base/clock.h"

namespace euca::clc {
namespace {

// Characters that need no quoting inside "..." in a shell and are safe in file names.
bool IsPlainPath(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '/' || c == '@' || c == '+' || c == '=' || c == ',' ||
           c == '-';
  });
}

// A shell word for "<key dir>/<dir>/<name>", resolved when the eucarc is sourced.
std::string KeyDirPath(const std::string& dir, const std::string& name) {
  std::string rel = dir.empty() ? name : dir + "/" + name;
  if (IsPlainPath(rel)) return "\"${EUCA_KEY_DIR}/" + rel + "\"";
  return "\"${EUCA_KEY_DIR}\"/" + ShellQuote(rel);
}

struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ArchiveEntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t AppendToString(struct archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

Status ArchiveError(struct archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return Internal(what + ": " + (msg ? msg : "unknown libarchive error"));
}

}  // namespace

std::string RenderEucarc(const EucarcSpec& spec) {
  std::string out;
  out += "# eucarc: credentials of " + spec.principal + " for euca";
  if (spec.created_ms) out += ", written " + FormatIso8601(spec.created_ms);
  out += ".\n";
  out += "# Load them into a shell with:  . /path/to/eucarc\n";
  out += "# Secret keys below: keep this file private (mode 0600).\n\n";
  // The folder of this file, wherever it was moved to (bash: BASH_SOURCE; zsh: $0).
  out += "EUCA_KEY_DIR=$(dirname \"$(readlink -f \"${BASH_SOURCE:-$0}\")\")\n";
  if (spec.euca_home.empty()) out += "export EUCA_HOME=\"${EUCA_KEY_DIR}\"\n";
  else out += "export EUCA_HOME=" + ShellQuote(spec.euca_home) + "\n";
  out += "\n";
  if (spec.ec2_url.empty() || spec.s3_url.empty()) {
    out += "# No EC2_URL means embedded mode: commands run the cloud in-process from EUCA_HOME.\n";
    out += "# To talk to 'euca serve' services instead, set the properties services.ec2-url and\n";
    out += "# services.s3-url and fetch new credentials, or uncomment and edit:\n";
  }
  if (spec.ec2_url.empty()) out += "# export EC2_URL=http://clc.example.com:8773/\n";
  else out += "export EC2_URL=" + ShellQuote(spec.ec2_url) + "\n";
  if (spec.s3_url.empty()) out += "# export S3_URL=http://walrus.example.com:8780/\n";
  else out += "export S3_URL=" + ShellQuote(spec.s3_url) + "\n";
  out += "\n";
  out += "export EC2_ACCESS_KEY=" + ShellQuote(spec.access_key) + "\n";
  out += "export EC2_SECRET_KEY=" + ShellQuote(spec.secret_key) + "\n";
  out += "export AWS_ACCESS_KEY_ID=\"${EC2_ACCESS_KEY}\"\n";
  out += "export AWS_SECRET_ACCESS_KEY=\"${EC2_SECRET_KEY}\"\n";
  out += "export AWS_ACCESS_KEY=\"${EC2_ACCESS_KEY}\"\n";
  out += "export AWS_SECRET_KEY=\"${EC2_SECRET_KEY}\"\n";
  out += "export EC2_USER_ID=" + ShellQuote(spec.account_id) + "\n";
  out += "export EC2_ACCOUNT_NUMBER=" + ShellQuote(spec.account_id) + "\n";
  out += "export EC2_CERT=" + KeyDirPath(spec.file_dir, spec.cert_file) + "\n";
  out += "export EC2_PRIVATE_KEY=" + KeyDirPath(spec.file_dir, spec.key_file) + "\n";
  out += "export EUCALYPTUS_CERT=" + KeyDirPath(spec.file_dir, spec.cloud_cert_file) + "\n";
  return out;
}

namespace {

// The value of a shell assignment's right-hand side when it is a literal: 'single quoted'
// (with '\'' for a quote), "double quoted" without $, ` or \, or bare word characters.
std::optional<std::string> ShellLiteral(std::string_view v) {
  std::string out;
  size_t i = 0;
  while (i < v.size()) {
    char c = v[i];
    if (c == '\'') {
      size_t end = v.find('\'', i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      out.append(v.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (c == '"') {
      size_t end = v.find('"', i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      std::string_view inner = v.substr(i + 1, end - i - 1);
      if (inner.find_first_of("$`\\") != std::string_view::npos) return std::nullopt;
      out.append(inner);
      i = end + 1;
    } else if (c == '\\' && i + 1 < v.size()) {
      out.push_back(v[i + 1]);
      i += 2;
    } else if (c == ' ' || c == '\t' || c == '#' || c == ';') {
      break;
    } else if (c == '$' || c == '`') {
      return std::nullopt;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

}  // namespace

Result<std::pair<std::string, std::string>> ParseEucarcKeys(std::string_view text) {
  std::map<std::string, std::string, std::less<>> vars;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.substr(0, 7) == "export ") line.remove_prefix(7);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string_view name = line.substr(0, eq);
    if (name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") != std::string_view::npos) continue;
    if (auto value = ShellLiteral(line.substr(eq + 1))) vars[std::string(name)] = *value;
  }
  for (const auto& [key, secret] : {std::pair<const char*, const char*>{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
                                    {"EC2_ACCESS_KEY", "EC2_SECRET_KEY"}}) {
    auto k = vars.find(key);
    auto s = vars.find(secret);
    if (k != vars.end() && s != vars.end() && !k->second.empty() && !s->second.empty())
      return std::make_pair(k->second, s->second);
  }
  return NotFound("the eucarc exports no access key and secret key");
}

std::string RenderIamrc(const std::string& access_key, const std::string& secret_key) {
  return "AWSAccessKeyId=" + access_key + "\nAWSSecretKey=" + secret_key + "\n";
}

std::string CredentialStem(const std::string& user_name, const std::string& fingerprint) {
  return "euca2-" + user_name + "-" + fingerprint.substr(0, 8);
}

Result<std::string> BuildZip(const std::vector<CredentialFile>& files, int64_t mtime_ms) {
  std::string out;
  std::unique_ptr<struct archive, ArchiveWriteFree> a(archive_write_new());
  if (!a) return Internal("create zip writer: out of memory");
  if (archive_write_set_format_zip(a.get()) != ARCHIVE_OK) return ArchiveError(a.get(), "set zip format");
  if (archive_write_zip_set_compression_deflate(a.get()) != ARCHIVE_OK)
    return ArchiveError(a.get(), "set zip compression");
  // Unblocked output: the zip ends where its central directory ends.
  archive_write_set_bytes_per_block(a.get(), 0);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open2(a.get(), &out, nullptr, &AppendToString, nullptr, nullptr) != ARCHIVE_OK)
    return ArchiveError(a.get(), "open zip writer");
  for (const auto& f : files) {
    std::unique_ptr<archive_entry, ArchiveEntryFree> e(archive_entry_new());
    if (!e) return Internal("create zip entry '" + f.name + "': out of memory");
    archive_entry_set_pathname(e.get(), f.name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), static_cast<__LA_MODE_T>(f.mode & 07777));
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(f.data.size()));
    archive_entry_set_mtime(e.get(), static_cast<time_t>(mtime_ms / 1000), 0);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK)
      return ArchiveError(a.get(), "write zip entry '" + f.name + "'");
    if (!f.data.empty() &&
        archive_write_data(a.get(), f.data.data(), f.data.size()) != static_cast<la_ssize_t>(f.data.size()))
      return ArchiveError(a.get(), "write zip entry '" + f.name + "'");
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return ArchiveError(a.get(), "finish zip");
  return out;
}

Status WriteCredentialsZip(Env& env, const std::string& path, const std::vector<CredentialFile>& files,
                           int64_t mtime_ms) {
  EUCA_ASSIGN_OR_RETURN(std::string zip, BuildZip(files, mtime_ms));
  return env.WriteFileAtomic(path, zip, 0600);
}

Status WriteCredentialsDir(Env& env, const std::string& dir, const std::vector<CredentialFile>& files) {
  EUCA_RETURN_IF_ERROR(env.CreateDirs(dir, 0700));
  for (const auto& f : files) EUCA_RETURN_IF_ERROR(env.WriteFileAtomic(JoinPath(dir, f.name), f.data, f.mode));
  return Status::Ok();
}

}  // namespace euca::clc
