// model.cc — small accessors of the compiled schema and the type table.
#include "schema/model.h"

#include <array>
#include <cctype>
#include <utility>

namespace stagebridge::schema {
namespace {

constexpr std::array<std::pair<std::string_view, AttrType>, 15> kTypeNames{{
    {"string", AttrType::kString},
    {"memo", AttrType::kMemo},
    {"long", AttrType::kLong},
    {"int", AttrType::kInt},
    {"int64", AttrType::kInt64},
    {"short", AttrType::kShort},
    {"byte", AttrType::kByte},
    {"double", AttrType::kDouble},
    {"float", AttrType::kFloat},
    {"boolean", AttrType::kBoolean},
    {"date", AttrType::kDate},
    {"datetime", AttrType::kDatetime},
    {"datetimenotz", AttrType::kDatetimeNoTz},
    {"uuid", AttrType::kUuid},
    {"timestamp", AttrType::kDatetime},  // accepted alias, shown as "datetime"
}};

}  // namespace

std::string_view TypeName(AttrType type) {
  for (const auto& [name, t] : kTypeNames) {
    if (t == type) return name;
  }
  return "string";
}

std::optional<AttrType> ParseTypeName(std::string_view name) {
  for (const auto& [n, t] : kTypeNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

std::string_view SqlPrefix(AttrType type) {
  switch (type) {
    case AttrType::kString: return "s";
    case AttrType::kMemo: return "m";
    case AttrType::kLong:
    case AttrType::kInt:
    case AttrType::kInt64:
    case AttrType::kShort:
    case AttrType::kByte:
    case AttrType::kBoolean: return "i";  // the platform stores booleans as small integers: iBlackList
    case AttrType::kDouble:
    case AttrType::kFloat: return "d";
    case AttrType::kDate: return "t";
    case AttrType::kDatetime:
    case AttrType::kDatetimeNoTz: return "ts";
    case AttrType::kUuid: return "u";
  }
  return "s";
}

std::string Capitalize(std::string_view name) {
  std::string out(name);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

const Attribute* Schema::FindAttribute(std::string_view attr_name) const {
  for (const Attribute& a : attributes) {
    if (a.name == attr_name) return &a;
  }
  return nullptr;
}

const Key* Schema::FindKey(std::string_view key_name) const {
  for (const Key& k : keys) {
    if (k.name == key_name) return &k;
  }
  return nullptr;
}

const Key* Schema::primary_key() const {
  for (const Key& k : keys) {
    if (k.internal) return &k;
  }
  return nullptr;
}

std::vector<const Key*> Schema::declared_keys() const {
  std::vector<const Key*> out;
  for (const Key& k : keys) {
    if (!k.internal) out.push_back(&k);
  }
  return out;
}

}  // namespace stagebridge::schema
