// table_spec.h — a dialect-neutral description of a table, as the schema engine
// wants it to exist, and the migration that makes a database match it.
//
// The schema module produces TableSpecs from compiled schemas; this module turns
// them into CREATE TABLE / ALTER TABLE ADD COLUMN / CREATE INDEX for the
// connection's dialect. Identifiers are created UNQUOTED (PostgreSQL folds them to
// lower case), as the platform does, so `select sTestcol1 from DemSampleTable`
// works as written. REQUIRES: every identifier in a spec is validated by
// IsValidIdentifier() — EnsureTable refuses the spec otherwise.
//
// Thread-safety: plain values; the functions use the given Database only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/database.h"

namespace stagebridge::store {

enum class ColumnType {
  kString,       // VARCHAR(length) on PostgreSQL
  kText,         // memo: TEXT
  kInt16,        // byte, short, boolean (0/1)
  kInt32,        // long, int
  kInt64,        // int64, internal sequences
  kFloat,        // float: REAL
  kDouble,       // double: DOUBLE PRECISION
  kDate,         // DATE
  kTimestampTz,  // datetime: TIMESTAMP WITH TIME ZONE
  kTimestamp,    // datetimenotz: TIMESTAMP WITHOUT TIME ZONE
};

struct ColumnSpec {
  std::string name;
  ColumnType type = ColumnType::kString;
  int length = 0;  // kString only; > 0
  bool not_null = false;
  std::string default_sql;  // a literal from a closed set (number, 'text' quoted by
                            // the caller via QuoteLiteral, or "CURRENT_TIMESTAMP"); empty = none
};

struct IndexSpec {
  std::string name;
  bool unique = false;
  std::vector<std::string> columns;
};

struct TableSpec {
  std::string name;
  std::vector<ColumnSpec> columns;
  std::vector<std::string> primary_key;  // column names; may be empty
  std::vector<IndexSpec> indexes;
};

// [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
bool IsValidIdentifier(std::string_view name);

// 'text' with embedded quotes doubled, for DEFAULT clauses only (never for values).
std::string QuoteLiteral(std::string_view text);

// SQL type of a column in a dialect, e.g. "VARCHAR(255)" or "TIMESTAMP WITH TIME ZONE".
std::string SqlType(DialectKind dialect, const ColumnSpec& column);

// What EnsureTable did, for the CLI to report. Names are spelled as in the spec
// (extra_columns as in the catalog). When `created`, the table was made with all
// its columns and indexes and the added_* lists stay empty.
struct MigrationReport {
  bool created = false;
  std::vector<std::string> added_columns;
  std::vector<std::string> added_indexes;
  // Columns present in the database but not in the spec are left alone (never
  // dropped automatically); they are listed here.
  std::vector<std::string> extra_columns;
  // Columns whose catalog type differs from the spec (not altered automatically).
  std::vector<std::string> type_mismatches;
  bool changed() const { return created || !added_columns.empty() || !added_indexes.empty(); }
};

// The statements EnsureTable would run on an empty database (CREATE TABLE + indexes).
std::vector<std::string> CreateTableSql(DialectKind dialect, const TableSpec& spec);

// Creates the table if missing, else adds missing columns and missing indexes.
// Idempotent: a second call changes nothing and reports !changed(). Runs in the
// caller's transaction if one is open (both dialects have transactional DDL).
// Adding a NOT NULL column without a default to a non-empty table is refused
// with FailedPrecondition.
Result<MigrationReport> EnsureTable(Database& db, const TableSpec& spec);

// DROP TABLE IF EXISTS. REQUIRES: IsValidIdentifier(table).
Status DropTable(Database& db, std::string_view table);

}  // namespace stagebridge::store
