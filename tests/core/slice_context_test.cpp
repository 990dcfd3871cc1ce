#include "core/slice_context.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

// 4 x 3 pixels, slice k holds 10 k everywhere (pixel 0 of slice k: 10 k + 1).
Volume ramp(std::int64_t slices, double spacingMm) {
  Geometry g;
  g.size = {4, 3, slices};
  g.spacingMm = {1.0, 1.0, spacingMm};
  Volume v = std::move(*Volume::create(g));
  for (std::int64_t k = 0; k < slices; ++k) {
    std::fill(v.slice(k), v.slice(k) + 12, static_cast<std::int16_t>(10 * k));
    v.slice(k)[0] = static_cast<std::int16_t>(10 * k + 1);
  }
  return v;
}

TEST(PhysicalSliceContext, AtTheOffsetsSpacingItIsTheNeighbouringSlicesThemselves) {
  const Volume v = ramp(10, 2.5);
  PhysicalSliceContext<std::int16_t> context(2, 2.5);
  for (std::int64_t k : {0, 1, 5, 9}) EXPECT_EQ(context.at(v, k), sliceContext(v, k, 2)) << k;
}

TEST(PhysicalSliceContext, WithoutAnOffsetItTakesNeighboursByIndex) {
  const Volume v = ramp(10, 1.0);
  PhysicalSliceContext<std::int16_t> context(1, 0.0);
  EXPECT_EQ(context.at(v, 4), sliceContext(v, 4, 1));
}

// 1 mm slices, neighbours every 2.5 mm: at k ± 2.5 slices, halfway between two.
TEST(PhysicalSliceContext, ThinSlicesAreInterpolatedAtTheOffsets) {
  const Volume v = ramp(20, 1.0);
  PhysicalSliceContext<std::int16_t> context(2, 2.5);
  const std::vector<const std::int16_t*>& c = context.at(v, 10);
  ASSERT_EQ(c.size(), 5u);
  EXPECT_EQ(c[2], v.slice(10));  // the centre is the slice itself
  EXPECT_EQ(c[1][5], 75);        // slices 7 and 8
  EXPECT_EQ(c[3][5], 125);       // 12 and 13
  EXPECT_EQ(c[0][5], 50);        // exactly slice 5
  EXPECT_EQ(c[0], v.slice(5));
  EXPECT_EQ(c[4], v.slice(15));
  EXPECT_EQ(c[3][0], 126);  // (121 + 131) / 2
}

// 5 mm slices, neighbours every 2.5 mm: half a slice away; clamped at the ends.
TEST(PhysicalSliceContext, ThickSlicesAreInterpolatedAndTheEndsRepeat) {
  const Volume v = ramp(6, 5.0);
  PhysicalSliceContext<std::int16_t> context(1, 2.5);
  const std::vector<const std::int16_t*>& c = context.at(v, 2);
  EXPECT_EQ(c[0][5], 15);
  EXPECT_EQ(c[2][5], 25);
  const std::vector<const std::int16_t*>& first = context.at(v, 0);
  EXPECT_EQ(first[0], v.slice(0));
  EXPECT_EQ(first[2][5], 5);
  const std::vector<const std::int16_t*>& last = context.at(v, 5);
  EXPECT_EQ(last[2], v.slice(5));
  EXPECT_EQ(last[0][5], 45);
}

}  // namespace
}  // namespace tessera
