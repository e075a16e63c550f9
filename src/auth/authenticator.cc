// authenticator.cc — operators, argon2id passwords, sessions, lockout (SPEC §3.1).
#include "auth/authenticator.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <sodium.h>

#include "auth/tokens.h"
#include "store/table_spec.h"

namespace stagebridge::auth {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

constexpr std::size_t kMaxLoginBytes = 64;
// Beyond this many cached sessions, stale entries are pruned (and, if that is
// not enough, the cache is emptied): memory stays bounded whatever the traffic.
constexpr std::size_t kMaxCachedSessions = 10000;

// The messages clients know. One text per fault, whatever check failed.
constexpr const char* kSessionInvalid = "XSV-350008 Session has expired or is invalid. Please reconnect.";
constexpr const char* kBadLogin = "XSV-350012 The login or password is incorrect.";

Status SessionInvalid() {
  return Status::Unauthenticated(kSessionInvalid);
}
Status BadLogin() {
  return Status::Unauthenticated(kBadLogin);
}
Status Locked(const std::string& login) {
  return Status::Unauthenticated(
      fmt::format("XSV-350013 The login '{}' is locked after repeated failed logons; try again later.", login));
}

std::int64_t ToEpoch(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
TimePoint FromEpoch(std::int64_t seconds) {
  return TimePoint(std::chrono::seconds(seconds));
}

bool IsValidLogin(const std::string& login) {
  if (login.empty() || login.size() > kMaxLoginBytes) {
    return false;
  }
  return std::all_of(login.begin(), login.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '@' || c == '-';
  });
}

// "ns:name" with [A-Za-z0-9_] on both sides, e.g. "dem:sampleTable".
bool IsValidSchemaId(const std::string& id) {
  std::size_t colon = id.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == id.size()) {
    return false;
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && i != colon) {
      return false;
    }
  }
  return true;
}

std::string JoinSchemas(const std::vector<std::string>& schemas) {
  std::string out;
  for (const std::string& s : schemas) {
    if (!out.empty()) {
      out += ',';
    }
    out += s;
  }
  return out;
}

std::vector<std::string> SplitSchemas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    if (comma > start) {
      out.push_back(text.substr(start, comma - start));
    }
    start = comma + 1;
  }
  return out;
}

// Integer cells come back as int64 from both drivers; text is tolerated.
std::int64_t IntOf(const store::Value& v) {
  if (const auto* n = std::get_if<std::int64_t>(&v)) {
    return *n;
  }
  if (const auto* d = std::get_if<double>(&v)) {
    return static_cast<std::int64_t>(*d);
  }
  if (const auto* s = std::get_if<std::string>(&v)) {
    std::int64_t n = 0;
    std::from_chars(s->data(), s->data() + s->size(), n);
    return n;
  }
  return 0;
}
std::string TextOf(const store::Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    return *s;
  }
  return store::IsNull(v) ? std::string() : store::ValueToString(v);
}

struct PwhashLimits {
  unsigned long long ops;
  std::size_t mem;
};

// The argon2id cost of new hashes: the options' limits, INTERACTIVE when 0,
// never below libsodium's minimum.
PwhashLimits LimitsOf(const AuthOptions& options) {
  unsigned long long ops = options.pwhash_opslimit != 0 ? options.pwhash_opslimit : crypto_pwhash_OPSLIMIT_INTERACTIVE;
  std::size_t mem = options.pwhash_memlimit != 0 ? options.pwhash_memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE;
  return {std::max<unsigned long long>(ops, crypto_pwhash_OPSLIMIT_MIN),
          std::max<std::size_t>(mem, crypto_pwhash_MEMLIMIT_MIN)};
}

// A leased connection whose errors are watched: a connection that reports
// Unavailable is discarded rather than returned to the pool.
class Conn {
 public:
  explicit Conn(store::ConnectionPool::Lease lease) : lease_(std::move(lease)) {}

  store::Database& Db() { return *lease_; }
  Result<std::int64_t> Execute(std::string_view sql, const store::Params& params = {}) {
    return Watch(lease_->Execute(sql, params));
  }
  Result<std::vector<store::Row>> Query(std::string_view sql, const store::Params& params = {}) {
    return Watch(lease_->Query(sql, params));
  }
  Status Watch(Status status) {
    if (status.code() == Status::Code::kUnavailable) {
      lease_.Discard();
    }
    return status;
  }
  template <typename T>
  Result<T> Watch(Result<T> result) {
    if (!result.ok()) {
      (void)Watch(result.status());
    }
    return result;
  }

 private:
  store::ConnectionPool::Lease lease_;
};

Result<Conn> Connect(store::ConnectionPool& pool) {
  SB_ASSIGN_OR_RETURN(store::ConnectionPool::Lease lease, pool.Acquire());
  return Conn(std::move(lease));
}

store::TableSpec OperatorTable() {
  using store::ColumnType;
  store::TableSpec t;
  t.name = "XtkOperator";
  t.columns = {
      {"sLogin", ColumnType::kString, 64, true, ""},
      {"sPasswordHash", ColumnType::kString, 255, true, ""},
      {"iAdmin", ColumnType::kInt16, 0, true, "0"},
      {"mSchemas", ColumnType::kText, 0, false, ""},
      {"iDisabled", ColumnType::kInt16, 0, true, "0"},
      {"iFailedLogons", ColumnType::kInt32, 0, true, "0"},
      {"iLockedUntil", ColumnType::kInt64, 0, false, ""},  // epoch seconds (UTC); NULL: never locked
      {"tsCreated", ColumnType::kTimestampTz, 0, true, "CURRENT_TIMESTAMP"},
  };
  t.primary_key = {"sLogin"};
  return t;
}

store::TableSpec SessionTable() {
  using store::ColumnType;
  store::TableSpec t;
  t.name = "XtkSessionInfo";
  t.columns = {
      {"sTokenHash", ColumnType::kString, 128, true, ""},
      {"sSecurityHash", ColumnType::kString, 128, true, ""},
      {"sLogin", ColumnType::kString, 64, true, ""},
      {"iCreated", ColumnType::kInt64, 0, true, ""},  // epoch seconds (UTC)
      {"iExpires", ColumnType::kInt64, 0, true, ""},  // epoch seconds (UTC)
      {"iLoggedOff", ColumnType::kInt16, 0, true, "0"},
  };
  t.primary_key = {"sTokenHash"};
  t.indexes = {{"XtkSessionInfo_iExpires", false, {"iExpires"}}};
  return t;
}

struct OperatorRow {
  Operator op;
  std::string password_hash;
  std::optional<std::int64_t> locked_until;
};

Result<std::optional<OperatorRow>> LoadOperator(store::ConnectionPool& pool, const std::string& login) {
  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool));
  SB_ASSIGN_OR_RETURN(
      std::vector<store::Row> rows,
      conn.Query("SELECT sPasswordHash, iAdmin, mSchemas, iDisabled, iLockedUntil FROM XtkOperator WHERE sLogin = $1",
                 {login}));
  if (rows.empty()) {
    return std::optional<OperatorRow>();
  }
  const store::Row& r = rows[0];
  OperatorRow row;
  row.op.login = login;
  row.password_hash = TextOf(r[0]);
  row.op.admin = IntOf(r[1]) != 0;
  row.op.schemas = SplitSchemas(TextOf(r[2]));
  row.op.disabled = IntOf(r[3]) != 0;
  if (!store::IsNull(r[4])) {
    row.locked_until = IntOf(r[4]);
  }
  return std::optional<OperatorRow>(std::move(row));
}

struct SessionRow {
  std::string security_hash;
  Operator op;
  TimePoint expires;
  bool logged_off = false;
};

// The session and its operator, or nullopt for an unknown token hash.
Result<std::optional<SessionRow>> LoadSession(store::ConnectionPool& pool, const std::string& token_hash) {
  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool));
  SB_ASSIGN_OR_RETURN(std::vector<store::Row> rows,
                      conn.Query("SELECT s.sSecurityHash, s.sLogin, s.iExpires, s.iLoggedOff, o.iAdmin, o.mSchemas, "
                                 "o.iDisabled FROM XtkSessionInfo s JOIN XtkOperator o ON o.sLogin = s.sLogin "
                                 "WHERE s.sTokenHash = $1",
                                 {token_hash}));
  if (rows.empty()) {
    return std::optional<SessionRow>();
  }
  const store::Row& r = rows[0];
  SessionRow row;
  row.security_hash = TextOf(r[0]);
  row.op.login = TextOf(r[1]);
  row.expires = FromEpoch(IntOf(r[2]));
  row.logged_off = IntOf(r[3]) != 0;
  row.op.admin = IntOf(r[4]) != 0;
  row.op.schemas = SplitSchemas(TextOf(r[5]));
  row.op.disabled = IntOf(r[6]) != 0;
  return std::optional<SessionRow>(std::move(row));
}

// Does `security_token` belong to the session whose security hash is `expected_hash`?
bool SecurityTokenMatches(const std::string& security_token, const std::string& expected_hash) {
  if (security_token.empty()) {
    return false;
  }
  return ConstantTimeEquals(HashToken(security_token), expected_hash);
}

// Counts one failed logon in a single UPDATE, so concurrent failures all count.
// When the count reaches lockout_attempts the login is locked until
// now + lockout_duration and the count restarts at 0. Returns true if this
// failure locked the login.
Result<bool> RecordFailure(store::ConnectionPool& pool, const AuthOptions& options, const std::string& login,
                           TimePoint now) {
  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool));
  if (options.lockout_attempts <= 0) {
    SB_RETURN_IF_ERROR(
        conn.Execute("UPDATE XtkOperator SET iFailedLogons = iFailedLogons + 1 WHERE sLogin = $1", {login}).status());
    return false;
  }
  std::int64_t until = ToEpoch(now + options.lockout_duration);
  SB_ASSIGN_OR_RETURN(std::vector<store::Row> rows,
                      conn.Query("UPDATE XtkOperator SET "
                                 "iLockedUntil = CASE WHEN iFailedLogons + 1 >= $2 THEN $3 ELSE iLockedUntil END, "
                                 "iFailedLogons = CASE WHEN iFailedLogons + 1 >= $2 THEN 0 ELSE iFailedLogons + 1 END "
                                 "WHERE sLogin = $1 RETURNING iLockedUntil",
                                 {login, std::int64_t{options.lockout_attempts}, until}));
  return !rows.empty() && !store::IsNull(rows[0][0]) && IntOf(rows[0][0]) > ToEpoch(now);
}

}  // namespace

Clock SystemClock() {
  return [] { return std::chrono::system_clock::now(); };
}

bool Operator::CanWrite(const std::string& schema_id) const {
  if (admin) {
    return true;
  }
  constexpr std::string_view kStg = "Stg";
  for (const std::string& grant : schemas) {
    if (grant == schema_id) {
      return true;
    }
    // A grant on the source schema covers its staging schema and vice versa:
    // both name the same data flow (Ingest routes one to the other).
    if (schema_id.size() == grant.size() + kStg.size() && schema_id.starts_with(grant) && schema_id.ends_with(kStg)) {
      return true;
    }
    if (grant.size() == schema_id.size() + kStg.size() && grant.starts_with(schema_id) && grant.ends_with(kStg)) {
      return true;
    }
  }
  return false;
}

Authenticator::Authenticator(store::ConnectionPool& pool, AuthOptions options, Clock clock)
    : pool_(pool), options_(options), clock_(std::move(clock)) {
  InitSodium();
}

Status Authenticator::EnsureTables() {
  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool_));
  // Two processes starting together may race to create the tables: the loser's
  // transaction fails, and a second attempt finds the tables there.
  Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    store::Transaction txn(conn.Db());
    last = conn.Watch(txn.Begin());
    if (!last.ok()) {
      return last;
    }
    Result<store::MigrationReport> ops = store::EnsureTable(conn.Db(), OperatorTable());
    Result<store::MigrationReport> sessions =
        ops.ok() ? store::EnsureTable(conn.Db(), SessionTable()) : Result<store::MigrationReport>(ops.status());
    last = sessions.ok() ? conn.Watch(txn.Commit()) : conn.Watch(sessions.status());
    if (last.ok() || last.code() == Status::Code::kUnavailable) {
      break;
    }
  }
  return last.ok() ? last : last.WithContext("auth tables");
}

Result<std::string> Authenticator::HashPassword(const std::string& password) const {
  const PwhashLimits limits = LimitsOf(options_);
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), limits.ops, limits.mem) != 0) {
    return Status::Internal("password hashing failed (out of memory)");
  }
  return std::string(out);
}

const std::string& Authenticator::DummyHash() {
  std::call_once(dummy_once_, [this] {
    Result<std::string> hash = HashPassword(NewSecurityToken());
    // Without a dummy (out of memory), unknown logins are refused faster; the
    // refusal itself is unchanged.
    if (hash.ok()) {
      dummy_hash_ = std::move(hash).value();
    }
  });
  return dummy_hash_;
}

void Authenticator::ForgetLogin(const std::string& login) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& entry) { return entry.second.op.login == login; });
}

Status Authenticator::AddOperator(const std::string& login, const std::string& password, bool admin,
                                  const std::vector<std::string>& schemas) {
  if (!IsValidLogin(login)) {
    return Status::InvalidArgument("invalid login: use 1 to 64 characters among A-Z a-z 0-9 _ . @ -");
  }
  if (password.empty()) {
    return Status::InvalidArgument("empty password refused");
  }
  for (const std::string& s : schemas) {
    if (!IsValidSchemaId(s)) {
      return Status::InvalidArgument(fmt::format("invalid schema id '{}' (expected namespace:name)", s));
    }
  }
  const std::string exists_sql = "SELECT 1 FROM XtkOperator WHERE sLogin = $1";
  {
    SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool_));
    SB_ASSIGN_OR_RETURN(std::vector<store::Row> rows, conn.Query(exists_sql, {login}));
    if (!rows.empty()) {
      return Status::AlreadyExists(fmt::format("operator '{}' already exists", login));
    }
  }
  // Hash without holding a connection: argon2 takes a while.
  SB_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool_));
  Result<std::int64_t> inserted =
      conn.Execute("INSERT INTO XtkOperator (sLogin, sPasswordHash, iAdmin, mSchemas) VALUES ($1, $2, $3, $4)",
                   {login, hash, std::int64_t{admin ? 1 : 0}, JoinSchemas(schemas)});
  if (!inserted.ok()) {
    // Another process may have added the same login in between.
    Result<std::vector<store::Row>> rows = conn.Query(exists_sql, {login});
    if (rows.ok() && !rows->empty()) {
      return Status::AlreadyExists(fmt::format("operator '{}' already exists", login));
    }
    return inserted.status();
  }
  return Status::Ok();
}

Status Authenticator::SetDisabled(const std::string& login, bool disabled) {
  {
    SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool_));
    SB_ASSIGN_OR_RETURN(std::int64_t changed, conn.Execute("UPDATE XtkOperator SET iDisabled = $2 WHERE sLogin = $1",
                                                           {login, std::int64_t{disabled ? 1 : 0}}));
    if (changed == 0) {
      return Status::NotFound(fmt::format("unknown operator '{}'", login));
    }
  }
  ForgetLogin(login);
  return Status::Ok();
}

Status Authenticator::SetPassword(const std::string& login, const std::string& password) {
  if (password.empty()) {
    return Status::InvalidArgument("empty password refused");
  }
  SB_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool_));
  SB_ASSIGN_OR_RETURN(
      std::int64_t changed,
      conn.Execute(
          "UPDATE XtkOperator SET sPasswordHash = $2, iFailedLogons = 0, iLockedUntil = NULL WHERE sLogin = $1",
          {login, hash}));
  if (changed == 0) {
    return Status::NotFound(fmt::format("unknown operator '{}'", login));
  }
  return Status::Ok();
}

Result<std::vector<Operator>> Authenticator::ListOperators() {
  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool_));
  SB_ASSIGN_OR_RETURN(std::vector<store::Row> rows,
                      conn.Query("SELECT sLogin, iAdmin, mSchemas, iDisabled FROM XtkOperator ORDER BY sLogin"));
  std::vector<Operator> out;
  out.reserve(rows.size());
  for (const store::Row& r : rows) {
    Operator op;
    op.login = TextOf(r[0]);
    op.admin = IntOf(r[1]) != 0;
    op.schemas = SplitSchemas(TextOf(r[2]));
    op.disabled = IntOf(r[3]) != 0;
    out.push_back(std::move(op));
  }
  return out;
}

Result<Session> Authenticator::Logon(const std::string& login, const std::string& password) {
  const TimePoint now = clock_();
  if (password.empty()) {
    return BadLogin();
  }
  std::optional<OperatorRow> row;
  if (IsValidLogin(login)) {
    SB_ASSIGN_OR_RETURN(row, LoadOperator(pool_, login));
  }
  if (!row) {
    // Spend the time a real verification takes, so that response times do not
    // tell known logins from unknown ones.
    [[maybe_unused]] int ignored = crypto_pwhash_str_verify(DummyHash().c_str(), password.data(), password.size());
    return BadLogin();
  }
  if (options_.lockout_attempts > 0 && row->locked_until && *row->locked_until > ToEpoch(now)) {
    return Locked(login);
  }
  if (crypto_pwhash_str_verify(row->password_hash.c_str(), password.data(), password.size()) != 0) {
    SB_ASSIGN_OR_RETURN(bool locked, RecordFailure(pool_, options_, login, now));
    return locked ? Locked(login) : BadLogin();
  }
  if (row->op.disabled) {
    return BadLogin();
  }

  // A hash made with other limits than the current ones is re-made now that the
  // password is known.
  std::optional<std::string> rehash;
  const PwhashLimits limits = LimitsOf(options_);
  if (crypto_pwhash_str_needs_rehash(row->password_hash.c_str(), limits.ops, limits.mem) == 1) {
    if (Result<std::string> h = HashPassword(password); h.ok()) {
      rehash = std::move(h).value();
    }
  }

  Session session;
  session.session_token = NewSessionToken();
  session.security_token = NewSecurityToken();
  session.op = row->op;
  const std::int64_t created = ToEpoch(now);
  const std::int64_t expires = created + options_.session_lifetime.count();
  session.created = FromEpoch(created);
  session.expires = FromEpoch(expires);

  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool_));
  store::Transaction txn(conn.Db());
  SB_RETURN_IF_ERROR(conn.Watch(txn.Begin()));
  SB_RETURN_IF_ERROR(conn.Execute("UPDATE XtkOperator SET iFailedLogons = 0, iLockedUntil = NULL WHERE sLogin = $1 "
                                  "AND (iFailedLogons <> 0 OR iLockedUntil IS NOT NULL)",
                                  {login})
                         .status());
  if (rehash) {
    SB_RETURN_IF_ERROR(
        conn.Execute("UPDATE XtkOperator SET sPasswordHash = $2 WHERE sLogin = $1", {login, *rehash}).status());
  }
  SB_RETURN_IF_ERROR(
      conn.Execute("INSERT INTO XtkSessionInfo (sTokenHash, sSecurityHash, sLogin, iCreated, iExpires) "
                   "VALUES ($1, $2, $3, $4, $5)",
                   {HashToken(session.session_token), HashToken(session.security_token), login, created, expires})
          .status());
  SB_RETURN_IF_ERROR(conn.Watch(txn.Commit()));
  return session;
}

Status Authenticator::Logoff(const std::string& session_token, const std::string& security_token) {
  if (session_token.empty()) {
    return SessionInvalid();
  }
  const std::string token_hash = HashToken(session_token);
  SB_ASSIGN_OR_RETURN(std::optional<SessionRow> row, LoadSession(pool_, token_hash));
  if (!row) {
    return SessionInvalid();
  }
  if (!options_.session_token_only && !SecurityTokenMatches(security_token, row->security_hash)) {
    return SessionInvalid();
  }
  {
    std::lock_guard lock(mu_);
    cache_.erase(token_hash);
  }
  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool_));
  return conn.Execute("UPDATE XtkSessionInfo SET iLoggedOff = 1 WHERE sTokenHash = $1", {token_hash}).status();
}

Result<Operator> Authenticator::Validate(const std::string& session_token, const std::string& security_token) {
  if (session_token.empty()) {
    return SessionInvalid();
  }
  const std::string token_hash = HashToken(session_token);
  const TimePoint now = clock_();
  const bool use_cache = options_.cache_ttl.count() > 0;

  std::optional<CachedSession> found;
  if (use_cache) {
    std::lock_guard lock(mu_);
    auto it = cache_.find(token_hash);
    if (it != cache_.end()) {
      if (now - it->second.checked < options_.cache_ttl && now >= it->second.checked && now < it->second.expires) {
        found = it->second;
      } else {
        cache_.erase(it);
      }
    }
  }
  if (!found) {
    SB_ASSIGN_OR_RETURN(std::optional<SessionRow> row, LoadSession(pool_, token_hash));
    if (!row || row->logged_off || now >= row->expires || row->op.disabled) {
      return SessionInvalid();
    }
    found = CachedSession{row->security_hash, std::move(row->op), row->expires, now};
    if (use_cache) {
      std::lock_guard lock(mu_);
      if (cache_.size() >= kMaxCachedSessions) {
        std::erase_if(cache_, [&](const auto& entry) {
          return now - entry.second.checked >= options_.cache_ttl || now >= entry.second.expires;
        });
        if (cache_.size() >= kMaxCachedSessions) {
          cache_.clear();
        }
      }
      cache_[token_hash] = *found;
    }
  }
  if (!options_.session_token_only && !SecurityTokenMatches(security_token, found->security_hash)) {
    return SessionInvalid();
  }
  return std::move(found->op);
}

Result<std::int64_t> Authenticator::PurgeExpiredSessions() {
  const TimePoint now = clock_();
  {
    std::lock_guard lock(mu_);
    std::erase_if(cache_, [&](const auto& entry) { return now >= entry.second.expires; });
  }
  SB_ASSIGN_OR_RETURN(Conn conn, Connect(pool_));
  return conn.Execute("DELETE FROM XtkSessionInfo WHERE iExpires <= $1 OR iLoggedOff <> 0", {ToEpoch(now)});
}

}  // namespace stagebridge::auth
