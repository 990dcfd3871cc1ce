// Rows of the label table: every label of the study's table (background
// excepted) with its colour, visibility, volume in mL and mean HU. The
// statistics module (imaging/stats) computes them when a segmentation is
// loaded; they are then kept as per-label voxel counts and HU sums updated
// from the voxels an edit changed, so that a brush stroke does not rescan the
// volume. Toolkit-free.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/image.h"
#include "core/reorient.h"
#include "core/status.h"
#include "ui/model/image_document.h"

namespace tessera::ui {

struct LabelRow {
  std::uint8_t value = 0;
  std::string name;
  std::array<std::uint8_t, 3> rgb{0, 0, 0};
  bool visible = true;
  std::int64_t voxels = 0;
  double volumeMl = 0.0;  // voxels × voxel volume in mm³ / 1000
  double meanHu = 0.0;    // NaN when the label has no voxel
};

class LabelTableModel {
 public:
  // Recomputes everything from the CT and the labels; keeps the visibility
  // of labels that were already listed.
  Status reset(const Volume& ct, const LabelMap& labels);
  // Rows of `table`, every label empty (a segmentation about to arrive).
  void resetEmpty(const Volume& ct, const LabelTable& table);
  void clear();

  // Updates counts and sums for voxels an edit changed (forward: before →
  // after; undo: after → before).
  void applyEdit(const Volume& ct, const Edit& edit, bool undo);
  // Updates for one axial slice whose labels go from `before` to `after`
  // (nx·ny values each).
  void applySliceChange(const Volume& ct, std::int64_t k, const std::uint8_t* before,
                        const std::uint8_t* after);
  // The same for a slice anywhere in the volume (`where` must fit the CT):
  // where.count() values each, in the slice's own order.
  void applySliceChange(const Volume& ct, const SlicePlacement& where, const std::uint8_t* before,
                        const std::uint8_t* after);

  const std::vector<LabelRow>& rows() const { return rows_; }
  const LabelRow* find(std::uint8_t value) const;
  std::optional<std::size_t> rowIndex(std::uint8_t value) const;

  void setVisible(std::uint8_t value, bool visible);
  bool visible(std::uint8_t value) const;

 private:
  void setRows(const LabelTable& table);
  void refreshRows();

  std::vector<LabelRow> rows_;
  std::array<std::int64_t, 256> counts_{};
  std::array<double, 256> huSums_{};
  double voxelVolumeMm3_ = 0.0;
};

}  // namespace tessera::ui
