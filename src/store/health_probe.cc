// health_probe.cc — the database reachability probe behind ping.jsp.
#include "store/health_probe.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace stagebridge::store {

HealthProbe::HealthProbe(std::string url, HealthProbeOptions options)
    : url_(std::move(url)), options_(options), last_answer_(std::chrono::steady_clock::now()) {}

HealthProbe::~HealthProbe() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HealthProbe::Start() {
  (void)ProbeNow();
  thread_ = std::thread([this] { Loop(); });
}

Status HealthProbe::ProbeNow() {
  Status status = Status::Ok();
  if (db_ == nullptr) {
    Result<std::unique_ptr<Database>> db = OpenDatabase(url_);
    if (db.ok()) {
      db_ = std::move(db).value();
    } else {
      status = db.status();
    }
  }
  if (db_ != nullptr) {
    status = db_->Query("SELECT 1").status();
    if (!status.ok()) db_.reset();  // reopened by the next probe
  }
  std::lock_guard lock(mu_);
  if (status.ok() != last_ok_) {
    if (status.ok()) {
      spdlog::info("health: the local database answers again");
    } else {
      spdlog::warn("health: the local database does not answer (ping.jsp answers 503): {}", status.message());
    }
  }
  last_ok_ = status.ok();
  if (status.ok()) last_answer_ = std::chrono::steady_clock::now();
  return status;
}

HealthProbe::State HealthProbe::Current() const {
  std::lock_guard lock(mu_);
  auto silent = std::chrono::steady_clock::now() - last_answer_;
  if (last_ok_ && silent <= options_.stale_after) return {};
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(silent).count();
  return {false, fmt::format("the local database is unreachable (last answer {} s ago)", seconds)};
}

void HealthProbe::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
    lock.unlock();
    (void)ProbeNow();
    lock.lock();
  }
}

}  // namespace stagebridge::store
