// commands_query.h — `query`: runs a queryDef in-process (no server needed), the
// same engine as xtk:queryDef#ExecuteQuery, and prints the result.
//
//   stagebridge query QUERYDEF.xml | -          a queryDef document (file or standard input)
//   stagebridge query SCHEMA [--select @a,@b] [--where EXPR]… [--order "EXPR [desc]"]
//                     [--limit N] [--start N] [--count | --operation OP] [--distinct]
//                     [--format table|xml|json|csv]
//
// `--format xml` prints exactly the element ExecuteQuery returns in pdomOutput.
// Exit 0 on success, 1 on a query fault (printed as "CODE message"), 2 on usage.
//
// Thread-safety: called once, from main.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/config.h"
#include "query/engine.h"

namespace stagebridge::cli {

struct QueryOptions {
  std::string target;               // a schema id, a file name or "-"
  std::vector<std::string> select;  // each may hold several comma-separated expressions
  std::vector<std::string> where;   // ANDed
  std::vector<std::string> order;   // "EXPR [asc|desc]", comma-separated
  std::vector<std::string> group;
  std::optional<std::int64_t> limit;
  std::optional<std::int64_t> start;
  bool count = false;
  bool distinct = false;
  std::string operation;         // get, getIfExists, select, count (default select)
  std::string format = "table";  // table, xml, json, csv
};

int CmdQuery(const Config& config, const QueryOptions& options);

// The query engine's settings (query_default_rows, query_max_rows,
// query_timeout), with `connections` per database.
query::EngineOptions QueryEngineOptionsFrom(const Config& config, int connections);

}  // namespace stagebridge::cli
