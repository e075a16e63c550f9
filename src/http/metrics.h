// metrics.h — the counters behind GET /metrics (Prometheus text format 0.0.4):
// SOAP calls and faults per method, a latency histogram, group-commit batch
// sizes, and gauges computed at scrape time (staged rows pending per schema).
//
// Thread-safety: thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace stagebridge::http {

class Metrics {
 public:
  // One gauge sample: its label value and its value.
  using GaugeSamples = std::vector<std::pair<std::string, double>>;

  void CountCall(const std::string& method, bool fault, double seconds);
  void ObserveBatch(std::size_t calls, std::size_t records);
  // `name{label="…"}` samples produced when /metrics is scraped; a counter's
  // samples only ever grow.
  enum class Type { kGauge, kCounter };
  void AddGauge(std::string name, std::string help, std::string label, std::function<GaugeSamples()> provider,
                Type type = Type::kGauge);

  std::string Render() const;

 private:
  static constexpr std::array<double, 12> kLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,   0.1,   0.25,   0.5,   1,    2.5};
  static constexpr std::array<double, 9> kBatchBuckets{1, 2, 4, 8, 16, 32, 64, 128, 256};

  struct Histogram {
    std::vector<std::uint64_t> counts;  // per bucket (cumulative when rendered)
    double sum = 0;
    std::uint64_t count = 0;
  };
  struct Gauge {
    std::string name;
    std::string help;
    std::string label;
    std::function<GaugeSamples()> provider;
    Type type;
  };

  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> calls_;                                         // GUARDED_BY(mu_)
  std::map<std::string, std::uint64_t> faults_;                                        // GUARDED_BY(mu_)
  Histogram latency_{std::vector<std::uint64_t>(kLatencyBuckets.size() + 1), 0, 0};    // GUARDED_BY(mu_)
  Histogram batch_calls_{std::vector<std::uint64_t>(kBatchBuckets.size() + 1), 0, 0};  // GUARDED_BY(mu_)
  std::uint64_t batch_records_ = 0;                                                    // GUARDED_BY(mu_)
  std::vector<Gauge> gauges_;                                                          // GUARDED_BY(mu_)
};

}  // namespace stagebridge::http
