#include "ui/model/label_table_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/synthetic_study.h"

namespace tessera::ui {
namespace {

// A 10 × 10 × 4 cube of liver (HU 100 on its lower two slices, 200 on the
// upper two) in a 20 × 20 × 8 volume of 0.8 × 0.8 × 2.5 mm voxels:
// 400 voxels × 1.6 mm³ = 0.64 mL, mean HU 150.
struct CubeCase {
  Volume ct;
  LabelMap labels;
};

CubeCase makeCube() {
  Geometry g;
  g.size = {20, 20, 8};
  g.spacingMm = {0.8, 0.8, 2.5};
  CubeCase c{*Volume::create(g, -1000), {*Image<std::uint8_t>::create(g, 0), defaultLabelTable()}};
  for (int k = 2; k < 6; ++k)
    for (int j = 5; j < 15; ++j)
      for (int i = 5; i < 15; ++i) {
        c.ct.at(i, j, k) = k < 4 ? 100 : 200;
        c.labels.labels.at(i, j, k) = 5;
      }
  return c;
}

TEST(LabelTableTest, VolumeInMillilitresAndMeanHu) {
  const CubeCase cube = makeCube();
  LabelTableModel table;
  ASSERT_TRUE(table.reset(cube.ct, cube.labels).ok());
  const LabelRow* liver = table.find(5);
  ASSERT_NE(liver, nullptr);
  EXPECT_EQ(liver->name, "liver");
  EXPECT_EQ(liver->voxels, 400);
  EXPECT_NEAR(liver->volumeMl, 0.64, 1e-12);
  EXPECT_NEAR(liver->meanHu, 150.0, 1e-12);
  const LabelRow* kidney = table.find(7);
  ASSERT_NE(kidney, nullptr);
  EXPECT_EQ(kidney->voxels, 0);
  EXPECT_TRUE(std::isnan(kidney->meanHu));
  EXPECT_EQ(table.find(0), nullptr) << "background is not a row";
  EXPECT_EQ(table.rows().size(), 9u);
}

TEST(LabelTableTest, EditsUpdateCountsLikeARecount) {
  CubeCase cube = makeCube();
  ImageDocument doc;
  ASSERT_TRUE(doc.setVolume(cube.ct, "ct").ok());
  ASSERT_TRUE(doc.setLabels(cube.labels, "labels").ok());
  LabelTableModel incremental;
  ASSERT_TRUE(incremental.reset(doc.ct(), doc.labels()).ok());
  doc.beginEdit("mix");
  for (std::int64_t i = 0; i < doc.ct().voxelCount(); i += 7) doc.setLabel(i, i % 3 == 0 ? 7 : 0);
  const Edit* edit = doc.endEdit();
  ASSERT_NE(edit, nullptr);
  incremental.applyEdit(doc.ct(), *edit, false);
  LabelTableModel recount;
  ASSERT_TRUE(recount.reset(doc.ct(), doc.labels()).ok());
  for (const LabelRow& row : recount.rows()) {
    const LabelRow* other = incremental.find(row.value);
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(other->voxels, row.voxels) << row.name;
    if (row.voxels > 0) {
      EXPECT_NEAR(other->meanHu, row.meanHu, 1e-9) << row.name;
    }
  }
  ASSERT_TRUE(doc.undo());
  incremental.applyEdit(doc.ct(), *doc.nextRedo(), true);
  EXPECT_EQ(incremental.find(5)->voxels, 400);
  EXPECT_EQ(incremental.find(7)->voxels, 0);
}

TEST(LabelTableTest, SliceChangesUpdateCounts) {
  const CubeCase cube = makeCube();
  LabelTableModel table;
  ASSERT_TRUE(table.reset(cube.ct, cube.labels).ok());
  std::vector<std::uint8_t> after(20 * 20, 7);
  table.applySliceChange(cube.ct, 3, cube.labels.labels.slice(3), after.data());
  EXPECT_EQ(table.find(5)->voxels, 300);
  EXPECT_EQ(table.find(7)->voxels, 400);
  EXPECT_NEAR(table.find(5)->meanHu, (100.0 * 100 + 200.0 * 200) / 300.0, 1e-9);
}

TEST(LabelTableTest, VisibilitySurvivesARecount) {
  const CubeCase cube = makeCube();
  LabelTableModel table;
  ASSERT_TRUE(table.reset(cube.ct, cube.labels).ok());
  table.setVisible(5, false);
  EXPECT_FALSE(table.visible(5));
  ASSERT_TRUE(table.reset(cube.ct, cube.labels).ok());
  EXPECT_FALSE(table.visible(5));
  EXPECT_TRUE(table.visible(7));
}

}  // namespace
}  // namespace tessera::ui
