// workflows.h — user workflows: files in `workflows_dir`, an XML close to the
// platform's xtk:workflow, each an ordered list of JavaScript activities run
// by the scheduler under the technical workflows' lease and run history.
//
//   <workflow internalName="sampleIngest" label="…" schedule="every 1h|daily 04:00|off"
//             operator="etl">
//     <activities>
//       <js name="ingest" label="…"><script><![CDATA[ … ]]></script></js>
//       <js name="log" src="log.js"/>          (a file beside the workflow file)
//     </activities>
//   </workflow>
//
// An inline script keeps its position in the file: its errors give the line
// and column in the workflow file; a src= script's, in its .js file.
//
// Thread-safety: LoadWorkflows is a pure function of the files; UserWorkflowSet
// is thread-safe (Reload swaps the set; runs keep the one they started with).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth/authenticator.h"
#include "script/engine.h"
#include "soap/router.h"
#include "workflow/runner.h"
#include "workflow/schedule.h"
#include "workflow/scheduler.h"

namespace stagebridge::script {

struct Activity {
  std::string name;
  std::string label;
  std::string source;  // the script, padded so its first character sits at its line and column in `file`
  std::string file;    // where the script is written (the workflow file, or the src= file)
};

struct WorkflowDef {
  std::string internal_name;
  std::string label;
  std::string schedule_text;
  workflow::Schedule schedule;
  std::string op;  // the operator it runs as
  std::vector<Activity> activities;
  std::string file;
};

struct LoadReport {
  std::vector<WorkflowDef> workflows;  // the good ones, sorted by internal name
  std::vector<std::string> errors;     // one per bad file: "file: activity 'x': fault"
};

// Parses one workflow file's text. `dir` resolves src= files.
Result<WorkflowDef> ParseWorkflow(std::string_view text, const std::string& file, const std::string& dir);

// Every *.xml file of `dir` (a missing or empty dir: no workflow). A bad file,
// a name taken by a technical workflow or by an earlier file, or a script that
// does not compile is reported and left out; the others load.
LoadReport LoadWorkflows(const std::string& dir);

// Compiles a script without running it (E4X transform and JavaScript syntax).
std::optional<Failure> CheckScript(std::string_view source, const std::string& file);

// Runs a script's log lines and calls through a ServiceHost as `op`.
struct ScriptEnv {
  const soap::Router& router;
  auth::Authenticator& authenticator;
  Limits limits;
  std::map<std::string, std::string> options;  // getOption
};

// The operator a script runs as: known and enabled (SCR-200010 otherwise).
Result<auth::Operator> ScriptOperator(auth::Authenticator& authenticator, const std::string& login);

class UserWorkflowSet : public workflow::UserWorkflows {
 public:
  UserWorkflowSet(ScriptEnv env, std::string dir);

  // (Re)loads the directory; the new set replaces the old one (runs in
  // progress finish with theirs). Returns what was loaded and what was not.
  LoadReport Reload();
  std::vector<workflow::Scheduler::Entry> Entries() const;

  // The operator `name` runs as; nullopt when it is not a user workflow.
  std::optional<std::string> OperatorOf(const std::string& name) const;

  std::vector<std::string> Names() const override;
  Status Execute(workflow::RunRecord& run, store::Database& local, const std::atomic<bool>* stop) override;

 private:
  ScriptEnv env_;
  const std::string dir_;
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<WorkflowDef>> defs_;  // GUARDED_BY(mu_)
};

}  // namespace stagebridge::script
