// The service node's metrics in Prometheus' text exposition format
// (version 0.0.4). Written here because Debian packages no C++ Prometheus
// client; what the service needs is small: counters and gauges with at most
// one label, and histograms of seconds. Thread-safe: the receiving,
// segmenting and sending threads update, the HTTP thread renders.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace tessera::serve {

class Metrics {
 public:
  // Declares a metric (before use; a name is declared once). `kind` is
  // "counter" or "gauge"; histograms have their own.
  void declare(const std::string& name, const std::string& kind, const std::string& help);
  // Histogram of seconds with these upper bounds (ascending; +Inf added).
  void declareHistogram(const std::string& name, const std::string& help,
                        std::vector<double> bounds);

  // `label` is "" or one label as key="value" (e.g. stage="segment").
  void add(const std::string& name, double delta = 1.0, const std::string& label = "");
  void set(const std::string& name, double value, const std::string& label = "");
  void observe(const std::string& name, double seconds, const std::string& label = "");
  double value(const std::string& name, const std::string& label = "") const;

  std::string render() const;

 private:
  struct Histogram {
    std::vector<double> counts;  // per bound, not cumulative; the last is +Inf
    double sum = 0.0, count = 0.0;
  };
  struct Family {
    std::string kind, help;
    std::vector<double> bounds;                   // histograms
    std::map<std::string, double> values;         // label -> value
    std::map<std::string, Histogram> histograms;  // label -> histogram
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

}  // namespace tessera::serve
