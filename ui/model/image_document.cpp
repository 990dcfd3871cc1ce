#include "ui/model/image_document.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace tessera::ui {

namespace {

std::string geometryMismatch(const char* what, const Geometry& ct, const Geometry& other) {
  return std::string("The ") + what + " does not match the CT: the CT has " + describeGeometry(ct) +
         ", the " + what + " has " + describeGeometry(other) + ".";
}

// Colours for label values the table does not name: evenly spread hues at
// full saturation, which stay readable over grey CT.
std::array<std::uint8_t, 3> paletteColour(int value) {
  const double hue = std::fmod(value * 0.61803398875, 1.0) * 6.0;
  const int sector = static_cast<int>(hue);
  const double f = hue - sector;
  const auto up = static_cast<std::uint8_t>(60 + 195 * f);
  const auto down = static_cast<std::uint8_t>(255 - 195 * f);
  switch (sector) {
    case 0:
      return {255, up, 60};
    case 1:
      return {down, 255, 60};
    case 2:
      return {60, 255, up};
    case 3:
      return {60, down, 255};
    case 4:
      return {up, 60, 255};
    default:
      return {255, 60, down};
  }
}

}  // namespace

LabelTable completeLabelTable(const LabelTable& table, const Image<std::uint8_t>& labels) {
  std::array<bool, 256> present{};
  const std::uint8_t* data = labels.data();
  for (std::int64_t i = 0, n = labels.voxelCount(); i < n; ++i) present[data[i]] = true;
  LabelTable out = table;
  if (!out.find(0)) out.labels.push_back({0, "background", {0, 0, 0}});
  for (int v = 1; v < 256; ++v)
    if (present[v] && !out.find(static_cast<std::uint8_t>(v)))
      out.labels.push_back(
          {static_cast<std::uint8_t>(v), "label " + std::to_string(v), paletteColour(v)});
  std::sort(out.labels.begin(), out.labels.end(),
            [](const Label& a, const Label& b) { return a.value < b.value; });
  return out;
}

ImageDocument::ImageDocument() = default;

Status ImageDocument::setVolume(Volume ct, std::string path) {
  TESSERA_RETURN_IF_ERROR(validateGeometry(ct.geometry()));
  TESSERA_ASSIGN_OR_RETURN(auto labels, Image<std::uint8_t>::create(ct.geometry(), 0));
  ct_ = std::make_shared<const Volume>(std::move(ct));
  labels_ = LabelMap{std::move(labels), defaultLabelTable()};
  blocks_.reset();
  ctPath_ = std::move(path);
  labelsPath_.clear();
  blocksPath_.clear();
  editing_ = false;
  editBefore_.clear();
  clearHistory();
  savedStateId_ = stateId_;
  return Status();
}

Status ImageDocument::setLabels(LabelMap labels, std::string path) {
  if (!hasImage())
    return Status(StatusCode::kInvalidArgument, "Open a CT before its segmentation.");
  if (!sameGeometry(geometry(), labels.labels.geometry()))
    return Status(StatusCode::kInvalidArgument,
                  geometryMismatch("segmentation", geometry(), labels.labels.geometry()), path);
  labels.table = completeLabelTable(labels.table, labels.labels);
  labels_ = std::move(labels);
  labelsPath_ = std::move(path);
  editing_ = false;
  editBefore_.clear();
  clearHistory();
  savedStateId_ = stateId_;
  return Status();
}

Status ImageDocument::replaceLabels(LabelMap labels) {
  if (!hasImage()) return Status(StatusCode::kInvalidArgument, "No CT is open.");
  if (!sameGeometry(geometry(), labels.labels.geometry()))
    return Status(StatusCode::kInternal,
                  geometryMismatch("segmentation", geometry(), labels.labels.geometry()));
  labels.table = completeLabelTable(labels.table, labels.labels);
  labels_ = std::move(labels);
  editing_ = false;
  editBefore_.clear();
  clearHistory();
  return Status();
}

Status ImageDocument::applySegmentation(LabelMap labels, std::string name) {
  if (!hasImage()) return Status(StatusCode::kInvalidArgument, "No CT is open.");
  if (!sameGeometry(geometry(), labels.labels.geometry()))
    return Status(StatusCode::kInternal,
                  geometryMismatch("segmentation", geometry(), labels.labels.geometry()));
  editing_ = false;
  editBefore_.clear();
  Edit edit;
  edit.name = std::move(name);
  edit.manual = false;
  const std::uint8_t* before = labels_.labels.data();
  const std::uint8_t* after = labels.labels.data();
  for (std::int64_t i = 0, n = labels.labels.voxelCount(); i < n; ++i)
    if (before[i] != after[i]) edit.changes.push_back({i, before[i], after[i]});
  labels.table = completeLabelTable(labels.table, labels.labels);
  labels_ = std::move(labels);
  edit.id = nextId_++;
  for (const Edit& dropped : redo_) historyBytes_ -= dropped.changes.size() * sizeof(VoxelChange);
  redo_.clear();
  historyBytes_ += edit.changes.size() * sizeof(VoxelChange);
  stateId_ = edit.id;
  undo_.push_back(std::move(edit));
  trimHistory();
  return Status();
}

std::vector<std::int64_t> ImageDocument::paintedSinceSegmentation() const {
  std::vector<std::int64_t> painted;
  for (auto it = undo_.rbegin(); it != undo_.rend() && it->manual; ++it)
    for (const VoxelChange& c : it->changes) painted.push_back(c.index);
  std::sort(painted.begin(), painted.end());
  painted.erase(std::unique(painted.begin(), painted.end()), painted.end());
  return painted;
}

Status ImageDocument::setBlockMap(BlockMap blocks, std::string path) {
  if (!hasImage()) return Status(StatusCode::kInvalidArgument, "Open a CT before its block map.");
  if (!sameGeometry(geometry(), blocks.geometry()))
    return Status(StatusCode::kInvalidArgument,
                  geometryMismatch("block map", geometry(), blocks.geometry()), path);
  blocks_ = std::move(blocks);
  blocksPath_ = std::move(path);
  return Status();
}

void ImageDocument::clearBlockMap() {
  blocks_.reset();
  blocksPath_.clear();
}

void ImageDocument::beginEdit(std::string name) {
  editing_ = true;
  editName_ = std::move(name);
  editBefore_.clear();
}

bool ImageDocument::setLabel(std::int64_t index, std::uint8_t value) {
  if (!editing_ || index < 0 || index >= labels_.labels.voxelCount()) return false;
  std::uint8_t& voxel = labels_.labels.data()[index];
  if (voxel == value) return false;
  editBefore_.try_emplace(index, voxel);
  voxel = value;
  return true;
}

const Edit* ImageDocument::endEdit() {
  if (!editing_) return nullptr;
  editing_ = false;
  Edit edit;
  edit.name = std::move(editName_);
  edit.changes.reserve(editBefore_.size());
  for (const auto& [index, before] : editBefore_) {
    const std::uint8_t after = labels_.labels.data()[index];
    if (after != before) edit.changes.push_back({index, before, after});
  }
  editBefore_.clear();
  if (edit.changes.empty()) return nullptr;
  std::sort(edit.changes.begin(), edit.changes.end(),
            [](const VoxelChange& a, const VoxelChange& b) { return a.index < b.index; });
  edit.id = nextId_++;
  for (const Edit& dropped : redo_) historyBytes_ -= dropped.changes.size() * sizeof(VoxelChange);
  redo_.clear();
  historyBytes_ += edit.changes.size() * sizeof(VoxelChange);
  stateId_ = edit.id;
  undo_.push_back(std::move(edit));
  trimHistory();
  return undo_.empty() ? nullptr : &undo_.back();
}

const Edit* ImageDocument::undo() {
  if (undo_.empty() || editing_) return nullptr;
  redo_.push_back(std::move(undo_.back()));
  undo_.pop_back();
  const Edit& edit = redo_.back();
  std::uint8_t* data = labels_.labels.data();
  for (const VoxelChange& c : edit.changes) data[c.index] = c.before;
  stateId_ = topStateId();
  return &edit;
}

const Edit* ImageDocument::redo() {
  if (redo_.empty() || editing_) return nullptr;
  undo_.push_back(std::move(redo_.back()));
  redo_.pop_back();
  const Edit& edit = undo_.back();
  std::uint8_t* data = labels_.labels.data();
  for (const VoxelChange& c : edit.changes) data[c.index] = c.after;
  stateId_ = edit.id;
  return &edit;
}

void ImageDocument::markSaved(std::string labelsPath) {
  savedStateId_ = stateId_;
  labelsPath_ = std::move(labelsPath);
}

void ImageDocument::markUnsaved() {
  // State ids come from nextId_ and never reach this value.
  savedStateId_ = ~std::uint64_t{0};
}

void ImageDocument::setHistoryLimitBytes(std::size_t bytes) {
  historyLimitBytes_ = bytes;
  trimHistory();
}

void ImageDocument::clearHistory() {
  undo_.clear();
  redo_.clear();
  historyBytes_ = 0;
  baseStateId_ = nextId_++;
  stateId_ = baseStateId_;
}

void ImageDocument::trimHistory() {
  // The newest edit is kept even when it alone exceeds the limit: a stroke
  // the user just made must be undoable.
  std::size_t drop = 0;
  while (historyBytes_ > historyLimitBytes_ && drop + 1 < undo_.size()) {
    historyBytes_ -= undo_[drop].changes.size() * sizeof(VoxelChange);
    baseStateId_ = undo_[drop].id;
    ++drop;
  }
  if (drop > 0) undo_.erase(undo_.begin(), undo_.begin() + static_cast<std::ptrdiff_t>(drop));
}

}  // namespace tessera::ui
