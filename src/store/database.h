// database.h — the one seam between stagebridge and a SQL database.
//
// A Database is one connection to one database (PostgreSQL through libpq, or an
// SQLite file), opened by OpenDatabase() from a URL:
//   sqlite:data/local.db   sqlite:/abs/path.db   sqlite::memory:
//   postgresql://user:password@host:port/dbname   (also postgres://, and ?host=/socket/dir)
//
// SQL text passed in uses PostgreSQL-style positional placeholders $1, $2, … in
// both dialects (the SQLite driver maps them). Values are always bound. SQL that
// differs between dialects is produced by the Dialect (dialect.h), which lives in
// this module and nowhere else.
//
// Thread-safety: a Database is NOT thread-safe; use one per thread (or guard it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/value.h"

namespace stagebridge::store {

enum class DialectKind { kPostgres, kSqlite };

// Parsed database URL.
struct DatabaseUrl {
  DialectKind kind = DialectKind::kSqlite;
  std::string target;    // SQLite: file path or ":memory:"; PostgreSQL: libpq conninfo URI
  std::string redacted;  // the URL with any password replaced by "***", for logs
};

// Parses a URL; an unknown scheme or an empty path is InvalidArgument.
Result<DatabaseUrl> ParseDatabaseUrl(std::string_view url);

// What the catalog says about one column of an existing table.
struct ColumnInfo {
  std::string name;  // as stored in the catalog (PostgreSQL: lower-case)
  std::string type;  // normalised upper-case SQL type, e.g. "VARCHAR(255)", "BIGINT"
  bool not_null = false;
};

// What the catalog says about one index of an existing table.
struct IndexInfo {
  std::string name;  // as stored in the catalog
  bool unique = false;
  std::vector<std::string> columns;  // in index order, as stored in the catalog
};

// Receives rows of a streaming read one at a time; return false to stop early.
using RowCallback = std::function<bool(const Row& row)>;

// Produces the rows of a bulk load one at a time; returns false when exhausted.
using RowSource = std::function<bool(Row& row)>;

class Database {
 public:
  virtual ~Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  virtual DialectKind kind() const = 0;

  // Runs one statement with bound parameters; returns the number of rows it
  // changed (0 for DDL).
  virtual Result<std::int64_t> Execute(std::string_view sql, const Params& params = {}) = 0;

  // Execute() for a statement the caller runs again and again with other
  // values (the staging writer's): PostgreSQL prepares it once per connection
  // and then only binds and executes it; SQLite caches every statement anyway.
  // Meant for statements whose plan does not depend on the values (INSERTs).
  virtual Result<std::int64_t> ExecuteRepeated(std::string_view sql, const Params& params = {}) {
    return Execute(sql, params);
  }

  // The non-blocking form of ExecuteRepeated, for a caller on an event loop
  // (the staging writer's direct lane): StartRepeated() sends the statement
  // without waiting; then, each time Socket() is ready for what Advance() last
  // asked (kRead or kWrite), the caller calls Advance() again, until it answers
  // kDone; TakeResult() then gives what ExecuteRepeated would have returned.
  // One statement at a time, outside any transaction; a connection used this
  // way is used only this way (it is left in non-blocking mode) and does not
  // reconnect by itself: Unavailable means discard it. SQLite, which has no
  // round trip to wait for, answers FailedPrecondition.
  enum class IoWait { kRead, kWrite, kDone };
  virtual Status StartRepeated(std::string_view sql, const Params& params) {
    (void)sql;
    (void)params;
    return Status::FailedPrecondition("no non-blocking statements on this database");
  }
  virtual IoWait Advance() { return IoWait::kDone; }
  virtual Result<std::int64_t> TakeResult() { return Status::FailedPrecondition("no statement started"); }
  virtual int Socket() const { return -1; }

  // Runs several statements separated by ';' with no parameters (DDL scripts).
  virtual Status ExecuteScript(std::string_view sql) = 0;

  // Runs a query and returns all its rows. For small results only.
  virtual Result<std::vector<Row>> Query(std::string_view sql, const Params& params = {}) = 0;

  // Runs a query and hands rows to `on_row` one at a time without holding the
  // result in memory (PostgreSQL single-row mode, SQLite stepping).
  // REQUIRES: `on_row` does not use this Database (PostgreSQL cannot run a
  // statement while another one streams).
  virtual Status QueryStream(std::string_view sql, const Params& params, const RowCallback& on_row) = 0;

  // Transactions. Begin() while a transaction is open is FailedPrecondition.
  // After Commit() returns no transaction is open, whether it succeeded or not
  // (a COMMIT that fails rolls back); Rollback() with none open does nothing.
  // On PostgreSQL a statement that fails inside a transaction aborts it: later
  // statements fail and Commit() reports FailedPrecondition. On SQLite only the
  // failed statement is undone. Callers roll back on any error either way.
  virtual Status Begin() = 0;
  // Begin() for a transaction that only reads (the query engine's): writes in
  // it fail, and each statement may run at most `statement_timeout` (0 = no
  // limit); one that runs longer is cancelled and fails with DeadlineExceeded.
  // Commit() or Rollback() lifts both. On SQLite the transaction is deferred
  // (it takes no write lock) and holds a snapshot from its first read.
  virtual Status BeginReadOnly(std::chrono::milliseconds statement_timeout) = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
  virtual bool in_transaction() const = 0;

  // Appends rows to `table` (columns in the given order) as fast as the driver
  // can: COPY FROM STDIN on PostgreSQL, a prepared multi-row INSERT on SQLite.
  // `table` and `columns` must be validated identifiers (they are not quoted).
  // Returns the number of rows loaded. Runs inside the caller's transaction if
  // one is open. All or nothing: after an error no row of this call remains.
  virtual Result<std::int64_t> BulkInsert(std::string_view table, const std::vector<std::string>& columns,
                                          const RowSource& next_row) = 0;

  // Raw COPY text, for moving rows between two PostgreSQL databases without
  // decoding them (the sync's staging → cloud stream). CopyOut runs
  // `COPY (select) TO STDOUT` and hands each data row (text format, with its
  // newline) to `on_data`; return false to stop. CopyIn runs `COPY table
  // (columns) FROM STDIN` with the data `next_data` produces (it leaves `data`
  // empty when exhausted; an error aborts the COPY: no row of it remains) and
  // returns the rows loaded. `select` must be built from
  // validated identifiers and integers only (COPY takes no parameters).
  // SQLite: FailedPrecondition (use QueryStream / BulkInsert).
  virtual Status CopyOut(std::string_view select, const std::function<bool(std::string_view data)>& on_data) {
    (void)select;
    (void)on_data;
    return Status::FailedPrecondition("raw COPY needs PostgreSQL");
  }
  virtual Result<std::int64_t> CopyIn(std::string_view table, const std::vector<std::string>& columns,
                                      const std::function<Status(std::string& data)>& next_data) {
    (void)table;
    (void)columns;
    (void)next_data;
    return Status::FailedPrecondition("raw COPY needs PostgreSQL");
  }

  // Catalog. Table and column names compare case-insensitively. ListColumns
  // and ListIndexes of a missing table are NotFound.
  virtual Result<bool> TableExists(std::string_view table) = 0;
  virtual Result<std::vector<ColumnInfo>> ListColumns(std::string_view table) = 0;
  virtual Result<std::vector<IndexInfo>> ListIndexes(std::string_view table) = 0;

 protected:
  Database() = default;
};

// Opens a connection. SQLite files are opened in WAL mode with foreign keys on
// and a busy timeout; the parent directory of the file is created if missing.
// SQLite connections also get two functions PostgreSQL has in its own way, so
// that queries mean the same on both: sb_like(value, pattern) — LIKE matched
// case-sensitively with '\' as the escape (PostgreSQL's LIKE), NULL when either
// is NULL — and sb_to_number(text) — the number a decimal text holds, NULL for
// any other text.
// PostgreSQL connections fail with Unavailable when the server cannot be reached.
Result<std::unique_ptr<Database>> OpenDatabase(std::string_view url);

// RAII transaction: rolls back on destruction unless Commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction() {
    if (active_) {
      (void)db_.Rollback();
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Begin() {
    SB_RETURN_IF_ERROR(db_.Begin());
    active_ = true;
    return Status::Ok();
  }
  Status Commit() {
    active_ = false;
    return db_.Commit();
  }

 private:
  Database& db_;
  bool active_ = false;
};

}  // namespace stagebridge::store
