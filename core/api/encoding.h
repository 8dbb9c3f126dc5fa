#pragma once
// The text forms AWS signatures are computed over: RFC 3986 percent-encoding, raw query
// splitting, path normalization, and the three timestamp formats (ISO 8601 basic for SigV4,
// RFC 1123 for HTTP dates, ISO 8601 extended for EC2 SigV2). Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace euca::api {

/// Query parameters as they arrived: (name, value) pairs still percent-encoded, in order.
/// A name without '=' has an empty value. Names may repeat.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

/// AWS's UriEncode: bytes of [A-Za-z0-9-._~] stay, every other byte becomes "%XX" (upper-case
/// hex); '/' stays as well when `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);

/// Decodes "%XX" escapes; a '%' not followed by two hex digits stays as it is. With
/// `plus_as_space`, '+' decodes to ' ' (form and query semantics).
std::string PercentDecode(std::string_view s, bool plus_as_space);

/// `s` without leading and trailing spaces and tabs.
std::string_view TrimSpace(std::string_view s);

/// Splits a raw query string ("a=1&b&c=") into raw pairs; empty pieces are skipped.
QueryParams SplitQuery(std::string_view raw_query);

/// Joins raw pairs back into a query string ("a=1&b=").
std::string JoinQuery(const QueryParams& params);

/// Finds the first parameter whose decoded name is `name`; on success stores its decoded
/// value in `*decoded_value` (when not null) and returns true.
bool FindQueryParam(const QueryParams& params, std::string_view name, std::string* decoded_value = nullptr);

/// RFC 3986 §5.2.4 dot-segment removal with empty segments dropped too, as AWS normalizes
/// paths for every service but S3: "/a//b/../c/" -> "/a/c/", "" -> "/".
std::string NormalizePath(std::string_view path);

/// "20130524T000000Z" (SigV4 X-Amz-Date) for milliseconds since the epoch.
std::string FormatAmzDate(int64_t millis);
/// Parses "YYYYMMDDTHHMMSSZ"; InvalidArgument otherwise.
Result<int64_t> ParseAmzDate(std::string_view text);

/// "Fri, 24 May 2013 00:00:00 GMT" (RFC 1123, the HTTP Date form).
std::string FormatHttpDate(int64_t millis);
/// Parses an RFC 1123 date ("Fri, 24 May 2013 00:00:00 GMT", zone GMT, UTC, Z or +0000), the
/// obsolete RFC 850 and asctime forms; InvalidArgument otherwise.
Result<int64_t> ParseHttpDate(std::string_view text);

}  // namespace euca::api
