// One case, end to end: read (any format imaging reads) → segmentStudy
// (segment_study.h) → write
// the label map with the input's exact geometry → optional report (JSON:
// model, timing, sparse statistics, per-label volumes in mL and HU), meshes
// and computed-block map. Every output is written to a temporary name and
// renamed, so a failure or a cancel never leaves a partial file. Shared by
// `tessera segment` and `tessera batch`.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "imaging/dicom/deidentify.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/stats/label_stats.h"
#include "models/infer/segmenter.h"
#include "models/pipeline/plugins.h"
#include "models/pipeline/segment_study.h"

namespace tessera::models {

struct SegmentJobOptions {
  std::string input;
  std::string seriesUid;           // DICOM directories: the series to read
  std::string output;              // label map (.nii.gz, .nii, .nrrd, .mha)
  std::string reportPath;          // optional JSON report
  std::string meshDir;             // optional: one mesh per label in this directory
  std::string meshFormat = "stl";  // "stl" or "obj"
  std::string blocksPath;          // optional: computed-block map as a volume
  // Optional DICOM-SEG referencing the input series (the input must be DICOM).
  std::string dicomSegPath;
  // Optional DICOM SR measurement report (TID 1500) referencing that SEG's
  // segments; needs dicomSegPath.
  std::string dicomSrPath;
  // Optional RT Structure Set referencing the input series (DICOM input).
  std::string rtstructPath;
  imaging::DeidentifyOptions deidentify;  // for the DICOM outputs
  SegmentOptions segment;                 // progress/cancel here are ignored (given below)
  std::vector<StageCall> stages;          // plugin stages (plugins.h), in order
};

struct SegmentJobResult {
  Geometry geometry;
  SegmentationStats stats;
  double readSeconds = 0.0, writeSeconds = 0.0, totalSeconds = 0.0;
  std::vector<imaging::LabelStatistics> statistics;
  StageReport stageReport;                            // numbers the plugin stages reported
  std::vector<PostProcessingOutcome> postProcessing;  // the model's rules
  std::vector<std::string> outputs;                   // files written
};

// The model's label codes (ModelInfo::labelCodes) as DicomSegOptions::properties.
std::map<std::string, imaging::SegmentProperty> segmentProperties(const ModelInfo& info);

// Checks every output location before any work (clear errors up front).
Status checkSegmentJobOutputs(const SegmentJobOptions& options);

Result<SegmentJobResult> runSegmentJob(Segmenter& segmenter, const SegmentJobOptions& options,
                                       ProgressSink* progress, const CancelToken* cancel);

// The report as JSON text.
std::string segmentReportJson(const SegmentJobOptions& options, const SegmentJobResult& result,
                              const ModelInfo& model);

}  // namespace tessera::models
