// merge_sql.h — the set-based SQL of one merge batch (docs/sync.md "The merge").
//
// A batch of staged rows is bulk-loaded into a temporary table T in the cloud
// database (the staging columns the merge needs, plus iRej, the rejection code
// the merge sets), then merged into the cloud table C by a few statements, each
// over a whole operation kind (operation × reconciliation key): deletes,
// rejections, updates, inserts. Never row by row.
//
// Every identifier comes from the compiled schema (validated names); no value is
// ever part of the text.
//
// Thread-safety: immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "schema/model.h"
#include "store/database.h"

namespace stagebridge::sync {

// Rejection codes stored in T.iRej (0 = not rejected).
inline constexpr int kRejectKeyBase = 1;         // + key kind: a key value already held in the cloud
inline constexpr int kRejectRequiredBase = 100;  // + column index: a mandatory value never given

// The operations kinds present in a batch: counts[op][kind], op = schema::StgOp,
// kind = iStgKey (0 for @id, k for the k-th declared key).
struct BatchKinds {
  std::vector<std::array<std::int64_t, 4>> counts;  // indexed by kind
  bool Has(int op, int kind) const {
    return kind < static_cast<int>(counts.size()) &&
           counts[static_cast<std::size_t>(kind)][static_cast<std::size_t>(op)] > 0;
  }
  std::int64_t Total() const;
};

// What a statement's affected-row count adds to.
// kUpserted: an INSERT … ON CONFLICT DO UPDATE; its row count mixes inserts and
// updates, which the merger tells apart with PostgreSQL's per-transaction table
// counters (UpsertCounters()).
enum class Tally { kNone, kRejected, kInserted, kUpdated, kDeleted, kReplacedDeleted, kReplacedInserted, kUpserted };

struct MergeStatement {
  std::string sql;
  Tally tally = Tally::kNone;
};

class MergeSql {
 public:
  // `source`: the staged cloud schema; `stg`: its staging schema.
  MergeSql(const schema::Schema& source, const schema::Schema& stg, store::DialectKind cloud_dialect);

  const std::string& temp_table() const { return temp_table_; }
  // Number of reconciliation key kinds (1 + declared keys).
  int kinds() const { return static_cast<int>(key_columns_.size()); }

  // DDL creating T in the cloud (idempotent), and emptying it.
  std::string CreateTemp() const;
  std::string EmptyTemp() const;
  // Columns of T loaded from staging, in order (the rest default): id, business
  // columns, iStgOp, iStgKey.
  const std::vector<std::string>& load_columns() const { return load_columns_; }
  // The SELECT reading one batch out of the staging table: $1 < iStgSeq <= $2.
  std::string SelectBatch() const;
  // The same with the bounds written in (for COPY, which takes no parameters).
  std::string SelectBatchText(std::int64_t lo, std::int64_t hi) const;

  // The statements merging T into C, in order, for the kinds present.
  std::vector<MergeStatement> Statements(const BatchKinds& kinds) const;

  // PostgreSQL: rows inserted and updated in C so far by this transaction.
  std::string UpsertCounters() const;

  // The rejected rows of T: id, iStgOp, iStgKey, iRej, then every declared key's columns.
  std::string SelectRejected(int limit) const;
  // Human text for a rejected row of SelectRejected().
  std::string DescribeRejection(const store::Row& row) const;

 private:
  std::string Match(int kind, const std::string& left, const std::string& right) const;
  std::string KeyList(int kind, const std::string& alias) const;
  // "<key> IN (SELECT <key columns> FROM <from_where>)".
  std::string KeyIn(int kind, const std::string& from_where) const;
  std::string InsertFrom(const std::string& where) const;
  // Whether upserts by @id can be one INSERT … ON CONFLICT (see Statements()).
  bool OneStatementUpsert() const;

  const schema::Schema& source_;
  store::DialectKind dialect_;
  std::string cloud_table_;
  std::string stg_table_;
  std::string temp_table_;
  std::string id_column_;
  std::vector<const schema::Attribute*> business_;     // cloud business attributes, in order
  std::vector<std::string> business_defaults_;         // per business attribute: SQL default or ""
  std::vector<std::vector<std::string>> key_columns_;  // per kind: SQL column names
  std::vector<std::string> key_names_;                 // per kind: "id", "email", "service-id,recipient-id"
  std::vector<std::string> load_columns_;
  std::string temp_ddl_columns_;
};

}  // namespace stagebridge::sync
