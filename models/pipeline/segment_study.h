// Segmenting one study in memory: the one path every front end takes
// (`tessera segment`, the batch's compute stage, the workstation and
// `tessera bench`), so that they cannot drift apart. Reading and writing
// files stay with the caller (segment_job.h does both for files).
#pragma once

#include <string>
#include <vector>

#include "core/image.h"
#include "core/image_view.h"
#include "core/status.h"
#include "imaging/labels/label_rules.h"
#include "imaging/stats/label_stats.h"
#include "models/infer/segmenter.h"
#include "models/pipeline/plugins.h"

namespace tessera::models {

// What one post-processing rule of the model changed.
struct PostProcessingOutcome {
  std::string label;                 // the rule's label
  imaging::LabelRuleOutcome voxels;  // counts in voxels
};

struct StudySegmentation {
  LabelMap labels;                     // the input's exact geometry
  Image<std::uint8_t> computedBlocks;  // 1 where the engine computed (options.keepBlockMap)
  SegmentationStats stats;             // the engine's: timing, blocks, FLOPs
  // Per label present: voxels, volume in mL, HU statistics, extent, edge contact.
  std::vector<imaging::LabelStatistics> statistics;
  double statisticsSeconds = 0.0;
  StageReport stageReport;  // numbers the plugin stages reported
  // One per rule of the model's post-processing, in its order (empty when
  // the model has none).
  std::vector<PostProcessingOutcome> postProcessing;
};

// Segments `volume` with `options` (progress: the network up to 95 %, then
// the statistics; cancel is checked throughout) and computes the statistics
// of the result against the CT. The model's post-processing rules
// (ModelInfo::postProcessing) apply to the network's labels first. `stages`
// (plugins.h) run in order: those before the network on a copy of the CT,
// those after it on the labels (after the model's rules) before the
// statistics, which are measured on the original CT.
Result<StudySegmentation> segmentStudy(Segmenter& segmenter, VolumeView volume,
                                       const SegmentOptions& options,
                                       const std::vector<StageCall>& stages = {});

}  // namespace tessera::models
