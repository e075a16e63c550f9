// fault.cc — Status → Fault mapping.
#include "soap/fault.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "xml/document.h"

namespace stagebridge::soap {

Fault FaultFromStatus(const Status& status, std::string_view service, std::string_view method) {
  Fault f;
  auto [code, text] = SplitErrorCode(status.message());
  bool server_side = status.code() == Status::Code::kInternal || status.code() == Status::Code::kIoError ||
                     status.code() == Status::Code::kUnavailable || status.code() == Status::Code::kDeadlineExceeded;
  f.client = !server_side;
  if (code.empty()) {
    if (server_side) {
      // Raw database or system text never reaches the client.
      spdlog::error("{}#{}: {}", xml::Printable(service), xml::Printable(method), xml::Printable(status.ToString()));
      code = codes::kServerError;
      text = status.code() == Status::Code::kUnavailable
                 ? "A database the server needs is unavailable; the request was not processed. Retry later."
                 : "Internal error; the request was not processed (see the server log).";
    } else {
      code = codes::kMethodFailed;
    }
  }
  f.code = code;
  f.message = text;
  // Refusals made before the method ran carry no "Error while executing" wrapper.
  if (code == codes::kSessionInvalid || code == codes::kUnknownMethod || code == codes::kMalformed ||
      code == codes::kActionMismatch || code == codes::kTooManyCalls) {
    f.detail.push_back(f.FaultString());
  } else {
    f.detail.push_back(fmt::format("{} Error while executing the method '{}' of service '{}'.", codes::kMethodFailed,
                                   method, service));
    if (code != codes::kMethodFailed) f.detail.push_back(f.FaultString());
  }
  return f;
}

}  // namespace stagebridge::soap
