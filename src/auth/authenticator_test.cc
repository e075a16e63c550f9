// authenticator_test.cc — operators, logon, sessions, lockout, on SQLite and PostgreSQL.
#include "auth/authenticator.h"

#include <atomic>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>

#include "auth/tokens.h"
#include "support/test_databases.h"

namespace stagebridge::auth {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using test::Backend;
using test::TestDatabase;
using TimePoint = std::chrono::system_clock::time_point;

constexpr const char* kSessionInvalid = "XSV-350008 Session has expired or is invalid. Please reconnect.";
constexpr const char* kBadLogin = "XSV-350012 The login or password is incorrect.";

std::string LockedMessage(const std::string& login) {
  return "XSV-350013 The login '" + login + "' is locked after repeated failed logons; try again later.";
}

// Cheap argon2 (tests hash often), no session cache (so every check reaches the database).
AuthOptions TestOptions() {
  AuthOptions options;
  options.cache_ttl = seconds(0);
  options.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN;
  options.pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN;
  return options;
}

class AuthenticatorTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    ASSERT_TRUE(tdb_->ok());
    pool_ = std::make_unique<store::ConnectionPool>(tdb_->url(), 4);
    auth_ = Make(*pool_, TestOptions());
    ASSERT_TRUE(auth_->EnsureTables().ok());
  }

  std::unique_ptr<Authenticator> Make(store::ConnectionPool& pool, const AuthOptions& options) {
    return std::make_unique<Authenticator>(pool, options, [this] { return now_.load(); });
  }

  void Advance(std::chrono::seconds delta) { now_.store(now_.load() + delta); }

  // One cell read straight from the database, as a string.
  std::string Cell(const std::string& sql, const store::Params& params) {
    std::unique_ptr<store::Database> db = tdb_->Open();
    if (db == nullptr) {
      return "<no connection>";
    }
    Result<std::vector<store::Row>> rows = db->Query(sql, params);
    if (!rows.ok()) {
      return "<error " + rows.status().ToString() + ">";
    }
    if (rows->empty()) {
      return "<no row>";
    }
    return store::ValueToString((*rows)[0][0]);
  }

  std::atomic<TimePoint> now_{TimePoint(seconds(1'704'067'200))};  // 2024-01-01 00:00:00 UTC
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_P(AuthenticatorTest, EnsureTablesIsIdempotent) {
  EXPECT_TRUE(auth_->EnsureTables().ok());
  std::unique_ptr<store::Database> db = tdb_->Open();
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(db->TableExists("XtkOperator").value());
  EXPECT_TRUE(db->TableExists("XtkSessionInfo").value());
}

TEST_P(AuthenticatorTest, AddListDisableEnableOperators) {
  ASSERT_TRUE(auth_->AddOperator("zed", "pw-zed", true, {}).ok());
  ASSERT_TRUE(auth_->AddOperator("amy", "pw-amy", false, {"dem:sampleTable", "nms:recipient"}).ok());

  Result<std::vector<Operator>> ops = auth_->ListOperators();
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  ASSERT_EQ(ops->size(), 2u);
  EXPECT_EQ((*ops)[0].login, "amy");
  EXPECT_FALSE((*ops)[0].admin);
  EXPECT_EQ((*ops)[0].schemas, (std::vector<std::string>{"dem:sampleTable", "nms:recipient"}));
  EXPECT_FALSE((*ops)[0].disabled);
  EXPECT_EQ((*ops)[1].login, "zed");
  EXPECT_TRUE((*ops)[1].admin);
  EXPECT_TRUE((*ops)[1].schemas.empty());

  ASSERT_TRUE(auth_->SetDisabled("amy", true).ok());
  ops = auth_->ListOperators();
  ASSERT_TRUE(ops.ok());
  EXPECT_TRUE((*ops)[0].disabled);
  EXPECT_FALSE((*ops)[1].disabled);

  ASSERT_TRUE(auth_->SetDisabled("amy", false).ok());
  ops = auth_->ListOperators();
  ASSERT_TRUE(ops.ok());
  EXPECT_FALSE((*ops)[0].disabled);

  EXPECT_EQ(auth_->SetDisabled("nobody", true).code(), Status::Code::kNotFound);
  EXPECT_EQ(auth_->SetPassword("nobody", "x").code(), Status::Code::kNotFound);
}

TEST_P(AuthenticatorTest, DuplicateLoginIsRefused) {
  ASSERT_TRUE(auth_->AddOperator("amy", "one", false, {}).ok());
  Status again = auth_->AddOperator("amy", "two", true, {});
  EXPECT_EQ(again.code(), Status::Code::kAlreadyExists) << again.ToString();
  // The first one is untouched.
  EXPECT_TRUE(auth_->Logon("amy", "one").ok());
}

TEST_P(AuthenticatorTest, InvalidOperatorsAreRefused) {
  for (const std::string& login : {std::string(), std::string("a b"), std::string("x'y"), std::string(65, 'a'),
                                   std::string("semi;colon"), std::string("é")}) {
    EXPECT_EQ(auth_->AddOperator(login, "pw", false, {}).code(), Status::Code::kInvalidArgument) << login;
  }
  EXPECT_TRUE(auth_->AddOperator(std::string(64, 'a'), "pw", false, {}).ok());
  EXPECT_TRUE(auth_->AddOperator("first.last@example-corp_1", "pw", false, {}).ok());
  EXPECT_EQ(auth_->AddOperator("amy", "", false, {}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(auth_->AddOperator("amy", "pw", false, {"sampleTable"}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(auth_->AddOperator("amy", "pw", false, {"dem:a,dem:b"}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(auth_->SetPassword(std::string(64, 'a'), "").code(), Status::Code::kInvalidArgument);
}

TEST_P(AuthenticatorTest, LogonReturnsWellFormedTokensAndAValidSession) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret", false, {"dem:sampleTable"}).ok());
  Result<Session> session = auth_->Logon("amy", "s3cret");
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_TRUE(std::regex_match(session->session_token,
                               std::regex("^___[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")))
      << session->session_token;
  EXPECT_TRUE(std::regex_match(session->security_token, std::regex("^@[A-Za-z0-9+/]+=*$"))) << session->security_token;
  EXPECT_EQ(session->op.login, "amy");
  EXPECT_FALSE(session->op.admin);
  EXPECT_EQ(session->op.schemas, std::vector<std::string>{"dem:sampleTable"});
  EXPECT_EQ(session->created, now_.load());
  EXPECT_EQ(session->expires - session->created, hours(24));

  Result<Operator> op = auth_->Validate(session->session_token, session->security_token);
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(op->login, "amy");
  EXPECT_TRUE(op->CanWrite("dem:sampleTableStg"));
  EXPECT_FALSE(op->CanWrite("nms:recipient"));

  // Two logons, two sessions.
  Result<Session> second = auth_->Logon("amy", "s3cret");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->session_token, session->session_token);
  EXPECT_NE(second->security_token, session->security_token);
}

TEST_P(AuthenticatorTest, WrongPasswordAndUnknownLoginGiveTheSameMessage) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret", false, {}).ok());
  for (const auto& [login, password] : std::vector<std::pair<std::string, std::string>>{
           {"amy", "wrong"}, {"amy", "S3CRET"}, {"amy", ""}, {"bob", "s3cret"}, {"", "s3cret"}, {"a b", "x"}}) {
    Result<Session> session = auth_->Logon(login, password);
    ASSERT_FALSE(session.ok()) << login;
    EXPECT_EQ(session.status().code(), Status::Code::kUnauthenticated);
    EXPECT_EQ(session.status().message(), kBadLogin) << login;
  }
}

TEST_P(AuthenticatorTest, DisabledOperatorCannotLogOnAndItsSessionsStopValidating) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret", false, {}).ok());
  Result<Session> session = auth_->Logon("amy", "s3cret");
  ASSERT_TRUE(session.ok());

  // Disabled through another Authenticator (the CLI), so no local cache is involved.
  Authenticator cli(*pool_, TestOptions());
  ASSERT_TRUE(cli.SetDisabled("amy", true).ok());

  Result<Operator> op = auth_->Validate(session->session_token, session->security_token);
  ASSERT_FALSE(op.ok());
  EXPECT_EQ(op.status().message(), kSessionInvalid);
  Result<Session> again = auth_->Logon("amy", "s3cret");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), kBadLogin);

  ASSERT_TRUE(cli.SetDisabled("amy", false).ok());
  EXPECT_TRUE(auth_->Logon("amy", "s3cret").ok());
}

TEST_P(AuthenticatorTest, ValidateChecksTheSecurityToken) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret", false, {}).ok());
  Result<Session> a = auth_->Logon("amy", "s3cret");
  Result<Session> b = auth_->Logon("amy", "s3cret");
  ASSERT_TRUE(a.ok() && b.ok());

  EXPECT_TRUE(auth_->Validate(a->session_token, a->security_token).ok());
  for (const auto& [session_token, security_token] :
       std::vector<std::pair<std::string, std::string>>{{a->session_token, ""},
                                                        {a->session_token, b->security_token},
                                                        {a->session_token, a->security_token + "x"},
                                                        {a->session_token, a->session_token},
                                                        {"", a->security_token},
                                                        {"", ""},
                                                        {"___00000000-0000-4000-8000-000000000000", a->security_token},
                                                        {a->security_token, a->session_token}}) {
    Result<Operator> op = auth_->Validate(session_token, security_token);
    ASSERT_FALSE(op.ok());
    EXPECT_EQ(op.status().code(), Status::Code::kUnauthenticated);
    EXPECT_EQ(op.status().message(), kSessionInvalid);
  }

  // session_token_only: the session token alone is enough; the security token is ignored.
  AuthOptions options = TestOptions();
  options.session_token_only = true;
  std::unique_ptr<Authenticator> lax = Make(*pool_, options);
  EXPECT_TRUE(lax->Validate(a->session_token, "").ok());
  EXPECT_TRUE(lax->Validate(a->session_token, a->security_token).ok());
  EXPECT_TRUE(lax->Validate(a->session_token, b->security_token).ok());
  EXPECT_EQ(lax->Validate("", "").status().message(), kSessionInvalid);
  EXPECT_EQ(lax->Validate("___00000000-0000-4000-8000-000000000000", "").status().message(), kSessionInvalid);
}

TEST_P(AuthenticatorTest, SessionsExpire) {
  AuthOptions options = TestOptions();
  options.session_lifetime = hours(1);
  std::unique_ptr<Authenticator> auth = Make(*pool_, options);
  ASSERT_TRUE(auth->AddOperator("amy", "s3cret", false, {}).ok());
  Result<Session> session = auth->Logon("amy", "s3cret");
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->expires - session->created, hours(1));

  Advance(minutes(59));
  EXPECT_TRUE(auth->Validate(session->session_token, session->security_token).ok());
  Advance(minutes(1));
  Result<Operator> op = auth->Validate(session->session_token, session->security_token);
  ASSERT_FALSE(op.ok());
  EXPECT_EQ(op.status().message(), kSessionInvalid);
}

TEST_P(AuthenticatorTest, LogoffInvalidatesTheSession) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret", false, {}).ok());
  Result<Session> session = auth_->Logon("amy", "s3cret");
  Result<Session> other = auth_->Logon("amy", "s3cret");
  ASSERT_TRUE(session.ok() && other.ok());

  // Logoff needs the session's own security token.
  EXPECT_EQ(auth_->Logoff(session->session_token, other->security_token).message(), kSessionInvalid);
  EXPECT_TRUE(auth_->Validate(session->session_token, session->security_token).ok());

  ASSERT_TRUE(auth_->Logoff(session->session_token, session->security_token).ok());
  Result<Operator> op = auth_->Validate(session->session_token, session->security_token);
  ASSERT_FALSE(op.ok());
  EXPECT_EQ(op.status().message(), kSessionInvalid);
  EXPECT_TRUE(auth_->Logoff(session->session_token, session->security_token).ok());  // idempotent

  EXPECT_TRUE(auth_->Validate(other->session_token, other->security_token).ok());  // the other one lives on
  Status unknown = auth_->Logoff("___00000000-0000-4000-8000-000000000000", "@AAAA");
  EXPECT_EQ(unknown.code(), Status::Code::kUnauthenticated);
  EXPECT_EQ(unknown.message(), kSessionInvalid);
  EXPECT_EQ(auth_->Logoff("", "").message(), kSessionInvalid);
}

TEST_P(AuthenticatorTest, SessionsWorkAcrossProcesses) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret", true, {}).ok());
  // A second process: its own pool and Authenticator on the same database.
  store::ConnectionPool other_pool(tdb_->url(), 2);
  std::unique_ptr<Authenticator> other = Make(other_pool, TestOptions());
  ASSERT_TRUE(other->EnsureTables().ok());

  Result<Session> session = auth_->Logon("amy", "s3cret");
  ASSERT_TRUE(session.ok());
  Result<Operator> op = other->Validate(session->session_token, session->security_token);
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(op->login, "amy");
  EXPECT_TRUE(op->admin);

  ASSERT_TRUE(other->Logoff(session->session_token, session->security_token).ok());
  EXPECT_EQ(auth_->Validate(session->session_token, session->security_token).status().message(), kSessionInvalid);
}

TEST_P(AuthenticatorTest, CacheTrustsASessionForCacheTtl) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret", false, {}).ok());
  AuthOptions options = TestOptions();
  options.cache_ttl = seconds(5);
  std::unique_ptr<Authenticator> cached = Make(*pool_, options);
  Result<Session> session = cached->Logon("amy", "s3cret");
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(cached->Validate(session->session_token, session->security_token).ok());

  // Logged off elsewhere: trusted from memory until the entry is cache_ttl old.
  ASSERT_TRUE(auth_->Logoff(session->session_token, session->security_token).ok());
  EXPECT_TRUE(cached->Validate(session->session_token, session->security_token).ok());
  // The cache still checks the security token.
  EXPECT_EQ(cached->Validate(session->session_token, "").status().message(), kSessionInvalid);
  Advance(seconds(5));
  EXPECT_EQ(cached->Validate(session->session_token, session->security_token).status().message(), kSessionInvalid);

  // Disabling through the same Authenticator takes effect at once.
  Result<Session> next = cached->Logon("amy", "s3cret");
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(cached->Validate(next->session_token, next->security_token).ok());
  ASSERT_TRUE(cached->SetDisabled("amy", true).ok());
  EXPECT_EQ(cached->Validate(next->session_token, next->security_token).status().message(), kSessionInvalid);
}

TEST_P(AuthenticatorTest, RepeatedFailuresLockTheLogin) {
  AuthOptions options = TestOptions();
  options.lockout_attempts = 3;
  options.lockout_duration = minutes(10);
  std::unique_ptr<Authenticator> auth = Make(*pool_, options);
  ASSERT_TRUE(auth->AddOperator("amy", "s3cret", false, {}).ok());

  // A success resets the count.
  EXPECT_EQ(auth->Logon("amy", "bad").status().message(), kBadLogin);
  EXPECT_EQ(auth->Logon("amy", "bad").status().message(), kBadLogin);
  EXPECT_EQ(Cell("SELECT iFailedLogons FROM XtkOperator WHERE sLogin = $1", {std::string("amy")}), "2");
  ASSERT_TRUE(auth->Logon("amy", "s3cret").ok());
  EXPECT_EQ(Cell("SELECT iFailedLogons FROM XtkOperator WHERE sLogin = $1", {std::string("amy")}), "0");

  EXPECT_EQ(auth->Logon("amy", "bad").status().message(), kBadLogin);
  EXPECT_EQ(auth->Logon("amy", "bad").status().message(), kBadLogin);
  Result<Session> third = auth->Logon("amy", "bad");  // the failure that locks
  EXPECT_EQ(third.status().code(), Status::Code::kUnauthenticated);
  EXPECT_EQ(third.status().message(), LockedMessage("amy"));

  // Locked, even with the right password.
  EXPECT_EQ(auth->Logon("amy", "s3cret").status().message(), LockedMessage("amy"));
  Advance(minutes(9));
  EXPECT_EQ(auth->Logon("amy", "s3cret").status().message(), LockedMessage("amy"));
  // Other logins are not affected.
  ASSERT_TRUE(auth->AddOperator("bob", "pw", false, {}).ok());
  EXPECT_TRUE(auth->Logon("bob", "pw").ok());

  Advance(minutes(1));
  Result<Session> after = auth->Logon("amy", "s3cret");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(Cell("SELECT iLockedUntil FROM XtkOperator WHERE sLogin = $1", {std::string("amy")}), "NULL");

  // Unknown logins never lock (there is nothing to lock) and always say the same thing.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(auth->Logon("ghost", "x").status().message(), kBadLogin);
  }
}

TEST_P(AuthenticatorTest, ConcurrentFailuresAllCount) {
  AuthOptions options = TestOptions();
  options.lockout_attempts = 100;
  std::unique_ptr<Authenticator> auth = Make(*pool_, options);
  ASSERT_TRUE(auth->AddOperator("amy", "s3cret", false, {}).ok());
  constexpr int kThreads = 4;
  constexpr int kEach = 3;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        if (auth->Logon("amy", "wrong").status().message() == kBadLogin) {
          ++bad;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(bad.load(), kThreads * kEach);
  EXPECT_EQ(Cell("SELECT iFailedLogons FROM XtkOperator WHERE sLogin = $1", {std::string("amy")}),
            std::to_string(kThreads * kEach));
}

TEST_P(AuthenticatorTest, PasswordsAreNotStoredInClear) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret-Passw0rd", false, {}).ok());
  std::string hash = Cell("SELECT sPasswordHash FROM XtkOperator WHERE sLogin = $1", {std::string("amy")});
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find("s3cret"), std::string::npos);

  ASSERT_TRUE(auth_->SetPassword("amy", "n3w-Passw0rd").ok());
  std::string changed = Cell("SELECT sPasswordHash FROM XtkOperator WHERE sLogin = $1", {std::string("amy")});
  EXPECT_EQ(changed.rfind("$argon2id$", 0), 0u) << changed;
  EXPECT_NE(changed, hash);
  EXPECT_EQ(auth_->Logon("amy", "s3cret-Passw0rd").status().message(), kBadLogin);
  EXPECT_TRUE(auth_->Logon("amy", "n3w-Passw0rd").ok());
}

TEST_P(AuthenticatorTest, PasswordHashFollowsTheConfiguredCost) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret", false, {}).ok());
  std::string cheap = Cell("SELECT sPasswordHash FROM XtkOperator WHERE sLogin = $1", {std::string("amy")});
  EXPECT_NE(cheap.find("t=1,"), std::string::npos) << cheap;

  AuthOptions options = TestOptions();
  options.pwhash_opslimit = 2;
  std::unique_ptr<Authenticator> stronger = Make(*pool_, options);
  ASSERT_TRUE(stronger->Logon("amy", "s3cret").ok());
  std::string rehashed = Cell("SELECT sPasswordHash FROM XtkOperator WHERE sLogin = $1", {std::string("amy")});
  EXPECT_NE(rehashed.find("t=2,"), std::string::npos) << rehashed;
  EXPECT_TRUE(auth_->Logon("amy", "s3cret").ok());
}

TEST_P(AuthenticatorTest, TokensAreNotStoredInClear) {
  ASSERT_TRUE(auth_->AddOperator("amy", "s3cret", false, {}).ok());
  Result<Session> session = auth_->Logon("amy", "s3cret");
  ASSERT_TRUE(session.ok());
  std::unique_ptr<store::Database> db = tdb_->Open();
  ASSERT_NE(db, nullptr);
  Result<std::vector<store::Row>> rows = db->Query("SELECT * FROM XtkSessionInfo");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  std::string uuid = session->session_token.substr(3);
  std::string random = session->security_token.substr(1);
  for (const store::Value& cell : (*rows)[0]) {
    std::string text = store::ValueToString(cell);
    EXPECT_EQ(text.find(uuid), std::string::npos) << text;
    EXPECT_EQ(text.find(random), std::string::npos) << text;
  }
  EXPECT_EQ(Cell("SELECT sLogin FROM XtkSessionInfo WHERE sTokenHash = $1", {HashToken(session->session_token)}),
            "amy");
  EXPECT_EQ(Cell("SELECT sSecurityHash FROM XtkSessionInfo WHERE sTokenHash = $1", {HashToken(session->session_token)}),
            HashToken(session->security_token));
}

TEST_P(AuthenticatorTest, PurgeDeletesExpiredAndLoggedOffSessions) {
  AuthOptions options = TestOptions();
  options.session_lifetime = hours(24);
  std::unique_ptr<Authenticator> auth = Make(*pool_, options);
  ASSERT_TRUE(auth->AddOperator("amy", "s3cret", false, {}).ok());
  Result<Session> old_session = auth->Logon("amy", "s3cret");
  Advance(hours(12));
  Result<Session> young = auth->Logon("amy", "s3cret");
  Result<Session> gone = auth->Logon("amy", "s3cret");
  ASSERT_TRUE(old_session.ok() && young.ok() && gone.ok());
  ASSERT_TRUE(auth->Logoff(gone->session_token, gone->security_token).ok());

  Result<std::int64_t> none = auth->PurgeExpiredSessions();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 1);  // the logged-off one

  Advance(hours(13));
  Result<std::int64_t> purged = auth->PurgeExpiredSessions();
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(Cell("SELECT COUNT(*) FROM XtkSessionInfo", {}), "1");
  EXPECT_TRUE(auth->Validate(young->session_token, young->security_token).ok());
  EXPECT_EQ(auth->Validate(old_session->session_token, old_session->security_token).status().message(),
            kSessionInvalid);
}

TEST_P(AuthenticatorTest, ProductionCostHashesWork) {
  // The default (INTERACTIVE) argon2id limits, as the server and the CLI use them.
  std::unique_ptr<Authenticator> auth = Make(*pool_, AuthOptions{});
  ASSERT_TRUE(auth->AddOperator("amy", "s3cret", false, {}).ok());
  std::string hash = Cell("SELECT sPasswordHash FROM XtkOperator WHERE sLogin = $1", {std::string("amy")});
  EXPECT_EQ(hash.rfind("$argon2id$v=19$m=65536,t=2,", 0), 0u) << hash;
  EXPECT_TRUE(auth->Logon("amy", "s3cret").ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthenticatorTest, testing::ValuesIn(test::AllBackends()), test::BackendParamName());

TEST(OperatorTest, CanWrite) {
  Operator admin{"root", true, {}, false};
  EXPECT_TRUE(admin.CanWrite("dem:sampleTable"));
  EXPECT_TRUE(admin.CanWrite("anything:atAll"));

  Operator writer{"amy", false, {"dem:sampleTable"}, false};
  EXPECT_TRUE(writer.CanWrite("dem:sampleTable"));
  EXPECT_TRUE(writer.CanWrite("dem:sampleTableStg"));
  EXPECT_FALSE(writer.CanWrite("dem:sampleTableStgStg"));
  EXPECT_FALSE(writer.CanWrite("dem:sampleTab"));
  EXPECT_FALSE(writer.CanWrite("dem:sampleTableX"));
  EXPECT_FALSE(writer.CanWrite("nms:recipient"));
  EXPECT_FALSE(writer.CanWrite(""));

  Operator staging_grant{"bob", false, {"dem:sampleTableStg"}, false};
  EXPECT_TRUE(staging_grant.CanWrite("dem:sampleTableStg"));
  EXPECT_TRUE(staging_grant.CanWrite("dem:sampleTable"));

  Operator nothing{"eve", false, {}, false};
  EXPECT_FALSE(nothing.CanWrite("dem:sampleTable"));
}

}  // namespace
}  // namespace stagebridge::auth
