// router_test.cc — the SOAP front controller with a fake validator and fake
// services: dispatch, positional parameters, sessions, faults, the observer.
#include "soap/router.h"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>

namespace stagebridge::soap {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kGoodSession = "___good";
constexpr const char* kGoodSecurity = "@good";
constexpr const char* kBobSession = "___bob";  // another operator's session
constexpr const char* kBobSecurity = "@bob";

struct Recorded {
  std::string method;
  std::vector<std::string> arg_names;
  std::vector<std::string> arg_texts;
  std::vector<std::string> arg_elements;  // name of each arg's DOM child, "" when none
  std::optional<auth::Operator> op;
  std::string remote;
};

class Observer : public CallObserver {
 public:
  void OnCall(const std::string& action, bool fault, double seconds) override {
    std::lock_guard lock(mu);  // asynchronous calls are reported from the threads answering them
    calls.push_back({action, fault});
    EXPECT_GE(seconds, 0.0);
  }
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> calls;  // GUARDED_BY(mu) while calls run
};

class RouterTest : public ::testing::Test {
 protected:
  RouterTest()
      : router_([this](const std::string& session, const std::string& security) -> Result<auth::Operator> {
          validated_.emplace_back(session, security);
          if (session == kGoodSession && security == kGoodSecurity) return auth::Operator{"admin", true, {}, false};
          if (session == kBobSession && security == kBobSecurity) return auth::Operator{"bob", false, {}, false};
          return CodedError(Status::Code::kUnauthenticated, "XSV-350008",
                            "Session has expired or is invalid. Please reconnect.");
        }) {
    ServiceDef session{"xtk:session", "Sessions", {}};
    session.methods.push_back(MethodDef{"Logon",
                                        true,
                                        {{"strLogin", "string"},
                                         {"strPassword", "string"},
                                         {"elemParameters", "DOMElement"},
                                         {"pstrSessionToken", "string", true},
                                         {"pSessionInfo", "DOMElement", true},
                                         {"pstrSecurityToken", "string", true}},
                                        false,
                                        {},
                                        Record("Logon", {OutValue::String("pstrSessionToken", "___new"),
                                                         OutValue::Element("pSessionInfo",
                                                                           "<sessionInfo><serverInfo/><userInfo/>"
                                                                           "</sessionInfo>"),
                                                         OutValue::String("pstrSecurityToken", "@new")})});
    session.methods.push_back(MethodDef{"Ingest",
                                        true,
                                        {{"domDoc", "DOMDocument"}, {"pstrSUuids", "string", true}},
                                        true,
                                        "urn:wpp:default",
                                        Record("Ingest", {OutValue::String("pstrSUuids", "uuid-1")})});
    session.methods.push_back(
        MethodDef{"IngestExt", true, {{"domDoc", "DOMDocument"}}, true, "urn:wpp:default", Record("IngestExt", {})});
    session.methods.push_back(
        MethodDef{"Fail", true, {}, true, {}, [this](CallContext&) -> Result<std::vector<OutValue>> {
                    ++fail_calls_;
                    return CodedError(Status::Code::kInvalidArgument, "STG-200004",
                                      "Invalid value 'x' for attribute 'n' of schema 'dem:s'.");
                  }});
    session.methods.push_back(MethodDef{"Crash", true, {}, true, {}, [](CallContext&) -> Result<std::vector<OutValue>> {
                                          return Status::Internal(
                                              "ERROR: relation \"secret_table\" does not exist; SELECT * FROM x");
                                        }});
    router_.AddService(std::move(session));

    ServiceDef persist{"xtk:persist", "Persistence", {}};
    persist.methods.push_back(
        MethodDef{"GetEntityIfMoreRecent",
                  true,
                  {{"pk", "string"}, {"md5", "string"}, {"mustExist", "boolean"}, {"pdomDoc", "DOMDocument", true}},
                  true,
                  {},
                  Record("GetEntityIfMoreRecent", {OutValue::Element("pdomDoc", "<schema/>")})});
    router_.AddService(std::move(persist));
    router_.set_observer(&observer_);
  }

  MethodFn Record(const std::string& name, const std::vector<OutValue>& outs) {
    return [this, name, outs](CallContext& ctx) -> Result<std::vector<OutValue>> {
      Recorded r;
      r.method = name;
      for (const Param* p : ctx.args) {
        r.arg_names.push_back(p->name);
        r.arg_texts.push_back(p->text);
        r.arg_elements.push_back(p->element ? p->element.name() : "");
      }
      r.op = ctx.op;
      r.remote = ctx.remote;
      recorded_.push_back(std::move(r));
      return outs;
    };
  }

  HttpReply Post(const std::string& body, std::map<std::string, std::string> headers = {}, std::string query = "") {
    body_ = body;
    query_ = std::move(query);
    return router_.Handle(HttpCall{body_, query_, std::move(headers)}, "192.0.2.7");
  }

  static std::string Envelope(const std::string& service, const std::string& method, const std::string& params) {
    return "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:urn=\"urn:" + service +
           "\"><soapenv:Body><urn:" + method + ">" + params + "</urn:" + method + "></soapenv:Body></soapenv:Envelope>";
  }

  static std::map<std::string, std::string> GoodHeaders() {
    return {{"x-session-token", kGoodSession}, {"x-security-token", kGoodSecurity}};
  }

  static std::string FaultString(const std::string& body) {
    pugi::xml_document doc;
    if (!doc.load_string(body.c_str())) return "<unparsable>";
    return doc.document_element().child("SOAP-ENV:Body").child("SOAP-ENV:Fault").child("faultstring").text().get();
  }
  static std::string FaultCode(const std::string& body) {
    pugi::xml_document doc;
    if (!doc.load_string(body.c_str())) return "<unparsable>";
    return doc.document_element().child("SOAP-ENV:Body").child("SOAP-ENV:Fault").child("faultcode").text().get();
  }
  static std::string Detail(const std::string& body) {
    pugi::xml_document doc;
    if (!doc.load_string(body.c_str())) return "<unparsable>";
    return doc.document_element().child("SOAP-ENV:Body").child("SOAP-ENV:Fault").child("detail").text().get();
  }

  Router router_;
  Observer observer_;
  std::vector<Recorded> recorded_;
  std::vector<std::pair<std::string, std::string>> validated_;
  int fail_calls_ = 0;
  std::string body_;
  std::string query_;
};

const std::string kDomDoc = "<urn:domDoc><sampleTableStg xtkschema=\"dem:sampleTableStg\"/></urn:domDoc>";

TEST_F(RouterTest, IngestWithSessionTokenParam) {
  HttpReply reply = Post(Envelope("xtk:session", "Ingest", "<urn:sessiontoken>___good</urn:sessiontoken>" + kDomDoc),
                         {{"x-security-token", kGoodSecurity}});
  EXPECT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].arg_names, std::vector<std::string>{"domDoc"});
  EXPECT_EQ(recorded_[0].arg_elements, std::vector<std::string>{"sampleTableStg"});
  ASSERT_TRUE(recorded_[0].op.has_value());
  EXPECT_EQ(recorded_[0].op->login, "admin");
  EXPECT_EQ(recorded_[0].remote, "192.0.2.7");
  EXPECT_THAT(reply.body, HasSubstr("<IngestResponse xmlns='urn:wpp:default'"));
  EXPECT_THAT(reply.body, HasSubstr("<pstrSUuids xsi:type='xsd:string'>uuid-1</pstrSUuids>"));
  EXPECT_THAT(reply.content_type, HasSubstr("text/xml"));
  ASSERT_EQ(validated_.size(), 1u);
  EXPECT_EQ(validated_[0], std::make_pair(std::string(kGoodSession), std::string(kGoodSecurity)));
}

TEST_F(RouterTest, IngestWithoutSessionTokenParamTokensInHeaders) {
  HttpReply reply = Post(Envelope("xtk:session", "Ingest", kDomDoc), GoodHeaders());
  EXPECT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].arg_names, std::vector<std::string>{"domDoc"});
  EXPECT_EQ(recorded_[0].arg_elements, std::vector<std::string>{"sampleTableStg"});
}

TEST_F(RouterTest, ParametersAreMatchedByPositionNotByName) {
  HttpReply reply = Post(Envelope("xtk:session", "Ingest", "<urn:a>___good</urn:a><urn:b><rec/></urn:b>"),
                         {{"x-security-token", kGoodSecurity}});
  EXPECT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].arg_names, std::vector<std::string>{"b"});
  EXPECT_EQ(recorded_[0].arg_elements, std::vector<std::string>{"rec"});
}

TEST_F(RouterTest, LogonNeedsNoSessionAndReadsItsThreeInputsAfterTheToken) {
  HttpReply reply = Post(Envelope("xtk:session", "Logon",
                                  "<sessiontoken/><login>admin</login><password>secret</password>"
                                  "<parameters><parameters rememberMe=\"true\"/></parameters>"));
  EXPECT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].arg_texts, (std::vector<std::string>{"admin", "secret", ""}));
  EXPECT_EQ(recorded_[0].arg_elements, (std::vector<std::string>{"", "", "parameters"}));
  EXPECT_FALSE(recorded_[0].op.has_value());
  EXPECT_TRUE(validated_.empty());
  EXPECT_THAT(reply.body, HasSubstr("<LogonResponse xmlns='urn:xtk:session'"));
}

TEST_F(RouterTest, LogonWithoutTheTokenParam) {
  HttpReply reply = Post(Envelope("xtk:session", "Logon", "<login>admin</login><password>secret</password>"));
  EXPECT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].arg_texts, (std::vector<std::string>{"admin", "secret"}));
}

TEST_F(RouterTest, LogonWithTheTokenParamButWithoutParameters) {
  HttpReply reply =
      Post(Envelope("xtk:session", "Logon", "<sessiontoken/><login>admin</login><password>secret</password>"));
  EXPECT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].arg_texts, (std::vector<std::string>{"admin", "secret"}));
}

TEST_F(RouterTest, ScalarParamsWithTheTokenParam) {
  HttpReply reply = Post(Envelope("xtk:persist", "GetEntityIfMoreRecent",
                                  "<sessiontoken>___good</sessiontoken><pk>xtk:schema|xtk:session</pk><md5/>"
                                  "<mustExist>false</mustExist>"),
                         {{"x-security-token", kGoodSecurity}});
  EXPECT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].arg_texts, (std::vector<std::string>{"xtk:schema|xtk:session", "", "false"}));
}

// The router accepts a request without the leading sessiontoken parameter (the
// tokens then travel in headers). With a method whose first input is a scalar,
// that first input must not be mistaken for the session token.
TEST_F(RouterTest, ScalarParamsWithoutTheTokenParamTokensInHeaders) {
  HttpReply reply = Post(Envelope("xtk:persist", "GetEntityIfMoreRecent",
                                  "<pk>xtk:schema|xtk:session</pk><md5/><mustExist>false</mustExist>"),
                         GoodHeaders());
  EXPECT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(validated_.size(), 1u);
  EXPECT_EQ(validated_[0].first, kGoodSession) << "the first scalar parameter was taken as the session token";
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].arg_texts, (std::vector<std::string>{"xtk:schema|xtk:session", "", "false"}));
}

TEST_F(RouterTest, BadSessionReturnsTheValidatorsFaultAndSkipsTheHandler) {
  HttpReply reply = Post(Envelope("xtk:session", "Ingest", "<urn:sessiontoken>___expired</urn:sessiontoken>" + kDomDoc),
                         {{"x-security-token", kGoodSecurity}});
  EXPECT_EQ(reply.status, 500);
  EXPECT_TRUE(recorded_.empty());
  EXPECT_EQ(FaultCode(reply.body), "SOAP-ENV:Client");
  EXPECT_EQ(FaultString(reply.body), "XSV-350008 Session has expired or is invalid. Please reconnect.");
  EXPECT_THAT(reply.body, HasSubstr("xmlns:ns='urn:wpp:default'"));  // the method's response namespace
}

TEST_F(RouterTest, MissingSecurityTokenIsRefused) {
  HttpReply reply =
      Post(Envelope("xtk:session", "IngestExt", "<urn:sessiontoken>___good</urn:sessiontoken>" + kDomDoc));
  EXPECT_EQ(reply.status, 500);
  EXPECT_TRUE(recorded_.empty());
  EXPECT_THAT(FaultString(reply.body), HasSubstr("XSV-350008"));
}

TEST_F(RouterTest, NoSessionAtAllIsRefused) {
  HttpReply reply = Post(Envelope("xtk:session", "Fail", ""));
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(fail_calls_, 0);
  EXPECT_THAT(FaultString(reply.body), HasSubstr("XSV-350008"));
}

TEST_F(RouterTest, UnknownMethod) {
  HttpReply reply = Post(Envelope("xtk:session", "Nope", "<sessiontoken>___good</sessiontoken>"));
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(FaultCode(reply.body), "SOAP-ENV:Client");
  EXPECT_EQ(FaultString(reply.body), "SOP-330006 The method 'Nope' is not defined in SOAP service 'xtk:session'.");
  EXPECT_TRUE(validated_.empty());
  ASSERT_EQ(observer_.calls.size(), 1u);
  EXPECT_EQ(observer_.calls[0], std::make_pair(std::string("unknown"), true));
}

TEST_F(RouterTest, CallAsRunsTheMethodAsTheOperatorWithoutTokensOrObserver) {
  SoapCall call;
  call.doc = std::make_shared<pugi::xml_document>();
  call.service = "xtk:session";
  call.method = "Ingest";
  Param p;
  p.name = "domDoc";
  p.element = call.doc->append_child("domDoc").append_child("sampleTableStg");
  call.params.push_back(p);
  MethodResult outs = router_.CallAs(auth::Operator{"etl", false, {"dem:sampleTable"}, false}, call, "script");
  ASSERT_TRUE(outs.ok()) << outs.status().ToString();
  ASSERT_EQ(outs->size(), 1u);
  EXPECT_EQ((*outs)[0].text, "uuid-1");
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].op->login, "etl");
  EXPECT_EQ(recorded_[0].remote, "script");
  EXPECT_EQ(recorded_[0].arg_elements, std::vector<std::string>{"sampleTableStg"});
  EXPECT_TRUE(validated_.empty());  // no token check
  EXPECT_TRUE(observer_.calls.empty());

  call.method = "Fail";
  call.params.clear();
  MethodResult failed = router_.CallAs(auth::Operator{"etl", false, {}, false}, call, "script");
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), ::testing::StartsWith("STG-200004"));

  call.method = "Nope";
  MethodResult unknown = router_.CallAs(auth::Operator{"etl", false, {}, false}, call, "script");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), ::testing::StartsWith("SOP-330006"));

  call.method = "IngestExt";
  call.params = {p, p};
  MethodResult extra = router_.CallAs(auth::Operator{"etl", false, {}, false}, call, "script");
  ASSERT_FALSE(extra.ok());
  EXPECT_THAT(extra.status().message(), ::testing::HasSubstr("takes 1 parameter(s), 2 given"));
}

TEST_F(RouterTest, MethodNamesAreCaseSensitive) {
  HttpReply reply = Post(Envelope("xtk:session", "ingest", kDomDoc), GoodHeaders());
  EXPECT_EQ(reply.status, 500);
  EXPECT_THAT(FaultString(reply.body), HasSubstr("SOP-330006 The method 'ingest'"));
}

TEST_F(RouterTest, UnknownService) {
  HttpReply reply = Post(Envelope("nms:nothing", "Ingest", kDomDoc), GoodHeaders());
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(FaultString(reply.body), "SOP-330006 The method 'Ingest' is not defined in SOAP service 'nms:nothing'.");
  EXPECT_TRUE(recorded_.empty());
}

TEST_F(RouterTest, HandlersCodedErrorIsAnHttp500Fault) {
  HttpReply reply = Post(Envelope("xtk:session", "Fail", ""), GoodHeaders());
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(fail_calls_, 1);
  EXPECT_EQ(FaultCode(reply.body), "SOAP-ENV:Client");
  EXPECT_EQ(FaultString(reply.body), "STG-200004 Invalid value 'x' for attribute 'n' of schema 'dem:s'.");
  EXPECT_EQ(Detail(reply.body),
            "SOP-330011 Error while executing the method 'Fail' of service 'xtk:session'.\n"
            "STG-200004 Invalid value 'x' for attribute 'n' of schema 'dem:s'.");
  ASSERT_EQ(observer_.calls.size(), 1u);
  EXPECT_EQ(observer_.calls[0], std::make_pair(std::string("xtk:session#Fail"), true));
}

TEST_F(RouterTest, HandlersInternalErrorIsAGenericServerFault) {
  HttpReply reply = Post(Envelope("xtk:session", "Crash", ""), GoodHeaders());
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(FaultCode(reply.body), "SOAP-ENV:Server");
  EXPECT_THAT(reply.body, Not(HasSubstr("secret_table")));
  EXPECT_THAT(reply.body, Not(HasSubstr("SELECT")));
}

// acc-js-sdk reads SOAP faults only from successful HTTP responses: it gets its
// faults with HTTP 200 (it announces itself with ACC-SDK-Version); others get 500.
TEST_F(RouterTest, AccJsSdkGetsFaultsWithHttp200) {
  std::map<std::string, std::string> headers = GoodHeaders();
  headers["acc-sdk-version"] = "@adobe/acc-js-sdk 1.2.0";
  HttpReply reply = Post(Envelope("xtk:session", "Fail", ""), headers);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(FaultString(reply.body), "STG-200004 Invalid value 'x' for attribute 'n' of schema 'dem:s'.");
  HttpReply bad_session =
      Post(Envelope("xtk:session", "Ingest", kDomDoc), {{"acc-sdk-version", "@adobe/acc-js-sdk 1.2.0"}});
  EXPECT_EQ(bad_session.status, 200);
  EXPECT_THAT(bad_session.body, HasSubstr("XSV-350008"));
  HttpReply malformed = Post("<oops", {{"acc-sdk-version", "@adobe/acc-js-sdk 1.2.0"}});
  EXPECT_EQ(malformed.status, 200);
  EXPECT_THAT(FaultString(malformed.body), ::testing::StartsWith("SOP-330001 "));
  ASSERT_EQ(observer_.calls.size(), 3u);
  for (const auto& [action, fault] : observer_.calls) EXPECT_TRUE(fault) << action;
}

TEST_F(RouterTest, ObserverSeesTheActionAndTheFaultFlag) {
  (void)Post(Envelope("xtk:session", "Ingest", kDomDoc), GoodHeaders());
  (void)Post(Envelope("xtk:session", "IngestExt", kDomDoc), {{"x-session-token", "___bad"}});
  (void)Post("not xml at all");
  (void)Post(Envelope("xtk:session", "Ingest", kDomDoc), {{"soapaction", "xtk:session#IngestExt"}});
  ASSERT_EQ(observer_.calls.size(), 4u);
  EXPECT_EQ(observer_.calls[0], std::make_pair(std::string("xtk:session#Ingest"), false));
  EXPECT_EQ(observer_.calls[1], std::make_pair(std::string("xtk:session#IngestExt"), true));
  EXPECT_EQ(observer_.calls[2], std::make_pair(std::string("unknown"), true));
  EXPECT_EQ(observer_.calls[3], std::make_pair(std::string("unknown"), true));
}

TEST_F(RouterTest, IngestExtAnswersAnEmptyResponse) {
  HttpReply reply = Post(Envelope("xtk:session", "IngestExt", kDomDoc), GoodHeaders());
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_THAT(reply.body, HasSubstr("<IngestExtResponse xmlns='urn:wpp:default' "
                                    "SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'/>"));
}

TEST_F(RouterTest, MalformedRequestIsAClientFault) {
  HttpReply reply = Post("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">");
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(FaultCode(reply.body), "SOAP-ENV:Client");
  EXPECT_THAT(FaultString(reply.body), ::testing::StartsWith("SOP-330001 "));
}

TEST_F(RouterTest, ActionMismatchIsAClientFault) {
  HttpReply reply = Post(Envelope("xtk:session", "Ingest", kDomDoc), {{"soapaction", "xtk:session#IngestExt"},
                                                                      {"x-session-token", kGoodSession},
                                                                      {"x-security-token", kGoodSecurity}});
  EXPECT_EQ(reply.status, 500);
  EXPECT_THAT(FaultString(reply.body), ::testing::StartsWith("SOP-330002 "));
  EXPECT_TRUE(recorded_.empty());
}

TEST_F(RouterTest, DefaultResponseNamespaceIsTheService) {
  const ServiceDef* s = router_.FindService("xtk:persist");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->methods[0].response_ns, "urn:xtk:persist");
  EXPECT_EQ(router_.FindService("xtk:session")->methods[1].response_ns, "urn:wpp:default");
  EXPECT_EQ(router_.FindService("nope:nope"), nullptr);
  EXPECT_EQ(router_.services().size(), 2u);
}

TEST_F(RouterTest, InputCount) {
  const ServiceDef* s = router_.FindService("xtk:session");
  EXPECT_EQ(s->methods[0].input_count(), 3u);  // Logon
  EXPECT_EQ(s->methods[1].input_count(), 1u);  // Ingest
  EXPECT_EQ(s->methods[2].input_count(), 1u);  // IngestExt
}

// --- rate limits ------------------------------------------------------------------

// The router with a per-operator limit on a clock the test moves by hand.
class RateLimitedRouterTest : public RouterTest {
 protected:
  void Limit(std::int64_t calls_per_second, std::int64_t burst) {
    limiter_ = std::make_unique<RateLimiter>(calls_per_second, burst, [this] { return now_; });
    router_.set_rate_limiter(limiter_.get());
  }

  HttpReply Ingest(std::map<std::string, std::string> headers = GoodHeaders()) {
    return Post(Envelope("xtk:session", "Ingest", kDomDoc), std::move(headers));
  }

  static std::map<std::string, std::string> BobHeaders() {
    return {{"x-session-token", kBobSession}, {"x-security-token", kBobSecurity}};
  }

  static std::string Header(const HttpReply& reply, const std::string& name) {
    std::string value;
    int found = 0;
    for (const auto& [n, v] : reply.headers) {
      if (n == name) {
        value = v;
        ++found;
      }
    }
    return found == 1 ? value : "<" + std::to_string(found) + " headers>";
  }

  RateLimiter::TimePoint now_ = RateLimiter::TimePoint{} + std::chrono::seconds(100);
  std::unique_ptr<RateLimiter> limiter_;
};

TEST_F(RateLimitedRouterTest, ACallOverTheLimitIs429WithRetryAfterAndACodedFaultAndDoesNotRun) {
  Limit(2, 2);
  EXPECT_EQ(Ingest().status, 200);
  EXPECT_EQ(Ingest().status, 200);
  HttpReply refused = Ingest();
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(Header(refused, "Retry-After"), "1");
  EXPECT_THAT(refused.content_type, HasSubstr("text/xml"));
  EXPECT_EQ(FaultCode(refused.body), "SOAP-ENV:Server");  // retryable as is
  EXPECT_EQ(FaultString(refused.body),
            "SOP-330429 Too many calls: operator 'admin' may make 2 calls per second (burst 2); retry after 1 s.");
  EXPECT_EQ(Detail(refused.body), FaultString(refused.body));  // no "Error while executing" wrapper: it did not run
  EXPECT_THAT(refused.body, HasSubstr("xmlns:ns='urn:wpp:default'"));
  EXPECT_EQ(recorded_.size(), 2u) << "the method ran over the limit";
  ASSERT_EQ(observer_.calls.size(), 3u);
  EXPECT_EQ(observer_.calls[2], std::make_pair(std::string("xtk:session#Ingest"), true));
  // Half a second later one token is back.
  now_ += std::chrono::milliseconds(500);
  HttpReply again = Ingest();
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(again.headers.empty());
  EXPECT_EQ(recorded_.size(), 3u);
  EXPECT_EQ(Ingest().status, 429);
}

TEST_F(RateLimitedRouterTest, CallsUnderTheLimitPass) {
  Limit(100, 5);
  for (int i = 0; i < 5; ++i) {
    HttpReply reply = Ingest();
    EXPECT_EQ(reply.status, 200) << i << reply.body;
    EXPECT_TRUE(reply.headers.empty()) << i;
  }
  for (int i = 0; i < 50; ++i) {  // then at the sustained rate
    now_ += std::chrono::milliseconds(10);
    EXPECT_EQ(Ingest().status, 200) << i;
  }
  EXPECT_EQ(recorded_.size(), 55u);
}

TEST_F(RateLimitedRouterTest, WithoutALimiterEverythingPasses) {
  for (int i = 0; i < 300; ++i) {
    HttpReply reply = Ingest();
    ASSERT_EQ(reply.status, 200) << i;
    ASSERT_TRUE(reply.headers.empty());
  }
  EXPECT_EQ(recorded_.size(), 300u);
  Limit(1, 1);
  router_.set_rate_limiter(nullptr);  // unset again
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Ingest().status, 200);
}

TEST_F(RateLimitedRouterTest, OperatorsAreLimitedIndependently) {
  Limit(1, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Ingest().status, 200);
  EXPECT_EQ(Ingest().status, 429);
  EXPECT_EQ(Ingest().status, 429);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Ingest(BobHeaders()).status, 200) << "bob pays for admin's calls";
  HttpReply bob = Ingest(BobHeaders());
  EXPECT_EQ(bob.status, 429);
  EXPECT_THAT(FaultString(bob.body), HasSubstr("operator 'bob' may make 1 calls per second (burst 3)"));
  std::vector<std::pair<std::string, std::uint64_t>> refusals = limiter_->Refusals();
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0], std::make_pair(std::string("admin"), std::uint64_t{2}));
  EXPECT_EQ(refusals[1], std::make_pair(std::string("bob"), std::uint64_t{1}));
}

// acc-js-sdk gets its faults with HTTP 200, but a refusal over the limit with
// 429: it rejects with a CampaignException whose statusCode is 429.
TEST_F(RateLimitedRouterTest, AccJsSdkGets429Too) {
  Limit(1, 1);
  std::map<std::string, std::string> headers = GoodHeaders();
  headers["acc-sdk-version"] = "@adobe/acc-js-sdk 1.2.0";
  EXPECT_EQ(Ingest(headers).status, 200);
  HttpReply refused = Ingest(headers);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(Header(refused, "Retry-After"), "1");
  EXPECT_THAT(FaultString(refused.body), ::testing::StartsWith("SOP-330429 "));
  // Any method over the limit is refused before it runs; under it, its own
  // faults still come with HTTP 200.
  HttpReply other_fault = Post(Envelope("xtk:session", "Fail", ""), headers);
  EXPECT_EQ(other_fault.status, 429);
  EXPECT_EQ(fail_calls_, 0);
  now_ += std::chrono::seconds(1);
  other_fault = Post(Envelope("xtk:session", "Fail", ""), headers);
  EXPECT_EQ(other_fault.status, 200);
  EXPECT_THAT(FaultString(other_fault.body), HasSubstr("STG-200004"));
}

// Logon (no session) is never limited; a call refused for its session takes no
// token; every method that needs a session is limited, blocking or not.
TEST_F(RateLimitedRouterTest, OnlyAuthenticatedCallsAreCounted) {
  Limit(1, 1);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Post(Envelope("xtk:session", "Logon", "<login>admin</login><password>secret</password>")).status, 200);
  }
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Ingest({{"x-session-token", "___expired"}}).status, 500);
  HttpReply unknown = Post(Envelope("xtk:session", "Nope", ""), GoodHeaders());
  EXPECT_THAT(FaultString(unknown.body), HasSubstr("SOP-330006"));
  EXPECT_EQ(Post(Envelope("xtk:persist", "GetEntityIfMoreRecent", "<pk>xtk:schema|xtk:session</pk><md5/><mustExist/>"),
                 GoodHeaders())
                .status,
            200);
  EXPECT_EQ(Ingest().status, 429);
  EXPECT_EQ(Post(Envelope("xtk:session", "IngestExt", kDomDoc), GoodHeaders()).status, 429);
  EXPECT_EQ(limiter_->Refusals().at(0).second, 2u);
}

// --- asynchronous methods and HandleAsync ----------------------------------------

// A service whose methods answer later, from another thread (as Ingest answers
// from the staging writer's callback), and a blocking runner that queues work.
class AsyncRouterTest : public RouterTest {
 protected:
  AsyncRouterTest() {
    ServiceDef later{"xtk:later", "Later", {}};
    later.methods.push_back(MethodDef{"Echo",
                                      true,
                                      {{"text", "string"}, {"out", "string", true}},
                                      true,
                                      {},
                                      {},
                                      [this](CallContext& ctx, MethodDone done) {
                                        std::lock_guard lock(mu_);
                                        parked_.emplace_back(ctx.args.empty() ? "" : ctx.args[0]->text,
                                                             std::move(done));
                                      }});
    later.methods.push_back(MethodDef{"Now", true, {}, false, {}, {}, [](CallContext&, const MethodDone& done) {
                                        done(std::vector<OutValue>{OutValue::String("x", "now")});
                                      }});
    router_.AddService(std::move(later));
  }

  // Answers a parked call: echoes its text, or a fault when the text starts with "fail".
  static void Answer(std::pair<std::string, MethodDone>& call) {
    if (call.first.starts_with("fail")) {
      call.second(CodedError(Status::Code::kInvalidArgument, "STG-200004", "refused " + call.first));
    } else {
      call.second(std::vector<OutValue>{OutValue::String("out", call.first)});
    }
  }

  std::vector<std::pair<std::string, MethodDone>> TakeParked() {
    std::lock_guard lock(mu_);
    return std::exchange(parked_, {});
  }

  // Posts asynchronously; the reply lands in `replies[slot]`.
  void PostAsync(const std::string& body, std::map<std::string, std::string> headers, std::size_t slot) {
    router_.HandleAsync(HttpCall{body, "", std::move(headers)}, "192.0.2.7", [this, slot](HttpReply reply) {
      std::lock_guard lock(mu_);
      EXPECT_EQ(replies_.count(slot), 0u) << "answered twice";
      replies_[slot] = std::move(reply);
    });
  }

  std::map<std::size_t, HttpReply> Replies() {
    std::lock_guard lock(mu_);
    return replies_;
  }

  static std::string EchoCall(const std::string& text) {
    return Envelope("xtk:later", "Echo", "<sessiontoken>___good</sessiontoken><text>" + text + "</text>");
  }

  std::mutex mu_;
  std::vector<std::pair<std::string, MethodDone>> parked_;  // GUARDED_BY(mu_)
  std::map<std::size_t, HttpReply> replies_;                // GUARDED_BY(mu_)
};

TEST_F(AsyncRouterTest, AnAsyncMethodIsAnsweredWhenItsCallbackRuns) {
  PostAsync(EchoCall("hello"), {{"x-security-token", kGoodSecurity}}, 0);
  EXPECT_TRUE(Replies().empty()) << "answered before the method did";
  EXPECT_TRUE(observer_.calls.empty());
  std::vector<std::pair<std::string, MethodDone>> parked = TakeParked();
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].first, "hello");
  std::thread([&] { Answer(parked[0]); }).join();  // from another thread, after HandleAsync returned
  std::map<std::size_t, HttpReply> replies = Replies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].status, 200) << replies[0].body;
  EXPECT_THAT(replies[0].body, HasSubstr("<EchoResponse xmlns='urn:xtk:later'"));
  EXPECT_THAT(replies[0].body, HasSubstr("<out xsi:type='xsd:string'>hello</out>"));
  ASSERT_EQ(observer_.calls.size(), 1u);
  EXPECT_EQ(observer_.calls[0], std::make_pair(std::string("xtk:later#Echo"), false));
}

// Calls answered in another order than they came, from several threads: each
// reply is its own call's, and a failing call fails nobody else.
TEST_F(AsyncRouterTest, ManyCallsAnsweredOutOfOrderEachGetTheirOwnReply) {
  constexpr std::size_t kCalls = 64;
  for (std::size_t i = 0; i < kCalls; ++i) {
    PostAsync(EchoCall(i == 7 ? "fail7" : "t" + std::to_string(i)), {{"x-security-token", kGoodSecurity}}, i);
  }
  std::vector<std::pair<std::string, MethodDone>> parked = TakeParked();
  ASSERT_EQ(parked.size(), kCalls);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = kCalls; i-- > 0;) {
        if (i % 4 == t) Answer(parked[i]);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::map<std::size_t, HttpReply> replies = Replies();
  ASSERT_EQ(replies.size(), kCalls);
  for (std::size_t i = 0; i < kCalls; ++i) {
    if (i == 7) {
      EXPECT_EQ(replies[i].status, 500);
      EXPECT_EQ(FaultString(replies[i].body), "STG-200004 refused fail7");
    } else {
      EXPECT_EQ(replies[i].status, 200) << i;
      EXPECT_THAT(replies[i].body, HasSubstr(">t" + std::to_string(i) + "</out>")) << i;
    }
  }
  EXPECT_EQ(observer_.calls.size(), kCalls);
}

TEST_F(AsyncRouterTest, AnAsyncMethodsSessionIsCheckedBeforeItRuns) {
  PostAsync(Envelope("xtk:later", "Echo", "<sessiontoken>___expired</sessiontoken><text>x</text>"),
            {{"x-security-token", kGoodSecurity}}, 0);
  EXPECT_TRUE(TakeParked().empty());
  std::map<std::size_t, HttpReply> replies = Replies();
  ASSERT_EQ(replies.size(), 1u);  // answered at once
  EXPECT_THAT(FaultString(replies[0].body), HasSubstr("XSV-350008"));
}

TEST_F(AsyncRouterTest, AnAsyncMethodMayAnswerBeforeItReturns) {
  PostAsync(Envelope("xtk:later", "Now", ""), {}, 0);
  std::map<std::size_t, HttpReply> replies = Replies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0].body, HasSubstr("<x xsi:type='xsd:string'>now</x>"));
}

TEST_F(AsyncRouterTest, UnknownMethodIsAnsweredAtOnce) {
  PostAsync(Envelope("xtk:later", "Nope", ""), GoodHeaders(), 0);
  std::map<std::size_t, HttpReply> replies = Replies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(FaultString(replies[0].body), HasSubstr("SOP-330006"));
}

// A blocking method, its authentication included, runs on the blocking runner,
// never on the thread that called HandleAsync.
TEST_F(AsyncRouterTest, BlockingMethodsRunOnTheBlockingRunner) {
  std::vector<std::function<void()>> queued;
  router_.set_blocking_runner([&queued](std::function<void()> work) { queued.push_back(std::move(work)); });
  PostAsync(Envelope("xtk:session", "Fail", ""), GoodHeaders(), 0);
  PostAsync(Envelope("xtk:persist", "GetEntityIfMoreRecent",
                     "<sessiontoken>___good</sessiontoken><pk>xtk:schema|xtk:session</pk><md5/><mustExist/>"),
            {{"x-security-token", kGoodSecurity}}, 1);
  EXPECT_TRUE(Replies().empty());
  EXPECT_TRUE(validated_.empty()) << "the tokens were checked on the I/O thread";
  EXPECT_EQ(fail_calls_, 0);
  ASSERT_EQ(queued.size(), 2u);
  std::thread([&] {
    for (auto& work : queued) work();
  }).join();
  std::map<std::size_t, HttpReply> replies = Replies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(fail_calls_, 1);
  EXPECT_EQ(FaultString(replies[0].body), "STG-200004 Invalid value 'x' for attribute 'n' of schema 'dem:s'.");
  EXPECT_EQ(replies[1].status, 200) << replies[1].body;
  EXPECT_EQ(validated_.size(), 2u);
  // An asynchronous method does not go through the runner.
  PostAsync(EchoCall("direct"), {{"x-security-token", kGoodSecurity}}, 2);
  EXPECT_EQ(queued.size(), 2u);
  EXPECT_EQ(TakeParked().size(), 1u);
}

// An asynchronous method over the limit is answered at once and never starts.
TEST_F(AsyncRouterTest, AnAsyncMethodOverTheLimitIsAnsweredAtOnce) {
  RateLimiter limiter(1, 1, [] { return RateLimiter::TimePoint{} + std::chrono::seconds(5); });
  router_.set_rate_limiter(&limiter);
  PostAsync(EchoCall("first"), {{"x-security-token", kGoodSecurity}}, 0);
  PostAsync(EchoCall("second"), {{"x-security-token", kGoodSecurity}}, 1);
  std::map<std::size_t, HttpReply> replies = Replies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[1].status, 429);
  EXPECT_THAT(FaultString(replies[1].body), ::testing::StartsWith("SOP-330429 "));
  std::vector<std::pair<std::string, MethodDone>> parked = TakeParked();
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].first, "first");
  Answer(parked[0]);
  EXPECT_EQ(Replies()[0].status, 200);
  router_.set_rate_limiter(nullptr);
}

// The blocking form waits for an asynchronous method answered on another thread.
TEST_F(AsyncRouterTest, HandleWaitsForAnAsyncMethod) {
  std::thread answerer([&] {
    for (;;) {
      std::vector<std::pair<std::string, MethodDone>> parked = TakeParked();
      for (auto& call : parked) Answer(call);
      if (!parked.empty()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  HttpReply reply = Post(EchoCall("waited"), {{"x-security-token", kGoodSecurity}});
  answerer.join();
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_THAT(reply.body, HasSubstr(">waited</out>"));
}

}  // namespace
}  // namespace stagebridge::soap
