// compiler.h — a QueryDef checked against its schema and turned into one SQL
// SELECT for one dialect, with every value bound.
//
// Identifiers come from the schema only: `@testcol1` resolves to the column
// sTestcol1 of the schema's table, functions map through a whitelist to SQL of
// our own, operators come from a fixed set; every literal becomes a bound
// parameter ($N). Nothing of the request is ever spliced into the SQL text but
// the integers of lineCount and startLine, after they were parsed as such.
// The bookkeeping columns of the sync are not addressable.
//
// Both dialects mean the same: LIKE is case-sensitive with '\' as the escape
// (SQLite through sb_like), strings sort and compare bytewise (PostgreSQL
// COLLATE "C"), NULLs sort first ascending and last descending, `/` divides as
// floating point and yields NULL for a zero divisor, datetimes compare as UTC
// instants (SQLite stores them as text: compared without their "+00").
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "query/expr.h"
#include "query/querydef.h"
#include "schema/model.h"
#include "store/database.h"

namespace stagebridge::query {

enum class ValueType { kNull, kString, kInteger, kDouble, kBoolean, kDate, kDatetime };

std::string_view ValueTypeName(ValueType type);

struct OutputColumn {
  std::string name;  // the XML attribute it renders as ("testcol1", or the alias without '@')
  ValueType type = ValueType::kString;
};

struct CompiledQuery {
  Operation operation = Operation::kSelect;
  std::string sql;
  store::Params params;
  std::vector<OutputColumn> columns;  // count: none (the single column is the count)
  std::string element;                // the row element: the schema's name ("sampleTableStg")
};

struct CompileOptions {
  std::int64_t default_rows = 10000;  // select without lineCount (or lineCount="0")
  std::int64_t max_rows = 10000;      // any larger lineCount is clamped to it
  ExprLimits expr_limits;
};

// The attributes a query may name and an empty <select> returns: every one but
// the sync's bookkeeping, in schema order.
std::vector<const schema::Attribute*> PublicAttributes(const schema::Schema& schema);

// How deep the SQL nests for SQLite's parser (its stack holds 100 entries in
// Debian's build): a parenthesis counts 1, a function call or a (CASE …) 3.
std::size_t SqlNesting(std::string_view sql);
inline constexpr std::size_t kMaxSqlNesting = 90;

// REQUIRES: `query.schema` names `schema`. A query whose SQLite form nests
// deeper than kMaxSqlNesting is refused (QRY-200008) on both dialects.
Result<CompiledQuery> Compile(const QueryDef& query, const schema::Schema& schema, store::DialectKind dialect,
                              const CompileOptions& options = {});

}  // namespace stagebridge::query
