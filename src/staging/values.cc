// values.cc — attribute text → typed value.
#include "staging/values.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>

#include <fmt/format.h>

namespace stagebridge::staging {
namespace {

constexpr const char* kBadValue = "STG-200004";

Status BadValue(std::string_view schema_id, const schema::Attribute& attr, std::string_view text,
                std::string_view why) {
  return CodedError(Status::Code::kInvalidArgument, kBadValue,
                    fmt::format("Invalid value '{}' for attribute '{}' ({}) of schema '{}': {}.", Excerpt(text),
                                attr.name, schema::TypeName(attr.type), schema_id, why));
}

std::size_t CodePoints(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool HasControlChars(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
    if (c == 0x7F) return true;
  }
  return false;
}

bool ParseInt(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool ValidDate(int y, int m, int d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + ((m == 2 && leap) ? 1 : 0);
}

// Parses the datetime forms described in values.h. `with_zone` applies the offset.
bool ParseDatetime(std::string_view s, bool with_zone, std::string& out) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!Digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d) || !ValidDate(y, mo, d)) {
    return false;
  }
  std::size_t pos = 10;
  std::string fraction;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    if (!Digits(s, pos + 1, 2, h) || s.size() < pos + 6 || s[pos + 3] != ':' || !Digits(s, pos + 4, 2, mi)) {
      return false;
    }
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!Digits(s, pos + 1, 2, sec)) return false;
      pos += 3;
    }
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) fraction.push_back(s[pos++]);
      if (fraction.empty() || fraction.size() > 9) return false;
      if (fraction.size() > 6) fraction.resize(6);
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
  }
  int offset_minutes = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      pos += 1;
    } else if ((s[pos] == '+' || s[pos] == '-') && (s.size() == pos + 6 || s.size() == pos + 3)) {
      int oh, om = 0;
      if (!Digits(s, pos + 1, 2, oh)) return false;
      if (s.size() == pos + 6 && (s[pos + 3] != ':' || !Digits(s, pos + 4, 2, om))) return false;
      if (oh > 14 || om > 59) return false;
      offset_minutes = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
      pos = s.size();
    } else {
      return false;
    }
  }
  if (pos != s.size()) return false;
  if (with_zone && offset_minutes != 0) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    std::time_t t = timegm(&tm) - static_cast<std::time_t>(offset_minutes) * 60;
    gmtime_r(&t, &tm);
    y = tm.tm_year + 1900;
    mo = tm.tm_mon + 1;
    d = tm.tm_mday;
    h = tm.tm_hour;
    mi = tm.tm_min;
    sec = tm.tm_sec;
  }
  out = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", y, mo, d, h, mi, sec);
  if (!fraction.empty()) out += "." + fraction;
  if (with_zone) out += "+00";
  return true;
}

bool ValidUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace

std::string Excerpt(std::string_view text) {
  if (text.size() <= 60) return std::string(text);
  std::size_t cut = 57;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  return std::string(text.substr(0, cut)) + "…";
}

Status CheckId(std::string_view id, std::string_view schema_id) {
  if (id.empty() || CodePoints(id) > 255 || HasControlChars(id)) {
    return CodedError(Status::Code::kInvalidArgument, kBadValue,
                      fmt::format("Invalid value '{}' for the primary key 'id' of schema '{}': expected 1 to "
                                  "255 characters without control characters.",
                                  Excerpt(id), schema_id));
  }
  return Status::Ok();
}

Result<store::Value> ConvertValue(const schema::Attribute& attr, std::string_view schema_id, std::string_view text) {
  using schema::AttrType;
  switch (attr.type) {
    case AttrType::kString:
    case AttrType::kMemo: {
      if (HasControlChars(text)) return BadValue(schema_id, attr, text, "control characters are not allowed");
      if (attr.type == AttrType::kString && CodePoints(text) > static_cast<std::size_t>(attr.length)) {
        return BadValue(schema_id, attr, text,
                        fmt::format("{} characters, at most {} allowed", CodePoints(text), attr.length));
      }
      return store::Value(std::string(text));
    }
    case AttrType::kLong:
    case AttrType::kInt:
    case AttrType::kInt64:
    case AttrType::kShort:
    case AttrType::kByte: {
      if (text.empty()) return store::Value(std::int64_t{0});
      std::int64_t v = 0;
      if (!ParseInt(text, v)) return BadValue(schema_id, attr, text, "not an integer");
      std::int64_t lo = std::numeric_limits<std::int64_t>::min();
      std::int64_t hi = std::numeric_limits<std::int64_t>::max();
      if (attr.type == AttrType::kLong || attr.type == AttrType::kInt) {
        lo = std::numeric_limits<std::int32_t>::min();
        hi = std::numeric_limits<std::int32_t>::max();
      } else if (attr.type == AttrType::kShort) {
        lo = std::numeric_limits<std::int16_t>::min();
        hi = std::numeric_limits<std::int16_t>::max();
      } else if (attr.type == AttrType::kByte) {
        lo = -128;
        hi = 127;
      }
      if (v < lo || v > hi) return BadValue(schema_id, attr, text, fmt::format("out of range [{}, {}]", lo, hi));
      return store::Value(v);
    }
    case AttrType::kDouble:
    case AttrType::kFloat: {
      if (text.empty()) return store::Value(0.0);
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v)) {
        return BadValue(schema_id, attr, text, "not a finite number");
      }
      if (attr.type == AttrType::kFloat && std::fabs(v) > std::numeric_limits<float>::max()) {
        return BadValue(schema_id, attr, text, "out of range for a float");
      }
      return store::Value(v);
    }
    case AttrType::kBoolean: {
      if (text == "true" || text == "1") return store::Value(std::int64_t{1});
      if (text == "false" || text == "0" || text.empty()) return store::Value(std::int64_t{0});
      return BadValue(schema_id, attr, text, "expected true, false, 1 or 0");
    }
    case AttrType::kDate: {
      int y, m, d;
      if (text.size() != 10 || !Digits(text, 0, 4, y) || text[4] != '-' || !Digits(text, 5, 2, m) || text[7] != '-' ||
          !Digits(text, 8, 2, d) || !ValidDate(y, m, d)) {
        return BadValue(schema_id, attr, text, "expected a date YYYY-MM-DD");
      }
      return store::Value(std::string(text));
    }
    case AttrType::kDatetime:
    case AttrType::kDatetimeNoTz: {
      std::string out;
      if (!ParseDatetime(text, attr.type == AttrType::kDatetime, out)) {
        return BadValue(schema_id, attr, text, "expected an ISO 8601 date and time, e.g. 2024-05-01T10:30:00Z");
      }
      return store::Value(std::move(out));
    }
    case AttrType::kUuid: {
      if (attr.role == schema::AttrRole::kPrimaryKey || !attr.link.empty()) {
        SB_RETURN_IF_ERROR(CheckId(text, schema_id));
        return store::Value(std::string(text));
      }
      if (!ValidUuid(text)) return BadValue(schema_id, attr, text, "expected a uuid (8-4-4-4-12 hex digits)");
      std::string lower(text);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return store::Value(std::move(lower));
    }
  }
  return BadValue(schema_id, attr, text, "unsupported type");
}

}  // namespace stagebridge::staging
