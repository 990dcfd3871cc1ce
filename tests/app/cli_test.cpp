// Runs the real `tessera` executable: exit codes (0 success, 1 failure,
// 2 usage error), readable messages on stderr, and no output file left
// behind when a command fails.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "core/json.h"
#include "imaging/io/volume_io.h"
#include "models/io/onnx_model.h"
#include "tests/support/batch_fixture.h"
#include "tests/support/cli_run.h"
#include "tests/support/dicom_fixture.h"
#include "tests/support/nifti_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera {
namespace {
namespace fs = std::filesystem;
using tessera::testing::TempDir;

using tessera::testing::CommandRun;
using tessera::testing::contains;
using tessera::testing::expectFailure;
using tessera::testing::kTessera;
using tessera::testing::quote;
using tessera::testing::runTessera;
using tessera::testing::slurp;

const std::string kPydicom = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";

Volume texturedVolume() {
  Geometry g;
  g.size = {12, 10, 6};
  g.spacingMm = {0.75, 0.8, 2.5};
  g.originMm = {-40.5, 12.25, -100.0};
  const double a = 0.25;
  g.direction = {std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1};
  Volume v = *Volume::create(g);
  for (std::int64_t i = 0; i < v.voxelCount(); ++i)
    v.data()[i] = static_cast<std::int16_t>((i * 37) % 2400 - 1000);
  return v;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kTessera)) GTEST_SKIP() << kTessera << " was not built";
  }
  bool havePydicom() const { return fs::is_directory(kPydicom); }
  CommandRun tessera(const std::vector<std::string>& args) const {
    return runTessera(capture, args);
  }
  TempDir capture;
  TempDir dir;
};

// The long option names `tessera COMMAND --help` lists (lines "  -x, --name"
// or "  --name").
std::set<std::string> helpOptions(const std::string& help) {
  std::set<std::string> names;
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  -", 0) != 0) continue;
    const std::size_t at = line.find("--");
    if (at == std::string::npos) continue;
    std::size_t end = at + 2;
    while (end < line.size() &&
           (std::isalnum(static_cast<unsigned char>(line[end])) || line[end] == '-'))
      ++end;
    names.insert(line.substr(at, end - at));
  }
  return names;
}

// A segmentation option that `tessera segment` takes reaches the batch too:
// every option of segment's help except those naming its single case's
// input and outputs is in batch's help.
TEST(CliHelp, BatchTakesEverySegmentationOptionOfSegment) {
  TempDir capture;
  const CommandRun segment = runTessera(capture, {"segment", "--help"});
  const CommandRun batch = runTessera(capture, {"batch", "--help"});
  ASSERT_EQ(segment.code, 0) << segment.err;
  ASSERT_EQ(batch.code, 0) << batch.err;
  const std::set<std::string> caseOnly = {"--input",  "--output",      "--series",      "--report",
                                          "--meshes", "--mesh-format", "--save-blocks", "--help"};
  const std::set<std::string> segmentOptions = helpOptions(segment.out);
  const std::set<std::string> batchOptions = helpOptions(batch.out);
  ASSERT_GE(segmentOptions.size(), 12u) << segment.out;
  for (const char* expected : {"--model", "--mode", "--threads", "--dilation", "--input"})
    EXPECT_TRUE(segmentOptions.count(expected)) << expected << " missing from\n" << segment.out;
  for (const std::string& option : segmentOptions) {
    if (!caseOnly.count(option)) {
      EXPECT_TRUE(batchOptions.count(option)) << option << " is missing from\n" << batch.out;
    }
  }
}

TEST_F(Cli, VersionAndHelp) {
  CommandRun run = tessera({"--version"});
  EXPECT_EQ(run.code, 0);
  EXPECT_TRUE(contains(run.out, "tessera " TESSERA_VERSION)) << run.out;
  run = tessera({"--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_TRUE(contains(run.out, "info")) << run.out;
  EXPECT_TRUE(contains(run.out, "convert")) << run.out;
  run = tessera({"info", "--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_TRUE(contains(run.out, "usage: tessera info PATH")) << run.out;
  EXPECT_TRUE(contains(run.out, "--json")) << run.out;
  run = tessera({"convert", "--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_TRUE(contains(run.out, "usage: tessera convert IN OUT")) << run.out;
  EXPECT_TRUE(contains(run.out, "ending in '/'")) << run.out;
}

TEST_F(Cli, UsageErrorsExitWithTwo) {
  const std::vector<std::vector<std::string>> cases = {{},
                                                       {"frobnicate"},
                                                       {"info"},
                                                       {"convert", "in.nii.gz"},
                                                       {"info", "--bogus", "x.nii"},
                                                       {"--log-level", "loud", "info", "x"}};
  for (const auto& args : cases) {
    const CommandRun run = tessera(args);
    EXPECT_EQ(run.code, 2) << (args.empty() ? "" : args[0]) << ": " << run.err;
  }
  EXPECT_TRUE(contains(tessera({"info"}).err, "missing argument PATH"));
}

// `tessera phantom` writes what its options ask for: slab, matrix, noise.
TEST_F(Cli, PhantomWritesTheSlabMatrixAndNoiseAsked) {
  auto phantom = [&](const std::string& out, const std::string& noise) {
    return tessera({"phantom", dir / out, "--slices", "4", "--spacing", "5", "--matrix", "64",
                    "--occupancy", "0.5", "--noise", noise});
  };
  for (const auto& [out, noise] : {std::pair{"quiet", "5"}, std::pair{"noisy", "40"}}) {
    const CommandRun run = phantom(out, noise);
    ASSERT_EQ(run.code, 0) << run.err;
    auto info = parseJson(slurp(dir / (std::string(out) + "/case_0000/phantom.json")));
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->getNumber("noiseHu"), std::stod(noise));
    EXPECT_EQ(info->getNumber("sliceSpacingMm"), 5.0);
    EXPECT_EQ(info->getNumber("matrix"), 64.0);
  }
  auto quiet = imaging::readVolume(dir / "quiet/case_0000/ct.nii.gz");
  auto noisy = imaging::readVolume(dir / "noisy/case_0000/ct.nii.gz");
  ASSERT_TRUE(quiet.ok() && noisy.ok());
  EXPECT_EQ(quiet->geometry().size[2], 4);
  EXPECT_DOUBLE_EQ(quiet->geometry().spacingMm[2], 5.0);
  // The same patient; only the noise differs, by far more than rounding.
  double sum = 0, squares = 0;
  const std::int64_t n = quiet->voxelCount();
  for (std::int64_t v = 0; v < n; ++v) {
    const double d = double(noisy->data()[v]) - double(quiet->data()[v]);
    sum += d;
    squares += d * d;
  }
  EXPECT_GT(std::sqrt(squares / n - (sum / n) * (sum / n)), 10.0);
  const CommandRun loud = phantom("loud", "200");
  EXPECT_EQ(loud.code, 2) << loud.err;
  EXPECT_TRUE(contains(loud.err, "noise")) << loud.err;
}

// The scanner variations reach the generator and phantom.json; bad values
// are usage errors.
TEST_F(Cli, PhantomTakesTheScannerVariations) {
  const std::vector<std::string> args = {
      "phantom",      dir / "varied", "--slices",    "2",      "--spacing", "5",
      "--matrix",     "64",           "--thickness", "3",      "--kernel",  "soft",
      "--phase",      "portal",       "--cupping",   "20",     "--rings",   "5",
      "--off-centre", "20",           "--habitus",   "child",  "--arms",    "down",
      "--variety",    "realistic",    "--table",     "padded", "--metal",   "spine"};
  CommandRun run = tessera(args);
  ASSERT_EQ(run.code, 0) << run.err;
  auto info = parseJson(slurp(dir / "varied/case_0000/phantom.json"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->getNumber("sliceThicknessMm"), 3.0);
  EXPECT_EQ(info->getString("kernel"), "soft");
  EXPECT_EQ(info->getString("contrastPhase"), "portal");
  EXPECT_EQ(info->getNumber("cuppingHu"), 20.0);
  EXPECT_EQ(info->getNumber("ringsHu"), 5.0);
  EXPECT_EQ(info->getString("variety"), "realistic");
  EXPECT_EQ(info->getString("habitus"), "child");
  EXPECT_EQ(info->getString("arms"), "down");
  EXPECT_EQ(info->getString("table"), "padded");
  EXPECT_EQ(info->getString("metal"), "spine");
  EXPECT_NEAR(std::hypot(info->getNumber("offCentreXMm"), info->getNumber("offCentreYMm")), 20.0,
              1e-2);
  for (const auto& [option, value, reason] :
       {std::tuple{"--thickness", "0.1", "slice thickness"},
        std::tuple{"--kernel", "bone", "unknown reconstruction kernel 'bone'"},
        std::tuple{"--phase", "late", "unknown contrast phase 'late'"},
        std::tuple{"--cupping", "99", "cupping"},
        std::tuple{"--variety", "wild", "unknown phantom variety 'wild'"},
        std::tuple{"--habitus", "giant", "unknown habitus 'giant'"},
        std::tuple{"--arms", "sideways", "--arms is up or down"},
        std::tuple{"--table", "glass", "unknown table 'glass' (curved, flat or padded)"},
        std::tuple{"--metal", "gold", "unknown metal implant 'gold'"}}) {
    run = tessera({"phantom", dir / "bad", "--matrix", "64", option, value});
    EXPECT_EQ(run.code, 2) << option;
    EXPECT_TRUE(contains(run.err, reason)) << run.err;
  }
  run = tessera({"phantom", dir / "bad", "--family", "head", "--phase", "arterial"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(contains(run.err, "torso phantoms only")) << run.err;
  run = tessera({"phantom", dir / "bad", "--metal", "dental"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(contains(run.err, "head phantoms only")) << run.err;
  run = tessera({"phantom", dir / "head", "--family", "head", "--matrix", "64", "--slices", "2",
                 "--spacing", "2", "--z-center", "0.02", "--head-detail"});
  ASSERT_EQ(run.code, 0) << run.err;
  info = parseJson(slurp(dir / "head/case_0000/phantom.json"));
  ASSERT_TRUE(info.ok());
  ASSERT_NE(info->find("headDetail"), nullptr);
  EXPECT_TRUE(info->find("headDetail")->asBool());
  EXPECT_FALSE(fs::exists(dir / "bad")) << "a refused phantom writes nothing";
}

TEST_F(Cli, InfoDescribesCtSmall) {
  if (!havePydicom()) GTEST_SKIP() << kPydicom << " is missing (python3-pydicom)";
  const std::string file = kPydicom + "CT_small.dcm";
  CommandRun run = tessera({"info", file});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "128 x 128 x 1 voxels")) << run.out;
  EXPECT_TRUE(contains(run.out, "origin        -158.1358, -179.0358, -75.7000 mm (LPS)"))
      << run.out;
  EXPECT_TRUE(contains(run.out, "HU            min -896, max 1167, mean -119.07")) << run.out;
  EXPECT_TRUE(contains(run.out, "CT, 1 slice of 128 x 128, Explicit VR Little Endian")) << run.out;

  run = tessera({"info", "--json", file});
  ASSERT_EQ(run.code, 0) << run.err;
  auto json = parseJson(run.out);
  ASSERT_TRUE(json.ok()) << json.error().toString() << "\n" << run.out;
  EXPECT_EQ(json->getString("format"), "DICOM file");
  EXPECT_EQ(json->find("hu")->getNumber("min"), -896);
  EXPECT_EQ(json->find("hu")->getNumber("max"), 1167);
  EXPECT_EQ(json->find("size")->items()[0].asNumber(), 128);
  EXPECT_NEAR(json->find("spacing_mm")->items()[0].asNumber(), 0.661468, 1e-6);
  const JsonValue* series = json->find("dicom")->find("series");
  ASSERT_EQ(series->items().size(), 1u);
  EXPECT_EQ(series->items()[0].getString("modality"), "CT");
  EXPECT_EQ(series->items()[0].getString("patient_name"), "CompressedSamples^CT1");
}

TEST_F(Cli, InfoJsonMatchesTheImage) {
  const Volume v = texturedVolume();
  ASSERT_TRUE(imaging::writeVolume(v, dir / "ct.nii.gz").ok());
  const CommandRun run = tessera({"info", "--json", dir / "ct.nii.gz"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto json = parseJson(run.out);
  ASSERT_TRUE(json.ok()) << json.error().toString();
  const Geometry& g = v.geometry();
  EXPECT_EQ(json->getString("format"), "NIfTI");
  EXPECT_EQ(json->getString("voxel_type"), "int16");
  EXPECT_EQ(json->getString("orientation"), orientationCode(g.direction));
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(json->find("size")->items()[a].asNumber(), static_cast<double>(g.size[a]));
    EXPECT_NEAR(json->find("spacing_mm")->items()[a].asNumber(), g.spacingMm[a], 1e-5);
    EXPECT_NEAR(json->find("origin_mm_lps")->items()[a].asNumber(), g.originMm[a], 1e-4);
    EXPECT_NEAR(json->find("extent_mm")->items()[a].asNumber(), g.size[a] * g.spacingMm[a], 1e-4);
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(json->find("direction")->items()[a].items()[c].asNumber(), g.direction[3 * a + c],
                  1e-6);
  }
  const auto [lo, hi] = std::minmax_element(v.data(), v.data() + v.voxelCount());
  double sum = 0;
  for (std::int64_t i = 0; i < v.voxelCount(); ++i) sum += v.data()[i];
  EXPECT_EQ(json->find("hu")->getNumber("min"), *lo);
  EXPECT_EQ(json->find("hu")->getNumber("max"), *hi);
  // core/json.h writes about ten significant digits.
  EXPECT_NEAR(json->find("hu")->getNumber("mean"), sum / v.voxelCount(), 1e-6);
}

TEST_F(Cli, InfoListsEverySeriesAndMarksTheOneRead) {
  tessera::testing::SliceSpec a, b;
  a.seriesUid = "1.2.3.10";
  a.seriesDescription = "three";
  b.seriesUid = "1.2.3.20";
  b.seriesDescription = "five";
  tessera::testing::writeSeries(dir.makeDir("a"), a, {{0, 0, 0}, {0, 0, 1}, {0, 0, 2}});
  tessera::testing::writeSeries(dir.makeDir("b"), b,
                                {{0, 0, 0}, {0, 0, 1}, {0, 0, 2}, {0, 0, 3}, {0, 0, 4}});
  CommandRun run = tessera({"info", "--json", dir.path()});
  ASSERT_EQ(run.code, 0) << run.err;
  auto json = parseJson(run.out);
  ASSERT_TRUE(json.ok()) << json.error().toString();
  const JsonValue* dicom = json->find("dicom");
  ASSERT_EQ(dicom->find("series")->items().size(), 2u);
  EXPECT_EQ(dicom->getString("selected_series"), "1.2.3.20");
  EXPECT_EQ(dicom->find("series")->items()[1].getString("series_description"), "three");
  EXPECT_EQ(json->find("size")->items()[2].asNumber(), 5);
  ASSERT_EQ(json->find("warnings")->items().size(), 1u);
  EXPECT_TRUE(contains(json->find("warnings")->items()[0].asString(), "2 series"));

  run = tessera({"info", dir.path()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "* 1.2.3.20  <- read")) << run.out;
  EXPECT_TRUE(contains(run.out, "    1.2.3.10")) << run.out;

  run = tessera({"info", "--series", "1.2.3.10", dir.path()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "5 x 4 x 3 voxels")) << run.out;
}

TEST_F(Cli, ConvertRoundTripsThroughADicomSeries) {
  const Volume v = texturedVolume();
  ASSERT_TRUE(imaging::writeVolume(v, dir / "ct.nii.gz").ok());
  CommandRun run = tessera({"convert", dir / "ct.nii.gz", dir / "series/"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "wrote")) << run.out;
  EXPECT_EQ(dir.entries("series").size(), 6u);
  run = tessera({"convert", dir / "series", dir / "back.nrrd"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto back = imaging::readVolume(dir / "back.nrrd");
  ASSERT_TRUE(back.ok()) << back.error().toString();
  EXPECT_TRUE(sameGeometry(back->geometry(), v.geometry(), 1e-4))
      << describeGeometry(back->geometry());
  EXPECT_TRUE(std::equal(v.data(), v.data() + v.voxelCount(), back->data()));
  for (const std::string& name : dir.entries()) EXPECT_NE(name[0], '.') << "temporary left";
}

TEST_F(Cli, ConvertReadsPydicomFilesOrRefusesThem) {
  if (!havePydicom()) GTEST_SKIP() << kPydicom << " is missing (python3-pydicom)";
  CommandRun run = tessera({"convert", kPydicom + "MR_small_RLE.dcm", dir / "rle.nii.gz"});
  EXPECT_EQ(run.code, 0) << run.err;
  run = tessera({"convert", kPydicom + "MR_small_bigendian.dcm", dir / "be.mha"});
  EXPECT_EQ(run.code, 0) << run.err;
  auto rle = imaging::readVolume(dir / "rle.nii.gz");
  auto be = imaging::readVolume(dir / "be.mha");
  ASSERT_TRUE(rle.ok() && be.ok());
  EXPECT_TRUE(std::equal(rle->data(), rle->data() + rle->voxelCount(), be->data()));

  expectFailure(tessera({"convert", kPydicom + "JPEG2000-embedded-sequence-delimiter.dcm",
                         dir / "j2k.nii.gz"}),
                "JPEG 2000 pixel data could not be decoded");
  expectFailure(tessera({"convert", kPydicom + "ExplVR_BigEnd.dcm", dir / "rgb.nii.gz"}),
                "colour image");
  expectFailure(tessera({"info", kPydicom + "image_dfl.dcm"}),
                "Deflated Explicit VR Little Endian");
  EXPECT_EQ(dir.entries().size(), 2u);  // rle.nii.gz and be.mha only
}

// --- bad input: exit 1, a reason on stderr, no output left behind ---

TEST_F(Cli, BadInputFilesAreRefused) {
  const Volume v = texturedVolume();
  ASSERT_TRUE(imaging::writeVolume(v, dir / "whole.nii.gz").ok());
  const std::string bytes = slurp(dir / "whole.nii.gz");
  std::ofstream(dir / "cut.nii.gz", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  std::ofstream(dir / "text.nii.gz") << "just some text\n";
  std::ofstream(dir / "zero.nrrd");
  std::ofstream(dir / "photo.jpg") << "\xff\xd8\xff\xe0 not really";
  tessera::testing::Nifti1Spec huge;
  huge.dims = {30000, 30000, 30000};
  tessera::testing::writeNifti1(dir / "huge.nii", huge, "");
  dir.makeDir("empty");
  const std::string notDicom = dir.makeDir("notdicom");
  std::ofstream(notDicom + "/readme.txt") << "no images here\n";

  const std::pair<std::string, std::string> cases[] = {
      {dir / "missing.nii.gz", "no such file or directory"},
      {dir / "empty", "the directory holds no files"},
      {notDicom, "no DICOM images found"},
      {dir / "text.nii.gz", "not gzip-compressed"},
      {dir / "cut.nii.gz", "truncated"},
      {dir / "zero.nrrd", "empty (0 bytes)"},
      {dir / "photo.jpg", "unrecognised file type"},
      {dir / "huge.nii", "image of 30000 x 30000 x 30000 voxels needs"},
  };
  for (const auto& [path, reason] : cases) {
    SCOPED_TRACE(path);
    expectFailure(tessera({"info", path}), reason);
    expectFailure(tessera({"info", "--json", path}), reason);
    expectFailure(tessera({"convert", path, dir / "out.nrrd"}), reason);
    EXPECT_FALSE(fs::exists(dir / "out.nrrd"));
  }
}

TEST_F(Cli, DicomSliceWithoutPixelDataIsRefusedButListed) {
  tessera::testing::writeSeries(dir.makeDir("ct"), {}, {{0, 0, 0}, {0, 0, 1}, {0, 0, 2}});
  tessera::testing::SliceSpec broken;
  broken.position = {0, 0, 1};
  broken.pixelData = false;
  ASSERT_TRUE(tessera::testing::ctSlice(broken).write(dir / "ct/slice_001.dcm"));
  CommandRun run = tessera({"info", dir / "ct"});
  expectFailure(run, "slice_001.dcm has no pixel data");
  EXPECT_TRUE(contains(run.out, "cannot be read: slice_001.dcm has no pixel data")) << run.out;
  expectFailure(tessera({"convert", dir / "ct", dir / "out.nii.gz"}), "has no pixel data");
  EXPECT_FALSE(fs::exists(dir / "out.nii.gz"));
}

TEST_F(Cli, UnusableOutputsAreRefusedBeforeReading) {
  const Volume v = texturedVolume();
  ASSERT_TRUE(imaging::writeVolume(v, dir / "in.nii.gz").ok());
  dir.makeDir("existing");
  const std::string full = dir.makeDir("full");
  std::ofstream(full + "/other.dcm") << "x";
  const std::pair<std::string, std::string> cases[] = {
      {dir / "missing/out.nii.gz", "the output directory does not exist"},
      {dir / "missing/series/", "does not exist"},
      {dir / "out.png", "cannot write '.png' files"},
      {dir / "out", "cannot write files without an extension"},
      {dir / "existing", "is a directory"},
      {dir / "full/", "already holds files"},
  };
  for (const auto& [out, reason] : cases) {
    SCOPED_TRACE(out);
    expectFailure(tessera({"convert", dir / "in.nii.gz", out}), reason);
  }
  auto entries = dir.entries();
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"existing", "full", "in.nii.gz"}));
  EXPECT_TRUE(dir.entries("existing").empty());
  EXPECT_EQ(dir.entries("full"), std::vector<std::string>{"other.dcm"});
}

TEST_F(Cli, ReadOnlyOutputDirectoryLeavesNothing) {
  const Volume v = texturedVolume();
  ASSERT_TRUE(imaging::writeVolume(v, dir / "in.nii.gz").ok());
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
  for (const char* name : {"/out.nii.gz", "/out.mhd", "/series/"}) {
    SCOPED_TRACE(name);
    const CommandRun run = tessera({"convert", dir / "in.nii.gz", target + name});
    EXPECT_EQ(run.code, 1) << run.err;
    EXPECT_TRUE(contains(run.err, "tessera: error: ")) << run.err;
    EXPECT_FALSE(fs::exists(target + name));
  }
}

TEST_F(Cli, WrongSeriesUidIsRefusedWithTheAvailableOnes) {
  tessera::testing::SliceSpec a;
  a.seriesUid = "1.2.3.77";
  tessera::testing::writeSeries(dir.makeDir("ct"), a, {{0, 0, 0}, {0, 0, 1}});
  expectFailure(tessera({"convert", "--series", "4.5.6", dir / "ct", dir / "out.nii.gz"}),
                "no series with UID 4.5.6 here; found: 1.2.3.77");
  EXPECT_FALSE(fs::exists(dir / "out.nii.gz"));
}

// Crafted headers: the reason and the file's name on stderr, exit 1, no
// crash (a MetaImage "%s" data file reached a format string in ITK; a NaN
// voxel size or sform aborted inside it), nothing written.
TEST_F(Cli, CraftedHeadersAreRefusedNamingTheFile) {
  std::ofstream(dir / "pattern.mha") << "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\n"
                                        "ElementType = MET_SHORT\nElementDataFile = %s%s%s%s\n";
  std::ofstream(dir / "passwd.mhd") << "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\n"
                                       "ElementType = MET_SHORT\nElementDataFile = /etc/passwd\n";
  tessera::testing::Nifti1Spec nanSpacing;
  nanSpacing.pixdim = {1, std::nanf(""), 1};
  tessera::testing::writeNifti1(dir / "nan_pixdim.nii", nanSpacing,
                                tessera::testing::rawBytes<std::int16_t>({1, 2, 3, 4}));
  tessera::testing::Nifti1Spec nanSform;
  nanSform.sformCode = 1;
  nanSform.srow = {{{std::nanf(""), 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}};
  tessera::testing::writeNifti1(dir / "nan_sform.nii", nanSform,
                                tessera::testing::rawBytes<std::int16_t>({1, 2, 3, 4}));
  const std::pair<std::string, std::string> cases[] = {
      {"pattern.mha", "is a file-name pattern"},
      {"passwd.mhd", "'/etc/passwd' is outside the header's folder"},
      {"nan_pixdim.nii", "voxel size pixdim[2] is nan"},
      {"nan_sform.nii", "holds a value that is not a finite number"},
  };
  for (const auto& [name, reason] : cases) {
    SCOPED_TRACE(name);
    const std::string path = dir / name;
    for (const CommandRun& run :
         {tessera({"info", path}), tessera({"convert", path, dir / "out.nii.gz"}),
          tessera({"segment", "-i", path, "-o", dir / "labels.nii.gz"})}) {
      expectFailure(run, reason);
      EXPECT_TRUE(contains(run.err, path)) << run.err;
    }
    EXPECT_FALSE(fs::exists(dir / "out.nii.gz"));
    EXPECT_FALSE(fs::exists(dir / "labels.nii.gz"));
  }
  EXPECT_EQ(dir.entries().size(), 4u);
}

// /etc/passwd is never read as voxels: its content appears nowhere.
TEST_F(Cli, DataFileOutsideTheHeaderFolderIsNotRead) {
  std::ofstream(dir / "ct.nhdr") << "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 4 4 4\n"
                                    "encoding: raw\ndata file: ../../../../etc/passwd\n\n";
  const CommandRun run = tessera({"info", "--json", dir / "ct.nhdr"});
  expectFailure(run, "is outside the header's folder");
  EXPECT_TRUE(contains(run.err, dir / "ct.nhdr")) << run.err;
  EXPECT_FALSE(contains(run.out + run.err, "root:")) << run.out << run.err;
  expectFailure(tessera({"convert", dir / "ct.nhdr", dir / "out.mha"}), "outside");
  EXPECT_FALSE(fs::exists(dir / "out.mha"));
}

}  // namespace
}  // namespace tessera

// --- compressed pixel data that disagrees with its DICOM header ---

namespace tessera {
namespace {

// A copy of pydicom file `name` at `out` with image pixel fields (group
// 0028, US, keyed by element number) set to other values, patched where the
// original stores them (explicit VR little endian), each found once.
::testing::AssertionResult craftPydicomFile(const std::string& name, const std::string& out,
                                            const std::vector<std::pair<int, int>>& fields) {
  std::string bytes = slurp(kPydicom + name);
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

// Each of these took the process down in GDCM (SIGSEGV from a heap
// overflow, SIGABRT from an assert) or wrote a scrambled volume with exit 0.
TEST_F(Cli, CompressedPixelDataDisagreeingWithTheHeaderIsRefused) {
  if (!havePydicom()) GTEST_SKIP() << kPydicom << " is missing (python3-pydicom)";
  struct Case {
    const char* original;
    std::vector<std::pair<int, int>> fields;  // (element of group 0028, value)
    const char* reason;
  };
  const Case cases[] = {
      // JPEG 2000 image larger than the header: heap overflow.
      {"JPEG2000.dcm",
       {{0x0010, 64}, {0x0011, 64}},
       "the JPEG 2000 image inside is 256×1024 but the header says 64×64"},
      // JPEG-LS with more rows in the header: assert in TryJPEGLSCodec.
      {"MR_small_jpeg_ls_lossless.dcm",
       {{0x0010, 128}},
       "the JPEG-LS image inside is 64×64 but the header says 64×128"},
      // RLE with 12 stored bits ending at bit 15: assert in PixelFormat.
      {"MR_small_RLE.dcm",
       {{0x0101, 12}, {0x0102, 15}},
       "the header says BitsStored 12 with HighBit 15"},
      // JPEG 2000 image smaller than the header: exit 0, scrambled volume.
      {"JPEG2000.dcm",
       {{0x0010, 2048}, {0x0011, 512}},
       "the JPEG 2000 image inside is 256×1024 but the header says 512×2048"},
  };
  int index = 0;
  for (const Case& c : cases) {
    const std::string input = dir / ("crafted" + std::to_string(index++) + ".dcm");
    SCOPED_TRACE(std::string(c.original) + " as " + input);
    ASSERT_TRUE(craftPydicomFile(c.original, input, c.fields));
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"info", input},
          std::vector<std::string>{"convert", input, dir / "out.nii.gz"}}) {
      SCOPED_TRACE(args.front());
      const CommandRun run = tessera(args);
      expectFailure(run, c.reason);
      EXPECT_TRUE(contains(run.err, input)) << run.err;
      EXPECT_FALSE(fs::exists(dir / "out.nii.gz"));
    }
  }
  EXPECT_EQ(dir.entries().size(), 4u);  // the crafted inputs only
}

// --- a German locale ----------------------------------------------------------

bool haveGermanLocale() {
  const bool have = std::setlocale(LC_ALL, "de_DE.UTF-8") != nullptr;
  std::setlocale(LC_ALL, "C");
  return have;
}

// Under LC_ALL=de_DE.UTF-8 (decimal comma), a DICOM series with decimal
// positions and spacings reads, converts and segments exactly as under C,
// and the report's numbers are JSON numbers with decimal points.
TEST_F(Cli, AGermanLocaleChangesNoNumberReadOrWritten) {
  if (!haveGermanLocale()) GTEST_SKIP() << "de_DE.UTF-8 is not generated (scripts/setup does)";
  tessera::testing::SliceSpec a;
  a.rows = 64;
  a.columns = 64;
  a.rowSpacing = 0.7;
  a.columnSpacing = 0.65;
  tessera::testing::writeSeries(dir.makeDir("ct"), a,
                                {{-10.5, 4.25, 0}, {-10.5, 4.25, 1.25}, {-10.5, 4.25, 2.5}});
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  const auto runIn = [&](const std::string& locale, const std::vector<std::string>& args) {
    return runTessera(capture, args, "env LC_ALL=" + locale);
  };
  for (const std::string locale : {"C", "de_DE.UTF-8"}) {
    SCOPED_TRACE(locale);
    const std::string out = dir.makeDir(locale);
    const CommandRun info = runIn(locale, {"info", "--json", dir / "ct"});
    ASSERT_EQ(info.code, 0) << info.err;
    std::ofstream(out + "/info.json") << info.out;
    const CommandRun convert = runIn(locale, {"convert", dir / "ct", out + "/ct.nii.gz"});
    ASSERT_EQ(convert.code, 0) << convert.err;
    const CommandRun segment =
        runIn(locale, {"segment", "-i", dir / "ct", "-o", out + "/labels.nii.gz", "--model",
                       dir / "model.onnx", "--report", out + "/report.json", "--threads", "1"});
    ASSERT_EQ(segment.code, 0) << segment.err;
  }
  EXPECT_EQ(slurp(dir / "C/info.json"), slurp(dir / "de_DE.UTF-8/info.json"));
  auto c = imaging::readVolume(dir / "C/ct.nii.gz");
  auto de = imaging::readVolume(dir / "de_DE.UTF-8/ct.nii.gz");
  ASSERT_TRUE(c.ok() && de.ok());
  EXPECT_EQ(c->geometry().spacingMm, de->geometry().spacingMm);
  EXPECT_EQ(c->geometry().originMm, de->geometry().originMm);
  EXPECT_NEAR(de->geometry().spacingMm[2], 1.25, 1e-6);  // NIfTI keeps floats
  EXPECT_NEAR(de->geometry().spacingMm[0], 0.65, 1e-6);
  auto labelsC = imaging::readLabelMap(dir / "C/labels.nii.gz");
  auto labelsDe = imaging::readLabelMap(dir / "de_DE.UTF-8/labels.nii.gz");
  ASSERT_TRUE(labelsC.ok() && labelsDe.ok());
  ASSERT_EQ(labelsC->labels.voxelCount(), labelsDe->labels.voxelCount());
  EXPECT_TRUE(std::equal(labelsC->labels.data(),
                         labelsC->labels.data() + labelsC->labels.voxelCount(),
                         labelsDe->labels.data()));
  EXPECT_EQ(labelsC->labels.geometry().spacingMm, labelsDe->labels.geometry().spacingMm);
  auto report = parseJson(slurp(dir / "de_DE.UTF-8/report.json"));
  ASSERT_TRUE(report.ok()) << report.error().toString();
  const JsonValue* geometry = report->find("geometry");
  ASSERT_NE(geometry, nullptr);
  const JsonValue* spacing = geometry->find("spacing_mm");
  ASSERT_NE(spacing, nullptr);
  ASSERT_EQ(spacing->items().size(), 3u);
  EXPECT_NEAR(spacing->items()[0].asNumber(), 0.65, 1e-9);
  EXPECT_NEAR(spacing->items()[2].asNumber(), 1.25, 1e-9);
}

// --- a full disk: writes past the file size limit (prlimit --fsize) ---------

// Runs tessera under `prlimit --fsize=LIMIT` (util-linux): its writes past
// LIMIT bytes fail with EFBIG as on a full disk.
CommandRun runTesseraLimited(const TempDir& capture, std::uint64_t limit,
                             const std::vector<std::string>& args) {
  return runTessera(capture, args, "prlimit --fsize=" + std::to_string(limit) + " --");
}

bool havePrlimit() {
  return std::system("prlimit --version >/dev/null 2>&1") == 0;
}

// A CT whose files do not compress much (seeded noise), 64 x 64 x 24.
Volume noisyVolume(std::uint32_t seed) {
  Geometry g;
  g.size = {64, 64, 24};
  Volume v = *Volume::create(g);
  std::uint32_t state = seed;
  for (std::int64_t i = 0; i < v.voxelCount(); ++i) {
    state = state * 1664525u + 1013904223u;
    v.data()[i] = static_cast<std::int16_t>(static_cast<int>(state >> 20) - 1024);
  }
  return v;
}

TEST_F(Cli, ConvertPastTheFileSizeLimitIsExitOneAndLeavesNothing) {
  if (!havePrlimit()) GTEST_SKIP() << "prlimit (util-linux) is missing";
  ASSERT_TRUE(imaging::writeVolume(noisyVolume(7), dir / "in.nii.gz").ok());
  const std::string out = dir.makeDir("out");
  for (const char* name : {"ct.nii.gz", "ct.nii", "ct.nrrd", "ct.mha", "ct.mhd"}) {
    SCOPED_TRACE(name);
    const CommandRun run =
        runTesseraLimited(capture, 16 * 1024, {"convert", dir / "in.nii.gz", out + "/" + name});
    expectFailure(run, "file size limit exceeded");
    EXPECT_TRUE(contains(run.err, out + "/" + name)) << run.err;
    EXPECT_TRUE(dir.entries("out").empty()) << "left in the output folder";
  }
  // The same conversion without the limit succeeds: the limit made it fail.
  EXPECT_EQ(tessera({"convert", dir / "in.nii.gz", out + "/ct.nii.gz"}).code, 0);
}

// A network exported from PyTorch (tests/models/io/torch_foreign_nets.py):
// imported, it segments dense and says why sparse is unavailable; asked for
// sparse it refuses. Skips without Debian's python3-torch.
TEST_F(Cli, ImportedModelSegmentsDenseAndSaysWhySparseIsUnavailable) {
  const std::string script =
      std::string(TESSERA_SOURCE_DIR) + "/tests/models/io/torch_foreign_nets.py";
  if (std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch (Debian python3-torch)";
  ASSERT_EQ(std::system(
                ("/usr/bin/python3 " + quote(script) + " " + quote(dir.path()) + " >/dev/null 2>&1")
                    .c_str()),
            0);
  const std::string onnx = dir / "basic_unet.onnx", labels = dir / "basic_unet.labels.json";
  const std::string model = dir / "imported.onnx";

  const CommandRun usage = tessera({"import-model", onnx, "-o", model, "--labels", labels});
  EXPECT_EQ(usage.code, 2) << usage.err;
  const CommandRun window =
      tessera({"import-model", onnx, "-o", model, "--labels", labels, "--hu-window", "5,1"});
  EXPECT_EQ(window.code, 2) << window.err;
  std::ofstream(dir / "two.json") << "[\"background\", \"organ\"]";
  expectFailure(tessera({"import-model", onnx, "-o", model, "--labels", dir / "two.json",
                         "--hu-window", "-1000,1000"}),
                "2 labels but the network has 3 outputs");
  EXPECT_FALSE(fs::exists(model));

  const CommandRun imported =
      tessera({"import-model", onnx, "-o", model, "--labels", labels, "--hu-window", "-1000,1000"});
  ASSERT_EQ(imported.code, 0) << imported.err;
  EXPECT_TRUE(contains(imported.out, "sparse: not available: instance normalisation"))
      << imported.out;

  // 12 × 10 pixels: the engine pads to the network's size multiple (8).
  ASSERT_TRUE(imaging::writeVolume(texturedVolume(), dir / "ct.nii.gz").ok());
  const CommandRun sparse = tessera({"segment", "-i", dir / "ct.nii.gz", "-o",
                                     dir / "sparse.nii.gz", "--model", model, "--mode", "sparse"});
  expectFailure(sparse, "runs dense only (instance normalisation");
  EXPECT_FALSE(fs::exists(dir / "sparse.nii.gz"));
  const CommandRun dense =
      tessera({"segment", "-i", dir / "ct.nii.gz", "-o", dir / "labels.nii.gz", "--model", model});
  ASSERT_EQ(dense.code, 0) << dense.err;
  EXPECT_TRUE(contains(dense.err, "runs dense only")) << dense.err;
  EXPECT_TRUE(contains(dense.out, "mode dense: 100.0 % of blocks active")) << dense.out;
  auto labelsRead = imaging::readLabelMap(dir / "labels.nii.gz");
  ASSERT_TRUE(labelsRead.ok()) << labelsRead.status().toString();
  EXPECT_EQ(labelsRead->labels.geometry().size, texturedVolume().geometry().size);

  // The dense-only network teaches a Tessera student, which runs sparse.
  const CommandRun distilled = tessera(
      {"distill", "--teacher", model, "--out", dir / "student", "--steps", "2", "--batch", "2",
       "--crop", "32", "--levels", "2", "--heads", "0", "--pool", "1", "--validate-every", "100"});
  ASSERT_EQ(distilled.code, 0) << distilled.err;
  auto student = models::readOnnxInfo(dir / "student/model.onnx");
  ASSERT_TRUE(student.ok()) << student.status().toString();
  EXPECT_FALSE(student->graphNetwork);
  EXPECT_EQ(student->architecture.classes, 3);
  EXPECT_EQ(student->architecture.inputChannels, 1);
  const CommandRun studentSparse =
      tessera({"segment", "-i", dir / "ct.nii.gz", "-o", dir / "student.nii.gz", "--model",
               dir / "student/model.onnx", "--mode", "sparse"});
  ASSERT_EQ(studentSparse.code, 0) << studentSparse.err;
}

TEST_F(Cli, SegmentPastTheFileSizeLimitIsExitOneAndLeavesNothing) {
  if (!havePrlimit()) GTEST_SKIP() << "prlimit (util-linux) is missing";
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "ct.nii.gz", 0).ok());
  const std::string free = dir.makeDir("free");
  const CommandRun unlimited = tessera({"segment", "-i", dir / "ct.nii.gz", "-o",
                                        free + "/labels.nii", "--model", dir / "model.onnx"});
  ASSERT_EQ(unlimited.code, 0) << unlimited.err;
  const std::uint64_t size = fs::file_size(free + "/labels.nii");
  const std::string out = dir.makeDir("out");
  const CommandRun run = runTesseraLimited(capture, size / 2,
                                           {"segment", "-i", dir / "ct.nii.gz", "-o",
                                            out + "/labels.nii", "--model", dir / "model.onnx"});
  expectFailure(run, "file size limit exceeded");
  EXPECT_TRUE(contains(run.err, out + "/labels.nii")) << run.err;
  EXPECT_TRUE(dir.entries("out").empty()) << "left in the output folder (limit " << size / 2 << ")";
}

TEST_F(Cli, SaveBlocksInAnUnknownFormatIsRefusedBeforeAnythingIsWritten) {
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "ct.nii.gz", 0).ok());
  const std::string out = dir.makeDir("out");
  const CommandRun run =
      tessera({"segment", "-i", dir / "ct.nii.gz", "-o", out + "/labels.nii.gz", "--model",
               dir / "model.onnx", "--save-blocks", out + "/blocks.xyz"});
  expectFailure(run, "block maps are written as");
  EXPECT_TRUE(contains(run.err, out + "/blocks.xyz")) << run.err;
  EXPECT_TRUE(dir.entries("out").empty()) << "the labels were written before the refusal";
}

// The labels are written, then a mesh fails on the file size limit: the run
// is exit 1 and takes the labels and block map it had written away again.
TEST_F(Cli, ALaterOutputFailingRemovesTheOutputsWrittenBeforeIt) {
  if (!havePrlimit()) GTEST_SKIP() << "prlimit (util-linux) is missing";
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "ct.nii.gz", 0).ok());
  const auto args = [&](const std::string& out) {
    return std::vector<std::string>{"segment",
                                    "-i",
                                    dir / "ct.nii.gz",
                                    "-o",
                                    out + "/labels.nii.gz",
                                    "--model",
                                    dir / "model.onnx",
                                    "--save-blocks",
                                    out + "/blocks.nii.gz",
                                    "--meshes",
                                    out + "/meshes",
                                    "--mesh-format",
                                    "stl"};
  };
  const std::string free = dir.makeDir("free");
  const CommandRun unlimited = tessera(args(free));
  ASSERT_EQ(unlimited.code, 0) << unlimited.err;
  std::uint64_t largestVolume = 0, largestMesh = 0;
  for (const char* name : {"labels.nii.gz", "blocks.nii.gz"})
    largestVolume = std::max<std::uint64_t>(largestVolume, fs::file_size(free + "/" + name));
  for (const std::string& mesh : dir.entries("free/meshes"))
    largestMesh = std::max<std::uint64_t>(largestMesh, fs::file_size(free + "/meshes/" + mesh));
  ASSERT_LT(largestVolume, largestMesh) << "the meshes must be the larger files for this test";
  const std::uint64_t limit = (largestVolume + largestMesh) / 2;
  const std::string out = dir.makeDir("out");
  const CommandRun run = runTesseraLimited(capture, limit, args(out));
  expectFailure(run, "file size limit exceeded");
  EXPECT_TRUE(dir.entries("out").empty()) << "left in the output folder (limit " << limit << ")";
}

TEST_F(Cli, BatchPastTheFileSizeLimitRecordsNoCaseAndLeavesNoCaseFolder) {
  if (!havePrlimit()) GTEST_SKIP() << "prlimit (util-linux) is missing";
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "in/case.nii.gz", 0, 128, 16).ok());
  const std::vector<std::string> args = {"batch",      "-i",      dir / "in",         "-o",
                                         dir / "free", "--model", dir / "model.onnx", "--threads",
                                         "1"};
  const CommandRun unlimited = tessera(args);
  ASSERT_EQ(unlimited.code, 0) << unlimited.err;
  const std::uint64_t size = fs::file_size(dir / "free/case/labels.nii.gz");
  std::vector<std::string> limited = args;
  limited[4] = dir / "out";
  const CommandRun run = runTesseraLimited(capture, size / 2, limited);
  EXPECT_EQ(run.code, 3) << run.err << run.out;
  EXPECT_TRUE(contains(run.out + run.err, "file size limit exceeded")) << run.out << run.err;
  EXPECT_FALSE(fs::exists(dir / "out/case")) << "limit " << size / 2;
  for (const std::string& e : dir.entries("out"))
    EXPECT_TRUE(e == ".tessera-batch.lock" || e[0] != '.') << "left behind: " << e;
  EXPECT_EQ(slurp(dir / "out/manifest.jsonl"), "") << "a case that was not written is recorded";
  // --resume computes the case again, now without the limit.
  limited.push_back("--resume");
  const CommandRun resumed = tessera(limited);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_TRUE(contains(resumed.out, "1 done, 0 already finished")) << resumed.out;
  EXPECT_EQ(slurp(dir / "out/case/labels.nii.gz"), slurp(dir / "free/case/labels.nii.gz"));
}

namespace plugin_tests {
const std::string kExamplePlugins = std::string(TESSERA_BINARY_DIR) + "/plugins";
const std::string kTestPlugins = TESSERA_TEST_PLUGIN_DIR;

std::int64_t labelled(const LabelMap& map) {
  return std::count_if(map.labels.buffer().begin(), map.labels.buffer().end(),
                       [](std::uint8_t v) { return v != 0; });
}
}  // namespace plugin_tests

// The example plugin after the network, in `segment` and in every case of
// a `batch` (its workers load the plugins themselves): the voxels it removes
// are the difference from a run without it, and its numbers reach the reports.
TEST_F(Cli, PluginStagesRunInSegmentAndBatchAndReachTheReports) {
  using namespace plugin_tests;
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir.makeDir("cases/a") + "/ct.nii.gz", 0).ok());
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir.makeDir("cases/b") + "/ct.nii.gz", 1).ok());
  const std::string ct = dir / "cases/a/ct.nii.gz";
  CommandRun run =
      tessera({"segment", "-i", ct, "-o", dir / "plain.nii.gz", "--model", dir / "model.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  run = tessera({"segment", "-i", ct, "-o", dir / "cleaned.nii.gz", "--model", dir / "model.onnx",
                 "--plugins", kExamplePlugins, "--stages", "largest_component", "--report",
                 dir / "report.json"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto plain = imaging::readLabelMap(dir / "plain.nii.gz");
  auto cleaned = imaging::readLabelMap(dir / "cleaned.nii.gz");
  ASSERT_TRUE(plain.ok() && cleaned.ok());
  auto report = parseJson(slurp(dir / "report.json"));
  ASSERT_TRUE(report.ok()) << report.error().toString();
  const JsonValue* stages = report->find("stages");
  ASSERT_NE(stages, nullptr);
  ASSERT_EQ(stages->find("run")->items().size(), 1u);
  EXPECT_EQ(stages->find("run")->items()[0].asString(), "largest_component");
  const double removed = stages->getNumber("largest_component.removed_voxels", -1);
  EXPECT_GT(removed, 0) << "the random model's labels have no stray pieces?";
  EXPECT_EQ(labelled(*plain) - labelled(*cleaned), static_cast<std::int64_t>(removed));

  run = tessera({"batch", "-i", dir / "cases", "-o", dir / "out", "--model", dir / "model.onnx",
                 "--plugins", kExamplePlugins, "--stages", "largest_component"});
  ASSERT_EQ(run.code, 0) << run.err;
  for (const char* name : {"a", "b"}) {
    // A case is named after its folder and file: out/a__ct/.
    auto caseReport = parseJson(slurp(dir / ("out/" + std::string(name) + "__ct/report.json")));
    ASSERT_TRUE(caseReport.ok()) << name;
    ASSERT_NE(caseReport->find("stages"), nullptr) << name;
    EXPECT_GE(caseReport->find("stages")->getNumber("largest_component.removed_voxels", -1), 0);
  }
  auto batchA = imaging::readLabelMap(dir / "out/a__ct/labels.nii.gz");
  ASSERT_TRUE(batchA.ok());
  EXPECT_EQ(batchA->labels.buffer(), cleaned->labels.buffer());
}

// Plugin layers end to end: a short training run places the example layers,
// the model file names them, and segment and batch need their plugins.
TEST_F(Cli, PluginLayersTrainAndSegmentOnlyWithTheirPlugins) {
  using namespace plugin_tests;
  const std::string layers =
      kExamplePlugins + "/group_norm:" + kExamplePlugins + "/window_attention";
  const CommandRun listed = tessera({"plugins", "--plugins", layers});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_TRUE(contains(listed.out, "layer window_attention")) << listed.out;
  CommandRun run = tessera({"train",
                            "--out",
                            dir / "train",
                            "--steps",
                            "2",
                            "--batch",
                            "2",
                            "--crop",
                            "64",
                            "--levels",
                            "2",
                            "--heads",
                            "0",
                            "--pool",
                            "1",
                            "--validate-every",
                            "100",
                            "--plugins",
                            layers,
                            "--layers",
                            "group_norm@stages,window_attention@bottleneck"});
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string model = dir / "train/model.onnx";
  ASSERT_TRUE(fs::exists(model));
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir.makeDir("cases/a") + "/ct.nii.gz", 0).ok());
  const std::string ct = dir / "cases/a/ct.nii.gz";

  run = tessera({"segment", "-i", ct, "-o", dir / "missing.nii.gz", "--model", model});
  expectFailure(run,
                "needs plugin layers that no loaded plugin provides: group_norm, "
                "window_attention");
  EXPECT_FALSE(fs::exists(dir / "missing.nii.gz"));
  run = tessera({"segment", "-i", ct, "-o", dir / "half.nii.gz", "--model", model, "--plugins",
                 kExamplePlugins + "/group_norm"});
  expectFailure(run, "provides: window_attention");

  run = tessera(
      {"segment", "-i", ct, "-o", dir / "sparse.nii.gz", "--model", model, "--plugins", layers});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "mode sparse")) << run.out;
  run = tessera(
      {"batch", "-i", dir / "cases", "-o", dir / "out", "--model", model, "--plugins", layers});
  ASSERT_EQ(run.code, 0) << run.err;
  auto segmented = imaging::readLabelMap(dir / "sparse.nii.gz");
  auto batched = imaging::readLabelMap(dir / "out/a__ct/labels.nii.gz");
  ASSERT_TRUE(segmented.ok() && batched.ok());
  EXPECT_EQ(segmented->labels.buffer(), batched->labels.buffer());
}

// `tessera train --post-processing`: the model records the rules, segment
// applies them and its report says what they changed; rules naming a label
// the model lacks are refused before training, writing nothing.
TEST_F(Cli, TrainRecordsPostProcessingRulesThatSegmentApplies) {
  const std::vector<std::string> small = {
      "--steps", "2", "--batch",      "2",  "--crop", "32", "--levels",         "2",
      "--heads", "0", "--base-width", "16", "--pool", "1",  "--validate-every", "100"};
  auto train = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "train");
    args.insert(args.end(), small.begin(), small.end());
    return tessera(args);
  };
  {
    std::ofstream(dir / "bad.json") << R"([{"label": "heart", "keep_largest": 1}])";
    std::ofstream(dir / "rules.json")
        << R"([{"label": "liver", "keep_largest": 1, "fill_holes": true},
               {"label": "brain", "not_on_slices_with": ["liver", "lung"]}])";
  }
  CommandRun run = train({"--out", dir / "bad", "--post-processing", dir / "bad.json"});
  expectFailure(run, "\"heart\", which is not one of the model's labels");
  EXPECT_FALSE(fs::exists(dir / "bad/model.onnx"));

  run = train({"--out", dir / "ruled", "--post-processing", dir / "rules.json"});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "ct.nii.gz", 0).ok());
  run = tessera({"segment", "-i", dir / "ct.nii.gz", "-o", dir / "labels.nii.gz", "--model",
                 dir / "ruled/model.onnx", "--report", dir / "report.json"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto report = parseJson(slurp(dir / "report.json"));
  ASSERT_TRUE(report.ok());
  const JsonValue* rules = report->find("post_processing");
  ASSERT_NE(rules, nullptr) << slurp(dir / "report.json");
  ASSERT_EQ(rules->items().size(), 2u);
  EXPECT_EQ(rules->items()[0].getString("label"), "liver");
  EXPECT_EQ(rules->items()[1].getString("label"), "brain");
  // A model trained without rules reports none.
  run = train({"--out", dir / "plain"});
  ASSERT_EQ(run.code, 0) << run.err;
  run = tessera({"segment", "-i", dir / "ct.nii.gz", "-o", dir / "plain.nii.gz", "--model",
                 dir / "plain/model.onnx", "--report", dir / "plain.json"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto plain = parseJson(slurp(dir / "plain.json"));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->find("post_processing"), nullptr);
}

// `tessera model`: describes a model, writes a copy with other rules or
// context offset (weights untouched: the network's labels are the same),
// refuses rules naming labels the model lacks without writing anything.
TEST_F(Cli, ModelDescribesAndSetsPostProcessingAndContextOffset) {
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  std::ofstream(dir / "rules.json") << R"([{"label": "soft_tissue", "keep_largest": 1}])";
  std::ofstream(dir / "bad.json") << R"([{"label": "heart", "keep_largest": 1}])";
  CommandRun run = tessera({"model", dir / "model.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "post-processing: none")) << run.out;
  EXPECT_TRUE(contains(run.out, "input: 3 slices, the neighbouring slices as they are")) << run.out;
  run = tessera({"model", dir / "model.onnx", "--post-processing", dir / "rules.json"});
  EXPECT_EQ(run.code, 2) << run.err;
  run = tessera({"model", dir / "model.onnx", "-o", dir / "same.onnx"});
  EXPECT_EQ(run.code, 2) << run.err;
  run = tessera(
      {"model", dir / "model.onnx", "--post-processing", dir / "bad.json", "-o", dir / "bad.onnx"});
  expectFailure(run, "\"heart\", which is not one of the model's labels");
  EXPECT_FALSE(fs::exists(dir / "bad.onnx"));
  run = tessera({"model", dir / "model.onnx", "--context-offset", "-1", "-o", dir / "bad.onnx"});
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_FALSE(fs::exists(dir / "bad.onnx"));
  run = tessera({"model", dir / "model.onnx", "--post-processing", dir / "rules.json", "-o",
                 dir / "ruled.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  run = tessera({"model", dir / "ruled.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, R"("label":"soft_tissue","keep_largest":1)")) << run.out;

  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "ct.nii.gz", 0).ok());
  for (const char* model : {"model", "ruled"}) {
    run = tessera({"segment", "-i", dir / "ct.nii.gz", "-o", dir / (std::string(model) + ".nii.gz"),
                   "--model", dir / (std::string(model) + ".onnx"), "--report",
                   dir / (std::string(model) + ".json")});
    ASSERT_EQ(run.code, 0) << run.err;
  }
  EXPECT_TRUE(contains(run.out, "post-processing soft_tissue: ")) << run.out;  // the ruled run
  auto plain = imaging::readLabelMap(dir / "model.nii.gz");
  auto ruled = imaging::readLabelMap(dir / "ruled.nii.gz");
  ASSERT_TRUE(plain.ok() && ruled.ok());
  auto report = parseJson(slurp(dir / "ruled.json"));
  ASSERT_TRUE(report.ok());
  const JsonValue* rules = report->find("post_processing");
  ASSERT_TRUE(rules && rules->items().size() == 1) << slurp(dir / "ruled.json");
  ASSERT_GT(rules->items()[0].getNumber("removed_component_voxels"), 0)
      << "the untrained model's soft tissue should come in fragments";
  // Where the labels differ, the rule removed soft tissue, and nothing else.
  std::int64_t differing = 0;
  for (std::int64_t v = 0; v < plain->labels.voxelCount(); ++v)
    if (plain->labels.data()[v] != ruled->labels.data()[v]) {
      ++differing;
      ASSERT_EQ(plain->labels.data()[v], 1);
      ASSERT_EQ(ruled->labels.data()[v], 0);
    }
  EXPECT_EQ(differing,
            static_cast<std::int64_t>(rules->items()[0].getNumber("removed_component_voxels")));
  // In place: rules cleared, a context offset set; the rest stays.
  run = tessera({"model", dir / "ruled.onnx", "--no-post-processing", "--context-offset", "2.5",
                 "-o", dir / "ruled.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  run = tessera({"model", dir / "ruled.onnx"});
  EXPECT_TRUE(contains(run.out, "post-processing: none")) << run.out;
  EXPECT_TRUE(contains(run.out, "neighbours every 2.5 mm")) << run.out;
  EXPECT_TRUE(contains(run.out, "model batch-test 1")) << run.out;
}

// `tessera distill`: a student trained on a teacher's outputs segments like
// any model; its file says what it was distilled from; a missing teacher or
// a bad temperature is a usage error that writes nothing.
TEST_F(Cli, DistillTrainsAStudentThatSegments) {
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "teacher.onnx").ok());
  const std::vector<std::string> small = {
      "--steps", "2", "--batch",      "2",  "--crop", "32", "--levels",         "2",
      "--heads", "0", "--base-width", "16", "--pool", "1",  "--validate-every", "100"};
  auto distill = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "distill");
    args.insert(args.end(), small.begin(), small.end());
    return tessera(args);
  };
  CommandRun run = distill({"--out", dir / "none"});
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_TRUE(contains(run.err, "distill needs --teacher MODEL")) << run.err;
  run = distill({"--out", dir / "hot", "--teacher", dir / "teacher.onnx", "--temperature", "0"});
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_TRUE(contains(run.err, "--temperature must be above 0")) << run.err;
  EXPECT_FALSE(fs::exists(dir / "none") || fs::exists(dir / "hot"));

  run = distill({"--out", dir / "student", "--teacher", dir / "teacher.onnx"});
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string model = dir / "student/model.onnx";
  auto info = models::readOnnxInfo(model);
  ASSERT_TRUE(info.ok()) << info.error().toString();
  EXPECT_TRUE(contains(info->trainingSummary, "--teacher teacher.onnx --temperature 4"))
      << info->trainingSummary;
  EXPECT_EQ(info->architecture.baseWidth, 16);
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "ct.nii.gz", 0).ok());
  run =
      tessera({"segment", "-i", dir / "ct.nii.gz", "-o", dir / "labels.nii.gz", "--model", model});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(fs::exists(dir / "labels.nii.gz"));
  EXPECT_TRUE(contains(run.out, "mode sparse")) << run.out;
}

TEST_F(Cli, PluginsThatCannotBeUsedAreRefusedBeforeAnythingIsWritten) {
  using namespace plugin_tests;
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  ASSERT_TRUE(tessera::testing::writePhantomCt(dir / "ct.nii.gz", 0).ok());
  const std::string out = dir.makeDir("out");
  auto segment = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "segment",         "-i", dir / "ct.nii.gz", "-o", out + "/labels.nii.gz", "--model",
        dir / "model.onnx"};
    args.insert(args.end(), extra.begin(), extra.end());
    return tessera(args);
  };
  const struct {
    std::vector<std::string> extra;
    std::string reason;
  } cases[] = {
      {{"--plugins", kTestPlugins + "/wrong_abi", "--stages", "x"},
       "built for plugin ABI 99; this Tessera loads plugin ABI 2"},
      {{"--plugins", kTestPlugins + "/no_symbols", "--stages", "x"}, "not a Tessera plugin"},
      {{"--plugins", "plugins", "--stages", "x"}, "plugin folders must be absolute"},
      {{"--plugins", kExamplePlugins, "--stages", "crop_body"},
       "no stage named 'crop_body' (loaded: largest_component)"},
      {{"--stages", "largest_component"}, "no plugin is loaded"},
      {{"--plugins", kExamplePlugins + ":" + kTestPlugins + "/duplicate", "--stages",
        "largest_component"},
       "already loaded"},
  };
  for (const auto& c : cases) {
    const CommandRun run = segment(c.extra);
    EXPECT_EQ(run.code, 2) << c.reason << "\n" << run.err;
    EXPECT_TRUE(contains(run.err, c.reason)) << run.err;
  }
  const CommandRun listed = tessera({"plugins", "--plugins", kExamplePlugins});
  EXPECT_EQ(listed.code, 0) << listed.err;
  EXPECT_TRUE(contains(
      listed.out, "plugin largest-component 1.0 (" + kExamplePlugins + "/largest_component.so)"))
      << listed.out;
  EXPECT_TRUE(contains(listed.out, "stage largest_component")) << listed.out;
  EXPECT_TRUE(contains(listed.out, "after network: keeps the largest")) << listed.out;
  const CommandRun wrongAbi = tessera({"plugins", "--plugins", kTestPlugins + "/wrong_abi"});
  expectFailure(wrongAbi, "plugin ABI 99");
  const CommandRun failing =
      segment({"--plugins", kTestPlugins + "/failing", "--stages", "always_fails"});
  expectFailure(failing, "stage 'always_fails' failed: deliberately failing");
  EXPECT_TRUE(dir.entries("out").empty());
}

}  // namespace
}  // namespace tessera
