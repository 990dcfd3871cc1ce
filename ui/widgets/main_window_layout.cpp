// MainWindow's layout: the 2×2 view grid, actions, menus, tool bar, the
// labels dock and the status bar. What the controls do is in
// main_window.cpp (model → widgets, 3D surfaces) and
// main_window_operations.cpp (files, segmentation, dialogs).
#include "ui/widgets/main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QSlider>
#include <QStatusBar>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

#include "ui/widgets/label_table_widget.h"
#include "ui/widgets/slice_view_widget.h"
#include "ui/widgets/view3d_widget.h"
#include "ui/widgets/view_panel.h"

namespace tessera::ui {

namespace {

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
  file->addAction("Open from &PACS\u2026", this, [this] { openFromPacs(); })
      ->setObjectName("openFromPacsAction");
  file->addAction("Open Se&gmentation\u2026", QKeySequence("Ctrl+L"), this,
                  &MainWindow::chooseAndOpenSegmentation);
  file->addAction("Open &Block Map\u2026", this, &MainWindow::chooseAndOpenBlockMap);
  recentMenu_ = file->addMenu("Open &Recent");
  file->addSeparator();
  file->addAction(saveAction_);
  file->addAction(saveAsAction_);
  file->addAction("Export &Meshes\u2026", this, &MainWindow::chooseAndExportMeshes);
  file->addAction("Export S&tatistics\u2026", this, &MainWindow::chooseAndExportStatistics);
  file->addAction("Send to P&ACS\u2026", this,
                  [this] {
                    bool ok = false;
                    const QString pacs = QInputDialog::getText(
                        this, "Send to PACS",
                        "PACS (AET@HOST:PORT or DICOMweb URL):", QLineEdit::Normal, lastPacs_, &ok);
                    if (ok && !pacs.trimmed().isEmpty()) sendToPacs(pacs.trimmed());
                  })
      ->setObjectName("sendToPacsAction");
  QMenu* dicom = file->addMenu("E&xport DICOM");
  dicom->setObjectName("exportDicomMenu");
  dicom->addAction("DICOM-&SEG\u2026", this, [this] { chooseAndExportDicom("seg"); });
  dicom->addAction("DICOM-SEG and &Measurement Report (SR)\u2026", this,
                   [this] { chooseAndExportDicom("seg+sr"); });
  dicom->addAction("&RT Structure Set\u2026", this, [this] { chooseAndExportDicom("rtstruct"); });
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
  // The patient banner, above the views as on a reading station.
  QToolBar* patient = addToolBar("Patient");
  patient->setObjectName("patientBanner");
  patient->setMovable(false);
  bannerLabel_ = new QLabel(patient);
  bannerLabel_->setObjectName("patientBannerText");
  bannerLabel_->setStyleSheet("font-weight: bold; padding: 2px 8px;");
  patient->addWidget(bannerLabel_);
  addToolBarBreak();
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
  backgroundProgress_ = new QProgressBar(this);
  backgroundProgress_->setObjectName("backgroundProgress");
  backgroundProgress_->setRange(0, 0);
  backgroundProgress_->setMaximumWidth(260);
  backgroundProgress_->setTextVisible(true);
  backgroundProgress_->hide();
  statusBar()->addPermanentWidget(backgroundProgress_);
}

}  // namespace tessera::ui
