// The open study: the CT, its label map, an optional block map (which 16×16
// blocks the engine computed), where each came from, and the history of
// label edits. Edits are stored as sparse voxel differences so that undo
// costs memory in proportion to what a stroke touched, not to the volume.
// Toolkit-free; owned by WorkstationModel and used on the UI thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/image.h"
#include "core/status.h"

namespace tessera::ui {

using BlockMap = Image<std::uint8_t>;

// One voxel of the label map changed from `before` to `after`; `index` is the
// linear voxel index (x fastest).
struct VoxelChange {
  std::int64_t index = 0;
  std::uint8_t before = 0;
  std::uint8_t after = 0;
};

// One undoable step (a paint or erase stroke, or a finished segmentation),
// changes sorted by index.
struct Edit {
  std::uint64_t id = 0;  // unique within a document, increasing
  std::string name;      // "Paint liver", shown in the Edit menu
  std::vector<VoxelChange> changes;
  bool manual = true;  // a person's stroke; false for a segmentation's result
};

class ImageDocument {
 public:
  ImageDocument();

  bool hasImage() const { return ct_ != nullptr; }
  // Valid only when hasImage(). The CT is shared so that a worker thread can
  // keep reading it while the document moves on to another study.
  const Volume& ct() const { return *ct_; }
  std::shared_ptr<const Volume> sharedCt() const { return ct_; }
  const Geometry& geometry() const { return ct_->geometry(); }
  const LabelMap& labels() const { return labels_; }
  const BlockMap* blockMap() const { return blocks_ ? &*blocks_ : nullptr; }

  const std::string& ctPath() const { return ctPath_; }
  const std::string& labelsPath() const { return labelsPath_; }
  const std::string& blockMapPath() const { return blocksPath_; }

  // Starts a new study: empty labels (all background, the default label
  // table), no block map, no history, nothing unsaved.
  Status setVolume(Volume ct, std::string path);
  // Replaces the labels with a loaded segmentation; refuses one whose
  // geometry differs from the CT's, with both geometries in the message.
  // The history is cleared and the document counts as saved to `path`.
  Status setLabels(LabelMap labels, std::string path);
  Status setBlockMap(BlockMap blocks, std::string path);
  void clearBlockMap();

  // Replaces all labels with a finished segmentation; not undoable. Marks
  // the document unsaved and clears the history, whose differences no
  // longer describe the labels.
  Status replaceLabels(LabelMap labels);

  // Replaces all labels with a finished segmentation as one undoable,
  // non-manual Edit named `name` (the label table becomes the result's).
  // Marks the document unsaved; the history before it stays.
  Status applySegmentation(LabelMap labels, std::string name);

  // Voxel indices (sorted, unique) that manual edits changed since the last
  // segmentation, load or new study: what "keep my edits" keeps. Only the
  // edits still in the undo history count.
  std::vector<std::int64_t> paintedSinceSegmentation() const;

  // Label editing: changes between beginEdit and endEdit form one Edit.
  void beginEdit(std::string name);
  bool editing() const { return editing_; }
  // Sets one voxel; returns whether its value changed. Only inside an edit.
  bool setLabel(std::int64_t index, std::uint8_t value);
  // Commits the edit to the history; returns it, or nothing when no voxel
  // ended up different.
  const Edit* endEdit();

  bool canUndo() const { return !undo_.empty(); }
  bool canRedo() const { return !redo_.empty(); }
  const Edit* nextUndo() const { return undo_.empty() ? nullptr : &undo_.back(); }
  const Edit* nextRedo() const { return redo_.empty() ? nullptr : &redo_.back(); }
  // Restores each voxel's `before` (undo) or `after` (redo) value; returns
  // the edit that was applied, or nullptr when there was none.
  const Edit* undo();
  const Edit* redo();

  // Unsaved when the labels differ from what was last loaded or saved; going
  // back to that state through undo counts as saved again.
  bool dirty() const { return stateId_ != savedStateId_; }
  // Identifies the current labels among the states of this document.
  std::uint64_t stateId() const { return stateId_; }
  void markSaved(std::string labelsPath);
  // Counts as unsaved until the next save, whatever undo does (recovered work).
  void markUnsaved();

  // Oldest edits are dropped beyond this many bytes of history.
  void setHistoryLimitBytes(std::size_t bytes);
  std::size_t historyBytes() const { return historyBytes_; }

 private:
  void clearHistory();
  void trimHistory();
  std::uint64_t topStateId() const { return undo_.empty() ? baseStateId_ : undo_.back().id; }

  std::shared_ptr<const Volume> ct_;
  LabelMap labels_;
  std::optional<BlockMap> blocks_;
  std::string ctPath_, labelsPath_, blocksPath_;

  std::vector<Edit> undo_, redo_;
  std::size_t historyBytes_ = 0;
  std::size_t historyLimitBytes_ = std::size_t{512} << 20;
  std::uint64_t nextId_ = 1;
  std::uint64_t baseStateId_ = 0;  // state below the oldest undoable edit
  std::uint64_t stateId_ = 0;
  std::uint64_t savedStateId_ = 0;

  bool editing_ = false;
  std::string editName_;
  std::unordered_map<std::int64_t, std::uint8_t> editBefore_;
};

// The default label table plus an entry, with a distinct colour, for every
// value present in `labels` that the table lacks.
LabelTable completeLabelTable(const LabelTable& table, const Image<std::uint8_t>& labels);

}  // namespace tessera::ui
