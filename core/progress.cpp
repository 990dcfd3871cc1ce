#include "core/progress.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

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
  update.etaSeconds = estimateRemainingSeconds(update.elapsedSeconds, fraction);
  update.message = std::string(message);
  sink_->update(update);
}

SubProgress::SubProgress(ProgressSink* parent, double begin, double end)
    : parent_(parent), begin_(begin), end_(end), tracker_(parent, 0.0) {}

void SubProgress::update(const ProgressUpdate& update) {
  tracker_.report(begin_ + (end_ - begin_) * update.fraction, update.message);
}

ProgressUpdate TaskClock::retime(ProgressUpdate update, Clock::time_point now) const {
  update.elapsedSeconds = std::max(0.0, std::chrono::duration<double>(now - start_).count());
  update.etaSeconds = estimateRemainingSeconds(update.elapsedSeconds, update.fraction);
  return update;
}

double estimateRemainingSeconds(double elapsedSeconds, double fraction) {
  if (fraction >= 1.0) return 0.0;
  if (fraction > 1e-3 && elapsedSeconds > 0.2) return elapsedSeconds * (1.0 - fraction) / fraction;
  return -1.0;
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

std::string formatElapsed(double seconds) {
  if (!(seconds >= 0.0) || !std::isfinite(seconds)) return "--";
  if (seconds >= 59.95) return formatDuration(seconds);
  // Fixed notation with '.' whatever the locale.
  char buffer[16];
  const auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, seconds, std::chars_format::fixed, 1);
  assert(error == std::errc());
  return std::string(buffer, end) + " s";
}

std::string formatProgressStatus(const ProgressUpdate& u) {
  const int percent = static_cast<int>(std::clamp(u.fraction, 0.0, 1.0) * 100.0 + 0.5);
  std::string text = std::to_string(percent) + "%";
  text.insert(0, text.size() < 4 ? 4 - text.size() : 0, ' ');
  if (u.fraction >= 1.0) {
    if (!u.message.empty() && u.message != "done") text += " " + u.message + ",";
    return text + " done in " + formatElapsed(u.elapsedSeconds);
  }
  const std::string eta = u.etaSeconds >= 0 ? formatDuration(u.etaSeconds) : "--";
  return text + " " + u.message + " (elapsed " + formatDuration(u.elapsedSeconds) + ", ETA " + eta +
         ")";
}

}  // namespace tessera
