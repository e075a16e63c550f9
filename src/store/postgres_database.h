// postgres_database.h — the PostgreSQL driver of store::Database, over libpq.
//
// Private to the store module: other modules reach it through OpenDatabase().
// Parameters travel in text format (untyped, so the server infers their types
// from the statement); result cells come back as int64 (int2/int4/int8, bool as
// 0/1), double (float4/float8/numeric), text (everything else) or NULL.
//
// Each session is set up with client_min_messages=warning, client_encoding=UTF8,
// TimeZone=UTC and DateStyle=ISO so that timestamps read back the same way on
// every host. A lost connection is reported as Unavailable; the next call made
// outside a transaction reconnects.
//
// Thread-safety: one connection; not thread-safe (see database.h).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include <libpq-fe.h>

#include "store/database.h"

namespace stagebridge::store {

// The PostgreSQL array literal of `values` ({"a",NULL,"3"}): binds one column of
// many rows as a single parameter (`unnest($1::INTEGER[], …)`), so one prepared
// statement stages any number of rows. Elements are always quoted; NULL is bare.
std::string ArrayLiteral(const std::vector<const Value*>& values);

class PostgresDatabase final : public Database {
 public:
  // REQUIRES: url.kind == DialectKind::kPostgres.
  static Result<std::unique_ptr<Database>> Open(const DatabaseUrl& url);
  ~PostgresDatabase() override;

  DialectKind kind() const override { return DialectKind::kPostgres; }
  Result<std::int64_t> Execute(std::string_view sql, const Params& params) override;
  Result<std::int64_t> ExecuteRepeated(std::string_view sql, const Params& params) override;
  Status StartRepeated(std::string_view sql, const Params& params) override;
  IoWait Advance() override;
  Result<std::int64_t> TakeResult() override;
  int Socket() const override { return PQsocket(conn_); }
  Status ExecuteScript(std::string_view sql) override;
  Result<std::vector<Row>> Query(std::string_view sql, const Params& params) override;
  Status QueryStream(std::string_view sql, const Params& params, const RowCallback& on_row) override;
  Status Begin() override;
  Status BeginReadOnly(std::chrono::milliseconds statement_timeout) override;
  Status Commit() override;
  Status Rollback() override;
  bool in_transaction() const override { return in_transaction_; }
  Status CopyOut(std::string_view select, const std::function<bool(std::string_view data)>& on_data) override;
  Result<std::int64_t> CopyIn(std::string_view table, const std::vector<std::string>& columns,
                              const std::function<Status(std::string& data)>& next_data) override;
  Result<std::int64_t> BulkInsert(std::string_view table, const std::vector<std::string>& columns,
                                  const RowSource& next_row) override;
  Result<bool> TableExists(std::string_view table) override;
  Result<std::vector<ColumnInfo>> ListColumns(std::string_view table) override;
  Result<std::vector<IndexInfo>> ListIndexes(std::string_view table) override;

 private:
  struct ResultDeleter {
    void operator()(PGresult* result) const { PQclear(result); }
  };
  using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

  PostgresDatabase(PGconn* conn, std::string redacted_url);

  // Applies the session settings listed above.
  Status SetUpSession();
  // Reconnects a lost connection when no transaction is open; Unavailable otherwise.
  Status EnsureConnected();
  // Runs one statement with PQexecParams; an error result becomes a Status.
  Result<ResultPtr> Run(std::string_view sql, const Params& params);
  // Runs text with PQexec (several statements allowed, no parameters).
  Result<ResultPtr> RunSimple(const std::string& sql);
  // Ok for a successful result; the error it carries (or the connection's) otherwise.
  Status CheckResult(const PGresult* result);
  Status ErrorFrom(const PGresult* result);
  // Leaves a COPY a statement started by accident, so the connection stays usable.
  void AbandonCopy(ExecStatusType state);
  Status ConnectionLost();
  // Removes the connection's password from a message, should the server echo it.
  std::string Scrub(std::string message) const;
  // The oid of `table` in current_schema() (case-insensitive), or 0 when missing.
  Result<std::int64_t> TableOid(std::string_view table);

  PGconn* conn_;
  std::string redacted_url_;
  // ExecuteRepeated's statements prepared on this connection: SQL text → name.
  // Forgotten when the connection is reset (the server forgot them too).
  std::unordered_map<std::string, std::string> prepared_;
  bool in_transaction_ = false;

  // The statement StartRepeated() has in flight.
  enum class AsyncStage { kIdle, kPreparing, kExecuting, kDone };
  struct Async {
    AsyncStage stage = AsyncStage::kIdle;
    bool flushing = false;   // the output buffer is not all sent yet
    bool just_sent = false;  // all sent just now: no answer can be read before the socket says so
    std::string name;        // the prepared statement
    std::string statement;   // its text, remembered once its Parse succeeded
    Params params;           // kept while the statement is being prepared
    ResultPtr result;        // the first result of the current stage
    Status error;            // a failure outside any result (connection lost)
  };
  // Sends the Bind/Execute of async_.name; false (and async_.error) when it cannot.
  bool SendPrepared(const Params& params);
  Async async_;
};

}  // namespace stagebridge::store
