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
  // Starts no new run from now on and asks the runs in progress to end; does
  // not wait (Stop() waits). Safe from any thread, e.g. a signal's handler.
  void BeginStop();
  void Stop();

  // Queues a run of `workflow` (for one schema, or all when empty) to start as
  // soon as the workflow is free. False when the scheduler does not run it.
  bool RunNow(const std::string& workflow, const std::string& schema, const std::string& trigger);

  // Replaces the user workflows' entries (those of the previous call): a new
  // one starts on its schedule, a removed one ends after its run in progress,
  // a changed schedule counts from now. Technical entries are never touched.
  void SetUserEntries(std::vector<Entry> entries);

 private:
  struct Slot {
    Entry entry;
    std::set<std::string> requested;  // schemas asked for ("" = all); GUARDED_BY(mu_)
    std::string trigger;              // GUARDED_BY(mu_)
    bool user = false;                // a user workflow's (SetUserEntries)
    bool retired = false;             // GUARDED_BY(mu_): removed by SetUserEntries; its loop ends
    bool changed = false;             // GUARDED_BY(mu_): its schedule changed
    std::thread thread;
  };
  void Loop(Slot& slot);

  Runner& runner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  bool started_ = false;   // GUARDED_BY(mu_)
  std::atomic<bool> stop_flag_{false};
  std::vector<std::unique_ptr<Slot>> slots_;  // GUARDED_BY(mu_) once started; only grows
};

}  // namespace stagebridge::workflow
