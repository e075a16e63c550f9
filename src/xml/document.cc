// document.cc — secure XML parsing and the small XML helpers.
#include "xml/document.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

namespace stagebridge::xml {
namespace {

// Converts ISO-8859-1 bytes to UTF-8.
std::string Latin1ToUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 8);
  for (unsigned char c : in) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

// Reads the encoding pseudo-attribute of a leading XML declaration, lower-cased.
std::string DeclaredEncoding(std::string_view text) {
  if (text.substr(0, 5) != "<?xml") return {};
  auto end = text.find("?>");
  if (end == std::string_view::npos) return {};
  std::string_view decl = text.substr(0, end);
  auto pos = decl.find("encoding");
  if (pos == std::string_view::npos) return {};
  pos = decl.find_first_of("\"'", pos);
  if (pos == std::string_view::npos) return {};
  char q = decl[pos];
  auto close = decl.find(q, pos + 1);
  if (close == std::string_view::npos) return {};
  std::string enc(decl.substr(pos + 1, close - pos - 1));
  for (char& c : enc) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return enc;
}

// Is `cp` a character XML 1.0 allows (the Char production)?
bool IsXmlChar(std::uint64_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
         (cp >= 0x10000 && cp <= 0x10FFFF);
}

// What pugixml lets through but XML forbids, checked on the raw text before
// parsing: raw control characters, '<' inside an attribute value, and any '&'
// that is not one of the five predefined entities or a reference to an allowed
// character (pugixml would keep "&xxe;" as text and decode "&#0;" into a NUL).
// Comments, CDATA sections and processing instructions are skipped.
Status CheckRawText(std::string_view t, std::string_view what) {
  auto bad = [&](std::size_t pos, std::string_view why) {
    return Status::InvalidArgument(fmt::format("{}: {} at offset {}", what, why, pos));
  };
  // Control characters are refused anywhere, comments and declarations included.
  for (std::size_t i = 0; i < t.size(); ++i) {
    auto c = static_cast<unsigned char>(t[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) return bad(i, "control character");
  }
  bool in_tag = false;
  char quote = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    auto c = static_cast<unsigned char>(t[i]);
    if (!in_tag) {
      if (c == '<') {
        auto skip = [&](std::string_view open, std::string_view close) {
          if (t.substr(i, open.size()) != open) return false;
          auto end = t.find(close, i + open.size());
          i = end == std::string_view::npos ? t.size() : end + close.size() - 1;
          return true;
        };
        if (skip("<!--", "-->") || skip("<![CDATA[", "]]>") || skip("<?", "?>")) continue;
        in_tag = true;
      }
    } else if (quote != 0) {
      if (c == static_cast<unsigned char>(quote)) {
        quote = 0;
      } else if (c == '<') {
        return bad(i, "'<' inside an attribute value");
      }
    } else if (c == '"' || c == '\'') {
      quote = static_cast<char>(c);
    } else if (c == '>') {
      in_tag = false;
    }
    if (c != '&') continue;
    auto semi = t.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) return bad(i, "unterminated or unknown entity reference");
    std::string_view ref = t.substr(i + 1, semi - i - 1);
    if (ref == "amp" || ref == "lt" || ref == "gt" || ref == "quot" || ref == "apos") {
      i = semi;
      continue;
    }
    if (ref.size() < 2 || ref[0] != '#') return bad(i, "unknown entity reference");
    bool hex = ref[1] == 'x';
    std::string_view digits = ref.substr(hex ? 2 : 1);
    std::uint64_t cp = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || !IsXmlChar(cp)) {
      return bad(i, "reference to a character XML does not allow");
    }
    i = semi;
  }
  return Status::Ok();
}

// Duplicate attribute names on one element (pugixml keeps both).
bool HasDuplicateAttribute(pugi::xml_node node) {
  // The usual handful of attributes: compared pairwise, nothing allocated.
  constexpr std::size_t kFew = 16;
  std::array<std::string_view, kFew> few;
  std::size_t n = 0;
  for (auto a = node.first_attribute(); a && n < kFew; a = a.next_attribute()) {
    std::string_view name = a.name();
    for (std::size_t i = 0; i < n; ++i) {
      if (few[i] == name) return true;
    }
    few[n++] = name;
  }
  if (n < kFew) return false;
  std::vector<std::string_view> names;
  for (auto a = node.first_attribute(); a; a = a.next_attribute()) names.emplace_back(a.name());
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) != names.end();
}

bool HasDoctype(std::string_view text) {
  // A DOCTYPE can only appear in the prolog, before the root element; scanning the
  // whole text is simpler and also refuses one hidden after a comment.
  auto pos = text.find("<!");
  while (pos != std::string_view::npos) {
    std::string_view rest = text.substr(pos + 2);
    if (rest.size() >= 7) {
      std::string head(rest.substr(0, 7));
      for (char& c : head) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (head == "DOCTYPE" || head.starts_with("ENTITY")) return true;
    }
    pos = text.find("<!", pos + 2);
  }
  return false;
}

Status CheckShape(pugi::xml_node root, const ParseLimits& limits, std::string_view what) {
  // Iterative walk: a depth bomb must not blow our own stack.
  struct Frame {
    pugi::xml_node node;
    std::size_t depth;
  };
  std::vector<Frame> stack;
  stack.reserve(32);  // an envelope's elements fit: one allocation per document
  stack.push_back({root, 0});
  while (!stack.empty()) {
    Frame f = stack.back();
    stack.pop_back();
    if (f.depth > limits.max_depth) {
      return Status::InvalidArgument(fmt::format("{}: elements nested deeper than {} levels", what, limits.max_depth));
    }
    if (f.node.type() == pugi::node_element) {
      std::size_t count = 0;
      for (auto a = f.node.first_attribute(); a; a = a.next_attribute()) {
        if (++count > limits.max_attributes_per_element) {
          return Status::InvalidArgument(fmt::format("{}: element <{}> has more than {} attributes", what,
                                                     Printable(f.node.name()), limits.max_attributes_per_element));
        }
      }
      if (HasDuplicateAttribute(f.node)) {
        return Status::InvalidArgument(
            fmt::format("{}: element <{}> has the same attribute twice", what, Printable(f.node.name())));
      }
    }
    for (auto child = f.node.first_child(); child; child = child.next_sibling()) {
      if (child.type() == pugi::node_element) stack.push_back({child, f.depth + 1});
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Result<std::unique_ptr<pugi::xml_document>> ParseXml(std::string_view text, std::string_view what,
                                                     const ParseLimits& limits, std::string_view fallback_encoding) {
  if (text.size() > limits.max_bytes) {
    return Status::InvalidArgument(fmt::format("{}: document larger than {} bytes", what, limits.max_bytes));
  }
  if (HasDoctype(text)) {
    return Status::InvalidArgument(fmt::format("{}: DOCTYPE and entity declarations are not allowed", what));
  }
  std::string converted;
  std::string encoding = DeclaredEncoding(text);
  if (encoding.empty()) {
    encoding = std::string(fallback_encoding);
    for (char& c : encoding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (encoding == "iso-8859-1" || encoding == "latin1" || encoding == "latin-1" || encoding == "iso8859-1") {
    converted = Latin1ToUtf8(text);
    text = converted;
  } else if (!encoding.empty() && encoding != "utf-8" && encoding != "utf8" && encoding != "us-ascii") {
    return Status::InvalidArgument(fmt::format("{}: unsupported encoding '{}'", what, Printable(encoding)));
  }
  if (!IsValidUtf8(text)) return Status::InvalidArgument(fmt::format("{}: invalid UTF-8", what));
  SB_RETURN_IF_ERROR(CheckRawText(text, what));

  auto doc = std::make_unique<pugi::xml_document>();
  // parse_default minus DOCTYPE handling; parse_ws_pcdata off so whitespace-only
  // text around DOM children disappears. Encoding forced to UTF-8: we converted.
  unsigned options = pugi::parse_default | pugi::parse_declaration;
  pugi::xml_parse_result parsed = doc->load_buffer(text.data(), text.size(), options, pugi::encoding_utf8);
  if (!parsed) {
    return Status::InvalidArgument(
        fmt::format("{}: malformed XML at offset {}: {}", what, parsed.offset, parsed.description()));
  }
  if (!doc->document_element()) return Status::InvalidArgument(fmt::format("{}: no root element", what));
  std::size_t roots = 0;
  for (pugi::xml_node n = doc->first_child(); n; n = n.next_sibling()) roots += n.type() == pugi::node_element;
  if (roots != 1) return Status::InvalidArgument(fmt::format("{}: content after the root element", what));
  SB_RETURN_IF_ERROR(CheckShape(doc->document_element(), limits, what));
  return doc;
}

std::string_view LocalName(std::string_view qualified) {
  auto pos = qualified.find(':');
  return pos == std::string_view::npos ? qualified : qualified.substr(pos + 1);
}

std::string_view Prefix(std::string_view qualified) {
  auto pos = qualified.find(':');
  return pos == std::string_view::npos ? std::string_view{} : qualified.substr(0, pos);
}

std::string_view NamespaceUri(pugi::xml_node node, std::string_view prefix) {
  std::string attr_name = prefix.empty() ? std::string("xmlns") : "xmlns:" + std::string(prefix);
  for (; node; node = node.parent()) {
    if (node.type() != pugi::node_element) continue;
    if (auto a = node.attribute(attr_name.c_str())) return a.value();
  }
  return {};
}

std::string_view Attr(pugi::xml_node node, const char* name, std::string_view fallback) {
  pugi::xml_attribute a = node.attribute(name);
  return a ? std::string_view(a.value()) : fallback;
}

std::optional<bool> ParseBool(std::string_view text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0" || text.empty()) return false;
  return std::nullopt;
}

std::size_t Utf8SequenceLength(std::string_view text, std::size_t i) {
  auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) return 1;
  std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || i + len > text.size()) return 0;
  return IsValidUtf8(text.substr(i, len)) ? len : 0;
}

namespace {

// Appends text with the given per-character escaper, fixing what XML cannot hold.
template <typename OnAscii>
std::string Clean(std::string_view text, bool escape_newlines, OnAscii on_ascii) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      bool control = (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F ||
                     (escape_newlines && (c == '\n' || c == '\r' || c == '\t'));
      if (control) {
        out += fmt::format("\\x{:02x}", c);
      } else {
        on_ascii(out, static_cast<char>(c));
      }
      ++i;
      continue;
    }
    std::size_t len = Utf8SequenceLength(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace

std::string Escape(std::string_view text, char quote) {
  return Clean(text, false, [quote](std::string& out, char c) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += quote == '"' ? "&quot;" : "\""; break;
      case '\'': out += quote == '\'' ? "&apos;" : "'"; break;
      case '\n': out += quote ? "&#10;" : "\n"; break;
      case '\r': out += "&#13;"; break;
      case '\t': out += quote ? "&#9;" : "\t"; break;
      default: out.push_back(c);
    }
  });
}

std::string Printable(std::string_view text) {
  return Clean(text, true, [](std::string& out, char c) { out.push_back(c); });
}

}  // namespace stagebridge::xml
