#pragma once
// Errors as values: one Status with a small code set, and Result<T> = value or Status.
// Codes are mapped to the outside world (CLI exit status, HTTP status, EC2 and S3 error
// codes) in exactly one table, error_map.h.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace euca {

enum class Code {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kConflict,
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,
  kUnsupported,
  kUnavailable,
  kInternal,
};

/// Name of a code, e.g. "NotFound".
std::string_view CodeName(Code code);

/// An error code with a human message. A wire code (e.g. "InvalidInstanceID.NotFound")
/// may refine the default EC2/S3 code of the error map. Cheap to copy.
class [[nodiscard]] Status final {
 public:
  Status() = default;
  Status(Code code, std::string message, std::string wire_code = {})
      : code_(code), message_(std::move(message)), wire_code_(std::move(wire_code)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& wire_code() const { return wire_code_; }

  /// Returns a copy whose message is "context: message".
  Status WithContext(std::string_view context) const;
  /// "NotFound: message" (for logs and tests).
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string wire_code_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status Unsupported(std::string m) { return {Code::kUnsupported, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

/// Translates errno into a Status at an OS seam: "<what>: <strerror>".
Status ErrnoStatus(std::string_view what, int err);

/// A value or an error. REQUIRES: a Result built from a Status is not ok.
template <typename T>
class [[nodiscard]] Result final {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}   // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  /// The value, or `fallback` when this holds an error.
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace euca

#define EUCA_CONCAT_INNER_(a, b) a##b
#define EUCA_CONCAT_(a, b) EUCA_CONCAT_INNER_(a, b)

/// Returns the Status from the enclosing function if `expr` is not ok.
#define EUCA_RETURN_IF_ERROR(expr)             \
  do {                                         \
    ::euca::Status euca_status_ = (expr);      \
    if (!euca_status_.ok()) return euca_status_; \
  } while (0)

#define EUCA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

/// `EUCA_ASSIGN_OR_RETURN(auto x, ComputeX());` returns the error of a failed Result.
#define EUCA_ASSIGN_OR_RETURN(lhs, expr) \
  EUCA_ASSIGN_OR_RETURN_IMPL_(EUCA_CONCAT_(euca_result_, __LINE__), lhs, expr)
