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
//     built from schema identifiers only (no quote, no semicolon).
#include <cstddef>
#include <cstdint>
#include <set>
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
