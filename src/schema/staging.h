// staging.h — derivation of the staging schema `ns:nameStg` from a staged cloud
// schema (SPEC §2), and the names of its bookkeeping columns.
//
// The staging schema copies the primary key and every business attribute, adds
// the tombstone @delete and @lastModified, and the internal columns the sync
// uses. Internal columns have AttrRole::kInternal and are never accepted from or
// shown to API callers.
//
// Thread-safety: stateless.
#pragma once

#include "schema/model.h"

namespace stagebridge::schema {

// Internal staging attributes (names as in the compiled schema; SQL names follow).
inline constexpr const char* kStgSeqAttr = "stgSeq";        // iStgSeq: change sequence of the last write
inline constexpr const char* kStgRunAttr = "stgRun";        // iStgRun: id of the sync run that claimed the row, 0 if none
inline constexpr const char* kStgOpAttr = "stgOp";          // iStgOp: operation of the last write (see StgOp)
inline constexpr const char* kStgFieldsAttr = "stgFields";  // mStgFields: attributes named by the writes, comma-separated
inline constexpr const char* kDeleteAttr = "delete";
inline constexpr const char* kLastModifiedAttr = "lastModified";

// Values of the iStgOp column.
enum class StgOp : int { kInsert = 0, kUpsert = 1, kDelete = 2 };

// REQUIRES: src.auto_stg and the source is valid (ParseSrcSchema accepted it).
Schema DeriveStagingSchema(const Schema& src);

}  // namespace stagebridge::schema
