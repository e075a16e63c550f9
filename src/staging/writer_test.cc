// writer_test.cc — integration tests of the group-commit staging writer on both
// backends: what lands in the staging tables, conflicts, all-or-nothing calls,
// and concurrency (group commit batches calls; one bad call fails nobody else).
#include "staging/writer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pugixml.hpp>

#include "base/reactor.h"
#include "schema/apply.h"
#include "staging/record.h"
#include "support/test_databases.h"

namespace stagebridge::staging {
namespace {

using test::AllBackends;
using test::Backend;
using test::BackendParamName;
using test::TestDatabase;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kSample = R"(<srcSchema namespace="dem" name="sampleTable" label="Sample Table">
  <element name="sampleTable" label="Sample Table" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255"/>
    <attribute name="testcol2" type="string" length="255"/>
  </element></srcSchema>)";

// Every attribute type, for values crossing the writer's batched statements.
constexpr const char* kTyped = R"(<srcSchema namespace="dem" name="typed" label="Typed">
  <element name="typed" label="Typed" autopk="true" autouuid="true" autoStg="true" dataSource="nms:extAccount:ffda">
    <attribute name="str" type="string" length="80"/>
    <attribute name="memo" type="memo"/>
    <attribute name="num" type="long"/>
    <attribute name="big" type="int64"/>
    <attribute name="small" type="short"/>
    <attribute name="flag" type="boolean"/>
    <attribute name="ratio" type="double"/>
    <attribute name="day" type="date"/>
    <attribute name="at" type="datetime"/>
  </element></srcSchema>)";

const schema::SchemaSet& Schemas() {
  static const schema::SchemaSet* set = [] {
    Result<schema::SchemaSet> s =
        schema::SchemaSet::Load({{"dem_sampleTable.xml", kSample}, {"dem_typed.xml", kTyped}});
    if (!s.ok()) {
      ADD_FAILURE() << s.status().ToString();
      std::abort();
    }
    return new schema::SchemaSet(std::move(s).value());
  }();
  return *set;
}

// Decodes an Ingest/IngestExt document, expecting success.
std::vector<StagedRecord> Records(const std::string& xml, Mode mode) {
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_string(xml.c_str())) << xml;
  Result<DecodedDocument> d = DecodeDocument(doc.document_element(), Schemas(), mode);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  if (!d.ok()) return {};
  return std::move(d).value().records;  // records point into the schema set, not the document
}

std::string Sample(const std::string& attrs) {
  return "<sampleTableStg " + attrs + " xtkschema=\"dem:sampleTableStg\"/>";
}

struct StagedRow {
  std::string testcol1;
  std::string testcol2;
  std::int64_t del = -1;
  std::int64_t op = -1;
  std::int64_t seq = -1;
  std::int64_t run = -1;
};

class WriterTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    local_ = std::make_unique<TestDatabase>(GetParam());
    cloud_ = std::make_unique<TestDatabase>(GetParam());
    ASSERT_TRUE(local_->ok() && cloud_->ok());
    db_ = local_->Open();
    cloud_db_ = cloud_->Open();
    ASSERT_NE(db_, nullptr);
    ASSERT_NE(cloud_db_, nullptr);
    Result<schema::ApplyReport> applied = schema::ApplySchemas(Schemas(), *db_, *cloud_db_);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  }

  void TearDown() override {
    writer_.reset();
    pool_.reset();
  }

  void StartWriter(int workers = 2) {
    pool_ = std::make_unique<store::ConnectionPool>(local_->url(), workers);
    WriterOptions options;
    options.workers = workers;
    options.on_batch = [this](std::size_t calls, std::size_t records) {
      batches_.fetch_add(1);
      batched_calls_.fetch_add(calls);
      batched_records_.fetch_add(records);
      std::size_t seen = max_calls_in_batch_.load();
      while (calls > seen && !max_calls_in_batch_.compare_exchange_weak(seen, calls)) {
      }
    };
    writer_ = std::make_unique<StagingWriter>(*pool_, std::move(options));
    Status prepared = writer_->Prepare();
    ASSERT_TRUE(prepared.ok()) << prepared.ToString();
    writer_->Start();
  }

  Status Write(const std::string& xml, Mode mode) { return writer_->Write(Records(xml, mode)); }

  std::map<std::string, StagedRow> Rows() {
    std::map<std::string, StagedRow> out;
    Result<std::vector<store::Row>> rows = db_->Query(
        "SELECT uSampleTableId, sTestcol1, sTestcol2, iDelete, iStgOp, iStgSeq, iStgKey "
        "FROM DemSampleTableStg");
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    if (!rows.ok()) return out;
    for (const store::Row& r : *rows) {
      StagedRow s;
      s.testcol1 = store::ValueToString(r[1]);
      s.testcol2 = store::ValueToString(r[2]);
      s.del = std::get<std::int64_t>(r[3]);
      s.op = std::get<std::int64_t>(r[4]);
      s.seq = std::get<std::int64_t>(r[5]);
      s.run = std::get<std::int64_t>(r[6]);
      out[store::ValueToString(r[0])] = s;
    }
    return out;
  }

  std::int64_t Count(const std::string& sql) {
    Result<std::vector<store::Row>> rows = db_->Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    if (!rows.ok() || rows->empty()) return -1;
    return std::get<std::int64_t>((*rows)[0][0]);
  }

  std::unique_ptr<TestDatabase> local_;
  std::unique_ptr<TestDatabase> cloud_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::Database> cloud_db_;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<StagingWriter> writer_;
  std::atomic<std::size_t> batches_{0};
  std::atomic<std::size_t> batched_calls_{0};
  std::atomic<std::size_t> batched_records_{0};
  std::atomic<std::size_t> max_calls_in_batch_{0};
};

TEST_P(WriterTest, IngestRowsLandWithInsertOpAndIncreasingSequence) {
  StartWriter();
  for (const char* id : {"A1", "A2", "A3"}) {
    Status s = Write(Sample(std::string("_key=\"@id\" id=\"") + id + "\" testcol1=\"v" + id + "\""), Mode::kIngest);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::map<std::string, StagedRow> rows = Rows();
  ASSERT_EQ(rows.size(), 3u);
  for (const char* id : {"A1", "A2", "A3"}) {
    const StagedRow& r = rows[id];
    EXPECT_EQ(r.testcol1, std::string("v") + id);
    EXPECT_EQ(r.testcol2, "NULL");  // not named: NULL in staging
    EXPECT_EQ(r.op, 0) << id;
    EXPECT_EQ(r.del, 0) << id;
    EXPECT_EQ(r.run, 0) << id;
    EXPECT_GT(r.seq, 0) << id;
  }
  EXPECT_LT(rows["A1"].seq, rows["A2"].seq);
  EXPECT_LT(rows["A2"].seq, rows["A3"].seq);
}

TEST_P(WriterTest, CollectionRecordsGetIncreasingSequenceInDocumentOrder) {
  StartWriter();
  Status s = Write(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg _key="@id" id="C3" testcol1="a"/><sampleTableStg _key="@id" id="C1" testcol1="b"/>
      <sampleTableStg _key="@id" id="C2" testcol1="c"/></sampleTableStg-collection>)",
                   Mode::kIngest);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::map<std::string, StagedRow> rows = Rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_LT(rows["C3"].seq, rows["C1"].seq);
  EXPECT_LT(rows["C1"].seq, rows["C2"].seq);
}

TEST_P(WriterTest, GeneratedIdIsStored) {
  StartWriter();
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(Sample("testcol1=\"gen\"").c_str()));
  Result<DecodedDocument> d = DecodeDocument(doc.document_element(), Schemas(), Mode::kIngest);
  ASSERT_TRUE(d.ok());
  std::string id = d->returned_ids[0];
  ASSERT_TRUE(writer_->Write(std::move(d).value().records).ok());
  std::map<std::string, StagedRow> rows = Rows();
  ASSERT_EQ(rows.count(id), 1u);
  EXPECT_EQ(rows[id].testcol1, "gen");
}

TEST_P(WriterTest, SqlLookingValueIsStoredExactly) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="Q1" testcol1="O'Brien; drop table x")"), Mode::kIngest).ok());
  EXPECT_EQ(Rows()["Q1"].testcol1, "O'Brien; drop table x");
}

TEST_P(WriterTest, DuplicatePendingIdIsRefused) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="DUP" testcol1="first")"), Mode::kIngest).ok());
  Status s = Write(Sample(R"(_key="@id" id="DUP" testcol1="second")"), Mode::kIngest);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), StartsWith("STG-200006 "));
  EXPECT_THAT(s.message(), HasSubstr("'dem:sampleTable'"));
  EXPECT_THAT(s.message(), HasSubstr("id='DUP'"));
  std::map<std::string, StagedRow> rows = Rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows["DUP"].testcol1, "first");
}

TEST_P(WriterTest, DuplicateFailsOnlyItsOwnCallAmongConcurrentCalls) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="DUP" testcol1="first")"), Mode::kIngest).ok());
  constexpr int kCalls = 50;
  constexpr int kBad = 23;
  std::vector<std::vector<StagedRecord>> calls;
  for (int i = 0; i < kCalls; ++i) {
    if (i == kBad) {
      // A call whose second record is already pending: nothing of it may land.
      calls.push_back(Records(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
          <sampleTableStg _key="@id" id="BAD-NEW" testcol1="x"/>
          <sampleTableStg _key="@id" id="DUP" testcol1="second"/></sampleTableStg-collection>)",
                              Mode::kIngest));
    } else {
      calls.push_back(Records(Sample("_key=\"@id\" id=\"G" + std::to_string(i) + "\" testcol1=\"g\""), Mode::kIngest));
    }
  }
  std::vector<Status> results(kCalls);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kCalls) std::this_thread::yield();
      results[i] = writer_->Write(std::move(calls[i]));
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kCalls; ++i) {
    if (i == kBad) {
      ASSERT_FALSE(results[i].ok());
      EXPECT_THAT(results[i].message(), StartsWith("STG-200006 "));
      EXPECT_THAT(results[i].message(), HasSubstr("id='DUP'"));  // the culprit, not the call's first record
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].ToString();
    }
  }
  std::map<std::string, StagedRow> rows = Rows();
  EXPECT_EQ(rows.size(), static_cast<std::size_t>(kCalls));  // 49 good + the first DUP
  EXPECT_EQ(rows.count("BAD-NEW"), 0u);
  EXPECT_EQ(rows["DUP"].testcol1, "first");
  for (int i = 0; i < kCalls; ++i) {
    if (i != kBad) {
      EXPECT_EQ(rows.count("G" + std::to_string(i)), 1u) << i;
    }
  }
}

TEST_P(WriterTest, TwoConcurrentCallsWithTheSameNewIdExactlyOneWins) {
  StartWriter(1);
  for (int round = 0; round < 10; ++round) {
    std::string id = "SAME" + std::to_string(round);
    Status a;
    Status b;
    std::thread ta([&] { a = Write(Sample("_key=\"@id\" id=\"" + id + "\" testcol1=\"a\""), Mode::kIngest); });
    std::thread tb([&] { b = Write(Sample("_key=\"@id\" id=\"" + id + "\" testcol1=\"b\""), Mode::kIngest); });
    ta.join();
    tb.join();
    EXPECT_NE(a.ok(), b.ok()) << a.ToString() << " / " << b.ToString();
    const Status& loser = a.ok() ? b : a;
    EXPECT_THAT(loser.message(), StartsWith("STG-200006 "));
    EXPECT_EQ(Rows()[id].testcol1, a.ok() ? "a" : "b");
  }
}

TEST_P(WriterTest, CollectionIsAllOrNothing) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="MID" testcol1="pending")"), Mode::kIngest).ok());
  Status s = Write(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg _key="@id" id="FIRST" testcol1="a"/>
      <sampleTableStg _key="@id" id="MID" testcol1="b"/>
      <sampleTableStg _key="@id" id="LAST" testcol1="c"/></sampleTableStg-collection>)",
                   Mode::kIngest);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), StartsWith("STG-200006 "));
  EXPECT_THAT(s.message(), HasSubstr("id='MID'"));
  std::map<std::string, StagedRow> rows = Rows();
  EXPECT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows.count("FIRST"), 0u);
  EXPECT_EQ(rows.count("LAST"), 0u);
  EXPECT_EQ(rows["MID"].testcol1, "pending");
}

TEST_P(WriterTest, CollectionWithTheSameIdTwiceIsRefusedWhole) {
  StartWriter();
  Status s = Write(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg _key="@id" id="X1" testcol1="a"/>
      <sampleTableStg _key="@id" id="X2" testcol1="b"/>
      <sampleTableStg _key="@id" id="X1" testcol1="c"/></sampleTableStg-collection>)",
                   Mode::kIngest);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), StartsWith("STG-200006 "));
  EXPECT_THAT(s.message(), HasSubstr("id='X1' (twice in this call)"));
  EXPECT_TRUE(Rows().empty());
}

TEST_P(WriterTest, LargeCollectionIsSplitIntoStatementsAndKeepsDocumentOrder) {
  StartWriter();
  constexpr int kRecords = 12000;  // 36000 values: more than one statement may bind
  std::string xml = "<sampleTableStg-collection xtkschema=\"dem:sampleTableStg\">";
  for (int i = 0; i < kRecords; ++i) {
    xml += "<sampleTableStg _key=\"@id\" id=\"L" + std::to_string(i) + "\" testcol1=\"" + std::to_string(i) + "\"/>";
  }
  xml += "</sampleTableStg-collection>";
  Status s = Write(xml, Mode::kIngest);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::map<std::string, StagedRow> rows = Rows();
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kRecords));
  for (int i = 1; i < kRecords; ++i) {
    ASSERT_LT(rows["L" + std::to_string(i - 1)].seq, rows["L" + std::to_string(i)].seq) << i;
  }
  EXPECT_EQ(rows["L11999"].testcol1, "11999");
}

TEST_P(WriterTest, LargeCollectionWithOneBadRecordAtTheEndWritesNothing) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="L7999" testcol1="pending")"), Mode::kIngest).ok());
  std::string xml = "<sampleTableStg-collection xtkschema=\"dem:sampleTableStg\">";
  for (int i = 0; i < 8000; ++i) xml += "<sampleTableStg _key=\"@id\" id=\"L" + std::to_string(i) + "\"/>";
  xml += "</sampleTableStg-collection>";
  Status s = Write(xml, Mode::kIngest);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), StartsWith("STG-200006 "));
  EXPECT_EQ(Rows().size(), 1u);
}

TEST_P(WriterTest, IngestExtUpsertKeepsUnnamedAttributes) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="U1" testcol1="one" testcol2="two")"), Mode::kIngestExt).ok());
  std::map<std::string, StagedRow> rows = Rows();
  EXPECT_EQ(rows["U1"].op, 1);  // upsert
  std::int64_t first_seq = rows["U1"].seq;
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="U1" testcol1="ONE")"), Mode::kIngestExt).ok());
  rows = Rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows["U1"].testcol1, "ONE");
  EXPECT_EQ(rows["U1"].testcol2, "two");  // unchanged
  EXPECT_EQ(rows["U1"].op, 1);
  EXPECT_EQ(rows["U1"].del, 0);
  EXPECT_GT(rows["U1"].seq, first_seq);
}

TEST_P(WriterTest, IngestExtWithoutKeyButWithIdUpserts) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(id="U2" testcol1="one" testcol2="two")"), Mode::kIngestExt).ok());
  ASSERT_TRUE(Write(Sample(R"(id="U2" testcol2="TWO")"), Mode::kIngestExt).ok());
  std::map<std::string, StagedRow> rows = Rows();
  EXPECT_EQ(rows["U2"].testcol1, "one");
  EXPECT_EQ(rows["U2"].testcol2, "TWO");
}

TEST_P(WriterTest, DeleteClearsValuesAndMarksTheTombstone) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="D1" testcol1="one" testcol2="two")"), Mode::kIngestExt).ok());
  std::int64_t before = Rows()["D1"].seq;
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="D1" _operation="delete")"), Mode::kIngestExt).ok());
  StagedRow r = Rows()["D1"];
  EXPECT_EQ(r.testcol1, "NULL");
  EXPECT_EQ(r.testcol2, "NULL");
  EXPECT_EQ(r.del, 1);
  EXPECT_EQ(r.op, 2);
  EXPECT_EQ(r.run, 0);
  EXPECT_GT(r.seq, before);
}

TEST_P(WriterTest, DeleteOfAnUnstagedKeyStagesATombstone) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="D2" delete="true" testcol1="ignored")"), Mode::kIngestExt).ok());
  StagedRow r = Rows()["D2"];
  EXPECT_EQ(r.del, 1);
  EXPECT_EQ(r.op, 2);
  EXPECT_EQ(r.testcol1, "NULL");
}

TEST_P(WriterTest, UpsertAfterDeleteIsAReplace) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="R1" testcol1="one" testcol2="two")"), Mode::kIngestExt).ok());
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="R1" delete="1")"), Mode::kIngestExt).ok());
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="R1" testcol1="new")"), Mode::kIngestExt).ok());
  StagedRow r = Rows()["R1"];
  EXPECT_EQ(r.op, 3);
  EXPECT_EQ(r.del, 0);
  EXPECT_EQ(r.testcol1, "new");
  EXPECT_EQ(r.testcol2, "NULL");  // forgotten by the delete
  // Another upsert keeps it a replace; a delete makes it a delete again.
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="R1" testcol2="more")"), Mode::kIngestExt).ok());
  EXPECT_EQ(Rows()["R1"].op, 3);
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="R1" delete="1")"), Mode::kIngestExt).ok());
  EXPECT_EQ(Rows()["R1"].op, 2);
}

// The last call decides: the Ingest may already have been merged by a run that
// has not cleared it yet, so the row becomes an upsert (docs/sync.md).
TEST_P(WriterTest, UpsertAfterIngestBecomesAnUpsert) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="I1" testcol1="one" testcol2="two")"), Mode::kIngest).ok());
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="I1" testcol1="ONE")"), Mode::kIngestExt).ok());
  StagedRow r = Rows()["I1"];
  EXPECT_EQ(r.op, 1);
  EXPECT_EQ(r.testcol1, "ONE");
  EXPECT_EQ(r.testcol2, "two");
}

TEST_P(WriterTest, IngestAfterAnIngestExtPendingRowIsRefused) {
  StartWriter();
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="P1" testcol1="one")"), Mode::kIngestExt).ok());
  Status s = Write(Sample(R"(_key="@id" id="P1" testcol1="two")"), Mode::kIngest);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), StartsWith("STG-200006 "));
}

TEST_P(WriterTest, DeclaredKeyUpsertFindsThePendingRow) {
  StartWriter();
  auto write = [&](const std::string& attrs, Mode mode) {
    return writer_->Write(Records("<recipientStg " + attrs + " xtkschema=\"nms:recipientStg\"/>", mode));
  };
  ASSERT_TRUE(write(R"(email="ann@example.com" firstName="Ann" lastName="Lee")", Mode::kIngest).ok());
  ASSERT_TRUE(write(R"(_key="@email" email="ann@example.com" lastName="Smith")", Mode::kIngestExt).ok());
  Result<std::vector<store::Row>> rows =
      db_->Query("SELECT sEmail, sFirstName, sLastName, iStgOp FROM NmsRecipientStg");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(store::ValueToString((*rows)[0][1]), "Ann");
  EXPECT_EQ(store::ValueToString((*rows)[0][2]), "Smith");
  // The last call was an IngestExt: the merge upserts (the Ingest may already be in the cloud).
  EXPECT_EQ(std::get<std::int64_t>((*rows)[0][3]), 1);
  // Ingest of the same email: the declared key is unique in staging too.
  Status dup = write(R"(email="ann@example.com")", Mode::kIngest);
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.message(), StartsWith("STG-200006 "));
}

TEST_P(WriterTest, IngestExtConflictOnAnotherUniqueKeyIsRefused) {
  StartWriter();
  auto write = [&](const std::string& attrs, Mode mode) {
    return writer_->Write(Records("<recipientStg " + attrs + " xtkschema=\"nms:recipientStg\"/>", mode));
  };
  ASSERT_TRUE(write(R"(_key="@id" id="R1" email="a@example.com")", Mode::kIngestExt).ok());
  // Reconciles on the email (not pending), but the id belongs to another pending row.
  Status s = write(R"(_key="@email" id="R1" email="b@example.com" firstName="B")", Mode::kIngestExt);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), StartsWith("STG-200006 "));
  EXPECT_THAT(s.message(), HasSubstr("conflicts with another record pending"));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("Ingest only inserts")));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM NmsRecipientStg"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM NmsRecipientStg WHERE sFirstName IS NULL"), 1);
}

TEST_P(WriterTest, ManyConcurrentWritersAreAllCommittedInBatches) {
  StartWriter(2);
  constexpr int kThreads = 32;
  constexpr int kPerThread = 200;
  std::atomic<int> failures{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "T" + std::to_string(t) + "-" + std::to_string(i);
        Status s = Write(Sample("_key=\"@id\" id=\"" + id + "\" testcol1=\"" + id + "\""),
                         i % 2 == 0 ? Mode::kIngest : Mode::kIngestExt);
        if (!s.ok()) {
          failures.fetch_add(1);
          ADD_FAILURE() << id << ": " << s.ToString();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  constexpr std::int64_t kTotal = static_cast<std::int64_t>(kThreads) * kPerThread;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM DemSampleTableStg"), kTotal);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT uSampleTableId) FROM DemSampleTableStg"), kTotal);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT iStgSeq) FROM DemSampleTableStg"), kTotal);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM DemSampleTableStg WHERE sTestcol1 = uSampleTableId"), kTotal);
  // Group commit: every call reported once, in fewer batches than calls.
  EXPECT_EQ(batched_calls_.load(), static_cast<std::size_t>(kTotal));
  EXPECT_EQ(batched_records_.load(), static_cast<std::size_t>(kTotal));
  EXPECT_LT(batches_.load(), static_cast<std::size_t>(kTotal));
  EXPECT_GT(max_calls_in_batch_.load(), 1u);
  std::printf("[ info ] %zu calls committed in %zu batches (largest %zu calls)\n", batched_calls_.load(),
              batches_.load(), max_calls_in_batch_.load());
}

TEST_P(WriterTest, ManyConcurrentIngestsAreAllCommittedInBatches) {
  StartWriter(2);
  constexpr int kThreads = 32;
  constexpr int kPerThread = 100;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> ids(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        // Generated ids, as most callers use Ingest.
        pugi::xml_document doc;
        EXPECT_TRUE(doc.load_string(Sample("testcol1=\"t" + std::to_string(t) + "\"").c_str()));
        Result<DecodedDocument> d = DecodeDocument(doc.document_element(), Schemas(), Mode::kIngest);
        ASSERT_TRUE(d.ok());
        ids[t].push_back(d->returned_ids[0]);
        Status s = writer_->Write(std::move(d).value().records);
        EXPECT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  constexpr std::int64_t kTotal = static_cast<std::int64_t>(kThreads) * kPerThread;
  std::map<std::string, StagedRow> rows = Rows();
  EXPECT_EQ(rows.size(), static_cast<std::size_t>(kTotal));
  for (int t = 0; t < kThreads; ++t) {
    for (const std::string& id : ids[t]) {
      ASSERT_EQ(rows.count(id), 1u) << id;
      EXPECT_EQ(rows[id].testcol1, "t" + std::to_string(t));
      EXPECT_EQ(rows[id].op, 0);
    }
  }
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT iStgSeq) FROM DemSampleTableStg"), kTotal);
  EXPECT_EQ(batched_calls_.load(), static_cast<std::size_t>(kTotal));
  EXPECT_LT(batches_.load(), static_cast<std::size_t>(kTotal));
  EXPECT_GT(max_calls_in_batch_.load(), 1u);
}

// Upserts of a few shared keys from many threads: batches touch the same rows
// in different orders. Every call must succeed (nothing is wrong with the
// database or the data), and every key ends with one of the values written.
TEST_P(WriterTest, ConcurrentUpsertsOfSharedKeysAllSucceed) {
  StartWriter(2);
  constexpr int kThreads = 32;
  constexpr int kPerThread = 15;
  constexpr int kKeys = 6;
  std::atomic<int> ready{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        // Each call upserts two keys, in an order that depends on the thread.
        int a = (t + i) % kKeys;
        int b = (t * 7 + i * 3 + 1) % kKeys;
        if (b == a) b = (a + 1) % kKeys;
        std::string xml = "<sampleTableStg-collection xtkschema=\"dem:sampleTableStg\">";
        for (int k : {a, b}) {
          xml += "<sampleTableStg _key=\"@id\" id=\"K" + std::to_string(k) + "\" testcol1=\"t" + std::to_string(t) +
                 "\"/>";
        }
        xml += "</sampleTableStg-collection>";
        Status s = Write(xml, Mode::kIngestExt);
        if (!s.ok()) {
          if (failures.fetch_add(1) < 5) ADD_FAILURE() << s.ToString();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << "calls refused although nothing was wrong with them";
  std::map<std::string, StagedRow> rows = Rows();
  EXPECT_EQ(rows.size(), static_cast<std::size_t>(kKeys));
  for (const auto& [id, row] : rows) {
    EXPECT_EQ(row.op, 1) << id;
    EXPECT_THAT(row.testcol1, StartsWith("t")) << id;
  }
}

// PostgreSQL: the writer's connections are killed (a server restart, a
// failover, an idle-connection reaper). The writer must come back by itself.
TEST_P(WriterTest, RecoversAfterItsConnectionsAreKilled) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  StartWriter(1);
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="BEFORE")"), Mode::kIngest).ok());
  Result<std::vector<store::Row>> killed = db_->Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
      "pg_backend_pid()");
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  ASSERT_FALSE(killed->empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::set<std::string> acknowledged;
  int first_ok = -1;
  for (int i = 0; i < 6; ++i) {
    std::string id = "AFTER" + std::to_string(i);
    Status s = Write(Sample("_key=\"@id\" id=\"" + id + "\""), Mode::kIngest);
    if (s.ok()) {
      acknowledged.insert(id);
      if (first_ok < 0) first_ok = i;
    } else {
      EXPECT_THAT(s.message(), StartsWith("STG-500001 ")) << i;
      EXPECT_LT(first_ok, 0) << "write " << i << " failed after the writer had recovered: " << s.ToString();
    }
  }
  EXPECT_GE(first_ok, 0) << "the writer never recovered";
  EXPECT_LE(first_ok, 1) << "the writer took " << first_ok << " failed calls to recover";
  std::map<std::string, StagedRow> rows = Rows();
  for (const std::string& id : acknowledged) EXPECT_EQ(rows.count(id), 1u) << id;
  EXPECT_EQ(rows.size(), acknowledged.size() + 1);  // refused writes left nothing
}

// A minimal event loop on a thread of its own, as the HTTP server's I/O
// threads are: tasks posted to it run there, and WaitFd polls with poll(2).
class TestLoop final : public Reactor {
 public:
  TestLoop() : thread_([this] { Run(); }) {}
  ~TestLoop() override {
    Post([this] { done_ = true; });
    thread_.join();
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  void Post(std::function<void()> task) {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  // Runs `task` on the loop and waits for it.
  void RunHere(const std::function<void()>& task) {
    std::promise<void> ran;
    Post([&] {
      task();
      ran.set_value();
    });
    ran.get_future().wait();
  }
  void WaitFd(int fd, bool write, bool /*spin*/, std::function<void(bool ok)> ready) override {
    waits_.push_back(Wait{fd, write, std::move(ready)});
  }
  void Forget(int /*fd*/) override {}  // each poll(2) takes the descriptors afresh
  std::thread::id id() const { return thread_.get_id(); }
  // From now on waits are dropped uncalled, as when a server's loop ends.
  void DropWaits() { drop_ = true; }

 private:
  struct Wait {
    int fd;
    bool write;
    std::function<void(bool)> ready;
  };
  void Run() {
    Reactor::SetCurrent(this);
    while (!done_) {
      std::deque<std::function<void()>> tasks;
      {
        std::lock_guard lock(mu_);
        tasks.swap(tasks_);
      }
      for (auto& t : tasks) t();
      if (drop_) waits_.clear();
      std::vector<Wait> waits;
      waits.swap(waits_);
      std::vector<pollfd> fds;
      for (const Wait& w : waits) fds.push_back(pollfd{w.fd, static_cast<short>(w.write ? POLLOUT : POLLIN), 0});
      if (!fds.empty()) (void)::poll(fds.data(), fds.size(), 1);
      for (std::size_t i = 0; i < waits.size(); ++i) {
        if (fds[i].revents != 0) {
          waits[i].ready(true);
        } else {
          waits_.push_back(std::move(waits[i]));
        }
      }
      if (fds.empty()) std::this_thread::yield();
    }
    Reactor::SetCurrent(nullptr);
  }
  std::mutex mu_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  std::vector<Wait> waits_;                  // the loop thread's
  bool done_ = false;                        // the loop thread's
  std::atomic<bool> drop_{false};
  std::thread thread_;
};

// Calls made one after the other on an event loop go on the direct lane (the
// loop's own connection, answered on the loop) once a worker opened it, and
// each is answered only after its row is committed.
TEST_P(WriterTest, CallsOnAnEventLoopGoStraightToTheDatabase) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  std::atomic<int> on_loop{0};
  TestLoop loop;
  pool_ = std::make_unique<store::ConnectionPool>(local_->url(), 2);
  WriterOptions options;
  options.on_batch = [&](std::size_t, std::size_t) {
    if (std::this_thread::get_id() == loop.id()) on_loop.fetch_add(1);
  };
  writer_ = std::make_unique<StagingWriter>(*pool_, std::move(options));
  ASSERT_TRUE(writer_->Prepare().ok());
  writer_->Start();
  std::unique_ptr<store::Database> observer = local_->Open();
  constexpr int kCalls = 50;
  for (int i = 0; i < kCalls; ++i) {
    std::string id = "D" + std::to_string(i);
    std::promise<std::pair<Status, bool>> answered;
    loop.Post([&] {
      writer_->WriteAsync(
          Records(Sample("_key=\"@id\" id=\"" + id + "\" testcol1=\"v\""), Mode::kIngest), [&](const Status& st) {
            Result<std::vector<store::Row>> rows =
                observer->Query("SELECT COUNT(*) FROM DemSampleTableStg WHERE uSampleTableId = $1", {id});
            bool visible = rows.ok() && std::get<std::int64_t>((*rows)[0][0]) == 1;
            answered.set_value({st, visible});
          });
    });
    auto [st, visible] = answered.get_future().get();
    ASSERT_TRUE(st.ok()) << i << ": " << st.ToString();
    EXPECT_TRUE(visible) << "call " << i << " was answered before its row was committed";
  }
  EXPECT_EQ(Count("SELECT COUNT(*) FROM DemSampleTableStg"), kCalls);
  EXPECT_GE(on_loop.load(), kCalls - 2) << "the calls did not use the direct lane";
  // Upserts and deletes take the lane too.
  std::promise<Status> upserted;
  loop.Post([&] {
    writer_->WriteAsync(Records(Sample(R"(_key="@id" id="D3" testcol2="w")"), Mode::kIngestExt),
                        [&](const Status& st) { upserted.set_value(st); });
  });
  ASSERT_TRUE(upserted.get_future().get().ok());
  EXPECT_EQ(Rows()["D3"].testcol2, "w");
  EXPECT_EQ(Rows()["D3"].testcol1, "v");
  writer_.reset();  // before the loop: the lane's connection goes with the writer
}

// Two event loops ask for their lanes one after the other, the second while a
// worker is still opening the first's: the worker that answers the second
// loop's call opens only that lane (the first is opened once — a second open
// would replace a connection the first loop may already be using), and then
// calls on both loops at once all land on their own lanes.
TEST_P(WriterTest, ALaneBeingOpenedIsNotOpenedAgain) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  TestLoop a;
  TestLoop b;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<const void*> opened;  // GUARDED_BY(mu): reactors, in the order their lanes were opened
  pool_ = std::make_unique<store::ConnectionPool>(local_->url(), 2);
  WriterOptions options;
  options.on_lane_open = [&](const void* reactor) {
    std::unique_lock lock(mu);
    opened.push_back(reactor);
    cv.notify_all();
    // The first opening waits (bounded) for another one: the second loop's.
    if (opened.size() == 1) cv.wait_for(lock, std::chrono::seconds(10), [&] { return opened.size() > 1; });
  };
  writer_ = std::make_unique<StagingWriter>(*pool_, std::move(options));
  ASSERT_TRUE(writer_->Prepare().ok());
  writer_->Start();
  auto write_on = [&](TestLoop& loop, const std::string& id) {
    std::promise<Status> answered;
    loop.Post([&] {
      writer_->WriteAsync(Records(Sample("_key=\"@id\" id=\"" + id + "\""), Mode::kIngest),
                          [&](const Status& st) { answered.set_value(st); });
    });
    return answered.get_future().get();
  };
  ASSERT_TRUE(write_on(a, "A0").ok());
  {
    std::unique_lock lock(mu);  // a worker is opening loop a's lane (and waits)
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !opened.empty(); }));
  }
  ASSERT_TRUE(write_on(b, "B0").ok());  // the other worker runs it, then opens lanes
  constexpr int kCalls = 30;
  std::atomic<int> failed{0};
  std::thread on_a([&] {
    for (int i = 1; i <= kCalls; ++i) failed += write_on(a, "A" + std::to_string(i)).ok() ? 0 : 1;
  });
  for (int i = 1; i <= kCalls; ++i) failed += write_on(b, "B" + std::to_string(i)).ok() ? 0 : 1;
  on_a.join();
  EXPECT_EQ(failed.load(), 0);
  {
    std::lock_guard lock(mu);
    const void* ra = static_cast<Reactor*>(&a);
    const void* rb = static_cast<Reactor*>(&b);
    EXPECT_EQ(std::count(opened.begin(), opened.end(), ra), 1) << "loop a's lane was opened more than once";
    EXPECT_EQ(std::count(opened.begin(), opened.end(), rb), 1);
  }
  EXPECT_EQ(Count("SELECT COUNT(*) FROM DemSampleTableStg"), 2 * (kCalls + 1));
  writer_.reset();  // before the loops: the lanes' connections go with the writer
}

// A call the database refuses on the direct lane gets the fault any call gets
// (the workers run it again and name the culprit), and writes nothing.
TEST_P(WriterTest, DirectLaneRefusalGetsTheUsualFault) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  TestLoop loop;
  StartWriter(2);
  auto write_on_loop = [&](const std::string& attrs, Mode mode) {
    std::promise<Status> answered;
    loop.Post(
        [&] { writer_->WriteAsync(Records(Sample(attrs), mode), [&](const Status& st) { answered.set_value(st); }); });
    return answered.get_future().get();
  };
  for (int i = 0; i < 3; ++i) {  // the lane's connection is open after the first
    ASSERT_TRUE(write_on_loop("_key=\"@id\" id=\"T" + std::to_string(i) + "\" testcol1=\"first\"", Mode::kIngest).ok());
  }
  Status dup = write_on_loop(R"(_key="@id" id="T1" testcol1="second")", Mode::kIngest);
  EXPECT_THAT(dup.message(), StartsWith("STG-200006 "));
  EXPECT_THAT(dup.message(), HasSubstr("T1"));
  EXPECT_EQ(Rows()["T1"].testcol1, "first");
  EXPECT_TRUE(write_on_loop(R"(_key="@id" id="T9")", Mode::kIngest).ok()) << "the lane works after a refusal";
  EXPECT_EQ(Count("SELECT COUNT(*) FROM DemSampleTableStg"), 4);
  writer_.reset();
}

// The lane's connection is killed (a restart, a failover): at most one call
// fails with STG-500001, none is acknowledged without its row, and the lane
// comes back by itself.
TEST_P(WriterTest, DirectLaneRecoversAfterItsConnectionIsKilled) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  TestLoop loop;
  StartWriter(1);
  auto write_on_loop = [&](const std::string& id) {
    std::promise<Status> answered;
    loop.Post([&] {
      writer_->WriteAsync(Records(Sample("_key=\"@id\" id=\"" + id + "\""), Mode::kIngest),
                          [&](const Status& st) { answered.set_value(st); });
    });
    return answered.get_future().get();
  };
  ASSERT_TRUE(write_on_loop("B0").ok());
  ASSERT_TRUE(write_on_loop("B1").ok());  // on the lane by now
  Result<std::vector<store::Row>> killed = db_->Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
      "pg_backend_pid()");
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  std::set<std::string> acknowledged{"B0", "B1"};
  int failures = 0;
  for (int i = 0; i < 8; ++i) {
    std::string id = "A" + std::to_string(i);
    Status st = write_on_loop(id);
    if (st.ok()) {
      acknowledged.insert(id);
    } else {
      EXPECT_THAT(st.message(), StartsWith("STG-500001 ")) << i;
      ++failures;
    }
  }
  EXPECT_LE(failures, 2) << "the writer and its lane took too long to recover";
  std::map<std::string, StagedRow> rows = Rows();
  for (const std::string& id : acknowledged) EXPECT_EQ(rows.count(id), 1u) << id;
  writer_.reset();
}

// The loop ends while the database has not answered (the server stopped past
// its grace): the call is answered unavailable, never left hanging, and the
// writer still stops.
TEST_P(WriterTest, DirectCallWhoseLoopEndsIsAnsweredUnavailable) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  auto loop = std::make_unique<TestLoop>();
  StartWriter(1);
  for (int i = 0; i < 3; ++i) {  // the lane's connection is open after the first (see above)
    std::promise<Status> warm;
    loop->Post([&] {
      writer_->WriteAsync(Records(Sample("_key=\"@id\" id=\"W" + std::to_string(i) + "\""), Mode::kIngest),
                          [&](const Status& st) { warm.set_value(st); });
    });
    ASSERT_TRUE(warm.get_future().get().ok());
  }
  loop->DropWaits();
  std::promise<Status> second;
  loop->Post([&] {
    writer_->WriteAsync(Records(Sample(R"(_key="@id" id="L1")"), Mode::kIngest),
                        [&](const Status& st) { second.set_value(st); });
  });
  std::future<Status> answer = second.get_future();
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_THAT(answer.get().message(), StartsWith("STG-500001 "));
  loop.reset();
  writer_->Stop();
}

TEST_P(WriterTest, WriteOfNothingIsOk) {
  StartWriter();
  EXPECT_TRUE(writer_->Write({}).ok());
  EXPECT_TRUE(Rows().empty());
}

TEST_P(WriterTest, DestructorDrainsQueuedWrites) {
  StartWriter(1);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      if (Write(Sample("_key=\"@id\" id=\"W" + std::to_string(i) + "\""), Mode::kIngest).ok()) ok.fetch_add(1);
    });
  }
  for (std::thread& t : threads) t.join();
  writer_.reset();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(Rows().size(), 20u);
}

// --- WriteAsync ----------------------------------------------------------------

// Collects the answers of asynchronous calls; Wait() returns once `expected` came.
class Answers {
 public:
  explicit Answers(std::size_t expected) : expected_(expected) {}
  StagingWriter::Done For(std::string id) {
    return [this, id = std::move(id)](Status s) {
      std::lock_guard lock(mu_);
      EXPECT_EQ(statuses_.count(id), 0u) << id << " answered twice";
      statuses_[id] = std::move(s);
      cv_.notify_all();
    };
  }
  bool Wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [this] { return statuses_.size() >= expected_; });
  }
  std::map<std::string, Status> statuses() {
    std::lock_guard lock(mu_);
    return statuses_;
  }

 private:
  const std::size_t expected_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Status> statuses_;  // GUARDED_BY(mu_)
};

// Calls made while a lane's statement runs — on that loop and on another —
// are queued without waking a worker, and the loop whose statement ends sends
// them on its own lane as one statement: upserts of one key in two calls still
// go in two statements, in order, and every call is answered after its commit.
TEST_P(WriterTest, CallsQueuedWhileALaneStatementRunsGoOutOnTheLane) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  TestLoop a;
  TestLoop b;
  std::mutex mu;
  std::vector<std::pair<std::thread::id, std::size_t>> batches;  // GUARDED_BY(mu): thread, calls
  pool_ = std::make_unique<store::ConnectionPool>(local_->url(), 2);
  WriterOptions options;
  options.join_after = std::chrono::seconds(30);  // no worker steps in while the lane's statement is held
  options.on_batch = [&](std::size_t calls, std::size_t) {
    std::lock_guard lock(mu);
    batches.emplace_back(std::this_thread::get_id(), calls);
  };
  writer_ = std::make_unique<StagingWriter>(*pool_, std::move(options));
  ASSERT_TRUE(writer_->Prepare().ok());
  writer_->Start();
  auto write_on = [&](TestLoop& loop, const std::string& attrs, Mode mode) {
    std::promise<Status> answered;
    loop.Post(
        [&] { writer_->WriteAsync(Records(Sample(attrs), mode), [&](const Status& st) { answered.set_value(st); }); });
    return answered.get_future().get();
  };
  for (int i = 0; i < 3; ++i) {  // both lanes open (after their first call, by a worker)
    ASSERT_TRUE(write_on(a, "_key=\"@id\" id=\"WA" + std::to_string(i) + "\"", Mode::kIngest).ok());
    ASSERT_TRUE(write_on(b, "_key=\"@id\" id=\"WB" + std::to_string(i) + "\"", Mode::kIngest).ok());
  }
  {
    std::lock_guard lock(mu);
    batches.clear();
  }
  // Holds the row the first call upserts, so its statement on loop a's lane runs until released.
  std::unique_ptr<store::Database> locker = local_->Open();
  ASSERT_TRUE(locker->Begin().ok());
  ASSERT_TRUE(locker
                  ->Execute("INSERT INTO DemSampleTableStg (uSampleTableId, iDelete, tsLastModified, iStgSeq, "
                            "iStgKey, iStgOp) VALUES ('HELD', 0, CURRENT_TIMESTAMP, 0, 0, 0)")
                  .ok());
  constexpr int kCalls = 20;  // on each loop, after the first
  Answers answers(2 * kCalls + 3);
  std::unique_ptr<store::Database> observer = local_->Open();
  std::mutex observer_mu;
  auto visible_then = [&](const std::string& id, StagingWriter::Done done) {
    return [&observer, &observer_mu, id, done = std::move(done)](const Status& st) {
      std::unique_lock lock(observer_mu);
      Result<std::vector<store::Row>> rows =
          observer->Query("SELECT COUNT(*) FROM DemSampleTableStg WHERE uSampleTableId = $1", {id});
      lock.unlock();
      bool visible = rows.ok() && std::get<std::int64_t>((*rows)[0][0]) == 1;
      done(st.ok() && !visible ? Status::Internal("answered before its row was committed") : st);
    };
  };
  a.RunHere([&] {
    writer_->WriteAsync(Records(Sample(R"(_key="@id" id="HELD" testcol1="held")"), Mode::kIngestExt),
                        answers.For("held"));
  });
  // Now the lane's statement waits for the lock: these are all queued.
  a.RunHere([&] {
    writer_->WriteAsync(Records(Sample(R"(_key="@id" id="K" testcol1="first")"), Mode::kIngestExt), answers.For("k1"));
    for (int i = 0; i < kCalls; ++i) {
      std::string id = "A" + std::to_string(i);
      writer_->WriteAsync(Records(Sample("_key=\"@id\" id=\"" + id + "\" testcol1=\"a\""), Mode::kIngestExt),
                          visible_then(id, answers.For(id)));
    }
    writer_->WriteAsync(Records(Sample(R"(_key="@id" id="K" testcol1="second")"), Mode::kIngestExt), answers.For("k2"));
  });
  b.RunHere([&] {
    for (int i = 0; i < kCalls; ++i) {
      std::string id = "B" + std::to_string(i);
      writer_->WriteAsync(Records(Sample("_key=\"@id\" id=\"" + id + "\" testcol1=\"b\""), Mode::kIngestExt),
                          visible_then(id, answers.For(id)));
    }
  });
  ASSERT_TRUE(locker->Rollback().ok());
  ASSERT_TRUE(answers.Wait());
  for (const auto& [id, st] : answers.statuses()) EXPECT_TRUE(st.ok()) << id << ": " << st.ToString();
  std::map<std::string, StagedRow> rows = Rows();
  EXPECT_EQ(rows["K"].testcol1, "second") << "the later call on the same key must win";
  EXPECT_EQ(rows["HELD"].testcol1, "held");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM DemSampleTableStg WHERE uSampleTableId LIKE 'A%' OR uSampleTableId LIKE 'B%'"),
            2 * kCalls);
  std::lock_guard lock(mu);
  // The held statement, then the queued calls: one statement for everything
  // but the second write of K (which waits for the next), all on loop a.
  ASSERT_FALSE(batches.empty());
  std::size_t calls = 0;
  for (const auto& [thread, n] : batches) {
    EXPECT_EQ(thread, a.id()) << "a queued call went through a worker, not the lane that ended";
    calls += n;
  }
  EXPECT_EQ(calls, static_cast<std::size_t>(2 * kCalls + 3));
  EXPECT_LE(batches.size(), 3u) << "the queued calls did not go out together";
  writer_.reset();  // before the loops: the lanes' connections go with the writer
}

// Many calls queued at once from one thread, none waiting: each is answered
// once, and only after its row is committed (another connection sees it).
TEST_P(WriterTest, WriteAsyncAnswersEachCallAfterItsCommit) {
  StartWriter(2);
  std::unique_ptr<store::Database> observer = local_->Open();
  ASSERT_NE(observer, nullptr);
  std::mutex observer_mu;
  constexpr int kCalls = 300;
  std::atomic<int> visible{0};
  std::atomic<int> answered{0};
  std::mutex done_mu;
  std::condition_variable done_cv;
  for (int i = 0; i < kCalls; ++i) {
    std::string id = "AS" + std::to_string(i);
    writer_->WriteAsync(
        Records(Sample("_key=\"@id\" id=\"" + id + "\" testcol1=\"a\""), Mode::kIngest), [&, id](const Status& s) {
          EXPECT_TRUE(s.ok()) << id << ": " << s.ToString();
          {
            std::lock_guard lock(observer_mu);
            Result<std::vector<store::Row>> rows =
                observer->Query("SELECT COUNT(*) FROM DemSampleTableStg WHERE uSampleTableId = $1", {id});
            if (rows.ok() && std::get<std::int64_t>((*rows)[0][0]) == 1) visible.fetch_add(1);
          }
          std::lock_guard lock(done_mu);
          answered.fetch_add(1);
          done_cv.notify_all();
        });
  }
  {
    std::unique_lock lock(done_mu);
    ASSERT_TRUE(done_cv.wait_for(lock, std::chrono::seconds(60), [&] { return answered.load() == kCalls; }));
  }
  EXPECT_EQ(visible.load(), kCalls) << "a call was answered before its row was committed";
  EXPECT_EQ(Count("SELECT COUNT(*) FROM DemSampleTableStg"), kCalls);
  EXPECT_LT(batches_.load(), static_cast<std::size_t>(kCalls)) << "no group commit";
}

TEST_P(WriterTest, WriteAsyncBadCallFailsOnlyItself) {
  StartWriter(2);
  ASSERT_TRUE(Write(Sample(R"(_key="@id" id="TAKEN" testcol1="first")"), Mode::kIngest).ok());
  constexpr int kCalls = 40;
  Answers answers(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    std::string id = i == 17 ? "TAKEN" : "OK" + std::to_string(i);
    writer_->WriteAsync(Records(Sample("_key=\"@id\" id=\"" + id + "\" testcol1=\"x\""), Mode::kIngest),
                        answers.For(std::to_string(i)));
  }
  ASSERT_TRUE(answers.Wait());
  std::map<std::string, Status> statuses = answers.statuses();
  for (int i = 0; i < kCalls; ++i) {
    const Status& s = statuses[std::to_string(i)];
    if (i == 17) {
      EXPECT_THAT(s.message(), StartsWith("STG-200006 "));
    } else {
      EXPECT_TRUE(s.ok()) << i << ": " << s.ToString();
    }
  }
  std::map<std::string, StagedRow> rows = Rows();
  EXPECT_EQ(rows.size(), static_cast<std::size_t>(kCalls));  // 39 good + the first TAKEN
  EXPECT_EQ(rows["TAKEN"].testcol1, "first");
}

TEST_P(WriterTest, StopAnswersQueuedCallsThenRefusesNewOnes) {
  StartWriter(1);
  constexpr int kCalls = 100;
  Answers answers(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    writer_->WriteAsync(Records(Sample("_key=\"@id\" id=\"ST" + std::to_string(i) + "\""), Mode::kIngest),
                        answers.For(std::to_string(i)));
  }
  writer_->Stop();
  std::map<std::string, Status> statuses = answers.statuses();  // all answered before Stop returned
  ASSERT_EQ(statuses.size(), static_cast<std::size_t>(kCalls));
  for (const auto& [id, s] : statuses) EXPECT_TRUE(s.ok()) << id << ": " << s.ToString();
  EXPECT_EQ(Rows().size(), static_cast<std::size_t>(kCalls));

  bool answered = false;
  writer_->WriteAsync(Records(Sample(R"(_key="@id" id="LATE")"), Mode::kIngest), [&](const Status& s) {
    answered = true;
    EXPECT_THAT(s.message(), StartsWith("STG-500001 "));
  });
  EXPECT_TRUE(answered) << "a call refused at once is answered before WriteAsync returns";
  EXPECT_THAT(Write(Sample(R"(_key="@id" id="LATE2")"), Mode::kIngest).message(), StartsWith("STG-500001 "));
  writer_->Stop();  // idempotent
  EXPECT_EQ(Rows().count("LATE"), 0u);
}

// One batch runs at a time, but a long one does not hold the others back for
// longer than join_after: a second worker steps in. (PostgreSQL only: SQLite
// has one writer at a time anyway.)
TEST_P(WriterTest, ALongBatchDoesNotHoldBackTheNextOne) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  StartWriter(2);
  std::string xml = "<sampleTableStg-collection xtkschema=\"dem:sampleTableStg\">";
  for (int i = 0; i < 1500; ++i) {
    xml += "<sampleTableStg _key=\"@id\" id=\"BIG" + std::to_string(i) + "\" testcol1=\"x\"/>";
  }
  xml += "</sampleTableStg-collection>";
  // Held inside the database until released, so the batch runs as long as the test wants.
  std::unique_ptr<store::Database> locker = local_->Open();
  ASSERT_NE(locker, nullptr);
  ASSERT_TRUE(locker->Begin().ok());
  ASSERT_TRUE(locker
                  ->Execute("INSERT INTO DemSampleTableStg (uSampleTableId, iDelete, tsLastModified, iStgSeq, "
                            "iStgKey, iStgOp) VALUES ('BIG0', 0, CURRENT_TIMESTAMP, 0, 0, 0)")
                  .ok());
  Answers answers(2);
  writer_->WriteAsync(Records(xml, Mode::kIngest), answers.For("big"));  // waits for the locker's row BIG0
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  writer_->WriteAsync(Records(Sample(R"(_key="@id" id="SMALL")"), Mode::kIngest), answers.For("small"));
  for (int i = 0; i < 500 && answers.statuses().count("small") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::map<std::string, Status> statuses = answers.statuses();
  EXPECT_EQ(statuses.count("big"), 0u) << "the long batch was not blocked";
  ASSERT_EQ(statuses.count("small"), 1u) << "the small call waited for the long batch";
  EXPECT_TRUE(statuses["small"].ok()) << statuses["small"].ToString();
  ASSERT_TRUE(locker->Rollback().ok());  // the long batch goes on and commits
  ASSERT_TRUE(answers.Wait());
  EXPECT_TRUE(answers.statuses()["big"].ok()) << answers.statuses()["big"].ToString();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM DemSampleTableStg"), 1501);
}

// Calls queued while a batch runs gather into the next one.
TEST_P(WriterTest, CallsQueuedWhileABatchRunsGatherIntoTheNext) {
  StartWriter(2);
  // Holds the first call's row (PostgreSQL) or the write lock (SQLite), so its
  // batch runs until released.
  std::unique_ptr<store::Database> locker = local_->Open();
  ASSERT_NE(locker, nullptr);
  ASSERT_TRUE(locker->Begin().ok());
  ASSERT_TRUE(locker
                  ->Execute("INSERT INTO DemSampleTableStg (uSampleTableId, iDelete, tsLastModified, iStgSeq, "
                            "iStgKey, iStgOp) VALUES ('FIRST', 0, CURRENT_TIMESTAMP, 0, 0, 0)")
                  .ok());
  constexpr int kCalls = 50;
  Answers answers(kCalls + 1);
  writer_->WriteAsync(Records(Sample(R"(_key="@id" id="FIRST")"), Mode::kIngest), answers.For("first"));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the first batch is running
  for (int i = 0; i < kCalls; ++i) {
    writer_->WriteAsync(Records(Sample("_key=\"@id\" id=\"N" + std::to_string(i) + "\""), Mode::kIngest),
                        answers.For(std::to_string(i)));
  }
  ASSERT_TRUE(locker->Rollback().ok());
  ASSERT_TRUE(answers.Wait());
  for (const auto& [id, s] : answers.statuses()) EXPECT_TRUE(s.ok()) << id << ": " << s.ToString();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM DemSampleTableStg"), kCalls + 1);
  // The first batch, perhaps one started join_after later, then the rest at once.
  EXPECT_LE(batches_.load(), 3u) << "the calls did not gather";
}

// One IngestExt call repeating keys: on PostgreSQL consecutive upserts go into
// one statement only while no key repeats, so the later write must still win,
// a delete in between must still clear the row, and the sequences must follow
// the document.
TEST_P(WriterTest, IngestExtCollectionRepeatingKeysEndsAsWritten) {
  StartWriter();
  ASSERT_TRUE(Write(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg _key="@id" id="K1" testcol1="a" testcol2="keep"/>
      <sampleTableStg _key="@id" id="K2" testcol1="b"/>
      <sampleTableStg _key="@id" id="K1" testcol1="c"/>
      <sampleTableStg _key="@id" id="K2" _operation="delete"/>
      <sampleTableStg _key="@id" id="K3" testcol1="d"/>
      <sampleTableStg _key="@id" id="K3" testcol2="e"/>
      <sampleTableStg _key="@id" id="K4" testcol1="f"/>
      </sampleTableStg-collection>)",
                    Mode::kIngestExt)
                  .ok());
  std::map<std::string, StagedRow> rows = Rows();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows["K1"].testcol1, "c");
  EXPECT_EQ(rows["K1"].testcol2, "keep");
  EXPECT_EQ(rows["K1"].op, 1);
  EXPECT_EQ(rows["K2"].del, 1);
  EXPECT_EQ(rows["K2"].testcol1, "NULL");
  EXPECT_EQ(rows["K3"].testcol1, "d");
  EXPECT_EQ(rows["K3"].testcol2, "e");
  EXPECT_EQ(rows["K4"].testcol1, "f");
  EXPECT_LT(rows["K1"].seq, rows["K2"].seq);
  EXPECT_LT(rows["K2"].seq, rows["K3"].seq);
  EXPECT_LT(rows["K3"].seq, rows["K4"].seq);
}

// Many concurrent IngestExt calls on distinct keys gather into batches (one
// statement each on PostgreSQL); every row lands with its own values.
TEST_P(WriterTest, ConcurrentIngestExtCallsOnDistinctKeysLandExactly) {
  StartWriter(2);
  constexpr int kCalls = 300;
  Answers answers(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    std::string id = "D" + std::to_string(i);
    writer_->WriteAsync(
        Records(Sample("_key=\"@id\" id=\"" + id + "\" testcol1=\"v" + std::to_string(i) + "\""), Mode::kIngestExt),
        answers.For(id));
  }
  ASSERT_TRUE(answers.Wait());
  for (const auto& [id, s] : answers.statuses()) EXPECT_TRUE(s.ok()) << id << ": " << s.ToString();
  std::map<std::string, StagedRow> rows = Rows();
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kCalls));
  for (int i = 0; i < kCalls; ++i) EXPECT_EQ(rows["D" + std::to_string(i)].testcol1, "v" + std::to_string(i));
  EXPECT_LT(batches_.load(), static_cast<std::size_t>(kCalls));
}

// Values of every type, awkward text included, stored the same whether a record
// goes alone (one VALUES row) or with others (array parameters on PostgreSQL,
// a multi-row VALUES on SQLite), by Ingest and by IngestExt.
TEST_P(WriterTest, TypedValuesAreStoredAlikeAloneAndInABatch) {
  StartWriter();
  const std::vector<std::string> values = {
      R"(str="plain" memo="m" num="-42" big="9007199254740993" small="7" flag="1" ratio="0.1" day="2024-02-29" at="2024-01-02T03:04:05Z")",
      R"(str="quote &quot; and \ backslash" memo="{braces},comma" num="0" big="-1" small="-32768" flag="0" ratio="-1e-300" day="1970-01-01" at="1999-12-31T23:59:59.123Z")",
      R"(str="NULL" memo="" num="2147483647" ratio="1e300")",
      R"(str="é€😀 unicode" memo="line&#10;break&#9;tab" at="2024-06-30T12:00:00+02:00")",
      R"(str="  spaces  " memo="'O''Brien'; drop table x" day="2000-02-29")",
  };
  for (Mode mode : {Mode::kIngest, Mode::kIngestExt}) {
    std::string prefix = mode == Mode::kIngest ? "i" : "x";
    std::string collection = R"(<typedStg-collection xtkschema="dem:typedStg">)";
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::string key = mode == Mode::kIngest ? "" : R"(_key="@id" )";
      const std::string& attrs = values[i];
      Status alone = Write("<typedStg " + key + "id=\"" + prefix + "A" + std::to_string(i) + "\" " + attrs +
                               " xtkschema=\"dem:typedStg\"/>",
                           mode);
      ASSERT_TRUE(alone.ok()) << alone.ToString();
      collection += "<typedStg " + key + "id=\"" + prefix + "B" + std::to_string(i) + "\" " + attrs + "/>";
    }
    collection += "</typedStg-collection>";
    Status batched = Write(collection, mode);
    ASSERT_TRUE(batched.ok()) << batched.ToString();
  }
  Result<std::vector<store::Row>> rows = db_->Query(
      "SELECT uTypedId, sStr, mMemo, iNum, iBig, iSmall, iFlag, dRatio, tDay, tsAt, iStgOp, iDelete "
      "FROM DemTypedStg ORDER BY uTypedId");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4 * values.size());
  std::map<std::string, store::Row> by_id;
  for (store::Row& r : *rows) {
    std::string id = store::ValueToString(r[0]);
    r.erase(r.begin());
    by_id[id] = r;
  }
  for (const char* prefix : {"i", "x"}) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::string n = std::to_string(i);
      EXPECT_EQ(by_id[prefix + std::string("A") + n], by_id[prefix + std::string("B") + n]) << prefix << n;
    }
  }
  EXPECT_EQ(store::ValueToString(by_id["iA1"][0]), "quote \" and \\ backslash");
  EXPECT_EQ(store::ValueToString(by_id["iB2"][0]), "NULL");  // the text, not a NULL
  EXPECT_EQ(by_id["xB2"][0], store::Value(std::string("NULL")));
  EXPECT_EQ(by_id["xB3"][1], store::Value(std::string("line\nbreak\ttab")));
}

TEST_P(WriterTest, WriteAsyncOfNothingAnswersAtOnce) {
  StartWriter();
  bool answered = false;
  writer_->WriteAsync({}, [&](const Status& s) {
    answered = true;
    EXPECT_TRUE(s.ok());
  });
  EXPECT_TRUE(answered);
}

INSTANTIATE_TEST_SUITE_P(Backends, WriterTest, ::testing::ValuesIn(AllBackends()), BackendParamName());

// --- the SQL text ------------------------------------------------------------

StagedRecord OneRecord(const std::string& xml, Mode mode) {
  std::vector<StagedRecord> r = Records(xml, mode);
  EXPECT_EQ(r.size(), 1u);
  return r.empty() ? StagedRecord{} : r[0];
}

TEST(StagingSqlTest, Insert) {
  StagedRecord r = OneRecord(Sample(R"(_key="@id" id="A" testcol1="x")"), Mode::kIngest);
  EXPECT_EQ(StagingSql(r),
            "INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, iDelete, tsLastModified, iStgSeq, iStgKey, "
            "iStgOp) VALUES ($1, $2, 0, CURRENT_TIMESTAMP, $3, 0, 0)");
}

TEST(StagingSqlTest, MultiRowInsertWithBoundSequence) {
  StagedRecord r = OneRecord(Sample(R"(_key="@id" id="A" testcol1="x")"), Mode::kIngest);
  EXPECT_EQ(MultiRowInsertSql(r, 2, ""),
            "INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, iDelete, tsLastModified, iStgSeq, iStgKey, "
            "iStgOp) VALUES ($1, $2, 0, CURRENT_TIMESTAMP, $3, 0, 0), ($4, $5, 0, CURRENT_TIMESTAMP, $6, 0, 0)");
}

TEST(StagingSqlTest, MultiRowInsertWithInStatementSequence) {
  StagedRecord r = OneRecord(Sample(R"(_key="@id" id="A" testcol1="x")"), Mode::kIngest);
  EXPECT_EQ(MultiRowInsertSql(r, 2, "nextval('SbStgSeq')"),
            "INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, iDelete, tsLastModified, iStgSeq, iStgKey, "
            "iStgOp) VALUES ($1, $2, 0, CURRENT_TIMESTAMP, nextval('SbStgSeq'), 0, 0), ($3, $4, 0, CURRENT_TIMESTAMP, "
            "nextval('SbStgSeq'), 0, 0)");
  EXPECT_EQ(MultiRowInsertSql(r, 1, ""), StagingSql(r));
}

TEST(StagingSqlTest, Upsert) {
  StagedRecord r = OneRecord(Sample(R"(_key="@id" id="A" testcol1="x" testcol2="y")"), Mode::kIngestExt);
  EXPECT_EQ(StagingSql(r),
            "INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, sTestcol2, iDelete, tsLastModified, iStgSeq, "
            "iStgKey, iStgOp) VALUES ($1, $2, $3, 0, CURRENT_TIMESTAMP, $4, 0, 1) ON CONFLICT (uSampleTableId) DO "
            "UPDATE SET sTestcol1 = excluded.sTestcol1, sTestcol2 = excluded.sTestcol2, iDelete = 0, iStgOp = CASE "
            "WHEN DemSampleTableStg.iStgOp >= 2 THEN 3 ELSE 1 END, tsLastModified = excluded.tsLastModified, iStgSeq = "
            "excluded.iStgSeq, iStgKey = excluded.iStgKey");
}

TEST(StagingSqlTest, Delete) {
  StagedRecord r = OneRecord(Sample(R"(_key="@id" id="A" _operation="delete")"), Mode::kIngestExt);
  EXPECT_EQ(StagingSql(r),
            "INSERT INTO DemSampleTableStg (uSampleTableId, iDelete, tsLastModified, iStgSeq, iStgKey, iStgOp) VALUES "
            "($1, 1, CURRENT_TIMESTAMP, $2, 0, 2) ON CONFLICT (uSampleTableId) DO UPDATE SET sTestcol1 = NULL, "
            "sTestcol2 = NULL, iDelete = 1, iStgOp = 2, tsLastModified = excluded.tsLastModified, iStgSeq = "
            "excluded.iStgSeq, iStgKey = excluded.iStgKey");
}

TEST(StagingSqlTest, DeclaredKeyIsTheConflictTarget) {
  StagedRecord r = OneRecord(
      R"(<recipientStg _key="@email" email="a@b.c" firstName="A" xtkschema="nms:recipientStg"/>)", Mode::kIngestExt);
  std::string sql = StagingSql(r);
  EXPECT_THAT(sql, HasSubstr("ON CONFLICT (sEmail) DO UPDATE SET sFirstName = excluded.sFirstName, iDelete = 0"));
  EXPECT_THAT(sql, ::testing::Not(HasSubstr("sEmail = excluded")));
}

TEST(StagingSqlTest, CompositeKeyDelete) {
  StagedRecord r = OneRecord(
      R"(<subscriptionStg _key="@service-id,@recipient-id" recipient-id="R" service-id="S" delete="1" xtkschema="nms:subscriptionStg"/>)",
      Mode::kIngestExt);
  std::string sql = StagingSql(r);
  EXPECT_THAT(sql, HasSubstr("ON CONFLICT (uRecipientId, uServiceId) DO UPDATE SET "));
  EXPECT_THAT(sql, ::testing::Not(HasSubstr("uRecipientId = NULL")));
  EXPECT_THAT(sql, ::testing::Not(HasSubstr("uServiceId = NULL")));
  EXPECT_THAT(sql, HasSubstr("tsCreated = NULL"));
}

TEST(StagingSqlTest, ValuesAreNeverSplicedIntoTheText) {
  StagedRecord r = OneRecord(Sample(R"(_key="@id" id="A" testcol1="O'Brien; drop table x")"), Mode::kIngestExt);
  EXPECT_THAT(StagingSql(r), ::testing::Not(HasSubstr("Brien")));
}

}  // namespace
}  // namespace stagebridge::staging
