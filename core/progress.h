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
  double fraction = 0.0;        // 0..1 of the whole task
  double elapsedSeconds = 0.0;  // by the clock of whoever reported (see TaskClock)
  double etaSeconds = -1.0;     // negative while unknown, 0 once finished
  std::string message;          // e.g. "slice 120/300"
};

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void update(const ProgressUpdate& update) = 0;
};

// Measures elapsed time from its own construction and derives an ETA from
// the fraction done; forwards to a sink (which may be null) at most every
// `minIntervalSeconds`, and always for fraction 0 and 1. Its times are those
// of the work it sees: under a SubProgress, or made just to report "done",
// it knows nothing of the time the whole task took.
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

// The time of a whole task, from one clock started at construction. Nested
// work reports through SubProgress or short-lived ProgressTrackers whose
// clocks start late (a tracker made for the final "done" says 0 s), so the
// sink that shows the whole task (the console, a status bar) re-times each
// update with one of these.
class TaskClock {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TaskClock(Clock::time_point start = Clock::now()) : start_(start) {}
  // `update` with elapsedSeconds measured from the start to `now`, and
  // etaSeconds derived from that and the fraction.
  ProgressUpdate retime(ProgressUpdate update, Clock::time_point now = Clock::now()) const;

 private:
  Clock::time_point start_;
};

// Seconds left when `fraction` (0..1) of the work took `elapsedSeconds`:
// 0 once finished, negative while too early to tell.
double estimateRemainingSeconds(double elapsedSeconds, double fraction);

// "1m 05s", "12s", "2h 03m": the form used in ETAs.
std::string formatDuration(double seconds);
// "0.4 s", "7.2 s", "1m 05s": how long finished work took.
std::string formatElapsed(double seconds);
// The text of a progress line after its label: " 42% slice 3/10 (elapsed
// 3s, ETA 4s)" while running, "100% done in 7.2 s" (or "100% <message>,
// done in 7.2 s") once the fraction reaches 1, never an ETA then.
std::string formatProgressStatus(const ProgressUpdate& update);

}  // namespace tessera
