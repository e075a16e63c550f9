// history.cc — run history and lease tables.
#include "workflow/history.h"

#include <chrono>

#include <fmt/format.h>

#include "store/sequence.h"
#include "store/table_spec.h"

namespace stagebridge::workflow {
namespace {

constexpr const char* kRunSequence = "SbWorkflowRunSeq";

std::int64_t Int(const store::Value& v) {
  if (std::holds_alternative<std::int64_t>(v)) return std::get<std::int64_t>(v);
  if (std::holds_alternative<std::string>(v)) return std::stoll(std::get<std::string>(v));
  return 0;
}

std::string Text(const store::Value& v) {
  return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : std::string();
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

constexpr const char* kRunColumns = "iRunId, sWorkflow, sTrigger, sHolder, iStart, iEnd, sStatus, mError";

RunRecord RunFrom(const store::Row& r) {
  RunRecord run;
  run.id = Int(r[0]);
  run.workflow = Text(r[1]);
  run.trigger = Text(r[2]);
  run.holder = Text(r[3]);
  run.started = Int(r[4]);
  run.ended = Int(r[5]);
  run.status = Text(r[6]);
  run.error = Text(r[7]);
  return run;
}

Status LoadSchemas(store::Database& db, RunRecord& run) {
  SB_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT sSchema, iStaged, iInserted, iUpdated, iDeleted, iRejected, "
                                          "iBatches, mRejections FROM SbWorkflowRunSchema WHERE iRunId = $1 ORDER "
                                          "BY sSchema",
                                          {run.id}));
  for (const store::Row& r : rows) {
    sync::SchemaResult s;
    s.schema = Text(r[0]);
    s.staged = Int(r[1]);
    s.inserted = Int(r[2]);
    s.updated = Int(r[3]);
    s.deleted = Int(r[4]);
    s.rejected = Int(r[5]);
    s.batches = Int(r[6]);
    s.rejections = SplitLines(Text(r[7]));
    run.schemas.push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Status EnsureHistoryTables(store::Database& db) {
  using store::ColumnType;
  store::TableSpec run;
  run.name = "SbWorkflowRun";
  run.columns = {{"iRunId", ColumnType::kInt64, 0, true, ""},     {"sWorkflow", ColumnType::kString, 64, true, ""},
                 {"sTrigger", ColumnType::kString, 32, true, ""}, {"sHolder", ColumnType::kString, 255, true, ""},
                 {"iStart", ColumnType::kInt64, 0, true, "0"},    {"iEnd", ColumnType::kInt64, 0, true, "0"},
                 {"sStatus", ColumnType::kString, 16, true, ""},  {"mError", ColumnType::kText, 0, false, ""}};
  run.primary_key = {"iRunId"};
  run.indexes = {{"SbWorkflowRun_workflow", false, {"sWorkflow", "iRunId"}}};
  SB_RETURN_IF_ERROR(store::EnsureTable(db, run).status());

  store::TableSpec schemas;
  schemas.name = "SbWorkflowRunSchema";
  schemas.columns = {{"iRunId", ColumnType::kInt64, 0, true, ""},     {"sSchema", ColumnType::kString, 255, true, ""},
                     {"iStaged", ColumnType::kInt64, 0, true, "0"},   {"iInserted", ColumnType::kInt64, 0, true, "0"},
                     {"iUpdated", ColumnType::kInt64, 0, true, "0"},  {"iDeleted", ColumnType::kInt64, 0, true, "0"},
                     {"iRejected", ColumnType::kInt64, 0, true, "0"}, {"iBatches", ColumnType::kInt64, 0, true, "0"},
                     {"mRejections", ColumnType::kText, 0, false, ""}};
  schemas.primary_key = {"iRunId", "sSchema"};
  SB_RETURN_IF_ERROR(store::EnsureTable(db, schemas).status());

  store::TableSpec lease;
  lease.name = "SbWorkflowLease";
  lease.columns = {{"sWorkflow", ColumnType::kString, 64, true, ""},
                   {"sHolder", ColumnType::kString, 255, true, "''"},
                   {"iExpires", ColumnType::kInt64, 0, true, "0"}};
  lease.primary_key = {"sWorkflow"};
  SB_RETURN_IF_ERROR(store::EnsureTable(db, lease).status());

  store::TableSpec log;
  log.name = "SbWorkflowLog";
  log.columns = {
      {"iRunId", ColumnType::kInt64, 0, true, ""},         {"iSeq", ColumnType::kInt64, 0, true, ""},
      {"iTime", ColumnType::kInt64, 0, true, "0"},         {"sActivity", ColumnType::kString, 255, true, "''"},
      {"sLevel", ColumnType::kString, 16, true, "'info'"}, {"mText", ColumnType::kText, 0, false, ""}};
  log.primary_key = {"iRunId", "iSeq"};
  SB_RETURN_IF_ERROR(store::EnsureTable(db, log).status());
  return store::EnsureSequence(db, kRunSequence);
}

Result<std::int64_t> StartRun(store::Database& db, std::string_view workflow, std::string_view trigger,
                              std::string_view holder) {
  store::Transaction txn(db);
  SB_RETURN_IF_ERROR(txn.Begin());
  SB_ASSIGN_OR_RETURN(auto ids, store::NextSequenceValues(db, kRunSequence, 1));
  SB_RETURN_IF_ERROR(
      db.Execute("INSERT INTO SbWorkflowRun (iRunId, sWorkflow, sTrigger, sHolder, iStart, iEnd, "
                 "sStatus, mError) VALUES ($1, $2, $3, $4, $5, 0, 'running', '')",
                 {ids[0], std::string(workflow), std::string(trigger), std::string(holder), NowSeconds()})
          .status());
  SB_RETURN_IF_ERROR(txn.Commit());
  return ids[0];
}

Status RecordSchema(store::Database& db, std::int64_t run, const sync::SchemaResult& r) {
  std::string rejections = fmt::format("{}", fmt::join(r.rejections, "\n"));
  return db
      .Execute(
          "INSERT INTO SbWorkflowRunSchema (iRunId, sSchema, iStaged, iInserted, iUpdated, iDeleted, iRejected, "
          "iBatches, mRejections) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (iRunId, sSchema) DO "
          "UPDATE SET iStaged = excluded.iStaged, iInserted = excluded.iInserted, iUpdated = excluded.iUpdated, "
          "iDeleted = excluded.iDeleted, iRejected = excluded.iRejected, iBatches = excluded.iBatches, "
          "mRejections = excluded.mRejections",
          {run, r.schema, r.staged, r.inserted, r.updated, r.deleted, r.rejected, r.batches, rejections})
      .status();
}

Status FinishRun(store::Database& db, std::int64_t run, std::string_view status, std::string_view error,
                 std::int64_t ended) {
  return db
      .Execute("UPDATE SbWorkflowRun SET iEnd = $2, sStatus = $3, mError = $4 WHERE iRunId = $1",
               {run, ended, std::string(status), std::string(error)})
      .status();
}

Status MarkInterrupted(store::Database& db, std::string_view workflow, std::string_view current_holder,
                       std::int64_t now) {
  return db
      .Execute(
          "UPDATE SbWorkflowRun SET sStatus = 'interrupted', iEnd = $3, mError = 'the process running it "
          "stopped (crash or kill) before it finished; its unmerged rows stayed staged' WHERE sWorkflow = $1 "
          "AND sStatus = 'running' AND sHolder <> $2 AND NOT EXISTS (SELECT 1 FROM SbWorkflowLease l WHERE "
          "l.sWorkflow = SbWorkflowRun.sWorkflow AND l.sHolder = SbWorkflowRun.sHolder AND l.iExpires > $3)",
          {std::string(workflow), std::string(current_holder), now})
      .status();
}

Result<std::vector<RunRecord>> ListRuns(store::Database& db, std::string_view workflow, int limit) {
  std::string sql = fmt::format("SELECT {} FROM SbWorkflowRun {} ORDER BY iRunId DESC LIMIT $1", kRunColumns,
                                workflow.empty() ? "WHERE sWorkflow <> $2" : "WHERE sWorkflow = $2");
  SB_ASSIGN_OR_RETURN(auto rows, db.Query(sql, {static_cast<std::int64_t>(limit), std::string(workflow)}));
  std::vector<RunRecord> out;
  for (const store::Row& r : rows) {
    out.push_back(RunFrom(r));
    SB_RETURN_IF_ERROR(LoadSchemas(db, out.back()));
  }
  return out;
}

Result<RunRecord> GetRun(store::Database& db, std::int64_t run) {
  SB_ASSIGN_OR_RETURN(auto rows,
                      db.Query(fmt::format("SELECT {} FROM SbWorkflowRun WHERE iRunId = $1", kRunColumns), {run}));
  if (rows.empty()) return Status::NotFound(fmt::format("no run {}", run));
  RunRecord out = RunFrom(rows[0]);
  SB_RETURN_IF_ERROR(LoadSchemas(db, out));
  return out;
}

Status AppendLog(store::Database& db, std::int64_t run, const std::vector<LogLine>& lines) {
  if (lines.empty()) return Status::Ok();
  store::Transaction txn(db);
  SB_RETURN_IF_ERROR(txn.Begin());
  SB_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT COALESCE(MAX(iSeq), 0) FROM SbWorkflowLog WHERE iRunId = $1", {run}));
  std::int64_t seq = rows.empty() ? 0 : Int(rows[0][0]);
  for (const LogLine& line : lines) {
    SB_RETURN_IF_ERROR(db.Execute("INSERT INTO SbWorkflowLog (iRunId, iSeq, iTime, sActivity, sLevel, mText) VALUES "
                                  "($1, $2, $3, $4, $5, $6)",
                                  {run, ++seq, line.time, line.activity, line.level, line.text})
                           .status());
  }
  return txn.Commit();
}

Result<std::vector<LogLine>> ListLog(store::Database& db, std::int64_t run) {
  SB_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT iTime, sActivity, sLevel, mText FROM SbWorkflowLog WHERE iRunId = "
                                          "$1 ORDER BY iSeq",
                                          {run}));
  std::vector<LogLine> out;
  out.reserve(rows.size());
  for (const store::Row& r : rows) out.push_back({Int(r[0]), Text(r[1]), Text(r[2]), Text(r[3])});
  return out;
}

Result<std::int64_t> PurgeRuns(store::Database& db, std::int64_t before) {
  store::Transaction txn(db);
  SB_RETURN_IF_ERROR(txn.Begin());
  SB_RETURN_IF_ERROR(db.Execute("DELETE FROM SbWorkflowLog WHERE iRunId IN (SELECT iRunId FROM SbWorkflowRun "
                                "WHERE sStatus <> 'running' AND iEnd < $1)",
                                {before})
                         .status());
  SB_RETURN_IF_ERROR(db.Execute("DELETE FROM SbWorkflowRunSchema WHERE iRunId IN (SELECT iRunId FROM SbWorkflowRun "
                                "WHERE sStatus <> 'running' AND iEnd < $1)",
                                {before})
                         .status());
  SB_ASSIGN_OR_RETURN(std::int64_t n,
                      db.Execute("DELETE FROM SbWorkflowRun WHERE sStatus <> 'running' AND iEnd < $1", {before}));
  SB_RETURN_IF_ERROR(txn.Commit());
  return n;
}

Result<bool> TryAcquireLease(store::Database& db, std::string_view workflow, std::string_view holder,
                             std::int64_t ttl_seconds, std::int64_t now) {
  SB_RETURN_IF_ERROR(db.Execute("INSERT INTO SbWorkflowLease (sWorkflow, sHolder, iExpires) VALUES ($1, '', 0) ON "
                                "CONFLICT DO NOTHING",
                                {std::string(workflow)})
                         .status());
  // Expired when iExpires <= now: the same instant LeaseHolder() stops naming
  // the holder, so a lease is never both free to take and reported held.
  SB_ASSIGN_OR_RETURN(std::int64_t n, db.Execute("UPDATE SbWorkflowLease SET sHolder = $2, iExpires = $3 WHERE "
                                                 "sWorkflow = $1 AND (sHolder = $2 OR iExpires <= $4)",
                                                 {std::string(workflow), std::string(holder), now + ttl_seconds, now}));
  return n == 1;
}

Result<bool> RenewLease(store::Database& db, std::string_view workflow, std::string_view holder,
                        std::int64_t ttl_seconds, std::int64_t now) {
  SB_ASSIGN_OR_RETURN(std::int64_t n,
                      db.Execute("UPDATE SbWorkflowLease SET iExpires = $3 WHERE sWorkflow = $1 AND sHolder = $2",
                                 {std::string(workflow), std::string(holder), now + ttl_seconds}));
  return n == 1;
}

Status ReleaseLease(store::Database& db, std::string_view workflow, std::string_view holder) {
  return db
      .Execute("UPDATE SbWorkflowLease SET sHolder = '', iExpires = 0 WHERE sWorkflow = $1 AND sHolder = $2",
               {std::string(workflow), std::string(holder)})
      .status();
}

Result<std::optional<std::string>> LeaseHolder(store::Database& db, std::string_view workflow, std::int64_t now) {
  SB_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT sHolder FROM SbWorkflowLease WHERE sWorkflow = $1 AND iExpires > $2 "
                                          "AND sHolder <> ''",
                                          {std::string(workflow), now}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(Text(rows[0][0]));
}

}  // namespace stagebridge::workflow
