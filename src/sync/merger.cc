// merger.cc — the claim-free watermark merge of docs/sync.md.
#include "sync/merger.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "staging/record.h"
#include "store/table_spec.h"
#include "sync/merge_sql.h"

namespace stagebridge::sync {
namespace {

// Attempts at a staging clean-up that PostgreSQL aborted (a deadlock with a writer).
constexpr int kClearAttempts = 5;
constexpr std::size_t kChunkRows = 512;
constexpr std::size_t kMaxChunks = 16;  // rows in flight between the reader and the loader: 8192
constexpr std::size_t kRawChunkBytes = std::size_t{256} * 1024;
constexpr std::size_t kMaxRawChunks = 4;  // raw COPY: at most 1 MiB in flight

// Chunks handed from the staging reader thread to the cloud loader, with a
// bounded number in flight: memory does not grow with the batch.
template <typename Chunk>
class Pipe {
 public:
  explicit Pipe(std::size_t max_chunks) : max_chunks_(max_chunks) {}

  // Blocks while the pipe is full; false when the loader gave up.
  bool Push(Chunk chunk) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return cancelled_ || chunks_.size() < max_chunks_; });
    if (cancelled_) return false;
    chunks_.push_back(std::move(chunk));
    not_empty_.notify_one();
    return true;
  }
  // Blocks until a chunk or the end; false at the end.
  bool Pop(Chunk& chunk) {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return finished_ || !chunks_.empty(); });
    if (chunks_.empty()) return false;
    chunk = std::move(chunks_.front());
    chunks_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void Finish(Status status) {
    std::lock_guard lock(mu_);
    finished_ = true;
    status_ = std::move(status);
    not_empty_.notify_all();
  }
  void Cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    not_full_.notify_all();
  }
  Status status() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  const std::size_t max_chunks_;
  std::deque<Chunk> chunks_;  // GUARDED_BY(mu_)
  bool finished_ = false;     // GUARDED_BY(mu_)
  bool cancelled_ = false;    // GUARDED_BY(mu_)
  Status status_;             // GUARDED_BY(mu_)
};

}  // namespace

std::int64_t AsInt(const store::Value& v) {
  if (std::holds_alternative<std::int64_t>(v)) return std::get<std::int64_t>(v);
  if (std::holds_alternative<double>(v)) return static_cast<std::int64_t>(std::get<double>(v));
  if (std::holds_alternative<std::string>(v)) return std::strtoll(std::get<std::string>(v).c_str(), nullptr, 10);
  return 0;
}

// A concurrent CREATE TABLE IF NOT EXISTS fails the loser on PostgreSQL (a
// unique violation in its catalog, or "type … already exists"); once the table
// exists a second call finds it, and a real error fails it again.
Status EnsureTableRacing(store::Database& db, const store::TableSpec& spec) {
  if (store::EnsureTable(db, spec).ok()) return Status::Ok();
  return store::EnsureTable(db, spec).status();
}

Result<std::int64_t> ScalarInt(store::Database& db, std::string_view sql, const store::Params& params) {
  SB_ASSIGN_OR_RETURN(auto rows, db.Query(sql, params));
  if (rows.empty() || rows[0].empty() || store::IsNull(rows[0][0])) return std::int64_t{0};
  return AsInt(rows[0][0]);
}

// On PostgreSQL the SHARE lock waits for every transaction writing the table
// (each drew its sequence numbers inside its statements, after taking its lock),
// so no write holding a number <= the result commits later; on SQLite writers
// are serialised and draw their numbers inside their transaction, so the same
// holds of what is visible.
Result<std::int64_t> HighestSequence(store::Database& local, const std::string& table, const std::string& column) {
  std::string max_sql = "SELECT max(" + column + ") FROM " + table;
  if (local.kind() != store::DialectKind::kPostgres) return ScalarInt(local, max_sql, {});
  store::Transaction txn(local);
  SB_RETURN_IF_ERROR(txn.Begin());
  SB_RETURN_IF_ERROR(local.Execute("LOCK TABLE " + table + " IN SHARE MODE").status());
  SB_ASSIGN_OR_RETURN(std::int64_t s, ScalarInt(local, max_sql, {}));
  SB_RETURN_IF_ERROR(txn.Commit());
  return s;
}

namespace {

class SchemaMerge {
 public:
  SchemaMerge(store::Database& local, store::Database& cloud, const MergeOptions& options, const schema::Schema& source,
              const schema::Schema& stg, std::string source_id, SchemaResult& result)
      : local_(local),
        cloud_(cloud),
        options_(options),
        source_(source),
        stg_(stg),
        sql_(source, stg, cloud.kind()),
        source_id_(std::move(source_id)),
        result_(result) {
    result_ = SchemaResult{};
    result_.schema = source.id();
  }

  Status Run() {
    auto started = std::chrono::steady_clock::now();
    SB_RETURN_IF_ERROR(cloud_
                           .Execute("INSERT INTO SbAppliedSeq (sSource, sSchema, iSeq) VALUES ($1, $2, 0) ON CONFLICT "
                                    "DO NOTHING",
                                    {source_id_, source_.id()})
                           .status());
    SB_ASSIGN_OR_RETURN(std::int64_t applied, AppliedWatermark(cloud_, source_id_, source_.id()));
    // Rows a previous run merged but did not clear (it died after its cloud commit).
    CrashPoint("leftovers");
    SB_ASSIGN_OR_RETURN(result_.leftovers_cleared, Clear(applied));
    if (result_.leftovers_cleared > 0) {
      spdlog::info("sync {}: cleared {} staged row(s) already merged by an interrupted run", source_.id(),
                   result_.leftovers_cleared);
    }
    SB_ASSIGN_OR_RETURN(std::int64_t upto, HighestSequence(local_, stg_.sql_table, "iStgSeq"));
    CrashPoint("watermark");
    if (upto <= applied) return Status::Ok();
    SB_ASSIGN_OR_RETURN(
        std::int64_t total,
        ScalarInt(local_, "SELECT count(*) FROM " + stg_.sql_table + " WHERE iStgSeq > $1 AND iStgSeq <= $2",
                  {applied, upto}));
    total_ = total;
    started_ = started;
    SB_RETURN_IF_ERROR(cloud_.Execute(sql_.CreateTemp()).status());
    std::int64_t lo = applied;
    while (lo < upto) {
      // What is left fits one batch (rows only ever leave the range): no need to look for its end.
      bool last = total - result_.staged <= options_.batch_rows;
      SB_ASSIGN_OR_RETURN(std::int64_t hi, last ? Result<std::int64_t>(upto) : BatchEnd(lo, upto));
      SB_RETURN_IF_ERROR(MergeBatch(lo, hi));
      CrashPoint("committed");
      // The last batch's clean-up may truncate (see ClearAll).
      SB_RETURN_IF_ERROR(hi < upto ? Clear(hi).status() : ClearAll(hi));
      CrashPoint("cleared");
      ++result_.batches;
      lo = hi;
      if (options_.on_batch) {
        Progress p{source_.id(), result_.staged, std::max(total, result_.staged),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
        SB_RETURN_IF_ERROR(options_.on_batch(p));
      }
    }
    return Status::Ok();
  }

 private:
  // The last sequence number of the batch starting after `lo`: batch_rows rows on.
  Result<std::int64_t> BatchEnd(std::int64_t lo, std::int64_t upto) {
    SB_ASSIGN_OR_RETURN(auto rows, local_.Query("SELECT iStgSeq FROM " + stg_.sql_table +
                                                    " WHERE iStgSeq > $1 AND iStgSeq <= $2 ORDER BY iStgSeq LIMIT 1 "
                                                    "OFFSET $3",
                                                {lo, upto, std::max<std::int64_t>(options_.batch_rows, 1) - 1}));
    if (rows.empty()) return upto;
    return AsInt(rows[0][0]);
  }

  // Clears every staged row merged up to `upto`. When no row was written since
  // (nothing above `upto`), PostgreSQL truncates the table instead of deleting
  // row by row: under an ACCESS EXCLUSIVE lock (writers wait a moment) the check
  // is repeated, so a write that slipped in is never truncated away.
  Status ClearAll(std::int64_t upto) {
    Status status;
    for (int attempt = 1;; ++attempt) {
      status = ClearAllOnce(upto);
      if (status.ok() || status.code() != Status::Code::kAborted || attempt == kClearAttempts) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
    }
  }

  Status ClearAllOnce(std::int64_t upto) {
    if (local_.kind() != store::DialectKind::kPostgres) return Clear(upto).status();
    std::string above = "SELECT 1 FROM " + stg_.sql_table + " WHERE iStgSeq > $1 LIMIT 1";
    SB_ASSIGN_OR_RETURN(auto newer, local_.Query(above, {upto}));
    if (!newer.empty()) return Clear(upto).status();
    store::Transaction txn(local_);
    SB_RETURN_IF_ERROR(txn.Begin());
    SB_RETURN_IF_ERROR(local_.Execute("LOCK TABLE " + stg_.sql_table + " IN ACCESS EXCLUSIVE MODE").status());
    SB_ASSIGN_OR_RETURN(newer, local_.Query(above, {upto}));
    SB_RETURN_IF_ERROR(local_
                           .Execute(newer.empty() ? "TRUNCATE " + stg_.sql_table
                                                  : "DELETE FROM " + stg_.sql_table + " WHERE iStgSeq <= $1",
                                    newer.empty() ? store::Params{} : store::Params{upto})
                           .status());
    CrashPoint("clearing");
    return txn.Commit();
  }

  // Deletes the staged rows merged up to `upto` (rows written since carry higher
  // numbers). The DELETE can deadlock with a writer's multi-row upsert that locks
  // the same rows in another order; PostgreSQL then aborts one of the two. The
  // clean-up is idempotent and must happen (the cloud already committed), so an
  // aborted attempt is tried again after a short pause.
  Result<std::int64_t> Clear(std::int64_t upto) {
    Result<std::int64_t> n = Status::Internal("not run");
    for (int attempt = 1;; ++attempt) {
      n = ClearOnce(upto);
      if (n.ok() || n.status().code() != Status::Code::kAborted || attempt == kClearAttempts) return n;
      spdlog::info("sync {}: staging clean-up aborted ({}), attempt {} of {}", source_.id(), n.status().message(),
                   attempt + 1, kClearAttempts);
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
    }
  }

  Result<std::int64_t> ClearOnce(std::int64_t upto) {
    store::Transaction txn(local_);
    SB_RETURN_IF_ERROR(txn.Begin());
    SB_ASSIGN_OR_RETURN(std::int64_t n,
                        local_.Execute("DELETE FROM " + stg_.sql_table + " WHERE iStgSeq <= $1", {upto}));
    CrashPoint("clearing");
    SB_RETURN_IF_ERROR(txn.Commit());
    return n;
  }

  Status MergeBatch(std::int64_t lo, std::int64_t hi) {
    store::Transaction txn(cloud_);
    SB_RETURN_IF_ERROR(txn.Begin());
    // Fence: the watermark must still be where this run found it. A second
    // merger (a lease that expired under a stalled holder) cannot apply twice.
    std::string lock_sql = "SELECT iSeq FROM SbAppliedSeq WHERE sSource = $1 AND sSchema = $2";
    if (cloud_.kind() == store::DialectKind::kPostgres) lock_sql += " FOR UPDATE";
    SB_ASSIGN_OR_RETURN(std::int64_t current, ScalarInt(cloud_, lock_sql, {source_id_, source_.id()}));
    if (current != lo) {
      return CodedError(Status::Code::kAborted, "SYN-300002",
                        fmt::format("The applied watermark of '{}' moved from {} to {} during the run (another run "
                                    "merged concurrently); this batch was not applied.",
                                    source_.id(), lo, current));
    }
    SB_RETURN_IF_ERROR(cloud_.Execute(sql_.EmptyTemp()).status());
    BatchKinds kinds;
    kinds.counts.assign(static_cast<std::size_t>(sql_.kinds()), {0, 0, 0, 0});
    bool raw = local_.kind() == store::DialectKind::kPostgres && cloud_.kind() == store::DialectKind::kPostgres;
    SB_RETURN_IF_ERROR(raw ? LoadRaw(lo, hi, kinds) : Load(lo, hi, kinds));
    CrashPoint("loaded");
    // The batch's figures count only once it committed (a failed batch changed nothing).
    SchemaResult batch;
    std::int64_t replaced_deleted = 0;
    for (const MergeStatement& st : sql_.Statements(kinds)) {
      std::int64_t inserted_before = 0;
      std::int64_t updated_before = 0;
      if (st.tally == Tally::kUpserted) {
        SB_ASSIGN_OR_RETURN(auto counters, cloud_.Query(sql_.UpsertCounters()));
        inserted_before = AsInt(counters.at(0).at(0));
        updated_before = AsInt(counters.at(0).at(1));
      }
      Result<std::int64_t> n = cloud_.Execute(st.sql);
      if (!n.ok()) {
        spdlog::error("sync {}: merge statement failed: {}", source_.id(), n.status().ToString());
        return n.status();
      }
      switch (st.tally) {
        case Tally::kRejected: batch.rejected += *n; break;
        case Tally::kInserted: batch.inserted += *n; break;
        case Tally::kUpdated: batch.updated += *n; break;
        case Tally::kDeleted: batch.deleted += *n; break;
        case Tally::kReplacedDeleted: replaced_deleted += *n; break;
        case Tally::kReplacedInserted: {
          // A replace that found its row updated it; one that did not inserted;
          // a deleted row whose new values were rejected stays deleted.
          std::int64_t replaced = std::min(replaced_deleted, *n);
          batch.updated += replaced;
          batch.inserted += *n - replaced;
          batch.deleted += replaced_deleted - replaced;
          break;
        }
        case Tally::kUpserted: {
          SB_ASSIGN_OR_RETURN(auto counters, cloud_.Query(sql_.UpsertCounters()));
          batch.inserted += AsInt(counters.at(0).at(0)) - inserted_before;
          batch.updated += AsInt(counters.at(0).at(1)) - updated_before;
          break;
        }
        case Tally::kNone: break;
      }
    }
    int room = kMaxRecordedRejections - static_cast<int>(result_.rejections.size());
    if (batch.rejected > 0 && room > 0) {
      SB_ASSIGN_OR_RETURN(auto rows, cloud_.Query(sql_.SelectRejected(room)));
      for (const store::Row& row : rows) batch.rejections.push_back(sql_.DescribeRejection(row));
    }
    SB_RETURN_IF_ERROR(cloud_
                           .Execute("UPDATE SbAppliedSeq SET iSeq = $3, tsApplied = CURRENT_TIMESTAMP WHERE sSource = "
                                    "$1 AND sSchema = $2",
                                    {source_id_, source_.id(), hi})
                           .status());
    CrashPoint("merged");
    SB_RETURN_IF_ERROR(txn.Commit());
    result_.staged += kinds.Total();
    result_.inserted += batch.inserted;
    result_.updated += batch.updated;
    result_.deleted += batch.deleted;
    result_.rejected += batch.rejected;
    for (std::string& r : batch.rejections) result_.rejections.push_back(std::move(r));
    return Status::Ok();
  }

  // PostgreSQL to PostgreSQL: the rows travel as COPY text, never decoded
  // (COPY out of staging piped into COPY into the temporary table); the batch's
  // operation kinds are then counted in the cloud.
  Status LoadRaw(std::int64_t lo, std::int64_t hi, BatchKinds& kinds) {
    Pipe<std::string> pipe(kMaxRawChunks);
    std::thread reader([&] {
      std::string chunk;
      chunk.reserve(kRawChunkBytes + 4096);
      bool open = true;
      Status s = local_.CopyOut(sql_.SelectBatchText(lo, hi), [&](std::string_view data) {
        chunk.append(data);
        if (chunk.size() < kRawChunkBytes) return true;
        open = pipe.Push(std::move(chunk));
        chunk = std::string();
        chunk.reserve(kRawChunkBytes + 4096);
        return open;
      });
      if (s.ok() && open && !chunk.empty()) pipe.Push(std::move(chunk));
      pipe.Finish(std::move(s));
    });
    std::int64_t streamed = 0;
    std::int64_t reported = 0;
    Result<std::int64_t> loaded =
        cloud_.CopyIn(sql_.temp_table(), sql_.load_columns(), [&](std::string& data) -> Status {
          std::string chunk;
          if (!pipe.Pop(chunk)) return Status::Ok();                 // exhausted: `data` stays empty
          streamed += std::count(chunk.begin(), chunk.end(), '\n');  // COPY text escapes newlines in values
          data = std::move(chunk);
          if (options_.on_loading && streamed - reported >= kProgressRows) {
            reported = streamed;
            options_.on_loading(
                Progress{source_.id(), result_.staged + streamed, std::max(total_, streamed), Seconds(), "loading"});
          }
          return Status::Ok();
        });
    pipe.Cancel();
    reader.join();
    SB_RETURN_IF_ERROR(pipe.status());  // a reader error: the cloud transaction rolls back
    SB_RETURN_IF_ERROR(loaded.status());
    SB_ASSIGN_OR_RETURN(auto rows, cloud_.Query("SELECT iStgOp, iStgKey, count(*) FROM " + sql_.temp_table() +
                                                " GROUP BY iStgOp, iStgKey"));
    for (const store::Row& r : rows) {
      auto op = static_cast<std::size_t>(std::clamp<std::int64_t>(AsInt(r[0]), 0, 3));
      auto kind = static_cast<std::size_t>(
          std::clamp<std::int64_t>(AsInt(r[1]), 0, static_cast<std::int64_t>(kinds.counts.size()) - 1));
      kinds.counts[kind][op] += AsInt(r[2]);
    }
    return Status::Ok();
  }

  // Streams staged rows (lo, hi] into the cloud's temporary table: a reader
  // thread on the local connection, the bulk load on the cloud one.
  Status Load(std::int64_t lo, std::int64_t hi, BatchKinds& kinds) {
    Pipe<std::vector<store::Row>> pipe(kMaxChunks);
    std::thread reader([&] {
      std::vector<store::Row> chunk;
      chunk.reserve(kChunkRows);
      bool open = true;
      Status s = local_.QueryStream(sql_.SelectBatch(), {lo, hi}, [&](const store::Row& row) {
        chunk.push_back(row);
        if (chunk.size() < kChunkRows) return true;
        open = pipe.Push(std::move(chunk));
        chunk = {};
        chunk.reserve(kChunkRows);
        return open;
      });
      if (s.ok() && open && !chunk.empty()) pipe.Push(std::move(chunk));
      pipe.Finish(std::move(s));
    });
    std::vector<store::Row> current;
    std::size_t next = 0;
    std::int64_t streamed = 0;
    const std::size_t op_at = sql_.load_columns().size() - 2;
    Result<std::int64_t> loaded = cloud_.BulkInsert(sql_.temp_table(), sql_.load_columns(), [&](store::Row& out) {
      if (next == current.size()) {
        if (!pipe.Pop(current)) return false;
        next = 0;
      }
      out = std::move(current[next++]);
      auto op = static_cast<std::size_t>(std::clamp<std::int64_t>(AsInt(out[op_at]), 0, 3));
      auto kind = static_cast<std::size_t>(
          std::clamp<std::int64_t>(AsInt(out[op_at + 1]), 0, static_cast<std::int64_t>(kinds.counts.size()) - 1));
      ++kinds.counts[kind][op];
      if (options_.on_loading && ++streamed % kProgressRows == 0) {
        options_.on_loading(
            Progress{source_.id(), result_.staged + streamed, std::max(total_, streamed), Seconds(), "loading"});
      }
      return true;
    });
    pipe.Cancel();
    reader.join();
    SB_RETURN_IF_ERROR(pipe.status());
    return loaded.status();
  }

  store::Database& local_;
  store::Database& cloud_;
  const MergeOptions& options_;
  const schema::Schema& source_;
  const schema::Schema& stg_;
  MergeSql sql_;
  std::string source_id_;
  SchemaResult& result_;
  std::int64_t total_ = 0;
  std::chrono::steady_clock::time_point started_;

  double Seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(); }
};

}  // namespace

Merger::Merger(store::Database& local, store::Database& cloud, MergeOptions options)
    : local_(local), cloud_(cloud), options_(std::move(options)) {}

Status Merger::Merge(const schema::Schema& source, const schema::Schema& stg, SchemaResult& result) {
  result = SchemaResult{};
  result.schema = source.id();
  SB_ASSIGN_OR_RETURN(std::string source_id, LocalSourceId(local_));
  SB_RETURN_IF_ERROR(EnsureCloudBookkeeping(cloud_));
  return SchemaMerge(local_, cloud_, options_, source, stg, std::move(source_id), result).Run();
}

Result<std::int64_t> ClearMerged(store::Database& local, store::Database& cloud, const schema::Schema& source,
                                 const schema::Schema& stg) {
  SB_ASSIGN_OR_RETURN(std::string source_id, LocalSourceId(local));
  SB_RETURN_IF_ERROR(EnsureCloudBookkeeping(cloud));
  SB_ASSIGN_OR_RETURN(std::int64_t applied, AppliedWatermark(cloud, source_id, source.id()));
  return local.Execute("DELETE FROM " + stg.sql_table + " WHERE iStgSeq <= $1", {applied});
}

Result<std::string> LocalSourceId(store::Database& local) {
  store::TableSpec spec;
  spec.name = "SbInstance";
  spec.columns = {{"sKey", store::ColumnType::kString, 64, true, ""},
                  {"sValue", store::ColumnType::kString, 255, true, ""}};
  spec.primary_key = {"sKey"};
  SB_RETURN_IF_ERROR(EnsureTableRacing(local, spec));
  SB_RETURN_IF_ERROR(
      local
          .Execute("INSERT INTO SbInstance (sKey, sValue) VALUES ('sourceId', $1) ON CONFLICT DO NOTHING",
                   {staging::NewUuid()})
          .status());
  SB_ASSIGN_OR_RETURN(auto rows, local.Query("SELECT sValue FROM SbInstance WHERE sKey = 'sourceId'"));
  if (rows.empty()) return Status::Internal("SbInstance has no sourceId");
  return store::ValueToString(rows[0][0]);
}

Status EnsureCloudBookkeeping(store::Database& cloud) {
  store::TableSpec spec;
  spec.name = "SbAppliedSeq";
  spec.columns = {{"sSource", store::ColumnType::kString, 64, true, ""},
                  {"sSchema", store::ColumnType::kString, 255, true, ""},
                  {"iSeq", store::ColumnType::kInt64, 0, true, "0"},
                  {"tsApplied", store::ColumnType::kTimestampTz, 0, false, ""}};
  spec.primary_key = {"sSource", "sSchema"};
  return EnsureTableRacing(cloud, spec);
}

Result<std::int64_t> AppliedWatermark(store::Database& cloud, std::string_view source_id, std::string_view schema) {
  return ScalarInt(cloud, "SELECT iSeq FROM SbAppliedSeq WHERE sSource = $1 AND sSchema = $2",
                   {std::string(source_id), std::string(schema)});
}

void CrashPoint(std::string_view point) {
#ifdef STAGEBRIDGE_FAULT_INJECTION
  const char* at = std::getenv("STAGEBRIDGE_CRASH_AT");
  if (at != nullptr && point == at) {
    spdlog::default_logger()->flush();
    ::kill(::getpid(), SIGKILL);
  }
#else
  (void)point;
#endif
}

}  // namespace stagebridge::sync
