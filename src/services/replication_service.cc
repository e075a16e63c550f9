// replication_service.cc — nms:replicationStrategy#StartReplicateStagingData:
// the platform's own trigger of the staging sync for one source schema.
#include <fmt/format.h>

#include "services/services.h"
#include "workflow/runner.h"
#include "xml/document.h"

namespace stagebridge::services {

soap::ServiceDef MakeReplicationService(Deps& deps) {
  soap::ServiceDef s{"nms:replicationStrategy", "Replication strategies", {}};
  s.methods.push_back(soap::MethodDef{
      "StartReplicateStagingData",
      true,
      {{"schema", "string"}},
      true,
      "",
      [&deps](soap::CallContext& ctx) -> Result<std::vector<soap::OutValue>> {
        std::string name = ctx.args.empty() ? std::string() : ctx.args[0]->text;
        const schema::Schema* source = deps.schemas.Find(name);
        if (source != nullptr && source->is_staging()) source = deps.schemas.Find(source->stg_src_schema);
        if (source == nullptr || !source->auto_stg) {
          return CodedError(Status::Code::kInvalidArgument, "SYN-300001",
                            fmt::format("The schema '{}' {}: give a staged source schema such as dem:sampleTable.",
                                        xml::Printable(name.substr(0, 200)),
                                        source == nullptr ? "does not exist" : "is not staged (autoStg)"));
        }
        if (!ctx.op->CanWrite(source->id())) {
          return CodedError(Status::Code::kPermissionDenied, "STG-200010",
                            fmt::format("The operator '{}' has no right on schema '{}'.", ctx.op->login, source->id()));
        }
        if (deps.start_workflow == nullptr || !deps.start_workflow(workflow::kReplicate, source->id(), "soap")) {
          return CodedError(Status::Code::kUnavailable, "SYN-500002",
                            "The workflow scheduler is not running on this server.");
        }
        return std::vector<soap::OutValue>{};
      }});
  return s;
}

}  // namespace stagebridge::services
