// fuzz_common.h — what both fuzz targets share: the schema set they decode
// against (built-ins plus the documentation's sample table) and the checks that
// turn a silent contract violation into a crash libFuzzer reports.
//
// Set STAGEBRIDGE_FUZZ_MEMORY_ONLY=1 to skip the contract checks and look only
// for memory errors, undefined behaviour, uncaught exceptions and hangs.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "schema/schema_set.h"
#include "xml/document.h"

namespace stagebridge::fuzz {

// dem:sampleTable as examples/schemas/dem_sampleTable.xml defines it.
inline constexpr const char* kSampleTable = R"(<srcSchema namespace="dem" name="sampleTable" label="Sample Table">
  <element name="sampleTable" label="Sample Table" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255" label="Test column 1"/>
    <attribute name="testcol2" type="string" length="255" label="Test column 2"/>
  </element>
</srcSchema>)";

inline const schema::SchemaSet& Schemas() {
  static const schema::SchemaSet* set = [] {
    auto loaded = schema::SchemaSet::Load({schema::SchemaSource{"dem_sampleTable.xml", kSampleTable}});
    if (!loaded.ok()) {
      std::fprintf(stderr, "fuzz: cannot load the schemas: %s\n", loaded.status().message().c_str());
      std::abort();
    }
    return new schema::SchemaSet(std::move(loaded).value());
  }();
  return *set;
}

inline bool ContractChecks() {
  static const bool on = [] {
    const char* env = std::getenv("STAGEBRIDGE_FUZZ_MEMORY_ONLY");
    return env == nullptr || std::string_view(env) != "1";
  }();
  return on;
}

// Reports a broken contract and aborts (libFuzzer saves the input). Shows the
// text around byte `at` (or its start), control and non-ASCII bytes as \xNN.
[[noreturn]] inline void Violation(const char* what, std::string_view text, std::size_t at = 0) {
  std::size_t from = at > 120 ? at - 120 : 0;
  std::string shown;
  for (char c : text.substr(from, 300)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      shown += buf;
    } else {
      shown.push_back(c);
    }
  }
  std::fprintf(stderr, "\n*** contract violation: %s\n*** at byte %zu of %zu: %s\n", what, at, text.size(),
               shown.c_str());
  std::abort();
}

// A character XML 1.0 allows in a document (the Char production), given the
// text is valid UTF-8.
inline bool IsXmlChar(std::uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
         (cp >= 0x10000 && cp <= 0x10FFFF);
}

// The offset of the first byte of `text` that is not valid UTF-8 or starts a
// character XML 1.0 forbids; npos when the whole text is fine.
inline std::size_t FirstBadXmlByte(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t cp = s[i];
    std::size_t len = cp < 0x80 ? 1 : (cp & 0xE0) == 0xC0 ? 2 : (cp & 0xF0) == 0xE0 ? 3 : (cp & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > text.size() || !xml::IsValidUtf8(text.substr(i, len))) return i;
    if (len > 1) cp &= len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u;
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (s[i + k] & 0x3Fu);
    if (!IsXmlChar(cp)) return i;
    i += len;
  }
  return std::string_view::npos;
}

// Text a strict XML parser accepts as character data: valid UTF-8 of allowed characters.
inline void CheckXmlText(const char* what, std::string_view text) {
  std::size_t bad = FirstBadXmlByte(text);
  if (bad != std::string_view::npos) Violation(what, text, bad);
}

}  // namespace stagebridge::fuzz
