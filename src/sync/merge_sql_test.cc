// merge_sql_test.cc — the SQL of one merge batch: what each operation kind
// produces, in which order, the rejection texts, and that every statement runs
// on both dialects for every staged schema (including composite keys).
#include "sync/merge_sql.h"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "schema/apply.h"
#include "schema/staging.h"
#include "support/test_databases.h"
#include "sync/test_schemas.h"

namespace stagebridge::sync {
namespace {

using test::AllBackends;
using test::Backend;
using test::BackendParamName;
using test::TestDatabase;
using test_schemas::Source;
using test_schemas::Staging;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int kInsert = static_cast<int>(schema::StgOp::kInsert);
constexpr int kUpsert = static_cast<int>(schema::StgOp::kUpsert);
constexpr int kDelete = static_cast<int>(schema::StgOp::kDelete);
constexpr int kReplace = static_cast<int>(schema::StgOp::kReplace);

MergeSql SqlFor(const char* id, store::DialectKind dialect = store::DialectKind::kPostgres) {
  return MergeSql(Source(id), Staging(id), dialect);
}

// A batch holding `n` rows of each (op, kind) listed.
BatchKinds Batch(const MergeSql& sql, const std::vector<std::pair<int, int>>& op_kinds) {
  BatchKinds b;
  b.counts.assign(static_cast<std::size_t>(sql.kinds()), {0, 0, 0, 0});
  for (auto [op, kind] : op_kinds) b.counts[static_cast<std::size_t>(kind)][static_cast<std::size_t>(op)] += 1;
  return b;
}

// Every (op, kind) of the schema.
BatchKinds FullBatch(const MergeSql& sql) {
  std::vector<std::pair<int, int>> all;
  for (int k = 0; k < sql.kinds(); ++k) {
    for (int op : {kInsert, kUpsert, kDelete, kReplace}) all.emplace_back(op, k);
  }
  return Batch(sql, all);
}

std::vector<Tally> Tallies(const std::vector<MergeStatement>& statements) {
  std::vector<Tally> out;
  for (const MergeStatement& s : statements) out.push_back(s.tally);
  return out;
}

TEST(MergeSqlTest, TempTableLoadColumnsAndBatchSelect) {
  MergeSql pg = SqlFor("dem:sampleTable", store::DialectKind::kPostgres);
  EXPECT_EQ(pg.temp_table(), "SbMergeDemSampleTable");
  EXPECT_THAT(pg.load_columns(), ElementsAre("uSampleTableId", "sTestcol1", "sTestcol2", "iStgOp", "iStgKey"));
  EXPECT_THAT(pg.CreateTemp(), AllOf(StartsWith("CREATE TEMP TABLE IF NOT EXISTS SbMergeDemSampleTable ("),
                                     HasSubstr("iRej SMALLINT NOT NULL DEFAULT 0")));
  EXPECT_EQ(pg.SelectBatch(),
            "SELECT uSampleTableId, sTestcol1, sTestcol2, iStgOp, iStgKey FROM DemSampleTableStg WHERE iStgSeq > $1 "
            "AND iStgSeq <= $2");
  EXPECT_EQ(pg.EmptyTemp(), "TRUNCATE SbMergeDemSampleTable");
  EXPECT_EQ(SqlFor("dem:sampleTable", store::DialectKind::kSqlite).EmptyTemp(), "DELETE FROM SbMergeDemSampleTable");
  EXPECT_EQ(pg.kinds(), 1);
  EXPECT_EQ(SqlFor("nms:recipient").kinds(), 2);  // @id and the declared key @email
  EXPECT_EQ(SqlFor("dem:pair").kinds(), 2);
}

TEST(MergeSqlTest, TempTableColumnsAreLooseEvenWhereTheCloudColumnIsMandatory) {
  // T holds rows whose mandatory values were never given: they must load, then be rejected.
  std::string ddl = SqlFor("dem:strict").CreateTemp();
  EXPECT_THAT(ddl, Not(HasSubstr("sName VARCHAR(64) NOT NULL")));
  EXPECT_THAT(ddl, Not(HasSubstr("DEFAULT 3")));
}

TEST(MergeSqlTest, EmptyBatchHasNoStatement) {
  MergeSql sql = SqlFor("nms:recipient");
  EXPECT_TRUE(sql.Statements(Batch(sql, {})).empty());
}

TEST(MergeSqlTest, InsertsRejectDuplicatesOnEveryKeyThenInsert) {
  MergeSql sql = SqlFor("nms:recipient");
  std::vector<MergeStatement> st = sql.Statements(Batch(sql, {{kInsert, 0}}));
  EXPECT_THAT(Tallies(st), ElementsAre(Tally::kRejected, Tally::kRejected, Tally::kInserted));
  EXPECT_THAT(st[0].sql, HasSubstr(fmt::format("SET iRej = {} ", kRejectKeyBase)));
  EXPECT_THAT(st[0].sql, HasSubstr("uRecipientId IN (SELECT uRecipientId FROM NmsRecipient)"));
  EXPECT_THAT(st[1].sql, HasSubstr(fmt::format("SET iRej = {} ", kRejectKeyBase + 1)));
  EXPECT_THAT(st[1].sql, HasSubstr("sEmail IN (SELECT sEmail FROM NmsRecipient)"));
  EXPECT_THAT(st[2].sql, StartsWith("INSERT INTO NmsRecipient ("));
  // A column the write never named takes the cloud default.
  EXPECT_THAT(st[2].sql, HasSubstr("COALESCE(t.iGender, 0)"));
  EXPECT_THAT(st[2].sql, HasSubstr("t.iRej = 0"));
}

TEST(MergeSqlTest, DeletesAloneNeedNoRejectionCheck) {
  MergeSql sql = SqlFor("dem:sampleTable");
  std::vector<MergeStatement> st = sql.Statements(Batch(sql, {{kDelete, 0}}));
  ASSERT_THAT(Tallies(st), ElementsAre(Tally::kDeleted));
  EXPECT_EQ(st[0].sql,
            "DELETE FROM DemSampleTable WHERE uSampleTableId IN (SELECT uSampleTableId FROM SbMergeDemSampleTable "
            "WHERE iStgOp = 2 AND iStgKey = 0)");
}

TEST(MergeSqlTest, UpsertOnDeclaredKeyUpdatesEveryOtherColumnThenInsertsTheRest) {
  MergeSql sql = SqlFor("nms:recipient");
  std::vector<MergeStatement> st = sql.Statements(Batch(sql, {{kUpsert, 1}}));
  // The id another cloud row holds is a conflict; then update, then insert.
  ASSERT_THAT(Tallies(st), ElementsAre(Tally::kRejected, Tally::kUpdated, Tally::kInserted));
  EXPECT_THAT(st[0].sql, HasSubstr(fmt::format("SET iRej = {} ", kRejectKeyBase)));
  EXPECT_THAT(st[1].sql, StartsWith("UPDATE NmsRecipient AS c SET "));
  EXPECT_THAT(st[1].sql, HasSubstr("sFirstName = COALESCE(t.sFirstName, c.sFirstName)"));
  EXPECT_THAT(st[1].sql, Not(HasSubstr("sEmail = COALESCE")));  // the reconciliation key itself is not set
  EXPECT_THAT(st[1].sql, HasSubstr("c.sEmail = t.sEmail"));
  EXPECT_THAT(st[2].sql, HasSubstr("NOT EXISTS (SELECT 1 FROM NmsRecipient c WHERE c.sEmail = t.sEmail)"));
}

TEST(MergeSqlTest, ReplaceAlwaysDeletesThenInsertsOnlyRowsNotRejected) {
  MergeSql sql = SqlFor("dem:sampleTable");
  std::vector<MergeStatement> st = sql.Statements(Batch(sql, {{kReplace, 0}}));
  ASSERT_THAT(Tallies(st), ElementsAre(Tally::kReplacedDeleted, Tally::kReplacedInserted));
  EXPECT_THAT(st[0].sql, HasSubstr("WHERE iStgOp = 3 AND iStgKey = 0)"));  // the delete was acknowledged
  EXPECT_THAT(st[1].sql, HasSubstr("t.iStgOp = 3 AND t.iRej = 0"));
}

TEST(MergeSqlTest, DeletesComeFirstThenRejectionsThenWrites) {
  for (const char* id : {"dem:sampleTable", "nms:recipient", "dem:strict", "dem:pair", "nms:subscription"}) {
    SCOPED_TRACE(id);
    MergeSql sql = SqlFor(id);
    std::vector<Tally> t = Tallies(sql.Statements(FullBatch(sql)));
    auto first = [&](std::initializer_list<Tally> which) {
      return std::find_first_of(t.begin(), t.end(), which.begin(), which.end()) - t.begin();
    };
    auto last = [&](std::initializer_list<Tally> which) {
      auto it = std::find_first_of(t.rbegin(), t.rend(), which.begin(), which.end());
      return t.rend() - it - 1;
    };
    EXPECT_LT(last({Tally::kDeleted, Tally::kReplacedDeleted}), first({Tally::kRejected}));
    EXPECT_LT(last({Tally::kRejected}), first({Tally::kUpdated, Tally::kInserted, Tally::kReplacedInserted}));
    EXPECT_EQ(std::count(t.begin(), t.end(), Tally::kNone), 0);
  }
}

TEST(MergeSqlTest, MandatoryCheckOnlyForColumnsWithoutDefault) {
  MergeSql strict = SqlFor("dem:strict");
  std::vector<MergeStatement> st = strict.Statements(Batch(strict, {{kInsert, 0}}));
  ASSERT_FALSE(st.empty());
  std::string all;
  for (const MergeStatement& s : st) all += s.sql + "\n";
  EXPECT_THAT(all, HasSubstr(fmt::format("WHEN sName IS NULL THEN {}", kRejectRequiredBase)));
  EXPECT_THAT(all, Not(HasSubstr("iLevel IS NULL")));  // has a default
  EXPECT_THAT(all, Not(HasSubstr("sNote IS NULL")));   // optional

  MergeSql sample = SqlFor("dem:sampleTable");
  for (const MergeStatement& s : sample.Statements(FullBatch(sample))) {
    EXPECT_THAT(s.sql, Not(HasSubstr("IS NULL THEN"))) << s.sql;
  }
}

TEST(MergeSqlTest, NoValueIsEverPartOfTheText) {
  // Statements are built from the schema alone: no placeholder, no quote.
  for (const char* id : {"dem:sampleTable", "nms:recipient", "dem:strict", "dem:pair", "nms:subscription"}) {
    MergeSql sql = SqlFor(id);
    for (const MergeStatement& s : sql.Statements(FullBatch(sql))) {
      EXPECT_THAT(s.sql, Not(HasSubstr("'"))) << s.sql;
      EXPECT_THAT(s.sql, Not(HasSubstr("$"))) << s.sql;
    }
  }
}

TEST(MergeSqlTest, DescribeRejectionNamesTheKeyAndTheReason) {
  MergeSql sample = SqlFor("dem:sampleTable");
  EXPECT_EQ(sample.DescribeRejection(
                {std::string("D1"), std::int64_t{kInsert}, std::int64_t{0}, std::int64_t{kRejectKeyBase}}),
            "id=D1: duplicate: the id is already in the cloud table DemSampleTable (Ingest only inserts)");

  MergeSql recipient = SqlFor("nms:recipient");
  // An Ingest whose email another cloud row holds.
  EXPECT_EQ(recipient.DescribeRejection({std::string("R2"), std::int64_t{kInsert}, std::int64_t{0},
                                         std::int64_t{kRejectKeyBase + 1}, std::string("a@x.org")}),
            "id=R2: duplicate: the value of key 'email' is already in the cloud table NmsRecipient (Ingest only "
            "inserts)");
  // An IngestExt reconciled on the email whose (staged) id another cloud row holds.
  EXPECT_EQ(recipient.DescribeRejection({std::string("R3"), std::int64_t{kUpsert}, std::int64_t{1},
                                         std::int64_t{kRejectKeyBase}, std::string("b@x.org")}),
            "email=b@x.org: conflict: the value of key 'id' is held by another row of the cloud table NmsRecipient");

  MergeSql strict = SqlFor("dem:strict");
  EXPECT_THAT(strict.DescribeRejection(
                  {std::string("S1"), std::int64_t{kInsert}, std::int64_t{0}, std::int64_t{kRejectRequiredBase}}),
              AllOf(StartsWith("id=S1: "), HasSubstr("mandatory attribute 'name' was never given")));

  MergeSql pair = SqlFor("dem:pair");
  EXPECT_THAT(pair.DescribeRejection({std::string("P1"), std::int64_t{kUpsert}, std::int64_t{1},
                                      std::int64_t{kRejectKeyBase}, std::string("l"), std::string("r")}),
              StartsWith("left=l,right=r: conflict: "));
}

// Every statement of every staged schema, for every operation kind at once,
// runs on the dialect (syntax, composite keys, types of T), over empty tables
// and over tables holding rows.
class MergeSqlDbTest : public ::testing::TestWithParam<Backend> {};

TEST_P(MergeSqlDbTest, EveryStatementRunsForEveryStagedSchema) {
  TestDatabase local(GetParam());
  TestDatabase cloud(GetParam());
  ASSERT_TRUE(local.ok() && cloud.ok());
  std::unique_ptr<store::Database> local_db = local.Open();
  std::unique_ptr<store::Database> cloud_db = cloud.Open();
  ASSERT_TRUE(local_db && cloud_db);
  Result<schema::ApplyReport> applied = schema::ApplySchemas(test_schemas::Schemas(), *local_db, *cloud_db);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  int schemas = 0;
  for (const schema::Schema* source : test_schemas::Schemas().All()) {
    if (!source->auto_stg || source->stg_schema.empty()) continue;
    SCOPED_TRACE(source->id());
    ++schemas;
    MergeSql sql(*source, *test_schemas::Schemas().Find(source->stg_schema), cloud.kind());
    ASSERT_TRUE(cloud_db->Execute(sql.CreateTemp()).ok());
    ASSERT_TRUE(cloud_db->Execute(sql.CreateTemp()).ok()) << "CreateTemp is idempotent";
    ASSERT_TRUE(cloud_db->Execute(sql.EmptyTemp()).ok());
    Result<std::vector<store::Row>> batch = local_db->Query(sql.SelectBatch(), {std::int64_t{0}, std::int64_t{10}});
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    for (int round = 0; round < 2; ++round) {
      for (const MergeStatement& st : sql.Statements(FullBatch(sql))) {
        Result<std::int64_t> n = cloud_db->Execute(st.sql);
        EXPECT_TRUE(n.ok()) << st.sql << "\n" << n.status().ToString();
      }
      Result<std::vector<store::Row>> rejected = cloud_db->Query(sql.SelectRejected(10));
      EXPECT_TRUE(rejected.ok()) << rejected.status().ToString();
      // Second round: over a T holding one row of each operation kind.
      const std::vector<std::string>& cols = sql.load_columns();
      std::vector<store::Row> rows;
      for (int k = 0; k < sql.kinds(); ++k) {
        for (int op : {kInsert, kUpsert, kDelete, kReplace}) {
          store::Row r(cols.size());
          r[0] = std::string("id-") + std::to_string(k) + "-" + std::to_string(op);
          r[cols.size() - 2] = std::int64_t{op};
          r[cols.size() - 1] = std::int64_t{k};
          rows.push_back(std::move(r));
        }
      }
      std::size_t next = 0;
      Result<std::int64_t> loaded = cloud_db->BulkInsert(sql.temp_table(), cols, [&](store::Row& out) {
        if (next == rows.size()) return false;
        out = rows[next++];
        return true;
      });
      ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    }
  }
  EXPECT_GE(schemas, 7);  // 4 built-ins + 3 user schemas
}

TEST_P(MergeSqlDbTest, CompositeKeyDuplicateIsRejectedInTheTempTable) {
  TestDatabase local(GetParam());
  TestDatabase cloud(GetParam());
  ASSERT_TRUE(local.ok() && cloud.ok());
  std::unique_ptr<store::Database> local_db = local.Open();
  std::unique_ptr<store::Database> cloud_db = cloud.Open();
  ASSERT_TRUE(local_db && cloud_db);
  ASSERT_TRUE(schema::ApplySchemas(test_schemas::Schemas(), *local_db, *cloud_db).ok());
  MergeSql sql = SqlFor("dem:pair", cloud.kind());
  ASSERT_TRUE(
      cloud_db->Execute("INSERT INTO DemPair (uPairId, sLeft, sRight, sValue) VALUES ('C1', 'l', 'r', 'v')").ok());
  ASSERT_TRUE(cloud_db->Execute(sql.CreateTemp()).ok());
  ASSERT_THAT(sql.load_columns(), ElementsAre("uPairId", "sLeft", "sRight", "sValue", "iStgOp", "iStgKey"));
  std::vector<store::Row> rows = {
      {std::string("N1"), std::string("l"), std::string("r"), std::string("dup"), std::int64_t{kInsert},
       std::int64_t{0}},
      {std::string("N2"), std::string("l"), std::string("other"), std::string("new"), std::int64_t{kInsert},
       std::int64_t{0}},
  };
  std::size_t next = 0;
  ASSERT_TRUE(cloud_db
                  ->BulkInsert(sql.temp_table(), sql.load_columns(),
                               [&](store::Row& out) {
                                 if (next == rows.size()) return false;
                                 out = rows[next++];
                                 return true;
                               })
                  .ok());
  std::int64_t rejected = 0;
  std::int64_t inserted = 0;
  for (const MergeStatement& st : sql.Statements(Batch(sql, {{kInsert, 0}, {kInsert, 0}}))) {
    Result<std::int64_t> n = cloud_db->Execute(st.sql);
    ASSERT_TRUE(n.ok()) << st.sql << "\n" << n.status().ToString();
    if (st.tally == Tally::kRejected) rejected += *n;
    if (st.tally == Tally::kInserted) inserted += *n;
  }
  EXPECT_EQ(rejected, 1);
  EXPECT_EQ(inserted, 1);
  Result<std::vector<store::Row>> rej = cloud_db->Query(sql.SelectRejected(10));
  ASSERT_TRUE(rej.ok()) << rej.status().ToString();
  ASSERT_EQ(rej->size(), 1u);
  EXPECT_EQ(sql.DescribeRejection((*rej)[0]),
            "id=N1: duplicate: the value of key 'left,right' is already in the cloud table DemPair (Ingest only "
            "inserts)");
  Result<std::vector<store::Row>> c = cloud_db->Query("SELECT uPairId, sValue FROM DemPair ORDER BY uPairId");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ(store::ValueToString((*c)[0][1]), "v");  // unchanged
  EXPECT_EQ(store::ValueToString((*c)[1][0]), "N2");
}

INSTANTIATE_TEST_SUITE_P(Backends, MergeSqlDbTest, ::testing::ValuesIn(AllBackends()), BackendParamName());

}  // namespace
}  // namespace stagebridge::sync
