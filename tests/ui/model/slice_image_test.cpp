#include "ui/model/slice_image.h"

#include <gtest/gtest.h>

#include "tests/support/synthetic_study.h"

namespace tessera::ui {
namespace {

using testing::makeStudy;

std::array<std::uint8_t, 3> rgbOf(std::uint32_t pixel) {
  return {static_cast<std::uint8_t>(pixel >> 16), static_cast<std::uint8_t>(pixel >> 8),
          static_cast<std::uint8_t>(pixel)};
}

OverlayStyle styleFor(const LabelTable& table, double opacity) {
  OverlayStyle style;
  style.labelOpacity = opacity;
  style.labelVisible.fill(true);
  for (const Label& l : table.labels) style.labelRgb[l.value] = l.rgb;
  return style;
}

TEST(SliceImageTest, BlendIsWeightedAverage) {
  EXPECT_EQ(blend({100, 100, 100}, {200, 0, 50}, 0.5), (std::array<std::uint8_t, 3>{150, 50, 75}));
  EXPECT_EQ(blend({10, 20, 30}, {200, 0, 50}, 0.0), (std::array<std::uint8_t, 3>{10, 20, 30}));
  EXPECT_EQ(blend({10, 20, 30}, {200, 0, 50}, 1.0), (std::array<std::uint8_t, 3>{200, 0, 50}));
}

TEST(SliceImageTest, GreyOutsideLabelsAndLabelColourInside) {
  const auto study = makeStudy();
  const WindowLevel wl{400, 40};
  const GreyTable grey(wl);
  OverlayStyle style = styleFor(study.labels.table, 0.6);
  style.labelVisible[testing::kBodyLabel] = false;  // only the spheres coloured
  const SliceAxes axes = sliceAxesFor(Plane::kAxial, study.ct.geometry().direction);
  const SliceImage image =
      renderSlice(study.ct, &study.labels.labels, nullptr, axes, 16, grey, style);
  ASSERT_EQ(image.width, 64);
  ASSERT_EQ(image.height, 64);
  const auto liver = study.labels.table.find(5)->rgb;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const std::int16_t hu = study.ct.at(x, y, 16);
      const std::uint8_t g = greyFor(hu, wl);
      const std::uint8_t label = study.labels.labels.at(x, y, 16);
      const auto expected =
          label == 5 ? blend({g, g, g}, liver, 0.6) : std::array<std::uint8_t, 3>{g, g, g};
      ASSERT_EQ(rgbOf(image.at(x, y)), expected) << x << "," << y;
    }
  // The liver sphere is centred on this slice at (40, 28).
  EXPECT_NE(rgbOf(image.at(40, 28)), rgbOf(image.at(32, 50)));
}

TEST(SliceImageTest, FlippedAxesMirrorTheImage) {
  const auto study = makeStudy();
  const GreyTable grey(WindowLevel{400, 40});
  const OverlayStyle style = styleFor(study.labels.table, 0.5);
  SliceAxes axes;
  const SliceImage plain =
      renderSlice(study.ct, &study.labels.labels, nullptr, axes, 12, grey, style);
  axes.flipU = true;
  axes.flipV = true;
  const SliceImage flipped =
      renderSlice(study.ct, &study.labels.labels, nullptr, axes, 12, grey, style);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) ASSERT_EQ(plain.at(x, y), flipped.at(63 - x, 63 - y));
}

TEST(SliceImageTest, CoronalSliceHasSlicesAsRows) {
  const auto study = makeStudy();
  const GreyTable grey(WindowLevel{400, 40});
  OverlayStyle style = styleFor(study.labels.table, 0.5);
  style.showLabels = false;
  const SliceAxes axes = sliceAxesFor(Plane::kCoronal, study.ct.geometry().direction);
  const SliceImage image = renderSlice(study.ct, nullptr, nullptr, axes, 28, grey, style);
  ASSERT_EQ(image.width, 64);
  ASSERT_EQ(image.height, 32);
  // Superior (high k) is at the top: row 0 shows slice k = 31.
  for (int x = 0; x < 64; ++x) {
    const std::uint8_t g = greyFor(study.ct.at(x, 28, 31 - 5), WindowLevel{400, 40});
    ASSERT_EQ(rgbOf(image.at(x, 5)), (std::array<std::uint8_t, 3>{g, g, g}));
  }
}

TEST(SliceImageTest, BlocksAreOutlinedOnTheGridAndHatchedInside) {
  const auto study = makeStudy();
  const GreyTable grey(WindowLevel{400, 40});
  OverlayStyle style = styleFor(study.labels.table, 0.5);
  style.showLabels = false;
  style.showBlocks = true;
  Image<std::uint8_t> blocks = *Image<std::uint8_t>::create(study.ct.geometry(), 0);
  // Two computed blocks side by side: x 16..47, y 16..31 on slice 3.
  for (int y = 16; y < 32; ++y)
    for (int x = 16; x < 48; ++x) blocks.at(x, y, 3) = 1;
  const SliceAxes axes = sliceAxesFor(Plane::kAxial, study.ct.geometry().direction);
  const SliceImage image = renderSlice(study.ct, nullptr, &blocks, axes, 3, grey, style);
  const SliceImage bare = renderSlice(study.ct, nullptr, nullptr, axes, 3, grey, style);
  const auto outline = [&](int x, int y) {
    const std::uint8_t g = greyFor(study.ct.at(x, y, 3), WindowLevel{400, 40});
    return blend({g, g, g}, style.blockRgb, style.blockOutlineOpacity);
  };
  EXPECT_EQ(rgbOf(image.at(16, 20)), outline(16, 20));  // left edge of the first block
  EXPECT_EQ(image.at(31, 20), bare.at(31, 20));         // shared border: drawn once,
  EXPECT_EQ(rgbOf(image.at(32, 20)), outline(32, 20));  // on the grid line
  EXPECT_EQ(rgbOf(image.at(47, 20)), outline(47, 20));  // right edge, next to no block
  EXPECT_EQ(rgbOf(image.at(40, 16)), outline(40, 16));  // top edge
  EXPECT_EQ(image.at(10, 10), bare.at(10, 10));         // outside any block
  EXPECT_EQ(image.at(20, 21), bare.at(20, 21));         // inside, off the hatch
  EXPECT_NE(image.at(20, 20), bare.at(20, 20));         // inside, on the hatch ((x+y) % 8 == 0)
  // Views across the slices (coronal here) do not draw the blocks.
  const SliceAxes coronal = sliceAxesFor(Plane::kCoronal, study.ct.geometry().direction);
  EXPECT_EQ(renderSlice(study.ct, nullptr, &blocks, coronal, 20, grey, style).pixels,
            renderSlice(study.ct, nullptr, nullptr, coronal, 20, grey, style).pixels);
}

}  // namespace
}  // namespace tessera::ui
