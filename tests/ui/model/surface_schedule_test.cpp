#include "ui/model/surface_schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace tessera::ui {
namespace {

// Plays MainWindow on a fake clock: one single-shot timer, builds that take
// as long as the test says, a volume rendering on screen or not.
class FakeWindow {
 public:
  explicit FakeWindow(SurfaceSchedule::Options options = {}) : schedule(options) {
    facts.hasImage = true;
  }

  void apply(const SurfaceDecision& d) {
    if (d.cancelWake) {
      EXPECT_TRUE(timer) << "disarms a timer that is not armed, at " << now;
      timer.reset();
    }
    if (d.wakeAtMs) {
      EXPECT_FALSE(timer) << "arms the timer twice, at " << now;
      EXPECT_GE(*d.wakeAtMs, now);
      timer = d.wakeAtMs;
    }
    if (d.startBuild) {
      EXPECT_FALSE(building) << "two builds at once, at " << now;
      building = true;
      buildStarts.push_back(now);
    }
    if (d.showBuild) ++shownBuilds;
    if (d.showVolumeRendering) {
      volumeDecisions.push_back(*d.showVolumeRendering);
      facts.volumeShown = *d.showVolumeRendering;
    }
  }

  // Moves the clock to t, firing the timer on the way when it comes due.
  void advanceTo(std::int64_t t) {
    while (timer && *timer <= t) {
      now = *timer;
      timer.reset();
      apply(schedule.timerFired(now, facts));
    }
    now = t;
  }
  void advanceBy(std::int64_t ms) { advanceTo(now + ms); }
  void changeLabels() { apply(schedule.labelsChanged(now, facts)); }
  void finishBuild() {
    ASSERT_TRUE(building) << "no build runs at " << now;
    building = false;
    apply(schedule.buildFinished(now, facts));
  }
  void flush() { apply(schedule.flush(now, facts)); }

  SurfaceSchedule schedule;
  SurfaceFacts facts;
  std::int64_t now = 0;
  std::optional<std::int64_t> timer;
  bool building = false;
  std::vector<std::int64_t> buildStarts;
  int shownBuilds = 0;
  std::vector<bool> volumeDecisions;
};

TEST(SurfaceScheduleTest, ABurstOfEditsCostsOneBuildAfterTheDelay) {
  FakeWindow w;
  const std::int64_t delay = w.schedule.options().editDelayMs;
  ASSERT_GT(delay, 2);
  w.now = 1000;
  w.changeLabels();
  EXPECT_EQ(w.timer, 1000 + delay);
  EXPECT_TRUE(w.schedule.stale());
  w.advanceBy(delay / 2);
  w.changeLabels();  // coalesced: the timer keeps its time
  EXPECT_EQ(w.timer, 1000 + delay);
  w.advanceTo(1000 + delay - 1);
  EXPECT_TRUE(w.buildStarts.empty());
  w.advanceTo(1000 + delay);
  EXPECT_EQ(w.buildStarts, std::vector<std::int64_t>{1000 + delay});
  EXPECT_FALSE(w.schedule.stale());
  EXPECT_FALSE(w.schedule.settled());
  w.advanceBy(40);
  w.finishBuild();
  EXPECT_TRUE(w.schedule.settled());
  EXPECT_EQ(w.shownBuilds, 1);
  EXPECT_EQ(w.schedule.lastBuildMs(), 40);
  EXPECT_FALSE(w.timer);
}

TEST(SurfaceScheduleTest, OptionsSetTheDelays) {
  SurfaceSchedule::Options options;
  options.editDelayMs = 17;
  options.segmentationMinIntervalMs = 333;
  options.segmentationBuildFactor = 5;
  FakeWindow w(options);
  w.changeLabels();
  EXPECT_EQ(w.timer, 17);
  w.advanceTo(17);
  w.advanceBy(100);
  w.facts.segmenting = true;
  w.finishBuild();
  w.changeLabels();
  EXPECT_EQ(w.timer, w.now + 5 * 100);
}

TEST(SurfaceScheduleTest, ChangesDuringAStrokeWaitForItsEnd) {
  FakeWindow w;
  w.facts.strokeActive = true;
  for (int i = 0; i < 5; ++i) {
    w.changeLabels();
    w.advanceBy(100);
  }
  EXPECT_FALSE(w.timer);
  EXPECT_TRUE(w.schedule.settled());
  EXPECT_TRUE(w.buildStarts.empty());
  // The stroke's end reports the labels again.
  w.facts.strokeActive = false;
  w.changeLabels();
  EXPECT_EQ(w.timer, w.now + w.schedule.options().editDelayMs);
  w.advanceBy(w.schedule.options().editDelayMs);
  EXPECT_EQ(w.buildStarts.size(), 1u);
}

TEST(SurfaceScheduleTest, WhatGoesStaleDuringABuildIsBuiltAfterIt) {
  FakeWindow w;
  const std::int64_t delay = w.schedule.options().editDelayMs;
  w.changeLabels();
  w.advanceTo(delay);
  ASSERT_TRUE(w.building);
  w.changeLabels();  // during the build
  ASSERT_TRUE(w.timer);
  w.advanceBy(3 * delay);  // the timer goes off, the build still runs
  EXPECT_EQ(w.buildStarts.size(), 1u);
  EXPECT_TRUE(w.schedule.stale());
  EXPECT_FALSE(w.timer);
  const std::int64_t finished = w.now;
  w.finishBuild();
  EXPECT_EQ(w.shownBuilds, 1);
  EXPECT_EQ(w.timer, finished + delay);
  w.advanceBy(delay);
  ASSERT_EQ(w.buildStarts.size(), 2u);
  EXPECT_EQ(w.buildStarts[1], finished + delay);
  w.finishBuild();
  EXPECT_TRUE(w.schedule.settled());
  EXPECT_EQ(w.shownBuilds, 2);
}

TEST(SurfaceScheduleTest, WhileSegmentingBuildsAreSpacedByTheirDuration) {
  for (const std::int64_t buildMs : {std::int64_t{10}, std::int64_t{700}, std::int64_t{2400}}) {
    SCOPED_TRACE(testing::Message() << "build takes " << buildMs << " ms");
    FakeWindow w;
    const auto& o = w.schedule.options();
    w.facts.segmenting = true;
    w.changeLabels();
    // No build measured yet: the minimum interval.
    EXPECT_EQ(w.timer, o.segmentationMinIntervalMs);
    w.advanceTo(*w.timer);
    ASSERT_TRUE(w.building);
    w.advanceBy(buildMs);
    w.finishBuild();
    EXPECT_EQ(w.schedule.lastBuildMs(), buildMs);
    w.changeLabels();  // slices keep arriving
    const std::int64_t interval =
        std::max(o.segmentationMinIntervalMs, o.segmentationBuildFactor * buildMs);
    EXPECT_EQ(w.timer, w.now + interval);
  }
}

TEST(SurfaceScheduleTest, UnattendedSegmentationBuildsOnlyAtTheEnd) {
  FakeWindow w;
  w.facts.unattended = true;
  w.facts.segmenting = true;
  for (int i = 0; i < 20; ++i) {
    w.changeLabels();
    w.advanceBy(500);
  }
  w.flush();  // waiting changes nothing while the job runs
  EXPECT_FALSE(w.timer);
  EXPECT_TRUE(w.buildStarts.empty());
  EXPECT_TRUE(w.schedule.stale());
  // The job's final labels.
  w.facts.segmenting = false;
  w.changeLabels();
  EXPECT_EQ(w.timer, w.now + w.schedule.options().editDelayMs);
  w.flush();
  EXPECT_EQ(w.buildStarts, std::vector<std::int64_t>{w.now});
  EXPECT_FALSE(w.timer);
}

TEST(SurfaceScheduleTest, AttendedSegmentationIsFollowed) {
  FakeWindow w;
  w.facts.segmenting = true;
  w.changeLabels();
  EXPECT_TRUE(w.timer);
  w.flush();  // not while the job runs
  EXPECT_TRUE(w.buildStarts.empty());
  w.advanceTo(*w.timer);
  EXPECT_EQ(w.buildStarts.size(), 1u);
}

TEST(SurfaceScheduleTest, TheTimerBuildsOnlyWhatIsStale) {
  FakeWindow w;
  w.apply(w.schedule.timerFired(0, w.facts));
  EXPECT_TRUE(w.buildStarts.empty());
  EXPECT_TRUE(w.schedule.settled());
  // A finish without a build changes nothing.
  w.apply(w.schedule.buildFinished(10, w.facts));
  EXPECT_EQ(w.shownBuilds, 0);
  EXPECT_TRUE(w.volumeDecisions.empty());
}

TEST(SurfaceScheduleTest, WithoutAnImageNothingIsBuilt) {
  FakeWindow w;
  w.facts.hasImage = false;
  w.changeLabels();
  w.advanceBy(10 * w.schedule.options().editDelayMs);
  EXPECT_TRUE(w.buildStarts.empty());
  EXPECT_TRUE(w.schedule.settled());
}

TEST(SurfaceScheduleTest, ABuildOfAReplacedStudyIsNotShown) {
  FakeWindow w;
  w.facts.anyLabel = true;
  w.changeLabels();
  w.advanceTo(*w.timer);
  ASSERT_TRUE(w.building);
  w.schedule.studyChanged();
  w.changeLabels();  // the new study's labels
  w.advanceBy(50);
  w.finishBuild();
  EXPECT_EQ(w.shownBuilds, 0);
  EXPECT_TRUE(w.volumeDecisions.empty());
  ASSERT_TRUE(w.timer);
  w.advanceTo(*w.timer);
  w.finishBuild();
  EXPECT_EQ(w.shownBuilds, 1);
  EXPECT_EQ(w.buildStarts.size(), 2u);
}

TEST(SurfaceScheduleTest, FlushBuildsStaleSurfacesAtOnce) {
  FakeWindow w;
  w.flush();  // nothing stale
  EXPECT_TRUE(w.buildStarts.empty());
  w.changeLabels();
  ASSERT_TRUE(w.timer);
  w.advanceBy(1);
  w.flush();
  EXPECT_FALSE(w.timer) << "the timer is disarmed";
  EXPECT_EQ(w.buildStarts, std::vector<std::int64_t>{1});
  w.changeLabels();
  w.flush();  // not while a build runs
  EXPECT_EQ(w.buildStarts.size(), 1u);
  EXPECT_TRUE(w.timer);
  w.finishBuild();
  w.flush();
  EXPECT_FALSE(w.timer);
  EXPECT_EQ(w.buildStarts.size(), 2u);
  w.finishBuild();
  EXPECT_TRUE(w.schedule.settled());
}

TEST(SurfaceScheduleTest, OpeningAStudyHidesTheVolumeRenderingUntilSurfacesAreKnown) {
  FakeWindow w;
  w.schedule.volumeRenderingChosen();
  EXPECT_FALSE(w.schedule.automaticVolumeRendering());
  w.facts.volumeShown = true;
  w.apply(w.schedule.studyOpened());
  EXPECT_TRUE(w.schedule.automaticVolumeRendering());
  EXPECT_EQ(w.volumeDecisions, std::vector<bool>{false});
}

TEST(SurfaceScheduleTest, AfterABuildTheVolumeRenderingShowsACtWithoutLabels) {
  struct Case {
    bool anyLabel, segmenting, expectShown;
  };
  for (const Case c : {Case{false, false, true}, Case{true, false, false}, Case{false, true, false},
                       Case{true, true, false}}) {
    SCOPED_TRACE(testing::Message() << "anyLabel " << c.anyLabel << " segmenting " << c.segmenting);
    FakeWindow w;
    w.apply(w.schedule.studyOpened());
    w.changeLabels();
    w.advanceTo(*w.timer);
    w.facts.anyLabel = c.anyLabel;
    w.facts.segmenting = c.segmenting;
    w.finishBuild();
    EXPECT_EQ(w.volumeDecisions, (std::vector<bool>{false, c.expectShown}));
  }
}

TEST(SurfaceScheduleTest, AVolumeRenderingThePersonChoseIsKept) {
  FakeWindow w;
  w.apply(w.schedule.studyOpened());
  w.facts.volumeShown = true;
  w.schedule.volumeRenderingChosen();
  w.facts.segmenting = true;
  w.apply(w.schedule.segmentationChanged(w.facts));
  w.changeLabels();
  w.advanceTo(*w.timer);
  w.facts.segmenting = false;
  w.finishBuild();
  EXPECT_EQ(w.shownBuilds, 1);
  EXPECT_EQ(w.volumeDecisions, std::vector<bool>{false}) << "only the one on opening";
}

TEST(SurfaceScheduleTest, NoVolumeRenderingWhileLabelsArrive) {
  FakeWindow w;
  w.facts.volumeShown = true;
  w.apply(w.schedule.segmentationChanged(w.facts));  // no job
  EXPECT_TRUE(w.volumeDecisions.empty());
  w.facts.segmenting = true;
  w.apply(w.schedule.segmentationChanged(w.facts));
  EXPECT_EQ(w.volumeDecisions, std::vector<bool>{false});
  w.apply(w.schedule.segmentationChanged(w.facts));  // already hidden
  EXPECT_EQ(w.volumeDecisions.size(), 1u);
}

}  // namespace
}  // namespace tessera::ui
