#include "models/infer/segmenter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "core/log.h"
#include "core/parallel.h"
#include "core/slice_context.h"
#include "models/backend/plugin_layer.h"

namespace tessera::models {

const char* segmentModeName(SegmentMode mode) {
  return mode == SegmentMode::kSparse ? "sparse" : "dense";
}

bool parseSegmentMode(const std::string& text, SegmentMode* mode) {
  if (text == "sparse")
    *mode = SegmentMode::kSparse;
  else if (text == "dense")
    *mode = SegmentMode::kDense;
  else
    return false;
  return true;
}

const char* settlingName(Settling r) {
  switch (r) {
    case Settling::kOff:
      return "off";
    case Settling::kConservative:
      return "conservative";
    case Settling::kBalanced:
      return "balanced";
    case Settling::kAggressive:
      return "aggressive";
  }
  return "off";
}

bool parseSettling(const std::string& text, Settling* r) {
  for (Settling v :
       {Settling::kOff, Settling::kConservative, Settling::kBalanced, Settling::kAggressive})
    if (text == settlingName(v)) {
      *r = v;
      return true;
    }
  return false;
}

double settlingMargin(Settling r) {
  switch (r) {
    case Settling::kOff:
      return 0.0;
    case Settling::kConservative:
      return 8.0;
    case Settling::kBalanced:
      return 4.0;
    case Settling::kAggressive:
      return 2.0;
  }
  return 0.0;
}

SegmentOptions resolveSegmentMode(SegmentOptions options, const ModelInfo& model) {
  if (options.mode == SegmentMode::kSparse && model.graphNetwork &&
      options.denseWhenSparseUnavailable)
    options.mode = SegmentMode::kDense;
  return options;
}

Segmenter::Segmenter(std::shared_ptr<const Model> model) : model_(std::move(model)) {}

Result<Segmentation> Segmenter::segment(VolumeView volume, const SegmentOptions& options) {
  return guardExceptions([&] { return segmentUnguarded(volume, options); });
}

Result<Segmentation> Segmenter::segmentUnguarded(VolumeView volume,
                                                 const SegmentOptions& requested) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  if (volume.empty()) return Error{StatusCode::kInvalidArgument, "the volume is empty"};
  if (requested.threads > 0) setNumThreads(requested.threads);
  const SegmentOptions options = resolveSegmentMode(requested, model_->info);
  if (options.mode == SegmentMode::kSparse && model_->info.graphNetwork)
    return Error{StatusCode::kUnsupported, "model " + model_->info.name + " runs dense only (" +
                                               model_->info.denseOnlyReason + "); use mode dense"};

  const Reorientation r = canonicalReorientation(volume.geometry());
  Volume reoriented;
  if (!r.identity()) reoriented = reorient(volume, r);
  const VolumeView ct = r.identity() ? volume : VolumeView(reoriented);
  const int nx = static_cast<int>(ct.nx()), ny = static_cast<int>(ct.ny());
  const std::int64_t nz = ct.nz();

  if (!engine_ || engine_->width() != nx || engine_->height() != ny) {
    engine_.reset();
    TESSERA_ASSIGN_OR_RETURN(engine_, infer::InferenceEngine::create(*model_, nx, ny));
  }
  TESSERA_ASSIGN_OR_RETURN(Image<std::uint8_t> labels, Image<std::uint8_t>::create(ct.geometry()));
  Image<std::uint8_t> blockMap;
  if (options.keepBlockMap) {
    TESSERA_ASSIGN_OR_RETURN(blockMap, Image<std::uint8_t>::create(ct.geometry()));
  }

  Segmentation result;
  SegmentationStats& stats = result.stats;
  ProgressTracker tracker(options.progress);
  tracker.report(0.0, "segmenting " + std::to_string(nz) + " slices");
  const int radius = model_->info.contextRadius();
  PhysicalSliceContext<std::int16_t> contextBuilder(radius, model_->info.contextOffsetMm);
  engine_->setSettleMargin(options.mode == SegmentMode::kSparse && engine_->canSettle()
                               ? settlingMargin(options.settling)
                               : 0.0);
  double settledSum = 0;
  const BlockGrid& grid = engine_->grid();
  const BlockMask all(grid, true);
  double activeSum = 0;
  const int levels = model_->info.architecture.levels;
  stats.encoderFractionPerLevel.assign(levels + 1, 0.0);
  stats.decoderFractionPerLevel.assign(levels, 0.0);
  for (std::int64_t k = 0; k < nz; ++k) {
    if (options.cancel) TESSERA_RETURN_IF_ERROR(options.cancel->check());
    const std::vector<const std::int16_t*>& context = contextBuilder.at(ct, k);

    const auto t0 = Clock::now();
    BlockMask mask =
        options.mode == SegmentMode::kDense
            ? all
            : detectBlocks(std::span<const std::int16_t* const>(context), nx, ny, options.detector);
    const auto t1 = Clock::now();
    infer::SliceStats sliceStats;
    std::uint8_t* out = labels.slice(k);
    if (mask.none()) {
      std::fill(out, out + static_cast<std::size_t>(nx) * ny, 0);
      sliceStats.denseFlops =
          model_->info.architecture.forwardFlops(grid.paddedHeight(), grid.paddedWidth(), false);
      ++stats.emptySlices;
    } else {
      engine_->run(context, mask, out, &sliceStats);
      TESSERA_RETURN_IF_ERROR(takePluginLayerFailure());
    }
    const auto t2 = Clock::now();
    stats.sliceSeconds.push_back(std::chrono::duration<double>(t2 - t0).count());
    stats.detectorSeconds += std::chrono::duration<double>(t1 - t0).count();
    stats.engineSeconds += std::chrono::duration<double>(t2 - t1).count();
    stats.flops += sliceStats.flops;
    settledSum += sliceStats.settledFraction;
    for (int l = 0; l <= levels && l < infer::kMaxLevels; ++l) {
      stats.encoderFractionPerLevel[l] += sliceStats.activeFraction[l] / nz;
      if (l < levels) stats.decoderFractionPerLevel[l] += sliceStats.decoderFraction[l] / nz;
    }
    stats.denseFlops += sliceStats.denseFlops;
    activeSum += mask.activeFraction();
    if (options.keepBlockMap) {
      std::uint8_t* b = blockMap.slice(k);
      for (int y = 0; y < ny; ++y)
        for (int x = 0; x < nx; ++x)
          b[y * nx + x] = mask.test(x / grid.blockSize(), y / grid.blockSize());
    }
    if (options.onSlice) options.onSlice(canonicalSlicePlacement(volume.geometry(), k), out);
    tracker.report(static_cast<double>(k + 1) / nz,
                   "slice " + std::to_string(k + 1) + "/" + std::to_string(nz));
  }
  stats.slices = nz;
  stats.meanActiveFraction = nz ? activeSum / nz : 0.0;
  stats.meanSettledFraction = nz ? settledSum / nz : 0.0;

  if (r.identity()) {
    result.labels.labels = std::move(labels);
    if (options.keepBlockMap) result.computedBlocks = std::move(blockMap);
  } else {
    result.labels.labels = reorientBack(labels, r, volume.geometry());
    if (options.keepBlockMap) result.computedBlocks = reorientBack(blockMap, r, volume.geometry());
  }
  result.labels.table = model_->info.labels;
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace tessera::models
