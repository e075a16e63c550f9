// document.cc — secure XML parsing and the small XML helpers.
#include "xml/document.h"

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
  std::vector<Frame> stack{{root, 0}};
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
                                                     f.node.name(), limits.max_attributes_per_element));
        }
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
    return Status::InvalidArgument(fmt::format("{}: unsupported encoding '{}'", what, encoding));
  }
  if (!IsValidUtf8(text)) return Status::InvalidArgument(fmt::format("{}: invalid UTF-8", what));

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

std::string Escape(std::string_view text, char quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
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
  }
  return out;
}

}  // namespace stagebridge::xml
