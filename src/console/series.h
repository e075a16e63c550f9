// series.h — the overview's plot data: a small, bounded, in-memory series the
// server keeps of its staging backlog and ingest rate.
//
// One sample per interval (a minute in `serve`) holds the rows staged since the
// previous sample (counted by AddIngested, called from the staging writer's
// batch hook) and the pending rows of each staged schema at that moment (given
// by the sampler). A ring buffer keeps the last `capacity` samples (360: six
// hours), so memory is bounded whatever the uptime; nothing is persisted — the
// series starts afresh with the server.
//
// Thread-safety: thread-safe. AddIngested is one atomic add (it runs on the
// writer's hot path); Record and Snapshot take a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace stagebridge::console {

struct Sample {
  std::int64_t time = 0;                        // epoch seconds
  std::int64_t ingested = 0;                    // rows staged since the previous sample
  std::map<std::string, std::int64_t> pending;  // source schema → rows pending in staging
};

class BacklogSeries {
 public:
  static constexpr std::size_t kDefaultCapacity = 360;

  explicit BacklogSeries(std::size_t capacity = kDefaultCapacity);

  // Counts rows staged (any schema) toward the next sample.
  void AddIngested(std::int64_t rows) { ingested_.fetch_add(rows, std::memory_order_relaxed); }

  // Closes a sample at `time` with the rows counted since the last one and the
  // backlog given; the oldest sample goes when the buffer is full.
  void Record(std::int64_t time, std::map<std::string, std::int64_t> pending);

  // The samples kept, oldest first.
  std::vector<Sample> Snapshot() const;

  // Rows counted since the last sample (not yet in one).
  std::int64_t IngestedSinceLastSample() const { return ingested_.load(std::memory_order_relaxed); }

  std::size_t Capacity() const { return capacity_; }

 private:
  const std::size_t capacity_;
  std::atomic<std::int64_t> ingested_{0};
  mutable std::mutex mu_;
  std::vector<Sample> ring_;  // GUARDED_BY(mu_); `capacity_` slots once full
  std::size_t next_ = 0;      // GUARDED_BY(mu_); where the next sample goes once full
};

}  // namespace stagebridge::console
