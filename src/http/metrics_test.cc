#include "http/metrics.h"

#include <string>

#include <gtest/gtest.h>

namespace stagebridge::http {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(MetricsTest, CallsAndFaultsPerMethodWithACumulativeLatencyHistogram) {
  Metrics m;
  m.CountCall("xtk:session#Ingest", false, 0.0004);
  m.CountCall("xtk:session#Ingest", false, 0.003);
  m.CountCall("xtk:session#Ingest", true, 3.0);
  m.CountCall("xtk:session#Logon", false, 0.2);
  std::string text = m.Render();
  EXPECT_TRUE(Has(text, "# TYPE stagebridge_soap_requests_total counter")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_soap_requests_total{method=\"xtk:session#Ingest\"} 3")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_soap_requests_total{method=\"xtk:session#Logon\"} 1")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_soap_faults_total{method=\"xtk:session#Ingest\"} 1")) << text;
  EXPECT_EQ(text.find("stagebridge_soap_faults_total{method=\"xtk:session#Logon\"}"), std::string::npos);
  // Buckets are cumulative: 0.0004 in le=0.0005, 0.003 in le=0.005, 0.2 in le=0.25, 3 only in +Inf.
  EXPECT_TRUE(Has(text, "stagebridge_soap_request_duration_seconds_bucket{le=\"0.0005\"} 1")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_soap_request_duration_seconds_bucket{le=\"0.0025\"} 1")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_soap_request_duration_seconds_bucket{le=\"0.005\"} 2")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_soap_request_duration_seconds_bucket{le=\"0.25\"} 3")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_soap_request_duration_seconds_bucket{le=\"2.5\"} 3")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_soap_request_duration_seconds_bucket{le=\"+Inf\"} 4")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_soap_request_duration_seconds_count 4")) << text;
}

TEST(MetricsTest, GroupCommitBatchesAndStagedRecords) {
  Metrics m;
  m.ObserveBatch(1, 1);
  m.ObserveBatch(5, 1000);
  std::string text = m.Render();
  EXPECT_TRUE(Has(text, "# TYPE stagebridge_staging_commit_batch_calls histogram")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_staging_commit_batch_calls_bucket{le=\"1\"} 1")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_staging_commit_batch_calls_bucket{le=\"4\"} 1")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_staging_commit_batch_calls_bucket{le=\"8\"} 2")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_staging_commit_batch_calls_sum 6")) << text;
  EXPECT_TRUE(Has(text, "stagebridge_staged_records_total 1001")) << text;
}

TEST(MetricsTest, GaugesAndCountersAreComputedAtScrapeTimeWithEscapedLabels) {
  Metrics m;
  int scrapes = 0;
  m.AddGauge("sb_pending", "Rows pending.", "schema", [&scrapes] {
    ++scrapes;
    return Metrics::GaugeSamples{{"dem:sampleTable", scrapes * 10.0}, {"a\"b\\c\nd", 1}};
  });
  m.AddGauge(
      "sb_refused_total", "Refused.", "reason",
      [] {
        return Metrics::GaugeSamples{{"connections", 7}};
      },
      Metrics::Type::kCounter);
  std::string first = m.Render();
  EXPECT_TRUE(Has(first, "# HELP sb_pending Rows pending.")) << first;
  EXPECT_TRUE(Has(first, "# TYPE sb_pending gauge")) << first;
  EXPECT_TRUE(Has(first, "sb_pending{schema=\"dem:sampleTable\"} 10")) << first;
  EXPECT_TRUE(Has(first, "sb_pending{schema=\"a\\\"b\\\\c\\nd\"} 1")) << first;
  EXPECT_TRUE(Has(first, "# TYPE sb_refused_total counter")) << first;
  EXPECT_TRUE(Has(first, "sb_refused_total{reason=\"connections\"} 7")) << first;
  EXPECT_TRUE(Has(m.Render(), "sb_pending{schema=\"dem:sampleTable\"} 20")) << "computed again at each scrape";
}

}  // namespace
}  // namespace stagebridge::http
