#include "core/clc/key_pairs.h"

#include <algorithm>

#include "core/api/digest.h"
#include "core/base/pki.h"
#include "core/base/random.h"

namespace euca::clc {
namespace {

constexpr char kKind[] = "key-pairs";

Status KeyError(Code code, std::string message, std::string wire) {
  return Status(code, std::move(message), std::move(wire));
}

Status FormatError(std::string message) {
  return KeyError(Code::kInvalidArgument, std::move(message), "InvalidKeyPair.Format");
}

Status NotFoundError(const std::string& name) {
  return KeyError(Code::kNotFound, "the key pair '" + name + "' does not exist", "InvalidKeyPair.NotFound");
}

Status CheckName(const std::string& name) {
  if (name.empty() || name.size() > 255 ||
      std::any_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x20 || c >= 0x7f; }))
    return KeyError(Code::kInvalidArgument,
                    "invalid key pair name '" + name + "': use 1 to 255 printable ASCII characters",
                    "InvalidParameterValue");
  return Status::Ok();
}

state::TxnContext Txn(const model::Principal& caller, std::string action, const std::string& request_id) {
  return state::TxnContext{caller.ToString(), std::move(action), request_id};
}

// Reads a big-endian uint32-prefixed string of an SSH blob.
bool ReadSshString(std::string_view& in, std::string_view* out) {
  if (in.size() < 4) return false;
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len = (len << 8) | static_cast<unsigned char>(in[i]);
  if (len > in.size() - 4) return false;
  *out = in.substr(4, len);
  in.remove_prefix(4 + len);
  return true;
}

bool Matches(const api::Ec2Filter& f, const model::KeyPair& k, Status* error) {
  if (f.name == "key-name") return api::FilterMatches(f, k.name);
  if (f.name == "fingerprint") return api::FilterMatches(f, k.fingerprint);
  if (f.name == "key-pair-id") return api::FilterMatches(f, k.id);
  *error = KeyError(Code::kInvalidArgument, "the filter '" + f.name + "' is invalid for DescribeKeyPairs",
                    "InvalidParameterValue");
  return false;
}

void AddKeyIdentity(pugi::xml_node node, const model::KeyPair& k) {
  api::AddText(node, "keyName", k.name);
  api::AddText(node, "keyFingerprint", k.fingerprint);
  api::AddText(node, "keyPairId", k.id);
}

}  // namespace

std::string ColonHex(std::string_view bytes) {
  std::string hex = api::Hex(bytes);
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

Result<SshPublicKey> ParseSshPublicKey(std::string_view line) {
  std::string_view s = api::TrimSpace(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  if (s.find('\n') != std::string_view::npos)
    return FormatError("the public key must be one OpenSSH line (\"ssh-rsa AAAA... comment\")");
  auto space = s.find(' ');
  if (space == std::string_view::npos)
    return FormatError("the public key is not in OpenSSH format (\"ssh-rsa AAAA... comment\")");
  SshPublicKey key;
  key.type = std::string(s.substr(0, space));
  std::string_view rest = api::TrimSpace(s.substr(space + 1));
  auto end = rest.find(' ');
  std::string_view b64 = rest.substr(0, end);
  if (end != std::string_view::npos) key.comment = std::string(api::TrimSpace(rest.substr(end + 1)));
  static const char* const kTypes[] = {"ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                       "ecdsa-sha2-nistp521"};
  if (std::find(std::begin(kTypes), std::end(kTypes), key.type) == std::end(kTypes))
    return FormatError("unsupported public key type '" + key.type + "': use ssh-rsa, ssh-ed25519 or ecdsa-sha2-*");
  auto blob = api::Base64Decode(b64);
  if (!blob.ok()) return FormatError("the public key's base64 text does not decode");
  key.blob = *blob;
  std::string_view in = key.blob;
  std::string_view type;
  if (!ReadSshString(in, &type) || type != key.type)
    return FormatError("the public key blob does not name its type '" + key.type + "'");
  if (key.type == "ssh-rsa") {
    std::string_view e, n;
    if (!ReadSshString(in, &e) || !ReadSshString(in, &n) || !in.empty() || e.empty() || n.empty())
      return FormatError("the RSA public key blob is malformed");
    while (!n.empty() && n[0] == '\0') n.remove_prefix(1);
    size_t bits = n.size() * 8;
    if (bits < 1024 || bits > 16384)
      return FormatError("the RSA key has " + std::to_string(bits) + " bits; use 1024 to 16384");
  } else if (key.type == "ssh-ed25519") {
    std::string_view pk;
    if (!ReadSshString(in, &pk) || pk.size() != 32 || !in.empty())
      return FormatError("the Ed25519 public key blob is malformed");
  } else {
    std::string_view curve, point;
    if (!ReadSshString(in, &curve) || !ReadSshString(in, &point) || !in.empty() || point.empty())
      return FormatError("the ECDSA public key blob is malformed");
  }
  return key;
}

Result<model::KeyPair> KeyPairs::Store(const model::Principal& caller, model::KeyPair key, const std::string& action,
                                       const std::string& request_id) {
  auto txn = store_.Transact(Txn(caller, action + " " + key.name, request_id), [&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto existing, t.GetByName(kKind, key.account_id, key.name));
    if (existing)
      return KeyError(Code::kAlreadyExists, "the key pair '" + key.name + "' already exists",
                      "InvalidKeyPair.Duplicate");
    for (;;) {
      key.id = "key-" + RandomHex(16);
      EUCA_ASSIGN_OR_RETURN(auto taken, t.Get(kKind, key.id));
      if (!taken) break;
    }
    return t.Put(state::Object{.kind = kKind,
                               .id = key.id,
                               .parent = key.account_id,
                               .name = key.name,
                               .body = model::ToJson(key),
                               .secret = std::nullopt});
  });
  if (!txn.ok()) return txn.status();
  return key;
}

Result<KeyPairs::Created> KeyPairs::Create(const model::Principal& caller, const std::string& name,
                                           const std::string& request_id) {
  EUCA_RETURN_IF_ERROR(CheckName(name));
  // Refuse a duplicate before spending time on a key (Store checks again, atomically).
  auto found = Find(caller.account_id, name);
  if (found.ok())
    return KeyError(Code::kAlreadyExists, "the key pair '" + name + "' already exists", "InvalidKeyPair.Duplicate");
  if (found.status().code() != Code::kNotFound) return found.status();
  EUCA_ASSIGN_OR_RETURN(std::string pkcs8, GenerateRsaKeyPem(2048));
  EUCA_ASSIGN_OR_RETURN(std::string der, PrivateKeyPkcs8Der(pkcs8));
  EUCA_ASSIGN_OR_RETURN(std::string pkcs1, RsaPrivateKeyPkcs1Pem(pkcs8));
  EUCA_ASSIGN_OR_RETURN(std::string blob, SshRsaPublicBlob(pkcs8));
  model::KeyPair key;
  key.account_id = caller.account_id;
  key.name = name;
  key.fingerprint = ColonHex(api::Sha1(der));
  key.public_key = "ssh-rsa " + api::Base64Encode(blob) + " " + caller.user_name + "@eucalyptus";
  key.created_ms = clock_.NowMillis();
  EUCA_ASSIGN_OR_RETURN(key, Store(caller, std::move(key), "CreateKeyPair", request_id));
  return Created{std::move(key), std::move(pkcs1)};
}

Result<model::KeyPair> KeyPairs::Import(const model::Principal& caller, const std::string& name,
                                        const std::string& public_key, const std::string& request_id) {
  EUCA_RETURN_IF_ERROR(CheckName(name));
  EUCA_ASSIGN_OR_RETURN(SshPublicKey parsed, ParseSshPublicKey(public_key));
  model::KeyPair key;
  key.account_id = caller.account_id;
  key.name = name;
  key.fingerprint = ColonHex(api::Md5(parsed.blob));
  key.public_key =
      parsed.type + " " + api::Base64Encode(parsed.blob) + (parsed.comment.empty() ? "" : " " + parsed.comment);
  key.created_ms = clock_.NowMillis();
  return Store(caller, std::move(key), "ImportKeyPair", request_id);
}

Result<std::vector<model::KeyPair>> KeyPairs::Describe(const model::Principal& caller,
                                                       const std::vector<std::string>& names,
                                                       const std::vector<api::Ec2Filter>& filters, bool all_accounts) {
  // Filter names are checked up front: a bad one is an error even when nothing is selected.
  for (const auto& f : filters) {
    Status error;
    Matches(f, model::KeyPair{}, &error);
    if (!error.ok()) return error;
  }
  std::vector<model::KeyPair> keys;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    std::optional<std::string> parent;
    if (!all_accounts) parent = caller.account_id;
    EUCA_ASSIGN_OR_RETURN(auto objects, t.List(kKind, parent));
    for (const auto& o : objects) keys.push_back(model::KeyPairFromJson(o.body));
    return Status::Ok();
  }));
  std::sort(keys.begin(), keys.end(), [](const model::KeyPair& a, const model::KeyPair& b) {
    return std::tie(a.name, a.account_id) < std::tie(b.name, b.account_id);
  });
  for (const auto& n : names)
    if (std::none_of(keys.begin(), keys.end(), [&](const model::KeyPair& k) { return k.name == n; }))
      return NotFoundError(n);
  std::vector<model::KeyPair> out;
  for (auto& k : keys) {
    if (!names.empty() && std::find(names.begin(), names.end(), k.name) == names.end()) continue;
    bool keep = true;
    for (const auto& f : filters) {
      Status error;
      keep = Matches(f, k, &error);
      if (!error.ok()) return error;
      if (!keep) break;
    }
    if (keep) out.push_back(std::move(k));
  }
  return out;
}

Status KeyPairs::Delete(const model::Principal& caller, const std::string& name, const std::string& request_id) {
  EUCA_RETURN_IF_ERROR(CheckName(name));
  return store_
      .Transact(Txn(caller, "DeleteKeyPair " + name, request_id),
                [&](state::Txn& t) -> Status {
                  EUCA_ASSIGN_OR_RETURN(auto existing, t.GetByName(kKind, caller.account_id, name));
                  if (!existing) return Status::Ok();
                  return t.Delete(kKind, existing->id);
                })
      .status();
}

Result<model::KeyPair> KeyPairs::Find(const std::string& account_id, const std::string& name) {
  std::optional<model::KeyPair> found;
  EUCA_RETURN_IF_ERROR(store_.Read([&](state::Txn& t) -> Status {
    EUCA_ASSIGN_OR_RETURN(auto o, t.GetByName(kKind, account_id, name));
    if (o) found = model::KeyPairFromJson(o->body);
    return Status::Ok();
  }));
  if (!found) return NotFoundError(name);
  return *found;
}

void AddKeyPairActions(Ec2Actions& actions, KeyPairs& key_pairs) {
  KeyPairs* kp = &key_pairs;
  actions.Add("CreateKeyPair",
              [kp](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(std::string name, req.Required("KeyName"));
                EUCA_ASSIGN_OR_RETURN(KeyPairs::Created created, kp->Create(caller, name, req.request_id()));
                api::AddText(response, "keyName", created.key.name);
                api::AddText(response, "keyFingerprint", created.key.fingerprint);
                api::AddText(response, "keyMaterial", created.private_key_pem);
                api::AddText(response, "keyPairId", created.key.id);
                return Status::Ok();
              });
  actions.Add("ImportKeyPair",
              [kp](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                EUCA_ASSIGN_OR_RETURN(std::string name, req.Required("KeyName"));
                EUCA_ASSIGN_OR_RETURN(std::string material, req.Required("PublicKeyMaterial"));
                // The material is base64 of the OpenSSH line (AWS CLI, boto, euca2ools); accept the
                // line itself too.
                std::string text = material;
                if (material.rfind("ssh-", 0) != 0 && material.rfind("ecdsa-", 0) != 0) {
                  auto decoded = api::Base64Decode(material);
                  if (!decoded.ok())
                    return FormatError("PublicKeyMaterial is neither base64 nor an OpenSSH public key");
                  text = *decoded;
                }
                EUCA_ASSIGN_OR_RETURN(model::KeyPair key, kp->Import(caller, name, text, req.request_id()));
                AddKeyIdentity(response, key);
                return Status::Ok();
              });
  actions.Add("DescribeKeyPairs",
              [kp](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
                std::vector<std::string> names = req.List("KeyName");
                bool verbose = false;
                if (caller.IsCloudAdmin()) {
                  auto it = std::find(names.begin(), names.end(), "verbose");
                  if (it != names.end()) {
                    verbose = true;
                    names.erase(it);
                  }
                }
                EUCA_ASSIGN_OR_RETURN(auto filters, req.Filters());
                std::vector<std::string> ids = req.List("KeyPairId");
                if (!ids.empty()) filters.push_back({"key-pair-id", ids});
                EUCA_ASSIGN_OR_RETURN(auto keys, kp->Describe(caller, names, filters, verbose));
                auto set = response.append_child("keySet");
                for (const auto& k : keys) AddKeyIdentity(api::AddItem(set), k);
                return Status::Ok();
              });
  actions.Add(
      "DeleteKeyPair",
      [kp](const model::Principal& caller, const api::Ec2Request& req, pugi::xml_node response) -> Status {
        // By name, or (AWS CLI --key-pair-id) by id within the caller's account.
        std::string name = req.GetOr("KeyName");
        if (name.empty() && req.Has("KeyPairId")) {
          EUCA_ASSIGN_OR_RETURN(auto found, kp->Describe(caller, {}, {{"key-pair-id", {req.GetOr("KeyPairId")}}}));
          if (found.empty()) {
            api::AddBool(response, "return", true);
            return Status::Ok();
          }
          name = found[0].name;
        }
        if (name.empty()) return req.Required("KeyName").status();
        EUCA_RETURN_IF_ERROR(kp->Delete(caller, name, req.request_id()));
        api::AddBool(response, "return", true);
        return Status::Ok();
      });
}

}  // namespace euca::clc
