// test_databases.h — fresh, empty, isolated databases for tests, on either backend.
//
// SQLite: a file in a new temporary directory, removed afterwards.
// PostgreSQL: a new database (sbtest_<pid>_<counter>_<random>) on the server
// named by $STAGEBRIDGE_TEST_PG_URL, dropped afterwards. Run the tests through
// scripts/with-postgres.sh, which starts a throwaway server and sets it; without
// it every PostgreSQL test FAILS (never skips), so a green run means both
// backends were tested.
//
// Several TestDatabases may live at once (say a local and a cloud database in
// one test); their names never collide, across threads or processes.
//
//   class StoreTest : public testing::TestWithParam<Backend> {};
//   TEST_P(StoreTest, Foo) {
//     TestDatabase tdb(GetParam());
//     ASSERT_TRUE(tdb.ok());
//     std::unique_ptr<store::Database> db = tdb.Open();
//     ASSERT_NE(db, nullptr);
//   }
//   INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, testing::ValuesIn(AllBackends()), BackendParamName());
//   → Backends/StoreTest.Foo/sqlite, Backends/StoreTest.Foo/postgres
//
// Thread-safety: a TestDatabase is used by one thread; creating several from
// different threads is safe.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/database.h"

namespace stagebridge::test {

enum class Backend { kSqlite, kPostgres };

// "sqlite" or "postgres".
std::string BackendName(Backend backend);
std::vector<Backend> AllBackends();

// gtest prints parameters with this (test names, failure messages).
inline void PrintTo(Backend backend, std::ostream* os) {
  *os << BackendName(backend);
}

// For INSTANTIATE_TEST_SUITE_P: names the instances /sqlite and /postgres.
struct BackendParamName {
  std::string operator()(const ::testing::TestParamInfo<Backend>& info) const { return BackendName(info.param); }
};

// A local and a cloud backend, for tests over both databases of a deployment.
struct BackendPair {
  Backend local;
  Backend cloud;
};

// "sqlite_postgres": local, then cloud.
inline std::string PairName(const BackendPair& p) {
  return BackendName(p.local) + "_" + BackendName(p.cloud);
}
inline void PrintTo(const BackendPair& p, std::ostream* os) {
  *os << PairName(p);
}

// Every combination: sqlite/sqlite, postgres/postgres, sqlite/postgres, postgres/sqlite.
inline std::vector<BackendPair> AllPairs() {
  return {{Backend::kSqlite, Backend::kSqlite},
          {Backend::kPostgres, Backend::kPostgres},
          {Backend::kSqlite, Backend::kPostgres},
          {Backend::kPostgres, Backend::kSqlite}};
}

struct PairParamName {
  std::string operator()(const ::testing::TestParamInfo<BackendPair>& info) const { return PairName(info.param); }
};

// The name of the environment variable holding the PostgreSQL server URL.
inline constexpr const char* kPostgresUrlVariable = "STAGEBRIDGE_TEST_PG_URL";

class TestDatabase {
 public:
  // Creates the database. On failure records a gtest failure (ADD_FAILURE) and
  // leaves ok() false; check it with ASSERT_TRUE(tdb.ok()).
  explicit TestDatabase(Backend backend);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  bool ok() const { return ok_; }
  Backend backend() const { return backend_; }
  store::DialectKind kind() const;
  // The URL to open the database with (sqlite:/tmp/…/test.db, postgresql://…/sbtest_…).
  const std::string& url() const { return url_; }

  // A new connection to the database; nullptr (after ADD_FAILURE) on error.
  std::unique_ptr<store::Database> Open() const;

 private:
  Backend backend_;
  bool ok_ = false;
  std::string url_;
  std::string directory_;      // SQLite: the temporary directory
  std::string admin_url_;      // PostgreSQL: the server's maintenance database
  std::string database_name_;  // PostgreSQL: the database created
};

// `url` (a postgresql:// or postgres:// URI) with its database name replaced by
// `database`; query parameters are kept. Exposed for tests.
std::string ReplaceDatabaseInUrl(const std::string& url, const std::string& database);

}  // namespace stagebridge::test
