// table_specs.h — the SQL tables a compiled schema needs, as dialect-neutral
// store::TableSpecs, and where each one lives (cloud or local database).
//
// Thread-safety: stateless.
#pragma once

#include "schema/model.h"
#include "store/table_spec.h"

namespace stagebridge::schema {

enum class Placement { kCloud, kLocal };

// The column type an attribute of `type` is stored in.
store::ColumnType ColumnTypeOf(AttrType type);

// Cloud schemas live in the cloud database; staging and local schemas in the local one.
Placement PlacementOf(const Schema& schema);

// The table of `schema`: every attribute a column; the primary key (cloud and
// local tables) or a unique index on it (staging tables); a unique index per
// declared key; staging tables also index lastModified and stgSeq (the sync reads and clears by sequence ranges).
store::TableSpec TableSpecFor(const Schema& schema);

}  // namespace stagebridge::schema
