// The engine behind the workstation, without a display: a small random-weight
// model written as ONNX segments a small phantom through WorkstationModel;
// results are compared with the models module's own Segmenter on the same
// file, and the slices that arrive while the job runs with the final labels,
// for volumes stored in several orientations.
#include "ui/model/model_session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "models/pipeline/model_store.h"
#include "tests/support/engine_study.h"
#include "tests/support/synthetic_study.h"
#include "ui/model/workstation_model.h"

namespace tessera::ui {
namespace {

using namespace std::chrono_literals;
using testing::makeSmallPhantom;
using testing::makeTempDir;
using testing::restore;
using testing::writeSmallModel;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    modelPath_ = dir_ + "/small.onnx";
    writeSmallModel(modelPath_);
    phantom_ = makeSmallPhantom();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The models module's own result for `ct`, the reference.
  models::Segmentation reference(const Volume& ct, models::SegmentMode mode) {
    auto model = models::loadModel(modelPath_);
    EXPECT_TRUE(model.ok());
    models::Segmenter segmenter(*model);
    models::SegmentOptions options;
    options.mode = mode;
    options.keepBlockMap = true;
    options.threads = 1;
    auto result = segmenter.segment(ct, options);
    EXPECT_TRUE(result.ok()) << result.error().toString();
    return std::move(result).value();
  }

  SegmentSettings settings(models::SegmentMode mode = models::SegmentMode::kSparse) const {
    SegmentSettings s;
    s.modelPath = modelPath_;
    s.mode = mode;
    // One thread: these images are too small to share, and the test machine
    // is shared with other work.
    s.threads = 1;
    return s;
  }

  // A job that runs `inner` but holds its result until `release` is set, so
  // that a test sees the state after the last slice and before the end.
  static SegmentationJob heldAtTheEnd(SegmentationJob inner, std::atomic<bool>* release) {
    return [inner = std::move(inner), release](const Volume& ct, ProgressSink* sink,
                                               const CancelToken& cancel, SliceCallback onSlice) {
      auto result = inner(ct, sink, cancel, onSlice);
      while (!release->load() && !cancel.cancelled()) std::this_thread::sleep_for(1ms);
      return result;
    };
  }

  std::string dir_, modelPath_;
  imaging::Phantom phantom_;
};

TEST_F(EngineTest, SegmentsAPhantomLikeTheEngineItself) {
  WorkstationModel model;
  ASSERT_TRUE(model.setVolume(phantom_.ct, "phantom").ok());
  ASSERT_TRUE(model.segment(settings()).ok());
  EXPECT_TRUE(model.segmentationState().running);
  ASSERT_TRUE(model.finishSegmentation().ok());
  EXPECT_FALSE(model.segmentationState().running);
  EXPECT_EQ(model.segmentationState().message, "Done");
  EXPECT_NE(model.segmentationState().summary.find("sparse"), std::string::npos);

  const models::Segmentation expected = reference(phantom_.ct, models::SegmentMode::kSparse);
  const auto& labels = model.document().labels();
  EXPECT_TRUE(labels.labels.buffer() == expected.labels.labels.buffer());
  EXPECT_TRUE(sameGeometry(labels.labels.geometry(), phantom_.ct.geometry()));
  EXPECT_EQ(labels.table.nameOf(5), "liver") << "the model's label table";
  EXPECT_TRUE(model.hasUnsavedEdits()) << "a new segmentation is not saved yet";

  // The label table counts what the labels hold.
  std::array<std::int64_t, 256> counts{};
  for (std::int64_t i = 0; i < labels.labels.voxelCount(); ++i) ++counts[labels.labels.data()[i]];
  std::int64_t labelled = 0;
  for (const LabelRow& row : model.labelTable().rows()) {
    EXPECT_EQ(row.voxels, counts[row.value]) << row.name;
    labelled += row.voxels;
  }
  EXPECT_GT(labelled, 0) << "the test model labels something";

  // The computed blocks of the sparse run, as the engine reports them.
  ASSERT_NE(model.document().blockMap(), nullptr);
  EXPECT_TRUE(model.document().blockMap()->buffer() == expected.computedBlocks.buffer());
  std::int64_t computed = 0;
  for (std::uint8_t b : expected.computedBlocks.buffer()) computed += b != 0;
  EXPECT_GT(computed, 0);
  EXPECT_LT(computed, expected.computedBlocks.voxelCount()) << "air blocks are skipped";
}

TEST_F(EngineTest, ArrivingSlicesEqualTheFinalLabelsInEveryOrientation) {
  const std::array<std::array<int, 3>, 3> permutations{{{0, 1, 2}, {0, 2, 1}, {2, 0, 1}}};
  const std::array<std::array<int, 3>, 3> signs{{{-1, -1, 1}, {1, -1, -1}, {1, 1, -1}}};
  const Image<std::uint8_t> axial =
      reference(phantom_.ct, models::SegmentMode::kSparse).labels.labels;
  for (std::size_t o = 0; o < permutations.size(); ++o) {
    const Volume ct = restore(phantom_.ct, permutations[o], signs[o]);
    SCOPED_TRACE(orientationCode(ct.geometry().direction));
    WorkstationModel model;
    ASSERT_TRUE(model.setVolume(ct, "phantom").ok());
    ASSERT_TRUE(model.modelSession().load(modelPath_).ok());
    std::atomic<bool> release{false};
    ASSERT_TRUE(
        model
            .startSegmentation(heldAtTheEnd(model.modelSession().makeJob(settings()), &release),
                               model.modelSession().info().labels)
            .ok());
    const int slices = static_cast<int>(phantom_.ct.nz());
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (model.segmentationState().slicesDone < slices &&
           std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE(model.pollSegmentation().ok());
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(model.segmentationState().slicesDone, slices);
    EXPECT_TRUE(model.segmentationState().running);
    const auto arrived = model.displayedLabels().buffer();
    std::int64_t labelled = 0;
    for (const LabelRow& row : model.labelTable().rows()) labelled += row.voxels;
    release = true;
    ASSERT_TRUE(model.finishSegmentation().ok());

    const auto& final = model.document().labels().labels.buffer();
    EXPECT_TRUE(arrived == final) << "slices placed where the final labels are";
    std::int64_t expected = 0;
    for (std::uint8_t v : arrived) expected += v != 0;
    EXPECT_EQ(labelled, expected) << "the table followed the arriving slices";
    // The same anatomy gets the same labels whatever the storage order.
    EXPECT_TRUE(final == restore(axial, permutations[o], signs[o]).buffer());
  }
}

TEST_F(EngineTest, CancelKeepsThePreviousLabelsAndBlockMap) {
  WorkstationModel model;
  ASSERT_TRUE(model.setVolume(phantom_.ct, "phantom").ok());
  ASSERT_TRUE(model.setLabels(phantom_.labels, "truth.nii.gz").ok());
  ASSERT_TRUE(model.segment(settings()).ok());
  ASSERT_TRUE(model.finishSegmentation().ok());
  ASSERT_TRUE(model.setLabels(phantom_.labels, "truth.nii.gz").ok());
  const auto blocks = model.document().blockMap()->buffer();

  std::atomic<bool> release{false};
  ASSERT_TRUE(
      model
          .startSegmentation(heldAtTheEnd(model.modelSession().makeJob(settings()), &release),
                             model.modelSession().info().labels)
          .ok());
  while (model.segmentationState().slicesDone < 3) {
    ASSERT_TRUE(model.pollSegmentation().ok());
    std::this_thread::sleep_for(1ms);
  }
  model.cancelSegmentation();
  EXPECT_TRUE(model.finishSegmentation().ok()) << "cancelling is not an error";
  EXPECT_EQ(model.segmentationState().message, "Cancelled");
  EXPECT_TRUE(model.document().labels().labels.buffer() == phantom_.labels.labels.buffer());
  ASSERT_NE(model.document().blockMap(), nullptr);
  EXPECT_TRUE(model.document().blockMap()->buffer() == blocks);
  EXPECT_FALSE(model.hasUnsavedEdits());
  EXPECT_GT(model.labelTable().find(5)->voxels, 0) << "the table shows the kept labels";
}

TEST_F(EngineTest, DenseRunsMatchTheEngineAndDropTheOldBlockMap) {
  WorkstationModel model;
  ASSERT_TRUE(model.setVolume(phantom_.ct, "phantom").ok());
  ASSERT_TRUE(model.segment(settings()).ok());
  ASSERT_TRUE(model.finishSegmentation().ok());
  ASSERT_NE(model.document().blockMap(), nullptr);
  model.setShowBlocks(true);
  ASSERT_TRUE(model.segment(settings(models::SegmentMode::kDense)).ok());
  ASSERT_TRUE(model.finishSegmentation().ok());
  EXPECT_TRUE(model.document().labels().labels.buffer() ==
              reference(phantom_.ct, models::SegmentMode::kDense).labels.labels.buffer());
  EXPECT_EQ(model.document().blockMap(), nullptr) << "a dense run computes every block";
  EXPECT_FALSE(model.showBlocks());
  EXPECT_NE(model.segmentationState().summary.find("dense"), std::string::npos);
}

TEST_F(EngineTest, TheModelIsLoadedOnceAndKept) {
  ModelSession session;
  EXPECT_FALSE(session.loaded());
  EXPECT_FALSE(session.makeJob(settings())) << "no job without a model";
  ASSERT_TRUE(session.load(modelPath_).ok());
  const models::ModelInfo* first = &session.info();
  EXPECT_EQ(first->name, "small-test-model");
  EXPECT_EQ(session.path(), modelPath_);
  ASSERT_TRUE(session.load(modelPath_).ok());
  EXPECT_EQ(&session.info(), first) << "the same model object, not a reload";
  EXPECT_EQ(describeModel(session.info())
                .rfind("small-test-model 0.1 \xC2\xB7 9 labels: soft_tissue, fat,", 0),
            0u)
      << describeModel(session.info());
}

TEST_F(EngineTest, ABrokenModelFileIsAnErrorAndChangesNothing) {
  const std::string broken = dir_ + "/broken.onnx";
  {
    // The first bytes of a real model, cut short.
    std::ifstream in(modelPath_, std::ios::binary);
    std::string bytes(2000, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream(broken, std::ios::binary) << bytes;
  }
  WorkstationModel model;
  ASSERT_TRUE(model.setVolume(phantom_.ct, "phantom").ok());
  ASSERT_TRUE(model.setLabels(phantom_.labels, "truth.nii.gz").ok());
  ASSERT_TRUE(model.modelSession().load(modelPath_).ok());

  SegmentSettings bad = settings();
  bad.modelPath = broken;
  const Status status = model.segment(bad);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("not a model Tessera can run"), std::string::npos)
      << status.toString();
  EXPECT_FALSE(model.segmentationState().running);
  EXPECT_TRUE(model.document().labels().labels.buffer() == phantom_.labels.labels.buffer());
  EXPECT_EQ(model.modelSession().path(), modelPath_) << "the previous model stays loaded";

  SegmentSettings missing = settings();
  missing.modelPath = dir_ + "/no-such-model.onnx";
  const Status absent = model.segment(missing);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.code(), StatusCode::kNotFound);
  EXPECT_EQ(absent.error().message, "The model file does not exist.");
  ASSERT_TRUE(model.segment(settings()).ok()) << "still usable";
  EXPECT_TRUE(model.finishSegmentation().ok());
}

}  // namespace
}  // namespace tessera::ui
