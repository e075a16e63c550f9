// scheduler.h — runs the technical workflows inside `stagebridge serve`: each on
// its schedule, or now on request (SOAP StartReplicateStagingData). One thread
// per workflow; a request that arrives during a run is queued and runs right
// after it. Stop() ends a run in progress after its current batch.
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "workflow/runner.h"
#include "workflow/schedule.h"

namespace stagebridge::workflow {

class Scheduler {
 public:
  struct Entry {
    std::string workflow;
    Schedule schedule;
  };

  Scheduler(Runner& runner, std::vector<Entry> entries);
  ~Scheduler();  // Stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void Start();
  void Stop();

  // Queues a run of `workflow` (for one schema, or all when empty) to start as
  // soon as the workflow is free. False when the scheduler does not run it.
  bool RunNow(const std::string& workflow, const std::string& schema, const std::string& trigger);

 private:
  struct Slot {
    Entry entry;
    std::set<std::string> requested;  // schemas asked for ("" = all); GUARDED_BY(mu_)
    std::string trigger;              // GUARDED_BY(mu_)
    std::thread thread;
  };
  void Loop(Slot& slot);

  Runner& runner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::atomic<bool> stop_flag_{false};
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace stagebridge::workflow
