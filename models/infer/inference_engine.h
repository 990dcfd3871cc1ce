// Runs a Model's U-Net on one 2.5D slice at a time, computing only the
// active 16×16 blocks at every level (blocks stay 16 image pixels: 16, 8, 4,
// 2, 1 feature pixels from level 0 to 4). Inactive pixels hold the value the
// dense network computes on air (calibrated once per engine), so a block at
// the edge of the active region sees nearly what the dense network sees.
// With every block active the result is the dense network's, bit for bit.
//
// Batch norm is folded into the convolutions; the output head is fused with
// argmax, so no logits are stored. Buffers are allocated once per slice size
// and reused. Not thread-safe: one engine per thread of slices.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/blocks.h"
#include "core/status.h"
#include "models/net/model.h"

namespace tessera::models::infer {

struct EngineOptions {
  // A slice whose active fraction exceeds this runs every block (longer runs
  // are faster and the result can only get closer to dense).
  double denseFallbackFraction = 0.85;
  // Output-driven sparsity: after decoder level L (from settleFromLevel down
  // to 1) the model's deep-supervision head L predicts every still-undecided
  // block; a block whose pixels all get the same label with a logit margin
  // of at least settleMargin is settled (its 16×16 pixels take that label)
  // and finer levels skip it. 0 disables settling (every decoder level
  // runs on every active block). Needs the model's head1.. heads.
  double settleMargin = 0.0;
  int settleFromLevel = 3;
};

constexpr int kMaxLevels = 8;

struct SliceStats {
  double flops = 0.0;       // multiply-adds ×2 computed
  double denseFlops = 0.0;  // what the dense network computes for this slice
  std::array<double, kMaxLevels> activeFraction{};   // encoder: blocks computed, per level
  std::array<double, kMaxLevels> decoderFraction{};  // decoder: blocks computed, per level
  double settledFraction = 0.0;                      // blocks whose labels came from a coarser head
  int levels = 0;
};

class InferenceEngine {
 public:
  // Slices of width × height pixels (padded to whole blocks internally).
  // An imported network (Model::graph) gets a dense-only engine: run()
  // computes every pixel whatever the mask, on the CPU backend.
  static Result<std::unique_ptr<InferenceEngine>> create(const Model& model, int width, int height,
                                                         const EngineOptions& options = {});
  // Whether the model has the deep-supervision heads settling needs.
  bool canSettle() const;
  void setSettleMargin(double margin);
  ~InferenceEngine();

  int width() const;
  int height() const;
  const BlockGrid& grid() const;

  // slices: inputChannels pointers to width × height HU values (x fastest),
  // neighbours first to last, the centre slice in the middle. mask: which
  // blocks to compute (all for dense). Writes width × height labels.
  // logits (optional, for checks against other implementations): classes
  // planes of width × height; inactive pixels get NaN.
  void run(std::span<const std::int16_t* const> slices, const BlockMask& mask, std::uint8_t* labels,
           SliceStats* stats, float* logits = nullptr);

 private:
  InferenceEngine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::models::infer
