// server.h — the HTTP/1.1 front door (Boost.Beast): keep-alive, a timeout on
// every read and write, header and body limits (an oversized body gets 413), a
// graceful stop that lets in-flight requests finish.
//
// The server knows nothing of SOAP: requests go to a handler, so nearly
// everything behind it is tested without a socket. The health endpoints (ping,
// /r/test) are handled here; ping asks ServerOptions::health, a hook, so this
// module needs no database.
//
// Threads: a few I/O threads (one per core by default) run every connection and
// never block. A handler is either
//   - a Handler, a plain function from request to response that may block: it
//     runs on the handler pool (`handler_threads` threads), or
//   - an AsyncHandler, which runs on the I/O thread, must not block, and answers
//     through a Responder, from any thread, when it is ready (a staging write
//     answers once its group commit returned; no thread waits for it). It can
//     hand blocking work to the handler pool with RunBlocking().
//
// TLS: with a certificate and key (ServerOptions::tls) the main listener speaks
// HTTPS only (OpenSSL through Boost.Asio; TLS 1.2 or 1.3 at least), with the
// same limits, timeouts, keep-alive and 100-continue as plain HTTP; an optional
// second listener (listen_http) speaks plain HTTP, e.g. on loopback. SIGHUP
// re-reads the certificate and key: new connections use them, open ones keep
// theirs; files that do not load are logged and the old ones stay in use.
//
// Thread-safety: Start/Wait/Stop/RunBlocking/ReloadTls may be called from any
// thread; handlers are called concurrently and must be thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "http/limits.h"

namespace stagebridge::http {

struct Request {
  std::string method;                          // "GET", "POST", …
  std::string target;                          // path and query, as sent
  std::string path;                            // target without the query
  std::string query;                           // after '?', not decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;  // peer address, for logs
  bool tls = false;    // arrived over HTTPS

  // Header value or "" when absent. `name` must be lower-case.
  const std::string& Header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A handler that may block: runs on the handler pool.
using Handler = std::function<Response(const Request&)>;

// Sends the response of one request; call it exactly once, from any thread
// (later calls are ignored). A request whose Responder is dropped without
// being called is never answered: don't.
using Responder = std::function<void(Response)>;

// A handler that must not block: runs on an I/O thread and answers through
// `respond`, possibly after it returned.
using AsyncHandler = std::function<void(Request request, Responder respond)>;

struct TlsOptions {
  std::string cert_file;            // PEM: the server certificate, then its chain
  std::string key_file;             // PEM: its private key
  std::string min_version = "1.2";  // "1.2" or "1.3"

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// What GET /nl/jsp/ping.jsp reports: healthy, or why not (a line for the body,
// no secrets: the endpoint needs no session).
struct Health {
  bool ok = true;
  std::string problem;
};

// Asked by every ping, on an I/O thread: it must not block (answer from a
// cached state, e.g. a store::HealthProbe's).
using HealthCheck = std::function<Health()>;

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  TlsOptions tls;                         // when enabled(), `listen` speaks HTTPS
  std::string listen_http;                // with TLS: a second listener speaking plain HTTP ("" = none)
  int threads = 0;                        // I/O threads; 0 = one per core
  // An I/O thread polls instead of sleeping, for at most this long at a time,
  // while code on it waits for a socket it expects to answer within
  // microseconds (Reactor::WaitFd with `spin`: the staging writer's statement
  // sent while the writer was idle), and after a response when it serves a
  // single connection: the answer or the next request then costs no thread
  // wake-up (tens of µs on a VM). One I/O thread at most polls at a time. 0 =
  // always sleep.
  std::chrono::microseconds busy_poll{kDefaultBusyPoll};
  // Threads of the handler pool, which runs blocking work (a Handler, or what an
  // AsyncHandler passes to RunBlocking): it bounds the blocking requests handled
  // at once; more wait their turn.
  int handler_threads = 64;
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
  // Client connections open at once; one more is answered 503 and closed.
  // 0 = derived from the open-file limit (see DefaultMaxConnections), so a
  // connection flood never takes the descriptors the databases need.
  int max_connections = 0;
  // Request bodies held in memory at once, all connections together (each
  // counted from its Content-Length, a chunked one as max_body_bytes, until its
  // response is written): a request beyond it is answered 503 and closed, so
  // many large bodies at once cannot exhaust memory. At least max_body_bytes.
  std::size_t max_inflight_body_bytes = kDefaultMaxInflightBodyBytes;
  std::string instance_name = "stagebridge";
  // The node's health for ping.jsp: unset = always healthy. When it reports a
  // problem, ping answers 503 with it, so a load balancer stops sending here.
  HealthCheck health;
  // Called on SIGHUP (after the TLS files are reloaded, with TLS), on the
  // handler pool: e.g. reload the user workflows. Unset: SIGHUP only reloads TLS.
  std::function<void()> on_hangup;
  // Called once when SIGINT/SIGTERM starts the stop, on an I/O thread (must not
  // block): e.g. stop starting workflow runs while in-flight requests finish.
  std::function<void()> on_stopping;
  // How long Wait() lets in-flight requests finish after a stop; the
  // connections of those still running are then dropped.
  std::chrono::milliseconds shutdown_grace = kShutdownGrace;
};

// Splits "host:port" ("[::1]:8080" for IPv6); InvalidArgument when malformed.
Result<std::pair<std::string, std::uint16_t>> ParseListen(std::string_view listen);

// Raises the soft limit on open files (RLIMIT_NOFILE) to the hard one, as a
// server expecting many connections should; returns the soft limit now in force.
long RaiseOpenFileLimit();

// The connection limit when none is configured: the open-file limit minus
// kFdReserve (half the limit when that leaves too little).
int DefaultMaxConnections();

// Loads `tls` as the server would (certificate chain, key, the key matching the
// certificate); InvalidArgument naming the file and the problem otherwise.
Status CheckTls(const TlsOptions& tls);

// The built-in endpoints: GET /nl/jsp/ping.jsp (200 "OK" and the time, or 503
// "ERROR", the time and the problem when options.health reports one) and
// GET /r/test. Returns false when `request` is not for one of them.
bool HandleHealth(const Request& request, const ServerOptions& options, Response& response);

class Server {
 public:
  // `handler` receives every request that is not a health endpoint.
  Server(ServerOptions options, Handler handler);
  Server(ServerOptions options, AsyncHandler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS files (if any), binds and starts the I/O threads; returns the
  // bound port of `listen`.
  Result<std::uint16_t> Start();

  // The bound port of `listen_http` (0 when there is none). REQUIRES: Start() succeeded.
  std::uint16_t http_port() const;

  // Re-reads the TLS certificate and key (what SIGHUP does): new connections use
  // them; on an error the old ones stay in use and the error is returned.
  Status ReloadTls();

  // Blocks until Stop() is called or SIGINT/SIGTERM arrives, then drains.
  void Wait();

  // Stops accepting, lets in-flight requests finish, closes idle connections.
  void Stop();

  // What the limits look like now (for /metrics).
  struct Stats {
    int connections = 0;  // open client connections
    int max_connections = 0;
    std::size_t body_bytes_held = 0;  // request bodies in memory
    std::size_t max_inflight_body_bytes = 0;
    std::uint64_t refused_connections = 0;  // answered 503: over max_connections
    std::uint64_t refused_bodies = 0;       // answered 503: over max_inflight_body_bytes
    std::uint64_t failed_handshakes = 0;    // TLS handshakes that failed or timed out
  };
  Stats CurrentStats() const;

  // Runs `work` on the handler pool, where it may block.
  // REQUIRES: Start() succeeded and Wait() has not returned.
  void RunBlocking(std::function<void()> work);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stagebridge::http
