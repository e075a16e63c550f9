// scheduler.cc — schedule loop per workflow.
#include "workflow/scheduler.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace stagebridge::workflow {

Scheduler::Scheduler(Runner& runner, std::vector<Entry> entries) : runner_(runner) {
  for (Entry& e : entries) {
    auto slot = std::make_unique<Slot>();
    slot->entry = std::move(e);
    slots_.push_back(std::move(slot));
  }
}

Scheduler::~Scheduler() {
  Stop();
}

void Scheduler::Start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  for (auto& slot : slots_) {
    Slot* s = slot.get();
    s->thread = std::thread([this, s] { Loop(*s); });
  }
}

void Scheduler::BeginStop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_flag_ = true;
  cv_.notify_all();
}

void Scheduler::Stop() {
  BeginStop();
  std::vector<Slot*> slots;
  {
    std::lock_guard lock(mu_);
    for (auto& slot : slots_) slots.push_back(slot.get());
  }
  for (Slot* slot : slots) {
    if (slot->thread.joinable()) slot->thread.join();
  }
}

void Scheduler::SetUserEntries(std::vector<Entry> entries) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  for (auto& slot : slots_) {
    if (!slot->user || slot->retired) continue;
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const Entry& e) { return e.workflow == slot->entry.workflow; });
    if (it == entries.end()) {
      slot->retired = true;
      continue;
    }
    slot->entry.schedule = it->schedule;
    slot->changed = true;
    entries.erase(it);
  }
  for (Entry& e : entries) {
    auto slot = std::make_unique<Slot>();
    slot->entry = std::move(e);
    slot->user = true;
    Slot* s = slot.get();
    slots_.push_back(std::move(slot));
    if (started_) s->thread = std::thread([this, s] { Loop(*s); });
  }
  cv_.notify_all();
}

bool Scheduler::RunNow(const std::string& workflow, const std::string& schema, const std::string& trigger) {
  std::lock_guard lock(mu_);
  for (auto& slot : slots_) {
    if (slot->entry.workflow != workflow || slot->retired) continue;
    slot->requested.insert(schema);
    slot->trigger = trigger;
    cv_.notify_all();
    return true;
  }
  return false;
}

void Scheduler::Loop(Slot& slot) {
  using std::chrono::system_clock;
  system_clock::time_point next;
  {
    std::lock_guard lock(mu_);
    next = slot.entry.schedule.Next(system_clock::now());
  }
  for (;;) {
    RunRequest request;
    request.workflow = slot.entry.workflow;
    request.stop = &stop_flag_;
    {
      std::unique_lock lock(mu_);
      auto due = [&] {
        return stopping_ || slot.retired || slot.changed || !slot.requested.empty() || system_clock::now() >= next;
      };
      if (next == system_clock::time_point::max()) {
        cv_.wait(lock, due);
      } else {
        cv_.wait_until(lock, next, due);
      }
      if (stopping_ || slot.retired) return;
      if (slot.changed) {
        slot.changed = false;
        next = slot.entry.schedule.Next(system_clock::now());
        continue;
      }
      if (!slot.requested.empty()) {
        // The requests queued meanwhile make one run: of one schema when they all
        // named it, of every schema otherwise.
        request.schema = slot.requested.size() == 1 ? *slot.requested.begin() : "";
        request.trigger = slot.trigger;
        slot.requested.clear();
      } else if (system_clock::now() >= next) {
        request.trigger = "schedule";
      } else {
        continue;  // spurious wake-up
      }
    }
    Result<RunRecord> run = runner_.Run(request);
    if (!run.ok()) spdlog::error("workflow {} could not run: {}", request.workflow, run.status().ToString());
    std::lock_guard lock(mu_);
    next = slot.entry.schedule.Next(system_clock::now());
  }
}

}  // namespace stagebridge::workflow
