// sqlite_database.cc — the SQLite driver: connection, statement cache, transactions, bulk insert.
#include "store/sqlite_database.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <filesystem>
#include <string>
#include <tuple>

#include "store/table_spec.h"

namespace stagebridge::store {
namespace {

constexpr int kBusyTimeoutMs = 10'000;

Value ColumnValue(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER: return static_cast<std::int64_t>(sqlite3_column_int64(stmt, col));
    case SQLITE_FLOAT: return sqlite3_column_double(stmt, col);
    case SQLITE_TEXT: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)));
    }
    case SQLITE_BLOB: {
      const auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt, col));
      int size = sqlite3_column_bytes(stmt, col);
      return blob == nullptr ? std::string() : std::string(blob, static_cast<std::size_t>(size));
    }
    default: return std::monostate{};
  }
}

Row RowOf(sqlite3_stmt* stmt) {
  int columns = sqlite3_column_count(stmt);
  Row row;
  row.reserve(static_cast<std::size_t>(columns));
  for (int c = 0; c < columns; ++c) {
    row.push_back(ColumnValue(stmt, c));
  }
  return row;
}

bool IsDataChange(std::string_view sql) {
  std::size_t start = sql.find_first_not_of(" \t\r\n(");
  if (start == std::string_view::npos) {
    return false;
  }
  std::string word;
  for (std::size_t i = start; i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i])));
  }
  return word == "INSERT" || word == "UPDATE" || word == "DELETE" || word == "REPLACE" || word == "WITH";
}

}  // namespace

std::string TranslatePlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  std::size_t i = 0;
  auto copy_until = [&](std::string_view terminator) {
    std::size_t end = sql.find(terminator, i);
    end = end == std::string_view::npos ? sql.size() : end + terminator.size();
    out.append(sql.substr(i, end - i));
    i = end;
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"' || c == '`') {
      // A doubled quote inside reads as the literal ending and another starting: same result.
      out += c;
      ++i;
      copy_until(std::string_view(&c, 1));
    } else if (c == '[') {
      copy_until("]");
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      copy_until("\n");
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      copy_until("*/");
    } else if (c == '$' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      out += '?';
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

SqliteDatabase::CachedStatement::~CachedStatement() {
  if (stmt_ != nullptr) {
    db_->Return(std::move(key_), std::move(stmt_));
  }
}

SqliteDatabase::SqliteDatabase(sqlite3* db, std::string redacted_url)
    : db_(db), redacted_url_(std::move(redacted_url)) {}

namespace {

// Bytes of the UTF-8 sequence that starts with `lead` (1 for a stray byte).
std::size_t Utf8Length(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

// PostgreSQL's LIKE: case-sensitive, '%' any run, '_' one character, '\\'
// escapes the next character. Iterative (one backtrack point per '%'), so no
// pattern can make it recurse.
bool MatchLike(std::string_view s, std::string_view p) {
  std::size_t si = 0;
  std::size_t pi = 0;
  std::size_t star_p = std::string_view::npos;
  std::size_t star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '%') {
      star_p = ++pi;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      std::size_t s_len = std::min(Utf8Length(static_cast<unsigned char>(s[si])), s.size() - si);
      if (p[pi] == '_') {
        si += s_len;
        ++pi;
        continue;
      }
      std::size_t at = p[pi] == '\\' && pi + 1 < p.size() ? pi + 1 : pi;
      std::size_t p_len = std::min(Utf8Length(static_cast<unsigned char>(p[at])), p.size() - at);
      if (p_len == s_len && p.substr(at, p_len) == s.substr(si, s_len)) {
        si += s_len;
        pi = at + p_len;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    star_s += std::min(Utf8Length(static_cast<unsigned char>(s[star_s])), s.size() - star_s);
    si = star_s;
    pi = star_p;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

std::string_view TextArg(sqlite3_value* v) {
  const unsigned char* text = sqlite3_value_text(v);
  return text == nullptr
             ? std::string_view()
             : std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_value_bytes(v)));
}

void SbLike(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  std::string value(TextArg(argv[0]));  // copied: the second text conversion may invalidate the first
  sqlite3_result_int(ctx, MatchLike(value, TextArg(argv[1])) ? 1 : 0);
}

void SbToNumber(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  int type = sqlite3_value_type(argv[0]);
  if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
    sqlite3_result_double(ctx, sqlite3_value_double(argv[0]));
    return;
  }
  std::string_view text = TextArg(argv[0]);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  bool ok = type != SQLITE_NULL && !text.empty() && ec == std::errc() && end == text.data() + text.size() &&
            text.find_first_of("xXnN") == std::string_view::npos;  // no hex, inf or nan
  if (ok) {
    sqlite3_result_double(ctx, v);
  } else {
    sqlite3_result_null(ctx);
  }
}

constexpr int kProgressSteps = 1000;

}  // namespace

SqliteDatabase::~SqliteDatabase() {
  cache_.clear();
  lru_.clear();  // finalizes the cached statements before the connection closes
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Database>> SqliteDatabase::Open(const DatabaseUrl& url) {
  const std::string& path = url.target;
  if (path != ":memory:") {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) {
      std::filesystem::create_directories(parent, ec);
    }
    if (ec) {
      return Status::IoError("cannot create directory " + parent.string() + ": " + ec.message());
    }
  }
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(raw, url.redacted));
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return Status::IoError("cannot open " + url.redacted + ": " + message);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  sqlite3_progress_handler(raw, kProgressSteps, &SqliteDatabase::OnProgress, db.get());
  for (auto [name, fn, args] : {std::tuple{"sb_like", &SbLike, 2}, std::tuple{"sb_to_number", &SbToNumber, 1}}) {
    rc = sqlite3_create_function_v2(raw, name, args, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, fn, nullptr, nullptr,
                                    nullptr);
    if (rc != SQLITE_OK) return Status::Internal(std::string("cannot register ") + name + ": " + sqlite3_errstr(rc));
  }
  Status status = db->Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
  if (!status.ok()) {
    return status.WithContext("cannot open " + url.redacted);
  }
  return std::unique_ptr<Database>(std::move(db));
}

Status SqliteDatabase::Error(int rc) const {
  std::string message = sqlite3_errmsg(db_);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Status::AlreadyExists(std::move(message));
      }
      return Status::FailedPrecondition(std::move(message));
    case SQLITE_INTERRUPT:
      if (timed_out_) return Status::DeadlineExceeded("the statement ran past its time limit");
      return Status::Unavailable(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status::Unavailable(std::move(message));
    case SQLITE_ERROR:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG: return Status::InvalidArgument(std::move(message));
    case SQLITE_READONLY:
    case SQLITE_AUTH:
    case SQLITE_PERM: return Status::FailedPrecondition(std::move(message));
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PROTOCOL: return Status::IoError(std::move(message));
    default: return Status::Internal(std::move(message));
  }
}

Status SqliteDatabase::Exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc);
}

int SqliteDatabase::OnProgress(void* self) {
  auto* db = static_cast<SqliteDatabase*>(self);
  if (db->statement_timeout_.count() == 0 || std::chrono::steady_clock::now() < db->statement_deadline_) return 0;
  db->timed_out_ = true;
  return 1;  // interrupts the statement: SQLITE_INTERRUPT
}

Result<SqliteDatabase::CachedStatement> SqliteDatabase::Prepare(std::string_view sql) {
  // Every statement is checked out here right before it runs: its time starts now.
  timed_out_ = false;
  if (statement_timeout_.count() > 0) statement_deadline_ = std::chrono::steady_clock::now() + statement_timeout_;
  std::string key(sql);
  if (auto it = cache_.find(key); it != cache_.end()) {
    StatementPtr stmt = std::move(it->second->second);
    lru_.erase(it->second);
    cache_.erase(it);
    return CachedStatement(this, std::move(key), std::move(stmt));
  }
  std::string translated = TranslatePlaceholders(sql);
  if (translated.size() > static_cast<std::size_t>(INT_MAX)) {
    return Status::InvalidArgument("statement too long");
  }
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, translated.c_str(), static_cast<int>(translated.size()), SQLITE_PREPARE_PERSISTENT,
                              &raw, &tail);
  StatementPtr stmt(raw);
  if (rc != SQLITE_OK) {
    return Error(rc);
  }
  // Only one statement per call, as with PostgreSQL's extended protocol.
  if (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* next = nullptr;
    rc = sqlite3_prepare_v2(db_, tail, -1, &next, nullptr);
    StatementPtr next_stmt(next);
    if (rc != SQLITE_OK || next != nullptr) {
      return Status::InvalidArgument("cannot run several statements in one call (use ExecuteScript)");
    }
  }
  return CachedStatement(this, std::move(key), std::move(stmt));
}

void SqliteDatabase::Return(std::string key, StatementPtr stmt) {
  sqlite3_reset(stmt.get());
  sqlite3_clear_bindings(stmt.get());
  if (cache_.count(key) != 0) {
    return;  // a copy was checked out twice (re-entrant use): keep one
  }
  lru_.emplace_front(key, std::move(stmt));
  cache_.emplace(std::move(key), lru_.begin());
  if (lru_.size() > kMaxCachedStatements) {
    cache_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

// Strings are bound without copying (SQLITE_STATIC): `params` outlives every
// step, and the bindings are cleared before the statement returns to the cache.
Status SqliteDatabase::Bind(sqlite3_stmt* stmt, const Params& params) {
  int expected = stmt == nullptr ? 0 : sqlite3_bind_parameter_count(stmt);
  if (static_cast<std::size_t>(expected) != params.size()) {
    return Status::InvalidArgument("statement takes " + std::to_string(expected) + " parameter(s), " +
                                   std::to_string(params.size()) + " given");
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    const Value& v = params[i];
    int rc = SQLITE_OK;
    if (IsNull(v)) {
      rc = sqlite3_bind_null(stmt, index);
    } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt, index, *n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt, index, *d);
    } else {
      const std::string& s = std::get<std::string>(v);
      rc = sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
    }
    if (rc != SQLITE_OK) {
      return Error(rc);
    }
  }
  return Status::Ok();
}

Result<std::int64_t> SqliteDatabase::Execute(std::string_view sql, const Params& params) {
  SB_ASSIGN_OR_RETURN(CachedStatement stmt, Prepare(sql));
  SB_RETURN_IF_ERROR(Bind(stmt.Get(), params));
  if (stmt.Get() == nullptr) {
    return std::int64_t{0};
  }
  std::int64_t rows = 0;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(stmt.Get())) == SQLITE_ROW) {
    ++rows;
  }
  if (rc != SQLITE_DONE) {
    return Error(rc);
  }
  // sqlite3_changes() keeps its value across DDL, so ask it only after DML.
  if (!sqlite3_stmt_readonly(stmt.Get())) {
    rows = IsDataChange(sql) ? sqlite3_changes64(db_) : 0;
  }
  return rows;
}

Status SqliteDatabase::ExecuteScript(std::string_view sql) {
  return Exec(std::string(sql).c_str());
}

Result<std::vector<Row>> SqliteDatabase::Query(std::string_view sql, const Params& params) {
  std::vector<Row> rows;
  SB_RETURN_IF_ERROR(QueryStream(sql, params, [&rows](const Row& row) {
    rows.push_back(row);
    return true;
  }));
  return rows;
}

Status SqliteDatabase::QueryStream(std::string_view sql, const Params& params, const RowCallback& on_row) {
  SB_ASSIGN_OR_RETURN(CachedStatement stmt, Prepare(sql));
  SB_RETURN_IF_ERROR(Bind(stmt.Get(), params));
  if (stmt.Get() == nullptr) {
    return Status::Ok();
  }
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(stmt.Get())) == SQLITE_ROW) {
    if (!on_row(RowOf(stmt.Get()))) {
      return Status::Ok();
    }
  }
  return rc == SQLITE_DONE ? Status::Ok() : Error(rc);
}

Status SqliteDatabase::Begin() {
  if (in_transaction_) {
    return Status::FailedPrecondition("a transaction is already open");
  }
  SB_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  in_transaction_ = true;
  return Status::Ok();
}

Status SqliteDatabase::BeginReadOnly(std::chrono::milliseconds statement_timeout) {
  if (in_transaction_) {
    return Status::FailedPrecondition("a transaction is already open");
  }
  SB_RETURN_IF_ERROR(Exec("BEGIN DEFERRED; PRAGMA query_only = 1"));
  in_transaction_ = true;
  read_only_ = true;
  statement_timeout_ = statement_timeout;
  return Status::Ok();
}

void SqliteDatabase::EndReadOnly() {
  if (!read_only_) return;
  read_only_ = false;
  statement_timeout_ = std::chrono::milliseconds(0);
  (void)Exec("PRAGMA query_only = 0");
}

// Whatever happens, no transaction is open afterwards: a COMMIT that fails
// (SQLITE_BUSY, I/O error) is followed by a ROLLBACK.
Status SqliteDatabase::Commit() {
  if (!in_transaction_) {
    return Status::FailedPrecondition("COMMIT without an open transaction");
  }
  in_transaction_ = false;
  EndReadOnly();
  if (sqlite3_get_autocommit(db_)) {
    return Status::FailedPrecondition("the transaction was rolled back by an earlier error");
  }
  Status status = Exec("COMMIT");
  if (!status.ok() && !sqlite3_get_autocommit(db_)) {
    (void)Exec("ROLLBACK");
  }
  return status;
}

Status SqliteDatabase::Rollback() {
  if (!in_transaction_) {
    return Status::Ok();
  }
  in_transaction_ = false;
  EndReadOnly();
  if (sqlite3_get_autocommit(db_)) {
    return Status::Ok();  // SQLite already rolled it back
  }
  return Exec("ROLLBACK");
}

// One prepared single-row INSERT stepped per row. All or nothing: in the
// caller's transaction the rows go through a savepoint, otherwise through a
// transaction of its own.
Result<std::int64_t> SqliteDatabase::BulkInsert(std::string_view table, const std::vector<std::string>& columns,
                                                const RowSource& next_row) {
  if (!IsValidIdentifier(table)) {
    return Status::InvalidArgument("invalid table name for bulk insert");
  }
  if (columns.empty()) {
    return Status::InvalidArgument("bulk insert into " + std::string(table) + " without columns");
  }
  std::string sql = "INSERT INTO " + std::string(table) + " (";
  std::string values;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (!IsValidIdentifier(columns[i])) {
      return Status::InvalidArgument("invalid column name for bulk insert");
    }
    if (i > 0) {
      sql += ", ";
      values += ", ";
    }
    sql += columns[i];
    values += "?" + std::to_string(i + 1);
  }
  sql += ") VALUES (" + values + ")";

  bool own_transaction = !in_transaction_;
  if (own_transaction) {
    SB_RETURN_IF_ERROR(Begin());
  } else {
    SB_RETURN_IF_ERROR(Exec("SAVEPOINT sb_bulk_insert"));
  }
  auto insert_all = [&]() -> Result<std::int64_t> {
    SB_ASSIGN_OR_RETURN(CachedStatement stmt, Prepare(sql));
    Row row;
    std::int64_t count = 0;
    while (true) {
      row.clear();
      if (!next_row(row)) {
        break;
      }
      if (row.size() != columns.size()) {
        return Status::InvalidArgument("bulk insert into " + std::string(table) + ": row " + std::to_string(count + 1) +
                                       " has " + std::to_string(row.size()) + " values for " +
                                       std::to_string(columns.size()) + " columns");
      }
      SB_RETURN_IF_ERROR(Bind(stmt.Get(), row));
      int rc = sqlite3_step(stmt.Get());
      if (rc != SQLITE_DONE) {
        return Error(rc);
      }
      sqlite3_reset(stmt.Get());
      ++count;
    }
    return count;
  };
  Result<std::int64_t> result = insert_all();
  if (own_transaction) {
    if (!result.ok()) {
      (void)Rollback();
      return result;
    }
    SB_RETURN_IF_ERROR(Commit());
    return result;
  }
  if (!result.ok()) {
    (void)Exec("ROLLBACK TO sb_bulk_insert");
    (void)Exec("RELEASE sb_bulk_insert");
    return result;
  }
  SB_RETURN_IF_ERROR(Exec("RELEASE sb_bulk_insert"));
  return result;
}

Result<bool> SqliteDatabase::TableExists(std::string_view table) {
  SB_ASSIGN_OR_RETURN(
      std::vector<Row> rows,
      Query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1 COLLATE NOCASE", {std::string(table)}));
  return !rows.empty();
}

Result<std::vector<ColumnInfo>> SqliteDatabase::ListColumns(std::string_view table) {
  SB_ASSIGN_OR_RETURN(bool exists, TableExists(table));
  if (!exists) {
    return Status::NotFound("table " + std::string(table) + " does not exist");
  }
  SB_ASSIGN_OR_RETURN(
      std::vector<Row> rows,
      Query("SELECT name, upper(type), \"notnull\" FROM pragma_table_info($1) ORDER BY cid", {std::string(table)}));
  std::vector<ColumnInfo> columns;
  columns.reserve(rows.size());
  for (const Row& row : rows) {
    columns.push_back(
        {std::get<std::string>(row[0]), std::get<std::string>(row[1]), std::get<std::int64_t>(row[2]) != 0});
  }
  return columns;
}

Result<std::vector<IndexInfo>> SqliteDatabase::ListIndexes(std::string_view table) {
  SB_ASSIGN_OR_RETURN(bool exists, TableExists(table));
  if (!exists) {
    return Status::NotFound("table " + std::string(table) + " does not exist");
  }
  SB_ASSIGN_OR_RETURN(std::vector<Row> rows,
                      Query("SELECT name, \"unique\" FROM pragma_index_list($1) ORDER BY name", {std::string(table)}));
  std::vector<IndexInfo> indexes;
  for (const Row& row : rows) {
    IndexInfo index{std::get<std::string>(row[0]), std::get<std::int64_t>(row[1]) != 0, {}};
    SB_ASSIGN_OR_RETURN(std::vector<Row> columns,
                        Query("SELECT name FROM pragma_index_info($1) ORDER BY seqno", {index.name}));
    for (const Row& column : columns) {
      index.columns.push_back(IsNull(column[0]) ? std::string("(expression)") : std::get<std::string>(column[0]));
    }
    indexes.push_back(std::move(index));
  }
  return indexes;
}

}  // namespace stagebridge::store
