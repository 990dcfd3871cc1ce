// Segmenting one study in memory: the one path every front end takes
// (`tessera segment`, the batch's compute stage, the workstation and
// `tessera bench`), so that they cannot drift apart. Reading and writing
// files stay with the caller (segment_job.h does both for files).
#pragma once

#include <vector>

#include "core/image.h"
#include "core/image_view.h"
#include "core/status.h"
#include "imaging/stats/label_stats.h"
#include "models/infer/segmenter.h"
#include "models/pipeline/plugins.h"

namespace tessera::models {

struct StudySegmentation {
  LabelMap labels;                     // the input's exact geometry
  Image<std::uint8_t> computedBlocks;  // 1 where the engine computed (options.keepBlockMap)
  SegmentationStats stats;             // the engine's: timing, blocks, FLOPs
  // Per label present: voxels, volume in mL, HU statistics, extent, edge contact.
  std::vector<imaging::LabelStatistics> statistics;
  double statisticsSeconds = 0.0;
  StageReport stageReport;  // numbers the plugin stages reported
};

// Segments `volume` with `options` (progress: the network up to 95 %, then
// the statistics; cancel is checked throughout) and computes the statistics
// of the result against the CT. `stages` (plugins.h) run in order: those
// before the network on a copy of the CT, those after it on the labels
// before the statistics, which are measured on the original CT.
Result<StudySegmentation> segmentStudy(Segmenter& segmenter, VolumeView volume,
                                       const SegmentOptions& options,
                                       const std::vector<StageCall>& stages = {});

}  // namespace tessera::models
