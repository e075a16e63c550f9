// console_test.cc — the console's handlers without a socket, on real (SQLite)
// databases: login and its cookie, lockout, the CSRF and origin checks (a
// forged POST changes nothing), the security headers, the embedded assets,
// rights filtering, escaping of staged values, run now, run details, logout.
// The console only composes modules tested on both backends (auth, query,
// workflow history), so SQLite is enough here; tests/console runs both.
#include "console/console.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pugixml.hpp>
#include <sodium.h>

#include "console/assets.h"
#include "schema/apply.h"
#include "staging/record.h"
#include "staging/writer.h"
#include "support/test_databases.h"
#include "sync/test_schemas.h"
#include "workflow/history.h"

namespace stagebridge::console {
namespace {

using test::Backend;
using test::TestDatabase;

constexpr const char* kHostile = "<img src=x onerror=alert(1)>";

// The sync tests' schema set: the built-ins plus dem:sampleTable (and two more).
const schema::SchemaSet& Schemas() {
  return sync::test_schemas::Schemas();
}

std::string HeaderOf(const http::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

struct Login {
  std::string cookie;  // "sb_console=…"
  std::string csrf;
};

struct QueuedRun {
  std::string workflow;
  std::string schemas;
  std::string trigger;
};

class ConsoleTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    local_ = std::make_unique<TestDatabase>(Backend::kSqlite);
    cloud_ = std::make_unique<TestDatabase>(Backend::kSqlite);
    ASSERT_TRUE(local_->ok() && cloud_->ok());
    local_db_ = local_->Open();
    cloud_db_ = cloud_->Open();
    ASSERT_TRUE(schema::ApplySchemas(Schemas(), *local_db_, *cloud_db_).ok());
    ASSERT_TRUE(workflow::EnsureHistoryTables(*local_db_).ok());
    pool_ = std::make_unique<store::ConnectionPool>(local_->url(), 4);
    auth::AuthOptions options;
    options.cache_ttl = std::chrono::seconds(0);
    options.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN;
    options.pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN;
    options.lockout_attempts = 3;
    auth_ = std::make_unique<auth::Authenticator>(*pool_, options);
    ASSERT_TRUE(auth_->EnsureTables().ok());
    ASSERT_TRUE(auth_->AddOperator("root", "root-pw", true, {}).ok());
    ASSERT_TRUE(auth_->AddOperator("amy", "amy-pw", false, {"dem:sampleTable"}).ok());
    ASSERT_TRUE(auth_->AddOperator("bob", "bob-pw", false, {"nms:recipient"}).ok());
    query::EngineOptions engine;
    engine.local_url = local_->url();
    engine.cloud_url = cloud_->url();
    engine.connections = 2;
    queries_ = std::make_unique<query::Engine>(Schemas(), engine);
    writer_ = std::make_unique<staging::StagingWriter>(*pool_, staging::WriterOptions{});
    ASSERT_TRUE(writer_->Prepare().ok());
    writer_->Start();
    ConsoleOptions console;
    console.workflows = {{"ffdaReplicateStagingData", "every 1h", *workflow::ParseSchedule("every 1h")},
                         {"ffdaUnsubscribe", "every 1h", *workflow::ParseSchedule("every 1h")},
                         {"cleanup", "daily 04:00", *workflow::ParseSchedule("daily 04:00")}};
    console_ =
        std::make_unique<Console>(ConsoleDeps{*auth_, Schemas(), *queries_, *pool_,
                                              [this](const std::string& w, const std::string& s, const std::string& t) {
                                                if (w == "nope") return false;  // not a workflow it runs
                                                queued_.push_back({w, s, t});
                                                return true;
                                              },
                                              series_},
                                  console);
  }
  void TearDown() override {
    console_.reset();
    writer_.reset();
  }

  void Stage(const std::string& id, const std::string& value) {
    pugi::xml_document doc;
    pugi::xml_node n = doc.append_child("sampleTableStg");
    n.append_attribute("_key") = "@id";
    n.append_attribute("id") = id.c_str();
    n.append_attribute("testcol1") = value.c_str();
    n.append_attribute("xtkschema") = "dem:sampleTableStg";
    Result<staging::DecodedDocument> d =
        staging::DecodeDocument(doc.document_element(), Schemas(), staging::Mode::kIngestExt);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_TRUE(writer_->Write(std::move(d->records)).ok());
  }

  http::Response Call(const std::string& method, const std::string& target, const std::string& body = "",
                      const Login* who = nullptr, bool with_csrf = true, bool tls = false) {
    http::Request r;
    r.method = method;
    r.target = target;
    std::size_t q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string::npos ? "" : target.substr(q + 1);
    r.body = body;
    r.remote = "127.0.0.1";
    r.tls = tls;
    r.headers["host"] = "console.test";
    if (method == "POST") r.headers["content-type"] = "application/json";
    if (who != nullptr) {
      r.headers["cookie"] = "other=1; " + who->cookie;
      if (with_csrf) r.headers[kCsrfHeader] = who->csrf;
    }
    for (const auto& [k, v] : extra_headers_) r.headers[k] = v;
    return console_->Handle(r);
  }

  Login LogIn(const std::string& login, const std::string& password) {
    http::Response r =
        Call("POST", "/console/api/login", R"({"login":")" + login + R"(","password":")" + password + R"("})");
    EXPECT_EQ(r.status, 200) << r.body;
    std::string set = HeaderOf(r, "Set-Cookie");
    Login out;
    out.cookie = set.substr(0, set.find(';'));
    std::size_t at = r.body.find("\"csrf\":\"");
    if (at != std::string::npos) out.csrf = r.body.substr(at + 8, r.body.find('"', at + 8) - at - 8);
    return out;
  }

  std::unique_ptr<TestDatabase> local_;
  std::unique_ptr<TestDatabase> cloud_;
  std::unique_ptr<store::Database> local_db_;
  std::unique_ptr<store::Database> cloud_db_;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<query::Engine> queries_;
  std::unique_ptr<staging::StagingWriter> writer_;
  BacklogSeries series_{10};
  std::vector<QueuedRun> queued_;
  std::map<std::string, std::string> extra_headers_;
  std::unique_ptr<Console> console_;
};

bool Disabled(auth::Authenticator& auth, const std::string& login) {
  Result<std::vector<auth::Operator>> ops = auth.ListOperators();
  for (const auth::Operator& op : *ops) {
    if (op.login == login) return op.disabled;
  }
  return false;
}

TEST_F(ConsoleTest, LoginSetsAnHttpOnlyStrictCookieAndGivesTheCsrfToken) {
  http::Response r = Call("POST", "/console/api/login", R"({"login":"root","password":"root-pw"})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string cookie = HeaderOf(r, "Set-Cookie");
  EXPECT_TRUE(cookie.starts_with("sb_console=___")) << cookie;
  EXPECT_NE(cookie.find("|@"), std::string::npos) << cookie;  // session|security tokens
  EXPECT_NE(cookie.find("; Path=/console/"), std::string::npos);
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain HTTP: no Secure";
  std::string security = cookie.substr(cookie.find('|') + 1, cookie.find(';') - cookie.find('|') - 1);
  EXPECT_NE(r.body.find("\"csrf\":\"" + CsrfToken(security) + "\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("login":"root","admin":true)"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(security), std::string::npos) << "the security token stays in the HttpOnly cookie";

  http::Response tls =
      Call("POST", "/console/api/login", R"({"login":"amy","password":"amy-pw"})", nullptr, true, true);
  ASSERT_EQ(tls.status, 200);
  EXPECT_NE(HeaderOf(tls, "Set-Cookie").find("; Secure"), std::string::npos) << "over TLS: Secure";

  Login root = LogIn("root", "root-pw");
  http::Response me = Call("GET", "/console/api/session", "", &root);
  EXPECT_EQ(me.status, 200);
  EXPECT_NE(me.body.find(R"("login":"root")"), std::string::npos);
  EXPECT_EQ(Call("GET", "/console/api/session").body, R"({"login":null})");
}

TEST_F(ConsoleTest, AFailedLoginSaysSoAndRepeatedFailuresLockTheLogin) {
  http::Response bad = Call("POST", "/console/api/login", R"({"login":"amy","password":"nope"})");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.body, R"({"error":"The login or password is incorrect."})");
  EXPECT_EQ(HeaderOf(bad, "Set-Cookie"), "");
  EXPECT_EQ(Call("POST", "/console/api/login", R"({"login":"ghost","password":"x"})").body, bad.body)
      << "no user enumeration";
  Call("POST", "/console/api/login", R"({"login":"amy","password":"nope"})");
  Call("POST", "/console/api/login", R"({"login":"amy","password":"nope"})");
  http::Response locked = Call("POST", "/console/api/login", R"({"login":"amy","password":"amy-pw"})");
  EXPECT_EQ(locked.status, 401) << "locked even with the right password";
  EXPECT_NE(locked.body.find("is locked after repeated failed logons"), std::string::npos) << locked.body;
  EXPECT_EQ(Call("POST", "/console/api/login", R"({"login":"amy"})").status, 400);
  EXPECT_EQ(Call("POST", "/console/api/login", "login=amy&password=amy-pw").status, 400);
}

TEST_F(ConsoleTest, EveryResponseCarriesTheSecurityHeaders) {
  Login root = LogIn("root", "root-pw");
  std::vector<http::Response> responses = {Call("GET", "/console/"),
                                           Call("GET", "/console/static/js/app.js"),
                                           Call("GET", "/console/api/overview"),
                                           Call("GET", "/console/api/overview", "", &root),
                                           Call("GET", "/console/nothing"),
                                           Call("POST", "/console/api/login", "{}")};
  for (const http::Response& r : responses) {
    EXPECT_EQ(HeaderOf(r, "Content-Security-Policy"),
              "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
              "form-action 'self'");
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
  }
  EXPECT_EQ(HeaderOf(responses[3], "Cache-Control"), "no-store");
  EXPECT_EQ(responses[3].content_type, "application/json; charset=utf-8");
}

TEST_F(ConsoleTest, AssetsAreServedWithTheirTypeAndAnETagAndNoInlineScript) {
  http::Response index = Call("GET", "/console/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  // Every <script> loads a file: CSP script-src 'self' allows no inline script.
  for (std::size_t at = index.body.find("<script"); at != std::string::npos; at = index.body.find("<script", at + 1)) {
    std::string tag = index.body.substr(at, index.body.find('>', at) - at);
    EXPECT_NE(tag.find("src=\"/console/static/"), std::string::npos) << tag;
    EXPECT_EQ(index.body.substr(index.body.find('>', at) + 1, 9), "</script>");
  }
  EXPECT_EQ(index.body.find(" on"), std::string::npos) << "no inline event handler";
  http::Response js = Call("GET", "/console/static/js/app.js");
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Call("GET", "/console/static/console.css").content_type, "text/css; charset=utf-8");
  std::string etag = HeaderOf(js, "ETag");
  ASSERT_EQ(etag.size(), 22U) << etag;
  EXPECT_EQ(HeaderOf(js, "Cache-Control"), "no-cache");
  extra_headers_["if-none-match"] = etag;
  http::Response again = Call("GET", "/console/static/js/app.js");
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  extra_headers_.clear();
  EXPECT_EQ(Call("GET", "/console/static/../console.cc").status, 404);
  EXPECT_EQ(Call("GET", "/console/static/nope.js").status, 404);
  EXPECT_EQ(Call("GET", "/console").status, 301);
  EXPECT_EQ(Call("POST", "/console/").status, 405);
  std::size_t count = 0;
  EmbeddedAssets(count);
  EXPECT_GE(count, 10U);
}

TEST_F(ConsoleTest, TheApiNeedsAValidSession) {
  EXPECT_EQ(Call("GET", "/console/api/overview").status, 401);
  Login forged{"sb_console=___00000000-0000-4000-8000-000000000000|@AAAA", "x"};
  EXPECT_EQ(Call("GET", "/console/api/overview", "", &forged).status, 401);
  Login amy = LogIn("amy", "amy-pw");
  EXPECT_EQ(Call("GET", "/console/api/overview", "", &amy).status, 200);
  ASSERT_TRUE(auth_->SetDisabled("amy", true).ok());
  EXPECT_EQ(Call("GET", "/console/api/overview", "", &amy).status, 401) << "a disabled operator's session ends";
}

TEST_F(ConsoleTest, AForgedPostWithoutTheCsrfTokenIsRefusedAndChangesNothing) {
  Login root = LogIn("root", "root-pw");
  const std::string disable_amy = R"({"login":"amy","disabled":true})";
  http::Response forged = Call("POST", "/console/api/operator", disable_amy, &root, false);
  EXPECT_EQ(forged.status, 403);
  EXPECT_NE(forged.body.find("CSRF"), std::string::npos);
  Login wrong = root;
  wrong.csrf = std::string(32, '0');
  EXPECT_EQ(Call("POST", "/console/api/operator", disable_amy, &wrong).status, 403);
  EXPECT_EQ(Call("POST", "/console/api/run-now", R"({"workflow":"ffdaReplicateStagingData"})", &root, false).status,
            403);
  EXPECT_EQ(Call("POST", "/console/api/logout", "{}", &root, false).status, 403);
  extra_headers_["origin"] = "http://evil.test";
  EXPECT_EQ(Call("POST", "/console/api/operator", disable_amy, &root).status, 403) << "cross-origin";
  extra_headers_["origin"] = "http://console.test";
  extra_headers_["content-type"] = "application/x-www-form-urlencoded";
  EXPECT_EQ(Call("POST", "/console/api/operator", disable_amy, &root).status, 415) << "a form post";
  extra_headers_.clear();
  EXPECT_FALSE(Disabled(*auth_, "amy"));
  EXPECT_TRUE(queued_.empty());
  EXPECT_EQ(Call("GET", "/console/api/session", "", &root).status, 200) << "still logged in";

  extra_headers_["origin"] = "http://console.test";
  http::Response ok = Call("POST", "/console/api/operator", disable_amy, &root);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(Disabled(*auth_, "amy"));
  EXPECT_EQ(Call("POST", "/console/api/operator", R"({"login":"amy","disabled":false})", &root).status, 200);
  EXPECT_FALSE(Disabled(*auth_, "amy"));
  EXPECT_EQ(Call("POST", "/console/api/operator", R"({"login":"root","disabled":true})", &root).status, 400)
      << "not yourself";
  EXPECT_EQ(Call("POST", "/console/api/operator", R"({"login":"ghost","disabled":true})", &root).status, 404);
}

TEST_F(ConsoleTest, RightsFilterSchemasAndTheOperatorsPageIsAdminOnly) {
  Stage("A1", "one");
  Login amy = LogIn("amy", "amy-pw");
  Login bob = LogIn("bob", "bob-pw");
  Login root = LogIn("root", "root-pw");
  http::Response mine = Call("GET", "/console/api/overview", "", &amy);
  ASSERT_EQ(mine.status, 200);
  EXPECT_NE(mine.body.find(R"("schema":"dem:sampleTable")"), std::string::npos);
  EXPECT_EQ(mine.body.find("nms:recipient"), std::string::npos) << mine.body;
  http::Response his = Call("GET", "/console/api/overview", "", &bob);
  EXPECT_EQ(his.body.find("dem:sampleTable"), std::string::npos) << his.body;
  EXPECT_NE(his.body.find(R"("schema":"nms:recipient")"), std::string::npos);
  EXPECT_NE(Call("GET", "/console/api/overview", "", &root).body.find("nms:service"), std::string::npos);

  EXPECT_EQ(Call("GET", "/console/api/rows?schema=dem:sampleTable&side=staging", "", &bob).status, 403);
  EXPECT_EQ(Call("GET", "/console/api/rows?schema=dem:sampleTable&side=cloud", "", &bob).status, 403);
  EXPECT_EQ(Call("GET", "/console/api/rows?schema=dem:sampleTable&side=staging", "", &amy).status, 200);
  EXPECT_EQ(Call("GET", "/console/api/rows?schema=xtk:nothing&side=staging", "", &amy).status, 404);

  EXPECT_EQ(Call("GET", "/console/api/operators", "", &amy).status, 403);
  EXPECT_EQ(Call("POST", "/console/api/operator", R"({"login":"bob","disabled":true})", &amy).status, 403);
  EXPECT_FALSE(Disabled(*auth_, "bob"));
  http::Response ops = Call("GET", "/console/api/operators", "", &root);
  EXPECT_EQ(ops.status, 200);
  EXPECT_NE(ops.body.find(R"({"login":"amy","admin":false,"disabled":false,"schemas":["dem:sampleTable"]})"),
            std::string::npos)
      << ops.body;
  EXPECT_EQ(Call("GET", "/console/api/subscriptions", "", &amy).status, 403);
  EXPECT_EQ(Call("GET", "/console/api/subscriptions", "", &root).status, 200);
}

TEST_F(ConsoleTest, RowsAreEscapedFilteredAndPaged) {
  Stage("H1", kHostile);
  Stage("H2", "b");
  Stage("H3", "c");
  Login amy = LogIn("amy", "amy-pw");
  http::Response all = Call("GET", "/console/api/rows?schema=dem:sampleTable&side=staging", "", &amy);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_NE(all.body.find(R"("\u003cimg src=x onerror=alert(1)\u003e")"), std::string::npos) << all.body;
  EXPECT_EQ(all.body.find('<'), std::string::npos) << "no raw markup in the JSON";
  EXPECT_NE(all.body.find(R"("columns":["id","testcol1","testcol2","delete","lastModified"])"), std::string::npos)
      << all.body;
  EXPECT_NE(all.body.find(R"("more":false)"), std::string::npos);
  http::Response page = Call("GET", "/console/api/rows?schema=dem:sampleTable&side=staging&start=1&count=1", "", &amy);
  EXPECT_NE(page.body.find(R"("start":1,"more":true)"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find(R"(["H2","b",null,)"), std::string::npos) << page.body;
  http::Response filtered =
      Call("GET", "/console/api/rows?schema=dem:sampleTable&side=staging&where=%40testcol1%20%3D%20%27c%27", "", &amy);
  EXPECT_NE(filtered.body.find("\"H3\""), std::string::npos) << filtered.body;
  EXPECT_EQ(filtered.body.find("\"H2\""), std::string::npos);
  http::Response bad = Call("GET", "/console/api/rows?schema=dem:sampleTable&side=staging&where=%40nope%3D1", "", &amy);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("QRY-"), std::string::npos) << bad.body;
  EXPECT_NE(bad.body.find("nope"), std::string::npos) << bad.body;
  http::Response smuggled =
      Call("GET", "/console/api/rows?schema=dem:sampleTable&side=cloud&where=%40id%3D%271%27%3B%20drop%20table%20x", "",
           &amy);
  EXPECT_NE(smuggled.status, 200);
  EXPECT_EQ(Call("GET", "/console/api/rows?schema=dem:sampleTable&side=cloud", "", &amy).body,
            R"({"schema":"dem:sampleTable","start":0,"more":false,"columns":["id","testcol1","testcol2"],"rows":[]})");
  EXPECT_EQ(Call("GET", "/console/api/rows?schema=dem:sampleTable&side=sideways", "", &amy).status, 400);
}

TEST_F(ConsoleTest, TheOverviewShowsTheBacklogAndTheSeries) {
  Stage("B1", "x");
  Stage("B2", "y");
  Login root = LogIn("root", "root-pw");
  series_.AddIngested(2);
  ASSERT_TRUE(console_->SampleNow().ok());
  Result<std::vector<Backlog>> backlog = console_->ReadBacklog();
  ASSERT_TRUE(backlog.ok()) << backlog.status().ToString();
  auto it =
      std::find_if(backlog->begin(), backlog->end(), [](const Backlog& b) { return b.schema == "dem:sampleTable"; });
  ASSERT_NE(it, backlog->end());
  EXPECT_EQ(it->pending, 2);
  ASSERT_TRUE(it->oldest.has_value());
  EXPECT_EQ(it->oldest->size(), 24U) << *it->oldest;  // "YYYY-MM-DD HH:MM:SS.mmmZ"
  http::Response r = Call("GET", "/console/api/overview", "", &root);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(
      r.body.find(R"("schema":"dem:sampleTable","staging":"dem:sampleTableStg","label":"Sample Table","pending":2)"),
      std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("ingested":2,"pending":{)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("name":"ffdaReplicateStagingData","schedule":"every 1h","last":null,"next":)"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("interval":60,"capacity":10)"), std::string::npos);
}

TEST_F(ConsoleTest, TheSamplerRecordsABacklogSampleEachIntervalUntilStopped) {
  Stage("S1", "x");
  ConsoleOptions fast;
  fast.sample_interval = std::chrono::milliseconds(20);
  Console sampling(
      ConsoleDeps{*auth_, Schemas(), *queries_, *pool_,
                  [](const std::string&, const std::string&, const std::string&) { return true; }, series_},
      fast);
  sampling.Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (series_.Snapshot().size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a condition, bounded by the deadline
  }
  sampling.Stop();
  std::vector<Sample> samples = series_.Snapshot();
  ASSERT_GE(samples.size(), 3U);
  EXPECT_EQ(samples.back().pending.at("dem:sampleTable"), 1);
  std::size_t after_stop = samples.size();
  sampling.Stop();  // idempotent
  EXPECT_EQ(series_.Snapshot().size(), after_stop) << "no sample after Stop";
}

TEST_F(ConsoleTest, RunNowQueuesARunAsTheOperatorWithinItsRights) {
  Login root = LogIn("root", "root-pw");
  Login amy = LogIn("amy", "amy-pw");
  http::Response r = Call("POST", "/console/api/run-now", R"({"workflow":"ffdaReplicateStagingData"})", &root);
  EXPECT_EQ(r.status, 202) << r.body;
  http::Response a = Call("POST", "/console/api/run-now", R"({"workflow":"ffdaReplicateStagingData"})", &amy);
  EXPECT_EQ(a.status, 202) << a.body;
  EXPECT_EQ(Call("POST", "/console/api/run-now", R"({"workflow":"cleanup"})", &amy).status, 403);
  EXPECT_EQ(Call("POST", "/console/api/run-now", R"({"workflow":"ffdaUnsubscribe"})", &amy).status, 403);
  EXPECT_EQ(Call("POST", "/console/api/run-now", R"({"workflow":"nope"})", &root).status, 404);
  EXPECT_EQ(Call("POST", "/console/api/run-now", R"({"workflow":"myUserWorkflow"})", &amy).status, 403)
      << "a user workflow: admins only";
  EXPECT_EQ(Call("POST", "/console/api/run-now", R"({"workflow":"myUserWorkflow"})", &root).status, 202);
  EXPECT_EQ(Call("POST", "/console/api/run-now", "{}", &root).status, 400);
  EXPECT_EQ(Call("GET", "/console/api/run-now", "", &root).status, 404) << "a GET changes nothing";
  ASSERT_EQ(queued_.size(), 3U);
  EXPECT_EQ(queued_[0].workflow, "ffdaReplicateStagingData");
  EXPECT_EQ(queued_[0].schemas, "");
  EXPECT_EQ(queued_[0].trigger, "console:root");
  EXPECT_EQ(queued_[1].schemas, "dem:sampleTable") << "an operator merges the schemas it may write";
  EXPECT_EQ(queued_[1].trigger, "console:amy");
}

TEST_F(ConsoleTest, ARunShowsItsFiguresRejectionsErrorAndLogWithinRights) {
  Result<std::int64_t> run = workflow::StartRun(*local_db_, "ffdaReplicateStagingData", "console:root", "here:1");
  ASSERT_TRUE(run.ok());
  sync::SchemaResult sample{"dem:sampleTable", 3, 2, 0, 0, 1, {"id=K1: " + std::string(kHostile)}, 1, 0};
  sync::SchemaResult recipient{"nms:recipient", 1, 1, 0, 0, 0, {}, 1, 0};
  ASSERT_TRUE(workflow::RecordSchema(*local_db_, *run, sample).ok());
  ASSERT_TRUE(workflow::RecordSchema(*local_db_, *run, recipient).ok());
  ASSERT_TRUE(workflow::AppendLog(*local_db_, *run, {{1, "js1", "info", "hello <b>"}}).ok());
  ASSERT_TRUE(workflow::FinishRun(*local_db_, *run, "done", "").ok());
  Login root = LogIn("root", "root-pw");
  Login amy = LogIn("amy", "amy-pw");
  std::string target = "/console/api/run?id=" + std::to_string(*run);
  http::Response r = Call("GET", target, "", &root);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("schema":"dem:sampleTable","staged":3,"inserted":2,"updated":0,"deleted":0,"rejected":1,)"
                        R"("rejections":["id=K1: \u003cimg src=x onerror=alert(1)\u003e"])"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("nms:recipient"), std::string::npos);
  EXPECT_NE(
      r.body.find(
          R"("log_visible":true,"log":[{"time":1,"activity":"js1","level":"info","text":"hello \u003cb\u003e"}])"),
      std::string::npos)
      << r.body;
  http::Response hers = Call("GET", target, "", &amy);
  EXPECT_EQ(hers.body.find("nms:recipient"), std::string::npos) << hers.body;
  EXPECT_NE(hers.body.find(R"("log_visible":false,"log":[])"), std::string::npos) << hers.body;
  http::Response runs = Call("GET", "/console/api/runs?limit=5", "", &amy);
  EXPECT_NE(runs.body.find(R"("status":"done")"), std::string::npos) << runs.body;
  EXPECT_EQ(Call("GET", "/console/api/run?id=999999", "", &root).status, 404);
  http::Response overview = Call("GET", "/console/api/overview", "", &amy);
  EXPECT_NE(overview.body.find(R"("last_run":{"id":)" + std::to_string(*run) + R"(,"status":"done")"),
            std::string::npos)
      << overview.body;
}

TEST_F(ConsoleTest, LogoutEndsTheSessionAndClearsTheCookie) {
  Login root = LogIn("root", "root-pw");
  http::Response r = Call("POST", "/console/api/logout", "{}", &root);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(HeaderOf(r, "Set-Cookie").find("sb_console=; Path=/console/; HttpOnly; SameSite=Strict; Max-Age=0"),
            std::string::npos);
  EXPECT_EQ(Call("GET", "/console/api/overview", "", &root).status, 401);
}

TEST(CookieValueTest, FindsTheNamedCookie) {
  EXPECT_EQ(CookieValue("a=1; sb_console=x|y; b=2", "sb_console"), "x|y");
  EXPECT_EQ(CookieValue("sb_console_x=1;sb_console=v", "sb_console"), "v");
  EXPECT_EQ(CookieValue("a=1", "sb_console"), "");
  EXPECT_EQ(CookieValue("", "sb_console"), "");
}

TEST(CsrfTokenTest, IsAStableHashOfTheSecurityToken) {
  ASSERT_GE(sodium_init(), 0);
  EXPECT_EQ(CsrfToken("@abc"), CsrfToken("@abc"));
  EXPECT_NE(CsrfToken("@abc"), CsrfToken("@abd"));
  EXPECT_EQ(CsrfToken("@abc").size(), 32U);
  EXPECT_EQ(CsrfToken("@abc").find("abc"), std::string::npos);
}

}  // namespace
}  // namespace stagebridge::console
