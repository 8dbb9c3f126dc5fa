#include "core/base/clock.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace euca {
namespace {

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t MonotonicNanos() override {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

Clock& RealClock() {
  static SystemClock clock;
  return clock;
}

std::string FormatUtc(int64_t millis, const char* format) {
  time_t secs = static_cast<time_t>(millis / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

std::string FormatIso8601(int64_t millis) { return FormatUtc(millis, "%Y-%m-%dT%H:%M:%SZ"); }

Result<int64_t> ParseIso8601(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int consumed = 0;
  struct tm tm {};
  int64_t offset_secs = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) == 6) {
    const char* rest = text.c_str() + consumed;
    int64_t frac_ms = 0;
    if (*rest == '.') {
      ++rest;
      int digits = 0;
      while (*rest >= '0' && *rest <= '9') {
        if (digits < 3) frac_ms = frac_ms * 10 + (*rest - '0');
        ++digits;
        ++rest;
      }
      if (digits == 0) return InvalidArgument("invalid time '" + text + "': expected digits after '.'");
      for (; digits < 3; ++digits) frac_ms *= 10;
    }
    if (*rest == 'Z' && rest[1] == '\0') {
      offset_secs = 0;
    } else if ((*rest == '+' || *rest == '-') && std::strlen(rest) == 6 && rest[3] == ':') {
      int oh = 0, om = 0;
      if (std::sscanf(rest + 1, "%2d:%2d", &oh, &om) != 2)
        return InvalidArgument("invalid time '" + text + "': bad UTC offset");
      offset_secs = (oh * 3600 + om * 60) * (*rest == '+' ? 1 : -1);
    } else {
      return InvalidArgument("invalid time '" + text + "': expected ISO 8601 such as 2026-01-31T12:00:00Z");
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
      return InvalidArgument("invalid time '" + text + "': field out of range");
    return (static_cast<int64_t>(timegm(&tm)) - offset_secs) * 1000 + frac_ms;
  }
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) == 3 &&
      text.size() == static_cast<size_t>(consumed)) {
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
      return InvalidArgument("invalid date '" + text + "': field out of range");
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    return static_cast<int64_t>(timegm(&tm)) * 1000;
  }
  return InvalidArgument("invalid time '" + text + "': expected ISO 8601 such as 2026-01-31T12:00:00Z");
}

}  // namespace euca
