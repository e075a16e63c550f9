// runner.h — runs the technical workflows of SPEC §4, one run per workflow at a
// time across every process sharing the local database (a lease, renewed by a
// heartbeat while the run lasts; a crashed holder's lease expires), and records
// each run in the history.
//
//   ffdaReplicateStagingData  merge every staged schema (or one) into the cloud
//   ffdaUnsubscribe           apply the staged subscription requests (after merging the
//                             staged recipients and services they may refer to)
//   cleanup                   purge old run history, expired sessions, merged leftovers
//
// Thread-safety: thread-safe; Run() blocks for the whole run.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "schema/schema_set.h"
#include "store/pool.h"
#include "sync/merger.h"
#include "workflow/history.h"

namespace stagebridge::workflow {

inline constexpr const char* kReplicate = "ffdaReplicateStagingData";
inline constexpr const char* kUnsubscribe = "ffdaUnsubscribe";
inline constexpr const char* kCleanup = "cleanup";

// The workflows Run() knows, in display order.
const std::vector<std::string>& Workflows();

struct RunnerOptions {
  std::string cloud_url;
  std::int64_t batch_rows = 1000000;
  std::int64_t lease_seconds = 60;
  std::int64_t history_days = 30;
  std::int64_t subscription_batch = 10000;  // subscription requests per cloud transaction
  // Cleanup hook purging expired sessions (the auth module owns them); may be empty.
  std::function<Result<std::int64_t>()> purge_sessions;
};

// Workflows defined outside this module: the user workflows of JavaScript
// activities (src/script). The Runner gives them the same lease and run history
// as the technical ones, and hands them the run to execute.
class UserWorkflows {
 public:
  virtual ~UserWorkflows() = default;
  // The user workflows defined now, in display order.
  virtual std::vector<std::string> Names() const = 0;
  // Executes `run` (recorded "running", the lease held) on `local`, the run's
  // own connection, which it may use for its log (AppendLog). An error stops
  // the run in error with the status's message. `stop` is set when the server
  // stops.
  virtual Status Execute(RunRecord& run, store::Database& local, const std::atomic<bool>* stop) = 0;
};

struct RunRequest {
  std::string workflow;
  std::string schema;  // replicate: source schemas ("dem:sampleTable", comma-separated), "" = all
  std::string trigger = "cli";
  bool wait_for_lease = true;  // false: fail with kFailedPrecondition when another run holds it
  std::function<void(const sync::Progress&)> on_progress;
  const std::atomic<bool>* stop = nullptr;  // set to end the run after its current batch
};

// A run holds up to three connections of the local pool at once (its own, the
// staging reader, and for ffdaUnsubscribe the nested merge's), plus a heartbeat's
// now and then, two with the nested run: size the pool for them and other users.
class Runner {
 public:
  Runner(store::ConnectionPool& local, const schema::SchemaSet& schemas, RunnerOptions options);

  // Creates the history and lease tables. Call once before Run().
  Status Prepare();

  // Runs a workflow to its end. A run that fails (cloud unreachable, say) is
  // returned with status "error" and its error text; a Status error means it
  // could not start (unknown workflow or schema, local database down, lease busy).
  Result<RunRecord> Run(const RunRequest& request);

  const std::string& holder() const { return holder_; }

  // Lets Run() run user workflows too (null: none). Set before any Run().
  void set_user_workflows(UserWorkflows* user) { user_ = user; }
  // Every workflow Run() knows: the technical ones, then the user workflows.
  std::vector<std::string> Known() const;

 private:
  Status Replicate(const RunRequest& request, const std::vector<const schema::Schema*>& sources, RunRecord& run,
                   store::Database& local, const std::atomic<bool>& lease_lost);
  Status Subscriptions(const RunRequest& request, RunRecord& run, store::Database& local,
                       const std::atomic<bool>& lease_lost);
  Status Cleanup(RunRecord& run, store::Database& local);
  // The cloud database for a run (SYN-500001 when unavailable).
  Result<std::unique_ptr<store::Database>> OpenCloud() const;
  // Staged source schemas to merge: all, or those named (comma-separated).
  Result<std::vector<const schema::Schema*>> Sources(const std::string& name) const;

  store::ConnectionPool& local_;
  const schema::SchemaSet& schemas_;
  const RunnerOptions options_;
  std::string holder_;
  UserWorkflows* user_ = nullptr;
};

}  // namespace stagebridge::workflow
