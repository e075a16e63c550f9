// store_test.cc — the Database contract, run against SQLite and PostgreSQL alike.
#include <chrono>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/database.h"
#include "store/health_probe.h"
#include "store/postgres_database.h"
#include "store/sqlite_database.h"
#include "support/test_databases.h"

namespace stagebridge::store {
namespace {

using test::AllBackends;
using test::Backend;
using test::BackendParamName;
using test::TestDatabase;
using ::testing::HasSubstr;

// Awkward text: quotes, SQL, backslashes, COPY's separators, non-ASCII.
const std::vector<std::string>& AwkwardStrings() {
  static const auto* const kStrings = new std::vector<std::string>{
      "",
      "plain",
      "O'Brien; drop table x",
      "double \"quotes\" and 'single' ''",
      "back\\slash \\N \\t \\\\",
      "tab\there",
      "new\nline",
      "carriage\rreturn\r\n",
      "\\.",
      "$1 ?1 :name",
      "unicode: żółć 日本語 🙂",
      std::string(5000, 'x'),
  };
  return *kStrings;
}

class StoreTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    ASSERT_TRUE(tdb_->ok());
    db_ = tdb_->Open();
    ASSERT_NE(db_, nullptr);
  }

  void Exec(const std::string& sql, const Params& params = {}) {
    Result<std::int64_t> r = db_->Execute(sql, params);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  }

  std::vector<Row> Rows(const std::string& sql, const Params& params = {}) {
    Result<std::vector<Row>> r = db_->Query(sql, params);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() ? *r : std::vector<Row>{};
  }

  std::int64_t Count(const std::string& table) {
    std::vector<Row> rows = Rows("SELECT COUNT(*) FROM " + table);
    if (rows.size() != 1) {
      return -1;
    }
    return std::get<std::int64_t>(rows[0][0]);
  }

  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<Database> db_;
};

TEST_P(StoreTest, KindMatchesBackend) {
  EXPECT_EQ(db_->kind(), tdb_->kind());
}

TEST_P(StoreTest, ValuesRoundTrip) {
  Exec("CREATE TABLE v (id BIGINT PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, s TEXT)");
  std::vector<Row> expected = {
      {std::int64_t{1}, std::int64_t{0}, 0.0, std::string("zero")},
      {std::int64_t{2}, std::int64_t{-9223372036854775807 - 1}, -1.5e300, std::string("min")},
      {std::int64_t{3}, std::int64_t{9223372036854775807}, 0.1, std::string("max")},
      {std::int64_t{4}, std::monostate{}, std::monostate{}, std::monostate{}},
      {std::int64_t{5}, std::int64_t{42}, 3.141592653589793, std::string("O'Brien; drop table x")},
  };
  std::int64_t id = 10;
  for (const std::string& s : AwkwardStrings()) {
    expected.push_back({id++, std::int64_t{7}, 2.5, s});
  }
  for (const Row& row : expected) {
    Result<std::int64_t> changed = db_->Execute("INSERT INTO v (id, i, d, s) VALUES ($1, $2, $3, $4)", row);
    ASSERT_TRUE(changed.ok()) << changed.status().ToString();
    EXPECT_EQ(*changed, 1);
  }
  EXPECT_EQ(Rows("SELECT id, i, d, s FROM v ORDER BY id"), expected);
  // A value is bound, never spliced: the table is still there.
  EXPECT_EQ(Count("v"), static_cast<std::int64_t>(expected.size()));
}

TEST_P(StoreTest, QueryBindsParametersByPosition) {
  Exec("CREATE TABLE p (a BIGINT, b TEXT)");
  Exec("INSERT INTO p (b, a) VALUES ($2, $1)", {std::int64_t{5}, std::string("five")});
  std::vector<Row> rows =
      Rows("SELECT a, b FROM p WHERE b = $1 AND a = $2 AND b <> '$1'", {std::string("five"), std::int64_t{5}});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (Row{std::int64_t{5}, std::string("five")}));
}

TEST_P(StoreTest, ExecuteReportsChangedRows) {
  Exec("CREATE TABLE c (a BIGINT)");
  for (std::int64_t i = 0; i < 5; ++i) {
    Exec("INSERT INTO c (a) VALUES ($1)", {i});
  }
  Result<std::int64_t> updated = db_->Execute("UPDATE c SET a = a + 10 WHERE a >= $1", {std::int64_t{2}});
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(*updated, 3);
  Result<std::int64_t> ddl = db_->Execute("CREATE TABLE c2 (a BIGINT)");
  ASSERT_TRUE(ddl.ok());
  EXPECT_EQ(*ddl, 0);
  Result<std::int64_t> deleted = db_->Execute("DELETE FROM c");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 5);
}

TEST_P(StoreTest, ExecuteScriptRunsSeveralStatements) {
  ASSERT_TRUE(db_->ExecuteScript("CREATE TABLE s1 (a BIGINT); CREATE TABLE s2 (a BIGINT); "
                                 "INSERT INTO s1 (a) VALUES (1);")
                  .ok());
  EXPECT_EQ(Count("s1"), 1);
  EXPECT_EQ(Count("s2"), 0);
}

TEST_P(StoreTest, SyntaxErrorIsInvalidArgument) {
  Result<std::int64_t> r = db_->Execute("SELEC nonsense");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.status().ToString();
  Result<std::vector<Row>> q = db_->Query("SELECT * FROM no_such_table");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), Status::Code::kInvalidArgument) << q.status().ToString();
}

TEST_P(StoreTest, TransactionCommitAndRollback) {
  Exec("CREATE TABLE t (a BIGINT)");
  EXPECT_FALSE(db_->in_transaction());
  ASSERT_TRUE(db_->Begin().ok());
  EXPECT_TRUE(db_->in_transaction());
  EXPECT_EQ(db_->Begin().code(), Status::Code::kFailedPrecondition);
  Exec("INSERT INTO t (a) VALUES (1)");
  ASSERT_TRUE(db_->Commit().ok());
  EXPECT_FALSE(db_->in_transaction());

  ASSERT_TRUE(db_->Begin().ok());
  Exec("INSERT INTO t (a) VALUES (2)");
  ASSERT_TRUE(db_->Rollback().ok());
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(Rows("SELECT a FROM t"), (std::vector<Row>{{std::int64_t{1}}}));
  EXPECT_EQ(db_->Commit().code(), Status::Code::kFailedPrecondition);
}

TEST_P(StoreTest, TransactionRaiiRollsBack) {
  Exec("CREATE TABLE t (a BIGINT)");
  {
    Transaction txn(*db_);
    ASSERT_TRUE(txn.Begin().ok());
    Exec("INSERT INTO t (a) VALUES (1)");
  }
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(Count("t"), 0);
  {
    Transaction txn(*db_);
    ASSERT_TRUE(txn.Begin().ok());
    Exec("INSERT INTO t (a) VALUES (2)");
    ASSERT_TRUE(txn.Commit().ok());
  }
  EXPECT_EQ(Count("t"), 1);
}

TEST_P(StoreTest, CommittedWriteIsVisibleToAnotherConnection) {
  Exec("CREATE TABLE t (a BIGINT)");
  std::unique_ptr<Database> other = tdb_->Open();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(db_->Begin().ok());
  Exec("INSERT INTO t (a) VALUES (1)");
  Result<std::vector<Row>> before = other->Query("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ((*before)[0][0], Value(std::int64_t{0}));
  ASSERT_TRUE(db_->Commit().ok());
  Result<std::vector<Row>> after = other->Query("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)[0][0], Value(std::int64_t{1}));
}

TEST_P(StoreTest, UniqueViolationIsAlreadyExists) {
  Exec("CREATE TABLE u (k VARCHAR(20) PRIMARY KEY, n BIGINT)");
  Exec("CREATE UNIQUE INDEX u_n ON u (n)");
  Exec("INSERT INTO u (k, n) VALUES ($1, $2)", {std::string("a"), std::int64_t{1}});
  Result<std::int64_t> dup_key =
      db_->Execute("INSERT INTO u (k, n) VALUES ($1, $2)", {std::string("a"), std::int64_t{2}});
  ASSERT_FALSE(dup_key.ok());
  EXPECT_EQ(dup_key.status().code(), Status::Code::kAlreadyExists) << dup_key.status().ToString();
  Result<std::int64_t> dup_index =
      db_->Execute("INSERT INTO u (k, n) VALUES ($1, $2)", {std::string("b"), std::int64_t{1}});
  ASSERT_FALSE(dup_index.ok());
  EXPECT_EQ(dup_index.status().code(), Status::Code::kAlreadyExists) << dup_index.status().ToString();
  Result<std::int64_t> null_key =
      db_->Execute("INSERT INTO u (k, n) VALUES ($1, $2)", {std::string("c"), std::monostate{}});
  EXPECT_TRUE(null_key.ok());
}

TEST_P(StoreTest, FailedStatementInTransactionCanBeRolledBack) {
  Exec("CREATE TABLE u (k BIGINT PRIMARY KEY)");
  Exec("INSERT INTO u (k) VALUES (1)");
  ASSERT_TRUE(db_->Begin().ok());
  Exec("INSERT INTO u (k) VALUES (2)");
  EXPECT_EQ(db_->Execute("INSERT INTO u (k) VALUES (1)").status().code(), Status::Code::kAlreadyExists);
  ASSERT_TRUE(db_->Rollback().ok());
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(Count("u"), 1);
  // The connection is usable afterwards.
  Exec("INSERT INTO u (k) VALUES (3)");
  EXPECT_EQ(Count("u"), 2);
}

TEST_P(StoreTest, QueryStreamDeliversEveryRow) {
  Exec("CREATE TABLE big (n BIGINT, s TEXT)");
  constexpr std::int64_t kRows = 12'000;
  std::int64_t next = 0;
  Result<std::int64_t> loaded = db_->BulkInsert("big", {"n", "s"}, [&](Row& row) {
    if (next == kRows) {
      return false;
    }
    row = {next, "row " + std::to_string(next)};
    ++next;
    return true;
  });
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::int64_t seen = 0;
  bool in_order = true;
  Status s = db_->QueryStream("SELECT n, s FROM big WHERE n >= $1 ORDER BY n", {std::int64_t{0}}, [&](const Row& row) {
    in_order = in_order && row == Row{seen, "row " + std::to_string(seen)};
    ++seen;
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, kRows);
  EXPECT_TRUE(in_order);
}

TEST_P(StoreTest, QueryStreamStopsEarlyAndConnectionStaysUsable) {
  Exec("CREATE TABLE big (n BIGINT)");
  std::int64_t next = 0;
  ASSERT_TRUE(db_->BulkInsert("big", {"n"},
                              [&](Row& row) {
                                if (next == 20'000) return false;
                                row = {next++};
                                return true;
                              })
                  .ok());
  for (bool in_txn : {false, true}) {
    if (in_txn) {
      ASSERT_TRUE(db_->Begin().ok());
    }
    int seen = 0;
    Status s = db_->QueryStream("SELECT n FROM big ORDER BY n", {}, [&](const Row&) { return ++seen < 5; });
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(seen, 5);
    EXPECT_EQ(Count("big"), 20'000);
    if (in_txn) {
      Exec("INSERT INTO big (n) VALUES (-1)");
      ASSERT_TRUE(db_->Commit().ok());
    }
  }
  EXPECT_EQ(Count("big"), 20'001);
}

TEST_P(StoreTest, QueryStreamReportsErrors) {
  Status s = db_->QueryStream("SELECT * FROM missing_table", {}, [](const Row&) { return true; });
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  Exec("CREATE TABLE ok (a BIGINT)");
  EXPECT_EQ(Count("ok"), 0);
}

TEST_P(StoreTest, BulkInsertLoadsAwkwardRowsExactly) {
  Exec("CREATE TABLE b (id BIGINT, s TEXT, d DOUBLE PRECISION, n BIGINT)");
  constexpr std::int64_t kRows = 20'000;
  auto make_row = [](std::int64_t i) {
    Row row(4);
    row[0] = i;
    if (i % 7 != 0) {
      row[1] = AwkwardStrings()[static_cast<std::size_t>(i) % AwkwardStrings().size()];
    }
    if (i % 5 != 0) {
      row[2] = static_cast<double>(i) / 3.0;
    }
    if (i % 3 != 0) {
      row[3] = i * 1'000'003;
    }
    return row;
  };
  std::int64_t next = 0;
  Result<std::int64_t> loaded = db_->BulkInsert("b", {"id", "s", "d", "n"}, [&](Row& row) {
    if (next == kRows) {
      return false;
    }
    row = make_row(next++);
    return true;
  });
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, kRows);
  std::int64_t expected_id = 0;
  std::int64_t mismatches = 0;
  Status s = db_->QueryStream("SELECT id, s, d, n FROM b ORDER BY id", {}, [&](const Row& row) {
    if (row != make_row(expected_id) && ++mismatches < 5) {
      ADD_FAILURE() << "row " << expected_id << " differs";
    }
    ++expected_id;
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(expected_id, kRows);
  EXPECT_EQ(mismatches, 0);
}

TEST_P(StoreTest, BulkInsertInsideTransactionFollowsIt) {
  Exec("CREATE TABLE b (a BIGINT)");
  ASSERT_TRUE(db_->Begin().ok());
  int next = 0;
  Result<std::int64_t> loaded = db_->BulkInsert("b", {"a"}, [&](Row& row) {
    if (next == 100) {
      return false;
    }
    row = {std::int64_t{next++}};
    return true;
  });
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(db_->in_transaction());
  ASSERT_TRUE(db_->Rollback().ok());
  EXPECT_EQ(Count("b"), 0);
}

TEST_P(StoreTest, BulkInsertRefusesBadInput) {
  Exec("CREATE TABLE b (a BIGINT, c BIGINT)");
  auto one_short_row = [done = false](Row& row) mutable {
    if (done) {
      return false;
    }
    row = {std::int64_t{1}};
    done = true;
    return true;
  };
  Result<std::int64_t> short_row = db_->BulkInsert("b", {"a", "c"}, one_short_row);
  EXPECT_EQ(short_row.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(db_->BulkInsert("b; drop table b", {"a"}, [](Row&) { return false; }).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(Count("b"), 0);
  // A unique violation during the load loads nothing.
  Exec("CREATE UNIQUE INDEX b_a ON b (a)");
  int next = 0;
  Result<std::int64_t> dup = db_->BulkInsert("b", {"a", "c"}, [&](Row& row) {
    if (next == 10) {
      return false;
    }
    row = {std::int64_t{next == 9 ? 0 : next}, std::int64_t{0}};
    ++next;
    return true;
  });
  EXPECT_EQ(dup.status().code(), Status::Code::kAlreadyExists) << dup.status().ToString();
  EXPECT_EQ(Count("b"), 0);
}

TEST_P(StoreTest, CatalogIsCaseInsensitive) {
  Exec("CREATE TABLE MixedCase (Id BIGINT NOT NULL, sName VARCHAR(40))");
  Exec("CREATE UNIQUE INDEX MixedCase_name ON MixedCase (sName, Id)");
  for (const char* name : {"MixedCase", "mixedcase", "MIXEDCASE"}) {
    Result<bool> exists = db_->TableExists(name);
    ASSERT_TRUE(exists.ok()) << exists.status().ToString();
    EXPECT_TRUE(*exists) << name;
  }
  Result<bool> missing = db_->TableExists("NoSuchTable");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
  Result<std::vector<ColumnInfo>> columns = db_->ListColumns("mixedcase");
  ASSERT_TRUE(columns.ok()) << columns.status().ToString();
  ASSERT_EQ(columns->size(), 2u);
  EXPECT_EQ(columns->at(0).type, "BIGINT");
  EXPECT_TRUE(columns->at(0).not_null);
  EXPECT_EQ(columns->at(1).type, "VARCHAR(40)");
  EXPECT_FALSE(columns->at(1).not_null);
  Result<std::vector<IndexInfo>> indexes = db_->ListIndexes("MIXEDCASE");
  ASSERT_TRUE(indexes.ok()) << indexes.status().ToString();
  ASSERT_EQ(indexes->size(), 1u);
  EXPECT_TRUE(indexes->at(0).unique);
  ASSERT_EQ(indexes->at(0).columns.size(), 2u);
  EXPECT_EQ(db_->ListColumns("NoSuchTable").status().code(), Status::Code::kNotFound);
}

TEST_P(StoreTest, ParameterCountMismatchIsInvalidArgument) {
  Exec("CREATE TABLE p (a BIGINT, b BIGINT)");
  Result<std::int64_t> r = db_->Execute("INSERT INTO p (a, b) VALUES ($1, $2)", {std::int64_t{1}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.status().ToString();
}

TEST_P(StoreTest, TwoTestDatabasesAtOnceAreSeparate) {
  TestDatabase second(GetParam());
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second.url(), tdb_->url());
  std::unique_ptr<Database> other = second.Open();
  ASSERT_NE(other, nullptr);
  Exec("CREATE TABLE only_here (a BIGINT)");
  Result<bool> exists = other->TableExists("only_here");
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
}

TEST_P(StoreTest, HealthProbeSaysReachable) {
  HealthProbe probe(tdb_->url());
  ASSERT_TRUE(probe.ProbeNow().ok());
  EXPECT_TRUE(probe.Current().ok);
  probe.Start();  // the thread starts with a probe of its own and stops with the object
  EXPECT_TRUE(probe.Current().ok);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, testing::ValuesIn(AllBackends()), BackendParamName());

// PostgreSQL-only behaviour: what a server does that an embedded file cannot.
class StorePostgresTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tdb_.ok());
    db_ = tdb_.Open();
    admin_ = tdb_.Open();
    ASSERT_NE(db_, nullptr);
    ASSERT_NE(admin_, nullptr);
  }

  // Ends db_'s server session from another connection, as a server restart would.
  void KillSession() {
    Result<std::vector<Row>> pid = db_->Query("SELECT pg_backend_pid()");
    ASSERT_TRUE(pid.ok()) << pid.status().ToString();
    Result<std::vector<Row>> killed = admin_->Query("SELECT pg_terminate_backend($1::int, 5000)", {(*pid)[0][0]});
    ASSERT_TRUE(killed.ok()) << killed.status().ToString();
    ASSERT_EQ((*killed)[0][0], Value(std::int64_t{1}));
  }

  TestDatabase tdb_{Backend::kPostgres};
  std::unique_ptr<Database> db_;
  std::unique_ptr<Database> admin_;
};

TEST_F(StorePostgresTest, LostConnectionIsUnavailableThenReconnects) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE t (a BIGINT)").ok());
  KillSession();
  Result<std::int64_t> lost = db_->Execute("INSERT INTO t (a) VALUES (1)");
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), Status::Code::kUnavailable) << lost.status().ToString();
  Result<std::int64_t> again = db_->Execute("INSERT INTO t (a) VALUES (2)");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  // The session settings are back too.
  Result<std::vector<Row>> tz = db_->Query("SHOW TimeZone");
  ASSERT_TRUE(tz.ok());
  EXPECT_EQ((*tz)[0][0], Value(std::string("UTC")));
}

TEST_F(StorePostgresTest, LostConnectionInTransactionRollsBack) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE t (a BIGINT)").ok());
  ASSERT_TRUE(db_->Begin().ok());
  ASSERT_TRUE(db_->Execute("INSERT INTO t (a) VALUES (1)").ok());
  KillSession();
  EXPECT_EQ(db_->Execute("INSERT INTO t (a) VALUES (2)").status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(db_->Execute("INSERT INTO t (a) VALUES (3)").status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(db_->in_transaction());
  EXPECT_TRUE(db_->Rollback().ok());
  EXPECT_FALSE(db_->in_transaction());
  Result<std::vector<Row>> rows = db_->Query("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ((*rows)[0][0], Value(std::int64_t{0}));
}

TEST_F(StorePostgresTest, CommitAfterFailedStatementIsNotSuccess) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE u (k BIGINT PRIMARY KEY)").ok());
  ASSERT_TRUE(db_->Begin().ok());
  ASSERT_TRUE(db_->Execute("INSERT INTO u (k) VALUES (1)").ok());
  EXPECT_EQ(db_->Execute("INSERT INTO u (k) VALUES (1)").status().code(), Status::Code::kAlreadyExists);
  Result<std::int64_t> ignored = db_->Execute("INSERT INTO u (k) VALUES (2)");
  EXPECT_EQ(ignored.status().code(), Status::Code::kFailedPrecondition) << ignored.status().ToString();
  EXPECT_EQ(db_->Commit().code(), Status::Code::kFailedPrecondition);
  EXPECT_FALSE(db_->in_transaction());
  Result<std::vector<Row>> rows = db_->Query("SELECT COUNT(*) FROM u");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0][0], Value(std::int64_t{0}));
}

// ExecuteRepeated prepares once per connection; the statement outlives a
// rollback, is prepared again after the connection was lost, and a statement
// that fails to prepare is reported, not remembered.
TEST_F(StorePostgresTest, ExecuteRepeatedSurvivesRollbackAndReconnect) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE t (a BIGINT, b TEXT)").ok());
  const std::string insert = "INSERT INTO t (a, b) VALUES ($1, $2)";
  ASSERT_TRUE(db_->ExecuteRepeated(insert, {std::int64_t{1}, std::string("one")}).ok());
  ASSERT_TRUE(db_->Begin().ok());
  ASSERT_TRUE(db_->ExecuteRepeated(insert, {std::int64_t{2}, std::string("two")}).ok());
  ASSERT_TRUE(db_->Rollback().ok());
  Result<std::int64_t> after_rollback = db_->ExecuteRepeated(insert, {std::int64_t{3}, std::monostate{}});
  ASSERT_TRUE(after_rollback.ok()) << after_rollback.status().ToString();
  EXPECT_EQ(*after_rollback, 1);
  KillSession();
  EXPECT_EQ(db_->ExecuteRepeated(insert, {std::int64_t{4}, std::string("lost")}).status().code(),
            Status::Code::kUnavailable);
  Result<std::int64_t> reconnected = db_->ExecuteRepeated(insert, {std::int64_t{5}, std::string("five")});
  ASSERT_TRUE(reconnected.ok()) << reconnected.status().ToString();
  Result<std::int64_t> bad = db_->ExecuteRepeated("INSERT INTO missing (a) VALUES ($1)", {std::int64_t{1}});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().ToString(), HasSubstr("missing"));
  ASSERT_TRUE(db_->Execute("CREATE TABLE missing (a BIGINT)").ok());
  EXPECT_TRUE(db_->ExecuteRepeated("INSERT INTO missing (a) VALUES ($1)", {std::int64_t{1}}).ok());
  Result<std::vector<Row>> rows = db_->Query("SELECT a, b FROM t ORDER BY a");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(*rows, (std::vector<Row>{{std::int64_t{1}, std::string("one")},
                                     {std::int64_t{3}, std::monostate{}},
                                     {std::int64_t{5}, std::string("five")}}));
}

// ArrayLiteral: every value comes back out of unnest() exactly as bound alone.
TEST_F(StorePostgresTest, ArrayLiteralRoundTripsAwkwardValues) {
  const std::vector<Value> texts = {std::string("plain"),
                                    std::string("quote \" here"),
                                    std::string("back\\slash"),
                                    std::string("{braces},comma"),
                                    std::string("NULL"),
                                    std::string(""),
                                    std::string("  spaces  "),
                                    std::string("line\nbreak\ttab"),
                                    std::string("é€😀"),
                                    std::monostate{},
                                    std::string("'; drop table t; --")};
  std::vector<const Value*> text_ptrs;
  for (const Value& v : texts) text_ptrs.push_back(&v);
  Result<std::vector<Row>> rows =
      db_->Query("SELECT t FROM unnest($1::TEXT[]) WITH ORDINALITY AS u (t, n) ORDER BY n", {ArrayLiteral(text_ptrs)});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ((*rows)[i][0], texts[i]) << i;

  const std::vector<Value> numbers = {std::int64_t{-9007199254740993}, std::int64_t{0}, std::monostate{}};
  const std::vector<Value> doubles = {0.1, -1e-300, 1e300};
  std::vector<const Value*> number_ptrs;
  std::vector<const Value*> double_ptrs;
  for (const Value& v : numbers) number_ptrs.push_back(&v);
  for (const Value& v : doubles) double_ptrs.push_back(&v);
  rows = db_->Query(
      "SELECT a, b FROM unnest($1::BIGINT[], $2::DOUBLE PRECISION[]) WITH ORDINALITY AS u (a, b, n) "
      "ORDER BY n",
      {ArrayLiteral(number_ptrs), ArrayLiteral(double_ptrs)});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*rows)[i][0], numbers[i]) << i;
    EXPECT_EQ((*rows)[i][1], doubles[i]) << i;
  }
}

TEST_F(StorePostgresTest, ResultTypesAreConverted) {
  Result<std::vector<Row>> rows = db_->Query(
      "SELECT 1::int2, 2::int4, 3::int8, 1.5::float4, 2.5::float8, 3.25::numeric, true, false, 'x'::text,"
      " DATE '2024-02-29', TIMESTAMPTZ '2024-01-02 03:04:05+02', NULL::int8");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ((*rows)[0], (Row{std::int64_t{1}, std::int64_t{2}, std::int64_t{3}, 1.5, 2.5, 3.25, std::int64_t{1},
                             std::int64_t{0}, std::string("x"), std::string("2024-02-29"),
                             std::string("2024-01-02 01:04:05+00"), std::monostate{}}));
}

// A port nothing listens on: bound, then closed.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(StoreOpenTest, UnreachablePostgresIsUnavailableWithoutPassword) {
  std::string url = "postgresql://app:s3cret-pw@127.0.0.1:" + std::to_string(ClosedPort()) + "/db";
  Result<std::unique_ptr<Database>> db = OpenDatabase(url);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kUnavailable) << db.status().ToString();
  EXPECT_EQ(db.status().message().find("s3cret-pw"), std::string::npos) << db.status().message();
  EXPECT_NE(db.status().message().find("app:***@127.0.0.1"), std::string::npos) << db.status().message();
}

TEST(HealthProbeTest, UnreachableServerIsUnhealthyAtOnceWithoutItsAddress) {
  int port = ClosedPort();
  HealthProbe probe("postgresql://nobody:s3cret@127.0.0.1:" + std::to_string(port) + "/x");
  auto started = std::chrono::steady_clock::now();
  Status status = probe.ProbeNow();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << "refused, not timed out";
  EXPECT_EQ(status.code(), Status::Code::kUnavailable) << status.ToString();
  HealthProbe::State state = probe.Current();
  EXPECT_FALSE(state.ok);
  EXPECT_THAT(state.problem, HasSubstr("the local database is unreachable"));
  EXPECT_THAT(state.problem, ::testing::Not(HasSubstr(std::to_string(port))));
  EXPECT_THAT(state.problem, ::testing::Not(HasSubstr("s3cret")));
}

TEST(HealthProbeTest, ServerThatNeverAnswersIsUnhealthyWithinTheConnectTimeout) {
  // A listening socket nobody accepts on: the kernel completes the TCP handshake,
  // then the startup packet waits for an answer that never comes (a hung server).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  HealthProbe probe("postgresql://nobody@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x?connect_timeout=2");
  auto started = std::chrono::steady_clock::now();
  Status status = probe.ProbeNow();
  auto took = std::chrono::steady_clock::now() - started;
  ::close(fd);
  EXPECT_EQ(status.code(), Status::Code::kUnavailable) << status.ToString();
  EXPECT_LT(took, std::chrono::seconds(6)) << "bounded by connect_timeout, not a hang";
  EXPECT_FALSE(probe.Current().ok);
}

TEST(HealthProbeTest, AnAnswerTooOldIsUnhealthy) {
  // A probe stuck on a server that never answers leaves the last answer growing
  // old: with stale_after 0 any answer is already too old.
  HealthProbe probe("sqlite::memory:", {std::chrono::milliseconds(1000), std::chrono::milliseconds(0)});
  ASSERT_TRUE(probe.ProbeNow().ok());
  auto at = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() == at) {
  }
  EXPECT_FALSE(probe.Current().ok);
}

TEST(StoreOpenTest, SqliteCreatesParentDirectory) {
  TestDatabase tdb(Backend::kSqlite);
  ASSERT_TRUE(tdb.ok());
  std::string url = tdb.url();
  url.insert(url.rfind('/'), "/nested/deeper");
  Result<std::unique_ptr<Database>> db = OpenDatabase(url);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Result<std::vector<Row>> mode = (*db)->Query("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  EXPECT_EQ((*mode)[0][0], Value(std::string("wal")));
  Result<std::vector<Row>> sync = (*db)->Query("PRAGMA synchronous");
  ASSERT_TRUE(sync.ok());
  EXPECT_EQ((*sync)[0][0], Value(std::int64_t{2}));  // FULL
  Result<std::vector<Row>> fk = (*db)->Query("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.ok());
  EXPECT_EQ((*fk)[0][0], Value(std::int64_t{1}));
}

TEST(StoreOpenTest, SqliteMemory) {
  Result<std::unique_ptr<Database>> db = OpenDatabase("sqlite::memory:");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->kind(), DialectKind::kSqlite);
  ASSERT_TRUE((*db)->Execute("CREATE TABLE m (a BIGINT)").ok());
}

TEST(StoreOpenTest, SeveralStatementsInOneCallAreRefused) {
  Result<std::unique_ptr<Database>> db = OpenDatabase("sqlite::memory:");
  ASSERT_TRUE(db.ok());
  Result<std::int64_t> r = (*db)->Execute("CREATE TABLE a (x BIGINT); DROP TABLE a");
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE((*db)->Execute("CREATE TABLE a (x BIGINT);  ").ok());
}

TEST(StoreParseUrlTest, Sqlite) {
  struct Case {
    const char* url;
    const char* target;
  };
  for (const Case& c : {Case{"sqlite:data/local.db", "data/local.db"}, Case{"sqlite:/abs/x.db", "/abs/x.db"},
                        Case{"sqlite:///abs/x.db", "/abs/x.db"}, Case{"sqlite::memory:", ":memory:"}}) {
    Result<DatabaseUrl> u = ParseDatabaseUrl(c.url);
    ASSERT_TRUE(u.ok()) << c.url << ": " << u.status().ToString();
    EXPECT_EQ(u->kind, DialectKind::kSqlite);
    EXPECT_EQ(u->target, c.target);
    EXPECT_EQ(u->redacted, c.url);
  }
}

TEST(StoreParseUrlTest, PostgresIsPassedThroughAndRedacted) {
  Result<DatabaseUrl> u = ParseDatabaseUrl("postgresql://user:p%40ss:w0rd@db.example:5432/prod?sslmode=require");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, DialectKind::kPostgres);
  EXPECT_EQ(u->target, "postgresql://user:p%40ss:w0rd@db.example:5432/prod?sslmode=require");
  EXPECT_EQ(u->redacted, "postgresql://user:***@db.example:5432/prod?sslmode=require");

  Result<DatabaseUrl> short_scheme = ParseDatabaseUrl("postgres://u@localhost/db");
  ASSERT_TRUE(short_scheme.ok());
  EXPECT_EQ(short_scheme->kind, DialectKind::kPostgres);
  EXPECT_EQ(short_scheme->redacted, "postgres://u@localhost/db");

  Result<DatabaseUrl> query_password = ParseDatabaseUrl("postgresql:///db?host=/run/pg&password=hunter2&user=x");
  ASSERT_TRUE(query_password.ok());
  EXPECT_EQ(query_password->redacted, "postgresql:///db?host=/run/pg&password=***&user=x");

  Result<DatabaseUrl> no_userinfo = ParseDatabaseUrl("postgresql://host:5432/db");
  ASSERT_TRUE(no_userinfo.ok());
  EXPECT_EQ(no_userinfo->redacted, "postgresql://host:5432/db");
}

TEST(StoreParseUrlTest, BadUrlsAreInvalidArgument) {
  for (const char* url : {"", "mysql://root:pw@host/db", "sqlite:", "sqlite://host/x.db", "SQLITE:x.db", "x.db",
                          "http://a:topsecret@b/c"}) {
    Result<DatabaseUrl> u = ParseDatabaseUrl(url);
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().code(), Status::Code::kInvalidArgument) << url;
    EXPECT_EQ(u.status().message().find("topsecret"), std::string::npos);
  }
  Result<DatabaseUrl> mysql = ParseDatabaseUrl("mysql://root:pw@host/db");
  EXPECT_NE(mysql.status().message().find("mysql://root:***@host/db"), std::string::npos) << mysql.status().message();
}

TEST(StoreSqlitePlaceholdersTest, OutsideLiteralsOnly) {
  EXPECT_EQ(TranslatePlaceholders("SELECT $1, $12 FROM t WHERE a = $2"), "SELECT ?1, ?12 FROM t WHERE a = ?2");
  EXPECT_EQ(TranslatePlaceholders("SELECT '$1', 'it''s $2', \"$3\" -- $4\n, $5 /* $6 */"),
            "SELECT '$1', 'it''s $2', \"$3\" -- $4\n, ?5 /* $6 */");
  EXPECT_EQ(TranslatePlaceholders("SELECT $a, $"), "SELECT $a, $");
}

TEST(StoreValueToStringTest, Renders) {
  EXPECT_EQ(ValueToString(std::monostate{}), "NULL");
  EXPECT_EQ(ValueToString(std::int64_t{-12}), "-12");
  EXPECT_EQ(ValueToString(0.5), "0.5");
  EXPECT_EQ(ValueToString(std::string("x")), "x");
}

}  // namespace
}  // namespace stagebridge::store
