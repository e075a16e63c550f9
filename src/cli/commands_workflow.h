// commands_workflow.h — `workflow run NAME [--schema S] [--no-wait] [--json]`,
// `workflow list`, `workflow history NAME [--limit N] [--json]`.
#pragma once

#include <string>

#include "cli/config.h"

namespace stagebridge::cli {

struct WorkflowRunOptions {
  std::string name;
  std::string schema;    // replicate: one source schema, "" = every staged schema
  bool no_wait = false;  // fail at once when another run holds the workflow
  bool json = false;
};

// Exit 0 when the run ended "done", 1 when it ended in error or could not start.
int CmdWorkflowRun(const Config& config, const WorkflowRunOptions& options);
int CmdWorkflowList(const Config& config);
int CmdWorkflowHistory(const Config& config, const std::string& name, int limit, bool json);

}  // namespace stagebridge::cli
