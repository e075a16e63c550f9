#include "http/server.h"

#include <atomic>
#include <future>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <gtest/gtest.h>

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
