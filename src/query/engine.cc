// engine.cc — choosing the database, checking rights, running the SELECT.
#include "query/engine.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "schema/table_specs.h"
#include "xml/document.h"

namespace stagebridge::query {
namespace {

Status Unavailable(std::string_view which) {
  return CodedError(Status::Code::kUnavailable, codes::kUnavailable,
                    fmt::format("The {} database is unavailable; the query was not run. Retry later.", which));
}

}  // namespace

Engine::Engine(const schema::SchemaSet& schemas, EngineOptions options)
    : schemas_(schemas),
      options_(std::move(options)),
      local_(options_.local_url, std::max(1, options_.connections)),
      cloud_(options_.cloud_url, std::max(1, options_.connections)) {}

Result<QueryResult> Engine::Execute(const QueryDef& query, const auth::Operator* reader) {
  const schema::Schema* schema = schemas_.Find(query.schema);
  if (schema == nullptr) {
    return CodedError(
        Status::Code::kNotFound, codes::kUnknownSchema,
        fmt::format("The schema '{}' is unknown: no data schema of that name can be queried.", Quote(query.schema)));
  }
  if (reader != nullptr && !reader->CanWrite(schema->id())) {
    return CodedError(Status::Code::kPermissionDenied, codes::kNotAllowed,
                      fmt::format("The operator '{}' has no right to read schema '{}'.", xml::Printable(reader->login),
                                  schema->id()));
  }
  bool cloud = schema::PlacementOf(*schema) == schema::Placement::kCloud;
  std::string_view which = cloud ? "cloud" : "local";
  store::ConnectionPool& pool = cloud ? cloud_ : local_;
  Result<store::ConnectionPool::Lease> lease = pool.Acquire();
  if (!lease.ok()) {
    spdlog::warn("query on {}: {}", schema->id(), lease.status().ToString());
    return Unavailable(which);
  }
  store::Database& db = **lease;
  SB_ASSIGN_OR_RETURN(CompiledQuery compiled, Compile(query, *schema, db.kind(), options_.compile));

  QueryResult result;
  result.operation = query.operation;
  result.element = compiled.element;
  result.columns = compiled.columns;
  Status status = db.BeginReadOnly(options_.timeout);
  if (status.ok()) {
    status = db.QueryStream(compiled.sql, compiled.params, [&](const store::Row& row) {
      if (query.operation == Operation::kCount) {
        if (!row.empty()) {
          if (const auto* n = std::get_if<std::int64_t>(&row[0])) result.count = *n;
        }
        return true;
      }
      std::vector<std::optional<std::string>> values;
      values.reserve(row.size());
      for (std::size_t i = 0; i < row.size() && i < compiled.columns.size(); ++i) {
        if (store::IsNull(row[i])) {
          values.emplace_back();
        } else {
          values.emplace_back(FormatValue(row[i], compiled.columns[i].type));
        }
      }
      result.rows.push_back(std::move(values));
      return true;
    });
  }
  if (status.ok()) {
    status = db.Commit();
  } else {
    (void)db.Rollback();
  }
  if (!status.ok()) {
    if (status.code() == Status::Code::kDeadlineExceeded) {
      spdlog::warn("query on {} cancelled after {} ms", schema->id(), options_.timeout.count());
      return CodedError(Status::Code::kDeadlineExceeded, codes::kUnavailable,
                        fmt::format("The query on schema '{}' did not finish within {} s (query_timeout) and was "
                                    "cancelled.",
                                    schema->id(), static_cast<double>(options_.timeout.count()) / 1000.0));
    }
    if (status.code() == Status::Code::kUnavailable) {
      lease->Discard();
      spdlog::warn("query on {}: {}", schema->id(), status.ToString());
      return Unavailable(which);
    }
    Result<bool> exists = db.TableExists(schema->sql_table);
    if (exists.ok() && !*exists) {
      return CodedError(Status::Code::kFailedPrecondition, "QRY-200013",
                        fmt::format("The table of schema '{}' does not exist in the {} database yet: run "
                                    "`stagebridge schema apply`.",
                                    schema->id(), which));
    }
    // The SQL is ours: what the database refused is a value it could not
    // evaluate (an overflow, say). The database's text goes to the log only.
    spdlog::warn("query on {} failed: {}", schema->id(), status.ToString());
    return CodedError(Status::Code::kInvalidArgument, codes::kTypeMismatch,
                      fmt::format("The {} database could not evaluate the query on schema '{}' (a value out of range "
                                  "or of the wrong type).",
                                  which, schema->id()));
  }
  if (query.operation == Operation::kGet && result.rows.empty()) {
    return CodedError(Status::Code::kNotFound, codes::kNoRecord,
                      fmt::format("No record of schema '{}' matches the query (operation get).", schema->id()));
  }
  return result;
}

}  // namespace stagebridge::query
