#include "http/server.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace stagebridge::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    server_ = std::make_unique<Server>(options, [this](const Request& r) {
      ++calls_;
      Response res;
      res.body = r.method + " " + r.path + " " + std::to_string(r.body.size()) + " " + r.Header("x-probe");
      return res;
    });
    Result<std::uint16_t> port = server_->Start();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
      server_->Wait();
    }
  }

  tcp::socket Connect() {
    tcp::socket socket(ioc_);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    return socket;
  }

  bhttp::response<bhttp::string_body> RoundTrip(tcp::socket& socket, bhttp::request<bhttp::string_body> req) {
    req.set(bhttp::field::host, "localhost");
    req.prepare_payload();
    bhttp::write(socket, req);
    return ReadResponse(socket);
  }

  // The next response on `socket` (a request written raw beforehand).
  static bhttp::response<bhttp::string_body> ReadResponse(tcp::socket& socket) {
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket, buffer, res);
    return res;
  }

  asio::io_context ioc_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::atomic<int> calls_{0};
};

TEST_F(ServerTest, PingAnswersOk) {
  StartServer();
  tcp::socket s = Connect();
  auto res = RoundTrip(s, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11});
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body().substr(0, 3), "OK\n");
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, PingAsksTheHealthHookEveryTime) {
  std::atomic<bool> healthy{true};
  std::atomic<int> asked{0};
  ServerOptions options;
  options.health = [&] {
    ++asked;
    return healthy ? Health{} : Health{false, "local database unreachable for 3 s"};
  };
  StartServer(options);
  tcp::socket s = Connect();
  auto up = RoundTrip(s, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11});
  EXPECT_EQ(up.result_int(), 200);
  EXPECT_EQ(up.body().substr(0, 3), "OK\n");
  healthy = false;
  auto down = RoundTrip(s, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11});
  EXPECT_EQ(down.result_int(), 503) << "a balancer's health check takes the node out";
  EXPECT_EQ(down.body().substr(0, 6), "ERROR\n");
  EXPECT_NE(down.body().find("local database unreachable for 3 s\n"), std::string::npos) << down.body();
  EXPECT_TRUE(down.keep_alive()) << "the connection stays usable";
  healthy = true;
  EXPECT_EQ(RoundTrip(s, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11}).result_int(), 200) << "back when it is";
  EXPECT_EQ(asked.load(), 3);
  // /r/test and the handler do not depend on the hook.
  healthy = false;
  EXPECT_EQ(RoundTrip(s, {bhttp::verb::get, "/r/test", 11}).result_int(), 200);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, RedirTestEscapesHost) {
  StartServer();
  tcp::socket s = Connect();
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/r/test", 11};
  req.set(bhttp::field::host, "x'/><evil");
  req.prepare_payload();
  bhttp::write(s, req);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buffer, res);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body().find("<redir status='OK'"), 0u);
  EXPECT_EQ(res.body().find("<evil"), std::string::npos);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  tcp::socket s = Connect();
  for (int i = 0; i < 3; ++i) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/nl/jsp/soaprouter.jsp?x=1", 11};
    req.set("X-Probe", std::to_string(i));
    req.body() = "hello";
    auto res = RoundTrip(s, std::move(req));
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "POST /nl/jsp/soaprouter.jsp 5 " + std::to_string(i));
    EXPECT_TRUE(res.keep_alive());
  }
  EXPECT_EQ(calls_.load(), 3);
}

TEST_F(ServerTest, OversizedBodyGets413AndServerKeepsServing) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);
  {
    tcp::socket s = Connect();
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/nl/jsp/soaprouter.jsp", 11};
    req.body() = std::string(4096, 'x');
    auto res = RoundTrip(s, std::move(req));
    EXPECT_EQ(res.result_int(), 413);
  }
  EXPECT_EQ(calls_.load(), 0);
  tcp::socket s2 = Connect();
  auto res = RoundTrip(s2, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11});
  EXPECT_EQ(res.result_int(), 200);
}

TEST_F(ServerTest, GarbageIsDroppedAndServerKeepsServing) {
  StartServer();
  {
    tcp::socket s = Connect();
    asio::write(s, asio::buffer(std::string("\x01\x02 NOT HTTP\r\n\r\n")));
    beast::error_code ec;
    char buf[64];
    s.read_some(asio::buffer(buf), ec);  // the server closes the connection
  }
  tcp::socket s2 = Connect();
  EXPECT_EQ(RoundTrip(s2, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11}).result_int(), 200);
}

TEST_F(ServerTest, StopReturnsWithIdleConnectionsOpen) {
  StartServer();
  tcp::socket idle = Connect();
  server_->Stop();
  server_->Wait();  // must return although `idle` never sent a request
  server_.reset();
  tcp::socket late(ioc_);
  beast::error_code ec;
  late.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  EXPECT_TRUE(ec) << "the listener is closed after Stop()";
}

TEST_F(ServerTest, ConnectionsOverTheLimitGet503AndAClosedOneFreesItsSlot) {
  ServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  tcp::socket a = Connect();
  tcp::socket b = Connect();
  EXPECT_EQ(RoundTrip(a, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11}).result_int(), 200);
  EXPECT_EQ(RoundTrip(b, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11}).result_int(), 200);
  {
    tcp::socket over = Connect();
    auto res = RoundTrip(over, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11});
    EXPECT_EQ(res.result_int(), 503);
    EXPECT_EQ(res[bhttp::field::retry_after], "1");
    EXPECT_FALSE(res.keep_alive());
    EXPECT_NE(res.body().find("too many open connections"), std::string::npos);
    char byte = 0;
    beast::error_code ec;
    over.read_some(asio::buffer(&byte, 1), ec);
    EXPECT_EQ(ec, asio::error::eof) << "the refused connection is closed";
  }
  EXPECT_EQ(RoundTrip(a, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11}).result_int(), 200) << "open ones still served";
  b.close();
  // The server notices the close when its read returns: retry until the slot is free.
  unsigned status = 0;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       status != 200 && std::chrono::steady_clock::now() < deadline;) {
    tcp::socket again = Connect();
    status = RoundTrip(again, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11}).result_int();
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, ExpectContinueGets100BeforeTheBodyAndARefusedBodyItsFinalStatus) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);
  tcp::socket s = Connect();
  asio::write(
      s, asio::buffer(std::string("POST /x HTTP/1.1\r\nHost: l\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n")));
  timeval wait{5, 0};  // without the 100, fail instead of waiting for ever
  ASSERT_EQ(setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait), 0);
  std::string interim;
  asio::read_until(s, asio::dynamic_buffer(interim), "\r\n\r\n");
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n") << "sent before the client sends its body";
  asio::write(s, asio::buffer(std::string("hello")));
  auto res = ReadResponse(s);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "POST /x 5 ");
  // Over the body limit: the final status at once, no 100, no body awaited.
  tcp::socket big = Connect();
  asio::write(
      big,
      asio::buffer(std::string("POST /x HTTP/1.1\r\nHost: l\r\nExpect: 100-continue\r\nContent-Length: 4096\r\n\r\n")));
  EXPECT_EQ(ReadResponse(big).result_int(), 413);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(ServerTest, ABodyBeyondTheInflightBudgetGets503UntilTheHeldOnesAreDone) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  options.max_inflight_body_bytes = 1500;
  StartServer(options);
  auto post = [this](std::size_t bytes) {
    tcp::socket s = Connect();
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/x", 11};
    req.body() = std::string(bytes, 'b');
    return RoundTrip(s, std::move(req));
  };
  // A slow client: its header announces 1000 bytes, half of them sent.
  tcp::socket slow = Connect();
  asio::write(slow, asio::buffer(std::string("POST /slow HTTP/1.1\r\nHost: l\r\nContent-Length: 1000\r\n\r\n") +
                                 std::string(500, 's')));
  // The server reads that header on its own time: retry until it holds the bytes.
  bhttp::response<bhttp::string_body> busy;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       busy.result_int() != 503 && std::chrono::steady_clock::now() < deadline;) {
    busy = post(1000);
  }
  ASSERT_EQ(busy.result_int(), 503);
  EXPECT_EQ(busy[bhttp::field::retry_after], "1");
  EXPECT_FALSE(busy.keep_alive());
  EXPECT_EQ(post(500).result_int(), 200) << "what fits beside the held body passes";
  tcp::socket get = Connect();
  EXPECT_EQ(RoundTrip(get, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11}).result_int(), 200);
  // The slow body completes: answered, and its bytes are given back.
  asio::write(slow, asio::buffer(std::string(500, 's')));
  auto res = ReadResponse(slow);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "POST /slow 1000 ");
  EXPECT_EQ(post(1000).result_int(), 200);
  EXPECT_EQ(post(1000).result_int(), 200);
}

TEST(OpenFileLimitTest, TheDefaultConnectionLimitKeepsDescriptorsForTheRest) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  auto with_soft_limit = [&](rlim_t soft) {
    rlimit l = saved;
    l.rlim_cur = soft;
    EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &l), 0);
    return DefaultMaxConnections();
  };
  if (saved.rlim_max == RLIM_INFINITY || saved.rlim_max >= 4096) {
    EXPECT_EQ(with_soft_limit(4096), 4096 - kFdReserve);
  }
  EXPECT_EQ(with_soft_limit(256), 256 - kFdReserve);
  EXPECT_EQ(with_soft_limit(200), 100) << "half the limit when the reserve would leave less";
  // Raising: the soft limit goes up to the hard one.
  long now = RaiseOpenFileLimit();
  rlimit raised{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &raised), 0);
  EXPECT_EQ(raised.rlim_cur, saved.rlim_max);
  if (saved.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(now, static_cast<long>(saved.rlim_max));
  }
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

// --- asynchronous handlers --------------------------------------------------------

// An AsyncHandler that parks every request (answered later by the test, from
// its own threads, as the staging writer answers Ingest calls).
class AsyncServerTest : public ServerTest {
 protected:
  struct Parked {
    Request request;
    Responder respond;
  };

  void StartAsync(ServerOptions options, const std::function<bool(const Request&, Responder&)>& direct = {}) {
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<Server>(options, [this, direct](Request r, Responder respond) {
      if (direct && direct(r, respond)) return;
      std::lock_guard lock(mu_);
      parked_.push_back({std::move(r), std::move(respond)});
      cv_.notify_all();
    });
    Result<std::uint16_t> port = server_->Start();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
  }

  // Waits until `n` requests are parked and takes them.
  std::vector<Parked> TakeParked(std::size_t n) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return parked_.size() >= n; }))
        << parked_.size() << " of " << n << " requests arrived";
    return std::exchange(parked_, {});
  }

  static Response Echo(const Request& r) {
    Response res;
    res.body = "answer " + r.Header("x-probe");
    return res;
  }

  static void Send(tcp::socket& socket, const std::string& probe, const std::string& target = "/x") {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::host, "localhost");
    req.set("X-Probe", probe);
    req.body() = "body";
    req.prepare_payload();
    bhttp::write(socket, req);
  }

  static bhttp::response<bhttp::string_body> Receive(tcp::socket& socket) {
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket, buffer, res);
    return res;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Parked> parked_;  // GUARDED_BY(mu_)
};

// One I/O thread, one handler-pool thread, 64 requests waiting at once: none
// holds a thread while it waits; answered from other threads, in reverse order,
// each connection gets its own answer.
TEST_F(AsyncServerTest, ManyWaitingRequestsHoldNoThread) {
  ServerOptions options;
  options.threads = 1;
  options.handler_threads = 1;
  StartAsync(options);
  constexpr int kClients = 64;
  std::vector<tcp::socket> sockets;
  for (int i = 0; i < kClients; ++i) {
    sockets.push_back(Connect());
    Send(sockets.back(), std::to_string(i));
  }
  std::vector<Parked> parked = TakeParked(kClients);
  ASSERT_EQ(parked.size(), static_cast<std::size_t>(kClients));
  // A health request is still answered while they all wait.
  tcp::socket ping = Connect();
  EXPECT_EQ(RoundTrip(ping, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11}).result_int(), 200);
  std::vector<std::thread> answerers;
  for (int t = 0; t < 2; ++t) {
    answerers.emplace_back([&, t] {
      for (int i = kClients; i-- > 0;) {
        if (i % 2 == t) parked[i].respond(Echo(parked[i].request));
      }
    });
  }
  for (std::thread& t : answerers) t.join();
  for (int i = 0; i < kClients; ++i) {
    auto res = Receive(sockets[i]);
    EXPECT_EQ(res.result_int(), 200) << i;
    EXPECT_EQ(res.body(), "answer " + std::to_string(i));
    EXPECT_TRUE(res.keep_alive());
  }
  // The connections stay usable.
  Send(sockets[5], "again");
  std::vector<Parked> again = TakeParked(1);
  ASSERT_EQ(again.size(), 1u);
  again[0].respond(Echo(again[0].request));
  EXPECT_EQ(Receive(sockets[5]).body(), "answer again");
}

TEST_F(AsyncServerTest, AHandlerThatThrowsFailsOnlyItsRequest) {
  StartAsync({}, [](const Request& r, Responder& respond) {
    if (r.path == "/throw") throw std::runtime_error("boom");
    respond(Echo(r));
    return true;
  });
  tcp::socket a = Connect();
  tcp::socket b = Connect();
  Send(a, "a", "/throw");
  Send(b, "b");
  EXPECT_EQ(Receive(a).result_int(), 500);
  EXPECT_EQ(Receive(b).body(), "answer b");
  Send(a, "a2");  // the connection survived
  EXPECT_EQ(Receive(a).body(), "answer a2");
}

TEST_F(AsyncServerTest, AResponderCalledTwiceAnswersOnce) {
  StartAsync({}, [](const Request& r, Responder& respond) {
    respond(Echo(r));
    Response second;
    second.body = "second";
    respond(second);
    return true;
  });
  tcp::socket s = Connect();
  Send(s, "1");
  EXPECT_EQ(Receive(s).body(), "answer 1");
  Send(s, "2");
  EXPECT_EQ(Receive(s).body(), "answer 2");
}

// SIGTERM / Stop(): requests in flight are answered (then their connections
// close); Wait() returns once they are.
TEST_F(AsyncServerTest, StopLetsWaitingRequestsFinish) {
  StartAsync({});
  constexpr int kClients = 3;
  std::vector<tcp::socket> sockets;
  for (int i = 0; i < kClients; ++i) {
    sockets.push_back(Connect());
    Send(sockets.back(), std::to_string(i));
  }
  std::vector<Parked> parked = TakeParked(kClients);
  std::atomic<bool> waited{false};
  server_->Stop();
  std::thread waiter([&] {
    server_->Wait();
    waited = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(waited.load()) << "Wait() returned with requests in flight";
  for (auto& p : parked) p.respond(Echo(p.request));
  for (int i = 0; i < kClients; ++i) {
    auto res = Receive(sockets[i]);
    EXPECT_EQ(res.body(), "answer " + std::to_string(i));
    EXPECT_FALSE(res.keep_alive()) << "the server is stopping";
  }
  waiter.join();
  EXPECT_TRUE(waited.load());
  server_.reset();
}

// A request still running when the grace runs out is dropped; its handler
// answering afterwards (the server gone) is harmless.
TEST_F(AsyncServerTest, AnAnswerAfterTheGraceRanOutIsDropped) {
  ServerOptions options;
  options.shutdown_grace = std::chrono::milliseconds(100);
  StartAsync(options);
  tcp::socket s = Connect();
  Send(s, "late");
  std::vector<Parked> parked = TakeParked(1);
  ASSERT_EQ(parked.size(), 1u);
  server_->Stop();
  server_->Wait();
  server_.reset();
  parked[0].respond(Echo(parked[0].request));  // nobody to answer: ignored
  parked.clear();
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  beast::error_code ec;
  bhttp::read(s, buffer, res, ec);
  EXPECT_TRUE(ec) << "the connection was dropped without an answer";
}

TEST_F(AsyncServerTest, RunBlockingRunsOffTheIoThread) {
  ServerOptions options;
  options.threads = 1;
  std::atomic<std::thread::id> io_thread;
  std::atomic<std::thread::id> pool_thread;
  StartAsync(options, [&](const Request& r, Responder& respond) {
    io_thread = std::this_thread::get_id();
    server_->RunBlocking([&, r, respond] {
      pool_thread = std::this_thread::get_id();
      respond(Echo(r));
    });
    return true;
  });
  tcp::socket s = Connect();
  Send(s, "pool");
  EXPECT_EQ(Receive(s).body(), "answer pool");
  EXPECT_NE(io_thread.load(), pool_thread.load());
}

// A blocking Handler runs on the handler pool: while one waits, the I/O
// thread keeps serving.
TEST_F(ServerTest, ABlockingHandlerDoesNotHoldTheIoThread) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 1;
  options.handler_threads = 2;
  server_ = std::make_unique<Server>(options, [released](const Request& r) {
    if (r.path == "/block") released.wait();
    Response res;
    res.body = r.path;
    return res;
  });
  Result<std::uint16_t> port = server_->Start();
  ASSERT_TRUE(port.ok());
  port_ = *port;
  tcp::socket blocked = Connect();
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/block", 11};
  req.set(bhttp::field::host, "localhost");
  bhttp::write(blocked, req);
  tcp::socket other = Connect();
  EXPECT_EQ(RoundTrip(other, {bhttp::verb::get, "/nl/jsp/ping.jsp", 11}).result_int(), 200);
  EXPECT_EQ(RoundTrip(other, {bhttp::verb::get, "/free", 11}).body(), "/free");
  release.set_value();
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(blocked, buffer, res);
  EXPECT_EQ(res.body(), "/block");
}

TEST(ParseListenTest, Forms) {
  auto v4 = ParseListen("127.0.0.1:8080");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 8080);
  auto v6 = ParseListen("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_FALSE(ParseListen("8080").ok());
  EXPECT_FALSE(ParseListen("127.0.0.1:99999").ok());
  EXPECT_FALSE(ParseListen("example.com:80").ok());
  EXPECT_FALSE(ParseListen("127.0.0.1:x").ok());
}

}  // namespace
}  // namespace stagebridge::http
