#include "imaging/labels/label_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace tessera::imaging {
namespace {

Image<std::uint8_t> empty(std::int64_t n = 20, std::int64_t slices = 10) {
  Geometry g;
  g.size = {n, n, slices};
  auto image = Image<std::uint8_t>::create(g);
  EXPECT_TRUE(image.ok());
  return std::move(*image);
}

// Sets a box [i0, i1) x [j0, j1) x [k0, k1) to `value`.
void box(Image<std::uint8_t>& l, int i0, int i1, int j0, int j1, int k0, int k1,
         std::uint8_t value) {
  for (int k = k0; k < k1; ++k)
    for (int j = j0; j < j1; ++j)
      for (int i = i0; i < i1; ++i) l.at(i, j, k) = value;
}

std::int64_t count(const Image<std::uint8_t>& l, std::uint8_t value) {
  return std::count(l.data(), l.data() + l.voxelCount(), value);
}

TEST(LabelRules, KeepsTheLargestComponentsAndRemovesTheRest) {
  auto l = empty();
  box(l, 1, 9, 1, 9, 1, 9, 5);      // 512 voxels
  box(l, 12, 15, 12, 15, 1, 4, 5);  // 27
  box(l, 17, 19, 17, 19, 6, 8, 5);  // 8
  box(l, 12, 14, 1, 3, 1, 3, 6);    // another label, untouched
  auto outcome = applyLabelRules(l, {{5, {}, 2, false}});
  ASSERT_TRUE(outcome.ok()) << outcome.error().toString();
  ASSERT_EQ(outcome->size(), 1u);
  EXPECT_EQ((*outcome)[0].componentsRemoved, 1);
  EXPECT_EQ((*outcome)[0].removedComponentVoxels, 8);
  EXPECT_EQ(count(l, 5), 512 + 27);
  EXPECT_EQ(l.at(17, 17, 6), 0);
  EXPECT_EQ(count(l, 6), 8);
}

// Components touching only at a corner are one (26-connected).
TEST(LabelRules, ComponentsMeetingAtACornerAreOne) {
  auto l = empty();
  box(l, 2, 4, 2, 4, 2, 4, 7);
  box(l, 4, 6, 4, 6, 4, 6, 7);
  auto outcome = applyLabelRules(l, {{7, {}, 1, false}});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ((*outcome)[0].componentsRemoved, 0);
  EXPECT_EQ(count(l, 7), 16);
}

TEST(LabelRules, FillsEnclosedBackgroundButNeverAnotherLabel) {
  auto l = empty();
  box(l, 2, 12, 2, 12, 1, 9, 5);
  box(l, 4, 7, 4, 7, 3, 6, 0);     // an enclosed cavity: 27 voxels
  box(l, 8, 10, 8, 10, 3, 5, 9);   // another label inside: kept
  box(l, 0, 2, 5, 6, 4, 5, 0);     // background outside: not a hole
  box(l, 6, 12, 10, 12, 8, 9, 0);  // a notch in the top layer, open above
  const std::int64_t before = count(l, 5);
  auto outcome = applyLabelRules(l, {{5, {}, 0, true}});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ((*outcome)[0].filledVoxels, 27);
  EXPECT_EQ(count(l, 5), before + 27);
  EXPECT_EQ(count(l, 9), 8);
  EXPECT_EQ(l.at(0, 5, 4), 0);
}

// A cavity open to a face of the volume is not enclosed.
TEST(LabelRules, ACavityOpenToTheEdgeOfTheVolumeIsNotFilled) {
  auto l = empty();
  box(l, 2, 12, 2, 12, 0, 9, 5);
  box(l, 4, 7, 4, 7, 0, 6, 0);  // reaches slice 0, the volume's face
  auto outcome = applyLabelRules(l, {{5, {}, 0, true}});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ((*outcome)[0].filledVoxels, 0);
  EXPECT_EQ(l.at(5, 5, 3), 0);
}

// "brain" (16 voxels a slice) goes from the slices where "liver" (25) and
// "lung" outweigh it.
TEST(LabelRules, RemovesALabelFromSlicesWhereExcludingLabelsOutweighIt) {
  auto l = empty();
  box(l, 1, 5, 1, 5, 0, 6, 8);       // "brain" on slices 0..5
  box(l, 10, 15, 10, 15, 4, 10, 5);  // "liver" on slices 4..9
  box(l, 0, 10, 18, 19, 2, 4, 4);    // "lung", 10 voxels on slices 2 and 3
  box(l, 10, 18, 0, 1, 3, 4, 5);     // and 8 voxels of "liver" on slice 3
  auto outcome = applyLabelRules(l, {{8, {5, 4}, 0, false}});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ((*outcome)[0].removedOnSlices, 3 * 16);
  EXPECT_EQ(count(l, 8), 3 * 16);
  EXPECT_EQ(l.at(2, 2, 2), 8);  // 10 voxels of lung do not outweigh 16
  EXPECT_EQ(l.at(2, 2, 3), 0);  // 10 of lung and 8 of liver do
  EXPECT_EQ(l.at(2, 2, 4), 0);
  EXPECT_EQ(count(l, 5), 25 * 6 + 8);
}

// Of two labels that cannot share a slice, the one holding more of it stays:
// a few stray "lung" voxels do not erase the brain of a head.
TEST(LabelRules, OnASharedSliceTheLargerLabelStays) {
  auto l = empty();
  box(l, 2, 12, 2, 12, 0, 10, 8);   // brain, 100 voxels per slice
  box(l, 15, 17, 15, 17, 3, 5, 4);  // stray lung, 4 voxels on slices 3 and 4
  auto outcome = applyLabelRules(l, {{8, {4}, 0, false}, {4, {8}, 0, false}});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ((*outcome)[0].removedOnSlices, 0);
  EXPECT_EQ((*outcome)[1].removedOnSlices, 8);
  EXPECT_EQ(count(l, 8), 1000);
  EXPECT_EQ(count(l, 4), 0);
}

// Components below a volume go, whatever their rank; the volume follows
// the voxel spacing.
TEST(LabelRules, ComponentsSmallerThanTheMinimumVolumeAreRemoved) {
  auto l = empty();
  l.geometry().spacingMm = {2.0, 2.0, 2.5};  // 0.01 mL per voxel
  box(l, 1, 9, 1, 9, 1, 9, 5);               // 512 voxels, 5.12 mL
  box(l, 12, 15, 12, 15, 1, 4, 5);           // 27 voxels, 0.27 mL
  box(l, 17, 19, 17, 19, 6, 8, 5);           // 8 voxels, 0.08 mL
  auto outcome = applyLabelRules(l, {{5, {}, 0, false, 0.1}});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ((*outcome)[0].componentsRemoved, 1);
  EXPECT_EQ(count(l, 5), 512 + 27);
  outcome = applyLabelRules(l, {{5, {}, 0, false, 6.0}});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ((*outcome)[0].componentsRemoved, 2);
  EXPECT_EQ(count(l, 5), 0);
}

// Rules run in order: a later rule sees what an earlier one left.
TEST(LabelRules, RulesRunInOrder) {
  auto l = empty();
  box(l, 1, 5, 1, 5, 0, 2, 8);
  box(l, 10, 12, 10, 12, 0, 1, 8);
  box(l, 14, 19, 14, 19, 1, 2, 5);
  // The slice rule removes label 8 from slice 1; then the largest of what
  // is left (16 voxels on slice 0) is kept and the 4-voxel one removed.
  auto outcome = applyLabelRules(l, {{8, {5}, 1, false}});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ((*outcome)[0].removedOnSlices, 16);
  EXPECT_EQ((*outcome)[0].componentsRemoved, 1);
  EXPECT_EQ(count(l, 8), 16);
}

TEST(LabelRules, MalformedRulesAreRefusedBeforeAnyChange) {
  auto l = empty();
  box(l, 1, 5, 1, 5, 0, 2, 8);
  auto background = applyLabelRules(l, {{8, {}, 1, false}, {0, {}, 1, false}});
  ASSERT_FALSE(background.ok());
  EXPECT_EQ(background.error().code, StatusCode::kInvalidArgument);
  auto negative = applyLabelRules(l, {{8, {}, -1, false}});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("negative"), std::string::npos);
  EXPECT_FALSE(applyLabelRules(l, {{8, {}, 0, false, -1.0}}).ok());
  EXPECT_EQ(count(l, 8), 32);
}

TEST(LabelRules, ACancelledRunStops) {
  auto l = empty();
  CancelToken cancel;
  cancel.cancel();
  auto outcome = applyLabelRules(l, {{8, {}, 1, false}}, &cancel);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, StatusCode::kCancelled);
}

}  // namespace
}  // namespace tessera::imaging
