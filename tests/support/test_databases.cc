// test_databases.cc — creation and removal of the per-test SQLite files and PostgreSQL databases.
#include "support/test_databases.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <unistd.h>

namespace stagebridge::test {
namespace {

std::atomic<int> g_counter{0};

std::string RandomHex() {
  std::random_device device;
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", static_cast<unsigned>(device()));
  return buf;
}

}  // namespace

std::string BackendName(Backend backend) {
  return backend == Backend::kSqlite ? "sqlite" : "postgres";
}

std::vector<Backend> AllBackends() {
  return {Backend::kSqlite, Backend::kPostgres};
}

std::string ReplaceDatabaseInUrl(const std::string& url, const std::string& database) {
  std::size_t authority = url.find("://");
  authority = authority == std::string::npos ? 0 : authority + 3;
  std::size_t query = url.find('?', authority);
  std::size_t path = url.find('/', authority);
  if (path != std::string::npos && query != std::string::npos && path > query) {
    path = std::string::npos;
  }
  std::size_t path_end = query == std::string::npos ? url.size() : query;
  std::size_t start = path == std::string::npos ? path_end : path;
  return url.substr(0, start) + "/" + database + url.substr(path_end);
}

TestDatabase::TestDatabase(Backend backend) : backend_(backend) {
  int counter = g_counter.fetch_add(1);
  if (backend == Backend::kSqlite) {
    std::string pattern = (std::filesystem::temp_directory_path() / "sbtest-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "cannot create a temporary directory under " << pattern;
      return;
    }
    directory_ = pattern;
    url_ = "sqlite:" + directory_ + "/test.db";
    ok_ = true;
    return;
  }

  const char* server = std::getenv(kPostgresUrlVariable);
  if (server == nullptr || *server == '\0') {
    ADD_FAILURE() << kPostgresUrlVariable << " is not set: run the tests through scripts/with-postgres.sh";
    return;
  }
  admin_url_ = server;
  Result<std::unique_ptr<store::Database>> admin = store::OpenDatabase(admin_url_);
  if (!admin.ok()) {
    ADD_FAILURE() << "cannot reach the test PostgreSQL server: " << admin.status().ToString();
    return;
  }
  std::string name = "sbtest_" + std::to_string(::getpid()) + "_" + std::to_string(counter) + "_" + RandomHex();
  // CREATE DATABASE cannot run inside a transaction block: the simple protocol.
  Status created = (*admin)->ExecuteScript("CREATE DATABASE " + name);
  if (!created.ok()) {
    ADD_FAILURE() << "cannot create test database " << name << ": " << created.ToString();
    return;
  }
  database_name_ = name;
  url_ = ReplaceDatabaseInUrl(admin_url_, name);
  ok_ = true;
}

TestDatabase::~TestDatabase() {
  if (!directory_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(directory_, ec);
  }
  if (!database_name_.empty()) {
    Result<std::unique_ptr<store::Database>> admin = store::OpenDatabase(admin_url_);
    Status dropped = admin.ok() ? (*admin)->ExecuteScript("DROP DATABASE IF EXISTS " + database_name_ + " WITH (FORCE)")
                                : admin.status();
    if (!dropped.ok()) {
      std::fprintf(stderr, "warning: could not drop test database %s: %s\n", database_name_.c_str(),
                   dropped.ToString().c_str());
    }
  }
}

store::DialectKind TestDatabase::kind() const {
  return backend_ == Backend::kSqlite ? store::DialectKind::kSqlite : store::DialectKind::kPostgres;
}

std::unique_ptr<store::Database> TestDatabase::Open() const {
  if (!ok_) {
    ADD_FAILURE() << "the test database was not created";
    return nullptr;
  }
  Result<std::unique_ptr<store::Database>> db = store::OpenDatabase(url_);
  if (!db.ok()) {
    ADD_FAILURE() << "cannot open " << url_ << ": " << db.status().ToString();
    return nullptr;
  }
  return std::move(db).value();
}

}  // namespace stagebridge::test
