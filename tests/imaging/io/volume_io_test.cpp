#include "imaging/io/volume_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/support/write_limits.h"

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

// Volumes and label maps whose files are far larger than the limits below,
// compressed or not: seeded noise does not compress much.
Volume noisyVolume(std::uint32_t seed) {
  Geometry g;
  g.size = {64, 64, 24};
  Volume v = *Volume::create(g);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> value(-1024, 3071);
  for (std::int64_t i = 0; i < v.voxelCount(); ++i)
    v.data()[i] = static_cast<std::int16_t>(value(random));
  return v;
}

LabelMap noisyLabels(std::uint32_t seed) {
  Geometry g;
  g.size = {96, 96, 24};
  LabelMap labels{*Image<std::uint8_t>::create(g), defaultLabelTable()};
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> value(0, 9);
  for (std::int64_t i = 0; i < labels.labels.voxelCount(); ++i)
    labels.labels.data()[i] = static_cast<std::uint8_t>(value(random));
  return labels;
}

std::string listing(const fs::path& dir) {
  std::string names;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    names += entry.path().lexically_relative(dir).string() + " ";
  return names;
}

constexpr std::uint64_t kLimitBytes = 32 * 1024;
constexpr std::uint32_t kSeed = 20261202;

class VolumeWriteLimitTest : public VolumeIoTest,
                             public ::testing::WithParamInterface<const char*> {};

TEST_P(VolumeWriteLimitTest, VolumeOverTheFileSizeLimitIsAnErrorAndLeavesNothing) {
  const std::string out = path(GetParam());
  const Volume volume = noisyVolume(kSeed);
  const testing::ChildOutcome child =
      testing::withFileSizeLimit(kLimitBytes, [&] { return writeVolume(volume, out).toString(); });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos)
      << child.text << " (limit " << kLimitBytes << ", seed " << kSeed << ")";
  EXPECT_NE(child.text.find(out), std::string::npos) << child.text;
  EXPECT_TRUE(fs::is_empty(dir_)) << listing(dir_);
}

TEST_P(VolumeWriteLimitTest, LabelMapOverTheFileSizeLimitIsAnErrorAndLeavesNothing) {
  const std::string out = path(GetParam());
  const LabelMap labels = noisyLabels(kSeed);
  const testing::ChildOutcome child = testing::withFileSizeLimit(
      kLimitBytes, [&] { return writeLabelMap(labels, out).toString(); });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos)
      << child.text << " (limit " << kLimitBytes << ", seed " << kSeed << ")";
  EXPECT_TRUE(fs::is_empty(dir_)) << listing(dir_);
}

INSTANTIATE_TEST_SUITE_P(EveryFormat, VolumeWriteLimitTest,
                         ::testing::Values("ct.nii.gz", "ct.nii", "ct.nrrd", "ct.mha", "ct.mhd",
                                           "ct.nhdr"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '.') c = '_';
                           return name;
                         });

TEST_F(VolumeIoTest, FailedOverwriteKeepsTheEarlierFile) {
  const std::string out = path("labels.nii.gz");
  Geometry g;
  g.size = {4, 4, 2};
  LabelMap small{*Image<std::uint8_t>::create(g), defaultLabelTable()};
  small.labels.at(1, 2, 1) = 7;
  ASSERT_TRUE(writeLabelMap(small, out).ok());
  const LabelMap big = noisyLabels(kSeed);
  const testing::ChildOutcome child =
      testing::withFileSizeLimit(kLimitBytes, [&] { return writeLabelMap(big, out).toString(); });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos) << child.text;
  auto back = readLabelMap(out);
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_EQ(back->labels.geometry().size, g.size);
  EXPECT_EQ(back->labels.at(1, 2, 1), 7);
  EXPECT_EQ(listing(dir_), "labels.nii.gz ");
}

TEST_F(VolumeIoTest, VolumeOnAFullDiskIsAnErrorAndLeavesNothing) {
  const fs::path mountPoint = dir_ / "small";
  fs::create_directory(mountPoint);
  const std::string out = (mountPoint / "ct.nii.gz").string();
  const Volume volume = noisyVolume(kSeed);
  const auto child = testing::withSmallTmpfs(mountPoint.string(), 64 * 1024, [&] {
    return writeVolume(volume, out).toString() + "|" + listing(mountPoint);
  });
  if (!child) GTEST_SKIP() << "mounting a tmpfs is not permitted here";
  ASSERT_TRUE(child->exited) << child->text;
  EXPECT_NE(child->text.find("the disk is full"), std::string::npos) << child->text;
  EXPECT_NE(child->text.find(out), std::string::npos) << child->text;
  EXPECT_EQ(child->text.substr(child->text.find('|')), "|") << "left on the full disk";
}

TEST_F(VolumeIoTest, WritesAreReadBackBeforeTheyCount) {
  // Under a limit the file fits in, the verified write succeeds.
  const Volume volume = makeVolume();
  const testing::ChildOutcome child = testing::withFileSizeLimit(
      1 << 20, [&] { return writeVolume(volume, path("ct.nii.gz")).toString(); });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_EQ(child.text, "ok");
  EXPECT_EQ(listing(dir_), "ct.nii.gz ");
}

}  // namespace
}  // namespace tessera::imaging
