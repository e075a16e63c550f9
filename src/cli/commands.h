// commands.h — the subcommands' implementations, each taking the effective
// configuration and its own options, returning an exit code.
#pragma once

#include <string>

#include "auth/authenticator.h"
#include "cli/config.h"
#include "workflow/runner.h"

namespace stagebridge::cli {

struct SchemaApplyOptions {
  std::string schemas_dir;  // overrides the config's schemas_dir when set
  bool force = false;
  bool dry_run = false;
};

int CmdSchemaApply(const Config& config, const SchemaApplyOptions& options);
int CmdSchemaShow(const Config& config, const std::string& schemas_dir, const std::string& id, bool internal);
int CmdSchemaList(const Config& config, const std::string& schemas_dir);
int CmdServe(const Config& config);
int CmdConfigShow(const Config& config);

// Settings of the components several commands build.
auth::AuthOptions AuthOptionsFrom(const Config& config);
workflow::RunnerOptions RunnerOptionsFrom(const Config& config, auth::Authenticator& authenticator);

}  // namespace stagebridge::cli
