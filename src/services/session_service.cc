// session_service.cc — xtk:session: Logon, Logoff, GetUserInfo, Ingest, IngestExt.
#include <fmt/format.h>

#include "services/services.h"
#include "staging/record.h"
#include "xml/document.h"

namespace stagebridge::services {
namespace {

constexpr const char* kBadParameter = "SOP-330003";
constexpr const char* kForbidden = "STG-200010";

std::string UserInfoXml(const auth::Operator& op) {
  std::string rights;
  if (op.admin) {
    rights = "<login-right right=\"admin\"/>";
  } else {
    for (const std::string& s : op.schemas) rights += fmt::format("<login-right right=\"write:{}\"/>", xml::Escape(s));
  }
  return fmt::format(
      "<userInfo login=\"{0}\" loginCS=\"{0}\" loginId=\"0\" timezone=\"UTC\" locale=\"en-US\" "
      "homeDir=\"\">{1}<installed-package name=\"campaign\" namespace=\"nms\"/></userInfo>",
      xml::Escape(op.login), rights);
}

std::string SessionInfoXml(const auth::Operator& op, const Deps& deps) {
  return fmt::format(
      "<sessionInfo><serverInfo advisedClientBuildNumber=\"0\" buildNumber=\"9999\" databaseId=\"stagebridge\" "
      "instanceName=\"{0}\" majNumber=\"8\" minNumber=\"0\" minClientBuildNumber=\"0\" serverDate=\"\" "
      "servicePack=\"0\" sessionTimeOut=\"{1}\" securityTimeOut=\"{1}\"/>{2}</sessionInfo>",
      xml::Escape(deps.instance_name), deps.session_lifetime_seconds, UserInfoXml(op));
}

// The DOM document of a DOMDocument parameter, or a coded error naming it.
Result<pugi::xml_node> DomParam(const soap::CallContext& ctx, std::size_t index, const char* name) {
  if (index >= ctx.args.size() || !ctx.args[index]->element) {
    return CodedError(Status::Code::kInvalidArgument, kBadParameter,
                      fmt::format("The parameter '{}' (position {}) must hold an XML element, e.g. "
                                  "<{}><sampleTableStg xtkschema=\"dem:sampleTableStg\" …/></{}>.",
                                  name, index + 1, name, name));
  }
  return ctx.args[index]->element;
}

std::string TextParam(const soap::CallContext& ctx, std::size_t index) {
  return index < ctx.args.size() ? ctx.args[index]->text : std::string();
}

// Decodes and checks the document of an Ingest/IngestExt call.
Result<staging::DecodedDocument> DecodeIngest(soap::CallContext& ctx, Deps& deps, staging::Mode mode) {
  SB_ASSIGN_OR_RETURN(pugi::xml_node root, DomParam(ctx, 0, "domDoc"));
  SB_ASSIGN_OR_RETURN(staging::DecodedDocument doc, staging::DecodeDocument(root, deps.schemas, mode));
  for (const staging::StagedRecord& r : doc.records) {
    if (!ctx.op->CanWrite(r.stg->stg_src_schema)) {
      return CodedError(
          Status::Code::kPermissionDenied, kForbidden,
          fmt::format("The operator '{}' has no right to write to schema '{}'.", ctx.op->login, r.stg->stg_src_schema));
    }
  }
  return doc;
}

// Ingest and IngestExt answer asynchronously: the rows go to the group-commit
// writer and the call is answered from its callback, after COMMIT, without a
// thread waiting for it.
void Ingest(soap::CallContext& ctx, Deps& deps, staging::Mode mode, soap::MethodDone done) {
  Result<staging::DecodedDocument> doc = DecodeIngest(ctx, deps, mode);
  if (!doc.ok()) return done(doc.status());
  std::string ids;
  if (mode == staging::Mode::kIngest) {
    for (std::size_t i = 0; i < doc->returned_ids.size(); ++i) {
      if (i > 0) ids += ',';
      ids += doc->returned_ids[i];
    }
  }
  deps.writer.WriteAsync(std::move(doc->records),
                         [mode, ids = std::move(ids), done = std::move(done)](Status written) mutable {
                           if (!written.ok()) return done(std::move(written));
                           std::vector<soap::OutValue> outs;
                           if (mode == staging::Mode::kIngest) {
                             outs.push_back(soap::OutValue::String("pstrSUuids", std::move(ids)));
                           }
                           done(std::move(outs));
                         });
}

}  // namespace

soap::ServiceDef MakeSessionService(Deps& deps) {
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
      [&deps](soap::CallContext& ctx) -> Result<std::vector<soap::OutValue>> {
        SB_ASSIGN_OR_RETURN(auth::Session session, deps.authenticator.Logon(TextParam(ctx, 0), TextParam(ctx, 1)));
        return std::vector<soap::OutValue>{
            soap::OutValue::String("pstrSessionToken", session.session_token),
            soap::OutValue::Element("pSessionInfo", SessionInfoXml(session.op, deps)),
            soap::OutValue::String("pstrSecurityToken", session.security_token),
        };
      }});
  s.methods.push_back(soap::MethodDef{
      "Logoff", true, {}, false, {}, [&deps](soap::CallContext& ctx) -> Result<std::vector<soap::OutValue>> {
        SB_RETURN_IF_ERROR(deps.authenticator.Logoff(ctx.session_token, ctx.call.security_token));
        return std::vector<soap::OutValue>{};
      }});
  s.methods.push_back(soap::MethodDef{"GetUserInfo",
                                      true,
                                      {{"pUserInfo", "DOMElement", true}},
                                      true,
                                      {},
                                      [](soap::CallContext& ctx) -> Result<std::vector<soap::OutValue>> {
                                        return std::vector<soap::OutValue>{
                                            soap::OutValue::Element("pUserInfo", UserInfoXml(*ctx.op))};
                                      }});
  s.methods.push_back(soap::MethodDef{"Ingest",
                                      true,
                                      {{"domDoc", "DOMDocument"}, {"pstrSUuids", "string", true}},
                                      true,
                                      "urn:wpp:default",
                                      {},
                                      [&deps](soap::CallContext& ctx, soap::MethodDone done) {
                                        Ingest(ctx, deps, staging::Mode::kIngest, std::move(done));
                                      }});
  s.methods.push_back(soap::MethodDef{"IngestExt",
                                      true,
                                      {{"domDoc", "DOMDocument"}},
                                      true,
                                      "urn:wpp:default",
                                      {},
                                      [&deps](soap::CallContext& ctx, soap::MethodDone done) {
                                        Ingest(ctx, deps, staging::Mode::kIngestExt, std::move(done));
                                      }});
  return s;
}

}  // namespace stagebridge::services
