#include <cstdio>

#include "app/cli/console_progress.h"
#include "app/cli/interrupt.h"
#include "app/tessera/commands.h"
#include "app/tessera/deidentify_options.h"
#include "app/tessera/segment_options.h"
#include "models/pipeline/model_store.h"
#include "models/pipeline/segment_job.h"

namespace tessera::cli {

int runSegment(const Args& args) {
  ArgParser p("segment", "Segment a CT volume (file or DICOM directory) into labels.");
  p.option("-i,--input", "IN", "CT volume: .nii/.nii.gz/.nrrd/.mha/.dcm or a DICOM directory");
  p.option("-o,--output", "OUT", "label map to write (.nii.gz, .nii, .nrrd, .mha)");
  addSegmentOptions(p);
  p.option("--series", "UID", "DICOM series to read (default: the largest CT series)");
  p.option("--report", "R.json", "write a report: volumes in mL, HU statistics, timing");
  p.option("--meshes", "DIR", "write one surface mesh per label into DIR (created when missing)");
  p.option("--mesh-format", "FMT", "stl or obj", "stl");
  p.option("--dicom-seg", "SEG.dcm",
           "also write the labels as a DICOM-SEG referencing the input series (DICOM input)");
  p.option("--rtstruct", "RS.dcm",
           "also write the labels as an RT Structure Set: one ROI per label, closed planar "
           "contours per slice (DICOM input)");
  p.option("--sr", "SR.dcm",
           "also write a DICOM SR measurement report (TID 1500) of the SEG's segments: volume, "
           "HU mean and SD, edge of the field of view (needs --dicom-seg)");
  addDeidentifyOptions(p);
  p.option("--save-blocks", "PATH", "write the map of computed blocks as a volume (QA overlay)");
  p.epilog(
      "Labels keep the input's exact geometry. Outputs are written to a temporary name\n"
      "and renamed when complete; Ctrl-C stops cleanly without partial files.");
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  if (!p.has("input") || !p.has("output")) {
    std::fprintf(stderr, "tessera: error: segment needs -i IN and -o OUT (see --help)\n");
    return kExitUsage;
  }
  models::SegmentJobOptions job;
  job.input = p.get("input");
  job.output = p.get("output");
  job.seriesUid = p.get("series");
  job.reportPath = p.get("report");
  job.meshDir = p.get("meshes");
  job.meshFormat = p.get("mesh-format");
  job.blocksPath = p.get("save-blocks");
  job.dicomSegPath = p.get("dicom-seg");
  job.dicomSrPath = p.get("sr");
  job.rtstructPath = p.get("rtstruct");
  SegmentCommandOptions segment;
  std::string error;
  if (!readSegmentOptions(p, &segment, &error) ||
      !readDeidentifyOptions(p, &job.deidentify, &error)) {
    std::fprintf(stderr, "tessera: error: %s\n", error.c_str());
    return kExitUsage;
  }
  job.segment = segment.segment;
  if (Status s = models::checkSegmentJobOutputs(job); !s.ok()) return fail(s);
  job.stages = segment.stages;

  auto model = models::loadModel(segment.modelPath);
  if (!model.ok()) return fail(model.error());
  job.segment = models::resolveSegmentMode(job.segment, (*model)->info);
  if (segment.segment.mode != job.segment.mode)
    std::fprintf(stderr, "tessera: note: %s runs dense only (%s)\n", (*model)->info.name.c_str(),
                 (*model)->info.denseOnlyReason.c_str());
  models::Segmenter segmenter(*model);
  ConsoleProgress progress("segment");
  auto result = models::runSegmentJob(segmenter, job, &progress, &interruptToken());
  progress.finish();
  if (!result.ok()) return fail(result.error());
  const models::SegmentationStats& s = result->stats;
  std::printf("segmented %lld slices in %.2f s (read %.2f s, network %.2f s, write %.2f s)\n",
              static_cast<long long>(s.slices), result->totalSeconds, result->readSeconds,
              s.engineSeconds, result->writeSeconds);
  std::printf(
      "mode %s: %.1f %% of blocks active, %.1f %% settled early, %.1f of %.1f GFLOP "
      "(%.1f %% skipped)\n",
      models::segmentModeName(job.segment.mode), 100.0 * s.meanActiveFraction,
      100.0 * s.meanSettledFraction, s.flops / 1e9, s.denseFlops / 1e9,
      s.denseFlops > 0 ? 100.0 * (1.0 - s.flops / s.denseFlops) : 0.0);
  // The model's post-processing rules, where they changed something.
  const double ml = result->geometry.voxelVolumeMm3() / 1000.0;
  for (const models::PostProcessingOutcome& p : result->postProcessing) {
    const imaging::LabelRuleOutcome& v = p.voxels;
    if (v.removedVoxels() == 0 && v.filledVoxels == 0) continue;
    std::printf("post-processing %s: %.2f mL removed (%lld components), %.2f mL of holes filled\n",
                p.label.c_str(), static_cast<double>(v.removedVoxels()) * ml,
                static_cast<long long>(v.componentsRemoved),
                static_cast<double>(v.filledVoxels) * ml);
  }
  for (const std::string& out : result->outputs) std::printf("wrote %s\n", out.c_str());
  return kExitOk;
}

}  // namespace tessera::cli
