// Segmentation quality against a reference: Dice and Hausdorff distances per
// label, for `tessera eval`, the benchmarks and training validation.
//
// Definitions (docs/QUANTIFICATION.md):
// - Dice = 2 |P ∩ R| / (|P| + |R|) over voxels of the label.
// - Surface voxels: voxels of the label with at least one of their six face
//   neighbours outside it (outside the grid counts as outside the label).
// - Directed distances: from each surface voxel centre of one map to the
//   nearest surface voxel centre of the other, in mm (exact Euclidean
//   distance transform, anisotropic spacing).
// - HD95 = max(95th percentile P→R, 95th percentile R→P), percentiles with
//   linear interpolation (as MONAI and DeepMind's surface-distance do);
//   Hausdorff = the largest directed distance.
// - A label absent from both maps is not scored (and not in the mean). A
//   label absent from one map only scores Dice 0 and no finite Hausdorff
//   distance (reported as null / infinite).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/image.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

struct LabelMetrics {
  std::uint8_t value = 0;
  std::string name;
  bool scored = false;                // false when the label is absent from both maps
  double dice = 0.0;                  // meaningful only when scored
  std::optional<double> hd95Mm;       // empty when either map lacks the label
  std::optional<double> hausdorffMm;  // idem
  std::int64_t predVoxels = 0;
  std::int64_t refVoxels = 0;
  double predVolumeMl = 0.0;
  double refVolumeMl = 0.0;
};

struct EvaluationResult {
  std::vector<LabelMetrics> labels;  // in value order
  int scoredLabels = 0;
  double meanDice = 0.0;  // over scored labels; NaN when none is scored
};

struct EvaluationOptions {
  // Labels to evaluate; empty means every non-background value present in
  // either map.
  std::vector<std::uint8_t> labels;
  // Skip the (costlier) distance computation and report Dice only.
  bool dicesOnly = false;
  const CancelToken* cancel = nullptr;
  ProgressSink* progress = nullptr;
};

// The maps must share their geometry (kInvalidArgument otherwise). Names
// come from the reference's label table.
Result<EvaluationResult> evaluateSegmentation(const LabelMap& prediction, const LabelMap& reference,
                                              const EvaluationOptions& options = {});

// Parses "liver,7,kidney": label values (0..255) or names from `table`.
Result<std::vector<std::uint8_t>> parseLabelList(const std::string& text, const LabelTable& table);

// {"metric_definitions": ..., "mean_dice": ..., "labels": [...]}; absent
// values are null.
void evaluationToJson(JsonWriter& writer, const EvaluationResult& result);

// Fixed-width table for terminals: label, Dice, HD95 mm, volumes in mL of
// both maps, then the mean Dice.
std::string evaluationTable(const EvaluationResult& result);

}  // namespace tessera::imaging
