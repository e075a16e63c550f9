// querydef.h — the queryDef document of xtk:queryDef#ExecuteQuery, read into a
// plain model and checked for shape (not yet against a schema: compiler.h).
//
//   <queryDef schema="dem:sampleTable" operation="select" lineCount="10" startLine="0" distinct="false">
//     <select><node expr="@id"/><node expr="Lower(@testcol1)" alias="@low" groupBy="true"/></select>
//     <where><condition expr="@testcol1 LIKE 'a%'" boolOperator="OR"/><condition>…nested…</condition></where>
//     <orderBy><node expr="@id" sortDesc="true"/></orderBy>
//     <groupBy><node expr="@testcol2"/></groupBy>
//     <having><condition expr="Count() > 1"/></having>
//   </queryDef>
//
// The root element is matched on its local name (node-soap puts it in the
// urn:xtk:queryDef namespace). Attributes the console adds for itself
// (firstRows, startPath, internalId, …) are ignored; attributes and elements
// that would change the result and are not supported (sql, filter-name, a
// non-empty enabledIf, setOperator, subQuery, nested select nodes) are faults,
// never silently dropped.
//
// Thread-safety: stateless functions; a QueryDef is a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "base/status.h"

namespace stagebridge::query {

enum class Operation { kGet, kGetIfExists, kSelect, kCount };

std::string_view OperationName(Operation op);

struct SelectNode {
  std::string expr;
  std::string alias;  // "@name" or empty
  bool group_by = false;
};

struct OrderNode {
  std::string expr;
  bool desc = false;
};

// One <condition>: an expression, or a bracketed group of conditions. `or_next`
// is its boolOperator: how it joins the condition that follows it (AND unless
// boolOperator="OR"). Consecutive AND-joined conditions bind tighter than OR,
// as in SQL.
struct Condition {
  std::string expr;              // empty for a group
  std::vector<Condition> group;  // the nested conditions of a group
  bool or_next = false;
  std::string where;  // "where condition 2.1", for messages
};

struct QueryDef {
  std::string schema;  // "dem:sampleTable"
  Operation operation = Operation::kSelect;
  std::optional<std::int64_t> line_count;  // select: rows at most (absent: the configured default)
  std::int64_t start_line = 0;             // select: rows skipped (0-based)
  bool distinct = false;
  std::vector<SelectNode> select;
  std::vector<Condition> where;
  std::vector<OrderNode> order_by;
  std::vector<std::string> group_by;
  std::vector<Condition> having;
};

struct QueryDefLimits {
  std::size_t max_select_nodes = 200;
  std::size_t max_conditions = 500;
  std::size_t max_order_nodes = 50;
};

// Reads a <queryDef> element. Errors are QRY-200002 (shape, attribute values),
// QRY-200006 (unsupported constructs) and QRY-200008 (limits).
Result<QueryDef> ReadQueryDef(pugi::xml_node root, const QueryDefLimits& limits = {});

// Parses a queryDef document from text (the CLI, workflow JavaScript); XML
// errors are SOP-330001 like a request body's.
Result<QueryDef> ParseQueryDef(std::string_view xml, const QueryDefLimits& limits = {});

// Splits a comma-separated list of expressions at its top-level commas (not
// inside parentheses or quotes): "@a, Lower(@b), 'x,y'" → 3 items. For the CLI.
std::vector<std::string> SplitTopLevel(std::string_view list);

}  // namespace stagebridge::query
