// server.cc — Boost.Beast HTTP server: one coroutine per connection; handlers
// answer through a ResponseSlot, so none keeps an I/O thread waiting.
#include "http/server.h"

#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <tuple>
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include "base/reactor.h"
#include "stagebridge_version.h"
#include "xml/document.h"

namespace stagebridge::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The TCP stream under a stream, plain or TLS.
beast::tcp_stream& Tcp(beast::tcp_stream& stream) {
  return stream;
}
beast::tcp_stream& Tcp(TlsStream& stream) {
  return beast::get_lowest_layer(stream);
}

// OpenSSL's reason for the last failure, for a message ("no start line").
std::string OpenSslReason() {
  unsigned long code = ERR_get_error();
  std::string reason;
  while (code != 0) {
    const char* text = ERR_reason_error_string(code);
    if (text != nullptr && reason.empty()) reason = text;
    code = ERR_get_error();
  }
  return reason.empty() ? "unknown error" : reason;
}

// A server context from the PEM files: the chain, the key, the key matching the
// certificate, the minimum protocol version. Errors name the setting and file.
Result<std::shared_ptr<ssl::context>> LoadTlsContext(const TlsOptions& tls) {
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return Status::InvalidArgument(
        fmt::format("TLS needs both tls_cert and tls_key (tls_cert '{}', tls_key '{}')", tls.cert_file, tls.key_file));
  }
  if (tls.min_version != "1.2" && tls.min_version != "1.3") {
    return Status::InvalidArgument(fmt::format("tls_min_version '{}' is not 1.2 or 1.3", tls.min_version));
  }
  for (const auto& [setting, file] : {std::pair<const char*, const std::string*>{"tls_cert", &tls.cert_file},
                                      std::pair<const char*, const std::string*>{"tls_key", &tls.key_file}}) {
    std::ifstream in(*file);
    if (!in) {
      return Status::InvalidArgument(fmt::format("{} {}: cannot be read ({})", setting, *file,
                                                 std::error_code(errno, std::generic_category()).message()));
    }
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, tls.cert_file.c_str()) != 1) {
    return Status::InvalidArgument(
        fmt::format("tls_cert {}: not a PEM certificate (chain): {}", tls.cert_file, OpenSslReason()));
  }
  if (SSL_CTX_use_PrivateKey_file(native, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::string reason = OpenSslReason();
    if (reason == "key values mismatch") {
      return Status::InvalidArgument(
          fmt::format("tls_key {} does not match the certificate in tls_cert {}", tls.key_file, tls.cert_file));
    }
    return Status::InvalidArgument(fmt::format("tls_key {}: not a PEM private key: {}", tls.key_file, reason));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status::InvalidArgument(fmt::format("tls_key {} does not match the certificate in tls_cert {}: {}",
                                               tls.key_file, tls.cert_file, OpenSslReason()));
  }
  return ctx;
}
constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

Request ToRequest(bhttp::request<bhttp::string_body>&& raw, const std::string& remote, bool tls) {
  Request r;
  r.tls = tls;
  r.method = std::string(raw.method_string());
  r.target = std::string(raw.target());
  auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  for (const auto& field : raw) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.insert_or_assign(std::move(name), std::string(field.value()));  // a repeated header: the last
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

using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;

// Lets a warning through at most once a second, from any thread: a flood must
// not flood the log too.
class OncePerSecond {
 public:
  bool operator()() {
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = last_.load(std::memory_order_relaxed);
    return now - last > kSecond && last_.compare_exchange_strong(last, now, std::memory_order_relaxed);
  }

 private:
  static constexpr auto kSecond =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::seconds(1)).count();
  std::atomic<std::chrono::steady_clock::rep> last_{0};
};

// Counts one client connection for as long as its coroutine (which owns the
// ticket) lives.
class ConnectionTicket {
 public:
  explicit ConnectionTicket(std::atomic<int>& open) : open_(&open) { open_->fetch_add(1, std::memory_order_relaxed); }
  ConnectionTicket(ConnectionTicket&& other) noexcept : open_(std::exchange(other.open_, nullptr)) {}
  ConnectionTicket(const ConnectionTicket&) = delete;
  ConnectionTicket& operator=(const ConnectionTicket&) = delete;
  ConnectionTicket& operator=(ConnectionTicket&&) = delete;
  ~ConnectionTicket() {
    if (open_ != nullptr) open_->fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<int>* open_;
};

// Answers a connection over the limit with a 503 and closes it, without
// waiting: a fresh socket's send buffer takes the few bytes at once.
template <typename Socket>
void RefuseConnection(Socket& socket) {
  static const std::string kBusy = [] {
    std::string body = "too many open connections; retry later\n";
    return fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nServer: stagebridge\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{}",
        body.size(), body);
  }();
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  asio::write(socket, asio::buffer(kBusy), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  // What the peer already sent is read away, so the close does not reset the
  // connection before the 503 is read.
  std::array<char, 4096> scratch{};
  for (int i = 0; i < 16 && !ec; ++i) socket.read_some(asio::buffer(scratch), ec);
  socket.close(ec);
}

// One response on its way back to its connection: a handler fills it (from any
// thread) and the connection's coroutine, suspended meanwhile, resumes on its
// own I/O thread. The slot may outlive the server (a staging write answered after
// a shutdown gave up on it): Abandon() then drops everything that belongs to
// the io_context, and a late Fill() does nothing.
class ResponseSlot {
 public:
  // Takes the suspended coroutine's completion handler.
  template <typename CompletionHandler>
  void Arm(CompletionHandler handler, WorkGuard work) {
    std::lock_guard lock(mu_);
    waiter_ = std::make_unique<WaiterFor<CompletionHandler>>(std::move(handler), std::move(work));
  }

  // Resumes the coroutine with `response`; ignored after the first call or Abandon().
  void Fill(Response response) {
    // Under the lock: Abandon() must not return (and the server go) while this
    // thread still touches the io_context.
    std::lock_guard lock(mu_);
    if (!waiter_) return;
    waiter_->Resume(std::move(response));
    waiter_.reset();
  }

  // The server is stopping and will not wait for this response: the coroutine
  // is destroyed (through its executor), never resumed.
  // REQUIRES: the io_context still exists and runs no thread.
  void Abandon() {
    std::unique_ptr<Waiter> waiter;
    std::lock_guard lock(mu_);
    waiter = std::move(waiter_);  // destroyed after the lock is released
  }

 private:
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void Resume(Response response) = 0;
  };
  template <typename CompletionHandler>
  struct WaiterFor : Waiter {
    WaiterFor(CompletionHandler h, WorkGuard w) : handler(std::move(h)), work(std::move(w)) {}
    void Resume(Response response) override {
      // The handler's executor is the connection's io_context: the coroutine
      // never runs on the thread that filled the slot.
      auto executor = asio::get_associated_executor(handler);
      asio::post(executor, [h = std::move(handler), w = std::move(work), r = std::move(response)]() mutable {
        std::move(h)(std::move(r));
      });
    }
    CompletionHandler handler;
    WorkGuard work;  // keeps the io_context running while the handler works
  };

  std::mutex mu_;
  std::unique_ptr<Waiter> waiter_;  // GUARDED_BY(mu_)
};

// An I/O thread's loop, and the Reactor code on it waits through. While a
// wait is pending it polls (epoll with no timeout) instead of sleeping, up to
// busy_poll after the wait began, then sleeps as usual.
class IoLoop final : public Reactor {
 public:
  // `spinner`: which of the server's loops polls now (at most one: a polling
  // thread takes a whole core, and the database and the clients need the others).
  IoLoop(asio::io_context& ioc, std::chrono::microseconds busy_poll, std::atomic<const IoLoop*>& spinner)
      : ioc_(ioc), busy_poll_(busy_poll), spinner_(spinner) {}

  void WaitFd(int fd, bool write, bool spin, std::function<void(bool ok)> ready) override {
    // The descriptor stays registered with epoll between waits (until Forget):
    // a wait then costs one epoll_ctl, not four system calls.
    std::unique_ptr<Watch>& watch = watches_[fd];
    if (!watch) watch = std::make_unique<Watch>(ioc_, fd);
    ++pending_;
    if (spin) poll_until_ = std::chrono::steady_clock::now() + busy_poll_;
    watch->descriptor.async_wait(
        write ? asio::posix::stream_descriptor::wait_write : asio::posix::stream_descriptor::wait_read,
        [this, ready = std::move(ready)](const boost::system::error_code& ec) {
          --pending_;
          ready(!ec);
        });
  }

  void Forget(int fd) override { watches_.erase(fd); }

  // The number of connections this loop serves, kept up by each connection on
  // the loop's thread; shared, since a connection's coroutine may be destroyed
  // after the loop (with the io_context).
  std::shared_ptr<int> Connections() const { return connections_; }
  // A response was written. A loop serving one connection polls for that
  // client's next request for busy_poll: a client calling one call after the
  // other sends it within tens of microseconds, and it then costs no wake-up.
  // With more connections there is other work to do, and no polling.
  void Answered() {
    if (*connections_ == 1 && busy_poll_.count() > 0) {
      spin_until_ = std::chrono::steady_clock::now() + busy_poll_;
      spinning_ = true;
    }
  }

  // The loop of the calling thread (an I/O thread's), or null.
  static IoLoop* Current() { return dynamic_cast<IoLoop*>(Reactor::Current()); }

  // Runs the io_context until it is stopped or runs out of work.
  void Run() {
    Reactor::SetCurrent(this);
    for (;;) {
      bool poll = false;
      if (pending_ > 0 || spinning_) {  // the clock is read only when polling may be due
        auto now = std::chrono::steady_clock::now();
        spinning_ = now < spin_until_;
        poll = ((pending_ > 0 && now < poll_until_) || spinning_) && Spin();
      }
      if (poll) {
        if (ioc_.poll() == 0 && ioc_.stopped()) break;
        continue;
      }
      Unspin();
      if (ioc_.run_one() == 0) break;
    }
    Unspin();
    Reactor::SetCurrent(nullptr);
  }

 private:
  // Takes the right to poll (or has it already); false when another loop polls.
  bool Spin() {
    const IoLoop* none = nullptr;
    return spinner_.load(std::memory_order_relaxed) == this ||
           spinner_.compare_exchange_strong(none, this, std::memory_order_relaxed);
  }
  void Unspin() {
    // Only the loop holding the right gives it back: a load, no write, otherwise.
    if (spinner_.load(std::memory_order_relaxed) == this) spinner_.store(nullptr, std::memory_order_relaxed);
  }

  // A descriptor watched for waits, not owned: released (not closed) when
  // forgotten, or with the loop.
  struct Watch {
    Watch(asio::io_context& ioc, int fd) : descriptor(ioc, fd) {}
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    ~Watch() {
      if (descriptor.is_open()) (void)descriptor.release();
    }
    asio::posix::stream_descriptor descriptor;
  };

  asio::io_context& ioc_;
  const std::chrono::microseconds busy_poll_;
  std::atomic<const IoLoop*>& spinner_;
  std::unordered_map<int, std::unique_ptr<Watch>> watches_;      // by descriptor
  int pending_ = 0;                                              // waits not yet answered
  std::shared_ptr<int> connections_ = std::make_shared<int>(0);  // served now
  std::chrono::steady_clock::time_point poll_until_;
  std::chrono::steady_clock::time_point spin_until_;
  bool spinning_ = false;  // spin_until_ may be ahead
};

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

Status CheckTls(const TlsOptions& tls) {
  Result<std::shared_ptr<ssl::context>> ctx = LoadTlsContext(tls);
  return ctx.ok() ? Status::Ok() : ctx.status();
}

long RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<long>(limit.rlim_cur);
}

int DefaultMaxConnections() {
  constexpr int kCeiling = 1 << 20;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > kCeiling) {
    return kCeiling;
  }
  int files = static_cast<int>(limit.rlim_cur);
  return files - kFdReserve >= files / 2 ? files - kFdReserve : std::max(1, files / 2);
}

bool HandleHealth(const Request& request, const ServerOptions& options, Response& response) {
  if (request.method != "GET" && request.method != "HEAD") return false;
  auto now = std::chrono::system_clock::now();
  if (request.path == "/nl/jsp/ping.jsp") {
    Health health = options.health ? options.health() : Health{};
    auto second = std::chrono::floor<std::chrono::seconds>(now);
    response.content_type = "text/plain;charset=utf-8";
    if (health.ok) {
      response.status = 200;
      response.body = fmt::format("OK\n{:%Y-%m-%d %H:%M:%S}.000Z\n", second);
    } else {
      // A load balancer's health check takes the node out on this status.
      response.status = 503;
      response.body = fmt::format("ERROR\n{:%Y-%m-%d %H:%M:%S}.000Z\n{}\n", second, health.problem);
    }
    return true;
  }
  if (request.path == "/r/test") {
    response.status = 200;
    response.content_type = "text/xml;charset=utf-8";
    response.body = fmt::format("<redir status='OK' date='{:%Y-%m-%d %H:%M:%S}' build='stagebridge-" STAGEBRIDGE_VERSION
                                "' "
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
  AsyncHandler handler;
  // Requests between "header read" and "response written". Stop() waits for
  // them (bounded by kShutdownGrace); idle keep-alive connections are dropped.
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;            // GUARDED_BY(mu)
  bool stop_requested = false;  // GUARDED_BY(mu)
  // Responses handlers are working on, abandoned if the grace runs out.
  std::set<std::shared_ptr<ResponseSlot>> waiting;  // GUARDED_BY(mu)

  // One io_context per I/O thread, each run by its thread alone: a connection
  // lives on one of them, so it needs no strand, and its handlers never wake
  // another I/O thread. After mu/cv/waiting: destroying them destroys sessions,
  // which touch those.
  std::vector<std::unique_ptr<asio::io_context>> iocs;
  std::atomic<const IoLoop*> spinner{nullptr};  // the loop polling now (IoLoop)
  std::vector<std::unique_ptr<IoLoop>> loops;   // one per io_context, run by its thread
  std::size_t next_ioc = 0;                     // round-robin for new connections; the acceptor's thread only
  std::optional<tcp::acceptor> acceptor;        // `listen`, on iocs[0]
  std::optional<tcp::acceptor> http_acceptor;   // `listen_http` (TLS on), on iocs[0]
  std::optional<asio::signal_set> signals;      // on iocs[0]
  std::optional<asio::signal_set> hangups;      // SIGHUP: reload the TLS files; on iocs[0]
  // The TLS context new connections take (each keeps its own copy alive).
  mutable std::mutex tls_mu;
  std::shared_ptr<ssl::context> tls_ctx;  // GUARDED_BY(tls_mu); null without TLS
  std::vector<WorkGuard> running;         // keeps an io_context without connections running
  std::vector<std::thread> threads;
  std::optional<asio::thread_pool> handler_pool;  // blocking work; joined before the io_context goes
  std::atomic<bool> stopping{false};
  std::atomic<int> connections{0};  // open client connections (ConnectionTicket)
  int max_connections;
  std::atomic<std::size_t> body_bytes_held{0};  // HoldBody
  std::size_t max_inflight_body_bytes;
  OncePerSecond busy_warning;
  OncePerSecond accept_warning;  // accept failed (EMFILE and the like)
  OncePerSecond limit_warning;   // max_connections reached
  std::atomic<std::uint64_t> refused_connections{0};
  std::atomic<std::uint64_t> refused_bodies{0};
  std::atomic<std::uint64_t> failed_handshakes{0};
  OncePerSecond handshake_warning;

  Impl(ServerOptions o, AsyncHandler h)
      : options(std::move(o)),
        handler(std::move(h)),
        max_connections(options.max_connections > 0 ? options.max_connections : DefaultMaxConnections()),
        max_inflight_body_bytes(std::max(options.max_inflight_body_bytes, options.max_body_bytes)) {
    int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int n = options.threads > 0 ? options.threads : cores;
    for (int i = 0; i < n; ++i) {
      iocs.push_back(std::make_unique<asio::io_context>(1));  // hint: one thread each
      loops.push_back(std::make_unique<IoLoop>(*iocs.back(), options.busy_poll, spinner));
    }
    signals.emplace(*iocs[0], SIGINT, SIGTERM);
  }

  // Waits for the next SIGHUP and reloads the TLS files.
  void AwaitHangup() {
    hangups->async_wait([this](const boost::system::error_code& ec, int /*signo*/) {
      if (ec) return;
      if (options.tls.enabled()) {
        Status reloaded = Reload();
        if (reloaded.ok()) {
          spdlog::info("SIGHUP: TLS certificate and key reloaded from {} and {}", options.tls.cert_file,
                       options.tls.key_file);
        } else {
          spdlog::error("SIGHUP: TLS files not reloaded, the previous ones stay in use: {}", reloaded.message());
        }
      }
      if (options.on_hangup) asio::post(*handler_pool, options.on_hangup);
      AwaitHangup();
    });
  }

  Status Reload() {
    if (!options.tls.enabled()) return Status::FailedPrecondition("TLS is not configured");
    SB_ASSIGN_OR_RETURN(std::shared_ptr<ssl::context> ctx, LoadTlsContext(options.tls));
    std::lock_guard lock(tls_mu);
    tls_ctx = std::move(ctx);
    return Status::Ok();
  }

  // Binds `listen` (host:port) to `acc`, on iocs[0].
  Result<std::uint16_t> Bind(std::optional<tcp::acceptor>& acc, const std::string& listen) {
    SB_ASSIGN_OR_RETURN(auto host_port, ParseListen(listen));
    boost::system::error_code ec;
    tcp::endpoint endpoint(asio::ip::make_address(host_port.first, ec), host_port.second);
    auto& a = acc.emplace(*iocs[0]);
    a.open(endpoint.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(endpoint, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable(fmt::format("cannot listen on {}: {}", listen, ec.message()));
    return a.local_endpoint().port();
  }

  // A blocking Handler, run on the handler pool.
  static AsyncHandler OnPool(Impl* impl, Handler blocking) {
    return [impl, blocking = std::move(blocking)](Request request, Responder respond) {
      asio::post(*impl->handler_pool, [&blocking, request = std::move(request), respond = std::move(respond)] {
        Response response;
        try {
          response = blocking(request);
        } catch (const std::exception& e) {
          // A handler must not throw; if one does, the connection survives.
          spdlog::error("handler error on {} {}: {}", request.method, request.path, e.what());
          response = PlainError(500, "internal error\n");
        }
        respond(std::move(response));
      });
    };
  }

  // Runs the handler for `request` and completes with its response, without
  // holding this thread: the coroutine awaiting it is suspended meanwhile.
  template <typename CompletionToken>
  auto AsyncDispatch(asio::io_context& ioc, Request request, std::shared_ptr<ResponseSlot> slot,
                     CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(Response)>(
        // NOLINTNEXTLINE(performance-unnecessary-value-param): async_initiate passes rvalues; both are moved on.
        [this, &ioc](auto completion, Request req, std::shared_ptr<ResponseSlot> answer) {
          answer->Arm(std::move(completion), asio::make_work_guard(ioc));
          try {
            handler(std::move(req), [answer](Response response) { answer->Fill(std::move(response)); });
          } catch (const std::exception& e) {
            // A handler must not throw; if one does, the connection survives
            // (and a response it sent before throwing wins).
            spdlog::error("handler error: {}", e.what());
            answer->Fill(PlainError(500, "internal error\n"));
          }
        },
        token, std::move(request), std::move(slot));
  }

  void AddInFlight(int delta) {
    std::lock_guard lock(mu);
    in_flight += delta;
    // Only a stopping Wait() cares; waking it on every request would cost two
    // context switches per request.
    if (stop_requested && in_flight == 0) cv.notify_all();
  }

  void Waiting(const std::shared_ptr<ResponseSlot>& slot, bool add) {
    std::lock_guard lock(mu);
    if (add) {
      waiting.insert(slot);
    } else {
      waiting.erase(slot);
    }
  }

  // After refusing a request whose body we did not read, reads and discards what
  // the client is still sending (bounded in bytes and time) before closing, so the
  // close does not turn into a TCP reset that destroys our response in flight.
  template <typename Stream>
  static asio::awaitable<void> Drain(Stream& stream) {
    boost::system::error_code ec;
    Tcp(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
    Tcp(stream).expires_after(kDrainTimeout);
    std::array<char, 16384> scratch{};
    std::size_t total = 0;
    while (total < kMaxDrainBytes) {
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(scratch), kAsTuple);
      if (rec) break;
      total += n;
    }
  }

  // Answers a request whose body is refused unread (413, 503), then closes.
  template <typename Stream>
  asio::awaitable<void> RefuseBody(Stream& stream, unsigned version, Response r) {
    Tcp(stream).expires_after(kWriteTimeout);
    auto message = ToBeast(std::move(r), version, false);
    // clang-tidy 14 sees the coroutine's own copy of its parameters in co_await;
    // `r` is not used after the move.
    // NOLINTNEXTLINE(bugprone-use-after-move)
    co_await bhttp::async_write(stream, message, kAsTuple);
    co_await Drain(stream);
  }

  template <typename Stream>
  asio::awaitable<void> RefuseTooLarge(Stream& stream, unsigned version) {
    co_await RefuseBody(stream, version,
                        PlainError(413, fmt::format("request body larger than {} bytes\n", options.max_body_bytes)));
  }

  // Takes `bytes` of the in-flight body budget; false (and nothing taken) when
  // they do not fit.
  bool HoldBody(std::size_t bytes) {
    std::size_t held = body_bytes_held.load(std::memory_order_relaxed);
    do {
      if (bytes > max_inflight_body_bytes - held) return false;
    } while (!body_bytes_held.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
    return true;
  }

  Response Busy() {
    refused_bodies.fetch_add(1, std::memory_order_relaxed);
    if (busy_warning()) {
      spdlog::warn("request bodies in memory at their limit ({} bytes): requests answered 503",
                   max_inflight_body_bytes);
    }
    Response r = PlainError(503, "too many request bytes in progress; retry later\n");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }

  static std::string RemoteOf(const tcp::socket& socket) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    return ec ? std::string() : ep.address().to_string();
  }

  // One plain HTTP connection, on `ioc` (its socket's).
  asio::awaitable<void> PlainSession(tcp::socket socket, asio::io_context& ioc, ConnectionTicket ticket) {
    std::string remote = RemoteOf(socket);
    beast::tcp_stream stream(std::move(socket));
    co_await Session(stream, remote, ioc);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    (void)ticket;
  }

  // One HTTPS connection: the handshake (asynchronous, under its own timeout:
  // a stalled or plain-HTTP client holds no thread and is dropped), then the
  // same requests as over HTTP, then close_notify. `ctx` is the context the
  // connection started with, kept alive by it across a reload.
  asio::awaitable<void> TlsSession(tcp::socket socket, asio::io_context& ioc, ConnectionTicket ticket,
                                   std::shared_ptr<ssl::context> ctx) {
    std::string remote = RemoteOf(socket);
    TlsStream stream(beast::tcp_stream(std::move(socket)), *ctx);
    Tcp(stream).expires_after(kHandshakeTimeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kAsTuple);
    boost::system::error_code ignored;
    if (hec) {
      std::uint64_t failed = failed_handshakes.fetch_add(1, std::memory_order_relaxed) + 1;
      if (handshake_warning()) {
        spdlog::info("TLS handshake from {} failed: {} ({} failed since the start)", remote, hec.message(), failed);
      }
      Tcp(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    co_await Session(stream, remote, ioc);
    Tcp(stream).expires_after(kTlsShutdownTimeout);
    co_await stream.async_shutdown(kAsTuple);
    Tcp(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
    (void)ticket;
  }

  // The requests of one connection, plain or TLS, until it ends.
  template <typename Stream>
  asio::awaitable<void> Session(Stream& stream, const std::string& remote, asio::io_context& ioc) {
    constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
    IoLoop* loop = IoLoop::Current();
    struct Counted {
      std::shared_ptr<int> count;
      explicit Counted(std::shared_ptr<int> c) : count(std::move(c)) {
        if (count) ++*count;
      }
      Counted(const Counted&) = delete;
      Counted& operator=(const Counted&) = delete;
      ~Counted() {
        if (count) --*count;
      }
    } counted{loop != nullptr ? loop->Connections() : nullptr};
    beast::flat_buffer buffer;
    // Room for a whole ordinary request: its header and body then come in one
    // read (Beast's first reads are 512 bytes otherwise).
    buffer.reserve(kInitialReadBuffer);
    bool first = true;
    while (!stopping.load()) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
      parser.body_limit(options.max_body_bytes);
      Tcp(stream).expires_after(first ? kReadTimeout : kIdleTimeout);
      auto header_deadline = std::chrono::steady_clock::now() + (first ? kReadTimeout : kIdleTimeout);
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
          Tcp(stream).expires_after(kWriteTimeout);
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
      unsigned version = parser.get().version();
      bool keep_alive = parser.get().keep_alive();
      auto content_length = parser.content_length();
      // The body's read gets its own timeout, unless it came with the header
      // (no read left to time, and no timer to re-arm: a system call saved).
      bool body_read = !content_length || buffer.size() < *content_length;
      if (body_read) Tcp(stream).expires_after(kReadTimeout);
      bool too_large = content_length && *content_length > options.max_body_bytes;
      if (too_large) {
        co_await RefuseTooLarge(stream, version);
        break;
      }
      // The body's bytes come out of the in-flight budget until the response is
      // written (a chunked body counts as the largest allowed).
      std::size_t reserved = content_length ? *content_length : parser.chunked() ? options.max_body_bytes : 0;
      if (!HoldBody(reserved)) {
        co_await RefuseBody(stream, version, Busy());
        break;
      }
      struct Held {
        std::atomic<std::size_t>& held;
        std::size_t bytes;
        ~Held() { held.fetch_sub(bytes, std::memory_order_relaxed); }
      } held_guard{body_bytes_held, reserved};
      boost::system::error_code ec;
      if (reserved > 0 && version >= 11 && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        // The client waits for this before it sends the body (curl above 1 MiB,
        // .NET by default); a refused body got its final status above instead.
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        Tcp(stream).expires_after(kWriteTimeout);
        std::tie(ec, std::ignore) = co_await asio::async_write(stream, asio::buffer(kContinue), kAsTuple);
        if (ec) break;
        Tcp(stream).expires_after(kReadTimeout);
      }
      std::tie(ec, std::ignore) = co_await bhttp::async_read(stream, buffer, parser, kAsTuple);
      if (ec == bhttp::error::body_limit) {
        co_await RefuseTooLarge(stream, version);
        break;
      }
      if (ec) {
        if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          Response r = PlainError(400, "malformed HTTP request body\n");
          Tcp(stream).expires_after(kWriteTimeout);
          co_await bhttp::async_write(stream, ToBeast(std::move(r), version, false), kAsTuple);
          co_await Drain(stream);
        }
        break;
      }
      Request req = ToRequest(parser.release(), remote, kTls);
      std::string method;
      std::string path;
      if (spdlog::should_log(spdlog::level::info)) {
        method = req.method;
        path = req.path;
      }
      Response res;
      if (!HandleHealth(req, options, res)) {
        // The handler answers when it is ready (a staging write after its group
        // commit); this coroutine is suspended meanwhile, holding no thread.
        auto slot = std::make_shared<ResponseSlot>();
        Waiting(slot, true);
        res = co_await AsyncDispatch(ioc, std::move(req), slot, asio::use_awaitable);
        Waiting(slot, false);
      }
      keep_alive = keep_alive && !stopping.load();
      // The response gets kWriteTimeout; when the header's deadline, still
      // armed, leaves at least that much, it stands (no timer to re-arm).
      if (body_read || header_deadline - std::chrono::steady_clock::now() < kWriteTimeout) {
        Tcp(stream).expires_after(kWriteTimeout);
      }
      int status = res.status;
      std::size_t body_bytes = res.body.size();
      auto [wec, wn] = co_await bhttp::async_write(stream, ToBeast(std::move(res), version, keep_alive), kAsTuple);
      if (loop != nullptr && !wec && keep_alive) loop->Answered();
      // Access log: key=value, the path only (a query string may carry anything).
      if (spdlog::should_log(spdlog::level::info)) {
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        spdlog::info("access remote={} method={} path={} status={} bytes={} ms={:.2f}{}", remote,
                     xml::Printable(method), xml::Printable(path), status, body_bytes, ms, wec ? " write_error=1" : "");
      }
      if (wec || !keep_alive) break;
    }
  }

  std::shared_ptr<ssl::context> CurrentTls() const {
    std::lock_guard lock(tls_mu);
    return tls_ctx;
  }

  // Accepts on `acc`; `tls`: its connections speak HTTPS.
  asio::awaitable<void> Accept(tcp::acceptor& acc, bool tls) {
    while (acc.is_open()) {
      asio::io_context& ioc = *iocs[next_ioc];
      next_ioc = (next_ioc + 1) % iocs.size();
      auto [ec, socket] = co_await acc.async_accept(ioc, kAsTuple);
      if (ec) {
        if (stopping.load() || ec == asio::error::operation_aborted) break;
        // Out of file descriptors and the like: do not spin; say it once a second.
        if (accept_warning()) spdlog::warn("accept failed: {}", ec.message());
        asio::steady_timer pause(acc.get_executor(), kAcceptRetryDelay);
        co_await pause.async_wait(kAsTuple);
        continue;
      }
      if (connections.load(std::memory_order_relaxed) >= max_connections) {
        // Over TLS the refusal is a close: a handshake per refused connection
        // would spend the CPU of a flood on it, and a TLS client cannot read a
        // plain 503.
        if (tls) {
          socket.close(ec);
        } else {
          RefuseConnection(socket);
        }
        std::uint64_t refused = refused_connections.fetch_add(1, std::memory_order_relaxed) + 1;
        if (limit_warning()) {
          spdlog::warn("connection limit reached ({} open): {} connection(s) answered 503 and closed since the start",
                       max_connections, refused);
        }
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      if (tls) {
        asio::co_spawn(ioc, TlsSession(std::move(socket), ioc, ConnectionTicket(connections), CurrentTls()),
                       asio::detached);
      } else {
        asio::co_spawn(ioc, PlainSession(std::move(socket), ioc, ConnectionTicket(connections)), asio::detached);
      }
    }
  }

  void BeginStop() {
    {
      std::lock_guard lock(mu);
      stop_requested = true;
      cv.notify_all();
    }
    if (stopping.exchange(true)) return;
    asio::post(*iocs[0], [this] {
      boost::system::error_code ec;
      if (acceptor) acceptor->close(ec);
      if (http_acceptor) http_acceptor->close(ec);
      signals->cancel(ec);
      if (hangups) hangups->cancel(ec);
    });
  }
};

Server::Server(ServerOptions options, AsyncHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::Server(ServerOptions options, Handler handler) : impl_(std::make_unique<Impl>(std::move(options), nullptr)) {
  impl_->handler = Impl::OnPool(impl_.get(), std::move(handler));
}

Server::~Server() {
  if (!impl_->threads.empty()) {
    Stop();
    Wait();
  }
}

Result<std::uint16_t> Server::Start() {
  const ServerOptions& o = impl_->options;
  bool tls = o.tls.enabled();
  if (tls) SB_RETURN_IF_ERROR(impl_->Reload());
  if (!tls && !o.listen_http.empty()) {
    return Status::InvalidArgument(
        "listen_http is a second, plain listener beside an HTTPS one: set tls_cert and "
        "tls_key, or use listen alone");
  }
  SB_ASSIGN_OR_RETURN(std::uint16_t port, impl_->Bind(impl_->acceptor, o.listen));
  if (tls && !o.listen_http.empty()) SB_RETURN_IF_ERROR(impl_->Bind(impl_->http_acceptor, o.listen_http).status());
  if (tls || o.on_hangup) {
    impl_->hangups.emplace(*impl_->iocs[0], SIGHUP);
    impl_->AwaitHangup();
  }

  impl_->signals->async_wait([this](const boost::system::error_code& sec, int signo) {
    if (sec) return;
    spdlog::info("signal {} received: stopping (in-flight requests finish)", signo);
    if (impl_->options.on_stopping) impl_->options.on_stopping();
    impl_->BeginStop();
  });
  asio::co_spawn(*impl_->iocs[0], impl_->Accept(*impl_->acceptor, tls), asio::detached);
  if (impl_->http_acceptor) {
    asio::co_spawn(*impl_->iocs[0], impl_->Accept(*impl_->http_acceptor, false), asio::detached);
  }
  impl_->handler_pool.emplace(static_cast<std::size_t>(std::max(1, impl_->options.handler_threads)));
  for (std::size_t i = 0; i < impl_->iocs.size(); ++i) {
    impl_->running.push_back(asio::make_work_guard(*impl_->iocs[i]));
    impl_->threads.emplace_back([loop = impl_->loops[i].get()] { loop->Run(); });
  }
  return port;
}

void Server::Wait() {
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait(lock, [this] { return impl_->stop_requested; });
    // In-flight requests finish (their writes are acknowledged) before we stop.
    bool drained = impl_->cv.wait_for(lock, impl_->options.shutdown_grace, [this] { return impl_->in_flight == 0; });
    if (!drained) {
      spdlog::warn("{} request(s) still running after {} ms; stopping anyway", impl_->in_flight,
                   impl_->options.shutdown_grace.count());
    }
  }
  for (auto& ioc : impl_->iocs) ioc->stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
  // Responses still being worked on after the grace: their connections are
  // dropped (with the io_context); a handler answering later finds nobody.
  std::set<std::shared_ptr<ResponseSlot>> abandoned;
  {
    std::lock_guard lock(impl_->mu);
    abandoned.swap(impl_->waiting);
  }
  for (const auto& slot : abandoned) slot->Abandon();
  if (impl_->handler_pool) impl_->handler_pool->join();
}

void Server::Stop() {
  impl_->BeginStop();
}

std::uint16_t Server::http_port() const {
  return impl_->http_acceptor ? impl_->http_acceptor->local_endpoint().port() : 0;
}

Status Server::ReloadTls() {
  return impl_->Reload();
}

Server::Stats Server::CurrentStats() const {
  Stats s;
  s.connections = impl_->connections.load(std::memory_order_relaxed);
  s.max_connections = impl_->max_connections;
  s.body_bytes_held = impl_->body_bytes_held.load(std::memory_order_relaxed);
  s.max_inflight_body_bytes = impl_->max_inflight_body_bytes;
  s.refused_connections = impl_->refused_connections.load(std::memory_order_relaxed);
  s.refused_bodies = impl_->refused_bodies.load(std::memory_order_relaxed);
  s.failed_handshakes = impl_->failed_handshakes.load(std::memory_order_relaxed);
  return s;
}

void Server::RunBlocking(std::function<void()> work) {
  asio::post(*impl_->handler_pool, std::move(work));
}

}  // namespace stagebridge::http
