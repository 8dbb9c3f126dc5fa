#pragma once
// Time comes from a Clock so tests move time instead of sleeping.

#include <cstdint>
#include <string>

#include "core/base/status.h"

namespace euca {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Wall-clock time, milliseconds since the Unix epoch (UTC).
  virtual int64_t NowMillis() = 0;
  /// Monotonic nanoseconds, for measuring durations only.
  virtual int64_t MonotonicNanos() = 0;
};

/// The process-wide real clock. Thread-safe.
Clock& RealClock();

/// A clock that moves only when told to. Thread-compatible.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_millis = 1'700'000'000'000) : now_(now_millis) {}
  int64_t NowMillis() override { return now_; }
  int64_t MonotonicNanos() override { return now_ * 1'000'000; }
  void Advance(int64_t millis) { now_ += millis; }
  void Set(int64_t millis) { now_ = millis; }

 private:
  int64_t now_;
};

/// `millis` in UTC through strftime(3) `format` (second precision).
std::string FormatUtc(int64_t millis, const char* format);
/// "2026-11-23T16:24:18Z" (ISO 8601, UTC, second precision).
std::string FormatIso8601(int64_t millis);
/// Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)" or a date "YYYY-MM-DD" (midnight UTC).
Result<int64_t> ParseIso8601(const std::string& text);

}  // namespace euca
