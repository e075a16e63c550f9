// query_service.cc — xtk:queryDef: ExecuteQuery and SelectAll, the platform's
// read API (SPEC §3.4). Both are entity methods (non-static): the queryDef
// document travels first, before the declared parameters.
#include <sstream>

#include <fmt/format.h>

#include "query/compiler.h"
#include "query/engine.h"
#include "query/querydef.h"
#include "query/result.h"
#include "services/services.h"
#include "xml/document.h"

namespace stagebridge::services {
namespace {

Result<pugi::xml_node> QueryDefElement(const soap::CallContext& ctx) {
  if (ctx.args.empty() || !ctx.args[0]->element) {
    return CodedError(Status::Code::kInvalidArgument, "SOP-330003",
                      "The queryDef (the method's entity, the parameter after the session token) must hold a "
                      "<queryDef schema=\"…\" operation=\"…\"> element.");
  }
  return ctx.args[0]->element;
}

Result<std::vector<soap::OutValue>> ExecuteQuery(soap::CallContext& ctx, Deps& deps) {
  if (deps.queries == nullptr) {
    return CodedError(Status::Code::kUnavailable, "QRY-500002", "Queries are not served by this process.");
  }
  SB_ASSIGN_OR_RETURN(pugi::xml_node element, QueryDefElement(ctx));
  SB_ASSIGN_OR_RETURN(query::QueryDef q, query::ReadQueryDef(element));
  SB_ASSIGN_OR_RETURN(query::QueryResult result, deps.queries->Execute(q, &*ctx.op));
  return std::vector<soap::OutValue>{soap::OutValue::Element("pdomOutput", query::RenderXml(result))};
}

// The queryDef with a select node for every attribute of its schema (but the
// sync's bookkeeping); `duplicate` false keeps one node per expression.
Result<std::vector<soap::OutValue>> SelectAll(soap::CallContext& ctx, Deps& deps) {
  SB_ASSIGN_OR_RETURN(pugi::xml_node element, QueryDefElement(ctx));
  bool duplicate = ctx.args.size() > 1 && xml::ParseBool(ctx.args[1]->text).value_or(false);
  std::string_view id = xml::Attr(element, "schema");
  const schema::Schema* schema = deps.schemas.Find(id);
  if (schema == nullptr) {
    return CodedError(
        Status::Code::kNotFound, query::codes::kUnknownSchema,
        fmt::format("The schema '{}' is unknown: no data schema of that name can be queried.", query::Quote(id)));
  }
  if (!ctx.op->CanWrite(schema->id())) {
    return CodedError(Status::Code::kPermissionDenied, query::codes::kNotAllowed,
                      fmt::format("The operator '{}' has no right to read schema '{}'.", xml::Printable(ctx.op->login),
                                  schema->id()));
  }
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_copy(element);
  root.set_name("queryDef");
  pugi::xml_node select = root.child("select");
  if (!select) select = root.prepend_child("select");
  for (const schema::Attribute* a : query::PublicAttributes(*schema)) {
    std::string expr = "@" + a->name;
    if (!duplicate && select.find_child_by_attribute("node", "expr", expr.c_str())) continue;
    select.append_child("node").append_attribute("expr") = expr.c_str();
  }
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  return std::vector<soap::OutValue>{soap::OutValue::Element("entity", out.str())};
}

}  // namespace

soap::ServiceDef MakeQueryDefService(Deps& deps) {
  soap::ServiceDef s{"xtk:queryDef", "Query definitions", {}};
  soap::MethodDef execute{"ExecuteQuery", false, {{"pdomOutput", "DOMDocument", true}},
                          true,           {},    [&deps](soap::CallContext& ctx) { return ExecuteQuery(ctx, deps); }};
  execute.is_const = true;
  s.methods.push_back(std::move(execute));
  s.methods.push_back(
      soap::MethodDef{"SelectAll", false, {{"duplicate", "boolean"}}, true, {}, [&deps](soap::CallContext& ctx) {
                        return SelectAll(ctx, deps);
                      }});
  return s;
}

}  // namespace stagebridge::services
