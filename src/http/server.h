// server.h — the HTTP/1.1 front door (Boost.Beast): keep-alive, a timeout on
// every read and write, header and body limits (an oversized body gets 413), a
// graceful stop that lets in-flight requests finish.
//
// The server knows nothing of SOAP: requests go to a Handler, a plain function
// from request to response, so nearly everything behind it is tested without a
// socket. The health endpoints (ping, /r/test) are handled here.
//
// Thread-safety: Start/Run/Stop may be called from any thread; the Handler is
// called concurrently from the I/O threads and must be thread-safe.
#pragma once

#include <atomic>
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

  // Header value or "" when absent. `name` must be lower-case.
  const std::string& Header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  int threads = 0;                        // I/O threads; 0 = one per core
  // Handlers run on the I/O threads and may block (a staging write waits for its
  // group commit), so the pool has at least this many threads: it bounds the
  // requests handled at once; more wait their turn.
  int handler_threads = 64;
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
  std::string instance_name = "stagebridge";
};

// Splits "host:port" ("[::1]:8080" for IPv6); InvalidArgument when malformed.
Result<std::pair<std::string, std::uint16_t>> ParseListen(std::string_view listen);

// The built-in endpoints: GET /nl/jsp/ping.jsp and GET /r/test. Returns false
// when `request` is not for one of them.
bool HandleHealth(const Request& request, const ServerOptions& options, Response& response);

class Server {
 public:
  // `handler` receives every request that is not a health endpoint.
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O threads; returns the bound port.
  Result<std::uint16_t> Start();

  // Blocks until Stop() is called or SIGINT/SIGTERM arrives, then drains.
  void Wait();

  // Stops accepting, lets in-flight requests finish, closes idle connections.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stagebridge::http
