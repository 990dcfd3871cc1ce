#include "models/pipeline/segment_study.h"

#include <chrono>

namespace tessera::models {
namespace {

Result<StudySegmentation> segmentStudyUnguarded(Segmenter& segmenter, VolumeView volume,
                                                const SegmentOptions& options) {
  SubProgress networkProgress(options.progress, 0.0, 0.95);
  SegmentOptions engineOptions = options;
  engineOptions.progress = options.progress ? &networkProgress : nullptr;
  TESSERA_ASSIGN_OR_RETURN(Segmentation seg, segmenter.segment(volume, engineOptions));
  if (options.cancel) TESSERA_RETURN_IF_ERROR(options.cancel->check());

  StudySegmentation study;
  study.labels = std::move(seg.labels);
  study.computedBlocks = std::move(seg.computedBlocks);
  study.stats = std::move(seg.stats);
  const auto start = std::chrono::steady_clock::now();
  if (options.progress) ProgressTracker(options.progress).report(0.95, "statistics");
  imaging::StatisticsOptions statisticsOptions;
  statisticsOptions.cancel = options.cancel;
  TESSERA_ASSIGN_OR_RETURN(
      study.statistics, imaging::computeLabelStatistics(volume, study.labels, statisticsOptions));
  study.statisticsSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.progress) ProgressTracker(options.progress).report(1.0, "segmented");
  return study;
}

}  // namespace

Result<StudySegmentation> segmentStudy(Segmenter& segmenter, VolumeView volume,
                                       const SegmentOptions& options) {
  return guardExceptions([&] { return segmentStudyUnguarded(segmenter, volume, options); });
}

}  // namespace tessera::models
