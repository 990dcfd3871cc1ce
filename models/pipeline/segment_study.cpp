#include "models/pipeline/segment_study.h"

#include <algorithm>
#include <chrono>

namespace tessera::models {
namespace {

// The model's rules by label value (ModelInfo::validate checked the names).
std::vector<imaging::LabelRule> labelRules(const std::vector<PostProcessingRule>& rules,
                                           const LabelTable& table) {
  std::vector<imaging::LabelRule> out;
  auto value = [&](const std::string& name) {
    const Label* label = table.findByName(name);
    return label ? label->value : std::uint8_t{0};
  };
  for (const PostProcessingRule& rule : rules) {
    imaging::LabelRule r;
    r.label = value(rule.label);
    for (const std::string& other : rule.notOnSlicesWith) r.notOnSlicesWith.push_back(value(other));
    r.keepLargest = rule.keepLargest;
    r.fillHoles = rule.fillHoles;
    r.minComponentMl = rule.minComponentMl;
    out.push_back(std::move(r));
  }
  return out;
}

Result<StudySegmentation> segmentStudyUnguarded(Segmenter& segmenter, VolumeView volume,
                                                const SegmentOptions& options,
                                                const std::vector<StageCall>& stages) {
  StudySegmentation study;
  Volume prepared;  // the CT as the stages before the network leave it
  VolumeView input = volume;
  const bool before = std::any_of(stages.begin(), stages.end(), [](const StageCall& c) {
    return c.stage->when == TESSERA_STAGE_BEFORE_NETWORK;
  });
  if (before) {
    TESSERA_ASSIGN_OR_RETURN(prepared, Volume::create(volume.geometry()));
    std::copy(volume.data(), volume.data() + volume.voxelCount(), prepared.data());
    TESSERA_RETURN_IF_ERROR(runStages(stages, TESSERA_STAGE_BEFORE_NETWORK, prepared.data(),
                                      nullptr, prepared.geometry(), segmenter.info().labels,
                                      &study.stageReport));
    input = prepared;
  }
  SubProgress networkProgress(options.progress, 0.0, 0.95);
  SegmentOptions engineOptions = options;
  engineOptions.progress = options.progress ? &networkProgress : nullptr;
  TESSERA_ASSIGN_OR_RETURN(Segmentation seg, segmenter.segment(input, engineOptions));
  if (options.cancel) TESSERA_RETURN_IF_ERROR(options.cancel->check());

  study.labels = std::move(seg.labels);
  study.computedBlocks = std::move(seg.computedBlocks);
  study.stats = std::move(seg.stats);
  if (!segmenter.info().postProcessing.empty()) {
    if (options.progress) ProgressTracker(options.progress).report(0.95, "post-processing");
    const std::vector<PostProcessingRule>& rules = segmenter.info().postProcessing;
    TESSERA_ASSIGN_OR_RETURN(
        std::vector<imaging::LabelRuleOutcome> outcomes,
        imaging::applyLabelRules(study.labels.labels, labelRules(rules, study.labels.table),
                                 options.cancel));
    for (std::size_t r = 0; r < rules.size(); ++r)
      study.postProcessing.push_back({rules[r].label, outcomes[r]});
  }
  // Stages after the network see the CT read-only (tessera/plugin.h).
  TESSERA_RETURN_IF_ERROR(runStages(stages, TESSERA_STAGE_AFTER_NETWORK,
                                    const_cast<std::int16_t*>(input.data()),
                                    study.labels.labels.data(), study.labels.labels.geometry(),
                                    study.labels.table, &study.stageReport));
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
                                       const SegmentOptions& options,
                                       const std::vector<StageCall>& stages) {
  return guardExceptions([&] { return segmentStudyUnguarded(segmenter, volume, options, stages); });
}

}  // namespace tessera::models
