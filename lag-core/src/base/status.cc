#include "vfo/base/status.h"

#include <cerrno>
#include <cstring>

namespace vfo {

std::string_view statusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kCancelled:
      return "CANCELLED";
    case StatusCode::kUnknown:
      return "UNKNOWN";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StatusCode::kAborted:
      return "ABORTED";
    case StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case StatusCode::kInternal:
      return "INTERNAL";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

std::string Status::toString() const {
  if (isOk()) return "OK";
  std::string s(statusCodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::withContext(std::string_view context) const {
  if (isOk()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

Status errnoStatus(int err, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  StatusCode c;
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ESRCH:
      c = StatusCode::kNotFound;
      break;
    case EPERM:
    case EACCES:
      c = StatusCode::kPermissionDenied;
      break;
    case EEXIST:
      c = StatusCode::kAlreadyExists;
      break;
    case EBUSY:
      c = StatusCode::kFailedPrecondition;
      break;
    case ENOSPC:
    case ENOMEM:
    case ENOBUFS:
      c = StatusCode::kResourceExhausted;
      break;
    case EINVAL:
    case ERANGE:
      c = StatusCode::kInvalidArgument;
      break;
    case EOPNOTSUPP:
      c = StatusCode::kUnimplemented;
      break;
    case ETIMEDOUT:
      c = StatusCode::kDeadlineExceeded;
      break;
    default:
      c = StatusCode::kUnavailable;
      break;
  }
  return Status(c, std::move(m));
}

}  // namespace vfo
