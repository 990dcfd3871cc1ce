// Files and paths a user can get wrong. Each must give a typed error with a
// message a person understands, never a crash, an allocation of a claimed
// size, or a partial output file. (DICOM-specific cases: dicom_test.cpp and
// pydicom_files_test.cpp.) Run under the asan preset too.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "imaging/io/volume_io.h"
#include "tests/support/nifti_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;
using tessera::testing::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Volume smallVolume(std::int64_t n = 6) {
  Geometry g;
  g.size = {n, n, n};
  g.spacingMm = {0.8, 0.8, 1.5};
  Volume v = *Volume::create(g);
  for (std::int64_t i = 0; i < v.voxelCount(); ++i)
    v.data()[i] = static_cast<std::int16_t>((i * 7919) % 3000 - 1000);
  return v;
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void gzipTo(const std::string& path, const std::string& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(gz);
}

// Expects readHeader and readVolume to fail with `code` and a message
// containing `reason`.
void expectRefused(const std::string& path, StatusCode code, const std::string& reason) {
  SCOPED_TRACE(path);
  auto header = readHeader(path);
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.error().code, code) << header.error().toString();
  EXPECT_TRUE(contains(header.error().message, reason)) << header.error().toString();
  auto volume = readVolume(path);
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, code) << volume.error().toString();
  EXPECT_TRUE(contains(volume.error().message, reason)) << volume.error().toString();
  EXPECT_EQ(volume.error().context, path);
}

TEST(BadInput, NonexistentPath) {
  TempDir dir;
  expectRefused(dir / "nope.nii.gz", StatusCode::kNotFound, "no such file");
  expectRefused(dir / "nope_dir/", StatusCode::kNotFound, "no such file");
}

TEST(BadInput, TextFileNamedNiiGz) {
  TempDir dir;
  writeAll(dir / "notes.nii.gz", "this is not an image\nsecond line\n");
  expectRefused(dir / "notes.nii.gz", StatusCode::kCorruptData,
                "not gzip-compressed (it starts with text: \"this is not an image\")");
}

TEST(BadInput, BinaryFileNamedNiiGzThatIsNotGzip) {
  TempDir dir;
  std::string junk(4000, '\0');
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 131) % 251);
  writeAll(dir / "junk.nii.gz", junk);
  expectRefused(dir / "junk.nii.gz", StatusCode::kCorruptData, "content is not gzip-compressed");
}

TEST(BadInput, GzipOfGarbage) {
  TempDir dir;
  gzipTo(dir / "garbage.nii.gz", std::string(5000, 'x'));
  expectRefused(dir / "garbage.nii.gz", StatusCode::kCorruptData,
                "the gzip data does not hold a NIfTI image");
}

TEST(BadInput, TruncatedNiiGz) {
  TempDir dir;
  ASSERT_TRUE(writeVolume(smallVolume(24), dir / "whole.nii.gz").ok());
  const std::string bytes = readAll(dir / "whole.nii.gz");
  for (std::size_t keep : {bytes.size() / 2, bytes.size() - 9}) {
    const std::string path = dir / ("cut" + std::to_string(keep) + ".nii.gz");
    writeAll(path, bytes.substr(0, keep));
    SCOPED_TRACE(keep);
    auto volume = readVolume(path);
    ASSERT_FALSE(volume.ok());
    EXPECT_EQ(volume.error().code, StatusCode::kCorruptData) << volume.error().toString();
    EXPECT_TRUE(contains(volume.error().message, "truncated")) << volume.error().toString();
  }
}

TEST(BadInput, TruncatedPlainNifti) {
  TempDir dir;
  ASSERT_TRUE(writeVolume(smallVolume(), dir / "whole.nii").ok());
  const std::string bytes = readAll(dir / "whole.nii");
  writeAll(dir / "cut.nii", bytes.substr(0, bytes.size() - 100));
  expectRefused(dir / "cut.nii", StatusCode::kCorruptData,
                "the file is truncated: the header describes " + std::to_string(bytes.size()) +
                    " bytes, the file has " + std::to_string(bytes.size() - 100));
}

TEST(BadInput, ZeroByteFiles) {
  TempDir dir;
  for (const char* name : {"empty.nii.gz", "empty.nii", "empty.nrrd", "empty.mha", "empty.dcm"}) {
    writeAll(dir / name, "");
    expectRefused(dir / name, StatusCode::kCorruptData, "empty (0 bytes)");
  }
}

TEST(BadInput, NiftiHeaderClaimingAHugeImageIsRefusedBeforeAllocating) {
  TempDir dir;
  tessera::testing::Nifti1Spec spec;
  spec.dims = {32767, 32767, 32767};
  tessera::testing::writeNifti1(dir / "huge.nii", spec, "");
  expectRefused(dir / "huge.nii", StatusCode::kResourceExhausted,
                "image of 32767 x 32767 x 32767 voxels needs");
  // 100000 per axis needs NIfTI-2's 64-bit dimensions.
  tessera::testing::writeNifti2Header(dir / "huge2.nii", 100000, 100000, 100000);
  expectRefused(dir / "huge2.nii", StatusCode::kResourceExhausted,
                "image of 100000 x 100000 x 100000 voxels needs");
  gzipTo(dir / "huge2.nii.gz", readAll(dir / "huge2.nii"));
  expectRefused(dir / "huge2.nii.gz", StatusCode::kResourceExhausted,
                "image of 100000 x 100000 x 100000 voxels needs");
}

TEST(BadInput, SmallNifti2IsRefusedWithTheReason) {
  TempDir dir;
  tessera::testing::writeNifti2Header(dir / "small2.nii", 4, 4, 4);
  expectRefused(dir / "small2.nii", StatusCode::kUnsupported, "NIfTI-2 files are not supported");
}

TEST(BadInput, NrrdWithABadHeader) {
  TempDir dir;
  writeAll(dir / "bad.nrrd", "NRRD0004\ntype: complex-banana\ndimension: 3\nsizes: 2 2\n\nxx");
  auto volume = readVolume(dir / "bad.nrrd");
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kCorruptData) << volume.error().toString();
  EXPECT_TRUE(contains(volume.error().message, "NRRD")) << volume.error().toString();

  writeAll(dir / "text.nrrd", "hello, this is a note\n");
  expectRefused(dir / "text.nrrd", StatusCode::kCorruptData,
                "not a NRRD file: it does not start with the NRRD magic line (it starts with "
                "text: \"hello, this is a note\")");
}

TEST(BadInput, MetaImageWhoseDataFileIsMissing) {
  TempDir dir;
  ASSERT_TRUE(writeVolume(smallVolume(), dir / "ct.mhd").ok());
  fs::path raw;
  for (const auto& e : fs::directory_iterator(dir.path()))
    if (e.path().extension() != ".mhd") raw = e.path();
  ASSERT_FALSE(raw.empty());
  fs::remove(raw);
  expectRefused(
      dir / "ct.mhd", StatusCode::kNotFound,
      "the voxel data file '" + raw.filename().string() + "' named by the header is missing");
}

TEST(BadInput, MetaImageClaimingAHugeImage) {
  TempDir dir;
  writeAll(dir / "huge.mha",
           "ObjectType = Image\nNDims = 3\nDimSize = 90000 90000 90000\nElementType = MET_SHORT\n"
           "ElementDataFile = LOCAL\n");
  expectRefused(dir / "huge.mha", StatusCode::kResourceExhausted, "voxels needs");
}

TEST(BadInput, UnknownExtension) {
  TempDir dir;
  writeAll(dir / "photo.png", "\x89PNG\r\n\x1a\n0000");
  expectRefused(dir / "photo.png", StatusCode::kUnsupported, "unrecognised file type");
}

TEST(BadInput, OutputWithAnUnsupportedExtensionWritesNothing) {
  TempDir dir;
  const Status status = writeVolume(smallVolume(), dir / "out.png");
  EXPECT_EQ(status.code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(status.error().message, "cannot write '.png' files")) << status.toString();
  EXPECT_TRUE(dir.entries().empty());
}

TEST(BadInput, OutputInAMissingDirectoryWritesNothing) {
  TempDir dir;
  for (const char* name : {"missing/out.nii.gz", "missing/out.mhd", "missing/series/"}) {
    SCOPED_TRACE(name);
    const Status status = writeVolume(smallVolume(), dir / name);
    EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.toString();
    EXPECT_TRUE(contains(status.error().message, "does not exist")) << status.toString();
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(BadInput, OutputInAReadOnlyDirectoryWritesNothing) {
  TempDir dir;
  std::string target;
  if (::geteuid() == 0) {
    // Permission bits do not stop root; /sys refuses new files even to root.
    std::ofstream probe("/sys/tessera-probe");
    if (probe || !fs::is_directory("/sys")) GTEST_SKIP() << "no read-only directory for root";
    target = "/sys";
  } else {
    target = dir.makeDir("readonly");
    fs::permissions(target, fs::perms::owner_read | fs::perms::owner_exec);
  }
  for (const char* name : {"/out.nii.gz", "/out.nhdr", "/series/"}) {
    SCOPED_TRACE(name);
    const Status status = writeVolume(smallVolume(), target + name);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), StatusCode::kIoError) << status.toString();
    EXPECT_FALSE(status.error().message.empty());
  }
  for (const auto& e : fs::directory_iterator(target))
    EXPECT_EQ(e.path().filename().string().find("tessera"), std::string::npos) << e.path();
  for (const auto& e : fs::directory_iterator(target))
    EXPECT_NE(e.path().filename().string().rfind(".out", 0), 0u) << e.path();
}

TEST(BadInput, DirectoryGivenAsOutputFile) {
  TempDir dir;
  const std::string existing = dir.makeDir("existing");
  const Status status = writeVolume(smallVolume(), existing);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(status.error().message, "is a directory")) << status.toString();
  EXPECT_TRUE(contains(status.error().message, "end it with '/'")) << status.toString();
  EXPECT_TRUE(dir.entries("existing").empty());
}

TEST(BadInput, LabelMapsAreNotReadFromDicom) {
  TempDir dir;
  ASSERT_TRUE(writeVolume(smallVolume(), dir / "series/").ok());
  auto labels = readLabelMap(dir / "series");
  ASSERT_FALSE(labels.ok());
  EXPECT_EQ(labels.error().code, StatusCode::kUnsupported);
}

}  // namespace
}  // namespace tessera::imaging
