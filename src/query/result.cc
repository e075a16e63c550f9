// result.cc — formatting values and rendering a result as XML.
#include "query/result.h"

#include <cmath>
#include <sstream>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "xml/document.h"

namespace stagebridge::query {
namespace {

bool Digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// "2026-12-03 13:20:00.123456+00", "2026-12-03T13:20:00Z", "2026-12-03 13:20:00"
// → "2026-12-03 13:20:00.123Z". Stored datetimes are UTC already.
std::string FormatDatetime(const std::string& text) {
  if (text.size() < 19 || !Digits(text, 0, 4) || !Digits(text, 5, 2) || !Digits(text, 8, 2) || !Digits(text, 11, 2) ||
      !Digits(text, 14, 2) || !Digits(text, 17, 2)) {
    if (text.size() == 10 && Digits(text, 0, 4)) return text + " 00:00:00.000Z";
    return text;
  }
  std::string millis = "000";
  if (text.size() > 20 && text[19] == '.') {
    for (std::size_t i = 0; i < 3 && 20 + i < text.size() && text[20 + i] >= '0' && text[20 + i] <= '9'; ++i) {
      millis[i] = text[20 + i];
    }
  }
  return text.substr(0, 10) + " " + text.substr(11, 8) + "." + millis + "Z";
}

std::string FormatDouble(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
    return fmt::format("{}", static_cast<std::int64_t>(d));
  }
  return fmt::format("{}", d);
}

}  // namespace

std::string FormatValue(const store::Value& value, ValueType type) {
  if (store::IsNull(value)) return {};
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    if (type == ValueType::kBoolean) return *i != 0 ? "1" : "0";
    if (type == ValueType::kDouble) return FormatDouble(static_cast<double>(*i));
    return std::to_string(*i);
  }
  if (const auto* d = std::get_if<double>(&value)) {
    if (type == ValueType::kBoolean) return *d != 0 ? "1" : "0";
    return FormatDouble(*d);
  }
  const std::string& text = std::get<std::string>(value);
  switch (type) {
    case ValueType::kDatetime: return FormatDatetime(text);
    case ValueType::kDate: return text.size() >= 10 ? text.substr(0, 10) : text;
    case ValueType::kBoolean: return text == "t" || text == "true" || text == "1" ? "1" : "0";
    default: return text;
  }
}

std::string RenderXml(const QueryResult& result) {
  pugi::xml_document doc;
  auto add_row = [&](pugi::xml_node parent, const std::vector<std::optional<std::string>>& row) {
    pugi::xml_node el = parent.append_child(result.element.c_str());
    for (std::size_t i = 0; i < result.columns.size() && i < row.size(); ++i) {
      // pugixml escapes markup; xml::Escape's rules (control characters, invalid
      // UTF-8) are applied first so the document stays well-formed.
      const std::string& v = row[i].value_or(std::string());
      bool clean = xml::IsValidUtf8(v) && std::none_of(v.begin(), v.end(), [](char c) {
                     return static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r';
                   });
      el.append_attribute(result.columns[i].name.c_str()) = clean ? v.c_str() : xml::Printable(v).c_str();
    }
  };
  switch (result.operation) {
    case Operation::kCount:
      doc.append_child(result.element.c_str()).append_attribute("count") = std::to_string(result.count).c_str();
      break;
    case Operation::kGet:
    case Operation::kGetIfExists:
      if (result.rows.empty()) {
        doc.append_child(result.element.c_str());
      } else {
        add_row(doc, result.rows.front());
      }
      break;
    case Operation::kSelect: {
      pugi::xml_node collection = doc.append_child((result.element + "-collection").c_str());
      for (const auto& row : result.rows) add_row(collection, row);
      break;
    }
  }
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  return out.str();
}

}  // namespace stagebridge::query
