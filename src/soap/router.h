// router.h — the SOAP front controller: decode, authenticate, dispatch to the
// registered method, encode the response or the fault.
//
// Services register their methods (name, parameters, handler); the same
// declarations drive dispatch, method discovery (xtk:persist#GetEntityIfMoreRecent
// returns them as <methods>) and the WSDL. Parameters are matched by position
// (never by name); the first request parameter is the session token when the
// request carries one more parameter than the method declares.
//
// Thread-safety: register everything before serving; Handle() is then
// thread-safe (handlers must be).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth/authenticator.h"
#include "soap/envelope.h"

namespace stagebridge::soap {

struct ParamDef {
  std::string name;  // "domDoc"
  std::string type;  // platform type: string, boolean, long, int64, DOMDocument, DOMElement, …
  bool out = false;
};

struct CallContext {
  const SoapCall& call;
  std::vector<const Param*> args;    // the method's input parameters, by position
  std::string session_token;         // resolved: first parameter or transport
  std::optional<auth::Operator> op;  // set for methods that need a session
  std::string remote;                // peer address
};

using MethodFn = std::function<Result<std::vector<OutValue>>(CallContext& ctx)>;

struct MethodDef {
  std::string name;  // "Ingest"
  bool is_static = true;
  std::vector<ParamDef> params;  // inputs and outputs, in the platform's order
  bool needs_session = true;
  std::string response_ns;  // default "urn:<service>"
  MethodFn fn;

  std::size_t input_count() const;
};

struct ServiceDef {
  std::string id;     // "xtk:session"
  std::string label;  // "Sessions"
  std::vector<MethodDef> methods;
};

// The reply to one HTTP request.
struct HttpReply {
  int status = 200;
  std::string content_type = "text/xml; charset=utf-8";
  std::string body;
};

// Per-method counters for /metrics.
struct CallObserver {
  virtual ~CallObserver() = default;
  virtual void OnCall(const std::string& action, bool fault, double seconds) = 0;
};

class Router {
 public:
  // `validate` checks a call's tokens (the Authenticator's Validate).
  using Validator = std::function<Result<auth::Operator>(const std::string& session, const std::string& security)>;

  explicit Router(Validator validate) : validate_(std::move(validate)) {}

  void AddService(ServiceDef service);
  const std::map<std::string, ServiceDef>& services() const { return services_; }
  const ServiceDef* FindService(const std::string& id) const;

  void set_observer(CallObserver* observer) { observer_ = observer; }

  // Handles one POST to the SOAP router.
  HttpReply Handle(const HttpCall& http, const std::string& remote) const;

 private:
  Result<std::vector<OutValue>> Dispatch(const SoapCall& call, const MethodDef& method, const std::string& remote,
                                         std::string& response_ns) const;

  Validator validate_;
  std::map<std::string, ServiceDef> services_;
  CallObserver* observer_ = nullptr;
};

}  // namespace stagebridge::soap
