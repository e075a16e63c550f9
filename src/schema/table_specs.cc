// table_specs.cc — schema → table mapping, index naming.
#include "schema/table_specs.h"

namespace stagebridge::schema {

store::ColumnType ColumnTypeOf(AttrType type) {
  switch (type) {
    case AttrType::kString:
    case AttrType::kUuid: return store::ColumnType::kString;
    case AttrType::kMemo: return store::ColumnType::kText;
    case AttrType::kLong:
    case AttrType::kInt: return store::ColumnType::kInt32;
    case AttrType::kInt64: return store::ColumnType::kInt64;
    case AttrType::kShort:
    case AttrType::kByte:
    case AttrType::kBoolean: return store::ColumnType::kInt16;
    case AttrType::kDouble: return store::ColumnType::kDouble;
    case AttrType::kFloat: return store::ColumnType::kFloat;
    case AttrType::kDate: return store::ColumnType::kDate;
    case AttrType::kDatetime: return store::ColumnType::kTimestampTz;
    case AttrType::kDatetimeNoTz: return store::ColumnType::kTimestamp;
  }
  return store::ColumnType::kString;
}

namespace {

// The schema's default expression as SQL. The parser accepted only a closed set
// of shapes (numbers, booleans, quoted strings, GetDate()).
std::string DefaultSql(const Attribute& a) {
  const std::string& d = a.default_expr;
  if (d.empty()) return {};
  if (d == "GetDate()" || d == "Now()") return "CURRENT_TIMESTAMP";
  if (a.type == AttrType::kBoolean) return (d == "true" || d == "1") ? "1" : "0";
  if (d.front() == '\'') return store::QuoteLiteral(std::string_view(d).substr(1, d.size() - 2));
  return d;
}

std::vector<std::string> SqlColumns(const Schema& schema, const Key& key) {
  std::vector<std::string> cols;
  for (const std::string& f : key.fields) {
    if (const Attribute* a = schema.FindAttribute(f)) cols.push_back(a->sql_name);
  }
  return cols;
}

}  // namespace

Placement PlacementOf(const Schema& schema) {
  return schema.is_cloud() ? Placement::kCloud : Placement::kLocal;
}

store::TableSpec TableSpecFor(const Schema& schema) {
  store::TableSpec spec;
  spec.name = schema.sql_table;
  for (const Attribute& a : schema.attributes) {
    store::ColumnSpec c;
    c.name = a.sql_name;
    c.type = ColumnTypeOf(a.type);
    c.length = a.length;
    c.not_null = a.not_null;
    c.default_sql = DefaultSql(a);
    spec.columns.push_back(std::move(c));
  }
  for (const Key& key : schema.keys) {
    std::vector<std::string> cols = SqlColumns(schema, key);
    if (key.internal && !schema.is_staging()) {
      spec.primary_key = cols;
      continue;
    }
    spec.indexes.push_back({schema.sql_table + "_" + key.name, true, cols});
  }
  if (schema.is_staging()) {
    spec.indexes.push_back({schema.sql_table + "_lastModified", false, {"tsLastModified"}});
    spec.indexes.push_back({schema.sql_table + "_stgSeq", false, {"iStgSeq"}});
  }
  return spec;
}

}  // namespace stagebridge::schema
