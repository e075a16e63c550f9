// table_spec_test.cc — identifiers, DDL text and EnsureTable migrations on both backends.
#include "store/table_spec.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_databases.h"

namespace stagebridge::store {
namespace {

using test::AllBackends;
using test::Backend;
using test::BackendParamName;
using test::TestDatabase;

std::string Lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

std::vector<std::string> Lower(std::vector<std::string> names) {
  for (std::string& n : names) {
    n = Lower(n);
  }
  return names;
}

TableSpec SampleSpec() {
  TableSpec spec;
  spec.name = "DemSampleTable";
  spec.columns = {
      {"iId", ColumnType::kInt64, 0, true, ""},
      {"sName", ColumnType::kString, 80, false, ""},
      {"mNotes", ColumnType::kText, 0, false, ""},
      {"iCount", ColumnType::kInt32, 0, true, "0"},
      {"iFlag", ColumnType::kInt16, 0, false, ""},
      {"fRatio", ColumnType::kFloat, 0, false, ""},
      {"dValue", ColumnType::kDouble, 0, false, "-1.5"},
      {"dBirth", ColumnType::kDate, 0, false, ""},
      {"tsCreated", ColumnType::kTimestampTz, 0, true, "CURRENT_TIMESTAMP"},
      {"tsLocal", ColumnType::kTimestamp, 0, false, ""},
      {"sLabel", ColumnType::kString, 20, false, QuoteLiteral("it's")},
  };
  spec.primary_key = {"iId"};
  spec.indexes = {
      {"DemSampleTable_name", true, {"sName"}},
      {"DemSampleTable_count", false, {"iCount", "iFlag"}},
  };
  return spec;
}

const IndexInfo* FindIndex(const std::vector<IndexInfo>& indexes, const std::string& name) {
  for (const IndexInfo& index : indexes) {
    if (Lower(index.name) == Lower(name)) {
      return &index;
    }
  }
  return nullptr;
}

class TableSpecTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    ASSERT_TRUE(tdb_->ok());
    db_ = tdb_->Open();
    ASSERT_NE(db_, nullptr);
  }

  MigrationReport Ensure(const TableSpec& spec) {
    Result<MigrationReport> report = EnsureTable(*db_, spec);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : MigrationReport{};
  }

  std::int64_t Count(const std::string& table) {
    Result<std::vector<Row>> rows = db_->Query("SELECT COUNT(*) FROM " + table);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? std::get<std::int64_t>((*rows)[0][0]) : -1;
  }

  void InsertSampleRows() {
    for (std::int64_t id : {1, 2}) {
      Result<std::int64_t> r =
          db_->Execute("INSERT INTO DemSampleTable (iId, sName) VALUES ($1, $2)", {id, "name " + std::to_string(id)});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }

  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<Database> db_;
};

TEST_P(TableSpecTest, EnsureTableCreatesWhatTheSpecSays) {
  TableSpec spec = SampleSpec();
  MigrationReport report = Ensure(spec);
  EXPECT_TRUE(report.created);
  EXPECT_TRUE(report.changed());

  Result<std::vector<ColumnInfo>> columns = db_->ListColumns("demsampletable");
  ASSERT_TRUE(columns.ok()) << columns.status().ToString();
  ASSERT_EQ(columns->size(), spec.columns.size());
  for (std::size_t i = 0; i < spec.columns.size(); ++i) {
    const ColumnSpec& want = spec.columns[i];
    const ColumnInfo& got = (*columns)[i];
    EXPECT_EQ(Lower(got.name), Lower(want.name));
    EXPECT_EQ(got.type, SqlType(db_->kind(), want)) << want.name;
    EXPECT_EQ(got.not_null, want.not_null) << want.name;
  }
  if (db_->kind() == DialectKind::kPostgres) {
    EXPECT_EQ((*columns)[0].name, "iid");  // unquoted identifiers fold to lower case
    EXPECT_EQ((*columns)[8].type, "TIMESTAMP WITH TIME ZONE");
    EXPECT_EQ((*columns)[9].type, "TIMESTAMP WITHOUT TIME ZONE");
  }

  Result<std::vector<IndexInfo>> indexes = db_->ListIndexes("DEMSAMPLETABLE");
  ASSERT_TRUE(indexes.ok()) << indexes.status().ToString();
  const IndexInfo* by_name = FindIndex(*indexes, "DemSampleTable_name");
  ASSERT_NE(by_name, nullptr);
  EXPECT_TRUE(by_name->unique);
  EXPECT_EQ(Lower(by_name->columns), (std::vector<std::string>{"sname"}));
  const IndexInfo* by_count = FindIndex(*indexes, "DemSampleTable_count");
  ASSERT_NE(by_count, nullptr);
  EXPECT_FALSE(by_count->unique);
  EXPECT_EQ(Lower(by_count->columns), (std::vector<std::string>{"icount", "iflag"}));
  // The primary key's index: PostgreSQL names it after the constraint, SQLite automatically.
  const IndexInfo* pk = FindIndex(
      *indexes, db_->kind() == DialectKind::kPostgres ? "DemSampleTable_pkey" : "sqlite_autoindex_DemSampleTable_1");
  ASSERT_NE(pk, nullptr);
  EXPECT_TRUE(pk->unique);
  EXPECT_EQ(Lower(pk->columns), (std::vector<std::string>{"iid"}));
  EXPECT_EQ(indexes->size(), 3u);

  // Defaults work.
  ASSERT_TRUE(db_->Execute("INSERT INTO DemSampleTable (iId) VALUES (1)").ok());
  Result<std::vector<Row>> row = db_->Query("SELECT iCount, dValue, sLabel, tsCreated FROM DemSampleTable");
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ((*row)[0][0], Value(std::int64_t{0}));
  EXPECT_EQ((*row)[0][1], Value(-1.5));
  EXPECT_EQ((*row)[0][2], Value(std::string("it's")));
  EXPECT_FALSE(IsNull((*row)[0][3]));
}

TEST_P(TableSpecTest, SecondRunChangesNothing) {
  TableSpec spec = SampleSpec();
  ASSERT_TRUE(Ensure(spec).created);
  MigrationReport again = Ensure(spec);
  EXPECT_FALSE(again.changed());
  EXPECT_FALSE(again.created);
  EXPECT_TRUE(again.added_columns.empty());
  EXPECT_TRUE(again.added_indexes.empty());
  EXPECT_TRUE(again.extra_columns.empty());
  EXPECT_TRUE(again.type_mismatches.empty()) << again.type_mismatches.front();
}

TEST_P(TableSpecTest, AddsColumnsAndKeepsRows) {
  TableSpec spec = SampleSpec();
  Ensure(spec);
  InsertSampleRows();
  spec.columns.push_back({"sExtra", ColumnType::kString, 10, true, QuoteLiteral("n/a")});
  spec.columns.push_back({"iNew", ColumnType::kInt32, 0, false, ""});
  spec.columns.push_back({"tsAdded", ColumnType::kTimestampTz, 0, true, "CURRENT_TIMESTAMP"});
  MigrationReport report = Ensure(spec);
  EXPECT_FALSE(report.created);
  EXPECT_TRUE(report.changed());
  EXPECT_EQ(report.added_columns, (std::vector<std::string>{"sExtra", "iNew", "tsAdded"}));
  EXPECT_TRUE(report.added_indexes.empty());

  Result<std::vector<Row>> rows =
      db_->Query("SELECT iId, sName, sExtra, iNew, tsAdded FROM DemSampleTable ORDER BY iId");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1][1], Value(std::string("name 2")));
  EXPECT_EQ((*rows)[1][2], Value(std::string("n/a")));
  EXPECT_TRUE(IsNull((*rows)[1][3]));
  EXPECT_FALSE(IsNull((*rows)[1][4]));

  // Indexes and constraints survived (SQLite rebuilt the table for tsAdded).
  Result<std::vector<IndexInfo>> indexes = db_->ListIndexes("DemSampleTable");
  ASSERT_TRUE(indexes.ok());
  EXPECT_EQ(indexes->size(), 3u);
  EXPECT_EQ(db_->Execute("INSERT INTO DemSampleTable (iId, sName) VALUES (3, 'name 1')").status().code(),
            Status::Code::kAlreadyExists);
  EXPECT_FALSE(Ensure(spec).changed());
  EXPECT_TRUE(Ensure(spec).type_mismatches.empty());
}

TEST_P(TableSpecTest, AddsIndex) {
  TableSpec spec = SampleSpec();
  Ensure(spec);
  InsertSampleRows();
  spec.indexes.push_back({"DemSampleTable_label", false, {"sLabel", "iId"}});
  MigrationReport report = Ensure(spec);
  EXPECT_EQ(report.added_indexes, (std::vector<std::string>{"DemSampleTable_label"}));
  EXPECT_TRUE(report.added_columns.empty());
  Result<std::vector<IndexInfo>> indexes = db_->ListIndexes("DemSampleTable");
  ASSERT_TRUE(indexes.ok());
  const IndexInfo* added = FindIndex(*indexes, "DemSampleTable_label");
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(Lower(added->columns), (std::vector<std::string>{"slabel", "iid"}));
  EXPECT_FALSE(Ensure(spec).changed());
}

TEST_P(TableSpecTest, NotNullWithoutDefaultOnNonEmptyTableIsRefused) {
  TableSpec spec = SampleSpec();
  Ensure(spec);
  InsertSampleRows();
  spec.columns.push_back({"sMandatory", ColumnType::kString, 10, true, ""});
  spec.indexes.push_back({"DemSampleTable_mandatory", false, {"sMandatory"}});
  Result<MigrationReport> report = EnsureTable(*db_, spec);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(report.status().message().find("sMandatory"), std::string::npos) << report.status().message();
  EXPECT_NE(report.status().message().find("DemSampleTable"), std::string::npos) << report.status().message();
  EXPECT_FALSE(db_->in_transaction());
  Result<std::vector<ColumnInfo>> columns = db_->ListColumns("DemSampleTable");
  ASSERT_TRUE(columns.ok());
  EXPECT_EQ(columns->size(), SampleSpec().columns.size());
  EXPECT_EQ(Count("DemSampleTable"), 2);
}

TEST_P(TableSpecTest, NotNullWithoutDefaultOnEmptyTableIsAdded) {
  TableSpec spec = SampleSpec();
  Ensure(spec);
  spec.columns.push_back({"sMandatory", ColumnType::kString, 10, true, ""});
  MigrationReport report = Ensure(spec);
  EXPECT_EQ(report.added_columns, (std::vector<std::string>{"sMandatory"}));
  Result<std::vector<ColumnInfo>> columns = db_->ListColumns("DemSampleTable");
  ASSERT_TRUE(columns.ok());
  ASSERT_EQ(columns->size(), spec.columns.size());
  EXPECT_TRUE(columns->back().not_null);
  EXPECT_EQ(db_->Execute("INSERT INTO DemSampleTable (iId) VALUES (1)").status().code(),
            Status::Code::kFailedPrecondition);
  EXPECT_TRUE(db_->Execute("INSERT INTO DemSampleTable (iId, sMandatory) VALUES (1, 'x')").ok());
  Result<std::vector<IndexInfo>> indexes = db_->ListIndexes("DemSampleTable");
  ASSERT_TRUE(indexes.ok());
  EXPECT_EQ(indexes->size(), 3u);
  EXPECT_FALSE(Ensure(spec).changed());
}

TEST_P(TableSpecTest, ReportsExtraColumnsAndTypeMismatches) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE Legacy (iId BIGINT NOT NULL, sName VARCHAR(10), sOld TEXT)").ok());
  TableSpec spec;
  spec.name = "Legacy";
  spec.columns = {{"iId", ColumnType::kInt64, 0, true, ""}, {"sName", ColumnType::kString, 50, false, ""}};
  MigrationReport report = Ensure(spec);
  EXPECT_FALSE(report.changed());
  EXPECT_EQ(report.type_mismatches, (std::vector<std::string>{"sName"}));
  EXPECT_EQ(Lower(report.extra_columns), (std::vector<std::string>{"sold"}));
}

TEST_P(TableSpecTest, RunsInTheCallersTransaction) {
  ASSERT_TRUE(db_->Begin().ok());
  Ensure(SampleSpec());
  EXPECT_TRUE(db_->in_transaction());
  ASSERT_TRUE(db_->Rollback().ok());
  Result<bool> exists = db_->TableExists("DemSampleTable");
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
}

TEST_P(TableSpecTest, RefusesInvalidSpecs) {
  auto code_of = [&](const TableSpec& spec) { return EnsureTable(*db_, spec).status().code(); };
  TableSpec bad_table = SampleSpec();
  bad_table.name = "x; drop table y";
  EXPECT_EQ(code_of(bad_table), Status::Code::kInvalidArgument);
  TableSpec bad_column = SampleSpec();
  bad_column.columns[1].name = "1abc";
  EXPECT_EQ(code_of(bad_column), Status::Code::kInvalidArgument);
  TableSpec bad_default = SampleSpec();
  bad_default.columns[3].default_sql = "0); DROP TABLE x; --";
  EXPECT_EQ(code_of(bad_default), Status::Code::kInvalidArgument);
  TableSpec bad_quote = SampleSpec();
  bad_quote.columns[1].default_sql = "'a'b'";
  EXPECT_EQ(code_of(bad_quote), Status::Code::kInvalidArgument);
  TableSpec bad_pk = SampleSpec();
  bad_pk.primary_key = {"nope"};
  EXPECT_EQ(code_of(bad_pk), Status::Code::kInvalidArgument);
  TableSpec bad_index = SampleSpec();
  bad_index.indexes[0].columns = {"nope"};
  EXPECT_EQ(code_of(bad_index), Status::Code::kInvalidArgument);
  TableSpec no_length = SampleSpec();
  no_length.columns[1].length = 0;
  EXPECT_EQ(code_of(no_length), Status::Code::kInvalidArgument);
  Result<bool> exists = db_->TableExists("DemSampleTable");
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
}

TEST_P(TableSpecTest, DropTable) {
  Ensure(SampleSpec());
  ASSERT_TRUE(DropTable(*db_, "DemSampleTable").ok());
  Result<bool> exists = db_->TableExists("DemSampleTable");
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
  EXPECT_TRUE(DropTable(*db_, "DemSampleTable").ok());
  EXPECT_EQ(DropTable(*db_, "a;drop").code(), Status::Code::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, TableSpecTest, testing::ValuesIn(AllBackends()), BackendParamName());

TEST(TableSpecIdentifierTest, Validity) {
  EXPECT_TRUE(IsValidIdentifier("a"));
  EXPECT_TRUE(IsValidIdentifier("_x"));
  EXPECT_TRUE(IsValidIdentifier("DemSampleTableStg_id2"));
  EXPECT_TRUE(IsValidIdentifier(std::string(63, 'a')));
  EXPECT_FALSE(IsValidIdentifier(std::string(64, 'a')));
  EXPECT_FALSE(IsValidIdentifier(""));
  EXPECT_FALSE(IsValidIdentifier("a;drop"));
  EXPECT_FALSE(IsValidIdentifier("1abc"));
  EXPECT_FALSE(IsValidIdentifier("with space"));
  EXPECT_FALSE(IsValidIdentifier("quo\"te"));
  EXPECT_FALSE(IsValidIdentifier("a-b"));
  EXPECT_FALSE(IsValidIdentifier("żółw"));
  EXPECT_FALSE(IsValidIdentifier("caf\xc3\xa9"));
}

TEST(TableSpecQuoteLiteralTest, DoublesQuotes) {
  EXPECT_EQ(QuoteLiteral(""), "''");
  EXPECT_EQ(QuoteLiteral("abc"), "'abc'");
  EXPECT_EQ(QuoteLiteral("O'Brien''s"), "'O''Brien''''s'");
}

TEST(TableSpecSqlTypeTest, PerDialect) {
  auto type = [](DialectKind d, ColumnType t, int length = 0) {
    return SqlType(d, ColumnSpec{"c", t, length, false, ""});
  };
  constexpr DialectKind kPg = DialectKind::kPostgres;
  constexpr DialectKind kLite = DialectKind::kSqlite;
  EXPECT_EQ(type(kPg, ColumnType::kString, 255), "VARCHAR(255)");
  EXPECT_EQ(type(kLite, ColumnType::kString, 255), "VARCHAR(255)");
  EXPECT_EQ(type(kPg, ColumnType::kText), "TEXT");
  EXPECT_EQ(type(kPg, ColumnType::kInt16), "SMALLINT");
  EXPECT_EQ(type(kPg, ColumnType::kInt32), "INTEGER");
  EXPECT_EQ(type(kPg, ColumnType::kInt64), "BIGINT");
  EXPECT_EQ(type(kPg, ColumnType::kFloat), "REAL");
  EXPECT_EQ(type(kPg, ColumnType::kDouble), "DOUBLE PRECISION");
  EXPECT_EQ(type(kLite, ColumnType::kDouble), "DOUBLE");
  EXPECT_EQ(type(kPg, ColumnType::kDate), "DATE");
  EXPECT_EQ(type(kPg, ColumnType::kTimestampTz), "TIMESTAMP WITH TIME ZONE");
  EXPECT_EQ(type(kLite, ColumnType::kTimestampTz), "TIMESTAMPTZ");
  EXPECT_EQ(type(kPg, ColumnType::kTimestamp), "TIMESTAMP WITHOUT TIME ZONE");
  EXPECT_EQ(type(kLite, ColumnType::kTimestamp), "TIMESTAMP");
}

TEST(TableSpecCreateTableSqlTest, BothDialects) {
  TableSpec spec;
  spec.name = "Small";
  spec.columns = {{"iId", ColumnType::kInt64, 0, false, ""},
                  {"sName", ColumnType::kString, 40, true, QuoteLiteral("n'a")},
                  {"tsWhen", ColumnType::kTimestampTz, 0, false, "CURRENT_TIMESTAMP"}};
  spec.primary_key = {"iId"};
  spec.indexes = {{"Small_name", true, {"sName"}}, {"Small_when", false, {"tsWhen", "iId"}}};
  EXPECT_EQ(CreateTableSql(DialectKind::kPostgres, spec),
            (std::vector<std::string>{
                "CREATE TABLE Small (iId BIGINT NOT NULL, sName VARCHAR(40) NOT NULL DEFAULT 'n''a', "
                "tsWhen TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP, CONSTRAINT Small_pkey PRIMARY KEY (iId))",
                "CREATE UNIQUE INDEX Small_name ON Small (sName)",
                "CREATE INDEX Small_when ON Small (tsWhen, iId)",
            }));
  EXPECT_EQ(CreateTableSql(DialectKind::kSqlite, spec),
            (std::vector<std::string>{
                "CREATE TABLE Small (iId BIGINT NOT NULL, sName VARCHAR(40) NOT NULL DEFAULT 'n''a', "
                "tsWhen TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP, CONSTRAINT Small_pkey PRIMARY KEY (iId))",
                "CREATE UNIQUE INDEX Small_name ON Small (sName)",
                "CREATE INDEX Small_when ON Small (tsWhen, iId)",
            }));
}

}  // namespace
}  // namespace stagebridge::store
