// series.cc — the ring buffer of backlog samples.
#include "console/series.h"

#include <cassert>

namespace stagebridge::console {

BacklogSeries::BacklogSeries(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  ring_.reserve(capacity_);
}

void BacklogSeries::Record(std::int64_t time, std::map<std::string, std::int64_t> pending) {
  Sample sample{time, ingested_.exchange(0, std::memory_order_relaxed), std::move(pending)};
  std::lock_guard<std::mutex> lock(mu_);
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(sample));
    return;
  }
  ring_[next_] = std::move(sample);
  next_ = (next_ + 1) % capacity_;
}

std::vector<Sample> BacklogSeries::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Sample> out;
  out.reserve(ring_.size());
  // Invariant: while the ring fills, next_ stays 0, so ring_ is in order; once
  // full, next_ is the oldest slot.
  assert(ring_.size() == capacity_ || next_ == 0);
  for (std::size_t i = 0; i < ring_.size(); ++i) out.push_back(ring_[(next_ + i) % ring_.size()]);
  return out;
}

}  // namespace stagebridge::console
