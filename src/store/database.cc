// database.cc — OpenDatabase(), the factory choosing a driver from the URL.
#include "store/database.h"

#include "store/postgres_database.h"
#include "store/sqlite_database.h"

namespace stagebridge::store {

Result<std::unique_ptr<Database>> OpenDatabase(std::string_view url) {
  SB_ASSIGN_OR_RETURN(DatabaseUrl parsed, ParseDatabaseUrl(url));
  switch (parsed.kind) {
    case DialectKind::kPostgres: return PostgresDatabase::Open(parsed);
    case DialectKind::kSqlite: return SqliteDatabase::Open(parsed);
  }
  return Status::Internal("unknown database kind");
}

}  // namespace stagebridge::store
