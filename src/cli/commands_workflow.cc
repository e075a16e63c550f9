// commands_workflow.cc — `workflow run|list|history`: the technical workflows
// from the command line, whether or not a server is running (the lease in the
// local database keeps one run at a time across processes).
#include "cli/commands_workflow.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <fmt/format.h>
#include <unistd.h>

#include "auth/authenticator.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "cli/json.h"
#include "cli/stack.h"
#include "schema/schema_set.h"
#include "script/workflows.h"
#include "store/pool.h"
#include "workflow/history.h"
#include "workflow/runner.h"

namespace stagebridge::cli {
namespace {

int Fail(const Status& status) {
  std::cerr << "stagebridge: " << status.message() << "\n";
  return kExitFailed;
}

std::string LocalTime(std::int64_t epoch) {
  if (epoch <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string RunJson(const workflow::RunRecord& run) {
  std::vector<std::string> schemas;
  for (const sync::SchemaResult& s : run.schemas) {
    std::vector<std::string> rejections;
    for (const std::string& r : s.rejections) rejections.push_back(JsonString(r));
    schemas.push_back(fmt::format(
        "{{\"schema\":{},\"staged\":{},\"inserted\":{},\"updated\":{},\"deleted\":{},\"rejected\":{},\"batches\":{},"
        "\"rejections\":[{}]}}",
        JsonString(s.schema), s.staged, s.inserted, s.updated, s.deleted, s.rejected, s.batches,
        fmt::join(rejections, ",")));
  }
  return fmt::format(
      "{{\"id\":{},\"workflow\":{},\"trigger\":{},\"holder\":{},\"start\":{},\"end\":{},\"status\":{},\"error\":{},"
      "\"schemas\":[{}]}}",
      run.id, JsonString(run.workflow), JsonString(run.trigger), JsonString(run.holder), run.started, run.ended,
      JsonString(run.status), JsonString(run.error), fmt::join(schemas, ","));
}

void PrintRun(const workflow::RunRecord& run, std::ostream& out) {
  out << fmt::format("{} run {}: {} (trigger {}, started {}, {})\n", run.workflow, run.id, run.status, run.trigger,
                     LocalTime(run.started),
                     run.ended > 0 ? fmt::format("{} s", run.ended - run.started) : std::string("running"));
  if (!run.error.empty()) out << "  error: " << run.error << "\n";
  for (const sync::SchemaResult& s : run.schemas) {
    bool requests = run.workflow == workflow::kUnsubscribe;  // the figures of subscription requests
    if (requests) {
      out << fmt::format("  {}: {} request(s) applied: {} subscribed, {} unsubscribed, {} blocklisted, {} refused\n",
                         s.schema, s.staged, s.inserted, s.deleted, s.updated, s.rejected);
    } else {
      out << fmt::format("  {}: {} staged row(s) merged: {} inserted, {} updated, {} deleted, {} rejected\n", s.schema,
                         s.staged, s.inserted, s.updated, s.deleted, s.rejected);
    }
    for (const std::string& r : s.rejections) out << (requests ? "    refused " : "    rejected ") << r << "\n";
    if (static_cast<std::int64_t>(s.rejections.size()) < s.rejected) {
      out << fmt::format("    … {} more rejected row(s) not listed\n",
                         s.rejected - static_cast<std::int64_t>(s.rejections.size()));
    }
  }
}

// A progress bar on a terminal (stderr), nothing otherwise.
void ShowProgress(const sync::Progress& p) {
  double fraction = p.total > 0 ? std::min(1.0, static_cast<double>(p.done) / static_cast<double>(p.total)) : 1.0;
  int filled = static_cast<int>(fraction * 30);
  double rate = p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0;
  std::cerr << fmt::format("\r{} [{}{}] {:3.0f}% {}/{} rows {}, {:.0f} rows/s ", p.schema, std::string(filled, '#'),
                           std::string(30 - filled, ' '), fraction * 100, p.done, p.total, p.phase, rate)
            << std::flush;
  if (p.phase == "merged" && p.done >= p.total) std::cerr << "\n";
}

// Whether any run was ever recorded. The read-only commands never create the
// tables: they must not need the write lock of an SQLite database a run holds.
Result<bool> HistoryExists(store::Database& db) {
  SB_ASSIGN_OR_RETURN(bool runs, db.TableExists("SbWorkflowRun"));
  SB_ASSIGN_OR_RETURN(bool lease, db.TableExists("SbWorkflowLease"));
  return runs && lease;
}

}  // namespace

namespace {

bool IsTechnical(const std::string& name) {
  const std::vector<std::string>& names = workflow::Workflows();
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Every workflow: the technical ones, then those of workflows_dir, with their schedules.
std::vector<std::pair<std::string, std::string>> AllWorkflows(const Config& config) {
  std::vector<std::pair<std::string, std::string>> out{{workflow::kReplicate, config.Get("replicate_schedule")},
                                                       {workflow::kUnsubscribe, config.Get("unsubscribe_schedule")},
                                                       {workflow::kCleanup, config.Get("cleanup_schedule")}};
  for (const script::WorkflowDef& w : script::LoadWorkflows(config.Get("workflows_dir")).workflows) {
    out.emplace_back(w.internal_name, w.schedule_text);
  }
  return out;
}

int Print(const Result<workflow::RunRecord>& run, bool json) {
  if (!run.ok()) return Fail(run.status());
  if (json) {
    std::cout << RunJson(*run) << "\n";
  } else {
    PrintRun(*run, std::cout);
  }
  return run->status == "done" ? kExitOk : kExitFailed;
}

}  // namespace

int CmdWorkflowRun(const Config& config, const WorkflowRunOptions& options) {
  if (!IsTechnical(options.name)) {
    // A user workflow: its scripts call the services, so this process gets them.
    Result<std::unique_ptr<ServiceStack>> stack = ServiceStack::Open(config);
    if (!stack.ok()) return Fail(stack.status());
    workflow::RunRequest request;
    request.workflow = options.name;
    request.trigger = "cli";
    request.wait_for_lease = !options.no_wait;
    (*stack)->MarkRunning(options.name);  // a script of it starting it again is refused
    return Print((*stack)->runner->Run(request), options.json);
  }
  Result<schema::SchemaSet> schemas = schema::SchemaSet::LoadDirectory(config.Get("schemas_dir"));
  if (!schemas.ok()) return Fail(schemas.status());
  store::ConnectionPool pool(config.Get("local_db"), 8);  // see Runner: up to 5 at once
  auth::Authenticator authenticator(pool, AuthOptionsFrom(config));
  if (Status s = authenticator.EnsureTables(); !s.ok()) return Fail(s);  // cleanup purges sessions
  workflow::Runner runner(pool, *schemas, RunnerOptionsFrom(config, authenticator));
  if (Status s = runner.Prepare(); !s.ok()) return Fail(s);
  workflow::RunRequest request;
  request.workflow = options.name;
  request.schema = options.schema;
  request.trigger = "cli";
  request.wait_for_lease = !options.no_wait;
  if (isatty(STDERR_FILENO) != 0) request.on_progress = ShowProgress;
  return Print(runner.Run(request), options.json);
}

int CmdWorkflowList(const Config& config) {
  Result<std::unique_ptr<store::Database>> db = store::OpenDatabase(config.Get("local_db"));
  if (!db.ok()) return Fail(db.status());
  Result<bool> ready = HistoryExists(**db);
  if (!ready.ok()) return Fail(ready.status());
  std::cout << fmt::format("{:<26} {:<14} {:<40} {}\n", "WORKFLOW", "SCHEDULE", "LAST RUN", "RUNNING NOW");
  for (const auto& [name, schedule] : AllWorkflows(config)) {
    Result<std::vector<workflow::RunRecord>> runs =
        *ready ? workflow::ListRuns(**db, name, 1) : std::vector<workflow::RunRecord>{};
    if (!runs.ok()) return Fail(runs.status());
    Result<std::optional<std::string>> holder =
        *ready ? workflow::LeaseHolder(**db, name) : std::optional<std::string>{};
    if (!holder.ok()) return Fail(holder.status());
    std::string last = runs->empty() ? "never"
                                     : fmt::format("{} {} at {}", runs->front().id, runs->front().status,
                                                   LocalTime(runs->front().started));
    std::cout << fmt::format("{:<26} {:<14} {:<40} {}\n", name, schedule, last,
                             holder->has_value() ? "yes (" + **holder + ")" : "no");
  }
  return kExitOk;
}

int CmdWorkflowHistory(const Config& config, const std::string& name, int limit, bool json) {
  Result<std::unique_ptr<store::Database>> db = store::OpenDatabase(config.Get("local_db"));
  if (!db.ok()) return Fail(db.status());
  Result<bool> ready = HistoryExists(**db);
  if (!ready.ok()) return Fail(ready.status());
  Result<std::vector<workflow::RunRecord>> runs =
      *ready ? workflow::ListRuns(**db, name, limit) : std::vector<workflow::RunRecord>{};
  if (!runs.ok()) return Fail(runs.status());
  // A workflow defined now, or one that was (a removed user workflow keeps its runs).
  std::vector<std::string> known;
  for (const auto& w : AllWorkflows(config)) known.push_back(w.first);
  if (runs->empty() && std::find(known.begin(), known.end(), name) == known.end()) {
    std::cerr << fmt::format("stagebridge: unknown workflow '{}' (known: {})\n", name, fmt::join(known, ", "));
    return kExitUsage;
  }
  if (json) {
    std::vector<std::string> items;
    for (const workflow::RunRecord& r : *runs) items.push_back(RunJson(r));
    std::cout << "[" << fmt::format("{}", fmt::join(items, ",\n")) << "]\n";
    return kExitOk;
  }
  if (runs->empty()) std::cout << "no runs of " << name << " yet\n";
  for (const workflow::RunRecord& r : *runs) PrintRun(r, std::cout);
  return kExitOk;
}

}  // namespace stagebridge::cli
