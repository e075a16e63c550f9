// rate_limiter_test.cc — the token buckets with an injected clock (no sleeps):
// burst, sustained rate, refill, retry delays, logins independent, concurrency.
#include "soap/rate_limiter.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace stagebridge::soap {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// A clock the test moves by hand.
struct ManualClock {
  RateLimiter::TimePoint now = RateLimiter::TimePoint{} + seconds(1000);
  RateLimiter::Clock Fn() {
    return [this] { return now; };
  }
};

// Calls `n` times at the current time; how many passed.
int Passed(RateLimiter& limiter, const std::string& login, int n) {
  int passed = 0;
  for (int i = 0; i < n; ++i) passed += limiter.Acquire(login).allowed ? 1 : 0;
  return passed;
}

TEST(RateLimiterTest, AFullBucketLetsTheBurstThroughThenRefuses) {
  ManualClock clock;
  RateLimiter limiter(10, 5, clock.Fn());
  EXPECT_EQ(Passed(limiter, "amy", 5), 5);
  RateLimiter::Decision refused = limiter.Acquire("amy");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds(100));  // one token back after 1/10 s
  EXPECT_EQ(refused.RetryAfterSeconds(), 1);
  EXPECT_EQ(refused.refused, 1u);
}

TEST(RateLimiterTest, RefillsAtTheSustainedRate) {
  ManualClock clock;
  RateLimiter limiter(10, 5, clock.Fn());
  EXPECT_EQ(Passed(limiter, "amy", 5), 5);
  clock.now += milliseconds(99);
  EXPECT_FALSE(limiter.Acquire("amy").allowed);
  clock.now += milliseconds(1);
  EXPECT_TRUE(limiter.Acquire("amy").allowed);  // exactly one token back
  EXPECT_FALSE(limiter.Acquire("amy").allowed);
  clock.now += milliseconds(350);  // three and a half tokens
  EXPECT_EQ(Passed(limiter, "amy", 10), 3);
  // Ten seconds at the sustained rate, one call every 100 ms: all pass.
  clock.now += milliseconds(50);
  for (int i = 0; i < 100; ++i) {
    clock.now += milliseconds(100);
    EXPECT_TRUE(limiter.Acquire("amy").allowed) << i;
  }
}

TEST(RateLimiterTest, TheBucketNeverHoldsMoreThanTheBurst) {
  ManualClock clock;
  RateLimiter limiter(10, 5, clock.Fn());
  clock.now += seconds(3600);  // idle for an hour
  EXPECT_EQ(Passed(limiter, "amy", 20), 5);
}

TEST(RateLimiterTest, RefusedCallsTakeNoToken) {
  ManualClock clock;
  RateLimiter limiter(10, 1, clock.Fn());
  EXPECT_TRUE(limiter.Acquire("amy").allowed);
  // A client hammering without waiting does not push its next slot back.
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(limiter.Acquire("amy").allowed);
  clock.now += milliseconds(100);
  EXPECT_TRUE(limiter.Acquire("amy").allowed);
}

TEST(RateLimiterTest, RetryAfterIsTheTimeUntilTheNextToken) {
  ManualClock clock;
  RateLimiter limiter(4, 2, clock.Fn());  // a token every 250 ms
  EXPECT_EQ(Passed(limiter, "amy", 2), 2);
  clock.now += milliseconds(100);
  RateLimiter::Decision d = limiter.Acquire("amy");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds(150));
  clock.now += d.retry_after;
  EXPECT_TRUE(limiter.Acquire("amy").allowed);
  // Whole seconds for Retry-After, rounded up, never 0.
  RateLimiter::Decision r;
  r.retry_after = nanoseconds(1);
  EXPECT_EQ(r.RetryAfterSeconds(), 1);
  r.retry_after = seconds(1);
  EXPECT_EQ(r.RetryAfterSeconds(), 1);
  r.retry_after = seconds(1) + nanoseconds(1);
  EXPECT_EQ(r.RetryAfterSeconds(), 2);
  r.retry_after = nanoseconds(0);
  EXPECT_EQ(r.RetryAfterSeconds(), 1);
}

TEST(RateLimiterTest, OneCallPerSecondWithBurstOne) {
  ManualClock clock;
  RateLimiter limiter(1, 1, clock.Fn());
  EXPECT_TRUE(limiter.Acquire("amy").allowed);
  RateLimiter::Decision d = limiter.Acquire("amy");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, seconds(1));
  EXPECT_EQ(d.RetryAfterSeconds(), 1);
  clock.now += milliseconds(999);
  EXPECT_FALSE(limiter.Acquire("amy").allowed);
  clock.now += milliseconds(1);
  EXPECT_TRUE(limiter.Acquire("amy").allowed);
}

TEST(RateLimiterTest, LoginsHaveTheirOwnBuckets) {
  ManualClock clock;
  RateLimiter limiter(10, 3, clock.Fn());
  EXPECT_EQ(Passed(limiter, "amy", 10), 3);
  EXPECT_EQ(Passed(limiter, "bob", 10), 3);  // amy's refusals do not touch bob
  EXPECT_EQ(Passed(limiter, "Amy", 1), 1);   // logins are compared exactly
  std::vector<std::pair<std::string, std::uint64_t>> refusals = limiter.Refusals();
  ASSERT_EQ(refusals.size(), 3u);
  EXPECT_EQ(refusals[0], std::make_pair(std::string("Amy"), std::uint64_t{0}));
  EXPECT_EQ(refusals[1], std::make_pair(std::string("amy"), std::uint64_t{7}));
  EXPECT_EQ(refusals[2], std::make_pair(std::string("bob"), std::uint64_t{7}));
}

TEST(RateLimiterTest, FirstRefusalOfEachSecondIsFlaggedForTheLog) {
  ManualClock clock;
  clock.now = RateLimiter::TimePoint{} + seconds(50);
  RateLimiter limiter(1, 1, clock.Fn());
  EXPECT_TRUE(limiter.Acquire("amy").allowed);
  EXPECT_TRUE(limiter.Acquire("amy").first_this_second);
  EXPECT_FALSE(limiter.Acquire("amy").first_this_second);
  EXPECT_TRUE(limiter.Acquire("bob").allowed);
  EXPECT_TRUE(limiter.Acquire("bob").first_this_second);  // per login
  clock.now += milliseconds(500);
  EXPECT_FALSE(limiter.Acquire("amy").first_this_second);  // same second
  clock.now += milliseconds(600);                          // next second; amy's token is back
  EXPECT_TRUE(limiter.Acquire("amy").allowed);
  RateLimiter::Decision d = limiter.Acquire("amy");
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.first_this_second);
  EXPECT_EQ(d.refused, 4u);
}

TEST(RateLimiterTest, AcquireAtTakesTheTimeItIsGiven) {
  RateLimiter limiter(2, 1, [] { return RateLimiter::TimePoint{}; });
  RateLimiter::TimePoint t = RateLimiter::TimePoint{} + seconds(10);
  EXPECT_TRUE(limiter.AcquireAt("amy", t).allowed);
  EXPECT_FALSE(limiter.AcquireAt("amy", t + milliseconds(499)).allowed);
  EXPECT_TRUE(limiter.AcquireAt("amy", t + milliseconds(500)).allowed);
}

TEST(RateLimiterTest, TheRealClockWorks) {
  RateLimiter limiter(1, 2);
  EXPECT_EQ(Passed(limiter, "amy", 5), 2);  // five calls well within a second
}

// Many threads on one login (one shard, one lock) and on others: exactly the
// burst passes at a frozen clock, whatever the interleaving.
TEST(RateLimiterTest, ConcurrentCallsNeverPassMoreThanTheBucketHolds) {
  ManualClock clock;
  RateLimiter limiter(1000, 500, clock.Fn());
  std::atomic<int> amy{0};
  std::atomic<int> others{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        if (limiter.Acquire("amy").allowed) ++amy;
        if (limiter.Acquire("op" + std::to_string(t)).allowed) ++others;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(amy.load(), 500);
  EXPECT_EQ(others.load(), 8 * 500);
  std::uint64_t refused = 0;
  for (const auto& [login, n] : limiter.Refusals()) refused += n;
  EXPECT_EQ(refused, (8000u - 500u) + 8u * (1000u - 500u));
}

}  // namespace
}  // namespace stagebridge::soap
