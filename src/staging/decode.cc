// decode.cc — Ingest / IngestExt documents → staged records.
#include <algorithm>
#include <array>
#include <atomic>
#include <set>

#include <fmt/format.h>
#include <pthread.h>
#include <sodium.h>

#include "staging/record.h"
#include "staging/values.h"
#include "xml/document.h"

namespace stagebridge::staging {
namespace {

constexpr const char* kUnknownSchema = "STG-200001";
constexpr const char* kNotStaged = "STG-200002";
constexpr const char* kUnknownAttribute = "STG-200003";
constexpr const char* kBadKey = "STG-200005";
constexpr const char* kBadOperation = "STG-200007";
constexpr const char* kBadDocument = "STG-200008";

Status Error(const char* code, const std::string& message) {
  return CodedError(Status::Code::kInvalidArgument, code, message);
}

// Resolves xtkschema to the staging schema it writes to.
Result<const schema::Schema*> ResolveSchema(std::string_view xtkschema, const schema::SchemaSet& schemas,
                                            std::string_view element) {
  if (xtkschema.empty()) {
    return Error(kBadDocument, fmt::format("The element <{}> has no xtkschema attribute naming its schema (e.g. "
                                           "xtkschema=\"dem:sampleTableStg\").",
                                           Excerpt(element)));
  }
  const schema::Schema* s = schemas.Find(xtkschema);
  if (s == nullptr) {
    return Error(kUnknownSchema, fmt::format("The schema '{}' named by xtkschema is unknown.", Excerpt(xtkschema)));
  }
  if (s->is_staging()) return s;
  if (!s->stg_schema.empty()) return schemas.Find(s->stg_schema);
  return Error(kNotStaged, fmt::format("The schema '{}' has no staging schema: enable autoStg=\"true\" on it (Ingest "
                                       "and IngestExt write only to staging schemas).",
                                       s->id()));
}

// Parses `_key` ("@id", "@email", "@a,@b") into attribute names, sorted.
Result<std::vector<std::string>> ParseKeyAttr(std::string_view text, const schema::Schema& stg) {
  std::vector<std::string> fields;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with('@')) item.remove_prefix(1);
    if (item.empty()) {
      return Error(kBadKey, fmt::format("The _key '{}' has an empty item.", Excerpt(text)));
    }
    fields.emplace_back(item);
    pos = end + 1;
  }
  std::sort(fields.begin(), fields.end());
  for (const schema::Key& key : stg.keys) {
    std::vector<std::string> kf = key.fields;
    std::sort(kf.begin(), kf.end());
    if (kf == fields) return key.fields;  // in the key's declared order
  }
  std::vector<std::string> known;
  for (const schema::Key& key : stg.keys) {
    std::string k;
    for (const std::string& f : key.fields) k += (k.empty() ? "@" : ",@") + f;
    known.push_back(k);
  }
  return Error(kBadKey, fmt::format("The _key '{}' is neither the primary key nor a declared key of schema '{}' "
                                    "(keys: {}).",
                                    Excerpt(text), stg.id(), fmt::join(known, " | ")));
}

Result<StagedRecord> DecodeRecord(pugi::xml_node el, const schema::Schema& stg, Mode mode, std::string& returned_id) {
  StagedRecord rec;
  rec.stg = &stg;
  const char* method = mode == Mode::kIngest ? "Ingest" : "IngestExt";
  std::string id;
  bool has_id = false;
  std::string key_text;
  bool has_key = false;
  std::string operation;
  bool deleting = false;
  std::set<std::string> seen;

  for (pugi::xml_attribute a = el.first_attribute(); a; a = a.next_attribute()) {
    std::string_view name = a.name();
    std::string_view value = a.value();
    if (name == "xtkschema" || name.starts_with("xmlns")) continue;
    if (name == "_key") {
      key_text = value;
      has_key = true;
      continue;
    }
    if (name == "_operation") {
      operation = value;
      continue;
    }
    if (name == schema::kDeleteAttr) {
      std::optional<bool> b = xml::ParseBool(value);
      if (!b) return Error(kBadOperation, fmt::format("delete=\"{}\" is not a boolean.", Excerpt(value)));
      deleting = deleting || *b;
      continue;
    }
    const schema::Attribute* attr = stg.FindAttribute(name);
    if (attr == nullptr || (attr->role != schema::AttrRole::kBusiness && attr->role != schema::AttrRole::kPrimaryKey)) {
      return Error(kUnknownAttribute,
                   fmt::format("The attribute '{}' is not defined in schema '{}'.", Excerpt(name), stg.id()));
    }
    if (attr->role == schema::AttrRole::kPrimaryKey) {
      SB_RETURN_IF_ERROR(CheckId(value, stg.id()));
      id = value;
      has_id = true;
      continue;
    }
    SB_ASSIGN_OR_RETURN(store::Value v, ConvertValue(*attr, stg.id(), value));
    rec.attrs.push_back(attr);
    rec.values.push_back(std::move(v));
    seen.insert(attr->name);
  }
  for (pugi::xml_node child = el.first_child(); child; child = child.next_sibling()) {
    if (child.type() == pugi::node_element) {
      return Error(kBadDocument, fmt::format("The record <{}> has a child element <{}>: column values are given as "
                                             "attributes.",
                                             Excerpt(el.name()), Excerpt(child.name())));
    }
  }

  if (mode == Mode::kIngest) {
    if (!operation.empty() && operation != "insert") {
      return Error(kBadOperation, fmt::format("Ingest only inserts: _operation=\"{}\" is not allowed (use IngestExt "
                                              "to update or delete).",
                                              Excerpt(operation)));
    }
    if (deleting) return Error(kBadOperation, "Ingest only inserts: delete=\"1\" is not allowed (use IngestExt).");
    rec.op = schema::StgOp::kInsert;
  } else if (operation == "delete") {
    rec.op = schema::StgOp::kDelete;
  } else if (operation.empty() || operation == "insertOrUpdate" || operation == "update" || operation == "insert") {
    rec.op = deleting ? schema::StgOp::kDelete : schema::StgOp::kUpsert;
  } else {
    return Error(kBadOperation, fmt::format("_operation=\"{}\" is not supported by {} (use insertOrUpdate, update, "
                                            "insert or delete).",
                                            Excerpt(operation), method));
  }

  // The reconciliation key.
  if (has_key) {
    SB_ASSIGN_OR_RETURN(rec.key, ParseKeyAttr(key_text, stg));
  } else if (has_id || mode == Mode::kIngest) {
    rec.key = {"id"};
  } else {
    return Error(kBadKey, fmt::format("{} needs a key to reconcile on: give _key (\"@id\" or a declared key) or the "
                                      "id attribute.",
                                      method));
  }
  for (const std::string& field : rec.key) {
    if (field == "id") {
      if (!has_id && (mode == Mode::kIngestExt || has_key)) {
        return Error(kBadKey, "The record has _key=\"@id\" but no id attribute.");
      }
    } else if (seen.count(field) == 0) {
      return Error(kBadKey, fmt::format("The record's key attribute '{}' is missing.", field));
    } else {
      // A key value must identify a row: NULL never matches.
      for (std::size_t i = 0; i < rec.attrs.size(); ++i) {
        if (rec.attrs[i]->name == field && std::holds_alternative<std::string>(rec.values[i]) &&
            std::get<std::string>(rec.values[i]).empty()) {
          return Error(kBadKey, fmt::format("The record's key attribute '{}' is empty.", field));
        }
      }
    }
  }

  // The primary key: the caller's, or a new uuid (returned by Ingest without _key).
  if (!has_id) id = NewUuid();
  returned_id = (has_id || has_key) ? std::string() : id;
  rec.attrs.insert(rec.attrs.begin(), stg.FindAttribute("id"));
  rec.values.insert(rec.values.begin(), store::Value(id));

  if (rec.op == schema::StgOp::kDelete) {
    // A delete carries only its key: other values would be meaningless.
    std::vector<const schema::Attribute*> attrs;
    std::vector<store::Value> values;
    for (std::size_t i = 0; i < rec.attrs.size(); ++i) {
      const std::string& n = rec.attrs[i]->name;
      if (n == "id" || std::find(rec.key.begin(), rec.key.end(), n) != rec.key.end()) {
        attrs.push_back(rec.attrs[i]);
        values.push_back(rec.values[i]);
      }
    }
    rec.attrs = std::move(attrs);
    rec.values = std::move(values);
  }
  return rec;
}

// Prefixes an error with the record's position in its collection, keeping its code first.
Status InRecord(std::size_t index, const Status& status) {
  auto [code, text] = SplitErrorCode(status.message());
  return CodedError(status.code(), code, fmt::format("Record {} of the collection: {}", index, text));
}

}  // namespace

namespace {

// Bumped in the child of every fork(): a pool of random bytes inherited from
// the parent must not be used again, or parent and child would draw the same ids.
std::atomic<unsigned> fork_generation{0};

void AfterForkInChild() {
  fork_generation.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

std::string NewUuid() {
  // Random bytes are drawn from libsodium 4 KiB at a time per thread (the same
  // generator; one getrandom(2) per 256 ids instead of one per id), the pool
  // refilled after a fork.
  static const bool kInitialised = sodium_init() >= 0 && pthread_atfork(nullptr, nullptr, AfterForkInChild) == 0;
  (void)kInitialised;
  thread_local std::array<unsigned char, 4096> pool;
  thread_local std::size_t used = pool.size();
  thread_local unsigned generation = 0;
  unsigned now = fork_generation.load(std::memory_order_relaxed);
  if (used == pool.size() || generation != now) {
    randombytes_buf(pool.data(), pool.size());
    used = 0;
    generation = now;
  }
  unsigned char* b = pool.data() + used;
  used += 16;
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  std::size_t at = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (at == 8 || at == 13 || at == 18 || at == 23) ++at;  // the dashes stay
    out[at++] = kHex[b[i] >> 4];
    out[at++] = kHex[b[i] & 0x0F];
  }
  sodium_memzero(b, 16);  // an id drawn is not kept in the pool
  return out;
}

Result<DecodedDocument> DecodeDocument(pugi::xml_node root, const schema::SchemaSet& schemas, Mode mode) {
  DecodedDocument out;
  std::string_view root_name = root.name();
  bool collection = root_name.ends_with("-collection");
  std::string_view root_schema = xml::Attr(root, "xtkschema");
  if (!collection) {
    SB_ASSIGN_OR_RETURN(const schema::Schema* stg, ResolveSchema(root_schema, schemas, root_name));
    std::string returned;
    SB_ASSIGN_OR_RETURN(StagedRecord rec, DecodeRecord(root, *stg, mode, returned));
    out.records.push_back(std::move(rec));
    out.returned_ids.push_back(std::move(returned));
    return out;
  }
  std::size_t index = 0;
  for (pugi::xml_node el = root.first_child(); el; el = el.next_sibling()) {
    if (el.type() != pugi::node_element) continue;
    ++index;
    if (out.records.size() >= kMaxRecordsPerCall) {
      return Error(kBadDocument, fmt::format("The collection holds more than {} records.", kMaxRecordsPerCall));
    }
    std::string_view xtkschema = xml::Attr(el, "xtkschema", root_schema);
    Result<const schema::Schema*> stg = ResolveSchema(xtkschema, schemas, el.name());
    if (!stg.ok()) return InRecord(index, stg.status());
    std::string returned;
    Result<StagedRecord> rec = DecodeRecord(el, **stg, mode, returned);
    if (!rec.ok()) return InRecord(index, rec.status());
    out.records.push_back(std::move(rec).value());
    out.returned_ids.push_back(std::move(returned));
  }
  if (out.records.empty()) {
    return Error(kBadDocument, fmt::format("The collection <{}> holds no record.", Excerpt(root_name)));
  }
  return out;
}

}  // namespace stagebridge::staging
