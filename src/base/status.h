// status.h — errors as values for every module (LevelDB style).
//
// A Status is ok or carries a code from a small closed set plus a message. A
// Result<T> holds either a value or a non-ok Status. Exceptions thrown by
// third-party libraries are caught at the adapter that calls them and turned into
// a Status; they never cross a module boundary.
//
// Thread-safety: values; copy freely, no shared state.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace stagebridge {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller's input is wrong (schema file, request, flag)
    kNotFound,
    kAlreadyExists,
    kFailedPrecondition,  // the state does not allow it (e.g. unmerged rows)
    kUnavailable,         // a database or peer went away; retry may succeed
    kAborted,             // a transaction lost a race (deadlock, serialization); retry it
    kUnauthenticated,     // no valid session, bad login or password
    kPermissionDenied,    // authenticated, but not allowed to do this
    kIoError,
    kInternal,
    kDeadlineExceeded,  // a statement ran past its time limit and was cancelled
  };

  Status() = default;
  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {Code::kFailedPrecondition, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Aborted(std::string msg) { return {Code::kAborted, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) { return {Code::kUnauthenticated, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }
  static Status IoError(std::string msg) { return {Code::kIoError, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {Code::kDeadlineExceeded, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view CodeName(Status::Code code);

// Errors users see carry a platform-style code at the start of the message
// ("XSV-350008 Session has expired…"); the SOAP layer turns it into a fault.
// CodedError builds such a Status; SplitErrorCode takes it apart (empty code
// when the message has none).
Status CodedError(Status::Code status_code, std::string_view error_code, std::string_view message);
std::pair<std::string, std::string> SplitErrorCode(std::string_view message);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!status_.ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace stagebridge

// Propagates a non-ok Status out of the current function.
#define SB_CONCAT_INNER(a, b) a##b
#define SB_CONCAT(a, b) SB_CONCAT_INNER(a, b)
#define SB_RETURN_IF_ERROR(expr) SB_RETURN_IF_ERROR_IMPL(SB_CONCAT(sb_status_, __COUNTER__), expr)
// NOLINTBEGIN(bugprone-macro-parentheses): `tmp` and `lhs` are declarators, not expressions.
#define SB_RETURN_IF_ERROR_IMPL(tmp, expr) \
  do {                                     \
    ::stagebridge::Status tmp = (expr);    \
    if (!tmp.ok()) return tmp;             \
  } while (false)
// SB_ASSIGN_OR_RETURN(auto x, Call()) — binds the value or returns the error.
#define SB_ASSIGN_OR_RETURN(lhs, expr) SB_ASSIGN_OR_RETURN_IMPL(SB_CONCAT(sb_result_, __COUNTER__), lhs, expr)
#define SB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
