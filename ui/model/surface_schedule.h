// When the 3D view rebuilds its label surfaces and whether it shows a volume
// rendering, without any toolkit. The window reports what happened, with the
// time on a monotonic millisecond clock of its choosing, and what it knows at
// that moment (SurfaceFacts); it then does what the returned decision says:
// arm or disarm its one single-shot timer, start a build of every label's
// surface off the UI thread, show a finished build, switch the volume
// rendering. Tests drive the same calls with a fake clock.
//
// The rules:
// - Changed labels make the surfaces stale. The rebuild starts editDelayMs
//   after the first change, so a burst of changes costs one build; a change
//   in the middle of a paint stroke is ignored, the stroke's end reports the
//   labels again.
// - While a segmentation runs the surfaces follow the arriving slices, but
//   at most once per max(segmentationMinIntervalMs, segmentationBuildFactor
//   × the last build's duration), since a build competes with the network
//   for the cores. Unattended (nobody sees the window) they wait for the end.
// - One build at a time: what goes stale during a build is scheduled again
//   when it finishes. A build of a study since replaced is not shown.
// - The volume rendering is automatic until the person picks one: none when
//   a study opens and while a segmentation runs (labels are on their way);
//   once surfaces are built, the default rendering for a CT without labels
//   and none when there are labels.
#pragma once

#include <cstdint>
#include <optional>

namespace tessera::ui {

// What the window knows at the time of an event.
struct SurfaceFacts {
  bool hasImage = false;
  bool segmenting = false;    // a segmentation job runs; its labels arrive
  bool strokeActive = false;  // a paint or erase stroke is under way
  bool unattended = false;    // nobody watches (a screenshot run)
  bool anyLabel = false;      // some label of the table has voxels
  bool volumeShown = false;   // a volume rendering is on screen
};

// What the window does now; every field may be set.
struct SurfaceDecision {
  bool cancelWake = false;                  // disarm the timer
  std::optional<std::int64_t> wakeAtMs;     // arm the timer to call timerFired() then
  bool startBuild = false;                  // snapshot the shown labels, build their surfaces
  bool showBuild = false;                   // show the build just finished (buildFinished only)
  std::optional<bool> showVolumeRendering;  // true: the default rendering; false: none
};

class SurfaceSchedule {
 public:
  struct Options {
    std::int64_t editDelayMs = 250;
    std::int64_t segmentationMinIntervalMs = 1000;
    std::int64_t segmentationBuildFactor = 2;
  };

  SurfaceSchedule() = default;
  explicit SurfaceSchedule(const Options& options) : options_(options) {}

  // --- events ---------------------------------------------------------------
  // A new CT replaced the study; its labels come with labelsChanged().
  void studyChanged() { ++study_; }
  // The person opened a study: the volume rendering is automatic again.
  SurfaceDecision studyOpened();
  // The person picked a volume rendering: no longer automatic.
  void volumeRenderingChosen() { automaticVolume_ = false; }
  // The labels shown (or the study) changed.
  SurfaceDecision labelsChanged(std::int64_t nowMs, const SurfaceFacts& facts);
  // A segmentation started, progressed or ended.
  SurfaceDecision segmentationChanged(const SurfaceFacts& facts) const;
  // The timer armed by a decision went off.
  SurfaceDecision timerFired(std::int64_t nowMs, const SurfaceFacts& facts);
  // The build started by a decision finished.
  SurfaceDecision buildFinished(std::int64_t nowMs, const SurfaceFacts& facts);
  // Someone waits for the surfaces (waitForSurfaces): build what is stale
  // now rather than when the timer goes off, unless a segmentation runs.
  SurfaceDecision flush(std::int64_t nowMs, const SurfaceFacts& facts);

  // --- state ------------------------------------------------------------------
  // Nothing stale and no build running: the surfaces match the labels.
  bool settled() const { return !stale_ && !building_; }
  bool stale() const { return stale_; }
  bool building() const { return building_; }
  bool wakeArmed() const { return wakeAtMs_.has_value(); }
  bool automaticVolumeRendering() const { return automaticVolume_; }
  // Duration of the last finished build (ms); 0 before the first.
  std::int64_t lastBuildMs() const { return lastBuildMs_; }
  const Options& options() const { return options_; }

 private:
  void schedule(std::int64_t nowMs, const SurfaceFacts& facts, SurfaceDecision& decision);
  void startIfStale(std::int64_t nowMs, const SurfaceFacts& facts, SurfaceDecision& decision);

  Options options_;
  bool stale_ = false;
  bool building_ = false;
  std::optional<std::int64_t> wakeAtMs_;
  std::int64_t buildStartMs_ = 0;
  std::int64_t lastBuildMs_ = 0;
  std::uint64_t study_ = 0;
  std::uint64_t buildStudy_ = 0;
  bool automaticVolume_ = true;
};

}  // namespace tessera::ui
