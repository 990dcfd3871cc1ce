// Real DICOM files shipped by Debian's python3-pydicom. Expected values come
// from outside Tessera: pydicom's own decoding of the uncompressed files
// (CT_small.dcm, MR_small.dcm) and the reference pixels pydicom's test suite
// quotes for JPEG-lossy.dcm (identified in the OsiriX viewer).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;

const std::string kDir = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";

class PydicomFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::is_directory(kDir))
      GTEST_SKIP() << kDir << " is missing (Debian package python3-pydicom, see scripts/setup)";
  }
  static std::string file(const std::string& name) { return kDir + name; }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(PydicomFiles, CtSmallHasItsGeometryAndHounsfieldRange) {
  auto volume = readVolume(file("CT_small.dcm"));
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  const Geometry& g = volume->geometry();
  EXPECT_EQ(g.size, (std::array<std::int64_t, 3>{128, 128, 1}));
  EXPECT_NEAR(g.spacingMm[0], 0.661468, 1e-6);
  EXPECT_NEAR(g.spacingMm[1], 0.661468, 1e-6);
  EXPECT_NEAR(g.spacingMm[2], 5.0, 1e-9);  // SliceThickness of a single slice
  EXPECT_NEAR(g.originMm[0], -158.135803, 1e-6);
  EXPECT_NEAR(g.originMm[1], -179.035797, 1e-6);
  EXPECT_NEAR(g.originMm[2], -75.699997, 1e-6);
  EXPECT_EQ(orientationCode(g.direction), "LPS");
  const auto [lo, hi] = std::minmax_element(volume->data(), volume->data() + volume->voxelCount());
  EXPECT_EQ(*lo, -896);
  EXPECT_EQ(*hi, 1167);
  const double sum = std::accumulate(volume->data(), volume->data() + volume->voxelCount(), 0.0);
  EXPECT_NEAR(sum / volume->voxelCount(), -119.0738525390625, 1e-9);

  auto header = readHeader(file("CT_small.dcm"));
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->componentType, ComponentType::kInt16);
  EXPECT_EQ(header->rescaleIntercept, -1024.0);
  EXPECT_EQ(header->format, FileFormat::kDicomFile);
}

TEST_F(PydicomFiles, EveryEncodingOfMrSmallDecodesToTheSameVoxels) {
  auto reference = readVolume(file("MR_small.dcm"));
  ASSERT_TRUE(reference.ok()) << reference.error().toString();
  const auto [lo, hi] =
      std::minmax_element(reference->data(), reference->data() + reference->voxelCount());
  EXPECT_EQ(*lo, 127);
  EXPECT_EQ(*hi, 2145);
  // Big endian, implicit VR, RLE, JPEG 2000 and JPEG-LS lossless, padding.
  for (const char* name :
       {"MR_small_bigendian.dcm", "MR_small_expb.dcm", "MR_small_implicit.dcm", "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_padded.dcm"}) {
    SCOPED_TRACE(name);
    auto other = readVolume(file(name));
    ASSERT_TRUE(other.ok()) << other.error().toString();
    EXPECT_TRUE(sameGeometry(other->geometry(), reference->geometry(), 1e-6));
    ASSERT_EQ(other->voxelCount(), reference->voxelCount());
    EXPECT_TRUE(
        std::equal(reference->data(), reference->data() + reference->voxelCount(), other->data()));
  }
}

TEST_F(PydicomFiles, JpegExtendedFilesMatchReferencePixels) {
  for (const char* name : {"JPEG-lossy.dcm", "JPGExtended.dcm"}) {
    SCOPED_TRACE(name);
    ReadReport report;
    ReadOptions options;
    options.report = &report;
    auto volume = readVolume(file(name), options);
    ASSERT_TRUE(volume.ok()) << volume.error().toString();
    EXPECT_EQ(volume->geometry().size, (std::array<std::int64_t, 3>{256, 1024, 1}));
    EXPECT_EQ(volume->at(140, 420, 0), 244);  // row 420, column 140
    EXPECT_EQ(volume->at(120, 230, 0), 95);
    // An NM image without patient geometry: read, but not silently.
    ASSERT_GE(report.warnings.size(), 2u);
    EXPECT_TRUE(contains(report.warnings[0], "modality is NM"));
  }
}

TEST_F(PydicomFiles, Jpeg2000CtSliceDecodes) {
  auto volume = readVolume(file("693_J2KI.dcm"));
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  EXPECT_EQ(volume->geometry().size, (std::array<std::int64_t, 3>{512, 512, 1}));
  EXPECT_NEAR(volume->geometry().originMm[0], -122.5, 1e-9);
  EXPECT_NEAR(volume->geometry().originMm[1], -112.4, 1e-9);
  EXPECT_NEAR(volume->geometry().originMm[2], 47.0, 1e-9);
  const auto [lo, hi] = std::minmax_element(volume->data(), volume->data() + volume->voxelCount());
  EXPECT_LE(*lo, -1000);  // air around the patient
  EXPECT_GE(*hi, 1000);   // bone
}

TEST_F(PydicomFiles, UnreadableFilesAreRefusedWithTheReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"JPEG2000-embedded-sequence-delimiter.dcm", "JPEG 2000 pixel data could not be decoded"},
      {"ExplVR_BigEnd.dcm", "is a colour image (RGB"},
      {"SC_rgb_rle.dcm", "is a colour image (RGB"},
      {"SC_rgb_jpeg_dcmtk.dcm", "is a colour image (YBR_FULL"},
      {"image_dfl.dcm", "Deflated Explicit VR Little Endian"},
      {"MR_truncated.dcm", "truncated"},
      {"rtplan_truncated.dcm", "truncated"},
      {"rtplan.dcm", "holds no image"},
      {"liver_1frame.dcm", "1-bit image"},
      {"badVR.dcm", "NumberOfFrames is malformed ('1A')"},
      {"rtdose.dcm", "outside the Hounsfield range"},
  };
  for (const auto& [name, reason] : cases) {
    SCOPED_TRACE(name);
    auto volume = readVolume(file(name));
    ASSERT_FALSE(volume.ok());
    EXPECT_TRUE(contains(volume.error().message, reason)) << volume.error().toString();
  }
}

TEST_F(PydicomFiles, ListingTheWholeFolderSurvivesEveryFile) {
  auto listing = listDicomSeries(kDir);
  ASSERT_TRUE(listing.ok()) << listing.error().toString();
  EXPECT_GT(listing->series.size(), 10u);
  EXPECT_GT(listing->nonImageObjects, 5);
  std::int64_t files = 0;
  for (const DicomSeriesInfo& s : listing->series)
    files += static_cast<std::int64_t>(s.files.size());
  EXPECT_EQ(files + listing->nonDicomFiles + listing->nonImageObjects +
                static_cast<std::int64_t>(listing->unreadableFiles.size()),
            listing->filesScanned);
  const int index = defaultSeriesIndex(*listing);
  ASSERT_GE(index, 0);
  EXPECT_EQ(listing->series[static_cast<std::size_t>(index)].modality, "CT");
}

// A copy of pydicom file `name` at `out` with image pixel fields (group
// 0028, US, keyed by element number) set to other values, as a crafted
// file would have them. The fields are patched where the original stores
// them (explicit VR little endian), each found exactly once.
::testing::AssertionResult craft(const std::string& name, const std::string& out,
                                 const std::map<std::uint16_t, std::uint16_t>& fields) {
  std::ifstream in(kDir + name, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string bytes = buffer.str();
  for (const auto& [element, value] : fields) {
    const std::string tag{'\x28',
                          '\x00',
                          static_cast<char>(element & 0xFF),
                          static_cast<char>(element >> 8),
                          'U',
                          'S',
                          '\x02',
                          '\x00'};
    const std::size_t at = bytes.find(tag);
    if (at == std::string::npos || bytes.find(tag, at + 1) != std::string::npos)
      return ::testing::AssertionFailure()
             << name << ": (0028," << std::hex << element << ") is not stored once as US";
    bytes[at + 8] = static_cast<char>(value & 0xFF);
    bytes[at + 9] = static_cast<char>(value >> 8);
  }
  std::ofstream(out, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return ::testing::AssertionSuccess();
}

constexpr std::uint16_t kRows = 0x0010, kColumns = 0x0011, kBitsAllocated = 0x0100,
                        kBitsStored = 0x0101, kHighBit = 0x0102;

// Compressed pixel data whose own header disagrees with the DICOM header:
// before the codestream checks these overflowed the heap (JPEG 2000 image
// larger than Rows x Columns), aborted in GDCM's asserts (JPEG-LS, RLE) or
// gave a scrambled volume (JPEG 2000 image smaller than Rows x Columns).
TEST_F(PydicomFiles, CodestreamsThatDisagreeWithTheHeaderAreRefused) {
  struct Case {
    const char* original;
    std::map<std::uint16_t, std::uint16_t> fields;
    StatusCode code;
    const char* reason;
  };
  const Case cases[] = {
      {"JPEG2000.dcm",
       {{kRows, 64}, {kColumns, 64}},
       StatusCode::kCorruptData,
       "the JPEG 2000 image inside is 256×1024 but the header says 64×64"},
      {"JPEG2000.dcm",
       {{kRows, 2048}, {kColumns, 512}},
       StatusCode::kCorruptData,
       "the JPEG 2000 image inside is 256×1024 but the header says 512×2048"},
      {"MR_small_jp2klossless.dcm",
       {{kColumns, 32}},
       StatusCode::kCorruptData,
       "the JPEG 2000 image inside is 64×64 but the header says 32×64"},
      {"MR_small_jpeg_ls_lossless.dcm",
       {{kRows, 128}},
       StatusCode::kCorruptData,
       "the JPEG-LS image inside is 64×64 but the header says 64×128"},
      {"MR_small_RLE.dcm",
       {{kBitsStored, 12}, {kHighBit, 15}},
       StatusCode::kUnsupported,
       "the header says BitsStored 12 with HighBit 15"},
      {"MR_small_RLE.dcm",
       {{kBitsAllocated, 8}, {kBitsStored, 8}, {kHighBit, 7}},
       StatusCode::kCorruptData,
       "the RLE data holds 2 segments but the header's 1 samples per pixel of 8 bits need 1"},
  };
  tessera::testing::TempDir dir;
  int index = 0;
  for (const Case& c : cases) {
    const std::string path = dir / ("crafted" + std::to_string(index++) + ".dcm");
    SCOPED_TRACE(std::string(c.original) + " as " + path);
    ASSERT_TRUE(craft(c.original, path, c.fields));
    auto volume = readVolume(path);
    ASSERT_FALSE(volume.ok());
    EXPECT_EQ(volume.error().code, c.code) << volume.error().toString();
    EXPECT_TRUE(contains(volume.error().message, c.reason)) << volume.error().toString();
    EXPECT_EQ(volume.error().context, path);
  }
}

}  // namespace
}  // namespace tessera::imaging
