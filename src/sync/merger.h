// merger.h — the staging → cloud merge of one staged schema, exactly once
// (docs/sync.md).
//
// The cycle, per schema: read the cloud's applied watermark W for this local
// database; clear staged rows with iStgSeq <= W (merged by a run that died before
// its clean-up); take the staging watermark S (on PostgreSQL under a SHARE lock,
// so every write holding a sequence number <= S has committed); then, batch by
// batch over (W, S] in sequence order: stream the rows into a temporary table in
// the cloud, merge them set-based, advance W in the same cloud transaction,
// commit, and clear the batch from staging. A write that lands meanwhile gets a
// sequence number > S and waits for the next run.
//
// Thread-safety: a Merger uses its two connections from the calling thread plus
// one reader thread per batch; use one Merger per run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "schema/model.h"
#include "store/database.h"
#include "store/table_spec.h"

namespace stagebridge::sync {

// At most this many rejected keys are recorded per schema and run (all are counted).
inline constexpr int kMaxRecordedRejections = 1000;
// Rows between two loading progress reports.
inline constexpr std::int64_t kProgressRows = 65536;

struct SchemaResult {
  std::string schema;       // the source schema, "dem:sampleTable"
  std::int64_t staged = 0;  // staged rows merged (each row is one key's last operation)
  std::int64_t inserted = 0;
  std::int64_t updated = 0;
  std::int64_t deleted = 0;
  std::int64_t rejected = 0;
  std::vector<std::string> rejections;  // "id=…: why", at most kMaxRecordedRejections
  std::int64_t batches = 0;
  std::int64_t leftovers_cleared = 0;  // rows a crashed run merged but did not clear
};

struct Progress {
  std::string schema;
  std::int64_t done = 0;   // staged rows merged (phase "merged") or streamed to the cloud (phase "loading") so far
  std::int64_t total = 0;  // staged rows this run merges
  double seconds = 0;      // since the schema's merge started
  std::string phase = "merged";
};

struct MergeOptions {
  std::int64_t batch_rows = 1000000;  // rows per cloud transaction (memory stays bounded whatever this is)
  // Called after each committed batch; an error stops the merge (the lease was lost, say).
  std::function<Status(const Progress&)> on_batch;
  // Called while a batch streams into the cloud, every kProgressRows rows (phase "loading").
  std::function<void(const Progress&)> on_loading;
};

class Merger {
 public:
  // `local` holds the staging tables; `cloud` the cloud tables. Both stay owned by the caller.
  Merger(store::Database& local, store::Database& cloud, MergeOptions options = {});

  // Merges every row staged for `source` up to now. REQUIRES: source.stg_schema
  // names `stg`, and both tables exist (schema apply). `result` tells what was
  // merged, also when an error stops the merge after some batches committed.
  Status Merge(const schema::Schema& source, const schema::Schema& stg, SchemaResult& result);

 private:
  store::Database& local_;
  store::Database& cloud_;
  MergeOptions options_;
};

// The identity of a local database (a uuid kept in its SbInstance table), under
// which the cloud records what it has applied from it.
Result<std::string> LocalSourceId(store::Database& local);

// Clears the staged rows of `stg` the cloud already applied (left by a run that
// died between its cloud commit and its clean-up); returns how many.
Result<std::int64_t> ClearMerged(store::Database& local, store::Database& cloud, const schema::Schema& source,
                                 const schema::Schema& stg);

// Creates the cloud bookkeeping table SbAppliedSeq if missing.
Status EnsureCloudBookkeeping(store::Database& cloud);

// The applied watermark of (this local database, schema) in the cloud; 0 if none.
Result<std::int64_t> AppliedWatermark(store::Database& cloud, std::string_view source_id, std::string_view schema);

// Small helpers shared with the subscription processing:
// a value read back as an integer (0 for NULL or text that is not one);
std::int64_t AsInt(const store::Value& v);
// the first cell of a query as an integer (0 when there is no row or it is NULL);
Result<std::int64_t> ScalarInt(store::Database& db, std::string_view sql, const store::Params& params);
// EnsureTable, tolerating another connection creating the table at the same moment;
Status EnsureTableRacing(store::Database& db, const store::TableSpec& spec);
// the highest sequence number in `column` of `table` such that no write holding
// a lower or equal number can still commit (on PostgreSQL taken under a SHARE
// lock on the table: writers must draw their numbers inside their statements).
Result<std::int64_t> HighestSequence(store::Database& local, const std::string& table, const std::string& column);

// Fault injection for the crash tests: in a build with STAGEBRIDGE_FAULT_INJECTION,
// kills the process (SIGKILL) when $STAGEBRIDGE_CRASH_AT equals `point`; does
// nothing otherwise. Points, in cycle order: "leftovers", "watermark", "loaded",
// "merged", "committed", "clearing", "cleared".
void CrashPoint(std::string_view point);

}  // namespace stagebridge::sync
