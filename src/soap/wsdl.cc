// wsdl.cc — WSDL generation.
#include "soap/wsdl.h"

#include <cctype>

#include <fmt/format.h>

#include "xml/document.h"

namespace stagebridge::soap {
namespace {

bool IsDom(const std::string& type) {
  return type == "DOMDocument" || type == "DOMElement";
}

std::string XsdType(const std::string& type) {
  if (type == "boolean") return "s:boolean";
  if (type == "long" || type == "int") return "s:int";
  if (type == "int64") return "s:long";
  if (type == "short") return "s:short";
  if (type == "byte") return "s:byte";
  if (type == "double") return "s:double";
  if (type == "float") return "s:float";
  if (type == "datetime") return "s:dateTime";
  if (type == "date") return "s:date";
  return "s:string";
}

std::string Element(const ParamDef& p, bool response) {
  if (IsDom(p.type)) {
    return fmt::format(
        "<s:element maxOccurs=\"1\" minOccurs=\"1\" name=\"{}\"><s:complexType{}><s:sequence><s:any "
        "processContents=\"lax\"/></s:sequence></s:complexType></s:element>",
        p.name, response ? " mixed=\"true\"" : "");
  }
  return fmt::format("<s:element maxOccurs=\"1\" minOccurs=\"1\" name=\"{}\" type=\"{}\"/>", p.name, XsdType(p.type));
}

}  // namespace

std::string GenerateWsdl(const ServiceDef& service, std::string_view location) {
  std::string ns = "urn:" + service.id;
  std::string name = service.id.substr(service.id.find(':') + 1);
  std::string port = name + "MethodsSoap";
  std::string service_name = service.id.substr(0, service.id.find(':')) + name;
  service_name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(service_name[0])));
  service_name[service.id.find(':')] =
      static_cast<char>(std::toupper(static_cast<unsigned char>(service_name[service.id.find(':')])));
  std::string types;
  std::string messages;
  std::string operations;
  std::string bindings;
  for (const MethodDef& m : service.methods) {
    std::string in = "<s:element maxOccurs=\"1\" minOccurs=\"1\" name=\"sessiontoken\" type=\"s:string\"/>";
    if (!m.is_static) in += Element(ParamDef{"entity", "DOMElement"}, false);  // the method's entity comes first
    std::string out;
    // A non-static method that changes its entity answers it first.
    if (!m.is_static && !m.is_const) out += Element(ParamDef{"entity", "DOMElement"}, true);
    for (const ParamDef& p : m.params) (p.out ? out : in) += Element(p, p.out);
    types += fmt::format(
        "<s:element name=\"{0}\"><s:complexType><s:sequence>{1}</s:sequence></s:complexType></s:element>", m.name, in);
    types += fmt::format(
        "<s:element name=\"{0}Response\"><s:complexType><s:sequence>{1}</s:sequence></s:complexType></s:element>",
        m.name, out);
    messages += fmt::format(
        "<wsdl:message name=\"{0}In\"><wsdl:part element=\"tns:{0}\" name=\"parameters\"/></wsdl:message>"
        "<wsdl:message name=\"{0}Out\"><wsdl:part element=\"tns:{0}Response\" name=\"parameters\"/></wsdl:message>",
        m.name);
    operations += fmt::format(
        "<wsdl:operation name=\"{0}\"><wsdl:input message=\"tns:{0}In\"/><wsdl:output message=\"tns:{0}Out\"/>"
        "</wsdl:operation>",
        m.name);
    bindings += fmt::format(
        "<wsdl:operation name=\"{0}\"><soap:operation soapAction=\"{1}#{0}\" style=\"document\"/>"
        "<wsdl:input><soap:body use=\"literal\"/></wsdl:input><wsdl:output><soap:body use=\"literal\"/></wsdl:output>"
        "</wsdl:operation>",
        m.name, service.id);
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
      "<wsdl:definitions xmlns:s=\"http://www.w3.org/2001/XMLSchema\" "
      "xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" xmlns:tns=\"{0}\" "
      "xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" targetNamespace=\"{0}\">"
      "<wsdl:types><s:schema elementFormDefault=\"qualified\" targetNamespace=\"{0}\">{1}</s:schema></wsdl:types>"
      "{2}<wsdl:portType name=\"{3}\">{4}</wsdl:portType>"
      "<wsdl:binding name=\"{3}\" type=\"tns:{3}\"><soap:binding style=\"document\" "
      "transport=\"http://schemas.xmlsoap.org/soap/http\"/>{5}</wsdl:binding>"
      "<wsdl:service name=\"{6}\"><wsdl:port binding=\"tns:{3}\" name=\"{3}\"><soap:address location=\"{7}\"/>"
      "</wsdl:port></wsdl:service></wsdl:definitions>\n",
      ns, types, messages, port, operations, bindings, service_name, xml::Escape(location));
}

}  // namespace stagebridge::soap
