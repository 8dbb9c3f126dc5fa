#include "core/api/encoding.h"

#include "core/base/clock.h"

#include <cstdio>
#include <cstring>
#include <ctime>

namespace euca::api {
namespace {

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

int MonthIndex(const char* name) {
  for (int i = 0; i < 12; ++i)
    if (strncasecmp(name, kMonths[i], 3) == 0 && name[3] == '\0') return i;
  return -1;
}

Result<int64_t> FromFields(std::string_view text, int y, int mon, int d, int h, int mi, int s, int64_t offset_secs) {
  if (mon < 0 || mon > 11 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || y < 1970)
    return InvalidArgument("invalid date '" + std::string(text) + "': field out of range");
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return (static_cast<int64_t>(timegm(&tm)) - offset_secs) * 1000;
}

// A zone of an HTTP date: GMT, UTC, Z or ±HHMM; false otherwise.
bool ParseZone(const char* zone, int64_t* offset_secs) {
  if (strcmp(zone, "GMT") == 0 || strcmp(zone, "UTC") == 0 || strcmp(zone, "UT") == 0 || strcmp(zone, "Z") == 0) {
    *offset_secs = 0;
    return true;
  }
  if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) == 5) {
    for (int i = 1; i < 5; ++i)
      if (zone[i] < '0' || zone[i] > '9') return false;
    int hh = (zone[1] - '0') * 10 + (zone[2] - '0');
    int mm = (zone[3] - '0') * 10 + (zone[4] - '0');
    *offset_secs = static_cast<int64_t>(hh * 3600 + mm * 60) * (zone[0] == '+' ? 1 : -1);
    return true;
  }
  return false;
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (unsigned char c : s) {
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string PercentDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

QueryParams SplitQuery(std::string_view raw_query) {
  QueryParams out;
  size_t pos = 0;
  while (pos <= raw_query.size()) {
    size_t amp = raw_query.find('&', pos);
    if (amp == std::string_view::npos) amp = raw_query.size();
    std::string_view piece = raw_query.substr(pos, amp - pos);
    if (!piece.empty()) {
      size_t eq = piece.find('=');
      if (eq == std::string_view::npos)
        out.emplace_back(std::string(piece), std::string());
      else
        out.emplace_back(std::string(piece.substr(0, eq)), std::string(piece.substr(eq + 1)));
    }
    pos = amp + 1;
  }
  return out;
}

std::string JoinQuery(const QueryParams& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

bool FindQueryParam(const QueryParams& params, std::string_view name, std::string* decoded_value) {
  for (const auto& [n, v] : params) {
    if (n == name || PercentDecode(n, true) == name) {
      if (decoded_value) *decoded_value = PercentDecode(v, true);
      return true;
    }
  }
  return false;
}

std::string NormalizePath(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(pos, slash - pos);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    pos = slash + 1;
  }
  std::string out = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i) out.push_back('/');
    out += segments[i];
  }
  if (path.back() == '/' && !segments.empty()) out.push_back('/');
  return out.empty() ? "/" : out;
}

std::string FormatAmzDate(int64_t millis) { return FormatUtc(millis, "%Y%m%dT%H%M%SZ"); }

Result<int64_t> ParseAmzDate(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z')
    return InvalidArgument("invalid date '" + std::string(text) + "': expected YYYYMMDDTHHMMSSZ");
  int v[6] = {};
  const int starts[6] = {0, 4, 6, 9, 11, 13}, lens[6] = {4, 2, 2, 2, 2, 2};
  for (int f = 0; f < 6; ++f) {
    for (int i = 0; i < lens[f]; ++i) {
      char c = text[static_cast<size_t>(starts[f]) + static_cast<size_t>(i)];
      if (c < '0' || c > '9')
        return InvalidArgument("invalid date '" + std::string(text) + "': expected YYYYMMDDTHHMMSSZ");
      v[f] = v[f] * 10 + (c - '0');
    }
  }
  return FromFields(text, v[0], v[1] - 1, v[2], v[3], v[4], v[5], 0);
}

std::string FormatHttpDate(int64_t millis) {
  time_t secs = static_cast<time_t>(millis / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
           tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Result<int64_t> ParseHttpDate(std::string_view text) {
  std::string s(text);
  char wday[16] = {}, mon[8] = {}, zone[8] = {};
  int d = 0, y = 0, h = 0, mi = 0, sec = 0, consumed = 0;
  int64_t offset = 0;
  // RFC 1123: "Sun, 06 Nov 1994 08:49:37 GMT".
  if (sscanf(s.c_str(), "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %7s%n", wday, &d, mon, &y, &h, &mi, &sec, zone,
             &consumed) == 8 &&
      static_cast<size_t>(consumed) == s.size() && ParseZone(zone, &offset))
    return FromFields(text, y, MonthIndex(mon), d, h, mi, sec, offset);
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT".
  if (sscanf(s.c_str(), "%15[A-Za-z], %2d-%3[A-Za-z]-%4d %2d:%2d:%2d %7s%n", wday, &d, mon, &y, &h, &mi, &sec, zone,
             &consumed) == 8 &&
      static_cast<size_t>(consumed) == s.size() && ParseZone(zone, &offset))
    return FromFields(text, y < 100 ? (y < 70 ? 2000 + y : 1900 + y) : y, MonthIndex(mon), d, h, mi, sec, offset);
  // asctime: "Sun Nov  6 08:49:37 1994".
  if (sscanf(s.c_str(), "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wday, mon, &d, &h, &mi, &sec, &y, &consumed) ==
          7 &&
      static_cast<size_t>(consumed) == s.size())
    return FromFields(text, y, MonthIndex(mon), d, h, mi, sec, 0);
  return InvalidArgument("invalid date '" + std::string(text) + "': expected an HTTP date such as " +
                         "'Fri, 24 May 2013 00:00:00 GMT'");
}

}  // namespace euca::api
