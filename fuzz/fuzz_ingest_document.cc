// fuzz_ingest_document.cc — libFuzzer target: the bytes are an XML document,
// parsed as a request body is (xml::ParseXml with the request limits), whose
// root is decoded as the domDoc of Ingest and of IngestExt
// (staging::DecodeDocument) against the built-in schemas plus dem:sampleTable.
//
// Beyond memory errors, UB, uncaught exceptions and hangs, it checks the
// decoder's contract (fuzz_common.h; STAGEBRIDGE_FUZZ_MEMORY_ONLY=1 skips it):
//   * an error carries an STG-2000xx code and a message a strict XML parser
//     accepts once escaped (it becomes a faultstring);
//   * a decoded record targets a staging schema, names each column once, starts
//     with the id, holds only valid UTF-8 text without characters XML forbids
//     (what the cloud database and clients will have to take), and its SQL is
//     built from schema identifiers only (no quote, no semicolon);
//   * ParseXml refuses what a conforming parser refuses and pugixml lets through:
//     several root elements, control characters (raw or as character
//     references), other characters XML forbids (&#0;, &#xD800;, &#x110000;),
//     references to undeclared entities.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "staging/record.h"
#include "staging/writer.h"
#include "xml/document.h"

using namespace stagebridge;

namespace {

// The limits soap::ParseCall applies to request bodies.
const xml::ParseLimits kRequestLimits{.max_depth = 32, .max_attributes_per_element = 512, .max_bytes = 64u << 20};

bool SqlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ' ' ||
         c == ',' || c == '(' || c == ')' || c == '$' || c == '=' || c == '.' || c == '>';
}

void CheckRecord(const staging::StagedRecord& rec) {
  if (rec.stg == nullptr || !rec.stg->is_staging()) fuzz::Violation("a record does not target a staging schema", "");
  if (rec.attrs.size() != rec.values.size() || rec.attrs.empty()) fuzz::Violation("attrs and values disagree", "");
  if (rec.attrs[0] == nullptr || rec.attrs[0]->name != "id") fuzz::Violation("the id is not the first value", "");
  std::set<std::string> names;
  for (std::size_t i = 0; i < rec.attrs.size(); ++i) {
    if (rec.attrs[i] == nullptr) fuzz::Violation("null attribute", "");
    if (!names.insert(rec.attrs[i]->sql_name).second) {
      fuzz::Violation("a record names the same column twice (duplicate XML attribute accepted)", rec.attrs[i]->name);
    }
    if (const auto* text = std::get_if<std::string>(&rec.values[i])) {
      if (text->find('\0') != std::string::npos) fuzz::Violation("a value holds a NUL", *text);
      fuzz::CheckXmlText("a decoded value is not valid UTF-8 of XML characters (stored as is)", *text);
    }
  }
  for (const std::string& k : rec.key) {
    if (rec.stg->FindAttribute(k) == nullptr) fuzz::Violation("a key field is not an attribute", k);
  }
  std::string sql = staging::StagingSql(rec);
  for (char c : sql) {
    if (!SqlChar(c)) fuzz::Violation("the staging SQL holds a character no schema identifier has", sql);
  }
}

// What a conforming XML parser must refuse, found by a scan independent of
// pugixml: a character reference to a character XML forbids (&#0;, &#xD800;,
// &#x110000;, …) or a reference to an entity that is not one of the five
// predefined ones (no DOCTYPE can declare others). Comments, CDATA sections and
// processing instructions are skipped. Returns a description, or "" when none.
std::string IllegalReference(std::string_view text) {
  std::size_t i = 0;
  auto skip_to = [&](std::string_view end) {
    std::size_t p = text.find(end, i);
    i = p == std::string_view::npos ? text.size() : p + end.size();
  };
  while (i < text.size()) {
    std::string_view rest = text.substr(i);
    if (rest.starts_with("<!--")) {
      i += 4;
      skip_to("-->");
    } else if (rest.starts_with("<![CDATA[")) {
      i += 9;
      skip_to("]]>");
    } else if (rest.starts_with("<?")) {
      i += 2;
      skip_to("?>");
    } else if (rest.starts_with("&#")) {
      bool hex = rest.size() > 2 && rest[2] == 'x';
      std::size_t j = hex ? 3 : 2;
      std::uint64_t cp = 0;
      bool any = false;
      for (; j < rest.size() && j < 40; ++j) {
        char c = rest[j];
        int d = c >= '0' && c <= '9'          ? c - '0'
                : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                              : -1;
        if (d < 0) break;
        any = true;
        cp = cp * (hex ? 16 : 10) + static_cast<std::uint64_t>(d);
        if (cp > 0x10FFFF) cp = 0x110000;  // saturate
      }
      if (any && j < rest.size() && rest[j] == ';' && !fuzz::IsXmlChar(static_cast<std::uint32_t>(cp))) {
        return std::string(rest.substr(0, j + 1));
      }
      i += 2;
    } else if (rest.starts_with("&")) {
      std::size_t semi = rest.find(';');
      std::string_view name = semi == std::string_view::npos ? rest.substr(1, 0) : rest.substr(1, semi - 1);
      bool word = !name.empty() && name.size() < 40;
      for (char c : name)
        word = word && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
      if (word && name != "amp" && name != "lt" && name != "gt" && name != "quot" && name != "apos") {
        return std::string(rest.substr(0, semi + 1));
      }
      i += 1;
    } else {
      i += 1;
    }
  }
  return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const schema::SchemaSet& schemas = fuzz::Schemas();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = xml::ParseXml(text, "request body", kRequestLimits);
  if (!parsed.ok()) {
    if (fuzz::ContractChecks())
      fuzz::CheckXmlText("a parse error message (it becomes a faultstring)", parsed.status().message());
    return 0;
  }
  pugi::xml_node root = (*parsed)->document_element();
  if (fuzz::ContractChecks()) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      auto c = static_cast<unsigned char>(text[i]);
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        fuzz::Violation("ParseXml accepted a raw control character XML forbids", text, i);
      }
    }
    std::string bad = IllegalReference(text);
    if (!bad.empty()) fuzz::Violation("ParseXml accepted an illegal character or entity reference", bad);
    int roots = 0;
    for (pugi::xml_node n = (*parsed)->first_child(); n; n = n.next_sibling()) roots += n.type() == pugi::node_element;
    if (roots != 1) fuzz::Violation("ParseXml accepted a document with several root elements", root.name());
  }
  for (staging::Mode mode : {staging::Mode::kIngest, staging::Mode::kIngestExt}) {
    auto doc = staging::DecodeDocument(root, schemas, mode);
    if (!fuzz::ContractChecks()) continue;
    if (!doc.ok()) {
      const std::string& message = doc.status().message();
      if (!message.starts_with("STG-2000")) fuzz::Violation("a decode error without an STG-2000xx code", message);
      fuzz::CheckXmlText("a decode error message (it becomes a faultstring)", message);
      continue;
    }
    if (doc->records.empty() || doc->records.size() != doc->returned_ids.size()) {
      fuzz::Violation("records and returned ids disagree", "");
    }
    for (std::size_t i = 0; i < doc->records.size(); ++i) {
      CheckRecord(doc->records[i]);
      const std::string& id = doc->returned_ids[i];
      if (!id.empty() && id.size() != 36) fuzz::Violation("a returned id is not a uuid", id);
    }
  }
  return 0;
}
