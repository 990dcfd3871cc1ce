// Segmenting in the window with the real engine: a small model written as
// ONNX, whose heads label every block the engine computes as liver, segments
// a small phantom. The Segment dialog starts it;
// labels show in the views and the label table, slices appear before the
// job ends, Cancel keeps the labels there were, a sparse run's computed
// blocks become the overlay, and a file that is not a model gets a dialog.
#include <QComboBox>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QStatusBar>
#include <QToolButton>

#include <atomic>
#include <cmath>
#include <fstream>
#include <thread>

#include "core/parallel.h"
#include "main_window_fixture.h"
#include "tests/support/engine_study.h"
#include "ui/model/slice_image.h"
#include "ui/widgets/segment_dialog.h"

namespace tessera::ui::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::uint8_t kLiver = 5;

class SegmentWindowTest : public MainWindowTest {
 protected:
  void SetUp() override {
    MainWindowTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // These images are too small to share between threads, and the test
    // machine is shared with other work.
    setNumThreads(1);
    modelPath_ = dir_ + "/small.onnx";
    writeConstantModel(modelPath_.toStdString(), kLiver);
    phantom_ = makeSmallPhantom();
    phantomPath_ = dir_ + "/phantom.nii.gz";
    truthPath_ = dir_ + "/truth.nii.gz";
    ASSERT_TRUE(imaging::writeVolume(phantom_.ct, phantomPath_.toStdString()).ok());
    ASSERT_TRUE(imaging::writeLabelMap(phantom_.labels, truthPath_.toStdString()).ok());
  }
  void TearDown() override {
    MainWindowTest::TearDown();
    setNumThreads(0);
  }

  SegmentSettings settings() const {
    SegmentSettings s;
    s.modelPath = modelPath_.toStdString();
    return s;
  }

  // The colour voxel (i, j, k) of the axial view shows, as drawn from the
  // model's labels and table.
  std::array<std::uint8_t, 3> expectedColour(const Vec3& ijk) {
    const auto label = model().displayedLabels().at(std::int64_t(ijk[0]), std::int64_t(ijk[1]),
                                                    std::int64_t(ijk[2]));
    const std::uint8_t g =
        greyFor(phantom_.ct.at(std::int64_t(ijk[0]), std::int64_t(ijk[1]), std::int64_t(ijk[2])),
                model().windowLevel());
    if (label == 0) return {g, g, g};
    return blend({g, g, g}, model().labelTableForDisplay().find(label)->rgb,
                 model().labelOpacity());
  }

  // A voxel of slice k near the middle of the body that the shown labels
  // give `label` and the phantom's truth does not, if any.
  std::optional<Vec3> voxelShowing(std::uint8_t label, std::int64_t k) {
    const auto& labels = model().displayedLabels();
    for (std::int64_t j = 40; j < 88; ++j)
      for (std::int64_t i = 40; i < 88; ++i)
        if (labels.at(i, j, k) == label && phantom_.labels.labels.at(i, j, k) != label)
          return Vec3{double(i), double(j), double(k)};
    return std::nullopt;
  }

  QString modelPath_, phantomPath_, truthPath_;
  imaging::Phantom phantom_;
};

TEST_F(SegmentWindowTest, TheSegmentDialogRunsTheModelIntoViewsTableAndBlocks) {
  ASSERT_TRUE(window_->openPath(phantomPath_));
  ASSERT_TRUE(window_->waitForSurfaces());
  EXPECT_EQ(window_->view3d()->scene().volumePreset(), VolumePreset::kBone) << "no labels yet";
  auto* segment = window_->findChild<QAction*>("segmentAction");
  ASSERT_NE(segment, nullptr);
  EXPECT_TRUE(segment->isEnabled());
  QAction* blocks = action("Computed Blocks");
  ASSERT_NE(blocks, nullptr);
  EXPECT_FALSE(blocks->isEnabled());

  segment->trigger();
  auto* dialog = window_->findChild<SegmentDialog*>("segmentDialog");
  ASSERT_NE(dialog, nullptr);
  ASSERT_TRUE(waitUntil([&] { return dialog->isVisible(); }));
  ASSERT_TRUE(dialog->chooseModelFile(modelPath_));
  auto* info = dialog->findChild<QLabel*>("modelInfo");
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->text().startsWith("constant-test-model 0.1")) << info->text().toStdString();
  EXPECT_TRUE(info->text().contains("liver"));
  auto* mode = dialog->findChild<QComboBox*>("segmentMode");
  auto* settle = dialog->findChild<QComboBox*>("settleLevel");
  ASSERT_TRUE(mode && settle);
  mode->setCurrentIndex(1);
  EXPECT_FALSE(settle->isEnabled()) << "settling is a sparse-mode setting";
  mode->setCurrentIndex(0);
  settle->setCurrentIndex(2);
  EXPECT_EQ(dialog->settings().modelPath, modelPath_.toStdString());
  EXPECT_EQ(dialog->settings().mode, models::SegmentMode::kSparse);
  EXPECT_EQ(dialog->settings().settling, models::Settling::kBalanced);
  dialog->findChild<QPushButton*>("startSegmentation")->click();

  ASSERT_TRUE(waitUntil([&] { return !model().segmentationState().running; }, 60000));
  EXPECT_EQ(model().segmentationState().message, "Done");
  EXPECT_EQ(findMessageBox("errorDialog"), nullptr);
  EXPECT_TRUE(window_->isWindowModified()) << "the new segmentation is not saved";
  EXPECT_TRUE(window_->statusBar()->currentMessage().startsWith("Segmented: 8 slices"))
      << window_->statusBar()->currentMessage().toStdString();

  // The model labels exactly the computed blocks.
  const auto& labels = model().document().labels().labels;
  const BlockMap* computed = model().document().blockMap();
  ASSERT_NE(computed, nullptr);
  std::int64_t inBlocks = 0;
  for (std::int64_t i = 0; i < labels.voxelCount(); ++i) {
    ASSERT_EQ(labels.data()[i], computed->data()[i] != 0 ? kLiver : 0) << "voxel " << i;
    inBlocks += computed->data()[i] != 0;
  }
  EXPECT_GT(inBlocks, 0);
  EXPECT_LT(inBlocks, labels.voxelCount()) << "air blocks are not computed";

  // The label table shows each label's millilitres and mean HU as counted
  // from the labels.
  std::array<std::int64_t, 256> counts{};
  std::array<double, 256> sums{};
  for (std::int64_t i = 0; i < labels.voxelCount(); ++i) {
    ++counts[labels.data()[i]];
    sums[labels.data()[i]] += phantom_.ct.data()[i];
  }
  const Vec3& sp = phantom_.ct.geometry().spacingMm;
  LabelTableWidget* table = window_->labelTable();
  int filled = 0;
  for (std::uint8_t value = 1; value < 10; ++value) {
    const int row = table->rowOf(value);
    ASSERT_GE(row, 0) << int(value);
    if (counts[value] == 0) {
      EXPECT_EQ(table->item(row, LabelTableWidget::kVolumeColumn)->text(), "\u2013");
      continue;
    }
    ++filled;
    EXPECT_EQ(table->item(row, LabelTableWidget::kVolumeColumn)->text(),
              QString::number(counts[value] * sp[0] * sp[1] * sp[2] / 1000.0, 'f', 2));
    EXPECT_EQ(table->item(row, LabelTableWidget::kMeanColumn)->text(),
              QString::number(sums[value] / counts[value], 'f', 1));
  }
  EXPECT_GT(filled, 0);

  // The 3D view shows the labels' surfaces instead of the volume rendering.
  ASSERT_TRUE(window_->waitForSurfaces());
  EXPECT_EQ(window_->view3d()->scene().volumePreset(), VolumePreset::kOff);
  EXPECT_GT(window_->view3d()->scene().surfaceCount(), 0u);

  // The axial view shows the labels in their colours.
  axial()->setCrosshairVisible(false);
  const std::int64_t k = model().view(Plane::kAxial).slice();
  const auto voxel = voxelShowing(kLiver, k);
  ASSERT_TRUE(voxel);
  EXPECT_EQ(rgbAt(grab(axial()), pointOf(axial(), *voxel)), expectedColour(*voxel));

  // The computed blocks of the sparse run: the toggle draws them (the
  // blocks at the corners hold only air and are not computed).
  EXPECT_EQ(computed->at(0, 0, k), 0);
  EXPECT_TRUE(blocks->isEnabled());
  const QImage without = grab(axial());
  blocks->trigger();
  EXPECT_TRUE(model().showBlocks());
  const QImage with = grab(axial());
  int changed = 0;
  for (std::int64_t j = 0; j < 128; j += 4)
    for (std::int64_t i = 0; i < 128; i += 4) {
      const QPoint p = pointOf(axial(), {double(i), double(j), double(k)});
      changed += with.pixel(p) != without.pixel(p);
    }
  EXPECT_GT(changed, 20) << "the block overlay shows";
  const QPoint corner = pointOf(axial(), {2, 2, double(k)});
  EXPECT_EQ(with.pixel(corner), without.pixel(corner)) << "uncomputed air blocks stay as they were";
}

TEST_F(SegmentWindowTest, SlicesAppearWhileItRunsAndCancelKeepsTheLabels) {
  ASSERT_TRUE(window_->openPath(phantomPath_));
  ASSERT_TRUE(window_->openSegmentation(truthPath_));
  ModelSession& session = model().modelSession();
  ASSERT_TRUE(session.load(modelPath_.toStdString()).ok());
  // The real job, held after each slice until the test lets it go on.
  std::atomic<int> released{0};
  SegmentationJob engine = session.makeJob(settings());
  SegmentationJob held = [&released, engine](const Volume& ct, ProgressSink* sink,
                                             const CancelToken& cancel, SliceCallback onSlice) {
    std::atomic<int> done{0};
    return engine(ct, sink, cancel, [&](const SlicePlacement& where, const std::uint8_t* labels) {
      onSlice(where, labels);
      ++done;
      while (done.load() >= released.load() && !cancel.cancelled())
        std::this_thread::sleep_for(1ms);
    });
  };
  ASSERT_TRUE(model().startSegmentation(held, session.info().labels).ok());
  released = 3;
  ASSERT_TRUE(waitUntil([&] { return model().segmentationState().slicesDone >= 3; }));
  EXPECT_TRUE(model().segmentationState().running);
  auto* progress = window_->findChild<QProgressBar*>("segmentationProgress");
  auto* cancel = window_->findChild<QToolButton*>("cancelSegmentation");
  ASSERT_TRUE(progress && cancel);
  EXPECT_TRUE(progress->isVisible());
  EXPECT_TRUE(progress->text().contains("ETA")) << progress->text().toStdString();
  EXPECT_FALSE(window_->findChild<QAction*>("segmentAction")->isEnabled());

  // Slice 1 is done: the view shows its arriving labels, not the truth.
  model().scroll(Plane::kAxial, 1 - static_cast<int>(model().view(Plane::kAxial).slice()));
  axial()->setCrosshairVisible(false);
  const auto voxel = voxelShowing(kLiver, 1);
  ASSERT_TRUE(voxel);
  EXPECT_EQ(rgbAt(grab(axial()), pointOf(axial(), *voxel)), expectedColour(*voxel));
  std::int64_t arriving = 0;
  for (const LabelRow& row : model().labelTable().rows()) arriving += row.voxels;
  EXPECT_GT(arriving, 0);
  EXPECT_LT(arriving, phantom_.ct.voxelCount() / 2) << "three of eight slices";

  cancel->click();
  ASSERT_TRUE(waitUntil([&] { return !model().segmentationState().running; }));
  EXPECT_EQ(model().segmentationState().message, "Cancelled");
  EXPECT_EQ(findMessageBox("errorDialog"), nullptr) << "cancelling is not an error";
  EXPECT_TRUE(model().document().labels().labels.buffer() == phantom_.labels.labels.buffer());
  EXPECT_FALSE(window_->isWindowModified());
  EXPECT_EQ(model().document().blockMap(), nullptr);
  const Vec3 liver = *[&]() -> std::optional<Vec3> {
    for (std::int64_t j = 0; j < 128; ++j)
      for (std::int64_t i = 0; i < 128; ++i)
        if (phantom_.labels.labels.at(i, j, 1) == 5) return Vec3{double(i), double(j), 1.0};
    return Vec3{64, 64, 1};
  }();
  EXPECT_EQ(rgbAt(grab(axial()), pointOf(axial(), liver)), expectedColour(liver))
      << "the view shows the kept labels";
  EXPECT_EQ(model().displayedLabels().at(std::int64_t(liver[0]), std::int64_t(liver[1]), 1), 5);
}

TEST_F(SegmentWindowTest, AFileThatIsNotAModelGetsADialogAndTheWindowStaysUsable) {
  ASSERT_TRUE(window_->openPath(phantomPath_));
  ASSERT_TRUE(window_->openSegmentation(truthPath_));
  const QString broken = dir_ + "/broken.onnx";
  std::ofstream(broken.toStdString(), std::ios::binary) << "ONNX? no: a text file";

  SegmentSettings bad = settings();
  bad.modelPath = broken.toStdString();
  EXPECT_FALSE(window_->segment(bad));
  QMessageBox* box = findMessageBox("errorDialog");
  ASSERT_NE(box, nullptr);
  EXPECT_TRUE(box->text().contains("not a model")) << box->text().toStdString();
  box->close();
  EXPECT_FALSE(model().segmentationState().running);
  EXPECT_TRUE(model().document().labels().labels.buffer() == phantom_.labels.labels.buffer());

  // The dialog refuses it too and keeps its previous choice.
  SegmentDialog* dialog = window_->openSegmentDialog();
  ASSERT_NE(dialog, nullptr);
  ASSERT_TRUE(dialog->chooseModelFile(modelPath_));
  EXPECT_FALSE(dialog->chooseModelFile(broken));
  EXPECT_NE(findMessageBox("errorDialog"), nullptr);
  EXPECT_EQ(dialog->settings().modelPath, modelPath_.toStdString());
  for (QWidget* w : QApplication::topLevelWidgets())
    if (auto* b = qobject_cast<QMessageBox*>(w)) b->close();
  dialog->findChild<QPushButton*>("startSegmentation")->click();
  ASSERT_TRUE(waitUntil([&] { return !model().segmentationState().running; }, 60000));
  EXPECT_EQ(model().segmentationState().message, "Done");
}

}  // namespace
}  // namespace tessera::ui::testing
