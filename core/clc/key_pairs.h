#pragma once
// Key pairs of the cloud controller (EC2 CreateKeyPair, ImportKeyPair, DescribeKeyPairs,
// DeleteKeyPair). A key pair belongs to an account (kind "key-pairs", parent = account id,
// name unique in the account); the caller sees its own account's only. Created keys are
// RSA-2048 whose private key is returned once and never stored; the public key is kept as
// OpenSSH text for the node controllers. Fingerprints are EC2's: SHA-1 of the PKCS#8 DER
// private key for created keys, MD5 of the public key blob for imported ones, colon hex.
// Every change is one StateStore transaction. Thread-safe (the store is).

#include <optional>
#include <string>
#include <vector>

#include "core/api/ec2_query.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/clc/ec2_actions.h"
#include "core/model/account.h"
#include "core/model/compute.h"
#include "state/store.h"

namespace euca::clc {

/// A parsed OpenSSH public key line ("ssh-rsa AAAA... comment").
struct SshPublicKey {
  std::string type;  ///< "ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", ...
  std::string blob;  ///< the decoded key blob
  std::string comment;
};

/// Parses and checks an OpenSSH public key line: a known type, base64 that decodes to a blob
/// naming the same type, an RSA modulus of 1024 to 16384 bits, an Ed25519 key of 32 bytes.
/// InvalidArgument (wire code InvalidKeyPair.Format) naming what is wrong.
Result<SshPublicKey> ParseSshPublicKey(std::string_view line);

/// "aa:bb:..." of raw bytes.
std::string ColonHex(std::string_view bytes);

class KeyPairs final {
 public:
  /// REQUIRES: `store` and `clock` outlive this object.
  KeyPairs(state::StateStore& store, Clock& clock) : store_(store), clock_(clock) {}

  struct Created {
    model::KeyPair key;
    std::string private_key_pem;  ///< PKCS#1 PEM, returned once
  };

  /// InvalidKeyPair.Duplicate when the account has a key of that name; InvalidParameterValue
  /// for a name outside 1..255 printable ASCII characters.
  Result<Created> Create(const model::Principal& caller, const std::string& name, const std::string& request_id = {});
  /// `public_key` is OpenSSH text (see ParseSshPublicKey).
  Result<model::KeyPair> Import(const model::Principal& caller, const std::string& name, const std::string& public_key,
                                const std::string& request_id = {});
  /// The caller's keys (every account's with `all_accounts`), by name; `names` non-empty:
  /// exactly those, InvalidKeyPair.NotFound for the first missing one. Filters key-name,
  /// fingerprint, key-pair-id.
  Result<std::vector<model::KeyPair>> Describe(const model::Principal& caller, const std::vector<std::string>& names,
                                               const std::vector<api::Ec2Filter>& filters, bool all_accounts = false);
  /// Deletes the key of that name; a missing key is not an error (EC2).
  Status Delete(const model::Principal& caller, const std::string& name, const std::string& request_id = {});
  /// The key `name` of `account_id`; InvalidKeyPair.NotFound when there is none (RunInstances).
  Result<model::KeyPair> Find(const std::string& account_id, const std::string& name);

 private:
  Result<model::KeyPair> Store(const model::Principal& caller, model::KeyPair key, const std::string& action,
                               const std::string& request_id);

  state::StateStore& store_;
  Clock& clock_;
};

/// Registers CreateKeyPair, ImportKeyPair, DescribeKeyPairs and DeleteKeyPair. A cloud
/// administrator who names the key "verbose" in DescribeKeyPairs sees every account's keys.
/// REQUIRES: `key_pairs` outlives `actions`.
void AddKeyPairActions(Ec2Actions& actions, KeyPairs& key_pairs);

}  // namespace euca::clc
