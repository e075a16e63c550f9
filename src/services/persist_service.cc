// persist_service.cc — xtk:persist#GetEntityIfMoreRecent: what generic clients
// (acc-js-sdk's NLWS proxies) read to discover a service's methods.
#include <sstream>

#include <fmt/format.h>

#include "schema/schema_xml.h"
#include "services/services.h"
#include "xml/document.h"

namespace stagebridge::services {
namespace {

void AppendMethods(pugi::xml_node schema_el, const soap::ServiceDef& service) {
  pugi::xml_node methods = schema_el.append_child("methods");
  for (const soap::MethodDef& m : service.methods) {
    pugi::xml_node method = methods.append_child("method");
    method.append_attribute("name") = m.name.c_str();
    if (m.is_static) method.append_attribute("static") = "true";
    if (m.is_const) method.append_attribute("const") = "true";
    pugi::xml_node params = method.append_child("parameters");
    for (const soap::ParamDef& p : m.params) {
      pugi::xml_node param = params.append_child("param");
      param.append_attribute("name") = p.name.c_str();
      param.append_attribute("type") = p.type.c_str();
      if (p.out) param.append_attribute("inout") = "out";
    }
  }
}

}  // namespace

std::string EntitySchemaXml(const std::string& id, const Deps& deps) {
  const schema::Schema* data = deps.schemas.Find(id);
  const soap::ServiceDef* service = deps.router.FindService(id);
  if (data == nullptr && service == nullptr) return {};
  pugi::xml_document doc;
  pugi::xml_node root;
  if (data != nullptr) {
    root = schema::AppendSchemaXml(doc, *data);
  } else {
    root = doc.append_child("schema");
    auto colon = id.find(':');
    root.append_attribute("namespace") = id.substr(0, colon).c_str();
    root.append_attribute("name") = id.substr(colon + 1).c_str();
    root.append_attribute("label") = service->label.c_str();
    root.append_attribute("xtkschema") = "xtk:schema";
  }
  if (service != nullptr) AppendMethods(root, *service);
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  return out.str();
}

soap::ServiceDef MakePersistService(Deps& deps) {
  soap::ServiceDef s{"xtk:persist", "Persistence", {}};
  s.methods.push_back(
      soap::MethodDef{"GetEntityIfMoreRecent",
                      true,
                      {{"pk", "string"}, {"md5", "string"}, {"mustExist", "boolean"}, {"pdomDoc", "DOMDocument", true}},
                      true,
                      {},
                      [&deps](soap::CallContext& ctx) -> Result<std::vector<soap::OutValue>> {
                        std::string pk = ctx.args.empty() ? std::string() : ctx.args[0]->text;
                        bool must_exist = ctx.args.size() > 2 && xml::ParseBool(ctx.args[2]->text).value_or(false);
                        std::string xml;
                        if (pk.starts_with("xtk:schema|")) xml = EntitySchemaXml(pk.substr(11), deps);
                        if (xml.empty() && must_exist) {
                          return CodedError(Status::Code::kNotFound, "XTK-170007",
                                            fmt::format("The entity '{}' does not exist.", pk.substr(0, 200)));
                        }
                        return std::vector<soap::OutValue>{soap::OutValue::Element("pdomDoc", xml)};
                      }});
  return s;
}

void RegisterAll(soap::Router& router, Deps& deps) {
  router.AddService(MakeSessionService(deps));
  router.AddService(MakePersistService(deps));
  router.AddService(MakeReplicationService(deps));
  router.AddService(MakeSubscriptionService(deps));
  router.AddService(MakeQueryDefService(deps));
  router.AddService(MakeWorkflowService(deps));
}

}  // namespace stagebridge::services
