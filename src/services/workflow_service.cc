// workflow_service.cc — xtk:workflow#Start: starts a technical or user workflow
// now (queued behind a run in progress), as the platform's xtk.workflow.Start.
#include <algorithm>

#include <fmt/format.h>

#include "services/services.h"
#include "workflow/runner.h"
#include "xml/document.h"

namespace stagebridge::services {

soap::ServiceDef MakeWorkflowService(Deps& deps) {
  soap::ServiceDef s{"xtk:workflow", "Workflows", {}};
  s.methods.push_back(soap::MethodDef{
      "Start",
      true,
      {{"strWorkflowId", "string"}},
      true,
      "",
      [&deps](soap::CallContext& ctx) -> Result<std::vector<soap::OutValue>> {
        std::string name = ctx.args.empty() ? std::string() : ctx.args[0]->text;
        std::optional<std::string> runs_as =
            deps.workflow_operator ? deps.workflow_operator(name) : std::optional<std::string>{};
        const std::vector<std::string>& technical = workflow::Workflows();
        if (!runs_as && std::find(technical.begin(), technical.end(), name) == technical.end()) {
          return CodedError(Status::Code::kNotFound, "SYN-300003",
                            fmt::format("Unknown workflow '{}'.", xml::Printable(name.substr(0, 100))));
        }
        // Admins start any workflow; an operator, the user workflows that run as it.
        if (!ctx.op->admin && runs_as != ctx.op->login) {
          return CodedError(Status::Code::kPermissionDenied, "SCR-200013",
                            fmt::format("The operator '{}' may not start the workflow '{}': an operator starts the "
                                        "user workflows that run as it, an admin any workflow.",
                                        ctx.op->login, xml::Printable(name.substr(0, 100))));
        }
        if (deps.start_workflow == nullptr) {
          return CodedError(Status::Code::kUnavailable, "SYN-500002",
                            "The workflow scheduler is not running on this server.");
        }
        if (!deps.start_workflow(name, "", "soap")) {
          // Known (checked above), but not startable here: the command line runs
          // workflows one at a time and refuses one starting itself.
          return CodedError(Status::Code::kFailedPrecondition, "SYN-300004",
                            fmt::format("The workflow '{}' cannot be started now: it is running in this process.",
                                        xml::Printable(name.substr(0, 100))));
        }
        return std::vector<soap::OutValue>{};
      }});
  return s;
}

}  // namespace stagebridge::services
