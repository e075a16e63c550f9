// postgres_database.cc — the libpq driver: connection, statements, transactions, COPY.
#include "store/postgres_database.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "store/table_spec.h"

namespace stagebridge::store {
namespace {

// Built-in type oids (catalog/pg_type_d.h is a server header).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// COPY data is handed to libpq in pieces of about this size.
constexpr std::size_t kCopyChunkBytes = std::size_t{64} * 1024;

// Seconds libpq waits for a server that does not answer, unless the URL says otherwise.
constexpr const char* kDefaultConnectTimeout = "10";
// A server that vanished without closing the connection (a network partition, a
// host that lost power) would leave a call waiting for its answer for the
// kernel's ~15 minutes of retransmissions: TCP keepalives after 10 s idle, 3
// probes 3 s apart (a call waiting for its answer: ~20 s), and 30 s at most for
// data the server does not acknowledge, end the wait (Unavailable, then a
// reconnect). A live server answers keepalives while it works on a long
// statement, so they never cut one. The URL may override them.
constexpr const char* kDefaultKeepalivesIdle = "10";
constexpr const char* kDefaultKeepalivesInterval = "3";
constexpr const char* kDefaultKeepalivesCount = "3";
constexpr const char* kDefaultTcpUserTimeoutMs = "30000";

void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

std::string TrimRight(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) {
    s.pop_back();
  }
  return s;
}

void AppendInt(std::int64_t v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

// Shortest text that reads back as the same double (locale-independent).
void AppendDouble(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, end);
  }
}

// Parameters in libpq's text format. Strings are passed without copying; they
// must outlive the call that uses values().
class TextParams {
 public:
  Status Build(const Params& params) {
    if (params.size() > 65535) {
      return Status::InvalidArgument("too many parameters (at most 65535)");
    }
    numbers_.reserve(params.size());  // no reallocation below: pointers into it stay valid
    values_.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (IsNull(v)) {
        values_.push_back(nullptr);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        if (s->find('\0') != std::string::npos) {
          return Status::InvalidArgument("parameter $" + std::to_string(i + 1) + " contains a NUL byte");
        }
        values_.push_back(s->c_str());
      } else {
        std::string& text = numbers_.emplace_back();
        if (const auto* n = std::get_if<std::int64_t>(&v)) {
          AppendInt(*n, text);
        } else {
          AppendDouble(std::get<double>(v), text);
        }
        values_.push_back(text.c_str());
      }
    }
    return Status::Ok();
  }
  int Count() const { return static_cast<int>(values_.size()); }
  const char* const* Values() const { return values_.empty() ? nullptr : values_.data(); }

 private:
  std::vector<std::string> numbers_;
  std::vector<const char*> values_;
};

Value CellValue(const PGresult* res, int row, int col) {
  if (PQgetisnull(res, row, col)) {
    return std::monostate{};
  }
  const char* text = PQgetvalue(res, row, col);
  const char* end = text + PQgetlength(res, row, col);
  switch (PQftype(res, col)) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid: {
      std::int64_t v = 0;
      auto [ptr, ec] = std::from_chars(text, end, v);
      if (ec == std::errc() && ptr == end) {
        return v;
      }
      break;
    }
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid: {
      double v = 0;
      auto [ptr, ec] = std::from_chars(text, end, v);
      if (ec == std::errc() && ptr == end) {
        return v;
      }
      break;
    }
    case kBoolOid: return static_cast<std::int64_t>(text[0] == 't');
    default: break;
  }
  return std::string(text, end);
}

Row RowOf(const PGresult* res, int row) {
  int columns = PQnfields(res);
  Row out;
  out.reserve(static_cast<std::size_t>(columns));
  for (int c = 0; c < columns; ++c) {
    out.push_back(CellValue(res, row, c));
  }
  return out;
}

// The SQLSTATE decides the code: the caller's statement or data is wrong
// (InvalidArgument), the database's state refuses it (FailedPrecondition), a
// unique key already holds the value (AlreadyExists), or retrying may succeed
// (Unavailable: lost connection, shutdown; Aborted: serialization failure or
// deadlock, where the transaction itself should be retried).
Status StatusForSqlState(std::string_view state, std::string msg) {
  if (state == "23505") {
    return Status::AlreadyExists(std::move(msg));
  }
  if (state == "08P01") {
    return Status::InvalidArgument(std::move(msg));  // e.g. wrong parameter count
  }
  if (state == "57014") {
    return Status::DeadlineExceeded(std::move(msg));  // statement_timeout (or a cancel request)
  }
  std::string_view cls = state.substr(0, 2);
  if (cls == "40") {
    return Status::Aborted(std::move(msg));
  }
  if (cls == "08" || cls == "53" || cls == "57") {
    return Status::Unavailable(std::move(msg));
  }
  if (cls == "23" || cls == "25" || cls == "55" || cls == "2D") {
    return Status::FailedPrecondition(std::move(msg));
  }
  if (cls == "XX" || cls == "58") {
    return Status::Internal(std::move(msg));
  }
  return Status::InvalidArgument(std::move(msg));
}

// COPY text format: backslash escapes for the four characters that would end a
// field or a line, and \N for NULL.
void AppendCopyField(const Value& v, std::string& out) {
  if (IsNull(v)) {
    out += "\\N";
  } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
    AppendInt(*n, out);
  } else if (const auto* d = std::get_if<double>(&v)) {
    AppendDouble(*d, out);
  } else {
    for (char c : std::get<std::string>(v)) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '\t': out += "\\t"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        default: out += c;
      }
    }
  }
}

// The number of rows a command changed, from its result's command tag.
std::int64_t ChangedRows(PGresult* result) {
  std::string_view tuples = PQcmdTuples(result);
  std::int64_t count = 0;
  (void)std::from_chars(tuples.data(), tuples.data() + tuples.size(), count);
  return count;
}

// Statements ExecuteRepeated keeps prepared on one connection.
constexpr std::size_t kMaxPrepared = 256;

std::string_view FirstKeyword(std::string_view sql) {
  std::size_t start = sql.find_first_not_of(" \t\r\n(");
  if (start == std::string_view::npos) {
    return {};
  }
  std::size_t end = start;
  while (end < sql.size() && std::isalpha(static_cast<unsigned char>(sql[end]))) {
    ++end;
  }
  return sql.substr(start, end - start);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ArrayLiteral(const std::vector<const Value*>& values) {
  std::string out = "{";
  for (const Value* v : values) {
    if (out.size() > 1) out += ',';
    if (IsNull(*v)) {
      out += "NULL";
    } else if (const auto* n = std::get_if<std::int64_t>(v)) {
      AppendInt(*n, out);
    } else if (const auto* d = std::get_if<double>(v)) {
      AppendDouble(*d, out);
    } else {
      out += '"';
      for (char c : std::get<std::string>(*v)) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
  }
  out += '}';
  return out;
}

PostgresDatabase::PostgresDatabase(PGconn* conn, std::string redacted_url)
    : conn_(conn), redacted_url_(std::move(redacted_url)) {}

PostgresDatabase::~PostgresDatabase() {
  PQfinish(conn_);
}

Result<std::unique_ptr<Database>> PostgresDatabase::Open(const DatabaseUrl& url) {
  // Entries before the expanded dbname are defaults the URL can override.
  const char* keywords[] = {"connect_timeout",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "tcp_user_timeout",
                            "application_name",
                            "dbname",
                            nullptr};
  const char* values[] = {
      kDefaultConnectTimeout,   kDefaultKeepalivesIdle, kDefaultKeepalivesInterval, kDefaultKeepalivesCount,
      kDefaultTcpUserTimeoutMs, "stagebridge",          url.target.c_str(),         nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return Status::Unavailable("cannot connect to " + url.redacted + ": out of memory");
  }
  std::unique_ptr<PostgresDatabase> db(new PostgresDatabase(conn, url.redacted));
  if (PQstatus(conn) != CONNECTION_OK) {
    return Status::Unavailable(db->Scrub("cannot connect to " + url.redacted + ": " + TrimRight(PQerrorMessage(conn))));
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  SB_RETURN_IF_ERROR(db->SetUpSession());
  return std::unique_ptr<Database>(std::move(db));
}

Status PostgresDatabase::SetUpSession() {
  if (PQsetClientEncoding(conn_, "UTF8") != 0) {
    return ConnectionLost();
  }
  return RunSimple("SET client_min_messages = warning; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'").status();
}

std::string PostgresDatabase::Scrub(std::string message) const {
  const char* password = PQpass(conn_);
  if (password == nullptr || *password == '\0') {
    return message;
  }
  std::string_view secret(password);
  for (std::size_t pos = message.find(secret); pos != std::string::npos; pos = message.find(secret, pos + 3)) {
    message.replace(pos, secret.size(), "***");
  }
  return message;
}

Status PostgresDatabase::ConnectionLost() {
  return Status::Unavailable(Scrub("connection to " + redacted_url_ + " lost: " + TrimRight(PQerrorMessage(conn_))));
}

Status PostgresDatabase::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) {
    return Status::Ok();
  }
  if (in_transaction_) {
    return Status::Unavailable("connection to " + redacted_url_ + " lost during a transaction; roll it back");
  }
  prepared_.clear();  // a new server session knows none of them
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return ConnectionLost();
  }
  return SetUpSession();
}

Status PostgresDatabase::ErrorFrom(const PGresult* result) {
  if (PQstatus(conn_) == CONNECTION_BAD) {
    return ConnectionLost();
  }
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message =
      primary ? std::string(primary) : TrimRight(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) {
    message = "unknown PostgreSQL error";
  }
  return StatusForSqlState(state ? state : "", Scrub(std::move(message)));
}

Status PostgresDatabase::CheckResult(const PGresult* result) {
  if (result == nullptr) {
    return ErrorFrom(nullptr);
  }
  switch (PQresultStatus(result)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
    case PGRES_SINGLE_TUPLE: return Status::Ok();
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
      AbandonCopy(PQresultStatus(result));
      return Status::InvalidArgument("COPY is supported through BulkInsert only");
    default: return ErrorFrom(result);
  }
}

void PostgresDatabase::AbandonCopy(ExecStatusType state) {
  if (state != PGRES_COPY_OUT) {
    (void)PQputCopyEnd(conn_, "COPY is not supported here");
  }
  if (state != PGRES_COPY_IN) {
    char* data = nullptr;
    while (PQgetCopyData(conn_, &data, 0) > 0) {
      PQfreemem(data);
    }
  }
  while (PGresult* raw = PQgetResult(conn_)) {
    PQclear(raw);
  }
}

Result<PostgresDatabase::ResultPtr> PostgresDatabase::Run(std::string_view sql, const Params& params) {
  SB_RETURN_IF_ERROR(EnsureConnected());
  TextParams text;
  SB_RETURN_IF_ERROR(text.Build(params));
  std::string statement(sql);
  ResultPtr result(PQexecParams(conn_, statement.c_str(), text.Count(), nullptr, text.Values(), nullptr, nullptr, 0));
  SB_RETURN_IF_ERROR(CheckResult(result.get()));
  return result;
}

Result<PostgresDatabase::ResultPtr> PostgresDatabase::RunSimple(const std::string& sql) {
  ResultPtr result(PQexec(conn_, sql.c_str()));
  SB_RETURN_IF_ERROR(CheckResult(result.get()));
  return result;
}

Result<std::int64_t> PostgresDatabase::Execute(std::string_view sql, const Params& params) {
  SB_ASSIGN_OR_RETURN(ResultPtr result, Run(sql, params));
  return ChangedRows(result.get());
}

Result<std::int64_t> PostgresDatabase::ExecuteRepeated(std::string_view sql, const Params& params) {
  SB_RETURN_IF_ERROR(EnsureConnected());
  std::string statement(sql);
  auto it = prepared_.find(statement);
  if (it == prepared_.end()) {
    if (prepared_.size() >= kMaxPrepared) {
      return Execute(sql, params);  // bounded: a caller with endless shapes just runs unprepared
    }
    std::string name = "sb_stmt_" + std::to_string(prepared_.size() + 1);
    // A protocol-level Parse: not transactional, the statement outlives a rollback.
    ResultPtr prepared(PQprepare(conn_, name.c_str(), statement.c_str(), 0, nullptr));
    SB_RETURN_IF_ERROR(CheckResult(prepared.get()));
    it = prepared_.emplace(std::move(statement), std::move(name)).first;
  }
  TextParams text;
  SB_RETURN_IF_ERROR(text.Build(params));
  ResultPtr result(PQexecPrepared(conn_, it->second.c_str(), text.Count(), text.Values(), nullptr, nullptr, 0));
  SB_RETURN_IF_ERROR(CheckResult(result.get()));
  return ChangedRows(result.get());
}

bool PostgresDatabase::SendPrepared(const Params& params) {
  TextParams text;
  async_.error = text.Build(params);
  if (!async_.error.ok()) return false;
  if (PQsendQueryPrepared(conn_, async_.name.c_str(), text.Count(), text.Values(), nullptr, nullptr, 0) == 0) {
    async_.error = ConnectionLost();
    return false;
  }
  async_.stage = AsyncStage::kExecuting;
  return true;
}

Status PostgresDatabase::StartRepeated(std::string_view sql, const Params& params) {
  if (PQstatus(conn_) != CONNECTION_OK) return ConnectionLost();
  if (in_transaction_ || async_.stage == AsyncStage::kPreparing || async_.stage == AsyncStage::kExecuting) {
    return Status::FailedPrecondition("a statement is already in flight on this connection");
  }
  if (PQisnonblocking(conn_) == 0 && PQsetnonblocking(conn_, 1) != 0) return ConnectionLost();
  async_ = Async{};
  std::string statement(sql);
  auto it = prepared_.find(statement);
  if (it != prepared_.end()) {
    async_.name = it->second;
    if (!SendPrepared(params)) return async_.error;
  } else if (prepared_.size() >= kMaxPrepared) {
    // Bounded as ExecuteRepeated is: endless shapes just run unprepared.
    TextParams text;
    SB_RETURN_IF_ERROR(text.Build(params));
    if (PQsendQueryParams(conn_, statement.c_str(), text.Count(), nullptr, text.Values(), nullptr, nullptr, 0) == 0) {
      return ConnectionLost();
    }
    async_.stage = AsyncStage::kExecuting;
  } else {
    async_.name = "sb_async_" + std::to_string(prepared_.size() + 1);
    if (PQsendPrepare(conn_, async_.name.c_str(), statement.c_str(), 0, nullptr) == 0) return ConnectionLost();
    async_.statement = std::move(statement);
    async_.params = params;
    async_.stage = AsyncStage::kPreparing;
  }
  int flushed = PQflush(conn_);
  if (flushed < 0) return ConnectionLost();
  async_.flushing = flushed == 1;
  async_.just_sent = !async_.flushing;
  return Status::Ok();
}

Database::IoWait PostgresDatabase::Advance() {
  auto fail = [this](Status status) {
    async_.error = std::move(status);
    async_.stage = AsyncStage::kDone;
    return IoWait::kDone;
  };
  while (async_.stage == AsyncStage::kPreparing || async_.stage == AsyncStage::kExecuting) {
    if (async_.flushing) {
      int flushed = PQflush(conn_);
      if (flushed < 0) return fail(ConnectionLost());
      async_.flushing = flushed == 1;
      if (async_.flushing) return IoWait::kWrite;
      async_.just_sent = true;
    }
    if (async_.just_sent) {
      // The answer cannot be here yet: wait for the socket rather than try a
      // read that would fail with EAGAIN (a system call per statement).
      async_.just_sent = false;
      return IoWait::kRead;
    }
    if (PQconsumeInput(conn_) == 0) return fail(ConnectionLost());
    bool finished = false;
    while (!finished && PQisBusy(conn_) == 0) {
      PGresult* raw = PQgetResult(conn_);
      if (raw == nullptr) {
        finished = true;
      } else if (!async_.result) {
        async_.result.reset(raw);
      } else {
        PQclear(raw);
      }
    }
    if (!finished) return IoWait::kRead;
    if (async_.stage == AsyncStage::kExecuting) {
      async_.stage = AsyncStage::kDone;
      break;
    }
    // The Parse is answered: the statement is known from now on; then its Bind/Execute.
    Status parsed = CheckResult(async_.result.get());
    if (!parsed.ok()) return fail(std::move(parsed));
    async_.result.reset();
    prepared_.emplace(std::move(async_.statement), async_.name);
    Params params = std::move(async_.params);
    if (!SendPrepared(params)) return fail(async_.error);
    int flushed = PQflush(conn_);
    if (flushed < 0) return fail(ConnectionLost());
    async_.flushing = flushed == 1;
    async_.just_sent = !async_.flushing;
  }
  return IoWait::kDone;
}

Result<std::int64_t> PostgresDatabase::TakeResult() {
  if (async_.stage != AsyncStage::kDone) return Status::FailedPrecondition("no statement has finished");
  async_.stage = AsyncStage::kIdle;
  if (!async_.error.ok()) return async_.error;
  SB_RETURN_IF_ERROR(CheckResult(async_.result.get()));
  return ChangedRows(async_.result.get());
}

Status PostgresDatabase::ExecuteScript(std::string_view sql) {
  SB_RETURN_IF_ERROR(EnsureConnected());
  return RunSimple(std::string(sql)).status();
}

Result<std::vector<Row>> PostgresDatabase::Query(std::string_view sql, const Params& params) {
  SB_ASSIGN_OR_RETURN(ResultPtr result, Run(sql, params));
  std::vector<Row> rows;
  int count = PQntuples(result.get());
  rows.reserve(static_cast<std::size_t>(count));
  for (int r = 0; r < count; ++r) {
    rows.push_back(RowOf(result.get(), r));
  }
  return rows;
}

// Rows arrive one PGresult each (single-row mode). When the callback stops
// early, the rest of the result must still be consumed before the connection
// can be used again: a plain SELECT outside a transaction is cancelled on the
// server (a cancel aborts the transaction it runs in, and would undo a data-
// modifying statement), anything else is read to its end and discarded. A
// cancel that arrives after the query finished is ignored by the server.
Status PostgresDatabase::QueryStream(std::string_view sql, const Params& params, const RowCallback& on_row) {
  SB_RETURN_IF_ERROR(EnsureConnected());
  TextParams text;
  SB_RETURN_IF_ERROR(text.Build(params));
  std::string statement(sql);
  if (!PQsendQueryParams(conn_, statement.c_str(), text.Count(), nullptr, text.Values(), nullptr, nullptr, 0)) {
    return ErrorFrom(nullptr);
  }
  (void)PQsetSingleRowMode(conn_);  // if refused, all rows arrive in one result: still handled below
  bool may_cancel = !in_transaction_ && EqualsIgnoreCase(FirstKeyword(sql), "select");
  Status status;
  bool stopped = false;
  bool cancelled = false;
  while (PGresult* raw = PQgetResult(conn_)) {
    ResultPtr result(raw);
    ExecStatusType state = PQresultStatus(raw);
    if (state == PGRES_SINGLE_TUPLE || state == PGRES_TUPLES_OK) {
      int count = PQntuples(raw);
      for (int r = 0; r < count && !stopped && status.ok(); ++r) {
        if (on_row(RowOf(raw, r))) {
          continue;
        }
        stopped = true;
        if (may_cancel) {
          if (PGcancel* cancel = PQgetCancel(conn_)) {
            char error[256];
            cancelled = PQcancel(cancel, error, sizeof(error)) == 1;
            PQfreeCancel(cancel);
          }
        }
      }
      continue;
    }
    if (state == PGRES_COMMAND_OK || state == PGRES_EMPTY_QUERY) {
      continue;
    }
    const char* sqlstate = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
    if (cancelled && sqlstate != nullptr && std::string_view(sqlstate) == "57014") {
      continue;
    }
    if (status.ok()) {
      status = ErrorFrom(raw);
    }
  }
  if (status.ok() && PQstatus(conn_) == CONNECTION_BAD) {
    status = ConnectionLost();
  }
  return status;
}

Status PostgresDatabase::Begin() {
  if (in_transaction_) {
    return Status::FailedPrecondition("a transaction is already open");
  }
  SB_RETURN_IF_ERROR(EnsureConnected());
  SB_RETURN_IF_ERROR(RunSimple("BEGIN").status());
  in_transaction_ = true;
  return Status::Ok();
}

// One round trip: the simple protocol runs the three statements in one message.
// SET LOCAL ends with the transaction.
Status PostgresDatabase::BeginReadOnly(std::chrono::milliseconds statement_timeout) {
  if (in_transaction_) {
    return Status::FailedPrecondition("a transaction is already open");
  }
  SB_RETURN_IF_ERROR(EnsureConnected());
  SB_RETURN_IF_ERROR(
      RunSimple("BEGIN READ ONLY; SET LOCAL statement_timeout = " + std::to_string(statement_timeout.count()))
          .status());
  in_transaction_ = true;
  return Status::Ok();
}

// A transaction in which a statement failed is aborted, and PostgreSQL answers
// COMMIT with a silent ROLLBACK; that must not read as success.
Status PostgresDatabase::Commit() {
  if (!in_transaction_) {
    return Status::FailedPrecondition("COMMIT without an open transaction");
  }
  in_transaction_ = false;
  if (PQstatus(conn_) != CONNECTION_OK) {
    return ConnectionLost();
  }
  if (PQtransactionStatus(conn_) == PQTRANS_INERROR) {
    SB_RETURN_IF_ERROR(RunSimple("ROLLBACK").status());
    return Status::FailedPrecondition("the transaction was aborted by an earlier error and has been rolled back");
  }
  SB_ASSIGN_OR_RETURN(ResultPtr result, RunSimple("COMMIT"));
  if (std::string_view(PQcmdStatus(result.get())) != "COMMIT") {
    return Status::FailedPrecondition("the transaction could not commit and was rolled back");
  }
  return Status::Ok();
}

// Rolling back a transaction whose connection is gone succeeds: the server has
// already discarded it.
Status PostgresDatabase::Rollback() {
  if (!in_transaction_) {
    return Status::Ok();
  }
  in_transaction_ = false;
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Status::Ok();
  }
  Status status = RunSimple("ROLLBACK").status();
  if (!status.ok() && PQstatus(conn_) != CONNECTION_OK) {
    return Status::Ok();
  }
  return status;
}

Result<std::int64_t> PostgresDatabase::BulkInsert(std::string_view table, const std::vector<std::string>& columns,
                                                  const RowSource& next_row) {
  Row row;
  std::int64_t sent = 0;
  bool exhausted = false;
  return CopyIn(table, columns, [&](std::string& data) -> Status {
    while (!exhausted && data.size() < kCopyChunkBytes) {
      row.clear();
      if (!next_row(row)) {
        exhausted = true;
        break;
      }
      if (row.size() != columns.size()) {
        return Status::InvalidArgument("bulk insert into " + std::string(table) + ": row " + std::to_string(sent + 1) +
                                       " has " + std::to_string(row.size()) + " values for " +
                                       std::to_string(columns.size()) + " columns");
      }
      for (std::size_t i = 0; i < row.size(); ++i) {
        if (i > 0) {
          data += '\t';
        }
        AppendCopyField(row[i], data);
      }
      data += '\n';
      ++sent;
    }
    return Status::Ok();
  });
}

Result<std::int64_t> PostgresDatabase::CopyIn(std::string_view table, const std::vector<std::string>& columns,
                                              const std::function<Status(std::string& data)>& next_data) {
  if (!IsValidIdentifier(table)) {
    return Status::InvalidArgument("invalid table name for bulk insert");
  }
  if (columns.empty()) {
    return Status::InvalidArgument("bulk insert into " + std::string(table) + " without columns");
  }
  std::string sql = "COPY " + std::string(table) + " (";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (!IsValidIdentifier(columns[i])) {
      return Status::InvalidArgument("invalid column name for bulk insert");
    }
    if (i > 0) {
      sql += ", ";
    }
    sql += columns[i];
  }
  sql += ") FROM STDIN";
  SB_RETURN_IF_ERROR(EnsureConnected());
  ResultPtr start(PQexec(conn_, sql.c_str()));
  if (start == nullptr || PQresultStatus(start.get()) != PGRES_COPY_IN) {
    Status error = CheckResult(start.get());
    return error.ok() ? Status::Internal("COPY did not start") : error;
  }
  start.reset();

  Status status;
  std::string buffer;
  buffer.reserve(kCopyChunkBytes + 4096);
  while (status.ok()) {
    buffer.clear();
    status = next_data(buffer);
    if (!status.ok() || buffer.empty()) {
      break;
    }
    if (PQputCopyData(conn_, buffer.data(), static_cast<int>(buffer.size())) != 1) {
      status = ConnectionLost();
    }
  }
  bool lost = PQstatus(conn_) != CONNECTION_OK;
  if (!lost && PQputCopyEnd(conn_, status.ok() ? nullptr : "bulk insert aborted by the client") != 1) {
    lost = true;
  }

  std::int64_t loaded = 0;
  while (PGresult* raw = PQgetResult(conn_)) {
    ResultPtr result(raw);
    if (PQresultStatus(raw) == PGRES_COMMAND_OK) {
      std::string_view tuples = PQcmdTuples(raw);
      (void)std::from_chars(tuples.data(), tuples.data() + tuples.size(), loaded);
    } else if (status.ok()) {
      status = ErrorFrom(raw);
    }
  }
  if (status.ok() && (lost || PQstatus(conn_) != CONNECTION_OK)) {
    status = ConnectionLost();
  }
  if (!status.ok()) {
    return status;
  }
  return loaded;
}

Status PostgresDatabase::CopyOut(std::string_view select, const std::function<bool(std::string_view data)>& on_data) {
  SB_RETURN_IF_ERROR(EnsureConnected());
  std::string sql = "COPY (" + std::string(select) + ") TO STDOUT";
  ResultPtr start(PQexec(conn_, sql.c_str()));
  if (start == nullptr || PQresultStatus(start.get()) != PGRES_COPY_OUT) {
    Status error = CheckResult(start.get());
    return error.ok() ? Status::Internal("COPY did not start") : error;
  }
  start.reset();
  Status status;
  bool stopped = false;
  for (;;) {
    char* data = nullptr;
    int n = PQgetCopyData(conn_, &data, 0);
    if (n < 0) {
      break;  // -1: done (the result follows); -2: error
    }
    bool more = stopped || on_data(std::string_view(data, static_cast<std::size_t>(n)));
    PQfreemem(data);
    if (!more && !stopped) {
      // Stop early: cancel the COPY and drain what the server already sent.
      stopped = true;
      PGcancel* cancel = in_transaction_ ? nullptr : PQgetCancel(conn_);  // in a transaction: drain instead
      if (cancel != nullptr) {
        char error[256];
        (void)PQcancel(cancel, error, sizeof(error));
        PQfreeCancel(cancel);
      }
    }
  }
  while (PGresult* raw = PQgetResult(conn_)) {
    ResultPtr result(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK && status.ok() && !stopped) {
      status = ErrorFrom(raw);
    }
  }
  if (status.ok() && PQstatus(conn_) != CONNECTION_OK) {
    status = ConnectionLost();
  }
  return status;
}

}  // namespace stagebridge::store
