// envelope.cc — SOAP request decoding and response/fault encoding.
#include "soap/envelope.h"

#include <cctype>
#include <iterator>

#include <fmt/format.h>

#include "xml/document.h"

namespace stagebridge::soap {
namespace {

// Request documents: deep enough for any real payload, shallow enough for safety.
const xml::ParseLimits kRequestLimits{.max_depth = 32, .max_attributes_per_element = 512, .max_bytes = 64u << 20};

Status Malformed(std::string_view what) {
  return CodedError(Status::Code::kInvalidArgument, codes::kMalformed, what);
}

// `s` without its leading and trailing white space (a view into it: no copy).
std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The value of the xsi:type attribute, whatever prefix the sender bound to the
// XML Schema instance namespace (usually "xsi").
std::string XsiType(pugi::xml_node node) {
  for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
    std::string_view name = a.name();
    if (xml::LocalName(name) != "type" || xml::Prefix(name).empty()) continue;
    if (xml::NamespaceUri(node, xml::Prefix(name)) == "http://www.w3.org/2001/XMLSchema-instance") return a.value();
  }
  return {};
}

std::string TextOf(pugi::xml_node node) {
  std::string out;
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) out += c.value();
  }
  return out;
}

pugi::xml_node FirstElement(pugi::xml_node node) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element) return c;
  }
  return {};
}

pugi::xml_node ChildByLocalName(pugi::xml_node node, std::string_view local) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && xml::LocalName(c.name()) == local) return c;
  }
  return {};
}

// "__sessiontoken=abc; other=1" → "abc".
std::string CookieValue(std::string_view cookies, std::string_view name) {
  std::size_t pos = 0;
  while (pos < cookies.size()) {
    std::size_t end = cookies.find(';', pos);
    if (end == std::string_view::npos) end = cookies.size();
    std::string_view item = Trim(cookies.substr(pos, end - pos));
    auto eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) return std::string(item.substr(eq + 1));
    pos = end + 1;
  }
  return {};
}

// A header's value, trimmed; "" and '' (what acc-js-sdk sends before logon) are empty.
std::string HeaderValue(const HttpCall& http, const std::string& name) {
  auto it = http.headers.find(name);
  if (it == http.headers.end()) return {};
  std::string_view v = Trim(it->second);
  return (v == "''" || v == "\"\"") ? std::string() : std::string(v);
}

// The charset parameter of a Content-Type ("text/xml; charset=ISO-8859-1"), unquoted.
std::string ContentTypeCharset(std::string_view content_type) {
  std::string lower(content_type);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto pos = lower.find("charset=");
  if (pos == std::string::npos) return {};
  std::string value = lower.substr(pos + 8, lower.find(';', pos) - pos - 8);
  value = std::string(Trim(value));
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) value = value.substr(1, value.size() - 2);
  // Only Latin-1 changes how we read a body; any other label means UTF-8 here.
  return (value == "iso-8859-1" || value == "latin1" || value == "iso8859-1" || value == "latin-1") ? value : "";
}

constexpr std::string_view kEnvelopeOpen =
    "<?xml version='1.0'?>\n"
    "<SOAP-ENV:Envelope xmlns:xsd='http://www.w3.org/2001/XMLSchema' "
    "xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' xmlns:ns='{}' "
    "xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>\n<SOAP-ENV:Body>\n";
constexpr std::string_view kEnvelopeClose = "</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n";

}  // namespace

std::string SessionToken(const SoapCall& call, bool has_token_param) {
  if (has_token_param && !call.params.empty() && !call.params[0].element) {
    std::string token(Trim(call.params[0].text));
    if (!token.empty()) return token;
  }
  return call.transport_session_token;
}

bool SplitAction(std::string_view action, std::string& service, std::string& method) {
  std::string_view a = Trim(action);
  if (a.size() >= 2 && a.front() == '"' && a.back() == '"') a = Trim(a.substr(1, a.size() - 2));
  auto hash = a.find('#');
  if (hash == std::string_view::npos || hash == 0 || hash + 1 == a.size()) return false;
  service = std::string(a.substr(0, hash));
  method = std::string(a.substr(hash + 1));
  if (service.starts_with("urn:")) service = service.substr(4);
  return service.find(':') != std::string::npos;
}

std::string UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string QueryValue(std::string_view query, std::string_view name) {
  std::size_t pos = 0;
  while (pos <= query.size()) {
    std::size_t end = query.find('&', pos);
    if (end == std::string_view::npos) end = query.size();
    std::string_view item = query.substr(pos, end - pos);
    auto eq = item.find('=');
    if (UrlDecode(item.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? "" : UrlDecode(item.substr(eq + 1));
    }
    pos = end + 1;
  }
  return {};
}

Result<SoapCall> ParseCall(const HttpCall& http) {
  if (Trim(http.body).empty()) return Malformed("The request body is empty; a SOAP envelope was expected.");
  Result<std::unique_ptr<pugi::xml_document>> parsed =
      xml::ParseXml(http.body, "request body", kRequestLimits, ContentTypeCharset(HeaderValue(http, "content-type")));
  if (!parsed.ok()) return Malformed(parsed.status().message());
  SoapCall call;
  call.doc = std::move(parsed).value();

  pugi::xml_node envelope = call.doc->document_element();
  std::string_view env_ns = xml::NamespaceUri(envelope, xml::Prefix(envelope.name()));
  if (xml::LocalName(envelope.name()) != "Envelope" || (env_ns != kEnvelopeNs11 && env_ns != kEnvelopeNs12)) {
    return Malformed(fmt::format("The root element <{}> is not a SOAP envelope.", envelope.name()));
  }
  pugi::xml_node body = ChildByLocalName(envelope, "Body");
  if (!body) return Malformed("The SOAP envelope has no Body.");
  pugi::xml_node method_el = FirstElement(body);
  if (!method_el) return Malformed("The SOAP Body holds no method element.");

  // The method named by the body.
  std::string body_method(xml::LocalName(method_el.name()));
  std::string body_service;
  std::string_view ns = xml::NamespaceUri(method_el, xml::Prefix(method_el.name()));
  if (ns.starts_with("urn:")) body_service = std::string(ns.substr(4));

  // The method named by the transport.
  std::string action = HeaderValue(http, "soapaction");
  if (action.empty()) action = QueryValue(http.query, "soapAction");
  if (action.empty()) {
    // SOAP 1.2 carries it as a media-type parameter: application/soap+xml;action="…".
    std::string ct = HeaderValue(http, "content-type");
    auto pos = ct.find("action=");
    if (pos != std::string::npos) action = Trim(std::string_view(ct).substr(pos + 7, ct.find(';', pos) - pos - 7));
  }
  if (!action.empty()) {
    std::string service;
    std::string method;
    if (!SplitAction(action, service, method)) {
      return CodedError(Status::Code::kInvalidArgument, codes::kActionMismatch,
                        fmt::format("The SOAPAction '{}' is not of the form 'namespace:schema#Method'.", action));
    }
    if (method != body_method || (!body_service.empty() && body_service != service)) {
      return CodedError(
          Status::Code::kInvalidArgument, codes::kActionMismatch,
          fmt::format("The SOAPAction '{}#{}' does not match the method element <{}> of the body{}.", service, method,
                      body_method, body_service.empty() ? "" : " in namespace 'urn:" + body_service + "'"));
    }
    call.service = service;
    call.action = service + "#" + method;
  } else {
    if (body_service.empty() || body_service.find(':') == std::string::npos) {
      return Malformed(fmt::format(
          "Cannot tell which service <{}> belongs to: send a SOAPAction header (e.g. 'xtk:session#{}') or put the "
          "method element in the namespace 'urn:xtk:session'.",
          body_method, body_method));
    }
    call.service = body_service;
  }
  call.method = body_method;

  for (pugi::xml_node p = method_el.first_child(); p; p = p.next_sibling()) {
    if (p.type() != pugi::node_element) continue;
    Param param;
    param.name = xml::LocalName(p.name());
    param.xsi_type = XsiType(p);
    param.element = FirstElement(p);
    param.text = TextOf(p);
    call.params.push_back(std::move(param));
  }

  // Tokens outside the parameters: headers, then the SOAP Header's elements.
  pugi::xml_node header = ChildByLocalName(envelope, "Header");
  call.transport_session_token = HeaderValue(http, "x-session-token");
  if (call.transport_session_token.empty()) {
    call.transport_session_token = CookieValue(HeaderValue(http, "cookie"), "__sessiontoken");
  }
  if (call.transport_session_token.empty() && header) {
    call.transport_session_token = CookieValue(TextOf(ChildByLocalName(header, "Cookie")), "__sessiontoken");
  }
  if (call.transport_session_token.empty()) {
    std::string auth = HeaderValue(http, "authorization");
    if (auth.size() > 7 && (auth.starts_with("Bearer ") || auth.starts_with("bearer "))) {
      call.transport_session_token = Trim(std::string_view(auth).substr(7));
    }
  }
  call.security_token = HeaderValue(http, "x-security-token");
  if (call.security_token.empty() && header) {
    call.security_token = Trim(TextOf(ChildByLocalName(header, "X-Security-Token")));
  }
  return call;
}

std::string EncodeResponse(std::string_view method, std::string_view response_ns, const std::vector<OutValue>& outs) {
  // Written in place into one buffer sized for the usual response: one
  // allocation, not one per part.
  std::size_t size = kEnvelopeOpen.size() + kEnvelopeClose.size() + 2 * method.size() + 2 * response_ns.size() + 160;
  for (const OutValue& v : outs) size += 2 * v.name.size() + v.xsi_type.size() + v.text.size() + v.xml.size() + 120;
  std::string out;
  out.reserve(size);
  auto to = std::back_inserter(out);
  fmt::format_to(to, kEnvelopeOpen, response_ns);
  fmt::format_to(to, "<{}Response xmlns='{}' SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'",
                 method, response_ns);
  if (outs.empty()) {
    out += "/>\n";
  } else {
    out += ">\n";
    for (const OutValue& v : outs) {
      if (v.xsi_type == "ns:Element") {
        fmt::format_to(
            to,
            "<{0} xsi:type='ns:Element' SOAP-ENV:encodingStyle='http://xml.apache.org/xml-soap/literalxml'>{1}</{0}>\n",
            v.name, v.xml);
      } else if (v.text.empty()) {
        fmt::format_to(to, "<{} xsi:type='{}'/>\n", v.name, v.xsi_type);
      } else {
        fmt::format_to(to, "<{0} xsi:type='{1}'>{2}</{0}>\n", v.name, v.xsi_type, xml::Escape(v.text, '\0'));
      }
    }
    fmt::format_to(to, "</{}Response>\n", method);
  }
  out += kEnvelopeClose;
  return out;
}

std::string EncodeFault(const Fault& fault, std::string_view response_ns) {
  std::string detail;
  for (const std::string& line : fault.detail) {
    if (!detail.empty()) detail += '\n';
    detail += line;
  }
  std::string out = fmt::format(kEnvelopeOpen, response_ns);
  out += fmt::format(
      "<SOAP-ENV:Fault>\n<faultcode>SOAP-ENV:{}</faultcode>\n<faultstring xsi:type='xsd:string'>{}</faultstring>\n"
      "<detail xsi:type='xsd:string'>{}</detail>\n</SOAP-ENV:Fault>\n",
      fault.client ? "Client" : "Server", xml::Escape(fault.FaultString(), '\0'), xml::Escape(detail, '\0'));
  out += kEnvelopeClose;
  return out;
}

}  // namespace stagebridge::soap
