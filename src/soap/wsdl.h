// wsdl.h — the document/literal WSDL of a service, in the shape the platform's
// /nl/jsp/schemawsdl.jsp serves: elementFormDefault="qualified", the session token
// as first element, DOM parameters as <s:any/>, soapAction "ns:name#Method".
// node-soap and strong-soap build working clients from it.
//
// Thread-safety: stateless.
#pragma once

#include <string>
#include <string_view>

#include "soap/router.h"

namespace stagebridge::soap {

// `location` is the SOAP router URL, e.g. "http://127.0.0.1:8080/nl/jsp/soaprouter.jsp".
std::string GenerateWsdl(const ServiceDef& service, std::string_view location);

}  // namespace stagebridge::soap
