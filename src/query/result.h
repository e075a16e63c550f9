// result.h — what a query returns, and its rendering in the schema's XML layout
// (the element xtk:queryDef#ExecuteQuery puts in pdomOutput):
//
//   select       <sampleTable-collection><sampleTable id="…" testcol1="…"/>…</sampleTable-collection>
//                (<sampleTable-collection/> when no row)
//   get          <sampleTable id="…" testcol1="…"/>
//   getIfExists  the same, or the empty <sampleTable/> when no row
//   count        <sampleTable count="3"/>
//
// Values are text in the platform's formats: datetimes "YYYY-MM-DD HH:MM:SS.mmmZ"
// (UTC), dates "YYYY-MM-DD", booleans 0/1, numbers in plain decimal. A NULL is
// the empty attribute attr="" (never omitted: acc-js-sdk reads a row without
// attributes as "no row").
//
// Thread-safety: plain values and stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "query/compiler.h"
#include "store/value.h"

namespace stagebridge::query {

struct QueryResult {
  Operation operation = Operation::kSelect;
  std::string element;  // "sampleTableStg"
  std::vector<OutputColumn> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;  // formatted values, nullopt = NULL
  std::int64_t count = 0;                                     // count
};

// A database value as the platform writes a value of `type`.
std::string FormatValue(const store::Value& value, ValueType type);

// The result element, serialised (no XML declaration).
std::string RenderXml(const QueryResult& result);

}  // namespace stagebridge::query
