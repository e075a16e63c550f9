// schedule.h — when a technical workflow runs: "every 30s" / "every 5m" /
// "every 1h" / "every 1d", "hourly" (= every 1h), "daily HH:MM" (local time), "off".
//
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/status.h"

namespace stagebridge::workflow {

struct Schedule {
  enum class Kind { kOff, kEvery, kDaily };
  Kind kind = Kind::kOff;
  std::chrono::seconds interval{0};  // kEvery
  int hour = 0;                      // kDaily, local time
  int minute = 0;

  // The next run strictly after `after` (kOff: time_point::max()). Intervals
  // count from `after` (the end of the previous run, or the start of the server).
  std::chrono::system_clock::time_point Next(std::chrono::system_clock::time_point after) const;
};

// InvalidArgument naming the accepted forms.
Result<Schedule> ParseSchedule(std::string_view text);

}  // namespace stagebridge::workflow
