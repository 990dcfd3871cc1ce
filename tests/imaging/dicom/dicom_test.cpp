#include "imaging/dicom/dicom.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/support/dicom_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using tessera::testing::fixtureValue;
using tessera::testing::SliceSpec;
using tessera::testing::TempDir;
using tessera::testing::writeSeries;
using Positions = std::vector<std::array<double, 3>>;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Positions alongZ(std::initializer_list<double> zs) {
  Positions p;
  for (double z : zs) p.push_back({-10.0, 20.0, z});
  return p;
}

// A small analytic CT phantom: air, a body ellipse of soft tissue with a fat
// rim, two lungs and a bone disc, plus a position-dependent texture so that
// any flip or shift changes voxels.
Volume makePhantom(const Geometry& g) {
  Volume v = *Volume::create(g);
  for (std::int64_t k = 0; k < g.size[2]; ++k)
    for (std::int64_t j = 0; j < g.size[1]; ++j)
      for (std::int64_t i = 0; i < g.size[0]; ++i) {
        const double x = (i - g.size[0] / 2.0) / (g.size[0] / 2.0);
        const double y = (j - g.size[1] / 2.0) / (g.size[1] / 2.0);
        const double r = x * x / 0.8 + y * y / 0.6;
        int hu = -1000;
        if (r < 1.0) hu = r > 0.8 ? -100 : 40;
        if ((x + 0.4) * (x + 0.4) + y * y < 0.05 || (x - 0.4) * (x - 0.4) + y * y < 0.05) hu = -850;
        if (x * x + (y + 0.5) * (y + 0.5) < 0.02) hu = 900;
        v.at(i, j, k) = static_cast<std::int16_t>(hu + (i + 2 * j + 3 * k) % 7);
      }
  return v;
}

Geometry obliqueGeometry() {
  Geometry g;
  g.size = {24, 20, 9};
  g.spacingMm = {0.7, 0.9, 1.25};
  g.originMm = {-80.5, 40.25, -300.125};
  const double a = 0.3, b = -0.2;  // rotation about z then about x
  const Mat3 rz{std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1};
  const Mat3 rx{1, 0, 0, 0, std::cos(b), -std::sin(b), 0, std::sin(b), std::cos(b)};
  g.direction = multiply(rx, rz);
  return g;
}

TEST(DicomSeries, SortsSlicesByPositionAlongTheNormal) {
  TempDir dir;
  // Tilted 30 degrees about x: the slice normal is (0, -0.5, 0.866).
  const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
  SliceSpec base;
  base.orientation = {1, 0, 0, 0, c, s};
  base.intercept = -1024;
  const std::array<double, 3> normal{0, -s, c};
  const std::array<double, 3> p0{-12.5, 30.0, 100.0};
  // Slice k of the files lies at step perm[k] along the normal; names and
  // instance numbers follow neither.
  const int perm[6] = {3, 0, 5, 1, 4, 2};
  Positions positions;
  for (int k = 0; k < 6; ++k) {
    const double t = 2.5 * perm[k];
    positions.push_back({p0[0] + t * normal[0], p0[1] + t * normal[1], p0[2] + t * normal[2]});
  }
  writeSeries(dir.path(), base, positions);

  auto volume = readVolume(dir.path());
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  const Geometry& g = volume->geometry();
  EXPECT_EQ(g.size, (std::array<std::int64_t, 3>{5, 4, 6}));
  EXPECT_NEAR(g.spacingMm[0], 0.7, 1e-9);
  EXPECT_NEAR(g.spacingMm[1], 0.8, 1e-9);
  EXPECT_NEAR(g.spacingMm[2], 2.5, 1e-6);
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(g.originMm[a], p0[a], 1e-6);
    EXPECT_NEAR(g.direction[3 * a + 2], normal[a], 1e-9);
  }
  EXPECT_NEAR(g.direction[3 * 1 + 1], c, 1e-9);
  EXPECT_NEAR(g.direction[3 * 2 + 1], s, 1e-9);
  for (int k = 0; k < 6; ++k)
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 5; ++i)
        ASSERT_EQ(volume->at(i, j, perm[k]), fixtureValue(i, j, k) - 1024)
            << "file slice " << k << " voxel " << i << "," << j;
}

TEST(DicomSeries, AppliesRescalePerSliceToUnsignedStorage) {
  TempDir dir;
  SliceSpec a;
  a.rows = 1;
  a.columns = 3;
  a.unsignedPixels = true;
  a.slope = 0.5;
  a.intercept = -1024;
  a.stored = {40000, 3, 0};  // 40000 only fits unsigned
  a.position = {0, 0, 0};
  SliceSpec b = a;
  b.slope = 1;
  b.intercept = -1000;
  b.stored = {1000, 30000, 7};
  b.position = {0, 0, 3};
  b.instance = 2;
  ASSERT_TRUE(tessera::testing::ctSlice(a).write(dir / "a.dcm"));
  ASSERT_TRUE(tessera::testing::ctSlice(b).write(dir / "b.dcm"));
  ReadReport report;
  ReadOptions options;
  options.report = &report;
  auto volume = readVolume(dir.path(), options);
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  EXPECT_EQ(volume->at(0, 0, 0), 18976);  // 0.5 * 40000 - 1024
  EXPECT_EQ(volume->at(1, 0, 0), -1022);  // 0.5 * 3 - 1024 = -1022.5, rounded to even
  EXPECT_EQ(volume->at(2, 0, 0), -1024);
  EXPECT_EQ(volume->at(0, 0, 1), 0);
  EXPECT_EQ(volume->at(1, 0, 1), 29000);
  EXPECT_EQ(volume->at(2, 0, 1), -993);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_TRUE(contains(report.warnings[0], "1 rescaled values were not whole numbers"))
      << report.warnings[0];
}

TEST(DicomSeries, RefusesRescaledValuesOutsideInt16) {
  TempDir dir;
  SliceSpec a;
  a.rows = 1;
  a.columns = 2;
  a.unsignedPixels = true;
  a.stored = {65535, 0};
  ASSERT_TRUE(tessera::testing::ctSlice(a).write(dir / "a.dcm"));
  auto volume = readVolume(dir / "a.dcm");
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kUnsupported);
  EXPECT_TRUE(contains(volume.error().message, "65535")) << volume.error().message;
}

// Found by tests/fuzz (fuzz_dicom): a JPEG 2000 file with PixelRepresentation
// 36 reached GDCM, whose pixel format aborts on it. Refused for every
// transfer syntax, before any decoder.
TEST(DicomSeries, RefusesPixelRepresentationOtherThanZeroOrOne) {
  for (std::uint16_t representation : {2, 36, 65535}) {
    SCOPED_TRACE(representation);
    TempDir dir;
    SliceSpec a;
    a.rows = 1;
    a.columns = 2;
    a.stored = {1, 2};
    ASSERT_TRUE(
        tessera::testing::ctSlice(a).us(0x0028, 0x0103, representation).write(dir / "a.dcm"));
    auto volume = readVolume(dir / "a.dcm");
    ASSERT_FALSE(volume.ok());
    EXPECT_TRUE(
        contains(volume.error().message, "PixelRepresentation " + std::to_string(representation)))
        << volume.error().message;
    EXPECT_TRUE(contains(volume.error().message, "a.dcm")) << volume.error().message;
  }
}

TEST(DicomSeries, SeriesWriterRoundTripIsVoxelExact) {
  TempDir dir;
  const Volume original = makePhantom(obliqueGeometry());
  DicomWriteOptions options;
  options.seriesDescription = "round trip";
  ASSERT_TRUE(writeDicomSeries(original, dir / "ct/", options).ok());
  auto listing = listDicomSeries(dir / "ct");
  ASSERT_TRUE(listing.ok()) << listing.error().toString();
  ASSERT_EQ(listing->series.size(), 1u);
  EXPECT_EQ(listing->series[0].modality, "CT");
  EXPECT_EQ(listing->series[0].sliceCount, 9);
  EXPECT_EQ(listing->series[0].seriesDescription, "round trip");
  EXPECT_TRUE(listing->series[0].warnings.empty());

  ReadReport report;
  ReadOptions read;
  read.report = &report;
  auto back = readVolume(dir / "ct", read);
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_TRUE(sameGeometry(back->geometry(), original.geometry(), 1e-4))
      << describeGeometry(back->geometry());
  EXPECT_TRUE(sameGeometry(report.header.geometry, back->geometry(), 0.0));
  EXPECT_EQ(report.header.componentType, ComponentType::kInt16);
  EXPECT_EQ(report.header.format, FileFormat::kDicomDirectory);
  EXPECT_EQ(report.seriesUid, listing->series[0].seriesUid);
  ASSERT_EQ(back->voxelCount(), original.voxelCount());
  EXPECT_TRUE(std::equal(original.data(), original.data() + original.voxelCount(), back->data()));
  for (const std::string& name : dir.entries()) EXPECT_NE(name[0], '.') << "temporary left";
}

TEST(DicomSeries, NamesBeyondAsciiAreWrittenAsUtf8AndReadBackTheSame) {
  TempDir dir;
  Geometry g;
  g.size = {6, 5, 2};
  DicomWriteOptions options;
  options.patientName = "M\u00FCller^J\u00FCrgen";
  options.patientId = "P-7";
  options.studyDescription = "Th\u00F6rax";
  ASSERT_TRUE(writeDicomSeries(makePhantom(g), dir / "utf8", options).ok());
  auto listing = listDicomSeries(dir / "utf8");
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(listing->series[0].patientName, options.patientName);
  EXPECT_EQ(listing->series[0].studyDescription, options.studyDescription);
}

TEST(DicomSeries, WriteVolumeWritesASeriesForATrailingSlash) {
  TempDir dir;
  Geometry g;
  g.size = {6, 5, 3};
  const Volume original = makePhantom(g);
  ASSERT_TRUE(writeVolume(original, dir / "series/").ok());
  EXPECT_EQ(dir.entries("series").size(), 3u);
  auto back = readVolume(dir / "series");
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_TRUE(std::equal(original.data(), original.data() + original.voxelCount(), back->data()));
}

TEST(DicomSeries, LeftHandedVolumeKeepsEveryVoxelAtItsWorldPosition) {
  TempDir dir;
  Geometry g;
  g.size = {5, 4, 6};
  g.spacingMm = {0.5, 0.75, 2.0};
  g.originMm = {3, -4, 50};
  g.direction = {1, 0, 0, 0, 1, 0, 0, 0, -1};
  const Volume original = makePhantom(g);
  ASSERT_TRUE(writeDicomSeries(original, dir / "lh").ok());
  auto back = readVolume(dir / "lh");
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_GT(determinant(back->geometry().direction), 0.0);
  for (std::int64_t k = 0; k < 6; ++k)
    for (std::int64_t j = 0; j < 4; ++j)
      for (std::int64_t i = 0; i < 5; ++i) {
        const Vec3 world = g.worldFromVoxel({double(i), double(j), double(k)});
        const Vec3 ijk = back->geometry().voxelFromWorld(world);
        const auto bi = std::lround(ijk[0]), bj = std::lround(ijk[1]), bk = std::lround(ijk[2]);
        ASSERT_NEAR(ijk[2], double(bk), 1e-6);
        ASSERT_EQ(back->at(bi, bj, bk), original.at(i, j, k));
      }
}

TEST(DicomSeries, WriterRefusesANonEmptyTargetAndLeavesNothingBehind) {
  TempDir dir;
  Geometry g;
  g.size = {4, 4, 2};
  const Volume v = makePhantom(g);
  const std::string full = dir.makeDir("full");
  std::ofstream(full + "/keep.txt") << "x";
  Status status = writeDicomSeries(v, full);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(status.error().message, "already holds files"));
  status = writeDicomSeries(v, dir / "missing/parent/");
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  const auto names = dir.entries();
  EXPECT_EQ(names, std::vector<std::string>{"full"});
  EXPECT_EQ(dir.entries("full"), std::vector<std::string>{"keep.txt"});
}

TEST(DicomSeries, ListsSeveralSeriesAndReadsTheLargestCtByDefault) {
  TempDir dir;
  SliceSpec small, large, mr;
  small.seriesUid = "1.2.3.100";
  small.seriesDescription = "small CT";
  large.seriesUid = "1.2.3.200";
  large.seriesDescription = "large CT";
  mr.seriesUid = "1.2.3.300";
  mr.modality = "MR";
  writeSeries(dir.makeDir("a"), small, alongZ({0, 1, 2}));
  writeSeries(dir.makeDir("b"), large, alongZ({0, 1, 2, 3, 4}));
  writeSeries(dir.makeDir("c"), mr, alongZ({0, 1, 2, 3, 4, 5, 6}));

  auto listing = listDicomSeries(dir.path());
  ASSERT_TRUE(listing.ok()) << listing.error().toString();
  ASSERT_EQ(listing->series.size(), 3u);
  EXPECT_EQ(listing->series[0].seriesUid, "1.2.3.300");
  EXPECT_EQ(listing->series[0].sliceCount, 7);
  EXPECT_EQ(listing->series[1].seriesUid, "1.2.3.200");
  EXPECT_EQ(listing->series[1].seriesDescription, "large CT");
  EXPECT_EQ(listing->series[1].patientName, "Fixture^Patient");
  EXPECT_EQ(listing->series[2].files.size(), 3u);
  EXPECT_EQ(defaultSeriesIndex(*listing), 1);

  ReadReport report;
  ReadOptions options;
  options.report = &report;
  auto chosen = readVolume(dir.path(), options);
  ASSERT_TRUE(chosen.ok()) << chosen.error().toString();
  EXPECT_EQ(chosen->geometry().size[2], 5);
  EXPECT_EQ(report.seriesUid, "1.2.3.200");
  ASSERT_FALSE(report.warnings.empty());
  EXPECT_TRUE(contains(report.warnings[0], "3 series")) << report.warnings[0];
  EXPECT_TRUE(contains(report.warnings[0], "1.2.3.200")) << report.warnings[0];

  options.seriesUid = "1.2.3.100";
  auto other = readVolume(dir.path(), options);
  ASSERT_TRUE(other.ok()) << other.error().toString();
  EXPECT_EQ(other->geometry().size[2], 3);

  options.seriesUid = "9.9.9";
  auto wrong = readVolume(dir.path(), options);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, StatusCode::kNotFound);
  EXPECT_TRUE(contains(wrong.error().message, "1.2.3.100")) << wrong.error().message;

  auto header = readHeader(dir.path());
  ASSERT_TRUE(header.ok()) << header.error().toString();
  EXPECT_EQ(header->geometry.size[2], 5);
  EXPECT_EQ(header->format, FileFormat::kDicomDirectory);
}

TEST(DicomSeries, MissingSliceIsRefusedAndListed) {
  TempDir dir;
  writeSeries(dir.path(), SliceSpec{}, alongZ({0, 2.5, 5, 10, 12.5}));
  auto volume = readVolume(dir.path());
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kUnsupported);
  EXPECT_TRUE(contains(volume.error().message, "missing")) << volume.error().message;
  EXPECT_TRUE(contains(volume.error().message, "5.000 mm")) << volume.error().message;
  auto listing = listDicomSeries(dir.path());
  ASSERT_TRUE(listing.ok());
  EXPECT_FALSE(listing->series[0].readable);
  EXPECT_TRUE(contains(listing->series[0].warnings.back(), "cannot be read"));
}

TEST(DicomSeries, GantryTiltIsRefused) {
  TempDir dir;
  Positions tilted;
  const double shift = std::tan(15.0 * M_PI / 180.0);
  for (int k = 0; k < 5; ++k) tilted.push_back({0.0, 2.5 * k * shift, 2.5 * k});
  writeSeries(dir.path(), SliceSpec{}, tilted);
  auto volume = readVolume(dir.path());
  ASSERT_FALSE(volume.ok());
  EXPECT_TRUE(contains(volume.error().message, "gantry tilt of about 15.00 degrees"))
      << volume.error().message;
}

TEST(DicomSeries, UnevenSpacingIsReadWithAWarning) {
  TempDir dir;
  writeSeries(dir.path(), SliceSpec{}, alongZ({0, 2.5, 5.0, 7.8, 10.0}));
  ReadReport report;
  ReadOptions options;
  options.report = &report;
  auto volume = readVolume(dir.path(), options);
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  EXPECT_NEAR(volume->geometry().spacingMm[2], 2.5, 1e-9);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_TRUE(contains(report.warnings[0], "uneven slice spacing (2.200 to 2.800 mm)"))
      << report.warnings[0];
}

TEST(DicomSeries, DuplicatePositionsAreRefused) {
  TempDir dir;
  writeSeries(dir.path(), SliceSpec{}, alongZ({0, 2, 2, 4}));
  auto volume = readVolume(dir.path());
  ASSERT_FALSE(volume.ok());
  EXPECT_TRUE(contains(volume.error().message, "share a position")) << volume.error().message;
}

TEST(DicomSeries, SliceWithoutPixelDataIsRefusedByName) {
  TempDir dir;
  writeSeries(dir.path(), SliceSpec{}, alongZ({0, 1, 2, 3}));
  SliceSpec broken;
  broken.position = {-10, 20, 1};
  broken.pixelData = false;
  ASSERT_TRUE(tessera::testing::ctSlice(broken).write(dir / "slice_002.dcm"));
  auto volume = readVolume(dir.path());
  ASSERT_FALSE(volume.ok());
  EXPECT_TRUE(contains(volume.error().message, "slice_002.dcm has no pixel data"))
      << volume.error().message;
  auto listing = listDicomSeries(dir.path());
  ASSERT_TRUE(listing.ok());
  EXPECT_FALSE(listing->series[0].readable);
}

TEST(DicomSeries, MixedImageSizesAreRefused) {
  TempDir dir;
  writeSeries(dir.path(), SliceSpec{}, alongZ({0, 1, 2}));
  SliceSpec other;
  other.rows = 6;
  other.position = {-10, 20, 3};
  ASSERT_TRUE(tessera::testing::ctSlice(other).write(dir / "z.dcm"));
  auto volume = readVolume(dir.path());
  ASSERT_FALSE(volume.ok());
  EXPECT_TRUE(contains(volume.error().message, "mixes image sizes")) << volume.error().message;
}

TEST(DicomSeries, TruncatedFilesAreRefusedWithoutCrashing) {
  TempDir dir;
  SliceSpec spec;
  spec.stored.assign(20, 5);
  ASSERT_TRUE(tessera::testing::ctSlice(spec).write(dir / "whole.dcm"));
  std::ifstream in(dir / "whole.dcm", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t keep : {std::size_t{20}, std::size_t{140}, std::size_t{200}, bytes.size() / 2,
                           bytes.size() - 30, bytes.size() - 1}) {
    SCOPED_TRACE(keep);
    const std::string path = dir / ("cut" + std::to_string(keep) + ".dcm");
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(keep));
    auto volume = readVolume(path);
    ASSERT_FALSE(volume.ok());
    const Error& e = volume.error();
    // A cut at an element boundary can leave a well-formed file that lacks
    // its pixel data; any other cut is damage.
    const bool lacksPixels =
        e.code == StatusCode::kUnsupported && contains(e.message, "has no pixel data");
    EXPECT_TRUE(e.code == StatusCode::kCorruptData || lacksPixels) << e.toString();
    if (keep > bytes.size() - 40) {  // inside the pixel data element
      EXPECT_TRUE(contains(e.message, "truncated")) << e.toString();
    }
  }
}

tessera::testing::DicomBuilder item() {
  return {};
}

TEST(DicomSeries, EnhancedMultiFrameFilesArePlacedByTheirPerFramePositions) {
  TempDir dir;
  using tessera::testing::DicomBuilder;
  SliceSpec spec;
  spec.rows = 2;
  spec.columns = 3;
  // Frames stored in the order z = 4, 0, 2.
  const double frameZ[3] = {4.0, 0.0, 2.0};
  DicomBuilder file = tessera::testing::ctSlice(spec);
  file.remove(0x0020, 0x0032).remove(0x0020, 0x0037).remove(0x0028, 0x0030);
  file.remove(0x0028, 0x1052).remove(0x0028, 0x1053).remove(0x0018, 0x0050);
  file.text(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2.1");
  file.text(0x0028, 0x0008, "IS", "3");
  DicomBuilder shared;
  shared.sequence(0x0020, 0x9116, {item().text(0x0020, 0x0037, "DS", "1\\0\\0\\0\\1\\0")});
  shared.sequence(0x0028, 0x9110,
                  {item().text(0x0028, 0x0030, "DS", "0.8\\0.7").text(0x0018, 0x0050, "DS", "2")});
  shared.sequence(0x0028, 0x9145,
                  {item().text(0x0028, 0x1052, "DS", "-1024").text(0x0028, 0x1053, "DS", "1")});
  std::vector<DicomBuilder> perFrame;
  for (double z : frameZ) {
    DicomBuilder frame;
    frame.sequence(0x0020, 0x9113,
                   {item().text(0x0020, 0x0032, "DS", "5\\6\\" + std::to_string(int(z)))});
    perFrame.push_back(frame);
  }
  file.sequence(0x5200, 0x9229, {shared});
  file.sequence(0x5200, 0x9230, perFrame);
  std::string pixels;
  for (int f = 0; f < 3; ++f)
    for (int v = 0; v < 6; ++v) {
      const auto value = static_cast<std::uint16_t>(100 * f + v);
      pixels += static_cast<char>(value & 0xFF);
      pixels += static_cast<char>(value >> 8);
    }
  file.raw(0x7FE0, 0x0010, "OW", pixels);
  ASSERT_TRUE(file.write(dir / "enhanced.dcm"));

  auto volume = readVolume(dir / "enhanced.dcm");
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  const Geometry& g = volume->geometry();
  EXPECT_EQ(g.size, (std::array<std::int64_t, 3>{3, 2, 3}));
  EXPECT_NEAR(g.spacingMm[0], 0.7, 1e-9);
  EXPECT_NEAR(g.spacingMm[1], 0.8, 1e-9);
  EXPECT_NEAR(g.spacingMm[2], 2.0, 1e-9);
  EXPECT_NEAR(g.originMm[2], 0.0, 1e-9);
  EXPECT_NEAR(g.originMm[0], 5.0, 1e-9);
  // z = 0 is frame 1, z = 1 frame 2, z = 2 frame 0.
  EXPECT_EQ(volume->at(0, 0, 0), 100 - 1024);
  EXPECT_EQ(volume->at(2, 1, 1), 205 - 1024);
  EXPECT_EQ(volume->at(1, 0, 2), 1 - 1024);
}

TEST(DicomSeries, MultiFrameFileWithoutPositionsIsRefused) {
  TempDir dir;
  SliceSpec spec;
  spec.stored.assign(40, 1);
  tessera::testing::DicomBuilder file = tessera::testing::ctSlice(spec);
  file.text(0x0028, 0x0008, "IS", "2");
  file.raw(0x7FE0, 0x0010, "OW", std::string(80, '\0'));
  ASSERT_TRUE(file.write(dir / "mf.dcm"));
  auto volume = readVolume(dir / "mf.dcm");
  ASSERT_FALSE(volume.ok());
  EXPECT_TRUE(contains(volume.error().message, "multi-frame file (2 frames)"))
      << volume.error().message;
}

TEST(DicomSeries, EmptyDirectoriesAndNonDicomFilesAreRefused) {
  TempDir dir;
  const std::string empty = dir.makeDir("empty");
  auto result = readVolume(empty);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, StatusCode::kNotFound);
  EXPECT_TRUE(contains(result.error().message, "holds no files")) << result.error().message;

  const std::string junk = dir.makeDir("junk");
  std::ofstream(junk + "/notes.txt") << "patient list\n";
  std::ofstream(junk + "/image.dcm") << "this is not DICOM either, just text\n";
  std::ofstream(junk + "/empty.dcm");
  result = readVolume(junk);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, StatusCode::kNotFound);
  EXPECT_TRUE(
      contains(result.error().message, "no DICOM images found (3 files checked, 3 not DICOM)"))
      << result.error().message;

  result = readVolume(junk + "/image.dcm");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, StatusCode::kCorruptData);
  EXPECT_TRUE(contains(result.error().message, "not a DICOM file")) << result.error().message;
}

}  // namespace
}  // namespace tessera::imaging
