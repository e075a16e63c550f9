// fuzz_soap_request.cc — libFuzzer target: one HTTP request to the SOAP router.
//
// Input: header lines "name: value" (names lower-cased; the pseudo-header
// ":query" is the URL query string), an empty line, then the body. The request
// goes through soap::ParseCall and a soap::Router holding an xtk:session
// service whose Logon/Ingest/IngestExt behave like the real ones without a
// database: a fixed operator (session "___fuzz", security token "@fuzz"), and
// Ingest/IngestExt decode their domDoc with staging::DecodeDocument.
//
// Beyond memory errors, UB, uncaught exceptions and hangs, it checks
// (STAGEBRIDGE_FUZZ_MEMORY_ONLY=1 skips these):
//   * the reply is HTTP 200 or 500, and its body is an XML document a strict
//     parser accepts (valid UTF-8, only characters XML allows, well-formed);
//   * a fault's faultstring starts with a CODE-NNNNNN code.
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "fuzz_common.h"
#include "soap/envelope.h"
#include "soap/router.h"
#include "staging/record.h"

using namespace stagebridge;

namespace {

Result<std::vector<soap::OutValue>> FakeIngest(soap::CallContext& ctx, staging::Mode mode) {
  if (ctx.args.empty() || !ctx.args[0]->element) {
    return CodedError(Status::Code::kInvalidArgument, "SOP-330003", "The parameter 'domDoc' must hold an element.");
  }
  SB_ASSIGN_OR_RETURN(staging::DecodedDocument doc,
                      staging::DecodeDocument(ctx.args[0]->element, fuzz::Schemas(), mode));
  if (mode == staging::Mode::kIngestExt) return std::vector<soap::OutValue>{};
  std::string ids;
  for (std::size_t i = 0; i < doc.returned_ids.size(); ++i) ids += (i ? "," : "") + doc.returned_ids[i];
  return std::vector<soap::OutValue>{soap::OutValue::String("pstrSUuids", ids)};
}

const soap::Router& TheRouter() {
  static const soap::Router* router = [] {
    spdlog::set_level(spdlog::level::off);  // the router logs every fault
    auto* r = new soap::Router([](const std::string& session, const std::string& security) -> Result<auth::Operator> {
      if (session == "___fuzz" && security == "@fuzz") return auth::Operator{"admin", true, {}, false};
      return Status::Unauthenticated("XSV-350008 Session has expired or is invalid. Please reconnect.");
    });
    soap::ServiceDef s{"xtk:session", "Sessions", {}};
    s.methods.push_back(soap::MethodDef{
        "Logon",
        true,
        {{"strLogin", "string"},
         {"strPassword", "string"},
         {"elemParameters", "DOMElement"},
         {"pstrSessionToken", "string", true},
         {"pSessionInfo", "DOMElement", true},
         {"pstrSecurityToken", "string", true}},
        false,
        {},
        [](soap::CallContext& ctx) -> Result<std::vector<soap::OutValue>> {
          bool ok = ctx.args.size() >= 2 && ctx.args[0]->text == "admin" && ctx.args[1]->text == "secret";
          if (!ok)
            return CodedError(Status::Code::kUnauthenticated, "XSV-350012", "The login or password is incorrect.");
          return std::vector<soap::OutValue>{soap::OutValue::String("pstrSessionToken", "___fuzz"),
                                             soap::OutValue::Element("pSessionInfo", "<sessionInfo/>"),
                                             soap::OutValue::String("pstrSecurityToken", "@fuzz")};
        }});
    s.methods.push_back(
        soap::MethodDef{"Ingest",
                        true,
                        {{"domDoc", "DOMDocument"}, {"pstrSUuids", "string", true}},
                        true,
                        "urn:wpp:default",
                        [](soap::CallContext& ctx) { return FakeIngest(ctx, staging::Mode::kIngest); }});
    s.methods.push_back(soap::MethodDef{
        "IngestExt", true, {{"domDoc", "DOMDocument"}}, true, "urn:wpp:default", [](soap::CallContext& ctx) {
          return FakeIngest(ctx, staging::Mode::kIngestExt);
        }});
    r->AddService(std::move(s));
    return r;
  }();
  return *router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  soap::HttpCall call;
  std::string query;
  // Header lines up to the first empty line; the rest is the body.
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t end = input.find('\n', pos);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    if (line.empty()) break;
    auto colon = line.find(':', 1);
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == ":query") {
      query = value;
    } else {
      call.headers[name] = std::string(value);
    }
  }
  call.body = pos < input.size() ? input.substr(pos) : std::string_view();
  call.query = query;

  soap::HttpReply reply = TheRouter().Handle(call, "fuzz");
  if (!fuzz::ContractChecks()) return 0;
  if (reply.status != 200 && reply.status != 500) fuzz::Violation("a reply that is neither 200 nor 500", reply.body);
  fuzz::CheckXmlText("the reply body is not valid UTF-8 of XML characters", reply.body);
  auto parsed = xml::ParseXml(reply.body, "reply");
  if (!parsed.ok()) fuzz::Violation("the reply body is not well-formed XML", reply.body);
  if (reply.status == 500) {
    static const std::regex kFaultString("<faultstring xsi:type='xsd:string'>[A-Z]{3}-[0-9]{6} ");
    if (!std::regex_search(reply.body, kFaultString)) fuzz::Violation("a fault without a CODE-NNNNNN", reply.body);
  }
  return 0;
}
