// MainWindow's behaviour: construction, model → widgets, segmentation news
// and the 3D view (its surfaces follow SurfaceSchedule's decisions), errors.
// The layout is in main_window_layout.cpp, the operations behind the menus
// in main_window_operations.cpp.
#include "ui/widgets/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QStatusBar>
#include <QToolButton>
#include <QtConcurrent/QtConcurrentRun>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/log.h"
#include "ui/widgets/label_table_widget.h"
#include "ui/widgets/series_browser_dialog.h"
#include "ui/widgets/slice_view_widget.h"
#include "ui/widgets/view3d_widget.h"

namespace tessera::ui {

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), model_([this] {
        // Worker thread: hand over to the UI thread.
        QMetaObject::invokeMethod(
            this, [this] { onSegmentationNews(); }, Qt::QueuedConnection);
      }) {
  setObjectName("tesseraMainWindow");
  setAcceptDrops(true);
  chooseSeries_ = [this](const SeriesListing& listing,
                         const QString& folder) -> std::optional<std::string> {
    SeriesBrowserDialog dialog(listing, folder, this);
    if (dialog.exec() != QDialog::Accepted || dialog.selectedUid().empty()) return std::nullopt;
    return dialog.selectedUid();
  };
  buildViews();
  buildActions();
  buildMenus();
  buildToolBar();
  buildDock();
  buildStatusBar();

  pollTimer_.setSingleShot(true);
  connect(&pollTimer_, &QTimer::timeout, this, &MainWindow::onSegmentationNews);
  clock_.start();
  surfaceTimer_.setSingleShot(true);
  connect(&surfaceTimer_, &QTimer::timeout, this,
          [this] { applySurfaceDecision(surfaces_.timerFired(clock_.elapsed(), surfaceFacts())); });
  connect(&surfaceWatcher_, &QFutureWatcher<LabelSurfaces>::finished, this,
          &MainWindow::onSurfacesBuilt);

  model_.setRecoveryStore(RecoveryStore(recoveryDirectory(), static_cast<long>(::getpid())));
  int autosaveDelayMs = 2000;
  if (const char* delay = std::getenv("TESSERA_AUTOSAVE_DELAY_MS"); delay && *delay)
    autosaveDelayMs = std::clamp(std::atoi(delay), 1, 24 * 3600 * 1000);
  autosaveTimer_.setSingleShot(true);
  autosaveTimer_.setInterval(autosaveDelayMs);
  connect(&autosaveTimer_, &QTimer::timeout, this, &MainWindow::autosaveNow);
  connect(&autosaveWatcher_, &QFutureWatcher<Status>::finished, this, &MainWindow::onAutosaved);
  periodicAutosave_.setInterval(3 * 60 * 1000);
  connect(&periodicAutosave_, &QTimer::timeout, this, &MainWindow::autosaveNow);
  periodicAutosave_.start();

  model_.addListener([this](unsigned changes) { onModelChanged(changes); });
  loadRecentFiles();
  loadSegmentSettings();
  updateTitleAndActions();
  resize(1400, 900);
}

MainWindow::~MainWindow() {
  // The segmentation worker calls back into this window: stop it first.
  model_.cancelSegmentation();
  (void)model_.finishSegmentation();
  surfaceWatcher_.waitForFinished();
  autosaveWatcher_.waitForFinished();
}

// --- model → widgets ---------------------------------------------------------------

void MainWindow::autosaveNow() {
  if (autosaveWatcher_.isRunning()) {
    autosaveTimer_.start();  // again once the write in flight is done
    return;
  }
  if (!model_.hasUnsavedEdits()) {
    model_.discardRecovery();
    return;
  }
  std::optional<WorkstationModel::RecoverySnapshot> snapshot = model_.recoverySnapshot();
  if (!snapshot) return;
  autosaveState_ = snapshot->state;
  const RecoveryStore store = model_.recoveryStore();
  autosaveWatcher_.setFuture(QtConcurrent::run([store,
                                                snapshot = std::move(*snapshot)]() -> Status {
    try {
      return store.save(snapshot.labels, snapshot.ctPath, snapshot.seriesUid, snapshot.labelsPath);
    } catch (const std::exception& e) {
      return Status(StatusCode::kInternal, e.what(), store.manifestFile());
    }
  }));
}

void MainWindow::onAutosaved() {
  const Status status = autosaveWatcher_.result();
  if (status.ok()) {
    model_.recoverySaved(autosaveState_);
    // Saved or discarded while the write ran: the slot must not outlive it.
    if (!model_.hasUnsavedEdits()) model_.discardRecovery();
    return;
  }
  logError("autosave: ", status.toString());
  statusBar()->showMessage(
      QString("Autosave failed: %1").arg(QString::fromStdString(status.toString())), 10000);
}

void MainWindow::autosaveNowAndWait() {
  autosaveWatcher_.waitForFinished();
  const Status status = model_.autosave();
  if (!status.ok()) logError("autosave: ", status.toString());
}

void MainWindow::onModelChanged(unsigned changes) {
  if ((changes & (kChangeLabels | kChangeHistory | kChangeStudy)) && !model_.strokeActive()) {
    if (model_.recoveryStale())
      autosaveTimer_.start();
    else if (!model_.hasUnsavedEdits())
      autosaveTimer_.stop();
  }
  for (SliceViewWidget* view : sliceViews_) view->refresh(changes);
  if (changes & kChangeStudy) {
    view3d_->scene().setCt(model_.hasImage() ? model_.document().sharedCt() : nullptr);
    surfaces_.studyChanged();
  }
  if (changes & (kChangeStudy | kChangeLabelTable)) labelTable_->refresh();
  if (changes & (kChangeStudy | kChangeLabels))
    applySurfaceDecision(surfaces_.labelsChanged(clock_.elapsed(), surfaceFacts()));
  if (changes & (kChangeStudy | kChangeLabelTable | kChangeOverlay)) updateSurfaceVisibility();
  if (changes & kChangeSegmentation) {
    updateSegmentationStatus();
    applySurfaceDecision(surfaces_.segmentationChanged(surfaceFacts()));
  }
  if (changes & (kChangeStudy | kChangeWindow)) {
    const WindowLevel& wl = model_.windowLevel();
    windowLabel_->setText(
        QString("W %1  L %2").arg(std::lround(wl.window)).arg(std::lround(wl.level)));
    int preset = static_cast<int>(windowPresets().size());
    for (std::size_t i = 0; i < windowPresets().size(); ++i)
      if (windowPresets()[i].windowLevel == wl) preset = static_cast<int>(i);
    presetCombo_->setCurrentIndex(preset);
  }
  if (changes & (kChangeStudy | kChangeOverlay)) {
    blocksAction_->setEnabled(model_.document().blockMap() != nullptr);
    blocksAction_->setChecked(model_.showBlocks());
    const int tool = static_cast<int>(model_.tool());
    if (!toolActions_[static_cast<std::size_t>(tool)]->isChecked())
      toolActions_[static_cast<std::size_t>(tool)]->setChecked(true);
  }
  if (changes & (kChangeStudy | kChangeHistory | kChangeLabels | kChangeSegmentation))
    updateTitleAndActions();
  if (changes & kChangeStudy) rebuildRecentMenu();
  // Not on label-table changes alone: while a segmentation runs they come
  // with every slice, and the 3D view changes only when its surfaces do.
  if (changes & (kChangeStudy | kChangeOverlay)) view3d_->update();
}

void MainWindow::updateTitleAndActions() {
  bannerLabel_->setText(QString::fromStdString(model_.studyBanner()));
  if (model_.hasImage()) {
    const Geometry& g = model_.document().geometry();
    studyLabel_->setText(
        QString("%1 \u00D7 %2 \u00D7 %3 voxels  \u00B7  %4 \u00D7 %5 \u00D7 %6 mm  "
                "\u00B7  %7")
            .arg(g.size[0])
            .arg(g.size[1])
            .arg(g.size[2])
            .arg(g.spacingMm[0], 0, 'g', 4)
            .arg(g.spacingMm[1], 0, 'g', 4)
            .arg(g.spacingMm[2], 0, 'g', 4)
            .arg(QString::fromStdString(orientationCode(g.direction))));
  } else {
    studyLabel_->clear();
  }
  QString title = "Tessera";
  if (model_.hasImage())
    title = QFileInfo(QString::fromStdString(model_.document().ctPath())).fileName() +
            "[*] \u2014 Tessera";
  setWindowTitle(title);
  setWindowModified(model_.hasUnsavedEdits());
  const bool idle = !model_.segmentationState().running;
  undoAction_->setEnabled(idle && model_.document().canUndo());
  redoAction_->setEnabled(idle && model_.document().canRedo());
  if (const Edit* edit = model_.document().nextUndo())
    undoAction_->setText("&Undo " + QString::fromStdString(edit->name));
  else
    undoAction_->setText("&Undo");
  if (const Edit* edit = model_.document().nextRedo())
    redoAction_->setText("&Redo " + QString::fromStdString(edit->name));
  else
    redoAction_->setText("&Redo");
  saveAction_->setEnabled(model_.hasImage());
  saveAsAction_->setEnabled(model_.hasImage());
  segmentAction_->setEnabled(idle && model_.hasImage());
}

void MainWindow::updateSegmentationStatus() {
  const SegmentationState& s = model_.segmentationState();
  progress_->setVisible(s.running);
  cancelButton_->setVisible(s.running);
  if (!s.running) return;
  progress_->setValue(static_cast<int>(s.fraction * 1000));
  progress_->setFormat(QString("Segmenting  %1%  \u00B7  ETA %2")
                           .arg(std::lround(s.fraction * 100))
                           .arg(QString::fromStdString(formatDuration(s.etaSeconds))));
}

void MainWindow::onSegmentationNews() {
  // At most a few refreshes a second: each redraws the views on the UI
  // thread, which competes with the job for the cores. The job does not
  // wake us again until the next poll, so nothing is lost by waiting.
  constexpr qint64 kPollIntervalMs = 150;
  if (lastPoll_.isValid() && lastPoll_.elapsed() < kPollIntervalMs &&
      model_.segmentationState().running) {
    if (!pollTimer_.isActive())
      pollTimer_.start(static_cast<int>(kPollIntervalMs - lastPoll_.elapsed()));
    return;
  }
  lastPoll_.start();
  const bool wasRunning = model_.segmentationState().running;
  const Status status = model_.pollSegmentation();
  if (!status.ok()) {
    report("Segmentation failed", status);
    return;
  }
  const SegmentationState& s = model_.segmentationState();
  if (wasRunning && !s.running)
    statusBar()->showMessage(s.message == "Done"
                                 ? "Segmented: " + QString::fromStdString(s.summary)
                                 : QString("Segmentation cancelled; the labels are as they were"),
                             15000);
}

void MainWindow::updateSurfaceVisibility() {
  for (const LabelRow& row : model_.labelTable().rows())
    view3d_->scene().setSurfaceVisible(row.value, row.visible);
  view3d_->scene().setSurfaceColours(model_.labelTableForDisplay());
}

void MainWindow::setVolumePreset(VolumePreset preset) {
  view3d_->scene().setVolumePreset(preset);
  for (std::size_t i = 0; i < volumePresets().size(); ++i)
    if (volumePresets()[i].preset == preset) volumeCombo_->setCurrentIndex(static_cast<int>(i));
  view3d_->update();
}

// --- 3D surfaces, built off the UI thread --------------------------------------------

SurfaceFacts MainWindow::surfaceFacts() const {
  SurfaceFacts facts;
  facts.hasImage = model_.hasImage();
  facts.segmenting = model_.segmentationState().running;
  facts.strokeActive = model_.strokeActive();
  facts.unattended = headless_;
  for (const LabelRow& row : model_.labelTable().rows()) facts.anyLabel |= row.voxels > 0;
  facts.volumeShown = view3d_->scene().volumePreset() != VolumePreset::kOff;
  return facts;
}

void MainWindow::applySurfaceDecision(const SurfaceDecision& decision) {
  if (decision.cancelWake) surfaceTimer_.stop();
  if (decision.wakeAtMs)
    surfaceTimer_.start(
        static_cast<int>(std::max<qint64>(0, *decision.wakeAtMs - clock_.elapsed())));
  if (decision.startBuild) startSurfaceBuild();
  if (decision.showVolumeRendering)
    setVolumePreset(*decision.showVolumeRendering ? VolumePreset::kBone : VolumePreset::kOff);
}

void MainWindow::startSurfaceBuild() {
  auto labels = std::make_shared<const LabelMap>(
      LabelMap{model_.displayedLabels(), model_.labelTableForDisplay()});
  surfaceWatcher_.setFuture(QtConcurrent::run([labels]() -> LabelSurfaces {
    // A failure leaves the 3D view without surfaces; the slices and the
    // labels are unaffected, so it is logged rather than raised.
    try {
      auto surfaces = buildDisplaySurfaces(*labels);
      if (surfaces.ok()) return std::move(surfaces).value();
      logError("3D surfaces: ", surfaces.error().toString());
    } catch (const std::exception& e) {
      logError("3D surfaces: ", e.what());
    }
    return {};
  }));
}

void MainWindow::onSurfacesBuilt() {
  const SurfaceDecision decision = surfaces_.buildFinished(clock_.elapsed(), surfaceFacts());
  if (decision.showBuild) {
    view3d_->scene().setSurfaces(surfaceWatcher_.result(), model_.labelTableForDisplay());
    view3d_->scene().setSurfaceVisible(kBodyShell, bodyOutline_->isChecked());
    updateSurfaceVisibility();
  }
  applySurfaceDecision(decision);
  if (decision.showBuild) view3d_->update();
  emit surfacesUpdated();
}

bool MainWindow::waitForSurfaces(int timeoutMs) {
  QElapsedTimer timer;
  timer.start();
  while (!surfaces_.settled()) {
    if (timer.elapsed() > timeoutMs) return false;
    applySurfaceDecision(surfaces_.flush(clock_.elapsed(), surfaceFacts()));
    QApplication::processEvents(QEventLoop::AllEvents, 20);
  }
  return true;
}

// --- errors --------------------------------------------------------------------------

QMessageBox* MainWindow::showError(const QString& title, const Status& status) {
  lastError_ = status.error();
  logError(title.toStdString(), ": ", status.toString());
  if (headless_) return nullptr;
  auto* box =
      new QMessageBox(QMessageBox::Warning, title, QString::fromStdString(status.error().message),
                      QMessageBox::Ok, this);
  box->setObjectName("errorDialog");
  if (!status.error().context.empty())
    box->setInformativeText(QString::fromStdString(status.error().context));
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
  return box;
}

bool MainWindow::report(const QString& title, const Status& status) {
  if (status.ok()) return true;
  showError(title, status);
  return false;
}

}  // namespace tessera::ui
