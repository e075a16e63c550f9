// json.h — JSON string literals: the one escaper for every module that writes JSON
// (the CLI's --json output, the script engine's XML trees for the prelude).
//
// Thread-safety: stateless.
#pragma once

#include <string>
#include <string_view>

namespace stagebridge {

// Appends `s` (UTF-8, passed through as is) as a JSON string literal, quotes
// included: " \ and the control characters escaped (\n \r \t, others \u00XX).
inline void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
          out += kHex[static_cast<unsigned char>(c) & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// `s` as a JSON string literal, quotes included.
inline std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendJsonString(out, s);
  return out;
}

}  // namespace stagebridge
