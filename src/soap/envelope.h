// envelope.h — decoding a SOAP request as every real client sends it, and
// encoding responses and faults exactly as strict clients require (SPEC §3).
//
// Decoding is a pure function of the HTTP parts (no socket): `ParseCall`.
// Accepted: any envelope prefix (SOAP 1.1 or 1.2 namespace), prefixed or
// unprefixed parameters, xsi:type present, empty or absent, whitespace around DOM
// children, UTF-8 or ISO-8859-1, with or without an XML declaration. The method
// comes from the SOAPAction header (quoted or not), else `?soapAction=` in the
// URL, else the body's element and its `urn:ns:name` namespace; when both name a
// method and disagree, the call is refused.
//
// Thread-safety: stateless functions; a SoapCall is owned by one thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "base/status.h"
#include "soap/fault.h"

namespace stagebridge::soap {

inline constexpr const char* kEnvelopeNs11 = "http://schemas.xmlsoap.org/soap/envelope/";
inline constexpr const char* kEnvelopeNs12 = "http://www.w3.org/2003/05/soap-envelope";

// What ParseCall needs from the HTTP request.
struct HttpCall {
  std::string_view body;
  std::string_view query;                      // after '?', undecoded
  std::map<std::string, std::string> headers;  // lower-case names
};

struct Param {
  std::string name;        // local name as sent ("domDoc", "sessiontoken")
  std::string xsi_type;    // as sent ("xsd:string", "", …)
  std::string text;        // text content, for scalar parameters
  pugi::xml_node element;  // first element child, for DOM parameters (may be null)
};

struct SoapCall {
  std::shared_ptr<pugi::xml_document> doc;  // owns every node in params
  std::string service;                      // "xtk:session"
  std::string method;                       // "Ingest"
  std::vector<Param> params;                // every child of the method element, in order
  // The session token as carried outside the parameters (X-Session-Token,
  // Cookie __sessiontoken, SOAP Header <Cookie>, Authorization: Bearer). The
  // router prefers the first parameter when the method's arity shows it is the
  // token (see SessionToken()).
  std::string transport_session_token;
  std::string security_token;
  std::string action;  // SOAPAction as resolved ("xtk:session#Ingest"), may be empty
};

// The call's session token: the first parameter when `has_token_param` and it is
// not empty, else the transport token.
std::string SessionToken(const SoapCall& call, bool has_token_param);

// Decodes a request. Errors are Status values carrying SOP-3300xx codes.
Result<SoapCall> ParseCall(const HttpCall& http);

// Extracts "xtk:session" and "Ingest" from "xtk:session#Ingest" (quotes and
// spaces stripped); false when it is not of that shape.
bool SplitAction(std::string_view action, std::string& service, std::string& method);

// Percent-decodes a query-string value ('+' is a space).
std::string UrlDecode(std::string_view text);

// Value of `name` in a query string, decoded; empty when absent.
std::string QueryValue(std::string_view query, std::string_view name);

// One output value of a response.
struct OutValue {
  std::string name;      // "pstrSUuids"
  std::string xsi_type;  // "xsd:string", "ns:Element", …
  std::string text;      // scalar value (escaped when written)
  std::string xml;       // for ns:Element: the element, serialised

  static OutValue String(std::string name, std::string value) {
    return {std::move(name), "xsd:string", std::move(value), {}};
  }
  static OutValue Element(std::string name, std::string xml) {
    return {std::move(name), "ns:Element", {}, std::move(xml)};
  }
};

// The response envelope: `<Method>Response xmlns='<response_ns>'` with the
// outputs in order. `response_ns` is e.g. "urn:xtk:session" or "urn:wpp:default".
std::string EncodeResponse(std::string_view method, std::string_view response_ns, const std::vector<OutValue>& outs);

// The fault envelope (sent with HTTP 500).
std::string EncodeFault(const Fault& fault, std::string_view response_ns = "urn:xtk:session");

}  // namespace stagebridge::soap
