// Post-processing of a label map by per-label rules, as a model's metadata
// declares them (models/net/model.h, docs/SDK.md "Post-processing rules"):
// labels that cannot share an axial slice with others are removed there, a
// label keeps only its largest connected components, and background fully
// enclosed by a label becomes that label. Voxels a rule removes become
// background (0); filling never overwrites another label.
#pragma once

#include <cstdint>
#include <vector>

#include "core/image.h"
#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

struct LabelRule {
  std::uint8_t label = 0;  // never 0 (background)
  // Removed from every axial slice (k) that holds one of these labels: the
  // brain cannot lie on a slice with liver or lung, whatever the network saw.
  std::vector<std::uint8_t> notOnSlicesWith;
  // Keep the N largest components (26-connected, in 3D); 0 keeps all.
  int keepLargest = 0;
  // Background voxels enclosed by the label in 3D (not reachable from the
  // volume's faces through 6-connected non-label voxels) become the label.
  bool fillHoles = false;
};

// What one rule changed, in voxels.
struct LabelRuleOutcome {
  std::uint8_t label = 0;
  std::int64_t removedOnSlices = 0;    // notOnSlicesWith
  std::int64_t componentsRemoved = 0;  // keepLargest
  std::int64_t removedComponentVoxels = 0;
  std::int64_t filledVoxels = 0;  // fillHoles
};

// Applies `rules` in order, each one's slice rule, then its components,
// then its holes. Errors: kInvalidArgument for a rule on label 0 or a
// negative keepLargest; kCancelled; kResourceExhausted when the masks
// cannot be allocated. On error `labels` may be partly processed: the caller
// discards it.
Result<std::vector<LabelRuleOutcome>> applyLabelRules(Image<std::uint8_t>& labels,
                                                      const std::vector<LabelRule>& rules,
                                                      const CancelToken* cancel = nullptr);

}  // namespace tessera::imaging
