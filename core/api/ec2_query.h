#pragma once
// The EC2 Query API on the wire (docs/ec2-api.md): a request is Action, Version and flat
// parameters from a form body (POST application/x-www-form-urlencoded) or a query string
// (GET); lists are numbered members ("InstanceId.1", "InstanceId.2", ...), filters are
// "Filter.N.Name" / "Filter.N.Value.M". A reply is an XML document "<ActionResponse>" in the
// EC2 namespace of the request's version, starting with <requestId>; an error is EC2's
// "<Response><Errors><Error>" document. HTTP stays outside: the daemon (core/clc/ec2_rest)
// and the command-side client fill and read these types. Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/api/encoding.h"
#include "core/base/status.h"

namespace euca::api {

/// The API version our clients send and unversioned requests get (AWS CLI 2 sends it too).
inline constexpr char kEc2Version[] = "2016-11-15";

/// "http://ec2.amazonaws.com/doc/VERSION/".
std::string Ec2Namespace(std::string_view version);

/// EC2's time form: "2016-11-23T08:00:00.000Z" (UTC, milliseconds).
std::string Ec2Timestamp(int64_t millis);

/// One Filter.N: a name and its values (any value may match).
struct Ec2Filter {
  std::string name;
  std::vector<std::string> values;
};

/// True when `value` matches one of the filter's values; values may hold EC2's wildcards
/// '*' (any run) and '?' (one character), "\*" "\?" "\\" escape them.
bool FilterMatches(const Ec2Filter& filter, std::string_view value);

/// One EC2 request: its action, version, request id and decoded parameters (everything but
/// Action, Version and the signature's own parameters), in arrival order.
class Ec2Request final {
 public:
  Ec2Request() = default;
  Ec2Request(std::string action, std::string version, std::string request_id,
             std::vector<std::pair<std::string, std::string>> params);

  /// Builds a request from raw (still percent-encoded) parameters: the query string's, then
  /// the form body's. MissingAction (400) without Action; InvalidParameterValue for a
  /// Version that is not YYYY-MM-DD. A missing Version reads as kEc2Version. Parameters of
  /// the signature (AWSAccessKeyId, Signature*, Timestamp, Expires, X-Amz-*) are dropped.
  static Result<Ec2Request> FromParams(const QueryParams& raw, std::string request_id);
  /// FromParams over an HTTP request: the query string, plus the body of a POST whose
  /// Content-Type is application/x-www-form-urlencoded (InvalidParameterValue for a POST body
  /// of another type).
  static Result<Ec2Request> FromHttp(std::string_view method, std::string_view raw_query, std::string_view content_type,
                                     std::string_view body, std::string request_id);

  const std::string& action() const { return action_; }
  const std::string& version() const { return version_; }
  const std::string& request_id() const { return request_id_; }
  const std::vector<std::pair<std::string, std::string>>& params() const { return params_; }

  /// The value of `name` (the first, if repeated).
  std::optional<std::string> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  std::string GetOr(std::string_view name, std::string fallback = {}) const;
  /// MissingParameter (400) "the request must contain the parameter NAME" when absent or empty.
  Result<std::string> Required(std::string_view name) const;
  /// An integer in [min, max]; nullopt when absent; InvalidParameterValue otherwise.
  Result<std::optional<int64_t>> GetInt(std::string_view name, int64_t min, int64_t max) const;
  /// "true"/"false" (any case); nullopt when absent; InvalidParameterValue otherwise.
  Result<std::optional<bool>> GetBool(std::string_view name) const;

  /// The numbers N of members "PREFIX.N" and "PREFIX.N.*", ascending numerically (N >= 1).
  std::vector<int> Indices(std::string_view prefix) const;
  /// The values of "PREFIX.1", "PREFIX.2", ... in numeric order (so .10 follows .9).
  std::vector<std::string> List(std::string_view prefix) const;
  /// Filter.N.Name / Filter.N.Value.M in numeric order. InvalidParameterValue for a filter
  /// without a name or without values.
  Result<std::vector<Ec2Filter>> Filters() const;

 private:
  std::string action_;
  std::string version_ = kEc2Version;
  std::string request_id_;
  std::vector<std::pair<std::string, std::string>> params_;
};

/// A request's parameters as a form body (Action, Version, then `params`), each name and value
/// UriEncoded: what our client POSTs.
std::string Ec2FormBody(std::string_view action, std::string_view version,
                        const std::vector<std::pair<std::string, std::string>>& params);

/// A reply document being built: <?xml?> then <ACTIONResponse xmlns="NS"><requestId>.
class Ec2Response final {
 public:
  Ec2Response(std::string_view action, std::string_view version, std::string_view request_id);
  Ec2Response(const Ec2Response&) = delete;
  Ec2Response& operator=(const Ec2Response&) = delete;

  /// The <ACTIONResponse> element; actions append their result elements to it.
  pugi::xml_node root() const { return root_; }
  pugi::xml_document& document() { return doc_; }
  /// The document as sent: compact, UTF-8.
  std::string ToString() const;

 private:
  pugi::xml_document doc_;
  pugi::xml_node root_;
};

/// The EC2 code of `status`: its wire code if any, else the error map's default.
std::string Ec2ErrorCode(const Status& status);

/// EC2's error document for `status`:
/// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
std::string Ec2ErrorXml(const Status& status, std::string_view request_id);

/// Reads an EC2 error document (also the <ErrorResponse> form some servers send) into a
/// Status: the code of CodeOfEc2Error, the EC2 code as wire code, the server's message. A
/// body that is not one gives a Status from `http_status` alone.
Status ParseEc2Error(std::string_view body, int http_status);

// Small builders shared by the actions.

/// Appends <name>text</name> to `parent` and returns it.
pugi::xml_node AddText(pugi::xml_node parent, const char* name, std::string_view text);
/// Appends <name>true|false</name>.
pugi::xml_node AddBool(pugi::xml_node parent, const char* name, bool value);
/// Appends <name>N</name>.
pugi::xml_node AddInt(pugi::xml_node parent, const char* name, int64_t value);
/// Appends an <item> to a set element (keySet, imagesSet, ...).
inline pugi::xml_node AddItem(pugi::xml_node set) { return set.append_child("item"); }
/// The text of child `name` of `node` ("" when absent).
std::string ChildText(pugi::xml_node node, const char* name);

}  // namespace euca::api
