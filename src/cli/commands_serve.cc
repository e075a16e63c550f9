// commands_serve.cc — `serve`: wires the HTTP front door, the SOAP router and
// its services, the staging writer and the metrics, on the configured address.
#include <functional>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "auth/authenticator.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "cli/commands_query.h"
#include "cli/commands_script.h"
#include "console/console.h"
#include "http/metrics.h"
#include "http/server.h"
#include "schema/schema_set.h"
#include "script/workflows.h"
#include "services/services.h"
#include "soap/router.h"
#include "soap/wsdl.h"
#include "staging/writer.h"
#include "store/health_probe.h"
#include "store/pool.h"
#include "subscription/intake.h"
#include "workflow/scheduler.h"

namespace stagebridge::cli {
namespace {

int Fail(std::string_view what, const Status& status) {
  std::cerr << "stagebridge: " << what << ": " << status.message() << "\n";
  return kExitFailed;
}

// Feeds SOAP call outcomes into the metrics.
class MetricsObserver : public soap::CallObserver {
 public:
  explicit MetricsObserver(http::Metrics& metrics) : metrics_(metrics) {}
  void OnCall(const std::string& action, bool fault, double seconds) override {
    metrics_.CountCall(action, fault, seconds);
  }

 private:
  http::Metrics& metrics_;
};

http::Response Xml(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "text/xml; charset=utf-8";
  r.body = std::move(body);
  return r;
}

}  // namespace

auth::AuthOptions AuthOptionsFrom(const Config& config) {
  auth::AuthOptions options;
  options.session_lifetime = std::chrono::seconds(config.GetInt("session_lifetime"));
  options.lockout_attempts = config.GetInt("lockout_attempts");
  options.lockout_duration = std::chrono::seconds(config.GetInt("lockout_seconds"));
  options.session_token_only = config.Get("session_token_only") == "true";
  return options;
}

workflow::RunnerOptions RunnerOptionsFrom(const Config& config, auth::Authenticator& authenticator) {
  workflow::RunnerOptions options;
  options.cloud_url = config.Get("cloud_db");
  options.batch_rows = config.GetInt("batch_rows");
  options.lease_seconds = config.GetInt("lease_seconds");
  options.history_days = config.GetInt("history_days");
  options.purge_sessions = [&authenticator] { return authenticator.PurgeExpiredSessions(); };
  return options;
}

int CmdServe(const Config& config) {
  long open_files = http::RaiseOpenFileLimit();  // before anything opens a file
  if (!config.Get("tls_cert").empty()) {
    // Bad or missing files, a key that is not the certificate's: said at once, naming the file.
    if (Status s = http::CheckTls({config.Get("tls_cert"), config.Get("tls_key"), config.Get("tls_min_version")});
        !s.ok()) {
      return Fail("tls", s);
    }
  }
  Result<schema::SchemaSet> schemas = schema::SchemaSet::LoadDirectory(config.Get("schemas_dir"));
  if (!schemas.ok()) return Fail("schemas", schemas.status());

  int handler_threads = config.GetInt("handler_threads");
  store::ConnectionPool pool(config.Get("local_db"), config.GetInt("writer_threads") + 8);
  {
    // A server that cannot stage writes must not pretend to serve.
    Result<store::ConnectionPool::Lease> probe = pool.Acquire();
    if (!probe.ok()) return Fail("local database", probe.status());
  }
  auth::Authenticator authenticator(pool, AuthOptionsFrom(config));
  if (Status s = authenticator.EnsureTables(); !s.ok()) return Fail("local database", s);

  http::Metrics metrics;
  staging::WriterOptions writer_options;
  writer_options.workers = config.GetInt("writer_threads");
  writer_options.direct_lane = config.Get("writer_direct_lane") == "true";
  console::BacklogSeries backlog_series;  // the console's ingest/backlog plot
  writer_options.on_batch = [&metrics, &backlog_series](std::size_t calls, std::size_t records) {
    metrics.ObserveBatch(calls, records);
    backlog_series.AddIngested(static_cast<std::int64_t>(records));
  };
  staging::StagingWriter writer(pool, writer_options);
  if (Status s = writer.Prepare(); !s.ok()) return Fail("local database", s);
  writer.Start();

  soap::Router router([&authenticator](const std::string& session, const std::string& security) {
    return authenticator.Validate(session, security);
  });
  MetricsObserver observer(metrics);
  router.set_observer(&observer);
  // Per-operator rate limit (rate_limit_calls; 0: none, and the router does not look).
  std::unique_ptr<soap::RateLimiter> rate_limiter;
  if (std::int64_t calls = config.GetInt("rate_limit_calls"); calls > 0) {
    std::int64_t burst = config.GetInt("rate_limit_burst");
    rate_limiter = std::make_unique<soap::RateLimiter>(calls, burst > 0 ? burst : calls);
    router.set_rate_limiter(rate_limiter.get());
    spdlog::info("rate limit: {} SOAP calls per second per operator, burst {}", calls, rate_limiter->Burst());
  }
  metrics.AddGauge(
      "stagebridge_rate_limited_total", "SOAP calls refused with HTTP 429 by operator (over rate_limit_calls).",
      "operator",
      [&rate_limiter] {
        http::Metrics::GaugeSamples samples;
        if (rate_limiter == nullptr) return samples;
        for (const auto& [login, refused] : rate_limiter->Refusals()) {
          samples.emplace_back(login, static_cast<double>(refused));
        }
        return samples;
      },
      http::Metrics::Type::kCounter);
  // The technical workflows: on their schedules, or now (SOAP, CLI).
  workflow::Runner runner(pool, *schemas, RunnerOptionsFrom(config, authenticator));
  if (Status s = runner.Prepare(); !s.ok()) return Fail("local database", s);
  std::vector<workflow::Scheduler::Entry> entries;
  std::vector<console::WorkflowEntry> console_workflows;
  for (const auto& [name, key] : {std::pair<std::string, std::string>{workflow::kReplicate, "replicate_schedule"},
                                  std::pair<std::string, std::string>{workflow::kUnsubscribe, "unsubscribe_schedule"},
                                  std::pair<std::string, std::string>{workflow::kCleanup, "cleanup_schedule"}}) {
    entries.push_back({name, *workflow::ParseSchedule(config.Get(key))});  // validated with the configuration
    console_workflows.push_back({name, config.Get(key), entries.back().schedule});
  }
  workflow::Scheduler scheduler(runner, std::move(entries));
  // User workflows (workflows_dir): JavaScript activities calling the services
  // in process, run by the same scheduler under the same lease and history.
  script::UserWorkflowSet user_workflows(ScriptEnvFrom(config, router, authenticator), config.Get("workflows_dir"));
  runner.set_user_workflows(&user_workflows);
  WorkflowReloader reloader(pool, user_workflows, scheduler);
  reloader.Reload("start");

  services::Deps deps{
      authenticator, *schemas, writer, router, config.Get("instance_name"), config.GetInt("session_lifetime"), {}};
  deps.start_workflow = [&scheduler](const std::string& workflow, const std::string& schema,
                                     const std::string& trigger) {
    return scheduler.RunNow(workflow, schema, trigger);
  };
  deps.workflow_operator = [&user_workflows](const std::string& name) { return user_workflows.OperatorOf(name); };
  subscription::Intake subscriptions(pool, config.Get("cloud_db"), *schemas);
  if (Status s = subscriptions.Prepare(); !s.ok()) return Fail("local database", s);
  deps.subscriptions = &subscriptions;
  // ExecuteQuery reads on pools of its own: a slow query never holds a
  // connection the staging writer or the sync needs.
  query::Engine queries(*schemas, QueryEngineOptionsFrom(config, 4));
  deps.queries = &queries;
  // The operator console (/console/, docs/console.md): same sessions, same
  // query engine and rights, Run now through the scheduler.
  console::ConsoleOptions console_options;
  console_options.workflows = std::move(console_workflows);
  console::Console console({authenticator, *schemas, queries, pool, deps.start_workflow, backlog_series},
                           std::move(console_options));
  services::RegisterAll(router, deps);

  metrics.AddGauge("stagebridge_staging_pending_rows", "Rows waiting in staging tables for the next sync.", "schema",
                   [&pool, &schemas]() {
                     http::Metrics::GaugeSamples samples;
                     Result<store::ConnectionPool::Lease> db = pool.Acquire();
                     if (!db.ok()) return samples;
                     for (const schema::Schema* s : schemas->All()) {
                       if (!s->is_staging()) continue;
                       auto rows = (*db)->Query(fmt::format("SELECT COUNT(*) FROM {}", s->sql_table));
                       if (rows.ok() && !rows->empty()) {
                         samples.emplace_back(s->stg_src_schema,
                                              static_cast<double>(std::get<std::int64_t>(rows->at(0).at(0))));
                       }
                     }
                     return samples;
                   });

  http::ServerOptions options;
  options.listen = config.Get("listen");
  options.tls.cert_file = config.Get("tls_cert");
  options.tls.key_file = config.Get("tls_key");
  options.tls.min_version = config.Get("tls_min_version");
  options.listen_http = config.Get("listen_http");
  options.threads = config.GetInt("threads");
  options.busy_poll = std::chrono::microseconds(config.GetInt("busy_poll_us"));
  options.handler_threads = handler_threads;
  options.max_body_bytes = static_cast<std::size_t>(std::stoll(config.Get("max_body_bytes")));
  options.instance_name = config.Get("instance_name");
  options.max_inflight_body_bytes = static_cast<std::size_t>(std::stoll(config.Get("max_inflight_body_bytes")));
  options.on_hangup = [&reloader] { reloader.Reload("SIGHUP"); };
  options.on_stopping = [&scheduler] { scheduler.BeginStop(); };  // no run starts once stopping
  options.max_connections = config.GetInt("max_connections");
  if (options.max_connections == 0) options.max_connections = http::DefaultMaxConnections();
  // ping.jsp answers 503 while the local database does not answer (a SELECT 1
  // a second on a connection of its own), so a load balancer stops sending here.
  store::HealthProbe health(config.Get("local_db"));
  health.Start();
  options.health = [&health] {
    store::HealthProbe::State state = health.Current();
    return http::Health{state.ok, std::move(state.problem)};
  };
  // Blocking SOAP methods (Logon, discovery, …) run on the server's handler
  // pool; Ingest and IngestExt answer from the staging writer's callback.
  std::function<void(std::function<void()>)> run_blocking;
  router.set_blocking_runner([&run_blocking](std::function<void()> work) { run_blocking(std::move(work)); });
  auto handle_other = [&](const http::Request& request) {
    if (console::Console::Handles(request.path)) return console.Handle(request);
    if (request.path == "/nl/jsp/schemawsdl.jsp" && request.method == "GET") {
      std::string id = soap::QueryValue(request.query, "schema");
      const soap::ServiceDef* service = router.FindService(id);
      if (service == nullptr) {
        http::Response r;
        r.status = 404;
        r.body = fmt::format("no SOAP service '{}'\n", id.substr(0, 100));
        return r;
      }
      std::string host = request.Header("host").empty() ? options.listen : request.Header("host");
      std::string scheme = request.tls ? "https://" : "http://";
      return Xml(200, soap::GenerateWsdl(*service, scheme + host + "/nl/jsp/soaprouter.jsp"));
    }
    if (request.path == "/metrics" && request.method == "GET") {
      http::Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = metrics.Render();  // the gauges query the database
      return r;
    }
    http::Response r;
    r.status = 404;
    r.body = "no such endpoint\n";
    return r;
  };
  // Runs on an I/O thread: nothing here may block.
  http::Server server(options, [&](http::Request request, http::Responder respond) {
    if (request.path == "/nl/jsp/soaprouter.jsp") {
      if (request.method != "POST") {
        http::Response r;
        r.status = 405;
        r.body = "the SOAP router accepts POST only\n";
        r.headers.emplace_back("Allow", "POST");
        return respond(std::move(r));
      }
      soap::HttpCall call{request.body, request.query, std::move(request.headers)};
      router.HandleAsync(call, request.remote, [respond = std::move(respond)](soap::HttpReply reply) {
        http::Response r;
        r.status = reply.status;
        r.content_type = std::move(reply.content_type);
        r.body = std::move(reply.body);
        r.headers = std::move(reply.headers);  // Retry-After with a 429
        respond(std::move(r));
      });
      return;
    }
    run_blocking([&handle_other, request = std::move(request), respond = std::move(respond)] {
      respond(handle_other(request));
    });
  });
  run_blocking = [&server](std::function<void()> work) { server.RunBlocking(std::move(work)); };
  metrics.AddGauge("stagebridge_http_connections", "Client connections open now, and their limit (max_connections).",
                   "kind", [&server] {
                     http::Server::Stats s = server.CurrentStats();
                     return http::Metrics::GaugeSamples{{"open", s.connections}, {"limit", s.max_connections}};
                   });
  metrics.AddGauge("stagebridge_http_inflight_body_bytes",
                   "Request body bytes held in memory now, and their limit (max_inflight_body_bytes).", "kind",
                   [&server] {
                     http::Server::Stats s = server.CurrentStats();
                     return http::Metrics::GaugeSamples{{"held", static_cast<double>(s.body_bytes_held)},
                                                        {"limit", static_cast<double>(s.max_inflight_body_bytes)}};
                   });
  metrics.AddGauge(
      "stagebridge_http_refused_total",
      "Connections and requests refused by reason: over max_connections (503, or closed over TLS), over "
      "max_inflight_body_bytes (503), a TLS handshake that failed or timed out.",
      "reason",
      [&server] {
        http::Server::Stats s = server.CurrentStats();
        return http::Metrics::GaugeSamples{{"connections", static_cast<double>(s.refused_connections)},
                                           {"body_bytes", static_cast<double>(s.refused_bodies)},
                                           {"tls_handshake", static_cast<double>(s.failed_handshakes)}};
      },
      http::Metrics::Type::kCounter);
  Result<std::uint16_t> port = server.Start();
  if (!port.ok()) return Fail("listen", port.status());
  auto host = http::ParseListen(options.listen);
  spdlog::info(
      "stagebridge listening on {}://{}:{} (local db {}, {} schemas, at most {} connections; open-file "
      "limit {})",
      options.tls.enabled() ? "https" : "http", host->first, *port,
      store::ParseDatabaseUrl(config.Get("local_db"))->redacted, schemas->All().size(), options.max_connections,
      open_files < 0 ? std::string("unlimited") : std::to_string(open_files));
  if (options.tls.enabled()) {
    spdlog::info("TLS {} or later, certificate {} (reloaded on SIGHUP)", options.tls.min_version,
                 options.tls.cert_file);
  }
  if (server.http_port() != 0) {
    spdlog::info("stagebridge also listening on http://{}:{} (plain HTTP)",
                 http::ParseListen(options.listen_http)->first, server.http_port());
  }
  // A line on stdout that scripts and tests wait for instead of sleeping.
  std::cout << "listening on " << host->first << ":" << *port << std::endl;
  scheduler.Start();
  console.Start();
  reloader.Start();
  server.Wait();
  console.Stop();
  reloader.Stop();
  scheduler.Stop();  // a run in progress stops after its current batch (a script: at once)
  // Calls the server gave up on (the grace ran out) are finished while the
  // router and the metrics they report to still exist.
  writer.Stop();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace stagebridge::cli
