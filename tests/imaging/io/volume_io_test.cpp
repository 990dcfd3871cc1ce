#include "imaging/io/volume_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;

class VolumeIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera_io_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static Volume makeVolume() {
    Geometry g;
    g.size = {17, 11, 5};
    g.spacingMm = {0.75, 0.8125, 2.5};
    g.originMm = {-120.25, 33.5, -401.0};
    const double c = std::cos(0.2), s = std::sin(0.2);
    g.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
    Volume v = *Volume::create(g);
    for (std::int64_t i = 0; i < v.voxelCount(); ++i)
      v.data()[i] = static_cast<std::int16_t>((i * 37) % 4096 - 1024);
    return v;
  }
  fs::path dir_;
};

TEST_F(VolumeIoTest, RoundTripsEveryFormatExactly) {
  const Volume original = makeVolume();
  for (const char* name : {"ct.nii.gz", "ct.nii", "ct.nrrd", "ct.mha", "ct.mhd", "ct.nhdr"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(writeVolume(original, path(name)).ok());
    auto back = readVolume(path(name));
    ASSERT_TRUE(back.ok()) << back.error().toString();
    EXPECT_TRUE(sameGeometry(back->geometry(), original.geometry(), 1e-4))
        << describeGeometry(back->geometry());
    ASSERT_EQ(back->voxelCount(), original.voxelCount());
    EXPECT_TRUE(std::equal(original.data(), original.data() + original.voxelCount(), back->data()));
  }
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_NE(entry.path().filename().string()[0], '.') << "temporary left: " << entry.path();
}

TEST_F(VolumeIoTest, MissingFileIsNotFound) {
  auto result = readVolume(path("nope.nii.gz"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, StatusCode::kNotFound);
}

TEST_F(VolumeIoTest, TextFileNamedNiftiIsRefused) {
  std::ofstream(path("fake.nii.gz")) << "this is not an image\n";
  auto result = readVolume(path("fake.nii.gz"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, StatusCode::kCorruptData);
}

TEST_F(VolumeIoTest, FailedWriteLeavesNoFile) {
  const Volume v = makeVolume();
  Status status = writeVolume(v, path("missing_dir/ct.nii.gz"));
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  status = writeVolume(v, path("ct.png"));
  EXPECT_EQ(status.code(), StatusCode::kUnsupported);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(VolumeIoTest, LabelMapsRoundTrip) {
  Geometry g;
  g.size = {8, 8, 3};
  LabelMap labels{*Image<std::uint8_t>::create(g), defaultLabelTable()};
  labels.labels.at(3, 4, 1) = 5;
  labels.labels.at(7, 7, 2) = 9;
  ASSERT_TRUE(writeLabelMap(labels, path("labels.nii.gz")).ok());
  auto back = readLabelMap(path("labels.nii.gz"));
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_EQ(back->labels.at(3, 4, 1), 5);
  EXPECT_EQ(back->labels.at(7, 7, 2), 9);
  EXPECT_EQ(back->labels.at(0, 0, 0), 0);
}

}  // namespace
}  // namespace tessera::imaging
