#include "ui/model/image_document.h"

#include <gtest/gtest.h>

#include "tests/support/synthetic_study.h"

namespace tessera::ui {
namespace {

using testing::makeStudy;

class DocumentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    study_ = makeStudy();
    ASSERT_TRUE(doc_.setVolume(study_.ct, "ct.nii.gz").ok());
    ASSERT_TRUE(doc_.setLabels(study_.labels, "labels.nii.gz").ok());
  }
  // Paints `value` over voxels [first, first + count) as one edit.
  const Edit* paintRun(std::int64_t first, std::int64_t count, std::uint8_t value) {
    doc_.beginEdit("test");
    for (std::int64_t i = first; i < first + count; ++i) doc_.setLabel(i, value);
    return doc_.endEdit();
  }
  testing::SyntheticStudy study_;
  ImageDocument doc_;
};

TEST_F(DocumentTest, NewVolumeStartsWithEmptyLabelsAndNoHistory) {
  ImageDocument doc;
  EXPECT_FALSE(doc.hasImage());
  ASSERT_TRUE(doc.setVolume(study_.ct, "ct.nii.gz").ok());
  EXPECT_TRUE(doc.hasImage());
  EXPECT_FALSE(doc.dirty());
  EXPECT_FALSE(doc.canUndo());
  const auto& labels = doc.labels().labels;
  EXPECT_TRUE(sameGeometry(labels.geometry(), study_.ct.geometry()));
  EXPECT_TRUE(std::all_of(labels.data(), labels.data() + labels.voxelCount(),
                          [](std::uint8_t v) { return v == 0; }));
  EXPECT_NE(doc.labels().table.find(5), nullptr);
}

TEST_F(DocumentTest, MismatchedSegmentationIsRefusedWithBothGeometries) {
  LabelMap other = study_.labels;
  other.labels.geometry().spacingMm[2] = 3.0;
  const Status status = doc_.setLabels(other, "other.nii.gz");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("does not match the CT"), std::string::npos);
  EXPECT_NE(status.error().message.find("3 mm"), std::string::npos) << status.toString();
  EXPECT_EQ(status.error().context, "other.nii.gz");
  // The previous labels stay.
  EXPECT_EQ(doc_.labels().labels.at(40, 28, 16), 5);
  EXPECT_EQ(doc_.labelsPath(), "labels.nii.gz");
}

TEST_F(DocumentTest, UndoRestoresEveryVoxelExactlyAndRedoReapplies) {
  const auto original = doc_.labels().labels.buffer();
  const Edit* edit = paintRun(1000, 300, 9);
  ASSERT_NE(edit, nullptr);
  EXPECT_EQ(edit->changes.size(),
            std::size_t(std::count_if(original.begin() + 1000, original.begin() + 1300,
                                      [](std::uint8_t v) { return v != 9; })));
  const auto painted = doc_.labels().labels.buffer();
  EXPECT_TRUE(doc_.dirty());
  ASSERT_TRUE(doc_.undo());
  EXPECT_TRUE(doc_.labels().labels.buffer() == original);
  EXPECT_FALSE(doc_.dirty());
  ASSERT_TRUE(doc_.redo());
  EXPECT_TRUE(doc_.labels().labels.buffer() == painted);
  EXPECT_TRUE(doc_.dirty());
}

TEST_F(DocumentTest, RepaintingAVoxelInOneStrokeKeepsItsFirstValue) {
  const std::uint8_t before = doc_.labels().labels.data()[5000];
  doc_.beginEdit("twice");
  doc_.setLabel(5000, 3);
  doc_.setLabel(5000, 4);
  const Edit* edit = doc_.endEdit();
  ASSERT_NE(edit, nullptr);
  ASSERT_EQ(edit->changes.size(), 1u);
  EXPECT_EQ(edit->changes[0].before, before);
  EXPECT_EQ(edit->changes[0].after, 4);
  // Painting a voxel back to its value is no edit at all.
  const std::uint8_t original = doc_.labels().labels.data()[7000];
  doc_.beginEdit("noop");
  doc_.setLabel(7000, original == 2 ? 3 : 2);
  doc_.setLabel(7000, original);
  EXPECT_EQ(doc_.endEdit(), nullptr);
  EXPECT_EQ(doc_.nextUndo()->name, "twice");
}

TEST_F(DocumentTest, NewEditAfterUndoDropsRedo) {
  paintRun(100, 10, 2);
  paintRun(200, 10, 3);
  ASSERT_TRUE(doc_.undo());
  EXPECT_TRUE(doc_.canRedo());
  paintRun(300, 10, 4);
  EXPECT_FALSE(doc_.canRedo());
  EXPECT_EQ(doc_.labels().labels.data()[200], study_.labels.labels.data()[200]);
}

TEST_F(DocumentTest, SavedStateIsRememberedAcrossUndo) {
  paintRun(100, 10, 2);
  doc_.markSaved("saved.nii.gz");
  EXPECT_FALSE(doc_.dirty());
  paintRun(200, 10, 3);
  EXPECT_TRUE(doc_.dirty());
  doc_.undo();
  EXPECT_FALSE(doc_.dirty());
  doc_.undo();
  EXPECT_TRUE(doc_.dirty());
  doc_.redo();
  EXPECT_FALSE(doc_.dirty());
  EXPECT_EQ(doc_.labelsPath(), "saved.nii.gz");
}

TEST_F(DocumentTest, HistoryLimitDropsOldestButKeepsNewest) {
  doc_.setHistoryLimitBytes(100 * sizeof(VoxelChange));
  paintRun(0, 60, 9);
  paintRun(100, 60, 9);
  EXPECT_LE(doc_.historyBytes(), 100 * sizeof(VoxelChange));
  ASSERT_TRUE(doc_.undo());
  EXPECT_FALSE(doc_.canUndo());  // the first stroke no longer fits
  paintRun(1000, 500, 9);        // larger than the limit on its own
  EXPECT_TRUE(doc_.canUndo());
}

TEST_F(DocumentTest, ReplacedLabelsAreUnsavedAndClearTheHistory) {
  paintRun(100, 10, 2);
  LabelMap result{*Image<std::uint8_t>::create(study_.ct.geometry(), 7), defaultLabelTable()};
  ASSERT_TRUE(doc_.replaceLabels(result).ok());
  EXPECT_TRUE(doc_.dirty());
  EXPECT_FALSE(doc_.canUndo());
  EXPECT_EQ(doc_.labels().labels.at(0, 0, 4), 7);
  EXPECT_EQ(doc_.labelsPath(), "labels.nii.gz") << "still where it would be saved";
  Geometry other = study_.ct.geometry();
  other.size[0] = 10;
  EXPECT_FALSE(doc_.replaceLabels({*Image<std::uint8_t>::create(other, 1), {}}).ok());
}

TEST_F(DocumentTest, BlockMapMustMatchGeometry) {
  BlockMap blocks = *BlockMap::create(study_.ct.geometry(), 1);
  EXPECT_TRUE(doc_.setBlockMap(blocks, "blocks.nii.gz").ok());
  ASSERT_NE(doc_.blockMap(), nullptr);
  Geometry g = study_.ct.geometry();
  g.size[2] = 31;
  EXPECT_FALSE(doc_.setBlockMap(*BlockMap::create(g, 1), "bad.nii.gz").ok());
  doc_.clearBlockMap();
  EXPECT_EQ(doc_.blockMap(), nullptr);
}

TEST(CompleteLabelTableTest, AddsUnknownValuesWithDistinctColours) {
  Geometry g;
  g.size = {4, 1, 1};
  Image<std::uint8_t> labels = *Image<std::uint8_t>::create(g, 0);
  labels.data()[1] = 5;
  labels.data()[2] = 42;
  labels.data()[3] = 43;
  const LabelTable table = completeLabelTable(defaultLabelTable(), labels);
  ASSERT_NE(table.find(42), nullptr);
  ASSERT_NE(table.find(43), nullptr);
  EXPECT_EQ(table.find(42)->name, "label 42");
  EXPECT_NE(table.find(42)->rgb, table.find(43)->rgb);
  EXPECT_EQ(table.find(5)->name, "liver");
  EXPECT_TRUE(std::is_sorted(table.labels.begin(), table.labels.end(),
                             [](const Label& a, const Label& b) { return a.value < b.value; }));
}

}  // namespace
}  // namespace tessera::ui
