#include "ui/model/segmentation_controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/support/synthetic_study.h"

namespace tessera::ui {
namespace {

using namespace std::chrono_literals;

// A stand-in for the engine: labels every voxel above `thresholdHu` as 1,
// slice by slice, reporting progress and checking the cancel token.
SegmentationJob thresholdJob(int thresholdHu, std::chrono::milliseconds perSlice = 0ms) {
  return [thresholdHu, perSlice](const Volume& ct, ProgressSink* sink, const CancelToken& cancel,
                                 SliceCallback onSlice) -> Result<SegmentationOutput> {
    TESSERA_ASSIGN_OR_RETURN(auto labels, Image<std::uint8_t>::create(ct.geometry(), 0));
    ProgressTracker tracker(sink, 0.0);
    const std::int64_t n = ct.nx() * ct.ny();
    for (std::int64_t k = 0; k < ct.nz(); ++k) {
      TESSERA_RETURN_IF_ERROR(cancel.check());
      if (perSlice.count() > 0) std::this_thread::sleep_for(perSlice);
      for (std::int64_t i = 0; i < n; ++i) labels.slice(k)[i] = ct.slice(k)[i] > thresholdHu;
      onSlice(SlicePlacement::axial(ct.geometry().size, k), labels.slice(k));
      tracker.report(double(k + 1) / double(ct.nz()), "slice");
    }
    return SegmentationOutput{LabelMap{std::move(labels), defaultLabelTable()}, {}, "threshold"};
  };
}

std::shared_ptr<const Volume> makeCt() {
  return std::make_shared<const Volume>(testing::makeStudy().ct);
}

TEST(SegmentationControllerTest, DeliversEverySliceProgressAndResult) {
  std::atomic<int> wakes{0};
  std::atomic<bool> wokeOnWorker{false};
  const auto uiThread = std::this_thread::get_id();
  SegmentationController controller([&] {
    ++wakes;
    if (std::this_thread::get_id() != uiThread) wokeOnWorker = true;
  });
  const auto ct = makeCt();
  ASSERT_TRUE(controller.start(ct, thresholdJob(0, 1ms)).ok());
  EXPECT_TRUE(controller.busy());

  std::vector<FinishedSlice> slices;
  std::vector<double> fractions;
  std::optional<Result<SegmentationOutput>> result;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!result && std::chrono::steady_clock::now() < deadline) {
    SegmentationEvents events = controller.poll();
    for (auto& s : events.slices) slices.push_back(std::move(s));
    if (events.progress) fractions.push_back(events.progress->fraction);
    if (events.result) result.emplace(std::move(*events.result));
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->ok()) << result->error().toString();
  EXPECT_FALSE(controller.busy());
  EXPECT_GT(wakes.load(), 0);
  EXPECT_TRUE(wokeOnWorker.load());

  ASSERT_EQ(slices.size(), std::size_t(ct->nz()));
  for (std::size_t s = 0; s < slices.size(); ++s) {
    const SlicePlacement& where = slices[s].placement;
    EXPECT_EQ(where.firstVoxel, std::int64_t(s) * ct->nx() * ct->ny());
    EXPECT_EQ(where.vStride, ct->nx());
    ASSERT_EQ(slices[s].labels.size(), std::size_t(ct->nx() * ct->ny()));
    for (std::int64_t i = 0; i < ct->nx() * ct->ny(); ++i)
      ASSERT_EQ(slices[s].labels[i], ct->slice(std::int64_t(s))[i] > 0 ? 1 : 0);
  }
  const auto& labels = (*result)->labels.labels;
  for (std::int64_t i = 0; i < ct->voxelCount(); ++i)
    ASSERT_EQ(labels.data()[i], ct->data()[i] > 0 ? 1 : 0);
  ASSERT_FALSE(fractions.empty());
  EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end()));
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
}

TEST(SegmentationControllerTest, CancelStopsTheJobEarly) {
  SegmentationController controller;
  std::atomic<int> slicesDone{0};
  SegmentationJob job = [&](const Volume& ct, ProgressSink* sink, const CancelToken& cancel,
                            SliceCallback onSlice) -> Result<SegmentationOutput> {
    auto inner = thresholdJob(0, 20ms);
    return inner(ct, sink, cancel, [&](const SlicePlacement& where, const std::uint8_t* labels) {
      ++slicesDone;
      onSlice(where, labels);
    });
  };
  ASSERT_TRUE(controller.start(makeCt(), job).ok());
  while (slicesDone.load() < 2) std::this_thread::sleep_for(1ms);
  controller.cancel();
  controller.wait();
  SegmentationEvents events = controller.poll();
  ASSERT_TRUE(events.result);
  ASSERT_FALSE(events.result->ok());
  EXPECT_EQ(events.result->error().code, StatusCode::kCancelled);
  EXPECT_LT(slicesDone.load(), 32);
  EXPECT_FALSE(controller.busy());
}

TEST(SegmentationControllerTest, RefusesASecondJobWhileBusy) {
  SegmentationController controller;
  ASSERT_TRUE(controller.start(makeCt(), thresholdJob(0, 5ms)).ok());
  const Status second = controller.start(makeCt(), thresholdJob(0));
  EXPECT_FALSE(second.ok());
  controller.wait();
  EXPECT_TRUE(controller.busy()) << "busy until the result is polled";
  EXPECT_TRUE(controller.poll().result);
  EXPECT_TRUE(controller.start(makeCt(), thresholdJob(0)).ok());
  controller.wait();
}

TEST(SegmentationControllerTest, JobErrorsAndExceptionsComeBackAsErrors) {
  SegmentationController controller;
  ASSERT_TRUE(
      controller
          .start(makeCt(),
                 [](const Volume&, ProgressSink*, const CancelToken&,
                    SliceCallback) -> Result<SegmentationOutput> {
                   return Error{StatusCode::kCorruptData, "model file is damaged", "m.onnx"};
                 })
          .ok());
  controller.wait();
  auto events = controller.poll();
  ASSERT_TRUE(events.result && !events.result->ok());
  EXPECT_EQ(events.result->error().code, StatusCode::kCorruptData);

  ASSERT_TRUE(controller
                  .start(makeCt(),
                         [](const Volume&, ProgressSink*, const CancelToken&,
                            SliceCallback) -> Result<SegmentationOutput> {
                           throw std::runtime_error("out of range");
                         })
                  .ok());
  controller.wait();
  events = controller.poll();
  ASSERT_TRUE(events.result && !events.result->ok());
  EXPECT_EQ(events.result->error().code, StatusCode::kInternal);
  EXPECT_NE(events.result->error().message.find("out of range"), std::string::npos);
}

TEST(SegmentationControllerTest, DestructionCancelsARunningJob) {
  std::atomic<bool> sawCancel{false};
  {
    SegmentationController controller;
    ASSERT_TRUE(controller
                    .start(makeCt(),
                           [&](const Volume&, ProgressSink*, const CancelToken& cancel,
                               SliceCallback) -> Result<SegmentationOutput> {
                             while (!cancel.cancelled()) std::this_thread::sleep_for(1ms);
                             sawCancel = true;
                             return cancel.check();
                           })
                    .ok());
  }
  EXPECT_TRUE(sawCancel.load());
}

}  // namespace
}  // namespace tessera::ui
