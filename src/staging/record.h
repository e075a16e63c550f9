// record.h — a write to a staging table, decoded and validated from the
// document of an Ingest or IngestExt call (SPEC §3.2, §3.3).
//
// Document shapes: one record element (`<sampleTableStg xtkschema="dem:sampleTableStg" …/>`)
// or a collection (`<sampleTableStg-collection xtkschema="…"><sampleTableStg …/>…</…>`).
// `xtkschema` may name the staging schema or its source (routed to its staging
// schema). Column values are attributes; `_key` names the reconciliation key,
// `_operation` the operation; `delete="1"` marks a delete.
//
// Errors carry codes (docs/faults.md): STG-200001 unknown schema, STG-200002
// schema without staging, STG-200003 unknown attribute, STG-200004 invalid value,
// STG-200005 bad or missing key, STG-200007 bad operation, STG-200008 bad
// document.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <vector>

#include <pugixml.hpp>

#include "base/status.h"
#include "schema/schema_set.h"
#include "schema/staging.h"
#include "store/value.h"

namespace stagebridge::staging {

enum class Mode { kIngest, kIngestExt };

struct StagedRecord {
  const schema::Schema* stg = nullptr;  // the staging schema
  schema::StgOp op = schema::StgOp::kInsert;
  // The reconciliation key: attribute names ("id", or a declared key's fields),
  // as the conflict target in staging.
  std::vector<std::string> key;
  // Values of every attribute named, the id always first (generated when the
  // caller gave none). Business attributes only: no bookkeeping.
  std::vector<const schema::Attribute*> attrs;
  std::vector<store::Value> values;
};

struct DecodedDocument {
  std::vector<StagedRecord> records;
  // Per record, what Ingest returns: the generated uuid, or "" when the caller
  // supplied the key.
  std::vector<std::string> returned_ids;
};

// Largest number of records one call may carry.
inline constexpr std::size_t kMaxRecordsPerCall = 100000;

// Decodes and validates `root` (the element inside the domDoc parameter).
// REQUIRES: root is an element.
Result<DecodedDocument> DecodeDocument(pugi::xml_node root, const schema::SchemaSet& schemas, Mode mode);

// A new random RFC 4122 version 4 uuid, lower-case.
std::string NewUuid();

}  // namespace stagebridge::staging
