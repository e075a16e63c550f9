// services.h — the SOAP services: thin adapters from SOAP parameters to the
// modules below (auth, staging, schema). One file per service.
//
//   xtk:session  Logon, Logoff, GetUserInfo, Ingest, IngestExt
//   xtk:persist  GetEntityIfMoreRecent (method discovery, compiled schemas)
//   nms:replicationStrategy  StartReplicateStagingData (run the staging sync now)
//   nms:subscription  Subscribe, Unsubscribe (staged requests, applied by ffdaUnsubscribe)
//   xtk:queryDef  ExecuteQuery, SelectAll (reading staging and cloud schemas back)
//   xtk:workflow  Start (run a technical or user workflow now)
//
// Thread-safety: the services hold references to thread-safe components only.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "auth/authenticator.h"
#include "query/engine.h"
#include "schema/schema_set.h"
#include "soap/router.h"
#include "staging/writer.h"
#include "subscription/intake.h"

namespace stagebridge::services {

struct Deps {
  auth::Authenticator& authenticator;
  const schema::SchemaSet& schemas;
  staging::StagingWriter& writer;
  const soap::Router& router;  // for discovery: the registered services
  std::string instance_name = "stagebridge";
  std::int64_t session_lifetime_seconds = 86400;
  // Queues a run of a technical workflow (the scheduler's RunNow); false when
  // no scheduler runs it. Empty in processes without a scheduler.
  std::function<bool(const std::string& workflow, const std::string& schema, const std::string& trigger)>
      start_workflow;
  // The operator a user workflow runs as; nullopt for a technical or unknown
  // one (xtk:workflow#Start's rights). May be empty.
  std::function<std::optional<std::string>(const std::string& workflow)> workflow_operator = {};
  // Checks and stages Subscribe/Unsubscribe calls; null in processes that do not serve them.
  subscription::Intake* subscriptions = nullptr;
  // Runs ExecuteQuery; null in processes that do not serve queries.
  query::Engine* queries = nullptr;
};

soap::ServiceDef MakeSessionService(Deps& deps);
soap::ServiceDef MakePersistService(Deps& deps);
soap::ServiceDef MakeReplicationService(Deps& deps);
soap::ServiceDef MakeSubscriptionService(Deps& deps);
soap::ServiceDef MakeQueryDefService(Deps& deps);
soap::ServiceDef MakeWorkflowService(Deps& deps);

// Registers every service on `router`.
void RegisterAll(soap::Router& router, Deps& deps);

// The compiled schema document GetEntityIfMoreRecent returns for `id`:
// `<schema …>` with the schema's elements (if it is a data schema) and a
// `<methods>` block (if it is a service). Empty when `id` is unknown.
std::string EntitySchemaXml(const std::string& id, const Deps& deps);

}  // namespace stagebridge::services
