// sequence.h — named, cross-process unique increasing numbers (the staging
// change sequence), on both dialects: a SEQUENCE on PostgreSQL, a counter row in
// the table SbSequence on SQLite (where writers are serialised anyway).
//
// Thread-safety: uses the given connection only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/database.h"

namespace stagebridge::store {

// Creates the sequence if missing. REQUIRES: IsValidIdentifier(name).
Status EnsureSequence(Database& db, std::string_view name);

// `count` new values, increasing, never handed out before (also to other
// connections and processes). On SQLite this writes: call it inside the write
// transaction that uses the values. REQUIRES: EnsureSequence(name) succeeded once.
Result<std::vector<std::int64_t>> NextSequenceValues(Database& db, std::string_view name, std::int64_t count);

// An SQL expression drawing the next value of the sequence inside a statement
// ("nextval('SbStgSeq')" on PostgreSQL), or "" when the dialect has none (SQLite:
// reserve values with NextSequenceValues instead).
std::string NextValueExpression(DialectKind kind, std::string_view name);

}  // namespace stagebridge::store
