// subscription_service.cc — nms:subscription: Subscribe, Unsubscribe (SPEC §3.4).
// Both answer once the requests are committed in the local database; the
// ffdaUnsubscribe workflow applies them to the cloud tables.
#include <fmt/format.h>

#include "services/services.h"
#include "xml/document.h"

namespace stagebridge::services {
namespace {

constexpr const char* kBadParameter = "SOP-330003";

Result<std::vector<soap::OutValue>> Handle(soap::CallContext& ctx, Deps& deps, subscription::Action action) {
  if (deps.subscriptions == nullptr) {
    return CodedError(Status::Code::kUnavailable, "SUB-500002", "Subscriptions are not served by this process.");
  }
  if (!ctx.op->CanWrite(subscription::kSubscriptionSchema)) {
    return CodedError(Status::Code::kPermissionDenied, "STG-200010",
                      fmt::format("The operator '{}' has no right to write to schema '{}'.", ctx.op->login,
                                  subscription::kSubscriptionSchema));
  }
  if (ctx.args.size() < 2 || !ctx.args[1]->element) {
    return CodedError(Status::Code::kInvalidArgument, kBadParameter,
                      "The parameter 'recipient' (position 2) must hold an XML element, e.g. "
                      "<recipient><recipient _key=\"@email\" email=\"jane@example.com\"/></recipient>.");
  }
  bool create = false;
  if (action == subscription::Action::kSubscribe && ctx.args.size() > 2) {
    std::optional<bool> parsed = xml::ParseBool(ctx.args[2]->text);
    if (!parsed) {
      return CodedError(Status::Code::kInvalidArgument, kBadParameter,
                        fmt::format("The parameter 'create' (position 3) must be true or false, not '{}'.",
                                    xml::Printable(ctx.args[2]->text.substr(0, 40))));
    }
    create = *parsed;
  }
  SB_RETURN_IF_ERROR(
      deps.subscriptions->Accept(action, ctx.args[0]->text, ctx.args[1]->element, create, "soap:" + ctx.op->login));
  return std::vector<soap::OutValue>{};
}

}  // namespace

soap::ServiceDef MakeSubscriptionService(Deps& deps) {
  soap::ServiceDef s{subscription::kSubscriptionSchema, "Subscriptions", {}};
  s.methods.push_back(
      soap::MethodDef{"Subscribe",
                      true,
                      {{"serviceName", "string"}, {"recipient", "DOMElement"}, {"create", "boolean"}},
                      true,
                      {},
                      [&deps](soap::CallContext& ctx) { return Handle(ctx, deps, subscription::Action::kSubscribe); }});
  s.methods.push_back(soap::MethodDef{
      "Unsubscribe",
      true,
      {{"serviceName", "string"}, {"recipient", "DOMElement"}},
      true,
      {},
      [&deps](soap::CallContext& ctx) { return Handle(ctx, deps, subscription::Action::kUnsubscribe); }});
  return s;
}

}  // namespace stagebridge::services
