// fault.h — SOAP faults: the codes users know, and how a Status becomes a fault.
//
// Lower modules report errors as Status values whose message starts with a
// platform-style code ("XSV-350008 Session has expired…"). A message without a
// code is wrapped: internal and unavailable errors become a generic server fault
// (the text is logged, never sent), everything else a client fault.
//
// Thread-safety: values and stateless functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace stagebridge::soap {

// The fault codes of the wire contract (docs/faults.md lists them all).
namespace codes {
inline constexpr const char* kSessionInvalid = "XSV-350008";  // session expired or invalid
inline constexpr const char* kBadLogin = "XSV-350012";        // bad login or password
inline constexpr const char* kLoginLocked = "XSV-350013";     // locked after repeated failures
inline constexpr const char* kMalformed = "SOP-330001";       // not XML / not a SOAP envelope / hostile XML
inline constexpr const char* kActionMismatch = "SOP-330002";  // SOAPAction disagrees with the body
inline constexpr const char* kBadParameter = "SOP-330003";    // missing or ill-typed parameter
inline constexpr const char* kUnknownMethod = "SOP-330006";   // method not defined in the service
inline constexpr const char* kMethodFailed = "SOP-330011";    // wrapper: error while executing a method
inline constexpr const char* kTooManyCalls = "SOP-330429";    // over the operator's rate limit (HTTP 429)
inline constexpr const char* kServerError = "SOP-330500";     // internal error (details only in the log)
}  // namespace codes

struct Fault {
  bool client = true;               // faultcode SOAP-ENV:Client, else SOAP-ENV:Server
  std::string code;                 // "SOP-330006"
  std::string message;              // names the culprit
  std::vector<std::string> detail;  // cause chain, one coded line per layer

  // "CODE message", the faultstring.
  std::string FaultString() const { return code + " " + message; }
};

// The fault for an error raised while executing service#method. The faultstring
// carries the cause's code and text; the detail carries the SOP-330011 wrapper
// line, then the cause.
Fault FaultFromStatus(const Status& status, std::string_view service, std::string_view method);

}  // namespace stagebridge::soap
