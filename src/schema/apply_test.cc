// Integration tests: `schema apply` against real databases, on both backends,
// checked through the database catalog.
#include "schema/apply.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "support/test_databases.h"

namespace stagebridge::schema {
namespace {

using test::AllBackends;
using test::Backend;
using test::BackendParamName;
using test::TestDatabase;

constexpr const char* kSampleV1 = R"(<srcSchema namespace="dem" name="sampleTable" label="Sample Table">
  <element name="sampleTable" autopk="true" autouuid="true" autoStg="true" dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255"/>
    <attribute name="testcol2" type="string" length="255"/>
  </element></srcSchema>)";

constexpr const char* kSampleV2 = R"(<srcSchema namespace="dem" name="sampleTable" label="Sample Table">
  <element name="sampleTable" autopk="true" autouuid="true" autoStg="true" dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255"/>
    <attribute name="testcol2" type="string" length="255"/>
    <attribute name="testcol3" type="long" default="7"/>
    <attribute name="email" type="string" length="80"/>
    <key name="email"><keyfield xpath="@email"/></key>
  </element></srcSchema>)";

constexpr const char* kSampleUnstaged = R"(<srcSchema namespace="dem" name="sampleTable" label="Sample Table">
  <element name="sampleTable" autopk="true" autouuid="true" autoStg="false" dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255"/>
    <attribute name="testcol2" type="string" length="255"/>
  </element></srcSchema>)";

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

class ApplyTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    local_ = std::make_unique<TestDatabase>(GetParam());
    cloud_ = std::make_unique<TestDatabase>(GetParam());
    ASSERT_TRUE(local_->ok() && cloud_->ok());
    local_db_ = local_->Open();
    cloud_db_ = cloud_->Open();
    ASSERT_NE(local_db_, nullptr);
    ASSERT_NE(cloud_db_, nullptr);
  }

  Result<ApplyReport> Apply(const char* sample, ApplyOptions options = {}) {
    std::vector<SchemaSource> sources;
    if (sample != nullptr) sources.push_back({"dem_sampleTable.xml", sample});
    Result<SchemaSet> set = SchemaSet::Load(sources);
    if (!set.ok()) return set.status();
    return ApplySchemas(*set, *local_db_, *cloud_db_, options);
  }

  // Column name (lower-case) → type, as the catalog reports them.
  std::map<std::string, store::ColumnInfo> Columns(store::Database& db, const std::string& table) {
    std::map<std::string, store::ColumnInfo> out;
    auto cols = db.ListColumns(table);
    EXPECT_TRUE(cols.ok()) << cols.status().ToString();
    if (cols.ok()) {
      for (const auto& c : *cols) out[Lower(c.name)] = c;
    }
    return out;
  }

  std::vector<std::string> ColumnNames(store::Database& db, const std::string& table) {
    std::vector<std::string> out;
    for (const auto& [name, info] : Columns(db, table)) out.push_back(name);
    return out;
  }

  const store::IndexInfo* FindIndexOn(const std::vector<store::IndexInfo>& indexes, std::vector<std::string> cols) {
    for (auto& c : cols) c = Lower(c);
    for (const auto& index : indexes) {
      std::vector<std::string> have;
      for (const auto& c : index.columns) have.push_back(Lower(c));
      if (have == cols) return &index;
    }
    return nullptr;
  }

  std::unique_ptr<TestDatabase> local_;
  std::unique_ptr<TestDatabase> cloud_;
  std::unique_ptr<store::Database> local_db_;
  std::unique_ptr<store::Database> cloud_db_;
};

TEST_P(ApplyTest, CreatesCloudAndStagingTablesForSampleTable) {
  Result<ApplyReport> report = Apply(kSampleV1);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->changed());

  // Cloud: DemSampleTable in the cloud database only.
  ASSERT_TRUE(*cloud_db_->TableExists("DemSampleTable"));
  EXPECT_FALSE(*cloud_db_->TableExists("DemSampleTableStg"));
  EXPECT_EQ(ColumnNames(*cloud_db_, "DemSampleTable"),
            (std::vector<std::string>{"stestcol1", "stestcol2", "usampletableid"}));
  auto cloud_cols = Columns(*cloud_db_, "DemSampleTable");
  EXPECT_EQ(cloud_cols["usampletableid"].type, "VARCHAR(255)");
  EXPECT_TRUE(cloud_cols["usampletableid"].not_null);
  EXPECT_EQ(cloud_cols["stestcol1"].type, "VARCHAR(255)");
  auto cloud_indexes = cloud_db_->ListIndexes("DemSampleTable");
  ASSERT_TRUE(cloud_indexes.ok());
  const store::IndexInfo* pk = FindIndexOn(*cloud_indexes, {"uSampleTableId"});
  ASSERT_NE(pk, nullptr);
  EXPECT_TRUE(pk->unique);

  // Staging: DemSampleTableStg in the local database only.
  ASSERT_TRUE(*local_db_->TableExists("DemSampleTableStg"));
  EXPECT_FALSE(*local_db_->TableExists("DemSampleTable"));
  EXPECT_EQ(ColumnNames(*local_db_, "DemSampleTableStg"),
            (std::vector<std::string>{"idelete", "istgkey", "istgop", "istgseq", "stestcol1", "stestcol2",
                                      "tslastmodified", "usampletableid"}));
  auto stg_cols = Columns(*local_db_, "DemSampleTableStg");
  EXPECT_EQ(stg_cols["idelete"].type, "SMALLINT");
  EXPECT_EQ(stg_cols["istgseq"].type, "BIGINT");
  EXPECT_EQ(stg_cols["tslastmodified"].type,
            GetParam() == Backend::kPostgres ? "TIMESTAMP WITH TIME ZONE" : "TIMESTAMPTZ");
  EXPECT_FALSE(stg_cols["stestcol1"].not_null);
  auto stg_indexes = local_db_->ListIndexes("DemSampleTableStg");
  ASSERT_TRUE(stg_indexes.ok());
  const store::IndexInfo* id_index = FindIndexOn(*stg_indexes, {"uSampleTableId"});
  ASSERT_NE(id_index, nullptr);
  EXPECT_TRUE(id_index->unique);
  const store::IndexInfo* lm_index = FindIndexOn(*stg_indexes, {"tsLastModified"});
  ASSERT_NE(lm_index, nullptr);
  EXPECT_FALSE(lm_index->unique);
  EXPECT_NE(FindIndexOn(*stg_indexes, {"iStgSeq"}), nullptr);

  // The built-ins are applied too, with their declared keys.
  ASSERT_TRUE(*cloud_db_->TableExists("NmsRecipient"));
  ASSERT_TRUE(*local_db_->TableExists("NmsRecipientStg"));
  auto rcp_indexes = cloud_db_->ListIndexes("NmsRecipient");
  ASSERT_TRUE(rcp_indexes.ok());
  const store::IndexInfo* email = FindIndexOn(*rcp_indexes, {"sEmail"});
  ASSERT_NE(email, nullptr);
  EXPECT_TRUE(email->unique);
  for (const char* t : {"NmsServiceStg", "NmsSubscriptionStg", "NmsAppSubscriptionRcpStg"}) {
    EXPECT_TRUE(*local_db_->TableExists(t)) << t;
  }
}

TEST_P(ApplyTest, UnquotedIdentifiersWorkAsWritten) {
  ASSERT_TRUE(Apply(kSampleV1).ok());
  // What a user types in psql or sqlite3, mixed case and unquoted.
  ASSERT_TRUE(cloud_db_
                  ->Execute("insert into DemSampleTable (uSampleTableId, sTestcol1) values ($1, $2)",
                            {std::string("ABC12345"), std::string("O'Brien; drop table x")})
                  .ok());
  auto rows =
      cloud_db_->Query("select sTestcol1 from DemSampleTable where uSampleTableId = $1", {std::string("ABC12345")});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(std::get<std::string>((*rows)[0][0]), "O'Brien; drop table x");
}

TEST_P(ApplyTest, SecondApplyChangesNothing) {
  ASSERT_TRUE(Apply(kSampleV1).ok());
  auto before = Columns(*local_db_, "DemSampleTableStg");
  Result<ApplyReport> again = Apply(kSampleV1);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->changed());
  for (const TableChange& t : again->tables) {
    EXPECT_FALSE(t.report.changed()) << t.table;
    EXPECT_TRUE(t.report.type_mismatches.empty()) << t.table;
    EXPECT_TRUE(t.report.extra_columns.empty()) << t.table;
  }
  EXPECT_EQ(Columns(*local_db_, "DemSampleTableStg").size(), before.size());
}

TEST_P(ApplyTest, AddedAttributeBecomesAColumnAndRowsSurvive) {
  ASSERT_TRUE(Apply(kSampleV1).ok());
  ASSERT_TRUE(local_db_
                  ->Execute("INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1) VALUES ($1, $2)",
                            {std::string("k1"), std::string("v1")})
                  .ok());
  Result<ApplyReport> report = Apply(kSampleV2);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->changed());
  auto cloud_cols = Columns(*cloud_db_, "DemSampleTable");
  ASSERT_TRUE(cloud_cols.count("itestcol3"));
  EXPECT_EQ(cloud_cols["itestcol3"].type, "INTEGER");
  ASSERT_TRUE(cloud_cols.count("semail"));
  auto stg_cols = Columns(*local_db_, "DemSampleTableStg");
  EXPECT_TRUE(stg_cols.count("itestcol3"));
  auto stg_indexes = local_db_->ListIndexes("DemSampleTableStg");
  ASSERT_TRUE(stg_indexes.ok());
  const store::IndexInfo* email = FindIndexOn(*stg_indexes, {"sEmail"});
  ASSERT_NE(email, nullptr);
  EXPECT_TRUE(email->unique);
  auto rows =
      local_db_->Query("SELECT sTestcol1 FROM DemSampleTableStg WHERE uSampleTableId = $1", {std::string("k1")});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(std::get<std::string>((*rows)[0][0]), "v1");
  // And applying v2 again is a no-op.
  Result<ApplyReport> again = Apply(kSampleV2);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed());
}

TEST_P(ApplyTest, DisablingStagingRefusesWhileRowsAreUnmergedUnlessForced) {
  ASSERT_TRUE(Apply(kSampleV1).ok());
  ASSERT_TRUE(
      local_db_->Execute("INSERT INTO DemSampleTableStg (uSampleTableId) VALUES ($1)", {std::string("k1")}).ok());
  Result<ApplyReport> refused = Apply(kSampleUnstaged);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("1 unmerged row"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("DemSampleTableStg"), std::string::npos);
  EXPECT_TRUE(*local_db_->TableExists("DemSampleTableStg"));

  Result<ApplyReport> forced = Apply(kSampleUnstaged, {.force = true});
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_FALSE(*local_db_->TableExists("DemSampleTableStg"));
  EXPECT_TRUE(*cloud_db_->TableExists("DemSampleTable"));  // the cloud table stays
  bool reported = false;
  for (const TableChange& t : forced->tables) {
    if (t.dropped && t.table == "DemSampleTableStg") reported = t.dropped_rows == 1;
  }
  EXPECT_TRUE(reported);
}

TEST_P(ApplyTest, DisablingStagingDropsAnEmptyStagingTable) {
  ASSERT_TRUE(Apply(kSampleV1).ok());
  ASSERT_TRUE(Apply(kSampleUnstaged).ok());
  EXPECT_FALSE(*local_db_->TableExists("DemSampleTableStg"));
  // Turning it back on recreates it.
  ASSERT_TRUE(Apply(kSampleV1).ok());
  EXPECT_TRUE(*local_db_->TableExists("DemSampleTableStg"));
}

TEST_P(ApplyTest, InvalidSchemaAppliesNothing) {
  std::vector<SchemaSource> sources = {{"dem_sampleTable.xml", kSampleV1},
                                       {"dem_bad.xml", R"(<srcSchema namespace="dem" name="bad">
      <element name="bad" autopk="true" autouuid="true" dataSource="nms:extAccount:ffda">
      <attribute name="x" type="strin"/></element></srcSchema>)"}};
  Result<SchemaSet> set = SchemaSet::Load(sources);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("dem_bad.xml: element 'bad', attribute 'x': unknown type 'strin'"),
            std::string::npos)
      << set.status().message();
  EXPECT_FALSE(*cloud_db_->TableExists("DemSampleTable"));
}

TEST_P(ApplyTest, DryRunChangesNothing) {
  Result<ApplyReport> report = Apply(kSampleV1, {.dry_run = true});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->changed());
  EXPECT_FALSE(*cloud_db_->TableExists("DemSampleTable"));
  EXPECT_FALSE(*local_db_->TableExists("DemSampleTableStg"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ApplyTest, ::testing::ValuesIn(AllBackends()), BackendParamName());

}  // namespace
}  // namespace stagebridge::schema
