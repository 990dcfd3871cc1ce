// Runs a segmentation job on a worker thread and hands its results to the
// UI thread: progress (fraction, ETA), each slice as soon as the job finishes
// it, and the final label map. The job is any callable of the engine's
// shape (ModelSession makes one from a model); the UI never blocks on it and
// can cancel it.
//
// Thread hand-over: the worker only appends to a queue under a mutex and
// calls `wake` (at most once until the next poll), which the GUI turns into a
// queued call of poll() on its own thread. Toolkit-free.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/image.h"
#include "core/progress.h"
#include "core/reorient.h"
#include "core/status.h"
#include "imaging/stats/label_stats.h"

namespace tessera::ui {

// Called by the job, on its thread, once per finished slice with its labels
// (placement.width × placement.height, u fastest) and where they belong in
// the volume being segmented; the pointer is only valid during the call.
using SliceCallback = std::function<void(const SlicePlacement& where, const std::uint8_t* labels)>;

// What a finished job hands over.
struct SegmentationOutput {
  LabelMap labels;  // the CT's exact geometry
  // Non-zero where the engine computed a block (sparse runs), same geometry.
  std::optional<Image<std::uint8_t>> computedBlocks;
  std::string summary;  // one line for the status bar: time, mode, work skipped
  // Per label of the result: voxels, mL, HU statistics (as `tessera segment --report`).
  std::vector<imaging::LabelStatistics> statistics;
};

using SegmentationJob = std::function<Result<SegmentationOutput>(
    const Volume&, ProgressSink*, const CancelToken&, SliceCallback)>;

struct FinishedSlice {
  SlicePlacement placement;
  std::vector<std::uint8_t> labels;  // placement.count() values
};

// Everything that happened since the last poll.
struct SegmentationEvents {
  std::vector<FinishedSlice> slices;                 // in the order the job finished them
  std::optional<ProgressUpdate> progress;            // the latest, if any arrived
  std::optional<Result<SegmentationOutput>> result;  // once, when the job has ended
};

class SegmentationController {
 public:
  // `wake` runs on the worker thread; it may be empty when the caller polls.
  explicit SegmentationController(std::function<void()> wake = {});
  // Cancels a running job and waits for its thread.
  ~SegmentationController();
  SegmentationController(const SegmentationController&) = delete;
  SegmentationController& operator=(const SegmentationController&) = delete;

  // Refuses while a job is busy (running, or its result not yet polled).
  Status start(std::shared_ptr<const Volume> ct, SegmentationJob job);
  void cancel();
  // From start() until poll() has returned the result.
  bool busy() const;
  SegmentationEvents poll();
  // Blocks until the job's thread has ended (tests, shutdown).
  void wait();

 private:
  class Sink;
  void post(std::function<void(SegmentationEvents&)> change);

  std::function<void()> wake_;
  mutable std::mutex mutex_;
  std::condition_variable ended_;
  SegmentationEvents pending_;
  bool wakePending_ = false;
  bool busy_ = false;
  bool threadEnded_ = true;
  CancelToken cancel_;
  std::thread worker_;
};

}  // namespace tessera::ui
