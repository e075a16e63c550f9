// schedule.cc — schedule parsing and next-run computation.
#include "workflow/schedule.h"

#include <cctype>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace stagebridge::workflow {

Result<Schedule> ParseSchedule(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(
        fmt::format("'{}' is not a schedule (use \"every 30s\", \"every 5m\", \"every 1h\", \"every 1d\", \"hourly\", "
                    "\"daily HH:MM\" or \"off\")",
                    text));
  };
  Schedule s;
  if (text == "off") return s;
  if (text == "hourly") text = "every 1h";
  if (text.starts_with("every ")) {
    std::string_view rest = text.substr(6);
    if (rest.size() < 2) return bad();
    char unit = rest.back();
    std::string_view digits = rest.substr(0, rest.size() - 1);
    unsigned n = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || p != digits.data() + digits.size() || n == 0 || n > 1000000) return bad();
    long long unit_seconds = 0;
    switch (unit) {
      case 's': unit_seconds = 1; break;
      case 'm': unit_seconds = 60; break;
      case 'h': unit_seconds = 3600; break;
      case 'd': unit_seconds = 86400; break;
      default: return bad();
    }
    s.kind = Schedule::Kind::kEvery;
    s.interval = std::chrono::seconds(static_cast<long long>(n) * unit_seconds);
    return s;
  }
  if (text.starts_with("daily ")) {
    std::string_view hm = text.substr(6);
    auto digit = [&](std::size_t i) { return std::isdigit(static_cast<unsigned char>(hm[i])) != 0; };
    if (hm.size() != 5 || hm[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) return bad();
    s.hour = (hm[0] - '0') * 10 + (hm[1] - '0');
    s.minute = (hm[3] - '0') * 10 + (hm[4] - '0');
    if (s.hour > 23 || s.minute > 59) return bad();
    s.kind = Schedule::Kind::kDaily;
    return s;
  }
  return bad();
}

std::chrono::system_clock::time_point Schedule::Next(std::chrono::system_clock::time_point after) const {
  using std::chrono::system_clock;
  switch (kind) {
    case Kind::kOff: return system_clock::time_point::max();
    case Kind::kEvery: return after + interval;
    case Kind::kDaily: {
      std::time_t t = system_clock::to_time_t(after);
      std::tm tm{};
      localtime_r(&t, &tm);
      tm.tm_hour = hour;
      tm.tm_min = minute;
      tm.tm_sec = 0;
      tm.tm_isdst = -1;
      system_clock::time_point candidate = system_clock::from_time_t(std::mktime(&tm));
      if (candidate <= after) {
        tm.tm_mday += 1;
        tm.tm_hour = hour;
        tm.tm_min = minute;
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        candidate = system_clock::from_time_t(std::mktime(&tm));
      }
      return candidate;
    }
  }
  return system_clock::time_point::max();
}

}  // namespace stagebridge::workflow
