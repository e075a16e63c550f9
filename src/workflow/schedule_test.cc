// schedule_test.cc — schedule parsing and the next-run computation (intervals,
// daily times in local time across month, year and DST changes).
#include "workflow/schedule.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stagebridge::workflow {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::system_clock;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ParseScheduleTest, AcceptsEveryDocumentedForm) {
  struct Case {
    const char* text;
    Schedule::Kind kind;
    seconds interval;
    int hour;
    int minute;
  };
  const Case cases[] = {
      {"off", Schedule::Kind::kOff, seconds(0), 0, 0},
      {"every 30s", Schedule::Kind::kEvery, seconds(30), 0, 0},
      {"every 1s", Schedule::Kind::kEvery, seconds(1), 0, 0},
      {"every 5m", Schedule::Kind::kEvery, minutes(5), 0, 0},
      {"every 1h", Schedule::Kind::kEvery, hours(1), 0, 0},
      {"every 1d", Schedule::Kind::kEvery, hours(24), 0, 0},
      {"every 1000000s", Schedule::Kind::kEvery, seconds(1000000), 0, 0},
      {"hourly", Schedule::Kind::kEvery, hours(1), 0, 0},
      {"daily 04:00", Schedule::Kind::kDaily, seconds(0), 4, 0},
      {"daily 00:00", Schedule::Kind::kDaily, seconds(0), 0, 0},
      {"daily 23:59", Schedule::Kind::kDaily, seconds(0), 23, 59},
  };
  for (const Case& c : cases) {
    Result<Schedule> s = ParseSchedule(c.text);
    ASSERT_TRUE(s.ok()) << c.text << ": " << s.status().ToString();
    EXPECT_EQ(s->kind, c.kind) << c.text;
    EXPECT_EQ(s->interval, c.interval) << c.text;
    EXPECT_EQ(s->hour, c.hour) << c.text;
    EXPECT_EQ(s->minute, c.minute) << c.text;
  }
}

TEST(ParseScheduleTest, RefusesEverythingElseNamingTheAcceptedForms) {
  for (const char* text : {"",
                           " ",
                           "every",
                           "every ",
                           "every s",
                           "every 0s",
                           "every -5s",
                           "every +5s",
                           "every 5",
                           "every 5x",
                           "every 5 s",
                           "every 1.5h",
                           "every 1000001s",
                           "every 99999999999999999999s",
                           "every 5S",
                           "Hourly",
                           "hourly ",
                           " off",
                           "daily",
                           "daily ",
                           "daily 4:00",
                           "daily 24:00",
                           "daily 04:60",
                           "daily 04-00",
                           "daily 04:00:00",
                           "daily aa:bb",
                           "weekly",
                           "0 4 * * *"}) {
    Result<Schedule> s = ParseSchedule(text);
    ASSERT_FALSE(s.ok()) << "'" << text << "' was accepted";
    EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument) << text;
    EXPECT_THAT(s.status().message(), AllOf(HasSubstr(std::string("'") + text + "'"), HasSubstr("\"every 30s\""),
                                            HasSubstr("\"daily HH:MM\""), HasSubstr("\"off\"")))
        << text;
  }
}

// Sets $TZ for the test and restores it afterwards.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTimeZone() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};

system_clock::time_point Utc(int year, int month, int day, int hour, int minute, int second = 0) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return system_clock::from_time_t(::timegm(&tm));
}

Schedule Parse(const char* text) {
  Result<Schedule> s = ParseSchedule(text);
  EXPECT_TRUE(s.ok()) << text;
  return s.ok() ? *s : Schedule{};
}

TEST(ScheduleNextTest, OffNeverRuns) {
  EXPECT_EQ(Parse("off").Next(Utc(2024, 1, 1, 0, 0)), system_clock::time_point::max());
}

TEST(ScheduleNextTest, IntervalsCountFromAfter) {
  system_clock::time_point after = Utc(2024, 5, 1, 10, 0) + milliseconds(250);
  EXPECT_EQ(Parse("every 30s").Next(after), after + seconds(30));
  EXPECT_EQ(Parse("hourly").Next(after), after + hours(1));
  EXPECT_EQ(Parse("every 1d").Next(after), after + hours(24));
}

TEST(ScheduleNextTest, DailyIsTodayWhenStillAheadElseTomorrow) {
  ScopedTimeZone tz("UTC");
  Schedule s = Parse("daily 04:00");
  EXPECT_EQ(s.Next(Utc(2024, 5, 1, 3, 0)), Utc(2024, 5, 1, 4, 0));
  EXPECT_EQ(s.Next(Utc(2024, 5, 1, 3, 59, 59) + milliseconds(999)), Utc(2024, 5, 1, 4, 0));
  EXPECT_EQ(s.Next(Utc(2024, 5, 1, 5, 0)), Utc(2024, 5, 2, 4, 0));
  // Strictly after: a run ending at its own start time is not due again.
  EXPECT_EQ(s.Next(Utc(2024, 5, 1, 4, 0)), Utc(2024, 5, 2, 4, 0));
  EXPECT_EQ(s.Next(Utc(2024, 5, 1, 4, 0) + milliseconds(1)), Utc(2024, 5, 2, 4, 0));
  EXPECT_EQ(Parse("daily 00:00").Next(Utc(2024, 5, 1, 0, 0)), Utc(2024, 5, 2, 0, 0));
  EXPECT_EQ(Parse("daily 23:59").Next(Utc(2024, 5, 1, 23, 59, 30)), Utc(2024, 5, 2, 23, 59));
}

TEST(ScheduleNextTest, DailyRollsOverMonthsYearsAndLeapDays) {
  ScopedTimeZone tz("UTC");
  Schedule s = Parse("daily 04:00");
  EXPECT_EQ(s.Next(Utc(2023, 12, 31, 5, 0)), Utc(2024, 1, 1, 4, 0));
  EXPECT_EQ(s.Next(Utc(2024, 2, 28, 5, 0)), Utc(2024, 2, 29, 4, 0));
  EXPECT_EQ(s.Next(Utc(2023, 2, 28, 5, 0)), Utc(2023, 3, 1, 4, 0));
  EXPECT_EQ(s.Next(Utc(2024, 4, 30, 23, 0)), Utc(2024, 5, 1, 4, 0));
}

TEST(ScheduleNextTest, DailyIsInLocalTime) {
  ScopedTimeZone tz("Europe/Paris");
  Schedule s = Parse("daily 04:00");
  EXPECT_EQ(s.Next(Utc(2024, 1, 15, 12, 0)), Utc(2024, 1, 16, 3, 0));  // CET, UTC+1
  EXPECT_EQ(s.Next(Utc(2024, 7, 15, 12, 0)), Utc(2024, 7, 16, 2, 0));  // CEST, UTC+2
  // The day the clocks go forward (2024-03-31, 02:00 → 03:00): 04:00 CEST.
  EXPECT_EQ(s.Next(Utc(2024, 3, 30, 12, 0)), Utc(2024, 3, 31, 2, 0));
  // The day they go back (2024-10-27, 03:00 → 02:00): 04:00 CET.
  EXPECT_EQ(s.Next(Utc(2024, 10, 26, 12, 0)), Utc(2024, 10, 27, 3, 0));
}

TEST(ScheduleNextTest, DailyAtATimeTheDstChangeSkipsOrRepeats) {
  ScopedTimeZone tz("Europe/Paris");
  Schedule s = Parse("daily 02:30");
  // 02:30 does not exist on 2024-03-31: the run still happens that morning, once.
  system_clock::time_point after = Utc(2024, 3, 30, 12, 0);
  system_clock::time_point next = s.Next(after);
  EXPECT_GT(next, Utc(2024, 3, 30, 23, 0));  // not on the 30th (01:30 UTC on the 31st at the latest)
  EXPECT_LE(next, Utc(2024, 3, 31, 1, 30));
  EXPECT_EQ(s.Next(next), Utc(2024, 4, 1, 0, 30));
  // 02:30 happens twice on 2024-10-27: the run is due once, then the next day.
  after = Utc(2024, 10, 26, 12, 0);
  next = s.Next(after);
  EXPECT_GE(next, Utc(2024, 10, 27, 0, 30));
  EXPECT_LE(next, Utc(2024, 10, 27, 1, 30));
  EXPECT_EQ(s.Next(next), Utc(2024, 10, 28, 1, 30));
}

}  // namespace
}  // namespace stagebridge::workflow
