// sequence.cc — sequences on PostgreSQL (native) and SQLite (a counter table).
#include "store/sequence.h"

#include <string>

#include "store/table_spec.h"

namespace stagebridge::store {

Status EnsureSequence(Database& db, std::string_view name) {
  if (!IsValidIdentifier(name)) return Status::InvalidArgument("invalid sequence name");
  if (db.kind() == DialectKind::kPostgres) {
    Result<std::int64_t> r = db.Execute("CREATE SEQUENCE IF NOT EXISTS " + std::string(name));
    if (r.ok() || r.status().code() != Status::Code::kAlreadyExists) return r.status();
    return Status::Ok();  // created concurrently by another process
  }
  SB_RETURN_IF_ERROR(
      db.Execute("CREATE TABLE IF NOT EXISTS SbSequence (sName VARCHAR(63) PRIMARY KEY, iValue BIGINT NOT NULL)")
          .status());
  return db.Execute("INSERT OR IGNORE INTO SbSequence (sName, iValue) VALUES ($1, 0)", {std::string(name)}).status();
}

Result<std::vector<std::int64_t>> NextSequenceValues(Database& db, std::string_view name, std::int64_t count) {
  if (!IsValidIdentifier(name)) return Status::InvalidArgument("invalid sequence name");
  std::vector<std::int64_t> out;
  if (count <= 0) return out;
  out.reserve(static_cast<std::size_t>(count));
  if (db.kind() == DialectKind::kPostgres) {
    SB_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT nextval('" + std::string(name) +
                                                "') FROM generate_series(1, $1::bigint) ORDER BY 1",
                                            {count}));
    for (const Row& row : rows) out.push_back(std::get<std::int64_t>(row.at(0)));
    return out;
  }
  SB_ASSIGN_OR_RETURN(auto rows,
                      db.Query("UPDATE SbSequence SET iValue = iValue + $2 WHERE sName = $1 RETURNING iValue",
                               {std::string(name), count}));
  if (rows.size() != 1) return Status::Internal("sequence " + std::string(name) + " does not exist");
  std::int64_t last = std::get<std::int64_t>(rows[0].at(0));
  for (std::int64_t v = last - count + 1; v <= last; ++v) out.push_back(v);
  return out;
}

std::string NextValueExpression(DialectKind kind, std::string_view name) {
  if (kind != DialectKind::kPostgres || !IsValidIdentifier(name)) return {};
  return "nextval('" + std::string(name) + "')";
}

}  // namespace stagebridge::store
