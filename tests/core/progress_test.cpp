#include "core/progress.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tessera {
namespace {

struct RecordingSink : ProgressSink {
  std::vector<ProgressUpdate> updates;
  void update(const ProgressUpdate& u) override { updates.push_back(u); }
};

TEST(Progress, TrackerReportsEdgesAndThrottlesTheMiddle) {
  RecordingSink sink;
  ProgressTracker tracker(&sink, 10.0);
  tracker.report(0.0, "start");
  for (int i = 1; i < 100; ++i) tracker.report(i / 100.0, "work");
  tracker.report(1.0, "done");
  ASSERT_EQ(sink.updates.size(), 2u);
  EXPECT_EQ(sink.updates.back().message, "done");
  EXPECT_DOUBLE_EQ(sink.updates.back().etaSeconds, 0.0);
}

TEST(Progress, EtaExtrapolatesFromElapsedTime) {
  RecordingSink sink;
  ProgressTracker tracker(&sink, 0.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  tracker.report(0.25, "quarter");
  ASSERT_EQ(sink.updates.size(), 1u);
  const ProgressUpdate& u = sink.updates[0];
  EXPECT_GE(u.elapsedSeconds, 0.29);
  EXPECT_NEAR(u.etaSeconds, 3.0 * u.elapsedSeconds, 1e-9);
}

TEST(Progress, SubProgressMapsOntoTheParentRange) {
  RecordingSink sink;
  SubProgress sub(&sink, 0.2, 0.6);
  ProgressUpdate u;
  u.fraction = 0.5;
  u.message = "half";
  sub.update(u);
  ASSERT_FALSE(sink.updates.empty());
  EXPECT_NEAR(sink.updates.back().fraction, 0.4, 1e-12);
}

TEST(Progress, CancelTokenIsSharedBetweenCopies) {
  CancelToken token;
  CancelToken copy = token;
  EXPECT_TRUE(copy.check().ok());
  token.cancel();
  EXPECT_TRUE(copy.cancelled());
  EXPECT_EQ(copy.check().code(), StatusCode::kCancelled);
}

TEST(Progress, DurationsAreHumanReadable) {
  EXPECT_EQ(formatDuration(12.2), "12s");
  EXPECT_EQ(formatDuration(65), "1m 05s");
  EXPECT_EQ(formatDuration(7380), "2h 03m");
  EXPECT_EQ(formatDuration(-1), "--");
}

}  // namespace
}  // namespace tessera
