#include "models/pipeline/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/json.h"
#include "core/memory.h"
#include "core/slice_context.h"
#include "imaging/eval/metrics.h"
#include "imaging/io/volume_io.h"
#include "models/infer/inference_engine.h"
#include "models/pipeline/npy.h"
#include "models/pipeline/process.h"
#include "models/pipeline/segment_study.h"

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

// The last non-empty line a failing program wrote to standard error.
std::string lastLine(const std::string& text) {
  const std::size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos) return {};
  const std::size_t newline = text.find_last_of('\n', end);
  const std::size_t start = newline == std::string::npos ? 0 : newline + 1;
  return text.substr(start, end + 1 - start);
}

Error peerFailed(const std::string& what, const ProcessResult& run, const std::string& context) {
  const std::string detail = lastLine(run.err);
  return Error{StatusCode::kIoError,
               what + " " + run.describeExit() + (detail.empty() ? "" : ": " + detail), context};
}
// The slice every peer runs: slice 2 of a small torso phantom of seed 9002.
constexpr int kPeerSlice = 2;

Result<imaging::Phantom> peerPhantom(int matrix) {
  imaging::PhantomOptions p;
  p.seed = 9002;
  p.slices = 5;
  p.sliceSpacingMm = 2.5;
  p.matrix = matrix;
  return imaging::generatePhantom(p);
}

Status checkPeer(const PeerOptions& o, const std::string& imports, const std::string& packages,
                 const std::string& scriptName) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::exists(o.python, error))
    return Error{StatusCode::kNotFound, "python3 is not installed", o.python};
  if (!fs::is_regular_file(o.script, error))
    return Error{StatusCode::kNotFound, "the " + scriptName + " benchmark script is missing",
                 o.script};
  TESSERA_ASSIGN_OR_RETURN(ProcessResult check, runProcess({o.python, "-c", "import " + imports}));
  if (!check.succeeded())
    return Error{StatusCode::kUnsupported, packages + " is not installed", o.python};
  return Status::success();
}

// Writes the shared slice as the network's normalised input, runs the peer
// on it, and compares the logits it writes with Tessera's dense engine.
struct PeerRun {
  JsonValue result;
  double maxRelativeLogitDifference = 0;
};

Result<PeerRun> runPeer(const Model& model, const PeerOptions& o, const std::string& name,
                        const std::string& filePrefix, const std::string& requiredKey) {
  namespace fs = std::filesystem;
  TESSERA_ASSIGN_OR_RETURN(imaging::Phantom phantom, peerPhantom(o.matrix));
  const Volume& ct = phantom.ct;
  const int w = static_cast<int>(ct.nx()), h = static_cast<int>(ct.ny());
  const int channels = model.info.architecture.inputChannels, radius = model.info.contextRadius();
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  std::vector<float> input(static_cast<std::size_t>(channels) * plane);
  PhysicalSliceContext<std::int16_t> contextBuilder(radius, model.info.contextOffsetMm);
  const std::vector<const std::int16_t*>& context = contextBuilder.at(ct, kPeerSlice);
  for (int c = 0; c < channels; ++c)
    for (std::size_t i = 0; i < plane; ++i)
      input[c * plane + i] = model.info.input.apply(context[static_cast<std::size_t>(c)][i]);
  const std::string inPath = (fs::path(o.workDir) / (filePrefix + "_input.npy")).string();
  const std::string outPath = (fs::path(o.workDir) / (filePrefix + "_logits.npy")).string();
  TESSERA_RETURN_IF_ERROR(writeNpy(inPath, {1, channels, h, w}, input.data()));
  std::error_code error;
  fs::remove(outPath, error);
  TESSERA_ASSIGN_OR_RETURN(
      ProcessResult run,
      runProcess({o.python, o.script, "--model", o.modelPath, "--threads",
                  std::to_string(o.threads), "--repeats", std::to_string(o.repeats), "--warmup",
                  std::to_string(o.warmup), "--json", "--input", inPath, "--output", outPath}));
  if (!run.succeeded()) return peerFailed("the " + name + " benchmark", run, o.script);
  auto parsed = parseJson(run.out);
  if (!parsed.ok() || !parsed->find(requiredKey))
    return Error{StatusCode::kCorruptData, "the " + name + " benchmark printed no JSON result",
                 o.script};
  PeerRun r;
  r.result = std::move(*parsed);

  TESSERA_ASSIGN_OR_RETURN(NpyArray theirs, readNpy(outPath));
  const std::int64_t classes = model.info.architecture.classes;
  if (theirs.shape != std::vector<std::int64_t>{1, classes, h, w})
    return Error{StatusCode::kCorruptData,
                 "the " + name + " logits are not (1, " + std::to_string(classes) + ", " +
                     std::to_string(h) + ", " + std::to_string(w) + ")",
                 outPath};
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<infer::InferenceEngine> engine,
                           infer::InferenceEngine::create(model, w, h));
  std::vector<float> ours(theirs.data.size());
  std::vector<std::uint8_t> labels(plane);
  infer::SliceStats stats;
  engine->run(context, BlockMask(engine->grid(), true), labels.data(), &stats, ours.data());
  for (std::size_t i = 0; i < ours.size(); ++i)
    r.maxRelativeLogitDifference =
        std::max(r.maxRelativeLogitDifference, std::abs(double(ours[i]) - theirs.data[i]) /
                                                   std::max(1.0, std::abs(double(theirs.data[i]))));
  return r;
}
}  // namespace

Result<TorchPeerResult> benchmarkTorch(const Model& model, const PeerOptions& o) {
  TESSERA_RETURN_IF_ERROR(checkPeer(o, "torch, onnx", "python3-torch or python3-onnx", "PyTorch"));
  TESSERA_ASSIGN_OR_RETURN(PeerRun run, runPeer(model, o, "PyTorch", "torch", "eager_ms"));
  TorchPeerResult t;
  t.version = run.result.getString("torch_version");
  t.allocator = run.result.getString("allocator", "glibc");
  t.eagerMs = run.result.getNumber("eager_ms");
  t.jitMs = run.result.getNumber("jit_ms");
  t.eagerBestMs = run.result.getNumber("eager_min_ms", t.eagerMs);
  t.jitBestMs = run.result.getNumber("jit_min_ms", t.jitMs);
  t.maxRelativeLogitDifference = run.maxRelativeLogitDifference;
  return t;
}

Result<OpenCvPeerResult> benchmarkOpenCv(const Model& model, const PeerOptions& o) {
  TESSERA_RETURN_IF_ERROR(checkPeer(o, "cv2, numpy", "python3-opencv", "OpenCV"));
  TESSERA_ASSIGN_OR_RETURN(PeerRun run, runPeer(model, o, "OpenCV DNN", "opencv", "median_ms"));
  OpenCvPeerResult r;
  r.version = run.result.getString("opencv_version");
  r.medianMs = run.result.getNumber("median_ms");
  r.bestMs = run.result.getNumber("best_ms", r.medianMs);
  r.maxRelativeLogitDifference = run.maxRelativeLogitDifference;
  return r;
}

Result<PeerSliceTimes> benchmarkPeerSlice(Segmenter& segmenter, const PeerOptions& o,
                                          const SegmentOptions& sparse) {
  TESSERA_ASSIGN_OR_RETURN(imaging::Phantom phantom, peerPhantom(o.matrix));
  TESSERA_ASSIGN_OR_RETURN(ModeRun dense,
                           runMode(segmenter, phantom.ct, sparse, SegmentMode::kDense, o.repeats));
  TESSERA_ASSIGN_OR_RETURN(ModeRun sparseRun,
                           runMode(segmenter, phantom.ct, sparse, SegmentMode::kSparse, o.repeats));
  if (dense.sliceSeconds.size() <= kPeerSlice || sparseRun.sliceSeconds.size() <= kPeerSlice)
    return Error{StatusCode::kInternal, "the segmenter timed fewer slices than it was given"};
  PeerSliceTimes t;
  t.denseBestMs = 1e3 * dense.sliceSeconds[kPeerSlice];
  t.sparseBestMs = 1e3 * sparseRun.sliceSeconds[kPeerSlice];
  t.activeFraction = sparseRun.best.stats.meanActiveFraction;
  return t;
}

Result<PhantomBenchRow> benchmarkPhantom(Segmenter& segmenter, const PhantomBenchOptions& o) {
  imaging::PhantomOptions p;
  p.family = o.family;
  p.seed = o.seed;
  p.slices = o.slices;
  p.sliceSpacingMm = o.sliceSpacingMm;
  p.zCenter = o.zCenter;
  p.occupancy = o.occupancy;
  TESSERA_ASSIGN_OR_RETURN(imaging::Phantom phantom, imaging::generatePhantom(p));
  TESSERA_ASSIGN_OR_RETURN(
      ModeRun dense, runMode(segmenter, phantom.ct, o.sparse, SegmentMode::kDense, o.repeats));
  TESSERA_ASSIGN_OR_RETURN(
      ModeRun sparse, runMode(segmenter, phantom.ct, o.sparse, SegmentMode::kSparse, o.repeats));
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
  row.flopFraction =
      sparse.best.stats.denseFlops > 0 ? sparse.best.stats.flops / sparse.best.stats.denseFlops : 0;
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
  row.slowerSliceShare =
      dense.sliceSeconds.empty() ? 0 : double(slower) / dense.sliceSeconds.size();
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
  // What `tessera segment` does between reading and writing: the network and
  // the label statistics.
  TESSERA_ASSIGN_OR_RETURN(StudySegmentation s, segmentStudy(segmenter, ct, options));
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
