// The batch runner as a library: case discovery and names, shards, and
// whole runs over small phantom cohorts (outputs, failure isolation,
// --jobs, resume, cancellation).
#include "models/pipeline/batch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "core/files.h"
#include "core/json.h"
#include "imaging/dicom/dicom.h"
#include "imaging/io/volume_io.h"
#include "models/pipeline/manifest.h"
#include "tests/support/batch_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/write_limits.h"

namespace tessera::models {
namespace {
namespace fs = std::filesystem;
using tessera::testing::readBytes;
using tessera::testing::TempDir;
using tessera::testing::writePhantomCt;

void touch(const std::string& path, const std::string& bytes = "x") {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<std::string> names(const std::vector<BatchCase>& cases) {
  std::vector<std::string> out;
  for (const BatchCase& c : cases) out.push_back(c.name);
  return out;
}

TEST(Discovery, NamesComeFromRelativePaths) {
  TempDir dir;
  touch(dir / "in/p01/ct.nii.gz");
  touch(dir / "in/top.nrrd");
  touch(dir / "in/deep/er/scan one.mha");
  touch(dir / "in/.hidden/x.nii.gz");
  touch(dir / "in/.y.nii.gz");
  touch(dir / "in/notes.txt");
  touch(dir / "in/header.mhd",
        "NDims = 3\nDimSize = 1 1 1\nElementType = MET_SHORT\n"
        "ElementDataFile = voxels.bin\n");
  touch(dir / "in/voxels.bin", "xx");
  auto found = discoverCases(dir / "in");
  ASSERT_TRUE(found.ok()) << found.error().toString();
  EXPECT_EQ(names(found->cases),
            (std::vector<std::string>{"deep__er__scan_one", "header", "p01__ct", "top"}));
  const BatchCase& header = found->cases[1];
  EXPECT_EQ(header.relativePath, "header.mhd");
  // The .mhd and the data file its header names, whatever its name.
  EXPECT_EQ(header.files, (std::vector<std::string>{dir / "in/header.mhd", dir / "in/voxels.bin"}));
  EXPECT_EQ(found->cases[2].relativePath, "p01/ct.nii.gz");
  EXPECT_TRUE(found->unreadableFiles.empty());
}

TEST(Discovery, CollidingNamesGetAStableSuffix) {
  TempDir dir;
  touch(dir / "in/a.nii.gz");
  touch(dir / "in/a.nrrd");
  touch(dir / "in/b__c.nii");
  touch(dir / "in/b/c.nii");
  touch(dir / "in/summary.json.nii");  // would be the name of the summary file
  auto first = discoverCases(dir / "in");
  ASSERT_TRUE(first.ok());
  std::set<std::string> unique;
  for (const BatchCase& c : first->cases) {
    EXPECT_TRUE(unique.insert(c.name).second) << c.name;
    EXPECT_NE(c.name, "summary.json");
  }
  EXPECT_EQ(unique.size(), 5u);
  // Another file elsewhere does not rename the existing cases.
  touch(dir / "in/z.nii.gz");
  auto second = discoverCases(dir / "in");
  ASSERT_TRUE(second.ok());
  const std::vector<std::string> later = names(second->cases);
  for (const BatchCase& c : first->cases)
    EXPECT_EQ(std::count(later.begin(), later.end(), c.name), 1) << c.name;
}

TEST(Discovery, IncludeExcludeAndSkippedFolder) {
  TempDir dir;
  touch(dir / "in/p1/ct.nii.gz");
  touch(dir / "in/p1/labels.nii.gz");
  touch(dir / "in/p2/ct.nii.gz");
  touch(dir / "in/out/p1__ct/labels.nii.gz");
  DiscoveryOptions options;
  options.include = {"ct.nii.gz"};
  auto found = discoverCases(dir / "in", options);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(names(found->cases), (std::vector<std::string>{"p1__ct", "p2__ct"}));
  options.include.clear();
  options.exclude = {"*labels*"};
  options.skipDirectory = dir / "in/out";
  found = discoverCases(dir / "in", options);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(names(found->cases), (std::vector<std::string>{"p1__ct", "p2__ct"}));
  EXPECT_EQ(discoverCases(dir / "nowhere").error().code, StatusCode::kNotFound);
}

TEST(Discovery, OneCasePerDicomSeries) {
  TempDir dir;
  auto phantom = tessera::testing::smallPhantom(0, 64, 3);
  ASSERT_TRUE(phantom.ok());
  imaging::DicomWriteOptions a, b;
  a.seriesUid = "1.2.826.0.1.3680043.9.7.101";
  b.seriesUid = "1.2.826.0.1.3680043.9.7.102";
  fs::create_directories(dir / "in/study");
  ASSERT_TRUE(imaging::writeDicomSeries(phantom->ct, dir / "in/study/s1", a).ok());
  ASSERT_TRUE(imaging::writeDicomSeries(phantom->ct, dir / "in/two", b).ok());
  // A second series in the same folder.
  b.seriesUid = "1.2.826.0.1.3680043.9.7.103";
  ASSERT_TRUE(imaging::writeDicomSeries(phantom->ct, dir / "in/tmp3", b).ok());
  for (const auto& e : fs::directory_iterator(dir / "in/tmp3"))
    fs::rename(e.path(), dir / ("in/two/b_" + e.path().filename().string()));
  fs::remove(dir / "in/tmp3");
  touch(dir / "in/study/s1/broken.dcm", std::string(128, '\0') + "DICM" + std::string(6, '\x02'));
  touch(dir / "in/vol.nii.gz");

  auto found = discoverCases(dir / "in");
  ASSERT_TRUE(found.ok()) << found.error().toString();
  EXPECT_EQ(names(found->cases),
            (std::vector<std::string>{"study__s1", "two__1.2.826.0.1.3680043.9.7.102",
                                      "two__1.2.826.0.1.3680043.9.7.103", "vol"}));
  const BatchCase& s1 = found->cases[0];
  EXPECT_EQ(s1.relativePath, "study/s1");
  EXPECT_EQ(s1.seriesUid, a.seriesUid);
  EXPECT_EQ(s1.files.size(), 3u);
  EXPECT_EQ(found->unreadableFiles.size(), 1u);
}

TEST(Shards, PartitionTheCohortRoundRobin) {
  std::vector<BatchCase> cases(10);
  for (int i = 0; i < 10; ++i) cases[i].name = "c" + std::to_string(i);
  std::multiset<std::string> all;
  for (int k = 0; k < 3; ++k) {
    const auto shard = selectShard(cases, {k, 3});
    EXPECT_EQ(shard.size(), k == 0 ? 4u : 3u);
    for (const BatchCase& c : shard) all.insert(c.name);
  }
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 10u);
  EXPECT_EQ(selectShard(cases, {0, 1}).size(), 10u);
  EXPECT_TRUE(selectShard(cases, {11, 12}).empty());

  const std::string print = cohortFingerprint(cases);
  EXPECT_EQ(print, cohortFingerprint(cases));
  cases.pop_back();
  EXPECT_NE(print, cohortFingerprint(cases));
}

// A cohort of small phantoms and a model file, run through runBatch.
class BatchRun : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
    for (int i = 0; i < 4; ++i)
      ASSERT_TRUE(writePhantomCt(dir / ("in/p" + std::to_string(i) + "/ct.nii.gz"), i).ok());
    auto phantom = tessera::testing::smallPhantom(4);
    ASSERT_TRUE(phantom.ok());
    fs::create_directories(dir / "in/dicom");
    ASSERT_TRUE(imaging::writeDicomSeries(phantom->ct, dir / "in/dicom/p4").ok());
  }
  BatchOptions options(const std::string& out) const {
    BatchOptions o;
    o.inputDir = dir / "in";
    o.outputDir = out;
    o.modelPath = dir / "model.onnx";
    // One thread: small slices on a busy machine run far slower on two.
    o.threads = 1;
    return o;
  }
  static std::map<std::string, std::string> filesBelow(const std::string& root) {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = readBytes(e.path());
    return files;
  }
  TempDir dir;
};

const std::vector<std::string> kCaseNames = {"dicom__p4", "p0__ct", "p1__ct", "p2__ct", "p3__ct"};

TEST_F(BatchRun, WritesEveryCaseAndTheSummary) {
  BatchOptions o = options(dir / "out");
  o.meshes = true;
  auto result = runBatch(o);
  ASSERT_TRUE(result.ok()) << result.error().toString();
  EXPECT_EQ(result->count(CaseOutcome::kComputed), 5);
  EXPECT_FALSE(result->anyFailed());
  EXPECT_EQ(result->cohortCases, 5);
  ASSERT_EQ(result->summary.cases.size(), 5u);
  for (std::size_t i = 0; i < kCaseNames.size(); ++i) {
    const std::string& name = kCaseNames[i];
    EXPECT_EQ(result->summary.cases[i].name, name);
    const std::string caseDir = dir / ("out/" + name);
    auto labels = imaging::readLabelMap(caseDir + "/labels.nii.gz");
    ASSERT_TRUE(labels.ok()) << name;
    const std::string input = name == "dicom__p4"
                                  ? dir / "in/dicom/p4"
                                  : dir / ("in/" + name.substr(0, 2) + "/ct.nii.gz");
    auto header = imaging::readHeader(input);
    ASSERT_TRUE(header.ok());
    EXPECT_EQ(labels->labels.geometry().size, header->geometry.size);
    EXPECT_TRUE(fileExists(caseDir + "/report.json"));
    // The summary's volumes are those of the label file it wrote, counted here.
    std::map<int, std::int64_t> counts;
    for (std::int64_t v = 0; v < labels->labels.voxelCount(); ++v)
      ++counts[labels->labels.data()[v]];
    const Geometry& g = labels->labels.geometry();
    for (const imaging::LabelStatistics& row : result->summary.cases[i].labels) {
      EXPECT_EQ(row.voxelCount, counts[row.value]) << name << " " << row.name;
      EXPECT_NEAR(row.volumeMl, counts[row.value] * g.voxelVolumeMm3() / 1000.0,
                  1e-6 * row.volumeMl);
      const std::string mesh = caseDir + "/meshes/" + row.name + ".stl";
      EXPECT_TRUE(fileExists(mesh)) << mesh;
    }
    EXPECT_EQ(result->summary.cases[i].labels.size() + (counts.count(0) ? 1 : 0), counts.size());
  }
  EXPECT_EQ(result->summary.cases[0].seriesUid.empty(), false);
  EXPECT_TRUE(fileExists(dir / "out/summary.csv"));
  auto manifest = Manifest::open(dir / "out/manifest.jsonl", true);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(manifest->size(), 5u);
  for (const std::string& e : dir.entries("out"))
    EXPECT_TRUE(e == ".tessera-batch.lock" || e[0] != '.') << "left behind: " << e;
}

TEST_F(BatchRun, TwoJobsGiveTheSameOutputsAsOne) {
  ASSERT_TRUE(runBatch(options(dir / "one")).ok());
  BatchOptions o = options(dir / "two");
  o.jobs = 2;
  o.threads = 2;
  auto two = runBatch(o);
  ASSERT_TRUE(two.ok()) << two.error().toString();
  EXPECT_EQ(two->count(CaseOutcome::kComputed), 5);
  for (const std::string& name : kCaseNames)
    EXPECT_EQ(readBytes(dir / ("one/" + name + "/labels.nii.gz")),
              readBytes(dir / ("two/" + name + "/labels.nii.gz")))
        << name;
  EXPECT_EQ(readBytes(dir / "one/summary.csv"), readBytes(dir / "two/summary.csv"));
  EXPECT_EQ(readBytes(dir / "one/summary.json"), readBytes(dir / "two/summary.json"));
}

TEST_F(BatchRun, ABadCaseIsRecordedAndTheOthersFinish) {
  ASSERT_TRUE(tessera::testing::writeTruncatedNifti(dir / "in/bad_truncated.nii.gz", 5).ok());
  tessera::testing::writeUnsupportedNrrd(dir / "in/bad_type.nrrd");
  auto result = runBatch(options(dir / "out"));
  ASSERT_TRUE(result.ok()) << result.error().toString();
  EXPECT_EQ(result->count(CaseOutcome::kComputed), 5);
  EXPECT_EQ(result->count(CaseOutcome::kFailed), 2);
  for (const CaseResult& c : result->cases) {
    if (c.outcome != CaseOutcome::kFailed) continue;
    EXPECT_TRUE(c.name == "bad_truncated" || c.name == "bad_type") << c.name;
    EXPECT_FALSE(c.reason.empty());
    EXPECT_FALSE(fs::exists(dir / ("out/" + c.name))) << c.name;
  }
  const std::string csv = readBytes(dir / "out/summary.csv");
  EXPECT_NE(csv.find("bad_type,failed,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("bad_truncated,failed,"), std::string::npos) << csv;

  BatchOptions o = options(dir / "fast");
  o.failFast = true;
  o.jobs = 1;
  auto fast = runBatch(o);
  ASSERT_TRUE(fast.ok());
  // "bad_truncated" sorts first: it fails and nothing after it runs.
  EXPECT_EQ(fast->cases[0].name, "bad_truncated");
  EXPECT_EQ(fast->cases[0].outcome, CaseOutcome::kFailed);
  EXPECT_EQ(fast->count(CaseOutcome::kFailed), 1);
  EXPECT_EQ(fast->count(CaseOutcome::kNotRun), 6);
  EXPECT_EQ(fast->summary.count(CaseStatus::kNotRun), fast->count(CaseOutcome::kNotRun));
}

TEST_F(BatchRun, ResumeRedoesOnlyWhatChanged) {
  ASSERT_TRUE(runBatch(options(dir / "out")).ok());
  const auto before = filesBelow(dir / "out");
  // p0: output damaged. p1: report deleted. p2: input touched, same bytes.
  // p3: input replaced by another phantom. dicom__p4: untouched.
  {
    std::fstream f(dir / "out/p0__ct/labels.nii.gz",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x55');
  }
  fs::remove(dir / "out/p1__ct/report.json");
  const std::string p2 = dir / "in/p2/ct.nii.gz";
  struct utimbuf times {
    1500000000, 1500000000
  };
  ASSERT_EQ(::utime(p2.c_str(), &times), 0);
  ASSERT_TRUE(writePhantomCt(dir / "in/p3/ct.nii.gz", 9).ok());

  BatchOptions o = options(dir / "out");
  o.resume = true;
  auto resumed = runBatch(o);
  ASSERT_TRUE(resumed.ok()) << resumed.error().toString();
  std::map<std::string, CaseResult> byName;
  for (const CaseResult& c : resumed->cases) byName[c.name] = c;
  EXPECT_EQ(byName["p0__ct"].outcome, CaseOutcome::kComputed);
  EXPECT_EQ(byName["p0__ct"].reason, "output labels.nii.gz changed");
  EXPECT_EQ(byName["p1__ct"].outcome, CaseOutcome::kComputed);
  EXPECT_EQ(byName["p1__ct"].reason, "output report.json is missing");
  EXPECT_EQ(byName["p2__ct"].outcome, CaseOutcome::kResumed);
  EXPECT_EQ(byName["p3__ct"].outcome, CaseOutcome::kComputed);
  EXPECT_EQ(byName["p3__ct"].reason, "the input changed");
  EXPECT_EQ(byName["dicom__p4"].outcome, CaseOutcome::kResumed);
  // Redone outputs are the originals again (p3 has new input: skip it).
  EXPECT_EQ(readBytes(dir / "out/p0__ct/labels.nii.gz"), before.at("p0__ct/labels.nii.gz"));
  EXPECT_TRUE(fileExists(dir / "out/p1__ct/report.json"));

  // Another model: every case is redone.
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx", 99).ok());
  auto again = runBatch(o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->count(CaseOutcome::kComputed), 5);
  for (const CaseResult& c : again->cases) EXPECT_EQ(c.reason, "the model changed");
}

// The voxels of a detached MetaImage header are part of the input: changing
// them (same size, header untouched) makes --resume compute the case again.
TEST(BatchResume, ADetachedDataFileThatChangedIsComputedAgain) {
  TempDir dir;
  ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  // Uncompressed voxels in a file named other than the header's stem.
  auto phantom = tessera::testing::smallPhantom(0);
  ASSERT_TRUE(phantom.ok());
  const Volume& ct = phantom->ct;
  fs::create_directories(dir / "in/m");
  touch(dir / "in/m/ct.mhd", "ObjectType = Image\nNDims = 3\nDimSize = " + std::to_string(ct.nx()) +
                                 " " + std::to_string(ct.ny()) + " " + std::to_string(ct.nz()) +
                                 "\nElementSpacing = 1 1 1\nElementType = MET_SHORT\n"
                                 "ElementByteOrderMSB = False\nElementDataFile = voxels.dat\n");
  touch(dir / "in/m/voxels.dat", std::string(reinterpret_cast<const char*>(ct.data()),
                                             ct.voxelCount() * sizeof(std::int16_t)));

  BatchOptions o;
  o.inputDir = dir / "in";
  o.outputDir = dir / "out";
  o.modelPath = dir / "model.onnx";
  o.threads = 1;
  auto first = runBatch(o);
  ASSERT_TRUE(first.ok()) << first.error().toString();
  ASSERT_EQ(first->count(CaseOutcome::kComputed), 1);
  {
    std::fstream f(dir / "in/m/voxels.dat", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x55').put('\x55');
  }
  o.resume = true;
  auto resumed = runBatch(o);
  ASSERT_TRUE(resumed.ok()) << resumed.error().toString();
  ASSERT_EQ(resumed->cases.size(), 1u);
  EXPECT_EQ(resumed->cases[0].outcome, CaseOutcome::kComputed);
  EXPECT_EQ(resumed->cases[0].reason, "the input changed");
}

// Resumed cases read their statistics back from report.json, computed ones
// hand them over in memory: the summaries must be the same bytes.
TEST_F(BatchRun, ResumedCasesGiveTheSummaryOfComputedOnes) {
  ASSERT_TRUE(runBatch(options(dir / "out")).ok());
  const std::string csv = readBytes(dir / "out/summary.csv");
  const std::string json = readBytes(dir / "out/summary.json");
  BatchOptions o = options(dir / "out");
  o.resume = true;
  auto resumed = runBatch(o);
  ASSERT_TRUE(resumed.ok()) << resumed.error().toString();
  EXPECT_EQ(resumed->count(CaseOutcome::kResumed), 5);
  EXPECT_EQ(readBytes(dir / "out/summary.csv"), csv);
  EXPECT_EQ(readBytes(dir / "out/summary.json"), json);
  std::size_t labels = 0;
  for (const CaseSummary& c : resumed->summary.cases) labels += c.labels.size();
  EXPECT_GT(labels, 0u);
}

// A case whose worker crashed is recorded with its reason and no outputs;
// a line without "failed" (every manifest written before process
// isolation) is a finished case.
TEST(ManifestFailure, AFailedLineRoundTripsAndOlderLinesAreFinished) {
  ManifestEntry e;
  e.caseName = "p0__ct";
  e.input = "p0/ct.nii.gz";
  e.inputIdentity = {1234, 1700000000123456789, 1, "00000000000004d2"};
  e.modelHash = "0123456789abcdef";
  e.options = "mode=sparse";
  e.failure = "the worker process crashed: killed by signal SIGSEGV (Segmentation fault)";
  auto parsed = parseManifestLine(manifestLine(e));
  ASSERT_TRUE(parsed.ok()) << manifestLine(e);
  EXPECT_EQ(parsed->failure, e.failure);
  EXPECT_TRUE(parsed->outputs.empty());
  EXPECT_EQ(parsed->inputIdentity.mtimeNs, e.inputIdentity.mtimeNs);
  EXPECT_EQ(staleReason(*parsed, e, "/nonexistent"), "it failed: " + e.failure);
  EXPECT_EQ(changedReason(*parsed, e), "");
  ManifestEntry other = e;
  other.modelHash = "fedcba9876543210";
  EXPECT_EQ(changedReason(*parsed, other), "the model changed");

  const std::string older =
      R"({"case":"p0__ct","input":"p0/ct.nii.gz","input_identity":{"size":1234,)"
      R"("mtime_ns":"1700000000123456789","files":1,"xxh64":"00000000000004d2"},)"
      R"("model_xxh64":"0123456789abcdef","options":"mode=sparse",)"
      R"("outputs":[{"file":"labels.nii.gz","size":10,"xxh64":"0000000000000001"}]})";
  auto old = parseManifestLine(older);
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->failure.empty());
  ASSERT_EQ(old->outputs.size(), 1u);
  EXPECT_EQ(manifestLine(*old), older) << "an older line changed when written again";
}

// --resume keeps a case recorded as failed (its worker crashed) failed, with
// the recorded reason, without running it; --retry-failed runs it; a failed
// case whose input changed runs again anyway.
TEST_F(BatchRun, ResumeKeepsACrashedCaseFailedUnlessRetryFailed) {
  ASSERT_TRUE(runBatch(options(dir / "out")).ok());
  const std::string csv = readBytes(dir / "out/summary.csv");
  // Record p1 as crashed, as a supervisor does, and remove its outputs.
  const std::string reason = "the worker process crashed: killed by signal SIGSEGV (test)";
  {
    auto manifest = Manifest::open(dir / "out/manifest.jsonl", true);
    ASSERT_TRUE(manifest.ok());
    ManifestEntry crashed = *manifest->find("p1__ct");
    crashed.outputs.clear();
    crashed.failure = reason;
    ASSERT_TRUE(manifest->append(crashed).ok());
  }
  fs::remove_all(dir / "out/p1__ct");

  BatchOptions o = options(dir / "out");
  o.resume = true;
  auto resumed = runBatch(o);
  ASSERT_TRUE(resumed.ok()) << resumed.error().toString();
  EXPECT_EQ(resumed->count(CaseOutcome::kResumed), 4);
  EXPECT_EQ(resumed->count(CaseOutcome::kComputed), 0);
  ASSERT_EQ(resumed->count(CaseOutcome::kFailed), 1);
  for (const CaseResult& c : resumed->cases)
    if (c.outcome == CaseOutcome::kFailed) {
      EXPECT_EQ(c.name, "p1__ct");
      EXPECT_EQ(c.reason, reason);
    }
  EXPECT_FALSE(fs::exists(dir / "out/p1__ct"));
  EXPECT_NE(readBytes(dir / "out/summary.csv").find("p1__ct,failed," + reason), std::string::npos);

  o.retryFailed = true;
  auto retried = runBatch(o);
  ASSERT_TRUE(retried.ok()) << retried.error().toString();
  EXPECT_EQ(retried->count(CaseOutcome::kResumed), 4);
  EXPECT_EQ(retried->count(CaseOutcome::kComputed), 1);
  EXPECT_FALSE(retried->anyFailed());
  EXPECT_EQ(readBytes(dir / "out/summary.csv"), csv);

  // Recorded as crashed again, but its input changed: it runs without --retry-failed.
  {
    auto manifest = Manifest::open(dir / "out/manifest.jsonl", true);
    ASSERT_TRUE(manifest.ok());
    ManifestEntry crashed = *manifest->find("p1__ct");
    crashed.outputs.clear();
    crashed.failure = reason;
    ASSERT_TRUE(manifest->append(crashed).ok());
  }
  ASSERT_TRUE(writePhantomCt(dir / "in/p1/ct.nii.gz", 7).ok());
  o.retryFailed = false;
  auto changed = runBatch(o);
  ASSERT_TRUE(changed.ok()) << changed.error().toString();
  EXPECT_EQ(changed->count(CaseOutcome::kComputed), 1);
  EXPECT_FALSE(changed->anyFailed());
}

TEST(CaseStaging, OutputsAppearWholeOrNotAtAll) {
  TempDir dir;
  const std::string out = dir.makeDir("out");
  {
    CaseStaging abandoned(out, "c1");
    ASSERT_TRUE(abandoned.create().ok());
    touch(abandoned.path() + "/labels.nii.gz");
    EXPECT_TRUE(fs::is_directory(abandoned.path()));
  }
  EXPECT_TRUE(dir.entries("out").empty()) << "a staging folder not placed is removed";

  touch(out + "/c1/old.txt");
  CaseStaging staging(out, "c1");
  ASSERT_TRUE(staging.create().ok());
  EXPECT_EQ(fs::path(staging.path()).filename().string(), std::string(kStagingPrefix) + "c1");
  touch(staging.path() + "/labels.nii.gz", "new");
  ASSERT_TRUE(staging.place().ok());
  EXPECT_EQ(staging.finalPath(), out + "/c1");
  EXPECT_EQ(readBytes(out + "/c1/labels.nii.gz"), "new");
  EXPECT_FALSE(fileExists(out + "/c1/old.txt")) << "the earlier folder is replaced, not merged";
  EXPECT_EQ(dir.entries("out"), std::vector<std::string>{"c1"});

  touch(out + "/" + kStagingPrefix + "c2/x");
  touch(out + "/" + kSetAsidePrefix + "c3/x");
  touch(out + "/.summary.tmp-1");
  removeLeftovers(out);
  EXPECT_EQ(dir.entries("out"), std::vector<std::string>{"c1"});
}

// A label map whose compressed file is far larger than the limits below:
// seeded noise does not compress much.
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

ManifestEntry entryFor(const std::string& name, std::size_t outputs) {
  ManifestEntry entry;
  entry.caseName = name;
  entry.input = name + ".nii.gz";
  entry.modelHash = "0123456789abcdef";
  for (std::size_t i = 0; i < outputs; ++i)
    entry.outputs.push_back({"meshes/label_" + std::to_string(i) + ".stl",
                             static_cast<std::int64_t>(1000 + i), "fedcba9876543210"});
  return entry;
}

// The steps of a batch's case write (staging, the label file, placing) when
// the label file does not fit: no case folder, the manifest as it was.
TEST(CaseStaging, AFailedWriteLeavesNoCaseFolderAndTheManifestAsItWas) {
  TempDir dir;
  const std::string out = dir.makeDir("out");
  const std::string manifestPath = out + "/manifest.jsonl";
  auto manifest = Manifest::open(manifestPath, false);
  ASSERT_TRUE(manifest.ok()) << manifest.error().toString();
  ASSERT_TRUE(manifest->append(entryFor("earlier", 1)).ok());
  const std::string before = readBytes(manifestPath);
  const LabelMap labels = noisyLabels(4242);
  constexpr std::uint64_t kLimit = 16 * 1024;
  const tessera::testing::ChildOutcome child = tessera::testing::withFileSizeLimit(kLimit, [&] {
    CaseStaging staging(out, "c1");
    if (Status s = staging.create(); !s.ok()) return "create: " + s.toString();
    const Status written = imaging::writeLabelMap(labels, staging.path() + "/labels.nii.gz");
    if (written.ok()) {
      if (Status s = staging.place(); !s.ok()) return "place: " + s.toString();
      return "recorded: " +
             recordCase(*manifest, entryFor("c1", 1), staging.finalPath()).toString();
    }
    return written.toString();
  });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos)
      << child.text << " (limit " << kLimit << ", seed 4242)";
  EXPECT_EQ(dir.entries("out"), std::vector<std::string>{"manifest.jsonl"});
  EXPECT_EQ(readBytes(manifestPath), before);
}

// A manifest append that does not fit leaves the manifest unchanged (no torn
// line) and removes the case's folder, so the case is computed again.
TEST(CaseStaging, AFailedManifestAppendRemovesTheCaseFolder) {
  TempDir dir;
  const std::string out = dir.makeDir("out");
  const std::string manifestPath = out + "/manifest.jsonl";
  auto manifest = Manifest::open(manifestPath, false);
  ASSERT_TRUE(manifest.ok()) << manifest.error().toString();
  ASSERT_TRUE(manifest->append(entryFor("earlier", 1)).ok());
  const std::string before = readBytes(manifestPath);
  touch(out + "/c1/labels.nii.gz", "placed");
  const std::uint64_t limit = before.size() + 64;
  const tessera::testing::ChildOutcome child = tessera::testing::withFileSizeLimit(
      limit, [&] { return recordCase(*manifest, entryFor("c1", 40), out + "/c1").toString(); });
  ASSERT_TRUE(child.exited) << child.text;
  EXPECT_NE(child.text.find("file size limit exceeded"), std::string::npos) << child.text;
  EXPECT_EQ(readBytes(manifestPath), before);
  EXPECT_FALSE(fs::exists(out + "/c1"));
  auto reopened = Manifest::open(manifestPath, true);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->size(), 1u);
  EXPECT_EQ(reopened->skippedLines(), 0);
  EXPECT_EQ(reopened->find("c1"), nullptr);
}

TEST(DirectoryLock, ASecondHolderIsRefused) {
  TempDir dir;
  const std::string out = dir.makeDir("out");
  DirectoryLock first, second;
  ASSERT_TRUE(first.acquire(out).ok());
  Status refused = second.acquire(out);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StatusCode::kUnsupported);
  EXPECT_TRUE(fileExists(out + "/" + kLockFile));
}

// Cancels the run as soon as the first case is finished.
class CancelAfterFirstCase : public ProgressSink {
 public:
  explicit CancelAfterFirstCase(CancelToken token) : token_(std::move(token)) {}
  void update(const ProgressUpdate& u) override {
    if (!u.message.empty() && u.message[0] >= '1' && u.message[0] <= '9') token_.cancel();
  }

 private:
  CancelToken token_;
};

TEST_F(BatchRun, CancelKeepsFinishedCasesAndResumeCompletes) {
  CancelToken cancel;
  CancelAfterFirstCase sink(cancel);
  BatchOptions o = options(dir / "out");
  o.cancel = &cancel;
  o.progress = &sink;
  auto cancelled = runBatch(o);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code, StatusCode::kCancelled);
  EXPECT_NE(cancelled.error().message.find("--resume"), std::string::npos);
  for (const std::string& e : dir.entries("out"))
    EXPECT_TRUE(e == ".tessera-batch.lock" || e[0] != '.') << "left behind: " << e;
  EXPECT_FALSE(fileExists(dir / "out/summary.csv"));
  auto manifest = Manifest::open(dir / "out/manifest.jsonl", true);
  ASSERT_TRUE(manifest.ok());
  EXPECT_GE(manifest->size(), 1u);
  EXPECT_LT(manifest->size(), 5u);
  // Every case folder present is complete and recorded.
  for (const std::string& e : dir.entries("out"))
    if (fs::is_directory(dir / ("out/" + e))) {
      EXPECT_NE(manifest->find(e), nullptr) << e;
      EXPECT_TRUE(fileExists(dir / ("out/" + e + "/report.json"))) << e;
    }

  ASSERT_TRUE(runBatch(options(dir / "reference")).ok());
  BatchOptions r = options(dir / "out");
  r.resume = true;
  auto resumed = runBatch(r);
  ASSERT_TRUE(resumed.ok()) << resumed.error().toString();
  EXPECT_EQ(resumed->count(CaseOutcome::kResumed), static_cast<std::int64_t>(manifest->size()));
  EXPECT_EQ(resumed->count(CaseOutcome::kComputed) + resumed->count(CaseOutcome::kResumed), 5);
  EXPECT_EQ(readBytes(dir / "out/summary.csv"), readBytes(dir / "reference/summary.csv"));
  for (const std::string& name : kCaseNames)
    EXPECT_EQ(readBytes(dir / ("out/" + name + "/labels.nii.gz")),
              readBytes(dir / ("reference/" + name + "/labels.nii.gz")));
}

TEST_F(BatchRun, RunLevelProblemsAreErrors) {
  BatchOptions o = options(dir / "out");
  o.modelPath = dir / "missing.onnx";
  EXPECT_FALSE(runBatch(o).ok());
  o = options(dir / "out");
  o.inputDir = dir.makeDir("empty");
  auto empty = runBatch(o);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("no cases found"), std::string::npos);

  // A second batch into the same folder is refused while the first holds it.
  fs::create_directories(dir / "busy");
  const int fd = ::open((dir / "busy/.tessera-batch.lock").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto busy = runBatch(options(dir / "busy"));
  ::close(fd);
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.error().message.find("another tessera batch"), std::string::npos);
}

TEST_F(BatchRun, ShardsCoverTheCohortOnce) {
  std::set<std::string> seen;
  for (int k = 0; k < 2; ++k) {
    BatchOptions o = options(dir / ("shard-" + std::to_string(k)));
    o.shard = {k, 2};
    auto r = runBatch(o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->cohortCases, 5);
    for (const CaseResult& c : r->cases) EXPECT_TRUE(seen.insert(c.name).second) << c.name;
  }
  EXPECT_EQ(seen, std::set<std::string>(kCaseNames.begin(), kCaseNames.end()));
  ASSERT_TRUE(runBatch(options(dir / "whole")).ok());
  auto merged = mergeSummaries({dir / "shard-1", dir / "shard-0"});
  ASSERT_TRUE(merged.ok()) << merged.error().toString();
  EXPECT_EQ(summaryCsv(*merged), readBytes(dir / "whole/summary.csv"));
  EXPECT_EQ(summaryJson(*merged), readBytes(dir / "whole/summary.json"));
}

}  // namespace
}  // namespace tessera::models
