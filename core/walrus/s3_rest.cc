#include "core/walrus/s3_rest.h"

#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

#include <pugixml.hpp>

#include "core/api/auth.h"
#include "core/api/aws_chunked.h"
#include "core/api/digest.h"
#include "core/api/encoding.h"
#include "core/base/error_map.h"
#include "core/base/random.h"
#include "core/base/strings.h"
#include "core/walrus/checksum.h"
#include "core/walrus/image_rest.h"

namespace euca::walrus {
namespace {

using api::QueryParams;

constexpr size_t kMaxXmlBody = 2 << 20;  // DeleteObjects (1,000 keys), Complete (10,000 parts)
constexpr const char* kServicePrefixes[] = {"/services/objectstorage", "/services/Walrus"};

std::string Iso8601(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// --- XML -----------------------------------------------------------------------------------

struct Xml {
  pugi::xml_document doc;
  pugi::xml_node root;
  explicit Xml(const char* name) {
    auto decl = doc.append_child(pugi::node_declaration);
    decl.append_attribute("version") = "1.0";
    decl.append_attribute("encoding") = "UTF-8";
    root = doc.append_child(name);
    root.append_attribute("xmlns") = kS3XmlNamespace;
  }
  std::string str() const {
    std::ostringstream out;
    doc.save(out, "", pugi::format_raw);
    return out.str();
  }
};

pugi::xml_node Add(pugi::xml_node parent, const char* name, const std::string& text) {
  auto n = parent.append_child(name);
  n.text().set(text.c_str());
  return n;
}

void AddOwner(pugi::xml_node parent, const char* name, const Owner& owner) {
  auto o = parent.append_child(name);
  Add(o, "ID", owner.id);
  Add(o, "DisplayName", owner.display_name);
}

/// <ChecksumCRC32>VALUE</ChecksumCRC32> (or of another algorithm), and <ChecksumType> if asked.
void AddChecksum(pugi::xml_node parent, const std::optional<StoredChecksum>& checksum, bool with_type) {
  if (!checksum) return;
  Add(parent, ("Checksum" + std::string(ChecksumName(checksum->algorithm))).c_str(), checksum->value);
  if (with_type) Add(parent, "ChecksumType", std::string(checksum->type()));
}

/// The checksum of a <Part> (or any element) listed by a client: its <ChecksumALGORITHM>.
std::optional<StoredChecksum> ListedChecksum(pugi::xml_node node) {
  for (auto c : node.children()) {
    std::string_view n = c.name();
    if (auto colon = n.find(':'); colon != std::string_view::npos) n = n.substr(colon + 1);
    if (!StartsWith(n, "Checksum") || n == "ChecksumType") continue;
    if (auto a = ParseChecksumAlgorithm(n.substr(8))) return StoredChecksum{*a, std::string(api::TrimSpace(c.text().get()))};
  }
  return std::nullopt;
}

/// x-amz-checksum-algorithm of CopyObject and CreateMultipartUpload; InvalidRequest if unknown.
Result<std::optional<ChecksumAlgorithm>> ChecksumAlgorithmHeader(const Headers& h) {
  const std::string* v = h.Find("x-amz-checksum-algorithm");
  if (!v) return std::optional<ChecksumAlgorithm>();
  auto a = ParseChecksumAlgorithm(*v);
  if (!a) {
    return S3Error(Code::kInvalidArgument,
                   "unknown x-amz-checksum-algorithm '" + *v + "': use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256",
                   "InvalidRequest");
  }
  return std::optional<ChecksumAlgorithm>(*a);
}

/// The document as sent. pugixml writes a carriage return in text as is, and an XML parser
/// reads it back as a line feed (XML 1.0 §2.11), so a key holding "\r" would be listed as
/// another key: it goes out as the character reference "&#13;", as S3 writes it.
http::Response XmlResponse(int status, const Xml& xml) {
  http::Response r;
  r.status = status;
  std::string text = xml.str();
  for (size_t at = text.find('\r'); at != std::string::npos; at = text.find('\r', at + 5)) text.replace(at, 1, "&#13;");
  r.body = std::move(text);
  r.headers.Set("Content-Type", "application/xml");
  return r;
}

/// Parses a small XML request body; MalformedXML when it does not parse.
Result<std::unique_ptr<pugi::xml_document>> ParseXml(const std::string& body) {
  auto doc = std::make_unique<pugi::xml_document>();
  if (body.empty() || !doc->load_buffer(body.data(), body.size())) {
    return S3Error(Code::kInvalidArgument, "the XML you provided was not well-formed", "MalformedXML");
  }
  return doc;
}

/// The child element `name` of `node`, ignoring namespace prefixes.
pugi::xml_node Child(pugi::xml_node node, std::string_view name) {
  for (auto c : node.children()) {
    std::string_view n = c.name();
    auto colon = n.find(':');
    if (colon != std::string_view::npos) n = n.substr(colon + 1);
    if (n == name) return c;
  }
  return {};
}

std::string EncodeIf(bool url, const std::string& s) { return url ? api::UriEncode(s, true) : s; }

// --- Query -----------------------------------------------------------------------------------

struct Query {
  QueryParams raw;
  bool Has(std::string_view name) const { return api::FindQueryParam(raw, name); }
  std::optional<std::string> Get(std::string_view name) const {
    std::string v;
    if (api::FindQueryParam(raw, name, &v)) return v;
    return std::nullopt;
  }
  std::string GetOr(std::string_view name, std::string def = "") const { return Get(name).value_or(def); }
};

Result<int> IntParam(const Query& q, std::string_view name, int def) {
  auto v = q.Get(name);
  if (!v) return def;
  try {
    size_t pos = 0;
    long long n = std::stoll(*v, &pos);
    if (pos != v->size() || n < 0) throw std::invalid_argument("");
    return static_cast<int>(std::min<long long>(n, 1 << 30));
  } catch (const std::exception&) {
    return S3Error(Code::kInvalidArgument, "'" + std::string(name) + "' must be a non-negative integer, got '" + *v + "'",
                   "InvalidArgument");
  }
}

// --- Subresources ------------------------------------------------------------------------------

// S3's subresources: query names that make a request another operation (GET ?acl is
// GetObjectAcl, not GetObject; DELETE ?tagging is DeleteObjectTagging, not DeleteObject).
// Route() serves the pairs in kServedSubresources; any other subresource on a request is
// NotImplemented whatever its method, never the plain operation, which could delete or
// overwrite what the caller meant to describe. Other query names (x-id, list-type, prefix,
// response-*) are parameters and are left to the operation.
constexpr std::string_view kSubresources[] = {
    "abac", "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption",
    "intelligent-tiering", "inventory", "legal-hold", "lifecycle", "location", "logging",
    "metadataConfiguration", "metadataInventoryTable", "metadataJournalTable", "metadataTable", "metrics",
    "notification", "object-lock", "ownershipControls", "partNumber", "policy", "policyStatus",
    "publicAccessBlock", "renameObject", "replication", "requestPayment", "restore", "retention", "select",
    "select-type", "session", "tagging", "torrent", "uploadId", "uploads", "versioning", "versions",
    "website",
};

/// What a request names: the service (no bucket), a bucket, or an object.
enum class Level { kService, kBucket, kObject };

struct ServedSubresource {
  Level level;
  std::string_view method;
  std::string_view name;
};
constexpr ServedSubresource kServedSubresources[] = {
    {Level::kBucket, "GET", "acl"},        {Level::kBucket, "GET", "location"},   {Level::kBucket, "GET", "versions"},
    {Level::kBucket, "GET", "uploads"},    {Level::kBucket, "GET", "versioning"}, {Level::kBucket, "PUT", "acl"},
    {Level::kBucket, "POST", "delete"},    {Level::kObject, "GET", "acl"},        {Level::kObject, "GET", "uploadId"},
    {Level::kObject, "GET", "partNumber"}, {Level::kObject, "GET", "attributes"}, {Level::kObject, "HEAD", "partNumber"}, {Level::kObject, "PUT", "acl"},
    {Level::kObject, "PUT", "uploadId"},   {Level::kObject, "PUT", "partNumber"}, {Level::kObject, "DELETE", "uploadId"},
    {Level::kObject, "POST", "uploads"},   {Level::kObject, "POST", "uploadId"},
};

/// Configurations Walrus keeps none of, since every request to set one is refused (PUT and
/// the like are NotImplemented), but which S3 clients read, and delete, on every bucket they
/// manage. GET answers as S3 does where there is none: a 404 of the configuration's own code,
/// or the document of S3's default. DELETE, where S3 has one, is done at once (204): there is
/// none after it. Bucket rows are owner only (S3's default); object tagging takes READ on the
/// object to read and WRITE_ACP to delete.
struct UnsetConfiguration {
  Level level;
  std::string_view name;             // the subresource
  std::string_view missing_code;     // GET: 404 with this code and message, or else
  std::string_view missing_message;  //
  const char* root;                  // GET: 200 with this document,
  void (*fill)(pugi::xml_node root);  // filled by this (nullptr: empty)
  bool deletable;
  bool listed_by_id = false;  // GET without `id` lists them (none); with `id` is 404 NoSuchConfiguration
};
void NotTruncated(pugi::xml_node root) { Add(root, "IsTruncated", "false"); }

constexpr UnsetConfiguration kUnsetConfigurations[] = {
    {Level::kBucket, "tagging", "NoSuchTagSet", "the bucket has no tag set", nullptr, nullptr, true},
    {Level::kBucket, "cors", "NoSuchCORSConfiguration", "the bucket has no CORS configuration", nullptr, nullptr, true},
    {Level::kBucket, "policy", "NoSuchBucketPolicy", "the bucket has no policy", nullptr, nullptr, true},
    {Level::kBucket, "policyStatus", "NoSuchBucketPolicy", "the bucket has no policy", nullptr, nullptr, false},
    {Level::kBucket, "website", "NoSuchWebsiteConfiguration", "the bucket has no website configuration", nullptr,
     nullptr, true},
    {Level::kBucket, "lifecycle", "NoSuchLifecycleConfiguration", "the bucket has no lifecycle configuration", nullptr,
     nullptr, true},
    {Level::kBucket, "replication", "ReplicationConfigurationNotFoundError",
     "the bucket has no replication configuration", nullptr, nullptr, true},
    {Level::kBucket, "object-lock", "ObjectLockConfigurationNotFoundError",
     "the bucket has no object lock configuration", nullptr, nullptr, false},
    {Level::kBucket, "publicAccessBlock", "NoSuchPublicAccessBlockConfiguration",
     "the bucket has no public access block configuration", nullptr, nullptr, true},
    {Level::kBucket, "encryption", "ServerSideEncryptionConfigurationNotFoundError",
     "the bucket has no server-side encryption configuration: objects are stored as sent", nullptr, nullptr, false},
    {Level::kBucket, "ownershipControls", "", "", "OwnershipControls",
     [](pugi::xml_node root) { Add(root.append_child("Rule"), "ObjectOwnership", "ObjectWriter"); }, false},
    {Level::kBucket, "accelerate", "", "", "AccelerateConfiguration", nullptr, false},
    {Level::kBucket, "requestPayment", "", "", "RequestPaymentConfiguration",
     [](pugi::xml_node root) { Add(root, "Payer", "BucketOwner"); }, false},
    {Level::kBucket, "logging", "", "", "BucketLoggingStatus", nullptr, false},
    {Level::kBucket, "notification", "", "", "NotificationConfiguration", nullptr, false},
    {Level::kObject, "tagging", "", "", "Tagging", [](pugi::xml_node root) { root.append_child("TagSet"); }, true},
    // Configurations S3 keeps by id: the list of them is empty, and none has any id.
    {Level::kBucket, "analytics", "", "", "ListBucketAnalyticsConfigurationResult", NotTruncated, false, true},
    {Level::kBucket, "inventory", "", "", "ListInventoryConfigurationsResult", NotTruncated, false, true},
    {Level::kBucket, "metrics", "", "", "ListMetricsConfigurationsResult", NotTruncated, false, true},
    {Level::kBucket, "intelligent-tiering", "", "", "ListBucketIntelligentTieringConfigurationsOutput", NotTruncated,
     false, true},
};

/// The row of kUnsetConfigurations a `method` request on `level` with `query` asks for.
const UnsetConfiguration* UnsetConfigurationOf(Level level, const std::string& method, const QueryParams& query) {
  if (method != "GET" && method != "DELETE") return nullptr;
  for (const auto& [name, value] : query) {
    for (const UnsetConfiguration& c : kUnsetConfigurations)
      if (c.level == level && c.name == name && (method == "GET" || c.deletable)) return &c;
  }
  return nullptr;
}

/// The first subresource of `query` that Route() does not serve for `method` on `level`.
std::optional<std::string> UnservedSubresource(Level level, const std::string& method, const QueryParams& query) {
  const UnsetConfiguration* unset = UnsetConfigurationOf(level, method, query);
  for (const auto& [name, value] : query) {
    if (std::find(std::begin(kSubresources), std::end(kSubresources), name) == std::end(kSubresources)) continue;
    bool served = std::any_of(std::begin(kServedSubresources), std::end(kServedSubresources),
                              [&](const ServedSubresource& s) { return s.level == level && s.method == method && s.name == name; });
    if (!served && !(unset && unset->name == name)) return name;
  }
  return std::nullopt;
}

// --- Request bodies ----------------------------------------------------------------------------

/// The request body as Walrus reads it, checked as the signature demands (the declared
/// SHA-256, or aws-chunked decoding with chunk signatures) and against the x-amz-checksum-*
/// the client sent, in a header or an aws-chunked trailer. The final read (0) is returned
/// only once every check passed; a failed check is an error, so Walrus commits nothing.
class RequestBody final : public ByteSource {
 public:
  RequestBody(http::BodyReader& reader, const api::Verified& verified, std::optional<ExpectedChecksum> checksum)
      : reader_(reader), check_(verified.payload), expected_checksum_(std::move(checksum)) {
    if (check_ == api::PayloadCheck::kSha256) {
      expected_ = verified.payload_sha256;
      hasher_ = std::make_unique<api::Sha256Hasher>();
    } else if (check_ == api::PayloadCheck::kAwsChunked && verified.streaming) {
      decoder_ = std::make_unique<api::AwsChunkedDecoder>(*verified.streaming);
    }
    if (expected_checksum_) checksummer_ = std::make_unique<Checksummer>(expected_checksum_->algorithm);
  }

  Result<size_t> Read(char* buf, size_t n) override {
    EUCA_ASSIGN_OR_RETURN(size_t got, ReadSigned(buf, n));
    if (checksummer_ && !checksum_done_) {
      if (got > 0) {
        checksummer_->Update(std::string_view(buf, got));
      } else {
        checksum_done_ = true;
        EUCA_RETURN_IF_ERROR(FinishChecksum());
      }
    }
    return got;
  }

  /// Whether the client sent a checksum of the body (whose value the reply echoes).
  bool has_checksum() const { return expected_checksum_.has_value(); }
  /// The algorithm of the checksum the client sends, if any.
  std::optional<ChecksumAlgorithm> checksum_algorithm() const {
    if (!expected_checksum_) return std::nullopt;
    return expected_checksum_->algorithm;
  }
  std::optional<StoredChecksum> VerifiedChecksum() const override {
    if (!expected_checksum_ || echo_->first.empty()) return std::nullopt;
    return StoredChecksum{expected_checksum_->algorithm, echo_->second};
  }
  /// Filled with "x-amz-checksum-ALG: VALUE" once the body has been read whole and matched
  /// it; shared, because a PUT's reply is written on whichever thread completes its commit.
  std::shared_ptr<std::pair<std::string, std::string>> checksum_echo() const { return echo_; }

 private:
  Status FinishChecksum() {
    const ChecksumAlgorithm a = expected_checksum_->algorithm;
    std::optional<std::string> want = expected_checksum_->value;
    if (!want && decoder_) {
      if (const std::string* t = decoder_->trailers().Find(ChecksumHeader(a))) want = *t;
    }
    if (!want) {
      return S3Error(Code::kInvalidArgument,
                     "the body ended without the " + ChecksumHeader(a) + " trailer that x-amz-trailer declared",
                     "InvalidRequest");
    }
    EUCA_RETURN_IF_ERROR(CheckChecksum(a, *want, checksummer_->FinalBase64()));
    *echo_ = {ChecksumHeader(a), *want};
    return Status::Ok();
  }

  Result<size_t> ReadSigned(char* buf, size_t n) {
    if (decoder_) return ReadChunked(buf, n);
    EUCA_ASSIGN_OR_RETURN(size_t got, reader_.Read(buf, n));
    if (hasher_) {
      if (got > 0) {
        hasher_->Update(std::string_view(buf, got));
      } else if (!done_) {
        done_ = true;
        if (hasher_->FinishHex() != expected_) {
          return S3Error(Code::kInvalidArgument,
                         "the provided 'x-amz-content-sha256' header does not match what was computed",
                         "XAmzContentSHA256Mismatch");
        }
      }
    }
    return got;
  }

 private:
  Result<size_t> ReadChunked(char* buf, size_t n) {
    while (pending_pos_ >= pending_.size()) {
      pending_.clear();
      pending_pos_ = 0;
      if (eof_) {
        EUCA_RETURN_IF_ERROR(decoder_->Finish());
        return size_t{0};
      }
      raw_.resize(64 * 1024);
      EUCA_ASSIGN_OR_RETURN(size_t got, reader_.Read(raw_.data(), raw_.size()));
      if (got == 0) {
        eof_ = true;
        continue;
      }
      EUCA_RETURN_IF_ERROR(decoder_->Feed(std::string_view(raw_.data(), got), &pending_));
    }
    size_t k = std::min(n, pending_.size() - pending_pos_);
    std::memcpy(buf, pending_.data() + pending_pos_, k);
    pending_pos_ += k;
    return k;
  }

  http::BodyReader& reader_;
  api::PayloadCheck check_;
  std::string expected_;
  std::unique_ptr<api::Sha256Hasher> hasher_;
  std::unique_ptr<api::AwsChunkedDecoder> decoder_;
  bool done_ = false;
  bool eof_ = false;
  std::string raw_;
  std::string pending_;
  size_t pending_pos_ = 0;
  std::optional<ExpectedChecksum> expected_checksum_;
  std::unique_ptr<Checksummer> checksummer_;
  bool checksum_done_ = false;
  std::shared_ptr<std::pair<std::string, std::string>> echo_ = std::make_shared<std::pair<std::string, std::string>>();
};

/// Reads a small body whole (XML documents), checked like any other.
Result<std::string> ReadSmallBody(RequestBody& body) {
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    EUCA_ASSIGN_OR_RETURN(size_t got, body.Read(buf, sizeof buf));
    if (got == 0) return out;
    out.append(buf, got);
    if (out.size() > kMaxXmlBody) {
      return S3Error(Code::kInvalidArgument, "the request body is too large", "MalformedXML");
    }
  }
}

// --- Request parsing -----------------------------------------------------------------------------

struct Request {
  const http::RequestHead& head;
  Query query;
  S3Target target;
  std::string resource;  // "/bucket/key" for errors
  std::string request_id;
  std::vector<Grant> grants = {};  // from x-amz-grant-* (PUT and POST only)
};

// The x-amz-grant-* headers of a PUT or POST. Each names one permission; every grant
// header there is must be one of these.
Result<std::vector<Grant>> GrantsOf(const Headers& h) {
  static constexpr std::pair<std::string_view, Permission> kGrantHeaders[] = {
      {"x-amz-grant-read", Permission::kRead},          {"x-amz-grant-write", Permission::kWrite},
      {"x-amz-grant-read-acp", Permission::kReadAcp},   {"x-amz-grant-write-acp", Permission::kWriteAcp},
      {"x-amz-grant-full-control", Permission::kFullControl}};
  std::vector<Grant> out;
  for (const auto& f : h) {
    std::string name = AsciiLower(f.name);
    if (!StartsWith(name, "x-amz-grant-")) continue;
    auto it = std::find_if(std::begin(kGrantHeaders), std::end(kGrantHeaders), [&](const auto& g) { return g.first == name; });
    if (it == std::end(kGrantHeaders))
      return S3Error(Code::kInvalidArgument,
                     "unknown grant header '" + f.name +
                         "'; use x-amz-grant-read, -write, -read-acp, -write-acp or -full-control",
                     "InvalidArgument");
    EUCA_ASSIGN_OR_RETURN(std::vector<Grant> grants, ParseGrantHeader(it->second, f.value));
    out.insert(out.end(), grants.begin(), grants.end());
  }
  return out;
}

ContentHeaders ContentOf(const Headers& h) {
  ContentHeaders c;
  c.content_type = h.Get("Content-Type");
  c.cache_control = h.Get("Cache-Control");
  c.content_disposition = h.Get("Content-Disposition");
  c.content_encoding = h.Get("Content-Encoding");
  c.content_language = h.Get("Content-Language");
  c.expires = h.Get("Expires");
  // aws-chunked is a transfer detail of the request, not the object's encoding.
  if (!c.content_encoding.empty()) {
    std::string rest;
    std::stringstream ss(c.content_encoding);
    std::string item;
    while (std::getline(ss, item, ',')) {
      std::string t(api::TrimSpace(item));
      if (t.empty() || AsciiLower(t) == "aws-chunked") continue;
      if (!rest.empty()) rest += ",";
      rest += t;
    }
    c.content_encoding = rest;
  }
  return c;
}

/// The x-amz-meta-* headers, names lower-cased; a name sent more than once has its values
/// joined with "," in order (as S3 and RFC 9110 §5.3 combine repeated fields).
Pairs MetadataOf(const Headers& h) {
  Pairs out;
  for (const auto& f : h) {
    std::string name = AsciiLower(f.name);
    if (!StartsWith(name, "x-amz-meta-")) continue;
    name = name.substr(11);
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == name; });
    if (same == out.end()) {
      out.emplace_back(std::move(name), f.value);
    } else {
      same->second += "," + f.value;
    }
  }
  return out;
}

std::optional<int64_t> DateHeader(const Headers& h, std::string_view name) {
  const std::string* v = h.Find(name);
  if (!v) return std::nullopt;
  auto r = api::ParseHttpDate(*v);
  if (!r.ok()) return std::nullopt;
  return *r;
}

std::optional<std::string> OptHeader(const Headers& h, std::string_view name) {
  const std::string* v = h.Find(name);
  if (!v) return std::nullopt;
  return *v;
}

/// If-Match / If-None-Match of a write request.
WriteConditions WriteConditionsOf(const Headers& h) {
  return WriteConditions{.if_match = OptHeader(h, "If-Match"), .if_none_match = OptHeader(h, "If-None-Match")};
}

Conditions ConditionsOf(const Headers& h, const std::string& prefix) {
  Conditions c;
  c.if_match = OptHeader(h, prefix + "if-match");
  c.if_none_match = OptHeader(h, prefix + "if-none-match");
  c.if_modified_since_ms = DateHeader(h, prefix + "if-modified-since");
  c.if_unmodified_since_ms = DateHeader(h, prefix + "if-unmodified-since");
  return c;
}

std::optional<uint64_t> ContentLengthOf(const http::RequestHead& head, const api::Verified& v) {
  if (v.payload == api::PayloadCheck::kAwsChunked) {
    if (v.streaming && v.streaming->decoded_length >= 0) return static_cast<uint64_t>(v.streaming->decoded_length);
    const std::string* d = head.headers.Find("x-amz-decoded-content-length");
    if (d) {
      try {
        return std::stoull(*d);
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
    return std::nullopt;
  }
  return head.content_length;
}

/// x-amz-copy-source: "[/]bucket/key[?versionId=...]", percent-encoded.
Result<std::pair<std::string, std::string>> ParseCopySource(const std::string& value) {
  std::string v = value;
  auto q = v.find('?');
  if (q != std::string::npos) {
    for (const auto& [name, id] : api::SplitQuery(v.substr(q + 1))) {
      if (name == "versionId" && id != "null") {
        return S3Error(Code::kInvalidArgument,
                       "invalid copy source version id '" + id + "': objects here have only version 'null'",
                       "InvalidArgument");
      }
    }
    v = v.substr(0, q);
  }
  std::string decoded = api::PercentDecode(v, false);
  if (!decoded.empty() && decoded[0] == '/') decoded.erase(0, 1);
  auto slash = decoded.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= decoded.size()) {
    return S3Error(Code::kInvalidArgument, "invalid copy source '" + value + "': expected BUCKET/KEY", "InvalidArgument");
  }
  return std::make_pair(decoded.substr(0, slash), decoded.substr(slash + 1));
}

Result<AclSpec> AclSpecOf(const Headers& h, const std::string& body) {
  if (const std::string* canned = h.Find("x-amz-acl")) return AclSpec{.canned = *canned};
  auto malformed = [] {
    return S3Error(Code::kInvalidArgument, "the XML you provided was not well-formed or did not validate against our schema",
                   "MalformedACLError");
  };
  if (body.empty()) return malformed();
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return malformed();
  auto policy = Child(doc, "AccessControlPolicy");
  if (!policy) return malformed();
  Acl acl;
  auto owner = Child(policy, "Owner");
  acl.owner.id = Child(owner, "ID").text().get();
  acl.owner.display_name = Child(owner, "DisplayName").text().get();
  auto list = Child(policy, "AccessControlList");
  for (auto g : list.children()) {
    std::string_view gname = g.name();
    if (gname.size() < 5 || gname.substr(gname.size() - 5) != "Grant") continue;
    auto grantee = Child(g, "Grantee");
    Grant grant;
    std::string type = grantee.attribute("xsi:type").value();
    if (auto uri = Child(grantee, "URI")) {
      grant.grantee.type = Grantee::Type::kGroup;
      grant.grantee.id = uri.text().get();
    } else if (auto id = Child(grantee, "ID")) {
      grant.grantee.type = Grantee::Type::kCanonicalUser;
      grant.grantee.id = id.text().get();
      grant.grantee.display_name = Child(grantee, "DisplayName").text().get();
    } else {
      return malformed();
    }
    auto perm = ParsePermission(Child(g, "Permission").text().get());
    if (!perm) return malformed();
    grant.permission = *perm;
    acl.grants.push_back(std::move(grant));
  }
  return AclSpec{.acl = std::move(acl)};
}

// --- Result encoding ---------------------------------------------------------------------------

void SetObjectHeaders(http::Response& r, const ObjectInfo& info, const Query& q) {
  r.headers.Set("ETag", info.etag);
  r.headers.Set("Last-Modified", api::FormatHttpDate(info.last_modified_ms));
  r.headers.Set("Accept-Ranges", "bytes");
  auto set = [&](const char* header, const char* override_param, const std::string& stored, const char* def) {
    auto o = q.Get(override_param);
    std::string v = o ? *o : stored;
    if (v.empty() && def) v = def;
    if (!v.empty()) r.headers.Set(header, v);
  };
  set("Content-Type", "response-content-type", info.content.content_type, "binary/octet-stream");
  set("Cache-Control", "response-cache-control", info.content.cache_control, nullptr);
  set("Content-Disposition", "response-content-disposition", info.content.content_disposition, nullptr);
  set("Content-Encoding", "response-content-encoding", info.content.content_encoding, nullptr);
  set("Content-Language", "response-content-language", info.content.content_language, nullptr);
  set("Expires", "response-expires", info.content.expires, nullptr);
  for (const auto& [name, value] : info.metadata) r.headers.Add("x-amz-meta-" + name, value);
  if (info.parts_count > 0 && q.Has("partNumber")) r.headers.Set("x-amz-mp-parts-count", std::to_string(info.parts_count));
}

void AddAcl(pugi::xml_node root, const Acl& acl) {
  AddOwner(root, "Owner", acl.owner);
  auto list = root.append_child("AccessControlList");
  for (const auto& g : acl.grants) {
    auto grant = list.append_child("Grant");
    auto grantee = grant.append_child("Grantee");
    grantee.append_attribute("xmlns:xsi") = "http://www.w3.org/2001/XMLSchema-instance";
    if (g.grantee.type == Grantee::Type::kGroup) {
      grantee.append_attribute("xsi:type") = "Group";
      Add(grantee, "URI", g.grantee.id);
    } else {
      grantee.append_attribute("xsi:type") = "CanonicalUser";
      Add(grantee, "ID", g.grantee.id);
      Add(grantee, "DisplayName", g.grantee.display_name);
    }
    Add(grant, "Permission", std::string(PermissionName(g.permission)));
  }
}

// A listing document (ListBucketResult, ListVersionsResult, ListMultipartUploadsResult): keys,
// prefixes and markers are URL-encoded when the request asked for encoding-type=url.
struct Listing {
  Xml xml;
  bool url;
  Listing(const Query& q, const char* name) : xml(name), url(q.GetOr("encoding-type") == "url") {}

  pugi::xml_node root() const { return xml.root; }
  /// An element holding a key, a prefix or a marker.
  void AddKey(const char* name, const std::string& key) const { Add(xml.root, name, EncodeIf(url, key)); }
  /// The limit, the delimiter (when given), EncodingType (when url) and IsTruncated.
  void AddLimits(const char* max_name, int max, const std::string& delimiter, bool truncated) const {
    Add(xml.root, max_name, std::to_string(max));
    if (!delimiter.empty()) AddKey("Delimiter", delimiter);
    if (url) Add(xml.root, "EncodingType", "url");
    Add(xml.root, "IsTruncated", truncated ? "true" : "false");
  }
  /// <NAME><Key>KEY</Key></NAME>, for the caller to fill on.
  pugi::xml_node AddEntry(const char* name, const std::string& key) {
    auto n = xml.root.append_child(name);
    Add(n, "Key", EncodeIf(url, key));
    return n;
  }
  /// The fields of a listed object after its key (and version).
  static void AddObject(pugi::xml_node n, const ObjectSummary& o, bool with_owner) {
    Add(n, "LastModified", Iso8601(o.last_modified_ms));
    Add(n, "ETag", o.etag);
    if (o.checksum) {
      Add(n, "ChecksumAlgorithm", std::string(ChecksumName(o.checksum->algorithm)));
      Add(n, "ChecksumType", std::string(o.checksum->type()));
    }
    Add(n, "Size", std::to_string(o.size));
    if (with_owner) AddOwner(n, "Owner", o.owner);
    Add(n, "StorageClass", "STANDARD");
  }
  void AddCommonPrefixes(const std::vector<std::string>& prefixes) {
    for (const auto& p : prefixes) Add(xml.root.append_child("CommonPrefixes"), "Prefix", EncodeIf(url, p));
  }
};

// --- The handler ------------------------------------------------------------------------------------

class S3Rest final {
 public:
  S3Rest(Walrus& walrus, KeyLookup lookup, S3RestOptions options)
      : walrus_(walrus), lookup_(std::move(lookup)), options_(std::move(options)) {}

  http::Response Handle(const http::RequestHead& head, http::BodyReader& reader) {
    std::string request_id = RandomHex(16);
    Request req{head, {api::SplitQuery(head.query)}, {}, {}, request_id};
    req.target = ResolveS3Target(head.path, head.headers.Get("Host"), options_.domains);
    req.resource = "/" + req.target.bucket + (req.target.key.empty() ? "" : "/" + req.target.key);
    auto r = Serve(req, reader);
    http::Response response = r.ok() ? std::move(*r) : ErrorResponse(r.status(), req, request_id);
    response.headers.Set("x-amz-request-id", request_id);
    return response;
  }

 private:
  static http::Response ErrorResponse(const Status& s, const Request& req, const std::string& request_id) {
    return ErrorResponse(s, req.resource, request_id);
  }
  static http::Response ErrorResponse(const Status& s, const std::string& resource, const std::string& request_id) {
    Xml xml("Error");
    xml.root.remove_attribute("xmlns");
    Add(xml.root, "Code", std::string(S3ErrorCode(s)));
    Add(xml.root, "Message", s.message());
    Add(xml.root, "Resource", resource);
    Add(xml.root, "RequestId", request_id);
    http::Response r = XmlResponse(S3HttpStatus(s), xml);
    if (S3ErrorCode(s) == "MethodNotAllowed") r.headers.Set("Allow", "GET, HEAD, PUT, POST, DELETE");
    return r;
  }

  Result<http::Response> Serve(Request& req, http::BodyReader& reader) {
    const auto& head = req.head;
    // Authenticate.
    api::SignableRequest signable{.method = head.method, .path = head.path, .query = req.query.raw, .headers = head.headers};
    std::optional<model::Principal> principal;
    api::SecretLookup secret_lookup = [&](const std::string& akid) -> Result<std::string> {
      auto owner = lookup_(akid);
      if (!owner.ok()) {
        if (owner.status().code() == Code::kUnauthenticated || owner.status().code() == Code::kNotFound) {
          return NotFound("the access key id '" + akid + "' does not exist or is not active");
        }
        return owner.status();
      }
      principal = owner->principal;
      return owner->secret;
    };
    api::VerifyOptions vopts{.dialect = api::Dialect::kS3,
                             .service = "s3",
                             .region = options_.region,
                             .clock = options_.clock,
                             .virtual_host_bucket = req.target.virtual_host ? req.target.bucket : std::string(),
                             .s3_service_prefix = req.target.service_prefix,
                             .allow_anonymous = true};
    EUCA_ASSIGN_OR_RETURN(api::Verified verified, api::VerifyRequest(signable, secret_lookup, vopts));
    Caller caller = verified.scheme == api::AuthScheme::kAnonymous || !principal ? Caller::Anonymous()
                                                                                 : Caller(*principal);
    // On CompleteMultipartUpload an x-amz-checksum-* header is the object's expected checksum
    // (CompleteUpload), not one of the XML body.
    std::optional<ExpectedChecksum> checksum;
    if (!IsCompleteUpload(req)) {
      EUCA_ASSIGN_OR_RETURN(checksum, ExpectedChecksumOf(head.headers));
    }
    RequestBody body(reader, verified, std::move(checksum));
    return Route(req, caller, body, verified);
  }

  static bool IsCompleteUpload(const Request& req) {
    return req.head.method == "POST" && !req.target.key.empty() && req.query.Has("uploadId");
  }

  static Status NotAllowed(const Request& req) {
    return S3Error(Code::kInvalidArgument,
                   "the method '" + req.head.method + "' is not allowed against resource '" + req.resource + "'",
                   "MethodNotAllowed");
  }

  static Status NotImplementedFor(const std::string& what) {
    return S3Error(Code::kUnsupported, "'" + what + "' is not implemented", "NotImplemented");
  }

  Result<http::Response> Route(Request& req, const Caller& caller, RequestBody& body, const api::Verified& v) {
    const std::string& m = req.head.method;
    if (m == "PUT" || m == "POST") {
      EUCA_ASSIGN_OR_RETURN(req.grants, GrantsOf(req.head.headers));
    }
    const Query& q = req.query;
    const std::string& bucket = req.target.bucket;
    const std::string& key = req.target.key;
    const Level level = bucket.empty() ? Level::kService : key.empty() ? Level::kBucket : Level::kObject;
    if (m == "OPTIONS") return CorsPreflight(req);
    if (auto sub = UnservedSubresource(level, m, q.raw)) return NotImplementedFor(m + " ?" + *sub);
    EUCA_RETURN_IF_ERROR(RefuseUnservedHeaders(req, level));
    EUCA_RETURN_IF_ERROR(CheckExpectedOwners(req));
    if (const UnsetConfiguration* c = UnsetConfigurationOf(level, m, q.raw)) return AnswerUnset(caller, req, *c);
    if (bucket.empty()) {
      if (m == "GET") return ListBuckets(caller, req);
      return NotAllowed(req);
    }
    if (key.empty()) {
      if (m == "GET") {
        if (q.Has("acl")) {
          EUCA_ASSIGN_OR_RETURN(Acl acl, walrus_.GetBucketAcl(caller, bucket));
          return AclResponse(acl);
        }
        if (q.Has("location")) return Location(caller, bucket);
        if (q.Has("versions")) return ListVersions(caller, req);
        if (q.Has("uploads")) return ListUploads(caller, req);
        if (q.Has("versioning")) {
          EUCA_RETURN_IF_ERROR(walrus_.HeadBucket(caller, bucket));
          Xml xml("VersioningConfiguration");
          return XmlResponse(200, xml);
        }
        return List(caller, req);
      }
      if (m == "HEAD") {
        EUCA_RETURN_IF_ERROR(walrus_.HeadBucket(caller, bucket));
        return Empty(200);
      }
      if (m == "PUT") {
        if (q.Has("acl")) {
          EUCA_ASSIGN_OR_RETURN(AclSpec spec, AclSpecOfPut(req, body));
          EUCA_RETURN_IF_ERROR(walrus_.PutBucketAcl(caller, bucket, spec));
          return Empty(200);
        }
        if (!q.raw.empty()) return NotImplementedFor("PUT ?" + q.raw.front().first);
        return CreateBucket(caller, req, body);
      }
      if (m == "DELETE") {
        if (!q.raw.empty()) return NotImplementedFor("DELETE ?" + q.raw.front().first);
        EUCA_RETURN_IF_ERROR(walrus_.DeleteBucket(caller, bucket));
        return Empty(204);
      }
      if (m == "POST" && q.Has("delete")) return DeleteObjects(caller, req, body);
      if (m == "POST" && StartsWith(AsciiLower(req.head.headers.Get("Content-Type")), "multipart/form-data"))
        return NotImplementedFor("a browser-based upload (POST with an HTML form)");
      return NotAllowed(req);
    }
    // An object. Buckets are unversioned: "null" is the only version id there is.
    EUCA_RETURN_IF_ERROR(CheckVersionId(req));
    if (m == "GET" || m == "HEAD") {
      if (m == "GET" && q.Has("acl")) {
        EUCA_ASSIGN_OR_RETURN(Acl acl, walrus_.GetObjectAcl(caller, bucket, key));
        return AclResponse(acl);
      }
      if (m == "GET" && q.Has("uploadId")) return ListParts(caller, req);
      if (m == "GET" && q.Has("attributes")) return Attributes(caller, req);
      return Get(caller, req, m == "GET");
    }
    if (m == "PUT") {
      if (q.Has("acl")) {
        EUCA_ASSIGN_OR_RETURN(AclSpec spec, AclSpecOfPut(req, body));
        EUCA_RETURN_IF_ERROR(walrus_.PutObjectAcl(caller, bucket, key, spec));
        return Empty(200);
      }
      if (q.Has("uploadId") || q.Has("partNumber")) return UploadPart(caller, req, body, v);
      if (req.head.headers.Has("x-amz-copy-source")) return Copy(caller, req);
      return Put(caller, req, body, v);
    }
    if (m == "DELETE") {
      if (q.Has("uploadId")) {
        EUCA_RETURN_IF_ERROR(walrus_.AbortMultipartUpload(caller, bucket, key, q.GetOr("uploadId")));
        return Empty(204);
      }
      EUCA_RETURN_IF_ERROR(walrus_.DeleteObject(caller, bucket, key));
      return Empty(204);
    }
    if (m == "POST") {
      if (q.Has("uploads")) return CreateUpload(caller, req);
      if (q.Has("uploadId")) return CompleteUpload(caller, req, body);
    }
    return NotAllowed(req);
  }

  /// OPTIONS, a browser's CORS preflight: no bucket here has a CORS configuration, so every
  /// one is refused as S3 refuses it for such a bucket (403 AccessForbidden), and one without
  /// Origin and Access-Control-Request-Method is no preflight at all (400 BadRequest).
  static Status CorsPreflight(const Request& req) {
    const Headers& h = req.head.headers;
    if (!h.Has("Origin") || !h.Has("Access-Control-Request-Method")) {
      return S3Error(Code::kInvalidArgument,
                     "a CORS preflight (OPTIONS) needs the Origin and Access-Control-Request-Method headers",
                     "BadRequest");
    }
    return S3Error(Code::kPermissionDenied, "CORSResponse: CORS is not enabled for this bucket", "AccessForbidden");
  }

  /// An object request's versionId: buckets are unversioned, so "null" is the only version id
  /// there is (a PUT or POST may name it: it is the upload's or the copy's, not the object's).
  static Status CheckVersionId(const Request& req) {
    const std::string& m = req.head.method;
    if (auto version = req.query.Get("versionId"); version && *version != "null" && m != "PUT" && m != "POST") {
      return S3Error(Code::kInvalidArgument, "invalid version id '" + *version + "': objects here have only version 'null'",
                     "InvalidArgument");
    }
    return Status::Ok();
  }

  /// A GET or DELETE of a configuration Walrus keeps none of (kUnsetConfigurations).
  Result<http::Response> AnswerUnset(const Caller& caller, const Request& req, const UnsetConfiguration& c) {
    const bool get = req.head.method == "GET";
    if (c.level == Level::kBucket) {
      EUCA_RETURN_IF_ERROR(walrus_.CheckBucketOwner(caller, req.target.bucket));
    } else {
      EUCA_RETURN_IF_ERROR(CheckVersionId(req));
      EUCA_RETURN_IF_ERROR(walrus_.CheckObjectAccess(caller, req.target.bucket, req.target.key,
                                                     get ? Permission::kRead : Permission::kWriteAcp));
    }
    if (!get) return Empty(204);
    if (c.listed_by_id && req.query.Has("id")) {
      return S3Error(Code::kNotFound, "the bucket has no " + std::string(c.name) + " configuration with id '" +
                                          req.query.GetOr("id") + "'",
                     "NoSuchConfiguration");
    }
    if (!c.missing_code.empty())
      return S3Error(Code::kNotFound, std::string(c.missing_message), std::string(c.missing_code));
    Xml xml(c.root);
    if (c.fill) c.fill(xml.root);
    return XmlResponse(200, xml);
  }

  /// Request headers that ask for what Walrus does not do. They are refused, never ignored,
  /// so that nobody believes their data is encrypted, locked, tagged or appended to:
  ///  - SSE-C (x-amz-[copy-source-]server-side-encryption-customer-*) on any request, and
  ///    x-amz-server-side-encryption (SSE-S3, SSE-KMS) on writes: NotImplemented; blobs are
  ///    stored as sent.
  ///  - object lock headers on writes: InvalidRequest, as S3 answers for a bucket without an
  ///    object lock configuration; x-amz-bucket-object-lock-enabled: true on CreateBucket:
  ///    NotImplemented.
  ///  - x-amz-write-offset-bytes (append), x-amz-tagging, x-amz-website-redirect-location, a
  ///    storage class other than STANDARD, object ownership other than ObjectWriter (ACLs
  ///    are always on here), and conditions on a DELETE: NotImplemented.
  static Status RefuseUnservedHeaders(const Request& req, Level level) {
    // Where a row applies.
    enum class On { kAny, kWrite, kBucketWrite, kObjectDelete };
    struct Unserved {
      std::string_view name;  // lower case
      bool prefix;            // `name` starts the header's name, else is all of it
      On on;
      std::string_view allowed;  // the one value that asks for nothing unserved ("": none does)
      std::string_view what;     // what the header asks for, for the message
      bool invalid_request;      // InvalidRequest, else NotImplemented
      bool any_case = false;     // `allowed` in any case (a boolean: "False" too)
    };
    // First match wins: the customer-key rows come before the plain encryption prefix.
    static constexpr Unserved kUnserved[] = {
        {"x-amz-server-side-encryption-customer-", true, On::kAny, "", "server-side encryption with customer keys",
         false},
        {"x-amz-copy-source-server-side-encryption-customer-", true, On::kAny, "",
         "server-side encryption with customer keys", false},
        {"x-amz-server-side-encryption", true, On::kWrite, "", "server-side encryption (objects are stored as sent)",
         false},
        {"x-amz-object-lock-", true, On::kWrite, "", "object lock (no bucket here has an object lock configuration)",
         true},
        {"x-amz-write-offset-bytes", false, On::kWrite, "", "appending to an object", false},
        {"x-amz-tagging", false, On::kWrite, "", "object tagging", false},
        {"x-amz-website-redirect-location", false, On::kWrite, "", "website redirects", false},
        {"x-amz-storage-class", false, On::kWrite, "STANDARD", "a storage class other than STANDARD", false},
        {"x-amz-bucket-object-lock-enabled", false, On::kBucketWrite, "false", "object lock", false, true},
        {"x-amz-object-ownership", false, On::kBucketWrite, "ObjectWriter",
         "object ownership other than ObjectWriter (ACLs are always enabled)", false},
        {"if-match", false, On::kObjectDelete, "", "a conditional delete", false},
        {"if-none-match", false, On::kObjectDelete, "", "a conditional delete", false},
        {"x-amz-if-match-size", false, On::kObjectDelete, "", "a conditional delete", false},
        {"x-amz-if-match-last-modified-time", false, On::kObjectDelete, "", "a conditional delete", false},
    };
    const std::string& m = req.head.method;
    const bool write = m == "PUT" || m == "POST";
    auto applies = [&](On on) {
      switch (on) {
        case On::kAny:
          return true;
        case On::kWrite:
          return write;
        case On::kBucketWrite:
          return write && level == Level::kBucket;
        case On::kObjectDelete:
          return m == "DELETE" && level == Level::kObject;
      }
      return false;
    };
    for (const auto& f : req.head.headers) {
      const std::string name = AsciiLower(f.name);
      for (const Unserved& u : kUnserved) {
        if (!(u.prefix ? StartsWith(name, u.name) : name == u.name) || !applies(u.on)) continue;
        if (!u.allowed.empty() && (u.any_case ? EqualsIgnoreCase(f.value, u.allowed) : f.value == u.allowed)) break;
        const std::string message = std::string(u.what) + " ('" + f.name + ": " + f.value + "') is not implemented here";
        return u.invalid_request ? S3Error(Code::kInvalidArgument, message, "InvalidRequest")
                                 : S3Error(Code::kUnsupported, message, "NotImplemented");
      }
    }
    return Status::Ok();
  }

  /// x-amz-expected-bucket-owner, and x-amz-source-expected-bucket-owner for the source of a
  /// copy: AccessDenied when another account owns that bucket.
  Status CheckExpectedOwners(const Request& req) {
    const Headers& h = req.head.headers;
    if (auto owner = OptHeader(h, "x-amz-expected-bucket-owner"); owner && !req.target.bucket.empty())
      EUCA_RETURN_IF_ERROR(walrus_.CheckExpectedOwner(req.target.bucket, *owner));
    if (auto owner = OptHeader(h, "x-amz-source-expected-bucket-owner"); owner && h.Has("x-amz-copy-source")) {
      EUCA_ASSIGN_OR_RETURN(auto source, ParseCopySource(h.Get("x-amz-copy-source")));
      EUCA_RETURN_IF_ERROR(walrus_.CheckExpectedOwner(source.first, *owner));
    }
    return Status::Ok();
  }

  /// The ACL a PUT ?acl sets: a canned one (x-amz-acl), grant headers (x-amz-grant-*) or an
  /// AccessControlPolicy document in the body; more than one of them is InvalidRequest, as S3.
  static Result<AclSpec> AclSpecOfPut(const Request& req, RequestBody& body) {
    EUCA_ASSIGN_OR_RETURN(std::string xml, ReadSmallBody(body));
    const bool canned = req.head.headers.Has("x-amz-acl"), grants = !req.grants.empty(),
               document = !api::TrimSpace(xml).empty();
    if (canned + grants + document > 1) {
      return S3Error(Code::kInvalidArgument,
                     "a request may give a canned ACL (x-amz-acl), grant headers (x-amz-grant-*) or an ACL document, "
                     "only one of them",
                     "InvalidRequest");
    }
    if (grants) return AclSpec{.acl = Acl{{}, req.grants}};
    return AclSpecOf(req.head.headers, xml);
  }

  static http::Response Empty(int status) {
    http::Response r;
    r.status = status;
    return r;
  }

  static http::Response AclResponse(const Acl& acl) {
    Xml xml("AccessControlPolicy");
    AddAcl(xml.root, acl);
    return XmlResponse(200, xml);
  }

  /// ListBuckets, with the `prefix`, `max-buckets` (1 to 10,000) and `continuation-token` of
  /// the current API. The token is the last name of the page before it, base64-encoded.
  Result<http::Response> ListBuckets(const Caller& caller, const Request& req) {
    if (caller.anonymous()) {
      return S3Error(Code::kPermissionDenied, "listing buckets needs credentials", "AccessDenied");
    }
    const Query& q = req.query;
    const std::string prefix = q.GetOr("prefix");
    EUCA_ASSIGN_OR_RETURN(int max, IntParam(q, "max-buckets", 10000));
    if (max < 1 || max > 10000) {
      return S3Error(Code::kInvalidArgument, "'max-buckets' must be from 1 to 10000, got " + std::to_string(max),
                     "InvalidArgument");
    }
    std::string after;
    if (auto token = q.Get("continuation-token")) {
      auto decoded = api::Base64Decode(*token);
      if (!decoded.ok() || decoded->empty()) {
        return S3Error(Code::kInvalidArgument, "the continuation token '" + *token + "' is not valid", "InvalidArgument");
      }
      after = *decoded;
    }
    EUCA_ASSIGN_OR_RETURN(ListBucketsResult result, walrus_.ListBuckets(caller));
    Xml xml("ListAllMyBucketsResult");
    AddOwner(xml.root, "Owner", result.owner);
    auto buckets = xml.root.append_child("Buckets");
    int listed = 0;
    std::string last;
    bool truncated = false;
    for (const auto& b : result.buckets) {  // ordered by name
      if (!StartsWith(b.name, prefix) || (!after.empty() && b.name <= after)) continue;
      if (listed == max) {
        truncated = true;
        break;
      }
      auto n = buckets.append_child("Bucket");
      Add(n, "Name", b.name);
      Add(n, "CreationDate", Iso8601(b.created_ms));
      last = b.name;
      ++listed;
    }
    if (truncated) Add(xml.root, "ContinuationToken", api::Base64Encode(last));
    if (q.Has("prefix")) Add(xml.root, "Prefix", prefix);
    return XmlResponse(200, xml);
  }

  Result<http::Response> CreateBucket(const Caller& caller, const Request& req, RequestBody& body) {
    CreateBucketRequest cr{.bucket = req.target.bucket,
                           .location_constraint = {},
                           .canned_acl = req.head.headers.Get("x-amz-acl"),
                           .grants = req.grants};
    EUCA_ASSIGN_OR_RETURN(std::string xml, ReadSmallBody(body));
    if (!api::TrimSpace(xml).empty()) {
      EUCA_ASSIGN_OR_RETURN(auto doc, ParseXml(xml));
      auto config = Child(*doc, "CreateBucketConfiguration");
      if (!config) return S3Error(Code::kInvalidArgument, "the XML you provided was not well-formed", "MalformedXML");
      cr.location_constraint = Child(config, "LocationConstraint").text().get();
    }
    EUCA_RETURN_IF_ERROR(walrus_.CreateBucket(caller, cr));
    http::Response r = Empty(200);
    r.headers.Set("Location", "/" + req.target.bucket);
    return r;
  }

  Result<http::Response> Location(const Caller& caller, const std::string& bucket) {
    EUCA_ASSIGN_OR_RETURN(std::string loc, walrus_.GetBucketLocation(caller, bucket));
    Xml xml("LocationConstraint");
    xml.root.text().set(loc.c_str());
    return XmlResponse(200, xml);
  }

  Result<http::Response> List(const Caller& caller, const Request& req) {
    const Query& q = req.query;
    ListObjectsRequest lr;
    lr.bucket = req.target.bucket;
    lr.prefix = q.GetOr("prefix");
    lr.delimiter = q.GetOr("delimiter");
    EUCA_ASSIGN_OR_RETURN(lr.max_keys, IntParam(q, "max-keys", 1000));
    lr.v2 = q.GetOr("list-type") == "2";
    lr.marker = q.GetOr("marker");
    lr.continuation_token = q.Get("continuation-token");
    lr.start_after = q.GetOr("start-after");
    std::string encoding = q.GetOr("encoding-type");
    if (!encoding.empty() && encoding != "url") {
      return S3Error(Code::kInvalidArgument, "invalid encoding type '" + encoding + "': only 'url' is supported",
                     "InvalidArgument");
    }
    Listing out(q, "ListBucketResult");
    bool fetch_owner = q.GetOr("fetch-owner") == "true";
    EUCA_ASSIGN_OR_RETURN(ListObjectsResult result, walrus_.ListObjects(caller, lr));
    Add(out.root(), "Name", lr.bucket);
    out.AddKey("Prefix", lr.prefix);
    if (lr.v2) {
      if (lr.continuation_token) Add(out.root(), "ContinuationToken", *lr.continuation_token);
      if (!lr.start_after.empty()) out.AddKey("StartAfter", lr.start_after);
      Add(out.root(), "KeyCount", std::to_string(result.key_count));
    } else {
      out.AddKey("Marker", lr.marker);
    }
    out.AddLimits("MaxKeys", result.max_keys, lr.delimiter, result.truncated);
    if (lr.v2 && !result.next_continuation_token.empty()) {
      Add(out.root(), "NextContinuationToken", result.next_continuation_token);
    }
    if (!lr.v2 && !result.next_marker.empty()) out.AddKey("NextMarker", result.next_marker);
    for (const auto& o : result.contents) out.AddObject(out.AddEntry("Contents", o.key), o, !lr.v2 || fetch_owner);
    out.AddCommonPrefixes(result.common_prefixes);
    return XmlResponse(200, out.xml);
  }

  Result<http::Response> ListVersions(const Caller& caller, const Request& req) {
    const Query& q = req.query;
    ListObjectVersionsRequest lr;
    lr.bucket = req.target.bucket;
    lr.prefix = q.GetOr("prefix");
    lr.delimiter = q.GetOr("delimiter");
    lr.key_marker = q.GetOr("key-marker");
    lr.version_id_marker = q.GetOr("version-id-marker");
    EUCA_ASSIGN_OR_RETURN(lr.max_keys, IntParam(q, "max-keys", 1000));
    Listing out(q, "ListVersionsResult");
    EUCA_ASSIGN_OR_RETURN(ListObjectVersionsResult result, walrus_.ListObjectVersions(caller, lr));
    Add(out.root(), "Name", lr.bucket);
    out.AddKey("Prefix", lr.prefix);
    out.AddKey("KeyMarker", lr.key_marker);
    Add(out.root(), "VersionIdMarker", lr.version_id_marker);
    if (!result.next_key_marker.empty()) out.AddKey("NextKeyMarker", result.next_key_marker);
    if (!result.next_version_id_marker.empty()) Add(out.root(), "NextVersionIdMarker", result.next_version_id_marker);
    out.AddLimits("MaxKeys", result.max_keys, lr.delimiter, result.truncated);
    for (const auto& v : result.versions) {
      auto n = out.AddEntry("Version", v.object.key);
      Add(n, "VersionId", v.version_id);
      Add(n, "IsLatest", v.is_latest ? "true" : "false");
      out.AddObject(n, v.object, true);
    }
    out.AddCommonPrefixes(result.common_prefixes);
    return XmlResponse(200, out.xml);
  }

  Result<http::Response> ListUploads(const Caller& caller, const Request& req) {
    const Query& q = req.query;
    ListMultipartUploadsRequest lr;
    lr.bucket = req.target.bucket;
    lr.prefix = q.GetOr("prefix");
    lr.delimiter = q.GetOr("delimiter");
    lr.key_marker = q.GetOr("key-marker");
    lr.upload_id_marker = q.GetOr("upload-id-marker");
    EUCA_ASSIGN_OR_RETURN(lr.max_uploads, IntParam(q, "max-uploads", 1000));
    Listing out(q, "ListMultipartUploadsResult");
    EUCA_ASSIGN_OR_RETURN(ListMultipartUploadsResult result, walrus_.ListMultipartUploads(caller, lr));
    Add(out.root(), "Bucket", lr.bucket);
    out.AddKey("KeyMarker", lr.key_marker);
    Add(out.root(), "UploadIdMarker", lr.upload_id_marker);
    out.AddKey("NextKeyMarker", result.next_key_marker);
    Add(out.root(), "NextUploadIdMarker", result.next_upload_id_marker);
    out.AddKey("Prefix", lr.prefix);
    if (!lr.delimiter.empty()) out.AddKey("Delimiter", lr.delimiter);
    out.AddLimits("MaxUploads", result.max_uploads, "", result.truncated);
    for (const auto& u : result.uploads) {
      auto n = out.AddEntry("Upload", u.key);
      Add(n, "UploadId", u.upload_id);
      AddOwner(n, "Initiator", u.initiator);
      AddOwner(n, "Owner", u.owner);
      Add(n, "StorageClass", "STANDARD");
      Add(n, "Initiated", Iso8601(u.initiated_ms));
    }
    out.AddCommonPrefixes(result.common_prefixes);
    return XmlResponse(200, out.xml);
  }

  Result<http::Response> Get(const Caller& caller, const Request& req, bool with_body) {
    const Query& q = req.query;
    if (caller.anonymous()) {
      for (const auto& [name, value] : q.raw) {
        if (StartsWith(name, "response-")) {
          return S3Error(Code::kInvalidArgument,
                         "response header overrides ('" + name + "') need a signed request, not an anonymous one",
                         "InvalidRequest");
        }
      }
    }
    GetObjectRequest gr{.bucket = req.target.bucket,
                        .key = req.target.key,
                        .range = OptHeader(req.head.headers, "Range"),
                        .conditions = ConditionsOf(req.head.headers, "")};
    if (q.Has("partNumber")) {
      EUCA_ASSIGN_OR_RETURN(gr.part_number, IntParam(q, "partNumber", 0));
    }
    auto got = with_body ? walrus_.GetObject(caller, gr) : walrus_.HeadObject(caller, gr);
    if (!got.ok() && S3ErrorCode(got.status()) == "InvalidRange") return RangeNotSatisfiable(caller, req, gr, got.status());
    EUCA_ASSIGN_OR_RETURN(GetObjectResult result, std::move(got));
    http::Response r;
    if (result.status == GetStatus::kNotModified) {
      r.status = 304;
      r.headers.Set("ETag", result.info.etag);
      r.headers.Set("Last-Modified", api::FormatHttpDate(result.info.last_modified_ms));
      return r;
    }
    r.status = result.status == GetStatus::kPartialContent ? 206 : 200;
    SetObjectHeaders(r, result.info, req.query);
    if (result.checksum && AsciiLower(req.head.headers.Get("x-amz-checksum-mode")) == "enabled") {
      r.headers.Set(ChecksumHeader(result.checksum->algorithm), result.checksum->value);
      r.headers.Set("x-amz-checksum-type", std::string(result.checksum->type()));
    }
    if (result.range) {
      r.headers.Set("Content-Range", "bytes " + std::to_string(result.range->first) + "-" +
                                         std::to_string(result.range->last) + "/" + std::to_string(result.info.size));
    }
    r.content_length = result.content_length;
    if (with_body && result.body) {
      std::shared_ptr<ObjectBody> obj(std::move(result.body));
      for (const auto& f : obj->FileRanges()) r.files.push_back({f.fd, f.offset, f.length});
      if (!r.files.empty()) r.files_owner = obj;
      r.source = [obj](char* buf, size_t n) -> Result<size_t> { return obj->Read(buf, n); };
    } else if (with_body) {
      r.source = [](char*, size_t) -> Result<size_t> { return size_t{0}; };
    }
    return r;
  }

  /// A 416 InvalidRange answer with the Content-Range "bytes */SIZE" that RFC 9110 §15.5.17
  /// asks for (the object is looked at again, without the range, for its size).
  Result<http::Response> RangeNotSatisfiable(const Caller& caller, const Request& req, GetObjectRequest gr,
                                             const Status& error) {
    gr.range.reset();
    gr.conditions = {};
    http::Response r = ErrorResponse(error, req, req.request_id);
    if (auto head = walrus_.HeadObject(caller, gr); head.ok()) {
      r.headers.Set("Content-Range", "bytes */" + std::to_string(head->info.size));
    }
    return r;
  }

  /// A body's length: Content-Length (or the decoded length of aws-chunked), or a chunked
  /// transfer coding; neither is 411 MissingContentLength.
  static Result<std::optional<uint64_t>> BodyLength(const Request& req, const api::Verified& v) {
    auto length = ContentLengthOf(req.head, v);
    if (!length && !req.head.headers.Has("Transfer-Encoding")) {
      return S3Error(Code::kInvalidArgument, "a PUT needs a Content-Length header", "MissingContentLength");
    }
    return length;
  }

  Result<http::Response> Put(const Caller& caller, const Request& req, RequestBody& body, const api::Verified& v) {
    const Headers& h = req.head.headers;
    EUCA_RETURN_IF_ERROR(CheckSdkChecksumAlgorithm(h, body));
    EUCA_ASSIGN_OR_RETURN(auto length, BodyLength(req, v));
    PutObjectRequest pr{.bucket = req.target.bucket,
                        .key = req.target.key,
                        .content = ContentOf(h),
                        .metadata = MetadataOf(h),
                        .canned_acl = h.Get("x-amz-acl"),
                        .grants = req.grants,
                        .content_md5 = OptHeader(h, "Content-MD5"),
                        .content_length = length,
                        .conditions = WriteConditionsOf(h)};
    // The reply waits for the group commit that makes the object durable, but no worker
    // thread waits with it: the thread that completes the commit sends it.
    auto pending = http::PendingResponse::Make();
    walrus_.PutObjectAsync(caller, pr, body,
                           [pending, resource = req.resource, request_id = req.request_id,
                            echo = body.checksum_echo()](Result<PutObjectResult> result) {
                             http::Response r;
                             if (result.ok()) {
                               r = Empty(200);
                               r.headers.Set("ETag", result->etag);
                               if (!echo->first.empty()) {
                                 r.headers.Set(echo->first, echo->second);
                                 r.headers.Set("x-amz-checksum-type", "FULL_OBJECT");
                               }
                             } else {
                               r = ErrorResponse(result.status(), resource, request_id);
                             }
                             r.headers.Set("x-amz-request-id", request_id);
                             pending->Send(std::move(r));
                           });
    return http::Response::Later(std::move(pending));
  }

  Result<http::Response> Copy(const Caller& caller, const Request& req) {
    const Headers& h = req.head.headers;
    EUCA_ASSIGN_OR_RETURN(auto source, ParseCopySource(h.Get("x-amz-copy-source")));
    std::string directive = h.Get("x-amz-metadata-directive");
    if (!directive.empty() && directive != "COPY" && directive != "REPLACE") {
      return S3Error(Code::kInvalidArgument, "unknown metadata directive '" + directive + "': use COPY or REPLACE",
                     "InvalidArgument");
    }
    CopyObjectRequest cr;
    cr.source_bucket = source.first;
    cr.source_key = source.second;
    cr.bucket = req.target.bucket;
    cr.key = req.target.key;
    cr.directive = directive == "REPLACE" ? MetadataDirective::kReplace : MetadataDirective::kCopy;
    if (cr.directive == MetadataDirective::kReplace) {
      cr.content = ContentOf(h);
      cr.metadata = MetadataOf(h);
    }
    cr.canned_acl = h.Get("x-amz-acl");
    cr.grants = req.grants;
    cr.source_conditions = ConditionsOf(h, "x-amz-copy-source-");
    cr.conditions = WriteConditionsOf(h);
    EUCA_ASSIGN_OR_RETURN(cr.checksum_algorithm, ChecksumAlgorithmHeader(h));
    EUCA_ASSIGN_OR_RETURN(CopyObjectResult result, walrus_.CopyObject(caller, cr));
    Xml xml("CopyObjectResult");
    Add(xml.root, "LastModified", Iso8601(result.last_modified_ms));
    Add(xml.root, "ETag", result.etag);
    AddChecksum(xml.root, result.checksum, true);
    return XmlResponse(200, xml);
  }

  Result<http::Response> CreateUpload(const Caller& caller, const Request& req) {
    const Headers& h = req.head.headers;
    CreateMultipartUploadRequest cr{.bucket = req.target.bucket,
                                    .key = req.target.key,
                                    .content = ContentOf(h),
                                    .metadata = MetadataOf(h),
                                    .canned_acl = h.Get("x-amz-acl"),
                                    .grants = req.grants};
    EUCA_ASSIGN_OR_RETURN(cr.checksum_algorithm, ChecksumAlgorithmHeader(h));
    cr.checksum_type = AsciiUpper(h.Get("x-amz-checksum-type"));
    EUCA_ASSIGN_OR_RETURN(std::string upload_id, walrus_.CreateMultipartUpload(caller, cr));
    Xml xml("InitiateMultipartUploadResult");
    Add(xml.root, "Bucket", cr.bucket);
    Add(xml.root, "Key", cr.key);
    Add(xml.root, "UploadId", upload_id);
    http::Response r = XmlResponse(200, xml);
    if (cr.checksum_algorithm) {
      r.headers.Set("x-amz-checksum-algorithm", std::string(ChecksumName(*cr.checksum_algorithm)));
      r.headers.Set("x-amz-checksum-type",
                    std::string(MultipartChecksumType(*cr.checksum_algorithm, cr.checksum_type)));
    }
    return r;
  }

  Result<http::Response> UploadPart(const Caller& caller, const Request& req, RequestBody& body,
                                    const api::Verified& v) {
    const Query& q = req.query;
    if (!q.Has("uploadId") || !q.Has("partNumber")) {
      return S3Error(Code::kInvalidArgument, "an upload part needs both 'uploadId' and 'partNumber'", "InvalidRequest");
    }
    EUCA_ASSIGN_OR_RETURN(int part, IntParam(q, "partNumber", 0));
    const Headers& h = req.head.headers;
    if (h.Has("x-amz-copy-source")) {
      EUCA_ASSIGN_OR_RETURN(auto source, ParseCopySource(h.Get("x-amz-copy-source")));
      UploadPartCopyRequest ur{.bucket = req.target.bucket,
                               .key = req.target.key,
                               .upload_id = q.GetOr("uploadId"),
                               .part_number = part,
                               .source_bucket = source.first,
                               .source_key = source.second,
                               .source_range = OptHeader(h, "x-amz-copy-source-range"),
                               .source_conditions = ConditionsOf(h, "x-amz-copy-source-")};
      EUCA_ASSIGN_OR_RETURN(CopyObjectResult result, walrus_.UploadPartCopy(caller, ur));
      Xml xml("CopyPartResult");
      Add(xml.root, "LastModified", Iso8601(result.last_modified_ms));
      Add(xml.root, "ETag", result.etag);
      AddChecksum(xml.root, result.checksum, false);
      return XmlResponse(200, xml);
    }
    EUCA_RETURN_IF_ERROR(CheckSdkChecksumAlgorithm(h, body));
    EUCA_ASSIGN_OR_RETURN(auto length, BodyLength(req, v));
    UploadPartRequest ur{.bucket = req.target.bucket,
                         .key = req.target.key,
                         .upload_id = q.GetOr("uploadId"),
                         .part_number = part,
                         .content_md5 = OptHeader(h, "Content-MD5"),
                         .content_length = length,
                         .checksum_algorithm = body.checksum_algorithm()};
    EUCA_ASSIGN_OR_RETURN(std::string etag, walrus_.UploadPart(caller, ur, body));
    http::Response r = Empty(200);
    r.headers.Set("ETag", etag);
    if (auto echo = body.checksum_echo(); !echo->first.empty()) r.headers.Set(echo->first, echo->second);
    return r;
  }

  Result<http::Response> CompleteUpload(const Caller& caller, const Request& req, RequestBody& body) {
    EUCA_ASSIGN_OR_RETURN(std::string text, ReadSmallBody(body));
    EUCA_ASSIGN_OR_RETURN(auto doc, ParseXml(text));
    auto root = Child(*doc, "CompleteMultipartUpload");
    if (!root) return S3Error(Code::kInvalidArgument, "the XML you provided was not well-formed", "MalformedXML");
    CompleteMultipartUploadRequest cr{.bucket = req.target.bucket,
                                      .key = req.target.key,
                                      .upload_id = req.query.GetOr("uploadId"),
                                      .parts = {},
                                      .conditions = WriteConditionsOf(req.head.headers)};
    for (auto p : root.children()) {
      std::string_view name = p.name();
      if (name != "Part" && !name.ends_with(":Part")) continue;
      auto number = Child(p, "PartNumber");
      auto etag = Child(p, "ETag");
      if (!number || !etag) return S3Error(Code::kInvalidArgument, "each Part needs a PartNumber and an ETag", "MalformedXML");
      cr.parts.push_back({number.text().as_int(0), etag.text().get(), ListedChecksum(p)});
    }
    EUCA_ASSIGN_OR_RETURN(cr.checksum, ObjectChecksumOf(req.head.headers));  // "-N" for a composite
    cr.checksum_type = AsciiUpper(req.head.headers.Get("x-amz-checksum-type"));
    if (cr.parts.empty()) {
      return S3Error(Code::kInvalidArgument, "the XML you provided lists no parts", "MalformedXML");
    }
    EUCA_ASSIGN_OR_RETURN(CompleteMultipartUploadResult result, walrus_.CompleteMultipartUpload(caller, cr));
    Xml xml("CompleteMultipartUploadResult");
    Add(xml.root, "Location", "/" + result.bucket + "/" + api::UriEncode(result.key, true));
    Add(xml.root, "Bucket", result.bucket);
    Add(xml.root, "Key", result.key);
    Add(xml.root, "ETag", result.etag);
    AddChecksum(xml.root, result.checksum, true);
    return XmlResponse(200, xml);
  }

  Result<http::Response> ListParts(const Caller& caller, const Request& req) {
    const Query& q = req.query;
    ListPartsRequest lr{.bucket = req.target.bucket, .key = req.target.key, .upload_id = q.GetOr("uploadId")};
    EUCA_ASSIGN_OR_RETURN(lr.part_number_marker, IntParam(q, "part-number-marker", 0));
    EUCA_ASSIGN_OR_RETURN(lr.max_parts, IntParam(q, "max-parts", 1000));
    EUCA_ASSIGN_OR_RETURN(ListPartsResult result, walrus_.ListParts(caller, lr));
    Xml xml("ListPartsResult");
    auto root = xml.root;
    Add(root, "Bucket", result.bucket);
    Add(root, "Key", result.key);
    Add(root, "UploadId", result.upload_id);
    AddOwner(root, "Initiator", result.initiator);
    AddOwner(root, "Owner", result.owner);
    Add(root, "StorageClass", "STANDARD");
    Add(root, "PartNumberMarker", std::to_string(result.part_number_marker));
    Add(root, "NextPartNumberMarker", std::to_string(result.next_part_number_marker));
    Add(root, "MaxParts", std::to_string(result.max_parts));
    Add(root, "IsTruncated", result.truncated ? "true" : "false");
    if (result.checksum_algorithm) {
      Add(root, "ChecksumAlgorithm", std::string(ChecksumName(*result.checksum_algorithm)));
      Add(root, "ChecksumType", result.checksum_type);
    }
    for (const auto& p : result.parts) {
      auto n = root.append_child("Part");
      Add(n, "PartNumber", std::to_string(p.part_number));
      Add(n, "LastModified", Iso8601(p.last_modified_ms));
      Add(n, "ETag", p.etag);
      Add(n, "Size", std::to_string(p.size));
      AddChecksum(n, p.checksum, false);
    }
    return XmlResponse(200, xml);
  }

  /// GetObjectAttributes (GET ?attributes): the attributes x-amz-object-attributes names, as
  /// S3 (ETag without its quotes; ObjectParts only for a multipart object, its Part entries
  /// only when the parts have checksums).
  Result<http::Response> Attributes(const Caller& caller, const Request& req) {
    const Headers& h = req.head.headers;
    std::vector<std::string> wanted;
    std::stringstream list(h.Get("x-amz-object-attributes"));
    for (std::string item; std::getline(list, item, ',');) {
      std::string name(api::TrimSpace(item));
      if (name.empty()) continue;
      if (name != "ETag" && name != "Checksum" && name != "ObjectParts" && name != "StorageClass" &&
          name != "ObjectSize") {
        return S3Error(Code::kInvalidArgument,
                       "invalid attribute name '" + name +
                           "' in x-amz-object-attributes: use ETag, Checksum, ObjectParts, StorageClass, ObjectSize",
                       "InvalidArgument");
      }
      wanted.push_back(name);
    }
    if (wanted.empty()) {
      return S3Error(Code::kInvalidArgument,
                     "the x-amz-object-attributes header specifying the attributes to be retrieved is missing or empty",
                     "InvalidArgument");
    }
    auto has = [&](std::string_view n) { return std::find(wanted.begin(), wanted.end(), n) != wanted.end(); };
    auto header_int = [&](const char* name, int def) -> Result<int> {
      const std::string* v = h.Find(name);
      if (!v) return def;
      Query q{{{name, *v}}};
      return IntParam(q, name, def);
    };
    GetObjectAttributesRequest ar{.bucket = req.target.bucket, .key = req.target.key};
    EUCA_ASSIGN_OR_RETURN(ar.max_parts, header_int("x-amz-max-parts", 1000));
    EUCA_ASSIGN_OR_RETURN(ar.part_number_marker, header_int("x-amz-part-number-marker", 0));
    EUCA_ASSIGN_OR_RETURN(GetObjectAttributesResult result, walrus_.GetObjectAttributes(caller, ar));
    Xml xml("GetObjectAttributesResponse");
    auto root = xml.root;
    if (has("ETag")) Add(root, "ETag", std::string(BareEtag(result.info.etag)));
    if (has("Checksum") && result.info.checksum) AddChecksum(root.append_child("Checksum"), result.info.checksum, true);
    if (has("ObjectParts") && result.parts_count > 0) {
      auto parts = root.append_child("ObjectParts");
      Add(parts, "PartsCount", std::to_string(result.parts_count));
      Add(parts, "PartNumberMarker", std::to_string(result.part_number_marker));
      Add(parts, "NextPartNumberMarker", std::to_string(result.next_part_number_marker));
      Add(parts, "MaxParts", std::to_string(result.max_parts));
      Add(parts, "IsTruncated", result.truncated ? "true" : "false");
      for (const auto& p : result.parts) {
        auto n = parts.append_child("Part");
        Add(n, "PartNumber", std::to_string(p.part_number));
        Add(n, "Size", std::to_string(p.size));
        AddChecksum(n, p.checksum, false);
      }
    }
    if (has("StorageClass")) Add(root, "StorageClass", "STANDARD");
    if (has("ObjectSize")) Add(root, "ObjectSize", std::to_string(result.info.size));
    http::Response r = XmlResponse(200, xml);
    r.headers.Set("Last-Modified", api::FormatHttpDate(result.info.last_modified_ms));
    return r;
  }

  /// x-amz-sdk-checksum-algorithm names the checksum an SDK sends with the body: without one
  /// (header or trailer), or with one of another algorithm, the request is refused as S3 does.
  static Status CheckSdkChecksumAlgorithm(const Headers& h, const RequestBody& body) {
    const std::string* sdk = h.Find("x-amz-sdk-checksum-algorithm");
    if (!sdk) return Status::Ok();
    if (!body.checksum_algorithm()) {
      return S3Error(Code::kInvalidArgument,
                     "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer "
                     "headers were found",
                     "InvalidRequest");
    }
    if (ParseChecksumAlgorithm(*sdk) != body.checksum_algorithm()) {
      return S3Error(Code::kInvalidArgument,
                     "value for x-amz-sdk-checksum-algorithm header is invalid: '" + *sdk + "' but the request sends " +
                         ChecksumHeader(*body.checksum_algorithm()),
                     "InvalidRequest");
    }
    return Status::Ok();
  }

  /// DeleteObjects' body must come with its Content-MD5 or an x-amz-checksum-* (checked as
  /// the body is read), so that a garbled list deletes nothing.
  static Status CheckDeleteListDigest(const Request& req, const RequestBody& body, const std::string& text) {
    const std::string* md5 = req.head.headers.Find("Content-MD5");
    if (!md5) {
      if (body.has_checksum()) return Status::Ok();
      return S3Error(Code::kInvalidArgument,
                     "missing required header for this request: Content-MD5 (or an x-amz-checksum-* header)",
                     "InvalidRequest");
    }
    EUCA_ASSIGN_OR_RETURN(std::string want, DecodeContentMd5(*md5));
    if (want != api::Md5(text)) {
      return S3Error(Code::kInvalidArgument, "the Content-MD5 you specified did not match what was received",
                     "BadDigest");
    }
    return Status::Ok();
  }

  Result<http::Response> DeleteObjects(const Caller& caller, const Request& req, RequestBody& body) {
    EUCA_ASSIGN_OR_RETURN(std::string text, ReadSmallBody(body));
    EUCA_RETURN_IF_ERROR(CheckDeleteListDigest(req, body, text));
    EUCA_ASSIGN_OR_RETURN(auto doc, ParseXml(text));
    auto root = Child(*doc, "Delete");
    if (!root) return S3Error(Code::kInvalidArgument, "the XML you provided was not well-formed", "MalformedXML");
    bool quiet = std::string(Child(root, "Quiet").text().get()) == "true";
    std::vector<std::string> keys;
    for (auto o : root.children()) {
      std::string_view name = o.name();
      if (name != "Object" && !name.ends_with(":Object")) continue;
      auto key = Child(o, "Key");
      if (!key) return S3Error(Code::kInvalidArgument, "each Object needs a Key", "MalformedXML");
      keys.emplace_back(key.text().get());
    }
    EUCA_ASSIGN_OR_RETURN(std::vector<DeleteResult> results, walrus_.DeleteObjects(caller, req.target.bucket, keys));
    Xml xml("DeleteResult");
    for (const auto& r : results) {
      if (r.status.ok()) {
        if (!quiet) Add(xml.root.append_child("Deleted"), "Key", r.key);
      } else {
        auto e = xml.root.append_child("Error");
        Add(e, "Key", r.key);
        Add(e, "Code", std::string(S3ErrorCode(r.status)));
        Add(e, "Message", r.status.message());
      }
    }
    return XmlResponse(200, xml);
  }

  Walrus& walrus_;
  KeyLookup lookup_;
  S3RestOptions options_;
};

}  // namespace

S3Target ResolveS3Target(const std::string& raw_path, const std::string& host, const std::vector<std::string>& domains) {
  S3Target t;
  std::string path = raw_path.empty() ? "/" : raw_path;
  for (const char* prefix : kServicePrefixes) {
    std::string_view p(prefix);
    if (StartsWith(path, p) && (path.size() == p.size() || path[p.size()] == '/')) {
      t.service_prefix = prefix;
      path = path.substr(p.size());
      if (path.empty()) path = "/";
      break;
    }
  }
  // Host without its port (IPv6 literals in brackets keep theirs).
  std::string h = AsciiLower(host);
  if (!h.empty() && h[0] != '[') {
    auto colon = h.rfind(':');
    if (colon != std::string::npos) h = h.substr(0, colon);
  }
  for (const auto& d : domains) {
    std::string domain = AsciiLower(d);
    if (domain.empty() || h.size() <= domain.size() + 1) continue;
    if (h.compare(h.size() - domain.size(), domain.size(), domain) == 0 && h[h.size() - domain.size() - 1] == '.') {
      t.virtual_host = true;
      t.bucket = h.substr(0, h.size() - domain.size() - 1);
      std::string rest = path.size() > 1 ? path.substr(1) : "";
      t.key = api::PercentDecode(rest, false);
      return t;
    }
  }
  std::string rest = path.substr(1);
  auto slash = rest.find('/');
  if (slash == std::string::npos) {
    t.bucket = api::PercentDecode(rest, false);
  } else {
    t.bucket = api::PercentDecode(rest.substr(0, slash), false);
    t.key = api::PercentDecode(rest.substr(slash + 1), false);
  }
  return t;
}

bool IsQuickS3Request(const http::RequestHead& head, const std::vector<std::string>& domains) {
  const bool get = head.method == "GET" || head.method == "HEAD";
  if (!get && head.method != "PUT") return false;
  if (IsInternalRequest(head, domains)) return false;
  if (head.headers.Has("x-amz-copy-source")) return false;
  // A body the server read ahead (at most http::kSmallBodyBytes) is no larger than what the
  // filesystem backend keeps in its database (kInlineBlobMax; cmd/serve.cc asserts it), so
  // such a PUT writes and syncs no file itself. Multipart parts are files written and synced by the handler; subresources (?acl, ?tagging,
  // ?uploads ...) are left to the workers too. A presigned GET's query is all X-Amz-*, a GET's
  // response-* overrides and versionId are answered as quickly as a plain GET.
  for (const auto& [name, value] : api::SplitQuery(head.query)) {
    if (get && (StartsWith(name, "X-Amz-") || StartsWith(name, "response-") || name == "versionId" ||
                name == "AWSAccessKeyId" || name == "Signature" || name == "Expires"))
      continue;
    return false;
  }
  return !ResolveS3Target(head.path, head.headers.Get("host"), domains).key.empty();
}

http::Handler MakeS3Handler(Walrus& walrus, KeyLookup lookup, S3RestOptions options) {
  auto rest = std::make_shared<S3Rest>(walrus, std::move(lookup), std::move(options));
  return [rest](const http::RequestHead& head, http::BodyReader& body) { return rest->Handle(head, body); };
}

}  // namespace euca::walrus
