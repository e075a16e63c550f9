// staging.h — derivation of the staging schema `ns:nameStg` from a staged cloud
// schema (SPEC §2), and the names of its bookkeeping columns.
//
// The staging schema copies the primary key and every business attribute, adds
// the tombstone @delete and @lastModified, and the internal columns the sync
// uses (iStgSeq, iStgKey, iStgOp). Internal columns have AttrRole::kInternal and are never accepted from or
// shown to API callers.
//
// Thread-safety: stateless.
#pragma once

#include "schema/model.h"

namespace stagebridge::schema {

// Internal staging attributes (names as in the compiled schema; SQL names follow).
inline constexpr const char* kStgSeqAttr = "stgSeq";  // iStgSeq: change sequence of the last write
// iStgKey: the key the last write reconciled on: 0 the primary key (@id), k the
// k-th declared key (Schema::declared_keys()[k - 1]).
inline constexpr const char* kStgKeyAttr = "stgKey";
inline constexpr const char* kStgOpAttr = "stgOp";  // iStgOp: operation of the last write (see StgOp)
inline constexpr const char* kDeleteAttr = "delete";
inline constexpr const char* kLastModifiedAttr = "lastModified";

// Values of the iStgOp column: what the sync must do with the row. In staging a
// business column that is NULL was not named by any write since the row was
// staged (or since its last delete), so the sync leaves the cloud value alone.
enum class StgOp : int {
  kInsert = 0,   // Ingest: insert; a key already in the cloud is a rejected duplicate
  kUpsert = 1,   // IngestExt: update the named columns, or insert
  kDelete = 2,   // IngestExt delete: delete the cloud row(s) with the key
  kReplace = 3,  // a delete followed by IngestExt writes: the cloud row is replaced
};

// REQUIRES: src.auto_stg and the source is valid (ParseSrcSchema accepted it).
Schema DeriveStagingSchema(const Schema& src);

}  // namespace stagebridge::schema
