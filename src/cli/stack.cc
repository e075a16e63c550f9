// stack.cc — the services of a process without a server.
#include "cli/stack.h"

#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/commands_query.h"
#include "cli/commands_script.h"

namespace stagebridge::cli {

Result<std::unique_ptr<ServiceStack>> ServiceStack::Open(const Config& config) {
  std::unique_ptr<ServiceStack> s(new ServiceStack());
  SB_ASSIGN_OR_RETURN(s->schemas, schema::SchemaSet::LoadDirectory(config.Get("schemas_dir")));
  s->pool = std::make_unique<store::ConnectionPool>(config.Get("local_db"), config.GetInt("writer_threads") + 8);
  s->authenticator = std::make_unique<auth::Authenticator>(*s->pool, AuthOptionsFrom(config));
  SB_RETURN_IF_ERROR(s->authenticator->EnsureTables());
  staging::WriterOptions writer_options;
  writer_options.workers = config.GetInt("writer_threads");
  s->writer = std::make_unique<staging::StagingWriter>(*s->pool, writer_options);
  SB_RETURN_IF_ERROR(s->writer->Prepare());
  s->writer->Start();
  auth::Authenticator* authenticator = s->authenticator.get();
  s->router = std::make_unique<soap::Router>([authenticator](const std::string& session, const std::string& security) {
    return authenticator->Validate(session, security);
  });
  s->runner = std::make_unique<workflow::Runner>(*s->pool, s->schemas, RunnerOptionsFrom(config, *s->authenticator));
  SB_RETURN_IF_ERROR(s->runner->Prepare());
  s->deps = std::make_unique<services::Deps>(services::Deps{*s->authenticator,
                                                            s->schemas,
                                                            *s->writer,
                                                            *s->router,
                                                            config.Get("instance_name"),
                                                            config.GetInt("session_lifetime"),
                                                            {}});
  workflow::Runner* runner = s->runner.get();
  // The workflows running in this process: the Runner's lease is re-entrant for its
  // own holder, so a script starting the workflow it runs in (or one running
  // around it) would nest runs without end; that start is refused instead.
  ServiceStack* stack = s.get();
  s->deps->start_workflow = [runner, stack](const std::string& workflow, const std::string& schema,
                                            const std::string& trigger) {
    if (!stack->MarkRunning(workflow)) {
      spdlog::error("workflow {} is running in this process: not started again from within it", workflow);
      return false;
    }
    workflow::RunRequest request;
    request.workflow = workflow;
    request.schema = schema;
    request.trigger = trigger;
    // On a thread of its own: a user workflow's script session cannot share
    // the thread of the script that started it.
    Result<workflow::RunRecord> run = Status::Internal("not run");
    std::thread([&] { run = runner->Run(request); }).join();
    stack->MarkDone(workflow);
    if (!run.ok()) {
      spdlog::error("workflow {} could not run: {}", workflow, run.status().message());
      return run.status().code() != Status::Code::kNotFound;
    }
    return true;
  };
  s->subscriptions = std::make_unique<subscription::Intake>(*s->pool, config.Get("cloud_db"), s->schemas);
  SB_RETURN_IF_ERROR(s->subscriptions->Prepare());
  s->deps->subscriptions = s->subscriptions.get();
  s->queries = std::make_unique<query::Engine>(s->schemas, QueryEngineOptionsFrom(config, 2));
  s->deps->queries = s->queries.get();
  s->user_workflows = std::make_unique<script::UserWorkflowSet>(ScriptEnvFrom(config, *s->router, *s->authenticator),
                                                                config.Get("workflows_dir"));
  script::LoadReport report = s->user_workflows->Reload();
  for (const std::string& e : report.errors) spdlog::warn("workflows: {}", e);
  s->runner->set_user_workflows(s->user_workflows.get());
  script::UserWorkflowSet* user = s->user_workflows.get();
  s->deps->workflow_operator = [user](const std::string& name) { return user->OperatorOf(name); };
  services::RegisterAll(*s->router, *s->deps);
  return s;
}

bool ServiceStack::MarkRunning(const std::string& workflow) {
  std::lock_guard lock(running_mu_);
  return running_.insert(workflow).second;
}

void ServiceStack::MarkDone(const std::string& workflow) {
  std::lock_guard lock(running_mu_);
  running_.erase(workflow);
}

ServiceStack::~ServiceStack() {
  if (writer) writer->Stop();
}

}  // namespace stagebridge::cli
