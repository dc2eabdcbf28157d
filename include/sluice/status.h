#pragma once

// Status and Result<T>: the one error type of sluice.
//
// Every call that can fail returns a Status (no value) or a Result<T> (a value or a Status). Both
// are [[nodiscard]], so an ignored error is a compile warning (an error in CI). Exceptions are not
// used for expected failures; a broken invariant inside sluice aborts through SLUICE_CHECK.
//
//   sluice::Result<Config> config = load_config(argv);
//   if (!config.ok()) return report(config.status());
//   SLUICE_ASSIGN_OR_RETURN(auto queue, IntakeQueue::open(backend, options));
//   SLUICE_RETURN_IF_ERROR(backend.commit(mutation));

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong; retrying the same input will not help
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // the named thing exists and the caller asked for a new one
  kFailedPrecondition,  // the system is not in a state that allows the operation
  kResourceExhausted,   // a configured bound or the disk is full; retry later
  kUnavailable,         // transient: shutting down, connection refused; retry later
  kCorruption,          // stored data cannot be decoded
  kIoError,             // the operating system or storage engine reported a failure
  kInternal,            // anything else
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: listen: port 70000 is out of range"
  std::string to_string() const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}
inline Status not_found(std::string message) { return {StatusCode::kNotFound, std::move(message)}; }
inline Status already_exists(std::string message) {
  return {StatusCode::kAlreadyExists, std::move(message)};
}
inline Status failed_precondition(std::string message) {
  return {StatusCode::kFailedPrecondition, std::move(message)};
}
inline Status resource_exhausted(std::string message) {
  return {StatusCode::kResourceExhausted, std::move(message)};
}
inline Status unavailable(std::string message) {
  return {StatusCode::kUnavailable, std::move(message)};
}
inline Status corruption(std::string message) {
  return {StatusCode::kCorruption, std::move(message)};
}
inline Status io_error(std::string message) { return {StatusCode::kIoError, std::move(message)}; }
inline Status internal_error(std::string message) {
  return {StatusCode::kInternal, std::move(message)};
}

// Aborts with file, line and expression. For invariants of sluice's own code only: bad input and
// corrupt data on disk are Statuses, never aborts.
[[noreturn]] void check_failed(const char* file, int line, const char* expression,
                               std::string_view detail = {});

#define SLUICE_CHECK(condition)                               \
  do {                                                        \
    if (!(condition)) [[unlikely]]                            \
      ::sluice::check_failed(__FILE__, __LINE__, #condition); \
  } while (false)

// A value of type T, or the Status saying why there is none. Never holds an OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : state_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    SLUICE_CHECK(!std::get<Status>(state_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(state_); }

  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(state_); }

  T& value() & {
    SLUICE_CHECK(ok());
    return std::get<T>(state_);
  }
  const T& value() const& {
    SLUICE_CHECK(ok());
    return std::get<T>(state_);
  }
  // By value, so that `for (auto& x : f().value())` does not dangle.
  T value() && {
    SLUICE_CHECK(ok());
    return std::get<T>(std::move(state_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> state_;
};

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)

#define SLUICE_RETURN_IF_ERROR(expression)           \
  do {                                               \
    ::sluice::Status sluice_status_ = (expression);  \
    if (!sluice_status_.ok()) return sluice_status_; \
  } while (false)

// `result` and `lhs` name a variable and a declaration; they cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define SLUICE_ASSIGN_OR_RETURN_IMPL(result, lhs, expression) \
  auto result = (expression);                                 \
  if (!result.ok()) return result.status();                   \
  lhs = std::move(result).value()
// NOLINTEND(bugprone-macro-parentheses)

// SLUICE_ASSIGN_OR_RETURN(auto x, f()): binds x to f()'s value or returns f()'s Status.
#define SLUICE_ASSIGN_OR_RETURN(lhs, expression) \
  SLUICE_ASSIGN_OR_RETURN_IMPL(SLUICE_CONCAT(sluice_result_, __LINE__), lhs, expression)

}  // namespace sluice
