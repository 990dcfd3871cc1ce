#include "ui/model/window_level.h"

#include <gtest/gtest.h>

#include "ui/model/recent_files.h"

namespace tessera::ui {
namespace {

TEST(WindowLevelTest, PresetsAreTheRadiologicalOnes) {
  const auto& presets = windowPresets();
  ASSERT_EQ(presets.size(), 5u);
  EXPECT_EQ(presets[0].name, "Soft tissue");
  EXPECT_EQ(presets[0].windowLevel, (WindowLevel{400, 40}));
  EXPECT_EQ(presets[1].windowLevel, (WindowLevel{1500, -600}));
  EXPECT_EQ(presets[2].windowLevel, (WindowLevel{1800, 400}));
  EXPECT_EQ(presets[3].windowLevel, (WindowLevel{80, 40}));
  EXPECT_EQ(presets[4].windowLevel, (WindowLevel{150, 30}));
}

TEST(WindowLevelTest, GreyIsLinearBetweenWindowEdges) {
  const WindowLevel wl{400, 40};  // black at -160 HU, white at 240 HU
  EXPECT_EQ(greyFor(-160, wl), 0);
  EXPECT_EQ(greyFor(-1000, wl), 0);
  EXPECT_EQ(greyFor(240, wl), 255);
  EXPECT_EQ(greyFor(3000, wl), 255);
  EXPECT_EQ(greyFor(40, wl), 128);   // 127.5 rounds up
  EXPECT_EQ(greyFor(-60, wl), 64);   // a quarter: 63.75
  EXPECT_EQ(greyFor(140, wl), 191);  // three quarters: 191.25
}

TEST(WindowLevelTest, TableMatchesFormulaOverInt16Range) {
  const WindowLevel wl{1500, -600};
  const GreyTable table(wl);
  for (int hu = -32768; hu <= 32767; hu += 7)
    ASSERT_EQ(table(static_cast<std::int16_t>(hu)), greyFor(hu, wl)) << hu;
  EXPECT_EQ(table(32767), 255);
  EXPECT_EQ(table(-32768), 0);
}

TEST(WindowLevelTest, DragWidensRightwardAndRaisesLevelDownward) {
  const WindowLevel start{400, 40};
  const WindowLevel wider = dragWindowLevel(start, 100, 0);
  EXPECT_GT(wider.window, start.window);
  EXPECT_EQ(wider.level, start.level);
  const WindowLevel lower = dragWindowLevel(start, 0, -50);
  EXPECT_LT(lower.level, start.level);
  EXPECT_EQ(lower.window, start.window);
  // A drag never makes the window empty or negative.
  EXPECT_GE(dragWindowLevel(start, -100000, 0).window, 1.0);
  // Dragging back to the start gives the start again (no drift).
  EXPECT_EQ(dragWindowLevel(start, 0, 0), start);
}

TEST(RecentFilesTest, NewestFirstWithoutDuplicatesAndBounded) {
  RecentFiles recent(3);
  recent.add("/a");
  recent.add("/b");
  recent.add("/a");
  EXPECT_EQ(recent.paths(), (std::vector<std::string>{"/a", "/b"}));
  recent.add("/c");
  recent.add("/d");
  EXPECT_EQ(recent.paths(), (std::vector<std::string>{"/d", "/c", "/a"}));
  recent.remove("/c");
  EXPECT_EQ(recent.paths(), (std::vector<std::string>{"/d", "/a"}));
  recent.setPaths({"/x", "/y", "/x"});
  EXPECT_EQ(recent.paths(), (std::vector<std::string>{"/x", "/y"}));
}

}  // namespace
}  // namespace tessera::ui
