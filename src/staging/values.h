// values.h — converting the text of an XML attribute into the value stored for
// a schema attribute, with the checks the platform's users expect (type, range,
// length). Errors carry the code STG-200004 and name the attribute and value.
//
// Thread-safety: stateless.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "schema/model.h"
#include "store/value.h"

namespace stagebridge::staging {

// Converts `text` for `attr` of schema `schema_id`. Strings: at most `length`
// characters (code points), control characters other than tab/CR/LF refused.
// Numbers: exact decimal syntax and range of the type (an empty value is 0).
// Booleans: true/false/1/0 (empty is false) → 1/0. Dates: YYYY-MM-DD. Datetimes:
// ISO 8601 (`T` or space, optional fraction, `Z` or ±HH:MM; none = UTC),
// normalised to UTC "YYYY-MM-DD HH:MM:SS[.ffffff]+00". Uuids: 8-4-4-4-12 hex,
// lower-cased.
Result<store::Value> ConvertValue(const schema::Attribute& attr, std::string_view schema_id, std::string_view text);

// Validates a caller-supplied primary key: 1–255 characters, no control characters.
Status CheckId(std::string_view id, std::string_view schema_id);

// Shortens a value for an error message (at most 60 characters, "…" appended).
std::string Excerpt(std::string_view text);

}  // namespace stagebridge::staging
