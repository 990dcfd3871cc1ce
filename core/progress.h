// Progress reporting and cancellation for long work (reading a series,
// segmenting a volume, a batch, a training run). Work checks its CancelToken
// at slice or block granularity and reports through a ProgressSink.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tessera {

// Shared flag; copies refer to the same state so a GUI thread can cancel
// work running on a worker thread.
class CancelToken {
 public:
  CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() { flag_->store(true, std::memory_order_relaxed); }
  bool cancelled() const { return flag_->load(std::memory_order_relaxed); }
  void reset() { flag_->store(false, std::memory_order_relaxed); }
  // kCancelled when cancelled, ok otherwise; for early returns.
  Status check() const;

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

struct ProgressUpdate {
  double fraction = 0.0;     // 0..1 of the whole task
  double elapsedSeconds = 0.0;
  double etaSeconds = -1.0;  // negative while unknown
  std::string message;       // e.g. "slice 120/300"
};

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void update(const ProgressUpdate& update) = 0;
};

// Measures elapsed time from construction and derives an ETA from the
// fraction done; forwards to a sink (which may be null) at most every
// `minIntervalSeconds`, and always for fraction 0 and 1.
class ProgressTracker {
 public:
  explicit ProgressTracker(ProgressSink* sink, double minIntervalSeconds = 0.1);
  void report(double fraction, std::string_view message);
  double elapsedSeconds() const;

 private:
  using Clock = std::chrono::steady_clock;
  ProgressSink* sink_;
  double minInterval_;
  Clock::time_point start_;
  Clock::time_point last_;
  bool reportedOnce_ = false;
};

// Maps a sub-task's 0..1 onto [begin, end] of a parent sink, so that nested
// work (read 10 %, segment 80 %, write 10 %) reports one overall fraction.
class SubProgress : public ProgressSink {
 public:
  SubProgress(ProgressSink* parent, double begin, double end);
  void update(const ProgressUpdate& update) override;

 private:
  ProgressSink* parent_;
  double begin_, end_;
  ProgressTracker tracker_;
};

// "1m 05s", "12s", "2h 03m": the form used in ETAs.
std::string formatDuration(double seconds);

}  // namespace tessera
