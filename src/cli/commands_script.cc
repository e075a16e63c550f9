// commands_script.cc — workflow JavaScript from the command line.
#include "cli/commands_script.h"

#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/app.h"
#include "cli/stack.h"
#include "script/engine.h"
#include "script/host.h"
#include "script/workflows.h"
#include "store/table_spec.h"
#include "workflow/history.h"

namespace stagebridge::cli {
namespace {

int Fail(const Status& status) {
  std::cerr << "stagebridge: " << status.message() << "\n";
  return kExitFailed;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string LocalTime(std::int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

Status EnsureReloadTable(store::Database& db) {
  store::TableSpec t;
  t.name = "SbWorkflowReload";
  t.columns = {{"iId", store::ColumnType::kInt64, 0, true, ""},
               {"iGeneration", store::ColumnType::kInt64, 0, true, "0"}};
  t.primary_key = {"iId"};
  SB_RETURN_IF_ERROR(store::EnsureTable(db, t).status());
  return db.Execute("INSERT INTO SbWorkflowReload (iId, iGeneration) VALUES (1, 0) ON CONFLICT (iId) DO NOTHING")
      .status();
}

}  // namespace

Result<std::int64_t> WorkflowGeneration(store::Database& db) {
  SB_ASSIGN_OR_RETURN(bool exists, db.TableExists("SbWorkflowReload"));
  if (!exists) return std::int64_t{0};
  SB_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT iGeneration FROM SbWorkflowReload WHERE iId = 1"));
  if (rows.empty()) return std::int64_t{0};
  return std::get<std::int64_t>(rows[0][0]);
}

script::ScriptEnv ScriptEnvFrom(const Config& config, const soap::Router& router, auth::Authenticator& authenticator) {
  script::Limits limits;
  limits.timeout = std::chrono::seconds(config.GetInt("script_timeout"));
  limits.memory_bytes = static_cast<std::size_t>(config.GetInt("script_memory")) << 20;
  return script::ScriptEnv{router, authenticator, limits, {{"instance_name", config.Get("instance_name")}}};
}

WorkflowReloader::WorkflowReloader(store::ConnectionPool& pool, script::UserWorkflowSet& set,
                                   workflow::Scheduler& scheduler)
    : pool_(pool), set_(set), scheduler_(scheduler) {}

WorkflowReloader::~WorkflowReloader() {
  Stop();
}

void WorkflowReloader::Reload(const char* why) {
  std::lock_guard lock(reload_mu_);
  script::LoadReport report = set_.Reload();
  for (const std::string& e : report.errors) spdlog::error("workflows ({}): {}", why, e);
  std::vector<std::string> names;
  for (const script::WorkflowDef& w : report.workflows) names.push_back(w.internal_name);
  spdlog::info("workflows ({}): {} user workflow(s) loaded{}{}, {} file(s) refused", why, names.size(),
               names.empty() ? "" : ": ", fmt::join(names, ", "), report.errors.size());
  scheduler_.SetUserEntries(set_.Entries());
}

void WorkflowReloader::Start() {
  if (Result<store::ConnectionPool::Lease> db = pool_.Acquire(); db.ok()) {
    if (Result<std::int64_t> g = WorkflowGeneration(**db); g.ok()) generation_ = *g;
  }
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stop_; })) {
      lock.unlock();
      Result<store::ConnectionPool::Lease> db = pool_.Acquire();
      Result<std::int64_t> g = db.ok() ? WorkflowGeneration(**db) : Result<std::int64_t>(db.status());
      if (g.ok() && *g != generation_) {
        generation_ = *g;
        Reload("workflow reload");
      }
      lock.lock();
    }
  });
}

void WorkflowReloader::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int CmdScriptRun(const Config& config, const ScriptRunOptions& options) {
  std::string source;
  std::string file = options.file;
  if (file == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    source = text.str();
    file = "<stdin>";
  } else {
    std::error_code ec;
    std::ifstream in(file, std::ios::binary);
    if (!in || !std::filesystem::is_regular_file(file, ec)) {
      return Fail(Status::NotFound(fmt::format("cannot read {}: not a readable file", file)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    source = text.str();
  }
  Result<std::unique_ptr<ServiceStack>> stack = ServiceStack::Open(config);
  if (!stack.ok()) return Fail(stack.status());
  Result<auth::Operator> op = script::ScriptOperator(*(*stack)->authenticator, options.op);
  if (!op.ok()) return Fail(op.status());
  script::ScriptEnv env = ScriptEnvFrom(config, *(*stack)->router, *(*stack)->authenticator);
  if (options.timeout > 0) env.limits.timeout = std::chrono::seconds(options.timeout);
  script::ServiceHost host(
      env.router, *op,
      [](std::string_view level, std::string_view text) { std::cout << Upper(level) << " " << text << std::endl; },
      env.options);
  Result<std::unique_ptr<script::Session>> session = script::Session::Create(host, env.limits);
  if (!session.ok()) return Fail(session.status());
  std::optional<script::Failure> failure = (*session)->Run(source, file);
  if (failure) {
    std::cerr << failure->ToString() << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

int CmdWorkflowReload(const Config& config) {
  script::LoadReport report = script::LoadWorkflows(config.Get("workflows_dir"));
  for (const script::WorkflowDef& w : report.workflows) {
    std::cout << fmt::format("loaded {} ({} activit{}, schedule {}, runs as {}) from {}\n", w.internal_name,
                             w.activities.size(), w.activities.size() == 1 ? "y" : "ies", w.schedule_text, w.op,
                             w.file);
  }
  for (const std::string& e : report.errors) std::cerr << "stagebridge: " << e << "\n";
  Result<std::unique_ptr<store::Database>> db = store::OpenDatabase(config.Get("local_db"));
  if (!db.ok()) return Fail(db.status());
  if (Status s = EnsureReloadTable(**db); !s.ok()) return Fail(s);
  if (Status s = (*db)->Execute("UPDATE SbWorkflowReload SET iGeneration = iGeneration + 1 WHERE iId = 1").status();
      !s.ok()) {
    return Fail(s);
  }
  std::cout << "running servers reload " << config.Get("workflows_dir") << " within 2 s\n";
  return report.errors.empty() ? kExitOk : kExitFailed;
}

int CmdWorkflowLog(const Config& config, const std::string& name, std::int64_t run_id) {
  Result<std::unique_ptr<store::Database>> db = store::OpenDatabase(config.Get("local_db"));
  if (!db.ok()) return Fail(db.status());
  Result<bool> exists = (*db)->TableExists("SbWorkflowLog");
  if (!exists.ok()) return Fail(exists.status());
  if (!*exists) return Fail(Status::NotFound(fmt::format("no run of {} recorded", name)));
  std::vector<workflow::RunRecord> runs;
  if (run_id > 0) {
    Result<workflow::RunRecord> run = workflow::GetRun(**db, run_id);
    if (!run.ok()) return Fail(run.status());
    if (run->workflow != name) {
      return Fail(Status::NotFound(fmt::format("run {} is a run of {}, not of {}", run_id, run->workflow, name)));
    }
    runs.push_back(*run);
  } else {
    Result<std::vector<workflow::RunRecord>> newest = workflow::ListRuns(**db, name, 1);
    if (!newest.ok()) return Fail(newest.status());
    if (newest->empty()) return Fail(Status::NotFound(fmt::format("no run of {} recorded", name)));
    runs = *newest;
  }
  for (const workflow::RunRecord& run : runs) {
    std::cout << fmt::format("{} run {}: {}{}\n", run.workflow, run.id, run.status,
                             run.error.empty() ? "" : " — " + run.error);
    Result<std::vector<workflow::LogLine>> lines = workflow::ListLog(**db, run.id);
    if (!lines.ok()) return Fail(lines.status());
    for (const workflow::LogLine& l : *lines) {
      std::cout << fmt::format("{} {} {} {}\n", LocalTime(l.time), l.activity, Upper(l.level), l.text);
    }
  }
  return kExitOk;
}

}  // namespace stagebridge::cli
