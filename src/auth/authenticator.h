// authenticator.h — operators, passwords, sessions and tokens (SPEC §3.1).
//
// Operators and sessions live in the local database (tables XtkOperator and
// XtkSessionInfo, created by EnsureTables), so sessions survive a restart and
// work across several server processes sharing one local database. Passwords
// are hashed with argon2id (libsodium crypto_pwhash_str); session and security
// tokens are stored only as hashes (crypto_generichash), so a copy of the
// database does not give away live sessions.
//
// Tokens: the session token is "___" + a random RFC 4122 v4 UUID (lower-case);
// the security token is "@" + random bytes in base64. A call must carry both,
// unless AuthOptions::session_token_only is set, which accepts the session token
// alone and ignores any security token (like the platform's security zones
// allowing it). docs/auth.md describes the tables and fault codes.
//
// Lockout: after `lockout_attempts` consecutive failed logons, a login is locked
// for `lockout_duration` (even with the right password); a success resets the count.
//
// Thread-safety: thread-safe; database access goes through the pool.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "store/pool.h"

namespace stagebridge::auth {

// Wall clock, injectable for tests (lifetimes, lockout).
using Clock = std::function<std::chrono::system_clock::time_point()>;
Clock SystemClock();

struct Operator {
  std::string login;
  bool admin = false;
  std::vector<std::string> schemas;  // schemas (source ids, e.g. "dem:sampleTable") it may write; admin: all
  bool disabled = false;

  // May this operator write to `schema_id` (a source or staging id)?
  bool CanWrite(const std::string& schema_id) const;
};

struct Session {
  std::string session_token;   // "___" + uuid
  std::string security_token;  // "@" + base64
  Operator op;
  std::chrono::system_clock::time_point created;
  std::chrono::system_clock::time_point expires;
};

struct AuthOptions {
  std::chrono::seconds session_lifetime{24 * 3600};
  int lockout_attempts = 5;  // <= 0 disables the lockout
  std::chrono::seconds lockout_duration{15 * 60};
  bool session_token_only = false;
  // How long a validated session is trusted from memory before the database is
  // asked again (so a Logoff in another process takes effect within this delay).
  // 0 disables the cache.
  std::chrono::seconds cache_ttl{5};
  // argon2id cost of new password hashes; 0 means libsodium's INTERACTIVE limits
  // (the production setting). Tests lower them (crypto_pwhash_OPSLIMIT_MIN /
  // MEMLIMIT_MIN) to keep hashing fast. Verification always uses the cost
  // recorded in the stored hash; a hash made with other limits is re-made on the
  // next successful logon.
  std::uint64_t pwhash_opslimit = 0;
  std::size_t pwhash_memlimit = 0;
};

class Authenticator {
 public:
  Authenticator(store::ConnectionPool& pool, AuthOptions options, Clock clock = SystemClock());

  // Creates XtkOperator and XtkSessionInfo if missing (idempotent).
  Status EnsureTables();

  // Operators (CLI). AddOperator fails with AlreadyExists for a known login and
  // InvalidArgument for an empty login/password or a login that is not
  // [A-Za-z0-9_.@-]{1,64}.
  Status AddOperator(const std::string& login, const std::string& password, bool admin,
                     const std::vector<std::string>& schemas);
  Status SetDisabled(const std::string& login, bool disabled);  // NotFound for an unknown login
  Status SetPassword(const std::string& login, const std::string& password);
  Result<std::vector<Operator>> ListOperators();

  // Logon. Unauthenticated("XSV-350012 …") for an unknown login, a wrong password
  // or a disabled operator (one message for all three, no user enumeration);
  // Unauthenticated("XSV-350013 …") while locked.
  Result<Session> Logon(const std::string& login, const std::string& password);

  // Invalidates the session (idempotent). Unauthenticated for an unknown token.
  Status Logoff(const std::string& session_token, const std::string& security_token);

  // Checks a call's tokens. Unauthenticated("XSV-350008 …") when the session is
  // unknown, expired, logged off, its operator disabled, or the security token is
  // missing (unless session_token_only) or wrong.
  Result<Operator> Validate(const std::string& session_token, const std::string& security_token);

  // Deletes expired and logged-off sessions; returns how many (the cleanup
  // workflow calls it).
  Result<std::int64_t> PurgeExpiredSessions();

 private:
  // argon2id hash (crypto_pwhash_str) with the options' limits.
  Result<std::string> HashPassword(const std::string& password) const;
  // A hash of a random password made with the current limits, verified against
  // when the login is unknown so that unknown logins cost as much time as known ones.
  const std::string& DummyHash();
  // Drops the cached sessions of `login` (after disabling it).
  void ForgetLogin(const std::string& login);

  struct CachedSession {
    std::string security_hash;
    Operator op;
    std::chrono::system_clock::time_point expires;
    std::chrono::system_clock::time_point checked;
  };

  store::ConnectionPool& pool_;
  const AuthOptions options_;
  const Clock clock_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;  // set once under dummy_once_
  std::mutex mu_;
  std::unordered_map<std::string, CachedSession> cache_;  // GUARDED_BY(mu_), key: session token hash
};

}  // namespace stagebridge::auth
