#include "core/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tessera {

Status CancelToken::check() const {
  if (cancelled()) return Status(StatusCode::kCancelled, "cancelled by the user");
  return Status();
}

ProgressTracker::ProgressTracker(ProgressSink* sink, double minIntervalSeconds)
    : sink_(sink), minInterval_(minIntervalSeconds), start_(Clock::now()), last_(start_) {}

double ProgressTracker::elapsedSeconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

void ProgressTracker::report(double fraction, std::string_view message) {
  if (!sink_) return;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const auto now = Clock::now();
  const bool edge = fraction <= 0.0 || fraction >= 1.0;
  if (reportedOnce_ && !edge && std::chrono::duration<double>(now - last_).count() < minInterval_)
    return;
  reportedOnce_ = true;
  last_ = now;
  ProgressUpdate update;
  update.fraction = fraction;
  update.elapsedSeconds = std::chrono::duration<double>(now - start_).count();
  if (fraction >= 1.0) {
    update.etaSeconds = 0.0;
  } else if (fraction > 1e-3 && update.elapsedSeconds > 0.2) {
    update.etaSeconds = update.elapsedSeconds * (1.0 - fraction) / fraction;
  }
  update.message = std::string(message);
  sink_->update(update);
}

SubProgress::SubProgress(ProgressSink* parent, double begin, double end)
    : parent_(parent), begin_(begin), end_(end), tracker_(parent, 0.0) {}

void SubProgress::update(const ProgressUpdate& update) {
  tracker_.report(begin_ + (end_ - begin_) * update.fraction, update.message);
}

std::string formatDuration(double seconds) {
  if (!(seconds >= 0.0) || !std::isfinite(seconds)) return "--";
  const long total = std::lround(seconds);
  char buffer[32];
  if (total < 60) {
    std::snprintf(buffer, sizeof buffer, "%lds", total);
  } else if (total < 3600) {
    std::snprintf(buffer, sizeof buffer, "%ldm %02lds", total / 60, total % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%ldh %02ldm", total / 3600, (total % 3600) / 60);
  }
  return buffer;
}

}  // namespace tessera
