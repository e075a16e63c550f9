// router.h — the SOAP front controller: decode, authenticate, dispatch to the
// registered method, encode the response or the fault.
//
// Services register their methods (name, parameters, handler); the same
// declarations drive dispatch, method discovery (xtk:persist#GetEntityIfMoreRecent
// returns them as <methods>) and the WSDL. Parameters are matched by position
// (never by name); the first request parameter is the session token when the
// request carries one more parameter than the method declares.
//
// A method is either blocking (`fn`: returns its outputs; it may wait on a
// database) or asynchronous (`async_fn`: must not block; answers through a
// callback, e.g. once the staging writer committed its rows). HandleAsync()
// never blocks on a method: asynchronous ones run inline, blocking ones (with
// their authentication) on the blocking runner the server provides.
//
// Rate limit: with a RateLimiter set, every method that needs a session takes
// a token from its operator's bucket once the tokens are checked; a call over
// the limit is answered HTTP 429 with Retry-After and a SOP-330429 fault, and
// its method does not run. Methods without a session (Logon, Logoff) are never
// limited. Without one (the default) the check costs one branch.
//
// Thread-safety: register everything (services, observer, runner, rate limiter)
// before serving; Handle() and HandleAsync() are then thread-safe (handlers must be).
// The router and its observer must outlive every call still in progress.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/authenticator.h"
#include "soap/envelope.h"
#include "soap/rate_limiter.h"

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

using MethodResult = Result<std::vector<OutValue>>;
using MethodFn = std::function<MethodResult(CallContext& ctx)>;
// The answer of an asynchronous method; call it exactly once, from any thread.
using MethodDone = std::function<void(MethodResult)>;
// An asynchronous method. It runs on an I/O thread and must not block; `ctx`
// (and the request it points into) stays valid until `done` is called, which
// may happen before the method returns.
using AsyncMethodFn = std::function<void(CallContext& ctx, MethodDone done)>;

// A static method takes its inputs from its parameters. A non-static one (the
// platform's entity methods, e.g. xtk:queryDef#ExecuteQuery) first takes the
// entity it applies to, an XML element sent before the declared inputs (as
// `document`, `entity`, …: matched by position like every parameter); the
// entity is not declared in `params` (discovery does not list it), and is
// args[0] of the call.
struct MethodDef {
  std::string name;  // "Ingest"
  bool is_static = true;
  std::vector<ParamDef> params;  // inputs and outputs, in the platform's order
  bool needs_session = true;
  std::string response_ns;      // default "urn:<service>"
  MethodFn fn;                  // a blocking method, or
  AsyncMethodFn async_fn = {};  // an asynchronous one (exactly one of the two is set);
                                // defaulted so the blocking form's aggregate
                                // initializers stay as they are
  bool is_const = false;        // a non-static method that leaves its entity unchanged

  // Declared inputs, plus the entity of a non-static method.
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
  std::vector<std::pair<std::string, std::string>> headers;  // more response headers (Retry-After)
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

  // Where HandleAsync runs blocking methods: `work` must be run once, on a
  // thread that may block. Unset: on the calling thread.
  using BlockingRunner = std::function<void(std::function<void()> work)>;
  void set_blocking_runner(BlockingRunner runner) { blocking_runner_ = std::move(runner); }

  // Limits the calls of each operator (null: no limit, the default). The
  // limiter must outlive every call.
  void set_rate_limiter(RateLimiter* limiter) { rate_limiter_ = limiter; }

  using ReplyFn = std::function<void(HttpReply)>;

  // Handles one POST to the SOAP router without waiting for a method: decodes
  // the envelope on the calling thread, then runs an asynchronous method inline
  // (after checking its tokens) or hands a blocking one (tokens included) to the
  // blocking runner. Calls `done` exactly once, from any thread, possibly before
  // returning. `http` is not used after HandleAsync returns.
  void HandleAsync(const HttpCall& http, const std::string& remote, ReplyFn done) const;

  // Handles one POST on the calling thread, waiting for an asynchronous method.
  HttpReply Handle(const HttpCall& http, const std::string& remote) const;

  // Calls `call.service`#`call.method` in process as `op` (a workflow script
  // running as its operator), on the calling thread, waiting for an
  // asynchronous method: the same method, validation and faults as over SOAP,
  // without the token check and the rate limit. `call.params` are the
  // method's inputs by position (no session token). An error is the method's
  // Status, or SOP-330006 for an unknown method, SOP-330003 for too many inputs.
  MethodResult CallAs(const auth::Operator& op, const SoapCall& call, const std::string& remote) const;

 private:
  struct Pending;

  void Start(const HttpCall& http, const std::string& remote, ReplyFn done, bool offload) const;
  // Resolves the parameters, checks the tokens and runs the method.
  void Invoke(const std::shared_ptr<Pending>& pending) const;
  // Answers a call over its operator's rate limit: 429, Retry-After, SOP-330429.
  void RefuseOverLimit(Pending& pending, const std::string& login, const RateLimiter::Decision& decision) const;
  // Encodes the response or the fault, reports the call, answers it.
  void Complete(Pending& pending, MethodResult outs) const;

  Validator validate_;
  std::map<std::string, ServiceDef> services_;
  CallObserver* observer_ = nullptr;
  BlockingRunner blocking_runner_;
  RateLimiter* rate_limiter_ = nullptr;
};

}  // namespace stagebridge::soap
