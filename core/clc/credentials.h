#pragma once
// Credential files handed to users: `eucarc` (a shell file that exports the keys and
// endpoints), `iamrc`, the certificates and private key, and the zip that carries them
// (get-credentials). Everything here is pure text or bytes except the two writers, which go
// through Env so that each file appears whole, mode 0600, or not at all.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/env.h"
#include "core/base/status.h"

namespace euca::clc {

/// What a eucarc exports. File names are relative to the eucarc's own folder, which the
/// script finds at run time (EUCA_KEY_DIR), so a credentials folder can be moved whole.
struct EucarcSpec {
  std::string principal = {};      ///< "alice@acme", for the header comment
  std::string euca_home = {};      ///< exported as EUCA_HOME; empty: the eucarc's folder
  std::string file_dir = {};       ///< folder of the files below, relative ("" = beside eucarc)
  std::string access_key = {};
  std::string secret_key = {};
  std::string account_id = {};     ///< EC2_USER_ID and EC2_ACCOUNT_NUMBER
  std::string cert_file = {};      ///< EC2_CERT
  std::string key_file = {};       ///< EC2_PRIVATE_KEY
  std::string cloud_cert_file = {};  ///< EUCALYPTUS_CERT
  std::string ec2_url = {};        ///< exported as EC2_URL when set; else a commented line
  std::string s3_url = {};         ///< exported as S3_URL when set; else a commented line
  int64_t created_ms = 0;          ///< for the header comment
};

/// The text of a eucarc (sourceable by bash, zsh and sh-compatible shells).
std::string RenderEucarc(const EucarcSpec& spec);

/// The access key pair a eucarc exports: the literal values of EC2_ACCESS_KEY and
/// EC2_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), single-quoted as
/// RenderEucarc writes them, double-quoted without expansions, or bare. NotFound when the text
/// exports no complete pair.
Result<std::pair<std::string, std::string>> ParseEucarcKeys(std::string_view text);

/// The text of an iamrc: "AWSAccessKeyId=...\nAWSSecretKey=...\n".
std::string RenderIamrc(const std::string& access_key, const std::string& secret_key);



/// "euca2-<user>-<first 8 hex of the fingerprint>", the stem of a user's credential files.
std::string CredentialStem(const std::string& user_name, const std::string& fingerprint);

/// One file of a credentials bundle.
struct CredentialFile {
  std::string name;         ///< plain file name, no '/'
  std::string data;
  uint32_t mode = 0600;
};

/// A zip archive of `files` in memory (deflate); every entry carries its mode and
/// `mtime_ms`. Internal if libarchive fails.
Result<std::string> BuildZip(const std::vector<CredentialFile>& files, int64_t mtime_ms);

/// Builds the zip and writes it to `path` atomically with mode 0600. On failure nothing
/// appears at `path`.
Status WriteCredentialsZip(Env& env, const std::string& path, const std::vector<CredentialFile>& files,
                           int64_t mtime_ms);

/// Creates `dir` (0700) and writes each file into it atomically with its mode.
Status WriteCredentialsDir(Env& env, const std::string& dir, const std::vector<CredentialFile>& files);

}  // namespace euca::clc
