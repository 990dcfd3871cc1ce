#include "ui/model/label_table_model.h"

#include <cmath>
#include <limits>
#include <map>

#include "imaging/stats/label_stats.h"

namespace tessera::ui {

void LabelTableModel::clear() {
  rows_.clear();
  counts_.fill(0);
  huSums_.fill(0.0);
  voxelVolumeMm3_ = 0.0;
}

void LabelTableModel::setRows(const LabelTable& table) {
  std::map<std::uint8_t, bool> wasVisible;
  for (const LabelRow& row : rows_) wasVisible[row.value] = row.visible;
  rows_.clear();
  for (const Label& label : table.labels) {
    if (label.value == 0) continue;
    LabelRow row;
    row.value = label.value;
    row.name = label.name;
    row.rgb = label.rgb;
    auto it = wasVisible.find(label.value);
    row.visible = it == wasVisible.end() || it->second;
    rows_.push_back(row);
  }
}

Status LabelTableModel::reset(const Volume& ct, const LabelMap& labels) {
  auto statistics = imaging::computeLabelStatistics(ct, labels);
  if (!statistics.ok()) return statistics.status();
  resetEmpty(ct, labels.table);
  for (const imaging::LabelStatistics& s : *statistics) {
    counts_[s.value] = s.voxelCount;
    huSums_[s.value] = s.huMean * static_cast<double>(s.voxelCount);
  }
  refreshRows();
  return Status();
}

void LabelTableModel::resetEmpty(const Volume& ct, const LabelTable& table) {
  setRows(table);
  counts_.fill(0);
  huSums_.fill(0.0);
  voxelVolumeMm3_ = ct.geometry().voxelVolumeMm3();
  refreshRows();
}

void LabelTableModel::applyEdit(const Volume& ct, const Edit& edit, bool undo) {
  const std::int16_t* hu = ct.data();
  for (const VoxelChange& c : edit.changes) {
    const std::uint8_t from = undo ? c.after : c.before;
    const std::uint8_t to = undo ? c.before : c.after;
    counts_[from] -= 1;
    huSums_[from] -= hu[c.index];
    counts_[to] += 1;
    huSums_[to] += hu[c.index];
  }
  refreshRows();
}

void LabelTableModel::applySliceChange(const Volume& ct, std::int64_t k, const std::uint8_t* before,
                                       const std::uint8_t* after) {
  applySliceChange(ct, SlicePlacement::axial(ct.geometry().size, k), before, after);
}

void LabelTableModel::applySliceChange(const Volume& ct, const SlicePlacement& where,
                                       const std::uint8_t* before, const std::uint8_t* after) {
  const std::int16_t* hu = ct.data();
  for (std::int64_t v = 0, i = 0; v < where.height; ++v)
    for (std::int64_t u = 0; u < where.width; ++u, ++i) {
      if (before[i] == after[i]) continue;
      const std::int16_t value = hu[where.voxelIndex(u, v)];
      counts_[before[i]] -= 1;
      huSums_[before[i]] -= value;
      counts_[after[i]] += 1;
      huSums_[after[i]] += value;
    }
  refreshRows();
}

void LabelTableModel::refreshRows() {
  for (LabelRow& row : rows_) {
    row.voxels = counts_[row.value];
    row.volumeMl = static_cast<double>(row.voxels) * voxelVolumeMm3_ / 1000.0;
    row.meanHu = row.voxels > 0 ? huSums_[row.value] / static_cast<double>(row.voxels)
                                : std::numeric_limits<double>::quiet_NaN();
  }
}

const LabelRow* LabelTableModel::find(std::uint8_t value) const {
  for (const LabelRow& row : rows_)
    if (row.value == value) return &row;
  return nullptr;
}

std::optional<std::size_t> LabelTableModel::rowIndex(std::uint8_t value) const {
  for (std::size_t i = 0; i < rows_.size(); ++i)
    if (rows_[i].value == value) return i;
  return std::nullopt;
}

void LabelTableModel::setVisible(std::uint8_t value, bool visible) {
  for (LabelRow& row : rows_)
    if (row.value == value) row.visible = visible;
}

bool LabelTableModel::visible(std::uint8_t value) const {
  const LabelRow* row = find(value);
  return row == nullptr || row->visible;
}

}  // namespace tessera::ui
