// Editing and leaving the workstation with real widgets: painting and undo
// through the mouse and shortcuts, exports read back with independent
// readers, the unsaved-edits question on close, and a segmentation job whose
// slices appear while it runs.
#include <QAction>
#include <QLabel>
#include <QMenu>
#include <QProgressBar>
#include <QToolButton>

#include <vtkPolyData.h>
#include <vtkSTLReader.h>
#include <vtkSmartPointer.h>

#include <atomic>
#include <thread>

#include "core/files.h"
#include "core/json.h"
#include "imaging/dicom/dicom.h"
#include "imaging/dicom/dicom_rtstruct.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/dicom/dicom_sr.h"
#include "main_window_fixture.h"
#include "ui/model/slice_image.h"

namespace tessera::ui::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(MainWindowTest, PaintWithTheMouseThenUndoRestoresVoxelsExactly) {
  openStudy();
  const auto original = model().document().labels().labels.buffer();
  // Select "brain" (8) in the label table and the paint tool by its shortcut.
  LabelTableWidget* table = window_->labelTable();
  table->setCurrentCell(table->rowOf(8), LabelTableWidget::kNameColumn);
  EXPECT_EQ(model().selectedLabel(), 8);
  QAction* paint = action("Paint");
  ASSERT_NE(paint, nullptr);
  EXPECT_EQ(paint->shortcut(), QKeySequence("B"));
  paint->trigger();
  EXPECT_EQ(model().tool(), Tool::kPaint);
  axial()->setCrosshairVisible(false);

  const QPoint a = pointOf(axial(), {20, 20, 16}), b = pointOf(axial(), {44, 20, 16});
  press(axial(), Qt::LeftButton, a);
  moveTo(axial(), (a + b) / 2, Qt::LeftButton);
  moveTo(axial(), b, Qt::LeftButton);
  release(axial(), Qt::LeftButton, b);
  const auto& labels = model().document().labels().labels;
  for (int i = 20; i <= 44; ++i) ASSERT_EQ(labels.at(i, 20, 16), 8) << i;
  EXPECT_EQ(labels.at(20, 20, 15), original[labels.index(20, 20, 15)]) << "other slices untouched";
  EXPECT_TRUE(model().hasUnsavedEdits());
  EXPECT_TRUE(window_->isWindowModified());
  EXPECT_GT(model().labelTable().find(8)->voxels, 25);

  // The painted voxels show the brain colour over their grey.
  const QImage painted = grab(axial());
  const WindowLevel wl = model().windowLevel();
  const std::uint8_t g = greyFor(study_.ct.at(32, 20, 16), wl);
  EXPECT_EQ(rgbAt(painted, pointOf(axial(), {32, 20, 16})),
            blend({g, g, g}, study_.labels.table.find(8)->rgb, model().labelOpacity()));

  // Undo (Ctrl+Z) restores every voxel and the picture.
  QAction* undo = action("Undo");
  ASSERT_NE(undo, nullptr);
  EXPECT_EQ(undo->shortcut(), QKeySequence(QKeySequence::Undo));
  EXPECT_EQ(undo->text(), "&Undo Paint brain");
  undo->trigger();
  EXPECT_TRUE(model().document().labels().labels.buffer() == original);
  EXPECT_FALSE(model().hasUnsavedEdits());
  EXPECT_EQ(model().labelTable().find(8)->voxels, 0);
  const QImage undone = grab(axial());
  EXPECT_NE(rgbAt(undone, pointOf(axial(), {32, 20, 16})),
            rgbAt(painted, pointOf(axial(), {32, 20, 16})));
  // Redo from the Edit menu's action.
  QAction* redo = action("Redo");
  ASSERT_NE(redo, nullptr);
  EXPECT_TRUE(redo->isEnabled());
  EXPECT_EQ(redo->text(), "&Redo Paint brain");
  redo->trigger();
  EXPECT_EQ(model().document().labels().labels.at(32, 20, 16), 8);
}

TEST_F(MainWindowTest, EraserRemovesOnlyTheSelectedLabel) {
  openStudy();
  LabelTableWidget* table = window_->labelTable();
  table->setCurrentCell(table->rowOf(5), LabelTableWidget::kNameColumn);
  action("Erase")->trigger();
  EXPECT_EQ(model().tool(), Tool::kErase);
  model().setBrushRadiusMm(30.0);
  const QPoint centre = pointOf(axial(), {40, 28, 16});
  click(axial(), Qt::LeftButton, centre);
  const auto& labels = model().document().labels().labels;
  for (int j = 0; j < 64; ++j)
    for (int i = 0; i < 64; ++i) {
      const std::uint8_t was = study_.labels.labels.at(i, j, 16);
      ASSERT_EQ(labels.at(i, j, 16), was == 5 ? 0 : was) << i << "," << j;
    }
}

TEST_F(MainWindowTest, ExportDicomMenuWritesSegSrAndRtStructThatOpenBack) {
  const QString series = dir_ + "/series";
  ASSERT_TRUE(imaging::writeDicomSeries(study_.ct, series.toStdString()).ok());
  ASSERT_TRUE(window_->openPath(series));
  LabelMap labels = study_.labels;
  labels.labels.geometry() = model().document().geometry();
  ASSERT_TRUE(model().setLabels(labels, "").ok());
  auto* menu = window_->findChild<QMenu*>("exportDicomMenu");
  ASSERT_NE(menu, nullptr);
  QStringList actions;
  for (QAction* a : menu->actions()) actions << a->text().remove('&');
  EXPECT_EQ(actions.size(), 3) << actions.join(", ").toStdString();
  EXPECT_TRUE(actions.join(",").contains("RT Structure Set")) << actions.join(",").toStdString();

  ASSERT_TRUE(window_->exportDicom("seg+sr", dir_ + "/seg.dcm"));
  ASSERT_TRUE(window_->exportDicom("rtstruct", dir_ + "/rs.dcm"));
  EXPECT_TRUE(imaging::describeDicomSeg((dir_ + "/seg.dcm").toStdString()).ok());
  EXPECT_TRUE(imaging::readDicomSrMeasurements((dir_ + "/seg-sr.dcm").toStdString()).ok());
  EXPECT_TRUE(imaging::describeRtStruct((dir_ + "/rs.dcm").toStdString()).ok());

  // The banner names the patient of the DICOM header (the series has none).
  auto* banner = window_->findChild<QLabel*>("patientBannerText");
  ASSERT_NE(banner, nullptr);
  EXPECT_TRUE(banner->text().startsWith("No patient name")) << banner->text().toStdString();

  // Open Segmentation takes the SEG back over the same CT.
  ASSERT_TRUE(
      model()
          .setLabels(LabelMap{*Image<std::uint8_t>::create(model().document().geometry(), 0),
                              labels.table},
                     "")
          .ok());
  ASSERT_TRUE(window_->openSegmentation(dir_ + "/seg.dcm"));
  EXPECT_TRUE(model().document().labels().labels.buffer() == labels.labels.buffer());
}

TEST_F(MainWindowTest, ExportsReadBackWithIndependentReaders) {
  openStudy();
  model().setSelectedLabel(9);
  const QPointF at = axial()->screenPointOfVoxel({32, 32, 16});
  ASSERT_TRUE(model().beginStroke(Plane::kAxial, {at.x(), at.y()}));
  model().endStroke();
  ASSERT_TRUE(model().hasUnsavedEdits());

  // Label map: NIfTI equal voxel for voxel, same geometry; nothing unsaved after.
  const QString saved = dir_ + "/edited.nii.gz";
  ASSERT_TRUE(window_->saveSegmentation(saved));
  auto back = imaging::readLabelMap(saved.toStdString());
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_TRUE(back->labels.buffer() == model().document().labels().labels.buffer());
  EXPECT_TRUE(sameGeometry(back->labels.geometry(), model().document().geometry()));
  EXPECT_FALSE(model().hasUnsavedEdits());
  EXPECT_FALSE(window_->isWindowModified());

  // Meshes: one STL per label, readable by VTK, bounds in patient mm.
  const QString meshes = dir_ + "/meshes";
  std::filesystem::create_directories(meshes.toStdString());
  ASSERT_TRUE(window_->exportMeshes(meshes, ".stl"));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(meshes.toStdString()))
    files += entry.path().extension() == ".stl";
  EXPECT_EQ(files, 4);  // soft tissue, liver, kidney, internal air
  auto reader = vtkSmartPointer<vtkSTLReader>::New();
  reader->SetFileName((meshes + "/liver.stl").toStdString().c_str());
  reader->Update();
  vtkPolyData* liver = reader->GetOutput();
  ASSERT_GT(liver->GetNumberOfPolys(), 100);
  double bounds[6];
  liver->GetBounds(bounds);
  const Vec3 centre = model().document().geometry().worldFromVoxel({40, 28, 16});
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR((bounds[2 * a] + bounds[2 * a + 1]) / 2, centre[a], 1.0) << "axis " << a;
    EXPECT_NEAR(bounds[2 * a + 1] - bounds[2 * a], 18.0, 3.0) << "axis " << a;  // 9 mm radius
  }

  // Statistics: CSV and JSON with the table's millilitres.
  ASSERT_TRUE(window_->exportStatistics(dir_ + "/stats.json"));
  ASSERT_TRUE(window_->exportStatistics(dir_ + "/stats.csv"));
  auto json = parseJson(*readTextFile((dir_ + "/stats.json").toStdString()));
  ASSERT_TRUE(json.ok());
  int matched = 0;
  for (const JsonValue& entry : json->find("statistics")->find("labels")->items()) {
    const LabelRow* row =
        model().labelTable().find(static_cast<std::uint8_t>(entry.getNumber("value")));
    ASSERT_NE(row, nullptr);
    EXPECT_NEAR(entry.getNumber("volume_ml"), row->volumeMl, 1e-6) << row->name;
    ++matched;
  }
  EXPECT_EQ(matched, 4);
  EXPECT_NE(readTextFile((dir_ + "/stats.csv").toStdString())->find("\n5,liver,"),
            std::string::npos);

  // Screenshot: a PNG of the window, not blank.
  const QString png = dir_ + "/shot.png";
  ASSERT_TRUE(window_->saveScreenshot(png));
  QImage shot(png);
  ASSERT_FALSE(shot.isNull());
  EXPECT_EQ(shot.size(), window_->size() * window_->devicePixelRatio());
  EXPECT_GT(countNonBackground(shot, shot.pixelColor(0, shot.height() - 1)), shot.width() * 50);

  // A folder that does not exist: a dialog, no file.
  EXPECT_FALSE(window_->saveSegmentation(dir_ + "/missing/labels.nii.gz"));
  EXPECT_NE(findMessageBox("errorDialog"), nullptr);
  EXPECT_FALSE(std::filesystem::exists((dir_ + "/missing").toStdString()));
}

TEST_F(MainWindowTest, ClosingWithUnsavedEditsAsksFirst) {
  openStudy();
  model().setSelectedLabel(9);
  ASSERT_TRUE(model().beginStroke(Plane::kAxial, {150, 150}));
  model().endStroke();
  ASSERT_TRUE(model().hasUnsavedEdits());

  // Cancel: the window stays open with its edits.
  EXPECT_FALSE(window_->close());
  QMessageBox* box = findMessageBox("unsavedEditsDialog");
  ASSERT_NE(box, nullptr);
  box->button(QMessageBox::Cancel)->click();
  settle(20);
  EXPECT_TRUE(window_->isVisible());
  EXPECT_TRUE(model().hasUnsavedEdits());

  // Save: written to where the segmentation came from, then the window closes.
  EXPECT_FALSE(window_->close());
  box = findMessageBox("unsavedEditsDialog");
  ASSERT_NE(box, nullptr);
  box->button(QMessageBox::Save)->click();
  EXPECT_TRUE(waitUntil([&] { return !window_->isVisible(); }));
  auto back = imaging::readLabelMap(labelsPath_.toStdString());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->labels.buffer() == model().document().labels().labels.buffer());
}

TEST_F(MainWindowTest, DiscardingUnsavedEditsClosesWithoutWriting) {
  openStudy();
  const auto before = std::filesystem::last_write_time(labelsPath_.toStdString());
  model().setSelectedLabel(9);
  ASSERT_TRUE(model().beginStroke(Plane::kAxial, {150, 150}));
  model().endStroke();
  EXPECT_FALSE(window_->close());
  QMessageBox* box = findMessageBox("unsavedEditsDialog");
  ASSERT_NE(box, nullptr);
  box->button(QMessageBox::Discard)->click();
  EXPECT_TRUE(waitUntil([&] { return !window_->isVisible(); }));
  EXPECT_EQ(std::filesystem::last_write_time(labelsPath_.toStdString()), before);
}

TEST_F(MainWindowTest, OpeningAnotherStudyWithUnsavedEditsAsksFirst) {
  openStudy();
  model().setSelectedLabel(9);
  ASSERT_TRUE(model().beginStroke(Plane::kAxial, {150, 150}));
  model().endStroke();
  EXPECT_FALSE(window_->openPath(ctPath_));
  QMessageBox* box = findMessageBox("unsavedEditsDialog");
  ASSERT_NE(box, nullptr);
  box->button(QMessageBox::Cancel)->click();
  settle(20);
  EXPECT_TRUE(model().hasUnsavedEdits()) << "edits kept";
  window_->openPath(ctPath_);
  findMessageBox("unsavedEditsDialog")->button(QMessageBox::Discard)->click();
  EXPECT_TRUE(waitUntil([&] { return !model().hasUnsavedEdits(); }));
  EXPECT_EQ(model().labelTable().find(5)->voxels, 0) << "a fresh study without labels";
}

// The engine's seam, driven through the window: slices of a running job
// appear in the views, progress and ETA show in the status bar, and Cancel
// stops the job and keeps the labels as they were.
TEST_F(MainWindowTest, SegmentationSlicesAppearWhileTheJobRuns) {
  openStudy(false);
  std::atomic<int> released{0};
  SegmentationJob job = [&released](const Volume& ct, ProgressSink* sink, const CancelToken& cancel,
                                    SliceCallback onSlice) -> Result<SegmentationOutput> {
    TESSERA_ASSIGN_OR_RETURN(auto labels, Image<std::uint8_t>::create(ct.geometry(), 0));
    ProgressTracker tracker(sink, 0.0);
    for (std::int64_t k = 0; k < ct.nz(); ++k) {
      while (released.load() <= k) {
        TESSERA_RETURN_IF_ERROR(cancel.check());
        std::this_thread::sleep_for(1ms);
      }
      for (std::int64_t i = 0; i < ct.nx() * ct.ny(); ++i)
        labels.slice(k)[i] = ct.slice(k)[i] > 100 ? 7 : 0;
      onSlice(SlicePlacement::axial(ct.geometry().size, k), labels.slice(k));
      tracker.report(double(k + 1) / double(ct.nz()), "slice");
    }
    return SegmentationOutput{LabelMap{std::move(labels), defaultLabelTable()}, {}, "threshold"};
  };
  ASSERT_TRUE(model().startSegmentation(job).ok());
  released = 13;
  ASSERT_TRUE(waitUntil([&] { return model().segmentationState().slicesDone >= 13; }));
  auto* progress = window_->findChild<QProgressBar*>("segmentationProgress");
  auto* cancel = window_->findChild<QToolButton*>("cancelSegmentation");
  ASSERT_NE(progress, nullptr);
  ASSERT_NE(cancel, nullptr);
  EXPECT_TRUE(progress->isVisible());
  EXPECT_TRUE(cancel->isVisible());
  EXPECT_TRUE(progress->text().contains("ETA")) << progress->text().toStdString();
  EXPECT_NEAR(progress->value(), 1000 * 13 / 32, 2);

  // Slice 12 holds the kidney sphere (HU 160): it shows in the kidney colour.
  model().scroll(Plane::kAxial, 12 - static_cast<int>(model().view(Plane::kAxial).slice()));
  axial()->setCrosshairVisible(false);
  const QImage image = grab(axial());
  const std::uint8_t g = greyFor(160, model().windowLevel());
  EXPECT_EQ(rgbAt(image, pointOf(axial(), {20, 38, 12})),
            blend({g, g, g}, study_.labels.table.find(7)->rgb, model().labelOpacity()));

  cancel->click();
  ASSERT_TRUE(waitUntil([&] { return !model().segmentationState().running; }));
  EXPECT_FALSE(progress->isVisible());
  EXPECT_EQ(model().segmentationState().message, "Cancelled");
  EXPECT_EQ(model().document().labels().labels.at(20, 38, 12), 0) << "labels as before the job";
  EXPECT_EQ(findMessageBox("errorDialog"), nullptr) << "cancelling is not an error";
}

}  // namespace
}  // namespace tessera::ui::testing
