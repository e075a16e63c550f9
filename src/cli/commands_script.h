// commands_script.h — `script run FILE.js [--operator LOGIN] [--timeout S]`,
// `workflow reload`, `workflow log NAME [--run N]`.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "cli/config.h"
#include "script/workflows.h"
#include "store/database.h"
#include "store/pool.h"
#include "workflow/scheduler.h"

namespace stagebridge::cli {

struct ScriptRunOptions {
  std::string file;  // "-" = standard input
  std::string op = "admin";
  int timeout = 0;  // seconds; 0 = script_timeout
};

// Runs one script now as a one-activity run; log lines on stdout as "LEVEL
// text". Exit 0 when it completed, 1 when it failed (file:line:column: message
// on stderr).
int CmdScriptRun(const Config& config, const ScriptRunOptions& options);
// Checks workflows_dir and asks the running servers to reload it.
int CmdWorkflowReload(const Config& config);
// A user workflow run's log lines (the newest run, or run `run`).
int CmdWorkflowLog(const Config& config, const std::string& name, std::int64_t run);

// In `serve`: reloads the user workflows when `workflow reload` bumped the
// generation (checked every 2 s) or on Reload() (SIGHUP), and hands the new
// schedules to the scheduler.
class WorkflowReloader {
 public:
  WorkflowReloader(store::ConnectionPool& pool, script::UserWorkflowSet& set, workflow::Scheduler& scheduler);
  ~WorkflowReloader();  // Stop()
  WorkflowReloader(const WorkflowReloader&) = delete;
  WorkflowReloader& operator=(const WorkflowReloader&) = delete;

  // Loads the workflows now (logging what loaded and what did not).
  void Reload(const char* why);
  void Start();
  void Stop();

 private:
  store::ConnectionPool& pool_;
  script::UserWorkflowSet& set_;
  workflow::Scheduler& scheduler_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::mutex reload_mu_;
  std::int64_t generation_ = -1;
  std::thread thread_;
};

// What scripts run with: script_timeout, script_memory, getOption's options.
script::ScriptEnv ScriptEnvFrom(const Config& config, const soap::Router& router, auth::Authenticator& authenticator);

// The generation servers compare to reload workflows_dir (`workflow reload` bumps it).
Result<std::int64_t> WorkflowGeneration(store::Database& db);

}  // namespace stagebridge::cli
