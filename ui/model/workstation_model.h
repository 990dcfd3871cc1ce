// The workstation's state and operations, without any toolkit: the open
// study, three linked slice views sharing one crosshair (LPS mm) and one
// window/level, the label table, overlay settings, painting with undo,
// segmentation with the engine and the exports that need no rendering. The
// Qt widgets call these operations and redraw when a listener reports what
// changed; tests drive the same operations without a display.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/image.h"
#include "core/progress.h"
#include "core/status.h"
#include "ui/model/image_document.h"
#include "ui/model/label_table_model.h"
#include "ui/model/model_session.h"
#include "ui/model/paint_tool.h"
#include "ui/model/recent_files.h"
#include "ui/model/recovery.h"
#include "ui/model/segmentation_controller.h"
#include "ui/model/slice_image.h"
#include "ui/model/slice_view_model.h"
#include "ui/model/window_level.h"

namespace tessera::ui {

// What a change touched, so that views redraw only what they must.
enum Change : unsigned {
  kChangeStudy = 1u << 0,         // a new CT (geometry, everything)
  kChangeLabels = 1u << 1,        // label voxels
  kChangeCursor = 1u << 2,        // crosshair and slices
  kChangeWindow = 1u << 3,        // window/level
  kChangeLabelTable = 1u << 4,    // volumes, visibility, names
  kChangeView = 1u << 5,          // zoom or pan of a 2D view
  kChangeOverlay = 1u << 6,       // opacity, block overlay, visibility
  kChangeHistory = 1u << 7,       // undo/redo availability, unsaved flag
  kChangeSegmentation = 1u << 8,  // a job started, progressed or ended
  kChangeAll = 0xFFFFFFFFu,
};

// What lies under the mouse in a slice view.
struct CursorInfo {
  std::array<std::int64_t, 3> voxel{0, 0, 0};
  Vec3 worldMm{0, 0, 0};  // LPS
  int hu = 0;
  std::uint8_t label = 0;
  std::string labelName;  // empty for background
};
// "HU 40 · x 12.3 y -45.6 z 78.0 mm (LPS) · voxel 31, 20, 15 · liver"
std::string describeCursor(const CursorInfo& info);

// What the left mouse button does in a slice view. The middle button always
// pans, the right button always drags window/level, the wheel scrolls.
enum class Tool { kCrosshair, kWindowLevel, kPaint, kErase };

struct SegmentationState {
  bool running = false;
  double fraction = 0.0;
  double etaSeconds = -1.0;  // negative while unknown
  std::string message;
  int slicesDone = 0;
  std::string summary;  // of the last finished run: time, mode, work skipped
};

// What a new segmentation does to labels a person painted since the last
// one (or since loading them): the person's answer to the question asked
// when segmentationWouldReplaceEdits().
enum class RerunChoice {
  kReplace,    // the result replaces every voxel
  kKeepEdits,  // the result everywhere except the painted voxels, which keep their labels
  kCancel,     // nothing runs
};

// `result` with each voxel of `painted` (linear indices) set to its value in
// `current`, and the label table completed with the current table's labels
// those voxels use. Both maps have the same geometry.
void keepPaintedVoxels(LabelMap& result, const LabelMap& current,
                       const std::vector<std::int64_t>& painted);

class WorkstationModel {
 public:
  using Listener = std::function<void(unsigned changes)>;

  // `wakeSegmentation` is called on a worker thread when a running job has
  // news; the GUI answers with pollSegmentation() on its own thread.
  explicit WorkstationModel(std::function<void()> wakeSegmentation = {});
  ~WorkstationModel();

  void addListener(Listener listener);

  // --- study -------------------------------------------------------------
  bool hasImage() const { return document_.hasImage(); }
  const ImageDocument& document() const { return document_; }
  // Reads a NIfTI/NRRD/MetaImage file or a DICOM file or folder (seriesUid
  // picks the series; empty for the reader's default).
  Status openVolume(const std::string& path, const std::string& seriesUid = {});
  // The two halves of openVolume, so that the reading can run on a worker
  // thread: readVolumeFile touches no state of the model; showVolume (UI
  // thread) makes the volume the open study and remembers the path.
  static Result<Volume> readVolumeFile(const std::string& path, const std::string& seriesUid);
  Status showVolume(Volume ct, const std::string& path, const std::string& seriesUid);
  // Shows a volume already in memory (tests, generated data).
  Status setVolume(Volume ct, const std::string& path, const std::string& seriesUid = {});
  // A segmentation of the open CT; its geometry must match the CT's.
  Status openLabels(const std::string& path);
  Status setLabels(LabelMap labels, const std::string& path);
  // A block map (uint8 volume, non-zero where the engine computed a block).
  Status openBlockMap(const std::string& path);
  // Whether a file (dropped, or named on the command line) is a segmentation
  // of the open CT: 8-bit integers on the CT's exact grid. Reads the header only.
  bool isSegmentationOfOpenCt(const std::string& path) const;

  // --- views ---------------------------------------------------------------
  SliceViewModel& view(Plane plane) { return views_[static_cast<int>(plane)]; }
  const SliceViewModel& view(Plane plane) const { return views_[static_cast<int>(plane)]; }
  void setViewport(Plane plane, int width, int height);
  void zoomView(Plane plane, const ScreenPoint& anchor, double factor);
  void panView(Plane plane, double dx, double dy);
  void resetView(Plane plane);
  void resetViews();

  // The linked crosshair in LPS mm; each view shows the slice through it.
  const Vec3& crosshairMm() const { return crosshairMm_; }
  std::array<std::int64_t, 3> crosshairVoxel() const;
  void setCrosshairMm(const Vec3& lpsMm);
  // Moves the crosshair to the voxel under a point of a view.
  void setCrosshairFromScreen(Plane plane, const ScreenPoint& p);
  // Moves the view's slice (and the crosshair) by whole slices; positive
  // steps go superior / anterior / left (the plane's forward direction).
  void scroll(Plane plane, int steps);

  const WindowLevel& windowLevel() const { return windowLevel_; }
  void setWindowLevel(const WindowLevel& windowLevel);
  void applyPreset(std::size_t presetIndex);

  double labelOpacity() const { return labelOpacity_; }
  void setLabelOpacity(double opacity);
  bool showBlocks() const { return showBlocks_; }
  void setShowBlocks(bool show);
  void setLabelVisible(std::uint8_t value, bool visible);

  // The slice a view currently shows, drawn with the current settings.
  SliceImage renderView(Plane plane) const;
  OverlayStyle overlayStyle() const;
  std::optional<CursorInfo> cursorInfo(Plane plane, const ScreenPoint& p) const;

  // --- labels and editing -----------------------------------------------------
  // Labels currently shown: the segmentation arriving while a job runs, the
  // document's labels otherwise.
  const Image<std::uint8_t>& displayedLabels() const;
  const LabelTableModel& labelTable() const { return labelTable_; }
  // Names and colours of the labels shown: the running job's model's while
  // its labels arrive, the document's otherwise.
  const LabelTable& labelTableForDisplay() const {
    return preview_ ? previewTable_ : document_.labels().table;
  }
  std::uint8_t selectedLabel() const { return brush_.label; }
  void setSelectedLabel(std::uint8_t value);
  const BrushSettings& brush() const { return brush_; }
  Tool tool() const { return tool_; }
  // Paint and erase also set the brush mode.
  void setTool(Tool tool);
  void setBrushRadiusMm(double radiusMm);
  // A paint or erase stroke in a view; refused while a segmentation runs.
  bool beginStroke(Plane plane, const ScreenPoint& p);
  void continueStroke(const ScreenPoint& p);
  void endStroke();
  bool strokeActive() const { return paint_.active(); }
  bool undo();
  bool redo();
  bool hasUnsavedEdits() const { return document_.hasImage() && document_.dirty(); }

  // --- exports without rendering ----------------------------------------------
  // Label map as NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr) or MetaImage;
  // written atomically; the document then counts as saved.
  Status saveLabels(const std::string& path);
  // Per-label statistics (imaging/stats) as CSV or JSON, by extension.
  Status exportStatistics(const std::string& path) const;
  // One smoothed surface mesh per label present (imaging/mesh), in LPS mm,
  // as "<name>.stl" or "<name>.obj" in `directory`; returns the paths.
  Result<std::vector<std::string>> exportMeshes(const std::string& directory,
                                                const std::string& extension) const;
  // The labels as DICOM objects referencing the open CT's DICOM series
  // (imaging/dicom: SEG, RT Structure Set; the SR reports on a SEG written
  // with it at `segPath`). A CT not opened from DICOM is refused with the
  // reason; nothing changes in the document. The SEG codes its segments with
  // the loaded model's label codes (tessera.label_codes), where it has them.
  Status exportDicomSeg(const std::string& path) const;
  Status exportRtStruct(const std::string& path) const;
  Status exportDicomSegAndSr(const std::string& segPath, const std::string& srPath) const;

  // --- segmentation ---------------------------------------------------------------
  // Whether segmenting now would overwrite voxels a person painted since the
  // last segmentation or load: then the person chooses a RerunChoice first.
  bool segmentationWouldReplaceEdits() const;
  // Loads the settings' model (kept between runs) and segments the open CT
  // with it on a worker thread. A model that cannot be loaded is an error
  // and changes nothing. kCancel starts nothing (kCancelled).
  Status segment(const SegmentSettings& settings, RerunChoice choice = RerunChoice::kReplace);
  ModelSession& modelSession() { return session_; }
  const ModelSession& modelSession() const { return session_; }

  // The seam under segment(): any job of the engine's shape. `labels` names
  // and colours the labels while they arrive (empty: the document's table).
  // When the job succeeds its labels replace the document's as one undoable
  // step "Segment" (unsaved; with kKeepEdits the voxels painted before the
  // start keep their labels) and its block map, if any, becomes the
  // computed-blocks overlay; a failed or cancelled job leaves labels and
  // block map as they were.
  Status startSegmentation(SegmentationJob job, const LabelTable& labels = {},
                           RerunChoice choice = RerunChoice::kReplace);
  void cancelSegmentation();
  // Applies what the job delivered since the last call; returns the job's
  // error once when it failed (cancellation is not an error).
  Status pollSegmentation();
  const SegmentationState& segmentationState() const { return segmentation_; }
  // Blocks until the job's thread ends, then polls (tests, shutdown).
  Status finishSegmentation();

  RecentFiles& recentFiles() { return recent_; }

  // --- recovery of unsaved work ---------------------------------------------------
  // DICOM series UID of the open study; empty for single-file images.
  const std::string& seriesUid() const { return seriesUid_; }
  // The banner over the views: patient name and ID, study date and
  // description, series description and modality from the DICOM header of
  // the open CT ("Doe, Jane · ID P-0042 · 2026-03-14 · CT abdomen · Axial 2.5 mm
  // (CT)"); for a file without identity, that it has none and its name.
  // Empty without a study.
  const std::string& studyBanner() const { return banner_; }
  void setRecoveryStore(RecoveryStore store) { recovery_ = std::move(store); }
  const RecoveryStore& recoveryStore() const { return recovery_; }
  // Whether the labels have unsaved changes that the recovery slot lacks.
  bool recoveryStale() const;
  // Writes the unsaved labels to the recovery slot (when stale); removes the
  // slot when nothing is unsaved.
  Status autosave();
  // The halves of autosave(), so that the writing can run on a worker
  // thread: a copy of what to write (nothing when the slot is current or
  // nothing is unsaved), then, on the UI thread, the news that it was written.
  struct RecoverySnapshot {
    LabelMap labels;
    std::string ctPath, seriesUid, labelsPath;
    std::uint64_t state = 0;
  };
  std::optional<RecoverySnapshot> recoverySnapshot() const;
  void recoverySaved(std::uint64_t state) { autosavedState_ = state; }
  // Removes this workstation's slot (clean close, or the edits discarded).
  void discardRecovery();
  // Opens the entry's image and its autosaved labels, marked unsaved; the
  // entry's files are removed once the labels are back.
  Status restoreRecovery(const RecoveryEntry& entry);

 private:
  void notify(unsigned changes);
  void syncSlicesToCrosshair();
  void afterStudyChanged();
  void discardPreview();
  void resetLabelTable();

  ImageDocument document_;
  std::array<SliceViewModel, kPlaneCount> views_{SliceViewModel(Plane::kAxial),
                                                 SliceViewModel(Plane::kCoronal),
                                                 SliceViewModel(Plane::kSagittal)};
  LabelTableModel labelTable_;
  Vec3 crosshairMm_{0, 0, 0};
  WindowLevel windowLevel_;
  GreyTable grey_;
  double labelOpacity_ = 0.4;
  bool showBlocks_ = false;
  BrushSettings brush_;
  Tool tool_ = Tool::kCrosshair;
  PaintTool paint_;
  RecentFiles recent_;
  std::vector<Listener> listeners_;

  ModelSession session_;
  SegmentationController controller_;
  SegmentationState segmentation_;
  std::optional<Image<std::uint8_t>> preview_;  // labels arriving from a running job
  LabelTable previewTable_;                     // their names and colours
  RerunChoice runChoice_ = RerunChoice::kReplace;
  std::vector<std::int64_t> keepPainted_;  // voxels whose labels the running job keeps

  std::string seriesUid_;
  std::string banner_;
  RecoveryStore recovery_;
  std::uint64_t autosavedState_ = 0;  // document state in the recovery slot; 0: none
};

}  // namespace tessera::ui
