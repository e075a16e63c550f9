// apply.cc — schema application to the cloud and local databases.
#include "schema/apply.h"

#include <map>

#include <fmt/format.h>

namespace stagebridge::schema {
namespace {

store::TableSpec AppliedSchemaSpec() {
  store::TableSpec spec;
  spec.name = kAppliedSchemaTable;
  spec.columns = {
      {"sSchemaId", store::ColumnType::kString, 128, true, ""},
      {"sSqlTable", store::ColumnType::kString, 63, true, ""},
      {"sKind", store::ColumnType::kString, 16, true, ""},
      {"tsApplied", store::ColumnType::kTimestampTz, 0, true, "CURRENT_TIMESTAMP"},
  };
  spec.primary_key = {"sSchemaId"};
  return spec;
}

std::string_view KindOf(const Schema& s) {
  return s.is_staging() ? "staging" : "local";
}

// Applies `specs` to `db` in one transaction (rolled back on dry runs).
Status ApplyTables(store::Database& db, std::vector<TableChange>& changes, const SchemaSet& schemas,
                   Placement placement, const ApplyOptions& options, const std::function<Status()>& extra = nullptr) {
  store::Transaction txn(db);
  SB_RETURN_IF_ERROR(txn.Begin());
  for (const Schema* s : schemas.All()) {
    if (PlacementOf(*s) != placement) continue;
    store::TableSpec spec = TableSpecFor(*s);
    Result<store::MigrationReport> report = store::EnsureTable(db, spec);
    if (!report.ok()) return report.status().WithContext(fmt::format("schema {}, table {}", s->id(), spec.name));
    changes.push_back({s->id(), spec.name, placement, std::move(report).value(), false, 0});
  }
  if (extra) SB_RETURN_IF_ERROR(extra());
  if (options.dry_run) return Status::Ok();  // ~Transaction rolls back
  return txn.Commit();
}

}  // namespace

bool ApplyReport::changed() const {
  for (const TableChange& t : tables) {
    if (t.dropped || t.report.changed()) return true;
  }
  return false;
}

Result<ApplyReport> ApplySchemas(const SchemaSet& schemas, store::Database& local, store::Database& cloud,
                                 const ApplyOptions& options) {
  ApplyReport out;
  {
    store::Transaction txn(local);
    SB_RETURN_IF_ERROR(txn.Begin());
    SB_RETURN_IF_ERROR(store::EnsureTable(local, AppliedSchemaSpec()).status());
    SB_RETURN_IF_ERROR(txn.Commit());
  }

  // Staging tables this product created that no schema stages any more.
  struct Drop {
    std::string schema_id;
    std::string table;
    std::int64_t rows = 0;
  };
  std::vector<Drop> drops;
  SB_ASSIGN_OR_RETURN(auto applied,
                      local.Query(fmt::format("SELECT sSchemaId, sSqlTable FROM {} WHERE sKind = $1 ORDER BY sSchemaId",
                                              kAppliedSchemaTable),
                                  {std::string("staging")}));
  for (const store::Row& row : applied) {
    const auto& id = std::get<std::string>(row[0]);
    const auto& table = std::get<std::string>(row[1]);
    const Schema* s = schemas.Find(id);
    if (s != nullptr && s->is_staging()) continue;
    if (!store::IsValidIdentifier(table)) {
      return Status::Internal(fmt::format("{} lists an invalid table name for {}", kAppliedSchemaTable, id));
    }
    Drop d{id, table, 0};
    SB_ASSIGN_OR_RETURN(bool exists, local.TableExists(table));
    if (exists) {
      SB_ASSIGN_OR_RETURN(auto count, local.Query(fmt::format("SELECT COUNT(*) FROM {}", table)));
      d.rows = std::get<std::int64_t>(count.at(0).at(0));
    }
    if (d.rows > 0 && !options.force) {
      return Status::FailedPrecondition(fmt::format(
          "staging is no longer enabled for {} but its staging table {} still holds {} unmerged row(s); run the "
          "workflow ffdaReplicateStagingData first, or pass --force to drop them",
          std::string_view(id).substr(0, id.size() - 3), table, d.rows));
    }
    drops.push_back(std::move(d));
  }

  SB_RETURN_IF_ERROR(ApplyTables(cloud, out.tables, schemas, Placement::kCloud, options));
  SB_RETURN_IF_ERROR(ApplyTables(local, out.tables, schemas, Placement::kLocal, options, [&]() -> Status {
    for (const Drop& d : drops) {
      SB_RETURN_IF_ERROR(store::DropTable(local, d.table));
      SB_RETURN_IF_ERROR(
          local.Execute(fmt::format("DELETE FROM {} WHERE sSchemaId = $1", kAppliedSchemaTable), {d.schema_id})
              .status());
      TableChange change;
      change.schema_id = d.schema_id;
      change.table = d.table;
      change.dropped = true;
      change.dropped_rows = d.rows;
      out.tables.push_back(std::move(change));
    }
    for (const Schema* s : schemas.All()) {
      if (PlacementOf(*s) != Placement::kLocal) continue;
      SB_RETURN_IF_ERROR(
          local.Execute(fmt::format("DELETE FROM {} WHERE sSchemaId = $1", kAppliedSchemaTable), {s->id()}).status());
      SB_RETURN_IF_ERROR(local
                             .Execute(fmt::format("INSERT INTO {} (sSchemaId, sSqlTable, sKind) VALUES ($1, $2, $3)",
                                                  kAppliedSchemaTable),
                                      {s->id(), s->sql_table, std::string(KindOf(*s))})
                             .status());
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace stagebridge::schema
