// rate_limiter.cc — token buckets per login, in GCRA form.
#include "soap/rate_limiter.h"

#include <algorithm>
#include <cassert>

namespace stagebridge::soap {

namespace {
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
}  // namespace

std::int64_t RateLimiter::Decision::RetryAfterSeconds() const {
  std::int64_t s = (retry_after.count() + kNanosPerSecond - 1) / kNanosPerSecond;
  return std::max<std::int64_t>(s, 1);
}

RateLimiter::Clock RateLimiter::SteadyClock() {
  return [] { return std::chrono::steady_clock::now(); };
}

RateLimiter::RateLimiter(std::int64_t calls_per_second, std::int64_t burst, Clock clock)
    : calls_per_second_(calls_per_second),
      burst_(burst),
      interval_ns_(kNanosPerSecond / std::max<std::int64_t>(calls_per_second, 1)),
      tolerance_ns_((std::max<std::int64_t>(burst, 1) - 1) * interval_ns_),
      clock_(std::move(clock)) {
  assert(calls_per_second >= 1 && burst >= 1);
}

RateLimiter::Shard& RateLimiter::ShardOf(const std::string& login) {
  return shards_[std::hash<std::string>{}(login) % kShards];
}

RateLimiter::Decision RateLimiter::Acquire(const std::string& login) {
  return AcquireAt(login, clock_());
}

RateLimiter::Decision RateLimiter::AcquireAt(const std::string& login, TimePoint now) {
  std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  Shard& shard = ShardOf(login);
  Decision d;
  std::lock_guard lock(shard.mu);
  auto it = shard.buckets.find(login);
  if (it == shard.buckets.end()) it = shard.buckets.emplace(login, Bucket{now_ns, 0, -1}).first;
  Bucket& b = it->second;
  std::int64_t tat = std::max(b.tat_ns, now_ns);
  if (tat - now_ns <= tolerance_ns_) {
    b.tat_ns = tat + interval_ns_;
    return d;
  }
  // Empty: refused, and the bucket is left as it was.
  d.allowed = false;
  d.retry_after = std::chrono::nanoseconds(tat - tolerance_ns_ - now_ns);
  d.refused = ++b.refused;
  std::int64_t second = now_ns / kNanosPerSecond;
  d.first_this_second = second != b.logged_second;
  b.logged_second = second;
  return d;
}

std::vector<std::pair<std::string, std::uint64_t>> RateLimiter::Refusals() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [login, bucket] : shard.buckets) out.emplace_back(login, bucket.refused);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace stagebridge::soap
