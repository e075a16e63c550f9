// console.h — the operator web console at /console/ (docs/console.md): static
// assets built into the binary and a JSON API under /console/api/, over the
// modules below it (auth, query, workflow history, the scheduler's run-now).
//
// Security model: login through the same Authenticator as SOAP Logon (lockout
// included); the session travels in the cookie `sb_console` (HttpOnly,
// SameSite=Strict, Path=/console/, Secure over TLS) holding the session and
// security tokens; every POST but login needs the header X-CSRF-Token (a hash
// of the security token, given to the page by /console/api/session), a JSON
// body and, when the browser sends one, a same-origin Origin. Every response
// carries a Content-Security-Policy without inline script, nosniff and
// frame-ancestors 'none'. Rights are checked here, server-side: an operator
// sees the schemas it may write (all for an admin); operators are admin-only.
//
// Handle() may block (Logon hashes a password, the API reads databases): run it
// on the server's handler pool.
//
// Thread-safety: thread-safe; Handle runs concurrently. Start/Stop from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/authenticator.h"
#include "base/status.h"
#include "console/series.h"
#include "http/server.h"
#include "query/engine.h"
#include "schema/schema_set.h"
#include "store/pool.h"
#include "workflow/schedule.h"

namespace stagebridge::console {

inline constexpr const char* kCookieName = "sb_console";
inline constexpr const char* kCsrfHeader = "x-csrf-token";
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

// A workflow the server schedules, as the overview shows it.
struct WorkflowEntry {
  std::string name;
  std::string schedule_text;  // as configured: "every 1h"
  workflow::Schedule schedule;
};

struct ConsoleOptions {
  std::vector<WorkflowEntry> workflows;
  std::chrono::milliseconds sample_interval{60000};  // one backlog sample a minute
  std::int64_t max_page_rows = 200;                  // rows per page of the schema page, at most
  std::int64_t started = 0;                          // when the server started (epoch s; 0 = now)
};

struct ConsoleDeps {
  auth::Authenticator& auth;
  const schema::SchemaSet& schemas;
  query::Engine& queries;
  store::ConnectionPool& local;  // run history
  // Queues a run now (workflow::Scheduler::RunNow): workflow, source schemas
  // (comma-separated, "" = all), trigger. False when the workflow is not run here.
  std::function<bool(const std::string&, const std::string&, const std::string&)> run_now;
  BacklogSeries& series;
};

// The pending rows of one staged schema.
struct Backlog {
  std::string schema;   // source id, "dem:sampleTable"
  std::string staging;  // "dem:sampleTableStg"
  std::int64_t pending = 0;
  std::optional<std::string> oldest;  // @lastModified of the oldest pending row, as the API formats datetimes
};

class Console {
 public:
  Console(ConsoleDeps deps, ConsoleOptions options);
  ~Console();  // Stop()
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Is `path` the console's (/console or below)?
  static bool Handles(std::string_view path);

  // Answers one request for /console…; may block.
  http::Response Handle(const http::Request& request);

  // The sampler thread: one backlog sample every sample_interval.
  void Start();
  void Stop();
  // Takes one sample now (what the sampler does each interval).
  Status SampleNow();

  // The backlog of every staged schema, read through the query engine.
  Result<std::vector<Backlog>> ReadBacklog();

 private:
  struct Caller {
    auth::Operator op;
    std::string session;
    std::string security;
  };

  http::Response Route(const http::Request& request);
  http::Response Api(const http::Request& request, std::string_view endpoint);
  http::Response Login(const http::Request& request, std::map<std::string, std::string>& body);
  // The caller of an API request, from its cookie; 401 otherwise.
  Result<Caller> Authenticate(const http::Request& request);
  // 403 unless a POST carries the caller's CSRF token and comes from this origin.
  std::optional<http::Response> CheckPost(const http::Request& request, const Caller& caller) const;

  // The API endpoints (api.cc).
  http::Response Overview(const Caller& caller);
  http::Response Rows(const http::Request& request, const Caller& caller);
  http::Response Runs(const http::Request& request, const Caller& caller);
  http::Response Run(const http::Request& request, const Caller& caller);
  http::Response RunNow(const std::map<std::string, std::string>& body, const Caller& caller);
  http::Response Subscriptions(const Caller& caller);
  http::Response Operators(const Caller& caller);
  http::Response SetOperatorDisabled(const std::map<std::string, std::string>& body, const Caller& caller);
  // The staged source schemas `op` may read, in id order.
  std::vector<const schema::Schema*> VisibleSources(const auth::Operator& op) const;

  void SamplerLoop();

  ConsoleDeps deps_;
  const ConsoleOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread sampler_;
};

// The CSRF token of a session: hex of a BLAKE2b hash of its security token.
std::string CsrfToken(std::string_view security_token);

// The value of cookie `name` in a Cookie header ("" when absent).
std::string CookieValue(std::string_view cookie_header, std::string_view name);

// A JSON response (status, body) with the console's headers.
http::Response JsonResponse(int status, std::string body);
// {"error": message} with `status`.
http::Response JsonError(int status, std::string_view message);

}  // namespace stagebridge::console
