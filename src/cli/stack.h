// stack.h — the SOAP services in a process that is not `serve` (`script run`,
// `workflow run` of a user workflow): the same schemas, staging writer, router
// and services, so a script's Ingest is the server's Ingest. With no scheduler
// here, a workflow a script starts (StartReplicateStagingData,
// xtk.workflow.Start) runs at once and the call returns after it.
//
// Thread-safety: as its parts; build it on one thread.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "auth/authenticator.h"
#include "cli/config.h"
#include "query/engine.h"
#include "schema/schema_set.h"
#include "script/workflows.h"
#include "services/services.h"
#include "soap/router.h"
#include "staging/writer.h"
#include "store/pool.h"
#include "subscription/intake.h"
#include "workflow/runner.h"

namespace stagebridge::cli {

class ServiceStack {
 public:
  static Result<std::unique_ptr<ServiceStack>> Open(const Config& config);
  ~ServiceStack();  // stops the staging writer (every acknowledged write committed)
  ServiceStack(const ServiceStack&) = delete;
  ServiceStack& operator=(const ServiceStack&) = delete;

  // The workflows running in this process (the Runner's lease is re-entrant for
  // its own holder): false when `workflow` is already running here.
  bool MarkRunning(const std::string& workflow);
  void MarkDone(const std::string& workflow);

  schema::SchemaSet schemas;
  std::unique_ptr<store::ConnectionPool> pool;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::unique_ptr<staging::StagingWriter> writer;
  std::unique_ptr<soap::Router> router;
  std::unique_ptr<subscription::Intake> subscriptions;
  std::unique_ptr<query::Engine> queries;
  std::unique_ptr<services::Deps> deps;
  std::unique_ptr<workflow::Runner> runner;
  std::unique_ptr<script::UserWorkflowSet> user_workflows;

 private:
  ServiceStack() = default;
  std::mutex running_mu_;
  std::set<std::string> running_;  // GUARDED_BY(running_mu_)
};

}  // namespace stagebridge::cli
