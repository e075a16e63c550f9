// commands.h — the subcommands' implementations, each taking the effective
// configuration and its own options, returning an exit code.
#pragma once

#include <string>

#include "cli/config.h"

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

}  // namespace stagebridge::cli
