// metrics.cc — Prometheus text rendering.
#include "http/metrics.h"

#include <fmt/format.h>

namespace stagebridge::http {
namespace {

template <std::size_t N>
void Observe(const std::array<double, N>& buckets, std::vector<std::uint64_t>& counts, double value) {
  std::size_t i = 0;
  while (i < N && value > buckets[i]) ++i;
  ++counts[i];
}

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

template <std::size_t N>
std::string RenderHistogram(const std::string& name, const std::string& help, const std::array<double, N>& buckets,
                            const std::vector<std::uint64_t>& counts, double sum, std::uint64_t count) {
  std::string out = fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < N; ++i) {
    cumulative += counts[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, buckets[i], cumulative);
  }
  out += fmt::format("{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {1}\n", name, count, sum);
  return out;
}

}  // namespace

void Metrics::CountCall(const std::string& method, bool fault, double seconds) {
  std::lock_guard lock(mu_);
  ++calls_[method];
  if (fault) ++faults_[method];
  Observe(kLatencyBuckets, latency_.counts, seconds);
  latency_.sum += seconds;
  ++latency_.count;
}

void Metrics::ObserveBatch(std::size_t calls, std::size_t records) {
  std::lock_guard lock(mu_);
  Observe(kBatchBuckets, batch_calls_.counts, static_cast<double>(calls));
  batch_calls_.sum += static_cast<double>(calls);
  ++batch_calls_.count;
  batch_records_ += records;
}

void Metrics::AddGauge(std::string name, std::string help, std::string label, std::function<GaugeSamples()> provider,
                       Type type) {
  std::lock_guard lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(label), std::move(provider), type});
}

std::string Metrics::Render() const {
  std::vector<Gauge> gauges;
  std::string out;
  {
    std::lock_guard lock(mu_);
    out += "# HELP stagebridge_soap_requests_total SOAP calls by method.\n";
    out += "# TYPE stagebridge_soap_requests_total counter\n";
    for (const auto& [method, n] : calls_) {
      out += fmt::format("stagebridge_soap_requests_total{{method=\"{}\"}} {}\n", EscapeLabel(method), n);
    }
    out += "# HELP stagebridge_soap_faults_total SOAP faults by method.\n";
    out += "# TYPE stagebridge_soap_faults_total counter\n";
    for (const auto& [method, n] : faults_) {
      out += fmt::format("stagebridge_soap_faults_total{{method=\"{}\"}} {}\n", EscapeLabel(method), n);
    }
    out += RenderHistogram("stagebridge_soap_request_duration_seconds", "SOAP call latency.", kLatencyBuckets,
                           latency_.counts, latency_.sum, latency_.count);
    out += RenderHistogram("stagebridge_staging_commit_batch_calls",
                           "Calls acknowledged per staging commit (group commit).", kBatchBuckets, batch_calls_.counts,
                           batch_calls_.sum, batch_calls_.count);
    out += "# HELP stagebridge_staged_records_total Records committed to staging.\n";
    out += "# TYPE stagebridge_staged_records_total counter\n";
    out += fmt::format("stagebridge_staged_records_total {}\n", batch_records_);
    gauges = gauges_;
  }
  for (const Gauge& g : gauges) {  // providers may query a database: outside the lock
    out +=
        fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n", g.name, g.help, g.type == Type::kCounter ? "counter" : "gauge");
    for (const auto& [label, value] : g.provider()) {
      out += fmt::format("{}{{{}=\"{}\"}} {}\n", g.name, g.label, EscapeLabel(label), value);
    }
  }
  return out;
}

}  // namespace stagebridge::http
