// rate_limiter.h — per-operator call rate limits (the platform's TPS limit): a
// token bucket per operator login, checked by the router after authentication.
//
// Each login has a bucket of `burst` calls that refills at `calls_per_second`;
// a call takes one token, a call finding the bucket empty is refused (and takes
// nothing, so a client retrying too early does not push its next slot back).
// The bucket is kept as one number, the GCRA form of a token bucket: the
// "theoretical arrival time" `tat` of the next call at the sustained rate. A
// call at `now` passes when tat - now <= (burst - 1) * interval, and then moves
// tat to max(tat, now) + interval; refused, it may retry after
// tat - (burst - 1) * interval - now (the time until one token is back).
//
// Buckets live in a map sharded by login (kShards shards, each its own mutex on
// its own cache line), so calls of different operators rarely meet on a lock,
// and the critical section is a hash lookup and a few integer operations. One
// entry per login that made a call (bounded by the operators table); an entry
// is never removed (a bucket that refilled is the same as a new one).
//
// Thread-safety: thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace stagebridge::soap {

class RateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Monotonic time, injectable for tests.
  using Clock = std::function<TimePoint()>;

  struct Decision {
    bool allowed = true;
    // Refused: how long until the login's next call would pass (> 0).
    std::chrono::nanoseconds retry_after{0};
    // Refused: the login's refusals so far, this one included.
    std::uint64_t refused = 0;
    // Refused: the login's first refusal in this second of the clock (to log
    // refusals at most once a second per login, not once per call).
    bool first_this_second = false;

    // Retry-After: whole seconds, rounded up, at least 1.
    std::int64_t RetryAfterSeconds() const;
  };

  // REQUIRES: calls_per_second >= 1, burst >= 1.
  RateLimiter(std::int64_t calls_per_second, std::int64_t burst, Clock clock = SteadyClock());

  // Takes a token from `login`'s bucket at the clock's now, or refuses the call.
  Decision Acquire(const std::string& login);
  // The same at an explicit time (`now` must not go back for a login).
  Decision AcquireAt(const std::string& login, TimePoint now);

  std::int64_t CallsPerSecond() const { return calls_per_second_; }
  std::int64_t Burst() const { return burst_; }

  // Every login that made a call, with its refusals so far, sorted by login.
  std::vector<std::pair<std::string, std::uint64_t>> Refusals() const;

  static Clock SteadyClock();

 private:
  static constexpr std::size_t kShards = 16;

  struct Bucket {
    std::int64_t tat_ns = 0;  // theoretical arrival time of the next call, clock ns
    std::uint64_t refused = 0;
    std::int64_t logged_second = -1;  // the clock second of the last logged refusal
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;  // GUARDED_BY(mu)
  };

  Shard& ShardOf(const std::string& login);

  const std::int64_t calls_per_second_;
  const std::int64_t burst_;
  const std::int64_t interval_ns_;   // 1 s / calls_per_second
  const std::int64_t tolerance_ns_;  // (burst - 1) * interval: how far tat may run ahead of now
  const Clock clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace stagebridge::soap
