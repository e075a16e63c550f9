// commands_schema.cc — `schema apply`, `schema show`, `schema list`.
#include <iostream>

#include <fmt/format.h>

#include "cli/app.h"
#include "cli/commands.h"
#include "schema/apply.h"
#include "schema/schema_set.h"
#include "schema/schema_xml.h"
#include "store/database.h"

namespace stagebridge::cli {
namespace {

Result<schema::SchemaSet> LoadSchemas(const Config& config, const std::string& override_dir) {
  std::string dir = override_dir.empty() ? config.Get("schemas_dir") : override_dir;
  return schema::SchemaSet::LoadDirectory(dir);
}

int Fail(const Status& status) {
  std::cerr << "stagebridge: " << status.message() << "\n";
  return kExitFailed;
}

std::string Describe(const schema::TableChange& t) {
  if (t.dropped) {
    return t.dropped_rows > 0 ? fmt::format("dropped (staging disabled; {} unmerged row(s) discarded)", t.dropped_rows)
                              : "dropped (staging disabled)";
  }
  const store::MigrationReport& r = t.report;
  std::vector<std::string> parts;
  if (r.created) parts.push_back("created");
  if (!r.created && !r.added_columns.empty()) {
    parts.push_back(fmt::format("added column(s) {}", fmt::join(r.added_columns, ", ")));
  }
  if (!r.created && !r.added_indexes.empty()) {
    parts.push_back(fmt::format("added index(es) {}", fmt::join(r.added_indexes, ", ")));
  }
  if (!r.extra_columns.empty()) {
    parts.push_back(fmt::format("kept column(s) not in the schema: {}", fmt::join(r.extra_columns, ", ")));
  }
  if (!r.type_mismatches.empty()) {
    parts.push_back(fmt::format("WARNING type differs from the schema: {}", fmt::join(r.type_mismatches, ", ")));
  }
  if (parts.empty()) return "unchanged";
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace

int CmdSchemaApply(const Config& config, const SchemaApplyOptions& options) {
  Result<schema::SchemaSet> schemas = LoadSchemas(config, options.schemas_dir);
  if (!schemas.ok()) return Fail(schemas.status().WithContext("no schema applied"));
  auto local = store::OpenDatabase(config.Get("local_db"));
  if (!local.ok()) return Fail(local.status().WithContext("local database"));
  auto cloud = store::OpenDatabase(config.Get("cloud_db"));
  if (!cloud.ok()) return Fail(cloud.status().WithContext("cloud database"));
  schema::ApplyOptions apply_options{options.force, options.dry_run};
  Result<schema::ApplyReport> report = schema::ApplySchemas(*schemas, **local, **cloud, apply_options);
  if (!report.ok()) return Fail(report.status());
  for (const schema::TableChange& t : report->tables) {
    std::cout << fmt::format("{:<5}  {:<28} {:<30} {}\n", t.placement == schema::Placement::kCloud ? "cloud" : "local",
                             t.schema_id, t.table, Describe(t));
  }
  std::cout << (options.dry_run
                    ? "dry run: nothing changed\n"
                    : (report->changed() ? "database structure updated\n" : "database structure up to date\n"));
  return kExitOk;
}

int CmdSchemaShow(const Config& config, const std::string& schemas_dir, const std::string& id, bool internal) {
  Result<schema::SchemaSet> schemas = LoadSchemas(config, schemas_dir);
  if (!schemas.ok()) return Fail(schemas.status());
  const schema::Schema* s = schemas->Find(id);
  if (s == nullptr) return Fail(Status::NotFound(fmt::format("unknown schema '{}'", id)));
  schema::XmlOptions xml_options{internal};
  std::cout << schema::SchemaToXml(*s, xml_options);
  if (!s->stg_schema.empty()) {
    std::cout << "<!-- derived staging schema -->\n";
    std::cout << schema::SchemaToXml(*schemas->Find(s->stg_schema), xml_options);
  }
  return kExitOk;
}

int CmdSchemaList(const Config& config, const std::string& schemas_dir) {
  Result<schema::SchemaSet> schemas = LoadSchemas(config, schemas_dir);
  if (!schemas.ok()) return Fail(schemas.status());
  std::cout << fmt::format("{:<28} {:<30} {:<6} {}\n", "SCHEMA", "TABLE", "DB", "STAGING");
  for (const schema::Schema* s : schemas->All()) {
    std::string staging =
        s->is_staging() ? "staging of " + s->stg_src_schema : (s->stg_schema.empty() ? "-" : s->stg_schema);
    std::cout << fmt::format("{:<28} {:<30} {:<6} {}\n", s->id(), s->sql_table, s->is_cloud() ? "cloud" : "local",
                             staging);
  }
  return kExitOk;
}

int CmdConfigShow(const Config& config) {
  for (const KeyDef& def : ConfigKeys()) {
    std::string value = config.Get(def.key);
    if (def.key == "local_db" || def.key == "cloud_db") {
      if (auto url = store::ParseDatabaseUrl(value); url.ok()) value = url->redacted;
    }
    std::cout << fmt::format("{} = \"{}\"    # {}\n", def.key, value, config.origins.at(def.key));
  }
  return kExitOk;
}

}  // namespace stagebridge::cli
