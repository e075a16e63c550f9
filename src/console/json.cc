// json.cc — the console's JSON writer and its flat-object reader.
#include "console/json.h"

#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "xml/document.h"

namespace stagebridge::console {
namespace {

constexpr std::size_t kMaxMembers = 64;

void AppendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  Result<std::map<std::string, std::string>> Object() {
    std::map<std::string, std::string> out;
    Skip();
    if (!Eat('{')) return Bad("an object");
    Skip();
    if (Eat('}')) return End(std::move(out));
    while (true) {
      Skip();
      std::string key;
      if (Status st = ReadString(key); !st.ok()) return st;
      Skip();
      if (!Eat(':')) return Bad("':'");
      Skip();
      std::optional<std::string> value;
      if (Status st = ReadValue(value); !st.ok()) return st;
      if (value) out[key] = std::move(*value);
      if (out.size() > kMaxMembers) return Status::InvalidArgument("JSON object with too many members");
      Skip();
      if (Eat('}')) return End(std::move(out));
      if (!Eat(',')) return Bad("',' or '}'");
    }
  }

 private:
  Result<std::map<std::string, std::string>> End(std::map<std::string, std::string> out) {
    Skip();
    if (pos_ != s_.size()) return Bad("the end of the text");
    return out;
  }
  Status Bad(std::string_view expected) const {
    return Status::InvalidArgument(fmt::format("bad JSON: {} expected at offset {}", expected, pos_));
  }
  void Skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool EatWord(std::string_view w) {
    if (s_.substr(pos_, w.size()) == w) {
      pos_ += w.size();
      return true;
    }
    return false;
  }
  Result<std::uint32_t> Hex4() {
    if (pos_ + 4 > s_.size()) return Bad("four hex digits");
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return Bad("a hex digit");
      }
    }
    return v;
  }
  Status ReadString(std::string& out) {
    if (!Eat('"')) return Bad("a string");
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return Status::Ok();
      if (static_cast<unsigned char>(c) < 0x20) return Bad("no control character");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          Result<std::uint32_t> cp = Hex4();
          if (!cp.ok()) return cp.status();
          std::uint32_t v = *cp;
          if (v >= 0xD800 && v <= 0xDBFF) {  // a surrogate pair
            if (!EatWord("\\u")) return Bad("a low surrogate");
            Result<std::uint32_t> low = Hex4();
            if (!low.ok()) return low.status();
            if (*low < 0xDC00 || *low > 0xDFFF) return Bad("a low surrogate");
            v = 0x10000 + ((v - 0xD800) << 10) + (*low - 0xDC00);
          } else if (v >= 0xDC00 && v <= 0xDFFF) {
            return Bad("no lone surrogate");
          }
          AppendUtf8(out, v);
          break;
        }
        default: return Bad("a valid escape");
      }
    }
    return Bad("the end of the string");
  }
  Status ReadValue(std::optional<std::string>& out) {
    if (pos_ < s_.size() && s_[pos_] == '"') {
      std::string v;
      SB_RETURN_IF_ERROR(ReadString(v));
      out = std::move(v);
      return Status::Ok();
    }
    if (EatWord("true")) {
      out = "true";
      return Status::Ok();
    }
    if (EatWord("false")) {
      out = "false";
      return Status::Ok();
    }
    if (EatWord("null")) return Status::Ok();
    std::size_t start = pos_;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) != 0 || s_[pos_] == '-' ||
                                s_[pos_] == '+' || s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
    }
    if (pos_ == start) return Bad("a string, number, boolean or null");
    out = std::string(s_.substr(start, pos_ - start));
    return Status::Ok();
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  out.reserve(s.size() + 2);
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t n = xml::Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      std::string_view seq = s.substr(i, n);
      if (seq == "\xE2\x80\xA8") {
        out += "\\u2028";
      } else if (seq == "\xE2\x80\xA9") {
        out += "\\u2029";
      } else {
        out += seq;
      }
      i += n;
      continue;
    }
    char c = s[i++];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '<':
      case '>':
      case '&':
      case '\'': out += fmt::format("\\u{:04x}", static_cast<int>(c)); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_) out_ += ',';
  first_ = false;
}

JsonWriter& JsonWriter::BeginObject() {
  Separate();
  out_ += '{';
  first_ = true;
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  out_ += '}';
  first_ = false;
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  Separate();
  out_ += '[';
  first_ = true;
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  out_ += ']';
  first_ = false;
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view name) {
  Separate();
  out_ += JsonQuote(name);
  out_ += ':';
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::String(std::string_view s) {
  Separate();
  out_ += JsonQuote(s);
  return *this;
}
JsonWriter& JsonWriter::Int(std::int64_t n) {
  Separate();
  out_ += std::to_string(n);
  return *this;
}
JsonWriter& JsonWriter::Double(double d) {
  Separate();
  out_ += std::isfinite(d) ? fmt::format("{}", d) : "null";
  return *this;
}
JsonWriter& JsonWriter::Bool(bool b) {
  Separate();
  out_ += b ? "true" : "false";
  return *this;
}
JsonWriter& JsonWriter::Null() {
  Separate();
  out_ += "null";
  return *this;
}
JsonWriter& JsonWriter::OptionalString(const std::optional<std::string>& s) {
  return s ? String(*s) : Null();
}

Result<std::map<std::string, std::string>> ParseFlatObject(std::string_view text) {
  return Reader(text).Object();
}

}  // namespace stagebridge::console
