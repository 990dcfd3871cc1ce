// Runs the real `tessera batch` and `tessera merge`: a cohort with corrupt
// cases, exit codes, shards merged, and a run killed with SIGKILL and
// resumed, whose outputs must equal an uninterrupted run's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "core/json.h"
#include "imaging/io/volume_io.h"
#include "tests/support/batch_fixture.h"
#include "tests/support/temp_dir.h"

namespace tessera {
namespace {
namespace fs = std::filesystem;
using tessera::testing::readBytes;
using tessera::testing::TempDir;

const std::string kTessera = std::string(TESSERA_BINARY_DIR) + "/bin/tessera";

struct Outcome {
  int code = -1;
  std::string out, err;
};

// Starts tessera with `args`, stdout/stderr into files of `capture`.
pid_t start(const TempDir& capture, const std::vector<std::string>& args) {
  const std::string out = capture / "out", err = capture / "err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::dup2(in, 0);
    std::vector<char*> argv{const_cast<char*>(kTessera.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(kTessera.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

Outcome finish(const TempDir& capture, pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  Outcome run;
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = readBytes(capture / "out");
  run.err = readBytes(capture / "err");
  return run;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::int64_t lines(const std::string& text) {
  return std::count(text.begin(), text.end(), '\n');
}

class Batch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kTessera)) GTEST_SKIP() << kTessera << " was not built";
    ASSERT_TRUE(tessera::testing::writeBatchTestModel(dir / "model.onnx").ok());
  }
  Outcome tessera(const std::vector<std::string>& args) {
    return finish(capture, start(capture, args));
  }
  // CASES phantoms in IN_DIR, named case_NN.nii.gz.
  void writeCohort(const std::string& in, int cases, int matrix = 64, int slices = 8) {
    for (int i = 0; i < cases; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "/case_%02d.nii.gz", i);
      ASSERT_TRUE(tessera::testing::writePhantomCt(in + name, i, matrix, slices).ok());
    }
  }
  TempDir capture, dir;
};

TEST_F(Batch, TwentyCasesTwoCorruptGiveEighteenOutputsAndExitThree) {
  writeCohort(dir / "in", 18);
  ASSERT_TRUE(tessera::testing::writeTruncatedNifti(dir / "in/broken/truncated.nii.gz", 30).ok());
  tessera::testing::writeUnsupportedNrrd(dir / "in/broken/unsupported.nrrd");
  const Outcome run = tessera({"batch", "-i", dir / "in", "-o", dir / "out", "--model",
                               dir / "model.onnx", "--threads", "1"});
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_TRUE(contains(run.out, "20 cases: 18 done, 0 already finished, 2 failed, 0 not run"))
      << run.out;
  EXPECT_TRUE(contains(run.out, "failed   broken__truncated: ")) << run.out;
  EXPECT_TRUE(contains(run.out, "failed   broken__unsupported: ")) << run.out;
  // Progress went to stderr as plain lines (not a terminal).
  EXPECT_TRUE(contains(run.err, "batch: 100% 20/20 cases, 2 failed")) << run.err;

  int complete = 0;
  for (const auto& e : fs::directory_iterator(dir / "out")) {
    if (!e.is_directory()) continue;
    const std::string name = e.path().filename().string();
    EXPECT_EQ(name.rfind("case_", 0), 0u) << "unexpected folder " << name;
    if (fs::exists(e.path() / "labels.nii.gz") && fs::exists(e.path() / "report.json")) ++complete;
  }
  EXPECT_EQ(complete, 18);
  EXPECT_FALSE(fs::exists(dir / "out/broken__truncated"));
  EXPECT_FALSE(fs::exists(dir / "out/broken__unsupported"));

  const std::string csv = readBytes(dir / "out/summary.csv");
  EXPECT_TRUE(contains(csv, "broken__truncated,failed,\"the file is truncated or damaged")) << csv;
  EXPECT_TRUE(contains(csv, "broken__unsupported,failed,")) << csv;
  // Reasons name inputs relative to IN_DIR and hold no object addresses,
  // so that summaries do not depend on where or when they ran.
  EXPECT_TRUE(contains(csv, "(broken/truncated.nii.gz)")) << csv;
  EXPECT_FALSE(contains(csv, dir.path())) << csv;
  EXPECT_FALSE(contains(csv, "(0x")) << csv;
  auto summary = parseJson(readBytes(dir / "out/summary.json"));
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->find("counts")->getNumber("ok"), 18);
  EXPECT_EQ(summary->find("counts")->getNumber("failed"), 2);
  int reasons = 0;
  for (const JsonValue& c : summary->find("cases")->items())
    if (c.getString("status") == "failed") reasons += !c.getString("reason").empty();
  EXPECT_EQ(reasons, 2);
}

// The segmentation options reach every case of a batch, and a case gets the
// labels `tessera segment` gives it with the same options: both segment
// through the same path. The detector's ring changes which blocks a sparse
// run computes, so it must show in the labels and the computed fraction.
TEST_F(Batch, SegmentationOptionsReachEveryCaseAsInSegment) {
  writeCohort(dir / "in", 1, 96, 6);
  const std::string input = dir / "in/case_00.nii.gz";
  const std::vector<std::string> options = {
      "--model", dir / "model.onnx", "--dilation", "2", "--settle", "off", "--threads", "1"};
  std::vector<std::string> segment = {
      "segment", "-i", input, "-o", dir / "segment.nii.gz", "--report", dir / "segment.json"};
  segment.insert(segment.end(), options.begin(), options.end());
  Outcome run = tessera(segment);
  ASSERT_EQ(run.code, 0) << run.err;
  std::vector<std::string> tight = {
      "segment",    "-i", input,      "-o",  dir / "tight.nii.gz", "--model", dir / "model.onnx",
      "--dilation", "0",  "--settle", "off", "--threads",          "1"};
  run = tessera(tight);
  ASSERT_EQ(run.code, 0) << run.err;
  std::vector<std::string> batch = {"batch", "-i", dir / "in", "-o", dir / "out"};
  batch.insert(batch.end(), options.begin(), options.end());
  run = tessera(batch);
  ASSERT_EQ(run.code, 0) << run.err;

  auto fromSegment = imaging::readLabelMap(dir / "segment.nii.gz");
  auto fromTight = imaging::readLabelMap(dir / "tight.nii.gz");
  auto fromBatch = imaging::readLabelMap(dir / "out/case_00/labels.nii.gz");
  ASSERT_TRUE(fromSegment.ok() && fromTight.ok() && fromBatch.ok());
  const auto& a = fromSegment->labels;
  const auto& b = fromBatch->labels;
  ASSERT_EQ(a.voxelCount(), b.voxelCount());
  EXPECT_TRUE(std::equal(a.data(), a.data() + a.voxelCount(), b.data()))
      << "batch and segment disagree with the same options";
  EXPECT_FALSE(std::equal(a.data(), a.data() + a.voxelCount(), fromTight->labels.data()))
      << "--dilation changed nothing: the option may not be read";

  auto segmentReport = parseJson(readBytes(dir / "segment.json"));
  auto batchReport = parseJson(readBytes(dir / "out/case_00/report.json"));
  ASSERT_TRUE(segmentReport.ok() && batchReport.ok());
  const JsonValue* s = segmentReport->find("segmentation");
  const JsonValue* t = batchReport->find("segmentation");
  ASSERT_TRUE(s && t);
  EXPECT_EQ(t->getString("settle"), "off");
  EXPECT_EQ(s->getNumber("mean_active_block_fraction"), t->getNumber("mean_active_block_fraction"));
}

// `tessera segment --meshes DIR` creates DIR when its parent exists, and
// refuses before computing anything when the parent does not.
TEST_F(Batch, SegmentCreatesAMissingMeshDirectory) {
  writeCohort(dir / "in", 1);
  const std::string input = dir / "in/case_00.nii.gz";
  Outcome run = tessera({"segment", "-i", input, "-o", dir / "a.nii.gz", "--model",
                         dir / "model.onnx", "--meshes", dir / "meshes", "--threads", "1"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(fs::exists(dir / "a.nii.gz"));
  ASSERT_TRUE(fs::is_directory(dir / "meshes"));
  EXPECT_FALSE(fs::is_empty(dir / "meshes"));

  run = tessera({"segment", "-i", input, "-o", dir / "b.nii.gz", "--model", dir / "model.onnx",
                 "--meshes", dir / "missing/meshes", "--threads", "1"});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(contains(run.err, "the output directory does not exist")) << run.err;
  EXPECT_FALSE(fs::exists(dir / "b.nii.gz"));
}

TEST_F(Batch, ExitCodesForUsageAndRunProblems) {
  writeCohort(dir / "in", 1);
  const std::string model = dir / "model.onnx";
  EXPECT_EQ(tessera({"batch", "--help"}).code, 0);
  EXPECT_EQ(tessera({"batch", "-i", dir / "in"}).code, 2);
  EXPECT_EQ(tessera({"batch", "-i", dir / "in", "-o", dir / "o", "--shard", "3/3"}).code, 2);
  EXPECT_EQ(tessera({"batch", "-i", dir / "in", "-o", dir / "o", "--jobs", "0"}).code, 2);
  EXPECT_EQ(tessera({"batch", "-i", dir / "in", "-o", dir / "o", "--mode", "fast"}).code, 2);

  Outcome run = tessera(
      {"batch", "-i", dir / "nowhere", "-o", dir / "o", "--model", model, "--threads", "1"});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(contains(run.err, "the input folder does not exist")) << run.err;
  run = tessera(
      {"batch", "-i", dir.makeDir("empty"), "-o", dir / "o", "--model", model, "--threads", "1"});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(contains(run.err, "no cases found")) << run.err;
  run = tessera({"batch", "-i", dir / "in", "-o", dir / "o", "--model", dir / "none.onnx"});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(contains(run.err, "none.onnx")) << run.err;
  run = tessera({"batch", "-i", dir / "in", "-o", dir / "in/case_00.nii.gz", "--model", model,
                 "--threads", "1"});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(contains(run.err, "output folder")) << run.err;

  run = tessera({"batch", "-i", dir / "in", "-o", dir / "ok", "--model", model, "--threads", "1"});
  EXPECT_EQ(run.code, 0) << run.err;
  // A shard beyond the cohort's size is empty, not an error.
  run = tessera({"batch", "-i", dir / "in", "-o", dir / "s1", "--model", model, "--shard", "1/2",
                 "--threads", "1"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "0 cases (shard 1/2 of 1)")) << run.out;
}

TEST_F(Batch, MergedShardsEqualASingleRun) {
  writeCohort(dir / "in", 7);
  ASSERT_TRUE(tessera::testing::writeTruncatedNifti(dir / "in/zz_bad.nii.gz", 9).ok());
  const std::string model = dir / "model.onnx";
  std::vector<std::string> merge = {"merge", "-o", dir / "merged"};
  for (int k = 0; k < 3; ++k) {
    const std::string out = dir / ("shard-" + std::to_string(k));
    const Outcome run = tessera({"batch", "-i", dir / "in", "-o", out, "--model", model,
                                 "--threads", "1", "--shard", std::to_string(k) + "/3"});
    EXPECT_EQ(run.code, k == 7 % 3 ? 3 : 0) << k << run.err;  // case 7 (zz_bad) is in shard 1
    merge.push_back(out);
  }
  const Outcome single = tessera(
      {"batch", "-i", dir / "in", "-o", dir / "single", "--model", model, "--threads", "1"});
  EXPECT_EQ(single.code, 3) << single.err;
  const Outcome merged = tessera(merge);
  EXPECT_EQ(merged.code, 3) << merged.err;
  EXPECT_TRUE(contains(merged.out, "merged 3 shards: 8 cases, 7 ok, 1 failed")) << merged.out;
  EXPECT_EQ(readBytes(dir / "merged/summary.csv"), readBytes(dir / "single/summary.csv"));
  EXPECT_EQ(readBytes(dir / "merged/summary.json"), readBytes(dir / "single/summary.json"));

  merge.pop_back();
  const Outcome incomplete = tessera(merge);
  EXPECT_EQ(incomplete.code, 1);
  EXPECT_TRUE(contains(incomplete.err, "shard 2/3 is missing")) << incomplete.err;
}

// Every file below `root` (hidden bookkeeping and the manifest aside).
std::map<std::string, std::string> outputs(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name[0] != '.' && name != "manifest.jsonl")
      files[fs::relative(e.path(), root).string()] = readBytes(e.path());
  }
  return files;
}

// The report without what differs between runs by nature: durations
// ("timing_s") and the process's peak memory.
std::string withoutTimings(const std::string& report) {
  auto json = parseJson(report);
  EXPECT_TRUE(json.ok());
  JsonValue::Object kept;
  for (const auto& [key, value] : json->members())
    if (key != "timing_s" && key != "peak_resident_mb") kept.emplace_back(key, value);
  return JsonValue::object(std::move(kept)).dump();
}

// Kills `tessera batch` with SIGKILL once the manifest records its first
// case, resumes, and compares with an uninterrupted run into the same
// folder: label maps, meshes and summaries byte for byte; reports field by
// field without their timing fields (timing_s, peak_resident_mb).
TEST_F(Batch, KilledAndResumedEqualsUninterrupted) {
  writeCohort(dir / "in", 5, 96, 12);
  const std::vector<std::string> args = {"batch",     "-i",      dir / "in",         "-o",
                                         dir / "out", "--model", dir / "model.onnx", "--meshes",
                                         "--threads", "1"};
  Outcome reference = tessera(args);
  ASSERT_EQ(reference.code, 0) << reference.err;
  fs::rename(dir / "out", dir / "reference");

  const pid_t pid = start(capture, args);
  const std::string manifest = dir / "out/manifest.jsonl";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool running = true;
  while (lines(readBytes(manifest)) < 1 && std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      running = false;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(running) << "the batch ended before it could be killed";
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  const Outcome killed = finish(capture, pid);
  ASSERT_EQ(killed.code, 128 + SIGKILL);
  const std::int64_t recorded = lines(readBytes(manifest));
  EXPECT_GE(recorded, 1);
  EXPECT_LT(recorded, 5) << "killed too late to test anything";
  EXPECT_FALSE(fs::exists(dir / "out/summary.csv"));

  std::vector<std::string> resume = args;
  resume.push_back("--resume");
  const Outcome resumed = tessera(resume);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_TRUE(contains(resumed.out, std::to_string(recorded) + " already finished")) << resumed.out;
  for (const auto& e : fs::recursive_directory_iterator(dir / "out")) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name[0] != '.' || name == ".tessera-batch.lock") << "left behind: " << e.path();
  }

  const auto expected = outputs(dir / "reference"), actual = outputs(dir / "out");
  ASSERT_EQ(expected.size(), actual.size());
  int meshes = 0;
  for (const auto& [name, bytes] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    if (name.ends_with("report.json"))
      EXPECT_EQ(withoutTimings(actual.at(name)), withoutTimings(bytes)) << name;
    else
      EXPECT_TRUE(actual.at(name) == bytes) << name << " differs";
    meshes += name.ends_with(".stl");
  }
  EXPECT_GT(meshes, 5);
}

// Ctrl-C (SIGINT) stops after cleaning up the case in progress: exit code
// 1 with a hint to resume, no staging folder left, and --resume finishes.
TEST_F(Batch, InterruptStopsCleanlyAndResumeFinishes) {
  writeCohort(dir / "in", 5, 96, 12);
  const std::vector<std::string> args = {"batch",     "-i",      dir / "in",         "-o",
                                         dir / "out", "--model", dir / "model.onnx", "--meshes",
                                         "--threads", "1"};
  const pid_t pid = start(capture, args);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (lines(readBytes(dir / "out/manifest.jsonl")) < 1 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  const Outcome interrupted = finish(capture, pid);
  const std::int64_t recorded = lines(readBytes(dir / "out/manifest.jsonl"));
  if (recorded == 5) GTEST_SKIP() << "the batch finished before the interrupt arrived";
  EXPECT_EQ(interrupted.code, 1) << interrupted.err;
  EXPECT_TRUE(contains(interrupted.err, "run again with --resume")) << interrupted.err;
  EXPECT_FALSE(fs::exists(dir / "out/summary.json"));
  for (const auto& e : fs::directory_iterator(dir / "out")) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name[0] != '.' || name == ".tessera-batch.lock") << "left behind: " << name;
  }
  std::vector<std::string> resume = args;
  resume.push_back("--resume");
  const Outcome resumed = tessera(resume);
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_TRUE(contains(resumed.out, std::to_string(recorded) + " already finished")) << resumed.out;
}

}  // namespace
}  // namespace tessera
