#include "ui/model/slice_view_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/synthetic_study.h"

namespace tessera::ui {
namespace {

using testing::defaultGeometry;
using testing::permutedGeometry;

Vec3 difference(const Vec3& a, const Vec3& b) {
  return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}

// The LPS axis and sign a world vector points along (it must be axis-aligned).
std::pair<int, int> dominant(const Vec3& v) {
  int axis = 0;
  for (int a = 1; a < 3; ++a)
    if (std::abs(v[a]) > std::abs(v[axis])) axis = a;
  return {axis, v[axis] > 0 ? 1 : -1};
}

SliceViewModel makeView(Plane plane, const Geometry& g, int w = 400, int h = 300) {
  SliceViewModel view(plane);
  view.setGeometry(g);
  view.setViewport(w, h);
  return view;
}

TEST(SliceViewTest, IdentityDirectionShowsRadiologicalLetters) {
  const Geometry g = defaultGeometry();
  using Letters = std::array<std::string, 4>;  // left, right, top, bottom
  EXPECT_EQ(makeView(Plane::kAxial, g).edgeLetters(), (Letters{"R", "L", "A", "P"}));
  EXPECT_EQ(makeView(Plane::kCoronal, g).edgeLetters(), (Letters{"R", "L", "S", "I"}));
  EXPECT_EQ(makeView(Plane::kSagittal, g).edgeLetters(), (Letters{"A", "P", "S", "I"}));
}

// Whatever the direction matrix (all 48 signed axis permutations), moving
// right or down on screen moves the patient point the same way: axial right
// is the patient's left and down is posterior, coronal down is inferior,
// sagittal right is posterior. This is checked through the world mapping, not
// through the letters, so a flipped image cannot pass with flipped letters.
TEST(SliceViewTest, ScreenDirectionsFollowConventionForAll48Orientations) {
  const std::array<std::array<int, 3>, 6> permutations{
      {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}};
  // Expected (axis, sign) in LPS of screen right and screen down per plane.
  const std::array<std::pair<std::pair<int, int>, std::pair<int, int>>, 3> expected{
      {{{0, 1}, {1, 1}}, {{0, 1}, {2, -1}}, {{1, 1}, {2, -1}}}};
  int checked = 0;
  for (const auto& p : permutations)
    for (int s = 0; s < 8; ++s) {
      const std::array<int, 3> signs{s & 1 ? -1 : 1, s & 2 ? -1 : 1, s & 4 ? -1 : 1};
      const Geometry g = permutedGeometry(p, signs);
      for (int plane = 0; plane < kPlaneCount; ++plane) {
        SCOPED_TRACE(::testing::Message()
                     << "perm " << p[0] << p[1] << p[2] << " signs " << signs[0] << signs[1]
                     << signs[2] << " plane " << plane);
        const SliceViewModel view = makeView(static_cast<Plane>(plane), g);
        const ScreenPoint c{200, 150};
        const Vec3 w0 = view.worldFromScreen(c);
        const Vec3 right = difference(view.worldFromScreen({c.x + 10, c.y}), w0);
        const Vec3 down = difference(view.worldFromScreen({c.x, c.y + 10}), w0);
        EXPECT_EQ(dominant(right), expected[plane].first);
        EXPECT_EQ(dominant(down), expected[plane].second);
        const auto letters = view.edgeLetters();
        const std::array<std::array<std::string, 4>, 3> standard{
            {{"R", "L", "A", "P"}, {"R", "L", "S", "I"}, {"A", "P", "S", "I"}}};
        EXPECT_EQ(letters, standard[plane]);
        ++checked;
      }
    }
  EXPECT_EQ(checked, 48 * 3);
}

TEST(SliceViewTest, RasVolumeIsMirroredBackOnScreen) {
  // NIfTI-typical RAS storage: voxel i grows towards the patient's right,
  // which the axial view shows on the left.
  Geometry g = defaultGeometry();
  g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  const SliceViewModel view = makeView(Plane::kAxial, g);
  EXPECT_TRUE(view.axes().flipU);
  EXPECT_TRUE(view.axes().flipV);
  EXPECT_GT(view.screenFromVoxel({0, 10, 5}).x, view.screenFromVoxel({63, 10, 5}).x);
  EXPECT_GT(view.screenFromVoxel({10, 0, 5}).y, view.screenFromVoxel({10, 63, 5}).y);
}

TEST(SliceViewTest, ObliqueAxesNameBothDirections) {
  Geometry g = defaultGeometry();
  const double a = 30.0 * M_PI / 180.0;
  g.direction = {std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1};
  const auto letters = makeView(Plane::kAxial, g).edgeLetters();
  // Column 0 points to (cos 30°, sin 30°, 0): mostly left, partly posterior.
  EXPECT_EQ(letters[1], "LP");
  EXPECT_EQ(letters[0], "RA");
  // Column 1 points to (-sin 30°, cos 30°, 0): mostly posterior, partly right.
  EXPECT_EQ(letters[3], "PR");
  EXPECT_EQ(letters[2], "AL");
  EXPECT_EQ(orientationLetters({0, 0, -1}), "I");
  EXPECT_EQ(orientationLetters({0.1, 0, -1}), "I");  // 6° off: still one letter
}

TEST(SliceViewTest, PixelsAreSquareInMillimetres) {
  Geometry g = defaultGeometry();
  g.spacingMm = {0.5, 2.0, 3.0};
  for (int plane = 0; plane < kPlaneCount; ++plane) {
    const SliceViewModel view = makeView(static_cast<Plane>(plane), g, 500, 500);
    const ScreenPoint c{250, 250};
    const Vec3 w0 = view.worldFromScreen(c);
    const auto mmPerPixel = [&](double dx, double dy) {
      const Vec3 d = difference(view.worldFromScreen({c.x + dx, c.y + dy}), w0);
      return std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) / std::hypot(dx, dy);
    };
    EXPECT_NEAR(mmPerPixel(40, 0), mmPerPixel(0, 40), 1e-9);
    const auto rect = view.imageRectOnScreen();
    const double widthMm = view.columns() * view.columnSpacingMm();
    const double heightMm = view.rows() * view.rowSpacingMm();
    EXPECT_NEAR(rect[2] / rect[3], widthMm / heightMm, 1e-9);
    // Fitted: the longer side fills the viewport, the image is centred.
    EXPECT_NEAR(std::max(rect[2], rect[3]), 500.0, 1e-9);
    EXPECT_NEAR(rect[0] + rect[2] / 2, 250.0, 1e-9);
  }
}

TEST(SliceViewTest, ScreenVoxelWorldRoundTrip) {
  Geometry g = defaultGeometry();
  g.direction = {0, 0, -1, 1, 0, 0, 0, -1, 0};
  for (int plane = 0; plane < kPlaneCount; ++plane) {
    const SliceViewModel view = makeView(static_cast<Plane>(plane), g);
    const ScreenPoint p{123.25, 77.5};
    const Vec3 world = view.worldFromScreen(p);
    const ScreenPoint back = view.screenFromWorld(world);
    EXPECT_NEAR(back.x, p.x, 1e-9);
    EXPECT_NEAR(back.y, p.y, 1e-9);
    const Vec3 ijk = view.voxelFromScreen(p);
    EXPECT_DOUBLE_EQ(ijk[view.axes().normal], static_cast<double>(view.slice()));
  }
}

TEST(SliceViewTest, ProbeFindsNearestVoxelAndNothingOutside) {
  const SliceViewModel view = makeView(Plane::kAxial, defaultGeometry());
  const ScreenPoint centreOfVoxel = view.screenFromVoxel({10, 20, 16});
  auto probe = view.probe({centreOfVoxel.x + 1.0, centreOfVoxel.y - 1.0});
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->voxel, (std::array<std::int64_t, 3>{10, 20, 16}));
  EXPECT_FALSE(view.probe({-50, -50}));
  const auto rect = view.imageRectOnScreen();
  EXPECT_FALSE(view.probe({rect[0] + rect[2] + 1.0, rect[1] + 5.0}));
  EXPECT_TRUE(view.probe({rect[0] + rect[2] - 1.0, rect[1] + 5.0}));
}

TEST(SliceViewTest, ZoomKeepsAnchorFixedAndPanMovesByPixels) {
  SliceViewModel view = makeView(Plane::kCoronal, defaultGeometry());
  const ScreenPoint anchor{300, 100};
  const Vec3 before = view.worldFromScreen(anchor);
  view.zoomAt(anchor, 2.5);
  EXPECT_DOUBLE_EQ(view.zoom(), 2.5);
  const Vec3 after = view.worldFromScreen(anchor);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(after[a], before[a], 1e-9);

  const ScreenPoint p = view.screenFromWorld(before);
  view.panByPixels(15, -7);
  const ScreenPoint moved = view.screenFromWorld(before);
  EXPECT_NEAR(moved.x - p.x, 15, 1e-9);
  EXPECT_NEAR(moved.y - p.y, -7, 1e-9);
  view.resetView();
  EXPECT_DOUBLE_EQ(view.zoom(), 1.0);
}

TEST(SliceViewTest, SlicesAreClampedAndStartInTheMiddle) {
  SliceViewModel view = makeView(Plane::kSagittal, defaultGeometry());
  EXPECT_EQ(view.sliceCount(), 64);
  EXPECT_EQ(view.slice(), 32);
  view.setSlice(1000);
  EXPECT_EQ(view.slice(), 63);
  view.setSlice(-3);
  EXPECT_EQ(view.slice(), 0);
}

}  // namespace
}  // namespace tessera::ui
