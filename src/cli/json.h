// json.h — the bit of JSON the CLI writes (`workflow … --json`, `query --format json`).
//
// Thread-safety: stateless.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace stagebridge::cli {

// `s` as a JSON string literal, quotes included (control characters as \uXXXX).
inline std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace stagebridge::cli
