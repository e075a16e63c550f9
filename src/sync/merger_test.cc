// merger_test.cc — the staging → cloud merge as a user sees it: rows staged
// through the real StagingWriter from Ingest / IngestExt documents, merged by
// sync::Merger, then read back from the cloud table. On every pair of local ×
// cloud backends; exactly-once under crashes and concurrent writes.
#include "sync/merger.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>
#include <signal.h>

#include "schema/apply.h"
#include "staging/record.h"
#include "staging/writer.h"
#include "store/pool.h"
#include "support/test_databases.h"
#include "sync/test_schemas.h"

namespace stagebridge::sync {
namespace {

using staging::Mode;
using test::AllPairs;
using test::Backend;
using test::BackendPair;
using test::PairParamName;
using test::TestDatabase;
using test_schemas::Schemas;
using test_schemas::Source;
using test_schemas::Staging;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// id → the other selected columns, as text ("NULL" for null).
using CloudRows = std::map<std::string, std::vector<std::string>>;

std::string Sample(const std::string& attrs) {
  return "<sampleTableStg " + attrs + " xtkschema=\"dem:sampleTableStg\"/>";
}
std::string Recipient(const std::string& attrs) {
  return "<recipientStg " + attrs + " xtkschema=\"nms:recipientStg\"/>";
}

// Local and cloud databases with every schema applied, and a running staging
// writer on the local one.
class MergerTestBase {
 protected:
  void Open(BackendPair pair) {
    local_ = std::make_unique<TestDatabase>(pair.local);
    cloud_ = std::make_unique<TestDatabase>(pair.cloud);
    ASSERT_TRUE(local_->ok() && cloud_->ok());
    local_db_ = local_->Open();
    cloud_db_ = cloud_->Open();
    ASSERT_TRUE(local_db_ && cloud_db_);
    Result<schema::ApplyReport> applied = schema::ApplySchemas(Schemas(), *local_db_, *cloud_db_);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    StartWriter();
  }

  void StartWriter() {
    pool_ = std::make_unique<store::ConnectionPool>(local_->url(), 2);
    writer_ = std::make_unique<staging::StagingWriter>(*pool_, staging::WriterOptions{});
    Status prepared = writer_->Prepare();
    ASSERT_TRUE(prepared.ok()) << prepared.ToString();
    writer_->Start();
  }

  void StopWriter() {
    writer_.reset();
    pool_.reset();
  }

  void Close() {
    StopWriter();
    local_db_.reset();
    cloud_db_.reset();
    local_.reset();
    cloud_.reset();
  }

  // Stages a document through the real decoder and writer; returns what Ingest
  // would return (the generated ids), or the error.
  Result<std::vector<std::string>> Stage(const std::string& xml, Mode mode) {
    pugi::xml_document doc;
    if (!doc.load_string(xml.c_str())) return Status::InvalidArgument("test XML does not parse: " + xml);
    SB_ASSIGN_OR_RETURN(staging::DecodedDocument d, staging::DecodeDocument(doc.document_element(), Schemas(), mode));
    SB_RETURN_IF_ERROR(writer_->Write(std::move(d.records)));
    return d.returned_ids;
  }
  void Ingest(const std::string& xml) {
    Result<std::vector<std::string>> r = Stage(xml, Mode::kIngest);
    EXPECT_TRUE(r.ok()) << xml << "\n" << r.status().ToString();
  }
  void IngestExt(const std::string& xml) {
    Result<std::vector<std::string>> r = Stage(xml, Mode::kIngestExt);
    EXPECT_TRUE(r.ok()) << xml << "\n" << r.status().ToString();
  }

  Status Merge(const char* schema_id, SchemaResult& result, MergeOptions options = {}) {
    Merger merger(*local_db_, *cloud_db_, std::move(options));
    return merger.Merge(Source(schema_id), Staging(schema_id), result);
  }
  // Merges, expecting success.
  SchemaResult MergeOk(const char* schema_id = "dem:sampleTable", MergeOptions options = {}) {
    SchemaResult r;
    Status s = Merge(schema_id, r, std::move(options));
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(r.schema, schema_id);
    return r;
  }

  CloudRows Query(store::Database& db, const std::string& sql) {
    CloudRows out;
    Result<std::vector<store::Row>> rows = db.Query(sql);
    EXPECT_TRUE(rows.ok()) << sql << "\n" << rows.status().ToString();
    if (!rows.ok()) return out;
    for (const store::Row& r : *rows) {
      std::vector<std::string> rest;
      for (std::size_t i = 1; i < r.size(); ++i) rest.push_back(store::ValueToString(r[i]));
      EXPECT_EQ(out.count(store::ValueToString(r[0])), 0u) << "two rows with key " << store::ValueToString(r[0]);
      out[store::ValueToString(r[0])] = rest;
    }
    return out;
  }
  CloudRows SampleCloud() {
    return Query(*cloud_db_, "SELECT uSampleTableId, sTestcol1, sTestcol2 FROM DemSampleTable");
  }
  CloudRows SampleStaged() {
    return Query(*local_db_, "SELECT uSampleTableId, sTestcol1, sTestcol2 FROM DemSampleTableStg");
  }
  // email → id, first name, last name.
  CloudRows RecipientCloud() {
    return Query(*cloud_db_, "SELECT sEmail, uRecipientId, sFirstName, sLastName FROM NmsRecipient");
  }

  std::int64_t Count(store::Database& db, const std::string& sql) {
    Result<std::vector<store::Row>> rows = db.Query(sql);
    EXPECT_TRUE(rows.ok()) << sql << "\n" << rows.status().ToString();
    if (!rows.ok() || rows->empty()) return -1;
    return std::get<std::int64_t>((*rows)[0][0]);
  }
  std::int64_t StagedCount(const std::string& table = "DemSampleTableStg") {
    return Count(*local_db_, "SELECT count(*) FROM " + table);
  }

  std::int64_t Watermark(const char* schema_id = "dem:sampleTable") {
    Result<std::string> source = LocalSourceId(*local_db_);
    EXPECT_TRUE(source.ok());
    if (!source.ok()) return -1;
    Result<std::int64_t> w = AppliedWatermark(*cloud_db_, *source, schema_id);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? *w : -1;
  }

  std::unique_ptr<TestDatabase> local_;
  std::unique_ptr<TestDatabase> cloud_;
  std::unique_ptr<store::Database> local_db_;
  std::unique_ptr<store::Database> cloud_db_;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<staging::StagingWriter> writer_;
};

class MergerTest : public MergerTestBase, public ::testing::TestWithParam<BackendPair> {
 protected:
  void SetUp() override { Open(GetParam()); }
  void TearDown() override { Close(); }
};

TEST_P(MergerTest, IngestedRowsAreInsertedAndStagingIsEmptied) {
  Result<std::vector<std::string>> generated = Stage(Sample(R"(testcol1="g1" testcol2="g2")"), Mode::kIngest);
  ASSERT_TRUE(generated.ok()) << generated.status().ToString();
  ASSERT_THAT(*generated, SizeIs(1));
  std::string gen = (*generated)[0];
  Ingest(Sample(R"(_key="@id" id="A1" testcol1="a1")"));
  Ingest(Sample(R"(_key="@id" id="A2" testcol2="b2")"));

  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 3);
  EXPECT_EQ(r.inserted, 3);
  EXPECT_EQ(r.updated, 0);
  EXPECT_EQ(r.deleted, 0);
  EXPECT_EQ(r.rejected, 0);
  EXPECT_THAT(r.rejections, IsEmpty());
  EXPECT_EQ(r.batches, 1);
  EXPECT_EQ(r.leftovers_cleared, 0);
  EXPECT_EQ(SampleCloud(), (CloudRows{{gen, {"g1", "g2"}}, {"A1", {"a1", "NULL"}}, {"A2", {"NULL", "b2"}}}));
  EXPECT_EQ(StagedCount(), 0);
  EXPECT_GT(Watermark(), 0);
}

TEST_P(MergerTest, NothingStagedIsANoOp) {
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 0);
  EXPECT_EQ(r.batches, 0);
  EXPECT_THAT(SampleCloud(), IsEmpty());
  EXPECT_EQ(Watermark(), 0);
}

TEST_P(MergerTest, UpdateKeepsTheColumnsTheCallDidNotName) {
  Ingest(Sample(R"(_key="@id" id="U1" testcol1="one" testcol2="two")"));
  MergeOk();
  IngestExt(Sample(R"(_key="@id" id="U1" testcol1="ONE")"));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 1);
  EXPECT_EQ(r.updated, 1);
  EXPECT_EQ(r.inserted, 0);
  EXPECT_EQ(SampleCloud(), (CloudRows{{"U1", {"ONE", "two"}}}));
  // The id alone as key (no _key): same thing.
  IngestExt(Sample(R"(id="U1" testcol2="TWO")"));
  MergeOk();
  EXPECT_EQ(SampleCloud(), (CloudRows{{"U1", {"ONE", "TWO"}}}));
  EXPECT_EQ(StagedCount(), 0);
}

TEST_P(MergerTest, IngestExtOfAnUnknownIdInserts) {
  IngestExt(Sample(R"(_key="@id" id="N1" testcol2="x")"));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.inserted, 1);
  EXPECT_EQ(r.updated, 0);
  EXPECT_EQ(SampleCloud(), (CloudRows{{"N1", {"NULL", "x"}}}));
}

TEST_P(MergerTest, DeleteByOperationAndByDeleteAttribute) {
  Ingest(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg _key="@id" id="D1" testcol1="1"/><sampleTableStg _key="@id" id="D2" testcol1="2"/>
      <sampleTableStg _key="@id" id="D3" testcol1="3"/><sampleTableStg _key="@id" id="KEEP" testcol1="k"/>
      </sampleTableStg-collection>)");
  MergeOk();
  IngestExt(Sample(R"(_key="@id" id="D1" _operation="delete")"));
  IngestExt(Sample(R"(_key="@id" id="D2" delete="1")"));
  IngestExt(Sample(R"(id="D3" delete="true")"));
  IngestExt(Sample(R"(_key="@id" id="NEVER" _operation="delete")"));  // nothing to delete in the cloud
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 4);
  EXPECT_EQ(r.deleted, 3);
  EXPECT_EQ(r.inserted, 0);
  EXPECT_EQ(SampleCloud(), (CloudRows{{"KEEP", {"k", "NULL"}}}));
  EXPECT_EQ(StagedCount(), 0);
}

TEST_P(MergerTest, UpdateAfterDeleteReplacesTheRow) {
  Ingest(Sample(R"(_key="@id" id="R1" testcol1="old1" testcol2="old2")"));
  MergeOk();
  IngestExt(Sample(R"(_key="@id" id="R1" _operation="delete")"));
  IngestExt(Sample(R"(_key="@id" id="R1" testcol1="new1")"));
  // The same on a key the cloud never had.
  IngestExt(Sample(R"(_key="@id" id="R2" delete="1")"));
  IngestExt(Sample(R"(_key="@id" id="R2" testcol2="fresh")"));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 2);
  // The row after the delete holds only what was written since: testcol2 is gone.
  EXPECT_EQ(SampleCloud(), (CloudRows{{"R1", {"new1", "NULL"}}, {"R2", {"NULL", "fresh"}}}));
  EXPECT_EQ(r.updated, 1);  // R1 replaced
  EXPECT_EQ(r.inserted, 1);
  EXPECT_EQ(r.deleted, 0);
}

TEST_P(MergerTest, DeleteAfterUpdateDeletes) {
  Ingest(Sample(R"(_key="@id" id="X1" testcol1="a")"));
  MergeOk();
  IngestExt(Sample(R"(_key="@id" id="X1" testcol1="b")"));
  IngestExt(Sample(R"(_key="@id" id="X1" _operation="delete")"));
  // A key updated then deleted before any merge never reaches the cloud.
  IngestExt(Sample(R"(_key="@id" id="X2" testcol1="c")"));
  IngestExt(Sample(R"(_key="@id" id="X2" delete="1")"));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 2);
  EXPECT_EQ(r.deleted, 1);
  EXPECT_EQ(r.inserted, 0);
  EXPECT_THAT(SampleCloud(), IsEmpty());
}

TEST_P(MergerTest, RepeatedUpdatesLastWins) {
  Ingest(Sample(R"(_key="@id" id="L1" testcol1="0" testcol2="keep")"));
  MergeOk();
  for (int i = 1; i <= 5; ++i) IngestExt(Sample("_key=\"@id\" id=\"L1\" testcol1=\"" + std::to_string(i) + "\""));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 1);
  EXPECT_EQ(r.updated, 1);
  EXPECT_EQ(SampleCloud(), (CloudRows{{"L1", {"5", "keep"}}}));
}

TEST_P(MergerTest, IngestThenIngestExtBeforeAnyMergeCombineIntoOneInsert) {
  Ingest(Sample(R"(_key="@id" id="C1" testcol1="a")"));
  IngestExt(Sample(R"(_key="@id" id="C1" testcol2="b")"));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 1);
  EXPECT_EQ(r.inserted, 1);
  EXPECT_EQ(SampleCloud(), (CloudRows{{"C1", {"a", "b"}}}));
}

TEST_P(MergerTest, CollectionsMergeLikeSingleRecords) {
  Result<std::vector<std::string>> ids = Stage(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg testcol1="gen"/><sampleTableStg _key="@id" id="K1" testcol1="k1"/>
      <sampleTableStg _key="@id" id="K2" testcol1="k2"/></sampleTableStg-collection>)",
                                               Mode::kIngest);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_THAT(*ids, SizeIs(3));
  EXPECT_EQ((*ids)[1], "");
  SchemaResult first = MergeOk();
  EXPECT_EQ(first.inserted, 3);
  IngestExt(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg _key="@id" id="K1" testcol2="x"/><sampleTableStg _key="@id" id="K2" _operation="delete"/>
      <sampleTableStg _key="@id" id="K3" testcol1="k3"/></sampleTableStg-collection>)");
  SchemaResult second = MergeOk();
  EXPECT_EQ(second.staged, 3);
  EXPECT_EQ(second.updated, 1);
  EXPECT_EQ(second.deleted, 1);
  EXPECT_EQ(second.inserted, 1);
  EXPECT_EQ(SampleCloud(), (CloudRows{{(*ids)[0], {"gen", "NULL"}}, {"K1", {"k1", "x"}}, {"K3", {"k3", "NULL"}}}));
}

TEST_P(MergerTest, DeclaredKeyReconcilesOnTheEmail) {
  Ingest(Recipient(R"(_key="@id" id="R1" email="ann@x.org" firstName="Ann" lastName="Lee")"));
  MergeOk("nms:recipient");
  // Updates the cloud row holding that email, whatever id staging gave the write.
  IngestExt(Recipient(R"(_key="@email" email="ann@x.org" firstName="Anna")"));
  // No row holds this one: inserted, under a new uuid.
  IngestExt(Recipient(R"(_key="@email" email="bob@x.org" lastName="Ray")"));
  SchemaResult r = MergeOk("nms:recipient");
  EXPECT_EQ(r.staged, 2);
  EXPECT_EQ(r.updated, 1);
  EXPECT_EQ(r.inserted, 1);
  EXPECT_EQ(r.rejected, 0) << ::testing::PrintToString(r.rejections);
  CloudRows rows = RecipientCloud();
  ASSERT_THAT(rows, SizeIs(2));
  EXPECT_EQ(rows["ann@x.org"], (std::vector<std::string>{"R1", "Anna", "Lee"}));
  EXPECT_EQ(rows["bob@x.org"][1], "NULL");
  EXPECT_EQ(rows["bob@x.org"][2], "Ray");
  EXPECT_EQ(rows["bob@x.org"][0].size(), 36u) << rows["bob@x.org"][0];
  // Defaults apply to the columns an insert did not name.
  EXPECT_EQ(Count(*cloud_db_,
                  "SELECT count(*) FROM NmsRecipient WHERE iGender = 0 AND iBlackList = 0 AND tsCreated "
                  "IS NOT NULL"),
            2);

  // Deleting by the declared key deletes the row holding it.
  IngestExt(Recipient(R"(_key="@email" email="ann@x.org" _operation="delete")"));
  SchemaResult d = MergeOk("nms:recipient");
  EXPECT_EQ(d.deleted, 1);
  rows = RecipientCloud();
  EXPECT_THAT(rows, SizeIs(1));
  EXPECT_EQ(rows.count("bob@x.org"), 1u);
  EXPECT_EQ(StagedCount("NmsRecipientStg"), 0);
}

TEST_P(MergerTest, DuplicateIngestIsRejectedCountedAndNamed) {
  Ingest(Sample(R"(_key="@id" id="DUP1" testcol1="original")"));
  MergeOk();
  Ingest(Sample(R"(_key="@id" id="DUP1" testcol1="duplicate")"));  // staging no longer holds it: accepted
  Ingest(Sample(R"(_key="@id" id="NEW1" testcol1="new")"));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 2);
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.inserted, 1);
  ASSERT_THAT(r.rejections, SizeIs(1));
  EXPECT_THAT(r.rejections[0], AllOf(HasSubstr("DUP1"), HasSubstr("duplicate")));
  EXPECT_EQ(SampleCloud(), (CloudRows{{"DUP1", {"original", "NULL"}}, {"NEW1", {"new", "NULL"}}}));
  EXPECT_EQ(StagedCount(), 0);  // reported, not kept: a re-run would reject it again
}

TEST_P(MergerTest, IngestOfAnEmailAlreadyInTheCloudIsRejected) {
  Ingest(Recipient(R"(_key="@id" id="R1" email="ann@x.org" firstName="Ann")"));
  MergeOk("nms:recipient");
  Ingest(Recipient(R"(_key="@id" id="R2" email="ann@x.org" firstName="Impostor")"));
  SchemaResult r = MergeOk("nms:recipient");
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.inserted, 0);
  ASSERT_THAT(r.rejections, SizeIs(1));
  EXPECT_THAT(r.rejections[0], AllOf(HasSubstr("R2"), HasSubstr("'email'")));
  EXPECT_EQ(RecipientCloud(), (CloudRows{{"ann@x.org", {"R1", "Ann", "NULL"}}}));
}

TEST_P(MergerTest, IngestExtAfterAMergedIngestUpdates) {
  Ingest(Sample(R"(_key="@id" id="E1" testcol1="a")"));
  MergeOk();
  IngestExt(Sample(R"(_key="@id" id="E1" testcol2="b")"));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.rejected, 0);
  EXPECT_EQ(r.updated, 1);
  EXPECT_EQ(SampleCloud(), (CloudRows{{"E1", {"a", "b"}}}));
}

TEST_P(MergerTest, CloudNeverHoldsTwoRowsWithOneKey) {
  Ingest(Recipient(R"(_key="@id" id="R1" email="a@x.org" firstName="A")"));
  Ingest(Recipient(R"(_key="@id" id="R2" email="b@x.org" firstName="B")"));
  Ingest(Recipient(R"(_key="@id" id="R5" email="e@x.org" firstName="E")"));
  MergeOk("nms:recipient");
  Ingest(Recipient(R"(_key="@id" id="R1" email="c@x.org")"));                    // id taken
  Ingest(Recipient(R"(_key="@id" id="R3" email="b@x.org")"));                    // email taken (R2)
  IngestExt(Recipient(R"(_key="@id" id="R2" email="a@x.org")"));                 // would take R1's email
  IngestExt(Recipient(R"(_key="@id" id="R4" email="e@x.org" firstName="E4")"));  // new id, R5's email
  SchemaResult r;
  Status s = Merge("nms:recipient", r);
  ASSERT_TRUE(s.ok()) << s.ToString();  // conflicts are rejected, never a failed statement
  EXPECT_EQ(r.staged, 4);
  EXPECT_EQ(r.rejected, 4) << ::testing::PrintToString(r.rejections);
  EXPECT_EQ(r.inserted + r.updated + r.deleted, 0);
  EXPECT_THAT(r.rejections, SizeIs(4));
  EXPECT_EQ(RecipientCloud(),
            (CloudRows{
                {"a@x.org", {"R1", "A", "NULL"}}, {"b@x.org", {"R2", "B", "NULL"}}, {"e@x.org", {"R5", "E", "NULL"}}}));
  EXPECT_EQ(
      Count(*cloud_db_, "SELECT count(*) FROM (SELECT sEmail FROM NmsRecipient GROUP BY sEmail HAVING count(*) > 1) d"),
      0);
}

// A key value freed by a delete can be taken by another write of the same
// run, whatever the batch size: the result does not depend on batching.
TEST_P(MergerTest, EmailFreedByADeleteCanBeTakenInTheSameRun) {
  for (std::int64_t batch_rows : {100000, 1}) {
    SCOPED_TRACE(batch_rows);
    std::string n = std::to_string(batch_rows);
    std::string email = "reuse" + n + "@x.org";
    Ingest(Recipient("_key=\"@id\" id=\"OLD" + n + "\" email=\"" + email + "\" firstName=\"Old\""));
    MergeOk("nms:recipient");
    IngestExt(Recipient("_key=\"@id\" id=\"OLD" + n + "\" _operation=\"delete\""));
    Ingest(Recipient("_key=\"@id\" id=\"NEW" + n + "\" email=\"" + email + "\" firstName=\"New\""));
    MergeOptions options;
    options.batch_rows = batch_rows;
    SchemaResult r = MergeOk("nms:recipient", options);
    EXPECT_EQ(r.rejected, 0) << ::testing::PrintToString(r.rejections);
    EXPECT_EQ(r.deleted, 1);
    EXPECT_EQ(r.inserted, 1);
    EXPECT_EQ(RecipientCloud()[email], (std::vector<std::string>{"NEW" + n, "New", "NULL"}));
  }
}

// A delete followed by a write that cannot be applied: the delete still holds.
TEST_P(MergerTest, ReplaceWhoseNewValuesAreRejectedLeavesTheRowDeleted) {
  Ingest(Recipient(R"(_key="@id" id="R1" email="a@x.org" firstName="A")"));
  Ingest(Recipient(R"(_key="@id" id="R2" email="b@x.org" firstName="B")"));
  MergeOk("nms:recipient");
  IngestExt(Recipient(R"(_key="@id" id="R1" _operation="delete")"));
  IngestExt(Recipient(R"(_key="@id" id="R1" email="b@x.org")"));  // R2 holds that email
  SchemaResult r = MergeOk("nms:recipient");
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.deleted, 1);
  EXPECT_EQ(r.inserted + r.updated, 0);
  EXPECT_EQ(RecipientCloud(), (CloudRows{{"b@x.org", {"R2", "B", "NULL"}}}));
}

TEST_P(MergerTest, CompositeDeclaredKey) {
  auto pair = [](const std::string& attrs) { return "<pairStg " + attrs + " xtkschema=\"dem:pairStg\"/>"; };
  Ingest(pair(R"(_key="@id" id="P1" left="l" right="r" value="v1")"));
  Ingest(pair(R"(_key="@id" id="P2" left="l" right="s" value="v2")"));
  MergeOk("dem:pair");
  Ingest(pair(R"(_key="@id" id="P3" left="l" right="r" value="dup")"));  // the pair P1 holds
  IngestExt(pair(R"(_key="@left,@right" left="l" right="s" value="V2")"));
  IngestExt(pair(R"(_key="@right,@left" left="m" right="n" value="new")"));
  SchemaResult r = MergeOk("dem:pair");
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.updated, 1);
  EXPECT_EQ(r.inserted, 1);
  CloudRows rows = Query(*cloud_db_, "SELECT sLeft || '/' || sRight, uPairId, sValue FROM DemPair");
  ASSERT_THAT(rows, SizeIs(3));
  EXPECT_EQ(rows["l/r"], (std::vector<std::string>{"P1", "v1"}));
  EXPECT_EQ(rows["l/s"], (std::vector<std::string>{"P2", "V2"}));
  EXPECT_EQ(rows["m/n"][1], "new");
  IngestExt(pair(R"(_key="@left,@right" left="l" right="r" _operation="delete")"));
  SchemaResult d = MergeOk("dem:pair");
  EXPECT_EQ(d.deleted, 1);
  EXPECT_EQ(Count(*cloud_db_, "SELECT count(*) FROM DemPair"), 2);
}

TEST_P(MergerTest, BatchesReachTheSameStateAsOneBatch) {
  Ingest(Sample(R"(_key="@id" id="B0" testcol1="0" testcol2="keep")"));
  Ingest(Sample(R"(_key="@id" id="B1" testcol1="1")"));
  MergeOk();
  // Ten staged rows: inserts, updates, a delete, a replace.
  for (int i = 2; i < 8; ++i) {
    Ingest(Sample("_key=\"@id\" id=\"B" + std::to_string(i) + "\" testcol1=\"" + std::to_string(i) + "\""));
  }
  IngestExt(Sample(R"(_key="@id" id="B0" testcol1="zero")"));
  IngestExt(Sample(R"(_key="@id" id="B1" _operation="delete")"));
  IngestExt(Sample(R"(_key="@id" id="B8" delete="1")"));
  IngestExt(Sample(R"(_key="@id" id="B8" testcol2="eight")"));
  IngestExt(Sample(R"(_key="@id" id="B9" testcol2="nine")"));
  IngestExt(Sample(R"(_key="@id" id="B2" testcol2="two")"));  // rewrites a pending insert
  ASSERT_EQ(StagedCount(), 10);

  std::vector<Progress> progress;
  MergeOptions options;
  options.batch_rows = 3;
  options.on_batch = [&](const Progress& p) {
    progress.push_back(p);
    return Status::Ok();
  };
  SchemaResult r = MergeOk("dem:sampleTable", options);
  EXPECT_EQ(r.staged, 10);
  EXPECT_EQ(r.batches, 4);
  EXPECT_EQ(r.inserted, 8);  // B2…B7, B8 (replace of nothing), B9
  EXPECT_EQ(r.updated, 1);
  EXPECT_EQ(r.deleted, 1);
  ASSERT_THAT(progress, SizeIs(4));
  EXPECT_EQ(progress[0].done, 3);
  EXPECT_EQ(progress[3].done, 10);
  for (const Progress& p : progress) {
    EXPECT_EQ(p.total, 10);
    EXPECT_EQ(p.schema, "dem:sampleTable");
  }
  EXPECT_EQ(SampleCloud(), (CloudRows{{"B0", {"zero", "keep"}},
                                      {"B2", {"2", "two"}},
                                      {"B3", {"3", "NULL"}},
                                      {"B4", {"4", "NULL"}},
                                      {"B5", {"5", "NULL"}},
                                      {"B6", {"6", "NULL"}},
                                      {"B7", {"7", "NULL"}},
                                      {"B8", {"NULL", "eight"}},
                                      {"B9", {"NULL", "nine"}}}));
  EXPECT_EQ(StagedCount(), 0);
}

TEST_P(MergerTest, SecondMergeChangesNothing) {
  Ingest(Sample(R"(_key="@id" id="O1" testcol1="a")"));
  IngestExt(Sample(R"(_key="@id" id="O2" testcol1="b")"));
  SchemaResult first = MergeOk();
  EXPECT_EQ(first.staged, 2);
  std::int64_t watermark = Watermark();
  CloudRows after_first = SampleCloud();
  SchemaResult second = MergeOk();
  EXPECT_EQ(second.staged, 0);
  EXPECT_EQ(second.batches, 0);
  EXPECT_EQ(second.inserted + second.updated + second.deleted + second.rejected + second.leftovers_cleared, 0);
  EXPECT_EQ(SampleCloud(), after_first);
  EXPECT_EQ(Watermark(), watermark);
}

// A run that died after its cloud commit, before clearing staging, left rows
// the cloud already applied: the next run clears them and applies nothing twice.
TEST_P(MergerTest, LeftoversOfARunThatDiedAfterItsCloudCommitAreClearedNotReapplied) {
  Ingest(Sample(R"(_key="@id" id="F1" testcol1="a")"));
  Ingest(Sample(R"(_key="@id" id="F2" testcol1="b")"));
  IngestExt(Sample(R"(_key="@id" id="F3" testcol1="c")"));
  const std::string columns = "uSampleTableId, sTestcol1, sTestcol2, iDelete, tsLastModified, iStgSeq, iStgKey, iStgOp";
  Result<std::vector<store::Row>> snapshot = local_db_->Query("SELECT " + columns + " FROM DemSampleTableStg");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  MergeOk();
  // A user edits the cloud row meanwhile: re-applying F3 would undo it.
  ASSERT_TRUE(cloud_db_->Execute("UPDATE DemSampleTable SET sTestcol1 = 'edited' WHERE uSampleTableId = 'F3'").ok());
  // Staging as the dead run left it, plus a write made after that run.
  auto restore = [&] {
    for (const store::Row& row : *snapshot) {
      ASSERT_TRUE(
          local_db_
              ->Execute("INSERT INTO DemSampleTableStg (" + columns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", row)
              .ok());
    }
  };
  restore();
  IngestExt(Sample(R"(_key="@id" id="F4" testcol1="later")"));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.leftovers_cleared, 3);
  EXPECT_EQ(r.staged, 1);  // F4 only
  EXPECT_EQ(r.rejected, 0) << "F1 and F2 were applied twice: " << ::testing::PrintToString(r.rejections);
  EXPECT_EQ(
      SampleCloud(),
      (CloudRows{{"F1", {"a", "NULL"}}, {"F2", {"b", "NULL"}}, {"F3", {"edited", "NULL"}}, {"F4", {"later", "NULL"}}}));
  EXPECT_EQ(StagedCount(), 0);

  // The cleanup workflow's ClearMerged does the same, and keeps newer writes.
  restore();
  IngestExt(Sample(R"(_key="@id" id="F5" testcol1="pending")"));
  Result<std::int64_t> cleared =
      ClearMerged(*local_db_, *cloud_db_, Source("dem:sampleTable"), Staging("dem:sampleTable"));
  ASSERT_TRUE(cleared.ok()) << cleared.status().ToString();
  EXPECT_EQ(*cleared, 3);
  EXPECT_EQ(SampleStaged(), (CloudRows{{"F5", {"pending", "NULL"}}}));
}

// The applied watermark only moves with a committed batch: a run stopped
// between batches resumes where it stopped.
TEST_P(MergerTest, RunStoppedBetweenBatchesResumes) {
  for (int i = 0; i < 7; ++i) Ingest(Sample("_key=\"@id\" id=\"S" + std::to_string(i) + "\" testcol1=\"s\""));
  MergeOptions options;
  options.batch_rows = 3;
  options.on_batch = [](const Progress&) { return Status::Aborted("stop after the first batch"); };
  SchemaResult partial;
  Status s = Merge("dem:sampleTable", partial, options);
  EXPECT_EQ(s.code(), Status::Code::kAborted);
  EXPECT_EQ(partial.batches, 1);
  EXPECT_EQ(partial.staged, 3);
  EXPECT_EQ(partial.inserted, 3);
  EXPECT_EQ(StagedCount(), 4);
  EXPECT_EQ(Count(*cloud_db_, "SELECT count(*) FROM DemSampleTable"), 3);
  SchemaResult rest = MergeOk();
  EXPECT_EQ(rest.staged, 4);
  EXPECT_EQ(rest.inserted, 4);
  EXPECT_EQ(rest.rejected, 0);
  EXPECT_EQ(Count(*cloud_db_, "SELECT count(*) FROM DemSampleTable"), 7);
  EXPECT_EQ(StagedCount(), 0);
}

// A second merger that applied a batch meanwhile (a lease lost under a stalled
// holder) moves the watermark: this one must not apply its batch on top.
TEST_P(MergerTest, BatchIsRefusedWhenTheWatermarkMovedDuringTheRun) {
  for (int i = 0; i < 4; ++i) Ingest(Sample("_key=\"@id\" id=\"W" + std::to_string(i) + "\" testcol1=\"w\""));
  std::unique_ptr<store::Database> other = cloud_->Open();
  ASSERT_NE(other, nullptr);
  MergeOptions options;
  options.batch_rows = 2;
  options.on_batch = [&](const Progress&) {
    return other->Execute("UPDATE SbAppliedSeq SET iSeq = iSeq + 1000").status();
  };
  SchemaResult r;
  Status s = Merge("dem:sampleTable", r, options);
  EXPECT_EQ(s.code(), Status::Code::kAborted) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("SYN-300002"));
  EXPECT_EQ(r.batches, 1);
  EXPECT_EQ(Count(*cloud_db_, "SELECT count(*) FROM DemSampleTable"), 2);
  EXPECT_EQ(StagedCount(), 2);
}

// Two mergers at once (a lease that expired under a stalled holder): each batch
// is applied by one of them only; whatever they leave, the next run finishes.
TEST_P(MergerTest, ConcurrentMergersNeverApplyABatchTwice) {
  constexpr int kRows = 24;
  for (int i = 0; i < kRows; ++i) Ingest(Sample("_key=\"@id\" id=\"C" + std::to_string(i) + "\" testcol1=\"c\""));
  StopWriter();
  SchemaResult results[2];
  Status statuses[2];
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int m = 0; m < 2; ++m) {
    threads.emplace_back([&, m] {
      std::unique_ptr<store::Database> local = local_->Open();
      std::unique_ptr<store::Database> cloud = cloud_->Open();
      if (!local || !cloud) return;
      MergeOptions options;
      options.batch_rows = 2;
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
      Merger merger(*local, *cloud, options);
      statuses[m] = merger.Merge(Source("dem:sampleTable"), Staging("dem:sampleTable"), results[m]);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int m = 0; m < 2; ++m) {
    EXPECT_TRUE(statuses[m].ok() || statuses[m].message().find("SYN-300002") != std::string::npos)
        << statuses[m].ToString();
    EXPECT_EQ(results[m].rejected, 0) << "a batch was applied twice: "
                                      << ::testing::PrintToString(results[m].rejections);
  }
  EXPECT_LE(results[0].staged + results[1].staged, kRows);
  SchemaResult last = MergeOk();
  EXPECT_EQ(last.rejected, 0) << ::testing::PrintToString(last.rejections);
  EXPECT_EQ(results[0].staged + results[1].staged + last.staged, kRows);
  EXPECT_EQ(Count(*cloud_db_, "SELECT count(*) FROM DemSampleTable"), kRows);
  EXPECT_EQ(StagedCount(), 0);
}

// A write that lands while a run is in progress, after the run took its
// watermark, is neither merged by it nor cleared: the next run merges it.
TEST_P(MergerTest, WriteDuringTheRunWaitsForTheNextRun) {
  for (int i = 0; i < 4; ++i) {
    Ingest(Sample("_key=\"@id\" id=\"V" + std::to_string(i) + "\" testcol1=\"v" + std::to_string(i) + "\""));
  }
  MergeOptions options;
  options.batch_rows = 1;
  int calls = 0;
  options.on_batch = [&](const Progress&) {
    if (++calls == 1) {
      // V3 is pending for a later batch of this run; V0 was just merged and cleared.
      IngestExt(Sample(R"(_key="@id" id="V3" testcol2="rewritten")"));
      IngestExt(Sample(R"(_key="@id" id="V0" testcol2="again")"));
      Ingest(Sample(R"(_key="@id" id="V9" testcol1="new")"));
    }
    return Status::Ok();
  };
  SchemaResult r = MergeOk("dem:sampleTable", options);
  EXPECT_EQ(r.staged, 3);  // V0, V1, V2: V3 moved past the run's watermark
  EXPECT_EQ(SampleCloud(), (CloudRows{{"V0", {"v0", "NULL"}}, {"V1", {"v1", "NULL"}}, {"V2", {"v2", "NULL"}}}));
  EXPECT_EQ(SampleStaged(),
            (CloudRows{{"V0", {"NULL", "again"}}, {"V3", {"v3", "rewritten"}}, {"V9", {"new", "NULL"}}}));
  SchemaResult next = MergeOk();
  EXPECT_EQ(next.staged, 3);
  EXPECT_EQ(next.rejected, 0);
  EXPECT_EQ(SampleCloud(), (CloudRows{{"V0", {"v0", "again"}},
                                      {"V1", {"v1", "NULL"}},
                                      {"V2", {"v2", "NULL"}},
                                      {"V3", {"v3", "rewritten"}},
                                      {"V9", {"new", "NULL"}}}));
  EXPECT_EQ(StagedCount(), 0);
}

TEST_P(MergerTest, WriteBetweenTwoRunsIsMergedByTheSecond) {
  Ingest(Sample(R"(_key="@id" id="T1" testcol1="a")"));
  MergeOk();
  std::int64_t w1 = Watermark();
  Ingest(Sample(R"(_key="@id" id="T2" testcol1="b")"));
  // Rows above the watermark survive the clear of the applied ones.
  Result<std::int64_t> cleared =
      ClearMerged(*local_db_, *cloud_db_, Source("dem:sampleTable"), Staging("dem:sampleTable"));
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(*cleared, 0);
  EXPECT_EQ(StagedCount(), 1);
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.staged, 1);
  EXPECT_GT(Watermark(), w1);
  EXPECT_EQ(SampleCloud(), (CloudRows{{"T1", {"a", "NULL"}}, {"T2", {"b", "NULL"}}}));
}

TEST_P(MergerTest, MandatoryValueMissingOnInsertIsRejectedNotFailed) {
  auto strict = [](const std::string& attrs) { return "<strictStg " + attrs + " xtkschema=\"dem:strictStg\"/>"; };
  Ingest(strict(R"(_key="@id" id="M1" name="named")"));
  Ingest(strict(R"(_key="@id" id="M2" note="no name")"));
  IngestExt(strict(R"(_key="@id" id="M3" note="no name either")"));
  SchemaResult r;
  Status s = Merge("dem:strict", r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.staged, 3);
  EXPECT_EQ(r.inserted, 1);
  EXPECT_EQ(r.rejected, 2);
  ASSERT_THAT(r.rejections, SizeIs(2));
  EXPECT_THAT(r.rejections[0], AllOf(HasSubstr("M2"), HasSubstr("'name'")));
  EXPECT_THAT(r.rejections[1], AllOf(HasSubstr("M3"), HasSubstr("'name'")));
  CloudRows rows = Query(*cloud_db_, "SELECT uStrictId, sName, sNote, iLevel FROM DemStrict");
  EXPECT_EQ(rows, (CloudRows{{"M1", {"named", "NULL", "3"}}}));  // the default filled iLevel
  // An update of an existing row needs no mandatory value: the cloud keeps it.
  IngestExt(strict(R"(_key="@id" id="M1" note="noted")"));
  SchemaResult u = MergeOk("dem:strict");
  EXPECT_EQ(u.updated, 1);
  EXPECT_EQ(u.rejected, 0);
  EXPECT_EQ(Query(*cloud_db_, "SELECT uStrictId, sName, sNote, iLevel FROM DemStrict"),
            (CloudRows{{"M1", {"named", "noted", "3"}}}));
  EXPECT_EQ(StagedCount("DemStrictStg"), 0);
}

TEST_P(MergerTest, ValuesThatLookLikeSqlArriveVerbatim) {
  const std::vector<std::string> values = {"O'Brien; drop table x", "'); DELETE FROM DemSampleTable; --",
                                           "back\\slash \\N \\t", "\"quoted\" & <angled>", "Zoë – 東京"};
  std::string xml = "<sampleTableStg-collection xtkschema=\"dem:sampleTableStg\">";
  for (std::size_t i = 0; i < values.size(); ++i) {
    pugi::xml_document d;
    pugi::xml_node n = d.append_child("sampleTableStg");
    n.append_attribute("_key") = "@id";
    n.append_attribute("id") = ("Q" + std::to_string(i)).c_str();
    n.append_attribute("testcol1") = values[i].c_str();
    std::ostringstream out;
    d.save(out, "", pugi::format_raw | pugi::format_no_declaration);
    xml += out.str();
  }
  xml += "</sampleTableStg-collection>";
  Ingest(xml);
  IngestExt(Sample(R"(_key="@id" id="Q0" testcol2="x'); DROP TABLE DemSampleTable; --")"));
  SchemaResult r = MergeOk();
  EXPECT_EQ(r.inserted, static_cast<std::int64_t>(values.size()));
  CloudRows rows = SampleCloud();
  ASSERT_THAT(rows, SizeIs(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(rows["Q" + std::to_string(i)][0], values[i]);
  EXPECT_EQ(rows["Q0"][1], "x'); DROP TABLE DemSampleTable; --");
}

TEST_P(MergerTest, TypedValuesSurviveTheTrip) {
  Ingest(Recipient(R"(_key="@id" id="T1" email="t@x.org" birthDate="1990-02-28" gender="2" blackList="true")"));
  MergeOk("nms:recipient");
  Result<std::vector<store::Row>> rows =
      cloud_db_->Query("SELECT iGender, iBlackList, iBlackListEmail FROM NmsRecipient WHERE uRecipientId = 'T1'");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_THAT(*rows, SizeIs(1));
  EXPECT_THAT((*rows)[0],
              ElementsAre(store::Value(std::int64_t{2}), store::Value(std::int64_t{1}), store::Value(std::int64_t{0})));
  EXPECT_EQ(Count(*cloud_db_, "SELECT count(*) FROM NmsRecipient WHERE tBirthDate = '1990-02-28'"), 1);
}

TEST_P(MergerTest, SchemasHaveSeparateWatermarks) {
  Ingest(Sample(R"(_key="@id" id="A" testcol1="a")"));
  Ingest(Recipient(R"(_key="@id" id="R" email="r@x.org")"));
  SchemaResult sample = MergeOk("dem:sampleTable");
  EXPECT_EQ(sample.staged, 1);
  EXPECT_EQ(StagedCount("NmsRecipientStg"), 1);  // untouched
  SchemaResult recipient = MergeOk("nms:recipient");
  EXPECT_EQ(recipient.staged, 1);
  EXPECT_EQ(RecipientCloud(), (CloudRows{{"r@x.org", {"R", "NULL", "NULL"}}}));
}

TEST_P(MergerTest, LocalSourceIdIsStablePerDatabase) {
  Result<std::string> a = LocalSourceId(*local_db_);
  Result<std::string> b = LocalSourceId(*local_db_);
  Result<std::string> other = LocalSourceId(*cloud_db_);
  ASSERT_TRUE(a.ok() && b.ok() && other.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size(), 36u);
  EXPECT_NE(*a, *other);
  ASSERT_TRUE(EnsureCloudBookkeeping(*cloud_db_).ok());
  ASSERT_TRUE(EnsureCloudBookkeeping(*cloud_db_).ok());
  Result<std::int64_t> w = AppliedWatermark(*cloud_db_, *a, "dem:sampleTable");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, MergerTest, ::testing::ValuesIn(AllPairs()), PairParamName());

// The late-committing write (PostgreSQL local database): a transaction drew its
// sequence number, then a later write committed with a higher one, and only
// then does the first commit — while the merge runs. It must be merged or stay
// staged, never be skipped.
class LateWriteTest : public MergerTestBase, public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { Open({Backend::kPostgres, GetParam()}); }
  void TearDown() override { Close(); }
};

TEST_P(LateWriteTest, WriteCommittingDuringTheMergeIsNeverLost) {
  Ingest(Sample(R"(_key="@id" id="EARLY" testcol1="e")"));
  std::unique_ptr<store::Database> late = local_->Open();
  ASSERT_NE(late, nullptr);
  ASSERT_TRUE(late->Begin().ok());
  ASSERT_TRUE(late->Execute("INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, iDelete, tsLastModified, "
                            "iStgSeq, iStgKey, iStgOp) VALUES ('LATE', 'l', 0, CURRENT_TIMESTAMP, "
                            "nextval('SbStgSeq'), 0, 0)")
                  .ok());
  // Committed after LATE drew its number, with a higher one.
  Ingest(Sample(R"(_key="@id" id="AFTER" testcol1="a")"));

  SchemaResult r;
  Status merged;
  std::atomic<bool> done{false};
  std::thread merge([&] {
    merged = Merge("dem:sampleTable", r);
    done = true;
  });
  // Wait until the merge is blocked behind LATE's transaction.
  std::unique_ptr<store::Database> watcher = local_->Open();
  ASSERT_NE(watcher, nullptr);
  bool blocked = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!blocked && !done && std::chrono::steady_clock::now() < deadline) {
    Result<std::vector<store::Row>> waiting =
        watcher->Query("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'demsampletablestg'::regclass");
    ASSERT_TRUE(waiting.ok()) << waiting.status().ToString();
    blocked = std::get<std::int64_t>((*waiting)[0][0]) > 0;
    if (!blocked) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling, not timing
  }
  EXPECT_TRUE(blocked) << "the merge never waited for the open write transaction";
  ASSERT_TRUE(late->Commit().ok());
  merge.join();
  ASSERT_TRUE(merged.ok()) << merged.ToString();

  CloudRows cloud = SampleCloud();
  CloudRows staged = SampleStaged();
  for (const char* id : {"EARLY", "LATE", "AFTER"}) {
    EXPECT_EQ(cloud.count(id) + staged.count(id), 1u) << id << " lost or in both places";
  }
  MergeOk();
  EXPECT_EQ(SampleCloud(), (CloudRows{{"EARLY", {"e", "NULL"}}, {"LATE", {"l", "NULL"}}, {"AFTER", {"a", "NULL"}}}));
  EXPECT_EQ(StagedCount(), 0);
}

INSTANTIATE_TEST_SUITE_P(CloudBackends, LateWriteTest, ::testing::ValuesIn(test::AllBackends()),
                         test::BackendParamName());

#ifdef STAGEBRIDGE_FAULT_INJECTION
// A run killed (SIGKILL) at each point of its cycle, then run again, leaves the
// cloud exactly as one clean run: nothing lost, nothing applied twice.
class MergerCrashDeathTest : public MergerTestBase,
                             public ::testing::TestWithParam<std::tuple<BackendPair, const char*>> {
 protected:
  void SetUp() override { Open(std::get<0>(GetParam())); }
  void TearDown() override { Close(); }
};

TEST_P(MergerCrashDeathTest, RerunAfterAKillEndsInTheCleanState) {
  const char* point = std::get<1>(GetParam());
  Ingest(Sample(R"(_key="@id" id="P1" testcol1="p1" testcol2="keep")"));
  Ingest(Sample(R"(_key="@id" id="P2" testcol1="p2")"));
  MergeOk();
  // The run to kill: 5 rows in 3 batches; re-applying an Ingest would be a rejected duplicate.
  Ingest(Sample(R"(_key="@id" id="N1" testcol1="n1")"));
  Ingest(Sample(R"(_key="@id" id="N2" testcol1="n2")"));
  IngestExt(Sample(R"(_key="@id" id="P1" testcol1="P1")"));
  IngestExt(Sample(R"(_key="@id" id="P2" _operation="delete")"));
  Ingest(Sample(R"(_key="@id" id="N3" testcol1="n3")"));
  StopWriter();  // no thread but this one when forking

  const std::string local_url = local_->url();
  const std::string cloud_url = cloud_->url();
  auto run_and_die = [&] {
    ::setenv("STAGEBRIDGE_CRASH_AT", point, 1);
    Result<std::unique_ptr<store::Database>> local = store::OpenDatabase(local_url);
    Result<std::unique_ptr<store::Database>> cloud = store::OpenDatabase(cloud_url);
    if (!local.ok() || !cloud.ok()) std::_Exit(3);
    MergeOptions options;
    options.batch_rows = 2;
    SchemaResult r;
    Merger merger(**local, **cloud, options);
    (void)merger.Merge(Source("dem:sampleTable"), Staging("dem:sampleTable"), r);
    std::_Exit(4);  // the crash point was never reached
  };
  EXPECT_EXIT(run_and_die(), ::testing::KilledBySignal(SIGKILL), "");

  MergeOptions options;
  options.batch_rows = 2;
  SchemaResult rerun = MergeOk("dem:sampleTable", options);
  EXPECT_EQ(rerun.rejected, 0) << ::testing::PrintToString(rerun.rejections);
  EXPECT_EQ(
      SampleCloud(),
      (CloudRows{{"P1", {"P1", "keep"}}, {"N1", {"n1", "NULL"}}, {"N2", {"n2", "NULL"}}, {"N3", {"n3", "NULL"}}}));
  EXPECT_EQ(StagedCount(), 0);
  SchemaResult third = MergeOk();
  EXPECT_EQ(third.staged + third.leftovers_cleared, 0);
}

std::string CrashName(const ::testing::TestParamInfo<std::tuple<BackendPair, const char*>>& info) {
  return PairName(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
}

INSTANTIATE_TEST_SUITE_P(Points, MergerCrashDeathTest,
                         ::testing::Combine(::testing::ValuesIn(AllPairs()),
                                            ::testing::Values("leftovers", "watermark", "loaded", "merged", "committed",
                                                              "clearing", "cleared")),
                         CrashName);
#endif  // STAGEBRIDGE_FAULT_INJECTION

}  // namespace
}  // namespace stagebridge::sync
