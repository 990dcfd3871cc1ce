// The workstation window: axial, sagittal, coronal and 3D views in a 2×2
// layout (any of them maximisable), the label table, tools, window/level
// presets, status read-outs, menus, drag and drop and recent files. It binds
// Qt to WorkstationModel, SurfaceSchedule and Scene3D and translates; the
// logic lives there. Layout, behaviour and the operations behind the menus
// are in main_window_layout.cpp, main_window.cpp and
// main_window_operations.cpp.
//
// Every operation behind a menu is also a public method taking the path the
// file dialog would have produced, so tests and the command line drive the
// same code. Errors become non-blocking dialogs (or log lines when the window
// runs without a person, for --screenshot); no exception leaves a slot.
#pragma once

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QImage>
#include <QMainWindow>
#include <QPointer>
#include <QStringList>
#include <QTimer>

#include <array>
#include <functional>
#include <memory>
#include <optional>

#include "ui/model/model_session.h"
#include "ui/model/series_list.h"
#include "ui/model/surface_schedule.h"
#include "ui/model/workstation_model.h"
#include "ui/render/label_surfaces.h"
#include "ui/render/scene_3d.h"

class QAction;
class QActionGroup;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QMenu;
class QMessageBox;
class QProgressBar;
class QSlider;
class QToolButton;

namespace tessera::ui {

class LabelTableWidget;
class SegmentDialog;
class SliceViewWidget;
class View3DWidget;
class ViewPanel;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  WorkstationModel& model() { return model_; }
  SliceViewWidget* sliceView(Plane plane) const { return sliceViews_[static_cast<int>(plane)]; }
  View3DWidget* view3d() const { return view3d_; }
  LabelTableWidget* labelTable() const { return labelTable_; }
  // Panels in layout order: 0 axial, 1 sagittal, 2 coronal, 3 3D.
  QWidget* viewPanel(int index) const;
  int maximisedView() const { return maximised_; }
  // -1 restores the 2×2 layout.
  void setMaximisedView(int index);
  void toggleMaximised(int index);

  // --- operations behind the menus; each reports its errors itself -----------
  // A NIfTI/NRRD/MetaImage file or a DICOM file or folder; several DICOM
  // series in a folder open the series browser first.
  bool openPath(const QString& path);
  // A dropped file: segmentation of the open CT when it fits, else a study.
  bool openDropped(const QString& path);
  bool openSeries(const QString& folder, const std::string& seriesUid);
  bool openSegmentation(const QString& path);
  bool openBlockMap(const QString& path);
  bool saveSegmentation(const QString& path);
  // One mesh file per label (extension ".stl" or ".obj") into a folder.
  bool exportMeshes(const QString& directory, const QString& extension);
  bool exportStatistics(const QString& path);
  // The labels as DICOM objects referencing the open DICOM series: "seg",
  // "rtstruct", or "seg+sr" (the SR at `path` with "-sr" before ".dcm").
  bool exportDicom(const QString& kind, const QString& path);
  // File › Open from PACS: the query/retrieve dialog (pacs_dialog.h), then
  // the retrieved series opens. Retrieved series are kept in pacsCache().
  bool openFromPacs();
  // File › Send to PACS: the labels as DICOM-SEG and measurement report
  // (SR), stored into `pacs` ("AET@HOST:PORT" or a DICOMweb URL).
  bool sendToPacs(const QString& pacs, const QString& aet = "TESSERA");
  QString pacsCache() const { return pacsCache_; }
  void setPacsCache(const QString& folder) { pacsCache_ = folder; }
  bool saveScreenshot(const QString& path);
  // Segments the open CT with these settings on a worker thread (the model
  // is loaded on first use and kept); false, with a dialog, when it cannot
  // start. The labels replace the current ones when the job succeeds.
  bool segment(const SegmentSettings& settings, RerunChoice choice = RerunChoice::kReplace);
  // As segment(), after asking with a non-blocking dialog (object name
  // "segmentOverEditsDialog"; buttons "replaceEdits", "keepEdits",
  // "cancelSegment") when the run would overwrite painted labels; false
  // while the question is open.
  bool segmentAsking(const SegmentSettings& settings);
  // The segmentation dialog, opened window-modal; accepting it segments.
  // Deletes itself when closed.
  SegmentDialog* openSegmentDialog();
  // Blocks, processing events, while a segmentation runs; false on timeout.
  bool waitForSegmentation(int timeoutMs = 600000);
  QImage renderScreenshot();
  void setVolumePreset(VolumePreset preset);

  // Blocks, processing events, until the 3D surfaces match the labels.
  bool waitForSurfaces(int timeoutMs = 60000);

  // Without a person (--screenshot): errors go to the log, not to dialogs.
  void setHeadless(bool headless) { headless_ = headless; }
  const std::optional<Error>& lastError() const { return lastError_; }
  // Shows a non-blocking error dialog (object name "errorDialog") and
  // returns it; it deletes itself when closed. Null when headless.
  QMessageBox* showError(const QString& title, const Status& status);

  // --- recovery of unsaved work (ui/model/recovery.h) -------------------------
  // Unsaved labels are autosaved a moment after the last edit
  // ($TESSERA_AUTOSAVE_DELAY_MS, default 2000) and every few minutes; the
  // slot is removed after a Save or a clean close.
  // Offers work a crashed or killed workstation left behind with a
  // non-blocking dialog (object name "recoveryDialog"; buttons
  // "restoreRecovery", "discardRecovery"); null when there is none.
  QMessageBox* offerRecovery();
  bool restoreRecovery(const RecoveryEntry& entry);
  // SIGTERM: autosaves the unsaved labels and closes without asking,
  // keeping the recovery slot for the next start.
  void closeKeepingRecovery();

  // The series browser's choice, or nothing when cancelled. Replaceable so
  // that tests can answer for the person.
  using SeriesChooser = std::function<std::optional<std::string>(const SeriesListing& listing,
                                                                 const QString& folder)>;
  void setSeriesChooser(SeriesChooser chooser) { chooseSeries_ = std::move(chooser); }

 signals:
  void surfacesUpdated();

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void buildViews();
  void buildActions();
  void buildMenus();
  void buildToolBar();
  void buildDock();
  void buildStatusBar();

  void onModelChanged(unsigned changes);
  // Starts writing the recovery slot on a worker thread (at most one write
  // at a time); autosaveNowAndWait writes it before returning.
  void autosaveNow();
  void autosaveNowAndWait();
  void onAutosaved();
  void onSegmentationNews();
  void updateTitleAndActions();
  void updateSegmentationStatus();
  void updateSurfaceVisibility();

  SurfaceFacts surfaceFacts() const;
  // Arms or stops surfaceTimer_, starts a build, switches the volume rendering.
  void applySurfaceDecision(const SurfaceDecision& decision);
  void startSurfaceBuild();
  void onSurfacesBuilt();

  // Runs `work` on a worker thread while the window keeps painting and the
  // status bar shows `what` with a busy bar (object name
  // "backgroundProgress"). Input waits meanwhile, so nothing changes the
  // study under the work. Defined in main_window_operations.cpp.
  template <class T>
  Result<T> inBackground(const QString& what, std::function<Result<T>()> work);

  bool openPathNow(const QString& path);
  bool openSeriesNow(const QString& folder, const std::string& seriesUid);
  bool openSegmentationNow(const QString& path);
  // Runs `then` once the user saved or discarded unsaved edits; asks with a
  // non-blocking dialog (object name "unsavedEditsDialog") when needed.
  void whenEditsAreSafe(std::function<void()> then);
  bool saveSegmentationInteractively();
  bool report(const QString& title, const Status& status);
  void loadRecentFiles();
  void rememberRecent(const QString& path);
  void rebuildRecentMenu();

  // File-dialog front ends of the operations above.
  void chooseAndOpen();
  void chooseAndOpenFolder();
  void chooseAndOpenSegmentation();
  void chooseAndOpenBlockMap();
  void chooseAndSaveSegmentation();
  void chooseAndExportMeshes();
  void chooseAndExportStatistics();
  void chooseAndExportDicom(const QString& kind);
  void chooseAndSaveScreenshot();
  void loadSegmentSettings();
  void storeSegmentSettings();

  WorkstationModel model_;
  std::array<SliceViewWidget*, kPlaneCount> sliceViews_{};
  View3DWidget* view3d_ = nullptr;
  std::array<ViewPanel*, 4> panels_{};
  int maximised_ = -1;
  LabelTableWidget* labelTable_ = nullptr;

  QAction* undoAction_ = nullptr;
  QAction* redoAction_ = nullptr;
  QAction* saveAction_ = nullptr;
  QAction* saveAsAction_ = nullptr;
  QAction* blocksAction_ = nullptr;
  QAction* segmentAction_ = nullptr;
  QActionGroup* toolGroup_ = nullptr;
  std::array<QAction*, 4> toolActions_{};
  QMenu* recentMenu_ = nullptr;
  QComboBox* presetCombo_ = nullptr;
  QComboBox* volumeCombo_ = nullptr;
  QCheckBox* bodyOutline_ = nullptr;
  QDoubleSpinBox* brushSpin_ = nullptr;
  QSlider* opacitySlider_ = nullptr;
  QLabel* cursorLabel_ = nullptr;
  QLabel* studyLabel_ = nullptr;
  QLabel* bannerLabel_ = nullptr;  // patient and study of the open CT
  QString pacsCache_;
  QString lastPacs_;  // the PACS named last, offered again
  QLabel* windowLabel_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QToolButton* cancelButton_ = nullptr;
  QProgressBar* backgroundProgress_ = nullptr;

  QTimer pollTimer_;  // coalesces segmentation news
  QElapsedTimer lastPoll_;
  QElapsedTimer clock_;  // SurfaceSchedule's milliseconds
  SurfaceSchedule surfaces_;
  QTimer surfaceTimer_;  // wakes surfaces_ when its decision says
  QFutureWatcher<LabelSurfaces> surfaceWatcher_;
  SegmentSettings segmentSettings_;
  QStringList userModels_;

  QTimer autosaveTimer_;  // restarted by each edit: saves after a burst of edits
  QTimer periodicAutosave_;
  QFutureWatcher<Status> autosaveWatcher_;  // the recovery write in flight
  std::uint64_t autosaveState_ = 0;         // the document state it writes
  bool keepRecovery_ = false;

  bool headless_ = false;
  bool closeConfirmed_ = false;
  std::optional<Error> lastError_;
  SeriesChooser chooseSeries_;
};

}  // namespace tessera::ui
