// workflow_test.cc — the run history (start, record, finish, list, get, purge,
// interrupted runs) and the lease keeping one run per workflow at a time, on
// both backends. Times are passed in (no sleeping): the lease functions take
// `now` as their last argument.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/test_databases.h"
#include "workflow/history.h"

namespace stagebridge::workflow {
namespace {

using test::AllBackends;
using test::Backend;
using test::BackendParamName;
using test::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::SizeIs;

constexpr const char* kWorkflow = "ffdaReplicateStagingData";
constexpr std::int64_t kT = 1'700'000'000;  // a fixed "now" for lease tests

class HistoryTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    ASSERT_TRUE(tdb_->ok());
    db_ = tdb_->Open();
    ASSERT_NE(db_, nullptr);
    Status s = EnsureHistoryTables(*db_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::int64_t Start(const char* workflow = kWorkflow, const char* holder = "host:1:a") {
    Result<std::int64_t> id = StartRun(*db_, workflow, "cli", holder);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : -1;
  }
  RunRecord Get(std::int64_t id) {
    Result<RunRecord> r = GetRun(*db_, id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RunRecord{};
  }
  std::vector<std::int64_t> Ids(std::string_view workflow, int limit) {
    Result<std::vector<RunRecord>> runs = ListRuns(*db_, workflow, limit);
    EXPECT_TRUE(runs.ok()) << runs.status().ToString();
    std::vector<std::int64_t> out;
    if (runs.ok()) {
      for (const RunRecord& r : *runs) out.push_back(r.id);
    }
    return out;
  }
  bool Acquire(const char* holder, std::int64_t ttl, std::int64_t now, const char* workflow = kWorkflow) {
    Result<bool> got = TryAcquireLease(*db_, workflow, holder, ttl, now);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() && *got;
  }
  bool Renew(const char* holder, std::int64_t ttl, std::int64_t now) {
    Result<bool> kept = RenewLease(*db_, kWorkflow, holder, ttl, now);
    EXPECT_TRUE(kept.ok()) << kept.status().ToString();
    return kept.ok() && *kept;
  }
  std::optional<std::string> Holder(std::int64_t now, const char* workflow = kWorkflow) {
    Result<std::optional<std::string>> h = LeaseHolder(*db_, workflow, now);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? *h : std::nullopt;
  }

  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<store::Database> db_;
};

TEST_P(HistoryTest, TablesAreCreatedOnce) {
  EXPECT_TRUE(EnsureHistoryTables(*db_).ok());
  for (const char* table : {"SbWorkflowRun", "SbWorkflowRunSchema", "SbWorkflowLease", "SbWorkflowLog"}) {
    Result<bool> exists = db_->TableExists(table);
    ASSERT_TRUE(exists.ok());
    EXPECT_TRUE(*exists) << table;
  }
}

TEST_P(HistoryTest, StartedRunIsRunning) {
  std::int64_t before = NowSeconds();
  std::int64_t id = Start(kWorkflow, "host:42:abcd");
  std::int64_t after = NowSeconds();
  RunRecord run = Get(id);
  EXPECT_EQ(run.id, id);
  EXPECT_EQ(run.workflow, kWorkflow);
  EXPECT_EQ(run.trigger, "cli");
  EXPECT_EQ(run.holder, "host:42:abcd");
  EXPECT_EQ(run.status, "running");
  EXPECT_GE(run.started, before);
  EXPECT_LE(run.started, after);
  EXPECT_EQ(run.ended, 0);
  EXPECT_EQ(run.error, "");
  EXPECT_THAT(run.schemas, IsEmpty());
  EXPECT_GT(Start(), id);  // ids increase
}

TEST_P(HistoryTest, RecordSchemaKeepsTheLastOutcomePerSchema) {
  std::int64_t id = Start();
  sync::SchemaResult first;
  first.schema = "nms:recipient";
  first.staged = 1;
  ASSERT_TRUE(RecordSchema(*db_, id, first).ok());
  sync::SchemaResult r;
  r.schema = "nms:recipient";
  r.staged = 10;
  r.inserted = 4;
  r.updated = 3;
  r.deleted = 2;
  r.rejected = 1;
  r.batches = 2;
  r.rejections = {"id=R1: duplicate: the id is already in the cloud table NmsRecipient (Ingest only inserts)",
                  "email=O'Brien; drop table x: conflict"};
  ASSERT_TRUE(RecordSchema(*db_, id, r).ok());
  sync::SchemaResult other;
  other.schema = "dem:sampleTable";
  other.staged = 5;
  other.inserted = 5;
  ASSERT_TRUE(RecordSchema(*db_, id, other).ok());
  // Another run's outcome is its own.
  ASSERT_TRUE(RecordSchema(*db_, Start(), first).ok());

  RunRecord run = Get(id);
  ASSERT_THAT(run.schemas, SizeIs(2));
  const sync::SchemaResult& a = run.schemas[0];  // ordered by schema
  EXPECT_EQ(a.schema, "dem:sampleTable");
  EXPECT_EQ(a.inserted, 5);
  EXPECT_THAT(a.rejections, IsEmpty());
  const sync::SchemaResult& b = run.schemas[1];
  EXPECT_EQ(b.schema, "nms:recipient");
  EXPECT_EQ(b.staged, 10);
  EXPECT_EQ(b.inserted, 4);
  EXPECT_EQ(b.updated, 3);
  EXPECT_EQ(b.deleted, 2);
  EXPECT_EQ(b.rejected, 1);
  EXPECT_EQ(b.batches, 2);
  EXPECT_EQ(b.rejections, r.rejections);
}

TEST_P(HistoryTest, FinishRunRecordsStatusEndAndError) {
  std::int64_t ok = Start();
  std::int64_t failed = Start();
  std::int64_t before = NowSeconds();
  ASSERT_TRUE(FinishRun(*db_, ok, "done", "").ok());
  ASSERT_TRUE(FinishRun(*db_, failed, "error", "dem:sampleTable: SYN-500001 The cloud database is unavailable").ok());
  RunRecord a = Get(ok);
  EXPECT_EQ(a.status, "done");
  EXPECT_GE(a.ended, before);
  EXPECT_EQ(a.error, "");
  RunRecord b = Get(failed);
  EXPECT_EQ(b.status, "error");
  EXPECT_THAT(b.error, HasSubstr("SYN-500001"));
}

TEST_P(HistoryTest, FinishRunRecordedLateKeepsTheRealEnd) {
  std::int64_t run = Start();
  ASSERT_TRUE(FinishRun(*db_, run, "error", "the local database was unreachable", 1234).ok());
  RunRecord r = Get(run);
  EXPECT_EQ(r.ended, 1234);
  EXPECT_EQ(r.status, "error");
}

TEST_P(HistoryTest, ListRunsIsNewestFirstPerWorkflowAndLimited) {
  std::int64_t r1 = Start(kWorkflow);
  std::int64_t c1 = Start("cleanup");
  std::int64_t r2 = Start(kWorkflow);
  std::int64_t r3 = Start(kWorkflow);
  EXPECT_THAT(Ids(kWorkflow, 10), ElementsAre(r3, r2, r1));
  EXPECT_THAT(Ids(kWorkflow, 2), ElementsAre(r3, r2));
  EXPECT_THAT(Ids("cleanup", 10), ElementsAre(c1));
  EXPECT_THAT(Ids("", 10), ElementsAre(r3, r2, c1, r1));
  EXPECT_THAT(Ids("unknown", 10), IsEmpty());
  EXPECT_THAT(Ids(kWorkflow, 0), IsEmpty());
  sync::SchemaResult s;
  s.schema = "dem:sampleTable";
  s.inserted = 7;
  ASSERT_TRUE(RecordSchema(*db_, r3, s).ok());
  Result<std::vector<RunRecord>> runs = ListRuns(*db_, kWorkflow, 1);
  ASSERT_TRUE(runs.ok());
  ASSERT_THAT(*runs, SizeIs(1));
  ASSERT_THAT((*runs)[0].schemas, SizeIs(1));  // listed runs carry their schemas
  EXPECT_EQ((*runs)[0].schemas[0].inserted, 7);
}

TEST_P(HistoryTest, GetRunOfAnUnknownRunIsNotFound) {
  Result<RunRecord> r = GetRun(*db_, 12345);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

TEST_P(HistoryTest, PurgeDeletesFinishedRunsEndedBeforeTheLimit) {
  std::int64_t old_done = Start();
  std::int64_t old_error = Start();
  std::int64_t recent = Start();
  std::int64_t running = Start();
  ASSERT_TRUE(FinishRun(*db_, old_done, "done", "").ok());
  ASSERT_TRUE(FinishRun(*db_, old_error, "error", "x").ok());
  ASSERT_TRUE(FinishRun(*db_, recent, "done", "").ok());
  ASSERT_TRUE(
      db_->Execute("UPDATE SbWorkflowRun SET iEnd = 1000 WHERE iRunId IN ($1, $2)", {old_done, old_error}).ok());
  ASSERT_TRUE(db_->Execute("UPDATE SbWorkflowRun SET iEnd = 2000 WHERE iRunId = $1", {recent}).ok());
  sync::SchemaResult s;
  s.schema = "dem:sampleTable";
  ASSERT_TRUE(RecordSchema(*db_, old_done, s).ok());
  ASSERT_TRUE(RecordSchema(*db_, recent, s).ok());

  Result<std::int64_t> none = PurgeRuns(*db_, 1000);  // "before" is strict
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
  Result<std::int64_t> purged = PurgeRuns(*db_, 1001);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(*purged, 2);
  EXPECT_THAT(Ids("", 10), ElementsAre(running, recent));
  Result<std::vector<store::Row>> orphans =
      db_->Query("SELECT count(*) FROM SbWorkflowRunSchema WHERE iRunId = $1", {old_done});
  ASSERT_TRUE(orphans.ok());
  EXPECT_EQ(std::get<std::int64_t>((*orphans)[0][0]), 0);
  // A running run is never purged, however old.
  Result<std::int64_t> all = PurgeRuns(*db_, NowSeconds() + 86400);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 1);
  EXPECT_THAT(Ids("", 10), ElementsAre(running));
}

TEST_P(HistoryTest, LogLinesAreKeptInOrderPerRunAndPurgedWithTheirRun) {
  std::int64_t a = Start();
  std::int64_t b = Start();
  ASSERT_TRUE(
      AppendLog(*db_, a, {{100, "js1", "info", "first"}, {101, "js1", "warning", "it's <odd> & \"quoted\""}}).ok());
  ASSERT_TRUE(AppendLog(*db_, b, {{102, "other", "info", "b's"}}).ok());
  ASSERT_TRUE(AppendLog(*db_, a, {{103, "js2", "error", "line 1\nline 2"}}).ok());
  ASSERT_TRUE(AppendLog(*db_, a, {}).ok());
  Result<std::vector<LogLine>> lines = ListLog(*db_, a);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[0].text, "first");
  EXPECT_EQ((*lines)[1].level, "warning");
  EXPECT_EQ((*lines)[1].text, "it's <odd> & \"quoted\"");
  EXPECT_EQ((*lines)[2].activity, "js2");
  EXPECT_EQ((*lines)[2].time, 103);
  EXPECT_EQ((*lines)[2].text, "line 1\nline 2");
  ASSERT_TRUE(FinishRun(*db_, a, "done", "").ok());
  ASSERT_TRUE(db_->Execute("UPDATE SbWorkflowRun SET iEnd = 1000 WHERE iRunId = $1", {a}).ok());
  ASSERT_TRUE(PurgeRuns(*db_, 1001).ok());
  Result<std::vector<LogLine>> purged = ListLog(*db_, a);
  ASSERT_TRUE(purged.ok());
  EXPECT_THAT(*purged, IsEmpty());
  Result<std::vector<LogLine>> kept = ListLog(*db_, b);  // still running: kept
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 1u);
}

TEST_P(HistoryTest, MarkInterruptedEndsOnlyRunsWhoseHolderDied) {
  std::int64_t dead = Start(kWorkflow, "dead");
  std::int64_t alive = Start(kWorkflow, "alive");
  std::int64_t mine = Start(kWorkflow, "me");
  std::int64_t finished = Start(kWorkflow, "dead");
  std::int64_t other_workflow = Start("cleanup", "dead");
  ASSERT_TRUE(FinishRun(*db_, finished, "done", "").ok());
  ASSERT_TRUE(Acquire("alive", 60, kT));  // still holds the lease until kT + 60

  ASSERT_TRUE(MarkInterrupted(*db_, kWorkflow, "me", kT + 10).ok());
  RunRecord d = Get(dead);
  EXPECT_EQ(d.status, "interrupted");
  EXPECT_EQ(d.ended, kT + 10);
  EXPECT_THAT(d.error, HasSubstr("stopped"));
  EXPECT_EQ(Get(alive).status, "running");
  EXPECT_EQ(Get(mine).status, "running");
  EXPECT_EQ(Get(finished).status, "done");
  EXPECT_EQ(Get(other_workflow).status, "running");

  // Once its lease expired, the silent holder's run is interrupted too.
  ASSERT_TRUE(MarkInterrupted(*db_, kWorkflow, "me", kT + 60).ok());
  EXPECT_EQ(Get(alive).status, "interrupted");
  EXPECT_EQ(Get(mine).status, "running");
}

TEST_P(HistoryTest, LeaseIsExclusiveUntilReleased) {
  EXPECT_EQ(Holder(kT), std::nullopt);
  EXPECT_TRUE(Acquire("A", 60, kT));
  EXPECT_THAT(Holder(kT), Optional(std::string("A")));
  EXPECT_FALSE(Acquire("B", 60, kT + 1));
  EXPECT_TRUE(Acquire("A", 60, kT + 1));  // already ours
  EXPECT_THAT(Holder(kT + 1), Optional(std::string("A")));
  ASSERT_TRUE(ReleaseLease(*db_, kWorkflow, "B").ok());  // not B's: nothing happens
  EXPECT_THAT(Holder(kT + 1), Optional(std::string("A")));
  EXPECT_FALSE(Acquire("B", 60, kT + 2));
  ASSERT_TRUE(ReleaseLease(*db_, kWorkflow, "A").ok());
  EXPECT_EQ(Holder(kT + 2), std::nullopt);
  EXPECT_TRUE(Acquire("B", 60, kT + 2));
  EXPECT_THAT(Holder(kT + 2), Optional(std::string("B")));
  EXPECT_FALSE(Renew("A", 60, kT + 3));  // A lost it
}

TEST_P(HistoryTest, LeasesOfDifferentWorkflowsAreIndependent) {
  EXPECT_TRUE(Acquire("A", 60, kT, kWorkflow));
  EXPECT_TRUE(Acquire("B", 60, kT, "cleanup"));
  EXPECT_THAT(Holder(kT, kWorkflow), Optional(std::string("A")));
  EXPECT_THAT(Holder(kT, "cleanup"), Optional(std::string("B")));
}

TEST_P(HistoryTest, LeaseExpiresAtItsTtlAndRenewalPushesItBack) {
  ASSERT_TRUE(Acquire("A", 60, kT));
  EXPECT_FALSE(Acquire("B", 60, kT + 59));
  EXPECT_THAT(Holder(kT + 59), Optional(std::string("A")));
  EXPECT_TRUE(Renew("A", 60, kT + 59));  // now until kT + 119
  EXPECT_FALSE(Renew("B", 60, kT + 59));
  EXPECT_FALSE(Acquire("B", 60, kT + 118));
  // Expired: reported free at the same instant it can be taken.
  EXPECT_EQ(Holder(kT + 119), std::nullopt);
  EXPECT_TRUE(Acquire("B", 60, kT + 119));
  EXPECT_THAT(Holder(kT + 119), Optional(std::string("B")));
  EXPECT_FALSE(Renew("A", 60, kT + 120));  // the crashed-then-woken holder learns it lost it
}

TEST_P(HistoryTest, LeaseWithZeroOrNegativeTtlIsExpiredAtOnce) {
  // With the wall clock, as the runner calls it: deterministic whatever the second.
  Result<bool> a = TryAcquireLease(*db_, kWorkflow, "A", 0);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(*a);
  Result<std::optional<std::string>> holder = LeaseHolder(*db_, kWorkflow);
  ASSERT_TRUE(holder.ok());
  EXPECT_EQ(*holder, std::nullopt);
  Result<bool> b = TryAcquireLease(*db_, kWorkflow, "B", -5);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(*b) << "a lease taken with ttl 0 must not block anyone";
  Result<bool> c = TryAcquireLease(*db_, kWorkflow, "C", 60);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(*c) << "a lease taken with a negative ttl must not block anyone";
  holder = LeaseHolder(*db_, kWorkflow);
  ASSERT_TRUE(holder.ok());
  EXPECT_THAT(*holder, Optional(std::string("C")));
  // Renewing with ttl 0 gives it up in effect.
  EXPECT_TRUE(Renew("C", 0, kT));
  EXPECT_TRUE(Acquire("D", 60, kT));
}

TEST_P(HistoryTest, HoldersRacingForOneLeaseExactlyOneWins) {
  constexpr int kHolders = 6;
  std::vector<std::unique_ptr<store::Database>> conns;
  for (int i = 0; i < kHolders; ++i) {
    conns.push_back(tdb_->Open());
    ASSERT_NE(conns.back(), nullptr);
  }
  for (int round = 0; round < 6; ++round) {
    std::string workflow = "race" + std::to_string(round);
    if (round % 2 == 1) {
      // An expired lease left by a crashed holder: also taken by exactly one.
      ASSERT_TRUE(Acquire("crashed", 10, kT - 100, workflow.c_str()));
    }
    std::atomic<int> ready{0};
    std::atomic<int> winners{0};
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kHolders; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kHolders) std::this_thread::yield();
        Result<bool> got =
            TryAcquireLease(*conns[static_cast<std::size_t>(i)], workflow, "holder" + std::to_string(i), 60, kT);
        if (!got.ok()) {
          errors.fetch_add(1);
        } else if (*got) {
          winners.fetch_add(1);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(errors.load(), 0) << "round " << round;
    EXPECT_EQ(winners.load(), 1) << "round " << round;
    std::optional<std::string> holder = Holder(kT, workflow.c_str());
    ASSERT_TRUE(holder.has_value());
    EXPECT_THAT(*holder, HasSubstr("holder"));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, HistoryTest, ::testing::ValuesIn(AllBackends()), BackendParamName());

}  // namespace
}  // namespace stagebridge::workflow
