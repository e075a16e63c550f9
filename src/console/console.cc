// console.cc — the console's front door: routing, static assets, login and
// logout, the session cookie, CSRF and origin checks, the security headers,
// the backlog sampler. The data endpoints are in api.cc.
#include "console/console.h"

#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include "console/assets.h"
#include "console/json.h"
#include "workflow/history.h"

namespace stagebridge::console {
namespace {

constexpr std::string_view kPrefix = "/console";
constexpr std::string_view kApi = "/console/api/";
constexpr std::string_view kStatic = "/console/static/";
constexpr std::size_t kMaxPostBytes = std::size_t{16} * 1024;

// Headers every console response carries.
void AddSecurityHeaders(http::Response& r) {
  r.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

http::Response Text(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

http::Response ServeAsset(const http::Request& request, std::string_view name) {
  const Asset* asset = FindAsset(name);
  if (asset == nullptr) return Text(404, "no such console file\n");
  http::Response r;
  // Revalidated on every load (the ETag is the content's hash): a new binary
  // is picked up at once, an unchanged one costs a 304.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("ETag", std::string(asset->etag));
  if (request.Header("if-none-match") == asset->etag) {
    r.status = 304;
    r.content_type = std::string(ContentTypeFor(name));
    return r;
  }
  r.content_type = std::string(ContentTypeFor(name));
  r.body = std::string(asset->Bytes());
  return r;
}

std::string SessionCookie(const std::string& value, bool tls, bool clear) {
  std::string cookie = fmt::format("{}={}; Path=/console/; HttpOnly; SameSite=Strict", kCookieName, value);
  if (clear) cookie += "; Max-Age=0";
  if (tls) cookie += "; Secure";
  return cookie;
}

// The caller as the page sees it: login, admin flag, CSRF token.
std::string SessionJson(const auth::Operator& op, std::string_view security) {
  JsonWriter w;
  w.BeginObject().Key("login").String(op.login).Key("admin").Bool(op.admin);
  w.Key("csrf").String(CsrfToken(security)).EndObject();
  return w.Str();
}

bool IsJson(const http::Request& request) {
  std::string_view type = request.Header("content-type");
  return type.starts_with("application/json");
}

}  // namespace

std::string CsrfToken(std::string_view security_token) {
  static constexpr std::string_view kContext = "stagebridge console csrf:";
  std::string message = std::string(kContext) + std::string(security_token);
  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(message.data()), message.size(), nullptr,
                     0);
  char hex[sizeof hash * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return hex;
}

std::string CookieValue(std::string_view header, std::string_view name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    std::size_t eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) return std::string(item.substr(eq + 1));
    pos = end + 1;
  }
  return {};
}

http::Response JsonResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

http::Response JsonError(int status, std::string_view message) {
  JsonWriter w;
  w.BeginObject().Key("error").String(message).EndObject();
  return JsonResponse(status, w.Str());
}

Console::Console(ConsoleDeps deps, ConsoleOptions options) : deps_(std::move(deps)), options_(std::move(options)) {}

Console::~Console() {
  Stop();
}

bool Console::Handles(std::string_view path) {
  return path == kPrefix || path.starts_with("/console/");
}

http::Response Console::Handle(const http::Request& request) {
  http::Response r = Route(request);
  AddSecurityHeaders(r);
  return r;
}

http::Response Console::Route(const http::Request& request) {
  std::string_view path = request.path;
  if (path == kPrefix) {
    http::Response r = Text(301, "see /console/\n");
    r.headers.emplace_back("Location", "/console/");
    return r;
  }
  if (path.starts_with(kApi)) return Api(request, path.substr(kApi.size()));
  if (request.method != "GET") {
    http::Response r = Text(405, "the console's pages accept GET only\n");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (path == "/console/") return ServeAsset(request, "index.html");
  if (path.starts_with(kStatic)) return ServeAsset(request, path.substr(kStatic.size()));
  return Text(404, "no such console page\n");
}

Result<Console::Caller> Console::Authenticate(const http::Request& request) {
  std::string value = CookieValue(request.Header("cookie"), kCookieName);
  std::size_t bar = value.find('|');
  if (bar == std::string::npos) return Status::Unauthenticated("not logged in");
  Caller caller;
  caller.session = value.substr(0, bar);
  caller.security = value.substr(bar + 1);
  Result<auth::Operator> op = deps_.auth.Validate(caller.session, caller.security);
  if (!op.ok()) return Status::Unauthenticated("session expired or logged off: log in again");
  caller.op = std::move(op).value();
  return caller;
}

std::optional<http::Response> Console::CheckPost(const http::Request& request, const Caller& caller) const {
  std::string expected = CsrfToken(caller.security);
  const std::string& given = request.Header(kCsrfHeader);
  if (given.size() != expected.size() || sodium_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    spdlog::warn("console: {} refused for '{}' from {}: missing or wrong CSRF token", request.path, caller.op.login,
                 request.remote);
    return JsonError(403, "refused: missing or wrong CSRF token");
  }
  return std::nullopt;
}

http::Response Console::Api(const http::Request& request, std::string_view endpoint) {
  bool post = request.method == "POST";
  if (!post && request.method != "GET") return JsonError(405, "GET or POST only");
  std::map<std::string, std::string> body;
  if (post) {
    // A cross-site form can send neither a JSON body nor a foreign Origin
    // unnoticed; the CSRF token below is the real guard.
    if (!IsJson(request)) return JsonError(415, "POST bodies must be application/json");
    if (request.body.size() > kMaxPostBytes) return JsonError(413, "request body too large");
    const std::string& origin = request.Header("origin");
    if (!origin.empty()) {
      std::string self = (request.tls ? "https://" : "http://") + request.Header("host");
      if (origin != self) return JsonError(403, "refused: cross-origin request");
    }
    Result<std::map<std::string, std::string>> parsed = ParseFlatObject(request.body);
    if (!parsed.ok()) return JsonError(400, parsed.status().message());
    body = std::move(parsed).value();
    if (endpoint == "login") return Login(request, body);
  } else if (endpoint == "login") {
    return JsonError(405, "POST only");
  }

  Result<Caller> caller = Authenticate(request);
  // The page asks who it is at load: "nobody" is an answer, not an error.
  if (!caller.ok() && !post && endpoint == "session") return JsonResponse(200, R"({"login":null})");
  if (!caller.ok()) return JsonError(401, caller.status().message());
  if (post) {
    if (std::optional<http::Response> refused = CheckPost(request, *caller)) return std::move(*refused);
    if (endpoint == "logout") {
      (void)deps_.auth.Logoff(caller->session, caller->security);  // idempotent
      http::Response r = JsonResponse(200, "{}");
      r.headers.emplace_back("Set-Cookie", SessionCookie("", request.tls, true));
      return r;
    }
    if (endpoint == "run-now") return RunNow(body, *caller);
    if (endpoint == "operator") return SetOperatorDisabled(body, *caller);
    return JsonError(404, "no such endpoint");
  }
  if (endpoint == "session") return JsonResponse(200, SessionJson(caller->op, caller->security));
  if (endpoint == "overview") return Overview(*caller);
  if (endpoint == "rows") return Rows(request, *caller);
  if (endpoint == "runs") return Runs(request, *caller);
  if (endpoint == "run") return Run(request, *caller);
  if (endpoint == "subscriptions") return Subscriptions(*caller);
  if (endpoint == "operators") return Operators(*caller);
  return JsonError(404, "no such endpoint");
}

http::Response Console::Login(const http::Request& request, std::map<std::string, std::string>& body) {
  std::string login = body["login"];
  std::string password = body["password"];
  if (login.empty() || password.empty()) return JsonError(400, "login and password are required");
  Result<auth::Session> session = deps_.auth.Logon(login, password);
  if (!session.ok()) {
    // The authenticator's own message: one text for unknown login, wrong
    // password and disabled operator; another while the login is locked.
    std::string message = session.status().message();
    if (std::size_t space = message.find(' '); space != std::string::npos && message.starts_with("XSV-")) {
      message = message.substr(space + 1);
    }
    spdlog::info("console: failed login for '{}' from {}", login.substr(0, 64), request.remote);
    return JsonError(401, message);
  }
  http::Response r = JsonResponse(200, SessionJson(session->op, session->security_token));
  r.headers.emplace_back("Set-Cookie",
                         SessionCookie(session->session_token + "|" + session->security_token, request.tls, false));
  spdlog::info("console: '{}' logged in from {}", session->op.login, request.remote);
  return r;
}

void Console::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  sampler_ = std::thread([this] { SamplerLoop(); });
}

void Console::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

void Console::SamplerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lock, options_.sample_interval, [this] { return stopping_; })) break;
    lock.unlock();
    if (Status s = SampleNow(); !s.ok()) spdlog::warn("console: backlog sample failed: {}", s.message());
    lock.lock();
  }
}

Status Console::SampleNow() {
  SB_ASSIGN_OR_RETURN(std::vector<Backlog> backlog, ReadBacklog());
  std::map<std::string, std::int64_t> pending;
  for (const Backlog& b : backlog) pending[b.schema] = b.pending;
  deps_.series.Record(workflow::NowSeconds(), std::move(pending));
  return Status::Ok();
}

}  // namespace stagebridge::console
