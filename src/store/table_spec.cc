// table_spec.cc — identifiers, SQL types per dialect, CREATE TABLE text and the
// EnsureTable migration (create, add columns, add indexes; never drop or alter).
#include "store/table_spec.h"

#include <cctype>
#include <map>
#include <set>
#include <string>

#include "store/sqlite_database.h"

namespace stagebridge::store {
namespace {

// PostgreSQL's NAMEDATALEN - 1.
constexpr std::size_t kMaxIdentifierBytes = 63;

bool IsIdentifierStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += item;
  }
  return out;
}

// A number (-12, 3.5, 1e6), a literal as QuoteLiteral() writes it, NULL,
// CURRENT_TIMESTAMP or CURRENT_DATE. DEFAULT text is spliced into DDL, so
// nothing else gets through.
bool IsAllowedDefault(std::string_view d) {
  if (d == "NULL" || d == "CURRENT_TIMESTAMP" || d == "CURRENT_DATE") {
    return true;
  }
  if (d.size() >= 2 && d.front() == '\'' && d.back() == '\'') {
    std::string_view inner = d.substr(1, d.size() - 2);
    for (std::size_t i = 0; i < inner.size(); ++i) {
      if (inner[i] != '\'') {
        continue;
      }
      if (i + 1 >= inner.size() || inner[i + 1] != '\'') {
        return false;
      }
      ++i;
    }
    return true;
  }
  std::size_t i = 0;
  if (i < d.size() && (d[i] == '-' || d[i] == '+')) {
    ++i;
  }
  std::size_t digits = 0;
  while (i < d.size() && IsDigit(d[i])) {
    ++i, ++digits;
  }
  if (i < d.size() && d[i] == '.') {
    ++i;
    while (i < d.size() && IsDigit(d[i])) {
      ++i, ++digits;
    }
  }
  if (digits == 0) {
    return false;
  }
  if (i < d.size() && (d[i] == 'e' || d[i] == 'E')) {
    ++i;
    if (i < d.size() && (d[i] == '-' || d[i] == '+')) {
      ++i;
    }
    std::size_t exponent_digits = 0;
    while (i < d.size() && IsDigit(d[i])) {
      ++i, ++exponent_digits;
    }
    if (exponent_digits == 0) {
      return false;
    }
  }
  return i == d.size();
}

bool ContainsName(const std::vector<std::string>& names, std::string_view name) {
  std::string lower = Lower(name);
  for (const std::string& n : names) {
    if (Lower(n) == lower) {
      return true;
    }
  }
  return false;
}

Status ValidateSpec(const TableSpec& spec) {
  auto invalid = [&](const std::string& what) {
    return Status::InvalidArgument("table spec " + (IsValidIdentifier(spec.name) ? spec.name : "?") + ": " + what);
  };
  if (!IsValidIdentifier(spec.name)) {
    return invalid("invalid table name");
  }
  if (spec.columns.empty()) {
    return invalid("no columns");
  }
  std::set<std::string> seen;
  for (const ColumnSpec& c : spec.columns) {
    if (!IsValidIdentifier(c.name)) {
      return invalid("invalid column name");
    }
    if (!seen.insert(Lower(c.name)).second) {
      return invalid("column " + c.name + " appears twice");
    }
    if (c.type == ColumnType::kString && c.length <= 0) {
      return invalid("column " + c.name + " needs a length");
    }
    if (!c.default_sql.empty() && !IsAllowedDefault(c.default_sql)) {
      return invalid("column " + c.name + " has an unsupported default");
    }
  }
  std::vector<std::string> names;
  for (const ColumnSpec& c : spec.columns) {
    names.push_back(c.name);
  }
  for (const std::string& k : spec.primary_key) {
    if (!ContainsName(names, k)) {
      return invalid("primary key column " + k + " is not a column");
    }
  }
  std::set<std::string> index_names;
  for (const IndexSpec& index : spec.indexes) {
    if (!IsValidIdentifier(index.name)) {
      return invalid("invalid index name");
    }
    if (!index_names.insert(Lower(index.name)).second) {
      return invalid("index " + index.name + " appears twice");
    }
    if (index.columns.empty()) {
      return invalid("index " + index.name + " has no columns");
    }
    for (const std::string& k : index.columns) {
      if (!ContainsName(names, k)) {
        return invalid("index " + index.name + " column " + k + " is not a column");
      }
    }
  }
  return Status::Ok();
}

// "name TYPE [NOT NULL] [DEFAULT x]". Primary-key columns are NOT NULL in both
// dialects (SQLite would otherwise accept NULL keys).
std::string ColumnDefinition(DialectKind dialect, const ColumnSpec& c, bool in_primary_key) {
  std::string out = c.name + " " + SqlType(dialect, c);
  if (c.not_null || in_primary_key) {
    out += " NOT NULL";
  }
  if (!c.default_sql.empty()) {
    out += " DEFAULT " + c.default_sql;
  }
  return out;
}

std::string CreateIndexSql(const TableSpec& spec, const IndexSpec& index) {
  return std::string("CREATE ") + (index.unique ? "UNIQUE " : "") + "INDEX " + index.name + " ON " + spec.name + " (" +
         Join(index.columns) + ")";
}

// Whether ALTER TABLE ADD COLUMN cannot add `c` on SQLite (see sqlite_database.h).
bool SqliteNeedsRebuild(const ColumnSpec& c) {
  return (c.not_null && c.default_sql.empty()) || c.default_sql == "CURRENT_TIMESTAMP" ||
         c.default_sql == "CURRENT_DATE";
}

Result<MigrationReport> Migrate(Database& db, const TableSpec& spec) {
  MigrationReport report;
  SB_ASSIGN_OR_RETURN(bool exists, db.TableExists(spec.name));
  if (!exists) {
    for (const std::string& sql : CreateTableSql(db.kind(), spec)) {
      SB_RETURN_IF_ERROR(db.Execute(sql).status());
    }
    report.created = true;
    return report;
  }

  SB_ASSIGN_OR_RETURN(std::vector<ColumnInfo> existing, db.ListColumns(spec.name));
  std::map<std::string, const ColumnInfo*> by_name;
  for (const ColumnInfo& info : existing) {
    by_name[Lower(info.name)] = &info;
  }
  std::vector<const ColumnSpec*> missing;
  for (const ColumnSpec& c : spec.columns) {
    auto it = by_name.find(Lower(c.name));
    if (it == by_name.end()) {
      missing.push_back(&c);
    } else if (Upper(it->second->type) != SqlType(db.kind(), c)) {
      report.type_mismatches.push_back(c.name);
    }
  }
  std::vector<std::string> spec_names;
  for (const ColumnSpec& c : spec.columns) {
    spec_names.push_back(c.name);
  }
  for (const ColumnInfo& info : existing) {
    if (!ContainsName(spec_names, info.name)) {
      report.extra_columns.push_back(info.name);
    }
  }

  std::vector<std::string> rebuild_definitions;
  for (const ColumnSpec* c : missing) {
    if (c->not_null && c->default_sql.empty()) {
      SB_ASSIGN_OR_RETURN(std::vector<Row> any, db.Query("SELECT 1 FROM " + spec.name + " LIMIT 1"));
      if (!any.empty()) {
        return Status::FailedPrecondition("cannot add NOT NULL column " + c->name + " without a default to table " +
                                          spec.name +
                                          ", which holds rows: give the column a default or empty the table");
      }
    }
    std::string definition = ColumnDefinition(db.kind(), *c, /*in_primary_key=*/false);
    if (db.kind() == DialectKind::kSqlite && SqliteNeedsRebuild(*c)) {
      rebuild_definitions.push_back(std::move(definition));
    } else {
      SB_RETURN_IF_ERROR(db.Execute("ALTER TABLE " + spec.name + " ADD COLUMN " + definition).status());
    }
    report.added_columns.push_back(c->name);
  }
  if (!rebuild_definitions.empty()) {
    SB_RETURN_IF_ERROR(SqliteAddColumnsByRebuild(db, spec.name, rebuild_definitions));
  }

  SB_ASSIGN_OR_RETURN(std::vector<IndexInfo> indexes, db.ListIndexes(spec.name));
  std::vector<std::string> index_names;
  index_names.reserve(indexes.size());
  for (const IndexInfo& index : indexes) {
    index_names.push_back(index.name);
  }
  for (const IndexSpec& index : spec.indexes) {
    if (ContainsName(index_names, index.name)) {
      continue;
    }
    SB_RETURN_IF_ERROR(db.Execute(CreateIndexSql(spec, index)).status());
    report.added_indexes.push_back(index.name);
  }
  return report;
}

}  // namespace

bool IsValidIdentifier(std::string_view name) {
  if (name.empty() || name.size() > kMaxIdentifierBytes || !IsIdentifierStart(name[0])) {
    return false;
  }
  for (char c : name) {
    if (!IsIdentifierStart(c) && !IsDigit(c)) {
      return false;
    }
  }
  return true;
}

std::string QuoteLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += '\'';
    }
    out += c;
  }
  out += '\'';
  return out;
}

std::string SqlType(DialectKind dialect, const ColumnSpec& column) {
  bool pg = dialect == DialectKind::kPostgres;
  switch (column.type) {
    case ColumnType::kString:
      return column.length > 0 ? "VARCHAR(" + std::to_string(column.length) + ")" : std::string("VARCHAR");
    case ColumnType::kText: return "TEXT";
    case ColumnType::kInt16: return "SMALLINT";
    case ColumnType::kInt32: return "INTEGER";
    case ColumnType::kInt64: return "BIGINT";
    case ColumnType::kFloat: return "REAL";
    case ColumnType::kDouble: return pg ? "DOUBLE PRECISION" : "DOUBLE";
    case ColumnType::kDate: return "DATE";
    case ColumnType::kTimestampTz: return pg ? "TIMESTAMP WITH TIME ZONE" : "TIMESTAMPTZ";
    case ColumnType::kTimestamp: return pg ? "TIMESTAMP WITHOUT TIME ZONE" : "TIMESTAMP";
  }
  return "TEXT";
}

std::vector<std::string> CreateTableSql(DialectKind dialect, const TableSpec& spec) {
  std::vector<std::string> definitions;
  for (const ColumnSpec& c : spec.columns) {
    definitions.push_back(ColumnDefinition(dialect, c, ContainsName(spec.primary_key, c.name)));
  }
  if (!spec.primary_key.empty()) {
    // Named like PostgreSQL's default; left unnamed when that name would be truncated.
    std::string constraint = spec.name + "_pkey";
    std::string prefix = constraint.size() <= kMaxIdentifierBytes ? "CONSTRAINT " + constraint + " " : "";
    definitions.push_back(prefix + "PRIMARY KEY (" + Join(spec.primary_key) + ")");
  }
  std::vector<std::string> statements;
  statements.push_back("CREATE TABLE " + spec.name + " (" + Join(definitions) + ")");
  for (const IndexSpec& index : spec.indexes) {
    statements.push_back(CreateIndexSql(spec, index));
  }
  return statements;
}

Result<MigrationReport> EnsureTable(Database& db, const TableSpec& spec) {
  SB_RETURN_IF_ERROR(ValidateSpec(spec));
  if (db.in_transaction()) {
    return Migrate(db, spec);
  }
  // Without a caller's transaction, still all or nothing.
  Transaction txn(db);
  SB_RETURN_IF_ERROR(txn.Begin());
  SB_ASSIGN_OR_RETURN(MigrationReport report, Migrate(db, spec));
  SB_RETURN_IF_ERROR(txn.Commit());
  return report;
}

Status DropTable(Database& db, std::string_view table) {
  if (!IsValidIdentifier(table)) {
    return Status::InvalidArgument("invalid table name to drop");
  }
  return db.Execute("DROP TABLE IF EXISTS " + std::string(table)).status();
}

}  // namespace stagebridge::store
