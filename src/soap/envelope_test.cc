// envelope_test.cc — SOAP request decoding (every client style captured in
// tests/fixtures/envelopes), response and fault encoding, byte for byte.
#include "soap/envelope.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "soap/fault.h"

namespace stagebridge::soap {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadFixture(const std::string& name) {
  std::string path = std::string(STAGEBRIDGE_FIXTURES) + "/envelopes/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open fixture " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using Headers = std::map<std::string, std::string>;

// The session token of a call whose first parameter is the sessiontoken
// parameter (every captured client sends it): that parameter, else the transport.
std::string Token(const SoapCall& call) {
  return SessionToken(call, true);
}

Result<SoapCall> Parse(std::string_view body, Headers headers = {}, std::string_view query = {}) {
  HttpCall http{body, query, std::move(headers)};
  return ParseCall(http);
}

// An acc-js-sdk style Ingest with an empty first parameter: tokens travel elsewhere.
std::string IngestEnvelope(std::string_view soap_header = "", std::string_view first_param = "") {
  std::string out =
      "<SOAP-ENV:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
      "xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\">";
  if (!soap_header.empty()) out += "<SOAP-ENV:Header>" + std::string(soap_header) + "</SOAP-ENV:Header>";
  out += "<SOAP-ENV:Body><m:Ingest xmlns:m=\"urn:xtk:session\"><sessiontoken xsi:type=\"xsd:string\">";
  out += first_param;
  out +=
      "</sessiontoken><domDoc xsi:type=\"\"><sampleTableStg xtkschema=\"dem:sampleTableStg\"/></domDoc></m:Ingest>"
      "</SOAP-ENV:Body></SOAP-ENV:Envelope>";
  return out;
}

// The ingest body with no namespace on the method element (so only a SOAPAction can name the service).
constexpr std::string_view kNoNamespaceBody =
    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><Ingest>"
    "<sessiontoken>t</sessiontoken><domDoc><x/></domDoc></Ingest></soap:Body></soap:Envelope>";

void ExpectMalformed(const Result<SoapCall>& call, std::string_view what) {
  ASSERT_FALSE(call.ok()) << what;
  EXPECT_EQ(call.status().code(), Status::Code::kInvalidArgument) << what;
  auto [code, text] = SplitErrorCode(call.status().message());
  EXPECT_EQ(code, codes::kMalformed) << what << ": " << call.status().message();
  EXPECT_GT(text.size(), 10u) << what << ": the message must say what is wrong";
}

// ---------------------------------------------------------------------------
// Every captured client style.

struct FixtureCase {
  const char* file;
  Headers headers;
  std::string query;
  const char* method;
  std::vector<std::string> param_names;
  const char* session_token;
  const char* security_token;
  const char* dom_child;     // name of the element inside the DOM parameter
  const char* dom_xsi_type;  // xsi:type of the DOM parameter as sent
  const char* testcol1;      // value of testcol1 on the DOM child ("" when none)
  const char* action;        // SOAPAction as resolved
};

void PrintTo(const FixtureCase& c, std::ostream* os) {
  *os << c.file;
}

class EnvelopeFixtureTest : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(EnvelopeFixtureTest, ParsesServiceMethodParamsAndTokens) {
  const FixtureCase& c = GetParam();
  std::string body = ReadFixture(c.file);
  ASSERT_FALSE(body.empty());
  Result<SoapCall> call = Parse(body, c.headers, c.query);
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->service, "xtk:session");
  EXPECT_EQ(call->method, c.method);
  EXPECT_EQ(call->action, c.action);
  std::vector<std::string> names;
  for (const Param& p : call->params) names.push_back(p.name);
  EXPECT_EQ(names, c.param_names);
  EXPECT_EQ(Token(*call), c.session_token);
  EXPECT_EQ(call->security_token, c.security_token);
  if (c.dom_child != nullptr) {
    // The DOM parameter is the last one in every captured call.
    ASSERT_FALSE(call->params.empty());
    const Param& dom = call->params.back();
    ASSERT_TRUE(dom.element) << "no DOM child found in " << dom.name;
    EXPECT_STREQ(dom.element.name(), c.dom_child);
    EXPECT_EQ(dom.xsi_type, c.dom_xsi_type);
    EXPECT_EQ(std::string(dom.element.attribute("xtkschema").value()), "dem:sampleTableStg");
    EXPECT_EQ(std::string(dom.element.attribute("testcol1").value()), c.testcol1);
    // Nothing but the one element: whitespace around it is not an element.
    EXPECT_FALSE(dom.element.next_sibling().type() == pugi::node_element);
  }
}

const Headers kAccJsHeaders = {
    {"content-type", "application/soap+xml;charset=UTF-8"},
    {"soapaction", "xtk:session#Ingest"},
    {"x-security-token", "@SECURITY-1"},
    {"x-session-token", "___SESSION-1"},
    {"cookie", "__sessiontoken=___SESSION-1"},
};

INSTANTIATE_TEST_SUITE_P(
    Captured, EnvelopeFixtureTest,
    ::testing::Values(
        // SoapUI, as in the seed document: soapenv:/urn: prefixes, no SOAPAction header.
        FixtureCase{"soapui_ingest.xml",
                    {{"content-type", "text/xml;charset=UTF-8"}},
                    "",
                    "Ingest",
                    {"sessiontoken", "domDoc"},
                    "___5e71f4bf-d38a-4ba8-ac15-35a958f7f138",
                    "",
                    "sampleTableStg",
                    "",
                    "Test Value 1 (from SOAP)",
                    ""},
        FixtureCase{"soapui_ingestext.xml",
                    {{"content-type", "text/xml;charset=UTF-8"}, {"soapaction", "\"urn:xtk:session#IngestExt\""}},
                    "",
                    "IngestExt",
                    {"sessiontoken", "domDoc"},
                    "___444cd168-a1e2-4fb6-a2a8-73be9f133489",
                    "",
                    "sampleTableStg",
                    "",
                    "Test Value E (from SOAP)",
                    "xtk:session#IngestExt"},
        // acc-js-sdk: SOAP-ENV, RPC style, xsi:type="" on the DOMDocument, tokens everywhere.
        FixtureCase{"accjs_ingest.xml",
                    kAccJsHeaders,
                    "soapAction=xtk%3Asession%23Ingest",
                    "Ingest",
                    {"sessiontoken", "domDoc"},
                    "___SESSION-1",
                    "@SECURITY-1",
                    "sampleTableStg",
                    "",
                    "a",
                    "xtk:session#Ingest"},
        FixtureCase{"accjs_ingestext.xml",
                    {{"content-type", "application/soap+xml;charset=UTF-8"}, {"soapaction", "xtk:session#IngestExt"}},
                    "",
                    "IngestExt",
                    {"sessiontoken", "domDoc"},
                    "___SESSION-1",
                    "@SECURITY-1",
                    "sampleTableStg",
                    "",
                    "z",
                    "xtk:session#IngestExt"},
        FixtureCase{"accjs_logon.xml",
                    {{"content-type", "application/soap+xml;charset=UTF-8"},
                     {"soapaction", "xtk:session#Logon"},
                     {"x-security-token", ""},
                     {"x-session-token", ""}},
                    "soapAction=xtk%3Asession%23Logon",
                    "Logon",
                    {"sessiontoken", "login", "password", "parameters"},
                    "",
                    "",
                    nullptr,
                    nullptr,
                    nullptr,
                    "xtk:session#Logon"},
        // node-soap, document/literal: soap: prefix, unprefixed method in the default namespace, quoted SOAPAction.
        FixtureCase{"nodesoap_ingest.xml",
                    {{"content-type", "text/xml; charset=utf-8"}, {"soapaction", "\"xtk:session#Ingest\""}},
                    "",
                    "Ingest",
                    {"sessiontoken", "domDoc"},
                    "___SESSION-2",
                    "",
                    "sampleTableStg",
                    "",
                    "node",
                    "xtk:session#Ingest"},
        // strong-soap: ns1: prefix, pretty-printed, standalone="yes".
        FixtureCase{"strongsoap_ingest.xml",
                    {{"content-type", "text/xml"}, {"soapaction", "xtk:session#Ingest"}},
                    "",
                    "Ingest",
                    {"sessiontoken", "domDoc"},
                    "___SESSION-3",
                    "",
                    "sampleTableStg",
                    "",
                    "strong",
                    "xtk:session#Ingest"},
        // ISO-8859-1 body: values arrive as UTF-8.
        FixtureCase{"latin1_ingest.xml",
                    {{"content-type", "text/xml; charset=ISO-8859-1"}},
                    "",
                    "Ingest",
                    {"sessiontoken", "domDoc"},
                    "___SESSION-4",
                    "",
                    "sampleTableStg",
                    "",
                    "M\xC3\xBCller",
                    ""},
        // SOAP 1.2 envelope namespace, action in the media type.
        FixtureCase{"soap12_ingest.xml",
                    {{"content-type", "application/soap+xml; charset=utf-8; action=\"xtk:session#Ingest\""}},
                    "",
                    "Ingest",
                    {"sessiontoken", "domDoc"},
                    "___SESSION-5",
                    "",
                    "sampleTableStg",
                    "",
                    "twelve",
                    "xtk:session#Ingest"}),
    [](const ::testing::TestParamInfo<FixtureCase>& param) {
      std::string name = param.param.file;
      return name.substr(0, name.find('.'));
    });

TEST(EnvelopeTest, Latin1BodyIsConvertedToUtf8) {
  Result<SoapCall> call = Parse(ReadFixture("latin1_ingest.xml"));
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  pugi::xml_node rec = call->params.at(1).element;
  EXPECT_EQ(std::string(rec.attribute("testcol2").value()),
            "Stra\xC3\x9F"
            "e \xC3\xA0 Z\xC3\xBCrich");
}

// SPEC §3: ISO-8859-1 bodies are accepted with or without an XML declaration;
// without one, only the Content-Type charset says what the bytes are.
TEST(EnvelopeTest, Latin1BodyWithoutDeclarationUsesTheContentTypeCharset) {
  std::string body = ReadFixture("latin1_ingest.xml");
  body = body.substr(body.find('\n') + 1);  // drop <?xml … encoding="ISO-8859-1"?>
  ASSERT_TRUE(body.starts_with("<soapenv:Envelope"));
  Result<SoapCall> call = Parse(body, {{"content-type", "text/xml; charset=ISO-8859-1"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(std::string(call->params.at(1).element.attribute("testcol1").value()), "M\xC3\xBCller");
}

TEST(EnvelopeTest, Utf8ByteOrderMarkIsAccepted) {
  Result<SoapCall> call = Parse("\xEF\xBB\xBF" + ReadFixture("nodesoap_ingest.xml"),
                                {{"content-type", "text/xml; charset=utf-8"}, {"soapaction", "xtk:session#Ingest"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->method, "Ingest");
}

TEST(EnvelopeTest, AccJsLogonReadsScalarParamsByPosition) {
  Result<SoapCall> call = Parse(ReadFixture("accjs_logon.xml"), {{"soapaction", "xtk:session#Logon"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  ASSERT_EQ(call->params.size(), 4u);
  EXPECT_EQ(call->params[0].text, "");
  EXPECT_EQ(call->params[0].xsi_type, "xsd:string");
  EXPECT_EQ(call->params[1].text, "admin");
  EXPECT_EQ(call->params[2].text, "secret");
  EXPECT_EQ(call->params[3].xsi_type, "ns:Element");
  EXPECT_FALSE(call->params[3].element);  // <parameters …/> is empty
}

TEST(EnvelopeTest, XsiTypeFoundWhateverThePrefixBoundToTheInstanceNamespace) {
  std::string body =
      "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\" "
      "xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\"><e:Body><m:Ingest xmlns:m=\"urn:xtk:session\">"
      "<sessiontoken i:type=\"xsd:string\">t</sessiontoken><domDoc><x/></domDoc></m:Ingest></e:Body></e:Envelope>";
  Result<SoapCall> call = Parse(body);
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->params[0].xsi_type, "xsd:string");
  EXPECT_EQ(call->params[1].xsi_type, "");  // absent
}

TEST(EnvelopeTest, WhitespaceAndCommentsAroundTheDomChildAreIgnored) {
  std::string body =
      "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:urn=\"urn:xtk:session\">"
      "<soapenv:Body><urn:Ingest><urn:sessiontoken> ___tok \n</urn:sessiontoken><urn:domDoc>\n  <!-- note -->\n  "
      "<sampleTableStg xtkschema=\"dem:sampleTableStg\"/>\n</urn:domDoc></urn:Ingest></soapenv:Body>"
      "</soapenv:Envelope>";
  Result<SoapCall> call = Parse(body);
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  ASSERT_TRUE(call->params[1].element);
  EXPECT_STREQ(call->params[1].element.name(), "sampleTableStg");
  EXPECT_EQ(Token(*call), "___tok");  // trimmed
}

// ---------------------------------------------------------------------------
// Tokens, in each carrier.

TEST(EnvelopeTokensTest, FirstParameter) {
  Result<SoapCall> call = Parse(IngestEnvelope("", "___first"));
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "___first");
  EXPECT_EQ(call->security_token, "");
}

TEST(EnvelopeTokensTest, FirstParameterWinsOverHeaders) {
  Result<SoapCall> call = Parse(IngestEnvelope("<Cookie>__sessiontoken=___soapheader</Cookie>", "___first"),
                                {{"x-session-token", "___header"}, {"cookie", "__sessiontoken=___cookie"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "___first");
}

TEST(EnvelopeTokensTest, TransportTokenIsKeptApartFromTheFirstParameter) {
  Result<SoapCall> call = Parse(IngestEnvelope("", "___first"), {{"x-session-token", "___header"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->transport_session_token, "___header");
  EXPECT_EQ(SessionToken(*call, true), "___first");
  // When the method's arity shows the first parameter is not the token, it is never taken as one.
  EXPECT_EQ(SessionToken(*call, false), "___header");
}

TEST(EnvelopeTokensTest, ScalarFirstParameterIsNotATokenWithoutTheTokenParam) {
  std::string body =
      "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body>"
      "<m:GetEntityIfMoreRecent xmlns:m=\"urn:xtk:persist\"><pk>xtk:schema|xtk:session</pk><md5/>"
      "<mustExist>false</mustExist></m:GetEntityIfMoreRecent></SOAP-ENV:Body></SOAP-ENV:Envelope>";
  Result<SoapCall> call = Parse(body, {{"cookie", "__sessiontoken=___cookie"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(SessionToken(*call, false), "___cookie");
}

TEST(EnvelopeTokensTest, XSessionTokenHeader) {
  Result<SoapCall> call = Parse(IngestEnvelope(), {{"x-session-token", " ___header "}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "___header");
}

TEST(EnvelopeTokensTest, CookieHeader) {
  Result<SoapCall> call = Parse(IngestEnvelope(), {{"cookie", "lang=fr; __sessiontoken=___cookie; other=1"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "___cookie");
}

TEST(EnvelopeTokensTest, CookieHeaderWithoutTheSessionCookie) {
  Result<SoapCall> call = Parse(IngestEnvelope(), {{"cookie", "lang=fr; x__sessiontoken=nope"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "");
}

TEST(EnvelopeTokensTest, SoapHeaderCookieElement) {
  Result<SoapCall> call = Parse(IngestEnvelope("<Cookie>__sessiontoken=___soapheader</Cookie>"));
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "___soapheader");
}

TEST(EnvelopeTokensTest, XSecurityTokenHeader) {
  Result<SoapCall> call = Parse(IngestEnvelope("", "___s"), {{"x-security-token", "@sec=="}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->security_token, "@sec==");
}

TEST(EnvelopeTokensTest, XSecurityTokenHeaderElement) {
  Result<SoapCall> call = Parse(IngestEnvelope("<X-Security-Token>@element==</X-Security-Token>", "___s"));
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->security_token, "@element==");
}

TEST(EnvelopeTokensTest, XSecurityTokenHeaderWinsOverElement) {
  Result<SoapCall> call = Parse(IngestEnvelope("<X-Security-Token>@element==</X-Security-Token>", "___s"),
                                {{"x-security-token", "@header=="}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->security_token, "@header==");
}

TEST(EnvelopeTokensTest, AuthorizationBearer) {
  Result<SoapCall> call = Parse(IngestEnvelope(), {{"authorization", "Bearer eyJhbGciOi.xyz"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "eyJhbGciOi.xyz");
}

TEST(EnvelopeTokensTest, AuthorizationBasicIsNotAToken) {
  Result<SoapCall> call = Parse(IngestEnvelope(), {{"authorization", "Basic YWRtaW46c2VjcmV0"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "");
}

TEST(EnvelopeTokensTest, NoTokenAnywhere) {
  Result<SoapCall> call = Parse(IngestEnvelope());
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "");
  EXPECT_EQ(call->security_token, "");
}

// CLIENTS.md §1.2: before logon acc-js-sdk sends `x-security-token: ''` and
// `x-session-token: ''`. Both mean "no token".
TEST(EnvelopeTokensTest, AccJsEmptyQuotedTokenHeadersMeanNoToken) {
  Result<SoapCall> call = Parse(IngestEnvelope(), {{"x-security-token", "''"}, {"x-session-token", "''"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->security_token, "");
  EXPECT_EQ(Token(*call), "");
}

TEST(EnvelopeTokensTest, AccJsEmptyQuotedSessionHeaderDoesNotHideTheCookie) {
  Result<SoapCall> call =
      Parse(IngestEnvelope(), {{"x-session-token", "''"}, {"cookie", "__sessiontoken=___SESSION-1"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(Token(*call), "___SESSION-1");
}

// ---------------------------------------------------------------------------
// The method: SOAPAction quoted, unquoted, in the query, absent; mismatches.

TEST(EnvelopeActionTest, Unquoted) {
  Result<SoapCall> call = Parse(ReadFixture("nodesoap_ingest.xml"), {{"soapaction", "xtk:session#Ingest"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->action, "xtk:session#Ingest");
  EXPECT_EQ(call->method, "Ingest");
}

TEST(EnvelopeActionTest, Quoted) {
  Result<SoapCall> call = Parse(ReadFixture("nodesoap_ingest.xml"), {{"soapaction", "\"xtk:session#Ingest\""}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->action, "xtk:session#Ingest");
}

TEST(EnvelopeActionTest, UrnPrefixed) {
  Result<SoapCall> call = Parse(ReadFixture("nodesoap_ingest.xml"), {{"soapaction", "urn:xtk:session#Ingest"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->service, "xtk:session");
  EXPECT_EQ(call->action, "xtk:session#Ingest");
}

TEST(EnvelopeActionTest, InTheQueryString) {
  Result<SoapCall> call = Parse(ReadFixture("nodesoap_ingest.xml"), {}, "x=1&soapAction=xtk%3Asession%23Ingest&y=2");
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->action, "xtk:session#Ingest");
}

TEST(EnvelopeActionTest, EmptyQuotedHeaderFallsBackToTheQuery) {
  Result<SoapCall> call =
      Parse(ReadFixture("nodesoap_ingest.xml"), {{"soapaction", "\"\""}}, "soapAction=xtk%3Asession%23Ingest");
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->action, "xtk:session#Ingest");
}

TEST(EnvelopeActionTest, AbsentUsesTheBodyNamespace) {
  Result<SoapCall> call = Parse(ReadFixture("soapui_ingest.xml"));
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->service, "xtk:session");
  EXPECT_EQ(call->method, "Ingest");
}

TEST(EnvelopeActionTest, ActionNamesTheServiceWhenTheBodyHasNoNamespace) {
  Result<SoapCall> call = Parse(kNoNamespaceBody, {{"soapaction", "xtk:session#Ingest"}});
  ASSERT_TRUE(call.ok()) << call.status().ToString();
  EXPECT_EQ(call->service, "xtk:session");
  EXPECT_EQ(call->method, "Ingest");
}

TEST(EnvelopeActionTest, AbsentAndNoNamespaceIsRefused) {
  Result<SoapCall> call = Parse(kNoNamespaceBody);
  ASSERT_FALSE(call.ok());
  EXPECT_THAT(call.status().message(), StartsWith("SOP-330001 "));
  EXPECT_THAT(call.status().message(), HasSubstr("SOAPAction"));
}

void ExpectMismatch(const Result<SoapCall>& call) {
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(SplitErrorCode(call.status().message()).first, codes::kActionMismatch) << call.status().message();
}

TEST(EnvelopeActionTest, MethodMismatchIsRefused) {
  Result<SoapCall> call = Parse(ReadFixture("soapui_ingest.xml"), {{"soapaction", "xtk:session#IngestExt"}});
  ExpectMismatch(call);
  EXPECT_THAT(call.status().message(), HasSubstr("IngestExt"));
}

TEST(EnvelopeActionTest, ServiceMismatchIsRefused) {
  ExpectMismatch(Parse(ReadFixture("soapui_ingest.xml"), {{"soapaction", "xtk:persist#Ingest"}}));
}

TEST(EnvelopeActionTest, QueryMismatchIsRefused) {
  ExpectMismatch(Parse(ReadFixture("soapui_ingest.xml"), {}, "soapAction=xtk%3Asession%23Logon"));
}

TEST(EnvelopeActionTest, ActionNotOfTheFormServiceHashMethodIsRefused) {
  ExpectMismatch(Parse(ReadFixture("soapui_ingest.xml"), {{"soapaction", "Ingest"}}));
  ExpectMismatch(Parse(ReadFixture("soapui_ingest.xml"), {{"soapaction", "session#Ingest"}}));
  ExpectMismatch(Parse(ReadFixture("soapui_ingest.xml"), {{"soapaction", "xtk:session#"}}));
}

TEST(EnvelopeActionTest, SplitAction) {
  std::string service;
  std::string method;
  EXPECT_TRUE(SplitAction(" \"xtk:session#Ingest\" ", service, method));
  EXPECT_EQ(service, "xtk:session");
  EXPECT_EQ(method, "Ingest");
  EXPECT_TRUE(SplitAction("urn:nms:subscription#Subscribe", service, method));
  EXPECT_EQ(service, "nms:subscription");
  EXPECT_EQ(method, "Subscribe");
  EXPECT_FALSE(SplitAction("#Ingest", service, method));
  EXPECT_FALSE(SplitAction("xtk:session", service, method));
  EXPECT_FALSE(SplitAction("", service, method));
}

TEST(EnvelopeActionTest, UrlDecodeAndQueryValue) {
  EXPECT_EQ(UrlDecode("xtk%3Asession%23Ingest"), "xtk:session#Ingest");
  EXPECT_EQ(UrlDecode("a+b%20c"), "a b c");
  EXPECT_EQ(UrlDecode("100%"), "100%");
  EXPECT_EQ(UrlDecode("%zz"), "%zz");
  EXPECT_EQ(QueryValue("a=1&soapAction=x%23y&b", "soapAction"), "x#y");
  EXPECT_EQ(QueryValue("a=1&b", "b"), "");
  EXPECT_EQ(QueryValue("a=1", "soapAction"), "");
  EXPECT_EQ(QueryValue("", "soapAction"), "");
}

// ---------------------------------------------------------------------------
// Hostile or broken input: SOP-330001 with a message.

TEST(EnvelopeMalformedTest, EmptyBody) {
  ExpectMalformed(Parse(""), "empty");
  ExpectMalformed(Parse("  \r\n "), "blank");
}

TEST(EnvelopeMalformedTest, NotXml) {
  ExpectMalformed(Parse("this is not xml"), "text");
  ExpectMalformed(Parse("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>"),
                  "truncated");
  ExpectMalformed(Parse("{\"json\": true}"), "json");
}

TEST(EnvelopeMalformedTest, DoctypeAndEntities) {
  std::string laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
      "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
      "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>"
      "<m:Ingest xmlns:m=\"urn:xtk:session\"><sessiontoken>&lol2;</sessiontoken></m:Ingest></soapenv:Body>"
      "</soapenv:Envelope>";
  ExpectMalformed(Parse(laughs), "billion laughs");
  std::string xxe =
      "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
      "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>"
      "<m:Ingest xmlns:m=\"urn:xtk:session\"><sessiontoken>&xxe;</sessiontoken></m:Ingest></soapenv:Body>"
      "</soapenv:Envelope>";
  Result<SoapCall> call = Parse(xxe);
  ExpectMalformed(call, "external entity");
  EXPECT_THAT(call.status().message(), HasSubstr("DOCTYPE"));
}

TEST(EnvelopeMalformedTest, NotAnEnvelope) {
  ExpectMalformed(Parse("<Ingest xmlns=\"urn:xtk:session\"><sessiontoken/></Ingest>"), "bare method");
  ExpectMalformed(Parse("<Envelope xmlns=\"urn:not-soap\"><Body><m:Ingest xmlns:m=\"urn:xtk:session\"/></Body>"
                        "</Envelope>"),
                  "wrong envelope namespace");
  ExpectMalformed(Parse("<Envelope><Body><m:Ingest xmlns:m=\"urn:xtk:session\"/></Body></Envelope>"),
                  "no envelope namespace");
}

TEST(EnvelopeMalformedTest, NoBody) {
  Result<SoapCall> call = Parse(
      "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Header/>"
      "</soapenv:Envelope>");
  ExpectMalformed(call, "no body");
  EXPECT_THAT(call.status().message(), HasSubstr("Body"));
}

TEST(EnvelopeMalformedTest, EmptySoapBody) {
  ExpectMalformed(Parse("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                        "<soapenv:Body/></soapenv:Envelope>"),
                  "self-closed body");
  ExpectMalformed(Parse("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                        "<soapenv:Body>\n  text only \n</soapenv:Body></soapenv:Envelope>"),
                  "body with text only");
}

TEST(EnvelopeMalformedTest, DepthBomb) {
  std::string inner;
  for (int i = 0; i < 200; ++i) inner += "<a>";
  for (int i = 0; i < 200; ++i) inner += "</a>";
  std::string body =
      "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>"
      "<m:Ingest xmlns:m=\"urn:xtk:session\"><sessiontoken/><domDoc>" +
      inner + "</domDoc></m:Ingest></soapenv:Body></soapenv:Envelope>";
  Result<SoapCall> call = Parse(body);
  ExpectMalformed(call, "depth bomb");
  EXPECT_THAT(call.status().message(), HasSubstr("deeper"));
}

TEST(EnvelopeMalformedTest, VeryDeepDocumentDoesNotCrash) {
  // Far deeper than any recursion could survive.
  std::string inner;
  for (int i = 0; i < 100000; ++i) inner += "<a>";
  for (int i = 0; i < 100000; ++i) inner += "</a>";
  ExpectMalformed(Parse("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                        "<soapenv:Body>" +
                        inner + "</soapenv:Body></soapenv:Envelope>"),
                  "100000 levels");
}

TEST(EnvelopeMalformedTest, AttributeBomb) {
  std::string attrs;
  for (int i = 0; i < 1000; ++i) attrs += " a" + std::to_string(i) + "=\"x\"";
  std::string body =
      "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>"
      "<m:Ingest xmlns:m=\"urn:xtk:session\"><sessiontoken/><domDoc><sampleTableStg" +
      attrs + "/></domDoc></m:Ingest></soapenv:Body></soapenv:Envelope>";
  Result<SoapCall> call = Parse(body);
  ExpectMalformed(call, "attribute bomb");
  EXPECT_THAT(call.status().message(), HasSubstr("attributes"));
}

TEST(EnvelopeMalformedTest, InvalidUtf8) {
  std::string body = ReadFixture("soapui_ingest.xml");
  std::size_t pos = body.find("Test Value 1");
  ASSERT_NE(pos, std::string::npos);
  for (std::string bad : {"\xC3\x28", "\xED\xA0\x80" /* surrogate */, "\xC0\xAF" /* overlong */, "\xFF"}) {
    std::string copy = body;
    copy.replace(pos, 4, bad);
    Result<SoapCall> call = Parse(copy);
    ExpectMalformed(call, "invalid UTF-8");
    if (!call.ok()) {
      EXPECT_THAT(call.status().message(), HasSubstr("UTF-8"));
    }
  }
}

TEST(EnvelopeMalformedTest, UnsupportedEncoding) {
  ExpectMalformed(Parse("<?xml version=\"1.0\" encoding=\"EBCDIC\"?><x/>"), "EBCDIC");
}

// ---------------------------------------------------------------------------
// Responses, byte for byte.

constexpr std::string_view kHead =
    "<?xml version='1.0'?>\n"
    "<SOAP-ENV:Envelope xmlns:xsd='http://www.w3.org/2001/XMLSchema' "
    "xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' xmlns:ns='";
constexpr std::string_view kHeadEnd =
    "' xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>\n<SOAP-ENV:Body>\n";
constexpr std::string_view kTail = "</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n";

std::string Head(std::string_view ns) {
  return std::string(kHead) + std::string(ns) + std::string(kHeadEnd);
}

TEST(EncodeResponseTest, LogonThreeOutputsWithAnElement) {
  std::string info =
      "<sessionInfo><serverInfo buildNumber=\"9219\" instanceName=\"stagebridge\"/><userInfo login=\"admin\"/>"
      "</sessionInfo>";
  std::string out =
      EncodeResponse("Logon", "urn:xtk:session",
                     {OutValue::String("pstrSessionToken", "___5e71f4bf-d38a-4ba8-ac15-35a958f7f138"),
                      OutValue::Element("pSessionInfo", info), OutValue::String("pstrSecurityToken", "@abc+/==")});
  EXPECT_EQ(out,
            Head("urn:xtk:session") +
                "<LogonResponse xmlns='urn:xtk:session' "
                "SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'>\n"
                "<pstrSessionToken xsi:type='xsd:string'>___5e71f4bf-d38a-4ba8-ac15-35a958f7f138</pstrSessionToken>\n"
                "<pSessionInfo xsi:type='ns:Element' "
                "SOAP-ENV:encodingStyle='http://xml.apache.org/xml-soap/literalxml'>" +
                info +
                "</pSessionInfo>\n"
                "<pstrSecurityToken xsi:type='xsd:string'>@abc+/==</pstrSecurityToken>\n"
                "</LogonResponse>\n" +
                std::string(kTail));
}

TEST(EncodeResponseTest, IngestOneString) {
  std::string out = EncodeResponse("Ingest", "urn:wpp:default",
                                   {OutValue::String("pstrSUuids", "e1e7c8b3-6f79-44da-a72d-49ed0f73db2c")});
  EXPECT_EQ(out, Head("urn:wpp:default") +
                     "<IngestResponse xmlns='urn:wpp:default' "
                     "SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'>\n"
                     "<pstrSUuids xsi:type='xsd:string'>e1e7c8b3-6f79-44da-a72d-49ed0f73db2c</pstrSUuids>\n"
                     "</IngestResponse>\n" +
                     std::string(kTail));
}

TEST(EncodeResponseTest, IngestEmptyStringIsSelfClosed) {
  std::string out = EncodeResponse("Ingest", "urn:wpp:default", {OutValue::String("pstrSUuids", "")});
  EXPECT_EQ(out, Head("urn:wpp:default") +
                     "<IngestResponse xmlns='urn:wpp:default' "
                     "SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'>\n"
                     "<pstrSUuids xsi:type='xsd:string'/>\n"
                     "</IngestResponse>\n" +
                     std::string(kTail));
}

TEST(EncodeResponseTest, IngestExtNoOutputIsSelfClosed) {
  std::string out = EncodeResponse("IngestExt", "urn:wpp:default", {});
  EXPECT_EQ(out, Head("urn:wpp:default") +
                     "<IngestExtResponse xmlns='urn:wpp:default' "
                     "SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'/>\n" +
                     std::string(kTail));
}

TEST(EncodeResponseTest, OtherScalarTypes) {
  std::string out =
      EncodeResponse("GetOption", "urn:xtk:session",
                     {OutValue{"pstrValue", "xsd:string", "v", {}}, OutValue{"pbtType", "xsd:byte", "6", {}},
                      OutValue{"plCount", "xsd:int", "42", {}}, OutValue{"pbOk", "xsd:boolean", "true", {}},
                      OutValue{"plBig", "xsd:long", "9223372036854775807", {}}});
  EXPECT_THAT(out, HasSubstr("<pbtType xsi:type='xsd:byte'>6</pbtType>\n<plCount xsi:type='xsd:int'>42</plCount>\n"
                             "<pbOk xsi:type='xsd:boolean'>true</pbOk>\n"
                             "<plBig xsi:type='xsd:long'>9223372036854775807</plBig>\n"));
}

TEST(EncodeResponseTest, TextValuesAreEscaped) {
  std::string out = EncodeResponse("Ingest", "urn:wpp:default",
                                   {OutValue::String("pstrSUuids", "a<b>&c \"d\" 'e' </pstrSUuids><evil/>")});
  EXPECT_THAT(out, HasSubstr("<pstrSUuids xsi:type='xsd:string'>a&lt;b&gt;&amp;c \"d\" 'e' "
                             "&lt;/pstrSUuids&gt;&lt;evil/&gt;</pstrSUuids>\n"));
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(out.c_str()));
  pugi::xml_node v = doc.document_element().child("SOAP-ENV:Body").child("IngestResponse").child("pstrSUuids");
  EXPECT_STREQ(v.text().get(), "a<b>&c \"d\" 'e' </pstrSUuids><evil/>");
  EXPECT_FALSE(doc.find_node([](pugi::xml_node n) { return std::string_view(n.name()) == "evil"; }));
}

// CLIENTS.md §1.7: what acc-js-sdk requires of a response.
void ExpectStrictClientShape(const std::string& out, const char* response_name, std::size_t n_outputs) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_string(out.c_str());
  ASSERT_TRUE(parsed) << parsed.description() << "\n" << out;
  pugi::xml_node root = doc.document_element();
  EXPECT_STREQ(root.name(), "SOAP-ENV:Envelope");
  pugi::xml_node body = root.child("SOAP-ENV:Body");
  ASSERT_TRUE(body) << "SOAP-ENV:Body must be a direct child of the root";
  pugi::xml_node first;
  for (pugi::xml_node c = body.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element) {
      first = c;
      break;
    }
  }
  ASSERT_TRUE(first);
  EXPECT_STREQ(first.name(), response_name);  // unprefixed
  std::size_t n = 0;
  for (pugi::xml_node c = first.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    ++n;
    EXPECT_FALSE(std::string_view(c.attribute("xsi:type").value()).empty()) << c.name();
  }
  EXPECT_EQ(n, n_outputs);
}

TEST(EncodeResponseTest, ResponsesHaveTheShapeStrictClientsRequire) {
  ExpectStrictClientShape(EncodeResponse("Ingest", "urn:wpp:default", {OutValue::String("pstrSUuids", "x")}),
                          "IngestResponse", 1);
  ExpectStrictClientShape(EncodeResponse("Ingest", "urn:wpp:default", {OutValue::String("pstrSUuids", "")}),
                          "IngestResponse", 1);
  ExpectStrictClientShape(EncodeResponse("IngestExt", "urn:wpp:default", {}), "IngestExtResponse", 0);
  ExpectStrictClientShape(
      EncodeResponse("Logon", "urn:xtk:session",
                     {OutValue::String("pstrSessionToken", "___x"),
                      OutValue::Element("pSessionInfo", "<sessionInfo><serverInfo/><userInfo/></sessionInfo>"),
                      OutValue::String("pstrSecurityToken", "@y")}),
      "LogonResponse", 3);
}

TEST(EncodeResponseTest, LogonSessionInfoIsReadableAsAnElement) {
  std::string out = EncodeResponse(
      "Logon", "urn:xtk:session",
      {OutValue::String("pstrSessionToken", "___x"),
       OutValue::Element("pSessionInfo", "<sessionInfo><serverInfo/><userInfo login=\"a\"/></sessionInfo>"),
       OutValue::String("pstrSecurityToken", "@y")});
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(out.c_str()));
  pugi::xml_node info = doc.document_element().child("SOAP-ENV:Body").child("LogonResponse").child("pSessionInfo");
  EXPECT_STREQ(info.attribute("xsi:type").value(), "ns:Element");
  EXPECT_TRUE(info.child("sessionInfo").child("serverInfo"));
  EXPECT_STREQ(info.child("sessionInfo").child("userInfo").attribute("login").value(), "a");
}

// ---------------------------------------------------------------------------
// Faults.

TEST(EncodeFaultTest, ByteExact) {
  Fault f;
  f.client = true;
  f.code = "SOP-330006";
  f.message = "The method 'Nope' is not defined in SOAP service 'xtk:session'.";
  f.detail = {"SOP-330011 Error while executing the method 'Nope' of service 'xtk:session'.",
              "XYZ-000001 <cause> & co"};
  EXPECT_EQ(EncodeFault(f), Head("urn:xtk:session") +
                                "<SOAP-ENV:Fault>\n"
                                "<faultcode>SOAP-ENV:Client</faultcode>\n"
                                "<faultstring xsi:type='xsd:string'>SOP-330006 The method 'Nope' is not defined in "
                                "SOAP service 'xtk:session'.</faultstring>\n"
                                "<detail xsi:type='xsd:string'>SOP-330011 Error while executing the method 'Nope' of "
                                "service 'xtk:session'.\nXYZ-000001 &lt;cause&gt; &amp; co</detail>\n"
                                "</SOAP-ENV:Fault>\n" +
                                std::string(kTail));
}

TEST(EncodeFaultTest, ServerFaultInTheResponseNamespace) {
  Fault f;
  f.client = false;
  f.code = "SOP-330500";
  f.message = "Internal error.";
  f.detail = {"SOP-330500 Internal error."};
  std::string out = EncodeFault(f, "urn:wpp:default");
  EXPECT_EQ(out, Head("urn:wpp:default") +
                     "<SOAP-ENV:Fault>\n<faultcode>SOAP-ENV:Server</faultcode>\n"
                     "<faultstring xsi:type='xsd:string'>SOP-330500 Internal error.</faultstring>\n"
                     "<detail xsi:type='xsd:string'>SOP-330500 Internal error.</detail>\n</SOAP-ENV:Fault>\n" +
                     std::string(kTail));
}

TEST(EncodeFaultTest, ShapeAcceptedByStrictClients) {
  Fault f;
  f.code = "XSV-350008";
  f.message = "Session has expired or is invalid. Please reconnect.";
  f.detail = {f.FaultString()};
  std::string out = EncodeFault(f);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(out.c_str()));
  pugi::xml_node fault = doc.document_element().child("SOAP-ENV:Body").first_child();
  EXPECT_STREQ(fault.name(), "SOAP-ENV:Fault");
  EXPECT_STREQ(fault.child("faultcode").text().get(), "SOAP-ENV:Client");
  std::string faultstring = fault.child("faultstring").text().get();
  EXPECT_THAT(faultstring, StartsWith("XSV-350008 "));
  EXPECT_TRUE(fault.child("detail"));
}

// ---------------------------------------------------------------------------
// Status → Fault.

TEST(FaultFromStatusTest, CodedClientError) {
  Status s = CodedError(Status::Code::kInvalidArgument, "STG-200004",
                        "Invalid value 'x' for attribute 'n' (long) of schema 'dem:sampleTableStg': not an integer.");
  Fault f = FaultFromStatus(s, "xtk:session", "Ingest");
  EXPECT_TRUE(f.client);
  EXPECT_EQ(f.code, "STG-200004");
  EXPECT_EQ(f.message, "Invalid value 'x' for attribute 'n' (long) of schema 'dem:sampleTableStg': not an integer.");
  EXPECT_EQ(f.FaultString(), s.message());
  ASSERT_EQ(f.detail.size(), 2u);
  EXPECT_EQ(f.detail[0], "SOP-330011 Error while executing the method 'Ingest' of service 'xtk:session'.");
  EXPECT_EQ(f.detail[1], s.message());
}

TEST(FaultFromStatusTest, SessionInvalidIsItsOwnDetail) {
  Status s = CodedError(Status::Code::kUnauthenticated, "XSV-350008", "Session has expired or is invalid.");
  Fault f = FaultFromStatus(s, "xtk:session", "Ingest");
  EXPECT_TRUE(f.client);
  EXPECT_EQ(f.FaultString(), "XSV-350008 Session has expired or is invalid.");
  EXPECT_EQ(f.detail, std::vector<std::string>{"XSV-350008 Session has expired or is invalid."});
  // acc-js-sdk re-logs on when the body contains XSV-350008 anywhere.
  EXPECT_THAT(EncodeFault(f), HasSubstr("XSV-350008"));
}

TEST(FaultFromStatusTest, UncodedClientErrorIsWrapped) {
  Fault f = FaultFromStatus(Status::InvalidArgument("the parameter domDoc is missing"), "xtk:session", "Ingest");
  EXPECT_TRUE(f.client);
  EXPECT_EQ(f.code, "SOP-330011");
  EXPECT_EQ(f.message, "the parameter domDoc is missing");
  ASSERT_FALSE(f.detail.empty());
  EXPECT_EQ(f.detail[0], "SOP-330011 Error while executing the method 'Ingest' of service 'xtk:session'.");
  // acc-js-sdk takes the error code from the faultstring with /(\w{3}-\d{6})(.*)/.
  EXPECT_THAT(f.FaultString(), StartsWith("SOP-330011 "));
}

TEST(FaultFromStatusTest, UncodedNotFoundAndPermissionAreClientFaults) {
  EXPECT_TRUE(FaultFromStatus(Status::NotFound("no such thing"), "s:x", "M").client);
  EXPECT_TRUE(FaultFromStatus(Status::PermissionDenied("not allowed"), "s:x", "M").client);
  EXPECT_TRUE(FaultFromStatus(Status::FailedPrecondition("not now"), "s:x", "M").client);
}

TEST(FaultFromStatusTest, InternalErrorsNeverLeakTheirText) {
  const std::string secret =
      "ERROR: duplicate key value violates unique constraint \"demsampletablestg_id\" DETAIL: Key "
      "(usampletableid)=(x) already exists. STATEMENT: INSERT INTO DemSampleTableStg VALUES ($1) password=hunter2";
  for (const Status& s : {Status::Internal(secret), Status::IoError(secret), Status::Unavailable(secret)}) {
    Fault f = FaultFromStatus(s, "xtk:session", "Ingest");
    EXPECT_FALSE(f.client) << s.ToString();
    EXPECT_EQ(f.code, "SOP-330500");
    std::string encoded = EncodeFault(f);
    for (const char* leak :
         {"INSERT", "DemSampleTableStg", "hunter2", "duplicate key", "constraint", "usampletableid"}) {
      EXPECT_THAT(encoded, ::testing::Not(HasSubstr(leak))) << s.ToString();
    }
    EXPECT_THAT(encoded, HasSubstr("<faultcode>SOAP-ENV:Server</faultcode>"));
    EXPECT_FALSE(f.message.empty());
  }
  EXPECT_THAT(FaultFromStatus(Status::Unavailable(secret), "xtk:session", "Ingest").message, HasSubstr("unavailable"));
}

TEST(FaultFromStatusTest, CodedServerErrorKeepsItsCodeAndIsAServerFault) {
  Status s = CodedError(Status::Code::kUnavailable, "STG-500001",
                        "The local staging database is unavailable; nothing was written. Retry later.");
  Fault f = FaultFromStatus(s, "xtk:session", "Ingest");
  EXPECT_FALSE(f.client);
  EXPECT_EQ(f.code, "STG-500001");
  EXPECT_EQ(f.FaultString(), s.message());
}

TEST(FaultFromStatusTest, ParseErrorsAreTheirOwnDetail) {
  Result<SoapCall> call = Parse("not xml");
  ASSERT_FALSE(call.ok());
  Fault f = FaultFromStatus(call.status(), "", "");
  EXPECT_TRUE(f.client);
  EXPECT_EQ(f.code, "SOP-330001");
  EXPECT_EQ(f.detail, std::vector<std::string>{call.status().message()});
}

}  // namespace
}  // namespace stagebridge::soap
