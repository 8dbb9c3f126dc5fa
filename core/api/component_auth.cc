#include "core/api/component_auth.h"

#include <cstdlib>

#include "core/api/digest.h"
#include "core/api/sigv4.h"
#include "core/base/pki.h"

namespace euca::api {
namespace {

constexpr Component kAllComponents[] = {Component::kClc, Component::kCc, Component::kNc, Component::kWalrus};
constexpr std::string_view kSignaturePrefix = "Signature=";

Status Refuse(const std::string& message) { return Unauthenticated("component authentication failed: " + message); }

bool IsHexDigest(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string_view ComponentName(Component c) {
  switch (c) {
    case Component::kClc:
      return "clc";
    case Component::kCc:
      return "cc";
    case Component::kNc:
      return "nc";
    case Component::kWalrus:
      return "walrus";
  }
  return "";
}

std::string_view ComponentCommonName(Component c) {
  switch (c) {
    case Component::kClc:
      return "euca cloud";
    case Component::kCc:
      return "euca cc";
    case Component::kNc:
      return "euca nc";
    case Component::kWalrus:
      return "euca walrus";
  }
  return "";
}

std::string ComponentStringToSign(std::string_view method, std::string_view raw_path, const QueryParams& query,
                                  std::string_view date, std::string_view body_sha256_hex) {
  std::string out = kComponentAuthScheme;
  out += "\n";
  out += method;
  out += "\n";
  out += CanonicalUri(raw_path, Dialect::kS3);
  out += "\n";
  out += CanonicalQueryString(query);
  out += "\n";
  out += date;
  out += "\n";
  out += body_sha256_hex;
  return out;
}

Status SignComponentRequest(const ComponentCredentials& credentials, std::string_view method, std::string_view raw_path,
                            const QueryParams& query, std::string_view body_sha256_hex, int64_t now_ms,
                            Headers& headers) {
  const std::string date = FormatIso8601(now_ms);
  auto sig = SignRsaSha256(credentials.key_pem, ComponentStringToSign(method, raw_path, query, date, body_sha256_hex));
  if (!sig.ok()) return sig.status().WithContext("sign an internal request with the component key");
  headers.Set(kEucaDateHeader, date);
  headers.Set(kEucaCertificateHeader, Base64Encode(credentials.cert_pem));
  headers.Set("Authorization",
              std::string(kComponentAuthScheme) + " " + std::string(kSignaturePrefix) + Base64Encode(*sig));
  return Status::Ok();
}

Result<VerifiedComponent> VerifyComponentRequest(const SignableRequest& req, const ComponentVerifyOptions& options) {
  if (options.ca_cert_pem.empty()) return Internal("component authentication needs the cloud CA certificate");
  Clock& clock = options.clock != nullptr ? *options.clock : RealClock();

  // The headers.
  const std::string auth_header = req.headers.Get("Authorization");
  std::string_view auth = TrimSpace(auth_header);
  const std::string scheme = std::string(kComponentAuthScheme) + " ";
  if (auth.empty()) return Refuse("the request carries no Authorization header");
  if (auth.substr(0, scheme.size()) != scheme)
    return Refuse("the Authorization header is not of the " + std::string(kComponentAuthScheme) + " scheme");
  std::string_view sig_text = TrimSpace(auth.substr(scheme.size()));
  if (sig_text.substr(0, kSignaturePrefix.size()) != kSignaturePrefix)
    return Refuse("the Authorization header has no Signature=");
  auto signature = Base64Decode(sig_text.substr(kSignaturePrefix.size()));
  if (!signature.ok()) return Refuse("the signature is not base64");
  const std::string date = std::string(TrimSpace(req.headers.Get(kEucaDateHeader)));
  if (date.empty()) return Refuse("the request carries no " + std::string(kEucaDateHeader) + " header");
  auto when = ParseIso8601(date);
  if (!when.ok()) return Refuse(std::string(kEucaDateHeader) + " '" + date + "' is not an ISO 8601 time");
  const std::string cert_b64 = std::string(TrimSpace(req.headers.Get(kEucaCertificateHeader)));
  if (cert_b64.empty()) return Refuse("the request carries no " + std::string(kEucaCertificateHeader) + " header");
  if (cert_b64.size() > kMaxComponentCertificateBytes)
    return Refuse(std::string(kEucaCertificateHeader) + " is larger than " +
                  std::to_string(kMaxComponentCertificateBytes) + " bytes");
  auto cert = Base64Decode(cert_b64);
  if (!cert.ok()) return Refuse(std::string(kEucaCertificateHeader) + " is not base64");

  // The certificate: issued by the cloud CA, in its validity, an end entity.
  auto info = InspectCertificate(*cert);
  if (!info.ok()) return Refuse("the certificate cannot be read: " + info.status().message());
  if (!VerifyCertificateSignedBy(*cert, options.ca_cert_pem).ok())
    return Refuse("certificate '" + info->subject_cn + "' was not issued by this cloud's CA");
  const int64_t now = clock.NowMillis();
  if (now < info->not_before_ms || now > info->not_after_ms)
    return Refuse("certificate '" + info->subject_cn + "' is not valid now (valid from " +
                  FormatIso8601(info->not_before_ms) + " to " + FormatIso8601(info->not_after_ms) + ")");

  // The signature, then the time (a stale but genuine request says so rather than "bad signature").
  std::string body_hash = !req.payload_sha256.empty() ? req.payload_sha256 : Sha256Hex(req.body);
  if (!IsHexDigest(body_hash)) return Internal("payload hash '" + body_hash + "' is not 64 lower-case hex digits");
  std::string to_sign = ComponentStringToSign(req.method, req.path, req.query, date, body_hash);
  if (!VerifyRsaSha256(*cert, to_sign, *signature).ok())
    return Refuse("the signature does not match the request and the key of certificate '" + info->subject_cn + "'");
  if (std::llabs(now - *when) > options.max_skew_ms)
    return Refuse(std::string(kEucaDateHeader) + " '" + date + "' is more than " +
                  std::to_string(options.max_skew_ms / 60000) + " minutes from the server's time " +
                  FormatIso8601(now) + "; check the clocks");

  // Who it is, and whether it may come here.
  if (info->is_ca) return PermissionDenied("certificate '" + info->subject_cn + "' is a CA, not a component");
  for (Component c : kAllComponents) {
    if (info->subject_cn != ComponentCommonName(c)) continue;
    for (Component a : options.allowed)
      if (a == c) return VerifiedComponent{c, info->subject_cn, *when};
    return PermissionDenied("component '" + std::string(ComponentName(c)) + "' may not call '" + req.path + "'");
  }
  return PermissionDenied("certificate '" + info->subject_cn + "' is not a component certificate; '" + req.path +
                          "' is for the cloud's components only");
}

}  // namespace euca::api
