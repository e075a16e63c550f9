// schema_set.h — every schema the product knows: the built-ins, the user's files
// and the staging schemas derived from them, checked as a whole.
//
// Loading is all-or-nothing: when any document is invalid, Load returns every
// problem found (one line each, naming file, element and fault) and no set.
//
// Thread-safety: immutable after Load; share freely.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "schema/model.h"

namespace stagebridge::schema {

// One schema document to load: where it came from and its text.
struct SchemaSource {
  std::string name;  // file path, or "<built-in>/nms_recipient.xml"
  std::string text;
};

// The built-in schema documents shipped with the product (nms:recipient, …).
const std::vector<SchemaSource>& BuiltinSchemaSources();

// Reads every *.xml file directly under `dir`, sorted by name. A missing
// directory is NotFound; an empty one is an empty list.
Result<std::vector<SchemaSource>> ReadSchemaDirectory(const std::filesystem::path& dir);

class SchemaSet {
 public:
  // Compiles the built-ins plus `user_sources`. A user schema with the id of a
  // built-in replaces it (as the platform lets users extend its schemas).
  static Result<SchemaSet> Load(const std::vector<SchemaSource>& user_sources);

  // Built-ins plus every *.xml under `dir` (an empty path means built-ins only).
  static Result<SchemaSet> LoadDirectory(const std::filesystem::path& dir);

  // nullptr when unknown. Accepts source and staging ids ("dem:sampleTableStg").
  const Schema* Find(std::string_view id) const;

  // Every schema, sources and derived staging schemas, ordered by id.
  std::vector<const Schema*> All() const;

 private:
  std::map<std::string, std::shared_ptr<const Schema>, std::less<>> schemas_;
};

}  // namespace stagebridge::schema
