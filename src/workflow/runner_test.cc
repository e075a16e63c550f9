// runner_test.cc — the Runner's ffdaUnsubscribe on every local × cloud pair:
// recipients and services staged through IngestExt are merged first (a
// replicate run of its own, trigger ffdaUnsubscribe), so an opt-out written
// before a Subscribe refuses it; the run's figures are recorded in the history.
#include "workflow/runner.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "schema/apply.h"
#include "staging/record.h"
#include "staging/writer.h"
#include "store/pool.h"
#include "subscription/requests.h"
#include "support/test_databases.h"
#include "sync/test_schemas.h"
#include "workflow/scheduler.h"

namespace stagebridge::workflow {
namespace {

using sync::test_schemas::Schemas;
using test::AllPairs;
using test::BackendPair;
using test::PairParamName;
using test::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RunnerTest : public ::testing::TestWithParam<BackendPair> {
 protected:
  void SetUp() override {
    local_ = std::make_unique<TestDatabase>(GetParam().local);
    cloud_ = std::make_unique<TestDatabase>(GetParam().cloud);
    ASSERT_TRUE(local_->ok() && cloud_->ok());
    local_db_ = local_->Open();
    cloud_db_ = cloud_->Open();
    ASSERT_TRUE(local_db_ && cloud_db_);
    ASSERT_TRUE(schema::ApplySchemas(Schemas(), *local_db_, *cloud_db_).ok());
    pool_ = std::make_unique<store::ConnectionPool>(local_->url(), 8);  // writer 2 + runner up to 5
    writer_ = std::make_unique<staging::StagingWriter>(*pool_, staging::WriterOptions{});
    ASSERT_TRUE(writer_->Prepare().ok());
    writer_->Start();
    RunnerOptions options;
    options.cloud_url = cloud_->url();
    runner_ = std::make_unique<Runner>(*pool_, Schemas(), options);
    ASSERT_TRUE(runner_->Prepare().ok());
  }

  void IngestExt(const std::string& xml) {
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(xml.c_str()));
    Result<staging::DecodedDocument> d =
        staging::DecodeDocument(doc.document_element(), Schemas(), staging::Mode::kIngestExt);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    Status s = writer_->Write(std::move(d->records));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Request(subscription::Action action, const std::string& services, const std::string& email) {
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(("<recipient email=\"" + email + "\"/>").c_str()));
    Result<std::vector<std::string>> names = subscription::ParseServiceNames(services, action);
    ASSERT_TRUE(names.ok());
    Result<std::vector<subscription::Request>> r =
        subscription::DecodeRequests(action, *names, doc.document_element(), false, Schemas(), "soap:t");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(subscription::EnsureRequestTable(*local_db_).ok());
    ASSERT_TRUE(subscription::StageRequests(*local_db_, *r).ok());
  }
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    Result<std::vector<store::Row>> rows = cloud_db_->Query(sql);
    EXPECT_TRUE(rows.ok()) << sql << "\n" << rows.status().ToString();
    if (rows.ok()) {
      for (const store::Row& row : *rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) line += (i ? "|" : "") + store::ValueToString(row[i]);
        out.push_back(line);
      }
    }
    return out;
  }

  std::unique_ptr<TestDatabase> local_;
  std::unique_ptr<TestDatabase> cloud_;
  std::unique_ptr<store::Database> local_db_;
  std::unique_ptr<store::Database> cloud_db_;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<staging::StagingWriter> writer_;
  std::unique_ptr<Runner> runner_;
};

TEST_P(RunnerTest, UnsubscribeMergesStagedRecipientsAndServicesFirst) {
  // Service and recipients only staged (IngestExt), not merged yet.
  IngestExt(R"(<serviceStg xtkschema="nms:serviceStg" _key="@name" name="news" label="News" messageType="0"/>)");
  IngestExt(R"(<recipientStg xtkschema="nms:recipientStg" _key="@email" email="a@x.org"/>)");
  IngestExt(R"(<recipientStg xtkschema="nms:recipientStg" _key="@email" email="b@x.org" blackListEmail="1"/>)");
  Request(subscription::Action::kSubscribe, "news", "a@x.org");
  Request(subscription::Action::kSubscribe, "news", "b@x.org");

  RunRequest request;
  request.workflow = kUnsubscribe;
  Result<RunRecord> run = runner_->Run(request);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->status, "done") << run->error;
  ASSERT_EQ(run->schemas.size(), 1u);
  EXPECT_EQ(run->schemas[0].schema, "nms:subscription");
  EXPECT_EQ(run->schemas[0].staged, 2);
  EXPECT_EQ(run->schemas[0].inserted, 1);
  EXPECT_EQ(run->schemas[0].rejected, 1);
  EXPECT_THAT(run->schemas[0].rejections.at(0), HasSubstr("blackListEmail"));
  EXPECT_THAT(Column("SELECT r.sEmail FROM NmsSubscription s JOIN NmsRecipient r ON r.uRecipientId = s.uRecipientId"),
              ElementsAre("a@x.org"));

  // The merge was a replicate run of its own, and the figures are in the history.
  Result<store::ConnectionPool::Lease> db = pool_->Acquire();
  ASSERT_TRUE(db.ok());
  Result<std::vector<RunRecord>> merges = ListRuns(**db, kReplicate, 10);
  ASSERT_TRUE(merges.ok());
  ASSERT_EQ(merges->size(), 1u);
  EXPECT_EQ((*merges)[0].trigger, kUnsubscribe);
  EXPECT_EQ((*merges)[0].status, "done");
  Result<RunRecord> recorded = GetRun(**db, run->id);
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->schemas.size(), 1u);
  EXPECT_EQ(recorded->schemas[0].rejected, 1);

  // Nothing staged for them any more: no second merge run.
  Result<RunRecord> again = runner_->Run(request);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->schemas.at(0).staged, 0);
  merges = ListRuns(**db, kReplicate, 10);
  ASSERT_TRUE(merges.ok());
  EXPECT_EQ(merges->size(), 1u);
}

TEST_P(RunnerTest, AnUnreachableCloudStopsTheRunAndKeepsTheRequests) {
  Request(subscription::Action::kSubscribe, "news", "a@x.org");
  RunnerOptions options;
  options.cloud_url = "postgresql://sb@127.0.0.1:1/none?connect_timeout=2";
  Runner runner(*pool_, Schemas(), options);
  RunRequest request;
  request.workflow = kUnsubscribe;
  Result<RunRecord> run = runner.Run(request);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->status, "error");
  EXPECT_THAT(run->error, HasSubstr("cloud database is unavailable"));
  Result<std::int64_t> pending = subscription::PendingRequests(*local_db_);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(*pending, 1);
}

INSTANTIATE_TEST_SUITE_P(Pairs, RunnerTest, ::testing::ValuesIn(AllPairs()), PairParamName());

}  // namespace
}  // namespace stagebridge::workflow

namespace stagebridge::workflow {
namespace {

// A user workflow set whose runs log a line and succeed, or fail with "boom".
class FakeUserWorkflows : public UserWorkflows {
 public:
  std::vector<std::string> Names() const override { return {"userOk", "userFails"}; }
  Status Execute(RunRecord& run, store::Database& local, const std::atomic<bool>* /*stop*/) override {
    {
      std::lock_guard lock(mu);
      ++runs;
    }
    cv.notify_all();
    SB_RETURN_IF_ERROR(AppendLog(local, run.id, {{NowSeconds(), "js", "info", "ran " + run.workflow}}));
    if (run.workflow == "userFails") return Status::Internal("activity 'js' failed at a.js:3:7: boom");
    return Status::Ok();
  }
  std::mutex mu;
  std::condition_variable cv;
  int runs = 0;
};

class UserWorkflowRunTest : public ::testing::TestWithParam<test::Backend> {
 protected:
  void SetUp() override {
    local_ = std::make_unique<test::TestDatabase>(GetParam());
    ASSERT_TRUE(local_->ok());
    pool_ = std::make_unique<store::ConnectionPool>(local_->url(), 8);
    runner_ = std::make_unique<Runner>(*pool_, sync::test_schemas::Schemas(), RunnerOptions{});
    ASSERT_TRUE(runner_->Prepare().ok());
    runner_->set_user_workflows(&user_);
  }
  FakeUserWorkflows user_;
  std::unique_ptr<test::TestDatabase> local_;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<Runner> runner_;
};

TEST_P(UserWorkflowRunTest, UserWorkflowsRunUnderTheHistoryWithTheirOutcomeAndLog) {
  EXPECT_THAT(runner_->Known(),
              ElementsAre(kReplicate, kUnsubscribe, kCleanup, std::string("userOk"), std::string("userFails")));
  RunRequest ok;
  ok.workflow = "userOk";
  Result<RunRecord> done = runner_->Run(ok);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->status, "done");
  RunRequest bad;
  bad.workflow = "userFails";
  Result<RunRecord> failed = runner_->Run(bad);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, "error");
  EXPECT_EQ(failed->error, "activity 'js' failed at a.js:3:7: boom");
  Result<store::ConnectionPool::Lease> db = pool_->Acquire();
  ASSERT_TRUE(db.ok());
  Result<RunRecord> recorded = GetRun(**db, failed->id);
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ(recorded->status, "error");
  EXPECT_EQ(recorded->error, failed->error);
  Result<std::vector<LogLine>> log = ListLog(**db, done->id);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].text, "ran userOk");
  RunRequest unknown;
  unknown.workflow = "nope";
  Result<RunRecord> refused = runner_->Run(unknown);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              HasSubstr("SYN-300003 Unknown workflow 'nope' (known: ffdaReplicateStagingData, "
                        "ffdaUnsubscribe, cleanup, userOk, userFails)"));
}

TEST_P(UserWorkflowRunTest, SchedulerStartsAddedUserEntriesAndForgetsRemovedOnes) {
  Scheduler scheduler(*runner_, {});
  scheduler.Start();
  EXPECT_FALSE(scheduler.RunNow("userOk", "", "test"));  // not scheduled yet
  scheduler.SetUserEntries({{"userOk", *ParseSchedule("off")}});
  ASSERT_TRUE(scheduler.RunNow("userOk", "", "test"));
  {
    std::unique_lock lock(user_.mu);
    ASSERT_TRUE(user_.cv.wait_for(lock, std::chrono::seconds(30), [&] { return user_.runs >= 1; }));
  }
  // A schedule change applies: "every 1s" runs it again without a request.
  scheduler.SetUserEntries({{"userOk", *ParseSchedule("every 1s")}});
  {
    std::unique_lock lock(user_.mu);
    ASSERT_TRUE(user_.cv.wait_for(lock, std::chrono::seconds(30), [&] { return user_.runs >= 3; }));
  }
  scheduler.SetUserEntries({});
  EXPECT_FALSE(scheduler.RunNow("userOk", "", "test"));  // removed
  scheduler.Stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, UserWorkflowRunTest, ::testing::ValuesIn(test::AllBackends()),
                         test::BackendParamName());

}  // namespace
}  // namespace stagebridge::workflow
