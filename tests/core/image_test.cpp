#include "core/image.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(Image, CreateFillsAndIndexesXFastest) {
  Geometry g;
  g.size = {4, 3, 2};
  auto image = Volume::create(g, -1000);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->voxelCount(), 24);
  EXPECT_EQ(image->at(3, 2, 1), -1000);
  image->at(1, 2, 1) = 40;
  EXPECT_EQ(image->data()[1 + 4 * (2 + 3 * 1)], 40);
  EXPECT_EQ(image->slice(1)[1 + 4 * 2], 40);
}

TEST(Image, RefusesImpossibleSizesBeforeAllocating) {
  Geometry g;
  g.size = {100000, 100000, 100000};
  const MemoryStats before = memoryStats();
  auto image = Volume::create(g);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().code, StatusCode::kResourceExhausted);
  EXPECT_NE(image.error().message.find("100000 x 100000 x 100000"), std::string::npos);
  EXPECT_EQ(memoryStats().currentBytes, before.currentBytes);
}

TEST(Image, RefusesInvalidGeometry) {
  Geometry g;
  g.size = {4, 4, 4};
  g.spacingMm = {1, -1, 1};
  EXPECT_FALSE(Volume::create(g).ok());
}

TEST(Image, BuffersAreAccounted) {
  const auto before = memoryStats().currentBytes;
  {
    Geometry g;
    g.size = {64, 64, 8};
    auto image = Image<float>::create(g);
    ASSERT_TRUE(image.ok());
    EXPECT_GE(memoryStats().currentBytes - before, 64 * 64 * 8 * 4);
  }
  EXPECT_EQ(memoryStats().currentBytes, before);
}

TEST(LabelTable, DefaultSetHasTheV1Labels) {
  const LabelTable table = defaultLabelTable();
  EXPECT_EQ(table.labels.size(), static_cast<size_t>(kTissueLabelCount));
  EXPECT_EQ(table.nameOf(static_cast<uint8_t>(TissueLabel::kLiver)), "liver");
  EXPECT_EQ(table.nameOf(200), "label 200");
  ASSERT_NE(table.findByName("kidney"), nullptr);
  EXPECT_EQ(table.findByName("kidney")->value, 7);
  EXPECT_EQ(table.maxValue(), 9);
}

}  // namespace
}  // namespace tessera
