// Post-processing of a label map by per-label rules, as a model's metadata
// declares them (models/net/model.h, docs/SDK.md "Post-processing rules"):
// a label that cannot share an axial slice with others is removed where
// they outweigh it, a label keeps only its largest (or large enough)
// connected components, and background fully enclosed by a label becomes
// that label. Voxels a rule removes become background (0); filling never
// overwrites another label.
#pragma once

#include <cstdint>
#include <vector>

#include "core/image.h"
#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

struct LabelRule {
  std::uint8_t label = 0;  // never 0 (background)
  // Removed from every axial slice (k) on which these labels together hold
  // more voxels than it does: the brain cannot share a slice with liver or
  // lung, and of two that cannot, the larger is the one the network saw.
  std::vector<std::uint8_t> notOnSlicesWith;
  // Keep the N largest components (26-connected, in 3D); 0 keeps all.
  int keepLargest = 0;
  // Background voxels enclosed by the label in 3D (not reachable from the
  // volume's faces through 6-connected non-label voxels) become the label.
  bool fillHoles = false;
  // Components smaller than this (mL, from the voxel spacing) are removed;
  // 0 keeps every size.
  double minComponentMl = 0;
};

// What one rule changed, in voxels.
struct LabelRuleOutcome {
  std::uint8_t label = 0;
  std::int64_t removedOnSlices = 0;    // notOnSlicesWith
  std::int64_t componentsRemoved = 0;  // keepLargest, minComponentMl
  std::int64_t removedComponentVoxels = 0;
  std::int64_t filledVoxels = 0;  // fillHoles

  std::int64_t removedVoxels() const { return removedOnSlices + removedComponentVoxels; }
};

// Applies `rules` in order, each one's slice rule, then its components,
// then its holes. Errors: kInvalidArgument for a rule on label 0 or a
// negative keepLargest or minComponentMl (before any change); kCancelled;
// kResourceExhausted when the masks cannot be allocated. On error `labels`
// may be partly processed: the caller discards it.
Result<std::vector<LabelRuleOutcome>> applyLabelRules(Image<std::uint8_t>& labels,
                                                      const std::vector<LabelRule>& rules,
                                                      const CancelToken* cancel = nullptr);

}  // namespace tessera::imaging
