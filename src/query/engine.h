// engine.h — runs queryDefs over the schemas' tables: staging schemas
// (ns:nameStg) in the local database, the others in the cloud database.
//
// Each query is one SELECT compiled from the queryDef (compiler.h) and run in a
// read-only transaction under a statement timeout, on a connection of the
// engine's own small pools (so a slow query never holds a connection the
// staging writer or the sync needs). Rights: an admin reads every schema, any
// other operator the schemas it may write (a grant on dem:sampleTable covers
// dem:sampleTableStg and the reverse).
//
// Thread-safety: thread-safe; Execute may be called from many threads.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "auth/authenticator.h"
#include "base/status.h"
#include "query/compiler.h"
#include "query/querydef.h"
#include "query/result.h"
#include "schema/schema_set.h"
#include "store/pool.h"

namespace stagebridge::query {

struct EngineOptions {
  std::string local_url;
  std::string cloud_url;
  int connections = 4;  // per database
  CompileOptions compile;
  std::chrono::milliseconds timeout{30000};  // per statement
};

class Engine {
 public:
  Engine(const schema::SchemaSet& schemas, EngineOptions options);

  // Runs `query` with the rights of `reader` (nullptr: no check, for the CLI).
  // Faults: the QRY codes of expr.h; get with no row is QRY-200011.
  Result<QueryResult> Execute(const QueryDef& query, const auth::Operator* reader);

  const EngineOptions& options() const { return options_; }

 private:
  const schema::SchemaSet& schemas_;
  EngineOptions options_;
  store::ConnectionPool local_;
  store::ConnectionPool cloud_;
};

}  // namespace stagebridge::query
