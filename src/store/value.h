// value.h — the values that cross the store boundary: bound parameters and
// result cells. Every value reaching SQL is bound, never spliced into SQL text.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace stagebridge::store {

// NULL, an integer (booleans are 0/1), a floating-point number, or text (strings,
// dates and timestamps in ISO-8601, uuids).
using Value = std::variant<std::monostate, std::int64_t, double, std::string>;

inline bool IsNull(const Value& v) {
  return std::holds_alternative<std::monostate>(v);
}

using Row = std::vector<Value>;
using Params = std::vector<Value>;

// Renders a value as text the way a test or a log line wants to see it ("NULL"
// for null). Not for building SQL.
std::string ValueToString(const Value& v);

}  // namespace stagebridge::store
