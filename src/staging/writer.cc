// writer.cc — group-commit staging writes.
#include "staging/writer.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "staging/values.h"
#include "store/sequence.h"
#include "xml/document.h"

namespace stagebridge::staging {
namespace {

constexpr const char* kPending = "STG-200006";
constexpr const char* kRefused = "STG-200009";
constexpr const char* kUnavailable = "STG-500001";

Status UnavailableError() {
  return CodedError(Status::Code::kUnavailable, kUnavailable,
                    "The local staging database is unavailable; nothing was written. Retry later.");
}

// Names the record of a refused Ingest whose key is already pending: the first
// whose key values are in staging, or repeated within the call itself.
std::string PendingCulprit(store::Database& db, const std::vector<StagedRecord>& records) {
  std::set<std::string> seen;
  for (const StagedRecord& r : records) {
    std::vector<std::string> conds;
    store::Params params;
    std::string shown;
    for (const std::string& field : r.key) {
      for (std::size_t i = 0; i < r.attrs.size(); ++i) {
        if (r.attrs[i]->name != field) continue;
        params.push_back(r.values[i]);
        conds.push_back(fmt::format("{} = ${}", r.attrs[i]->sql_name, params.size()));
        shown += fmt::format("{}{}='{}'", shown.empty() ? "" : ", ", field, Excerpt(store::ValueToString(r.values[i])));
      }
    }
    if (!seen.insert(r.stg->sql_table + "|" + shown).second) return shown + " (twice in this call)";
    auto rows = db.Query(fmt::format("SELECT 1 FROM {} WHERE {}", r.stg->sql_table, fmt::join(conds, " AND ")), params);
    if (rows.ok() && !rows->empty()) return shown;
  }
  return fmt::format("id='{}'", Excerpt(std::get<std::string>(records.front().values.front())));
}

// Maps a database error on one call to what its client is told.
Status CallError(store::Database& db, const Status& status, const std::vector<StagedRecord>& records) {
  if (status.code() == Status::Code::kUnavailable || status.code() == Status::Code::kAborted) {
    return UnavailableError();
  }
  if (status.code() == Status::Code::kAlreadyExists && records.front().op != schema::StgOp::kInsert) {
    return CodedError(Status::Code::kAlreadyExists, kPending,
                      fmt::format("The record with {} conflicts with another record pending in staging for schema "
                                  "'{}' (same id or same declared key); nothing was written.",
                                  PendingCulprit(db, records), records.front().stg->stg_src_schema));
  }
  if (status.code() == Status::Code::kAlreadyExists) {
    return CodedError(Status::Code::kAlreadyExists, kPending,
                      fmt::format("The record with {} is already pending in staging for schema '{}': Ingest only "
                                  "inserts; use IngestExt to update a pending record.",
                                  PendingCulprit(db, records), records.front().stg->stg_src_schema));
  }
  spdlog::warn("staging write refused by the database: {}", xml::Printable(status.ToString()));
  return CodedError(
      Status::Code::kInvalidArgument, kRefused,
      fmt::format("The local database refused the write to '{}'; nothing was written.", records.front().stg->id()));
}

std::string Signature(const StagedRecord& r) {
  std::string sig = r.stg->sql_table;
  sig += '|';
  sig += std::to_string(static_cast<int>(r.op));
  for (const std::string& k : r.key) sig += "|k:" + k;
  for (const schema::Attribute* a : r.attrs) sig += "|" + a->name;
  return sig;
}

// Change sequences for `count` records, reserved inside the write transaction
// (SQLite); none on PostgreSQL, where each statement draws its own.
Result<std::vector<std::int64_t>> ReserveSequence(store::Database& db, std::size_t count) {
  if (!store::NextValueExpression(db.kind(), kStagingSequence).empty()) return std::vector<std::int64_t>{};
  return store::NextSequenceValues(db, kStagingSequence, static_cast<std::int64_t>(count));
}

constexpr std::size_t kMaxParamsPerStatement = 30000;
// A transaction that lost a deadlock or serialization race is retried this often.
constexpr int kMaxAttempts = 5;  // under SQLite's 32766 and PostgreSQL's 65535

}  // namespace

int KeyIndex(const StagedRecord& r) {
  if (r.key.size() == 1 && r.key.front() == "id") return 0;
  std::vector<const schema::Key*> keys = r.stg->declared_keys();
  for (std::size_t k = 0; k < keys.size(); ++k) {
    std::vector<std::string> fields = keys[k]->fields;
    std::vector<std::string> named = r.key;
    std::sort(fields.begin(), fields.end());
    std::sort(named.begin(), named.end());
    if (fields == named) return static_cast<int>(k) + 1;
  }
  return 0;  // unreachable: the decoder accepts declared keys only
}

std::string MultiRowInsertSql(const StagedRecord& r, std::size_t rows, const std::string& seq_expr) {
  std::vector<std::string> cols;
  for (const schema::Attribute* a : r.attrs) cols.push_back(a->sql_name);
  std::string sql = fmt::format("INSERT INTO {} ({}, iDelete, tsLastModified, iStgSeq, iStgKey, iStgOp) VALUES ",
                                r.stg->sql_table, fmt::join(cols, ", "));
  int key = KeyIndex(r);
  std::size_t n = 1;
  for (std::size_t row = 0; row < rows; ++row) {
    if (row > 0) sql += ", ";
    sql += '(';
    for (std::size_t c = 0; c < cols.size(); ++c) sql += fmt::format("${}, ", n++);
    std::string seq = seq_expr.empty() ? fmt::format("${}", n++) : seq_expr;
    sql += fmt::format("0, CURRENT_TIMESTAMP, {}, {}, {})", seq, key, static_cast<int>(schema::StgOp::kInsert));
  }
  return sql;
}

std::string StagingSql(const StagedRecord& r, const std::string& seq_expr) {
  const std::string& table = r.stg->sql_table;
  std::vector<std::string> cols;
  std::vector<std::string> placeholders;
  for (std::size_t i = 0; i < r.attrs.size(); ++i) {
    cols.push_back(r.attrs[i]->sql_name);
    placeholders.push_back(fmt::format("${}", i + 1));
  }
  std::string seq = seq_expr.empty() ? fmt::format("${}", r.attrs.size() + 1) : seq_expr;
  int op = static_cast<int>(r.op);
  bool del = r.op == schema::StgOp::kDelete;
  std::string sql = fmt::format(
      "INSERT INTO {} ({}, iDelete, tsLastModified, iStgSeq, iStgKey, iStgOp) VALUES ({}, {}, CURRENT_TIMESTAMP, {}, "
      "{}, {})",
      table, fmt::join(cols, ", "), fmt::join(placeholders, ", "), del ? 1 : 0, seq, KeyIndex(r), op);
  if (r.op == schema::StgOp::kInsert) return sql;

  std::vector<std::string> key_cols;
  for (const std::string& k : r.key) key_cols.push_back(r.stg->FindAttribute(k)->sql_name);
  auto is_key = [&](const schema::Attribute* a) {
    return a->role == schema::AttrRole::kPrimaryKey || std::find(r.key.begin(), r.key.end(), a->name) != r.key.end();
  };
  std::vector<std::string> sets;
  if (del) {
    // A delete forgets every staged value: a later write starts afresh (kReplace).
    for (const schema::Attribute& a : r.stg->attributes) {
      if (a.role == schema::AttrRole::kBusiness && !is_key(&a)) sets.push_back(a.sql_name + " = NULL");
    }
    sets.push_back("iDelete = 1");
    sets.push_back(fmt::format("iStgOp = {}", static_cast<int>(schema::StgOp::kDelete)));
  } else {
    // Only the attributes this call names change; the others keep their staged values.
    for (const schema::Attribute* a : r.attrs) {
      if (!is_key(a)) sets.push_back(fmt::format("{0} = excluded.{0}", a->sql_name));
    }
    sets.push_back("iDelete = 0");
    // The last call decides: an IngestExt write to a pending key is an upsert
    // (also over a pending Ingest, which may already have been merged), and
    // after a delete it is a replace.
    sets.push_back(fmt::format("iStgOp = CASE WHEN {0}.iStgOp >= {1} THEN {2} ELSE {3} END", table,
                               static_cast<int>(schema::StgOp::kDelete), static_cast<int>(schema::StgOp::kReplace),
                               static_cast<int>(schema::StgOp::kUpsert)));
  }
  sets.push_back("tsLastModified = excluded.tsLastModified");
  sets.push_back("iStgSeq = excluded.iStgSeq");
  sets.push_back("iStgKey = excluded.iStgKey");
  sql += fmt::format(" ON CONFLICT ({}) DO UPDATE SET {}", fmt::join(key_cols, ", "), fmt::join(sets, ", "));
  return sql;
}

StagingWriter::StagingWriter(store::ConnectionPool& pool, WriterOptions options)
    : pool_(pool), options_(std::move(options)) {}

StagingWriter::~StagingWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

Status StagingWriter::Prepare() {
  SB_ASSIGN_OR_RETURN(auto db, pool_.Acquire());
  return store::EnsureSequence(*db, kStagingSequence);
}

void StagingWriter::Start() {
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

Status StagingWriter::Write(std::vector<StagedRecord> records) {
  if (records.empty()) return Status::Ok();
  Call call{std::move(records), {}};
  std::future<Status> done = call.done.get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return UnavailableError();
    queue_.push_back(&call);
  }
  cv_.notify_one();
  return done.get();
}

Status StagingWriter::Apply(store::Database& db, const std::vector<const StagedRecord*>& records,
                            const std::vector<std::int64_t>& seqs,
                            std::unordered_map<std::string, std::string>& sql_cache) {
  // On PostgreSQL the sequence is drawn inside each statement, after the
  // statement locked its table: the sync's watermark relies on it (docs/sync.md).
  std::string seq_expr = store::NextValueExpression(db.kind(), kStagingSequence);
  std::size_t i = 0;
  while (i < records.size()) {
    const StagedRecord& r = *records[i];
    std::string sig = Signature(r);
    // A run of inserts with the same columns becomes one multi-row INSERT: one
    // statement, one round trip. Other operations go one by one, in order (two
    // upserts of one key must not meet in one statement).
    std::size_t run = 1;
    if (r.op == schema::StgOp::kInsert) {
      std::size_t per_row = r.values.size() + 1;
      while (i + run < records.size() && (run + 1) * per_row <= kMaxParamsPerStatement &&
             records[i + run]->op == schema::StgOp::kInsert && Signature(*records[i + run]) == sig) {
        ++run;
      }
    }
    std::string key = run == 1 ? sig : sig + "|rows:" + std::to_string(run);
    auto it = sql_cache.find(key);
    if (it == sql_cache.end()) {
      if (sql_cache.size() > 4096) sql_cache.clear();  // bounded: signatures vary with the attributes named
      it = sql_cache.emplace(key, run == 1 ? StagingSql(r, seq_expr) : MultiRowInsertSql(r, run, seq_expr)).first;
    }
    store::Params params;
    params.reserve(run * (r.values.size() + 1));
    for (std::size_t k = i; k < i + run; ++k) {
      params.insert(params.end(), records[k]->values.begin(), records[k]->values.end());
      if (seq_expr.empty()) params.emplace_back(seqs[k]);
    }
    SB_RETURN_IF_ERROR(db.Execute(it->second, params).status());
    i += run;
  }
  return Status::Ok();
}

// A batch that is one run of same-shaped inserts on a dialect with in-statement
// sequences is one autocommit statement: atomic, and one round trip instead of
// four (BEGIN, sequence, INSERT, COMMIT).
Status StagingWriter::TryOneStatement(store::Database& db, std::vector<Call*>& calls, std::size_t total, bool& done) {
  done = false;
  std::string seq_expr = store::NextValueExpression(db.kind(), kStagingSequence);
  if (seq_expr.empty()) return Status::Ok();
  const StagedRecord& first = calls.front()->records.front();
  if (first.op != schema::StgOp::kInsert || total * first.values.size() > kMaxParamsPerStatement) return Status::Ok();
  std::string sig = Signature(first);
  for (Call* c : calls) {
    for (const StagedRecord& r : c->records) {
      if (r.op != schema::StgOp::kInsert || Signature(r) != sig) return Status::Ok();
    }
  }
  std::string sql = MultiRowInsertSql(first, total, seq_expr);
  store::Params params;
  params.reserve(total * first.values.size());
  for (Call* c : calls) {
    for (const StagedRecord& r : c->records) params.insert(params.end(), r.values.begin(), r.values.end());
  }
  done = true;
  return db.Execute(sql, params).status();
}

StagingWriter::BatchOutcome StagingWriter::RunBatch(store::Database& db, std::vector<Call*>& calls,
                                                    std::unordered_map<std::string, std::string>& cache) {
  std::size_t total = 0;
  for (Call* c : calls) total += c->records.size();
  bool one_statement = false;
  Status single = TryOneStatement(db, calls, total, one_statement);
  if (one_statement) return Finish(calls, total, single);
  store::Transaction txn(db);
  Status s = txn.Begin();
  Result<std::vector<std::int64_t>> seqs = s.ok() ? ReserveSequence(db, total) : Result<std::vector<std::int64_t>>(s);
  if (!seqs.ok()) s = seqs.status();
  std::vector<const StagedRecord*> records;
  records.reserve(total);
  for (Call* c : calls) {
    for (const StagedRecord& r : c->records) records.push_back(&r);
  }
  if (s.ok()) s = Apply(db, records, *seqs, cache);
  if (s.ok()) s = txn.Commit();
  return Finish(calls, total, s);
}

StagingWriter::BatchOutcome StagingWriter::Finish(std::vector<Call*>& calls, std::size_t total, const Status& s) {
  if (s.ok()) {
    std::size_t n = calls.size();
    for (Call* c : calls) c->done.set_value(Status::Ok());  // callers may now return: touch no Call
    if (options_.on_batch) options_.on_batch(n, total);
    return BatchOutcome::kDone;
  }
  if (s.code() == Status::Code::kAborted) return BatchOutcome::kRetry;  // lost a race with another writer
  if (s.code() == Status::Code::kUnavailable) {
    spdlog::error("staging batch of {} call(s) failed: {}", calls.size(), s.ToString());
    for (Call* c : calls) c->done.set_value(UnavailableError());
    return BatchOutcome::kDone;
  }
  return BatchOutcome::kReplay;  // a data error: replay call by call
}

Status StagingWriter::RunOne(store::Database& db, Call& call, std::unordered_map<std::string, std::string>& cache) {
  store::Transaction txn(db);
  SB_RETURN_IF_ERROR(txn.Begin());
  SB_ASSIGN_OR_RETURN(auto seqs, ReserveSequence(db, call.records.size()));
  std::vector<const StagedRecord*> records;
  for (const StagedRecord& r : call.records) records.push_back(&r);
  SB_RETURN_IF_ERROR(Apply(db, records, seqs, cache));
  return txn.Commit();
}

void StagingWriter::WorkerLoop() {
  std::unordered_map<std::string, std::string> cache;
  std::optional<store::ConnectionPool::Lease> db;
  for (;;) {
    std::vector<Call*> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      std::size_t records = 0;
      while (!queue_.empty() &&
             (batch.empty() || records + queue_.front()->records.size() <= options_.max_batch_records)) {
        records += queue_.front()->records.size();
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    if (!db) {
      Result<store::ConnectionPool::Lease> lease = pool_.Acquire();
      if (!lease.ok()) {
        spdlog::error("staging writer cannot connect to the local database: {}", lease.status().ToString());
        for (Call* c : batch) c->done.set_value(UnavailableError());
        continue;
      }
      db.emplace(std::move(lease).value());
    }
    BatchOutcome outcome = BatchOutcome::kRetry;
    for (int attempt = 0; attempt < kMaxAttempts && outcome == BatchOutcome::kRetry; ++attempt) {
      outcome = RunBatch(**db, batch, cache);
    }
    if (outcome == BatchOutcome::kDone) continue;
    for (Call* c : batch) {
      Status s = Status::Aborted("not run");
      for (int attempt = 0; attempt < kMaxAttempts && s.code() == Status::Code::kAborted; ++attempt) {
        s = RunOne(**db, *c, cache);
      }
      std::size_t records = c->records.size();
      // Once done is set, the caller returns and `c` is gone: touch it no more.
      c->done.set_value(s.ok() ? s : CallError(**db, s, c->records));
      if (s.ok() && options_.on_batch) options_.on_batch(1, records);
    }
  }
}

}  // namespace stagebridge::staging
