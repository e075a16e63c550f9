// pool.cc — the connection pool.
#include "store/pool.h"

namespace stagebridge::store {

ConnectionPool::Lease::~Lease() {
  if (db_ != nullptr && pool_ != nullptr) pool_->Release(std::move(db_), discard_);
}

ConnectionPool::ConnectionPool(std::string url, int size) : url_(std::move(url)), size_(size) {
  if (auto parsed = ParseDatabaseUrl(url_); parsed.ok()) kind_ = parsed->kind;
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      std::unique_ptr<Database> db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(db));
    }
    ++open_;  // reserve the slot, open outside the lock
  }
  Result<std::unique_ptr<Database>> db = OpenDatabase(url_);
  if (!db.ok()) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
    return db.status();
  }
  return Lease(this, std::move(db).value());
}

void ConnectionPool::Release(std::unique_ptr<Database> db, bool discard) {
  if (db->in_transaction()) {
    // A lease dropped mid-transaction (an early return): roll back before reuse.
    if (!db->Rollback().ok()) discard = true;
  }
  std::lock_guard lock(mu_);
  if (discard) {
    --open_;
    db.reset();
  } else {
    idle_.push_back(std::move(db));
  }
  cv_.notify_one();
}

}  // namespace stagebridge::store
