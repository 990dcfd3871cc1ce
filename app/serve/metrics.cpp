#include "app/serve/metrics.h"

#include <cassert>
#include <cmath>
#include <cstdio>

namespace tessera::serve {
namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

// name{label} or name{label,extra}: `extra` is the histogram's le="...".
std::string series(const std::string& name, const std::string& label,
                   const std::string& extra = "") {
  if (label.empty() && extra.empty()) return name;
  return name + "{" + label + (label.empty() || extra.empty() ? "" : ",") + extra + "}";
}

}  // namespace

void Metrics::declare(const std::string& name, const std::string& kind, const std::string& help) {
  std::lock_guard lock(mutex_);
  assert(kind == "counter" || kind == "gauge");
  families_[name] = Family{kind, help, {}, {}, {}};
}

void Metrics::declareHistogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  families_[name] = Family{"histogram", help, std::move(bounds), {}, {}};
}

void Metrics::add(const std::string& name, double delta, const std::string& label) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  assert(it != families_.end());
  if (it != families_.end()) it->second.values[label] += delta;
}

void Metrics::set(const std::string& name, double value, const std::string& label) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  assert(it != families_.end());
  if (it != families_.end()) it->second.values[label] = value;
}

void Metrics::observe(const std::string& name, double seconds, const std::string& label) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  assert(it != families_.end() && it->second.kind == "histogram");
  if (it == families_.end()) return;
  Family& f = it->second;
  Histogram& h = f.histograms[label];
  if (h.counts.empty()) h.counts.assign(f.bounds.size() + 1, 0.0);
  std::size_t i = 0;
  while (i < f.bounds.size() && seconds > f.bounds[i]) ++i;
  h.counts[i] += 1.0;
  h.sum += seconds;
  h.count += 1.0;
}

double Metrics::value(const std::string& name, const std::string& label) const {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0.0;
  if (it->second.kind == "histogram") {
    auto h = it->second.histograms.find(label);
    return h == it->second.histograms.end() ? 0.0 : h->second.count;
  }
  auto v = it->second.values.find(label);
  return v == it->second.values.end() ? 0.0 : v->second;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.kind + "\n";
    if (f.kind != "histogram") {
      // A counter or gauge never touched still reads 0, so that rates and
      // alerts see the series from the start.
      if (f.values.empty()) out += name + " 0\n";
      for (const auto& [label, v] : f.values) out += series(name, label) + " " + number(v) + "\n";
      continue;
    }
    for (const auto& [label, h] : f.histograms) {
      double cumulative = 0.0;
      for (std::size_t i = 0; i < h.counts.size(); ++i) {
        cumulative += h.counts[i];
        const double bound = i < f.bounds.size() ? f.bounds[i] : INFINITY;
        out += series(name + "_bucket", label, "le=\"" + number(bound) + "\"") + " " +
               number(cumulative) + "\n";
      }
      out += series(name + "_sum", label) + " " + number(h.sum) + "\n";
      out += series(name + "_count", label) + " " + number(h.count) + "\n";
    }
  }
  return out;
}

}  // namespace tessera::serve
