#include "ui/model/paint_tool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "tests/support/synthetic_study.h"

namespace tessera::ui {
namespace {

using testing::makeStudy;

double distanceMm(const Vec3& a, const Vec3& b) {
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                   (a[2] - b[2]) * (a[2] - b[2]));
}

class PaintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Geometry g = testing::defaultGeometry();
    g.spacingMm = {0.6, 1.1, 2.5};
    g.direction = {0, 1, 0, -1, 0, 0, 0, 0, 1};  // rotated in-plane: u and v swap roles
    study_ = makeStudy(g);
    ASSERT_TRUE(doc_.setVolume(study_.ct, "ct").ok());
    ASSERT_TRUE(doc_.setLabels(study_.labels, "labels").ok());
    for (int p = 0; p < kPlaneCount; ++p) {
      views_[p] = SliceViewModel(static_cast<Plane>(p));
      views_[p].setGeometry(g);
      views_[p].setViewport(320, 320);
    }
  }
  testing::SyntheticStudy study_;
  ImageDocument doc_;
  std::array<SliceViewModel, 3> views_;
};

// The brush covers exactly the voxels of the slice whose centres lie within
// the radius of the clicked point, measured in patient millimetres.
TEST_F(PaintTest, BrushIsADiscInMillimetres) {
  for (int p = 0; p < kPlaneCount; ++p) {
    const SliceViewModel& view = views_[p];
    const ScreenPoint at{161.3, 158.2};
    const double radius = 5.0;
    const auto voxels = brushVoxels(view, at, radius);
    const std::set<std::int64_t> got(voxels.begin(), voxels.end());
    EXPECT_EQ(got.size(), voxels.size()) << "duplicates";
    const Geometry& g = view.geometry();
    const Vec3 centre = view.worldFromScreen(at);
    std::set<std::int64_t> expected;
    for (std::int64_t k = 0; k < g.size[2]; ++k)
      for (std::int64_t j = 0; j < g.size[1]; ++j)
        for (std::int64_t i = 0; i < g.size[0]; ++i) {
          const std::array<std::int64_t, 3> ijk{i, j, k};
          if (ijk[view.axes().normal] != view.slice()) continue;
          const Vec3 w = g.worldFromVoxel(
              {static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)});
          if (distanceMm(w, centre) <= radius) expected.insert(i + g.size[0] * (j + g.size[1] * k));
        }
    EXPECT_EQ(got, expected) << planeName(view.plane());
    EXPECT_GT(expected.size(), 10u);
  }
}

TEST_F(PaintTest, TinyBrushStillPaintsTheVoxelUnderTheMouse) {
  const SliceViewModel& view = views_[0];
  const ScreenPoint at = view.screenFromVoxel({20, 30, static_cast<double>(view.slice())});
  const auto voxels = brushVoxels(view, {at.x + 0.2, at.y - 0.2}, 0.0);
  ASSERT_EQ(voxels.size(), 1u);
  EXPECT_EQ(voxels[0], 20 + 64 * (30 + 64 * view.slice()));
}

TEST_F(PaintTest, DragLeavesNoGapsAndUndoRestores) {
  SliceViewModel& view = views_[0];
  view.zoomAt({160, 160}, 4.0);  // a long screen distance per millimetre
  const auto before = doc_.labels().labels.buffer();
  PaintTool tool;
  BrushSettings brush{BrushMode::kPaint, 1.5, 9};
  tool.begin(doc_, view, {40, 160}, brush);
  tool.moveTo({280, 160});
  const Edit* edit = tool.end();
  ASSERT_NE(edit, nullptr);
  // Every voxel under the straight path from start to end is painted.
  for (double x = 40; x <= 280; x += 0.5) {
    const auto probe = view.probe({x, 160});
    ASSERT_TRUE(probe);
    const auto& v = probe->voxel;
    ASSERT_EQ(doc_.labels().labels.at(v[0], v[1], v[2]), 9) << x;
  }
  // Nothing outside the current slice changed.
  for (const VoxelChange& c : edit->changes) EXPECT_EQ(c.index / (64 * 64), view.slice());
  ASSERT_TRUE(doc_.undo());
  EXPECT_TRUE(doc_.labels().labels.buffer() == before);
}

TEST_F(PaintTest, EraserRemovesOnlyTheSelectedLabel) {
  // The axial slice through the liver sphere's centre holds liver inside
  // soft tissue; a big eraser for liver must leave soft tissue alone.
  SliceViewModel& view = views_[0];
  view.setSlice(16);
  const ScreenPoint centre = view.screenFromVoxel({40, 28, 16});
  PaintTool tool;
  tool.begin(doc_, view, centre, {BrushMode::kErase, 30.0, 5});
  ASSERT_NE(tool.end(), nullptr);
  const auto& labels = doc_.labels().labels;
  for (std::int64_t j = 0; j < 64; ++j)
    for (std::int64_t i = 0; i < 64; ++i) {
      const std::uint8_t was = study_.labels.labels.at(i, j, 16);
      const std::uint8_t now = labels.at(i, j, 16);
      if (was == 5) {
        EXPECT_TRUE(now == 0 || now == 5);
      } else {
        EXPECT_EQ(now, was);
      }
    }
  EXPECT_EQ(labels.at(40, 28, 16), 0);
  EXPECT_EQ(labels.at(40, 28, 17), 5);  // other slices untouched
}

TEST_F(PaintTest, PaintingOnCoronalViewChangesOneCoronalSlice) {
  SliceViewModel& view = views_[1];
  PaintTool tool;
  tool.begin(doc_, view, {160, 160}, {BrushMode::kPaint, 6.0, 8});
  tool.moveTo({200, 120});
  const Edit* edit = tool.end();
  ASSERT_NE(edit, nullptr);
  const int normal = view.axes().normal;
  for (const VoxelChange& c : edit->changes) {
    const std::array<std::int64_t, 3> ijk{c.index % 64, (c.index / 64) % 64, c.index / (64 * 64)};
    EXPECT_EQ(ijk[normal], view.slice());
    EXPECT_EQ(c.after, 8);
  }
}

}  // namespace
}  // namespace tessera::ui
