// status.cc — Status formatting.
#include "base/status.h"

#include <cctype>

namespace stagebridge {

std::string_view CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kInvalidArgument: return "Invalid argument";
    case Status::Code::kNotFound: return "Not found";
    case Status::Code::kAlreadyExists: return "Already exists";
    case Status::Code::kFailedPrecondition: return "Failed precondition";
    case Status::Code::kUnavailable: return "Unavailable";
    case Status::Code::kAborted: return "Aborted";
    case Status::Code::kUnauthenticated: return "Unauthenticated";
    case Status::Code::kPermissionDenied: return "Permission denied";
    case Status::Code::kIoError: return "I/O error";
    case Status::Code::kInternal: return "Internal error";
    case Status::Code::kDeadlineExceeded: return "Deadline exceeded";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

Status CodedError(Status::Code status_code, std::string_view error_code, std::string_view message) {
  std::string text(error_code);
  text += ' ';
  text += message;
  switch (status_code) {
    case Status::Code::kUnauthenticated: return Status::Unauthenticated(text);
    case Status::Code::kPermissionDenied: return Status::PermissionDenied(text);
    case Status::Code::kNotFound: return Status::NotFound(text);
    case Status::Code::kAlreadyExists: return Status::AlreadyExists(text);
    case Status::Code::kFailedPrecondition: return Status::FailedPrecondition(text);
    case Status::Code::kUnavailable: return Status::Unavailable(text);
    case Status::Code::kAborted: return Status::Aborted(text);
    case Status::Code::kInternal: return Status::Internal(text);
    case Status::Code::kIoError: return Status::IoError(text);
    case Status::Code::kDeadlineExceeded: return Status::DeadlineExceeded(text);
    case Status::Code::kOk:
    case Status::Code::kInvalidArgument: break;
  }
  return Status::InvalidArgument(text);
}

std::pair<std::string, std::string> SplitErrorCode(std::string_view message) {
  // AAA-NNNNNN followed by a space.
  if (message.size() >= 11 && message[3] == '-' && message[10] == ' ') {
    bool ok = true;
    for (int i = 0; i < 3; ++i) ok = ok && std::isupper(static_cast<unsigned char>(message[i]));
    for (int i = 4; i < 10; ++i) ok = ok && std::isdigit(static_cast<unsigned char>(message[i]));
    if (ok) return {std::string(message.substr(0, 10)), std::string(message.substr(11))};
  }
  return {"", std::string(message)};
}

}  // namespace stagebridge
