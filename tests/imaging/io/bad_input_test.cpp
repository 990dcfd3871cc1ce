// Files and paths a user can get wrong. Each must give a typed error with a
// message a person understands, never a crash, an allocation of a claimed
// size, or a partial output file. (DICOM-specific cases: dicom_test.cpp and
// pydicom_files_test.cpp.) Run under the asan preset too.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

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

// A zlib bomb: a MetaImage of 8 x 8 x 8 voxels whose compressed data
// inflate to 512 MiB of zeros (half a MiB on disk). Decompression stops just
// past the 1 KiB the header describes; nothing near 512 MiB is ever held.
TEST(BadInput, CompressedDataThatInflateFarBeyondTheHeaderAreRefused) {
  TempDir dir;
  std::string stream;
  {
    z_stream z{};
    ASSERT_EQ(deflateInit(&z, 9), Z_OK);
    const std::string zeros(std::size_t{1} << 20, '\0');
    std::string out(std::size_t{1} << 16, '\0');
    for (int i = 0; i <= 512; ++i) {
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
      z.avail_in = i < 512 ? static_cast<uInt>(zeros.size()) : 0;
      const int flush = i < 512 ? Z_NO_FLUSH : Z_FINISH;
      do {
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        z.avail_out = static_cast<uInt>(out.size());
        deflate(&z, flush);
        stream.append(out.data(), out.size() - z.avail_out);
      } while (z.avail_out == 0);
    }
    deflateEnd(&z);
  }
  ASSERT_LT(stream.size(), std::size_t{4} << 20);
  writeAll(dir / "bomb.mha",
           "ObjectType = Image\nNDims = 3\nDimSize = 8 8 8\nElementType = MET_SHORT\n"
           "CompressedData = True\nCompressedDataSize = " +
               std::to_string(stream.size()) + "\nElementDataFile = LOCAL\n" + stream);
  expectRefused(dir / "bomb.mha", StatusCode::kCorruptData, "hold more than 1024 bytes");
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

// MetaIO looped for ever over a NDims beyond int (found by fuzzing).
TEST(BadInput, MetaImageWithImpossibleDimensionsIsRefused) {
  TempDir dir;
  const std::string rest =
      "DimSize = 4 3 2\nElementType = MET_SHORT\nElementDataFile = LOCAL\n" + std::string(48, '\0');
  writeAll(dir / "huge.mha", "ObjectType = Image\nNDims = 66666666666666666666666666 3\n" + rest);
  expectRefused(dir / "huge.mha", StatusCode::kCorruptData, "is not a number of dimensions");
  writeAll(dir / "zero.mha", "ObjectType = Image\nNDims = 0\n" + rest);
  expectRefused(dir / "zero.mha", StatusCode::kCorruptData, "is not a number of dimensions");
  // A second NDims line: MetaIO reads it too.
  writeAll(dir / "again.mha",
           "ObjectType = Image\nNDims = 3\nNDims = 0006493360897893160276 3\n" + rest);
  expectRefused(dir / "again.mha", StatusCode::kCorruptData, "is not a number of dimensions");
  writeAll(dir / "two.mha", "ObjectType = Image\nNDims = 2\n" + rest);
  expectRefused(dir / "two.mha", StatusCode::kCorruptData, "does not hold NDims = 2 sizes");
}

// The image_file fuzzer's finding 9: NrrdIO read these sizes as a 17 GB
// volume, which was allocated before the 30-byte gzip stream was read.
TEST(BadInput, NrrdSizesThatAreNotPlainNumbersAreRefused) {
  TempDir dir;
  const std::string gzip(
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00",
      20);
  const auto nrrd = [&](const std::string& sizes) {
    return "NRRD0004\ntype: unsigned char\ndimension: 3\nsizes: " + sizes +
           "\nspacings: 1 1 1\nencoding: gzip\n\n" + gzip;
  };
  writeAll(dir / "pattern.nrrd", nrrd("4 388888888888888%8888888888 2"));
  expectRefused(dir / "pattern.nrrd", StatusCode::kCorruptData,
                "are not 3 whole numbers of at least 1");
  writeAll(dir / "two.nrrd", nrrd("4 4"));
  expectRefused(dir / "two.nrrd", StatusCode::kCorruptData, "one per dimension");
  writeAll(dir / "zero.nrrd", nrrd("4 0 4"));
  expectRefused(dir / "zero.nrrd", StatusCode::kCorruptData, "whole numbers of at least 1");
  // Plain sizes reach the data check: the empty stream holds no 64 voxels.
  writeAll(dir / "short.nrrd", nrrd("4 4 4"));
  expectRefused(dir / "short.nrrd", StatusCode::kCorruptData,
                "the compressed voxel data hold 0 bytes, the header describes 64");
}

// The image_file fuzzer's finding 10: with an element type MetaIO does not
// know, it inflated into a buffer of 0 bytes for ever.
TEST(BadInput, CompressedDataOfAnUnknownSizeAreRefused) {
  TempDir dir;
  const std::string zlib("\x78\x9c\x63\x60\x00\x00\x00\x02\x00\x01", 10);
  writeAll(dir / "type.mha",
           "ObjectType = Image\nNDims = 3\nBinaryData = True\nCompressedData = True\n"
           "CompressedDataSize = 10\nDimSize = 4 3 2\nElementType = MEMSB = False\n"
           "ElementDataFile = LOCAL\n" +
               zlib);
  expectRefused(dir / "type.mha", StatusCode::kCorruptData,
                "the MetaImage header does not say how many bytes the compressed voxel data");
  writeAll(dir / "type.nrrd",
           "NRRD0004\ntype: blob\ndimension: 3\nsizes: 4 3 2\nencoding: gzip\n\n" + zlib);
  expectRefused(dir / "type.nrrd", StatusCode::kCorruptData,
                "the NRRD header does not say how many bytes the gzip-compressed voxel data");
}

// The image_file fuzzer's finding 11: MetaIO copied a field name of 255
// characters or more into a 255-byte buffer (an abort under _FORTIFY_SOURCE,
// a heap overflow without it), whether or not the line holds '='; the values
// of Comment, Name, ObjectType and ObjectSubType likewise.
TEST(BadInput, MetaImageFieldNamesAndValuesOf255CharactersAreRefused) {
  TempDir dir;
  const std::string rest =
      "NDims = 3\nDimSize = 4 3 2\nElementType = MET_SHORT\nElementDataFile = LOCAL\n" +
      std::string(48, '\0');
  writeAll(dir / "named.mha", "ObjectType = Image\n" + std::string(300, 'k') + " = 1\n" + rest);
  expectRefused(dir / "named.mha", StatusCode::kCorruptData, "a field name of 300 characters");
  writeAll(dir / "bare.mha", "ObjectType = Image\n  " + std::string(255, 'k') + "  \n" + rest);
  expectRefused(dir / "bare.mha", StatusCode::kCorruptData, "a field name of 255 characters");
  // 254 characters are MetaIO's longest name: read, the field ignored.
  writeAll(dir / "longest.mha", "ObjectType = Image\n" + std::string(254, 'k') + " = 1\n" + rest);
  EXPECT_TRUE(readVolume(dir / "longest.mha").ok());
  // Values MetaIO copies into 255-byte buffers, after '=' or ':'.
  for (const char* field :
       {"Comment = ", "Name : ", "ObjectSubType=", "ObjectType = Image\nComment"}) {
    SCOPED_TRACE(field);
    writeAll(dir / "value.mha", std::string("ObjectType = Image\n") + field + " = " +
                                    std::string(300, 'v') + " \r\n" + rest);
    expectRefused(dir / "value.mha", StatusCode::kCorruptData, "a field value of 300 characters");
  }
  writeAll(dir / "value.mha",
           "ObjectType = Image\nComment = " + std::string(254, 'v') + "\n" + rest);
  EXPECT_TRUE(readVolume(dir / "value.mha").ok());
}

// The image_file fuzzer's findings 12 and 13: a header that this reader and
// MetaIO read differently (MetaIO takes the last of repeated fields, accepts
// ':' as well as '=', ends names at a NUL byte and, after a line without a
// separator, reads on to the next '=') had its data sized from fields MetaIO
// did not use; MetaIO then inflated for ever, allocated 2^63 bytes, or read
// an NDims past ElementDataFile and looped.
TEST(BadInput, MetaImageHeadersReadDifferentlyByMetaIoAreRefused) {
  TempDir dir;
  const std::string zlib("\x78\x9c\x63\x60\x00\x00\x00\x02\x00\x01", 10);
  const std::string start = "ObjectType = Image\nNDims = 3\nDimSize = 4 3 2\n";
  writeAll(dir / "twice.mha", start +
                                  "ElementType = MET_USHORT\nCompressedData = False\n"
                                  "ElementType: MET_UCHAR\nCompressedData = True\n"
                                  "ElementDataFile = LOCAL\n" +
                                  zlib);
  expectRefused(dir / "twice.mha", StatusCode::kCorruptData,
                "the MetaImage header sets ElementType 2 times");
  writeAll(dir / "nul.mha", start + "ElementType = MET_UCHAR\nElementDataFile" +
                                std::string("\0\0", 2) + "\n" + std::string(24, '\0'));
  expectRefused(dir / "nul.mha", StatusCode::kCorruptData, "has no ElementDataFile line");
  writeAll(dir / "nul2.mha", start + "ElementType" + std::string("\0", 1) +
                                 "x = MET_UCHAR\nElementDataFile = LOCAL\n" +
                                 std::string(24, '\0'));
  expectRefused(dir / "nul2.mha", StatusCode::kCorruptData, "holds a NUL byte");
  // Finding 13: after a line without '=' MetaIO reads on past ElementDataFile.
  writeAll(dir / "bare.mha", start +
                                 "ElementType = MET_UCHAR\nBinaryData\nElementDataFile = LOCAL\n"
                                 "NDims = 666666666666666666\n" +
                                 std::string(24, '\x05'));
  expectRefused(dir / "bare.mha", StatusCode::kCorruptData,
                "line 5 of the MetaImage header is not of the form 'Key = value'");
  // MetaIO matches names case-sensitively: it reads on past this line.
  writeAll(dir / "case.mha",
           start + "ElementType = MET_UCHAR\nelementdatafile = LOCAL\n" + std::string(24, '\x05'));
  expectRefused(dir / "case.mha", StatusCode::kCorruptData, "has no ElementDataFile line");
  writeAll(dir / "none.mha", start + "ElementType = MET_UCHAR\n");
  expectRefused(dir / "none.mha", StatusCode::kCorruptData, "has no ElementDataFile line");
  // ':' is a separator for MetaIO: read the same as '='.
  writeAll(dir / "colon.mha",
           start + "ElementType: MET_UCHAR\nElementDataFile: LOCAL\n" + std::string(24, '\x05'));
  auto volume = readVolume(dir / "colon.mha");
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  EXPECT_EQ(volume->at(3, 2, 1), 5);
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

Volume texturedVolume(std::int64_t n) {
  Volume v = smallVolume(n);
  std::uint32_t x = 12345;  // fixed seed: LCG noise so that the data compress poorly
  for (std::int64_t i = 0; i < v.voxelCount(); ++i) {
    x = x * 1664525u + 1013904223u;
    v.data()[i] = static_cast<std::int16_t>((x >> 16) % 2000 - 1000);
  }
  return v;
}

// --- detached data files: confined to the header's folder, regular, sized ---

// A 2 x 2 x 2 MET_SHORT header naming `dataFile`; a .raw of `rawBytes`
// bytes is written as `rawName` when given.
std::string writeMhd(const TempDir& dir, const std::string& dataFile,
                     const std::string& rawName = "", std::size_t rawBytes = 16) {
  writeAll(dir / "ct.mhd",
           "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\n"
           "ElementDataFile = " +
               dataFile + "\n");
  if (!rawName.empty()) writeAll(dir / rawName, std::string(rawBytes, '\1'));
  return dir / "ct.mhd";
}

// The same for a detached NRRD header.
std::string writeNhdr(const TempDir& dir, const std::string& dataFile,
                      const std::string& rawName = "", std::size_t rawBytes = 16) {
  writeAll(dir / "ct.nhdr",
           "NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nendian: little\nencoding: raw\n"
           "data file: " +
               dataFile + "\n\n");
  if (!rawName.empty()) writeAll(dir / rawName, std::string(rawBytes, '\1'));
  return dir / "ct.nhdr";
}

TEST(BadInput, DetachedHeadersThatAreFineStillRead) {
  TempDir dir;
  auto mhd = readVolume(writeMhd(dir, "ct.raw", "ct.raw"));
  ASSERT_TRUE(mhd.ok()) << mhd.error().toString();
  EXPECT_EQ(mhd->data()[0], 0x0101);
  auto nhdr = readVolume(writeNhdr(dir, "./ct.raw"));
  ASSERT_TRUE(nhdr.ok()) << nhdr.error().toString();
  EXPECT_EQ(nhdr->data()[7], 0x0101);
}

TEST(BadInput, MetaImageDataFileWithFormatDirectivesIsRefused) {
  TempDir dir;
  expectRefused(writeMhd(dir, "%s%s%s%s"), StatusCode::kUnsupported,
                "data file '%s%s%s%s' is a file-name pattern");
  expectRefused(writeMhd(dir, "slice%03d.raw 1 2 1", "slice001.raw", 8), StatusCode::kUnsupported,
                "is a file-name pattern");
}

TEST(BadInput, MetaImageDataFileListIsRefused) {
  TempDir dir;
  expectRefused(writeMhd(dir, "LIST"), StatusCode::kUnsupported, "lists of data files");
}

TEST(BadInput, MetaImageNamingEtcPasswdIsNeverRead) {
  TempDir dir;
  expectRefused(writeMhd(dir, "/etc/passwd"), StatusCode::kInvalidArgument,
                "data file '/etc/passwd' is outside the header's folder");
}

TEST(BadInput, MetaImageDataFileInAParentFolderIsRefused) {
  TempDir dir;
  writeAll(dir / "up.raw", std::string(16, '\1'));
  const std::string sub = dir.makeDir("sub");
  writeAll(sub + "/ct.mhd",
           "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\n"
           "ElementDataFile = ../up.raw\n");
  expectRefused(sub + "/ct.mhd", StatusCode::kInvalidArgument,
                "data file '../up.raw' is outside the header's folder");
}

TEST(BadInput, MetaImageDataFileSymlinkedOutsideTheFolderIsRefused) {
  TempDir dir;
  writeAll(dir / "outside.raw", std::string(16, '\1'));
  TempDir inner;
  fs::create_symlink(dir / "outside.raw", inner / "ct.raw");
  expectRefused(writeMhd(inner, "ct.raw"), StatusCode::kInvalidArgument,
                "data file 'ct.raw' is outside the header's folder");
}

TEST(BadInput, MetaImageDataFileThatIsAFifoIsRefusedWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "ct.raw").c_str(), 0600), 0);
  expectRefused(writeMhd(dir, "ct.raw"), StatusCode::kInvalidArgument,
                "data file 'ct.raw' is not a regular file");
}

TEST(BadInput, MetaImageDataFileThatIsADirectoryIsRefused) {
  TempDir dir;
  dir.makeDir("ct.raw");
  expectRefused(writeMhd(dir, "ct.raw"), StatusCode::kInvalidArgument,
                "data file 'ct.raw' is not a regular file");
}

TEST(BadInput, MetaImageDataFileShorterThanTheHeaderClaimsIsRefused) {
  TempDir dir;
  expectRefused(writeMhd(dir, "ct.raw", "ct.raw", 10), StatusCode::kCorruptData,
                "data file 'ct.raw' holds 10 bytes, the header describes 16");
}

TEST(BadInput, NrrdDataFileWithFormatDirectivesIsRefused) {
  TempDir dir;
  expectRefused(writeNhdr(dir, "slice%03d.raw 1 2 1 2", "slice001.raw", 8),
                StatusCode::kUnsupported, "is a file-name pattern");
  expectRefused(writeNhdr(dir, "%s%s%s%s%n"), StatusCode::kUnsupported, "is a file-name pattern");
}

TEST(BadInput, NrrdDataFileListIsRefused) {
  TempDir dir;
  writeAll(dir / "a.raw", std::string(8, '\1'));
  writeAll(dir / "b.raw", std::string(8, '\1'));
  writeAll(dir / "ct.nhdr",
           "NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nendian: little\nencoding: raw\n"
           "data file: LIST 2\na.raw\nb.raw\n");
  expectRefused(dir / "ct.nhdr", StatusCode::kUnsupported, "lists of data files");
}

TEST(BadInput, NrrdNamingEtcPasswdIsNeverRead) {
  TempDir dir;
  expectRefused(writeNhdr(dir, "/etc/passwd"), StatusCode::kInvalidArgument,
                "data file '/etc/passwd' is outside the header's folder");
}

TEST(BadInput, NrrdDataFileInAParentFolderIsRefused) {
  TempDir dir;
  dir.makeDir("x");
  writeAll(dir / "ct.raw", std::string(16, '\1'));
  expectRefused(writeNhdr(dir, "x/../../" + fs::path(dir.path()).filename().string() + "/ct.raw"),
                StatusCode::kInvalidArgument, "is outside the header's folder");
}

TEST(BadInput, NrrdDataFileShorterThanTheHeaderClaimsIsRefused) {
  TempDir dir;
  expectRefused(writeNhdr(dir, "ct.raw", "ct.raw", 15), StatusCode::kCorruptData,
                "data file 'ct.raw' holds 15 bytes, the header describes 16");
}

TEST(BadInput, MetaImageDataFileLongerThanTheHeaderClaimsIsRefused) {
  TempDir dir;
  expectRefused(writeMhd(dir, "ct.raw", "ct.raw", 24), StatusCode::kCorruptData,
                "data file 'ct.raw' holds 24 bytes, the header describes 16");
}

TEST(BadInput, DetachedDataFileInASubfolderIsRead) {
  TempDir dir;
  dir.makeDir("data");
  auto volume = readVolume(writeMhd(dir, "data/ct.raw", "data/ct.raw"));
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  EXPECT_EQ(volume->voxelCount(), 8);
}

TEST(BadInput, TruncatedUncompressedMetaImageIsRefused) {
  TempDir dir;
  const std::string header =
      "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\n"
      "ElementDataFile = LOCAL\n";
  writeAll(dir / "cut.mha", header + std::string(12, '\1'));
  expectRefused(dir / "cut.mha", StatusCode::kCorruptData,
                "the file after its header holds 12 bytes, the header describes 16");
}

TEST(BadInput, TruncatedCompressedDetachedMetaImageIsRefused) {
  TempDir dir;
  const std::string voxels(2 * 16 * 16 * 16, '\3');
  uLongf size = compressBound(voxels.size());
  std::string packed(size, '\0');
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(packed.data()), &size,
                     reinterpret_cast<const Bytef*>(voxels.data()), voxels.size()),
            Z_OK);
  writeAll(dir / "ct.zraw", packed.substr(0, size / 2));
  writeAll(dir / "ct.mhd",
           "ObjectType = Image\nNDims = 3\nDimSize = 16 16 16\nElementType = MET_SHORT\n"
           "CompressedData = True\nElementDataFile = ct.zraw\n");
  expectRefused(dir / "ct.mhd", StatusCode::kCorruptData, "the compressed voxel data is truncated");
  writeAll(dir / "ct.mhd",
           "ObjectType = Image\nNDims = 3\nDimSize = 16 16 16\nElementType = MET_SHORT\n"
           "CompressedData = True\nCompressedDataSize = " +
               std::to_string(size) + "\nElementDataFile = ct.zraw\n");
  expectRefused(dir / "ct.mhd", StatusCode::kCorruptData,
                "the compressed voxel data is truncated: the header describes " +
                    std::to_string(size) + " bytes, the data file 'ct.zraw' holds " +
                    std::to_string(size / 2));
}

TEST(BadInput, GarbageGzipInADetachedNrrdIsRefused) {
  TempDir dir;
  writeAll(dir / "ct.nhdr",
           "NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nendian: little\nencoding: gzip\n"
           "data file: ct.raw.gz\n\n");
  std::string junk = "\x1f\x8b\x08";
  for (int i = 0; i < 64; ++i) junk += static_cast<char>(i * 37);
  writeAll(dir / "ct.raw.gz", junk);
  expectRefused(dir / "ct.nhdr", StatusCode::kCorruptData, "the compressed voxel data is damaged");
}

// --- NIfTI headers that contradict themselves ---

struct NiftiLie {
  const char* name;
  std::function<void(tessera::testing::Nifti1Spec&)> mutate;
  StatusCode code;
  const char* reason;
};

void PrintTo(const NiftiLie& lie, std::ostream* out) {
  *out << lie.name;
}

class NiftiHeaderLies : public ::testing::TestWithParam<NiftiLie> {};

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// A valid 2 x 2 x 1 int16 file with a qform and an sform; each row breaks
// one field.
tessera::testing::Nifti1Spec plausibleSpec() {
  tessera::testing::Nifti1Spec spec;
  spec.pixdim = {0.8f, 0.8f, 2.0f};
  spec.qformCode = 1;
  spec.qoffset = {10, 20, 30};
  spec.sformCode = 1;
  spec.srow = {{{0.8f, 0, 0, 10}, {0, 0.8f, 0, 20}, {0, 0, 2.0f, 30}}};
  return spec;
}

TEST(BadInput, ThePlausibleNiftiOfTheLiesTableReads) {
  TempDir dir;
  tessera::testing::writeNifti1(dir / "ok.nii", plausibleSpec(),
                                tessera::testing::rawBytes<std::int16_t>({1, 2, 3, 4}));
  auto volume = readVolume(dir / "ok.nii");
  ASSERT_TRUE(volume.ok()) << volume.error().toString();
  EXPECT_EQ(volume->data()[3], 4);
}

TEST_P(NiftiHeaderLies, IsRefusedPlainAndGzipped) {
  const NiftiLie& lie = GetParam();
  TempDir dir;
  tessera::testing::Nifti1Spec spec = plausibleSpec();
  lie.mutate(spec);
  const std::string data = tessera::testing::rawBytes<std::int16_t>({1, 2, 3, 4});
  tessera::testing::writeNifti1(dir / "lie.nii", spec, data);
  expectRefused(dir / "lie.nii", lie.code, lie.reason);
  gzipTo(dir / "lie.nii.gz", readAll(dir / "lie.nii"));
  expectRefused(dir / "lie.nii.gz", lie.code, lie.reason);
}

using Spec = tessera::testing::Nifti1Spec;
INSTANTIATE_TEST_SUITE_P(
    BadInput, NiftiHeaderLies,
    ::testing::Values(
        NiftiLie{"BitpixTooSmall", [](Spec& s) { s.bitpix = 8; }, StatusCode::kCorruptData,
                 "bitpix of 8 contradicts its datatype 4 (int16, 16 bits)"},
        NiftiLie{"BitpixTooLarge", [](Spec& s) { s.bitpix = 32; }, StatusCode::kCorruptData,
                 "bitpix of 32 contradicts its datatype 4"},
        NiftiLie{"FloatDatatypeWith16Bits", [](Spec& s) { s.datatype = 16; },
                 StatusCode::kCorruptData,
                 "bitpix of 16 contradicts its datatype 16 (float32, 32 bits)"},
        NiftiLie{"PixdimNaN", [](Spec& s) { s.pixdim[0] = kNaN; }, StatusCode::kCorruptData,
                 "voxel size pixdim[1] is nan"},
        NiftiLie{"PixdimInf", [](Spec& s) { s.pixdim[1] = kInf; }, StatusCode::kCorruptData,
                 "voxel size pixdim[2] is inf"},
        NiftiLie{"PixdimZero", [](Spec& s) { s.pixdim[2] = 0; }, StatusCode::kCorruptData,
                 "voxel size pixdim[3] is 0"},
        NiftiLie{"PixdimNegative", [](Spec& s) { s.pixdim[0] = -0.8f; }, StatusCode::kCorruptData,
                 "voxel size pixdim[1] is -0.8"},
        NiftiLie{"QuaternionNaN", [](Spec& s) { s.quaternion[0] = kNaN; }, StatusCode::kCorruptData,
                 "quatern_b is not a finite number"},
        NiftiLie{"QuaternionInf", [](Spec& s) { s.quaternion[2] = -kInf; },
                 StatusCode::kCorruptData, "quatern_d is not a finite number"},
        NiftiLie{"QoffsetNaN", [](Spec& s) { s.qoffset[0] = kNaN; }, StatusCode::kCorruptData,
                 "qoffset_x is not a finite number"},
        NiftiLie{"QoffsetInf", [](Spec& s) { s.qoffset[2] = kInf; }, StatusCode::kCorruptData,
                 "qoffset_z is not a finite number"},
        NiftiLie{"SformNaN", [](Spec& s) { s.srow[1][1] = kNaN; }, StatusCode::kCorruptData,
                 "sform (srow_y) holds a value that is not a finite number"},
        NiftiLie{"SformOffsetInf", [](Spec& s) { s.srow[2][3] = kInf; }, StatusCode::kCorruptData,
                 "sform (srow_z) holds a value that is not a finite"},
        NiftiLie{"SformOnlyNaN",
                 [](Spec& s) {
                   s.qformCode = 0;
                   for (auto& row : s.srow) row = {kNaN, kNaN, kNaN, kNaN};
                 },
                 StatusCode::kCorruptData, "sform (srow_x) holds a value that is not a finite"},
        NiftiLie{"SformZeroColumn", [](Spec& s) { s.srow[1][1] = 0; }, StatusCode::kCorruptData,
                 "sform's direction columns are degenerate (zero or collinear)"},
        NiftiLie{"SformCollinearColumns",
                 [](Spec& s) {
                   s.srow = {{{1, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 2, 0}}};
                 },
                 StatusCode::kCorruptData, "sform's direction columns are degenerate"},
        NiftiLie{"VoxOffsetBeyondTheFile", [](Spec& s) { s.voxOffset = 1e6f; },
                 StatusCode::kCorruptData, "voxel data offset (vox_offset 1000000) lies outside"},
        NiftiLie{"VoxOffsetNegative", [](Spec& s) { s.voxOffset = -352; }, StatusCode::kCorruptData,
                 "voxel data offset (vox_offset -352) lies outside"},
        NiftiLie{"VoxOffsetNaN", [](Spec& s) { s.voxOffset = kNaN; }, StatusCode::kCorruptData,
                 "voxel data offset (vox_offset nan) lies outside"}),
    [](const ::testing::TestParamInfo<NiftiLie>& info) { return std::string(info.param.name); });

// --- compressed voxel data: decompressed fully, its length checked ---

// `bytes` with the compressed payload after `marker` damaged: cut at half
// its length, or overwritten with junk.
std::string damagePayload(const std::string& bytes, const std::string& marker, bool truncate) {
  const std::size_t start = bytes.find(marker);
  EXPECT_NE(start, std::string::npos) << marker;
  const std::size_t payload = start + marker.size();
  if (truncate) return bytes.substr(0, payload + (bytes.size() - payload) / 2);
  std::string out = bytes;
  for (std::size_t i = payload + 10; i < out.size(); ++i)
    out[i] = static_cast<char>((i * 151) % 256);
  return out;
}

TEST(BadInput, DamagedCompressedMetaImageIsRefused) {
  TempDir dir;
  ASSERT_TRUE(writeVolume(texturedVolume(20), dir / "whole.mha").ok());
  const std::string bytes = readAll(dir / "whole.mha");
  ASSERT_TRUE(contains(bytes, "CompressedData = True"));
  writeAll(dir / "cut.mha", damagePayload(bytes, "ElementDataFile = LOCAL\n", true));
  expectRefused(dir / "cut.mha", StatusCode::kCorruptData, "compressed voxel data");
  writeAll(dir / "junk.mha", damagePayload(bytes, "ElementDataFile = LOCAL\n", false));
  expectRefused(dir / "junk.mha", StatusCode::kCorruptData, "compressed voxel data");
}

TEST(BadInput, DamagedGzipNrrdIsRefused) {
  TempDir dir;
  ASSERT_TRUE(writeVolume(texturedVolume(20), dir / "whole.nrrd").ok());
  const std::string bytes = readAll(dir / "whole.nrrd");
  ASSERT_TRUE(contains(bytes, "encoding: gzip"));
  writeAll(dir / "cut.nrrd", damagePayload(bytes, "\n\n", true));
  expectRefused(dir / "cut.nrrd", StatusCode::kCorruptData, "compressed voxel data");
  writeAll(dir / "junk.nrrd", damagePayload(bytes, "\n\n", false));
  expectRefused(dir / "junk.nrrd", StatusCode::kCorruptData, "compressed voxel data");
}

// Concatenated gzip members, the last one empty, as bgzip (BGZF) writes them.
std::string gzipMembers(const std::string& bytes, std::size_t pieces) {
  std::string out;
  auto member = [&out](const std::string& part) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string buffer(deflateBound(&z, part.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    z.avail_in = static_cast<uInt>(part.size());
    z.next_out = reinterpret_cast<Bytef*>(buffer.data());
    z.avail_out = static_cast<uInt>(buffer.size());
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.append(buffer.data(), z.total_out);
    deflateEnd(&z);
  };
  const std::size_t step = bytes.size() / pieces + 1;
  for (std::size_t at = 0; at < bytes.size(); at += step) member(bytes.substr(at, step));
  member("");
  return out;
}

TEST(BadInput, MultiMemberGzipNiftiIsRead) {
  TempDir dir;
  const Volume v = texturedVolume(16);
  ASSERT_TRUE(writeVolume(v, dir / "plain.nii").ok());
  writeAll(dir / "bgzf.nii.gz", gzipMembers(readAll(dir / "plain.nii"), 3));
  auto header = readHeader(dir / "bgzf.nii.gz");
  ASSERT_TRUE(header.ok()) << header.error().toString();
  auto read = readVolume(dir / "bgzf.nii.gz");
  ASSERT_TRUE(read.ok()) << read.error().toString();
  ASSERT_EQ(read->voxelCount(), v.voxelCount());
  for (std::int64_t i = 0; i < v.voxelCount(); ++i) ASSERT_EQ(read->data()[i], v.data()[i]) << i;
}

TEST(BadInput, TruncatedMultiMemberGzipNiftiIsRefused) {
  TempDir dir;
  ASSERT_TRUE(writeVolume(texturedVolume(16), dir / "plain.nii").ok());
  const std::string members = gzipMembers(readAll(dir / "plain.nii"), 3);
  writeAll(dir / "cut.nii.gz", members.substr(0, members.size() * 2 / 3));
  auto volume = readVolume(dir / "cut.nii.gz");
  ASSERT_FALSE(volume.ok());
  EXPECT_EQ(volume.error().code, StatusCode::kCorruptData) << volume.error().toString();
  EXPECT_TRUE(contains(volume.error().message, "truncated")) << volume.error().toString();
}

}  // namespace
}  // namespace tessera::imaging
