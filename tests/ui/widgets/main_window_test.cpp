// The workstation window with real widgets: opening, scrolling, window/level,
// label colours in the slice views, views fitted to their panes, the 3D view,
// maximising, the cursor read-out, drag and drop, recent files and error
// dialogs.
#include <QAction>
#include <QComboBox>
#include <QLabel>
#include <QMimeData>
#include <QSettings>
#include <QSlider>
#include <QToolButton>

#include <fstream>

#include "imaging/dicom/dicom.h"
#include "main_window_fixture.h"
#include "ui/model/slice_image.h"
#include "ui/widgets/series_browser_dialog.h"

namespace tessera::ui::testing {
namespace {

TEST_F(MainWindowTest, OpensAStudyIntoAllFourViews) {
  openStudy();
  EXPECT_TRUE(model().hasImage());
  EXPECT_TRUE(window_->windowTitle().startsWith("ct.nii.gz"));
  EXPECT_EQ(model().view(Plane::kAxial).slice(), 16);
  // Each slice view shows CT pixels (not the empty-view black).
  for (int p = 0; p < kPlaneCount; ++p) {
    SliceViewWidget* view = window_->sliceView(static_cast<Plane>(p));
    const QImage image = grab(view);
    const QPoint centre = pointOf(view, {32, 32, 16});
    EXPECT_NE(image.pixel(centre), qRgb(0, 0, 0)) << planeName(static_cast<Plane>(p));
  }
  // The label table lists the liver with its volume.
  LabelTableWidget* table = window_->labelTable();
  const int row = table->rowOf(5);
  ASSERT_GE(row, 0);
  EXPECT_EQ(table->item(row, LabelTableWidget::kNameColumn)->text(), "liver");
  EXPECT_EQ(table->item(row, LabelTableWidget::kVolumeColumn)->text(),
            QString::number(model().labelTable().find(5)->volumeMl, 'f', 2));
}

TEST_F(MainWindowTest, MouseWheelScrollsSlicesAndMovesTheCrosshair) {
  openStudy();
  const QPoint at(axial()->width() / 2, axial()->height() / 2);
  const QImage before = grab(axial());
  wheel(axial(), at, 3);
  EXPECT_EQ(model().view(Plane::kAxial).slice(), 19);
  EXPECT_EQ(model().crosshairVoxel()[2], 19);
  wheel(axial(), at, -5);
  EXPECT_EQ(model().view(Plane::kAxial).slice(), 14);
  EXPECT_NE(grab(axial()), before);
  // Ctrl + wheel zooms instead.
  wheel(axial(), at, 2, Qt::ControlModifier);
  EXPECT_EQ(model().view(Plane::kAxial).slice(), 14);
  EXPECT_NEAR(model().view(Plane::kAxial).zoom(), 1.44, 1e-9);
  // Middle drag pans: the voxel under the press follows the mouse exactly.
  const QPoint grabbed = pointOf(axial(), {30, 30, 14});
  press(axial(), Qt::MiddleButton, grabbed);
  moveTo(axial(), grabbed + QPoint(25, -10), Qt::MiddleButton);
  release(axial(), Qt::MiddleButton, grabbed + QPoint(25, -10));
  EXPECT_EQ(pointOf(axial(), {30, 30, 14}), grabbed + QPoint(25, -10));
  // A click moves the crosshair: the other views follow.
  click(axial(), Qt::LeftButton, pointOf(axial(), {40, 28, 14}));
  EXPECT_EQ(model().view(Plane::kSagittal).slice(), 40);
  EXPECT_EQ(model().view(Plane::kCoronal).slice(), 28);
}

TEST_F(MainWindowTest, WindowLevelDragAndPresetsChangePixelsAsComputed) {
  openStudy();
  window_->findChild<QSlider*>("labelOpacity")->setValue(0);
  axial()->setCrosshairVisible(false);
  const QPoint body = pointOf(axial(), {32, 50, 16});   // HU 40
  const QPoint liver = pointOf(axial(), {40, 28, 16});  // HU 60
  auto expectGrey = [&](const WindowLevel& wl) {
    const QImage image = grab(axial());
    const std::uint8_t b = greyFor(40, wl), l = greyFor(60, wl);
    EXPECT_EQ(rgbAt(image, body), (std::array<std::uint8_t, 3>{b, b, b}));
    EXPECT_EQ(rgbAt(image, liver), (std::array<std::uint8_t, 3>{l, l, l}));
  };
  expectGrey({400, 40});

  // Right drag: 60 px right, 30 px down from the soft-tissue window.
  const WindowLevel start = model().windowLevel();
  const QPoint from(axial()->width() / 2, axial()->height() / 2);
  press(axial(), Qt::RightButton, from);
  moveTo(axial(), from + QPoint(30, 10), Qt::RightButton);
  moveTo(axial(), from + QPoint(60, 30), Qt::RightButton);
  release(axial(), Qt::RightButton, from + QPoint(60, 30));
  const WindowLevel dragged = dragWindowLevel(start, 60, 30);
  EXPECT_EQ(model().windowLevel(), dragged);
  EXPECT_GT(dragged.window, start.window);
  expectGrey(dragged);

  // The brain preset from the toolbar's combo box.
  auto* presets = window_->findChild<QComboBox*>("windowPreset");
  ASSERT_NE(presets, nullptr);
  EXPECT_EQ(presets->currentText(), "Custom");
  presets->setCurrentIndex(3);
  emit presets->activated(3);
  EXPECT_EQ(model().windowLevel(), (WindowLevel{80, 40}));
  expectGrey({80, 40});
  // The lung window's menu entry, on key 2.
  QAction* lung = action("Lung window");
  ASSERT_NE(lung, nullptr);
  EXPECT_EQ(lung->shortcut(), QKeySequence("2"));
  lung->trigger();
  EXPECT_EQ(model().windowLevel(), (WindowLevel{1500, -600}));
}

// Label colours appear exactly where the labels are and nowhere else.
TEST_F(MainWindowTest, LabelColoursAppearWhereTheLabelsAre) {
  openStudy();
  window_->findChild<QSlider*>("labelOpacity")->setValue(60);
  // Hide soft tissue with its check box: only the spheres stay coloured.
  LabelTableWidget* table = window_->labelTable();
  table->item(table->rowOf(1), LabelTableWidget::kNameColumn)->setCheckState(Qt::Unchecked);
  EXPECT_FALSE(model().labelTable().visible(1));
  for (int k : {12, 16}) {
    model().scroll(Plane::kAxial, k - static_cast<int>(model().view(Plane::kAxial).slice()));
    axial()->setCrosshairVisible(false);
    const QImage image = grab(axial());
    const WindowLevel wl = model().windowLevel();
    int coloured = 0;
    // Away from the read-outs drawn in the view's corners and edges.
    for (int j = 10; j < 55; ++j)
      for (int i = 10; i < 55; ++i) {
        const QPoint p = pointOf(axial(), {double(i), double(j), double(k)});
        const std::uint8_t g = greyFor(study_.ct.at(i, j, k), wl);
        const std::uint8_t label = study_.labels.labels.at(i, j, k);
        const bool shown = label == 5 || label == 7;
        const auto expected = shown ? blend({g, g, g}, study_.labels.table.find(label)->rgb, 0.6)
                                    : std::array<std::uint8_t, 3>{g, g, g};
        ASSERT_EQ(rgbAt(image, p), expected) << "voxel " << i << "," << j << "," << k;
        coloured += shown;
      }
    EXPECT_GT(coloured, 50) << "slice " << k;
  }
}

TEST_F(MainWindowTest, ComputedBlocksOverlayTogglesFromTheToolbar) {
  openStudy();
  QAction* blocks = action("Computed Blocks");
  ASSERT_NE(blocks, nullptr);
  EXPECT_FALSE(blocks->isEnabled()) << "no block map yet";
  LabelMap map{*Image<std::uint8_t>::create(study_.ct.geometry(), 0), {}};
  for (int y = 16; y < 48; ++y)
    for (int x = 16; x < 48; ++x) map.labels.at(x, y, 16) = 1;
  const QString path = dir_ + "/blocks.nii.gz";
  ASSERT_TRUE(imaging::writeLabelMap(map, path.toStdString()).ok());
  axial()->setCrosshairVisible(false);
  const QPoint edge = pointOf(axial(), {16, 20, 16}), outside = pointOf(axial(), {8, 8, 16});
  const QImage without = grab(axial());
  ASSERT_TRUE(window_->openBlockMap(path));
  EXPECT_TRUE(blocks->isEnabled());
  EXPECT_TRUE(blocks->isChecked());
  const QImage with = grab(axial());
  EXPECT_NE(with.pixel(edge), without.pixel(edge));
  EXPECT_EQ(with.pixel(outside), without.pixel(outside));
  blocks->trigger();
  EXPECT_FALSE(model().showBlocks());
  EXPECT_EQ(grab(axial()).pixel(edge), without.pixel(edge));
}

TEST_F(MainWindowTest, ThreeDViewShowsTheLabelSurfaces) {
  openStudy();
  ASSERT_TRUE(window_->waitForSurfaces());
  const QImage image = window_->view3d()->grabFramebuffer();
  // Liver-red pixels: red clearly dominating.
  int reddish = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) {
      const QColor c = image.pixelColor(x, y);
      reddish += c.red() > 80 && c.red() > 1.8 * c.green() && c.red() > 1.8 * c.blue();
    }
  EXPECT_GT(reddish, 200);
  EXPECT_EQ(window_->view3d()->scene().surfaceCount(), 3u);
  // Hiding the liver in the table hides its surface.
  LabelTableWidget* table = window_->labelTable();
  table->item(table->rowOf(5), LabelTableWidget::kNameColumn)->setCheckState(Qt::Unchecked);
  const QImage hidden = window_->view3d()->grabFramebuffer();
  int stillRed = 0;
  for (int y = 0; y < hidden.height(); ++y)
    for (int x = 0; x < hidden.width(); ++x) {
      const QColor c = hidden.pixelColor(x, y);
      stillRed += c.red() > 80 && c.red() > 1.8 * c.green() && c.red() > 1.8 * c.blue();
    }
  EXPECT_LT(stillRed, reddish / 10);
}

TEST_F(MainWindowTest, ACtWithoutLabelsGetsAVolumeRendering) {
  openStudy(false);
  ASSERT_TRUE(window_->waitForSurfaces());
  EXPECT_EQ(window_->view3d()->scene().volumePreset(), VolumePreset::kBone);
  window_->setVolumePreset(VolumePreset::kSoftTissue);
  const QImage image = window_->view3d()->grabFramebuffer();
  const QColor corner = image.pixelColor(2, image.height() / 2);
  EXPECT_GT(countNonBackground(image.copy(0, image.height() / 2, image.width(), 1), corner), 20);
}

TEST_F(MainWindowTest, DoubleClickMaximisesAViewAndRestoresTheLayout) {
  openStudy();
  const int quarterWidth = axial()->width();
  doubleClick(axial(), QPoint(20, 20));
  settle(20);
  EXPECT_EQ(window_->maximisedView(), 0);
  EXPECT_TRUE(window_->viewPanel(0)->isVisible());
  for (int i = 1; i < 4; ++i) EXPECT_FALSE(window_->viewPanel(i)->isVisible());
  EXPECT_GT(axial()->width(), quarterWidth * 3 / 2);
  doubleClick(axial(), QPoint(20, 20));
  settle(20);
  EXPECT_EQ(window_->maximisedView(), -1);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(window_->viewPanel(i)->isVisible());
  // The header button of the 3D panel maximises it.
  auto* button = window_->viewPanel(3)->findChild<QToolButton*>();
  ASSERT_NE(button, nullptr);
  button->click();
  EXPECT_EQ(window_->maximisedView(), 3);
  EXPECT_FALSE(window_->viewPanel(0)->isVisible());
}

// Every slice view shows its whole slice, as large as its pane allows: the
// image lies inside the widget and spans its width or its height.
void expectFitted(MainWindow& window, const char* when) {
  for (int p = 0; p < kPlaneCount; ++p) {
    const Plane plane = static_cast<Plane>(p);
    const SliceViewWidget* widget = window.sliceView(plane);
    const SliceViewModel& view = window.model().view(plane);
    SCOPED_TRACE(std::string(when) + ", " + planeName(plane));
    EXPECT_EQ(view.viewportWidth(), widget->width());
    EXPECT_EQ(view.viewportHeight(), widget->height());
    EXPECT_DOUBLE_EQ(view.zoom(), 1.0);
    const auto [x, y, w, h] = view.imageRectOnScreen();
    EXPECT_GE(x, -0.5);
    EXPECT_GE(y, -0.5);
    EXPECT_LE(x + w, widget->width() + 0.5);
    EXPECT_LE(y + h, widget->height() + 0.5);
    EXPECT_TRUE(std::abs(w - widget->width()) < 1.0 || std::abs(h - widget->height()) < 1.0)
        << w << " x " << h << " in " << widget->width() << " x " << widget->height();
  }
}

TEST_F(MainWindowTest, ViewsOpenFittedToTheirPanesWhateverTheSliceShape) {
  openStudy();  // sagittal and coronal slices taller than wide
  expectFitted(*window_, "first study");
  // Thick slices of a wide field of view: sagittal and coronal far wider
  // than tall.
  Geometry wide;
  wide.size = {256, 256, 12};
  wide.spacingMm = {0.7, 0.7, 5.0};
  const QString widePath = dir_ + "/wide.nii.gz";
  ASSERT_TRUE(imaging::writeVolume(makeStudy(wide).ct, widePath.toStdString()).ok());
  window_->setHeadless(true);  // replacing the study asks nothing
  ASSERT_TRUE(window_->openPath(widePath));
  settle(30);
  expectFitted(*window_, "wide study");
  // Maximised and restored, and with the window resized.
  doubleClick(window_->sliceView(Plane::kCoronal), QPoint(20, 20));
  settle(20);
  expectFitted(*window_, "coronal maximised");
  doubleClick(window_->sliceView(Plane::kCoronal), QPoint(20, 20));
  settle(20);
  window_->resize(900, 1000);
  settle(30);
  expectFitted(*window_, "restored and resized");
  // A study opened before the window is shown (tessera-workstation FILE).
  MainWindow early;
  early.setHeadless(true);
  ASSERT_TRUE(early.openPath(widePath));
  early.resize(1100, 800);
  early.show();
  ASSERT_TRUE(QTest::qWaitForWindowExposed(&early));
  settle(30);
  expectFitted(early, "opened before shown");
}

TEST_F(MainWindowTest, StatusBarShowsHuPositionAndLabelUnderTheCursor) {
  openStudy();
  auto* info = window_->findChild<QLabel*>("cursorInfo");
  ASSERT_NE(info, nullptr);
  moveTo(axial(), pointOf(axial(), {40, 28, 16}));
  EXPECT_TRUE(info->text().contains("HU 60")) << info->text().toStdString();
  EXPECT_TRUE(info->text().contains("liver")) << info->text().toStdString();
  EXPECT_TRUE(info->text().contains("mm (LPS)"));
  moveTo(axial(), pointOf(axial(), {1, 1, 16}));
  EXPECT_TRUE(info->text().contains("HU -1000")) << info->text().toStdString();
}

// A corrupt file, an empty folder and a mismatched segmentation each show
// a dialog naming the problem; the window stays usable afterwards.
TEST_F(MainWindowTest, BadInputShowsADialogAndKeepsTheApplicationUsable) {
  const QString corrupt = dir_ + "/corrupt.nii.gz";
  std::ofstream(corrupt.toStdString()) << "not an image at all";
  EXPECT_FALSE(window_->openPath(corrupt));
  QMessageBox* box = findMessageBox("errorDialog");
  ASSERT_NE(box, nullptr);
  EXPECT_FALSE(box->text().isEmpty());
  EXPECT_TRUE(box->informativeText().contains("corrupt.nii.gz"));
  box->button(QMessageBox::Ok)->click();
  EXPECT_TRUE(waitUntil([] { return findMessageBox("errorDialog") == nullptr; }));
  EXPECT_FALSE(model().hasImage());

  const QString empty = dir_ + "/empty_folder";
  std::filesystem::create_directories(empty.toStdString());
  EXPECT_FALSE(window_->openPath(empty));
  box = findMessageBox("errorDialog");
  ASSERT_NE(box, nullptr);
  box->close();

  openStudy();
  Geometry other = study_.ct.geometry();
  other.size = {32, 32, 16};
  const QString small = dir_ + "/small.nii.gz";
  ASSERT_TRUE(imaging::writeLabelMap({*Image<std::uint8_t>::create(other, 1), defaultLabelTable()},
                                     small.toStdString())
                  .ok());
  EXPECT_FALSE(window_->openSegmentation(small));
  box = findMessageBox("errorDialog");
  ASSERT_NE(box, nullptr);
  EXPECT_TRUE(box->text().contains("does not match")) << box->text().toStdString();
  box->close();
  // Still usable: the study and its labels are intact and the views respond.
  EXPECT_EQ(model().document().labels().labels.at(40, 28, 16), 5);
  wheel(axial(), QPoint(100, 100), 1);
  EXPECT_EQ(model().view(Plane::kAxial).slice(), 17);
}

TEST_F(MainWindowTest, DroppedFilesOpenAsStudyThenSegmentation) {
  auto drop = [&](const QString& path) {
    QMimeData data;
    data.setUrls({QUrl::fromLocalFile(path)});
    QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &data, Qt::LeftButton, {});
    QApplication::sendEvent(window_.get(), &enter);
    EXPECT_TRUE(enter.isAccepted());
    QDropEvent dropEvent(QPointF(50, 50), Qt::CopyAction, &data, Qt::LeftButton, {});
    QApplication::sendEvent(window_.get(), &dropEvent);
  };
  drop(ctPath_);
  ASSERT_TRUE(model().hasImage());
  EXPECT_EQ(model().document().ctPath(), ctPath_.toStdString());
  EXPECT_EQ(model().labelTable().find(5)->voxels, 0);
  drop(labelsPath_);
  EXPECT_EQ(model().document().ctPath(), ctPath_.toStdString()) << "labels are not a new study";
  EXPECT_EQ(model().document().labelsPath(), labelsPath_.toStdString());
  EXPECT_GT(model().labelTable().find(5)->voxels, 0);
}

TEST_F(MainWindowTest, RecentFilesAreRememberedAcrossWindows) {
  openStudy();
  const QStringList stored = QSettings().value("recentFiles").toStringList();
  ASSERT_FALSE(stored.isEmpty());
  EXPECT_EQ(stored.front(), ctPath_);
  MainWindow second;
  ASSERT_FALSE(second.model().recentFiles().paths().empty());
  EXPECT_EQ(second.model().recentFiles().paths().front(), ctPath_.toStdString());
}

TEST(SeriesBrowserTest, ListsSeriesAndPreselectsTheReadersChoice) {
  TESSERA_REQUIRE_DISPLAY();
  SeriesListing listing;
  listing.series = {
      {"1.2.3", "DOE JANE", "CT chest", "Dose report", "SR", 500, {}, true},
      {"1.2.2",
       "DOE JANE",
       "CT chest",
       "#2 Chest 1.0 mm",
       "CT",
       240,
       {"2 slices missing between 40.0 and 46.0 mm"},
       true},
      {"1.2.4",
       "DOE JANE",
       "CT chest",
       "#3 Tilted",
       "CT",
       100,
       {"cannot be read: gantry tilt of 12 degrees"},
       false},
  };
  listing.defaultIndex = 1;
  SeriesBrowserDialog dialog(listing, "/data/dicom");
  EXPECT_EQ(dialog.table()->rowCount(), 3);
  EXPECT_EQ(dialog.selectedUid(), "1.2.2");
  EXPECT_EQ(dialog.table()->item(1, 2)->text(), "#2 Chest 1.0 mm");
  EXPECT_EQ(dialog.table()->item(1, 4)->text(), "240");
  EXPECT_TRUE(dialog.table()->item(1, 5)->text().contains("missing"));
  dialog.table()->setCurrentCell(0, 0);
  EXPECT_EQ(dialog.selectedUid(), "1.2.3");
  // An unreadable series cannot be chosen.
  EXPECT_FALSE(dialog.table()->item(2, 0)->flags() & Qt::ItemIsSelectable);
}

TEST_F(MainWindowTest, AFolderWithSeveralSeriesAsksWhichToOpen) {
  // Two CT series in one folder: the synthetic study and a half-size copy.
  const std::string folder = (dir_ + "/dicom").toStdString();
  std::filesystem::create_directories(folder);
  imaging::DicomWriteOptions full;
  full.seriesDescription = "Full";
  ASSERT_TRUE(imaging::writeDicomSeries(study_.ct, folder + "/a", full).ok());
  Geometry halfGeometry = study_.ct.geometry();
  halfGeometry.size[2] = 16;
  Volume half = *Volume::create(halfGeometry, 0);
  std::copy(study_.ct.data(), study_.ct.data() + half.voxelCount(), half.data());
  imaging::DicomWriteOptions small;
  small.seriesDescription = "Half";
  ASSERT_TRUE(imaging::writeDicomSeries(half, folder + "/b", small).ok());

  SeriesListing offered;
  window_->setSeriesChooser([&](const SeriesListing& listing, const QString&) {
    offered = listing;
    return std::optional<std::string>(listing.series.back().uid);
  });
  ASSERT_TRUE(window_->openPath(QString::fromStdString(folder)));
  ASSERT_EQ(offered.series.size(), 2u);
  ASSERT_GE(offered.defaultIndex, 0);
  EXPECT_NE(offered.series[offered.defaultIndex].description.find("Full"), std::string::npos);
  EXPECT_EQ(offered.series[0].slices, 32);
  EXPECT_EQ(offered.series[1].slices, 16);
  EXPECT_EQ(model().document().geometry().size[2], 16) << "the chosen series was opened";
  EXPECT_EQ(model().document().ct().at(40, 28, 10), study_.ct.at(40, 28, 10));

  // Cancelling the choice opens nothing and leaves the study as it was.
  window_->setSeriesChooser(
      [](const SeriesListing&, const QString&) { return std::optional<std::string>(); });
  EXPECT_FALSE(window_->openPath(QString::fromStdString(folder)));
  EXPECT_EQ(model().document().geometry().size[2], 16);
  EXPECT_EQ(findMessageBox("errorDialog"), nullptr);
}

}  // namespace
}  // namespace tessera::ui::testing
