#pragma once
// The remote ObjectStore: an S3 REST client for Walrus (`euca serve walrus`) or any S3
// endpoint, on core/http's libcurl client and core/api's SigV4 signer (docs/s3-client.md).
// Path-style requests under the endpoint's path, so S3_URLs with Eucalyptus' prefixes
// (http://host:8773/services/objectstorage, .../services/Walrus) work. Bodies stream both
// ways: a PUT reads its ByteSource as curl sends (UNSIGNED-PAYLOAD, with Content-MD5 when
// the request has one), a GET hands the body to a sink as it arrives, so memory stays
// bounded whatever the object size. S3 XML errors come back as a Status with the code of
// the wire code (core/base/error_map.h, CodeOfS3Error), the wire code itself and the
// server's message; transport failures are Unavailable ("... cannot connect: ...").
//
// Thread-safe: each request borrows an http::Client (one connection cache each) from a pool
// that grows to the number of requests in flight.

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <pugixml.hpp>
#include <vector>

#include "core/api/signable.h"
#include "core/base/clock.h"
#include "core/http/client.h"
#include "core/walrus/object_store.h"

namespace euca::walrus {

struct S3ClientOptions {
  /// "http[s]://HOST[:PORT][/PATH]" (S3_URL). A PATH prefixes every request path.
  std::string endpoint = {};
  /// Empty access key id: anonymous requests (unsigned).
  api::Credentials credentials = {};
  /// The SigV4 scope region.
  std::string region = "us-east-1";
  /// Signing time; nullptr = RealClock(). Must outlive the client.
  Clock* clock = nullptr;
  http::ClientOptions http = {};
};

/// The parts of an S3 endpoint URL.
struct S3Endpoint {
  std::string origin;  ///< "http://127.0.0.1:8773"
  std::string host;    ///< "127.0.0.1:8773", the Host header
  std::string path;    ///< "" or "/services/objectstorage" (no trailing slash)
};
/// Parses an endpoint URL; InvalidArgument naming it when it is not "http[s]://HOST[:PORT][/PATH]"
/// without query or fragment.
Result<S3Endpoint> ParseS3Endpoint(const std::string& url);

class S3Client final : public ObjectStore {
 public:
  /// InvalidArgument for a malformed endpoint.
  static Result<std::unique_ptr<S3Client>> Create(S3ClientOptions options);

  Result<std::vector<std::string>> ListBuckets() override;
  Status CreateBucket(const std::string& bucket, const std::string& location, const std::string& canned_acl) override;
  Status HeadBucket(const std::string& bucket) override;
  Status DeleteBucket(const std::string& bucket) override;
  Result<StoredObject> HeadObject(const std::string& bucket, const std::string& key) override;
  Result<StoredObject> PutObject(const PutObjectRequest& request, ByteSource& body) override;
  Result<StoredObject> GetObject(const std::string& bucket, const std::string& key, const ObjectSink& sink) override;
  Result<std::vector<StoredObject>> ListObjects(const std::string& bucket, const std::string& prefix) override;
  Status DeleteObject(const std::string& bucket, const std::string& key) override;

  const S3Endpoint& endpoint() const { return endpoint_; }

  /// One S3 request, before signing.
  struct Request {
    std::string method = "GET";
    std::string bucket = {};
    std::string key = {};
    std::string query = {};  ///< raw, already percent-encoded: "list-type=2&prefix=a%2Fb"
    Headers headers = {};
    std::string body = {};  ///< a small body, signed with its SHA-256
    /// A streamed body (sent UNSIGNED-PAYLOAD); when set, `body` is ignored.
    http::BodySource source = {};
    std::optional<uint64_t> content_length = {};
    /// Receives the body of a 2xx reply; unset: the body is collected into the response.
    ObjectSink sink = {};
  };
  /// Signs and sends `request`. A reply outside 2xx becomes its error Status. Exposed for tests.
  Result<http::ClientResponse> Send(const Request& request);
  // GET of a listing document (at most kMaxListingBody bytes) whose root element is
  // `root_name`, parsed into `doc`; `what` names the listing in errors.
  Status GetListing(Request r, const char* root_name, const std::string& what, pugi::xml_document& doc,
                    pugi::xml_node& root);

 private:
  S3Client(S3ClientOptions options, S3Endpoint endpoint);
  std::unique_ptr<http::Client> Borrow();
  void Return(std::unique_ptr<http::Client> client);
  /// The Status of an error reply: its XML, else what `request` and the HTTP status tell.
  Status ErrorOf(const Request& request, int http_status, const std::string& body) const;

  const S3ClientOptions options_;
  const S3Endpoint endpoint_;
  Clock& clock_;
  std::mutex mu_;
  std::vector<std::unique_ptr<http::Client>> idle_;  // guarded by mu_
};

}  // namespace euca::walrus
