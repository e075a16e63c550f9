// merge_sql.cc — statements of one merge batch.
#include "sync/merge_sql.h"

#include <fmt/format.h>

#include "schema/staging.h"
#include "schema/table_specs.h"
#include "store/table_spec.h"

namespace stagebridge::sync {
namespace {

constexpr int kInsert = static_cast<int>(schema::StgOp::kInsert);
constexpr int kUpsert = static_cast<int>(schema::StgOp::kUpsert);
constexpr int kDelete = static_cast<int>(schema::StgOp::kDelete);
constexpr int kReplace = static_cast<int>(schema::StgOp::kReplace);

}  // namespace

std::int64_t BatchKinds::Total() const {
  std::int64_t n = 0;
  for (const auto& per_op : counts) {
    for (std::int64_t c : per_op) n += c;
  }
  return n;
}

MergeSql::MergeSql(const schema::Schema& source, const schema::Schema& stg, store::DialectKind cloud_dialect)
    : source_(source), dialect_(cloud_dialect), cloud_table_(source.sql_table), stg_table_(stg.sql_table) {
  temp_table_ = "SbMerge" + source.sql_table;
  if (temp_table_.size() > 63) temp_table_.resize(63);
  store::TableSpec cloud_spec = schema::TableSpecFor(source);
  std::vector<std::string> ddl;
  for (const schema::Attribute& a : source.attributes) {
    const store::ColumnSpec* spec = nullptr;
    for (const store::ColumnSpec& c : cloud_spec.columns) {
      if (c.name == a.sql_name) spec = &c;
    }
    store::ColumnSpec loose = *spec;  // T's columns are nullable, without defaults
    loose.not_null = false;
    loose.default_sql.clear();
    ddl.push_back(a.sql_name + " " + store::SqlType(dialect_, loose));
    load_columns_.push_back(a.sql_name);
    if (a.role == schema::AttrRole::kPrimaryKey) {
      id_column_ = a.sql_name;
    } else {
      business_.push_back(&a);
      business_defaults_.push_back(spec->default_sql);
    }
  }
  ddl.push_back("iStgOp SMALLINT");
  ddl.push_back("iStgKey SMALLINT");
  ddl.push_back("iRej SMALLINT NOT NULL DEFAULT 0");
  load_columns_.push_back("iStgOp");
  load_columns_.push_back("iStgKey");
  temp_ddl_columns_ = fmt::format("{}", fmt::join(ddl, ", "));

  key_columns_.push_back({id_column_});
  key_names_.push_back("id");
  for (const schema::Key* key : source.declared_keys()) {
    std::vector<std::string> cols;
    for (const std::string& f : key->fields) cols.push_back(source.FindAttribute(f)->sql_name);
    key_columns_.push_back(std::move(cols));
    key_names_.push_back(fmt::format("{}", fmt::join(key->fields, ",")));
  }
}

std::string MergeSql::CreateTemp() const {
  return fmt::format("CREATE TEMP TABLE IF NOT EXISTS {} ({})", temp_table_, temp_ddl_columns_);
}

std::string MergeSql::EmptyTemp() const {
  if (dialect_ == store::DialectKind::kPostgres) return "TRUNCATE " + temp_table_;
  return "DELETE FROM " + temp_table_;
}

std::string MergeSql::SelectBatch() const {
  return fmt::format("SELECT {} FROM {} WHERE iStgSeq > $1 AND iStgSeq <= $2", fmt::join(load_columns_, ", "),
                     stg_table_);
}

std::string MergeSql::SelectBatchText(std::int64_t lo, std::int64_t hi) const {
  return fmt::format("SELECT {} FROM {} WHERE iStgSeq > {} AND iStgSeq <= {}", fmt::join(load_columns_, ", "),
                     stg_table_, lo, hi);
}

std::string MergeSql::Match(int kind, const std::string& left, const std::string& right) const {
  std::vector<std::string> parts;
  for (const std::string& c : key_columns_[static_cast<std::size_t>(kind)]) {
    parts.push_back(fmt::format("{0}.{2} = {1}.{2}", left, right, c));
  }
  return fmt::format("{}", fmt::join(parts, " AND "));
}

std::string MergeSql::KeyList(int kind, const std::string& alias) const {
  const std::vector<std::string>& cols = key_columns_[static_cast<std::size_t>(kind)];
  std::vector<std::string> parts;
  for (const std::string& c : cols) parts.push_back(alias.empty() ? c : alias + "." + c);
  if (parts.size() == 1) return parts.front();
  return fmt::format("({})", fmt::join(parts, ", "));
}

// `key IN (SELECT key FROM …)`: the left side is a row value for a composite
// key, the subquery's select list is never parenthesised (a parenthesised list
// is one record-typed column on PostgreSQL, a misused row value on SQLite).
std::string MergeSql::KeyIn(int kind, const std::string& from_where) const {
  return fmt::format("{} IN (SELECT {} FROM {})", KeyList(kind, ""),
                     fmt::join(key_columns_[static_cast<std::size_t>(kind)], ", "), from_where);
}

std::string MergeSql::InsertFrom(const std::string& where) const {
  std::vector<std::string> cols{id_column_};
  std::vector<std::string> values{"t." + id_column_};
  for (std::size_t i = 0; i < business_.size(); ++i) {
    cols.push_back(business_[i]->sql_name);
    // A value no write named takes the cloud column's default.
    values.push_back(business_defaults_[i].empty()
                         ? "t." + business_[i]->sql_name
                         : fmt::format("COALESCE(t.{}, {})", business_[i]->sql_name, business_defaults_[i]));
  }
  return fmt::format("INSERT INTO {} ({}) SELECT {} FROM {} t WHERE {}", cloud_table_, fmt::join(cols, ", "),
                     fmt::join(values, ", "), temp_table_, where);
}

std::vector<MergeStatement> MergeSql::Statements(const BatchKinds& batch) const {
  std::vector<MergeStatement> out;
  // NOLINTBEGIN(readability-identifier-naming): T and C stand for the tables like SQL aliases.
  const std::string& T = temp_table_;
  const std::string& C = cloud_table_;
  // NOLINTEND(readability-identifier-naming)
  auto any_kind = [&](int op) {
    for (int k = 0; k < kinds(); ++k) {
      if (batch.Has(op, k)) return true;
    }
    return false;
  };

  // 1. Deletes, and the delete half of replaces. An acknowledged delete always
  // applies (a replace whose new values are rejected leaves the key deleted),
  // and applies first: a key value it frees may be taken by another write of the
  // batch (delete a recipient, ingest a new one with the same email) — as it
  // would be were the two in different batches.
  for (int j = 0; j < kinds(); ++j) {
    if (batch.Has(kDelete, j)) {
      out.push_back({fmt::format("DELETE FROM {} WHERE {}", C,
                                 KeyIn(j, fmt::format("{} WHERE iStgOp = {} AND iStgKey = {}", T, kDelete, j))),
                     Tally::kDeleted});
    }
    if (batch.Has(kReplace, j)) {
      out.push_back({fmt::format("DELETE FROM {} WHERE {}", C,
                                 KeyIn(j, fmt::format("{} WHERE iStgOp = {} AND iStgKey = {}", T, kReplace, j))),
                     Tally::kReplacedDeleted});
    }
  }

  // 2. Rejections. An Ingest whose id or declared key is already in the cloud is
  // a duplicate; an upsert or replace must not take a key value another cloud row
  // holds; a row that would be inserted needs every mandatory value.
  if (any_kind(kInsert)) {
    for (int k = 0; k < kinds(); ++k) {
      out.push_back({fmt::format("UPDATE {0} SET iRej = {1} WHERE iRej = 0 AND iStgOp = {2} AND {3}", T,
                                 kRejectKeyBase + k, kInsert, KeyIn(k, C)),
                     Tally::kRejected});
    }
  }
  for (int j = 0; j < kinds(); ++j) {
    if (!batch.Has(kUpsert, j) && !batch.Has(kReplace, j)) continue;
    for (int k = 0; k < kinds(); ++k) {
      if (k == j) continue;
      out.push_back({fmt::format("UPDATE {0} SET iRej = {1} WHERE iRej = 0 AND iStgOp IN ({2}, {3}) AND iStgKey = {4} "
                                 "AND EXISTS (SELECT 1 FROM {5} c WHERE {6} AND NOT ({7}))",
                                 T, kRejectKeyBase + k, kUpsert, kReplace, j, C, Match(k, "c", T), Match(j, "c", T)),
                     Tally::kRejected});
    }
  }
  std::vector<std::string> null_checks;
  std::vector<std::string> null_cases;
  for (std::size_t i = 0; i < business_.size(); ++i) {
    if (!business_[i]->not_null || !business_defaults_[i].empty()) continue;
    null_checks.push_back(business_[i]->sql_name + " IS NULL");
    null_cases.push_back(
        fmt::format("WHEN {} IS NULL THEN {}", business_[i]->sql_name, kRejectRequiredBase + static_cast<int>(i)));
  }
  if (!null_checks.empty()) {
    for (int j = 0; j < kinds(); ++j) {
      if (!batch.Has(kInsert, j) && !batch.Has(kUpsert, j) && !batch.Has(kReplace, j)) continue;
      out.push_back(
          {fmt::format("UPDATE {0} SET iRej = CASE {1} END WHERE iRej = 0 AND iStgKey = {2} AND ({3}) AND (iStgOp IN "
                       "({4}, {5}) OR (iStgOp = {6} AND NOT EXISTS (SELECT 1 FROM {7} c WHERE {8})))",
                       T, fmt::join(null_cases, " "), j, fmt::join(null_checks, " OR "), kInsert, kReplace, kUpsert, C,
                       Match(j, "c", T)),
           Tally::kRejected});
    }
  }

  // 3. Upserts: update the named columns of the rows holding the key, then insert
  // the keys no row holds.
  for (int j = 0; j < kinds(); ++j) {
    if (!batch.Has(kUpsert, j)) continue;
    if (j == 0 && OneStatementUpsert()) {
      // Keyed by the primary key, with no column default to apply to unnamed
      // columns of new rows: one INSERT … ON CONFLICT, an index probe per row
      // (no join against the whole cloud table per batch).
      std::vector<std::string> sets;
      for (const schema::Attribute* a : business_) {
        sets.push_back(fmt::format("{0} = COALESCE(excluded.{0}, c.{0})", a->sql_name));
      }
      std::string action = sets.empty() ? "NOTHING" : fmt::format("UPDATE SET {}", fmt::join(sets, ", "));
      std::string insert = InsertFrom(fmt::format("t.iStgOp = {} AND t.iRej = 0 AND t.iStgKey = 0", kUpsert));
      insert.replace(0, ("INSERT INTO " + C).size(), "INSERT INTO " + C + " AS c");
      out.push_back({fmt::format("{} ON CONFLICT ({}) DO {}", insert, id_column_, action), Tally::kUpserted});
      continue;
    }
    std::vector<std::string> sets;
    for (const schema::Attribute* a : business_) {
      bool is_key = false;
      for (const std::string& c : key_columns_[static_cast<std::size_t>(j)]) is_key = is_key || c == a->sql_name;
      if (!is_key) sets.push_back(fmt::format("{0} = COALESCE(t.{0}, c.{0})", a->sql_name));
    }
    if (!sets.empty()) {
      out.push_back({fmt::format("UPDATE {0} AS c SET {1} FROM {2} t WHERE t.iStgOp = {3} AND t.iRej = 0 AND "
                                 "t.iStgKey = {4} AND {5}",
                                 C, fmt::join(sets, ", "), T, kUpsert, j, Match(j, "c", "t")),
                     Tally::kUpdated});
    }
    out.push_back({InsertFrom(fmt::format("t.iStgOp = {} AND t.iRej = 0 AND t.iStgKey = {} AND NOT EXISTS (SELECT 1 "
                                          "FROM {} c WHERE {})",
                                          kUpsert, j, C, Match(j, "c", "t"))),
                   Tally::kInserted});
  }

  // 4. Inserts, and the insert half of replaces.
  if (any_kind(kInsert)) {
    out.push_back({InsertFrom(fmt::format("t.iStgOp = {} AND t.iRej = 0", kInsert)), Tally::kInserted});
  }
  if (any_kind(kReplace)) {
    out.push_back({InsertFrom(fmt::format("t.iStgOp = {} AND t.iRej = 0", kReplace)), Tally::kReplacedInserted});
  }
  return out;
}

bool MergeSql::OneStatementUpsert() const {
  if (dialect_ != store::DialectKind::kPostgres) return false;
  for (const std::string& d : business_defaults_) {
    if (!d.empty()) return false;
  }
  return true;
}

std::string MergeSql::UpsertCounters() const {
  return fmt::format(
      "SELECT pg_stat_get_xact_tuples_inserted('{0}'::regclass), "
      "pg_stat_get_xact_tuples_updated('{0}'::regclass)",
      cloud_table_);
}

std::string MergeSql::SelectRejected(int limit) const {
  std::vector<std::string> cols{id_column_, "iStgOp", "iStgKey", "iRej"};
  for (std::size_t k = 1; k < key_columns_.size(); ++k) {
    for (const std::string& c : key_columns_[k]) cols.push_back(c);
  }
  return fmt::format("SELECT {} FROM {} WHERE iRej <> 0 ORDER BY {} LIMIT {}", fmt::join(cols, ", "), temp_table_,
                     id_column_, limit);
}

std::string MergeSql::DescribeRejection(const store::Row& row) const {
  auto as_int = [&](std::size_t i) {
    return std::holds_alternative<std::int64_t>(row[i]) ? std::get<std::int64_t>(row[i]) : 0;
  };
  int op = static_cast<int>(as_int(1));
  int kind = static_cast<int>(as_int(2));
  int code = static_cast<int>(as_int(3));
  // The row's key as the caller named it.
  std::string key;
  if (kind == 0 || kind >= kinds()) {
    key = "id=" + store::ValueToString(row[0]);
  } else {
    std::size_t at = 4;
    for (int k = 1; k < kind; ++k) at += key_columns_[static_cast<std::size_t>(k)].size();
    std::vector<std::string> parts;
    const schema::Key* declared = source_.declared_keys()[static_cast<std::size_t>(kind - 1)];
    for (std::size_t f = 0; f < declared->fields.size(); ++f) {
      parts.push_back(declared->fields[f] + "=" + store::ValueToString(row[at + f]));
    }
    key = fmt::format("{}", fmt::join(parts, ","));
  }
  std::string why;
  if (code >= kRejectRequiredBase) {
    std::size_t i = static_cast<std::size_t>(code - kRejectRequiredBase);
    why = i < business_.size()
              ? fmt::format("mandatory attribute '{}' was never given, the row cannot be inserted", business_[i]->name)
              : "a mandatory attribute was never given";
  } else {
    int k = code - kRejectKeyBase;
    std::string what = k >= 0 && k < kinds() ? key_names_[static_cast<std::size_t>(k)] : "key";
    if (op == kInsert) {
      why = k == 0
                ? fmt::format("duplicate: the id is already in the cloud table {} (Ingest only inserts)", cloud_table_)
                : fmt::format(
                      "duplicate: the value of key '{}' is already in the cloud table {} (Ingest only "
                      "inserts)",
                      what, cloud_table_);
    } else {
      why = fmt::format("conflict: the value of key '{}' is held by another row of the cloud table {}", what,
                        cloud_table_);
    }
  }
  return key + ": " + why;
}

}  // namespace stagebridge::sync
