// server.cc — Boost.Beast HTTP server: one coroutine per connection.
#include "http/server.h"

#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <tuple>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "xml/document.h"

namespace stagebridge::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

Request ToRequest(bhttp::request<bhttp::string_body>&& raw, const std::string& remote) {
  Request r;
  r.method = std::string(raw.method_string());
  r.target = std::string(raw.target());
  auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  for (const auto& field : raw) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(field.value());
  }
  r.body = std::move(raw.body());
  r.remote = remote;
  return r;
}

bhttp::response<bhttp::string_body> ToBeast(Response&& r, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::server, "stagebridge");
  res.set(bhttp::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

Response PlainError(int status, std::string text) {
  Response r;
  r.status = status;
  r.body = std::move(text);
  return r;
}

}  // namespace

const std::string& Request::Header(const std::string& name) const {
  static const std::string kEmpty;
  auto it = headers.find(name);
  return it == headers.end() ? kEmpty : it->second;
}

Result<std::pair<std::string, std::uint16_t>> ParseListen(std::string_view listen) {
  std::string_view host;
  std::string_view port;
  if (listen.starts_with('[')) {
    auto close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return Status::InvalidArgument(fmt::format("listen address '{}' is not [host]:port", listen));
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("listen address '{}' is not host:port", listen));
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    return Status::InvalidArgument(fmt::format("listen address '{}' has no valid host and port", listen));
  }
  boost::system::error_code addr_ec;
  asio::ip::make_address(std::string(host), addr_ec);
  if (addr_ec && host != "localhost") {
    return Status::InvalidArgument(fmt::format("listen address '{}': '{}' is not an IP address", listen, host));
  }
  return std::make_pair(std::string(host == "localhost" ? "127.0.0.1" : host), static_cast<std::uint16_t>(value));
}

bool HandleHealth(const Request& request, const ServerOptions& options, Response& response) {
  if (request.method != "GET" && request.method != "HEAD") return false;
  auto now = std::chrono::system_clock::now();
  if (request.path == "/nl/jsp/ping.jsp") {
    response.status = 200;
    response.content_type = "text/plain;charset=utf-8";
    response.body = fmt::format("OK\n{:%Y-%m-%d %H:%M:%S}.000Z\n", std::chrono::floor<std::chrono::seconds>(now));
    return true;
  }
  if (request.path == "/r/test") {
    response.status = 200;
    response.content_type = "text/xml;charset=utf-8";
    response.body = fmt::format(
        "<redir status='OK' date='{:%Y-%m-%d %H:%M:%S}' build='stagebridge-0.1.0' "
        "instance='{}' sourceIP='{}' host='{}' localHost='{}'/>\n",
        std::chrono::floor<std::chrono::seconds>(now), xml::Escape(options.instance_name, '\''),
        xml::Escape(request.remote, '\''), xml::Escape(request.Header("host"), '\''),
        xml::Escape(options.listen, '\''));
    return true;
  }
  return false;
}

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  // Requests between "header read" and "response written". Stop() waits for
  // them (bounded by kShutdownGrace); idle keep-alive connections are dropped.
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;            // GUARDED_BY(mu)
  bool stop_requested = false;  // GUARDED_BY(mu)

  asio::io_context ioc;  // after mu/cv: destroying it destroys sessions, which touch them
  std::optional<tcp::acceptor> acceptor;
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};

  Impl(ServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

  Response Dispatch(const Request& req) {
    Response res;
    if (HandleHealth(req, options, res)) return res;
    try {
      return handler(req);
    } catch (const std::exception& e) {
      // A handler must not throw; if one does, the connection survives.
      spdlog::error("handler error on {} {}: {}", req.method, req.path, e.what());
      return PlainError(500, "internal error\n");
    }
  }

  void AddInFlight(int delta) {
    std::lock_guard lock(mu);
    in_flight += delta;
    cv.notify_all();
  }

  // After refusing a request whose body we did not read, reads and discards what
  // the client is still sending (bounded in bytes and time) before closing, so the
  // close does not turn into a TCP reset that destroys our response in flight.
  static asio::awaitable<void> Drain(beast::tcp_stream& stream) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(kDrainTimeout);
    std::array<char, 16384> scratch{};
    std::size_t total = 0;
    while (total < kMaxDrainBytes) {
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(scratch), kAsTuple);
      if (rec) break;
      total += n;
    }
  }

  // Answers 413 to a request whose body is over the limit, then closes.
  asio::awaitable<void> RefuseTooLarge(beast::tcp_stream& stream, unsigned version) {
    Response r = PlainError(413, fmt::format("request body larger than {} bytes\n", options.max_body_bytes));
    stream.expires_after(kWriteTimeout);
    co_await bhttp::async_write(stream, ToBeast(std::move(r), version, false), kAsTuple);
    co_await Drain(stream);
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    std::string remote;
    boost::system::error_code ep_ec;
    auto ep = socket.remote_endpoint(ep_ec);
    if (!ep_ec) remote = ep.address().to_string();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping.load()) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
      parser.body_limit(options.max_body_bytes);
      stream.expires_after(first ? kReadTimeout : kIdleTimeout);
      // Wait for the header first (idle time), then give the rest a read timeout.
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kAsTuple);
      first = false;
      if (hec == bhttp::error::body_limit) {  // Content-Length over the limit, seen with the header
        co_await RefuseTooLarge(stream, 11);
        break;
      }
      if (hec) {
        // A peer that closed or went quiet gets nothing; a malformed request gets
        // a 4xx before the connection is closed (431 for an oversized header).
        if (hec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
            hec != bhttp::error::end_of_stream && hec != bhttp::error::partial_message) {
          int status = hec == bhttp::error::header_limit ? 431 : 400;
          Response r = PlainError(status, status == 431 ? "request header too large\n" : "malformed HTTP request\n");
          stream.expires_after(kWriteTimeout);
          co_await bhttp::async_write(stream, ToBeast(std::move(r), 11, false), kAsTuple);
          co_await Drain(stream);
        }
        break;
      }
      auto started = std::chrono::steady_clock::now();
      AddInFlight(1);
      struct Done {
        Impl* impl;
        ~Done() { impl->AddInFlight(-1); }
      } done_guard{this};
      stream.expires_after(kReadTimeout);
      unsigned version = parser.get().version();
      bool keep_alive = parser.get().keep_alive();
      auto content_length = parser.content_length();
      bool too_large = content_length && *content_length > options.max_body_bytes;
      boost::system::error_code ec;
      if (!too_large) std::tie(ec, std::ignore) = co_await bhttp::async_read(stream, buffer, parser, kAsTuple);
      if (too_large || ec == bhttp::error::body_limit) {
        co_await RefuseTooLarge(stream, version);
        break;
      }
      if (ec) {
        if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          Response r = PlainError(400, "malformed HTTP request body\n");
          stream.expires_after(kWriteTimeout);
          co_await bhttp::async_write(stream, ToBeast(std::move(r), version, false), kAsTuple);
          co_await Drain(stream);
        }
        break;
      }
      Request req = ToRequest(parser.release(), remote);
      // The handler may block (a staging write waits for its group commit): it
      // runs here, on this connection's strand; the I/O pool has enough threads
      // (handler_threads) for that, and no thread hop is paid per request.
      Response res = Dispatch(req);
      keep_alive = keep_alive && !stopping.load();
      stream.expires_after(kWriteTimeout);
      int status = res.status;
      std::size_t body_bytes = res.body.size();
      auto [wec, wn] = co_await bhttp::async_write(stream, ToBeast(std::move(res), version, keep_alive), kAsTuple);
      // Access log: key=value, the path only (a query string may carry anything).
      if (spdlog::should_log(spdlog::level::info)) {
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        spdlog::info("access remote={} method={} path={} status={} bytes={} ms={:.2f}{}", remote,
                     xml::Printable(req.method), xml::Printable(req.path), status, body_bytes, ms,
                     wec ? " write_error=1" : "");
      }
      if (wec || !keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  std::chrono::steady_clock::time_point last_accept_warning{};

  asio::awaitable<void> Accept() {
    while (acceptor && acceptor->is_open()) {
      auto [ec, socket] = co_await acceptor->async_accept(asio::make_strand(ioc), kAsTuple);
      if (ec) {
        if (stopping.load() || ec == asio::error::operation_aborted) break;
        // Out of file descriptors and the like: do not spin; say it once a second.
        auto now = std::chrono::steady_clock::now();
        if (now - last_accept_warning > std::chrono::seconds(1)) {
          spdlog::warn("accept failed: {}", ec.message());
          last_accept_warning = now;
        }
        asio::steady_timer pause(acceptor->get_executor(), kAcceptRetryDelay);
        co_await pause.async_wait(kAsTuple);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto executor = socket.get_executor();
      asio::co_spawn(executor, Session(std::move(socket)), asio::detached);
    }
  }

  void BeginStop() {
    {
      std::lock_guard lock(mu);
      stop_requested = true;
      cv.notify_all();
    }
    if (stopping.exchange(true)) return;
    asio::post(ioc, [this] {
      boost::system::error_code ec;
      if (acceptor) acceptor->close(ec);
      signals.cancel(ec);
    });
  }
};

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() {
  if (!impl_->threads.empty()) {
    Stop();
    Wait();
  }
}

Result<std::uint16_t> Server::Start() {
  SB_ASSIGN_OR_RETURN(auto host_port, ParseListen(impl_->options.listen));
  boost::system::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(host_port.first, ec), host_port.second);
  auto& acc = impl_->acceptor.emplace(impl_->ioc);
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable(fmt::format("cannot listen on {}: {}", impl_->options.listen, ec.message()));
  std::uint16_t port = acc.local_endpoint().port();

  impl_->signals.async_wait([this](const boost::system::error_code& sec, int signo) {
    if (sec) return;
    spdlog::info("signal {} received: stopping (in-flight requests finish)", signo);
    impl_->BeginStop();
  });
  asio::co_spawn(impl_->ioc, impl_->Accept(), asio::detached);
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int n = std::max(impl_->options.threads > 0 ? impl_->options.threads : cores, impl_->options.handler_threads);
  for (int i = 0; i < n; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return port;
}

void Server::Wait() {
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait(lock, [this] { return impl_->stop_requested; });
    // In-flight requests finish (their writes are acknowledged) before we stop.
    bool drained = impl_->cv.wait_for(lock, kShutdownGrace, [this] { return impl_->in_flight == 0; });
    if (!drained)
      spdlog::warn("{} request(s) still running after {}s; stopping anyway", impl_->in_flight, kShutdownGrace.count());
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

void Server::Stop() {
  impl_->BeginStop();
}

}  // namespace stagebridge::http
