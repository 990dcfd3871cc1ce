// Segments a CT volume slice by slice: canonical orientation (core/reorient.h),
// 2.5D context (core/slice_context.h),
// the density detector's block mask, the inference engine, labels with the
// input's exact geometry. Memory stays bounded by the volume, its label map
// and a few slices of activations (never a float volume per label).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/blocks.h"
#include "core/image.h"
#include "core/image_view.h"
#include "core/progress.h"
#include "core/reorient.h"
#include "core/status.h"
#include "models/infer/inference_engine.h"
#include "models/net/model.h"

namespace tessera::models {

enum class SegmentMode { kSparse, kDense };
const char* segmentModeName(SegmentMode mode);
bool parseSegmentMode(const std::string& text, SegmentMode* mode);

// Output-driven sparsity: how confident a coarse decoder level must be for
// finer levels to skip a block (see EngineOptions::settleMargin).
enum class Settling { kOff, kConservative, kBalanced, kAggressive };
const char* settlingName(Settling r);
bool parseSettling(const std::string& text, Settling* r);
// The logit margin a settling level stands for (0 for kOff).
double settlingMargin(Settling r);

struct SegmentOptions {
  SegmentMode mode = SegmentMode::kSparse;
  // Sparse mode: which blocks hold anatomy. Without the detector's dilation
  // ring: on phantoms it cost no Dice (tessera bench --dilation 0 vs 1: mean
  // Dice 0.828 vs 0.827 at 55 % occupancy) and computes 0.67 instead of 0.77
  // of the blocks. A block holding only a few pixels of body may then fall
  // below the detector's thresholds; those pixels are labelled background.
  DetectorOptions detector{.dilation = 0};
  // Sparse mode only; ignored (off) when the model lacks deep-supervision heads.
  Settling settling = Settling::kBalanced;
  // Sparse mode on a model that runs dense only (an imported network):
  // false refuses with the reason, true runs dense (the command line's
  // choice when no --mode was given).
  bool denseWhenSparseUnavailable = false;
  int threads = 0;            // 0: all cores
  bool keepBlockMap = false;  // also return which blocks were computed, per voxel
  ProgressSink* progress = nullptr;
  const CancelToken* cancel = nullptr;
  // Called from the segmenting thread after each slice: `labels` holds
  // where.width × where.height labels (u fastest) and `where` says which
  // voxels of the input volume, in the input's own voxel order, they belong
  // to (an axial slice for axial volumes, a plane with signed strides for
  // any other orientation).
  std::function<void(const SlicePlacement& where, const std::uint8_t* labels)> onSlice;
};

// The options with sparse turned into dense when the model runs dense only
// and options.denseWhenSparseUnavailable allows it, so that reports and
// manifests state the mode that ran.
SegmentOptions resolveSegmentMode(SegmentOptions options, const ModelInfo& model);

struct SegmentationStats {
  std::int64_t slices = 0;
  double seconds = 0.0;              // whole call
  double detectorSeconds = 0.0;      // density detector and mask building
  double engineSeconds = 0.0;        // network
  double flops = 0.0;                // computed
  double denseFlops = 0.0;           // what dense would compute
  double meanActiveFraction = 0.0;   // blocks computed / blocks, over slices
  double meanSettledFraction = 0.0;  // blocks labelled by a coarse head (settling)
  std::int64_t emptySlices = 0;      // slices with no active block
  std::vector<double> sliceSeconds;  // detector + network, per canonical slice
  // Mean fraction of blocks computed per U-Net level (0 = full resolution)
  // by the encoder and by the decoder (smaller with settling).
  std::vector<double> encoderFractionPerLevel, decoderFractionPerLevel;
};

struct Segmentation {
  LabelMap labels;                     // the input's exact geometry
  Image<std::uint8_t> computedBlocks;  // 1 where the engine computed (keepBlockMap)
  SegmentationStats stats;
};

class Segmenter {
 public:
  // Takes the model (weights are packed per slice size on first use).
  explicit Segmenter(std::shared_ptr<const Model> model);
  const ModelInfo& info() const { return model_->info; }

  // Never throws: an exception inside (an allocation failure in a kernel's
  // scratch, say) comes back as an error. Reads `volume` in place (a Volume
  // converts; the SDK passes its caller's buffer) and copies it only when
  // it is not in the canonical voxel order.
  Result<Segmentation> segment(VolumeView volume, const SegmentOptions& options);

 private:
  Result<Segmentation> segmentUnguarded(VolumeView volume, const SegmentOptions& options);

  std::shared_ptr<const Model> model_;
  std::unique_ptr<infer::InferenceEngine> engine_;  // cached for the last slice size
};

}  // namespace tessera::models
