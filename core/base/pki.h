#pragma once
// Public-key helpers on OpenSSL 3 (EVP only): RSA keys, a cloud CA, certificates it issues,
// fingerprints, RSA PKCS#1 v1.5 encryption and RSA-SHA1 signatures (image bundles). Keys and
// certificates cross this interface as PEM text so that callers never hold OpenSSL objects.
// OpenSSL errors are translated here, once, with context. Thread-safe (no shared state).

#include <cstdint>
#include <string>

#include "core/base/status.h"

namespace euca {

/// The smallest RSA key size any key here may have.
inline constexpr int kMinRsaBits = 2048;

/// A new RSA private key of `bits` (>= kMinRsaBits, else InvalidArgument) as PKCS#8 PEM
/// ("-----BEGIN PRIVATE KEY-----"), unencrypted.
Result<std::string> GenerateRsaKeyPem(int bits = kMinRsaBits);

/// The public key (SubjectPublicKeyInfo PEM, "-----BEGIN PUBLIC KEY-----") of a private key
/// PEM. InvalidArgument if `private_key_pem` is not a private key.
Result<std::string> PublicKeyPem(const std::string& private_key_pem);

/// The DER bytes of a private key in PKCS#8 (PrivateKeyInfo): what EC2 hashes (SHA-1) for the
/// fingerprint of a key pair it created. InvalidArgument if not a private key.
Result<std::string> PrivateKeyPkcs8Der(const std::string& private_key_pem);

/// The same RSA private key as PKCS#1 PEM ("-----BEGIN RSA PRIVATE KEY-----"), the form EC2's
/// CreateKeyPair returns and every ssh reads. InvalidArgument if not an RSA private key.
Result<std::string> RsaPrivateKeyPkcs1Pem(const std::string& private_key_pem);

/// The OpenSSH public key blob (RFC 4253 §6.6: string "ssh-rsa", mpint e, mpint n) of an RSA
/// private key: raw bytes, to be base64-encoded after "ssh-rsa ".
Result<std::string> SshRsaPublicBlob(const std::string& private_key_pem);

/// What a certificate says about its subject and validity.
struct CertSpec {
  std::string common_name = {};   ///< subject CN; required
  std::string organization = {};  ///< subject O; omitted when empty
  int days = 365;                 ///< validity, >= 1
  int64_t not_before_ms = 0;      ///< start of validity (ms since epoch, from a Clock); 0 = now
};

/// A self-signed CA certificate (PEM) for `ca_key_pem`: SHA-256, random serial,
/// basicConstraints critical CA:TRUE, keyUsage critical keyCertSign and cRLSign, and a
/// subject key identifier.
Result<std::string> CreateCaCertificatePem(const std::string& ca_key_pem, const CertSpec& spec);

/// A certificate (PEM) for the key `subject_key_pem` (public or private key PEM) issued and
/// signed by the CA (`ca_cert_pem`, `ca_key_pem`): SHA-256, random positive 159-bit serial,
/// basicConstraints CA:FALSE, keyUsage digitalSignature, keyEncipherment, dataEncipherment.
/// InvalidArgument if the CA key does not match the CA certificate.
Result<std::string> IssueCertificatePem(const std::string& subject_key_pem, const std::string& ca_cert_pem,
                                        const std::string& ca_key_pem, const CertSpec& spec);

/// SHA-1 of the certificate's DER encoding, 40 lower-case hex digits.
Result<std::string> CertificateFingerprint(const std::string& cert_pem);

/// Decoded fields of a certificate, for display and tests.
struct CertificateInfo {
  std::string subject_cn;
  std::string issuer_cn;
  std::string serial_hex;     ///< lower-case hex, no leading zeros
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  bool is_ca = false;         ///< basicConstraints CA:TRUE
  int key_bits = 0;           ///< size of the subject's public key
};
Result<CertificateInfo> InspectCertificate(const std::string& cert_pem);

/// OK if `cert_pem` carries a valid signature by the key of `ca_cert_pem` and names it as
/// issuer; InvalidArgument otherwise. Checks the signature only, not validity dates.
Status VerifyCertificateSignedBy(const std::string& cert_pem, const std::string& ca_cert_pem);

/// OK if `private_key_pem` is the private half of the certificate's public key;
/// InvalidArgument otherwise.
Status VerifyKeyMatchesCertificate(const std::string& private_key_pem, const std::string& cert_pem);

// RSA primitives for image bundles (PKCS#1 v1.5, as euca2ools and EC2 use them).

/// `plaintext` encrypted with RSA PKCS#1 v1.5 padding for the RSA public key of `cert_pem`
/// (an X.509 certificate PEM; a "BEGIN PUBLIC KEY" PEM is accepted too). The result is
/// binary, as long as the key's modulus. InvalidArgument if the certificate is unreadable,
/// its key is not RSA, or `plaintext` is longer than the key size minus 11 bytes.
Result<std::string> RsaEncryptPkcs1(const std::string& cert_pem, const std::string& plaintext);

/// The plaintext of an RSA PKCS#1 v1.5 `ciphertext`, decrypted with `private_key_pem`.
/// InvalidArgument if the key is unreadable or is not the key the data was encrypted for
/// (wrong length or bad padding).
Result<std::string> RsaDecryptPkcs1(const std::string& private_key_pem, const std::string& ciphertext);

/// RSA-SHA1 (PKCS#1 v1.5, "SHA1withRSA") signature of `data` with `private_key_pem`,
/// binary. Same bytes as `openssl dgst -sha1 -sign KEY`.
Result<std::string> SignRsaSha1(const std::string& private_key_pem, const std::string& data);

/// OK if `signature` (binary) is an RSA-SHA1 signature of `data` by the key of `cert_pem`
/// (certificate or public key PEM); InvalidArgument otherwise.
Status VerifyRsaSha1(const std::string& cert_pem, const std::string& data, const std::string& signature);

/// RSA-SHA256 (PKCS#1 v1.5, "SHA256withRSA") signature of `data` with `private_key_pem`,
/// binary. Same bytes as `openssl dgst -sha256 -sign KEY`. Signs internal API requests.
Result<std::string> SignRsaSha256(const std::string& private_key_pem, const std::string& data);

/// OK if `signature` (binary) is an RSA-SHA256 signature of `data` by the key of `cert_pem`
/// (certificate or public key PEM); InvalidArgument otherwise.
Status VerifyRsaSha256(const std::string& cert_pem, const std::string& data, const std::string& signature);

}  // namespace euca
