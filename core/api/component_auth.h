#pragma once
// Component authentication for the internal HTTP/JSON API (CLC -> CC -> NC, NC -> Walrus;
// docs/internal-api.md). A component signs each request with the private key that
// `euca admin init` made for it and sends its certificate along; the receiver checks that the
// certificate was issued by the cloud CA to a component allowed at the endpoint, that the
// signature covers the request, and that the request is fresh. No shared secrets: every
// component holds only its own key and the cloud CA certificate. Thread-safe.
//
//   X-Euca-Date: 2026-11-23T16:24:18Z
//   X-Euca-Certificate: <base64 of the certificate PEM>
//   Authorization: EUCA-RSA-SHA256 Signature=<base64 RSA-SHA256 of the string to sign>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/signable.h"
#include "core/base/clock.h"
#include "core/base/headers.h"
#include "core/base/status.h"

namespace euca::api {

inline constexpr char kComponentAuthScheme[] = "EUCA-RSA-SHA256";
inline constexpr char kEucaDateHeader[] = "X-Euca-Date";
inline constexpr char kEucaCertificateHeader[] = "X-Euca-Certificate";
/// Largest X-Euca-Certificate accepted (a 4096-bit certificate is about 2.5 KiB of base64).
inline constexpr size_t kMaxComponentCertificateBytes = 8192;

/// The components of a cloud, named as `euca admin init` names their credentials
/// (keys/<name>-cert.pem) except the CLC, which signs with the cloud's own certificate.
enum class Component { kClc, kCc, kNc, kWalrus };

/// "clc", "cc", "nc", "walrus".
std::string_view ComponentName(Component c);
/// The certificate CN of a component: "euca cloud" (CLC), "euca cc", "euca nc", "euca walrus".
std::string_view ComponentCommonName(Component c);

/// What a component signs with. Both PEM.
struct ComponentCredentials {
  std::string cert_pem = {};
  std::string key_pem = {};
};

/// The text a component signs:
///   "EUCA-RSA-SHA256\n" METHOD "\n" CanonicalUri(path, kS3) "\n" CanonicalQueryString(query)
///   "\n" DATE "\n" hex SHA-256 of the body
std::string ComponentStringToSign(std::string_view method, std::string_view raw_path, const QueryParams& query,
                                  std::string_view date, std::string_view body_sha256_hex);

/// Sets X-Euca-Date (`now_ms`), X-Euca-Certificate and Authorization on `headers` for a request
/// `method` `raw_path`?`query` whose body hashes to `body_sha256_hex` (Sha256Hex("") when
/// there is none). InvalidArgument if the key is unreadable.
Status SignComponentRequest(const ComponentCredentials& credentials, std::string_view method, std::string_view raw_path,
                            const QueryParams& query, std::string_view body_sha256_hex, int64_t now_ms,
                            Headers& headers);

struct ComponentVerifyOptions {
  std::string ca_cert_pem = {};          ///< required: the cloud CA certificate
  std::vector<Component> allowed = {};   ///< the components this endpoint serves
  Clock* clock = nullptr;                ///< now; nullptr = RealClock()
  int64_t max_skew_ms = 15 * 60 * 1000;  ///< allowed distance of X-Euca-Date from now
};

/// A request whose component signature checked out.
struct VerifiedComponent {
  Component component = Component::kNc;
  std::string common_name;
  int64_t request_time_ms = 0;
};

/// Checks the component signature of `req` (its body, or `payload_sha256` standing for it).
/// Unauthenticated when the headers are missing or malformed, the certificate was not issued
/// by the cloud CA or is out of its validity, the signature does not match, or X-Euca-Date is
/// more than max_skew_ms away from now; PermissionDenied when a valid certificate of the cloud
/// is not one of `allowed` (another component, a user, the CA itself).
Result<VerifiedComponent> VerifyComponentRequest(const SignableRequest& req, const ComponentVerifyOptions& options);

}  // namespace euca::api
