// router.cc — decode, authenticate, dispatch, encode.
#include "soap/router.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <future>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "xml/document.h"

namespace stagebridge::soap {

namespace {

// Faults go out with HTTP 500, as the platform sends them (SPEC §3) — except to
// acc-js-sdk, which announces itself with an ACC-SDK-Version header and reads SOAP
// faults only from successful responses: given a 500 it drops the fault and
// reports the HTTP status text, losing the error code its users test for. It
// still recognises XSV-350008 (re-logon) in either case.
int FaultStatus(const HttpCall& http) {
  return http.headers.count("acc-sdk-version") != 0 ? 200 : 500;
}

// A method that threw (it must not): the client gets a generic server fault.
Status ThrownError(const char* what) {
  spdlog::error("SOAP method threw: {}", xml::Printable(what));
  return Status::Internal(fmt::format("the method threw: {}", what));
}

}  // namespace

// One call between its decoding and its reply. Shared by the router and the
// method's callback: it lives until the call is answered.
struct Router::Pending {
  SoapCall call;
  const MethodDef* method = nullptr;
  std::string remote;
  std::string action;
  int fault_status = 500;
  std::int64_t retry_after_s = 0;  // > 0: refused over the rate limit (HTTP 429)
  std::chrono::steady_clock::time_point start;
  ReplyFn done;
  std::optional<CallContext> ctx;
  std::atomic<bool> completed{false};
};

std::size_t MethodDef::input_count() const {
  std::size_t n = is_static ? 0 : 1;
  for (const ParamDef& p : params) n += p.out ? 0 : 1;
  return n;
}

void Router::AddService(ServiceDef service) {
  std::string id = service.id;
  for (MethodDef& m : service.methods) {
    if (m.response_ns.empty()) m.response_ns = "urn:" + id;
  }
  services_[id] = std::move(service);
}

const ServiceDef* Router::FindService(const std::string& id) const {
  auto it = services_.find(id);
  return it == services_.end() ? nullptr : &it->second;
}

void Router::HandleAsync(const HttpCall& http, const std::string& remote, ReplyFn done) const {
  Start(http, remote, std::move(done), true);
}

HttpReply Router::Handle(const HttpCall& http, const std::string& remote) const {
  // Shared with the callback: it may still be inside set_value() when get() returns.
  auto reply = std::make_shared<std::promise<HttpReply>>();
  std::future<HttpReply> answered = reply->get_future();
  Start(
      http, remote, [reply](HttpReply r) { reply->set_value(std::move(r)); }, false);
  return answered.get();
}

void Router::Start(const HttpCall& http, const std::string& remote, ReplyFn done, bool offload) const {
  auto start = std::chrono::steady_clock::now();
  int fault_status = FaultStatus(http);
  Result<SoapCall> call = ParseCall(http);
  const MethodDef* method = nullptr;
  Status refused;
  if (!call.ok()) {
    refused = call.status();
  } else {
    const ServiceDef* service = FindService(call->service);
    if (service != nullptr) {
      for (const MethodDef& m : service->methods) {
        if (m.name == call->method) method = &m;
      }
    }
    if (method == nullptr) {
      refused =
          CodedError(Status::Code::kNotFound, codes::kUnknownMethod,
                     fmt::format("The method '{}' is not defined in SOAP service '{}'.", call->method, call->service));
    }
  }
  if (method == nullptr) {
    // Undecodable, or no such method: answered here, under the "unknown" label
    // (a bounded label set for metrics).
    HttpReply reply;
    Fault f = FaultFromStatus(refused, call.ok() ? call->service : "", call.ok() ? call->method : "");
    reply.status = fault_status;
    reply.body = EncodeFault(f, "urn:xtk:session");
    if (call.ok()) {
      spdlog::info("soap {} {} fault {}: {}", remote, xml::Printable(call->service + "#" + call->method), f.code,
                   xml::Printable(f.message));
    } else {
      spdlog::info("soap {} fault {}: {}", remote, f.code, xml::Printable(f.message));
    }
    if (observer_ != nullptr) {
      observer_->OnCall("unknown", true,
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    done(std::move(reply));
    return;
  }
  auto pending = std::make_shared<Pending>();
  pending->call = std::move(call).value();
  pending->method = method;
  pending->remote = remote;
  pending->action = pending->call.service + "#" + pending->call.method;
  pending->fault_status = fault_status;
  pending->start = start;
  pending->done = std::move(done);
  if (!method->async_fn && offload && blocking_runner_) {
    blocking_runner_([this, pending] { Invoke(pending); });
  } else {
    Invoke(pending);
  }
}

void Router::Invoke(const std::shared_ptr<Pending>& pending) const {
  const SoapCall& call = pending->call;
  const MethodDef& method = *pending->method;
  CallContext& ctx = pending->ctx.emplace(CallContext{call, {}, {}, std::nullopt, pending->remote});
  // Positional parameters: skip the session token when the request carries it.
  std::size_t declared = method.input_count();
  std::size_t first = 0;
  if (call.params.size() == declared + 1 || (!call.params.empty() && call.params[0].name == "sessiontoken")) {
    first = 1;
  }
  for (std::size_t i = first; i < call.params.size() && ctx.args.size() < declared; ++i) {
    ctx.args.push_back(&call.params[i]);
  }
  ctx.session_token = SessionToken(call, first == 1);
  if (method.needs_session) {
    Result<auth::Operator> op = validate_(ctx.session_token, call.security_token);
    if (!op.ok()) return Complete(*pending, op.status());
    ctx.op = std::move(op).value();
    if (rate_limiter_ != nullptr) {
      RateLimiter::Decision decision = rate_limiter_->Acquire(ctx.op->login);
      if (!decision.allowed) return RefuseOverLimit(*pending, ctx.op->login, decision);
    }
  }
  if (!method.async_fn) {
    MethodResult outs = Status::Internal("no result");
    try {
      outs = method.fn(ctx);
    } catch (const std::exception& e) {
      outs = ThrownError(e.what());
    }
    return Complete(*pending, std::move(outs));
  }
  try {
    method.async_fn(ctx, [this, pending](MethodResult outs) { Complete(*pending, std::move(outs)); });
  } catch (const std::exception& e) {
    Complete(*pending, ThrownError(e.what()));  // ignored if the method answered before throwing
  }
}

MethodResult Router::CallAs(const auth::Operator& op, const SoapCall& call, const std::string& remote) const {
  const ServiceDef* service = FindService(call.service);
  const MethodDef* method = nullptr;
  if (service != nullptr) {
    for (const MethodDef& m : service->methods) {
      if (m.name == call.method) method = &m;
    }
  }
  if (method == nullptr) {
    return CodedError(Status::Code::kNotFound, codes::kUnknownMethod,
                      fmt::format("Method '{}' of service '{}' is not defined.", xml::Printable(call.method),
                                  xml::Printable(call.service)));
  }
  std::size_t declared = method->input_count();
  if (call.params.size() > declared) {
    return CodedError(
        Status::Code::kInvalidArgument, codes::kBadParameter,
        fmt::format("{}#{} takes {} parameter(s), {} given.", call.service, call.method, declared, call.params.size()));
  }
  CallContext ctx{call, {}, {}, op, remote};
  for (const Param& p : call.params) ctx.args.push_back(&p);
  try {
    if (!method->async_fn) return method->fn(ctx);
    std::promise<MethodResult> promise;
    std::future<MethodResult> result = promise.get_future();
    std::atomic<bool> answered{false};
    method->async_fn(ctx, [&promise, &answered](MethodResult outs) {
      if (!answered.exchange(true)) promise.set_value(std::move(outs));
    });
    return result.get();
  } catch (const std::exception& e) {
    return ThrownError(e.what());
  }
}

void Router::RefuseOverLimit(Pending& pending, const std::string& login, const RateLimiter::Decision& decision) const {
  pending.retry_after_s = decision.RetryAfterSeconds();
  if (decision.first_this_second) {  // at most once a second per operator: a flood must not flood the log
    spdlog::info(
        "soap {} {}: operator '{}' is over its rate limit ({} calls per second, burst {}): answered 429 "
        "({} calls refused so far)",
        pending.remote, xml::Printable(pending.action), xml::Printable(login), rate_limiter_->CallsPerSecond(),
        rate_limiter_->Burst(), decision.refused);
  }
  // Server, not Client: the call was right, it may be sent again as is later.
  Complete(pending, CodedError(Status::Code::kUnavailable, codes::kTooManyCalls,
                               fmt::format("Too many calls: operator '{}' may make {} calls per second (burst {}); "
                                           "retry after {} s.",
                                           login, rate_limiter_->CallsPerSecond(), rate_limiter_->Burst(),
                                           pending.retry_after_s)));
}

void Router::Complete(Pending& pending, MethodResult outs) const {
  if (pending.completed.exchange(true)) return;  // answered already
  const SoapCall& call = pending.call;
  const std::string& response_ns = pending.method->response_ns;
  HttpReply reply;
  bool fault = !outs.ok();
  if (!fault) {
    reply.body = EncodeResponse(call.method, response_ns, *outs);
  } else {
    Fault f = FaultFromStatus(outs.status(), call.service, call.method);
    reply.status = pending.fault_status;
    reply.body = EncodeFault(f, response_ns);
    if (pending.retry_after_s > 0) {
      // 429 to every client, acc-js-sdk included: it then rejects with a
      // CampaignException whose statusCode is 429, which its callers can retry on.
      reply.status = 429;
      reply.headers.emplace_back("Retry-After", std::to_string(pending.retry_after_s));
      spdlog::debug("soap {} {} fault {}: {}", pending.remote, xml::Printable(pending.action), f.code,
                    xml::Printable(f.message));
    } else {
      spdlog::info("soap {} {} fault {}: {}", pending.remote, xml::Printable(pending.action), f.code,
                   xml::Printable(f.message));
    }
  }
  if (observer_ != nullptr) {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - pending.start).count();
    observer_->OnCall(pending.action, fault, seconds);
  }
  ReplyFn done = std::move(pending.done);
  done(std::move(reply));
}

}  // namespace stagebridge::soap
