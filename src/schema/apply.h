// apply.h — "update database structure": makes the cloud and local databases
// match a SchemaSet (SPEC §2).
//
// Cloud schemas get their table in the cloud database; staging and local schemas
// in the local database. Tables are created or altered (missing columns and
// indexes added), never dropped — except a staging table whose schema is no
// longer staged, which is dropped once it holds no unmerged rows (or when
// forced). The local database remembers which staging tables it holds in
// `SbAppliedSchema`. Idempotent: a second run reports no change.
//
// Thread-safety: uses the two given connections; one caller at a time.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "schema/schema_set.h"
#include "schema/table_specs.h"
#include "store/database.h"
#include "store/table_spec.h"

namespace stagebridge::schema {

// The local table listing the schemas whose tables this product created there.
inline constexpr const char* kAppliedSchemaTable = "SbAppliedSchema";

struct ApplyOptions {
  bool force = false;    // drop staging tables even when they hold unmerged rows
  bool dry_run = false;  // compute the report, then roll everything back
};

struct TableChange {
  std::string schema_id;
  std::string table;
  Placement placement = Placement::kLocal;
  store::MigrationReport report;
  bool dropped = false;
  std::int64_t dropped_rows = 0;  // unmerged rows discarded by a forced drop
};

struct ApplyReport {
  std::vector<TableChange> tables;
  bool changed() const;
};

Result<ApplyReport> ApplySchemas(const SchemaSet& schemas, store::Database& local, store::Database& cloud,
                                 const ApplyOptions& options = {});

}  // namespace stagebridge::schema
