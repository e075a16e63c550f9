// history.h — the run history of the technical workflows, in the local database,
// and the lease that keeps one run per workflow at a time across processes.
//
// Tables (local database):
//   SbWorkflowRun       (iRunId, sWorkflow, sTrigger, sHolder, iStart, iEnd, sStatus, mError)
//   SbWorkflowRunSchema (iRunId, sSchema, iStaged, iInserted, iUpdated, iDeleted, iRejected,
//                        iBatches, mRejections)
//   SbWorkflowLease     (sWorkflow, sHolder, iExpires)
//   SbWorkflowLog       (iRunId, iSeq, iTime, sActivity, sLevel, mText)  user workflows' log lines
// Times are epoch seconds. Status: running, done, error, interrupted (the holder
// died; found by the next run).
//
// Thread-safety: stateless functions over the given connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/database.h"
#include "sync/merger.h"

namespace stagebridge::workflow {

// The wall clock, epoch seconds. Functions reading the time take it as a last
// parameter defaulting to this, so tests pass their own.
std::int64_t NowSeconds();

struct RunRecord {
  std::int64_t id = 0;
  std::string workflow;
  std::string trigger;  // "schedule", "cli", "soap"
  std::string holder;   // the process that ran it (host:pid)
  std::int64_t started = 0;
  std::int64_t ended = 0;  // 0 while running
  std::string status;      // running | done | error | interrupted
  std::string error;
  std::vector<sync::SchemaResult> schemas;
};

Status EnsureHistoryTables(store::Database& db);

Result<std::int64_t> StartRun(store::Database& db, std::string_view workflow, std::string_view trigger,
                              std::string_view holder);
// Records (replaces) the outcome of one schema in the run.
Status RecordSchema(store::Database& db, std::int64_t run, const sync::SchemaResult& result);
// Records the run's end: its status, error and end time (`ended`, epoch seconds: a
// run whose end is recorded late passes the time it really ended).
Status FinishRun(store::Database& db, std::int64_t run, std::string_view status, std::string_view error,
                 std::int64_t ended = NowSeconds());
// Runs of `workflow` still "running" whose holder is not `current_holder` and
// does not hold the lease (it died: the lease expired or was taken over) become
// "interrupted". A run whose holder still holds the lease is left alone.
Status MarkInterrupted(store::Database& db, std::string_view workflow, std::string_view current_holder,
                       std::int64_t now = NowSeconds());

// The newest runs of `workflow` ("" = every workflow), newest first.
Result<std::vector<RunRecord>> ListRuns(store::Database& db, std::string_view workflow, int limit);
Result<RunRecord> GetRun(store::Database& db, std::int64_t run);
// One log line of a run (user workflows: logInfo and the like, and the activity's
// error). Level: info | warning | error | verbose.
struct LogLine {
  std::int64_t time = 0;  // epoch seconds
  std::string activity;
  std::string level;
  std::string text;
};
// Appends lines to a run's log, in order, in one transaction.
Status AppendLog(store::Database& db, std::int64_t run, const std::vector<LogLine>& lines);
// A run's log lines, oldest first.
Result<std::vector<LogLine>> ListLog(store::Database& db, std::int64_t run);

// Deletes finished runs that ended before `before` (epoch seconds), with their
// figures and log lines; returns how many.
Result<std::int64_t> PurgeRuns(store::Database& db, std::int64_t before);

// The lease: held by `holder` while now < iExpires (= the time it was taken or
// renewed + ttl_seconds; a ttl <= 0 gives a lease that has already expired).
// TryAcquireLease takes it when free, expired, or already ours; RenewLease
// extends it (false when lost: another holder took it).
Result<bool> TryAcquireLease(store::Database& db, std::string_view workflow, std::string_view holder,
                             std::int64_t ttl_seconds, std::int64_t now = NowSeconds());
Result<bool> RenewLease(store::Database& db, std::string_view workflow, std::string_view holder,
                        std::int64_t ttl_seconds, std::int64_t now = NowSeconds());
Status ReleaseLease(store::Database& db, std::string_view workflow, std::string_view holder);
// Who holds the lease now, if anyone.
Result<std::optional<std::string>> LeaseHolder(store::Database& db, std::string_view workflow,
                                               std::int64_t now = NowSeconds());

}  // namespace stagebridge::workflow
