// host.h — what a workflow script calls, bridged to the SOAP services in
// process: every method the router serves (but session management), called
// as the run's operator through soap::Router::CallAs, so a script gets the
// same validation, faults and durability (Ingest returns after COMMIT) as a
// SOAP client with that operator's rights.
//
// Thread-safety: one ServiceHost per run, used by the run's thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authenticator.h"
#include "script/engine.h"
#include "soap/router.h"

namespace stagebridge::script {

class ServiceHost : public Host {
 public:
  using LogFn = std::function<void(std::string_view level, std::string_view text)>;

  // `options`: what getOption(name) returns (undefined for other names).
  ServiceHost(const soap::Router& router, auth::Operator op, LogFn log, std::map<std::string, std::string> options);

  std::vector<std::string> Methods() const override;
  Result<std::vector<CallOutput>> Call(const std::string& service, const std::string& method,
                                       const std::vector<CallArg>& args) override;
  void Log(std::string_view level, std::string_view text) override;
  // Called before each service call (e.g. to store the log lines logged so far).
  void set_before_call(std::function<void()> fn) { before_call_ = std::move(fn); }
  std::optional<std::string> Option(const std::string& name) override;

 private:
  const soap::Router& router_;
  const auth::Operator op_;
  LogFn log_;
  std::function<void()> before_call_;
  const std::map<std::string, std::string> options_;
};

}  // namespace stagebridge::script
