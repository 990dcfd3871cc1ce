#include "models/pipeline/benchmark.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/memory.h"
#include "imaging/eval/metrics.h"
#include "imaging/io/volume_io.h"

namespace tessera::models {

namespace {
using Clock = std::chrono::steady_clock;

struct ModeRun {
  Segmentation best;
  std::vector<double> sliceSeconds;  // fastest of the repeats, per slice
};

Result<ModeRun> runMode(Segmenter& segmenter, const Volume& ct, SegmentOptions options,
                        SegmentMode mode, int repeats) {
  ModeRun run;
  options.mode = mode;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    TESSERA_ASSIGN_OR_RETURN(Segmentation s, segmenter.segment(ct, options));
    if (run.sliceSeconds.empty()) {
      run.sliceSeconds = s.stats.sliceSeconds;
      run.best = std::move(s);
      continue;
    }
    for (std::size_t k = 0; k < run.sliceSeconds.size(); ++k)
      run.sliceSeconds[k] = std::min(run.sliceSeconds[k], s.stats.sliceSeconds[k]);
    if (s.stats.detectorSeconds < run.best.stats.detectorSeconds)
      run.best.stats.detectorSeconds = s.stats.detectorSeconds;
  }
  return run;
}

double sum(const std::vector<double>& v) {
  double total = 0;
  for (double x : v) total += x;
  return total;
}
}  // namespace

Result<PhantomBenchRow> benchmarkPhantom(Segmenter& segmenter, const PhantomBenchOptions& o) {
  imaging::PhantomOptions p;
  p.family = o.family;
  p.seed = o.seed;
  p.slices = o.slices;
  p.sliceSpacingMm = o.sliceSpacingMm;
  p.zCenter = o.zCenter;
  p.occupancy = o.occupancy;
  TESSERA_ASSIGN_OR_RETURN(imaging::Phantom phantom, imaging::generatePhantom(p));
  TESSERA_ASSIGN_OR_RETURN(ModeRun dense, runMode(segmenter, phantom.ct, o.sparse, SegmentMode::kDense, o.repeats));
  TESSERA_ASSIGN_OR_RETURN(ModeRun sparse, runMode(segmenter, phantom.ct, o.sparse, SegmentMode::kSparse, o.repeats));
  imaging::EvaluationOptions eval;
  eval.dicesOnly = true;
  TESSERA_ASSIGN_OR_RETURN(imaging::EvaluationResult denseEval,
                           imaging::evaluateSegmentation(dense.best.labels, phantom.labels, eval));
  TESSERA_ASSIGN_OR_RETURN(imaging::EvaluationResult sparseEval,
                           imaging::evaluateSegmentation(sparse.best.labels, phantom.labels, eval));
  PhantomBenchRow row;
  row.family = imaging::phantomFamilyName(o.family);
  row.targetOccupancy = o.occupancy;
  row.bodyOccupancy = phantom.info.measuredOccupancy;
  row.activeFraction = sparse.best.stats.meanActiveFraction;
  row.slices = o.slices;
  const double denseSeconds = sum(dense.sliceSeconds), sparseSeconds = sum(sparse.sliceSeconds);
  row.denseMsPerSlice = 1e3 * denseSeconds / o.slices;
  row.sparseMsPerSlice = 1e3 * sparseSeconds / o.slices;
  row.speedup = sparseSeconds > 0 ? denseSeconds / sparseSeconds : 0;
  row.flopFraction = sparse.best.stats.denseFlops > 0
                         ? sparse.best.stats.flops / sparse.best.stats.denseFlops
                         : 0;
  row.denseDice = denseEval.meanDice;
  row.sparseDice = sparseEval.meanDice;
  row.detectorShare = sparseSeconds > 0 ? sparse.best.stats.detectorSeconds / sparseSeconds : 0;
  row.worstSliceRatio = 1e9;
  int slower = 0;
  for (std::size_t k = 0; k < dense.sliceSeconds.size(); ++k) {
    const double ratio = dense.sliceSeconds[k] / std::max(1e-9, sparse.sliceSeconds[k]);
    row.worstSliceRatio = std::min(row.worstSliceRatio, ratio);
    if (ratio < 0.97) ++slower;
  }
  row.slowerSliceShare = dense.sliceSeconds.empty() ? 0 : double(slower) / dense.sliceSeconds.size();
  return row;
}

Result<EndToEndResult> benchmarkEndToEnd(Segmenter& segmenter, const std::string& workDir,
                                         int slices, std::uint64_t seed,
                                         const SegmentOptions& sparse) {
  namespace fs = std::filesystem;
  imaging::PhantomOptions p;
  p.seed = seed;
  p.slices = slices;
  p.occupancy = 0.55;
  TESSERA_ASSIGN_OR_RETURN(imaging::Phantom phantom, imaging::generatePhantom(p));
  const std::string ctPath = (fs::path(workDir) / "bench_ct.nii.gz").string();
  const std::string labelPath = (fs::path(workDir) / "bench_labels.nii.gz").string();
  TESSERA_RETURN_IF_ERROR(imaging::writeVolume(phantom.ct, ctPath));
  phantom = imaging::Phantom();

  EndToEndResult r;
  const auto t0 = Clock::now();
  TESSERA_ASSIGN_OR_RETURN(Volume ct, imaging::readVolume(ctPath));
  const auto t1 = Clock::now();
  SegmentOptions options = sparse;
  options.mode = SegmentMode::kSparse;
  TESSERA_ASSIGN_OR_RETURN(Segmentation s, segmenter.segment(ct, options));
  const auto t2 = Clock::now();
  TESSERA_RETURN_IF_ERROR(imaging::writeLabelMap(s.labels, labelPath));
  const auto t3 = Clock::now();
  r.slices = ct.nz();
  r.readSeconds = std::chrono::duration<double>(t1 - t0).count();
  r.segmentSeconds = std::chrono::duration<double>(t2 - t1).count();
  r.writeSeconds = std::chrono::duration<double>(t3 - t2).count();
  r.totalSeconds = std::chrono::duration<double>(t3 - t0).count();
  r.meanActiveFraction = s.stats.meanActiveFraction;
  r.peakResidentBytes = peakResidentBytes();
  std::error_code ignored;
  fs::remove(ctPath, ignored);
  fs::remove(labelPath, ignored);
  return r;
}

}  // namespace tessera::models
