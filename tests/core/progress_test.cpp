#include "core/progress.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
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

TEST(Progress, TaskClockRetimesUpdatesFromLateTrackers) {
  // A tracker made only to report "done" (as a job's last step does) says
  // 0 s elapsed; the clock of the whole task says how long it really took.
  const TaskClock::Clock::time_point start{};
  const TaskClock clock(start);
  ProgressUpdate done;
  done.fraction = 1.0;
  done.elapsedSeconds = 0.0;
  done.etaSeconds = 0.0;
  done.message = "done";
  const ProgressUpdate u = clock.retime(done, start + std::chrono::milliseconds(7200));
  EXPECT_NEAR(u.elapsedSeconds, 7.2, 1e-9);
  EXPECT_EQ(u.etaSeconds, 0.0);
  EXPECT_EQ(u.message, "done");

  ProgressUpdate quarter;
  quarter.fraction = 0.25;
  quarter.elapsedSeconds = 0.5;  // a sub-task's tracker, started late
  const ProgressUpdate q = clock.retime(quarter, start + std::chrono::seconds(3));
  EXPECT_NEAR(q.elapsedSeconds, 3.0, 1e-9);
  EXPECT_NEAR(q.etaSeconds, 9.0, 1e-9);
}

TEST(Progress, SinkWithATaskClockSeesTheTrueElapsedTimeAtTheEnd) {
  // What ConsoleProgress does: re-time whatever arrives.
  struct RetimingSink : ProgressSink {
    TaskClock clock;
    std::vector<ProgressUpdate> updates;
    void update(const ProgressUpdate& u) override { updates.push_back(clock.retime(u)); }
  } sink;
  constexpr auto kWork = std::chrono::milliseconds(300);
  std::this_thread::sleep_for(kWork);
  ProgressTracker(&sink).report(1.0, "done");
  ASSERT_EQ(sink.updates.size(), 1u);
  const ProgressUpdate& u = sink.updates[0];
  EXPECT_GE(u.elapsedSeconds, 0.29);
  const std::string line = formatProgressStatus(u);
  EXPECT_EQ(line, "100% done in " + formatElapsed(u.elapsedSeconds)) << line;
  EXPECT_EQ(line.find("ETA"), std::string::npos) << line;
  EXPECT_NE(line, "100% done in 0.0 s");
}

TEST(Progress, FinishedLinesSayHowLongNotAnEta) {
  ProgressUpdate u;
  u.fraction = 1.0;
  u.elapsedSeconds = 7.2;
  u.etaSeconds = 0.0;
  u.message = "done";
  EXPECT_EQ(formatProgressStatus(u), "100% done in 7.2 s");
  u.message = "";
  EXPECT_EQ(formatProgressStatus(u), "100% done in 7.2 s");
  u.message = "3 cases";
  u.elapsedSeconds = 125;
  EXPECT_EQ(formatProgressStatus(u), "100% 3 cases, done in 2m 05s");
}

TEST(Progress, RunningLinesShowElapsedAndEta) {
  ProgressUpdate u;
  u.fraction = 0.42;
  u.elapsedSeconds = 3.0;
  u.etaSeconds = 4.1;
  u.message = "slice 3/10";
  EXPECT_EQ(formatProgressStatus(u), " 42% slice 3/10 (elapsed 3s, ETA 4s)");
  u.fraction = 0.0;
  u.etaSeconds = -1;
  u.message = "reading";
  EXPECT_EQ(formatProgressStatus(u), "  0% reading (elapsed 3s, ETA --)");
}

TEST(Progress, ElapsedTimesKeepATenthOfASecond) {
  EXPECT_EQ(formatElapsed(7.24), "7.2 s");
  EXPECT_EQ(formatElapsed(0.04), "0.0 s");
  EXPECT_EQ(formatElapsed(59.9), "59.9 s");
  EXPECT_EQ(formatElapsed(65), "1m 05s");
  EXPECT_EQ(formatElapsed(-1), "--");
}

TEST(Progress, RemainingTimeIsUnknownEarlyAndZeroAtTheEnd) {
  EXPECT_LT(estimateRemainingSeconds(0.1, 0.5), 0.0);
  EXPECT_LT(estimateRemainingSeconds(5.0, 0.0), 0.0);
  EXPECT_NEAR(estimateRemainingSeconds(2.0, 0.5), 2.0, 1e-12);
  EXPECT_EQ(estimateRemainingSeconds(0.0, 1.0), 0.0);
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
