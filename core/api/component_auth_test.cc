#include "core/api/component_auth.h"

#include <gtest/gtest.h>

#include "core/api/digest.h"
#include "core/api/internal_errors.h"
#include "core/base/pki.h"

namespace euca::api {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

// A cloud's CA with component and user certificates, and a stranger CA with an "euca nc" of
// its own; made once per process.
struct Pki {
  std::string ca_cert;
  ComponentCredentials nc, cc, walrus, user, foreign_nc, ca_itself;

  static const Pki& Get() {
    static const Pki* pki = [] {
      auto* p = new Pki;
      std::string ca_key = *GenerateRsaKeyPem();
      p->ca_cert = *CreateCaCertificatePem(ca_key, {.common_name = "euca cloud CA", .not_before_ms = kNow - 1000});
      auto issue = [&](const std::string& cn, const std::string& ca, const std::string& cak) {
        ComponentCredentials c;
        c.key_pem = *GenerateRsaKeyPem();
        c.cert_pem = *IssueCertificatePem(c.key_pem, ca, cak, {.common_name = cn, .not_before_ms = kNow - 1000});
        return c;
      };
      p->nc = issue("euca nc", p->ca_cert, ca_key);
      p->cc = issue("euca cc", p->ca_cert, ca_key);
      p->walrus = issue("euca walrus", p->ca_cert, ca_key);
      p->user = issue("admin@eucalyptus", p->ca_cert, ca_key);
      std::string other_key = *GenerateRsaKeyPem();
      std::string other_ca = *CreateCaCertificatePem(other_key, {.common_name = "euca cloud CA"});
      p->foreign_nc = issue("euca nc", other_ca, other_key);
      p->ca_itself = {p->ca_cert, ca_key};
      return p;
    }();
    return *pki;
  }
};

SignableRequest Signed(const ComponentCredentials& who, int64_t at, std::string body = {}) {
  SignableRequest r;
  r.method = "GET";
  r.path = "/_euca/image";
  r.query = SplitQuery("manifest=images%2Fdebian.manifest.xml");
  r.headers.Add("Host", "127.0.0.1:8773");
  r.body = std::move(body);
  Status s = SignComponentRequest(who, r.method, r.path, r.query, Sha256Hex(r.body), at, r.headers);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return r;
}

class ComponentAuthTest : public ::testing::Test {
 protected:
  Result<VerifiedComponent> Verify(const SignableRequest& r) {
    ComponentVerifyOptions o;
    o.ca_cert_pem = pki_.ca_cert;
    o.allowed = {Component::kNc, Component::kCc};
    o.clock = &clock_;
    return VerifyComponentRequest(r, o);
  }
  const Pki& pki_ = Pki::Get();
  FakeClock clock_{kNow};
};

TEST_F(ComponentAuthTest, AcceptsAnAllowedComponent) {
  auto v = Verify(Signed(pki_.nc, kNow));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->component, Component::kNc);
  EXPECT_EQ(v->common_name, "euca nc");
  EXPECT_EQ(v->request_time_ms, kNow);
  auto cc = Verify(Signed(pki_.cc, kNow, "{\"a\":1}"));
  ASSERT_TRUE(cc.ok()) << cc.status().ToString();
  EXPECT_EQ(cc->component, Component::kCc);
}

TEST_F(ComponentAuthTest, SkewWithinFifteenMinutesPassesBeyondFails) {
  EXPECT_TRUE(Verify(Signed(pki_.nc, kNow - 14 * 60 * 1000)).ok());
  EXPECT_TRUE(Verify(Signed(pki_.nc, kNow + 14 * 60 * 1000)).ok());
  for (int64_t off : {-16 * 60 * 1000, 16 * 60 * 1000}) {
    Status s = Verify(Signed(pki_.nc, kNow + off)).status();
    EXPECT_EQ(s.code(), Code::kUnauthenticated);
    EXPECT_NE(s.message().find("more than 15 minutes"), std::string::npos) << s.message();
  }
}

TEST_F(ComponentAuthTest, CertificateOfAnotherCloudIsRefused) {
  Status s = Verify(Signed(pki_.foreign_nc, kNow)).status();
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("not issued by this cloud's CA"), std::string::npos) << s.message();
}

TEST_F(ComponentAuthTest, TamperedPathQueryOrBodyFailsTheSignature) {
  auto expect_refused = [&](const SignableRequest& r, const char* what) {
    Status s = Verify(r).status();
    EXPECT_EQ(s.code(), Code::kUnauthenticated) << what;
    EXPECT_NE(s.message().find("signature does not match"), std::string::npos) << what << ": " << s.message();
  };
  SignableRequest r = Signed(pki_.nc, kNow, "body");
  r.path = "/_euca/imagex";
  expect_refused(r, "path");
  r = Signed(pki_.nc, kNow, "body");
  r.query = SplitQuery("manifest=images%2Fother.manifest.xml");
  expect_refused(r, "query");
  r = Signed(pki_.nc, kNow, "body");
  r.body = "Body";
  expect_refused(r, "body");
  r = Signed(pki_.nc, kNow, "body");
  r.method = "DELETE";
  expect_refused(r, "method");
  r = Signed(pki_.nc, kNow, "body");
  r.headers.Set(kEucaDateHeader, FormatIso8601(kNow + 1000));
  expect_refused(r, "date");
  // Someone else's certificate with the nc's signature.
  r = Signed(pki_.nc, kNow, "body");
  r.headers.Set(kEucaCertificateHeader, Base64Encode(pki_.cc.cert_pem));
  expect_refused(r, "certificate swapped");
}

TEST_F(ComponentAuthTest, QueryOrderAndEncodingDoNotMatter) {
  SignableRequest r = Signed(pki_.nc, kNow);
  r.query = SplitQuery("manifest=images/debian.manifest.xml");
  EXPECT_TRUE(Verify(r).ok()) << "the canonical query decodes before encoding";
}

TEST_F(ComponentAuthTest, NonComponentCertificatesAreDenied) {
  Status user = Verify(Signed(pki_.user, kNow)).status();
  EXPECT_EQ(user.code(), Code::kPermissionDenied);
  EXPECT_NE(user.message().find("'admin@eucalyptus' is not a component certificate"), std::string::npos)
      << user.message();
  Status walrus = Verify(Signed(pki_.walrus, kNow)).status();
  EXPECT_EQ(walrus.code(), Code::kPermissionDenied);
  EXPECT_NE(walrus.message().find("component 'walrus' may not call '/_euca/image'"), std::string::npos)
      << walrus.message();
  Status ca = Verify(Signed(pki_.ca_itself, kNow)).status();
  EXPECT_EQ(ca.code(), Code::kPermissionDenied) << ca.ToString();
}

TEST_F(ComponentAuthTest, MissingOrMalformedHeadersAreUnauthenticated) {
  SignableRequest bare;
  bare.method = "GET";
  bare.path = "/_euca/image";
  EXPECT_EQ(Verify(bare).status().code(), Code::kUnauthenticated);
  for (const char* drop : {"Authorization", kEucaDateHeader, kEucaCertificateHeader}) {
    SignableRequest r = Signed(pki_.nc, kNow);
    r.headers.Remove(drop);
    Status s = Verify(r).status();
    EXPECT_EQ(s.code(), Code::kUnauthenticated) << drop;
  }
  SignableRequest r = Signed(pki_.nc, kNow);
  r.headers.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x");
  EXPECT_NE(Verify(r).status().message().find("not of the EUCA-RSA-SHA256 scheme"), std::string::npos);
  r = Signed(pki_.nc, kNow);
  r.headers.Set(kEucaCertificateHeader, Base64Encode("not a certificate"));
  EXPECT_EQ(Verify(r).status().code(), Code::kUnauthenticated);
  r = Signed(pki_.nc, kNow);
  r.headers.Set(kEucaDateHeader, "yesterday");
  EXPECT_NE(Verify(r).status().message().find("'yesterday' is not an ISO 8601 time"), std::string::npos);
}

TEST_F(ComponentAuthTest, ExpiredCertificateIsRefused) {
  clock_.Set(kNow + 400LL * 86400 * 1000);  // past the default 365 days
  Status s = Verify(Signed(pki_.nc, clock_.NowMillis())).status();
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("is not valid now"), std::string::npos) << s.message();
}

TEST(InternalErrorsTest, StatusRoundTripsThroughJson) {
  Status s = NotFound("manifest 'b/k' does not exist");
  std::string json = InternalErrorJson(s);
  EXPECT_EQ(json, R"({"error":{"code":"NotFound","message":"manifest 'b/k' does not exist"}})");
  Status back = StatusFromInternalError(404, json, "GET x");
  EXPECT_EQ(back.code(), Code::kNotFound);
  EXPECT_EQ(back.message(), s.message());
  EXPECT_EQ(StatusFromInternalError(403, "<html>", "GET x").code(), Code::kPermissionDenied);
  EXPECT_EQ(StatusFromInternalError(502, "", "GET x").code(), Code::kUnavailable);
  EXPECT_EQ(StatusFromInternalError(502, "", "GET x").message(), "GET x: HTTP 502");
}

}  // namespace
}  // namespace euca::api
