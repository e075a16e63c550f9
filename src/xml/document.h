// document.h — hostile-input-safe XML parsing on top of pugixml, and the
// platform's small XML conventions shared by schemas and SOAP requests.
//
// pugixml never expands entities or fetches external DTDs, but it does accept a
// DOCTYPE; ParseXml refuses any DOCTYPE outright, caps nesting depth and the
// number of attributes per element, and refuses invalid UTF-8, so that nothing
// downstream sees a document a malicious peer shaped to hurt us.
//
// Thread-safety: stateless functions; a parsed Document is owned by one thread.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <pugixml.hpp>

#include "base/status.h"

namespace stagebridge::xml {

struct ParseLimits {
  std::size_t max_depth = 64;
  std::size_t max_attributes_per_element = 256;
  std::size_t max_bytes = 64u << 20;
};

// Parses `text` (UTF-8, or ISO-8859-1 when its XML declaration says so, or —
// without a declared encoding — when `fallback_encoding` says so, e.g. the
// charset of the HTTP Content-Type). `what` names the document in error messages
// (a file name, "request body").
Result<std::unique_ptr<pugi::xml_document>> ParseXml(std::string_view text, std::string_view what,
                                                     const ParseLimits& limits = {},
                                                     std::string_view fallback_encoding = {});

// True when `text` is well-formed UTF-8 without overlong forms or surrogates.
bool IsValidUtf8(std::string_view text);

// Length of the valid UTF-8 sequence at text[i], or 0 when it is not one.
// REQUIRES: i < text.size().
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i);

// Local part of a possibly prefixed name: "urn:Ingest" → "Ingest".
std::string_view LocalName(std::string_view qualified);

// Prefix of a qualified name, empty when none: "urn:Ingest" → "urn".
std::string_view Prefix(std::string_view qualified);

// The namespace URI bound to `prefix` in scope at `node` ("" = default namespace).
std::string_view NamespaceUri(pugi::xml_node node, std::string_view prefix);

// Attribute value or `fallback` when absent.
std::string_view Attr(pugi::xml_node node, const char* name, std::string_view fallback = {});

// Parses an XML boolean as the platform writes them: "true"/"1" → true,
// "false"/"0"/"" → false; anything else → nullopt.
std::optional<bool> ParseBool(std::string_view text);

// Escapes text for an attribute value (quote = '"' or '\'') or element content
// ('\0'). The result is always well-formed XML text: characters XML cannot hold
// (control characters other than tab, LF, CR) become the visible text "\xNN",
// and bytes that are not valid UTF-8 become U+FFFD.
std::string Escape(std::string_view text, char quote = '"');

// `text` made safe for a log line or a message: valid UTF-8, control characters
// (newlines included) shown as "\xNN", so a value cannot forge log lines.
std::string Printable(std::string_view text);

}  // namespace stagebridge::xml
