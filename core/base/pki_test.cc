#include "core/base/pki.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

#include "core/base/random.h"

namespace euca {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

class PkiTest : public ::testing::Test {
 protected:
  // RSA key generation is slow; the suite shares three keys.
  static void SetUpTestSuite() {
    for (std::string* k : {&ca_key_, &other_key_, &user_key_}) {
      auto key = GenerateRsaKeyPem(2048);
      ASSERT_TRUE(key.ok()) << key.status().ToString();
      *k = *key;
    }
  }
  static std::string Ca(const std::string& key, const std::string& cn) {
    auto cert = CreateCaCertificatePem(key, {.common_name = cn, .days = 3650, .not_before_ms = kNow});
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    return cert.ok() ? *cert : "";
  }

  static std::string ca_key_, other_key_, user_key_;
};
std::string PkiTest::ca_key_, PkiTest::other_key_, PkiTest::user_key_;

// The DER bytes inside a PEM certificate, decoded independently of pki.cc.
std::string PemToDer(const std::string& pem) {
  std::string b64;
  bool in_body = false;
  size_t pos = 0;
  while (pos < pem.size()) {
    size_t end = pem.find('\n', pos);
    if (end == std::string::npos) end = pem.size();
    std::string line = pem.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("-----BEGIN", 0) == 0) in_body = true;
    else if (line.rfind("-----END", 0) == 0) break;
    else if (in_body) b64 += line;
  }
  std::string out(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0) return "";
  size_t pad = 0;
  while (pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

TEST_F(PkiTest, RefusesKeysSmallerThan2048Bits) {
  auto key = GenerateRsaKeyPem(1024);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), Code::kInvalidArgument);
  EXPECT_NE(key.status().message().find("'1024'"), std::string::npos) << key.status().message();
}

TEST_F(PkiTest, KeyIsPkcs8Pem) {
  EXPECT_EQ(ca_key_.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << ca_key_.substr(0, 40);
  EXPECT_NE(ca_key_.find("-----END PRIVATE KEY-----"), std::string::npos);
  EXPECT_NE(ca_key_, other_key_);
}

TEST_F(PkiTest, PublicKeyPemFromPrivateKey) {
  auto pub = PublicKeyPem(user_key_);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
  EXPECT_EQ(pub->find("PRIVATE"), std::string::npos);
  auto bad = PublicKeyPem("not a key");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message().rfind("read private key: error:", 0), 0u) << bad.status().message();
}

TEST_F(PkiTest, CaCertificateIsSelfSignedCa) {
  std::string ca = Ca(ca_key_, "euca cloud CA");
  auto info = InspectCertificate(ca);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->subject_cn, "euca cloud CA");
  EXPECT_EQ(info->issuer_cn, "euca cloud CA");
  EXPECT_TRUE(info->is_ca);
  EXPECT_EQ(info->key_bits, 2048);
  EXPECT_EQ(info->not_before_ms, kNow);
  EXPECT_EQ(info->not_after_ms, kNow + 3650LL * 86'400'000);
  EXPECT_TRUE(VerifyCertificateSignedBy(ca, ca).ok());
  EXPECT_TRUE(VerifyKeyMatchesCertificate(ca_key_, ca).ok());
  EXPECT_FALSE(VerifyKeyMatchesCertificate(other_key_, ca).ok());
}

TEST_F(PkiTest, IssuedCertificateIsSignedByTheCa) {
  std::string ca = Ca(ca_key_, "euca cloud CA");
  std::string other_ca = Ca(other_key_, "euca cloud CA");  // same name, different key
  auto pub = PublicKeyPem(user_key_);
  ASSERT_TRUE(pub.ok());
  auto cert = IssueCertificatePem(*pub, ca, ca_key_,
                                  {.common_name = "alice@acme", .organization = "acme", .days = 30,
                                   .not_before_ms = kNow});
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  auto info = InspectCertificate(*cert);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->subject_cn, "alice@acme");
  EXPECT_EQ(info->issuer_cn, "euca cloud CA");
  EXPECT_FALSE(info->is_ca);
  EXPECT_EQ(info->not_after_ms - info->not_before_ms, 30LL * 86'400'000);
  EXPECT_TRUE(VerifyCertificateSignedBy(*cert, ca).ok());
  EXPECT_TRUE(VerifyKeyMatchesCertificate(user_key_, *cert).ok());
  Status wrong = VerifyCertificateSignedBy(*cert, other_ca);
  EXPECT_EQ(wrong.code(), Code::kInvalidArgument) << wrong.ToString();
  EXPECT_EQ(VerifyCertificateSignedBy(ca, *cert).code(), Code::kInvalidArgument);
}

TEST_F(PkiTest, IssueAcceptsPrivateKeyAsSubjectAndSerialsDiffer) {
  std::string ca = Ca(ca_key_, "CA");
  auto a = IssueCertificatePem(user_key_, ca, ca_key_, {.common_name = "a", .days = 1});
  auto b = IssueCertificatePem(user_key_, ca, ca_key_, {.common_name = "a", .days = 1});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->find("PRIVATE"), std::string::npos);
  auto ia = InspectCertificate(*a);
  auto ib = InspectCertificate(*b);
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_NE(ia->serial_hex, ib->serial_hex);
  EXPECT_GE(ia->serial_hex.size(), 30u);
  EXPECT_TRUE(VerifyKeyMatchesCertificate(user_key_, *a).ok());
}

TEST_F(PkiTest, IssueRefusesCaKeyThatDoesNotMatchCaCert) {
  std::string ca = Ca(ca_key_, "CA");
  auto cert = IssueCertificatePem(user_key_, ca, other_key_, {.common_name = "x", .days = 1});
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), Code::kInvalidArgument);
  EXPECT_NE(cert.status().message().find("'CA'"), std::string::npos) << cert.status().message();
}

TEST_F(PkiTest, RefusesBadSpec) {
  auto no_cn = CreateCaCertificatePem(ca_key_, {.common_name = "", .days = 1});
  EXPECT_EQ(no_cn.status().code(), Code::kInvalidArgument);
  auto no_days = CreateCaCertificatePem(ca_key_, {.common_name = "CA", .days = 0});
  EXPECT_EQ(no_days.status().code(), Code::kInvalidArgument);
  EXPECT_NE(no_days.status().message().find("'0'"), std::string::npos);
}

TEST_F(PkiTest, FingerprintIsSha1OfDer) {
  std::string ca = Ca(ca_key_, "CA");
  auto fp = CertificateFingerprint(ca);
  ASSERT_TRUE(fp.ok()) << fp.status().ToString();
  std::string der = PemToDer(ca);
  ASSERT_FALSE(der.empty());
  EXPECT_EQ(*fp, Sha1Hex(der));
  EXPECT_EQ(fp->size(), 40u);
  EXPECT_EQ(fp->find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_F(PkiTest, BadCertificateIsInvalidArgumentWithContext) {
  auto fp = CertificateFingerprint("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n");
  ASSERT_FALSE(fp.ok());
  EXPECT_EQ(fp.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(fp.status().message().rfind("read certificate: error:", 0), 0u) << fp.status().message();
  // The error queue was drained: a following good call is not blamed for it.
  EXPECT_TRUE(CertificateFingerprint(Ca(ca_key_, "CA")).ok());
}

TEST_F(PkiTest, RsaEncryptForCertificateDecryptsWithItsKey) {
  std::string ca = Ca(ca_key_, "CA");
  auto cert = IssueCertificatePem(user_key_, ca, ca_key_, {.common_name = "user", .not_before_ms = kNow});
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  std::string secret = "0123456789abcdef0123456789abcdef";
  auto enc = RsaEncryptPkcs1(*cert, secret);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_EQ(enc->size(), 256u);
  auto enc2 = RsaEncryptPkcs1(*cert, secret);
  ASSERT_TRUE(enc2.ok());
  EXPECT_NE(*enc, *enc2) << "PKCS#1 v1.5 padding is random";
  auto dec = RsaDecryptPkcs1(user_key_, *enc);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(*dec, secret);
  // The public key PEM works as well as the certificate.
  auto pub = PublicKeyPem(user_key_);
  ASSERT_TRUE(pub.ok());
  auto enc3 = RsaEncryptPkcs1(*pub, secret);
  ASSERT_TRUE(enc3.ok()) << enc3.status().ToString();
  EXPECT_EQ(*RsaDecryptPkcs1(user_key_, *enc3), secret);
}

TEST_F(PkiTest, RsaDecryptWithWrongKeyFails) {
  auto pub = PublicKeyPem(user_key_);
  ASSERT_TRUE(pub.ok());
  auto enc = RsaEncryptPkcs1(*pub, "0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(enc.ok());
  auto dec = RsaDecryptPkcs1(other_key_, *enc);
  EXPECT_FALSE(dec.ok() && *dec == "0123456789abcdef0123456789abcdef");
  if (!dec.ok()) {
    EXPECT_EQ(dec.status().code(), Code::kInvalidArgument);
  }
  auto short_data = RsaDecryptPkcs1(user_key_, "abc");
  ASSERT_FALSE(short_data.ok());
  EXPECT_NE(short_data.status().message().find("another key"), std::string::npos) << short_data.status().message();
}

TEST_F(PkiTest, RsaEncryptRefusesTooLongPlaintext) {
  auto pub = PublicKeyPem(user_key_);
  ASSERT_TRUE(pub.ok());
  auto enc = RsaEncryptPkcs1(*pub, std::string(246, 'x'));
  ASSERT_FALSE(enc.ok());
  EXPECT_EQ(enc.status().code(), Code::kInvalidArgument);
  EXPECT_NE(enc.status().message().find("'246'"), std::string::npos) << enc.status().message();
  EXPECT_TRUE(RsaEncryptPkcs1(*pub, std::string(245, 'x')).ok());
  EXPECT_FALSE(RsaEncryptPkcs1("not a certificate", "x").ok());
}

TEST_F(PkiTest, RsaSha1SignatureVerifiesAgainstCertificate) {
  std::string ca = Ca(ca_key_, "CA");
  auto cert = IssueCertificatePem(user_key_, ca, ca_key_, {.common_name = "user", .not_before_ms = kNow});
  ASSERT_TRUE(cert.ok());
  auto sig = SignRsaSha1(user_key_, "<machine_configuration/><image/>");
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->size(), 256u);
  EXPECT_EQ(*sig, *SignRsaSha1(user_key_, "<machine_configuration/><image/>"))
      << "PKCS#1 v1.5 signing is deterministic";
  EXPECT_TRUE(VerifyRsaSha1(*cert, "<machine_configuration/><image/>", *sig).ok());
  Status tampered = VerifyRsaSha1(*cert, "<machine_configuration/><image/> ", *sig);
  EXPECT_EQ(tampered.code(), Code::kInvalidArgument);
  EXPECT_FALSE(VerifyRsaSha1(ca, "<machine_configuration/><image/>", *sig).ok()) << "signed by another key";
  EXPECT_FALSE(VerifyRsaSha1(*cert, "<machine_configuration/><image/>", "short").ok());
}

TEST_F(PkiTest, RsaSha256SignatureIsNotASha1Signature) {
  std::string ca = Ca(ca_key_, "CA");
  auto cert = IssueCertificatePem(user_key_, ca, ca_key_, {.common_name = "user", .not_before_ms = kNow});
  ASSERT_TRUE(cert.ok());
  auto sig = SignRsaSha256(user_key_, "GET\n/_euca/image");
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->size(), 256u);
  EXPECT_TRUE(VerifyRsaSha256(*cert, "GET\n/_euca/image", *sig).ok());
  EXPECT_EQ(VerifyRsaSha256(*cert, "GET\n/_euca/imagE", *sig).code(), Code::kInvalidArgument);
  EXPECT_FALSE(VerifyRsaSha1(*cert, "GET\n/_euca/image", *sig).ok()) << "the digest is part of the signature";
  EXPECT_FALSE(VerifyRsaSha256(ca, "GET\n/_euca/image", *sig).ok()) << "signed by another key";
}

}  // namespace
}  // namespace euca
