#include "core/base/pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>

#include "core/base/random.h"

namespace euca {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct X509ExtFree {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct OpenSslStrFree {
  void operator()(char* s) const { OPENSSL_free(s); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, X509ExtFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

// The one place OpenSSL's error queue becomes a Status: "<what>: <first queued error>".
// Drains the queue so that a later call does not report a stale error.
Status SslError(Code code, const std::string& what) {
  unsigned long first = ERR_get_error();
  ERR_clear_error();
  if (first == 0) return Status(code, what + ": unknown OpenSSL error");
  char buf[256];
  ERR_error_string_n(first, buf, sizeof buf);
  return Status(code, what + ": " + buf);
}

BioPtr MemBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

Result<std::string> BioText(BIO* bio, const std::string& what) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || (len > 0 && data == nullptr)) return SslError(Code::kInternal, what);
  return std::string(data, static_cast<size_t>(len));
}

Result<PkeyPtr> LoadPrivateKey(const std::string& pem, const std::string& what) {
  BioPtr bio = MemBio(pem);
  if (!bio) return SslError(Code::kInternal, what);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return SslError(Code::kInvalidArgument, what);
  return key;
}

// A public key PEM, or else the public half of a private key PEM.
Result<PkeyPtr> LoadAnyKey(const std::string& pem, const std::string& what) {
  if (pem.find("-----BEGIN PUBLIC KEY-----") != std::string::npos) {
    BioPtr bio = MemBio(pem);
    if (!bio) return SslError(Code::kInternal, what);
    PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!key) return SslError(Code::kInvalidArgument, what);
    return key;
  }
  return LoadPrivateKey(pem, what);
}

Result<X509Ptr> LoadCert(const std::string& pem, const std::string& what) {
  BioPtr bio = MemBio(pem);
  if (!bio) return SslError(Code::kInternal, what);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return SslError(Code::kInvalidArgument, what);
  return cert;
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return SslError(Code::kInternal, "write certificate PEM");
  return BioText(bio.get(), "write certificate PEM");
}

Status CheckSpec(const CertSpec& spec) {
  if (spec.common_name.empty()) return InvalidArgument("a certificate needs a common name (CN)");
  if (spec.days < 1) return InvalidArgument("certificate validity '" + std::to_string(spec.days) +
                                            "' days is too short; it must be at least 1 day");
  return Status::Ok();
}

Status AddNameEntry(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1)
    return SslError(Code::kInvalidArgument, std::string("set certificate ") + field + " '" + value + "'");
  return Status::Ok();
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return SslError(Code::kInternal, std::string("add certificate extension '") + OBJ_nid2sn(nid) + "'");
  return Status::Ok();
}

// A positive serial of 159 random bits (RFC 5280 allows at most 20 octets).
Status SetRandomSerial(X509* cert) {
  std::string bytes = RandomBytes(20);
  bytes[0] = static_cast<char>(static_cast<unsigned char>(bytes[0]) & 0x7f);
  BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr));
  if (!bn) return SslError(Code::kInternal, "make certificate serial");
  if (BN_is_zero(bn.get())) BN_one(bn.get());
  if (!BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert))) return SslError(Code::kInternal, "set certificate serial");
  return Status::Ok();
}

// Builds a certificate for `subject_key` named by `spec`, issued by `issuer_name` (nullptr:
// self-issued), with the basic fields set; extensions and the signature are the caller's.
Result<X509Ptr> NewCert(EVP_PKEY* subject_key, const X509_NAME* issuer_name, const CertSpec& spec) {
  X509Ptr cert(X509_new());
  if (!cert) return SslError(Code::kInternal, "allocate certificate");
  if (X509_set_version(cert.get(), 2) != 1) return SslError(Code::kInternal, "set certificate version");
  EUCA_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  time_t start = spec.not_before_ms != 0 ? static_cast<time_t>(spec.not_before_ms / 1000) : std::time(nullptr);
  if (!X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &start) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.days, 0, &start))
    return SslError(Code::kInvalidArgument, "set certificate validity of " + std::to_string(spec.days) + " days");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (!spec.organization.empty()) EUCA_RETURN_IF_ERROR(AddNameEntry(subject, "O", spec.organization));
  EUCA_RETURN_IF_ERROR(AddNameEntry(subject, "CN", spec.common_name));
  if (X509_set_issuer_name(cert.get(), issuer_name ? issuer_name : subject) != 1)
    return SslError(Code::kInternal, "set certificate issuer");
  if (X509_set_pubkey(cert.get(), subject_key) != 1) return SslError(Code::kInternal, "set certificate public key");
  return cert;
}

std::string NameCn(const X509_NAME* name) {
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

Result<int64_t> AsnTimeMillis(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return SslError(Code::kInvalidArgument, "read certificate time");
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// The public key of a certificate PEM, or of a "BEGIN PUBLIC KEY" PEM.
Result<PkeyPtr> LoadPublicKeyOfCert(const std::string& pem, const std::string& what) {
  if (pem.find("-----BEGIN PUBLIC KEY-----") != std::string::npos) return LoadAnyKey(pem, what);
  EUCA_ASSIGN_OR_RETURN(X509Ptr cert, LoadCert(pem, what));
  PkeyPtr key(X509_get_pubkey(cert.get()));
  if (!key) return SslError(Code::kInvalidArgument, what);
  return key;
}

Status RequireRsa(EVP_PKEY* key, const std::string& what) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
    return InvalidArgument(what + ": the key is not an RSA key");
  return Status::Ok();
}

}  // namespace

Result<std::string> GenerateRsaKeyPem(int bits) {
  if (bits < kMinRsaBits)
    return InvalidArgument("RSA key size '" + std::to_string(bits) + "' is too small; use at least " +
                           std::to_string(kMinRsaBits) + " bits");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1)
    return SslError(Code::kInternal, "prepare RSA key generation");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) return SslError(Code::kInternal, "generate RSA key");
  PkeyPtr key(raw);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return SslError(Code::kInternal, "write private key PEM");
  return BioText(bio.get(), "write private key PEM");
}

Result<std::string> PublicKeyPem(const std::string& private_key_pem) {
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem, "read private key"));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) return SslError(Code::kInternal, "write public key PEM");
  return BioText(bio.get(), "write public key PEM");
}

Result<std::string> PrivateKeyPkcs8Der(const std::string& private_key_pem) {
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem, "read private key"));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || i2d_PKCS8PrivateKey_bio(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return SslError(Code::kInternal, "write private key DER");
  return BioText(bio.get(), "write private key DER");
}

Result<std::string> RsaPrivateKeyPkcs1Pem(const std::string& private_key_pem) {
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem, "read private key"));
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return InvalidArgument("the private key is not an RSA key");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return SslError(Code::kInternal, "write RSA private key PEM");
  return BioText(bio.get(), "write RSA private key PEM");
}

Result<std::string> SshRsaPublicBlob(const std::string& private_key_pem) {
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem, "read private key"));
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return InvalidArgument("the private key is not an RSA key");
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(key.get(), "n", &n) != 1 || EVP_PKEY_get_bn_param(key.get(), "e", &e) != 1) {
    BN_free(n);
    BN_free(e);
    return SslError(Code::kInternal, "read RSA public key");
  }
  auto put_string = [](std::string& out, const std::string& bytes) {
    uint32_t len = static_cast<uint32_t>(bytes.size());
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((len >> shift) & 0xff));
    out += bytes;
  };
  // An mpint: big-endian magnitude, with a leading zero byte when the top bit is set.
  auto mpint = [](const BIGNUM* bn) {
    std::string bytes(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    if (!bytes.empty() && (static_cast<unsigned char>(bytes[0]) & 0x80)) bytes.insert(bytes.begin(), '\0');
    return bytes;
  };
  std::string blob;
  put_string(blob, "ssh-rsa");
  put_string(blob, mpint(e));
  put_string(blob, mpint(n));
  BN_free(n);
  BN_free(e);
  return blob;
}

Result<std::string> CreateCaCertificatePem(const std::string& ca_key_pem, const CertSpec& spec) {
  EUCA_RETURN_IF_ERROR(CheckSpec(spec));
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(ca_key_pem, "read CA private key"));
  EUCA_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(key.get(), nullptr, spec));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  EUCA_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  EUCA_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  EUCA_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return SslError(Code::kInternal, "sign CA certificate");
  return CertToPem(cert.get());
}

Result<std::string> IssueCertificatePem(const std::string& subject_key_pem, const std::string& ca_cert_pem,
                                        const std::string& ca_key_pem, const CertSpec& spec) {
  EUCA_RETURN_IF_ERROR(CheckSpec(spec));
  EUCA_ASSIGN_OR_RETURN(PkeyPtr subject_key, LoadAnyKey(subject_key_pem, "read subject key"));
  EUCA_ASSIGN_OR_RETURN(X509Ptr ca_cert, LoadCert(ca_cert_pem, "read CA certificate"));
  EUCA_ASSIGN_OR_RETURN(PkeyPtr ca_key, LoadPrivateKey(ca_key_pem, "read CA private key"));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("the CA private key does not belong to CA certificate '" +
                           NameCn(X509_get_subject_name(ca_cert.get())) + "'");
  }
  EUCA_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(subject_key.get(), X509_get_subject_name(ca_cert.get()), spec));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert.get(), cert.get(), nullptr, nullptr, 0);
  EUCA_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  EUCA_RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment,dataEncipherment"));
  EUCA_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  EUCA_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) return SslError(Code::kInternal, "sign certificate");
  return CertToPem(cert.get());
}

Result<std::string> CertificateFingerprint(const std::string& cert_pem) {
  EUCA_ASSIGN_OR_RETURN(X509Ptr cert, LoadCert(cert_pem, "read certificate"));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha1(), md, &len) != 1) return SslError(Code::kInternal, "digest certificate");
  return HexEncode(std::string(reinterpret_cast<char*>(md), len));
}

Result<CertificateInfo> InspectCertificate(const std::string& cert_pem) {
  EUCA_ASSIGN_OR_RETURN(X509Ptr cert, LoadCert(cert_pem, "read certificate"));
  CertificateInfo info;
  info.subject_cn = NameCn(X509_get_subject_name(cert.get()));
  info.issuer_cn = NameCn(X509_get_issuer_name(cert.get()));
  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (!serial) return SslError(Code::kInvalidArgument, "read certificate serial");
  std::unique_ptr<char, OpenSslStrFree> hex(BN_bn2hex(serial.get()));
  if (!hex) return SslError(Code::kInternal, "format certificate serial");
  info.serial_hex = hex.get();
  std::transform(info.serial_hex.begin(), info.serial_hex.end(), info.serial_hex.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  info.serial_hex.erase(0, std::min(info.serial_hex.find_first_not_of('0'), info.serial_hex.size() - 1));
  EUCA_ASSIGN_OR_RETURN(info.not_before_ms, AsnTimeMillis(X509_get0_notBefore(cert.get())));
  EUCA_ASSIGN_OR_RETURN(info.not_after_ms, AsnTimeMillis(X509_get0_notAfter(cert.get())));
  info.is_ca = (X509_get_extension_flags(cert.get()) & EXFLAG_CA) != 0;
  if (EVP_PKEY* pub = X509_get0_pubkey(cert.get())) info.key_bits = EVP_PKEY_get_bits(pub);
  ERR_clear_error();
  return info;
}

Status VerifyCertificateSignedBy(const std::string& cert_pem, const std::string& ca_cert_pem) {
  EUCA_ASSIGN_OR_RETURN(X509Ptr cert, LoadCert(cert_pem, "read certificate"));
  EUCA_ASSIGN_OR_RETURN(X509Ptr ca, LoadCert(ca_cert_pem, "read CA certificate"));
  EVP_PKEY* ca_pub = X509_get0_pubkey(ca.get());
  bool signed_by = ca_pub != nullptr && X509_verify(cert.get(), ca_pub) == 1;
  bool names_issuer = X509_check_issued(ca.get(), cert.get()) == X509_V_OK;
  ERR_clear_error();
  if (!signed_by || !names_issuer)
    return InvalidArgument("certificate '" + NameCn(X509_get_subject_name(cert.get())) + "' was not issued by '" +
                           NameCn(X509_get_subject_name(ca.get())) + "'");
  return Status::Ok();
}

Status VerifyKeyMatchesCertificate(const std::string& private_key_pem, const std::string& cert_pem) {
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem, "read private key"));
  EUCA_ASSIGN_OR_RETURN(X509Ptr cert, LoadCert(cert_pem, "read certificate"));
  bool match = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!match)
    return InvalidArgument("the private key does not belong to certificate '" +
                           NameCn(X509_get_subject_name(cert.get())) + "'");
  return Status::Ok();
}

Result<std::string> RsaEncryptPkcs1(const std::string& cert_pem, const std::string& plaintext) {
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPublicKeyOfCert(cert_pem, "read certificate"));
  EUCA_RETURN_IF_ERROR(RequireRsa(key.get(), "RSA encrypt"));
  size_t max = static_cast<size_t>(EVP_PKEY_get_size(key.get()));
  if (max < 11 || plaintext.size() > max - 11)
    return InvalidArgument("RSA encrypt: '" + std::to_string(plaintext.size()) +
                           "' bytes is too long for a " + std::to_string(EVP_PKEY_get_bits(key.get())) + "-bit key");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
    return SslError(Code::kInternal, "prepare RSA encryption");
  size_t len = max;
  std::string out(len, '\0');
  if (EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                       reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size()) != 1)
    return SslError(Code::kInvalidArgument, "RSA encrypt");
  out.resize(len);
  return out;
}

Result<std::string> RsaDecryptPkcs1(const std::string& private_key_pem, const std::string& ciphertext) {
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem, "read private key"));
  EUCA_RETURN_IF_ERROR(RequireRsa(key.get(), "RSA decrypt"));
  size_t size = static_cast<size_t>(EVP_PKEY_get_size(key.get()));
  if (ciphertext.size() != size)
    return InvalidArgument("RSA decrypt: the data is " + std::to_string(ciphertext.size()) +
                           " bytes but the private key is " + std::to_string(size) +
                           " bytes long; it was encrypted for another key");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
    return SslError(Code::kInternal, "prepare RSA decryption");
  size_t len = size;
  std::string out(len, '\0');
  if (EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                       reinterpret_cast<const unsigned char*>(ciphertext.data()), ciphertext.size()) != 1)
    return SslError(Code::kInvalidArgument, "RSA decrypt (is it the right private key?)");
  out.resize(len);
  return out;
}

namespace {

// RSA PKCS#1 v1.5 signature of `data` with digest `md`; `name` ("RSA-SHA1") names it in errors.
Result<std::string> SignRsa(const EVP_MD* md_type, const char* name, const std::string& private_key_pem,
                            const std::string& data) {
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem, "read private key"));
  EUCA_RETURN_IF_ERROR(RequireRsa(key.get(), std::string(name) + " sign"));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, md_type, nullptr, key.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    return SslError(Code::kInternal, std::string(name) + " sign");
  std::string out(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    return SslError(Code::kInternal, std::string(name) + " sign");
  out.resize(len);
  return out;
}

Status VerifyRsa(const EVP_MD* md_type, const char* name, const std::string& cert_pem, const std::string& data,
                 const std::string& signature) {
  EUCA_ASSIGN_OR_RETURN(PkeyPtr key, LoadPublicKeyOfCert(cert_pem, "read certificate"));
  EUCA_RETURN_IF_ERROR(RequireRsa(key.get(), std::string(name) + " verify"));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, md_type, nullptr, key.get()) != 1)
    return SslError(Code::kInternal, std::string("prepare ") + name + " verification");
  int rc = EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size());
  ERR_clear_error();
  if (rc != 1) return InvalidArgument(std::string("the ") + name + " signature does not match the data and key");
  return Status::Ok();
}

}  // namespace

Result<std::string> SignRsaSha1(const std::string& private_key_pem, const std::string& data) {
  return SignRsa(EVP_sha1(), "RSA-SHA1", private_key_pem, data);
}

Status VerifyRsaSha1(const std::string& cert_pem, const std::string& data, const std::string& signature) {
  return VerifyRsa(EVP_sha1(), "RSA-SHA1", cert_pem, data, signature);
}

Result<std::string> SignRsaSha256(const std::string& private_key_pem, const std::string& data) {
  return SignRsa(EVP_sha256(), "RSA-SHA256", private_key_pem, data);
}

Status VerifyRsaSha256(const std::string& cert_pem, const std::string& data, const std::string& signature) {
  return VerifyRsa(EVP_sha256(), "RSA-SHA256", cert_pem, data, signature);
}

}  // namespace euca
