// writer.cc — group-commit staging writes.
#include "staging/writer.h"

#include <algorithm>
#include <future>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/reactor.h"
#include "schema/table_specs.h"
#include "staging/values.h"
#include "store/postgres_database.h"
#include "store/sequence.h"
#include "store/table_spec.h"
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

// Records of one shape (table, operation, key, attributes named) share their
// statement text. SameShape compares without building the signature.
bool SameShape(const StagedRecord& a, const StagedRecord& b) {
  return a.stg == b.stg && a.op == b.op && a.attrs == b.attrs && a.key == b.key;
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

namespace {

// "INSERT INTO T (business columns, bookkeeping columns) ", shared by every form.
std::string InsertHead(const StagedRecord& r) {
  std::vector<std::string> cols;
  cols.reserve(r.attrs.size());
  for (const schema::Attribute* a : r.attrs) cols.push_back(a->sql_name);
  return fmt::format("INSERT INTO {} ({}, iDelete, tsLastModified, iStgSeq, iStgKey, iStgOp) ", r.stg->sql_table,
                     fmt::join(cols, ", "));
}

// The bookkeeping values following the business ones: iDelete, tsLastModified,
// iStgSeq (`seq`), iStgKey, iStgOp.
std::string Bookkeeping(const StagedRecord& r, const std::string& seq) {
  return fmt::format("{}, CURRENT_TIMESTAMP, {}, {}, {}", r.op == schema::StgOp::kDelete ? 1 : 0, seq, KeyIndex(r),
                     static_cast<int>(r.op));
}

// " ON CONFLICT (key) DO UPDATE SET …" of an upsert or a delete; "" for an insert.
std::string ConflictClause(const StagedRecord& r) {
  if (r.op == schema::StgOp::kInsert) return "";
  const std::string& table = r.stg->sql_table;
  std::vector<std::string> key_cols;
  for (const std::string& k : r.key) key_cols.push_back(r.stg->FindAttribute(k)->sql_name);
  auto is_key = [&](const schema::Attribute* a) {
    return a->role == schema::AttrRole::kPrimaryKey || std::find(r.key.begin(), r.key.end(), a->name) != r.key.end();
  };
  std::vector<std::string> sets;
  if (r.op == schema::StgOp::kDelete) {
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
  return fmt::format(" ON CONFLICT ({}) DO UPDATE SET {}", fmt::join(key_cols, ", "), fmt::join(sets, ", "));
}

}  // namespace

std::string MultiRowInsertSql(const StagedRecord& r, std::size_t rows, const std::string& seq_expr) {
  std::string sql = InsertHead(r) + "VALUES ";
  std::size_t n = 1;
  for (std::size_t row = 0; row < rows; ++row) {
    if (row > 0) sql += ", ";
    sql += '(';
    for (std::size_t c = 0; c < r.attrs.size(); ++c) sql += fmt::format("${}, ", n++);
    sql += Bookkeeping(r, seq_expr.empty() ? fmt::format("${}", n++) : seq_expr);
    sql += ')';
  }
  return sql;
}

std::string StagingSql(const StagedRecord& r, const std::string& seq_expr) {
  std::vector<std::string> placeholders;
  for (std::size_t i = 0; i < r.attrs.size(); ++i) placeholders.push_back(fmt::format("${}", i + 1));
  std::string seq = seq_expr.empty() ? fmt::format("${}", r.attrs.size() + 1) : seq_expr;
  return fmt::format("{}VALUES ({}, {}){}", InsertHead(r), fmt::join(placeholders, ", "), Bookkeeping(r, seq),
                     ConflictClause(r));
}

std::string UnnestSql(const StagedRecord& r, const std::string& seq_expr) {
  std::vector<std::string> arrays;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < r.attrs.size(); ++i) {
    store::ColumnSpec column;
    column.type = schema::ColumnTypeOf(r.attrs[i]->type);
    arrays.push_back(fmt::format("${}::{}[]", i + 1, store::SqlType(store::DialectKind::kPostgres, column)));
    names.push_back(r.attrs[i]->sql_name);
  }
  return fmt::format("{}SELECT {}, {} FROM unnest({}) AS u ({}){}", InsertHead(r), fmt::join(names, ", "),
                     Bookkeeping(r, seq_expr), fmt::join(arrays, ", "), fmt::join(names, ", "), ConflictClause(r));
}

namespace {

// The values of `r`'s reconciliation key, as one string (equal keys, equal strings).
std::string KeyText(const StagedRecord& r) {
  std::string text;
  for (std::size_t i = 0; i < r.attrs.size(); ++i) {
    if (std::find(r.key.begin(), r.key.end(), r.attrs[i]->name) == r.key.end()) continue;
    text += store::ValueToString(r.values[i]);
    text += '\x1f';
  }
  return text;
}

// Grows one run: the records one statement can stage, in order. Inserts of the
// same shape always can (a key repeated among them fails the statement, as it
// would fail one by one). With array parameters (PostgreSQL) upserts and
// deletes of the same shape can too, as long as no key repeats: one statement
// cannot change a row twice, and the later write must win. A key is worked out
// only once a second record comes (a run of one needs none).
class RunBuilder {
 public:
  // Whether `r` joins the run (the first record always does); once one does
  // not, the run is over.
  bool Add(const StagedRecord& r) {
    if (first_ == nullptr) {
      first_ = &r;
      return true;
    }
    if (!SameShape(r, *first_)) return false;
    if (first_->op == schema::StgOp::kInsert) return true;
    if (keys_.empty()) keys_.insert(KeyText(*first_));
    return keys_.insert(KeyText(r)).second;
  }

 private:
  const StagedRecord* first_ = nullptr;
  std::set<std::string> keys_;
};

// How many records from records[i] on go into one statement (RunBuilder).
// Without array parameters upserts and deletes go one by one, and each row
// takes its parameters, so a statement stays under the parameter limit.
std::size_t RunLength(const std::vector<const StagedRecord*>& records, std::size_t i, bool arrays) {
  const StagedRecord& r = *records[i];
  if (r.op != schema::StgOp::kInsert && !arrays) return 1;
  std::size_t per_row = r.values.size() + 1;
  RunBuilder builder;
  builder.Add(r);
  std::size_t run = 1;
  while (i + run < records.size()) {
    if (!arrays && (run + 1) * per_row > kMaxParamsPerStatement) break;
    if (!builder.Add(*records[i + run])) break;
    ++run;
  }
  return run;
}

// The statement staging `rows` records shaped like `r` from a worker's cache:
// built once per shape (and row count, for a multi-row VALUES).
const std::string& CachedSql(std::unordered_map<std::string, std::string>& cache, const StagedRecord& r,
                             std::size_t rows, const std::string& seq_expr, bool arrays) {
  std::string key = Signature(r);
  if (rows > 1) key += arrays ? "|unnest" : "|rows:" + std::to_string(rows);
  auto it = cache.find(key);
  if (it == cache.end()) {
    if (cache.size() > 4096) cache.clear();  // bounded: signatures vary with the attributes named
    std::string sql = rows == 1 ? StagingSql(r, seq_expr)
                      : arrays  ? UnnestSql(r, seq_expr)
                                : MultiRowInsertSql(r, rows, seq_expr);
    it = cache.emplace(std::move(key), std::move(sql)).first;
  }
  return it->second;
}

// The statement staging records[i, i + run) — one run (RunLength) — and its
// parameters; seqs[k] is records[k]'s change sequence where the dialect has no
// in-statement sequence.
std::pair<const std::string*, store::Params> RunStatement(store::DialectKind kind,
                                                          const std::vector<const StagedRecord*>& records,
                                                          std::size_t i, std::size_t run,
                                                          const std::vector<std::int64_t>& seqs,
                                                          std::unordered_map<std::string, std::string>& sql_cache) {
  // On PostgreSQL the sequence is drawn inside each statement, after the
  // statement locked its table: the sync's watermark relies on it (docs/sync.md).
  std::string seq_expr = store::NextValueExpression(kind, kStagingSequence);
  // PostgreSQL takes a run of records as one array per column: one prepared
  // statement whatever the number of rows (parsed and planned once per connection).
  bool arrays = kind == store::DialectKind::kPostgres;
  const StagedRecord& r = *records[i];
  const std::string& sql = CachedSql(sql_cache, r, run, seq_expr, arrays);
  store::Params params;
  if (run > 1 && arrays) {
    std::vector<const StagedRecord*> rows(records.begin() + static_cast<std::ptrdiff_t>(i),
                                          records.begin() + static_cast<std::ptrdiff_t>(i + run));
    if (r.op != schema::StgOp::kInsert) {
      // In key order (no key repeats in a run, so the order changes no result):
      // statements running at once on other connections lock the rows they
      // share in the same order, and never deadlock over them.
      std::vector<std::pair<std::string, const StagedRecord*>> keyed;
      keyed.reserve(run);
      for (const StagedRecord* row : rows) keyed.emplace_back(KeyText(*row), row);
      std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (std::size_t k = 0; k < run; ++k) rows[k] = keyed[k].second;
    }
    params.reserve(r.values.size());
    std::vector<const store::Value*> column(run);
    for (std::size_t c = 0; c < r.values.size(); ++c) {
      for (std::size_t k = 0; k < run; ++k) column[k] = &rows[k]->values[c];
      params.emplace_back(store::ArrayLiteral(column));
    }
  } else {
    params.reserve(run * (r.values.size() + 1));
    for (std::size_t k = i; k < i + run; ++k) {
      params.insert(params.end(), records[k]->values.begin(), records[k]->values.end());
      if (seq_expr.empty()) params.emplace_back(seqs[k]);
    }
  }
  return {&sql, std::move(params)};
}

// Stages records[i, i + run) with one statement (RunStatement), inside the
// caller's transaction if one is open.
Status ExecuteRun(store::Database& db, const std::vector<const StagedRecord*>& records, std::size_t i, std::size_t run,
                  const std::vector<std::int64_t>& seqs, std::unordered_map<std::string, std::string>& sql_cache) {
  auto [sql, params] = RunStatement(db.kind(), records, i, run, seqs, sql_cache);
  return db.ExecuteRepeated(*sql, params).status();
}

}  // namespace

struct StagingWriter::Lane {
  std::unique_ptr<store::Database> db;  // null until a worker opened it
  int socket = -1;                      // db's, as it was opened (libpq forgets it once the connection is lost)
  std::unordered_map<std::string, std::string> cache;
  bool busy = false;                                  // GUARDED_BY(mu_): a statement is in flight
  bool wanted = false;                                // GUARDED_BY(mu_): a worker is to open db
  bool opening = false;                               // GUARDED_BY(mu_): a worker is opening db
  std::chrono::steady_clock::time_point retry_after;  // GUARDED_BY(mu_): after a failed open
};

// A statement in flight on a lane, for `calls`. Its callbacks hold it; should
// the event loop end before the database answered (the server stopped), they
// are destroyed uncalled and so is this, which answers the calls as a lost
// connection would.
struct StagingWriter::DirectCall {
  StagingWriter* writer;
  Lane* lane;
  Reactor* reactor;
  std::vector<Call*> calls;  // empty once finished
  bool spin = false;         // the loop may poll for the answer (Reactor::WaitFd)
  DirectCall(StagingWriter* w, Lane* l, Reactor* r, std::vector<Call*> c)
      : writer(w), lane(l), reactor(r), calls(std::move(c)) {}
  DirectCall(const DirectCall&) = delete;
  DirectCall& operator=(const DirectCall&) = delete;
  ~DirectCall() {
    // The loop is ending (its handlers destroyed): it is not asked to forget
    // the descriptor.
    reactor = nullptr;
    if (!calls.empty()) writer->FinishDirect(*this, UnavailableError(), true);
  }
};

StagingWriter::StagingWriter(store::ConnectionPool& pool, WriterOptions options)
    : pool_(pool), options_(std::move(options)) {}

StagingWriter::~StagingWriter() {
  Stop();
}

void StagingWriter::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();  // workers drain the queue before they return
  workers_.clear();
  // A direct call the database refused after the workers drained the queue
  // has nobody left to run it again: it is answered as unavailable.
  std::deque<Call*> left;
  {
    std::lock_guard lock(mu_);
    workers_gone_ = true;
    left.swap(queue_);
    queued_records_ = 0;
  }
  for (Call* c : left) Answer(c, UnavailableError());
}

bool StagingWriter::TryDirect(Call* call) {
  Reactor* reactor = Reactor::Current();
  if (!options_.direct_lane || reactor == nullptr || pool_.kind() != store::DialectKind::kPostgres ||
      call->records.size() > options_.max_batch_records) {
    return false;
  }
  // One statement, with the sequence drawn inside it: no transaction around it.
  std::vector<const StagedRecord*> records;
  records.reserve(call->records.size());
  for (const StagedRecord& r : call->records) records.push_back(&r);
  if (RunLength(records, 0, true) != records.size()) return false;
  call->direct = true;  // a lane may take it, from the queue too
  Lane* lane = nullptr;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || running_ > 0 || !queue_.empty()) return false;
    std::unique_ptr<Lane>& slot = lanes_[reactor];
    if (!slot) slot = std::make_unique<Lane>();
    if (!slot->db) {
      // Opening a connection blocks: a worker does it after its next batch
      // (this call's, most likely), and the lane is used from then on.
      if (!slot->wanted && std::chrono::steady_clock::now() >= slot->retry_after) slot->wanted = lanes_wanted_ = true;
      return false;
    }
    if (slot->busy) return false;
    slot->busy = true;
    ++running_;
    last_start_ = std::chrono::steady_clock::now();
    lane = slot.get();
  }
  SendDirect(lane, reactor, {call}, true);
  return true;
}

std::vector<StagingWriter::Call*> StagingWriter::TakeQueuedRun() {
  std::vector<Call*> taken;
  RunBuilder builder;
  std::size_t records = 0;
  while (!queue_.empty() && queue_.front()->direct) {
    Call* next = queue_.front();
    if (!taken.empty() && records + next->records.size() > options_.max_batch_records) break;
    // A call joins whole, or the run ends before it (it goes with the next).
    bool joins = std::all_of(next->records.begin(), next->records.end(),
                             [&builder](const StagedRecord& r) { return builder.Add(r); });
    if (!joins) break;
    records += next->records.size();
    taken.push_back(next);
    queue_.pop_front();
  }
  queued_records_ -= records;
  return taken;
}

void StagingWriter::SendDirect(Lane* lane, Reactor* reactor, std::vector<Call*> calls, bool spin) {
  std::vector<const StagedRecord*> records;
  for (Call* c : calls) {
    for (const StagedRecord& r : c->records) records.push_back(&r);
  }
  auto op = std::make_shared<DirectCall>(this, lane, reactor, std::move(calls));
  op->spin = spin;
  auto [sql, params] = RunStatement(store::DialectKind::kPostgres, records, 0, records.size(), {}, lane->cache);
  Status started = lane->db->StartRepeated(*sql, params);
  if (!started.ok()) {
    FinishDirect(*op, started, false);
    return;
  }
  StepDirect(std::move(op), true);
}

void StagingWriter::StepDirect(std::shared_ptr<DirectCall> op, bool ready) {
  store::Database& db = *op->lane->db;
  if (!ready) {
    FinishDirect(*op, Status::Unavailable("waiting for the database's answer failed"), true);
    return;
  }
  store::Database::IoWait wait = db.Advance();
  if (wait == store::Database::IoWait::kDone) {
    FinishDirect(*op, db.TakeResult().status(), true);
    return;
  }
  Reactor* reactor = op->reactor;
  // Spin for the answer only when the writer was idle when this call came (one
  // client calling one call after the other): with more calls about, the core
  // is better left to the database and to the other calls' threads.
  bool spin = op->spin;  // read before `op` moves into the callback
  int socket = op->lane->socket;
  reactor->WaitFd(socket, wait == store::Database::IoWait::kWrite, spin,
                  [this, op = std::move(op)](bool ok) mutable { StepDirect(std::move(op), ok); });
}

void StagingWriter::FinishDirect(DirectCall& op, const Status& status, bool sent) {
  std::vector<Call*> calls = std::exchange(op.calls, {});
  Lane& lane = *op.lane;
  // Unavailable: the connection is gone (a worker opens another when asked).
  if (status.code() == Status::Code::kUnavailable && lane.db) {
    if (op.reactor != nullptr) op.reactor->Forget(lane.socket);
    lane.db.reset();
  }
  bool requeue = !status.ok() && (status.code() != Status::Code::kUnavailable || !sent);
  std::vector<Call*> next;
  bool wake_worker = false;
  {
    std::lock_guard lock(mu_);
    lane.busy = false;
    --running_;
    if (requeue && !workers_gone_) {
      // Nothing was written (one statement, failed, or never sent): the workers
      // run these again as any batch (call by call should it fail) and answer
      // each with its own fault. At the front, in their order.
      for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
        (*it)->direct = false;
        queued_records_ += (*it)->records.size();
        queue_.push_front(*it);
      }
      calls.clear();
    }
    // The calls that gathered meanwhile go out on this lane at once, as the
    // next statement, without waking a worker (a futex call, two context
    // switches, and the worker's own wait for the database's answer).
    if (lane.db && op.reactor != nullptr && !workers_gone_) next = TakeQueuedRun();
    if (!next.empty()) {
      lane.busy = true;
      ++running_;
      last_start_ = std::chrono::steady_clock::now();
    }
    // What no lane may take (a replay, a transaction of several statements)
    // is the workers'.
    wake_worker = !queue_.empty() && (next.empty() || !queue_.front()->direct);
  }
  if (wake_worker) cv_.notify_one();
  // The next statement goes out before these calls are answered: the database
  // works on it while this thread writes the responses.
  if (!next.empty()) SendDirect(&lane, op.reactor, std::move(next), false);
  if (calls.empty()) return;
  if (status.ok()) {
    if (options_.on_batch) {
      std::size_t records = 0;
      for (Call* c : calls) records += c->records.size();
      options_.on_batch(calls.size(), records);
    }
    for (Call* c : calls) Answer(c, status);
    return;
  }
  spdlog::error("staging write of {} call(s) on the direct lane failed: {}", calls.size(), status.ToString());
  for (Call* c : calls) Answer(c, UnavailableError());
}

void StagingWriter::OpenLanes() {
  std::vector<std::pair<const void*, Lane*>> wanted;
  {
    std::lock_guard lock(mu_);
    if (!lanes_wanted_) return;
    lanes_wanted_ = false;
    for (auto& [reactor, lane] : lanes_) {
      // One worker opens a lane: another one finishing a batch meanwhile
      // leaves it alone (its connection, once set, may be in use at once).
      if (lane->wanted && !lane->opening && !lane->busy && !lane->db) {
        lane->opening = true;
        wanted.emplace_back(reactor, lane.get());
      }
    }
  }
  for (auto [reactor, lane] : wanted) {
    if (options_.on_lane_open) options_.on_lane_open(reactor);
    Result<std::unique_ptr<store::Database>> db = store::OpenDatabase(pool_.url());
    std::lock_guard lock(mu_);
    lane->wanted = false;
    lane->opening = false;
    if (db.ok()) {
      lane->db = std::move(db).value();
      lane->socket = lane->db->Socket();
    } else {
      lane->retry_after = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      spdlog::warn("staging writer: no connection for a direct lane ({}); its calls go through the workers",
                   db.status().ToString());
    }
  }
}

Status StagingWriter::Prepare() {
  SB_ASSIGN_OR_RETURN(auto db, pool_.Acquire());
  return store::EnsureSequence(*db, kStagingSequence);
}

void StagingWriter::Start() {
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

void StagingWriter::Answer(Call* call, const Status& status) {
  Done done = std::move(call->done);
  delete call;
  done(status);
}

void StagingWriter::WriteAsync(std::vector<StagedRecord> records, Done done) {
  if (records.empty()) {
    done(Status::Ok());
    return;
  }
  auto* call = new Call{std::move(records), std::move(done)};
  if (TryDirect(call)) return;
  bool wake = false;
  {
    std::unique_lock lock(mu_);
    if (!stopping_) {
      queued_records_ += call->records.size();
      queue_.push_back(call);
      // While a batch runs, whoever ends it takes this call (a lane, or a
      // worker after its batch); a waiting worker looks again by itself once
      // join_after passed (NextBatch). Nobody is woken for every call.
      wake = running_ == 0 || !call->direct || queued_records_ >= options_.max_batch_records;
      call = nullptr;
    }
  }
  if (call != nullptr) {
    Answer(call, UnavailableError());
    return;
  }
  if (wake) cv_.notify_one();
}

Status StagingWriter::Write(std::vector<StagedRecord> records) {
  // Shared with the callback: the worker may still be inside set_value() when
  // this thread wakes up and returns.
  auto result = std::make_shared<std::promise<Status>>();
  std::future<Status> done = result->get_future();
  WriteAsync(std::move(records), [result](Status s) { result->set_value(std::move(s)); });
  return done.get();
}

Status StagingWriter::Apply(store::Database& db, const std::vector<const StagedRecord*>& records,
                            const std::vector<std::int64_t>& seqs,
                            std::unordered_map<std::string, std::string>& sql_cache) {
  bool arrays = db.kind() == store::DialectKind::kPostgres;
  for (std::size_t i = 0; i < records.size();) {
    std::size_t run = RunLength(records, i, arrays);
    SB_RETURN_IF_ERROR(ExecuteRun(db, records, i, run, seqs, sql_cache));
    i += run;
  }
  return Status::Ok();
}

Status StagingWriter::RunBatch(store::Database& db, std::vector<Call*>& calls, std::size_t total,
                               std::unordered_map<std::string, std::string>& cache) {
  std::vector<const StagedRecord*> records;
  records.reserve(total);
  for (Call* c : calls) {
    for (const StagedRecord& r : c->records) records.push_back(&r);
  }
  // A batch that is one statement, with the sequence drawn inside it, needs no
  // transaction around it: one round trip instead of four (BEGIN, INSERT, COMMIT).
  bool in_statement_seq = !store::NextValueExpression(db.kind(), kStagingSequence).empty();
  if (in_statement_seq && RunLength(records, 0, db.kind() == store::DialectKind::kPostgres) == total) {
    return ExecuteRun(db, records, 0, total, {}, cache);
  }
  store::Transaction txn(db);
  SB_RETURN_IF_ERROR(txn.Begin());
  SB_ASSIGN_OR_RETURN(std::vector<std::int64_t> seqs, ReserveSequence(db, total));
  SB_RETURN_IF_ERROR(Apply(db, records, seqs, cache));
  return txn.Commit();
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

std::vector<StagingWriter::Call*> StagingWriter::NextBatch() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (queue_.empty()) {
      if (stopping_) return {};  // stopping and drained
      // While a batch runs, calls are queued without waking anyone (WriteAsync):
      // look again after join_after, should the batch run long.
      if (running_ > 0) {
        cv_.wait_for(lock, options_.join_after);
      } else {
        cv_.wait(lock);
      }
      continue;
    }
    // Start now when no batch is running, when a full batch waits, or when the
    // last batch started join_after ago; otherwise let calls gather until then.
    if (running_ == 0 || stopping_ || queued_records_ >= options_.max_batch_records) break;
    auto may_start = last_start_ + options_.join_after;
    if (std::chrono::steady_clock::now() >= may_start) break;
    cv_.wait_until(lock, may_start);
  }
  std::vector<Call*> batch;
  std::size_t records = 0;
  while (!queue_.empty() && (batch.empty() || records + queue_.front()->records.size() <= options_.max_batch_records)) {
    records += queue_.front()->records.size();
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  queued_records_ -= records;
  ++running_;
  last_start_ = std::chrono::steady_clock::now();
  return batch;
}

void StagingWriter::EndBatch() {
  bool waiting = false;
  {
    std::lock_guard lock(mu_);
    --running_;
    waiting = !queue_.empty();
  }
  if (waiting) cv_.notify_one();  // a worker waiting for its turn may start now
}

void StagingWriter::WorkerLoop() {
  std::unordered_map<std::string, std::string> cache;
  std::optional<store::ConnectionPool::Lease> db;
  for (;;) {
    std::vector<Call*> batch = NextBatch();
    if (batch.empty()) return;
    std::size_t total = 0;
    for (Call* c : batch) total += c->records.size();
    if (!db) {
      Result<store::ConnectionPool::Lease> lease = pool_.Acquire();
      if (!lease.ok()) {
        EndBatch();
        spdlog::error("staging writer cannot connect to the local database: {}", lease.status().ToString());
        for (Call* c : batch) Answer(c, UnavailableError());
        continue;
      }
      db.emplace(std::move(lease).value());
    }
    Status batch_status = Status::Aborted("not run");
    for (int attempt = 0; attempt < kMaxAttempts && batch_status.code() == Status::Code::kAborted; ++attempt) {
      batch_status = RunBatch(**db, batch, total, cache);  // Aborted: lost a race with another writer, again
    }
    // The batch is committed (or not): another worker may start the next one
    // while this one answers.
    EndBatch();
    if (batch_status.ok()) {
      if (options_.on_batch) options_.on_batch(batch.size(), total);
      for (Call* c : batch) Answer(c, Status::Ok());
      OpenLanes();
      continue;
    }
    if (batch_status.code() == Status::Code::kUnavailable) {
      spdlog::error("staging batch of {} call(s) failed: {}", batch.size(), batch_status.ToString());
      for (Call* c : batch) Answer(c, UnavailableError());
      continue;
    }
    // A data error (or races lost every time): replay call by call, so one bad
    // call fails nobody else.
    for (Call* c : batch) {
      Status s = Status::Aborted("not run");
      for (int attempt = 0; attempt < kMaxAttempts && s.code() == Status::Code::kAborted; ++attempt) {
        s = RunOne(**db, *c, cache);
      }
      if (s.ok() && options_.on_batch) options_.on_batch(1, c->records.size());
      Answer(c, s.ok() ? s : CallError(**db, s, c->records));
    }
  }
}

}  // namespace stagebridge::staging
