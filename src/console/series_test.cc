// series_test.cc — the backlog ring buffer: bounded, in order, ingest counts per sample.
#include "console/series.h"

#include <gtest/gtest.h>

namespace stagebridge::console {
namespace {

TEST(BacklogSeriesTest, CountsIngestPerSampleAndKeepsTheLastCapacitySamples) {
  BacklogSeries series(3);
  series.AddIngested(5);
  series.AddIngested(2);
  EXPECT_EQ(series.IngestedSinceLastSample(), 7);
  series.Record(100, {{"dem:sampleTable", 7}});
  EXPECT_EQ(series.IngestedSinceLastSample(), 0);
  for (std::int64_t t = 160; t <= 340; t += 60) {
    series.AddIngested(1);
    series.Record(t, {{"dem:sampleTable", t}});
  }
  std::vector<Sample> s = series.Snapshot();
  ASSERT_EQ(s.size(), 3U);  // 100 and 160 fell out
  EXPECT_EQ(s[0].time, 220);
  EXPECT_EQ(s[1].time, 280);
  EXPECT_EQ(s[2].time, 340);
  EXPECT_EQ(s[2].ingested, 1);
  EXPECT_EQ(s[2].pending.at("dem:sampleTable"), 340);
}

TEST(BacklogSeriesTest, StartsEmptyAndHasAtLeastOneSlot) {
  BacklogSeries series(0);
  EXPECT_TRUE(series.Snapshot().empty());
  series.Record(1, {});
  series.Record(2, {});
  ASSERT_EQ(series.Snapshot().size(), 1U);
  EXPECT_EQ(series.Snapshot()[0].time, 2);
  EXPECT_EQ(BacklogSeries().Capacity(), 360U);
}

}  // namespace
}  // namespace stagebridge::console
