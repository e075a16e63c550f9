// host.cc — script calls to SOAP methods, in process.
#include "script/host.h"

#include <fmt/format.h>

#include "soap/fault.h"
#include "xml/document.h"

namespace stagebridge::script {
namespace {

// Session management is the engine's business, not a script's.
bool Callable(const std::string& service, const std::string& method) {
  return !(service == "xtk:session" && (method == "Logon" || method == "Logoff"));
}

bool IsDom(const std::string& type) {
  return type == "DOMDocument" || type == "DOMElement";
}

}  // namespace

ServiceHost::ServiceHost(const soap::Router& router, auth::Operator op, LogFn log,
                         std::map<std::string, std::string> options)
    : router_(router), op_(std::move(op)), log_(std::move(log)), options_(std::move(options)) {}

std::vector<std::string> ServiceHost::Methods() const {
  std::vector<std::string> out;
  for (const auto& [id, service] : router_.services()) {
    for (const soap::MethodDef& m : service.methods) {
      if (Callable(id, m.name)) out.push_back(id + "#" + m.name);
    }
  }
  return out;
}

Result<std::vector<CallOutput>> ServiceHost::Call(const std::string& service, const std::string& method,
                                                  const std::vector<CallArg>& args) {
  const soap::ServiceDef* def = router_.FindService(service);
  const soap::MethodDef* m = nullptr;
  if (def != nullptr) {
    for (const soap::MethodDef& candidate : def->methods) {
      if (candidate.name == method) m = &candidate;
    }
  }
  if (m == nullptr || !Callable(service, method)) {
    return Status::NotFound(fmt::format("not available in stagebridge: {}#{}", service, method));
  }
  // The inputs' declared types, by position (a non-static method's entity first).
  std::vector<std::pair<std::string, std::string>> inputs;
  if (!m->is_static) inputs.emplace_back("entity", "DOMElement");
  for (const soap::ParamDef& p : m->params) {
    if (!p.out) inputs.emplace_back(p.name, p.type);
  }
  soap::SoapCall call;
  call.doc = std::make_shared<pugi::xml_document>();
  call.service = service;
  call.method = method;
  call.action = service + "#" + method;
  // Each XML argument stays in the document it was parsed into (alive for the
  // call, which is synchronous): no copy of a 1000-record collection.
  std::vector<std::unique_ptr<pugi::xml_document>> docs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    soap::Param p;
    p.name = i < inputs.size() ? inputs[i].first : fmt::format("arg{}", i);
    bool dom = i < inputs.size() && IsDom(inputs[i].second);
    if (dom || args[i].xml) {
      if (!dom) {
        return Status::InvalidArgument(fmt::format("{} {}#{}: parameter {} ('{}') is a {}, not XML",
                                                   soap::codes::kBadParameter, service, method, i + 1, p.name,
                                                   inputs[i].second));
      }
      Result<std::unique_ptr<pugi::xml_document>> doc =
          xml::ParseXml(args[i].text, fmt::format("parameter {} of {}#{}", p.name, service, method));
      if (!doc.ok()) {
        auto [code, text] = SplitErrorCode(doc.status().message());
        return Status::InvalidArgument(code.empty() ? fmt::format("{} {}", soap::codes::kBadParameter, text)
                                                    : doc.status().message());
      }
      p.element = (*doc)->document_element();
      docs.push_back(std::move(*doc));
      if (!p.element) {
        return Status::InvalidArgument(fmt::format("{} {}#{}: parameter '{}' holds no element",
                                                   soap::codes::kBadParameter, service, method, p.name));
      }
    } else {
      p.text = args[i].text;
    }
    call.params.push_back(std::move(p));
  }
  if (before_call_) before_call_();
  soap::MethodResult outs = router_.CallAs(op_, call, "script");
  if (!outs.ok()) {
    soap::Fault fault = soap::FaultFromStatus(outs.status(), service, method);
    return CodedError(outs.status().code(), fault.code, fault.message);
  }
  std::vector<CallOutput> result;
  for (const soap::OutValue& v : *outs) result.push_back({v.xsi_type, v.xsi_type == "ns:Element" ? v.xml : v.text});
  return result;
}

void ServiceHost::Log(std::string_view level, std::string_view text) {
  if (log_) log_(level, text);
}

std::optional<std::string> ServiceHost::Option(const std::string& name) {
  auto it = options_.find(name);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

}  // namespace stagebridge::script
