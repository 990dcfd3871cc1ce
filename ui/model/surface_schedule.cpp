#include "ui/model/surface_schedule.h"

#include <algorithm>

namespace tessera::ui {

SurfaceDecision SurfaceSchedule::studyOpened() {
  automaticVolume_ = true;
  SurfaceDecision decision;
  decision.showVolumeRendering = false;
  return decision;
}

SurfaceDecision SurfaceSchedule::labelsChanged(std::int64_t nowMs, const SurfaceFacts& facts) {
  SurfaceDecision decision;
  if (!facts.strokeActive) schedule(nowMs, facts, decision);
  return decision;
}

SurfaceDecision SurfaceSchedule::segmentationChanged(const SurfaceFacts& facts) const {
  SurfaceDecision decision;
  // A volume rendering would also take the cores from the job.
  if (facts.segmenting && automaticVolume_ && facts.volumeShown)
    decision.showVolumeRendering = false;
  return decision;
}

SurfaceDecision SurfaceSchedule::timerFired(std::int64_t nowMs, const SurfaceFacts& facts) {
  wakeAtMs_.reset();
  SurfaceDecision decision;
  startIfStale(nowMs, facts, decision);
  return decision;
}

SurfaceDecision SurfaceSchedule::buildFinished(std::int64_t nowMs, const SurfaceFacts& facts) {
  SurfaceDecision decision;
  if (!building_) return decision;
  building_ = false;
  lastBuildMs_ = nowMs - buildStartMs_;
  // Newer edits only make this build stale until the next one, which is
  // scheduled below; a build of another study is useless.
  if (buildStudy_ == study_) {
    decision.showBuild = true;
    if (automaticVolume_) decision.showVolumeRendering = !facts.anyLabel && !facts.segmenting;
  }
  if (stale_) schedule(nowMs, facts, decision);
  return decision;
}

SurfaceDecision SurfaceSchedule::flush(std::int64_t nowMs, const SurfaceFacts& facts) {
  SurfaceDecision decision;
  if (!stale_ || building_ || facts.segmenting) return decision;
  if (wakeAtMs_) {
    wakeAtMs_.reset();
    decision.cancelWake = true;
  }
  startIfStale(nowMs, facts, decision);
  return decision;
}

void SurfaceSchedule::schedule(std::int64_t nowMs, const SurfaceFacts& facts,
                               SurfaceDecision& decision) {
  stale_ = true;
  if (wakeAtMs_) return;
  std::int64_t delayMs = options_.editDelayMs;
  if (facts.segmenting) {
    if (facts.unattended) return;
    delayMs = std::max(options_.segmentationMinIntervalMs,
                       options_.segmentationBuildFactor * lastBuildMs_);
  }
  wakeAtMs_ = nowMs + delayMs;
  decision.wakeAtMs = wakeAtMs_;
}

void SurfaceSchedule::startIfStale(std::int64_t nowMs, const SurfaceFacts& facts,
                                   SurfaceDecision& decision) {
  if (building_ || !stale_) return;
  stale_ = false;
  if (!facts.hasImage) return;
  building_ = true;
  buildStartMs_ = nowMs;
  buildStudy_ = study_;
  decision.startBuild = true;
}

}  // namespace tessera::ui
