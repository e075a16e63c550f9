// writer.h — the staging writer: applies decoded records to the staging tables
// of the local database with group commit (DESIGN.md "Group commit").
//
// WriteAsync() queues a call and returns at once; its `done` callback runs once
// the records are committed (or refused). Write() is the blocking form, built on
// it. Concurrent calls are batched by a few worker threads, each holding its own
// connection: one transaction, one change-sequence reservation and one COMMIT
// (one fsync) for every call in the batch. Normally one batch runs at a time,
// the calls arriving meanwhile gathering into the next (see join_after); a
// second worker steps in when a batch runs long. A call's records are all-or-nothing:
// when a batch fails (one call's record conflicts, say), it is rolled back and
// each call is replayed in its own transaction, so one bad call never fails
// another. Nothing is acknowledged before COMMIT returned.
//
// The direct lane (PostgreSQL): a call made on an event-loop thread (one with a
// Reactor::Current(), the HTTP server's I/O threads) while no batch runs and
// none waits does not go through a worker: its statement is sent at once, on a
// connection that thread keeps for it, without blocking the thread, and the
// call is answered from the thread's loop when the database replied. That is
// the batch of one a worker would have run, without its two thread hand-offs.
// It counts as the running batch: calls arriving meanwhile are queued (nobody
// is woken), and when the statement ends the same thread sends them on its
// lane as the next statement (as many from the front as one statement can
// take), so one statement runs at a time and none needs a worker. A worker
// steps in for a statement older than join_after, and takes what no lane can
// send (a call of several statements). Calls whose statement the database
// refuses are handed to the workers (nothing was written: one statement,
// outside any transaction), which run them again and name the fault as usual.
//
// Thread-safety: thread-safe. Callbacks run on a writer thread, on the
// caller's event loop (direct lane), or, for a call refused before it was
// queued, on the caller's thread before WriteAsync returns; they must be quick
// and must not call Write() (a worker would wait for itself). A writer must
// outlive the event loops that used its direct lane.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "staging/record.h"
#include "store/pool.h"

namespace stagebridge {
class Reactor;
}  // namespace stagebridge

namespace stagebridge::staging {

// The sequence numbering staged writes (iStgSeq).
inline constexpr const char* kStagingSequence = "SbStgSeq";

struct WriterOptions {
  int workers = 2;  // concurrent transactions
  std::size_t max_batch_records = 2000;
  // While a batch runs, another worker starts one only once the last batch
  // started this long ago (or when a full batch waits). Under steady load one
  // batch runs at a time and the calls arriving meanwhile gather into the next:
  // fewer, larger statements for the database to parse, plan and commit, and the
  // next batch starts as soon as the running one committed, while its calls are
  // being answered. A long transaction holds the others back this long at most.
  // Zero: an idle worker takes whatever is queued at once.
  std::chrono::microseconds join_after{std::chrono::milliseconds(20)};
  // Called after each committed batch with its number of calls and records (metrics).
  std::function<void(std::size_t calls, std::size_t records)> on_batch;
  // The direct lane (see above); false: every call goes through the workers.
  bool direct_lane = true;
  // Called by a worker before it opens the connection of the lane of `reactor`
  // (tests: each lane is opened once, whatever the timing).
  std::function<void(const void* reactor)> on_lane_open;
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

  // Finishes every queued call (each gets its callback), then stops the
  // workers; later calls are refused with STG-500001. Idempotent.
  void Stop();

  using Done = std::function<void(Status)>;

  // Stages `records` durably and calls `done` exactly once: with Ok once they
  // are committed, or with a coded error: STG-200006 (a key already pending,
  // Ingest), STG-500001 (database unavailable, or the writer stopped).
  void WriteAsync(std::vector<StagedRecord> records, Done done);

  // The blocking form of WriteAsync: returns once committed (or refused).
  Status Write(std::vector<StagedRecord> records);

 private:
  struct Call {
    std::vector<StagedRecord> records;
    Done done;
    bool direct = false;  // one statement alone: a lane may send it (not a replay)
  };
  // Answers `call` (once); the call is gone afterwards.
  static void Answer(Call* call, const Status& status);

  void WorkerLoop();
  // Waits for the next batch (see WriterOptions::join_after); empty when stopping and drained.
  std::vector<Call*> NextBatch();
  // The database work of a batch is over.
  void EndBatch();
  // Applies records (inside an open transaction); seqs[i] is records[i]'s change sequence.
  Status Apply(store::Database& db, const std::vector<const StagedRecord*>& records,
               const std::vector<std::int64_t>& seqs, std::unordered_map<std::string, std::string>& sql_cache);
  // Runs `calls` (`total` records) in one transaction, answering none. Aborted:
  // lost a race (deadlock), run it again; Unavailable: the database is gone;
  // another error: a data error, replay call by call.
  Status RunBatch(store::Database& db, std::vector<Call*>& calls, std::size_t total,
                  std::unordered_map<std::string, std::string>& cache);
  Status RunOne(store::Database& db, Call& call, std::unordered_map<std::string, std::string>& cache);

  // The direct lane of one event loop: its connection and statement cache,
  // used by that loop's thread alone while `busy`.
  struct Lane;
  struct DirectCall;
  // Takes `call` onto the calling thread's lane (sent at once, or with the
  // lane's next statement) when the lane may take it; false (the call
  // untouched) otherwise.
  bool TryDirect(Call* call);
  // Takes the queued calls a lane's next statement sends (one run, in order,
  // from the front); none when the front is not a lane's. REQUIRES: mu_ held.
  std::vector<Call*> TakeQueuedRun();
  // Sends `calls` (one run) on `lane` as one statement, from its loop's thread;
  // `spin`: the loop may poll for the answer.
  void SendDirect(Lane* lane, Reactor* reactor, std::vector<Call*> calls, bool spin);
  // Moves a direct call on after its socket was ready (or not: `ready` false).
  void StepDirect(std::shared_ptr<DirectCall> op, bool ready);
  // Ends a lane's statement: answers its calls, or hands them to the workers,
  // and sends the lane's next statement.
  void FinishDirect(DirectCall& op, const Status& status, bool sent);
  // A worker opens the connections lanes asked for (outside the lock).
  void OpenLanes();

  store::ConnectionPool& pool_;
  const WriterOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call*> queue_;                           // GUARDED_BY(mu_): owned, deleted by Answer()
  std::size_t queued_records_ = 0;                    // GUARDED_BY(mu_): records in queue_
  int running_ = 0;                                   // GUARDED_BY(mu_): batches between NextBatch and EndBatch
  std::chrono::steady_clock::time_point last_start_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                             // GUARDED_BY(mu_)
  bool workers_gone_ = false;                         // GUARDED_BY(mu_): Stop() joined them
  std::unordered_map<const void*, std::unique_ptr<Lane>> lanes_;  // GUARDED_BY(mu_): by Reactor
  bool lanes_wanted_ = false;                                     // GUARDED_BY(mu_): a lane waits for its connection
  std::vector<std::thread> workers_;
  std::mutex stop_mu_;  // serializes Stop()
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

// PostgreSQL: one INSERT … SELECT FROM unnest(…) staging any number of records
// shaped like `record` (any operation; an upsert's keys must not repeat among
// them). Parameters: one array literal per attribute (store::ArrayLiteral);
// the sequence comes from `seq_expr`, drawn per row inside the statement.
std::string UnnestSql(const StagedRecord& record, const std::string& seq_expr);

}  // namespace stagebridge::staging
