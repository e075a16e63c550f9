// wsdl_test.cc — the document/literal WSDL generic SOAP clients build from.
#include "soap/wsdl.h"

#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>

namespace stagebridge::soap {
namespace {

using ::testing::HasSubstr;

MethodFn Nothing() {
  return [](CallContext&) -> Result<std::vector<OutValue>> { return std::vector<OutValue>{}; };
}

ServiceDef SessionService() {
  ServiceDef s{"xtk:session", "Sessions", {}};
  s.methods.push_back(MethodDef{"Logon",
                                true,
                                {{"strLogin", "string"},
                                 {"strPassword", "string"},
                                 {"elemParameters", "DOMElement"},
                                 {"pstrSessionToken", "string", true},
                                 {"pSessionInfo", "DOMElement", true},
                                 {"pstrSecurityToken", "string", true}},
                                false,
                                {},
                                Nothing()});
  s.methods.push_back(MethodDef{
      "Ingest", true, {{"domDoc", "DOMDocument"}, {"pstrSUuids", "string", true}}, true, "urn:wpp:default", Nothing()});
  s.methods.push_back(MethodDef{"IngestExt", true, {{"domDoc", "DOMDocument"}}, true, "urn:wpp:default", Nothing()});
  s.methods.push_back(MethodDef{"Types",
                                true,
                                {{"b", "boolean"},
                                 {"l", "long"},
                                 {"i", "int"},
                                 {"big", "int64"},
                                 {"sh", "short"},
                                 {"by", "byte"},
                                 {"d", "double"},
                                 {"f", "float"},
                                 {"ts", "datetime"},
                                 {"dt", "date"},
                                 {"s", "string"}},
                                true,
                                {},
                                Nothing()});
  return s;
}

class WsdlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    text_ = GenerateWsdl(SessionService(), "http://127.0.0.1:8080/nl/jsp/soaprouter.jsp?a=1&b=2");
    pugi::xml_parse_result parsed = doc_.load_string(text_.c_str());
    ASSERT_TRUE(parsed) << parsed.description() << " at " << parsed.offset << "\n" << text_;
    root_ = doc_.document_element();
    schema_ = root_.child("wsdl:types").child("s:schema");
    ASSERT_TRUE(schema_);
  }

  // The top-level <s:element name="…"> of the types schema.
  pugi::xml_node TypeElement(const char* name) const {
    return schema_.find_child_by_attribute("s:element", "name", name);
  }

  // The <s:element> children of a top-level element's sequence.
  std::vector<pugi::xml_node> Sequence(const char* name) const {
    std::vector<pugi::xml_node> out;
    for (pugi::xml_node e : TypeElement(name).child("s:complexType").child("s:sequence").children("s:element")) {
      out.push_back(e);
    }
    return out;
  }

  std::string text_;
  pugi::xml_document doc_;
  pugi::xml_node root_;
  pugi::xml_node schema_;
};

TEST_F(WsdlTest, DefinitionsAndNamespaces) {
  EXPECT_STREQ(root_.name(), "wsdl:definitions");
  EXPECT_STREQ(root_.attribute("targetNamespace").value(), "urn:xtk:session");
  EXPECT_STREQ(root_.attribute("xmlns:tns").value(), "urn:xtk:session");
  EXPECT_STREQ(root_.attribute("xmlns:wsdl").value(), "http://schemas.xmlsoap.org/wsdl/");
  EXPECT_STREQ(root_.attribute("xmlns:soap").value(), "http://schemas.xmlsoap.org/wsdl/soap/");
  EXPECT_STREQ(root_.attribute("xmlns:s").value(), "http://www.w3.org/2001/XMLSchema");
  EXPECT_STREQ(schema_.attribute("elementFormDefault").value(), "qualified");
  EXPECT_STREQ(schema_.attribute("targetNamespace").value(), "urn:xtk:session");
}

TEST_F(WsdlTest, SessionTokenIsTheFirstElementOfEveryRequest) {
  for (const char* m : {"Logon", "Ingest", "IngestExt", "Types"}) {
    std::vector<pugi::xml_node> seq = Sequence(m);
    ASSERT_FALSE(seq.empty()) << m;
    EXPECT_STREQ(seq[0].attribute("name").value(), "sessiontoken") << m;
    EXPECT_STREQ(seq[0].attribute("type").value(), "s:string") << m;
  }
  std::vector<pugi::xml_node> logon = Sequence("Logon");
  ASSERT_EQ(logon.size(), 4u);
  EXPECT_STREQ(logon[1].attribute("name").value(), "strLogin");
  EXPECT_STREQ(logon[2].attribute("name").value(), "strPassword");
  EXPECT_STREQ(logon[3].attribute("name").value(), "elemParameters");
}

TEST_F(WsdlTest, DomParametersAreAnyElements) {
  std::vector<pugi::xml_node> ingest = Sequence("Ingest");
  ASSERT_EQ(ingest.size(), 2u);
  EXPECT_STREQ(ingest[1].attribute("name").value(), "domDoc");
  EXPECT_FALSE(ingest[1].attribute("type"));
  EXPECT_TRUE(ingest[1].child("s:complexType").child("s:sequence").child("s:any"));
  EXPECT_FALSE(ingest[1].child("s:complexType").attribute("mixed"));  // requests: not mixed

  std::vector<pugi::xml_node> logon_out = Sequence("LogonResponse");
  ASSERT_EQ(logon_out.size(), 3u);
  EXPECT_STREQ(logon_out[0].attribute("name").value(), "pstrSessionToken");
  EXPECT_STREQ(logon_out[0].attribute("type").value(), "s:string");
  EXPECT_STREQ(logon_out[1].attribute("name").value(), "pSessionInfo");
  EXPECT_STREQ(logon_out[1].child("s:complexType").attribute("mixed").value(), "true");  // responses: mixed
  EXPECT_TRUE(logon_out[1].child("s:complexType").child("s:sequence").child("s:any"));
  EXPECT_STREQ(logon_out[2].attribute("name").value(), "pstrSecurityToken");
}

TEST_F(WsdlTest, Outputs) {
  std::vector<pugi::xml_node> ingest_out = Sequence("IngestResponse");
  ASSERT_EQ(ingest_out.size(), 1u);
  EXPECT_STREQ(ingest_out[0].attribute("name").value(), "pstrSUuids");
  EXPECT_STREQ(ingest_out[0].attribute("type").value(), "s:string");
  ASSERT_TRUE(TypeElement("IngestExtResponse"));
  EXPECT_TRUE(Sequence("IngestExtResponse").empty());  // IngestExt declares no output
}

TEST_F(WsdlTest, ScalarTypes) {
  std::vector<pugi::xml_node> seq = Sequence("Types");
  std::map<std::string, std::string> types;
  for (pugi::xml_node e : seq) types[e.attribute("name").value()] = e.attribute("type").value();
  EXPECT_EQ(types["b"], "s:boolean");
  EXPECT_EQ(types["l"], "s:int");
  EXPECT_EQ(types["i"], "s:int");
  EXPECT_EQ(types["big"], "s:long");
  EXPECT_EQ(types["sh"], "s:short");
  EXPECT_EQ(types["by"], "s:byte");
  EXPECT_EQ(types["d"], "s:double");
  EXPECT_EQ(types["f"], "s:float");
  EXPECT_EQ(types["ts"], "s:dateTime");
  EXPECT_EQ(types["dt"], "s:date");
  EXPECT_EQ(types["s"], "s:string");
}

TEST_F(WsdlTest, SoapActionPerOperation) {
  pugi::xml_node binding = root_.child("wsdl:binding");
  ASSERT_TRUE(binding);
  EXPECT_STREQ(binding.child("soap:binding").attribute("style").value(), "document");
  EXPECT_STREQ(binding.child("soap:binding").attribute("transport").value(), "http://schemas.xmlsoap.org/soap/http");
  std::map<std::string, std::string> actions;
  for (pugi::xml_node op : binding.children("wsdl:operation")) {
    pugi::xml_node so = op.child("soap:operation");
    actions[op.attribute("name").value()] = so.attribute("soapAction").value();
    EXPECT_STREQ(so.attribute("style").value(), "document");
    EXPECT_STREQ(op.child("wsdl:input").child("soap:body").attribute("use").value(), "literal");
    EXPECT_STREQ(op.child("wsdl:output").child("soap:body").attribute("use").value(), "literal");
  }
  EXPECT_EQ(actions, (std::map<std::string, std::string>{{"Logon", "xtk:session#Logon"},
                                                         {"Ingest", "xtk:session#Ingest"},
                                                         {"IngestExt", "xtk:session#IngestExt"},
                                                         {"Types", "xtk:session#Types"}}));
}

TEST_F(WsdlTest, EveryReferenceResolves) {
  std::set<std::string> elements;
  for (pugi::xml_node e : schema_.children("s:element")) {
    elements.insert(std::string("tns:") + e.attribute("name").value());
  }
  std::set<std::string> messages;
  for (pugi::xml_node m : root_.children("wsdl:message")) {
    messages.insert(std::string("tns:") + m.attribute("name").value());
    pugi::xml_node part = m.child("wsdl:part");
    EXPECT_EQ(elements.count(part.attribute("element").value()), 1u) << part.attribute("element").value();
    EXPECT_STREQ(part.attribute("name").value(), "parameters");
  }
  pugi::xml_node port_type = root_.child("wsdl:portType");
  std::set<std::string> ops;
  for (pugi::xml_node op : port_type.children("wsdl:operation")) {
    ops.insert(op.attribute("name").value());
    EXPECT_EQ(messages.count(op.child("wsdl:input").attribute("message").value()), 1u);
    EXPECT_EQ(messages.count(op.child("wsdl:output").attribute("message").value()), 1u);
  }
  EXPECT_EQ(ops, (std::set<std::string>{"Logon", "Ingest", "IngestExt", "Types"}));
  pugi::xml_node binding = root_.child("wsdl:binding");
  EXPECT_EQ(std::string("tns:") + port_type.attribute("name").value(), binding.attribute("type").value());
  pugi::xml_node port = root_.child("wsdl:service").child("wsdl:port");
  EXPECT_EQ(std::string("tns:") + binding.attribute("name").value(), port.attribute("binding").value());
}

TEST_F(WsdlTest, ServiceAndAddress) {
  pugi::xml_node service = root_.child("wsdl:service");
  EXPECT_STREQ(service.attribute("name").value(), "XtkSession");
  EXPECT_STREQ(service.child("wsdl:port").child("soap:address").attribute("location").value(),
               "http://127.0.0.1:8080/nl/jsp/soaprouter.jsp?a=1&b=2");  // escaped in the text, intact when parsed
  EXPECT_THAT(text_, HasSubstr("soaprouter.jsp?a=1&amp;b=2"));
  EXPECT_THAT(text_, ::testing::StartsWith("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"));
}

TEST(WsdlOtherServiceTest, NamespaceFollowsTheService) {
  ServiceDef s{"nms:subscription", "Subscriptions", {}};
  s.methods.push_back(
      MethodDef{"Unsubscribe", true, {{"serviceName", "string"}, {"recipient", "DOMElement"}}, true, {}, Nothing()});
  std::string text = GenerateWsdl(s, "http://h/nl/jsp/soaprouter.jsp");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(text.c_str()));
  EXPECT_STREQ(doc.document_element().attribute("targetNamespace").value(), "urn:nms:subscription");
  EXPECT_STREQ(doc.document_element().child("wsdl:service").attribute("name").value(), "NmsSubscription");
  EXPECT_THAT(text, HasSubstr("soapAction=\"nms:subscription#Unsubscribe\""));
}

}  // namespace
}  // namespace stagebridge::soap
