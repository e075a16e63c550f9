// pool.h — a fixed-size pool of connections to one database, for the server's
// threads. Acquire() blocks until a connection is free; the lease gives it back
// when destroyed. A connection that reports Unavailable is discarded and
// re-opened on its next lease (the database went away and may come back).
//
// Thread-safety: thread-safe. Each leased Database is used by one thread at a time.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/database.h"

namespace stagebridge::store {

class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Database> db) : pool_(pool), db_(std::move(db)) {}
    ~Lease();
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    Database& operator*() const { return *db_; }
    Database* operator->() const { return db_.get(); }
    // Marks the connection broken: it is closed instead of returned.
    void Discard() { discard_ = true; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Database> db_;
    bool discard_ = false;
  };

  // REQUIRES: size >= 1. No connection is opened until the first Acquire().
  ConnectionPool(std::string url, int size);

  // Leases a connection, opening one if none is idle and fewer than `size` exist.
  Result<Lease> Acquire();

  const std::string& url() const { return url_; }
  DialectKind kind() const { return kind_; }

 private:
  void Release(std::unique_ptr<Database> db, bool discard);

  const std::string url_;
  const int size_;
  DialectKind kind_ = DialectKind::kSqlite;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Database>> idle_;  // GUARDED_BY(mu_)
  int open_ = 0;                                 // GUARDED_BY(mu_): leased + idle
};

}  // namespace stagebridge::store
