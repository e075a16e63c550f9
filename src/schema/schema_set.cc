// schema_set.cc — loading, cross-schema checks and staging derivation.
#include "schema/schema_set.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "schema/parser.h"
#include "schema/staging.h"
#include "schema/table_specs.h"

namespace stagebridge::schema {

Result<std::vector<SchemaSource>> ReadSchemaDirectory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::NotFound(fmt::format("schemas directory '{}' does not exist", dir.string()));
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".xml") files.push_back(entry.path());
  }
  if (ec) return Status::IoError(fmt::format("cannot list '{}': {}", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<SchemaSource> out;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::IoError(fmt::format("cannot read '{}'", path.string()));
    std::ostringstream text;
    text << in.rdbuf();
    out.push_back({path.string(), text.str()});
  }
  return out;
}

Result<SchemaSet> SchemaSet::LoadDirectory(const std::filesystem::path& dir) {
  if (dir.empty()) return Load({});
  SB_ASSIGN_OR_RETURN(auto sources, ReadSchemaDirectory(dir));
  return Load(sources);
}

Result<SchemaSet> SchemaSet::Load(const std::vector<SchemaSource>& user_sources) {
  std::vector<std::string> problems;
  std::map<std::string, Schema> parsed;
  std::set<std::string> from_user;
  auto add = [&](const SchemaSource& src, bool user) {
    Result<Schema> s = ParseSrcSchema(src.text, src.name);
    if (!s.ok()) {
      problems.push_back(s.status().message());
      return;
    }
    std::string id = s->id();
    if (user && from_user.count(id) != 0) {
      problems.push_back(fmt::format("{}: schema '{}' is already defined in {}", src.name, id, parsed[id].source));
      return;
    }
    if (user) from_user.insert(id);
    parsed[id] = std::move(s).value();
  };
  for (const SchemaSource& src : BuiltinSchemaSources()) add(src, false);
  for (const SchemaSource& src : user_sources) add(src, true);

  SchemaSet set;
  std::map<std::string, std::string> tables;  // lower-case SQL table → schema id
  auto claim_table = [&](const Schema& s) {
    std::string lower = s.sql_table;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = tables.emplace(lower, s.id());
    if (!inserted) {
      problems.push_back(fmt::format("{}: element '{}': SQL table '{}' is already used by schema '{}'", s.source,
                                     s.name, s.sql_table, it->second));
    }
  };
  for (auto& [id, s] : parsed) {
    for (const Link& link : s.links) {
      auto target = parsed.find(link.target);
      if (target == parsed.end()) {
        problems.push_back(fmt::format("{}: element '{}', link '{}': unknown target schema '{}'", s.source, s.name,
                                       link.name, link.target));
      } else if (!target->second.autouuid) {
        problems.push_back(fmt::format("{}: element '{}', link '{}': target schema '{}' has no uuid primary key",
                                       s.source, s.name, link.name, link.target));
      }
    }
    claim_table(s);
    if (s.auto_stg) {
      Schema stg = DeriveStagingSchema(s);
      if (parsed.count(stg.id()) != 0) {
        problems.push_back(fmt::format("{}: element '{}': the derived staging schema '{}' is also defined in {}",
                                       s.source, s.name, stg.id(), parsed[stg.id()].source));
        continue;
      }
      claim_table(stg);
      std::string stg_id = stg.id();
      s.stg_schema = stg_id;
      set.schemas_[stg_id] = std::make_shared<const Schema>(std::move(stg));
    }
  }
  // Every identifier that will reach SQL, generated ones included (index names
  // grow with the table name), must be valid before anything is applied.
  auto check_identifiers = [&](const Schema& s) {
    store::TableSpec spec = TableSpecFor(s);
    for (const store::IndexSpec& index : spec.indexes) {
      if (!store::IsValidIdentifier(index.name)) {
        problems.push_back(
            fmt::format("{}: element '{}': generated index name '{}' is longer than 63 characters; "
                        "give the element a shorter sqltable",
                        s.source, s.name, index.name));
      }
    }
  };
  for (const auto& [id, s] : parsed) check_identifiers(s);
  for (const auto& [id, s] : set.schemas_) check_identifiers(*s);
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) {
      if (!msg.empty()) msg += '\n';
      msg += p;
    }
    return Status::InvalidArgument(msg);
  }
  for (auto& [id, s] : parsed) set.schemas_[id] = std::make_shared<const Schema>(std::move(s));  // id: the map key
  return set;
}

const Schema* SchemaSet::Find(std::string_view id) const {
  auto it = schemas_.find(id);
  return it == schemas_.end() ? nullptr : it->second.get();
}

std::vector<const Schema*> SchemaSet::All() const {
  std::vector<const Schema*> out;
  out.reserve(schemas_.size());
  for (const auto& [id, s] : schemas_) out.push_back(s.get());
  return out;
}

}  // namespace stagebridge::schema
