// parser.h — turns one <srcSchema> document into a compiled Schema.
//
// Checks everything that can be checked within one document (types, names,
// duplicates, keys, defaults, staging rules) and reports every problem found, one
// per line, each naming the file, the element and what is wrong. Cross-schema
// checks (link targets, duplicate ids) are SchemaSet's.
//
// Thread-safety: stateless.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "schema/model.h"

namespace stagebridge::schema {

// The attribute names a schema author may not declare: the staging bookkeeping,
// the primary key and the API's control attributes.
bool IsReservedAttributeName(std::string_view name);

// Parses `text`, read from `source` (a path, used in messages).
Result<Schema> ParseSrcSchema(std::string_view text, std::string_view source);

}  // namespace stagebridge::schema
