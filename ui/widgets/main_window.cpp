#include "ui/widgets/main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSlider>
#include <QStatusBar>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <cmath>

#include "core/files.h"
#include "core/log.h"
#include "imaging/io/volume_io.h"
#include "ui/widgets/label_table_widget.h"
#include "ui/widgets/segment_dialog.h"
#include "ui/widgets/series_browser_dialog.h"
#include "ui/widgets/slice_view_widget.h"
#include "ui/widgets/view3d_widget.h"
#include "ui/widgets/view_panel.h"

namespace tessera::ui {

namespace {

constexpr const char* kRecentKey = "recentFiles";
constexpr const char* kModelKey = "segment/model";
constexpr const char* kUserModelsKey = "segment/userModels";
constexpr const char* kModeKey = "segment/mode";
constexpr const char* kSparsityKey = "segment/sparsity";
constexpr const char* kImageFilter =
    "Images (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.dcm);;All files (*)";
constexpr const char* kLabelFilter = "Label maps (*.nii.gz *.nii *.nrrd *.mha);;All files (*)";

std::string toStd(const QString& text) {
  return text.toStdString();
}

// A wait cursor for work done on the UI thread (reading a study).
class WaitCursor {
 public:
  WaitCursor() { QApplication::setOverrideCursor(Qt::WaitCursor); }
  ~WaitCursor() { QApplication::restoreOverrideCursor(); }
  WaitCursor(const WaitCursor&) = delete;
  WaitCursor& operator=(const WaitCursor&) = delete;
};

QColor accentOf(int panel) {
  switch (panel) {
    case 0:
      return QColor(230, 80, 70);  // axial
    case 1:
      return QColor(235, 200, 60);  // sagittal
    case 2:
      return QColor(110, 200, 90);  // coronal
    default:
      return QColor(120, 150, 230);  // 3D
  }
}

}  // namespace

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

  model_.addListener([this](unsigned changes) { onModelChanged(changes); });
  QSettings settings;
  std::vector<std::string> recent;
  for (const QString& path : settings.value(kRecentKey).toStringList())
    recent.push_back(toStd(path));
  model_.recentFiles().setPaths(recent);
  rebuildRecentMenu();
  loadSegmentSettings();
  updateTitleAndActions();
  resize(1400, 900);
}

MainWindow::~MainWindow() {
  // The segmentation worker calls back into this window: stop it first.
  model_.cancelSegmentation();
  (void)model_.finishSegmentation();
  surfaceWatcher_.waitForFinished();
}

// --- layout --------------------------------------------------------------------

void MainWindow::buildViews() {
  auto* central = new QWidget(this);
  central->setObjectName("viewGrid");
  central->setStyleSheet("#viewGrid { background: #0b0c0e; }");
  auto* grid = new QGridLayout(central);
  grid->setContentsMargins(2, 2, 2, 2);
  grid->setSpacing(3);
  for (int p = 0; p < kPlaneCount; ++p) {
    auto* view = new SliceViewWidget(model_, static_cast<Plane>(p), central);
    view->setObjectName(QString("sliceView%1").arg(planeName(static_cast<Plane>(p))));
    sliceViews_[p] = view;
    connect(view, &SliceViewWidget::cursorInfoChanged, this, [this](const QString& text) {
      if (cursorLabel_) cursorLabel_->setText(text);
    });
  }
  view3d_ = new View3DWidget(central);
  view3d_->setObjectName("view3D");
  // ITK-SNAP's arrangement: axial | sagittal over coronal | 3D.
  QWidget* views[4] = {sliceViews_[0], sliceViews_[2], sliceViews_[1], view3d_};
  const char* titles[4] = {"Axial", "Sagittal", "Coronal", "3D"};
  for (int i = 0; i < 4; ++i) {
    panels_[i] = new ViewPanel(titles[i], accentOf(i), views[i], central);
    grid->addWidget(panels_[i], i / 2, i % 2);
    connect(panels_[i], &ViewPanel::maximiseToggled, this, [this, i] { toggleMaximised(i); });
  }
  for (int p = 0; p < kPlaneCount; ++p) {
    const int panel = p == 0 ? 0 : (p == 1 ? 2 : 1);
    connect(sliceViews_[p], &SliceViewWidget::doubleClicked, this,
            [this, panel] { toggleMaximised(panel); });
  }
  connect(view3d_, &View3DWidget::doubleClicked, this, [this] { toggleMaximised(3); });
  grid->setRowStretch(0, 1);
  grid->setRowStretch(1, 1);
  grid->setColumnStretch(0, 1);
  grid->setColumnStretch(1, 1);
  setCentralWidget(central);
}

QWidget* MainWindow::viewPanel(int index) const {
  return index >= 0 && index < 4 ? panels_[static_cast<std::size_t>(index)] : nullptr;
}

void MainWindow::setMaximisedView(int index) {
  maximised_ = (index >= 0 && index < 4) ? index : -1;
  for (int i = 0; i < 4; ++i) {
    panels_[i]->setVisible(maximised_ < 0 || maximised_ == i);
    panels_[i]->setMaximised(maximised_ == i);
  }
  // Empty rows and columns would keep their share of the space.
  auto* grid = static_cast<QGridLayout*>(centralWidget()->layout());
  for (int k = 0; k < 2; ++k) {
    grid->setRowStretch(k, maximised_ < 0 || maximised_ / 2 == k ? 1 : 0);
    grid->setColumnStretch(k, maximised_ < 0 || maximised_ % 2 == k ? 1 : 0);
  }
}

void MainWindow::toggleMaximised(int index) {
  setMaximisedView(maximised_ == index ? -1 : index);
}

void MainWindow::buildActions() {
  undoAction_ = new QAction("&Undo", this);
  undoAction_->setShortcut(QKeySequence::Undo);
  connect(undoAction_, &QAction::triggered, this, [this] { model_.undo(); });
  redoAction_ = new QAction("&Redo", this);
  redoAction_->setShortcuts({QKeySequence::Redo, QKeySequence("Ctrl+Y")});
  connect(redoAction_, &QAction::triggered, this, [this] { model_.redo(); });
  saveAction_ = new QAction("&Save Segmentation", this);
  saveAction_->setShortcut(QKeySequence::Save);
  connect(saveAction_, &QAction::triggered, this, [this] { saveSegmentationInteractively(); });
  saveAsAction_ = new QAction("Save Segmentation &As\u2026", this);
  saveAsAction_->setShortcut(QKeySequence::SaveAs);
  connect(saveAsAction_, &QAction::triggered, this, &MainWindow::chooseAndSaveSegmentation);

  blocksAction_ = new QAction("Computed &Blocks", this);
  blocksAction_->setCheckable(true);
  blocksAction_->setToolTip("Overlay the 16\u00D716 blocks the network computed");
  connect(blocksAction_, &QAction::toggled, this, [this](bool on) {
    if (on != model_.showBlocks()) model_.setShowBlocks(on);
  });

  segmentAction_ = new QAction("Se&gment\u2026", this);
  segmentAction_->setObjectName("segmentAction");
  segmentAction_->setShortcut(QKeySequence("Ctrl+G"));
  segmentAction_->setToolTip("Segment this CT with a model (Ctrl+G)");
  connect(segmentAction_, &QAction::triggered, this, [this] { openSegmentDialog(); });

  toolGroup_ = new QActionGroup(this);
  const struct {
    Tool tool;
    const char* text;
    const char* key;
    const char* tip;
  } tools[4] = {
      {Tool::kCrosshair, "Crosshair", "C", "Left button moves the crosshair"},
      {Tool::kWindowLevel, "Window/Level", "W", "Left drag: right widens, down raises the level"},
      {Tool::kPaint, "Paint", "B", "Paint the selected label"},
      {Tool::kErase, "Erase", "E", "Erase the selected label"},
  };
  for (int i = 0; i < 4; ++i) {
    auto* action = new QAction(tools[i].text, toolGroup_);
    action->setCheckable(true);
    action->setShortcut(QKeySequence(tools[i].key));
    action->setToolTip(QString("%1 (%2)").arg(tools[i].tip, tools[i].key));
    const Tool tool = tools[i].tool;
    connect(action, &QAction::triggered, this, [this, tool] { model_.setTool(tool); });
    toolActions_[static_cast<std::size_t>(i)] = action;
  }
  toolActions_[0]->setChecked(true);
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu("&File");
  file->addAction("&Open Image\u2026", QKeySequence::Open, this, &MainWindow::chooseAndOpen);
  file->addAction("Open DICOM &Folder\u2026", this, &MainWindow::chooseAndOpenFolder);
  file->addAction("Open Se&gmentation\u2026", QKeySequence("Ctrl+L"), this,
                  &MainWindow::chooseAndOpenSegmentation);
  file->addAction("Open &Block Map\u2026", this, &MainWindow::chooseAndOpenBlockMap);
  recentMenu_ = file->addMenu("Open &Recent");
  file->addSeparator();
  file->addAction(saveAction_);
  file->addAction(saveAsAction_);
  file->addAction("Export &Meshes\u2026", this, &MainWindow::chooseAndExportMeshes);
  file->addAction("Export S&tatistics\u2026", this, &MainWindow::chooseAndExportStatistics);
  file->addAction("Save Screens&hot\u2026", QKeySequence("Ctrl+P"), this,
                  &MainWindow::chooseAndSaveScreenshot);
  file->addSeparator();
  file->addAction("&Quit", QKeySequence::Quit, this, &QWidget::close);

  QMenu* edit = menuBar()->addMenu("&Edit");
  edit->addAction(undoAction_);
  edit->addAction(redoAction_);

  QMenu* view = menuBar()->addMenu("&View");
  const auto& presets = windowPresets();
  for (std::size_t i = 0; i < presets.size(); ++i) {
    QAction* action = view->addAction(QString::fromStdString(presets[i].name) + " window");
    action->setShortcut(QKeySequence(QString::number(i + 1)));
    connect(action, &QAction::triggered, this, [this, i] { model_.applyPreset(i); });
  }
  view->addSeparator();
  view->addAction(blocksAction_);
  view->addAction("Reset &Views", QKeySequence("Ctrl+R"), this, [this] {
    model_.resetViews();
    view3d_->scene().resetCamera();
    view3d_->update();
  });
  view->addAction("Four &Views", QKeySequence("F11"), this, [this] { setMaximisedView(-1); });

  QMenu* tools = menuBar()->addMenu("&Tools");
  tools->addAction(segmentAction_);
  tools->addSeparator();
  for (QAction* action : toolActions_) tools->addAction(action);

  QMenu* help = menuBar()->addMenu("&Help");
  help->addAction("&About Tessera", this, [this] {
    QMessageBox::about(this, "About Tessera",
                       QString("<b>Tessera %1</b><p>CT workstation: read, correct, measure and "
                               "export segmentations.</p><p>Mouse: wheel scrolls slices, "
                               "Ctrl+wheel zooms, middle drag pans, right drag sets "
                               "window/level, double click maximises a view.</p>")
                           .arg(TESSERA_VERSION));
  });
}

void MainWindow::buildToolBar() {
  QToolBar* bar = addToolBar("Main");
  bar->setObjectName("mainToolBar");
  bar->setMovable(false);
  bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
  bar->addAction("Open", this, &MainWindow::chooseAndOpen)->setToolTip("Open a CT (Ctrl+O)");
  bar->addAction("Segmentation", this, &MainWindow::chooseAndOpenSegmentation)
      ->setToolTip("Open a label map of this CT (Ctrl+L)");
  bar->addAction(saveAction_);
  bar->addSeparator();
  bar->addAction(segmentAction_);
  bar->addSeparator();
  for (QAction* action : toolActions_) bar->addAction(action);
  bar->addWidget(new QLabel(" Brush ", bar));
  brushSpin_ = new QDoubleSpinBox(bar);
  brushSpin_->setObjectName("brushRadius");
  brushSpin_->setRange(0.5, 50.0);
  brushSpin_->setSingleStep(0.5);
  brushSpin_->setSuffix(" mm");
  brushSpin_->setValue(model_.brush().radiusMm);
  brushSpin_->setToolTip("Brush radius");
  connect(brushSpin_, &QDoubleSpinBox::valueChanged, this,
          [this](double value) { model_.setBrushRadiusMm(value); });
  bar->addWidget(brushSpin_);
  bar->addSeparator();
  bar->addAction(undoAction_);
  bar->addAction(redoAction_);
  bar->addSeparator();
  bar->addWidget(new QLabel(" Window ", bar));
  presetCombo_ = new QComboBox(bar);
  presetCombo_->setObjectName("windowPreset");
  for (const WindowPreset& preset : windowPresets())
    presetCombo_->addItem(QString("%1  (W%2 L%3)")
                              .arg(QString::fromStdString(preset.name))
                              .arg(preset.windowLevel.window)
                              .arg(preset.windowLevel.level));
  presetCombo_->addItem("Custom");
  connect(presetCombo_, &QComboBox::activated, this,
          [this](int index) { model_.applyPreset(static_cast<std::size_t>(index)); });
  bar->addWidget(presetCombo_);
  bar->addSeparator();
  bar->addAction(blocksAction_);
}

void MainWindow::buildDock() {
  auto* dock = new QDockWidget("Labels", this);
  dock->setObjectName("labelsDock");
  dock->setFeatures(QDockWidget::DockWidgetMovable);
  auto* panel = new QWidget(dock);
  auto* layout = new QVBoxLayout(panel);
  layout->setContentsMargins(6, 6, 6, 6);
  labelTable_ = new LabelTableWidget(model_, panel);
  labelTable_->setObjectName("labelTable");
  layout->addWidget(labelTable_, 1);

  auto* form = new QFormLayout();
  opacitySlider_ = new QSlider(Qt::Horizontal, panel);
  opacitySlider_->setObjectName("labelOpacity");
  opacitySlider_->setRange(0, 100);
  opacitySlider_->setValue(static_cast<int>(model_.labelOpacity() * 100));
  connect(opacitySlider_, &QSlider::valueChanged, this,
          [this](int value) { model_.setLabelOpacity(value / 100.0); });
  form->addRow("Label opacity", opacitySlider_);
  volumeCombo_ = new QComboBox(panel);
  volumeCombo_->setObjectName("volumePreset");
  for (const VolumePresetInfo& info : volumePresets()) volumeCombo_->addItem(info.name);
  connect(volumeCombo_, &QComboBox::activated, this, [this](int index) {
    surfaces_.volumeRenderingChosen();
    setVolumePreset(volumePresets()[static_cast<std::size_t>(index)].preset);
  });
  form->addRow("3D rendering", volumeCombo_);
  bodyOutline_ = new QCheckBox("Body outline", panel);
  bodyOutline_->setObjectName("bodyOutline");
  bodyOutline_->setChecked(true);
  bodyOutline_->setToolTip("A faint surface of the whole body around the organs in the 3D view");
  connect(bodyOutline_, &QCheckBox::toggled, this, [this](bool on) {
    view3d_->scene().setSurfaceVisible(kBodyShell, on);
    view3d_->update();
  });
  form->addRow("3D surfaces", bodyOutline_);
  layout->addLayout(form);
  auto* hint = new QLabel(
      "<small>Wheel: slices \u00B7 Ctrl+wheel: zoom \u00B7 middle drag: pan \u00B7 right drag: "
      "window/level \u00B7 double click: maximise</small>",
      panel);
  hint->setWordWrap(true);
  hint->setStyleSheet("color: #8a8f98;");
  layout->addWidget(hint);
  dock->setWidget(panel);
  dock->setMinimumWidth(300);
  addDockWidget(Qt::RightDockWidgetArea, dock);
}

void MainWindow::buildStatusBar() {
  cursorLabel_ = new QLabel(this);
  cursorLabel_->setObjectName("cursorInfo");
  cursorLabel_->setMinimumWidth(420);
  statusBar()->addWidget(cursorLabel_, 1);
  studyLabel_ = new QLabel(this);
  studyLabel_->setObjectName("studyInfo");
  studyLabel_->setStyleSheet("color: #8a8f98;");
  statusBar()->addPermanentWidget(studyLabel_);
  windowLabel_ = new QLabel(this);
  statusBar()->addPermanentWidget(windowLabel_);
  progress_ = new QProgressBar(this);
  progress_->setObjectName("segmentationProgress");
  progress_->setRange(0, 1000);
  progress_->setMaximumWidth(260);
  progress_->setTextVisible(true);
  progress_->hide();
  statusBar()->addPermanentWidget(progress_);
  cancelButton_ = new QToolButton(this);
  cancelButton_->setObjectName("cancelSegmentation");
  cancelButton_->setText("Cancel");
  cancelButton_->hide();
  connect(cancelButton_, &QToolButton::clicked, this, [this] { model_.cancelSegmentation(); });
  statusBar()->addPermanentWidget(cancelButton_);
}

// --- model → widgets ---------------------------------------------------------------

void MainWindow::onModelChanged(unsigned changes) {
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

// --- operations --------------------------------------------------------------------

QMessageBox* MainWindow::showError(const QString& title, const Status& status) {
  lastError_ = status.error();
  logError(toStd(title), ": ", status.toString());
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

void MainWindow::rememberRecent(const QString& path) {
  model_.recentFiles().add(toStd(path));
  QStringList paths;
  for (const std::string& p : model_.recentFiles().paths()) paths << QString::fromStdString(p);
  QSettings().setValue(kRecentKey, paths);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  recentMenu_->clear();
  for (const std::string& path : model_.recentFiles().paths()) {
    const QString qpath = QString::fromStdString(path);
    recentMenu_->addAction(qpath, this, [this, qpath] { openPath(qpath); });
  }
  recentMenu_->setEnabled(!model_.recentFiles().paths().empty());
}

bool MainWindow::openPath(const QString& path) {
  if (model_.hasUnsavedEdits()) {
    whenEditsAreSafe([this, path] { openPathNow(path); });
    return false;
  }
  return openPathNow(path);
}

bool MainWindow::openPathNow(const QString& path) {
  std::optional<WaitCursor> busy(std::in_place);
  if (isDirectory(toStd(path))) {
    // A folder: the person chooses when it holds several series.
    auto listing = listStudySeries(toStd(path));
    if (!listing.ok()) return report("Could not open the folder", listing.status());
    if (listing->series.size() == 1) return openSeriesNow(path, listing->series.front().uid);
    busy.reset();
    const std::optional<std::string> uid = chooseSeries_(*listing, path);
    return uid && openSeriesNow(path, *uid);
  }
  if (!report("Could not open the image", model_.openVolume(toStd(path)))) return false;
  rememberRecent(path);
  // The 3D rendering is chosen once the surfaces are known (SurfaceSchedule):
  // volume rendering for a CT without labels, surfaces otherwise.
  applySurfaceDecision(surfaces_.studyOpened());
  return true;
}

bool MainWindow::openSeries(const QString& folder, const std::string& seriesUid) {
  if (model_.hasUnsavedEdits()) {
    whenEditsAreSafe([this, folder, seriesUid] { openSeriesNow(folder, seriesUid); });
    return false;
  }
  return openSeriesNow(folder, seriesUid);
}

bool MainWindow::openSeriesNow(const QString& folder, const std::string& seriesUid) {
  WaitCursor busy;
  if (!report("Could not open the series", model_.openVolume(toStd(folder), seriesUid)))
    return false;
  rememberRecent(folder);
  applySurfaceDecision(surfaces_.studyOpened());
  return true;
}

bool MainWindow::openDropped(const QString& path) {
  if (model_.isSegmentationOfOpenCt(toStd(path))) return openSegmentation(path);
  return openPath(path);
}

bool MainWindow::openSegmentation(const QString& path) {
  if (model_.hasUnsavedEdits()) {
    whenEditsAreSafe([this, path] { openSegmentationNow(path); });
    return false;
  }
  return openSegmentationNow(path);
}

bool MainWindow::openSegmentationNow(const QString& path) {
  WaitCursor busy;
  return report("Could not open the segmentation", model_.openLabels(toStd(path)));
}

bool MainWindow::openBlockMap(const QString& path) {
  return report("Could not open the block map", model_.openBlockMap(toStd(path)));
}

bool MainWindow::saveSegmentation(const QString& path) {
  return report("Could not save the segmentation", model_.saveLabels(toStd(path)));
}

bool MainWindow::exportStatistics(const QString& path) {
  return report("Could not export the statistics", model_.exportStatistics(toStd(path)));
}

bool MainWindow::exportMeshes(const QString& directory, const QString& extension) {
  auto written = [&] {
    WaitCursor busy;
    return model_.exportMeshes(toStd(directory), toStd(extension));
  }();
  if (!written.ok()) return report("Could not export meshes", written.status());
  statusBar()->showMessage(QString("%1 meshes written to %2").arg(written->size()).arg(directory),
                           5000);
  return true;
}

QImage MainWindow::renderScreenshot() {
  view3d_->update();
  QApplication::processEvents();
  return grab().toImage();
}

bool MainWindow::saveScreenshot(const QString& path) {
  const Status checked = checkOutputPath(toStd(path));
  if (!report("Could not save the screenshot", checked)) return false;
  const QImage image = renderScreenshot();
  AtomicFile file(toStd(path));
  if (image.isNull() || !image.save(QString::fromStdString(file.tempPath()), "PNG"))
    return report("Could not save the screenshot",
                  Status(StatusCode::kIoError, "the screenshot could not be written", toStd(path)));
  return report("Could not save the screenshot", file.commit());
}

bool MainWindow::segment(const SegmentSettings& settings) {
  if (!model_.hasImage())
    return report("Could not segment",
                  Status(StatusCode::kInvalidArgument, "Open a CT before segmenting it."));
  Status started;
  {
    // Loading a model reads its weights (once per model).
    WaitCursor busy;
    started = model_.segment(settings);
  }
  if (!report("Could not segment", started)) return false;
  segmentSettings_ = settings;
  storeSegmentSettings();
  return true;
}

SegmentDialog* MainWindow::openSegmentDialog() {
  if (!model_.hasImage()) {
    report("Could not segment",
           Status(StatusCode::kInvalidArgument, "Open a CT before segmenting it."));
    return nullptr;
  }
  auto* dialog = new SegmentDialog(segmentSettings_, userModels_, this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &QDialog::accepted, this, [this, dialog] {
    userModels_ = dialog->userModels();
    storeSegmentSettings();
    segment(dialog->settings());
  });
  dialog->open();
  return dialog;
}

bool MainWindow::waitForSegmentation(int timeoutMs) {
  QElapsedTimer timer;
  timer.start();
  while (model_.segmentationState().running) {
    if (timer.elapsed() > timeoutMs) return false;
    QApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
  }
  return true;
}

void MainWindow::loadSegmentSettings() {
  QSettings settings;
  segmentSettings_.modelPath = toStd(settings.value(kModelKey).toString());
  models::parseSegmentMode(toStd(settings.value(kModeKey, "sparse").toString()),
                           &segmentSettings_.mode);
  models::parseRefinement(toStd(settings.value(kSparsityKey, "balanced").toString()),
                          &segmentSettings_.refinement);
  userModels_ = settings.value(kUserModelsKey).toStringList();
}

void MainWindow::storeSegmentSettings() {
  QSettings settings;
  settings.setValue(kModelKey, QString::fromStdString(segmentSettings_.modelPath));
  settings.setValue(kModeKey, models::segmentModeName(segmentSettings_.mode));
  settings.setValue(kSparsityKey, models::refinementName(segmentSettings_.refinement));
  QStringList models = userModels_;
  const QString current = QString::fromStdString(segmentSettings_.modelPath);
  if (!current.isEmpty() && !models.contains(current)) models.prepend(current);
  while (models.size() > 8) models.removeLast();
  userModels_ = models;
  settings.setValue(kUserModelsKey, models);
}

void MainWindow::whenEditsAreSafe(std::function<void()> then) {
  if (!model_.hasUnsavedEdits()) {
    then();
    return;
  }
  if (headless_) return;
  auto* box = new QMessageBox(QMessageBox::Question, "Unsaved edits",
                              "The segmentation has edits that are not saved.",
                              QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
  box->setObjectName("unsavedEditsDialog");
  box->setInformativeText("Save them before going on?");
  box->setDefaultButton(QMessageBox::Save);
  box->setAttribute(Qt::WA_DeleteOnClose);
  connect(box, &QMessageBox::finished, this, [this, box, then = std::move(then)](int) {
    const auto button = box->standardButton(box->clickedButton());
    if (button == QMessageBox::Discard) {
      then();
    } else if (button == QMessageBox::Save) {
      if (saveSegmentationInteractively()) then();
    }
  });
  box->open();
}

bool MainWindow::saveSegmentationInteractively() {
  const std::string current = model_.document().labelsPath();
  const auto format = imaging::formatFromPath(current);
  if (!current.empty() &&
      (format == imaging::FileFormat::kNifti || format == imaging::FileFormat::kNrrd ||
       format == imaging::FileFormat::kMetaImage))
    return saveSegmentation(QString::fromStdString(current));
  const QString path =
      QFileDialog::getSaveFileName(this, "Save segmentation", "labels.nii.gz", kLabelFilter);
  return !path.isEmpty() && saveSegmentation(path);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (model_.hasUnsavedEdits() && !closeConfirmed_ && !headless_) {
    event->ignore();
    whenEditsAreSafe([this] {
      closeConfirmed_ = true;
      close();
    });
    return;
  }
  model_.cancelSegmentation();
  event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (!event->mimeData()->hasUrls()) return;
  for (const QUrl& url : event->mimeData()->urls())
    if (!url.isLocalFile()) return;
  event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  QStringList paths;
  for (const QUrl& url : event->mimeData()->urls()) paths << url.toLocalFile();
  event->acceptProposedAction();
  // A CT and its labels dropped together: the CT first.
  std::stable_sort(paths.begin(), paths.end(), [](const QString& a, const QString& b) {
    const auto isLabels = [](const QString& p) {
      auto header = imaging::readHeader(p.toStdString());
      return header.ok() && header->componentType == imaging::ComponentType::kUInt8;
    };
    return !isLabels(a) && isLabels(b);
  });
  for (const QString& path : paths)
    if (!openDropped(path)) break;
}

// --- file dialogs --------------------------------------------------------------------

void MainWindow::chooseAndOpen() {
  const QString path = QFileDialog::getOpenFileName(this, "Open image", QString(), kImageFilter);
  if (!path.isEmpty()) openPath(path);
}

void MainWindow::chooseAndOpenFolder() {
  const QString path = QFileDialog::getExistingDirectory(this, "Open DICOM folder");
  if (!path.isEmpty()) openPath(path);
}

void MainWindow::chooseAndOpenSegmentation() {
  if (!model_.hasImage()) {
    report("Could not open the segmentation",
           Status(StatusCode::kInvalidArgument, "Open a CT before its segmentation."));
    return;
  }
  const QString path =
      QFileDialog::getOpenFileName(this, "Open segmentation", QString(), kLabelFilter);
  if (!path.isEmpty()) openSegmentation(path);
}

void MainWindow::chooseAndOpenBlockMap() {
  const QString path =
      QFileDialog::getOpenFileName(this, "Open block map", QString(), kLabelFilter);
  if (!path.isEmpty()) openBlockMap(path);
}

void MainWindow::chooseAndSaveSegmentation() {
  const QString path = QFileDialog::getSaveFileName(this, "Save segmentation", "labels.nii.gz",
                                                    "NIfTI (*.nii.gz *.nii);;NRRD (*.nrrd)");
  if (!path.isEmpty()) saveSegmentation(path);
}

void MainWindow::chooseAndExportMeshes() {
  const QString directory = QFileDialog::getExistingDirectory(this, "Folder for the meshes");
  if (directory.isEmpty()) return;
  QMessageBox ask(QMessageBox::Question, "Mesh format", "Write the meshes as STL or OBJ?",
                  QMessageBox::NoButton, this);
  QPushButton* stl = ask.addButton("STL", QMessageBox::AcceptRole);
  ask.addButton("OBJ", QMessageBox::AcceptRole);
  ask.addButton(QMessageBox::Cancel);
  ask.exec();
  if (ask.clickedButton() == ask.button(QMessageBox::Cancel)) return;
  exportMeshes(directory, ask.clickedButton() == stl ? ".stl" : ".obj");
}

void MainWindow::chooseAndExportStatistics() {
  const QString path = QFileDialog::getSaveFileName(this, "Export statistics", "statistics.csv",
                                                    "CSV (*.csv);;JSON (*.json)");
  if (!path.isEmpty()) exportStatistics(path);
}

void MainWindow::chooseAndSaveScreenshot() {
  const QString path =
      QFileDialog::getSaveFileName(this, "Save screenshot", "tessera.png", "PNG (*.png)");
  if (!path.isEmpty()) saveScreenshot(path);
}

}  // namespace tessera::ui
