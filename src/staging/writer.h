// writer.h — the staging writer: applies decoded records to the staging tables
// of the local database with group commit (DESIGN.md "Group commit").
//
// Write() blocks until the records are committed (or refused). Concurrent calls
// are batched by a few worker threads, each holding its own connection: one
// transaction, one change-sequence reservation and one COMMIT (one fsync) for
// every call in the batch. A call's records are all-or-nothing: when a batch
// fails (one call's record conflicts, say), it is rolled back and each call is
// replayed in its own transaction, so one bad call never fails another.
// Nothing is acknowledged before COMMIT returned.
//
// Thread-safety: thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "staging/record.h"
#include "store/pool.h"

namespace stagebridge::staging {

// The sequence numbering staged writes (iStgSeq).
inline constexpr const char* kStagingSequence = "SbStgSeq";

struct WriterOptions {
  int workers = 2;  // concurrent transactions
  std::size_t max_batch_records = 2000;
  // Called after each committed batch with its number of calls and records (metrics).
  std::function<void(std::size_t calls, std::size_t records)> on_batch;
};

class StagingWriter {
 public:
  StagingWriter(store::ConnectionPool& pool, WriterOptions options);
  ~StagingWriter();  // drains the queue, then stops the workers
  StagingWriter(const StagingWriter&) = delete;
  StagingWriter& operator=(const StagingWriter&) = delete;

  // Creates the change sequence. Call once before Start().
  Status Prepare();
  void Start();

  // Stages `records` durably; returns once committed. Errors are coded:
  // STG-200006 (a key already pending, Ingest), STG-500001 (database unavailable).
  Status Write(std::vector<StagedRecord> records);

 private:
  struct Call {
    std::vector<StagedRecord> records;
    std::promise<Status> done;
  };

  void WorkerLoop();
  // Applies records (inside an open transaction); seqs[i] is records[i]'s change sequence.
  Status Apply(store::Database& db, const std::vector<const StagedRecord*>& records,
               const std::vector<std::int64_t>& seqs, std::unordered_map<std::string, std::string>& sql_cache);
  enum class BatchOutcome { kDone, kReplay, kRetry };
  // Runs `calls` in one transaction. kDone: every call answered; kReplay: a data
  // error, replay call by call; kRetry: lost a race (deadlock), run it again.
  BatchOutcome RunBatch(store::Database& db, std::vector<Call*>& calls,
                        std::unordered_map<std::string, std::string>& cache);
  BatchOutcome Finish(std::vector<Call*>& calls, std::size_t total, const Status& status);
  // Runs the batch as one statement when it can (sets `done`); see writer.cc.
  Status TryOneStatement(store::Database& db, std::vector<Call*>& calls, std::size_t total, bool& done);
  Status RunOne(store::Database& db, Call& call, std::unordered_map<std::string, std::string>& cache);

  store::ConnectionPool& pool_;
  const WriterOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call*> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;    // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

// The statement that stages `record` (exposed for tests). Parameters: the
// record's values in order, then the change sequence — unless `seq_expr` (an
// in-statement sequence expression) is given.
std::string StagingSql(const StagedRecord& record, const std::string& seq_expr = "");

// Which key a record reconciles on, as stored in iStgKey: 0 for @id, k for the
// k-th declared key of its staging schema.
int KeyIndex(const StagedRecord& record);

// One INSERT staging `rows` records shaped like `record` (kInsert only):
// parameters are each record's values then its sequence, record after record —
// or only the values when `seq_expr` (an in-statement sequence expression) is given.
std::string MultiRowInsertSql(const StagedRecord& record, std::size_t rows, const std::string& seq_expr);

}  // namespace stagebridge::staging
