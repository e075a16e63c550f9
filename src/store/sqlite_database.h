// sqlite_database.h — the SQLite driver of store::Database.
//
// Private to the store module: other modules reach it through OpenDatabase().
// The file is opened in WAL mode with synchronous=FULL (an acknowledged commit
// survives a crash or power loss), foreign keys on and a 10 s busy timeout.
// Writers take the lock up front (BEGIN IMMEDIATE) so that two transactions
// never deadlock upgrading a read lock. $N placeholders are rewritten to ?N.
// Prepared statements are cached by SQL text (LRU).
//
// Catalog: ListIndexes reports every index SQLite has for the table, including
// the sqlite_autoindex_<table>_N indexes behind PRIMARY KEY and UNIQUE
// constraints (a single-column INTEGER PRIMARY KEY is the rowid and has none).
//
// Thread-safety: one connection opened without SQLite's mutex; not thread-safe.
#pragma once

#include <chrono>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <sqlite3.h>

#include "store/database.h"

namespace stagebridge::store {

class SqliteDatabase final : public Database {
 public:
  // REQUIRES: url.kind == DialectKind::kSqlite.
  static Result<std::unique_ptr<Database>> Open(const DatabaseUrl& url);
  ~SqliteDatabase() override;

  DialectKind kind() const override { return DialectKind::kSqlite; }
  Result<std::int64_t> Execute(std::string_view sql, const Params& params) override;
  Status ExecuteScript(std::string_view sql) override;
  Result<std::vector<Row>> Query(std::string_view sql, const Params& params) override;
  Status QueryStream(std::string_view sql, const Params& params, const RowCallback& on_row) override;
  Status Begin() override;
  Status BeginReadOnly(std::chrono::milliseconds statement_timeout) override;
  Status Commit() override;
  Status Rollback() override;
  bool in_transaction() const override { return in_transaction_; }
  Result<std::int64_t> BulkInsert(std::string_view table, const std::vector<std::string>& columns,
                                  const RowSource& next_row) override;
  Result<bool> TableExists(std::string_view table) override;
  Result<std::vector<ColumnInfo>> ListColumns(std::string_view table) override;
  Result<std::vector<IndexInfo>> ListIndexes(std::string_view table) override;

 private:
  struct StatementDeleter {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

  // A prepared statement checked out of the cache; back into it (reset, with
  // its bindings cleared) when this goes out of scope. Checking out rather than
  // sharing keeps a statement that is being stepped safe from eviction and from
  // reuse by a callback that runs SQL of its own.
  class CachedStatement {
   public:
    CachedStatement(SqliteDatabase* db, std::string key, StatementPtr stmt)
        : db_(db), key_(std::move(key)), stmt_(std::move(stmt)) {}
    CachedStatement(CachedStatement&& other) noexcept = default;
    CachedStatement& operator=(CachedStatement&&) = delete;
    ~CachedStatement();
    sqlite3_stmt* Get() const { return stmt_.get(); }

   private:
    SqliteDatabase* db_;
    std::string key_;
    StatementPtr stmt_;
  };

  static constexpr std::size_t kMaxCachedStatements = 64;

  SqliteDatabase(sqlite3* db, std::string redacted_url);

  Result<CachedStatement> Prepare(std::string_view sql);
  void Return(std::string key, StatementPtr stmt);
  Status Bind(sqlite3_stmt* stmt, const Params& params);
  // The Status for a SQLite result code, with the connection's error message.
  Status Error(int rc) const;
  Status Exec(const char* sql);

  // Called by SQLite every kProgressSteps virtual-machine steps: interrupts a
  // statement past its deadline.
  static int OnProgress(void* self);
  // Ends a read-only transaction's settings (Commit, Rollback).
  void EndReadOnly();

  sqlite3* db_;
  std::string redacted_url_;
  bool in_transaction_ = false;
  bool read_only_ = false;
  std::chrono::milliseconds statement_timeout_{0};              // 0 = none
  std::chrono::steady_clock::time_point statement_deadline_{};  // of the statement being run
  bool timed_out_ = false;                                      // the last interrupt was the deadline
  // Most recently returned first.
  std::list<std::pair<std::string, StatementPtr>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, StatementPtr>>::iterator> cache_;
};

// Rewrites PostgreSQL-style $N placeholders as SQLite's ?N, leaving string
// literals, quoted identifiers and comments untouched. Exposed for tests.
std::string TranslatePlaceholders(std::string_view sql);

// SQLite's ALTER TABLE … ADD COLUMN refuses a NOT NULL column without a default
// (even on an empty table) and a non-constant default such as CURRENT_TIMESTAMP.
// This recreates the table from its stored CREATE TABLE text with
// `column_definitions` added after the last column, copies the rows across
// (new columns take their defaults), and restores indexes and triggers.
// REQUIRES: the table exists; a transaction is open; a NOT NULL column without a
// default is only added to an empty table.
Status SqliteAddColumnsByRebuild(Database& db, std::string_view table,
                                 const std::vector<std::string>& column_definitions);

}  // namespace stagebridge::store
