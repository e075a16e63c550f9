// postgres_catalog.cc — the libpq driver's catalog reads (tables, columns, indexes)
// from pg_catalog, limited to current_schema().
#include <cctype>
#include <string>

#include "store/postgres_database.h"

namespace stagebridge::store {
namespace {

std::string AsciiUpper(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

// format_type() spells types the long way; the store speaks the short names
// table_spec.cc produces: "character varying(255)" → "VARCHAR(255)".
std::string NormaliseType(const std::string& format_type) {
  std::string type = AsciiUpper(format_type);
  struct Alias {
    std::string_view from;
    std::string_view to;
  };
  constexpr Alias kAliases[] = {{"CHARACTER VARYING", "VARCHAR"}, {"CHARACTER", "CHAR"}};
  for (const Alias& alias : kAliases) {
    if (type.compare(0, alias.from.size(), alias.from) == 0) {
      type.replace(0, alias.from.size(), alias.to);
      break;
    }
  }
  return type;
}

const std::string& Text(const Value& v) {
  return std::get<std::string>(v);
}

}  // namespace

// Names compare case-insensitively; if both "Foo" (quoted) and foo exist, the
// folded one (what an unquoted name means) wins.
Result<std::int64_t> PostgresDatabase::TableOid(std::string_view table) {
  SB_ASSIGN_OR_RETURN(std::vector<Row> rows, Query("SELECT c.oid::int8 FROM pg_catalog.pg_class c"
                                                   " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                                                   " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
                                                   " AND lower(c.relname) = lower($1::text)"
                                                   " ORDER BY (c.relname = lower($1::text)) DESC, c.relname LIMIT 1",
                                                   {std::string(table)}));
  if (rows.empty()) {
    return std::int64_t{0};
  }
  return std::get<std::int64_t>(rows[0][0]);
}

Result<bool> PostgresDatabase::TableExists(std::string_view table) {
  SB_ASSIGN_OR_RETURN(std::int64_t oid, TableOid(table));
  return oid != 0;
}

Result<std::vector<ColumnInfo>> PostgresDatabase::ListColumns(std::string_view table) {
  SB_ASSIGN_OR_RETURN(std::int64_t oid, TableOid(table));
  if (oid == 0) {
    return Status::NotFound("table " + std::string(table) + " does not exist");
  }
  SB_ASSIGN_OR_RETURN(std::vector<Row> rows,
                      Query("SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull"
                            " FROM pg_catalog.pg_attribute a"
                            " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"
                            " ORDER BY a.attnum",
                            {oid}));
  std::vector<ColumnInfo> columns;
  columns.reserve(rows.size());
  for (const Row& row : rows) {
    columns.push_back({Text(row[0]), NormaliseType(Text(row[1])), std::get<std::int64_t>(row[2]) != 0});
  }
  return columns;
}

// Key columns in index order (pg_index.indkey); an expression column is listed
// as its expression text.
Result<std::vector<IndexInfo>> PostgresDatabase::ListIndexes(std::string_view table) {
  SB_ASSIGN_OR_RETURN(std::int64_t oid, TableOid(table));
  if (oid == 0) {
    return Status::NotFound("table " + std::string(table) + " does not exist");
  }
  SB_ASSIGN_OR_RETURN(std::vector<Row> rows,
                      Query("SELECT i.relname::text, ix.indisunique,"
                            " COALESCE(a.attname::text, pg_catalog.pg_get_indexdef(ix.indexrelid, k.ord::int, true))"
                            " FROM pg_catalog.pg_index ix"
                            " JOIN pg_catalog.pg_class i ON i.oid = ix.indexrelid"
                            " CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
                            " LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum"
                            "  AND k.attnum > 0"
                            " WHERE ix.indrelid = $1::oid AND k.ord <= ix.indnkeyatts"
                            " ORDER BY i.relname, k.ord",
                            {oid}));
  std::vector<IndexInfo> indexes;
  for (const Row& row : rows) {
    if (indexes.empty() || indexes.back().name != Text(row[0])) {
      indexes.push_back({Text(row[0]), std::get<std::int64_t>(row[1]) != 0, {}});
    }
    indexes.back().columns.push_back(Text(row[2]));
  }
  return indexes;
}

}  // namespace stagebridge::store
