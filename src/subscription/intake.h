// intake.h — the call-time half of Subscribe/Unsubscribe: checks the service
// names and the recipient, then stages the requests durably; the answer goes
// out once they are committed in the local database.
//
// A service is known when its nms:service row is in the cloud table or staged
// (written through IngestExt, waiting for the sync: the subscription workflow
// merges recipients and services before applying requests). Known names are
// cached for `cache_seconds`; the cloud is asked only about names not cached.
//
// Errors (docs/faults.md): SUB-200001 unknown service, SUB-200002/3 and
// STG-200003/4 from DecodeRequests, SUB-500001 the cloud could not be asked,
// STG-500001 the local database is unavailable.
//
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <pugixml.hpp>

#include "base/status.h"
#include "schema/schema_set.h"
#include "store/pool.h"
#include "subscription/requests.h"

namespace stagebridge::subscription {

class Intake {
 public:
  Intake(store::ConnectionPool& local, std::string cloud_url, const schema::SchemaSet& schemas, int cache_seconds = 30);

  // Creates the request table. Call once before Accept().
  Status Prepare();

  // Validates and stages one Subscribe or Unsubscribe call; returns once committed.
  Status Accept(Action action, std::string_view service_names, pugi::xml_node recipient, bool create,
                const std::string& origin);

  // OK when every non-empty name is a known service; SUB-200001 names the first unknown.
  Status CheckServices(const std::vector<std::string>& names);

 private:
  Result<bool> Staged(const std::string& name);

  store::ConnectionPool& local_;
  const std::string cloud_url_;
  const schema::SchemaSet& schemas_;
  const std::chrono::seconds cache_ttl_;
  std::mutex mu_;
  std::unique_ptr<store::Database> cloud_;  // GUARDED_BY(mu_); opened on first use, dropped on error
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> known_;  // GUARDED_BY(mu_)
};

}  // namespace stagebridge::subscription
