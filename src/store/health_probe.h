// health_probe.h — is the database reachable? A background thread runs
// `SELECT 1` on a connection of its own (not a pool's: a busy pool must not
// look like a dead database) once per interval and remembers when it last
// answered; Current() reads that without blocking, so an HTTP health check can
// ask on every request. A probe stuck on an unanswering server (a network
// black hole) shows as the last answer growing old.
//
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "store/database.h"

namespace stagebridge::store {

struct HealthProbeOptions {
  std::chrono::milliseconds interval{1000};  // between probes
  // Unhealthy when no probe succeeded for this long, or when the last one failed.
  std::chrono::milliseconds stale_after{3000};
};

class HealthProbe {
 public:
  struct State {
    bool ok = true;
    std::string problem;  // when !ok: a line without secrets or addresses
  };

  HealthProbe(std::string url, HealthProbeOptions options = {});
  ~HealthProbe();  // stops the thread (a probe in progress is waited for)
  HealthProbe(const HealthProbe&) = delete;
  HealthProbe& operator=(const HealthProbe&) = delete;

  // Probes once now, then starts the thread.
  void Start();
  // One probe, synchronously (what the thread does each interval).
  Status ProbeNow();
  // The last probe's verdict, aged: never blocks.
  State Current() const;

 private:
  void Loop();

  const std::string url_;
  const HealthProbeOptions options_;
  std::unique_ptr<Database> db_;  // used by the probing thread only (or ProbeNow's caller)
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                              // GUARDED_BY(mu_)
  bool last_ok_ = true;                                // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point last_answer_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace stagebridge::store
