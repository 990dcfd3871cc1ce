// A person's edits survive: re-running Segment over painted labels does
// what the chosen answer says as one undoable step, and unsaved labels are
// autosaved to a recovery slot that a later workstation restores.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <thread>

#include "imaging/io/volume_io.h"
#include "tests/support/synthetic_study.h"
#include "ui/model/recovery.h"
#include "ui/model/workstation_model.h"

namespace tessera::ui {
namespace {

namespace fs = std::filesystem;

// Labels every voxel brighter than 100 HU as 3, everything else 0.
SegmentationJob thresholdJob() {
  return [](const Volume& ct, ProgressSink*, const CancelToken&,
            SliceCallback) -> Result<SegmentationOutput> {
    TESSERA_ASSIGN_OR_RETURN(auto labels, Image<std::uint8_t>::create(ct.geometry(), 0));
    for (std::int64_t i = 0; i < ct.voxelCount(); ++i)
      labels.data()[i] = ct.data()[i] > 100 ? 3 : 0;
    return SegmentationOutput{LabelMap{std::move(labels), defaultLabelTable()}, {}, "threshold"};
  };
}

class EditSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::makeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    study_ = testing::makeStudy();
    ctPath_ = dir_ + "/ct.nii.gz";
    labelsPath_ = dir_ + "/labels.nii.gz";
    ASSERT_TRUE(imaging::writeVolume(study_.ct, ctPath_).ok());
    ASSERT_TRUE(imaging::writeLabelMap(study_.labels, labelsPath_).ok());
    for (int p = 0; p < kPlaneCount; ++p) model_.setViewport(static_cast<Plane>(p), 300, 300);
    ASSERT_TRUE(model_.openVolume(ctPath_).ok());
    ASSERT_TRUE(model_.openLabels(labelsPath_).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Paints label 8 with a stroke across the axial view; returns the voxels it changed.
  std::vector<std::int64_t> paint() {
    model_.setSelectedLabel(8);
    model_.setTool(Tool::kPaint);
    EXPECT_TRUE(model_.beginStroke(Plane::kAxial, {100, 150}));
    model_.continueStroke({200, 150});
    model_.endStroke();
    return model_.document().paintedSinceSegmentation();
  }
  void segmentWith(RerunChoice choice) {
    ASSERT_TRUE(model_.startSegmentation(thresholdJob(), {}, choice).ok());
    ASSERT_TRUE(model_.finishSegmentation().ok());
  }
  Image<std::uint8_t>::Buffer threshold() const {
    Image<std::uint8_t>::Buffer out(static_cast<std::size_t>(study_.ct.voxelCount()));
    for (std::int64_t i = 0; i < study_.ct.voxelCount(); ++i)
      out[static_cast<std::size_t>(i)] = study_.ct.data()[i] > 100 ? 3 : 0;
    return out;
  }

  std::string dir_, ctPath_, labelsPath_;
  testing::SyntheticStudy study_;
  WorkstationModel model_;
};

TEST_F(EditSafetyTest, OnlyPaintedLabelsMakeSegmentAsk) {
  EXPECT_FALSE(model_.segmentationWouldReplaceEdits()) << "labels just loaded";
  const auto painted = paint();
  ASSERT_FALSE(painted.empty());
  EXPECT_TRUE(model_.segmentationWouldReplaceEdits());
  ASSERT_TRUE(model_.undo());
  EXPECT_FALSE(model_.segmentationWouldReplaceEdits()) << "the stroke was undone";
  ASSERT_TRUE(model_.redo());
  segmentWith(RerunChoice::kReplace);
  EXPECT_FALSE(model_.segmentationWouldReplaceEdits()) << "nothing painted since the segmentation";
}

TEST_F(EditSafetyTest, ReplaceOverwritesEditsAndUndoRestoresThemInOneStep) {
  paint();
  const auto edited = model_.document().labels().labels.buffer();
  segmentWith(RerunChoice::kReplace);
  EXPECT_TRUE(model_.document().labels().labels.buffer() == threshold());
  EXPECT_TRUE(model_.hasUnsavedEdits());
  ASSERT_NE(model_.document().nextUndo(), nullptr);
  EXPECT_EQ(model_.document().nextUndo()->name, "Segment");
  ASSERT_TRUE(model_.undo());
  EXPECT_TRUE(model_.document().labels().labels.buffer() == edited) << "one step back";
  ASSERT_TRUE(model_.undo());
  EXPECT_TRUE(model_.document().labels().labels.buffer() == study_.labels.labels.buffer())
      << "the stroke's undo is still there";
  EXPECT_FALSE(model_.hasUnsavedEdits());
}

TEST_F(EditSafetyTest, KeepEditsKeepsPaintedVoxelsAndTakesTheResultElsewhere) {
  const auto painted = paint();
  const auto edited = model_.document().labels().labels.buffer();
  segmentWith(RerunChoice::kKeepEdits);
  const auto expectedResult = threshold();
  const auto& labels = model_.document().labels().labels;
  std::size_t p = 0;
  for (std::int64_t i = 0; i < labels.voxelCount(); ++i) {
    const bool isPainted = p < painted.size() && painted[p] == i;
    if (isPainted) ++p;
    const std::uint8_t expected = isPainted ? edited[static_cast<std::size_t>(i)]
                                            : expectedResult[static_cast<std::size_t>(i)];
    ASSERT_EQ(labels.data()[i], expected) << "voxel " << i << (isPainted ? " (painted)" : "");
  }
  EXPECT_EQ(labels.data()[painted.front()], 8);
  ASSERT_NE(model_.document().labels().table.find(8), nullptr)
      << "the painted label keeps its name";
  EXPECT_EQ(model_.document().labels().table.find(8)->name, study_.labels.table.find(8)->name);
  ASSERT_TRUE(model_.undo());
  EXPECT_TRUE(model_.document().labels().labels.buffer() == edited);
}

TEST_F(EditSafetyTest, CancelStartsNothing) {
  paint();
  const auto edited = model_.document().labels().labels.buffer();
  const Status status = model_.startSegmentation(thresholdJob(), {}, RerunChoice::kCancel);
  EXPECT_EQ(status.code(), StatusCode::kCancelled);
  EXPECT_FALSE(model_.segmentationState().running);
  EXPECT_TRUE(model_.document().labels().labels.buffer() == edited);
  EXPECT_EQ(model_.document().nextUndo()->name.rfind("Paint", 0), 0u);
}

TEST_F(EditSafetyTest, AutosaveWritesUnsavedLabelsAndSaveRemovesThem) {
  const std::string recovery = dir_ + "/recovery";
  model_.setRecoveryStore(RecoveryStore(recovery, 4242));
  ASSERT_TRUE(model_.autosave().ok());
  EXPECT_FALSE(fs::exists(recovery + "/4242.json")) << "nothing unsaved, nothing written";
  paint();
  EXPECT_TRUE(model_.recoveryStale());
  ASSERT_TRUE(model_.autosave().ok());
  EXPECT_FALSE(model_.recoveryStale());
  ASSERT_TRUE(fs::exists(recovery + "/4242.json"));
  auto back = imaging::readLabelMap(recovery + "/4242.labels.nii.gz");
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_TRUE(back->labels.buffer() == model_.document().labels().labels.buffer());

  ASSERT_TRUE(model_.saveLabels(dir_ + "/saved.nii.gz").ok());
  EXPECT_FALSE(fs::exists(recovery + "/4242.json")) << "saved work needs no recovery";
  EXPECT_FALSE(fs::exists(recovery + "/4242.labels.nii.gz"));
}

TEST_F(EditSafetyTest, AnotherWorkstationRestoresTheWorkMarkedUnsaved) {
  const std::string recovery = dir_ + "/recovery";
  // A process id that cannot be running: the slot of a dead workstation.
  const long deadPid = 0x3FFFFFFF;
  model_.setRecoveryStore(RecoveryStore(recovery, deadPid));
  paint();
  const auto edited = model_.document().labels().labels.buffer();
  ASSERT_TRUE(model_.autosave().ok());

  WorkstationModel next;
  next.setRecoveryStore(RecoveryStore(recovery, 7));
  const auto orphans = next.recoveryStore().orphans();
  ASSERT_EQ(orphans.size(), 1u);
  EXPECT_EQ(orphans[0].ctPath, ctPath_);
  EXPECT_EQ(orphans[0].labelsPath, labelsPath_);
  ASSERT_TRUE(next.restoreRecovery(orphans[0]).ok());
  EXPECT_TRUE(next.document().labels().labels.buffer() == edited);
  EXPECT_TRUE(next.hasUnsavedEdits());
  EXPECT_EQ(next.document().labelsPath(), labelsPath_) << "Save goes where the labels came from";
  EXPECT_FALSE(fs::exists(orphans[0].manifestPath)) << "the dead slot is taken over";
  EXPECT_TRUE(next.recoveryStore().orphans().empty());
  EXPECT_TRUE(fs::exists(recovery + "/7.json")) << "restored work is protected again";

  // The slot of a running process (this one) is not offered.
  WorkstationModel third;
  third.setRecoveryStore(RecoveryStore(recovery, 8));
  EXPECT_TRUE(third.recoveryStore().orphans().empty());
}

TEST(RecoveryDirectory, EnvironmentChoosesTheFolder) {
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  for (const char* name : {"TESSERA_RECOVERY_DIR", "XDG_STATE_HOME", "HOME"}) {
    const char* value = std::getenv(name);
    saved.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
  }
  setenv("TESSERA_RECOVERY_DIR", "/tmp/r1", 1);
  EXPECT_EQ(recoveryDirectory(), "/tmp/r1");
  unsetenv("TESSERA_RECOVERY_DIR");
  setenv("XDG_STATE_HOME", "/tmp/state", 1);
  EXPECT_EQ(recoveryDirectory(), "/tmp/state/tessera/recovery");
  unsetenv("XDG_STATE_HOME");
  setenv("HOME", "/tmp/home", 1);
  EXPECT_EQ(recoveryDirectory(), "/tmp/home/.local/state/tessera/recovery");
  for (const auto& [name, value] : saved)
    value ? setenv(name.c_str(), value->c_str(), 1) : unsetenv(name.c_str());
}

}  // namespace
}  // namespace tessera::ui
