// Control-plane error type shared by every vfo component.
//
// Contract: a function that can fail returns Status (or StatusOr<T>). The
// code names the class of failure and maps 1:1 onto a gRPC status code at the
// API edge; the message names the offending field or object and says what to
// fix. The datapath never uses Status: it returns counts.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vfo {

// Values equal grpc::StatusCode so the API edge can cast without a table.
enum class StatusCode : int {
  kOk = 0,                  // success
  kCancelled = 1,           // the caller gave up
  kUnknown = 2,             // an error with no better class (avoid)
  kInvalidArgument = 3,     // malformed input; nothing was changed
  kDeadlineExceeded = 4,    // a bounded wait ran out
  kNotFound = 5,            // the named object does not exist
  kAlreadyExists = 6,       // an object with this id exists with other settings
  kPermissionDenied = 7,    // the caller is not allowed
  kResourceExhausted = 8,   // no free VF, queue, slot...
  kFailedPrecondition = 9,  // the system is not in a state that allows this
  kAborted = 10,            // a concurrent change won; retry may succeed
  kOutOfRange = 11,         // a value outside the range the object supports
  kUnimplemented = 12,      // not supported by this provider or build
  kInternal = 13,           // an invariant broke inside vfo
  kUnavailable = 14,        // a peer (kernel, daemon) is not reachable now
};

std::string_view statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool isOk() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: mac: 01:00:5e:00:00:01 is a multicast address"
  std::string toString() const;

  // Prefixes the message with context ("port vm1/net0: ") keeping the code.
  Status withContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status okStatus() {
  return Status();
}
inline Status invalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status notFound(std::string m) {
  return {StatusCode::kNotFound, std::move(m)};
}
inline Status alreadyExists(std::string m) {
  return {StatusCode::kAlreadyExists, std::move(m)};
}
inline Status permissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status resourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status failedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status outOfRange(std::string m) {
  return {StatusCode::kOutOfRange, std::move(m)};
}
inline Status unimplemented(std::string m) {
  return {StatusCode::kUnimplemented, std::move(m)};
}
inline Status internalError(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}
inline Status unavailable(std::string m) {
  return {StatusCode::kUnavailable, std::move(m)};
}
inline Status deadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}

// Status built from an errno value: "what: strerror(err)". The code follows
// the errno class (ENOENT -> kNotFound, EPERM/EACCES -> kPermissionDenied,
// EEXIST -> kAlreadyExists, EBUSY -> kFailedPrecondition, ENOSPC/ENOMEM ->
// kResourceExhausted, EINVAL -> kInvalidArgument, else kUnavailable).
Status errnoStatus(int err, std::string_view what);

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).isOk() && "StatusOr built from an OK status");
  }

  bool isOk() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return isOk(); }
  Status status() const { return isOk() ? Status() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace vfo

// Returns early from the enclosing function when `expr` is not OK.
#define VFO_RETURN_IF_ERROR(expr)                \
  do {                                           \
    ::vfo::Status vfo_status_ = (expr);          \
    if (!vfo_status_.isOk()) return vfo_status_; \
  } while (0)

#define VFO_CONCAT_INNER_(a, b) a##b
#define VFO_CONCAT_(a, b) VFO_CONCAT_INNER_(a, b)
// VFO_ASSIGN_OR_RETURN(auto x, makeX()); returns the Status on failure.
#define VFO_ASSIGN_OR_RETURN(lhs, expr)                                                         \
  auto VFO_CONCAT_(vfo_sor_, __LINE__) = (expr);                                                \
  if (!VFO_CONCAT_(vfo_sor_, __LINE__).isOk()) return VFO_CONCAT_(vfo_sor_, __LINE__).status(); \
  lhs = std::move(VFO_CONCAT_(vfo_sor_, __LINE__)).value()
