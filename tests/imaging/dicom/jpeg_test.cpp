// JPEG pixel data (imaging/internal/jpeg_decode.cpp, through DCMTK's
// dcmjpeg). Each JPEG process is made from pydicom's CT_small.dcm with
// DCMTK's dcmcjpeg. Lossless encodings must give back the voxels of the
// uncompressed original; lossy ones the voxels of the same file after
// DCMTK's own decompressor, dcmdjpeg, read through Tessera's native path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/image.h"
#include "imaging/io/volume_io.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using tessera::testing::TempDir;

const std::string kPydicom = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class Jpeg : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::is_regular_file(kPydicom + "CT_small.dcm"))
      GTEST_SKIP() << kPydicom << " is missing (Debian package python3-pydicom, scripts/setup)";
    if (std::system("command -v dcmcjpeg >/dev/null && command -v dcmdjpeg >/dev/null") != 0)
      GTEST_SKIP() << "dcmcjpeg/dcmdjpeg are missing (Debian package dcmtk, scripts/setup)";
  }

  // `tool options in out` (paths are this test's own, without quotes).
  static void run(const std::string& tool, const std::string& options, const std::string& in,
                  const std::string& out) {
    const std::string command = tool + " " + options + " " + in + " " + out + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  static Image<std::int16_t> read(const std::string& path) {
    auto volume = readVolume(path);
    EXPECT_TRUE(volume.ok()) << volume.error().toString();
    return volume.ok() ? std::move(volume).value() : Image<std::int16_t>();
  }

  static void expectSameVoxels(const Image<std::int16_t>& got, const Image<std::int16_t>& want) {
    ASSERT_EQ(got.geometry().size, want.geometry().size);
    ASSERT_GT(got.voxelCount(), 0);
    std::int64_t differ = 0;
    for (std::int64_t i = 0; i < got.voxelCount(); ++i) differ += got.data()[i] != want.data()[i];
    EXPECT_EQ(differ, 0) << "of " << got.voxelCount() << " voxels";
  }

  TempDir dir;
};

TEST_F(Jpeg, LosslessProcessesGiveBackTheOriginalVoxels) {
  const Image<std::int16_t> original = read(kPydicom + "CT_small.dcm");
  // First-order prediction (.70), process 14 with predictor 6 (.57), and
  // frames split into 1 KB fragments.
  for (const std::string options : {"+e1", "+el +sv 6", "+e1 +fs 1"}) {
    SCOPED_TRACE(options);
    const std::string out = dir / "lossless.dcm";
    run("dcmcjpeg", options, kPydicom + "CT_small.dcm", out);
    expectSameVoxels(read(out), original);
  }
}

TEST_F(Jpeg, LossyProcessesMatchDcmtksOwnDecompression) {
  // Baseline 8-bit (.50), extended 12-bit (.51), progressive 12-bit (.55).
  for (const std::string options : {"+eb +be", "+ee +bt", "+ep +bt"}) {
    SCOPED_TRACE(options);
    const std::string lossy = dir / "lossy.dcm", plain = dir / "plain.dcm";
    run("dcmcjpeg", options, kPydicom + "CT_small.dcm", lossy);
    run("dcmdjpeg", "", lossy, plain);
    const Image<std::int16_t> got = read(lossy);
    expectSameVoxels(got, read(plain));
    // Not all one value: the image was decoded, not filled.
    EXPECT_NE(*std::min_element(got.data(), got.data() + got.voxelCount()),
              *std::max_element(got.data(), got.data() + got.voxelCount()));
  }
}

// The dicom fuzzer's finding 8: a 12-bit extended JPEG whose frame header
// agrees with the DICOM header but whose entropy-coded data are damaged
// aborted the process inside GDCM's JPEG codec.
TEST_F(Jpeg, DamagedEntropyCodedDataAreRefusedNamingTheFile) {
  const std::string path =
      std::string(TESSERA_FUZZ_CORPUS_DIR) + "/dicom/crash-jpeg12-corrupt-scan.dcm";
  ASSERT_TRUE(fs::is_regular_file(path)) << path;
  auto volume = readVolume(path);
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kCorruptData) << volume.error().toString();
  EXPECT_TRUE(contains(volume.error().message, "pixel data could not be decoded"))
      << volume.error().toString();
  EXPECT_EQ(volume.error().context, path);
}

// A scan cut short: the frame ends before its last row.
TEST_F(Jpeg, TruncatedScanIsRefused) {
  const std::string lossy = dir / "lossy.dcm";
  run("dcmcjpeg", "+ee +bt", kPydicom + "CT_small.dcm", lossy);
  // The pixel data are the file's last element: overwrite the second half
  // of the scan (up to the final EOI marker) with a restart-free run of
  // 0x00 bytes, which decode to nothing useful, then an early EOI.
  std::string bytes;
  {
    std::ifstream in(lossy, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::size_t sos = bytes.rfind("\xFF\xDA");
  const std::size_t eoi = bytes.rfind("\xFF\xD9");
  ASSERT_NE(sos, std::string::npos);
  ASSERT_NE(eoi, std::string::npos);
  ASSERT_GT(eoi, sos + 64);
  const std::size_t cut = sos + (eoi - sos) / 2;
  bytes[cut] = '\xFF';
  bytes[cut + 1] = '\xD9';
  for (std::size_t i = cut + 2; i < eoi + 2; ++i) bytes[i] = '\0';
  const std::string damaged = dir / "truncated.dcm";
  std::ofstream(damaged, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto volume = readVolume(damaged);
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kCorruptData) << volume.error().toString();
  EXPECT_TRUE(contains(volume.error().message, "JPEG")) << volume.error().toString();
  EXPECT_EQ(volume.error().context, damaged);
}

}  // namespace
}  // namespace tessera::imaging
